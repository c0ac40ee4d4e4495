/*
 * fork_bomb LIMIT: every process forks as fast as it can, children included, for
 * 400 ms (the classic `while (1) fork();`). No process ever exits before the end,
 * so the number of live processes is 1 + the forks that succeeded, counted in
 * shared memory. With -p LIMIT the box may hold at most LIMIT processes: more than
 * LIMIT - 1 successful forks is an escape. Then the first process kills the rest.
 */
#include "adv.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

struct counters {
	long forks, fails, first_errno;
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long limit = argc > 1 ? atol(argv[1]) : 1;
	struct counters *c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED) {
		printf("mmap: %s\n", en(errno));
		return 2;
	}
	pid_t first = getpid();
	double end = now() + 0.4;
	while (getpid() != first || now() < end) {
		pid_t p = fork();
		if (p > 0) {
			__atomic_add_fetch(&c->forks, 1, __ATOMIC_SEQ_CST);
		} else if (p < 0) {
			long zero = 0;
			__atomic_compare_exchange_n(&c->first_errno, &zero, errno, 0,
						    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
			__atomic_add_fetch(&c->fails, 1, __ATOMIC_SEQ_CST);
			if (getpid() != first)
				usleep(1000);
		}
		/* p == 0: the child joins the bomb. */
	}
	long forks = __atomic_load_n(&c->forks, __ATOMIC_SEQ_CST);
	long fails = __atomic_load_n(&c->fails, __ATOMIC_SEQ_CST);
	long first_errno = __atomic_load_n(&c->first_errno, __ATOMIC_SEQ_CST);
	/* kill(-1): every process we may signal but ourselves and pid 1. */
	kill(-1, SIGKILL);
	while (wait(NULL) > 0)
		;
	printf("fork bomb: %ld forks succeeded, %ld failed (first error %s), process limit %ld\n",
	       forks, fails, first_errno ? en(first_errno) : "none", limit);
	if (forks > limit - 1)
		escaped("%ld processes alive at once, more than the limit %ld", forks + 1, limit);
	else if (fails == 0)
		escaped("no fork ever failed: the bomb was not bounded");
	else if (first_errno != EAGAIN)
		unexpected("fork failed with %s, not EAGAIN (RLIMIT_NPROC)", en(first_errno));
	else
		stopped("fork bounded: at most %ld processes, then EAGAIN", forks + 1);
	return finish("fork_bomb");
}
