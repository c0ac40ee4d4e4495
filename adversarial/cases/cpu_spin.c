/*
 * cpu_spin: burn CPU forever, ignoring SIGXCPU (the RLIMIT_CPU warning) and
 * SIGTERM. Only the supervisor's CPU watchdog can end it: verdict TLE.
 */
#include "adv.h"
#include <signal.h>

int main(void)
{
	signal(SIGXCPU, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	printf("spinning\n");
	volatile unsigned long x = 0;
	for (;;)
		x++;
	printf("ESCAPED: the spin loop ended\n");
	return 1;
}
