/*
 * setuid_root: become root or another user: setuid/setgid/setresuid/setresgid(0),
 * setgroups, setfsuid(0), and a user id of another box (first_uid + N + 1).
 * Afterwards all ids must still be the box's and the effective capability set
 * must be empty.
 */
#include "adv.h"
#include <grp.h>
#include <sys/fsuid.h>

int main(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	printf("running as uid %u gid %u\n", uid, gid);
	if (uid == 0 || gid == 0)
		escaped("the program runs as root");
	MUST_FAIL("setuid(0)", setuid(0), EPERM);
	MUST_FAIL("setgid(0)", setgid(0), EPERM);
	MUST_FAIL("setresuid(0, 0, 0)", setresuid(0, 0, 0), EPERM);
	MUST_FAIL("setresgid(0, 0, 0)", setresgid(0, 0, 0), EPERM);
	MUST_FAIL("setreuid(-1, 0)", setreuid(-1, 0), EPERM);
	MUST_FAIL("seteuid(0)", seteuid(0), EPERM);
	MUST_FAIL("setuid(another box's uid)", setuid(uid + 1), EPERM);
	gid_t g = 0;
	MUST_FAIL("setgroups([0])", setgroups(1, &g), EPERM);
	setfsuid(0);
	long fsuid = setfsuid(-1); /* returns the current fsuid */
	if (fsuid == 0)
		escaped("setfsuid(0) took effect");
	else
		stopped("setfsuid(0): fsuid still %ld", fsuid);

	uid_t r, e, s;
	gid_t gr, ge, gs;
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	printf("after: uids %u %u %u gids %u %u %u\n", r, e, s, gr, ge, gs);
	if (r != uid || e != uid || s != uid || gr != gid || ge != gid || gs != gid)
		escaped("ids changed");
	else
		stopped("all six ids unchanged");

	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f)) {
		if (strncmp(line, "CapEff:", 7) == 0 || strncmp(line, "CapPrm:", 7) == 0) {
			printf("%s", line);
			if (strtoull(line + 7, NULL, 16) != 0)
				escaped("non-empty capability set: %s", line);
		}
	}
	if (f)
		fclose(f);
	return finish("setuid_root");
}
