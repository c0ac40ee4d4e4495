/*
 * userns_unshare: a new user namespace gives the program every capability inside
 * it (CAP_SYS_ADMIN, CAP_NET_ADMIN, ...) and with them the kernel code behind
 * mount, netfilter, bpf and more: a large attack surface isolate closes by
 * chroot (the kernel refuses user namespaces to a chrooted process). Each
 * attempt runs in a child so that one success does not hide the next.
 */
#include "adv.h"
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* In the child: try `flags`; on success, show what the new namespace allows. */
static void child(int flags)
{
	if (unshare(flags) < 0)
		_exit(100 + errno);
	if (flags & CLONE_NEWNS) {
		if (mount("none", "/tmp", "tmpfs", 0, NULL) == 0)
			printf("  inside: mount tmpfs on /tmp works\n");
		else
			printf("  inside: mount tmpfs: %s\n", en(errno));
	}
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "CapEff:", 7) == 0)
			printf("  inside: %s", line);
	_exit(0);
}

static void attempt(const char *what, int flags)
{
	pid_t p = fork();
	if (p < 0) {
		unexpected("fork: %s", en(errno));
		return;
	}
	if (p == 0)
		child(flags);
	int st;
	waitpid(p, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		escaped("%s succeeded", what);
	else if (WIFEXITED(st) && WEXITSTATUS(st) >= 100)
		stopped("%s: %s", what, en(WEXITSTATUS(st) - 100));
	else
		unexpected("%s: child status %#x", what, st);
}

int main(void)
{
	attempt("unshare(CLONE_NEWUSER | CLONE_NEWNS)", CLONE_NEWUSER | CLONE_NEWNS);
	attempt("unshare(CLONE_NEWUSER)", CLONE_NEWUSER);
	attempt("unshare(CLONE_NEWUSER | CLONE_NEWNET)", CLONE_NEWUSER | CLONE_NEWNET);
	attempt("unshare(CLONE_NEWNS)", CLONE_NEWNS);
	attempt("unshare(CLONE_NEWNET)", CLONE_NEWNET);
	attempt("unshare(CLONE_NEWPID)", CLONE_NEWPID);
	return finish("userns_unshare");
}
