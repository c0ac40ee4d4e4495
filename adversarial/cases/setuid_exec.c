/*
 * setuid_exec: regain privileges by running the host's own setuid/setgid and
 * file-capability programs (passwd, su, mount, chsh, newgrp, ...), which the box
 * sees under /usr and /bin. Every mount of the box is nosuid and the program has
 * no_new_privs, so each must run with the box's ids, no capabilities and
 * AT_SECURE 0.
 *
 * The programs are found at run time by stat (setuid or setgid bit, or a
 * security.capability attribute); without a setuid-root one the case cannot run
 * (UNEXPECTED). Two observations of each, in a child:
 *  - LD_SHOW_AUXV=1: ld.so prints the AT_EUID, AT_EGID and AT_SECURE the kernel
 *    gave the program at execve, before its main; in secure mode (a setuid exec that
 *    worked) ld.so ignores the variable and prints nothing;
 *  - stderr is a pipe filled to the brim and stdin an empty pipe, so the program
 *    blocks at its first message or read; meanwhile /proc/<child>/status shows its
 *    running Uid, Gid, CapPrm and CapEff.
 * A program that makes itself non-dumpable (ssh-agent) vanishes from /proc under
 * hidepid=invisible; then the auxv evidence alone decides.
 *
 * Also: the setuid mount program asked to mount a tmpfs, and a hard link of a
 * setuid program into /box (EXDEV: another mount).
 */
#include "adv.h"
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#define MAX_CANDIDATES 32
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

extern char **environ;

struct candidate {
	char path[256];
	dev_t dev;
	ino_t ino;
	const char *why;
};

static struct candidate cands[MAX_CANDIDATES];
static int ncands;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void consider(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || ncands >= MAX_CANDIDATES)
		return;
	const char *why = NULL;
	if ((st.st_mode & S_ISUID) && st.st_uid == 0)
		why = "setuid-root";
	else if (st.st_mode & S_ISUID)
		why = "setuid";
	else if ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP))
		why = "setgid";
	else if (getxattr(path, "security.capability", NULL, 0) > 0)
		why = "file capabilities";
	if (!why || access(path, X_OK) < 0)
		return;
	for (int i = 0; i < ncands; i++)
		if (cands[i].dev == st.st_dev && cands[i].ino == st.st_ino)
			return; /* /bin and /usr/bin may be the same directory */
	struct candidate *c = &cands[ncands++];
	snprintf(c->path, sizeof c->path, "%s", path);
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->why = why;
}

static void scan(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[512];
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (strlen(path) < sizeof cands[0].path)
			consider(path);
	}
	closedir(d);
}

/* One field line of /proc/PID/status ("Uid:"), copied to out. */
static int status_field(const char *status, const char *key, char *out, size_t n)
{
	const char *p = strstr(status, key);
	if (!p)
		return -1;
	p += strlen(key);
	while (*p == '\t' || *p == ' ')
		p++;
	size_t i = 0;
	while (p[i] && p[i] != '\n' && i + 1 < n) {
		out[i] = p[i];
		i++;
	}
	out[i] = 0;
	return 0;
}

static int read_file(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, buf, n - 1);
	int e = errno;
	close(fd);
	if (r < 0) {
		errno = e;
		return -1;
	}
	buf[r] = 0;
	return (int)r;
}

/* "Uid:" and "Gid:" lines hold four ids: all must be ours. */
static int ids_are(const char *line, unsigned id)
{
	unsigned a[4];
	if (sscanf(line, "%u %u %u %u", &a[0], &a[1], &a[2], &a[3]) != 4)
		return 0;
	return a[0] == id && a[1] == id && a[2] == id && a[3] == id;
}

/* The value of "KEY: value" printed by ld.so's LD_SHOW_AUXV, or -1. */
static long aux_value(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* Does the ELF file have a program interpreter (ld.so prints LD_SHOW_AUXV)? */
static int is_dynamic(const char *path)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd = open(path, O_RDONLY), dyn = 0;
	if (fd < 0)
		return 0;
	if (pread(fd, &eh, sizeof eh, 0) == sizeof eh && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0)
		for (int i = 0; i < eh.e_phnum; i++)
			if (pread(fd, &ph, sizeof ph, eh.e_phoff + (off_t)i * eh.e_phentsize) ==
				    sizeof ph &&
			    ph.p_type == PT_INTERP)
				dyn = 1;
	close(fd);
	return dyn;
}

static int observed = 0, bad = 0;

/*
 * Run one candidate with LD_SHOW_AUXV=1: ld.so prints the kernel's AT_EUID, AT_EGID
 * and AT_SECURE on stdout (it would stay silent in secure mode). stderr is a full
 * pipe and stdin an empty one, so the program blocks once it talks or listens, and
 * /proc/<child>/status then shows its running credentials and capabilities.
 */
static void observe(const struct candidate *c)
{
	int aux[2], full[2], in[2];
	if (pipe2(aux, O_CLOEXEC) < 0 || pipe2(full, O_CLOEXEC) < 0 || pipe2(in, O_CLOEXEC) < 0) {
		unexpected("pipe: %s", en(errno));
		return;
	}
	fcntl(full[1], F_SETPIPE_SZ, 4096);
	fcntl(full[1], F_SETFL, O_NONBLOCK);
	char junk[4096];
	memset(junk, 'x', sizeof junk);
	while (write(full[1], junk, sizeof junk) > 0)
		;
	while (write(full[1], junk, 1) > 0)
		;
	fcntl(full[1], F_SETFL, 0);

	pid_t pid = fork();
	if (pid < 0) {
		unexpected("fork: %s", en(errno));
		close(aux[0]), close(aux[1]), close(full[0]), close(full[1]);
		close(in[0]), close(in[1]);
		return;
	}
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(aux[1], 1);
		dup2(full[1], 2);
		const char *base = strrchr(c->path, '/') + 1;
		char *argv[] = {(char *)base, "--adv-no-such-option", NULL};
		char *envp[] = {"LD_SHOW_AUXV=1", "LIBC_FATAL_STDERR_=1", NULL};
		execve(c->path, argv, envp);
		_exit(127);
	}
	close(aux[1]);

	char path[64], status[4096], uid[64] = "", gid[64] = "", capprm[64] = "",
			      capeff[64] = "", state[64] = "";
	int seen = 0, vanished = 0, ws = 0, exited = 0;
	for (int t = 0; t < 1500 && !seen; t += 2) {
		if (waitpid(pid, &ws, WNOHANG) == pid) {
			exited = 1; /* before it blocked */
			break;
		}
		/* Not reaped, so /proc/PID exists (even as a zombie) unless hidden. */
		snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
		if (read_file(path, status, sizeof status) < 0) {
			vanished = errno == ENOENT;
			break;
		}
		status_field(status, "State:", state, sizeof state);
		struct stat st;
		snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
		if (state[0] == 'S' && stat(path, &st) == 0 && st.st_dev == c->dev &&
		    st.st_ino == c->ino) {
			/* Blocked in the new image: look again a little later. */
			sleep_ms(30);
			snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
			if (read_file(path, status, sizeof status) < 0) {
				vanished = errno == ENOENT;
				break;
			}
			seen = 1;
		} else {
			sleep_ms(2);
		}
	}
	if (!exited) {
		kill(pid, SIGKILL);
		waitpid(pid, &ws, 0);
	}
	char text[8192];
	size_t n = 0;
	ssize_t r;
	fcntl(aux[0], F_SETFL, O_NONBLOCK);
	while (n + 1 < sizeof text && (r = read(aux[0], text + n, sizeof text - 1 - n)) > 0)
		n += (size_t)r;
	text[n] = 0;
	close(aux[0]), close(full[0]), close(full[1]), close(in[0]), close(in[1]);

	long a_secure = aux_value(text, "AT_SECURE:"), a_euid = aux_value(text, "AT_EUID:"),
	     a_egid = aux_value(text, "AT_EGID:");
	int have_aux = a_secure >= 0 && a_euid >= 0 && a_egid >= 0;
	if (seen) {
		status_field(status, "Uid:", uid, sizeof uid);
		status_field(status, "Gid:", gid, sizeof gid);
		status_field(status, "CapPrm:", capprm, sizeof capprm);
		status_field(status, "CapEff:", capeff, sizeof capeff);
	}
	if (have_aux && (a_secure != 0 || a_euid != (long)getuid() || a_egid != (long)getgid())) {
		bad++;
		escaped("%s (%s): the kernel gave it AT_EUID %ld AT_EGID %ld AT_SECURE %ld",
			c->path, c->why, a_euid, a_egid, a_secure);
		return;
	}
	if (seen && (!ids_are(uid, getuid()) || !ids_are(gid, getgid()) ||
		     strtoull(capprm, NULL, 16) || strtoull(capeff, NULL, 16))) {
		bad++;
		escaped("%s (%s) runs with Uid %s Gid %s CapPrm %s CapEff %s", c->path, c->why,
			uid, gid, capprm, capeff);
		return;
	}
	if (!have_aux && is_dynamic(c->path) && !(exited && WIFEXITED(ws) && WEXITSTATUS(ws) == 127)) {
		/* ld.so ignores LD_SHOW_AUXV only in secure mode. */
		bad++;
		escaped("%s (%s): ld.so printed no auxv: it ran in secure mode%s", c->path,
			c->why, vanished ? " and vanished from /proc" : "");
		return;
	}
	if (!have_aux && !seen) {
		printf("not observed: %s (%s): no auxv, never blocked\n", c->path, c->why);
		return;
	}
	observed++;
	if (seen)
		stopped("%s (%s) runs as Uid %s, Gid %s, CapEff %s; AT_EUID %ld AT_SECURE %ld",
			c->path, c->why, uid, gid, capeff, a_euid, a_secure);
	else
		stopped("%s (%s): AT_EUID %ld AT_EGID %ld AT_SECURE %ld (%s)", c->path, c->why,
			a_euid, a_egid, a_secure,
			vanished ? "then hid itself: not dumpable" : "exited before it blocked");
}

/* /usr/bin/mount -t tmpfs none /box/mnt: a setuid mount would do it. */
static void setuid_mount(void)
{
	const char *mnt = NULL;
	for (int i = 0; i < ncands; i++)
		if (strcmp(strrchr(cands[i].path, '/'), "/mount") == 0)
			mnt = cands[i].path;
	if (!mnt) {
		printf("no setuid mount program on this host\n");
		return;
	}
	mkdir("/box/mnt", 0755);
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0), dup2(null, 1), dup2(null, 2);
		char *argv[] = {"mount", "-t", "tmpfs", "-o", "size=1m", "adv", "/box/mnt", NULL};
		execve(mnt, argv, environ);
		_exit(127);
	}
	int ws = 0;
	for (int t = 0; t < 2000 && waitpid(pid, &ws, WNOHANG) == 0; t += 5)
		sleep_ms(5);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* /box may be a tmpfs itself: a mount shows as another device. */
	struct stat top, st;
	if (stat("/box", &top) == 0 && stat("/box/mnt", &st) == 0 && st.st_dev != top.st_dev)
		escaped("%s -t tmpfs adv /box/mnt mounted a file system", mnt);
	else
		stopped("%s -t tmpfs adv /box/mnt: exit status %d, nothing mounted on /box/mnt", mnt,
			WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
}

int main(void)
{
	static const char *dirs[] = {
		"/usr/bin",
		"/usr/sbin",
		"/bin",
		"/sbin",
		"/usr/libexec",
		"/usr/lib/openssh",
		"/usr/lib/polkit-1",
		"/usr/lib/dbus-1.0",
		"/usr/lib/eject",
		"/usr/lib/x86_64-linux-gnu/utempter",
		"/usr/lib/x86_64-linux-gnu/gstreamer1.0/gstreamer-1.0",
	};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		scan(dirs[i]);
	printf("running as uid %u gid %u; %d setuid/setgid/capability programs found\n",
	       getuid(), getgid(), ncands);
	int setuid_root = 0;
	for (int i = 0; i < ncands; i++)
		setuid_root += strcmp(cands[i].why, "setuid-root") == 0;
	if (setuid_root == 0) {
		unexpected("no setuid-root program under /usr or /bin: the case cannot run");
		return finish("setuid_exec");
	}
	for (int i = 0; i < ncands; i++)
		observe(&cands[i]);
	if (observed == 0) {
		unexpected("none of the %d programs could be observed running", ncands);
	} else if (bad == 0) {
		printf("setuid programs observed: %d, all with the box's ids\n", observed);
	}
	setuid_mount();
	for (int i = 0; i < ncands; i++) {
		if (strcmp(cands[i].why, "setuid-root") == 0) {
			char what[320];
			snprintf(what, sizeof what, "hard link %s into /box", cands[i].path);
			MUST_FAIL(what, link(cands[i].path, "/box/suid-link"), EXDEV);
			break;
		}
	}
	return finish("setuid_exec");
}
