/*
 * proc_escape MODE: reach outside the box through /proc's magic links.
 *
 *   proc1  pid 1 is the root-owned proxy, forked from the supervisor before the
 *          pivot_root: its root, cwd and exe links and its descriptors would lead
 *          to the host. hidepid=invisible hides it: readlink, open, chdir, chroot
 *          through /proc/1/{root,cwd,exe} and /proc/1/task/1/..., ENOENT (EACCES
 *          tolerated); pidfd_getfd of its descriptors 0..63: EPERM (ENOSYS under the
 *          default seccomp profile).
 *   exe    CVE-2019-5736: overwrite the binary behind /proc/PID/exe (runc's own
 *          binary there). For every visible process (ourselves, a child running
 *          /bin/sleep): open its exe for writing (directly, and by re-opening an
 *          O_PATH descriptor through /proc/self/fd) fails with ETXTBSY, EROFS,
 *          EACCES or ENOENT; no visible exe is a rustbox binary, and each exe
 *          resolves inside the box to the same inode.
 */
#include "adv.h"
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int do_proc1(void)
{
	char buf[4096];
	printf("parent pid: %d\n", (int)getppid());
	MUST_FAIL("stat /proc/1", ({
			  struct stat st;
			  stat("/proc/1", &st);
		  }),
		  ENOENT, EACCES);
	static const char *links[] = {"/proc/1/root", "/proc/1/cwd", "/proc/1/exe",
				      "/proc/1/task/1/root", "/proc/1/task/1/cwd"};
	char what[128];
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		snprintf(what, sizeof what, "readlink %s", links[i]);
		MUST_FAIL(what, readlink(links[i], buf, sizeof buf), ENOENT, EACCES);
		snprintf(what, sizeof what, "open %s O_PATH", links[i]);
		MUST_FAIL(what, open(links[i], O_PATH | O_CLOEXEC), ENOENT, EACCES);
	}
	MUST_FAIL("chdir /proc/1/root", chdir("/proc/1/root"), ENOENT, EACCES);
	MUST_FAIL("chdir /proc/1/cwd", chdir("/proc/1/cwd"), ENOENT, EACCES);
	MUST_FAIL("opendir /proc/1/root/etc", (long)(opendir("/proc/1/root/etc") ? 0 : -1),
		  ENOENT, EACCES);
	MUST_FAIL("open /proc/1/root/etc/shadow", open("/proc/1/root/etc/shadow", O_RDONLY),
		  ENOENT, EACCES);
	MUST_FAIL("chroot /proc/1/root", chroot("/proc/1/root"), ENOENT, EACCES);
	char parent_root[64];
	snprintf(what, sizeof what, "readlink /proc/%d/root (the parent)", (int)getppid());
	snprintf(parent_root, sizeof parent_root, "/proc/%d/root", (int)getppid());
	MUST_FAIL(what, readlink(parent_root, buf, sizeof buf), ENOENT, EACCES);

	int one = (int)syscall(SYS_pidfd_open, 1, 0);
	if (one < 0) {
		stopped("pidfd_open(1): %s", en(errno));
	} else {
		/* EPERM from the kernel (another uid, not dumpable) or ENOSYS from the
		 * default seccomp profile: either is the defense. */
		int got = 0, eperm = 0, other = 0, other_errno = 0, first_errno = 0;
		for (int fd = 0; fd < 64; fd++) {
			long r = syscall(SYS_pidfd_getfd, one, fd, 0);
			if (r >= 0) {
				got++;
				snprintf(what, sizeof what, "/proc/self/fd/%ld", r);
				ssize_t n = readlink(what, buf, sizeof buf - 1);
				buf[n > 0 ? n : 0] = 0;
				escaped("pidfd_getfd(pid 1, %d) gave us %s", fd, buf);
				close((int)r);
			} else if (errno == EPERM || errno == ENOSYS) {
				eperm++;
				first_errno = first_errno ? first_errno : errno;
			} else {
				other++;
				other_errno = errno;
			}
		}
		if (got == 0 && other == 0)
			stopped("pidfd_getfd(pid 1, 0..63): %s", en(first_errno));
		else if (got == 0)
			unexpected("pidfd_getfd(pid 1, ...): %d EPERM/ENOSYS, %d other errors (%s)",
				   eperm, other, en(other_errno));
		close(one);
	}
	if (readlink("/proc/self/root", buf, sizeof buf) == 1 && buf[0] == '/')
		printf("control: /proc/self/root is /\n");
	return finish("proc_escape proc1");
}

/* Every visible pid: its exe must not be writable nor a rustbox binary. */
static int visible = 0;

static void check_exe(int pid)
{
	char link[64], target[1024], what[1400];
	snprintf(link, sizeof link, "/proc/%d/exe", pid);
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n < 0) {
		printf("pid %d: readlink exe: %s\n", pid, en(errno));
		return;
	}
	target[n] = 0;
	visible++;
	const char *base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strstr(base, "rustbox") || strstr(base, "isolate"))
		escaped("pid %d runs %s: the sandbox's own binary is visible", pid, target);
	struct stat a, b;
	if (stat(link, &a) == 0 && stat(target, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		stopped("pid %d exe %s resolves inside the box", pid, target);
	else
		escaped("pid %d exe %s is not the file of that name in the box", pid, target);
	snprintf(what, sizeof what, "open %s (%s) O_WRONLY", link, target);
	MUST_FAIL(what, open(link, O_WRONLY | O_CLOEXEC), ETXTBSY, EROFS, EACCES);
	snprintf(what, sizeof what, "open %s (%s) O_RDWR", link, target);
	MUST_FAIL(what, open(link, O_RDWR | O_CLOEXEC), ETXTBSY, EROFS, EACCES);
	int p = open(link, O_PATH | O_CLOEXEC);
	if (p >= 0) {
		char re[64];
		snprintf(re, sizeof re, "/proc/self/fd/%d", p);
		snprintf(what, sizeof what, "re-open O_PATH of %s (%s) via %s O_WRONLY", link,
			 target, re);
		MUST_FAIL(what, open(re, O_WRONLY | O_CLOEXEC), ETXTBSY, EROFS, EACCES);
		close(p);
	}
}

static int do_exe(void)
{
	pid_t child = fork();
	if (child == 0) {
		char *argv[] = {"sleep", "5", NULL};
		execv("/bin/sleep", argv);
		_exit(127);
	}
	if (child < 0)
		unexpected("fork: %s", en(errno));
	/* Wait until the child runs /bin/sleep. */
	char link[64], target[256];
	snprintf(link, sizeof link, "/proc/%d/exe", (int)child);
	for (int i = 0; i < 1000; i++) {
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n > 0 && (target[n] = 0, strstr(target, "sleep")))
			break;
		usleep(1000);
	}
	MUST_FAIL("open /proc/self/exe O_WRONLY", open("/proc/self/exe", O_WRONLY), ETXTBSY,
		  EROFS, EACCES);
	MUST_FAIL("open /proc/1/exe O_WRONLY", open("/proc/1/exe", O_WRONLY), ENOENT, EACCES);
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
			check_exe(atoi(e->d_name));
	if (d)
		closedir(d);
	printf("%d processes visible\n", visible);
	if (visible < 2)
		unexpected("only %d visible processes: the child was not seen", visible);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	return finish("proc_escape exe");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "proc1") == 0)
		return do_proc1();
	if (strcmp(mode, "exe") == 0)
		return do_exe();
	printf("UNEXPECTED: unknown mode %s\n", mode);
	return 1;
}
