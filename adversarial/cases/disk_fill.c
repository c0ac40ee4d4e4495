/*
 * disk_fill MODE: fill /box past -f (RLIMIT_FSIZE, 1024 KiB in the manifest).
 *   signal: default SIGXFSZ disposition, write 64 KiB blocks to /box/fill until
 *           something stops us; the kernel's SIGXFSZ should kill us (verdict OLE).
 *   ignore: SIGXFSZ ignored; writes must fail with EFBIG, and so must the sparse
 *           tricks: ftruncate to 1 GiB, pwrite at 1 GiB, fallocate of 1 GiB.
 */
#include "adv.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#define GIB (1024L * 1024 * 1024)

static long fill(const char *path, int *err)
{
	static char block[65536];
	memset(block, 'x', sizeof block);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		*err = errno;
		printf("open %s: %s\n", path, en(errno));
		return 0;
	}
	long total = 0;
	for (;;) {
		ssize_t n = write(fd, block, sizeof block);
		if (n <= 0) {
			*err = n < 0 ? errno : 0;
			break;
		}
		total += n;
		if (total >= 64 * 1024 * 1024L) {
			*err = 0;
			break;
		}
	}
	close(fd);
	return total;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "ignore";
	int err = 0;
	if (strcmp(mode, "signal") == 0) {
		long total = fill("/box/fill", &err);
		/* Reaching this line means SIGXFSZ did not kill us. */
		escaped("wrote %ld bytes and survived (write: %s)", total, err ? en(err) : "ok");
		return finish("disk_fill signal");
	}
	signal(SIGXFSZ, SIG_IGN);
	long total = fill("/box/fill", &err);
	printf("wrote %ld bytes, then %s\n", total, err ? en(err) : "no error");
	if (err != EFBIG || total > 1024 * 1024L)
		escaped("write past the limit: %ld bytes, stopped by %s", total,
			err ? en(err) : "nothing");
	else
		stopped("write stopped at %ld bytes: EFBIG", total);

	int fd = open("/box/sparse", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		printf("open /box/sparse: %s\n", en(errno));
		return 2;
	}
	MUST_FAIL("ftruncate(1 GiB)", ftruncate(fd, GIB), EFBIG);
	MUST_FAIL("pwrite at 1 GiB", pwrite(fd, "x", 1, GIB), EFBIG);
	MUST_FAIL("fallocate(1 GiB)", fallocate(fd, 0, 0, GIB), EFBIG);
	struct stat st;
	fstat(fd, &st);
	printf("/box/sparse: size %ld\n", (long)st.st_size);
	close(fd);
	return finish("disk_fill ignore");
}
