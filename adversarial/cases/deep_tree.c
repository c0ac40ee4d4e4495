/* A tree too deep for the judge: directories nested N levels in /box and in /tmp
 * (no long path ever: see build), a symlink to a host file and a FIFO at the
 * bottom of each. rustbox walks /box to hand it back after the run and to lend it
 * before the next one, and removes the box at --cleanup and --init; a walk that
 * recursed, or held a descriptor per level, ran out of descriptors (IE although
 * the program exited 0, and every later run IE) or of stack (--cleanup and --init
 * died of SIGABRT, leaving the box to root).
 *
 *   deep_tree build N VICTIM   build the trees; exit 0
 *   deep_tree check N          the next run: the tree is back, whole, with the
 *                              box's ids; the planted links and FIFOs are gone
 */
#include "adv.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Built from the bottom up, every step at the top of the tree: the bottom
 * directory with its link and FIFO first, then N-1 times a new directory that
 * the tree so far is renamed into. A kernel that checks each access against
 * the whole path above it (Landlock walks up to its rule) makes a top-down
 * mkdir at depth d cost d: 30,000 levels that way are minutes of CPU. */
static int build(const char *top, long n, const char *victim)
{
	if (chdir(top) < 0) {
		unexpected("chdir %s: %s", top, en(errno));
		return -1;
	}
	if (mkdir("d", 0755) < 0 || symlink(victim, "d/link") < 0 || mkfifo("d/fifo", 0644) < 0) {
		unexpected("%s: the bottom, its link or fifo: %s", top, en(errno));
		return -1;
	}
	for (long i = 1; i < n; i++) {
		if (mkdir("t", 0755) < 0 || rename("d", "t/d") < 0 || rename("t", "d") < 0) {
			unexpected("%s: level %ld: %s", top, i, en(errno));
			return -1;
		}
	}
	printf("%s: built %ld levels with a link and a FIFO at the bottom\n", top, n);
	return 0;
}

static void check(const char *top, long n)
{
	if (chdir(top) < 0) {
		unexpected("chdir %s: %s", top, en(errno));
		return;
	}
	uid_t uid = getuid();
	for (long i = 0; i < n; i++) {
		struct stat st;
		if (lstat("d", &st) < 0 || !S_ISDIR(st.st_mode) || chdir("d") < 0) {
			escaped("%s: level %ld of the tree is gone (%s)", top, i, en(errno));
			return;
		}
		if (st.st_uid != uid) {
			escaped("%s: level %ld is uid %u, not the box's %u", top, i, st.st_uid, uid);
			return;
		}
	}
	struct stat st;
	/* /tmp keeps what the program left (isolate); /box loses its special files. */
	int link_left = lstat("link", &st) == 0, fifo_left = lstat("fifo", &st) == 0;
	if (strcmp(top, "/box") == 0 && (link_left || fifo_left))
		escaped("%s: the planted %s survived the hand-back", top, link_left ? "link" : "FIFO");
	else
		stopped("%s: %ld levels handed back whole%s", top, n,
			strcmp(top, "/box") == 0 ? ", the link and the FIFO removed" : "");
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: deep_tree build N VICTIM | check N\n");
		return 2;
	}
	long n = atol(argv[2]);
	if (strcmp(argv[1], "build") == 0) {
		if (argc < 4)
			return 2;
		if (build("/box", n, argv[3]) < 0 || build("/tmp", n, argv[3]) < 0)
			return 1;
		return 0;
	}
	check("/box", n);
	check("/tmp", n);
	return finish("deep_tree");
}
