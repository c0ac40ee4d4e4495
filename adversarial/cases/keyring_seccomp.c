/*
 * keyring_seccomp: kernel surfaces the default seccomp filter closes (isolate's
 * --syscalls flags): keyrings (add_key, keyctl, request_key: ENOSYS), io_uring
 * (ENOSYS), AF_VSOCK sockets (EAFNOSUPPORT), inode locks (flock, F_SETLK: ENOLCK)
 * and i386 system calls through int 0x80 (ENOSYS). The exact errno is required:
 * it proves the filter, not some other condition, stopped the call.
 */
#include "adv.h"
#include <fcntl.h>
#include <linux/keyctl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static sigjmp_buf no_int80;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(no_int80, 1);
}

/* i386 getuid (nr 24) through the 32-bit entry; returns -errno or the uid. */
static long int80_getuid(void)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(24L) : "memory");
	return ret;
}

int main(void)
{
	MUST_FAIL("add_key(user)",
		  syscall(SYS_add_key, "user", "adv", "secret", 6, KEY_SPEC_PROCESS_KEYRING),
		  ENOSYS);
	MUST_FAIL("keyctl(GET_KEYRING_ID, session)",
		  syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1),
		  ENOSYS);
	MUST_FAIL("keyctl(JOIN_SESSION_KEYRING)",
		  syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "adv"), ENOSYS);
	MUST_FAIL("request_key(user)",
		  syscall(SYS_request_key, "user", "adv", NULL, KEY_SPEC_PROCESS_KEYRING),
		  ENOSYS);
	char params[120] = {0};
	MUST_FAIL("io_uring_setup", syscall(SYS_io_uring_setup, 8, params), ENOSYS);
	MUST_FAIL("socket(AF_VSOCK)", socket(AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT);
	int fd = open("/box/lockfile", O_RDWR | O_CREAT, 0600);
	MUST_FAIL("flock(LOCK_EX)", flock(fd, LOCK_EX), ENOLCK);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	MUST_FAIL("fcntl(F_SETLK)", fcntl(fd, F_SETLK, &fl), ENOLCK);
	/* Without IA32 emulation in the kernel, int 0x80 is a SIGSEGV: also stopped. */
	signal(SIGSEGV, on_segv);
	if (sigsetjmp(no_int80, 1)) {
		stopped("i386 getuid via int 0x80: SIGSEGV (no IA32 emulation)");
		return finish("keyring_seccomp");
	}
	long r = int80_getuid();
	if (r >= 0)
		escaped("i386 getuid via int 0x80 returned %ld", r);
	else if (r == -ENOSYS)
		stopped("i386 getuid via int 0x80: ENOSYS");
	else
		unexpected("int 0x80 getuid returned %ld", r);
	return finish("keyring_seccomp");
}
