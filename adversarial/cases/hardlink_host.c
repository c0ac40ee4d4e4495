/*
 * hardlink_host: hard-link host files into the box's directories. After a run,
 * rustbox hands /box back to the caller with a chown of the whole tree; a hard
 * link there to a host file (say /usr/bin/su or /bin/sh) would have that chown
 * land on the host file. Links cannot cross mounts (EXDEV): /usr, /bin and /lib
 * are separate bind mounts, /tmp and /dev/shm separate tmpfs, so nothing of the
 * host can be linked into /box or /tmp.
 */
#include "adv.h"
#include <fcntl.h>

int main(void)
{
	const char *host[] = {"/usr/bin/su", "/usr/bin/passwd", "/bin/sh", "/usr/lib/os-release",
			      "/lib/x86_64-linux-gnu/libc.so.6"};
	const char *dirs[] = {"/box", "/tmp"};
	char to[256];
	for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
		for (size_t i = 0; i < sizeof host / sizeof *host; i++) {
			if (access(host[i], F_OK) != 0)
				continue;
			snprintf(to, sizeof to, "%s/link%zu", dirs[d], i);
			char what[320];
			snprintf(what, sizeof what, "link(%s, %s)", host[i], to);
			MUST_FAIL(what, link(host[i], to), EXDEV);
			snprintf(what, sizeof what, "linkat(AT_SYMLINK_FOLLOW %s, %s)", host[i], to);
			MUST_FAIL(what, linkat(AT_FDCWD, host[i], AT_FDCWD, to, AT_SYMLINK_FOLLOW),
				  EXDEV);
		}
	}
	/* Between the box's own mounts: /tmp into /box, /box into /dev/shm. */
	int fd = open("/tmp/own", O_WRONLY | O_CREAT, 0600);
	close(fd);
	MUST_FAIL("link(/tmp/own, /box/own)", link("/tmp/own", "/box/own"), EXDEV);
	return finish("hardlink_host");
}
