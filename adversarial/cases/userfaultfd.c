/*
 * userfaultfd: a userfaultfd lets a program stop the kernel in the middle of a
 * copy from user memory for as long as it likes: the classic way to win a kernel
 * race (it turned many use-after-free bugs into exploits). Tried through the
 * system call, with and without UFFD_USER_MODE_ONLY (faults of user space only,
 * allowed to anyone since 5.11 whatever vm.unprivileged_userfaultfd says), and
 * through /dev/userfaultfd (5.11+), which must not be in the box's /dev.
 *
 * userfaultfd filtered: the default seccomp profile answers ENOSYS to both calls.
 * userfaultfd unfiltered: with --seccomp=off, userfaultfd() without
 * UFFD_USER_MODE_ONLY gets EPERM from vm.unprivileged_userfaultfd=0 (no
 * CAP_SYS_PTRACE). UFFD_USER_MODE_ONLY is not tried there: the kernel allows it,
 * only the filter stops it.
 */
#include "kernel_surface.h"
#include <linux/userfaultfd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* On success, show the handle works: the UFFDIO_API handshake. */
static long uffd(int flags)
{
	long fd = syscall(SYS_userfaultfd, flags);
	if (fd >= 0) {
		struct uffdio_api api = {.api = UFFD_API};
		printf("  UFFDIO_API: %s\n", ioctl((int)fd, UFFDIO_API, &api) == 0 ? "ok" : en(errno));
		close((int)fd);
	}
	return fd;
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "filtered") && strcmp(argv[1], "unfiltered"))) {
		printf("usage: userfaultfd filtered|unfiltered\n");
		return 2;
	}
	int filtered = !strcmp(argv[1], "filtered");
	seccomp_is(filtered ? 2 : 0);
	long sysctl = show_sysctl("vm/unprivileged_userfaultfd");
	if (!filtered && sysctl == 1)
		printf("note: vm.unprivileged_userfaultfd is 1: the kernel lets anyone trap "
		       "kernel faults\n");

	MUST_FAIL("userfaultfd(O_CLOEXEC | O_NONBLOCK)", uffd(O_CLOEXEC | O_NONBLOCK),
		  filtered ? ENOSYS : EPERM);
	if (filtered) {
		MUST_FAIL("userfaultfd(UFFD_USER_MODE_ONLY)",
			  uffd(O_CLOEXEC | UFFD_USER_MODE_ONLY), ENOSYS);
		FILTER_ANSWERS("userfaultfd probe", SYS_userfaultfd, ENOSYS,
			       O_CLOEXEC | UFFD_USER_MODE_ONLY);
	}
	/* The device hands out the same handles through USERFAULTFD_IOC_NEW. */
	MUST_FAIL("open(/dev/userfaultfd)", open("/dev/userfaultfd", O_RDWR | O_CLOEXEC), ENOENT);
	return finish("userfaultfd");
}
