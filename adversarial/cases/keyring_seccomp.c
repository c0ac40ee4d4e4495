/*
 * keyring_seccomp: kernel surfaces the default seccomp filter closes (isolate's
 * --syscalls flags): keyrings (add_key, keyctl, request_key: ENOSYS), io_uring
 * (ENOSYS), AF_VSOCK sockets (EAFNOSUPPORT), inode locks (flock, F_SETLK: ENOLCK)
 * and i386 system calls through int 0x80 (ENOSYS). The exact errno is required:
 * it proves the filter, not some other condition, stopped the call.
 *
 * Built with gcc -m32 (keyring_seccomp_m32, run with --syscalls=15: every flag
 * but 16) the same calls are i386 calls with i386 numbers and must get the same
 * answers; socket(AF_VSOCK) is then made twice, as socket(2) itself (EAFNOSUPPORT)
 * and as glibc's i386 socket() makes it, through socketcall(SYS_SOCKET), which
 * the filter answers ENOSYS (the family is in memory, out of its sight);
 * fcntl64 with F_SETLK64 is tried too; and int 0x80 is the program's own entry,
 * so that part is left out.
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

#ifdef __x86_64__
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
#endif

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
#ifdef __i386__
	MUST_FAIL("socket(AF_VSOCK)", syscall(SYS_socket, AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT);
	MUST_FAIL("socket(AF_VSOCK) through socketcall", socket(AF_VSOCK, SOCK_STREAM, 0), ENOSYS);
#else
	MUST_FAIL("socket(AF_VSOCK)", socket(AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT);
#endif
	int fd = open("/box/lockfile", O_RDWR | O_CREAT, 0600);
	MUST_FAIL("flock(LOCK_EX)", flock(fd, LOCK_EX), ENOLCK);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	MUST_FAIL("fcntl(F_SETLK)", fcntl(fd, F_SETLK, &fl), ENOLCK);
	MUST_FAIL("fcntl(F_OFD_SETLK)", fcntl(fd, F_OFD_SETLK, &fl), ENOLCK);
#ifdef __i386__
	struct flock64 fl64 = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	MUST_FAIL("fcntl64(F_SETLK64)", syscall(SYS_fcntl64, fd, F_SETLK64, &fl64), ENOLCK);
	MUST_FAIL("fcntl64(F_SETLKW64)", syscall(SYS_fcntl64, fd, F_SETLKW64, &fl64), ENOLCK);
	MUST_FAIL("fcntl(F_SETLK) (i386 55)", syscall(SYS_fcntl, fd, F_SETLK, &fl), ENOLCK);
	return finish("keyring_seccomp");
#else
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
#endif
}
