/*
 * ptrace_attach: take control of another process of the box. pid 1 is the
 * root-owned proxy (hidden by hidepid, not dumpable, another uid); after
 * PTRACE_TRACEME the proxy becomes our tracer, and we try to attach back to it.
 * Signals to pid 1 and reading its memory must fail too. Any attach, kill or read
 * that works is an escape.
 *
 * ptrace_attach filtered: under the default seccomp profile, ptrace and
 * process_vm_readv are answered ENOSYS by the filter itself.
 * ptrace_attach unfiltered: run with --seccomp=off, the layer below must hold:
 * another uid, a non-dumpable proxy, a pid namespace (EPERM or ESRCH).
 */
#include "adv.h"
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

/* The errnos the defense under test gives for ptrace and process_vm_readv. */
static int filtered;
#define TRACE_FAILS(what, expr)                                                        \
	do {                                                                           \
		if (filtered)                                                          \
			MUST_FAIL(what, expr, ENOSYS);                                 \
		else                                                                   \
			MUST_FAIL(what, expr, EPERM, ESRCH);                           \
	} while (0)

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "filtered") && strcmp(argv[1], "unfiltered"))) {
		printf("usage: ptrace_attach filtered|unfiltered\n");
		return 2;
	}
	filtered = !strcmp(argv[1], "filtered");
	TRACE_FAILS("ptrace(PTRACE_ATTACH, 1)", ptrace(PTRACE_ATTACH, 1, 0, 0));
	TRACE_FAILS("ptrace(PTRACE_SEIZE, 1)", ptrace(PTRACE_SEIZE, 1, 0, 0));
	MUST_FAIL("kill(1, SIGKILL)", kill(1, SIGKILL), EPERM, ESRCH);
	MUST_FAIL("kill(1, SIGSTOP)", kill(1, SIGSTOP), EPERM, ESRCH);

	/* TRACEME itself is allowed (the tracer is the proxy, which never acts on it). */
	long r = ptrace(PTRACE_TRACEME, 0, 0, 0);
	printf("ptrace(PTRACE_TRACEME): %s\n", r == 0 ? "ok" : en(errno));
	pid_t parent = getppid();
	printf("parent pid %d\n", (int)parent);
	char what[64];
	snprintf(what, sizeof what, "ptrace(PTRACE_ATTACH, parent %d)", (int)parent);
	TRACE_FAILS(what, ptrace(PTRACE_ATTACH, parent, 0, 0));
	snprintf(what, sizeof what, "kill(parent %d, 0)", (int)parent);
	MUST_FAIL(what, kill(parent, 0), EPERM, ESRCH);
	/* Read the proxy's memory (its stack, wherever: any address proves access). */
	char buf[64];
	struct iovec local = {buf, sizeof buf}, remote = {(void *)&buf, sizeof buf};
	snprintf(what, sizeof what, "process_vm_readv(parent %d)", (int)parent);
	TRACE_FAILS(what, process_vm_readv(parent, &local, 1, &remote, 1, 0));
	return finish("ptrace_attach");
}
