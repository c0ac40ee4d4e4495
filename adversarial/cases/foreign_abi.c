/*
 * foreign_abi: system calls through the other two ABIs of an x86_64 kernel, which
 * a filter written for x86_64 numbers alone does not see: the same number means
 * another call (i386 socketcall is 102, x86_64 102 is getuid), and blocked calls
 * have other numbers (i386 bpf is 357).
 *
 *   foreign_abi x32   x86_64 calls with the x32 bit (nr | 0x40000000): getpid,
 *                     getuid, write, and 512 (x32's own rt_sigaction). The filter
 *                     answers ENOSYS. A kernel without CONFIG_X86_X32_ABI also
 *                     answers ENOSYS, so the number alone cannot tell them apart:
 *                     the probe of kernel_surface.h does. Only when the probe
 *                     cannot run and the kernel reports no x32 is the check skipped,
 *                     with a line saying so.
 *   foreign_abi i386  int 0x80: getuid, open, socketcall(SYS_SOCKET), bpf: ENOSYS;
 *                     without IA32 emulation int 0x80 is a SIGSEGV, also stopped.
 */
#include "kernel_surface.h"
#include <sys/mman.h>

/* i386 numbers (arch/x86/entry/syscalls/syscall_32.tbl). */
#define I386_OPEN 5
#define I386_GETUID 24
#define I386_SOCKETCALL 102
#define I386_BPF 357

struct call32 {
	long nr, b, c, d;
};

static long do_int80(void *arg)
{
	struct call32 *c = arg;
	return int80(c->nr, c->b, c->c, c->d, 0, 0, 0);
}

/* One i386 call: ENOSYS from the filter, or SIGSEGV without IA32 emulation. */
static void i386_call(const char *what, long nr, long b, long c, long d)
{
	struct call32 call = {nr, b, c, d};
	long r = 0;
	if (segv_guard(do_int80, &call, &r))
		stopped("%s via int 0x80: SIGSEGV (no IA32 emulation)", what);
	else if (r >= 0)
		escaped("%s via int 0x80 returned %ld", what, r);
	else if (r == -ENOSYS)
		stopped("%s via int 0x80: ENOSYS", what);
	else
		unexpected("%s via int 0x80 failed with %s, not ENOSYS", what, en((int)-r));
}

static void x32(void)
{
	int no_x32 = kernel_lacks("CONFIG_X86_X32_ABI", "x32_sys_call");
	if (no_x32 == 1)
		printf("note: this kernel has no x32 ABI: without the filter it would answer "
		       "ENOSYS too, so the ENOSYS alone cannot tell the filter's answer from "
		       "the kernel's; the probes below can\n");
	MUST_FAIL("x32 getpid (39 | 0x40000000)", syscall(SYS_getpid | X32_SYSCALL_BIT), ENOSYS);
	MUST_FAIL("x32 getuid (102 | 0x40000000)", syscall(SYS_getuid | X32_SYSCALL_BIT), ENOSYS);
	static const char msg[] = "ESCAPED: written through the x32 write\n";
	MUST_FAIL("x32 write(1) (1 | 0x40000000)",
		  syscall(SYS_write | X32_SYSCALL_BIT, 1, msg, sizeof msg - 1), ENOSYS);
	MUST_FAIL("x32 rt_sigaction (512 | 0x40000000)",
		  syscall(512 | X32_SYSCALL_BIT, SIGUSR1, NULL, NULL, 8), ENOSYS);
	/* The probe needs seccomp's user notification (5.0+). */
	if (probe_works()) {
		FILTER_ANSWERS("x32 getpid probe", SYS_getpid | X32_SYSCALL_BIT, ENOSYS, 0);
		FILTER_ANSWERS("x32 write probe", SYS_write | X32_SYSCALL_BIT, ENOSYS, 1,
			       (long)msg, sizeof msg - 1);
	} else if (no_x32 == 1) {
		printf("skipped: no probe (no seccomp user notification) and the kernel reports "
		       "no x32 ABI: the filter's ENOSYS cannot be told from the kernel's here\n");
	} else if (no_x32 == 0) {
		printf("no probe, but the kernel has the x32 ABI: the ENOSYS above can only be "
		       "the filter's\n");
	} else {
		printf("cannot tell: no probe and no kernel configuration: the ENOSYS above may "
		       "be the filter's or the kernel's\n");
	}
}

static void i386(void)
{
	show_sysctl("abi/vsyscall32");
	kernel_lacks("CONFIG_IA32_EMULATION", "ia32_sys_call");
	/* int 0x80 takes 32-bit pointers: the arguments live below 4 GiB. */
	char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
			 -1, 0);
	if (low == MAP_FAILED) {
		unexpected("mmap(MAP_32BIT): %s", en(errno));
		return;
	}
	strcpy(low, "/box/payload");
	unsigned *args = (unsigned *)(low + 256);
	args[0] = 2; /* AF_INET */
	args[1] = 1; /* SOCK_STREAM */
	args[2] = 0;
	i386_call("i386 getuid (24)", I386_GETUID, 0, 0, 0);
	i386_call("i386 open(/box/payload) (5)", I386_OPEN, (long)low, 0, 0);
	i386_call("i386 socketcall(SYS_SOCKET, AF_INET) (102)", I386_SOCKETCALL, 1, (long)args,
		  0);
	/* bpf(BPF_MAP_CREATE) with an attr of zeroes: the x86_64 rule is for nr 321. */
	i386_call("i386 bpf(BPF_MAP_CREATE) (357)", I386_BPF, 0, (long)(low + 512), 64);
	FILTER_ANSWERS_I386("i386 getuid probe", I386_GETUID, ENOSYS, 0);
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "x32") && strcmp(argv[1], "i386"))) {
		printf("usage: foreign_abi x32|i386\n");
		return 2;
	}
	seccomp_is(2);
	if (!strcmp(argv[1], "x32"))
		x32();
	else
		i386();
	return finish("foreign_abi");
}
