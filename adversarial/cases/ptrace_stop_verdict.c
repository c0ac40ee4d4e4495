/*
 * ptrace_stop_verdict: PTRACE_TRACEME makes the proxy (pid 1) our tracer; then
 * raise(SIGSTOP). A traced child's stop is reported to its tracer's wait4 even
 * without WUNTRACED. The program must not be able to turn its own verdict into
 * an internal error of the sandbox (IE / status XX, exit 2): a judge treats that
 * as a broken grader, not as the submission's fault.
 */
#include "adv.h"
#include <signal.h>
#include <sys/ptrace.h>

int main(void)
{
	long r = ptrace(PTRACE_TRACEME, 0, 0, 0);
	printf("ptrace(PTRACE_TRACEME): %s\n", r == 0 ? "ok" : en(errno));
	raise(SIGSTOP);
	printf("resumed after SIGSTOP\n");
	stopped("the stop did not end the run");
	return finish("ptrace_stop_verdict");
}
