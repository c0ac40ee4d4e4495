/*
 * tty_ioctl: terminal ioctls that act on whoever holds the terminal. TIOCSTI
 * pushes bytes into a terminal's input queue: a sandboxed program sharing its
 * caller's terminal types commands into the caller's shell (CVE-2017-5226 in
 * bubblewrap, CVE-2016-7545 in SELinux's sandbox). TIOCLINUX drives a virtual
 * console (selection, paste: the same injection, and kernel bugs of its own).
 *
 * The default seccomp profile answers EPERM, comparing the request on its low
 * 32 bits only, as the kernel reads it (an unsigned int): a request with junk in
 * the upper half of the register must get EPERM too (CVE-2019-10063, flatpak's
 * filter compared 64 bits). The box's descriptors 0, 1, 2 are files, not
 * terminals, and /dev/tty is absent (fine): on those the kernel itself says
 * ENOTTY, which the control line shows, so EPERM proves the filter.
 *
 *   tty_ioctl tiocsti    TIOCSTI on fds 0, 1, 2 and /dev/tty, plain and with high
 *                        bits set;
 *   tty_ioctl tioclinux  TIOCLINUX (paste, get shift state) on fds 0, 1, 2 and the
 *                        console devices, plain and with high bits set.
 */
#include "kernel_surface.h"
#include <linux/tiocl.h>
#include <termios.h>

#if __SIZEOF_LONG__ == 8
static const unsigned long high_bits[] = {0, 0x100000000UL, 0xffffffff00000000UL};
#else /* -m32: a register has no upper half */
static const unsigned long high_bits[] = {0};
#endif

static void try_fd(int fd, const char *name, unsigned long req, const char *req_name, void *arg)
{
	char what[128];
	for (size_t i = 0; i < sizeof high_bits / sizeof high_bits[0]; i++) {
		if (high_bits[i])
			snprintf(what, sizeof what, "ioctl(%s, %#lx | %s)", name, high_bits[i],
				 req_name);
		else
			snprintf(what, sizeof what, "ioctl(%s, %s)", name, req_name);
		MUST_FAIL(what, syscall(SYS_ioctl, fd, high_bits[i] | req, arg), EPERM);
	}
}

/* Opens a terminal device if the box has one; absent is fine. */
static void try_dev(const char *path, unsigned long req, const char *req_name, void *arg)
{
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		printf("open(%s): %s (no such terminal in the box)\n", path, en(errno));
		return;
	}
	try_fd(fd, path, req, req_name, arg);
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "tiocsti") && strcmp(argv[1], "tioclinux"))) {
		printf("usage: tty_ioctl tiocsti|tioclinux\n");
		return 2;
	}
	seccomp_is(2);
	/* Control: what the kernel says to a terminal ioctl on these descriptors. */
	struct termios t;
	for (int fd = 0; fd <= 2; fd++)
		printf("control: ioctl(fd %d, TCGETS): %s (isatty %d)\n", fd,
		       ioctl(fd, TCGETS, &t) == 0 ? "ok" : en(errno), isatty(fd));
	static const char *names[] = {"fd 0", "fd 1", "fd 2"};
	if (!strcmp(argv[1], "tiocsti")) {
		show_sysctl("dev/tty/legacy_tiocsti");
		char c = '\n';
		for (int fd = 0; fd <= 2; fd++)
			try_fd(fd, names[fd], TIOCSTI, "TIOCSTI", &c);
		try_dev("/dev/tty", TIOCSTI, "TIOCSTI", &c);
	} else {
		char paste = TIOCL_PASTESEL, shift = TIOCL_GETSHIFTSTATE;
		for (int fd = 0; fd <= 2; fd++) {
			try_fd(fd, names[fd], TIOCLINUX, "TIOCLINUX(PASTESEL)", &paste);
			try_fd(fd, names[fd], TIOCLINUX, "TIOCLINUX(GETSHIFTSTATE)", &shift);
		}
		try_dev("/dev/tty0", TIOCLINUX, "TIOCLINUX(PASTESEL)", &paste);
		try_dev("/dev/console", TIOCLINUX, "TIOCLINUX(PASTESEL)", &paste);
		try_dev("/dev/tty", TIOCLINUX, "TIOCLINUX(PASTESEL)", &paste);
	}
	return finish("tty_ioctl");
}
