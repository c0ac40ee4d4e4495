/*
 * abi_bypass: the rest of the filter through the foreign-ABI door. A judge that
 * runs 32-bit programs turns flag 16 off (--syscalls=15: keyrings, AF_VSOCK, inode
 * locks and io_uring still blocked). That allows i386 and x32 calls as such; it
 * must not unblock what the other rules close: the default profile still promises
 * ENOSYS for bpf, perf_event_open, userfaultfd, ptrace, process_vm_readv, kcmp,
 * pidfd_getfd, kexec, modules, syslog, open_by_handle_at, EPERM for TIOCSTI and
 * personas, EPROTONOSUPPORT for netlink families; the flags still set promise
 * ENOSYS for keyctl and io_uring, EAFNOSUPPORT for AF_VSOCK and ENOLCK for flock
 * and fcntl64's locks; and "always, whatever the flags" no user namespace
 * (CLONE_NEWUSER EPERM, clone3 ENOSYS). Here each of those is made through the
 * other ABI, from a 64-bit program (the *_m32 cases make them from 32-bit ones).
 * i386's socketcall(SYS_SOCKET) hides socket's arguments in memory: ENOSYS.
 *
 *   abi_bypass i386  int 0x80 with i386 numbers. Where the kernel itself would let
 *                    the call through (a user namespace, perf on itself,
 *                    userfaultfd, reading its own child's memory...) the call is
 *                    really made; where the kernel would refuse it anyway (or the
 *                    call could do harm), the probe of kernel_surface.h shows whether
 *                    the filter let it pass, and answers it in the kernel's place.
 *   abi_bypass x32   x32 numbers (nr | 0x40000000), through the probe only: on a
 *                    kernel without the x32 ABI they end in ENOSYS anyway, but the
 *                    filter's answer is the one under test.
 */
#include "kernel_surface.h"
#include <linux/bpf.h>
#include <linux/kcmp.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>

/* i386 numbers (arch/x86/entry/syscalls/syscall_32.tbl, asm/unistd_32.h). */
enum {
	I386_GETUID = 24,
	I386_PTRACE = 26,
	I386_IOCTL = 54,
	I386_SYSLOG = 103,
	I386_INIT_MODULE = 128,
	I386_FLOCK = 143,
	I386_KEXEC_LOAD = 283,
	I386_KEYCTL = 288,
	I386_UNSHARE = 310,
	I386_PERF_EVENT_OPEN = 336,
	I386_OPEN_BY_HANDLE_AT = 342,
	I386_PROCESS_VM_READV = 347,
	I386_KCMP = 349,
	I386_BPF = 357,
	I386_USERFAULTFD = 374,
	I386_IO_URING_SETUP = 425,
	I386_CLONE3 = 435,
	I386_PIDFD_GETFD = 438,
	I386_SOCKETCALL = 102,
	I386_PERSONALITY = 136,
	I386_VM86 = 166,
	I386_FCNTL64 = 221,
	I386_SOCKET = 359,
};

/* x32 numbers without the x32 bit (asm/unistd_x32.h). */
enum {
	X32_FLOCK = 73,
	X32_KEYCTL = 250,
	X32_UNSHARE = 272,
	X32_PERF_EVENT_OPEN = 298,
	X32_BPF = 321,
	X32_USERFAULTFD = 323,
	X32_IO_URING_SETUP = 425,
	X32_CLONE3 = 435,
	X32_IOCTL = 514,
	X32_PTRACE = 521,
	X32_KEXEC_LOAD = 528,
	X32_PROCESS_VM_READV = 539,
};

#define SECRET "child-secret-4c1d"

struct call {
	long nr, a[6];
};

static long do_call(void *arg)
{
	struct call *c = arg;
	return int80(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
}

/* One real i386 call that must fail with `want`; the raw result goes to *ret. */
static void real32(const char *what, int want, long *ret, long nr, long a0, long a1, long a2,
		   long a3, long a4, long a5)
{
	struct call c = {nr, {a0, a1, a2, a3, a4, a5}};
	long r = -1;
	if (segv_guard(do_call, &c, &r)) {
		stopped("%s via int 0x80: SIGSEGV (no IA32 emulation)", what);
		r = -ENOSYS;
	} else if (r >= 0) {
		escaped("%s via int 0x80 returned %ld", what, r);
	} else if (r == -want) {
		stopped("%s via int 0x80: %s", what, en(want));
	} else {
		unexpected("%s via int 0x80 failed with %s, not with the filter's %s", what,
			   en((int)-r), en(want));
	}
	if (ret)
		*ret = r;
}

static void i386_mode(char *low)
{
	/* The native call is closed: the profile is in place for x86_64. */
	union bpf_attr *map = (union bpf_attr *)(low + 0x100);
	map->map_type = BPF_MAP_TYPE_ARRAY;
	map->key_size = 4;
	map->value_size = 8;
	map->max_entries = 1;
	MUST_FAIL("control: x86_64 bpf(BPF_MAP_CREATE)",
		  syscall(SYS_bpf, BPF_MAP_CREATE, map, sizeof *map), ENOSYS);
	struct call c = {I386_GETUID, {0}};
	long uid = -1;
	if (segv_guard(do_call, &c, &uid)) {
		stopped("i386 calls: SIGSEGV, no IA32 emulation in this kernel: the door is shut");
		return;
	}
	printf("control: i386 getuid: %ld (foreign architectures allowed, as asked)\n", uid);
	if (uid < 0)
		unexpected("i386 getuid: %s: this case needs --syscalls without 16",
			   en((int)-uid));

	/* The helper child: a secret in low memory, alive until we are done. */
	int ready[2], hold[2];
	if (pipe(ready) || pipe(hold)) {
		unexpected("pipe: %s", en(errno));
		return;
	}
	pid_t child = fork();
	if (child == 0) {
		strcpy(low + 0x1000, SECRET);
		close(hold[1]);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		char b;
		while (read(hold[0], &b, 1) > 0)
			;
		_exit(0);
	}
	close(hold[0]);
	char b;
	if (child < 0 || read(ready[0], &b, 1) != 1) {
		unexpected("the helper child did not start");
		return;
	}

	/* A user namespace, in a grandchild so that we stay where we are. */
	pid_t p = fork();
	if (p == 0) {
		struct call u = {I386_UNSHARE, {CLONE_NEWUSER}};
		long r = -1;
		if (segv_guard(do_call, &u, &r) || r < 0)
			_exit(r < 0 && r > -256 ? (int)(100 + -r) % 256 : 99);
		FILE *f = fopen("/proc/self/status", "r");
		char line[256];
		while (f && fgets(line, sizeof line, f))
			if (!strncmp(line, "CapEff:", 7))
				printf("  in the new user namespace: %s", line);
		_exit(0);
	}
	int st = 0;
	waitpid(p, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		escaped("i386 unshare(CLONE_NEWUSER) via int 0x80 created a user namespace");
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 100 + EPERM)
		stopped("i386 unshare(CLONE_NEWUSER) via int 0x80: EPERM");
	else
		unexpected("i386 unshare(CLONE_NEWUSER) via int 0x80: child status %#x", st);

	/* Calls the kernel allows a same-uid program: really made. */
	struct perf_event_attr *attr = (struct perf_event_attr *)(low + 0x200);
	attr->size = sizeof *attr;
	attr->type = PERF_TYPE_SOFTWARE;
	attr->config = PERF_COUNT_SW_TASK_CLOCK;
	attr->exclude_kernel = 1;
	attr->exclude_hv = 1;
	long fd;
	real32("i386 perf_event_open(self, task-clock, user only)", ENOSYS, &fd,
	       I386_PERF_EVENT_OPEN, (long)attr, 0, -1, -1, 0, 0);
	if (fd >= 0)
		close((int)fd);
	real32("i386 userfaultfd(UFFD_USER_MODE_ONLY)", ENOSYS, &fd, I386_USERFAULTFD,
	       O_CLOEXEC | 1, 0, 0, 0, 0, 0);
	if (fd >= 0)
		close((int)fd);
	/* compat iovecs: {u32 base, u32 len}; the child's secret is at low + 0x1000. */
	unsigned *iov = (unsigned *)(low + 0x400);
	iov[0] = (unsigned)(unsigned long)(low + 0x800);
	iov[1] = 64;
	iov[2] = (unsigned)(unsigned long)(low + 0x1000);
	iov[3] = 64;
	long n;
	real32("i386 process_vm_readv(own child)", ENOSYS, &n, I386_PROCESS_VM_READV, child,
	       (long)iov, 1, (long)(iov + 2), 1, 0);
	if (n > 0)
		printf("  read \"%.17s\" from the child\n", low + 0x800);
	real32("i386 kcmp(self, child, KCMP_VM)", ENOSYS, NULL, I386_KCMP, getpid(), child,
	       KCMP_VM, 0, 0, 0);
	long pidfd = syscall(SYS_pidfd_open, child, 0);
	real32("i386 pidfd_getfd(child's fd 1)", ENOSYS, &fd, I386_PIDFD_GETFD, pidfd, 1, 0, 0,
	       0, 0);
	real32("i386 keyctl(GET_KEYRING_ID, session)", ENOSYS, NULL, I386_KEYCTL,
	       KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0, 0, 0, 0);
	int lock = open("/box/lockfile", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	real32("i386 flock(LOCK_EX)", ENOLCK, NULL, I386_FLOCK, lock, LOCK_EX, 0, 0, 0, 0);

	/* Calls the kernel would refuse anyway: whose answer is it? */
	FILTER_ANSWERS_I386("i386 bpf(BPF_MAP_CREATE) probe", I386_BPF, ENOSYS, BPF_MAP_CREATE,
			    (long)map, sizeof *map);
	FILTER_ANSWERS_I386("i386 ptrace(PTRACE_ATTACH, child) probe", I386_PTRACE, ENOSYS,
			    16 /* PTRACE_ATTACH */, child);
	FILTER_ANSWERS_I386("i386 syslog(READ_ALL) probe", I386_SYSLOG, ENOSYS, 3,
			    (long)(low + 0x2000), 4096);
	FILTER_ANSWERS_I386("i386 kexec_load probe", I386_KEXEC_LOAD, ENOSYS, 0, 0, 0, 0);
	FILTER_ANSWERS_I386("i386 init_module probe", I386_INIT_MODULE, ENOSYS,
			    (long)(low + 0x2000), 64, (long)(low + 0x3000));
	FILTER_ANSWERS_I386("i386 open_by_handle_at probe", I386_OPEN_BY_HANDLE_AT, ENOSYS,
			    AT_FDCWD, (long)(low + 0x2000), 0);
	memset(low + 0x600, 0, 120); /* struct io_uring_params */
	FILTER_ANSWERS_I386("i386 io_uring_setup(8) probe", I386_IO_URING_SETUP, ENOSYS, 8,
			    (long)(low + 0x600));
	FILTER_ANSWERS_I386("i386 ioctl(fd 1, TIOCSTI) probe", I386_IOCTL, EPERM, 1, TIOCSTI,
			    (long)(low + 0x2000));
	struct clone_args *ca = (struct clone_args *)(low + 0x700);
	memset(ca, 0, sizeof *ca);
	ca->flags = CLONE_NEWUSER;
	ca->exit_signal = SIGCHLD;
	FILTER_ANSWERS_I386("i386 clone3(CLONE_NEWUSER) probe", I386_CLONE3, ENOSYS, (long)ca,
			    sizeof *ca);
	real32("i386 fcntl64(F_SETLK64)", ENOLCK, NULL, I386_FCNTL64, lock, 13 /* F_SETLK64 */,
	       (long)(low + 0x2000), 0, 0, 0);
	FILTER_ANSWERS_I386("i386 personality(READ_IMPLIES_EXEC) probe", I386_PERSONALITY, EPERM,
			    0x0400000);
	FILTER_ANSWERS_I386("i386 socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT) probe", I386_SOCKET,
			    EPROTONOSUPPORT, 16, 3, 15);
	FILTER_ANSWERS_I386("i386 socket(AF_VSOCK) probe", I386_SOCKET, EAFNOSUPPORT, 40, 1, 0);
	unsigned *sargs = (unsigned *)(low + 0x2800);
	sargs[0] = 16; /* AF_NETLINK */
	sargs[1] = 3;  /* SOCK_RAW */
	sargs[2] = 15; /* NETLINK_KOBJECT_UEVENT */
	FILTER_ANSWERS_I386("i386 socketcall(SYS_SOCKET, AF_NETLINK) probe", I386_SOCKETCALL,
			    ENOSYS, 1, (long)sargs);
	FILTER_ANSWERS_I386("i386 vm86(VM86_ENTER) probe", I386_VM86, ENOSYS, 1,
			    (long)(low + 0x3000));

	close(hold[1]);
	waitpid(child, NULL, 0);
}

static void x32_mode(char *low)
{
	int no_x32 = kernel_lacks("CONFIG_X86_X32_ABI", "x32_sys_call");
	if (no_x32 == 1)
		printf("note: this kernel has no x32 ABI: a call that passes the filter still "
		       "ends in the kernel's ENOSYS here, not on a kernel with x32\n");
	MUST_FAIL("control: x86_64 bpf(BPF_MAP_CREATE)",
		  syscall(SYS_bpf, BPF_MAP_CREATE, low, 64), ENOSYS);
	if (!probe_works()) {
		printf("skipped: no probe (no seccomp user notification): the filter's answer "
		       "to x32 calls cannot be told from the kernel's here\n");
		return;
	}
	const long x = X32_SYSCALL_BIT;
	FILTER_ANSWERS("x32 unshare(CLONE_NEWUSER) probe", x | X32_UNSHARE, EPERM, CLONE_NEWUSER);
	FILTER_ANSWERS("x32 clone3 probe", x | X32_CLONE3, ENOSYS, (long)low, 88);
	FILTER_ANSWERS("x32 bpf probe", x | X32_BPF, ENOSYS, BPF_MAP_CREATE, (long)low, 64);
	FILTER_ANSWERS("x32 perf_event_open probe", x | X32_PERF_EVENT_OPEN, ENOSYS, (long)low,
		       0, -1, -1, 0);
	FILTER_ANSWERS("x32 userfaultfd probe", x | X32_USERFAULTFD, ENOSYS, O_CLOEXEC | 1);
	FILTER_ANSWERS("x32 ptrace probe", x | X32_PTRACE, ENOSYS, 16, 1);
	FILTER_ANSWERS("x32 process_vm_readv probe", x | X32_PROCESS_VM_READV, ENOSYS, 1,
		       (long)low, 1, (long)low, 1, 0);
	FILTER_ANSWERS("x32 kexec_load probe", x | X32_KEXEC_LOAD, ENOSYS, 0, 0, 0, 0);
	FILTER_ANSWERS("x32 ioctl(fd 1, TIOCSTI) probe", x | X32_IOCTL, EPERM, 1, TIOCSTI,
		       (long)low);
	FILTER_ANSWERS("x32 keyctl probe", x | X32_KEYCTL, ENOSYS, KEYCTL_GET_KEYRING_ID,
		       KEY_SPEC_SESSION_KEYRING, 0);
	FILTER_ANSWERS("x32 io_uring_setup probe", x | X32_IO_URING_SETUP, ENOSYS, 8, (long)low);
	FILTER_ANSWERS("x32 flock probe", x | X32_FLOCK, ENOLCK, 0, LOCK_EX);
	FILTER_ANSWERS("x32 ioctl 16 (TIOCSTI) probe", x | 16, EPERM, 1, TIOCSTI, (long)low);
	FILTER_ANSWERS("x32 personality(READ_IMPLIES_EXEC) probe", x | SYS_personality, EPERM,
		       0x0400000);
	FILTER_ANSWERS("x32 socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT) probe", x | SYS_socket,
		       EPROTONOSUPPORT, 16, 3, 15);
	FILTER_ANSWERS("x32 socket(AF_VSOCK) probe", x | SYS_socket, EAFNOSUPPORT, 40, 1, 0);
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "i386") && strcmp(argv[1], "x32"))) {
		printf("usage: abi_bypass i386|x32\n");
		return 2;
	}
	seccomp_is(2);
	/* Arguments of 32-bit calls live below 4 GiB. */
	char *low = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (low == MAP_FAILED) {
		unexpected("mmap(MAP_32BIT): %s", en(errno));
		return finish("abi_bypass");
	}
	if (!strcmp(argv[1], "i386"))
		i386_mode(low);
	else
		x32_mode(low);
	return finish("abi_bypass");
}
