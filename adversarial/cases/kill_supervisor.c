/*
 * kill_supervisor: run by the runner's "kill_supervisor" special case. The
 * program spreads out, trying to outlive its sandbox: a plain sleeper, a child
 * that ignores every catchable signal, and a daemon (fork, setsid, fork again,
 * reparented away from us). When all are up it creates /box/started and sleeps.
 * The runner then SIGKILLs the supervisor (rustbox --run) and checks that no
 * process of the box uid is left.
 */
#include "adv.h"
#include <fcntl.h>
#include <signal.h>

static void sleeper(void)
{
	for (;;)
		pause();
}

int main(void)
{
	if (fork() == 0)
		sleeper();
	if (fork() == 0) {
		for (int s = 1; s < 32; s++)
			signal(s, SIG_IGN);
		sleeper();
	}
	int ready[2];
	if (pipe(ready) < 0)
		return 2;
	if (fork() == 0) {
		setsid();
		if (fork() == 0) {
			close(ready[0]);
			write(ready[1], "d", 1);
			close(ready[1]);
			for (int s = 1; s < 32; s++)
				signal(s, SIG_IGN);
			sleeper();
		}
		_exit(0);
	}
	close(ready[1]);
	char c;
	if (read(ready[0], &c, 1) != 1) {
		printf("the daemon did not start\n");
		return 2;
	}
	int fd = open("/box/started", O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);
	printf("started\n");
	sleeper();
}
