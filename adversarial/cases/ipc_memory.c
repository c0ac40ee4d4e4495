/*
 * ipc_memory MODE: hold memory outside -m (RLIMIT_AS) in SysV IPC objects, which
 * live in the kernel, not in any process's address space.
 *
 *   msg   create message queues (msgget) and fill each with 8 KiB messages until
 *         the kernel refuses; more than 1 MiB held in queues is an escape (the
 *         kernel's defaults allow 32000 queues of 16 KiB: 500 MiB). Stops at
 *         64 MiB.
 *   shm   a 1 GiB segment must be refused; then 8 MiB segments are created,
 *         attached, written and detached (they stay) until the kernel refuses;
 *         more than 32 MiB held is an escape. Stops at 256 MiB.
 *
 * The objects die with the box's IPC namespace at the end of the run.
 */
#include "adv.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>

#define MSG_BYTES 8192

struct msg {
	long type;
	char text[MSG_BYTES];
};

static int do_msg(void)
{
	static struct msg m = {.type = 1};
	memset(m.text, 'm', sizeof m.text);
	long held = 0;
	int queues = 0, err = 0;
	while (held < (64L << 20)) {
		int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
		if (q < 0) {
			err = errno;
			break;
		}
		queues++;
		while (msgsnd(q, &m, sizeof m.text, IPC_NOWAIT) == 0)
			held += sizeof m.text;
	}
	printf("%d queues, %ld KiB in messages (msgget: %s)\n", queues, held >> 10,
	       err ? en(err) : "never refused");
	if (held > (1L << 20))
		escaped("message queues hold %ld KiB of kernel memory outside -m", held >> 10);
	else
		stopped("message queues hold %ld KiB at most (%d queues, then %s)", held >> 10,
			queues, en(err));
	return finish("ipc_memory msg");
}

static int do_shm(void)
{
	MUST_FAIL("shmget(1 GiB)", shmget(IPC_PRIVATE, 1L << 30, IPC_CREAT | 0600), EINVAL);
	const long seg = 8L << 20;
	long held = 0;
	int err = 0;
	while (held < (256L << 20)) {
		int id = shmget(IPC_PRIVATE, seg, IPC_CREAT | 0600);
		if (id < 0) {
			err = errno;
			break;
		}
		char *p = shmat(id, NULL, 0);
		if (p == (void *)-1) {
			unexpected("shmat: %s", en(errno));
			return finish("ipc_memory shm");
		}
		memset(p, 's', seg);
		shmdt(p);
		held += seg;
	}
	printf("%ld MiB held in detached segments (shmget: %s)\n", held >> 20,
	       err ? en(err) : "never refused");
	if (held > (32L << 20))
		escaped("shared memory holds %ld MiB outside -m", held >> 20);
	else
		stopped("shared memory holds %ld MiB at most, then %s", held >> 20, en(err));
	return finish("ipc_memory shm");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "msg") == 0)
		return do_msg();
	if (strcmp(mode, "shm") == 0)
		return do_shm();
	printf("UNEXPECTED: unknown mode %s\n", mode);
	return 1;
}
