/*
 * dir_fd_leak: CVE-2024-21626 (runc "Leaky Vessels"): a descriptor on a host
 * directory left open by the caller (or by the sandbox itself) becomes the
 * program's working directory or a starting point for openat, and `..` walks from
 * there over the whole host. The runner starts rustbox with descriptors 7, 100 and
 * 1000 open on a host directory holding a world-readable file `secret`, and with
 * that directory as the caller's working directory.
 *
 * The program checks that its working directory is /box (getcwd, /proc/self/cwd,
 * the inode), then tries every descriptor 3..1023 with fchdir and openat, every
 * /proc/self/fd/N and /dev/fd/N with chdir and open(N/secret), and every
 * /proc/1/fd/N and /proc/1/cwd of the proxy (which was forked from the
 * supervisor). The secret must never be printed.
 */
#include "adv.h"
#include <fcntl.h>
#include <sys/stat.h>

#define MAX_FD 1024

static void try_read_secret(int fd, const char *how)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	escaped("%s: read the host file: %s", how, buf);
	close(fd);
}

/* Runs op(i) for i in [lo, hi): every call must fail with `want` (or `alt`). */
#define SWEEP(what, lo, hi, want, alt, op)                                                \
	do {                                                                               \
		int ok_ = 0, other_ = 0, other_errno_ = 0, first_ = -1;                    \
		for (int i = (lo); i < (hi); i++) {                                        \
			errno = 0;                                                         \
			long r_ = (long)(op);                                              \
			if (r_ >= 0) {                                                     \
				ok_++;                                                     \
				if (first_ < 0)                                            \
					first_ = i;                                        \
			} else if (errno != (want) && errno != (alt)) {                    \
				other_++;                                                  \
				other_errno_ = errno;                                      \
			}                                                                  \
		}                                                                          \
		if (ok_)                                                                   \
			escaped("%s succeeded %d times (first for %d)", what, ok_, first_);       \
		else if (other_)                                                           \
			unexpected("%s: %d failed with %s", what, other_, en(other_errno_));      \
		else if ((alt) != (want))                                                  \
			stopped("%s for %d..%d: all %s or %s", what, (lo), (hi) - 1,          \
				en(want), en(alt));                                        \
		else                                                                       \
			stopped("%s for %d..%d: all %s", what, (lo), (hi) - 1, en(want));     \
	} while (0)

static char path[64];

static const char *pathf(const char *fmt, int n)
{
	snprintf(path, sizeof path, fmt, n);
	return path;
}

static int chdir_back(int r)
{
	if (r == 0 && chdir("/box") < 0)
		unexpected("chdir back to /box: %s", en(errno));
	return r;
}

int main(void)
{
	char cwd[4096], link[4096];
	const char *g = getcwd(cwd, sizeof cwd);
	if (g && strcmp(g, "/box") == 0)
		stopped("getcwd at start: /box");
	else
		escaped("getcwd at start: %s", g ? g : en(errno));
	ssize_t n = readlink("/proc/self/cwd", link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	if (strcmp(link, "/box") == 0)
		stopped("/proc/self/cwd -> /box");
	else
		escaped("/proc/self/cwd -> %s", n > 0 ? link : en(errno));
	struct stat here, box;
	if (stat(".", &here) == 0 && stat("/box", &box) == 0 && here.st_dev == box.st_dev &&
	    here.st_ino == box.st_ino)
		stopped("the working directory is the inode of /box");
	else
		escaped("the working directory is not /box's inode");
	int fd = open("secret", O_RDONLY);
	if (fd >= 0)
		try_read_secret(fd, "open(secret) relative to the working directory");
	else
		stopped("open(secret) relative to the working directory: %s", en(errno));
	fd = open("../secret", O_RDONLY);
	if (fd >= 0)
		try_read_secret(fd, "open(../secret)");

	SWEEP("fchdir(fd)", 3, MAX_FD, EBADF, EBADF, chdir_back(fchdir(i)));
	SWEEP("openat(fd, secret)", 3, MAX_FD, EBADF, EBADF, openat(i, "secret", O_RDONLY));
	SWEEP("openat(fd, ../../..)", 3, MAX_FD, EBADF, EBADF,
	      openat(i, "../../..", O_RDONLY | O_DIRECTORY));
	SWEEP("chdir(/proc/self/fd/N)", 3, MAX_FD, ENOENT, ENOENT,
	      chdir_back(chdir(pathf("/proc/self/fd/%d", i))));
	SWEEP("open(/proc/self/fd/N/secret)", 3, MAX_FD, ENOENT, ENOENT,
	      open(pathf("/proc/self/fd/%d/secret", i), O_RDONLY));
	SWEEP("open(/dev/fd/N/secret)", 3, MAX_FD, ENOENT, ENOENT,
	      open(pathf("/dev/fd/%d/secret", i), O_RDONLY));
	/* The proxy, pid 1: hidden by hidepid=invisible. */
	SWEEP("chdir(/proc/1/fd/N)", 0, MAX_FD, ENOENT, EACCES,
	      chdir_back(chdir(pathf("/proc/1/fd/%d", i))));
	SWEEP("open(/proc/1/fd/N/secret)", 0, MAX_FD, ENOENT, EACCES,
	      open(pathf("/proc/1/fd/%d/secret", i), O_RDONLY));
	MUST_FAIL("chdir(/proc/1/cwd)", chdir_back(chdir("/proc/1/cwd")), ENOENT, EACCES);
	MUST_FAIL("open(/proc/1/cwd/secret)", open("/proc/1/cwd/secret", O_RDONLY), ENOENT,
		  EACCES);

	g = getcwd(cwd, sizeof cwd);
	if (g && strcmp(g, "/box") == 0)
		stopped("getcwd at the end: /box");
	else
		escaped("getcwd at the end: %s", g ? g : en(errno));
	return finish("dir_fd_leak");
}
