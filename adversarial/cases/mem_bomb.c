/*
 * mem_bomb LIMIT_KB: try to get far more memory than -m LIMIT_KB allows: one
 * 1 GiB malloc, a 1 GiB anonymous mmap, a 1 GiB brk, raising RLIMIT_AS back, and
 * 1 MiB chunks touched page by page until allocation fails. Getting 1 GiB, or
 * touching more than the limit, is an escape.
 */
#include "adv.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define GIB (1024L * 1024 * 1024)
#define MIB (1024L * 1024)

int main(int argc, char **argv)
{
	long limit_kb = argc > 1 ? atol(argv[1]) : 65536;

	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
	MUST_FAIL("setrlimit(RLIMIT_AS, unlimited)", setrlimit(RLIMIT_AS, &rl), EPERM);
	getrlimit(RLIMIT_AS, &rl);
	printf("RLIMIT_AS soft %lu hard %lu\n", (unsigned long)rl.rlim_cur,
	       (unsigned long)rl.rlim_max);

	errno = 0;
	char *p = malloc(GIB);
	if (p) {
		memset(p, 1, GIB);
		escaped("malloc(1 GiB) succeeded and was touched");
		free(p);
	} else {
		stopped("malloc(1 GiB): %s", en(errno));
	}

	errno = 0;
	void *m = mmap(NULL, GIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m != MAP_FAILED) {
		escaped("mmap(1 GiB) succeeded");
		munmap(m, GIB);
	} else {
		stopped("mmap(1 GiB): %s", en(errno));
	}

	errno = 0;
	void *b = sbrk(GIB);
	if (b != (void *)-1) {
		escaped("sbrk(1 GiB) succeeded");
		sbrk(-GIB);
	} else {
		stopped("sbrk(1 GiB): %s", en(errno));
	}

	/* Chunks until failure, every page touched; keep them all. */
	long total = 0;
	int err = 0;
	for (;;) {
		errno = 0;
		char *q = malloc(MIB);
		if (!q) {
			err = errno;
			break;
		}
		for (long i = 0; i < MIB; i += 4096)
			q[i] = 1;
		total += MIB;
		if (total >= 2 * GIB)
			break;
	}
	printf("chunks: %ld MiB allocated and touched before %s\n", total / MIB,
	       err ? en(err) : "giving up at 2 GiB");
	if (!err || total > limit_kb * 1024L)
		escaped("%ld MiB allocated, the limit is %ld KiB", total / MIB, limit_kb);
	else
		stopped("chunks bounded by RLIMIT_AS: %ld MiB of %ld KiB", total / MIB, limit_kb);
	return finish("mem_bomb");
}
