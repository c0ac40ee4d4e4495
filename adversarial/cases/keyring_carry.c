/*
 * keyring_carry plant|look: keys as a channel between runs of one box. "plant"
 * (run with keyctl allowed: --syscalls=16) adds a key holding a message to the box
 * uid's user keyring and to its session keyring; "look" (the next run, same box)
 * must find the user keyring empty and the session keyring a new one. Also: the
 * session keyring the caller had (the runner joins one holding {host_secret}) must
 * not be the box's.
 */
#include "adv.h"
#include <linux/keyctl.h>
#include <sys/syscall.h>

static long keyctl(long op, long a, long b, long c)
{
	return syscall(SYS_keyctl, op, a, b, c, 0);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		printf("usage: keyring_carry plant|look\n");
		return 2;
	}
	if (!strcmp(argv[1], "plant")) {
		long k = syscall(SYS_add_key, "user", "carry", "left by the last run", 20,
				 KEY_SPEC_USER_KEYRING);
		long s = syscall(SYS_add_key, "user", "carry-session", "left in the session", 19,
				 KEY_SPEC_SESSION_KEYRING);
		printf("planted: user key %ld, session key %ld\n", k, s);
		if (k < 0 || s < 0) {
			printf("UNEXPECTED: add_key failed: %s\n", en(errno));
			return 1;
		}
		return 0;
	}
	char buf[4096];
	long n = keyctl(KEYCTL_READ, KEY_SPEC_USER_KEYRING, (long)buf, sizeof buf);
	if (n < 0)
		unexpected("read the user keyring: %s", en(errno));
	else if (n == 0)
		stopped("user keyring: empty (nothing left by the last run)");
	else
		escaped("user keyring holds %ld key(s) from an earlier run", n / 4);
	n = keyctl(KEYCTL_READ, KEY_SPEC_SESSION_KEYRING, (long)buf, sizeof buf);
	if (n < 0)
		unexpected("read the session keyring: %s", en(errno));
	else if (n == 0)
		stopped("session keyring: a new, empty one");
	else
		escaped("session keyring holds %ld key(s): inherited", n / 4);
	long id = syscall(SYS_request_key, "user", "judge-secret", NULL, 0);
	if (id >= 0) {
		n = keyctl(KEYCTL_READ, id, (long)buf, sizeof buf - 1);
		buf[n > 0 ? n : 0] = 0;
		escaped("the caller's key judge-secret is reachable: %s", buf);
	} else {
		stopped("request_key(judge-secret): %s", en(errno));
	}
	return finish("keyring_carry");
}
