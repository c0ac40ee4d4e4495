/*
 * fs_rules MODE [DIR]: break the mount rules of the box's file system.
 *
 *   noexec DIR  DIR (/tmp, /dev/shm) is writable but noexec: a copy of this very
 *               program there cannot be run by execve, fexecve or through the
 *               dynamic loader (ld.so DIR/copy, the classic noexec bypass), nor a
 *               #! script; its pages cannot be mapped executable (mmap PROT_EXEC:
 *               EPERM, mprotect: EACCES). The same copy in /box runs (control).
 *   ro          /, /usr, /bin, /lib and /lib64 are read-only: creating, linking,
 *               renaming, removing, chmod, chown, utimes, truncate, setxattr:
 *               EROFS; opening an existing file for writing: EACCES or EROFS.
 *   devro       /dev is a read-only tmpfs: mknod, creat, mkdir, symlink, unlink
 *               and rename of /dev/null, chmod and chown of its node (the box's
 *               own, made with the host's device numbers): EROFS.
 *   mknod       device nodes cannot be made where the box may write (/box, /tmp,
 *               /dev/shm): mknod of /dev/mem, /dev/sda, /dev/kmsg, /dev/port:
 *               EPERM (no CAP_MKNOD). FIFOs are allowed (control).
 *   devmin      /dev holds only null, zero, full, random, urandom (with the right
 *               device numbers), the fd/stdin/stdout/stderr links and shm; /dev/mem,
 *               kmsg, disks, tty, tun, fuse, kvm are absent; /dev/full gives ENOSPC.
 */
#include "adv.h"
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#define PROBE_EXIT 42

static int copy_file(const char *from, const char *to, mode_t mode)
{
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
	char buf[65536];
	ssize_t n;
	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			return -1;
	close(in);
	fchmod(out, mode);
	return close(out);
}

/* Run argv[0] (execv, or fexecve of fd if fd >= 0) in a child: its exit status,
 * or 100 + errno when the exec failed. */
static int run(const char *path, char *const argv[], int fd)
{
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		if (fd >= 0) {
			extern char **environ;
			fexecve(fd, argv, environ);
		} else {
			execv(path, argv);
		}
		_exit(100 + errno);
	}
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

/* The program interpreter (ld.so) named in our own ELF header. */
static int interpreter(char *out, size_t n)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int found = -1;
	if (fd < 0 || pread(fd, &eh, sizeof eh, 0) != sizeof eh)
		return -1;
	for (int i = 0; i < eh.e_phnum && found < 0; i++) {
		if (pread(fd, &ph, sizeof ph, eh.e_phoff + (off_t)i * eh.e_phentsize) != sizeof ph)
			break;
		if (ph.p_type == PT_INTERP && ph.p_filesz < n &&
		    pread(fd, out, ph.p_filesz, (off_t)ph.p_offset) == (ssize_t)ph.p_filesz) {
			out[ph.p_filesz] = 0;
			found = 0;
		}
	}
	close(fd);
	return found;
}

/* mmap PROT_EXEC of fd: 0 (and unmapped) on success, -1 with errno. */
static int map_exec(int fd)
{
	void *m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return -1;
	munmap(m, 4096);
	return 0;
}

static void expect_blocked(const char *what, int status)
{
	if (status == PROBE_EXIT)
		escaped("%s: the copy ran", what);
	else if (status == 100 + EACCES)
		stopped("%s: EACCES", what);
	else if (status == 127)
		stopped("%s: ld.so could not map it (exit 127)", what);
	else
		unexpected("%s: status %d", what, status);
}

static int do_noexec(const char *dir)
{
	char copy[256], script[256], what[512];
	if (!dir) {
		unexpected("no directory given");
		return finish("fs_rules noexec");
	}
	snprintf(copy, sizeof copy, "%s/copy", dir);
	snprintf(script, sizeof script, "%s/script.sh", dir);
	if (copy_file("/proc/self/exe", "/box/copy", 0755) < 0 ||
	    copy_file("/proc/self/exe", copy, 0755) < 0) {
		unexpected("copy the program to /box and %s: %s", dir, en(errno));
		return finish("fs_rules noexec");
	}
	char *probe_box[] = {"/box/copy", "probe", NULL};
	int st = run("/box/copy", probe_box, -1);
	if (st == PROBE_EXIT)
		printf("control: /box/copy runs (exit %d)\n", st);
	else
		unexpected("control: /box/copy does not run (status %d)", st);

	char *probe[] = {copy, "probe", NULL};
	snprintf(what, sizeof what, "execve(%s)", copy);
	expect_blocked(what, run(copy, probe, -1));
	int fd = open(copy, O_RDONLY | O_CLOEXEC);
	snprintf(what, sizeof what, "fexecve(fd of %s)", copy);
	expect_blocked(what, run(copy, probe, fd));
	char ld[256];
	if (interpreter(ld, sizeof ld) == 0) {
		char *via_ld[] = {ld, copy, "probe", NULL};
		snprintf(what, sizeof what, "%s %s", ld, copy);
		expect_blocked(what, run(ld, via_ld, -1));
	} else {
		unexpected("no PT_INTERP in our own ELF header");
	}
	int s = open(script, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (s < 0 || write(s, "#!/bin/sh\nexit 42\n", 18) != 18)
		unexpected("write %s: %s", script, en(errno));
	if (s >= 0)
		close(s);
	char *sargv[] = {script, NULL};
	snprintf(what, sizeof what, "execve(%s) (a #! script)", script);
	expect_blocked(what, run(script, sargv, -1));

	snprintf(what, sizeof what, "mmap(%s, PROT_READ | PROT_EXEC)", copy);
	MUST_FAIL(what, map_exec(fd), EPERM);
	void *m = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		unexpected("mmap(%s, PROT_READ): %s", copy, en(errno));
	} else {
		snprintf(what, sizeof what, "mprotect(mapping of %s, PROT_EXEC)", copy);
		MUST_FAIL(what, mprotect(m, 4096, PROT_READ | PROT_EXEC), EACCES);
		munmap(m, 4096);
	}
	return finish("fs_rules noexec");
}

static void ro_dir(const char *dir)
{
	char p[256], what[600];
	snprintf(p, sizeof p, "%s/adv-new", strcmp(dir, "/") ? dir : "");
	snprintf(what, sizeof what, "create %s", p);
	MUST_FAIL(what, open(p, O_WRONLY | O_CREAT, 0644), EROFS);
	snprintf(what, sizeof what, "mkdir %s", p);
	MUST_FAIL(what, mkdir(p, 0755), EROFS);
	snprintf(what, sizeof what, "symlink %s", p);
	MUST_FAIL(what, symlink("/box", p), EROFS);
	snprintf(what, sizeof what, "mknod fifo %s", p);
	MUST_FAIL(what, mknod(p, S_IFIFO | 0644, 0), EROFS);
}

static void ro_file(const char *f)
{
	char what[600], p[512];
	struct stat st;
	if (stat(f, &st) < 0) {
		unexpected("stat %s: %s", f, en(errno));
		return;
	}
	snprintf(what, sizeof what, "open %s O_WRONLY", f);
	MUST_FAIL(what, open(f, O_WRONLY), EACCES, EROFS);
	snprintf(what, sizeof what, "open %s O_RDWR | O_TRUNC", f);
	MUST_FAIL(what, open(f, O_RDWR | O_TRUNC), EACCES, EROFS);
	snprintf(what, sizeof what, "unlink %s", f);
	MUST_FAIL(what, unlink(f), EROFS);
	snprintf(p, sizeof p, "%s.adv", f);
	snprintf(what, sizeof what, "rename %s", f);
	MUST_FAIL(what, rename(f, p), EROFS);
	snprintf(what, sizeof what, "link %s to %s", f, p);
	MUST_FAIL(what, link(f, p), EROFS);
	snprintf(what, sizeof what, "chmod %s 04777", f);
	MUST_FAIL(what, chmod(f, 04777), EROFS);
	snprintf(what, sizeof what, "chown %s", f);
	MUST_FAIL(what, chown(f, getuid(), getgid()), EROFS);
	snprintf(what, sizeof what, "utimes %s", f);
	MUST_FAIL(what, utimes(f, NULL), EROFS);
	snprintf(what, sizeof what, "truncate %s", f);
	MUST_FAIL(what, truncate(f, 0), EROFS, EACCES); /* the order of checks varies */
	snprintf(what, sizeof what, "setxattr %s user.adv", f);
	MUST_FAIL(what, setxattr(f, "user.adv", "x", 1, 0), EROFS);
}

static int do_ro(void)
{
	static const char *dirs[] = {"/", "/usr", "/bin", "/lib", "/usr/lib", "/usr/bin",
				     "/proc/self/root/usr", "/box/../usr"};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		ro_dir(dirs[i]);
	struct stat st;
	if (stat("/lib64", &st) == 0)
		ro_dir("/lib64");
	static const char *files[] = {"/bin/sh", "/usr/bin/env",
				      "/lib/x86_64-linux-gnu/libc.so.6"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if (stat(files[i], &st) == 0)
			ro_file(files[i]);
		else
			printf("%s: %s (skipped)\n", files[i], en(errno));
	MUST_FAIL("rmdir /usr", rmdir("/usr"), EROFS, EBUSY);
	MUST_FAIL("rename /bin to /box/bin", rename("/bin", "/box/bin"), EXDEV, EROFS, EBUSY);
	return finish("fs_rules ro");
}

static int do_devro(void)
{
	MUST_FAIL("mknod /dev/adv-mem c 1 1", mknod("/dev/adv-mem", S_IFCHR | 0666, makedev(1, 1)),
		  EROFS);
	MUST_FAIL("mknod /dev/adv-null c 1 3",
		  mknod("/dev/adv-null", S_IFCHR | 0666, makedev(1, 3)), EROFS);
	MUST_FAIL("mknod /dev/adv-fifo p", mknod("/dev/adv-fifo", S_IFIFO | 0666, 0), EROFS);
	MUST_FAIL("creat /dev/adv", creat("/dev/adv", 0666), EROFS);
	MUST_FAIL("mkdir /dev/pts", mkdir("/dev/pts", 0755), EROFS);
	MUST_FAIL("symlink /dev/adv-link", symlink("/box", "/dev/adv-link"), EROFS);
	MUST_FAIL("unlink /dev/null", unlink("/dev/null"), EROFS);
	MUST_FAIL("rename /dev/null to /dev/adv", rename("/dev/null", "/dev/adv"), EROFS);
	MUST_FAIL("rename /dev/zero over /dev/null", rename("/dev/zero", "/dev/null"), EROFS);
	MUST_FAIL("chmod /dev 0777", chmod("/dev", 0777), EROFS);
	/*
	 * /dev/null is a node of the box's own on the read-only tmpfs (issue 13;
	 * before, the host's node bound read-write, where chmod was EPERM): its
	 * mode and owner cannot change, and it is still writable as a device.
	 */
	MUST_FAIL("chmod /dev/null 0600 (the box's node)", chmod("/dev/null", 0600), EROFS);
	MUST_FAIL("chown /dev/null", chown("/dev/null", getuid(), getgid()), EROFS);
	int fd = open("/dev/null", O_WRONLY);
	if (fd >= 0 && write(fd, "x", 1) == 1)
		printf("control: /dev/null is writable as a device\n");
	if (fd >= 0)
		close(fd);
	return finish("fs_rules devro");
}

static int do_mknod(void)
{
	static const struct {
		const char *name;
		mode_t type;
		unsigned maj, min;
	} nodes[] = {
		{"mem", S_IFCHR, 1, 1},
		{"kmsg", S_IFCHR, 1, 11},
		{"port", S_IFCHR, 1, 4},
		{"sda", S_IFBLK, 8, 0},
		{"vda", S_IFBLK, 254, 0},
	};
	static const char *dirs[] = {"/box", "/tmp", "/dev/shm"};
	char p[128], what[256];
	for (size_t d = 0; d < 3; d++) {
		for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
			snprintf(p, sizeof p, "%s/%s", dirs[d], nodes[i].name);
			snprintf(what, sizeof what, "mknod %s %c %u %u", p,
				 nodes[i].type == S_IFCHR ? 'c' : 'b', nodes[i].maj, nodes[i].min);
			MUST_FAIL(what,
				  mknod(p, nodes[i].type | 0666, makedev(nodes[i].maj, nodes[i].min)),
				  EPERM);
		}
		snprintf(p, sizeof p, "%s/fifo", dirs[d]);
		if (mknod(p, S_IFIFO | 0600, 0) == 0) {
			printf("control: mknod %s (a FIFO) works\n", p);
			unlink(p);
		} else {
			unexpected("control: mknod %s (a FIFO): %s", p, en(errno));
		}
	}
	return finish("fs_rules mknod");
}

static int do_devmin(void)
{
	static const struct {
		const char *name;
		unsigned maj, min;
	} good[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}};
	static const char *links[] = {"fd", "stdin", "stdout", "stderr"};
	char p[300];
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct stat st;
		snprintf(p, sizeof p, "/dev/%s", good[i].name);
		if (stat(p, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == good[i].maj &&
		    minor(st.st_rdev) == good[i].min)
			stopped("%s is char %u:%u", p, good[i].maj, good[i].min);
		else
			escaped("%s is not the char device %u:%u", p, good[i].maj, good[i].min);
	}
	DIR *d = opendir("/dev");
	struct dirent *e;
	int extra = 0;
	while (d && (e = readdir(d))) {
		const char *n = e->d_name;
		int ok = !strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "shm");
		for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
			ok |= !strcmp(n, good[i].name);
		for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
			ok |= !strcmp(n, links[i]);
		if (!ok) {
			extra++;
			escaped("/dev/%s is present", n);
		}
	}
	if (d)
		closedir(d);
	if (!d)
		unexpected("opendir /dev: %s", en(errno));
	else if (!extra)
		stopped("/dev holds only null zero full random urandom, fd stdin stdout stderr, "
			"shm");
	static const char *absent[] = {"/dev/mem",	 "/dev/kmem",	 "/dev/port",
				       "/dev/kmsg",	 "/dev/vda",	 "/dev/sda",
				       "/dev/tty",	 "/dev/console", "/dev/ptmx",
				       "/dev/net/tun",	 "/dev/fuse",	 "/dev/kvm",
				       "/dev/loop-control", "/dev/vsock",  "/dev/mapper/control",
				       "/dev/uinput",	 "/dev/cpu/0/msr"};
	char what[128];
	for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
		snprintf(what, sizeof what, "open %s", absent[i]);
		MUST_FAIL(what, open(absent[i], O_RDWR), ENOENT);
	}
	int fd = open("/dev/full", O_WRONLY);
	if (fd < 0) {
		unexpected("open /dev/full: %s", en(errno));
	} else {
		MUST_FAIL("write /dev/full", write(fd, "x", 1), ENOSPC);
		close(fd);
	}
	return finish("fs_rules devmin");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "probe") == 0) {
		printf("probe: running from %s\n", argv[0]);
		return PROBE_EXIT;
	}
	if (strcmp(mode, "noexec") == 0)
		return do_noexec(argc > 2 ? argv[2] : NULL);
	if (strcmp(mode, "ro") == 0)
		return do_ro();
	if (strcmp(mode, "devro") == 0)
		return do_devro();
	if (strcmp(mode, "mknod") == 0)
		return do_mknod();
	if (strcmp(mode, "devmin") == 0)
		return do_devmin();
	printf("UNEXPECTED: unknown mode %s\n", mode);
	return 1;
}
