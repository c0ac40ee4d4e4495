/*
 * chroot_escape MODE: climb out of the box's root directory.
 *
 *   chroot  the classic double-chroot escape: keep a descriptor of the current
 *           directory, chroot into a subdirectory, fchdir back out through the
 *           descriptor and walk `..` past the root, then chroot(".") there. chroot
 *           needs CAP_SYS_CHROOT: EPERM at every chroot. The walk is still done,
 *           and must end at the box root. Also: chroot into /proc/self/root and the
 *           proxy's /proc/1/root, and the "shocker" escape: open_by_handle_at of a
 *           hand-made handle of the file system's root inode (CAP_DAC_READ_SEARCH:
 *           EPERM).
 *   dotdot  64 x chdir("..") and one openat(dir, "../../..") from /box, /tmp,
 *           /dev/shm, /usr/lib, a deep directory in /box, /proc/self/cwd,
 *           /proc/self/root and /proc/self/fd/N: each must stop at the box root
 *           (same inode as "/", getcwd "/", and a listing with box, bin, usr, proc,
 *           tmp and dev but no etc, home, root or var).
 */
#include "adv.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

static struct stat root_st;

static int has_entry(const char *dir, const char *name)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

/* Is the directory `dir` (a path or ".") the box root? Prints why not. */
static int is_box_root(const char *dir, char *why, size_t n)
{
	static const char *must[] = {"box", "bin", "usr", "proc", "tmp", "dev"};
	static const char *never[] = {"etc", "home", "root", "var", "sys", "boot", "srv",
				      "opt", "mnt", "run", "work"};
	struct stat st;
	if (stat(dir, &st) < 0) {
		snprintf(why, n, "stat: %s", en(errno));
		return 0;
	}
	if (st.st_dev != root_st.st_dev || st.st_ino != root_st.st_ino) {
		snprintf(why, n, "not the inode of / (dev %lu ino %lu)", (unsigned long)st.st_dev,
			 (unsigned long)st.st_ino);
		return 0;
	}
	for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
		if (!has_entry(dir, must[i])) {
			snprintf(why, n, "no %s in it", must[i]);
			return 0;
		}
	for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
		if (has_entry(dir, never[i])) {
			snprintf(why, n, "it holds %s", never[i]);
			return 0;
		}
	return 1;
}

static void print_listing(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	printf("listing of %s:", dir);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			printf(" %s", e->d_name);
	printf("\n");
	if (d)
		closedir(d);
}

/* 64 x chdir(".."), then the cwd must be the box root. */
static void climb(const char *from)
{
	char why[256], cwd[4096];
	for (int i = 0; i < 64; i++)
		if (chdir("..") < 0) {
			unexpected("chdir(..) #%d from %s: %s", i, from, en(errno));
			return;
		}
	const char *g = getcwd(cwd, sizeof cwd);
	if (!is_box_root(".", why, sizeof why))
		escaped("64 x `..` from %s left the box root: %s (getcwd %s)", from, why,
			g ? g : en(errno));
	else if (!g || strcmp(g, "/") != 0)
		escaped("64 x `..` from %s: getcwd is %s", from, g ? g : en(errno));
	else
		stopped("64 x `..` from %s ends at the box root", from);
}

static int do_chroot(void)
{
	char why[256];
	mkdir("/box/jail", 0755);
	if (chdir("/box") < 0)
		unexpected("chdir /box: %s", en(errno));
	int keep = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (keep < 0)
		unexpected("open .: %s", en(errno));
	MUST_FAIL("chroot(/box/jail)", chroot("/box/jail"), EPERM);
	/* Back out through the descriptor (this works: it is a box directory). */
	if (fchdir(keep) < 0)
		unexpected("fchdir(kept descriptor): %s", en(errno));
	climb("a descriptor kept across chroot");
	MUST_FAIL("chroot(.) after the walk", chroot("."), EPERM);
	if (!is_box_root("/", why, sizeof why))
		escaped("/ is no longer the box root: %s", why);
	else
		stopped("/ is still the box root");
	MUST_FAIL("chroot(/proc/self/root)", chroot("/proc/self/root"), EPERM);
	MUST_FAIL("chroot(/proc/1/root)", chroot("/proc/1/root"), ENOENT, EACCES);

	/*
	 * shocker: a file handle of inode 2 (an ext* root) on /box's file system. The
	 * default seccomp profile answers both handle calls with ENOSYS; the handle is
	 * forged by hand, so open_by_handle_at is tried whatever name_to_handle_at says.
	 */
	struct {
		struct file_handle fh;
		unsigned char bytes[128];
	} h;
	int mount_id;
	memset(&h, 0, sizeof h);
	h.fh.handle_bytes = sizeof h.bytes;
	MUST_FAIL("name_to_handle_at(/box)", name_to_handle_at(AT_FDCWD, "/box", &h.fh, &mount_id, 0),
		  ENOSYS);
	unsigned ino_gen[2] = {2, 0}; /* FILEID_INO32_GEN: inode 2, generation 0 */
	h.fh.handle_type = 1;
	h.fh.handle_bytes = sizeof ino_gen;
	memcpy(h.fh.f_handle, ino_gen, sizeof ino_gen);
	MUST_FAIL("open_by_handle_at(inode 2: the file system's root)",
		  open_by_handle_at(keep, &h.fh, O_RDONLY | O_DIRECTORY), ENOSYS);
	return finish("chroot_escape chroot");
}

static int do_dotdot(void)
{
	mkdir("/box/deep", 0755);
	mkdir("/box/deep/a", 0755);
	mkdir("/box/deep/a/b", 0755);
	mkdir("/box/deep/a/b/c", 0755);
	int boxfd = open("/box", O_RDONLY | O_DIRECTORY);
	char fdpath[64];
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", boxfd);
	const char *from[] = {"/box",		 "/tmp",	   "/dev/shm",
			      "/usr/lib",	 "/box/deep/a/b/c", "/proc/self/cwd",
			      "/proc/self/root", fdpath,	   "/proc/self/root/box/../tmp"};
	print_listing("/");
	for (size_t i = 0; i < sizeof from / sizeof from[0]; i++) {
		if (chdir(from[i]) < 0) {
			unexpected("chdir %s: %s", from[i], en(errno));
			continue;
		}
		climb(from[i]);
	}
	/* openat with a long `..` path from a directory descriptor. */
	char dots[3 * 64 + 1] = "";
	for (int i = 0; i < 64; i++)
		strcat(dots, i ? "/.." : "..");
	const char *dirs[] = {"/box/deep/a", "/tmp", "/usr/lib"};
	char why[256];
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		int d = open(dirs[i], O_RDONLY | O_DIRECTORY);
		/* O_PATH: where the walk ends is the question, not whether that
		 * directory may be listed (under Landlock the box root may not). */
		int up = d < 0 ? -1 : openat(d, dots, O_PATH | O_DIRECTORY);
		if (up < 0) {
			unexpected("openat(%s, ../..): %s", dirs[i], en(errno));
		} else {
			char p[64];
			snprintf(p, sizeof p, "/proc/self/fd/%d", up);
			if (is_box_root(p, why, sizeof why))
				stopped("openat(%s, 64 x ..) is the box root", dirs[i]);
			else
				escaped("openat(%s, 64 x ..) left the box root: %s", dirs[i], why);
			close(up);
		}
		if (d >= 0)
			close(d);
	}
	return finish("chroot_escape dotdot");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (stat("/", &root_st) < 0) {
		printf("UNEXPECTED: stat /: %s\n", en(errno));
		return 1;
	}
	if (strcmp(mode, "chroot") == 0)
		return do_chroot();
	if (strcmp(mode, "dotdot") == 0)
		return do_dotdot();
	printf("UNEXPECTED: unknown mode %s\n", mode);
	return 1;
}
