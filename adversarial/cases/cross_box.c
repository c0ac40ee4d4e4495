/*
 * cross_box MODE [ARG]: reach what other boxes or the host share with us.
 *
 *   shm MARKER  the runner created MARKER in the host's /dev/shm: the box's /dev/shm
 *               is a fresh tmpfs (empty, ours), MARKER is absent there (open,
 *               shm_open: ENOENT). We write MARKER.box into it; the runner checks
 *               that it does not appear in the host's /dev/shm.
 *   locks       inode locks on files every box shares read-only (/bin/sh, libc,
 *               /dev/null): a covert channel between boxes, or a way to block a
 *               host program that locks them. flock, fcntl F_SETLK/F_SETLKW/
 *               F_OFD_SETLK/F_OFD_SETLKW/F_SETLEASE and lockf: ENOLCK (seccomp,
 *               --syscalls flag 4), also with junk in the upper half of the command.
 *   sysv KEY    the runner created a SysV shared memory segment, message queue and
 *               semaphore set under KEY (mode 0666) on the host: shmget, msgget,
 *               semget of KEY fail with ENOENT (the box has its own IPC namespace),
 *               the *_STAT enumerations find nothing, /proc/sysvipc lists nothing,
 *               and KEY can be created afresh (IPC_EXCL) inside the box.
 *   vsock       AF_VSOCK reaches the hypervisor host (CID 2) whatever the network
 *               namespace: socket(AF_VSOCK) of every type EAFNOSUPPORT (also with
 *               junk in the upper half of the family), socketpair refused, and no
 *               /dev/vsock.
 */
#include "adv.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static int do_shm(const char *marker)
{
	if (!marker || !*marker) {
		unexpected("no marker name given");
		return finish("cross_box shm");
	}
	struct statfs sf;
	struct stat st;
	if (statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC &&
	    stat("/dev/shm", &st) == 0 && st.st_uid == getuid())
		stopped("/dev/shm is a tmpfs of our own (uid %u, mode %o)", st.st_uid,
			st.st_mode & 07777);
	else
		escaped("/dev/shm is not a tmpfs owned by the box user");
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			n++;
			printf("/dev/shm holds %s\n", e->d_name);
		}
	if (d)
		closedir(d);
	if (!d)
		unexpected("opendir /dev/shm: %s", en(errno));
	else if (n)
		escaped("/dev/shm is not empty at start: %d entries", n);
	else
		stopped("/dev/shm is empty at start");
	char path[512], what[600];
	snprintf(path, sizeof path, "/dev/shm/%s", marker);
	snprintf(what, sizeof what, "open %s (the host's marker)", path);
	MUST_FAIL(what, open(path, O_RDONLY), ENOENT);
	snprintf(path, sizeof path, "/%s", marker);
	snprintf(what, sizeof what, "shm_open(%s)", path);
	MUST_FAIL(what, shm_open(path, O_RDONLY, 0), ENOENT);
	snprintf(path, sizeof path, "/dev/shm/%s.box", marker);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "written by the box\n", 19) != 19)
		unexpected("create %s: %s", path, en(errno));
	else
		printf("wrote %s (the runner looks for it on the host)\n", path);
	if (fd >= 0)
		close(fd);
	return finish("cross_box shm");
}

static int do_locks(void)
{
	static const char *files[] = {"/bin/sh", "/lib/x86_64-linux-gnu/libc.so.6",
				      "/usr/bin/env", "/dev/null"};
	char what[160];
	int tried = 0;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		int fd = open(files[i], O_RDONLY);
		if (fd < 0) {
			printf("%s: %s (skipped)\n", files[i], en(errno));
			continue;
		}
		tried++;
		const char *f = files[i];
		snprintf(what, sizeof what, "flock(%s, LOCK_SH)", f);
		MUST_FAIL(what, flock(fd, LOCK_SH), ENOLCK);
		snprintf(what, sizeof what, "flock(%s, LOCK_EX | LOCK_NB)", f);
		MUST_FAIL(what, flock(fd, LOCK_EX | LOCK_NB), ENOLCK);
		struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
		snprintf(what, sizeof what, "fcntl(%s, F_SETLK, F_RDLCK)", f);
		MUST_FAIL(what, fcntl(fd, F_SETLK, &fl), ENOLCK);
		snprintf(what, sizeof what, "fcntl(%s, F_SETLKW, F_RDLCK)", f);
		MUST_FAIL(what, fcntl(fd, F_SETLKW, &fl), ENOLCK);
		snprintf(what, sizeof what, "fcntl(%s, F_OFD_SETLK, F_RDLCK)", f);
		MUST_FAIL(what, fcntl(fd, F_OFD_SETLK, &fl), ENOLCK);
		snprintf(what, sizeof what, "fcntl(%s, F_OFD_SETLKW, F_RDLCK)", f);
		MUST_FAIL(what, fcntl(fd, F_OFD_SETLKW, &fl), ENOLCK);
		snprintf(what, sizeof what, "fcntl(%s, F_SETLEASE, F_RDLCK)", f);
		MUST_FAIL(what, fcntl(fd, F_SETLEASE, F_RDLCK), ENOLCK);
		snprintf(what, sizeof what, "fcntl(%s, F_SETLK | 1 << 32) (raw)", f);
		MUST_FAIL(what, syscall(SYS_fcntl, fd, (1UL << 32) | F_SETLK, &fl), ENOLCK);
		if (lockf(fd, F_TEST, 0) == 0)
			printf("%s: no lock held by anyone (F_TEST reads only)\n", f);
		close(fd);
	}
	int fd = open("/bin/sh", O_RDWR);
	if (fd >= 0)
		escaped("/bin/sh opened read-write");
	else
		printf("lockf needs a writable descriptor: open /bin/sh O_RDWR: %s\n", en(errno));
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		MUST_FAIL("lockf(/dev/null, F_TLOCK)", lockf(fd, F_TLOCK, 0), ENOLCK);
		close(fd);
	}
	if (tried < 3)
		unexpected("only %d shared files to lock", tried);
	return finish("cross_box locks");
}

static int do_sysv(const char *arg)
{
	key_t key = arg ? (key_t)strtol(arg, NULL, 0) : 0;
	if (key == 0) {
		unexpected("no SysV key given");
		return finish("cross_box sysv");
	}
	printf("host SysV key: %#x\n", (unsigned)key);
	MUST_FAIL("shmget(host key, 0, 0)", shmget(key, 0, 0), ENOENT);
	MUST_FAIL("msgget(host key, 0)", msgget(key, 0), ENOENT);
	MUST_FAIL("semget(host key, 0, 0)", semget(key, 0, 0), ENOENT);
	MUST_FAIL("shmget(host key, 4096, 0666)", shmget(key, 4096, 0666), ENOENT);

	/* Enumerate by index, as ipcs does. */
	int found = 0;
	for (int i = 0; i < 1024; i++) {
		struct shmid_ds s;
		struct msqid_ds m;
		struct semid_ds se;
		union {
			int val;
			struct semid_ds *buf;
		} u = {.buf = &se};
		if (shmctl(i, SHM_STAT, &s) >= 0)
			found++, printf("SHM_STAT %d: key %#x\n", i, (unsigned)s.shm_perm.__key);
		if (msgctl(i, MSG_STAT, &m) >= 0)
			found++, printf("MSG_STAT %d: key %#x\n", i, (unsigned)m.msg_perm.__key);
		if (semctl(i, 0, SEM_STAT, u) >= 0)
			found++, printf("SEM_STAT %d: key %#x\n", i, (unsigned)se.sem_perm.__key);
	}
	if (found)
		escaped("SHM_STAT/MSG_STAT/SEM_STAT found %d objects", found);
	else
		stopped("SHM_STAT, MSG_STAT, SEM_STAT of indexes 0..1023: nothing");
	static const char *lists[] = {"/proc/sysvipc/shm", "/proc/sysvipc/msg",
				      "/proc/sysvipc/sem"};
	for (size_t i = 0; i < 3; i++) {
		FILE *f = fopen(lists[i], "r");
		if (!f) {
			must_fail_(lists[i], -1, errno, (const int[]){0, ENOENT}, 2);
			continue;
		}
		char line[1024];
		int lines = 0;
		while (fgets(line, sizeof line, f))
			if (lines++ > 0)
				printf("%s: %s", lists[i], line);
		fclose(f);
		if (lines > 1)
			escaped("%s lists %d objects", lists[i], lines - 1);
		else
			stopped("%s lists nothing", lists[i]);
	}
	/* The key is free here: the box's IPC namespace is its own. */
	int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
	if (id >= 0) {
		stopped("shmget(host key, IPC_CREAT | IPC_EXCL) made a new segment: own "
			"IPC namespace");
		shmctl(id, IPC_RMID, NULL);
	} else if (errno == EEXIST) {
		escaped("shmget(host key, IPC_EXCL): EEXIST, the host's segment is here");
	} else {
		unexpected("shmget(host key, IPC_CREAT | IPC_EXCL): %s", en(errno));
	}
	id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
	if (id >= 0) {
		stopped("msgget(host key, IPC_CREAT | IPC_EXCL) made a new queue");
		msgctl(id, IPC_RMID, NULL);
	} else {
		escaped("msgget(host key, IPC_CREAT | IPC_EXCL): %s", en(errno));
	}
	return finish("cross_box sysv");
}

static int do_vsock(void)
{
	static const struct {
		int type;
		const char *name;
	} types[] = {{SOCK_STREAM, "SOCK_STREAM"},
		     {SOCK_DGRAM, "SOCK_DGRAM"},
		     {SOCK_SEQPACKET, "SOCK_SEQPACKET"}};
	char what[96];
	for (size_t i = 0; i < 3; i++) {
		snprintf(what, sizeof what, "socket(AF_VSOCK, %s)", types[i].name);
		int s = socket(AF_VSOCK, types[i].type, 0);
		if (s >= 0) {
			/* struct sockaddr_vm: family, reserved, port, cid (2: the host) */
			struct {
				unsigned short family, reserved;
				unsigned port, cid;
				unsigned char zero[4];
			} host = {AF_VSOCK, 0, 1024, 2, {0}};
			int c = connect(s, (struct sockaddr *)&host, sizeof host);
			escaped("%s succeeded; connect to CID 2: %s", what, c == 0 ? "ok" : en(errno));
			close(s);
			continue;
		}
		must_fail_(what, -1, errno, (const int[]){0, EAFNOSUPPORT}, 2);
	}
	MUST_FAIL("socket(AF_VSOCK | 1 << 32) (raw)",
		  syscall(SYS_socket, (1UL << 32) | AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT);
	int sv[2];
	MUST_FAIL("socketpair(AF_VSOCK)", socketpair(AF_VSOCK, SOCK_STREAM, 0, sv), EAFNOSUPPORT,
		  EOPNOTSUPP);
	MUST_FAIL("open /dev/vsock", open("/dev/vsock", O_RDWR), ENOENT);
	MUST_FAIL("open /dev/vhost-vsock", open("/dev/vhost-vsock", O_RDWR), ENOENT);
	return finish("cross_box vsock");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	const char *arg = argc > 2 ? argv[2] : NULL;
	if (strcmp(mode, "shm") == 0)
		return do_shm(arg);
	if (strcmp(mode, "locks") == 0)
		return do_locks();
	if (strcmp(mode, "sysv") == 0)
		return do_sysv(arg);
	if (strcmp(mode, "vsock") == 0)
		return do_vsock();
	printf("UNEXPECTED: unknown mode %s\n", mode);
	return 1;
}
