/*
 * priv_state MODE: undo the privilege state the sandbox set before execve.
 *
 *   caps  capset() to raise capabilities back (all of them, one permitted, one
 *         inheritable), raise an ambient capability, unlock the securebits, keep
 *         capabilities across setuid: all EPERM; afterwards CapInh, CapPrm, CapEff,
 *         CapBnd and CapAmb in /proc/self/status are all 0 and no capability is
 *         left in the bounding set (PR_CAPBSET_READ).
 *   nnp   clear no_new_privs (prctl(PR_SET_NO_NEW_PRIVS, 0): EINVAL, the flag is
 *         one-way), override the seccomp filter with a permissive one of our own
 *         (filters stack: CLONE_NEWUSER is still EPERM), and check that both
 *         no_new_privs and seccomp survive an execve.
 */
#include "adv.h"
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef SECBIT_KEEP_CAPS_LOCKED
#define SECBIT_KEEP_CAPS_LOCKED (1 << 5)
#endif

static long capset_with(unsigned eff0, unsigned prm0, unsigned inh0, unsigned all1)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
		{.effective = eff0, .permitted = prm0, .inheritable = inh0},
		{.effective = all1, .permitted = all1, .inheritable = all1},
	};
	return syscall(SYS_capset, &h, d);
}

static void status_caps(void)
{
	static const char *keys[] = {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"};
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int found = 0;
	while (f && fgets(line, sizeof line, f)) {
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
			if (strncmp(line, keys[i], strlen(keys[i])) != 0)
				continue;
			found++;
			line[strcspn(line, "\n")] = 0;
			if (strtoull(line + strlen(keys[i]), NULL, 16) != 0)
				escaped("%s", line);
			else
				stopped("%s all zero", line);
		}
	}
	if (f)
		fclose(f);
	if (found != 5)
		unexpected("%d of the 5 Cap lines in /proc/self/status", found);
}

static int caps(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) == 0)
		printf("capget: effective %#x %#x permitted %#x %#x inheritable %#x %#x\n",
		       d[0].effective, d[1].effective, d[0].permitted, d[1].permitted,
		       d[0].inheritable, d[1].inheritable);
	MUST_FAIL("capset(all capabilities)", capset_with(~0u, ~0u, ~0u, ~0u), EPERM);
	MUST_FAIL("capset(permitted+effective CAP_SYS_ADMIN)",
		  capset_with(1u << CAP_SYS_ADMIN, 1u << CAP_SYS_ADMIN, 0, 0), EPERM);
	MUST_FAIL("capset(permitted CAP_SETUID)", capset_with(0, 1u << CAP_SETUID, 0, 0), EPERM);
	MUST_FAIL("capset(inheritable CAP_NET_RAW)", capset_with(0, 0, 1u << CAP_NET_RAW, 0),
		  EPERM);
	MUST_FAIL("capset(effective CAP_DAC_OVERRIDE)",
		  capset_with(1u << CAP_DAC_OVERRIDE, 0, 0, 0), EPERM);
	/* Setting the empty sets again is allowed (no gain): the call itself works. */
	if (capset_with(0, 0, 0, 0) != 0)
		printf("note: capset(empty) failed: %s\n", en(errno));
	MUST_FAIL("prctl(PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN)",
		  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0), EPERM);
	MUST_FAIL("prctl(PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE)",
		  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0), EPERM);
	long sb = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	printf("securebits: %#lx\n", sb);
	MUST_FAIL("prctl(PR_SET_SECUREBITS, 0)", prctl(PR_SET_SECUREBITS, 0, 0, 0, 0), EPERM);
	if (sb >= 0 && (sb & SECBIT_KEEP_CAPS_LOCKED))
		MUST_FAIL("prctl(PR_SET_KEEPCAPS, 1)", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), EPERM);
	int last = 40, in_bset = 0;
	for (int c = 0; c <= 63; c++) {
		long r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (r < 0) {
			last = c - 1;
			break;
		}
		if (r == 1) {
			in_bset++;
			printf("capability %d is in the bounding set\n", c);
		}
	}
	if (in_bset)
		escaped("%d capabilities in the bounding set", in_bset);
	else
		stopped("PR_CAPBSET_READ: none of capabilities 0..%d in the bounding set", last);
	status_caps();
	return finish("priv_state caps");
}

/* The state a child sees after execve: exit 0 if nnp and seccomp are both on. */
static int nnp_child(void)
{
	long nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	long mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
	printf("after execve: no_new_privs %ld, seccomp mode %ld\n", nnp, mode);
	return nnp == 1 && mode == 2 ? 0 : 1;
}

static int nnp(const char *self)
{
	long v = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	printf("no_new_privs: %ld, seccomp mode: %ld\n", v, (long)prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
	if (v != 1)
		escaped("no_new_privs is %ld at start", v);
	MUST_FAIL("prctl(PR_SET_NO_NEW_PRIVS, 0)", prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), EINVAL);
	v = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	if (v == 1)
		stopped("PR_GET_NO_NEW_PRIVS still 1");
	else
		escaped("PR_GET_NO_NEW_PRIVS is %ld", v);
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int nnp_line = 0, seccomp_line = 0;
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (strcmp(line, "NoNewPrivs:\t1") == 0)
			nnp_line = 1;
		if (strcmp(line, "Seccomp:\t2") == 0)
			seccomp_line = 1;
	}
	if (f)
		fclose(f);
	if (nnp_line && seccomp_line)
		stopped("/proc/self/status: NoNewPrivs 1, Seccomp 2");
	else
		escaped("/proc/self/status: NoNewPrivs line %s, Seccomp 2 line %s",
			nnp_line ? "1" : "not 1", seccomp_line ? "present" : "absent");

	/* A permissive filter of our own: allowed, but filters stack. */
	struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_fprog prog = {1, allow};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
	printf("seccomp(SET_MODE_FILTER, allow all): %s\n", r == 0 ? "installed" : en(errno));
	MUST_FAIL("unshare(CLONE_NEWUSER) under an allow-all filter of our own",
		  unshare(CLONE_NEWUSER), EPERM);
	MUST_FAIL("prctl(PR_SET_SECCOMP, SECCOMP_MODE_DISABLED)",
		  prctl(PR_SET_SECCOMP, SECCOMP_MODE_DISABLED, 0, 0, 0), EINVAL);

	pid_t p = fork();
	if (p < 0) {
		unexpected("fork: %s", en(errno));
	} else if (p == 0) {
		char *argv[] = {(char *)self, "nnp-child", NULL};
		execv(self, argv);
		_exit(127);
	} else {
		int st;
		waitpid(p, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			stopped("no_new_privs and seccomp survive execve");
		else
			escaped("after execve the child lost no_new_privs or seccomp (status %#x)",
				st);
	}
	return finish("priv_state nnp");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "caps") == 0)
		return caps();
	if (strcmp(mode, "nnp") == 0)
		return nnp(argv[0]);
	if (strcmp(mode, "nnp-child") == 0)
		return nnp_child();
	printf("UNEXPECTED: unknown mode %s\n", mode);
	return 1;
}
