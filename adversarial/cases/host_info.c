/*
 * host_info MODE [ARG...]: learn or change things of the host from the box.
 *
 *   env NAME...  the caller's environment (the runner puts a secret token in
 *                rustbox's): print every variable of environ and of
 *                /proc/self/environ; any name but LIBC_FATAL_STDERR_ and the NAMEs
 *                given (the case's -E variables) is a leak. The runner checks the
 *                token is not printed.
 *   sys          /sys is absent (every path below it ENOENT) and sysfs, cgroup and
 *                cgroup2 cannot be mounted (EPERM); /proc/self/cgroup shows only
 *                the cgroup namespace root "/".
 *   procsys      write the host's kernel settings through /proc/sys (hostname,
 *                drop_caches, core_pattern, modprobe, sysrq, ip_forward): the open for
 *                writing fails with EROFS, EACCES or ENOENT (once /proc is mounted
 *                with subset=pid, /proc/sys is gone); /proc/sysrq-trigger likewise.
 *   hostwide     host-wide /proc files: kcore, kmsg, kpageflags, kpagecount are
 *                unreadable or absent; kallsyms and modules, if present, show no
 *                kernel address (all zero); /proc/keys shows no key of another uid.
 *   keyusers     /proc/key-users lists the key quota of every user of the kernel
 *                with keys (root, other boxes): it must be absent (subset=pid) or
 *                list only our own uid.
 *   pids PID     PID is the host pid of a process of another box's uid (a sleep the
 *                runner started): /proc/PID absent, kill, pidfd_open, getpgid,
 *                getsid, getpriority all ESRCH; kill(-1, SIGKILL) finds nobody
 *                (ESRCH); every process listed in /proc has our uid, and NSpid of
 *                ourselves has one level only.
 *   uptime       how long the host has been up: sysinfo().uptime, CLOCK_BOOTTIME and
 *                CLOCK_MONOTONIC must each read under 60 s (the box's own time
 *                namespace starts them near 0; the host has been up longer when
 *                the suite runs, having built it).
 *   mounts       /proc/self/mountinfo: every mount the box's setup created itself
 *                (tmpfs, proc, mqueue, devpts) has a source that names no path
 *                (no '/') and a root of "/". Binds of host directories keep the
 *                kernel's source (the host's block device) and root (the host
 *                path): printed as "visible:", see docs/host-visibility.md.
 */
#include "adv.h"
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <sys/uio.h>

extern char **environ;

static int allowed_name(const char *var, int argc, char **argv)
{
	size_t n = strcspn(var, "=");
	if (n == strlen("LIBC_FATAL_STDERR_") && strncmp(var, "LIBC_FATAL_STDERR_", n) == 0)
		return 1;
	for (int i = 2; i < argc; i++)
		if (strlen(argv[i]) == n && strncmp(var, argv[i], n) == 0)
			return 1;
	return 0;
}

static int do_env(int argc, char **argv)
{
	int n = 0, foreign = 0;
	for (char **e = environ; *e; e++, n++) {
		printf("environ: %s\n", *e);
		if (!allowed_name(*e, argc, argv)) {
			foreign++;
			escaped("variable %.*s was passed in", (int)strcspn(*e, "="), *e);
		}
		if (strncmp(*e, "RUSTBOX_ADV_TOKEN", 17) == 0)
			escaped("the caller's RUSTBOX_ADV_TOKEN is in environ");
	}
	if (!foreign)
		stopped("environ: %d variables, only LIBC_FATAL_STDERR_ and the -E ones", n);
	static char buf[65536];
	int fd = open("/proc/self/environ", O_RDONLY);
	ssize_t len = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (len < 0) {
		unexpected("read /proc/self/environ: %s", en(errno));
	} else {
		int m = 0, bad = 0;
		for (char *p = buf; p < buf + len; p += strlen(p) + 1, m++) {
			printf("/proc/self/environ: %s\n", p);
			if (!allowed_name(p, argc, argv) || strstr(p, "RUSTBOX_ADV_TOKEN"))
				bad++;
		}
		if (bad)
			escaped("/proc/self/environ holds %d foreign variables", bad);
		else
			stopped("/proc/self/environ: %d variables, none of the caller's", m);
	}
	if (fd >= 0)
		close(fd);
	return finish("host_info env");
}

static int do_sys(void)
{
	static const char *paths[] = {"/sys",
				      "/sys/kernel",
				      "/sys/fs/cgroup",
				      "/sys/class/net",
				      "/sys/firmware",
				      "/sys/kernel/mm/transparent_hugepage/enabled",
				      "/sys/power/state",
				      "/sys/kernel/uevent_helper",
				      "/sys/module"};
	char what[128];
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		struct stat st;
		snprintf(what, sizeof what, "stat %s", paths[i]);
		MUST_FAIL(what, stat(paths[i], &st), ENOENT);
	}
	MUST_FAIL("open /sys/kernel/uevent_helper O_WRONLY",
		  open("/sys/kernel/uevent_helper", O_WRONLY), ENOENT);
	MUST_FAIL("mount sysfs on /tmp", mount("sysfs", "/tmp", "sysfs", 0, NULL), EPERM);
	MUST_FAIL("mount cgroup2 on /tmp", mount("cgroup2", "/tmp", "cgroup2", 0, NULL), EPERM);
	MUST_FAIL("mount cgroup (v1, pids) on /tmp",
		  mount("cgroup", "/tmp", "cgroup", 0, "pids"), EPERM);
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[512];
	int lines = 0, outside = 0;
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		lines++;
		const char *p = strrchr(line, ':');
		if (!p || strcmp(p, ":/") != 0) {
			outside++;
			escaped("/proc/self/cgroup shows a path outside the namespace: %s", line);
		}
	}
	if (f)
		fclose(f);
	if (!f)
		stopped("/proc/self/cgroup: %s", en(errno));
	else if (!outside)
		stopped("/proc/self/cgroup: %d lines, all at the namespace root /", lines);
	return finish("host_info sys");
}

static void must_not_write(const char *path)
{
	char what[160];
	snprintf(what, sizeof what, "open %s O_WRONLY", path);
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		escaped("%s succeeded", what);
		close(fd);
		return;
	}
	must_fail_(what, -1, errno, (const int[]){0, EROFS, EACCES, ENOENT}, 4);
}

static int do_procsys(void)
{
	static const char *paths[] = {
		"/proc/sys/kernel/hostname",	 "/proc/sys/kernel/domainname",
		"/proc/sys/vm/drop_caches",	 "/proc/sys/kernel/core_pattern",
		"/proc/sys/kernel/modprobe",	 "/proc/sys/kernel/sysrq",
		"/proc/sys/kernel/panic",	 "/proc/sys/net/ipv4/ip_forward",
		"/proc/sys/fs/binfmt_misc/register", "/proc/sysrq-trigger",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		must_not_write(paths[i]);
	MUST_FAIL("sethostname(pwned)", sethostname("pwned", 5), EPERM);
	return finish("host_info procsys");
}

/* Every hexadecimal address in a /proc listing must be zero. */
static void addresses_zero(const char *path, int column_addr)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		must_fail_(path, -1, errno, (const int[]){0, ENOENT, EACCES}, 3);
		return;
	}
	char line[512];
	long lines = 0, real = 0;
	while (fgets(line, sizeof line, f)) {
		lines++;
		const char *p = column_addr ? strstr(line, "0x") : line;
		if (p && strtoull(p, NULL, 16) != 0 && real++ < 3)
			printf("%s: %s", path, line);
	}
	fclose(f);
	if (real)
		escaped("%s shows %ld real kernel addresses", path, real);
	else
		stopped("%s: %ld lines, every address 0", path, lines);
}

static int do_hostwide(void)
{
	static const char *secret[] = {"/proc/kcore",	   "/proc/kmsg",
				       "/proc/kpageflags", "/proc/kpagecount",
				       "/proc/kpagecgroup", "/proc/vmallocinfo"};
	char what[128];
	for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
		snprintf(what, sizeof what, "open %s", secret[i]);
		MUST_FAIL(what, open(secret[i], O_RDONLY), EACCES, EPERM, ENOENT);
	}
	addresses_zero("/proc/kallsyms", 0);
	addresses_zero("/proc/modules", 1);
	must_not_write("/proc/sysrq-trigger");
	FILE *f = fopen("/proc/keys", "r");
	if (!f) {
		must_fail_("open /proc/keys", -1, errno, (const int[]){0, ENOENT, EACCES}, 3);
	} else {
		char line[512];
		int lines = 0, foreign = 0;
		while (fgets(line, sizeof line, f)) {
			/* ID flags usage timeout perm uid gid type description */
			unsigned uid;
			lines++;
			if (sscanf(line, "%*s %*s %*s %*s %*s %u", &uid) == 1 && uid != getuid()) {
				foreign++;
				printf("/proc/keys: %s", line);
			}
		}
		fclose(f);
		if (foreign)
			escaped("/proc/keys shows %d keys of other users", foreign);
		else
			stopped("/proc/keys: %d keys, none of another user", lines);
	}
	return finish("host_info hostwide");
}

static int do_keyusers(void)
{
	FILE *f = fopen("/proc/key-users", "r");
	if (!f) {
		must_fail_("open /proc/key-users", -1, errno, (const int[]){0, ENOENT, EACCES}, 3);
		return finish("host_info keyusers");
	}
	char line[256];
	int lines = 0, foreign = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned uid;
		lines++;
		if (sscanf(line, " %u:", &uid) == 1 && uid != getuid()) {
			foreign++;
			printf("/proc/key-users: %s", line);
		}
	}
	fclose(f);
	if (foreign)
		escaped("/proc/key-users shows the keys of %d other users", foreign);
	else
		stopped("/proc/key-users: %d lines, none of another user", lines);
	return finish("host_info keyusers");
}

/* getpriority as 0..39, or -1 with errno (its -1 is also a valid nice value). */
static long nice_of(pid_t pid)
{
	errno = 0;
	int r = getpriority(PRIO_PROCESS, (id_t)pid);
	return (r == -1 && errno) ? -1 : r + 20;
}

static int do_pids(int argc, char **argv)
{
	pid_t host = argc > 2 ? (pid_t)atoi(argv[2]) : 0;
	if (host <= 1) {
		unexpected("no host pid given");
		return finish("host_info pids");
	}
	printf("host pid of another box's process: %d\n", (int)host);
	char path[64], what[128];
	struct stat st;
	snprintf(path, sizeof path, "/proc/%d", (int)host);
	snprintf(what, sizeof what, "stat %s", path);
	MUST_FAIL(what, stat(path, &st), ENOENT);
	snprintf(what, sizeof what, "kill(%d, 0)", (int)host);
	MUST_FAIL(what, kill(host, 0), ESRCH);
	snprintf(what, sizeof what, "kill(%d, SIGKILL)", (int)host);
	MUST_FAIL(what, kill(host, SIGKILL), ESRCH);
	snprintf(what, sizeof what, "pidfd_open(%d)", (int)host);
	MUST_FAIL(what, syscall(SYS_pidfd_open, host, 0), ESRCH);
	snprintf(what, sizeof what, "getpgid(%d)", (int)host);
	MUST_FAIL(what, getpgid(host), ESRCH);
	snprintf(what, sizeof what, "getsid(%d)", (int)host);
	MUST_FAIL(what, getsid(host), ESRCH);
	snprintf(what, sizeof what, "getpriority(PRIO_PROCESS, %d)", (int)host);
	MUST_FAIL(what, nice_of(host), ESRCH);
	char buf[16];
	struct iovec l = {buf, sizeof buf}, r = {(void *)0x400000, sizeof buf};
	snprintf(what, sizeof what, "process_vm_readv(%d)", (int)host);
	/* ENOSYS when the default seccomp profile answers first. */
	MUST_FAIL(what, process_vm_readv(host, &l, 1, &r, 1, 0), ESRCH, ENOSYS);
	/* Nobody to signal but ourselves and pid 1, which kill(-1) skips. */
	MUST_FAIL("kill(-1, SIGKILL)", kill(-1, SIGKILL), ESRCH);

	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0, foreign = 0;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		n++;
		snprintf(path, sizeof path, "/proc/%.20s", e->d_name);
		if (stat(path, &st) == 0 && st.st_uid != getuid()) {
			foreign++;
			escaped("/proc lists pid %s of uid %u", e->d_name, st.st_uid);
		}
		if (atoi(e->d_name) == host)
			escaped("/proc lists the host pid %d", (int)host);
	}
	if (d)
		closedir(d);
	if (!foreign)
		stopped("/proc lists %d processes, all of uid %u", n, getuid());
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f)) {
		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		int levels = 0;
		for (char *p = line + 6; *p;) {
			while (*p == ' ' || *p == '\t' || *p == '\n')
				p++;
			if (!*p)
				break;
			levels++;
			while (*p && *p != ' ' && *p != '\t' && *p != '\n')
				p++;
		}
		line[strcspn(line, "\n")] = 0;
		if (levels == 1)
			stopped("%s: one pid namespace level, no host pid", line);
		else
			escaped("%s: %d levels: the host pid shows", line, levels);
	}
	if (f)
		fclose(f);
	return finish("host_info pids");
}

static void under_a_minute(const char *what, long secs)
{
	if (secs < 60)
		stopped("%s: %ld s, not the host's uptime", what, secs);
	else
		escaped("%s: %ld s: the host's uptime shows", what, secs);
}

static int do_uptime(void)
{
	struct sysinfo si;
	if (sysinfo(&si) == 0)
		under_a_minute("sysinfo().uptime", (long)si.uptime);
	else
		unexpected("sysinfo: %s", en(errno));
	struct timespec ts;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) == 0)
		under_a_minute("CLOCK_BOOTTIME", (long)ts.tv_sec);
	else
		unexpected("clock_gettime(CLOCK_BOOTTIME): %s", en(errno));
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
		under_a_minute("CLOCK_MONOTONIC", (long)ts.tv_sec);
	else
		unexpected("clock_gettime(CLOCK_MONOTONIC): %s", en(errno));
	return finish("host_info uptime");
}

static int do_mounts(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (!f) {
		unexpected("open /proc/self/mountinfo: %s", en(errno));
		return finish("host_info mounts");
	}
	static const char *own[] = {"tmpfs", "proc", "mqueue", "devpts"};
	char line[4096];
	int made = 0, bad = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		/* id parent major:minor root mountpoint ... - fstype source options */
		char root[1024], point[1024], fstype[64], source[1024];
		const char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", root, point) != 2 ||
		    sscanf(dash + 3, "%63s %1023s", fstype, source) != 2) {
			unexpected("unreadable mountinfo line: %s", line);
			continue;
		}
		int ours = 0;
		for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
			ours |= strcmp(fstype, own[i]) == 0;
		if (!ours || strcmp(root, "/") != 0) {
			printf("visible: %s (%s from %s, root %s)\n", point, fstype, source, root);
			continue;
		}
		made++;
		if (strchr(source, '/')) {
			bad++;
			escaped("%s: the source of a %s the box made names a path: %s", point, fstype,
				source);
		}
	}
	fclose(f);
	if (!made)
		unexpected("no mount of the box's own in mountinfo");
	else if (!bad)
		stopped("%d mounts the box made itself, none with a path as its source", made);
	return finish("host_info mounts");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "env") == 0)
		return do_env(argc, argv);
	if (strcmp(mode, "sys") == 0)
		return do_sys();
	if (strcmp(mode, "procsys") == 0)
		return do_procsys();
	if (strcmp(mode, "hostwide") == 0)
		return do_hostwide();
	if (strcmp(mode, "pids") == 0)
		return do_pids(argc, argv);
	if (strcmp(mode, "keyusers") == 0)
		return do_keyusers();
	if (strcmp(mode, "uptime") == 0)
		return do_uptime();
	if (strcmp(mode, "mounts") == 0)
		return do_mounts();
	printf("UNEXPECTED: unknown mode %s\n", mode);
	return 1;
}
