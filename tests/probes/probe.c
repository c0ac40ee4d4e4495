/*
 * probe: run inside a rustbox box by tests/integration.rs.
 *
 * `probe facts` prints what the program can observe about its sandbox as
 * key=value lines (a key may repeat, e.g. env=...). The other modes are small
 * behaviours the verdict tests need (exit codes, signals, CPU burners, forks,
 * file writes, bombs for the cgroup suite). Every failure is printed as an errno name, never hidden.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/in6.h>
#include <arpa/inet.h>
#include <sched.h>
#include <sys/un.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/sysinfo.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "EUNKNOWN";
}

static void kv(const char *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kv(const char *k, const char *fmt, ...)
{
	va_list ap;
	printf("%s=", k);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void ids(void)
{
	uid_t r, e, s;
	gid_t gr, ge, gs;
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	kv("ruid", "%u", r);
	kv("euid", "%u", e);
	kv("suid", "%u", s);
	kv("rgid", "%u", gr);
	kv("egid", "%u", ge);
	kv("sgid", "%u", gs);
	gid_t groups[64];
	int n = getgroups(64, groups);
	kv("ngroups", "%d", n);
	for (int i = 0; i < n; i++)
		kv("group", "%u", groups[i]);
}

/* Lines of /proc/self/status we care about, as status.<Key>=<value>. */
static void status_lines(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f) {
		kv("status_open", "%s", ename(errno));
		return;
	}
	char line[512];
	const char *want[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
			      "NoNewPrivs", "Seccomp", "SigBlk", "SigIgn"};
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
			if (strcmp(line, want[i]) == 0) {
				char *v = colon + 1;
				while (*v == ' ' || *v == '\t')
					v++;
				v[strcspn(v, "\n")] = 0;
				printf("status.%s=%s\n", line, v);
			}
		}
	}
	fclose(f);
}

static void exists(const char *p)
{
	struct stat st;
	int rc = lstat(p, &st);
	printf("exists.%s=%s\n", p, rc == 0 ? "1" : ename(errno));
}

static void try_mkdir(const char *key, const char *p)
{
	int rc = mkdir(p, 0755);
	kv(key, "%s", rc == 0 ? "ok" : ename(errno));
	if (rc == 0)
		rmdir(p);
}

static void try_write(const char *key, const char *p)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		kv(key, "%s", ename(errno));
		return;
	}
	ssize_t n = write(fd, "x\n", 2);
	kv(key, "%s", n == 2 ? "ok" : ename(errno));
	close(fd);
	unlink(p);
}

static void mount_flags(const char *key, const char *p)
{
	struct statvfs sv;
	if (statvfs(p, &sv) < 0) {
		printf("%s=%s\n", key, ename(errno));
		return;
	}
	printf("%s=%s%s%s\n", key, (sv.f_flag & ST_RDONLY) ? "ro" : "rw",
	       (sv.f_flag & ST_NOSUID) ? ",nosuid" : "", (sv.f_flag & ST_NOEXEC) ? ",noexec" : "");
}

static void net(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0) {
		kv("lo_up", "%s", ename(errno));
	} else {
		struct ifreq ifr;
		memset(&ifr, 0, sizeof ifr);
		strcpy(ifr.ifr_name, "lo");
		if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
			kv("lo_up", "%s", ename(errno));
		else
			kv("lo_up", "%d", (ifr.ifr_flags & IFF_UP) ? 1 : 0);
		close(s);
	}
	FILE *f = fopen("/proc/self/net/dev", "r");
	if (!f) {
		kv("netdev_open", "%s", ename(errno));
		return;
	}
	char line[512];
	int n = 0;
	while (fgets(line, sizeof line, f)) {
		if (++n <= 2)
			continue; /* two header lines */
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		char *name = line;
		while (*name == ' ')
			name++;
		kv("iface", "%s", name);
	}
	fclose(f);
}

static void fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		kv("fd_list", "%s", ename(errno));
		return;
	}
	int self = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd == self)
			continue;
		kv("fd", "%d", fd);
	}
	closedir(d);
}

static void lim(const char *name, int res)
{
	struct rlimit r;
	if (getrlimit(res, &r) < 0) {
		printf("rlimit.%s=%s\n", name, ename(errno));
		return;
	}
	char soft[32], hard[32];
	if (r.rlim_cur == RLIM_INFINITY)
		strcpy(soft, "unlimited");
	else
		snprintf(soft, sizeof soft, "%llu", (unsigned long long)r.rlim_cur);
	if (r.rlim_max == RLIM_INFINITY)
		strcpy(hard, "unlimited");
	else
		snprintf(hard, sizeof hard, "%llu", (unsigned long long)r.rlim_max);
	printf("rlimit.%s=%s/%s\n", name, soft, hard);
}

/* The namespaces the probe is in, as the targets of its /proc/self/ns links. */
static void namespaces(void)
{
	const char *ns[] = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"};
	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		char p[64], t[128];
		snprintf(p, sizeof p, "/proc/self/ns/%s", ns[i]);
		ssize_t n = readlink(p, t, sizeof t - 1);
		if (n < 0) {
			printf("ns.%s=%s\n", ns[i], ename(errno));
			continue;
		}
		t[n] = 0;
		printf("ns.%s=%s\n", ns[i], t);
	}
}

/* The mount table without what changes from one run to the next (mount ids,
 * device numbers, peer groups): root, mount point, options, type, source and
 * super options of each mount, in order. */
static void mounts(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (!f) {
		kv("mountinfo", "%s", ename(errno));
		return;
	}
	char line[4096];
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char *field[32];
		int n = 0;
		for (char *tok = strtok(line, " "); tok && n < 32; tok = strtok(NULL, " "))
			field[n++] = tok;
		int dash = -1;
		for (int i = 6; i < n; i++)
			if (!strcmp(field[i], "-")) {
				dash = i;
				break;
			}
		if (n < 6 || dash < 0 || dash + 3 >= n + 1) {
			kv("mount", "unparsed");
			continue;
		}
		printf("mount=%s %s %s %s %s %s\n", field[3], field[4], field[5],
		       dash + 1 < n ? field[dash + 1] : "?", dash + 2 < n ? field[dash + 2] : "?",
		       dash + 3 < n ? field[dash + 3] : "?");
	}
	fclose(f);
}

/* Last step of `facts`: exec a script written to /tmp. On a noexec /tmp this
 * fails with EACCES; if it ever succeeds, the script reports that itself. */
static void tmp_exec(void)
{
	const char *p = "/tmp/probe-exec.sh";
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (fd < 0) {
		kv("tmp_exec", "create:%s", ename(errno));
		return;
	}
	const char *script = "#!/bin/sh\necho tmp_exec=executed\n";
	if (write(fd, script, strlen(script)) < 0)
		kv("tmp_exec", "write:%s", ename(errno));
	close(fd);
	chmod(p, 0755);
	fflush(stdout);
	char *argv[] = {(char *)p, NULL};
	execve(p, argv, environ);
	kv("tmp_exec", "%s", ename(errno));
	unlink(p);
}

/* The box's clocks: uptime (sysinfo), CLOCK_BOOTTIME, CLOCK_MONOTONIC and
 * CLOCK_REALTIME, in whole seconds. */
static void clocks(void)
{
	struct sysinfo si;
	if (sysinfo(&si) == 0)
		kv("clock.uptime", "%ld", (long)si.uptime);
	else
		kv("clock.uptime", "%s", ename(errno));
	static const struct {
		const char *name;
		clockid_t id;
	} c[] = {{"clock.boottime", CLOCK_BOOTTIME},
		 {"clock.monotonic", CLOCK_MONOTONIC},
		 {"clock.realtime", CLOCK_REALTIME}};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		struct timespec ts;
		if (clock_gettime(c[i].id, &ts) == 0)
			kv(c[i].name, "%lld", (long long)ts.tv_sec);
		else
			kv(c[i].name, "%s", ename(errno));
	}
}

/* SysV IPC in the box's namespace: how many message queues msgget gives
 * (up to 1000), whether a 64 MiB and a 16 MiB segment can be made (the 16 MiB one
 * attached and written), and a semaphore set. */
static void sysv(void)
{
	int n = 0, err = 0;
	for (; n < 1000; n++) {
		if (msgget(IPC_PRIVATE, IPC_CREAT | 0600) < 0) {
			err = errno;
			break;
		}
	}
	kv("sysv.msgqueues", "%d", n);
	kv("sysv.msgget_error", "%s", err ? ename(err) : "none");
	int big = shmget(IPC_PRIVATE, 64 << 20, IPC_CREAT | 0600);
	kv("sysv.shm64", "%s", big < 0 ? ename(errno) : "ok");
	int id = shmget(IPC_PRIVATE, 16 << 20, IPC_CREAT | 0600);
	if (id < 0) {
		kv("sysv.shm16", "%s", ename(errno));
	} else {
		char *p = shmat(id, NULL, 0);
		if (p == (void *)-1) {
			kv("sysv.shm16", "shmat %s", ename(errno));
		} else {
			memset(p, 1, 16 << 20);
			shmdt(p);
			kv("sysv.shm16", "ok");
		}
		shmctl(id, IPC_RMID, NULL);
	}
	int sem = semget(IPC_PRIVATE, 10, IPC_CREAT | 0600);
	kv("sysv.sem", "%s", sem < 0 ? ename(errno) : "ok");
}

static int facts(void)
{
	ids();
	status_lines();
	const char *hidden[] = {"/etc/passwd", "/etc", "/root", "/home", "/var", "/sys", "/boot"};
	for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++)
		exists(hidden[i]);
	try_mkdir("mkdir_root", "/x");
	try_mkdir("mkdir_usr", "/usr/rbx-probe");
	try_write("write_usr", "/usr/rbx-probe-file");
	try_write("write_box", "/box/probe-write-test");
	try_write("write_tmp", "/tmp/probe-write-test");
	mount_flags("mnt./", "/");
	mount_flags("mnt./usr", "/usr");
	mount_flags("mnt./box", "/box");
	mount_flags("mnt./tmp", "/tmp");
	net();
	namespaces();
	mounts();
	kv("pid", "%d", (int)getpid());
	kv("ppid", "%d", (int)getppid());
	kv("pgrp", "%d", (int)getpgrp());
	char host[256] = {0};
	gethostname(host, sizeof host - 1);
	kv("hostname", "%s", host);
	fds();
	lim("AS", RLIMIT_AS);
	lim("STACK", RLIMIT_STACK);
	lim("FSIZE", RLIMIT_FSIZE);
	lim("NOFILE", RLIMIT_NOFILE);
	lim("NPROC", RLIMIT_NPROC);
	lim("CORE", RLIMIT_CORE);
	lim("CPU", RLIMIT_CPU);
	for (char **e = environ; *e; e++)
		kv("env", "%s", *e);
	char cwd[4096];
	kv("cwd", "%s", getcwd(cwd, sizeof cwd) ? cwd : ename(errno));
	tmp_exec();
	clocks();
	return 0;
}

/* The terminal on stdin as the program sees it: its process group, the
 * terminal's foreground group (both in the box's pid namespace, 0 for a group
 * outside it) and whether they are the same. */
static void tty_facts(void)
{
	pid_t pg = getpgrp();
	pid_t fg = tcgetpgrp(0);
	kv("pgrp", "%d", (int)pg);
	if (fg < 0)
		kv("tcgetpgrp", "%s", ename(errno));
	else
		kv("tcgetpgrp", "%d", (int)fg);
	kv("foreground", "%d", pg > 0 && fg == pg);
	fflush(stdout);
}

/* What an interactive program does: echo off (tcsetattr, read back), say it is
 * ready, read a line typed at the terminal. */
static int tty_read(void)
{
	tty_facts();
	struct termios t;
	if (tcgetattr(0, &t) < 0) {
		kv("tcgetattr", "%s", ename(errno));
		return 3;
	}
	t.c_lflag &= ~(tcflag_t)ECHO;
	kv("tcsetattr", "%s", tcsetattr(0, TCSANOW, &t) < 0 ? ename(errno) : "ok");
	struct termios back;
	if (tcgetattr(0, &back) == 0)
		kv("echo", "%d", (back.c_lflag & ECHO) != 0);
	kv("ready", "1");
	fflush(stdout);
	char line[256];
	if (!fgets(line, sizeof line, stdin)) {
		kv("line", "%s", ferror(stdin) ? ename(errno) : "EOF");
		return 4;
	}
	line[strcspn(line, "\r\n")] = 0;
	kv("line", "%s", line);
	return 0;
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void spin_forever(void)
{
	volatile unsigned long x = 0;
	for (;;)
		x++;
}

static void write_marker(const char *p)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, "ran\n", 4) < 0)
			perror("write marker");
		close(fd);
	}
}

static void *spin_thread(void *arg)
{
	(void)arg;
	spin_forever();
	return NULL;
}

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* Write 64 KiB chunks to `p` until `total` bytes or an error; prints what stopped it. */
static int fill(const char *p, long long total)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		kv("open", "%s", ename(errno));
		return 3;
	}
	static char buf[65536];
	memset(buf, 'f', sizeof buf);
	long long done = 0;
	while (done < total) {
		ssize_t n = write(fd, buf, sizeof buf);
		if (n < 0) {
			kv("write", "%s", ename(errno));
			break;
		}
		done += n;
	}
	kv("written", "%lld", done);
	close(fd);
	return 0;
}

/* A string as lowercase hex, byte for byte (empty string: empty value). */
static void kv_hex(const char *k, const char *s)
{
	printf("%s=", k);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		printf("%02x", *c);
	putchar('\n');
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A relay of spinners: each spins for `slice` s of its own CPU time, forks its
 * successor and exits, so no process ever holds much CPU time (a per-process
 * RLIMIT_CPU never fires) while the box as a whole uses a CPU all along. The
 * relay stops by itself `stop` s after it started. */
static void relay(double slice, double stop)
{
	double start = mono_now();
	for (;;) {
		double until = cpu_now() + slice;
		volatile unsigned long x = 0;
		while (cpu_now() < until)
			for (int i = 0; i < 10000; i++)
				x++;
		if (mono_now() - start > stop)
			_exit(0);
		pid_t p = fork();
		if (p > 0)
			_exit(0);
		/* p < 0: no successor yet (the old one is not reaped); spin on. */
	}
}

/* A TCP socket on 127.0.0.1:port (SO_REUSEADDR if asked); -1 and errno on failure. */
static int tcp_on(int port, int reuse, int do_listen)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || (do_listen && listen(s, 4) < 0)) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

static const struct sockaddr_un LEFT_NAME = {.sun_family = AF_UNIX, .sun_path = "\0rustbox-probe-left"};
#define LEFT_LEN (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen("rustbox-probe-left"))

/* What a run can leave in the network for the next run of the box: the port's
 * TIME_WAIT (the server side closes first), and a unix socket bound to an
 * abstract name that only its own descriptor, in flight to itself, keeps alive. */
static int net_leave(int port)
{
	int l = tcp_on(port, 1, 1);
	kv("listen", "%s", l >= 0 ? "ok" : ename(errno));
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	kv("connect", "%s", connect(c, (struct sockaddr *)&a, sizeof a) == 0 ? "ok" : ename(errno));
	int s = accept(l, NULL, NULL);
	kv("accept", "%s", s >= 0 ? "ok" : ename(errno));
	close(s);
	usleep(20000);
	close(c);
	close(l);
	int u = socket(AF_UNIX, SOCK_DGRAM, 0);
	kv("abstract_bind", "%s", bind(u, (const struct sockaddr *)&LEFT_NAME, LEFT_LEN) == 0 ? "ok" : ename(errno));
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	char byte = 'x';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr m = {.msg_name = (void *)&LEFT_NAME, .msg_namelen = LEFT_LEN, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &u, sizeof(int));
	kv("abstract_self_send", "%s", sendmsg(u, &m, 0) == 1 ? "ok" : ename(errno));
	/* An IPv6 flow label: no packet, no counter, and it lingers after close. */
	int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	struct in6_flowlabel_req fl = {.flr_dst = IN6ADDR_LOOPBACK_INIT, .flr_label = htonl(0x12345), .flr_action = IPV6_FL_A_GET,
				       .flr_flags = IPV6_FL_F_CREATE, .flr_share = IPV6_FL_S_EXCL, .flr_linger = 60, .flr_expires = 60};
	kv("flowlabel", "%s", setsockopt(s6, IPPROTO_IPV6, IPV6_FLOWLABEL_MGR, &fl, sizeof fl) == 0 ? "ok" : ename(errno));
	close(s6);
	return 0;
}

/* What a run tells the next through the network's counters: `n` datagrams to a
 * closed port on lo (packets on lo, UDP and ICMP counts) and `n` sends to an
 * address with no route (the IP counter OutNoRoutes, with no packet at all). */
static int net_send(int n, int routed)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in lo = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in far = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(0x08080808)};
	int sent = 0, unrouted = 0;
	for (int i = 0; i < n; i++) {
		if (routed && sendto(u, "x", 1, 0, (struct sockaddr *)&lo, sizeof lo) == 1)
			sent++;
		if (sendto(u, "x", 1, 0, (struct sockaddr *)&far, sizeof far) < 0 && errno == ENETUNREACH)
			unrouted++;
	}
	kv("sent", "%d", sent);
	kv("unrouted", "%d", unrouted);
	return 0;
}

/* What the kernel keeps in a network namespace after the process is gone, with no
 * socket left (found by review): an IPv6 multicast group joined on lo, whose
 * reports go out up to a second after the exit, and the per-CPU route cache a
 * UDP connect to ::1 fills without sending a packet. */
static int mcast_join(void)
{
	int s = socket(AF_INET6, SOCK_DGRAM, 0);
	struct ipv6_mreq m = {.ipv6mr_interface = if_nametoindex("lo")};
	inet_pton(AF_INET6, "ff02::1:3", &m.ipv6mr_multiaddr);
	kv("join", "%s", setsockopt(s, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m) == 0 ? "ok" : ename(errno));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int connected = 0;
	for (long c = 0; c < ncpu && c < 64; c++) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(c, &set);
		if (sched_setaffinity(0, sizeof set, &set) < 0)
			continue;
		int u = socket(AF_INET6, SOCK_DGRAM, 0);
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(9), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
		if (connect(u, (struct sockaddr *)&a, sizeof a) == 0)
			connected++;
		close(u);
	}
	kv("connected", "%d", connected);
	return 0;
}

static long long snmp6(const char *key)
{
	FILE *f = fopen("/proc/self/net/snmp6", "r");
	char k[128];
	long long v, found = -1;
	while (f && fscanf(f, "%127s %lld", k, &v) == 2)
		if (!strcmp(k, key))
			found = v;
	if (f)
		fclose(f);
	return found;
}

static void rt6_stats(const char *key)
{
	char line[256] = "";
	FILE *f = fopen("/proc/self/net/rt6_stats", "r");
	if (!f || !fgets(line, sizeof line, f))
		snprintf(line, sizeof line, "%s", ename(errno));
	if (f)
		fclose(f);
	line[strcspn(line, "\n")] = 0;
	kv(key, "%s", line);
}

static int net6_look(void)
{
	kv("mld_reports_start", "%lld", snmp6("Icmp6OutMLDv2Reports"));
	rt6_stats("rt6_stats");
	usleep(1500000);
	kv("mld_reports_end", "%lld", snmp6("Icmp6OutMLDv2Reports"));
	return 0;
}

/* Packets received on lo (/proc/net/dev) and IP OutNoRoutes (/proc/net/snmp). */
static void net_counters(void)
{
	char line[512];
	long long rx = -1, noroutes = -1;
	FILE *f = fopen("/proc/self/net/dev", "r");
	while (f && fgets(line, sizeof line, f)) {
		char *p = strstr(line, "lo:");
		if (p)
			sscanf(p + 3, "%*s %lld", &rx);
	}
	if (f)
		fclose(f);
	f = fopen("/proc/self/net/snmp", "r");
	int seen = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (strncmp(line, "Ip: ", 4) || !seen++)
			continue; /* the first Ip: line names the columns */
		char *tok = strtok(line + 4, " ");
		for (int i = 0; tok && i < 11; i++)
			tok = strtok(NULL, " ");
		if (tok)
			noroutes = atoll(tok); /* the 12th: OutNoRoutes */
	}
	if (f)
		fclose(f);
	kv("lo_rx_packets", "%lld", rx);
	kv("ip_out_no_routes", "%lld", noroutes);
}

/* What Landlock leaves the program (chain/landlock.rs): every mount's own rights,
 * nothing beneath no rule (the root tmpfs itself). */
static const char *opened(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);
	if (fd < 0)
		return ename(errno);
	close(fd);
	return "ok";
}

static int landlock_facts(void)
{
	kv("ll.list_root", "%s", opened("/", O_RDONLY | O_DIRECTORY));
	kv("ll.list_usr", "%s", opened("/usr", O_RDONLY | O_DIRECTORY));
	kv("ll.read_usr", "%s", opened("/usr/bin/env", O_RDONLY));
	kv("ll.make_box", "%s", opened("/box/ll-made", O_WRONLY | O_CREAT | O_TRUNC));
	kv("ll.make_tmp", "%s", opened("/tmp/ll-made", O_WRONLY | O_CREAT | O_TRUNC));
	kv("ll.make_shm", "%s", opened("/dev/shm/ll-made", O_WRONLY | O_CREAT | O_TRUNC));
	kv("ll.devnull_trunc", "%s", opened("/dev/null", O_WRONLY | O_TRUNC));
	kv("ll.read_proc", "%s", opened("/proc/self/status", O_RDONLY));
	return 0;
}

/* What the next run sees of it: the port free (no TIME_WAIT), the name unbound. */
static int net_look(int port)
{
	net_counters();
	int s = tcp_on(port, 0, 0);
	kv("bind_port", "%s", s >= 0 ? "ok" : ename(errno));
	int u = socket(AF_UNIX, SOCK_DGRAM, 0);
	kv("abstract_send", "%s", sendto(u, "y", 1, 0, (const struct sockaddr *)&LEFT_NAME, LEFT_LEN) == 1 ? "ok" : ename(errno));
	char link[64] = {0};
	kv("netns", "%s", readlink("/proc/self/ns/net", link, sizeof link - 1) > 0 ? link : ename(errno));
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *mode = argc > 1 ? argv[1] : "facts";
	if (!strcmp(mode, "facts"))
		return facts();
	if (!strcmp(mode, "plant-facts")) {
		/* For the fault sweep: leave a link to a host file (argv[2]) and a FIFO in
		 * /box for the hand-back to deal with, then print the facts. */
		kv("plant.link", "%s", symlink(argc > 2 ? argv[2] : "/etc/shadow", "/box/run-link") == 0 ? "ok" : ename(errno));
		kv("plant.fifo", "%s", mkfifo("/box/run-fifo", 0644) == 0 ? "ok" : ename(errno));
		return facts();
	}
	if (!strcmp(mode, "ids")) {
		/* For the setuid-root copy: who are we, and is our own file setuid? */
		ids();
		struct stat st;
		if (stat(argv[0], &st) == 0)
			kv("self_mode", "%o", st.st_mode & 07777), kv("self_owner", "%u", st.st_uid);
		else
			kv("self_mode", "%s", ename(errno));
		return 0;
	}
	if (!strcmp(mode, "exit"))
		return argc > 2 ? atoi(argv[2]) : 0;
	if (!strcmp(mode, "net-leave"))
		return net_leave(argc > 2 ? atoi(argv[2]) : 5555);
	if (!strcmp(mode, "mcast-join"))
		return mcast_join();
	if (!strcmp(mode, "net6-look"))
		return net6_look();
	if (!strcmp(mode, "landlock"))
		return landlock_facts();
	if (!strcmp(mode, "net-send"))
		return net_send(argc > 2 ? atoi(argv[2]) : 7, !(argc > 3 && !strcmp(argv[3], "unrouted")));
	if (!strcmp(mode, "net-look"))
		return net_look(argc > 2 ? atoi(argv[2]) : 5555);
	if (!strcmp(mode, "segv")) {
		kill(getpid(), SIGSEGV);
		return 0;
	}
	if (!strcmp(mode, "spin"))
		spin_forever();
	if (!strcmp(mode, "spin_ignore_xcpu")) {
		signal(SIGXCPU, SIG_IGN);
		spin_forever();
	}
	if (!strcmp(mode, "spinfork")) {
		/* N workers spin; the parent only waits, so its own CPU time stays ~0. */
		int n = argc > 2 ? atoi(argv[2]) : 3;
		for (int i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0)
				spin_forever();
			if (p < 0)
				kv("fork", "%s", ename(errno));
		}
		while (wait(NULL) > 0)
			;
		return 0;
	}
	if (!strcmp(mode, "autoreap")) {
		/* Spinners of 20 ms each, forked one after another with SIGCHLD
		 * ignored: the kernel reaps them as they exit, so their time is in
		 * no rusage. Ends after N of them. */
		int n = argc > 2 ? atoi(argv[2]) : 100;
		signal(SIGCHLD, SIG_IGN);
		for (int i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0) {
				double until = cpu_now() + 0.02;
				volatile unsigned long x = 0;
				while (cpu_now() < until)
					for (int j = 0; j < 100000; j++)
						x++;
				_exit(0);
			}
			struct timespec nap = {0, 10 * 1000 * 1000};
			nanosleep(&nap, NULL);
		}
		return 0;
	}
	if (!strcmp(mode, "burn")) {
		/* Use this much CPU time, then exit 0. */
		double want = argc > 2 ? atof(argv[2]) : 1.0;
		volatile unsigned long x = 0;
		while (cpu_now() < want)
			for (int i = 0; i < 100000; i++)
				x++;
		return 0;
	}
	if (!strcmp(mode, "fork")) {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		if (p < 0) {
			kv("fork", "%s", ename(errno));
			return 0;
		}
		waitpid(p, NULL, 0);
		kv("fork", "ok");
		return 0;
	}
	if (!strcmp(mode, "fsize")) {
		/* Write argv[3] bytes to argv[2] in 4 KiB chunks. */
		const char *p = argc > 2 ? argv[2] : "/box/big";
		long total = argc > 3 ? atol(argv[3]) : 1 << 20;
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			kv("open", "%s", ename(errno));
			return 3;
		}
		char buf[4096];
		memset(buf, 'a', sizeof buf);
		for (long done = 0; done < total; done += sizeof buf)
			if (write(fd, buf, sizeof buf) < 0) {
				kv("write", "%s", ename(errno));
				return 4;
			}
		return 0;
	}
	if (!strcmp(mode, "io")) {
		/* Copy stdin to stdout with a prefix; one line to stderr. */
		char buf[4096];
		ssize_t n;
		fputs("out:", stdout);
		fflush(stdout);
		while ((n = read(0, buf, sizeof buf)) > 0)
			if (write(1, buf, n) < 0)
				return 5;
		fputs("err-line\n", stderr);
		return 0;
	}
	if (!strcmp(mode, "marker")) {
		write_marker(argc > 2 ? argv[2] : "/box/marker");
		return 0;
	}
	if (!strcmp(mode, "plant")) {
		/* Plant a symlink for the next run: argv[2] -> argv[3]. */
		if (symlink(argv[3], argv[2]) < 0)
			kv("symlink", "%s", ename(errno));
		else
			kv("symlink", "ok");
		return 0;
	}
	if (!strcmp(mode, "sleep")) {
		/* Tell the host we are running, then sleep. */
		write_marker(argc > 3 ? argv[3] : "/box/started");
		sleep(argc > 2 ? atoi(argv[2]) : 5);
		return 0;
	}
	if (!strcmp(mode, "threads")) {
		/* N threads spin (the main thread waits). */
		int n = argc > 2 ? atoi(argv[2]) : 2;
		for (int i = 0; i < n; i++) {
			pthread_t t;
			int e = pthread_create(&t, NULL, spin_thread, NULL);
			if (e)
				kv("thread", "%s", ename(e));
		}
		for (;;)
			pause();
	}
	if (!strcmp(mode, "threadbomb")) {
		/* Create idle threads until the kernel says no; print how many. */
		int n = 0, e = 0;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 65536);
		while (n < 100000) {
			pthread_t t;
			e = pthread_create(&t, &a, idle_thread, NULL);
			if (e)
				break;
			n++;
		}
		kv("threads", "%d", n);
		kv("thread_error", "%s", e ? ename(e) : "none");
		return 0;
	}
	if (!strcmp(mode, "forkbomb")) {
		/* Every process forks as fast as it can, forever; the first to see the
		 * limit says so once. */
		int told = 0;
		for (;;) {
			pid_t p = fork();
			if (p < 0 && !told) {
				kv("fork_error", "%s", ename(errno));
				told = 1;
			}
		}
	}
	if (!strcmp(mode, "clocks")) {
		clocks();
		return 0;
	}
	if (!strcmp(mode, "sysv")) {
		sysv();
		return 0;
	}
	if (!strcmp(mode, "memfd")) {
		/* A memfd file of argv[2] MiB, its pages allocated (fallocate): memory
		 * in no process's address space. */
		long mib = argc > 2 ? atol(argv[2]) : 512;
		int fd = memfd_create("probe", 0);
		if (fd < 0) {
			kv("memfd", "%s", ename(errno));
			return 0;
		}
		kv("memfd", "%s", fallocate(fd, 0, 0, (off_t)mib << 20) == 0 ? "ok" : ename(errno));
		return 0;
	}
	if (!strcmp(mode, "memspin")) {
		/* Touch argv[2] MiB, say so, then spin until killed. */
		long mib = argc > 2 ? atol(argv[2]) : 64;
		char *c = malloc((size_t)mib << 20);
		if (!c) {
			kv("malloc", "%s", ename(errno));
			return 3;
		}
		memset(c, 1, (size_t)mib << 20);
		kv("touched", "%ld", mib);
		spin_forever();
	}
	if (!strcmp(mode, "mem")) {
		/* Allocate and touch argv[2] MiB. */
		long mib = argc > 2 ? atol(argv[2]) : 256;
		for (long i = 0; i < mib; i++) {
			char *c = malloc(1 << 20);
			if (!c) {
				kv("malloc", "ENOMEM after %ld MiB", i);
				return 0;
			}
			memset(c, 1, 1 << 20);
		}
		kv("mem", "ok");
		return 0;
	}
	if (!strcmp(mode, "daemon")) {
		/* Double fork + setsid: a grandchild in its own session, reparented away
		 * from us, sleeps forever; it writes its pid to argv[2] first. */
		pid_t c = fork();
		if (c == 0) {
			setsid();
			if (fork() == 0) {
				signal(SIGHUP, SIG_IGN);
				signal(SIGTERM, SIG_IGN);
				FILE *f = fopen(argc > 2 ? argv[2] : "/box/daemon", "w");
				if (f) {
					fprintf(f, "%d\n", getpid());
					fclose(f);
				}
				for (;;)
					pause();
			}
			_exit(0);
		}
		waitpid(c, NULL, 0);
		/* Give the grandchild time to write its pid. */
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		kv("daemon", "started");
		return 0;
	}
	if (!strcmp(mode, "fill"))
		return fill(argc > 2 ? argv[2] : "/box/fill", argc > 3 ? atoll(argv[3]) : (1LL << 40));
	if (!strcmp(mode, "inodes")) {
		/* Create empty files in directory argv[2] until an error (or argv[3]). */
		const char *d = argc > 2 ? argv[2] : "/box";
		long max = argc > 3 ? atol(argv[3]) : 10000000;
		long n = 0;
		char path[4096];
		for (; n < max; n++) {
			snprintf(path, sizeof path, "%s/i%ld", d, n);
			int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd < 0) {
				kv("create", "%s", ename(errno));
				break;
			}
			close(fd);
		}
		kv("created", "%ld", n);
		return 0;
	}
	if (!strcmp(mode, "hexargs")) {
		/* Every argument, environment entry and the working directory, hex. */
		for (int i = 0; i < argc; i++)
			kv_hex("arg", argv[i]);
		for (char **e = environ; *e; e++)
			kv_hex("env", *e);
		char cwd[4096];
		if (getcwd(cwd, sizeof cwd))
			kv_hex("cwd", cwd);
		else
			kv("cwd", "%s", ename(errno));
		return 0;
	}
	if (!strcmp(mode, "relay")) {
		/* probe relay SLICE STOP: the parent waits (the payload must outlive the
		 * relay, its exit ends the run) while the relay spins; exit 0 at STOP. */
		double slice = argc > 2 ? atof(argv[2]) : 0.02;
		double stop = argc > 3 ? atof(argv[3]) : 8.0;
		double start = mono_now();
		pid_t p = fork();
		if (p == 0)
			relay(slice, stop);
		if (p < 0) {
			kv("fork", "%s", ename(errno));
			return 3;
		}
		while (mono_now() - start < stop + 0.5)
			usleep(10000);
		kv("relay", "finished");
		return 0;
	}
	if (!strcmp(mode, "tty-read"))
		return tty_read();
	if (!strcmp(mode, "tty-background")) {
		/* A read of the terminal by a background group: with SIGTTIN ignored,
		 * EIO instead of a stop. */
		tty_facts();
		signal(SIGTTIN, SIG_IGN);
		char c;
		ssize_t n = read(0, &c, 1);
		kv("read", "%s", n < 0 ? ename(errno) : n == 0 ? "EOF" : "ok");
		return 0;
	}
	if (!strcmp(mode, "tty-ioctls")) {
		/* Push a character into the terminal's input queue; set its line
		 * discipline (to the one it has: the kernel would allow it); read the
		 * line discipline. */
		tty_facts();
		char c = '#';
		kv("tiocsti", "%s", ioctl(0, TIOCSTI, &c) < 0 ? ename(errno) : "ok");
		int ld = N_TTY;
		kv("tiocsetd", "%s", ioctl(0, TIOCSETD, &ld) < 0 ? ename(errno) : "ok");
		ld = -1;
		if (ioctl(0, TIOCGETD, &ld) < 0)
			kv("tiocgetd", "%s", ename(errno));
		else
			kv("tiocgetd", "%d", ld);
		return 0;
	}
	if (!strcmp(mode, "tty-grab")) {
		/* A background job that ignores SIGTTOU takes what it can of the
		 * terminal on its stdout, for after the run: the foreground, its modes
		 * (echo and canonical input off), exclusive use, stopped output. */
		tty_facts();
		signal(SIGTTOU, SIG_IGN);
		kv("tcsetpgrp", "%s", tcsetpgrp(1, getpgrp()) < 0 ? ename(errno) : "ok");
		struct termios t;
		int got = tcgetattr(1, &t);
		t.c_lflag &= ~(ECHO | ICANON);
		kv("tcsetattr", "%s", got < 0 || tcsetattr(1, TCSANOW, &t) < 0 ? ename(errno) : "ok");
		kv("tiocexcl", "%s", ioctl(1, TIOCEXCL) < 0 ? ename(errno) : "ok");
		kv("tcooff", "%s", tcflow(1, TCOOFF) < 0 ? ename(errno) : "ok");
		return 0;
	}
	if (!strcmp(mode, "tty-wait")) {
		/* Hold the terminal, waiting for input that never comes. */
		tty_facts();
		kv("ready", "1");
		fflush(stdout);
		char line[256];
		while (fgets(line, sizeof line, stdin))
			;
		return 0;
	}
	fprintf(stderr, "probe: unknown mode %s\n", mode);
	return 100;
}
