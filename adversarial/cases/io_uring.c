/*
 * io_uring: the io_uring interface is a second system call table reachable
 * through shared rings (and the source of many kernel exploits; Google disabled
 * it on ChromeOS, Android and its servers). keyring_seccomp tries io_uring_setup;
 * this case tries all three calls, with arguments the kernel would take (setup of
 * a real ring, enter and register on the descriptor), and proves the ENOSYS comes
 * from the filter. kernel.io_uring_disabled (6.6+) is 0 on a default kernel: only
 * the filter stops these.
 */
#include "kernel_surface.h"
#include <linux/io_uring.h>

int main(void)
{
	seccomp_is(2);
	show_sysctl("kernel/io_uring_disabled");
	struct io_uring_params params;
	memset(&params, 0, sizeof params);
	long fd;
	MUST_FAIL("io_uring_setup(8 entries)", fd = syscall(SYS_io_uring_setup, 8, &params),
		  ENOSYS);
	memset(&params, 0, sizeof params);
	params.flags = IORING_SETUP_SQPOLL;
	MUST_FAIL("io_uring_setup(8 entries, SQPOLL)", syscall(SYS_io_uring_setup, 8, &params),
		  ENOSYS);
	/* On a descriptor we have (the ring, had setup worked; stdin otherwise). */
	int ring = fd >= 0 ? (int)fd : 0;
	MUST_FAIL("io_uring_enter(GETEVENTS)",
		  syscall(SYS_io_uring_enter, ring, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0), ENOSYS);
	char probe[sizeof(struct io_uring_probe) + 64 * sizeof(struct io_uring_probe_op)];
	memset(probe, 0, sizeof probe);
	MUST_FAIL("io_uring_register(REGISTER_PROBE)",
		  syscall(SYS_io_uring_register, ring, IORING_REGISTER_PROBE, probe, 64), ENOSYS);
	FILTER_ANSWERS("io_uring_setup probe", SYS_io_uring_setup, ENOSYS, 8, (long)&params);
	FILTER_ANSWERS("io_uring_enter probe", SYS_io_uring_enter, ENOSYS, ring, 0, 1,
		       IORING_ENTER_GETEVENTS, 0, 0);
	FILTER_ANSWERS("io_uring_register probe", SYS_io_uring_register, ENOSYS, ring,
		       IORING_REGISTER_PROBE, (long)probe, 64);
	return finish("io_uring");
}
