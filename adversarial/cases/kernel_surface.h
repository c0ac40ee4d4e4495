/*
 * kernel_surface.h: what the kernel-surface cases (adversarial/fragments/kernel.json)
 * share on top of adv.h.
 *
 * The default seccomp profile answers ENOSYS (or EPERM) in the kernel's place. An
 * exact errno only proves the filter when the kernel itself would say something
 * else; a kernel built without kexec, modules, the x32 ABI or iopl answers ENOSYS
 * too. FILTER_ANSWERS tells the two apart from inside the box:
 *
 *   a thread installs a seccomp filter of its own (allowed: the box runs with
 *   no_new_privs) that hands exactly one call (architecture and number) to a
 *   USER_NOTIF listener held by the main thread, then makes the call. The kernel
 *   runs every filter of the thread and keeps the strictest action; ERRNO (rustbox's
 *   answer) is stricter than USER_NOTIF (ours). So when rustbox's filter answered,
 *   our listener hears nothing; when the call got past rustbox's filter, the
 *   listener receives it before any kernel code of the call runs and answers EXDEV
 *   in the kernel's place: a call that slips through is reported, never executed.
 *
 * Also: seccomp_is() (the mode in /proc/self/status: a twin run with
 * --seccomp=off must really run without a filter), show_sysctl() (the /proc/sys
 * values the layer below depends on), kconfig() (an option of the running kernel,
 * from /proc/config.gz read with gzip) and kernel_lacks() (does this kernel have the
 * code of a call at all: the configuration, else /proc/kallsyms, where a weak
 * __x64_sys_* symbol is the sys_ni_syscall stub).
 *
 * Probes and gzip are extra tasks: cases that use them run with -p4.
 */
#ifndef KERNEL_SURFACE_H
#define KERNEL_SURFACE_H
#include "adv.h"
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* The x32 ABI: x86_64 system call numbers with this bit set. */
#define X32_SYSCALL_BIT 0x40000000L

/* unexpected() comes from adv.h. */

/*
 * The seccomp mode of this process must be `want` (2: the filter under test is
 * installed; 0: --seccomp=off, the layer below is under test). A mismatch means
 * the case does not test what it says: UNEXPECTED.
 */
__attribute__((unused)) static void seccomp_is(int want)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int mode = -1, filters = -1;
	while (f && fgets(line, sizeof line, f)) {
		sscanf(line, "Seccomp: %d", &mode);
		sscanf(line, "Seccomp_filters: %d", &filters);
	}
	if (f)
		fclose(f);
	printf("seccomp: mode %d, %d filters\n", mode, filters);
	if (mode != want)
		unexpected("seccomp mode %d, but this case tests mode %d (%s)", mode, want,
			   want ? "the default filter" : "--seccomp=off");
}

/* Prints /proc/sys/<name> and returns its value, or LONG_MIN when unreadable. */
__attribute__((unused)) static long show_sysctl(const char *name)
{
	char path[256], buf[64];
	snprintf(path, sizeof path, "/proc/sys/%s", name);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof buf, f)) {
		printf("sysctl %s: unreadable (%s)\n", name, en(errno));
		if (f)
			fclose(f);
		return LONG_MIN;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	printf("sysctl %s = %s\n", name, buf);
	return strtol(buf, NULL, 10);
}

/* The running kernel's configuration, or NULL (no /proc/config.gz, no gzip). */
static char *ks_config;
static int ks_config_read;

static void ks_read_config(void)
{
	if (ks_config_read)
		return;
	ks_config_read = 1;
	if (access("/proc/config.gz", R_OK) != 0)
		return;
	int p[2];
	if (pipe(p) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 2);
		execl("/bin/gzip", "gzip", "-cd", "/proc/config.gz", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	size_t cap = 1 << 18, len = 0;
	char *buf = malloc(cap);
	ssize_t n;
	while (buf && pid > 0 && (n = read(p[0], buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len - 1 == 0) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger)
				break;
			buf = bigger;
			cap *= 2;
		}
	}
	close(p[0]);
	int st = 0;
	if (pid > 0)
		waitpid(pid, &st, 0);
	if (buf && pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && len > 0) {
		buf[len] = 0;
		ks_config = buf;
	} else {
		free(buf);
	}
}

/* 'y' or 'm' (built), 'n' (not set or not offered), '?' (configuration unknown). */
__attribute__((unused)) static char kconfig(const char *opt)
{
	ks_read_config();
	if (!ks_config)
		return '?';
	char key[128];
	snprintf(key, sizeof key, "\n%s=", opt);
	const char *p = strstr(ks_config, key);
	return p ? p[strlen(key)] : 'n';
}

/* The type letter of `sym` in /proc/kallsyms, 0 when absent, '?' when unreadable. */
__attribute__((unused)) static char ksym(const char *sym)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	if (!f)
		return '?';
	char line[512], type = 0, name[256];
	while (fgets(line, sizeof line, f)) {
		char t;
		if (sscanf(line, "%*s %c %255s", &t, name) == 2 && strcmp(name, sym) == 0) {
			type = t;
			break;
		}
	}
	fclose(f);
	return type;
}

/*
 * Does this kernel lack the code behind a call? 1: it does (config option `opt` not
 * set; or, with no configuration or no `opt`, `sym` weak or absent in
 * /proc/kallsyms): the kernel's own answer is ENOSYS. 0: the code is there. -1:
 * cannot tell. Prints the evidence.
 */
__attribute__((unused)) static int kernel_lacks(const char *opt, const char *sym)
{
	char c = opt ? kconfig(opt) : '?';
	if (c == 'y' || c == 'm') {
		printf("kernel: %s=%c\n", opt, c);
		return 0;
	}
	if (c == 'n') {
		printf("kernel: %s is not set\n", opt);
		return 1;
	}
	if (!sym) {
		printf("kernel: %s unknown (no readable /proc/config.gz)\n", opt);
		return -1;
	}
	char t = ksym(sym);
	if (t == '?') {
		printf("kernel: %s unknown (no /proc/kallsyms)\n", sym);
		return -1;
	}
	if (t == 0 || t == 'W' || t == 'w') {
		printf("kernel: %s %s in /proc/kallsyms: %s\n", sym, t ? "is weak" : "absent",
		       t ? "the sys_ni_syscall stub, the call is not built" : "no such call");
		return 1;
	}
	printf("kernel: %s is '%c' in /proc/kallsyms: the call is built\n", sym, t);
	return 0;
}

/*
 * The architecture of this program's own calls: a case built with gcc -m32 (the
 * 32-bit twins of the manifest) makes i386 calls through glibc's syscall(), with
 * glibc's i386 numbers, and its probe watches those.
 */
#if defined(__x86_64__)
#define KS_NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__i386__)
#define KS_NATIVE_ARCH AUDIT_ARCH_I386
#else
#error "kernel_surface.h: x86_64 or i386 only"
#endif

#ifdef __x86_64__
/*
 * int 0x80 from 64-bit code: the i386 entry, arguments in ebx, ecx, edx, esi, edi,
 * ebp (32 bits each: pointers must lie below 4 GiB, see MAP_32BIT). Returns the raw
 * result (-errno on failure). rbp is saved around the call, below the red zone.
 */
__attribute__((unused, noinline)) static long int80(long nr, long b, long c, long d, long s,
						     long di, long bp)
{
	long ret;
	__asm__ volatile("sub $128, %%rsp\n\t"
			 "push %%rbp\n\t"
			 "mov %[bp], %%rbp\n\t"
			 "int $0x80\n\t"
			 "pop %%rbp\n\t"
			 "add $128, %%rsp"
			 : "=a"(ret)
			 : "a"(nr), "b"(b), "c"(c), "d"(d), "S"(s), "D"(di), [bp] "r"(bp)
			 : "r8", "r9", "r10", "r11", "memory", "cc");
	return ret;
}
#endif

/* int 0x80 without IA32 emulation is a SIGSEGV; a thread catches its own. */
static __thread sigjmp_buf ks_segv_jmp;
static __thread volatile sig_atomic_t ks_segv_armed;

static void ks_on_segv(int sig)
{
	if (ks_segv_armed)
		siglongjmp(ks_segv_jmp, 1);
	signal(sig, SIG_DFL); /* a real crash: fault again and die of it */
}

/*
 * Runs `fn` with SIGSEGV caught: 1 if it faulted, 0 if it returned. The result of
 * fn goes to *ret.
 */
__attribute__((unused)) static int segv_guard(long (*fn)(void *), void *arg, long *ret)
{
	struct sigaction sa = {.sa_handler = ks_on_segv};
	sigaction(SIGSEGV, &sa, NULL);
	ks_segv_armed = 1;
	if (sigsetjmp(ks_segv_jmp, 1)) {
		ks_segv_armed = 0;
		return 1;
	}
	*ret = fn(arg);
	ks_segv_armed = 0;
	return 0;
}

struct ks_probe {
	unsigned arch; /* AUDIT_ARCH_X86_64 (x32 numbers too) or AUDIT_ARCH_I386 */
	long nr;
	long a[6];
	int ready, done; /* eventfds: filter installed (or not); call returned */
	int listener;    /* -1 when our filter could not be installed */
	int setup_err;
	long rc; /* the call's result, -1 with err on failure */
	int err;
	int segv; /* int 0x80 faulted: the kernel has no IA32 entry */
};

#ifdef __x86_64__
static long ks_int80_call(void *arg)
{
	struct ks_probe *p = arg;
	return int80(p->nr, p->a[0], p->a[1], p->a[2], p->a[3], p->a[4], p->a[5]);
}
#endif

static void *ks_probe_thread(void *arg)
{
	struct ks_probe *p = arg;
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, p->arch, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)p->nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof insns / sizeof insns[0], .filter = insns};
	/* No TSYNC: the filter holds this thread only, and ends with it. */
	p->listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				   SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	p->setup_err = p->listener < 0 ? errno : 0;
	eventfd_write(p->ready, 1);
	if (p->listener < 0)
		return NULL;
#ifdef __x86_64__
	if (p->arch == AUDIT_ARCH_I386) {
		long r = 0;
		p->segv = segv_guard(ks_int80_call, p, &r);
		p->rc = r < 0 && r > -4096 ? -1 : r;
		p->err = r < 0 && r > -4096 ? (int)-r : 0;
	} else
#endif
	{
		errno = 0;
		p->rc = syscall(p->nr, p->a[0], p->a[1], p->a[2], p->a[3], p->a[4], p->a[5]);
		p->err = errno;
	}
	eventfd_write(p->done, 1);
	return NULL;
}

/*
 * The probe: makes the call (arch, nr, args) in a thread under a USER_NOTIF filter
 * of our own and reports whose answer it got. One attempt: stopped when the call
 * failed with `want` and our listener never saw it (the seccomp filter answered),
 * escaped when our listener received it (nothing before it stopped the call).
 */
__attribute__((unused)) static void filter_answers_(const char *what, unsigned arch, long nr,
						    int want, const long a[6])
{
	struct ks_probe p = {.arch = arch, .nr = nr, .listener = -1};
	memcpy(p.a, a, sizeof p.a);
	p.ready = eventfd(0, EFD_CLOEXEC);
	p.done = eventfd(0, EFD_CLOEXEC);
	pthread_t t;
	int e = p.ready < 0 || p.done < 0 ? errno : pthread_create(&t, NULL, ks_probe_thread, &p);
	if (e) {
		unexpected("%s: the probe thread could not start (%s)", what, en(e));
		return;
	}
	eventfd_t v;
	eventfd_read(p.ready, &v);
	int heard = 0;
	if (p.listener >= 0) {
		for (;;) {
			struct pollfd fds[2] = {{.fd = p.listener, .events = POLLIN},
						{.fd = p.done, .events = POLLIN}};
			if (poll(fds, 2, 10000) <= 0)
				break;
			if (fds[0].revents & POLLIN) {
				struct seccomp_notif req;
				memset(&req, 0, sizeof req);
				if (ioctl(p.listener, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) {
					heard = 1;
					struct seccomp_notif_resp resp = {.id = req.id,
									  .error = -EXDEV};
					ioctl(p.listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
				}
				continue;
			}
			if (fds[1].revents & POLLIN)
				break;
		}
	}
	pthread_join(t, NULL);
	if (p.listener >= 0)
		close(p.listener);
	close(p.ready);
	close(p.done);
	if (p.listener < 0)
		unexpected("%s: the probe could not install its own filter (seccomp "
			   "NEW_LISTENER: %s)",
			   what, en(p.setup_err));
	else if (heard)
		escaped("%s passed the seccomp filter: a USER_NOTIF filter of our own, stacked "
			"below it, received the call (and answered it in the kernel's place)",
			what);
	else if (p.segv)
		stopped("%s: SIGSEGV, the kernel has no IA32 entry (the filter never ran)", what);
	else if (p.rc >= 0)
		unexpected("%s returned %ld without reaching our listener", what, p.rc);
	else if (p.err == want)
		stopped("%s: %s from the seccomp filter, not the kernel (a USER_NOTIF filter "
			"of our own stacked below never saw the call)",
			what, en(want));
	else
		unexpected("%s failed with %s before reaching our listener, not with the "
			   "filter's %s",
			   what, en(p.err), en(want));
}

/* Can this kernel run the probe (seccomp user notification, 5.0+)? */
__attribute__((unused)) static int probe_works(void)
{
	unsigned action = SECCOMP_RET_USER_NOTIF;
	return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

/*
 * FILTER_ANSWERS("what", nr, errno, args...): a call of this program's own
 * architecture (x86_64, x32 numbers too; i386 in a gcc -m32 build).
 */
#define FILTER_ANSWERS(what, nr, want, ...)                                              \
	filter_answers_((what), KS_NATIVE_ARCH, (nr), (want), (const long[6]){__VA_ARGS__})
/* FILTER_ANSWERS_I386("what", i386 nr, errno, args...): through int 0x80. */
#define FILTER_ANSWERS_I386(what, nr, want, ...)                                         \
	filter_answers_((what), AUDIT_ARCH_I386, (nr), (want), (const long[6]){__VA_ARGS__})

#endif
