/*
 * clone3: a new user namespace through the calls userns_unshare does not try.
 * clone3 takes its flags in a struct in memory, which a seccomp filter cannot
 * read, so the filter answers ENOSYS to every clone3 (C libraries then fall back
 * to clone). clone takes them in a register: CLONE_NEWUSER there is EPERM, also
 * with junk in the upper 32 bits (the kernel ignores them, the filter must not be
 * fooled by them). Each attempt that creates a child has the child leave at once;
 * a child is an escape. The control line shows the fallback works: threads and
 * fork still run.
 */
#include "kernel_surface.h"
#include <linux/sched.h>
#include <sched.h>

static long clone3_call(unsigned long long flags)
{
	struct clone_args args;
	memset(&args, 0, sizeof args);
	args.flags = flags;
	args.exit_signal = SIGCHLD;
	long r = syscall(SYS_clone3, &args, sizeof args);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r;
}

static long clone_raw(unsigned long flags)
{
	/* fork-like clone: a NULL stack means the child runs on a copy of ours. */
	long r = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r;
}

static void *thread_fn(void *arg)
{
	return arg;
}

int main(void)
{
	seccomp_is(2);
	MUST_FAIL("clone3(no flags)", clone3_call(0), ENOSYS);
	MUST_FAIL("clone3(CLONE_NEWUSER)", clone3_call(CLONE_NEWUSER), ENOSYS);
	MUST_FAIL("clone3(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET)",
		  clone3_call(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET), ENOSYS);
	MUST_FAIL("clone(CLONE_NEWUSER)", clone_raw(CLONE_NEWUSER), EPERM);
	MUST_FAIL("clone(CLONE_NEWUSER | CLONE_NEWNS)", clone_raw(CLONE_NEWUSER | CLONE_NEWNS),
		  EPERM);
#if __SIZEOF_LONG__ == 8 /* junk in the upper half of a register: none with -m32 */
	MUST_FAIL("clone(0xffffffff00000000 | CLONE_NEWUSER)",
		  clone_raw(0xffffffff00000000UL | CLONE_NEWUSER), EPERM);
	MUST_FAIL("unshare(0xffffffff00000000 | CLONE_NEWUSER)",
		  syscall(SYS_unshare, 0xffffffff00000000UL | CLONE_NEWUSER), EPERM);
#endif
	MUST_FAIL("unshare(CLONE_NEWUSER)", syscall(SYS_unshare, CLONE_NEWUSER), EPERM);
	FILTER_ANSWERS("clone3 probe", SYS_clone3, ENOSYS, 0, 0);
	FILTER_ANSWERS("unshare(CLONE_NEWUSER) probe", SYS_unshare, EPERM, CLONE_NEWUSER);

	/* Control: the C library falls back from clone3 to clone. */
	pthread_t t;
	int e = pthread_create(&t, NULL, thread_fn, NULL);
	if (e == 0)
		pthread_join(t, NULL);
	printf("control: pthread_create: %s\n", e ? en(e) : "ok");
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	if (p > 0)
		waitpid(p, NULL, 0);
	printf("control: fork: %s\n", p >= 0 ? "ok" : en(errno));
	return finish("clone3");
}
