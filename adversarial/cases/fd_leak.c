/*
 * fd_leak FD: the runner starts rustbox with descriptor FD open on a host file
 * holding a secret. Nothing but 0, 1 and 2 may be open in the program, and the
 * host file must not be reachable through the root-owned proxy (pid 1, which
 * was forked from the supervisor and may still hold FD) either.
 */
#include "adv.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

static void try_read(const char *path)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		stopped("open %s: %s", path, en(errno));
		return;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	escaped("open %s succeeded, read %zd bytes: %s", path, n, buf);
	close(fd);
}

int main(int argc, char **argv)
{
	int leak = argc > 1 ? atoi(argv[1]) : 5;

	/* Every descriptor listed in /proc/self/fd but the listing's own. */
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		unexpected("opendir /proc/self/fd: %s", en(errno));
	} else {
		int self = dirfd(d), extra = 0;
		struct dirent *e;
		printf("open fds:");
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			int fd = atoi(e->d_name);
			if (fd == self)
				continue;
			printf(" %d", fd);
			if (fd > 2)
				extra++;
		}
		printf("\n");
		closedir(d);
		if (extra)
			escaped("%d descriptor(s) above 2 are open", extra);
		else
			stopped("only 0, 1, 2 are open");
	}

	/* Probe every descriptor number directly (a listing could be fooled). */
	int open_above = 0;
	for (int fd = 3; fd < 4096; fd++) {
		struct stat st;
		if (fstat(fd, &st) == 0) {
			printf("fd %d is open (inode %lu)\n", fd, (unsigned long)st.st_ino);
			open_above++;
		}
	}
	if (open_above)
		escaped("fstat found %d open descriptor(s) above 2", open_above);
	else
		stopped("fstat(3..4095): all EBADF");

	char buf[64];
	MUST_FAIL("read(leaked fd)", read(leak, buf, sizeof buf), EBADF);

	char path[64];
	snprintf(path, sizeof path, "/dev/fd/%d", leak);
	try_read(path);
	snprintf(path, sizeof path, "/proc/1/fd/%d", leak);
	try_read(path);
	snprintf(path, sizeof path, "/proc/1/fdinfo/%d", leak);
	try_read(path);
	try_read("/proc/1/environ");
	char link[256];
	MUST_FAIL("readlink /proc/1/cwd", readlink("/proc/1/cwd", link, sizeof link));
	MUST_FAIL("opendir /proc/1/root/etc", (long)(opendir("/proc/1/root/etc") ? 0 : -1));
	return finish("fd_leak");
}
