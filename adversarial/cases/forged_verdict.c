/*
 * forged_verdict MODE: a program that tries to choose its own verdict.
 *   raise: raise(SIGXFSZ) without writing a byte. SIGXFSZ is the kernel's signal
 *          for a write past RLIMIT_FSIZE; run without -f, nothing set a file size
 *          limit, so the death must be judged as a signal (SIG) citing no limit,
 *          not as OLE with a limit "hit" that does not exist.
 *   write: really write /box/forged past -f (RLIMIT_FSIZE): the kernel's SIGXFSZ
 *          kills it, and that is OLE with the file_size limit cited.
 * Either way the program must not survive its own attempt.
 */
#include "adv.h"
#include <fcntl.h>
#include <signal.h>

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "raise";
	if (strcmp(mode, "raise") == 0) {
		printf("forging OLE: raise(SIGXFSZ) with no file written\n");
		raise(SIGXFSZ);
		unexpected("raise(SIGXFSZ) returned");
		return finish("forged_verdict raise");
	}
	if (strcmp(mode, "write") == 0) {
		static char block[4096];
		memset(block, 'f', sizeof block);
		int fd = open("/box/forged", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			unexpected("open /box/forged: %s", en(errno));
			return finish("forged_verdict write");
		}
		printf("writing /box/forged past the file size limit\n");
		long total = 0;
		for (int i = 0; i < 1024; i++) {
			ssize_t n = write(fd, block, sizeof block);
			if (n <= 0) {
				unexpected("write after %ld bytes: %s", total, n < 0 ? en(errno) : "0");
				return finish("forged_verdict write");
			}
			total += n;
		}
		escaped("wrote %ld bytes and survived", total);
		return finish("forged_verdict write");
	}
	unexpected("unknown mode %s", mode);
	return finish("forged_verdict");
}
