/*
 * ns_escape MODE: leave or rebuild the box's namespaces without a user namespace.
 *
 *   unshare  unshare() of each namespace the box has (mount, net, pid, ipc, uts,
 *            cgroup, time): each needs CAP_SYS_ADMIN, so EPERM. Each attempt runs in
 *            its own child so that one success does not change the next.
 *   clone    the same flags (but time, which clone(2) cannot express) through
 *            the raw clone(2) system call (EPERM), user
 *            namespaces with extra high bits in the flags (EPERM from seccomp),
 *            and clone3, whose flags live in memory a filter cannot read (ENOSYS
 *            from seccomp). A plain clone(SIGCHLD) must still work (control).
 *   setns    setns() into each of our own namespaces through /proc/self/ns/NAME and
 *            through a pidfd, and into pid 1's (the root proxy): EPERM, EINVAL for
 *            our own user namespace, ENOENT for the hidden /proc/1.
 */
#include "adv.h"
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const struct {
	const char *name;
	unsigned long flag;
} nsflags[] = {
	{"CLONE_NEWNS", CLONE_NEWNS},	  {"CLONE_NEWNET", CLONE_NEWNET},
	{"CLONE_NEWPID", CLONE_NEWPID},	  {"CLONE_NEWIPC", CLONE_NEWIPC},
	{"CLONE_NEWUTS", CLONE_NEWUTS},	  {"CLONE_NEWCGROUP", CLONE_NEWCGROUP},
	{"CLONE_NEWTIME", CLONE_NEWTIME},
};
#define NFLAGS (sizeof nsflags / sizeof nsflags[0])

/* unshare(flags) in a child; the child reports errno through its exit status. */
static void unshare_in_child(const char *what, unsigned long flags)
{
	pid_t p = fork();
	if (p < 0) {
		unexpected("fork for %s: %s", what, en(errno));
		return;
	}
	if (p == 0)
		_exit(unshare((int)flags) == 0 ? 0 : 100 + errno);
	int st;
	waitpid(p, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		escaped("%s succeeded", what);
	else if (WIFEXITED(st) && WEXITSTATUS(st) - 100 == EPERM)
		stopped("%s: EPERM", what);
	else
		unexpected("%s: child status %#x", what, st);
}

static int do_unshare(void)
{
	char what[64];
	for (size_t i = 0; i < NFLAGS; i++) {
		snprintf(what, sizeof what, "unshare(%s)", nsflags[i].name);
		unshare_in_child(what, nsflags[i].flag);
	}
	unsigned long all = 0;
	for (size_t i = 0; i < NFLAGS; i++)
		all |= nsflags[i].flag;
	unshare_in_child("unshare(all seven at once)", all);
	return finish("ns_escape unshare");
}

/* Raw clone(2): returns the child's pid (reaped) or -1 with errno. */
static long raw_clone(unsigned long flags)
{
	long r = syscall(SYS_clone, flags | SIGCHLD, 0L, 0L, 0L, 0L);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r;
}

static long raw_clone3(unsigned long long flags)
{
	struct clone_args a;
	memset(&a, 0, sizeof a);
	a.flags = flags;
	a.exit_signal = SIGCHLD;
	long r = syscall(SYS_clone3, &a, sizeof a);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r;
}

static int do_clone(void)
{
	long r = raw_clone(0);
	if (r > 0)
		printf("control: plain clone(SIGCHLD) works (child %ld)\n", r);
	else
		unexpected("plain clone(SIGCHLD) failed: %s", en(errno));
	char what[80];
	for (size_t i = 0; i < NFLAGS; i++) {
		/* clone(2) has no room for CLONE_NEWTIME: 0x80 lies in the exit signal
		 * byte (CSIGNAL); only unshare and clone3 take it. */
		if (nsflags[i].flag == CLONE_NEWTIME)
			continue;
		snprintf(what, sizeof what, "clone(%s)", nsflags[i].name);
		MUST_FAIL(what, raw_clone(nsflags[i].flag), EPERM);
	}
	MUST_FAIL("clone(CLONE_NEWUSER)", raw_clone(CLONE_NEWUSER), EPERM);
	MUST_FAIL("clone(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID)",
		  raw_clone(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID), EPERM);
	MUST_FAIL("clone(CLONE_NEWUSER | 1 << 32)", raw_clone(CLONE_NEWUSER | (1UL << 32)), EPERM);
	MUST_FAIL("clone3(CLONE_NEWUSER)", raw_clone3(CLONE_NEWUSER), ENOSYS);
	MUST_FAIL("clone3(CLONE_NEWNS | CLONE_NEWPID)", raw_clone3(CLONE_NEWNS | CLONE_NEWPID),
		  ENOSYS);
	MUST_FAIL("clone3(no flags)", raw_clone3(0), ENOSYS);
	return finish("ns_escape clone");
}

static int do_setns(void)
{
	static const struct {
		const char *name;
		int errno_expected;
	} ns[] = {
		{"mnt", EPERM},	   {"net", EPERM},
		{"pid", EPERM},	   {"pid_for_children", EPERM},
		{"ipc", EPERM},	   {"uts", EPERM},
		{"cgroup", EPERM}, {"time", EPERM},
		{"time_for_children", EPERM},
		/* The box has no user namespace of its own: joining the one it is in
		 * is refused with EINVAL before any permission check. */
		{"user", EINVAL},
	};
	char path[64], what[96];
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		snprintf(path, sizeof path, "/proc/self/ns/%s", ns[i].name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			unexpected("open %s: %s", path, en(errno));
			continue;
		}
		snprintf(what, sizeof what, "setns(%s)", ns[i].name);
		MUST_FAIL(what, setns(fd, 0), ns[i].errno_expected);
		close(fd);
	}
	int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (self < 0) {
		unexpected("pidfd_open(self): %s", en(errno));
	} else {
		MUST_FAIL("setns(pidfd of self, mnt|net|pid|ipc|uts|cgroup)",
			  setns(self, CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC |
					      CLONE_NEWUTS | CLONE_NEWCGROUP),
			  EPERM);
		close(self);
	}
	/* pid 1 is the root-owned proxy: its namespaces are ours, but it must not
	 * be usable as a handle at all. */
	MUST_FAIL("open /proc/1/ns/mnt", open("/proc/1/ns/mnt", O_RDONLY), ENOENT, EACCES);
	int one = (int)syscall(SYS_pidfd_open, 1, 0);
	if (one < 0) {
		stopped("pidfd_open(1): %s", en(errno));
	} else {
		MUST_FAIL("setns(pidfd of pid 1, mnt)", setns(one, CLONE_NEWNS), EPERM);
		close(one);
	}
	return finish("ns_escape setns");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "unshare") == 0)
		return do_unshare();
	if (strcmp(mode, "clone") == 0)
		return do_clone();
	if (strcmp(mode, "setns") == 0)
		return do_setns();
	printf("UNEXPECTED: unknown mode %s\n", mode);
	return 1;
}
