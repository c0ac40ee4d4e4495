/*
 * open_surface: kernel surface that Docker's default profile closes and rustbox's
 * once left open, each call tried for real and then through the probe of
 * kernel_surface.h (FILTER_ANSWERS), which tells the filter's answer from the
 * kernel's: a call that gets past the filter reaches our own USER_NOTIF listener
 * and is reported ESCAPED, never executed. Modes (any number, in order):
 *
 *   memfd_secret  memory the kernel unmaps from its own direct map: memfd_secret,
 *                 ftruncate, mmap, write;
 *   modify_ldt    a 16-bit data segment in the LDT (the espfix and LDT bugs:
 *                 CVE-2014-8133, CVE-2015-5157, CVE-2017-17053), and reading it;
 *   mempolicy     NUMA placement: set_mempolicy(MPOL_BIND), mbind with
 *                 MPOL_MF_MOVE, get_mempolicy, set_mempolicy_home_node,
 *                 migrate_pages and move_pages (the node of a page);
 *   pidfd_memory  process_madvise(MADV_COLD, MADV_PAGEOUT) on a child through a
 *                 pidfd, process_mrelease of it;
 *   cachestat     page-cache residency of host files on the shared /usr (which
 *                 host programs ran lately) and of a file of the box;
 *   inotify       inotify_init, inotify_init1 and a watch on /usr/bin: every open
 *                 of a host binary through the shared read-only /usr, by any box or
 *                 the host, would be reported (a covert channel between boxes);
 *                 a child's open of /usr/bin/env shows it;
 *   sysfs         sysfs(2): the host kernel's file-system types;
 *   personality   personas other than the query and PER_LINUX, low and high bits
 *                 (READ_IMPLIES_EXEC makes every readable mapping executable, seen
 *                 in /proc/self/maps; ADDR_NO_RANDOMIZE, UNAME26, PER_LINUX32);
 *                 the query and PER_LINUX must stay allowed (controls);
 *   netlink       socket(AF_NETLINK, ...) of every family but NETLINK_ROUTE (the
 *                 host's device events through NETLINK_KOBJECT_UEVENT, audit,
 *                 connector, sock_diag, generic, netfilter, xfrm, ...), also with
 *                 high bits in the domain and protocol; NETLINK_ROUTE must stay
 *                 allowed (control);
 *   vm86          (gcc -m32 builds only) vm86old and vm86: virtual-8086 mode, the
 *                 i386 calls for 16-bit code; x86_64 kernels answer ENOSYS too,
 *                 the probe shows the filter answered first.
 *
 * Built with gcc -m32 (the *_m32 cases of the manifest, run with --syscalls=15 so
 * that i386 calls are allowed) every call is an i386 call with glibc's i386
 * number and must get the native build's answer; the attempts with junk in the
 * upper half of a 64-bit register are left out (a 32-bit program has none), and
 * netlink also tries glibc's i386 socket(), which goes through
 * socketcall(SYS_SOCKET): ENOSYS, whatever the family.
 */
#include "kernel_surface.h"
#include <asm/ldt.h>
#include <linux/mempolicy.h>
#include <linux/netlink.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif

/* Calls with junk in the upper half of a 64-bit register: none in a -m32 build. */
#define HIGH_BITS (__SIZEOF_LONG__ == 8)

/*
 * socket(2) itself. glibc's x86_64 socket() is this call; its i386 socket() goes
 * through socketcall(SYS_SOCKET) instead (netlink mode tries that way too).
 */
static int sock(int domain, int type, int proto)
{
	return (int)syscall(SYS_socket, domain, type, proto);
}

/* A descriptor closed at once: the call's result, for MUST_FAIL. */
__attribute__((unused)) static int fd_close(int fd)
{
	if (fd >= 0)
		close(fd);
	return fd;
}
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static void memfd_secret_mode(void)
{
	long fd;
	MUST_FAIL("memfd_secret(0)", fd = syscall(SYS_memfd_secret, 0), ENOSYS);
	if (fd >= 0) {
		char *p = MAP_FAILED;
		if (ftruncate((int)fd, 4096) == 0)
			p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, (int)fd, 0);
		if (p != MAP_FAILED) {
			strcpy(p, "hidden from the kernel");
			printf("  a secret page at %p holds \"%s\"\n", (void *)p, p);
		}
		close((int)fd);
	}
	MUST_FAIL("memfd_secret(O_CLOEXEC)", syscall(SYS_memfd_secret, O_CLOEXEC), ENOSYS);
	FILTER_ANSWERS("memfd_secret probe", SYS_memfd_secret, ENOSYS, 0);
}

static void modify_ldt_mode(void)
{
	kernel_lacks("CONFIG_MODIFY_LDT_SYSCALL", NULL);
	struct user_desc d = {
		.entry_number = 0,
		.base_addr = 0,
		.limit = 0xffff,
		.seg_32bit = 0, /* a 16-bit segment: the espfix path */
		.contents = 0,
		.read_exec_only = 0,
		.limit_in_pages = 0,
		.seg_not_present = 0,
		.useable = 1,
	};
	MUST_FAIL("modify_ldt(1: write a 16-bit data segment)",
		  syscall(SYS_modify_ldt, 1, &d, sizeof d), ENOSYS);
	MUST_FAIL("modify_ldt(0x11: write, new mode)", syscall(SYS_modify_ldt, 0x11, &d, sizeof d),
		  ENOSYS);
	static char buf[8192];
	MUST_FAIL("modify_ldt(0: read the LDT)", syscall(SYS_modify_ldt, 0, buf, sizeof buf),
		  ENOSYS);
	MUST_FAIL("modify_ldt(2: read the default LDT)", syscall(SYS_modify_ldt, 2, buf, sizeof buf),
		  ENOSYS);
	FILTER_ANSWERS("modify_ldt probe", SYS_modify_ldt, ENOSYS, 1, (long)&d, sizeof d);
}

static void mempolicy_mode(void)
{
	kernel_lacks("CONFIG_NUMA", NULL);
	unsigned long node0 = 1;
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		unexpected("mmap of a page failed (%s)", en(errno));
		return;
	}
	p[0] = 1;
	MUST_FAIL("set_mempolicy(MPOL_BIND, node 0)",
		  syscall(SYS_set_mempolicy, MPOL_BIND, &node0, 64), ENOSYS);
	MUST_FAIL("mbind(page, MPOL_BIND, node 0, MPOL_MF_MOVE)",
		  syscall(SYS_mbind, p, 4096, MPOL_BIND, &node0, 64, MPOL_MF_MOVE), ENOSYS);
	int mode = -1;
	MUST_FAIL("get_mempolicy(mode)", syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 0),
		  ENOSYS);
	MUST_FAIL("set_mempolicy_home_node(page, node 0)",
		  syscall(SYS_set_mempolicy_home_node, p, 4096, 0, 0), ENOSYS);
	MUST_FAIL("migrate_pages(self, node 0 to node 0)",
		  syscall(SYS_migrate_pages, 0, 64, &node0, &node0), ENOSYS);
	void *pages[1] = {p};
	int status[1] = {-1};
	long r;
	MUST_FAIL("move_pages(self, the node of a page)",
		  r = syscall(SYS_move_pages, 0, 1, pages, NULL, status, 0), ENOSYS);
	if (r == 0)
		printf("  the page is on node %d\n", status[0]);
	FILTER_ANSWERS("set_mempolicy probe", SYS_set_mempolicy, ENOSYS, MPOL_BIND, (long)&node0,
		       64);
	FILTER_ANSWERS("mbind probe", SYS_mbind, ENOSYS, (long)p, 4096, MPOL_BIND, (long)&node0,
		       64, MPOL_MF_MOVE);
	FILTER_ANSWERS("get_mempolicy probe", SYS_get_mempolicy, ENOSYS, (long)&mode, 0, 0, 0, 0);
	FILTER_ANSWERS("set_mempolicy_home_node probe", SYS_set_mempolicy_home_node, ENOSYS,
		       (long)p, 4096, 0, 0);
	FILTER_ANSWERS("migrate_pages probe", SYS_migrate_pages, ENOSYS, 0, 64, (long)&node0,
		       (long)&node0);
	FILTER_ANSWERS("move_pages probe", SYS_move_pages, ENOSYS, 0, 1, (long)pages, 0,
		       (long)status, 0);
	munmap(p, 4096);
}

static void pidfd_memory_mode(void)
{
	char *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		unexpected("mmap failed (%s)", en(errno));
		return;
	}
	memset(p, 7, 1 << 16);
	pid_t child = fork();
	if (child < 0) {
		unexpected("fork failed (%s)", en(errno));
		return;
	}
	if (child == 0) {
		for (;;)
			pause();
	}
	long pidfd = syscall(SYS_pidfd_open, child, 0);
	if (pidfd < 0) {
		unexpected("pidfd_open(child) failed (%s)", en(errno));
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		return;
	}
	struct iovec iov = {.iov_base = p, .iov_len = 1 << 16};
	MUST_FAIL("process_madvise(child, MADV_COLD)",
		  syscall(SYS_process_madvise, pidfd, &iov, 1, MADV_COLD, 0), ENOSYS);
	MUST_FAIL("process_madvise(child, MADV_PAGEOUT)",
		  syscall(SYS_process_madvise, pidfd, &iov, 1, MADV_PAGEOUT, 0), ENOSYS);
	MUST_FAIL("process_mrelease(live child)", syscall(SYS_process_mrelease, pidfd, 0), ENOSYS);
	FILTER_ANSWERS("process_madvise probe", SYS_process_madvise, ENOSYS, pidfd, (long)&iov, 1,
		       MADV_PAGEOUT, 0);
	FILTER_ANSWERS("process_mrelease probe", SYS_process_mrelease, ENOSYS, pidfd, 0);
	kill(child, SIGKILL);
	MUST_FAIL("process_mrelease(killed child)", syscall(SYS_process_mrelease, pidfd, 0),
		  ENOSYS);
	waitpid(child, NULL, 0);
	close((int)pidfd);
	munmap(p, 1 << 16);
}

struct cs_range {
	unsigned long long off, len;
};
struct cs_stat {
	unsigned long long nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

static void cachestat_mode(void)
{
	const char *files[] = {"/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/gcc",
			       "/usr/bin/python3", "/box/payload"};
	int last = -1;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		int fd = open(files[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			printf("  %s: %s (not tried)\n", files[i], en(errno));
			continue;
		}
		struct cs_range range = {0, 0}; /* 0: to the end */
		struct cs_stat cs = {0};
		char what[128];
		snprintf(what, sizeof what, "cachestat(%s)", files[i]);
		long r;
		MUST_FAIL(what, r = syscall(SYS_cachestat, fd, &range, &cs, 0), ENOSYS);
		if (r == 0)
			printf("  %llu pages of %s are in the page cache\n", cs.nr_cache, files[i]);
		if (last >= 0)
			close(last);
		last = fd;
	}
	if (last < 0) {
		unexpected("no file to ask cachestat about");
		return;
	}
	struct cs_range range = {0, 0};
	struct cs_stat cs;
	FILTER_ANSWERS("cachestat probe", SYS_cachestat, ENOSYS, last, (long)&range, (long)&cs, 0);
	close(last);
}

static void inotify_mode(void)
{
	kernel_lacks("CONFIG_INOTIFY_USER", NULL);
	long fd, fd0, w;
	MUST_FAIL("inotify_init()", fd0 = syscall(SYS_inotify_init), ENOSYS);
	if (fd0 >= 0)
		close((int)fd0);
	MUST_FAIL("inotify_init1(IN_NONBLOCK)",
		  fd = syscall(SYS_inotify_init1, IN_NONBLOCK | IN_CLOEXEC), ENOSYS);
	/* With no descriptor, the watch is still tried: the filter must answer first. */
	MUST_FAIL("inotify_add_watch(/usr/bin, IN_OPEN | IN_ACCESS)",
		  w = syscall(SYS_inotify_add_watch, fd, "/usr/bin", IN_OPEN | IN_ACCESS), ENOSYS);
	if (w >= 0) {
		pid_t c = fork();
		if (c == 0) {
			int f = open("/usr/bin/env", O_RDONLY);
			_exit(f < 0);
		}
		if (c > 0)
			waitpid(c, NULL, 0);
		char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		ssize_t n = read((int)fd, buf, sizeof buf);
		if (n > 0) {
			const struct inotify_event *ev = (const void *)buf;
			printf("  the watch saw an open of /usr/bin/%s by another process\n",
			       ev->len ? ev->name : "?");
		}
	}
	if (fd >= 0)
		close((int)fd);
	FILTER_ANSWERS("inotify_init probe", SYS_inotify_init, ENOSYS, 0);
	FILTER_ANSWERS("inotify_init1 probe", SYS_inotify_init1, ENOSYS, IN_CLOEXEC);
	FILTER_ANSWERS("inotify_add_watch probe", SYS_inotify_add_watch, ENOSYS, -1,
		       (long)"/usr/bin", IN_OPEN);
}

static void sysfs_mode(void)
{
	kernel_lacks("CONFIG_SYSFS_SYSCALL", "__x64_sys_sysfs");
	long n;
	MUST_FAIL("sysfs(3): how many file-system types", n = syscall(SYS_sysfs, 3), ENOSYS);
	char name[256] = "";
	long r;
	MUST_FAIL("sysfs(2, 0): the name of the first type", r = syscall(SYS_sysfs, 2, 0, name),
		  ENOSYS);
	if (r == 0)
		printf("  the host kernel has %ld file-system types, the first is %s\n", n, name);
	MUST_FAIL("sysfs(1, \"ext4\"): its index", syscall(SYS_sysfs, 1, "ext4"), ENOSYS);
	FILTER_ANSWERS("sysfs probe", SYS_sysfs, ENOSYS, 3);
}

/* The permissions of the mapping holding `p`, from /proc/self/maps. */
static void perms_of(const void *p, char out[5])
{
	strcpy(out, "????");
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perm[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) == 3 && (unsigned long)p >= lo &&
		    (unsigned long)p < hi) {
			strcpy(out, perm);
			break;
		}
	}
	if (f)
		fclose(f);
}

/* An attempt to set a persona: must fail with EPERM; if it took, says so and
 * goes back to PER_LINUX so that each attempt starts from the same state. */
static void try_persona(unsigned long v, const char *name)
{
	char what[128];
	snprintf(what, sizeof what, "personality(%s)", name);
	MUST_FAIL(what, syscall(SYS_personality, v), EPERM);
	long now = syscall(SYS_personality, 0xffffffffUL);
	if (now != 0) {
		printf("  the persona is now %#lx\n", now);
		syscall(SYS_personality, (unsigned long)PER_LINUX);
	}
}

static void personality_mode(void)
{
	/* READ_IMPLIES_EXEC, and what it gives: a mapping asked read-only is executable. */
	MUST_FAIL("personality(READ_IMPLIES_EXEC)", syscall(SYS_personality, READ_IMPLIES_EXEC),
		  EPERM);
	char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char perm[5];
	perms_of(p, perm);
	if (p == MAP_FAILED)
		unexpected("mmap(PROT_READ) failed (%s)", en(errno));
	else if (perm[2] == 'x')
		escaped("mmap(PROT_READ) is %s in /proc/self/maps: readable memory is executable",
			perm);
	else
		stopped("mmap(PROT_READ) is %s in /proc/self/maps: not executable", perm);
	long now = syscall(SYS_personality, 0xffffffffUL);
	if (now == 0)
		stopped("personality is still PER_LINUX (0)");
	else
		escaped("personality is now %#lx", now);
	syscall(SYS_personality, (unsigned long)PER_LINUX);
	try_persona(ADDR_NO_RANDOMIZE, "ADDR_NO_RANDOMIZE");
	try_persona(UNAME26, "UNAME26");
	try_persona(PER_LINUX32, "PER_LINUX32");
	try_persona(PER_SVR4, "PER_SVR4");
	try_persona(0xfffffffeUL, "0xfffffffe");
#if HIGH_BITS
	try_persona(READ_IMPLIES_EXEC | 1UL << 32, "0x100000000 | READ_IMPLIES_EXEC");
	try_persona(ADDR_NO_RANDOMIZE | 0xffffffff00000000UL,
		    "0xffffffff00000000 | ADDR_NO_RANDOMIZE");
#endif
	/* Controls: the query and PER_LINUX, as libc and runtimes use them. */
	long q = syscall(SYS_personality, 0xffffffffUL);
	long l = syscall(SYS_personality, (unsigned long)PER_LINUX);
#if HIGH_BITS
	long h = syscall(SYS_personality, 1UL << 32); /* the kernel reads PER_LINUX */
	const char *also = ", (1 << 32)";
#else
	long h = 0;
	const char *also = "";
#endif
	if (q < 0 || l < 0 || h < 0)
		unexpected("control: personality(0xffffffff) %ld, (PER_LINUX) %ld%s %ld: %s", q,
			   l, also, h, en(errno));
	else
		printf("control: personality(0xffffffff), (PER_LINUX)%s: allowed\n", also);
	FILTER_ANSWERS("personality(READ_IMPLIES_EXEC) probe", SYS_personality, EPERM,
		       READ_IMPLIES_EXEC);
	FILTER_ANSWERS("personality(ADDR_NO_RANDOMIZE) probe", SYS_personality, EPERM,
		       ADDR_NO_RANDOMIZE);
}

static void netlink_mode(void)
{
	const struct {
		int proto;
		const char *name;
	} fams[] = {
		{NETLINK_KOBJECT_UEVENT, "NETLINK_KOBJECT_UEVENT"},
		{NETLINK_AUDIT, "NETLINK_AUDIT"},
		{NETLINK_CONNECTOR, "NETLINK_CONNECTOR"},
		{NETLINK_SOCK_DIAG, "NETLINK_SOCK_DIAG"},
		{NETLINK_GENERIC, "NETLINK_GENERIC"},
		{NETLINK_NETFILTER, "NETLINK_NETFILTER"},
		{NETLINK_XFRM, "NETLINK_XFRM"},
		{NETLINK_SELINUX, "NETLINK_SELINUX"},
		{NETLINK_FIB_LOOKUP, "NETLINK_FIB_LOOKUP"},
		{NETLINK_ISCSI, "NETLINK_ISCSI"},
		{NETLINK_CRYPTO, "NETLINK_CRYPTO"},
		{NETLINK_RDMA, "NETLINK_RDMA"},
		{NETLINK_USERSOCK, "NETLINK_USERSOCK"},
		{31, "protocol 31"},
	};
	for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
		char what[128];
		snprintf(what, sizeof what, "socket(AF_NETLINK, SOCK_RAW, %s)", fams[i].name);
		int fd;
		MUST_FAIL(what, fd = sock(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, fams[i].proto),
			  EPROTONOSUPPORT);
		if (fd >= 0 && fams[i].proto == NETLINK_KOBJECT_UEVENT) {
			struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1};
			if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
				printf("  bound to the kernel's uevent group: the host's device "
				       "events arrive here\n");
		}
		if (fd >= 0)
			close(fd);
	}
	int dg;
	MUST_FAIL("socket(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT)",
		  dg = sock(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT),
		  EPROTONOSUPPORT);
	if (dg >= 0)
		close(dg);
#if HIGH_BITS
	long hi;
	MUST_FAIL("socket(0x100000000 | AF_NETLINK, SOCK_RAW, 0x100000000 | "
		  "NETLINK_KOBJECT_UEVENT)",
		  hi = syscall(SYS_socket, AF_NETLINK | 1L << 32, SOCK_RAW | SOCK_CLOEXEC,
			       NETLINK_KOBJECT_UEVENT | 1L << 32),
		  EPROTONOSUPPORT);
	if (hi >= 0)
		close((int)hi);
	MUST_FAIL("socket(AF_NETLINK, SOCK_RAW, 0xffffffff00000000 | NETLINK_AUDIT)",
		  hi = syscall(SYS_socket, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
			       NETLINK_AUDIT | 0xffffffff00000000L),
		  EPROTONOSUPPORT);
	if (hi >= 0)
		close((int)hi);
#endif
	/* Control: NETLINK_ROUTE (getaddrinfo, interface lists) stays. */
	int r = sock(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (r < 0)
		unexpected("control: socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) failed (%s)",
			   en(errno));
	else
		printf("control: socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE): allowed\n");
	if (r >= 0)
		close(r);
	FILTER_ANSWERS("socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT) probe", SYS_socket,
		       EPROTONOSUPPORT, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	FILTER_ANSWERS("socket(AF_NETLINK, NETLINK_SOCK_DIAG) probe", SYS_socket, EPROTONOSUPPORT,
		       AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
#ifdef __i386__
	/*
	 * socketcall(SYS_SOCKET): socket(2) with its arguments in memory, where the
	 * filter cannot see the family. ENOSYS for every family, NETLINK_ROUTE too:
	 * glibc's socket() takes this way on i386.
	 */
	MUST_FAIL("socket(AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT) through socketcall",
		  fd_close(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT)),
		  ENOSYS);
	MUST_FAIL("socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) through socketcall",
		  fd_close(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)), ENOSYS);
	static unsigned long uevent[3] = {AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
					  NETLINK_KOBJECT_UEVENT};
	FILTER_ANSWERS("socketcall(SYS_SOCKET, AF_NETLINK, NETLINK_KOBJECT_UEVENT) probe",
		       SYS_socketcall, ENOSYS, 1 /* SYS_SOCKET */, (long)uevent);
#endif
}

#ifdef __i386__
static void vm86_mode(void)
{
	static char regs[512]; /* struct vm86_struct, vm86plus_struct: never read */
	MUST_FAIL("vm86old(regs)", syscall(SYS_vm86old, regs), ENOSYS);
	MUST_FAIL("vm86(VM86_ENTER, regs)", syscall(SYS_vm86, 1 /* VM86_ENTER */, regs), ENOSYS);
	FILTER_ANSWERS("vm86old probe", SYS_vm86old, ENOSYS, (long)regs);
	FILTER_ANSWERS("vm86 probe", SYS_vm86, ENOSYS, 1, (long)regs);
}
#endif

static const struct {
	const char *name;
	void (*fn)(void);
} modes[] = {
	{"memfd_secret", memfd_secret_mode}, {"modify_ldt", modify_ldt_mode},
	{"mempolicy", mempolicy_mode},	     {"pidfd_memory", pidfd_memory_mode},
	{"cachestat", cachestat_mode},	     {"inotify", inotify_mode},
	{"sysfs", sysfs_mode},		     {"personality", personality_mode},
	{"netlink", netlink_mode},
#ifdef __i386__
	{"vm86", vm86_mode},
#define I386_MODES " vm86"
#else
#define I386_MODES ""
#endif
};

int main(int argc, char **argv)
{
	if (argc < 2)
		goto usage;
	for (int a = 1; a < argc; a++) {
		size_t i = 0;
		while (i < sizeof modes / sizeof modes[0] && strcmp(argv[a], modes[i].name) != 0)
			i++;
		if (i == sizeof modes / sizeof modes[0])
			goto usage;
	}
	seccomp_is(2);
	for (int a = 1; a < argc; a++) {
		for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
			if (strcmp(argv[a], modes[i].name) == 0) {
				printf("== %s\n", argv[a]);
				modes[i].fn();
			}
		}
	}
	return finish("open_surface");
usage:
	printf("usage: open_surface MODE...: memfd_secret modify_ldt mempolicy pidfd_memory "
	       "cachestat inotify sysfs personality netlink" I386_MODES "\n");
	return 2;
}
