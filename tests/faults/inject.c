/*
 * inject: run a command under ptrace and fail one system call of one process.
 *
 * Built and driven by tests/faults.rs (docs/faults.md). Roles, by process tree:
 *   supervisor  the command itself, counted from its execve on
 *   proxy       the supervisor's first child (rustbox's clone3 into the box)
 *   payload     the proxy's first child (the pre-exec chain), until it execve's
 *               the program: from then on it is detached (its calls are not
 *               rustbox's)
 *   other       any further process or thread (traced, never counted)
 *
 * With --role R --nth N, the Nth system-call entry of role R is skipped (its
 * number set to -1) and returns -ERRNO (default EIO). With --count FILE, every
 * call of the three roles is listed instead: "role idx nr name arg0". Either
 * way --report FILE gets key=value lines: what was injected, the command's
 * end (exit:N, signal:N or timeout), and processes still traced when it ended.
 *
 * exit, exit_group, rt_sigreturn and restart_syscall are never failed (they
 * cannot fail); calls that cannot fail (getpid, getuid, ...) are not either, nor
 * getrandom (it cannot fail with an I/O error): the call is then passed and
 * "injected=0 reason=unfailable" is reported.
 *
 * Robustness: every process is PTRACE_SEIZE'd (auto-attached children too),
 * with EXITKILL, so nothing traced outlives the injector; signal-delivery stops
 * re-inject the signal; group-stops are left with PTRACE_LISTEN; a global
 * timeout (--timeout, default 20 s) SIGKILLs everything traced. After the
 * command ends, other traced processes get a second to end; those still alive
 * are detached (so the caller sees them) and listed as lingering.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum role { SUP, PROXY, PAYLOAD, OTHER, UNKNOWN };
static const char *const role_name[] = {"supervisor", "proxy", "payload", "other", "unknown"};

#define MAXP 4096
struct proc {
	pid_t pid;
	int role;
	int held;       /* first stop seen before its role was known */
	int started;    /* counting (the supervisor: after its execve) */
	int inject_exit; /* at the next syscall-exit stop, set the return value */
	int detaching;  /* interrupted, to be detached at its next stop */
	int children;   /* non-thread children seen */
};
static struct proc procs[MAXP];
static int nprocs;

static int want_role = -1;
static long want_nth = 0;
static int inj_errno = EIO;
static long counts[3];
static FILE *count_f;
static const char *report_path;
static int injected;
static long inj_nr = -1;
static unsigned long long inj_arg0;
static const char *inj_reason = "not reached";
static volatile sig_atomic_t ticked;
static char *names[1024];

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "inject: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, ": %s\n", strerror(errno));
	va_end(ap);
	exit(125);
}

static void load_names(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[256], name[128];
	int nr;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "#define __NR_%127s %d", name, &nr) == 2 && nr >= 0 && nr < 1024)
			names[nr] = strdup(name);
	fclose(f);
}

static const char *sysname(long nr)
{
	static char buf[32];
	if (nr >= 0 && nr < 1024 && names[nr])
		return names[nr];
	snprintf(buf, sizeof buf, "sys_%ld", nr);
	return buf;
}

static int never_fail(long nr)
{
	switch (nr) {
	case SYS_exit:
	case SYS_exit_group:
	case SYS_rt_sigreturn:
	case SYS_restart_syscall:
	case SYS_getpid:
	case SYS_getppid:
	case SYS_gettid:
	case SYS_getuid:
	case SYS_geteuid:
	case SYS_getgid:
	case SYS_getegid:
	case SYS_getpgrp:
	case SYS_umask:
	case SYS_sched_yield:
	case SYS_sync:
	/* Without GRND_NONBLOCK it fails only with EINTR, EFAULT or EINVAL. */
	case SYS_getrandom:
		return 1;
	}
	return 0;
}

static struct proc *find(pid_t pid)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

static struct proc *add(pid_t pid, int role)
{
	if (nprocs == MAXP) {
		errno = EMFILE;
		die("more than %d traced processes", MAXP);
	}
	struct proc *p = &procs[nprocs++];
	memset(p, 0, sizeof *p);
	p->pid = pid;
	p->role = role;
	return p;
}

static void forget(pid_t pid)
{
	for (int i = 0; i < nprocs; i++)
		if (procs[i].pid == pid) {
			procs[i] = procs[--nprocs];
			return;
		}
}

static void resume(pid_t pid, int sig)
{
	/* ESRCH: it died meanwhile (SIGKILL); its exit is reported by waitpid. */
	if (ptrace(PTRACE_SYSCALL, pid, 0, (void *)(long)sig) < 0 && errno != ESRCH)
		die("PTRACE_SYSCALL %d", pid);
}

static void on_tick(int sig)
{
	(void)sig;
	ticked = 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A syscall stop of p: count entries, inject at the chosen one. */
static void syscall_stop(struct proc *p)
{
	struct __ptrace_syscall_info si;
	if (ptrace(PTRACE_GET_SYSCALL_INFO, p->pid, (void *)sizeof si, &si) < 0) {
		if (errno == ESRCH)
			return;
		die("PTRACE_GET_SYSCALL_INFO %d", p->pid);
	}
	if (si.op == PTRACE_SYSCALL_INFO_EXIT) {
		if (p->inject_exit) {
			struct user_regs_struct r;
			if (ptrace(PTRACE_GETREGS, p->pid, 0, &r) < 0)
				die("PTRACE_GETREGS %d", p->pid);
			r.rax = (unsigned long long)(long long)-inj_errno;
			if (ptrace(PTRACE_SETREGS, p->pid, 0, &r) < 0)
				die("PTRACE_SETREGS %d", p->pid);
			p->inject_exit = 0;
		}
		resume(p->pid, 0);
		return;
	}
	if (si.op != PTRACE_SYSCALL_INFO_ENTRY || !p->started || p->role > PAYLOAD) {
		resume(p->pid, 0);
		return;
	}
	long nr = (long)si.entry.nr;
	long idx = ++counts[p->role];
	if (count_f)
		fprintf(count_f, "%s %ld %ld %s %llu\n", role_name[p->role], idx, nr, sysname(nr),
			(unsigned long long)si.entry.args[0]);
	if (p->role == want_role && idx == want_nth) {
		inj_nr = nr;
		inj_arg0 = si.entry.args[0];
		if (never_fail(nr)) {
			inj_reason = "unfailable";
		} else {
			struct user_regs_struct r;
			if (ptrace(PTRACE_GETREGS, p->pid, 0, &r) < 0)
				die("PTRACE_GETREGS %d", p->pid);
			r.orig_rax = (unsigned long long)-1;
			if (ptrace(PTRACE_SETREGS, p->pid, 0, &r) < 0)
				die("PTRACE_SETREGS %d", p->pid);
			p->inject_exit = 1;
			injected = 1;
			inj_reason = "injected";
		}
	}
	resume(p->pid, 0);
}

/* The role of a new child of parent (a thread when its tgid is not itself). */
static int child_role(struct proc *parent, pid_t child)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", child);
	FILE *f = fopen(path, "r");
	int thread = 0;
	if (f) {
		while (fgets(line, sizeof line, f)) {
			int tgid;
			if (sscanf(line, "Tgid: %d", &tgid) == 1) {
				thread = tgid != child;
				break;
			}
		}
		fclose(f);
	}
	if (thread || !parent)
		return OTHER;
	int first = parent->children++ == 0;
	if (parent->role == SUP && first)
		return PROXY;
	if (parent->role == PROXY && first)
		return PAYLOAD;
	return OTHER;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: inject [--role supervisor|proxy|payload --nth N [--errno E]] [--count FILE]\n"
		"              [--report FILE] [--timeout S] [--user UID:GID[:G1,G2...]]\n"
		"              [--mntns PATH] [--cd DIR] [--names UNISTD_H] [--plain 1]\n"
		"              -- COMMAND [ARGS...]\n");
	exit(125);
}

int main(int argc, char **argv)
{
	int timeout = 20, plain = 0;
	const char *count_path = NULL, *mntns = NULL, *cd = NULL, *user = NULL;
	const char *names_path = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			break;
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (!strcmp(a, "--role")) {
			want_role = !strcmp(v, "supervisor") ? SUP
				    : !strcmp(v, "proxy")    ? PROXY
				    : !strcmp(v, "payload")  ? PAYLOAD
							     : -2;
			if (want_role == -2)
				usage();
		} else if (!strcmp(a, "--nth"))
			want_nth = atol(v);
		else if (!strcmp(a, "--errno"))
			inj_errno = atoi(v);
		else if (!strcmp(a, "--count"))
			count_path = v;
		else if (!strcmp(a, "--report"))
			report_path = v;
		else if (!strcmp(a, "--timeout"))
			timeout = atoi(v);
		else if (!strcmp(a, "--user"))
			user = v;
		else if (!strcmp(a, "--mntns"))
			mntns = v;
		else if (!strcmp(a, "--cd"))
			cd = v;
		else if (!strcmp(a, "--names"))
			names_path = v;
		else if (!strcmp(a, "--plain"))
			plain = atoi(v);
		else
			usage();
	}
	if (i + 1 >= argc || inj_errno <= 0 || inj_errno > 4095)
		usage();
	char **cmd = &argv[i + 1];
	load_names(names_path);
	if (count_path) {
		count_f = fopen(count_path, "w");
		if (!count_f)
			die("open %s", count_path);
	}

	/* --plain 1: only the setns, user and directory changes, then exec (no tracing). */
	pid_t child = plain ? 0 : fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		if (mntns) {
			int fd = open(mntns, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, CLONE_NEWNS) < 0)
				die("setns %s", mntns);
			close(fd);
		}
		if (user) {
			unsigned uid, gid;
			int n = 0;
			if (sscanf(user, "%u:%u%n", &uid, &gid, &n) < 2)
				usage();
			gid_t groups[64];
			int ng = 0;
			groups[ng++] = gid;
			const char *g = user + n;
			while (*g == ':' || *g == ',') {
				g++;
				char *end;
				unsigned long x = strtoul(g, &end, 10);
				if (end == g || ng == 64)
					usage();
				groups[ng++] = (gid_t)x;
				g = end;
			}
			if (setgroups(ng, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
			    setresuid(uid, uid, uid) < 0)
				die("drop to %s", user);
		}
		if (cd && chdir(cd) < 0)
			die("chdir %s", cd);
		if (!plain)
			raise(SIGSTOP);
		execvp(cmd[0], cmd);
		die("exec %s", cmd[0]);
	}
	int st;
	if (waitpid(child, &st, WUNTRACED) < 0 || !WIFSTOPPED(st)) {
		fprintf(stderr, "inject: the child did not stop before its exec\n");
		return 125;
	}
	long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |
		    PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL;
	if (ptrace(PTRACE_SEIZE, child, 0, (void *)opts) < 0)
		die("PTRACE_SEIZE");
	add(child, SUP);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_tick; /* no SA_RESTART: waitpid returns EINTR */
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 100000}, {0, 100000}};
	setitimer(ITIMER_REAL, &it, NULL);
	kill(child, SIGCONT);

	double start = now(), sup_end = 0, detach_at = 0;
	int sup_alive = 1, timed_out = 0, sup_code = -1, sup_sig = 0;
	char lingering[1024] = "";
	for (;;) {
		if (nprocs == 0)
			break;
		double t = now();
		if (!timed_out && t - start > timeout) {
			timed_out = 1;
			for (int k = 0; k < nprocs; k++)
				kill(procs[k].pid, SIGKILL);
		}
		if (timed_out && t - start > timeout + 5)
			break; /* EXITKILL takes what is left */
		if (!sup_alive && !timed_out && !detach_at && t - sup_end > 1.0) {
			/* Still alive a second after the command: let the caller see them. */
			detach_at = t;
			for (int k = 0; k < nprocs; k++) {
				struct proc *p = &procs[k];
				size_t l = strlen(lingering);
				snprintf(lingering + l, sizeof lingering - l, "%s%d:%s", l ? "," : "",
					 p->pid, role_name[p->role]);
				p->detaching = 1;
				if (p->held) {
					ptrace(PTRACE_DETACH, p->pid, 0, 0);
					p->pid = -1;
				} else {
					ptrace(PTRACE_INTERRUPT, p->pid, 0, 0);
				}
			}
			for (int k = nprocs - 1; k >= 0; k--)
				if (procs[k].pid == -1)
					forget(-1);
		}
		if (detach_at && t - detach_at > 1.0)
			break;
		ticked = 0;
		pid_t pid = waitpid(-1, &st, __WALL);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				break;
			die("waitpid");
		}
		struct proc *p = find(pid);
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (pid == child) {
				sup_alive = 0;
				sup_end = now();
				if (WIFEXITED(st))
					sup_code = WEXITSTATUS(st);
				else
					sup_sig = WTERMSIG(st);
			}
			forget(pid);
			continue;
		}
		if (!WIFSTOPPED(st))
			continue;
		if (!p) {
			/* A new child whose parent's clone event is not in yet: hold it. */
			p = add(pid, UNKNOWN);
			p->held = 1;
			continue;
		}
		int sig = WSTOPSIG(st), event = (unsigned)st >> 16;
		if (p->detaching) {
			if (ptrace(PTRACE_DETACH, pid, 0,
				   (void *)(long)(event == 0 && sig != (SIGTRAP | 0x80) ? sig : 0)) < 0 &&
			    errno != ESRCH)
				die("PTRACE_DETACH %d", pid);
			forget(pid);
			continue;
		}
		if (sig == (SIGTRAP | 0x80)) {
			syscall_stop(p);
			continue;
		}
		if (sig == SIGTRAP && (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK ||
				       event == PTRACE_EVENT_VFORK)) {
			unsigned long msg;
			if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) == 0) {
				pid_t c = (pid_t)msg;
				struct proc *cp = find(c);
				int r = child_role(p, c);
				if (cp) {
					cp->role = r;
					cp->started = 1;
					if (cp->held) {
						cp->held = 0;
						resume(c, 0);
					}
				} else {
					cp = add(c, r);
					cp->started = 1;
				}
			}
			resume(pid, 0);
			continue;
		}
		if (sig == SIGTRAP && event == PTRACE_EVENT_EXEC) {
			if (p->role == SUP && !p->started) {
				p->started = 1;
			} else if (p->role == PAYLOAD) {
				/* The program runs now: its calls are not rustbox's. */
				if (ptrace(PTRACE_DETACH, pid, 0, 0) < 0 && errno != ESRCH)
					die("PTRACE_DETACH %d", pid);
				forget(pid);
				continue;
			}
			resume(pid, 0);
			continue;
		}
		if (event == PTRACE_EVENT_STOP) {
			if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
				/* A group-stop: stay stopped until SIGCONT. */
				if (ptrace(PTRACE_LISTEN, pid, 0, 0) < 0 && errno != ESRCH)
					die("PTRACE_LISTEN %d", pid);
			} else {
				resume(pid, 0);
			}
			continue;
		}
		if (event != 0) {
			resume(pid, 0); /* another event (e.g. exit, vfork-done) */
			continue;
		}
		/* A signal-delivery stop: deliver it. */
		resume(pid, sig);
	}
	if (count_f)
		fclose(count_f);
	if (report_path) {
		FILE *f = fopen(report_path, "w");
		if (!f)
			die("open %s", report_path);
		fprintf(f, "injected=%d\nreason=%s\n", injected, inj_reason);
		if (want_role >= 0)
			fprintf(f, "role=%s\nnth=%ld\n", role_name[want_role], want_nth);
		if (inj_nr >= 0)
			fprintf(f, "nr=%ld\nname=%s\narg0=%llu\n", inj_nr, sysname(inj_nr), inj_arg0);
		if (timed_out)
			fprintf(f, "end=timeout\n");
		else if (sup_alive)
			fprintf(f, "end=unknown\n");
		else if (sup_sig)
			fprintf(f, "end=signal:%d\n", sup_sig);
		else
			fprintf(f, "end=exit:%d\n", sup_code);
		fprintf(f, "counts=supervisor:%ld,proxy:%ld,payload:%ld\n", counts[SUP], counts[PROXY],
			counts[PAYLOAD]);
		fprintf(f, "lingering=%s\n", lingering);
		fclose(f);
	}
	if (timed_out)
		return 124;
	if (sup_sig)
		return 128 + sup_sig;
	return sup_code < 0 ? 125 : sup_code;
}
