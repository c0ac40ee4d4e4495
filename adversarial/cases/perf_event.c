/*
 * perf_event: perf_event_open on the program itself (pid 0, cpu -1), with a
 * software and a hardware event, counting user space only and with the kernel
 * included, and system-wide on CPU 0. perf events have been a steady source of
 * kernel exploits, and counting the kernel leaks its activity (side channels,
 * KASLR).
 *
 * perf_event filtered: the default seccomp profile answers ENOSYS to every one,
 * including the user-space-only counters of the program itself that
 * kernel.perf_event_paranoid=2 allows to anyone (only the filter stops those).
 * perf_event unfiltered: with --seccomp=off, the events that count the kernel or
 * a whole CPU must get EACCES from perf_event_paranoid >= 2 without CAP_PERFMON.
 */
#include "kernel_surface.h"
#include <linux/perf_event.h>

static long perf_open(unsigned type, unsigned long long config, int exclude_kernel, int pid,
		      int cpu)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof a);
	a.size = sizeof a;
	a.type = type;
	a.config = config;
	a.disabled = 1;
	a.exclude_kernel = exclude_kernel;
	a.exclude_hv = 1;
	long fd = syscall(SYS_perf_event_open, &a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd >= 0) {
		/* Show what was reached: count a moment of work. */
		unsigned long long n = 0;
		ioctl((int)fd, PERF_EVENT_IOC_ENABLE, 0);
		for (volatile int i = 0; i < 100000; i++)
			;
		ioctl((int)fd, PERF_EVENT_IOC_DISABLE, 0);
		if (read((int)fd, &n, sizeof n) == (ssize_t)sizeof n)
			printf("  counted %llu\n", n);
		close((int)fd);
	}
	return fd;
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "filtered") && strcmp(argv[1], "unfiltered"))) {
		printf("usage: perf_event filtered|unfiltered\n");
		return 2;
	}
	int filtered = !strcmp(argv[1], "filtered");
	seccomp_is(filtered ? 2 : 0);
	long paranoid = show_sysctl("kernel/perf_event_paranoid");
	int want = filtered ? ENOSYS : EACCES;
	if (!filtered && paranoid != LONG_MIN && paranoid < 2)
		printf("note: perf_event_paranoid < 2 lets anyone count the kernel\n");

	if (filtered) {
		/* Allowed by the kernel at paranoid <= 2: only the filter stops these. */
		MUST_FAIL("perf_event_open(self, cpu -1, software task-clock, user only)",
			  perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK, 1, 0, -1),
			  ENOSYS);
		MUST_FAIL("perf_event_open(self, cpu -1, hardware cycles, user only)",
			  perf_open(PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, 1, 0, -1),
			  ENOSYS);
	}
	MUST_FAIL("perf_event_open(self, cpu -1, software cpu-clock, kernel counted)",
		  perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, 0, 0, -1), want);
	MUST_FAIL("perf_event_open(self, cpu -1, hardware cycles, kernel counted)",
		  perf_open(PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, 0, 0, -1), want);
	MUST_FAIL("perf_event_open(every process, cpu 0, software cpu-clock)",
		  perf_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, 0, -1, 0), want);
	if (filtered) {
		struct perf_event_attr a;
		memset(&a, 0, sizeof a);
		a.size = sizeof a;
		a.type = PERF_TYPE_SOFTWARE;
		a.config = PERF_COUNT_SW_TASK_CLOCK;
		a.exclude_kernel = 1;
		FILTER_ANSWERS("perf_event_open probe", SYS_perf_event_open, ENOSYS, (long)&a, 0,
			       -1, -1, 0);
	}
	return finish("perf_event");
}
