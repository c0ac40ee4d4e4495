/*
 * cpu_autoreap: get CPU time nobody is charged for. With SIGCHLD ignored the
 * kernel reaps each child as it exits, so its CPU time goes into no parent's
 * rusage and it is gone from /proc: a count of the box's time made from the
 * live processes and the wait4 of pid 1 never sees it. The parent forks short
 * spinners one after another (two at a time) and only sleeps itself. Only a
 * clock that has every task (the box's task clock, or its cgroup) can end it:
 * verdict TLE for CPU time, long before the wall limit.
 */
#include "adv.h"
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static void spin_for(double seconds)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	volatile unsigned long x = 0;
	do {
		for (int i = 0; i < 100000; i++)
			x++;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
}

int main(void)
{
	signal(SIGCHLD, SIG_IGN);
	signal(SIGXCPU, SIG_IGN);
	printf("forking autoreaped spinners\n");
	for (int n = 0;; n++) {
		pid_t p = fork();
		if (p == 0) {
			spin_for(0.02);
			_exit(0);
		}
		if (p < 0 && errno != EAGAIN) {
			printf("UNEXPECTED: fork: %s\n", en(errno));
			return 1;
		}
		/* Two spinners at a time, more or less: -p bounds the rest. */
		struct timespec nap = {0, 10 * 1000 * 1000};
		nanosleep(&nap, NULL);
		if (n == 1000)
			break;
	}
	printf("ESCAPED: 1000 spinners of 20 ms ran and nobody stopped them\n");
	return 1;
}
