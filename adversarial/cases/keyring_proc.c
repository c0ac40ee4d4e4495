/*
 * keyring_proc: the keys the program can reach without keyctl. A process inherits
 * its parent's session keyring across fork, exec and setuid, and possession
 * grants the possessor rights whoever owns the keys: a judge with a session
 * keyring of its own (pam_keyinit, systemd's KeyringMode=private, keyctl session)
 * would pass it into the box. keyring_seccomp shows keyctl is closed; /proc/keys
 * is not a system call and lists every key the reader possesses or may view.
 *
 *   keyring_proc filtered    keyctl on the session keyring (describe, read): ENOSYS;
 *                            /proc/keys must list no key of another uid;
 *   keyring_proc unfiltered  --seccomp=off, keyctl open: the session keyring the
 *                            program gets must be its own user's, and /proc/keys
 *                            must list no key of another uid.
 * /proc/key-users (every user's key counts, readable by anyone) is printed.
 */
#include "kernel_surface.h"
#include <linux/keyctl.h>

/* Lines of /proc/keys (id flags usage timeout perm uid gid type description). */
static void proc_keys(void)
{
	FILE *f = fopen("/proc/keys", "r");
	if (!f) {
		printf("/proc/keys: %s\n", en(errno));
		stopped("/proc/keys: no key of another uid (not readable: %s)", en(errno));
		return;
	}
	char line[512];
	int others = 0, own = 0;
	while (fgets(line, sizeof line, f)) {
		unsigned uid;
		if (sscanf(line, "%*s %*s %*s %*s %*s %u", &uid) != 1)
			continue;
		line[strcspn(line, "\n")] = 0;
		if (uid == getuid()) {
			own++;
			printf("/proc/keys (own): %s\n", line);
		} else {
			others++;
			escaped("/proc/keys shows a key of uid %u: %s", uid, line);
		}
	}
	fclose(f);
	if (!others)
		stopped("/proc/keys: no key of another uid (%d of the box user's own)", own);
}

static void key_users(void)
{
	FILE *f = fopen("/proc/key-users", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f))
		printf("/proc/key-users: %s", line);
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "filtered") && strcmp(argv[1], "unfiltered"))) {
		printf("usage: keyring_proc filtered|unfiltered\n");
		return 2;
	}
	int filtered = !strcmp(argv[1], "filtered");
	seccomp_is(filtered ? 2 : 0);
	char desc[256] = "";
	if (filtered) {
		MUST_FAIL("keyctl(DESCRIBE, session keyring)",
			  syscall(SYS_keyctl, KEYCTL_DESCRIBE, KEY_SPEC_SESSION_KEYRING, desc,
				  sizeof desc),
			  ENOSYS);
		MUST_FAIL("keyctl(READ, session keyring)",
			  syscall(SYS_keyctl, KEYCTL_READ, KEY_SPEC_SESSION_KEYRING, desc,
				  sizeof desc),
			  ENOSYS);
		MUST_FAIL("keyctl(SEARCH, session keyring, user)",
			  syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user",
				  "secret", 0),
			  ENOSYS);
	} else {
		/* Without creating one: the inherited session keyring, else the user's. */
		long id = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
		long n = id < 0 ? -1
			       : syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof desc - 1);
		unsigned uid = 0;
		if (id < 0 || n < 0) {
			stopped("session keyring: %s", en(errno));
		} else if (sscanf(desc, "%*[^;];%u;", &uid) == 1 && uid == getuid()) {
			stopped("session keyring %lx is the box user's own: %s", id, desc);
		} else {
			escaped("the program possesses session keyring %lx of another user: %s",
				id, desc);
			int32_t keys[64];
			long len = syscall(SYS_keyctl, KEYCTL_READ, id, keys, sizeof keys);
			for (long i = 0; len > 0 && i < len / 4 && i < 64; i++) {
				char d[256] = "", payload[128] = "";
				syscall(SYS_keyctl, KEYCTL_DESCRIBE, keys[i], d, sizeof d - 1);
				long p = syscall(SYS_keyctl, KEYCTL_READ, keys[i], payload,
						 sizeof payload - 1);
				printf("  key %x: %s: %s%s\n", keys[i], d,
				       p >= 0 ? "read: " : en(errno), p >= 0 ? payload : "");
			}
		}
	}
	proc_keys();
	key_users();
	return finish("keyring_proc");
}
