/*
 * process_peek: reach into another process of the same uid: the program's own
 * child, which holds a secret in memory and an open descriptor. Without the
 * filter the kernel allows all of it (same uid, dumpable, no Yama in the way), so
 * the filter is the only defense and the answers prove it.
 *
 *   process_peek vm           process_vm_readv of the child's secret and
 *                             process_vm_writev over it: ENOSYS;
 *   process_peek pidfd_getfd  pidfd_open of the child works, pidfd_getfd of its
 *                             descriptor: ENOSYS;
 *   process_peek kcmp         kcmp of the two processes' memory and descriptors
 *                             (an oracle on kernel pointers, and an old source of
 *                             bugs): ENOSYS.
 */
#include "kernel_surface.h"
#include <linux/kcmp.h>
#include <sys/uio.h>

#define SECRET "child-secret-7f3a"
#define CHILD_FD 42

static char secret[64];

int main(int argc, char **argv)
{
	const char *mode = argc == 2 ? argv[1] : "";
	if (strcmp(mode, "vm") && strcmp(mode, "pidfd_getfd") && strcmp(mode, "kcmp")) {
		printf("usage: process_peek vm|pidfd_getfd|kcmp\n");
		return 2;
	}
	seccomp_is(2);
	int ready[2], hold[2];
	if (pipe(ready) || pipe(hold)) {
		unexpected("pipe: %s", en(errno));
		return finish("process_peek");
	}
	pid_t child = fork();
	if (child < 0) {
		unexpected("fork: %s", en(errno));
		return finish("process_peek");
	}
	if (child == 0) {
		/* The secret lives at the same address as the parent's (zeroed) copy. */
		strcpy(secret, SECRET);
		int fd = open("/box/payload", O_RDONLY);
		if (fd >= 0 && fd != CHILD_FD)
			dup2(fd, CHILD_FD);
		close(ready[0]);
		close(hold[1]);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		char c;
		while (read(hold[0], &c, 1) > 0)
			;
		/* Tell the parent whether its write reached us. */
		_exit(strcmp(secret, SECRET) == 0 ? 0 : 3);
	}
	close(ready[1]);
	close(hold[0]);
	char c;
	if (read(ready[0], &c, 1) != 1)
		unexpected("the child never got ready");
	printf("child %d holds \"%s\" at %p and fd %d\n", (int)child, SECRET, (void *)secret,
	       CHILD_FD);

	if (!strcmp(mode, "vm")) {
		char buf[64] = "";
		struct iovec local = {buf, sizeof buf}, remote = {secret, sizeof secret};
		long r;
		MUST_FAIL("process_vm_readv(own child)",
			  r = process_vm_readv(child, &local, 1, &remote, 1, 0), ENOSYS);
		if (r > 0)
			printf("  read \"%.*s\" from the child\n", (int)sizeof buf, buf);
		char evil[64] = "overwritten-by-parent";
		struct iovec from = {evil, sizeof evil}, to = {secret, sizeof secret};
		MUST_FAIL("process_vm_writev(own child)",
			  process_vm_writev(child, &from, 1, &to, 1, 0), ENOSYS);
		FILTER_ANSWERS("process_vm_readv probe", SYS_process_vm_readv, ENOSYS, child,
			       (long)&local, 1, (long)&remote, 1, 0);
		FILTER_ANSWERS("process_vm_writev probe", SYS_process_vm_writev, ENOSYS, child,
			       (long)&from, 1, (long)&to, 1, 0);
	} else if (!strcmp(mode, "pidfd_getfd")) {
		long pidfd = syscall(SYS_pidfd_open, child, 0);
		printf("pidfd_open(child): %s\n", pidfd >= 0 ? "ok" : en(errno));
		long fd;
		MUST_FAIL("pidfd_getfd(child's fd 42)",
			  fd = syscall(SYS_pidfd_getfd, pidfd, CHILD_FD, 0), ENOSYS);
		if (fd >= 0) {
			char link[64], path[256] = "";
			snprintf(link, sizeof link, "/proc/self/fd/%ld", fd);
			ssize_t n = readlink(link, path, sizeof path - 1);
			printf("  got the child's %s\n", n > 0 ? path : "?");
		}
		MUST_FAIL("pidfd_getfd(child's fd 1)", syscall(SYS_pidfd_getfd, pidfd, 1, 0),
			  ENOSYS);
		FILTER_ANSWERS("pidfd_getfd probe", SYS_pidfd_getfd, ENOSYS, pidfd, CHILD_FD, 0);
	} else {
		pid_t me = getpid();
		MUST_FAIL("kcmp(self, child, KCMP_VM)", syscall(SYS_kcmp, me, child, KCMP_VM, 0, 0),
			  ENOSYS);
		MUST_FAIL("kcmp(self, child, KCMP_FILE, 1, 1)",
			  syscall(SYS_kcmp, me, child, KCMP_FILE, 1, 1), ENOSYS);
		MUST_FAIL("kcmp(self, child, KCMP_FILES)",
			  syscall(SYS_kcmp, me, child, KCMP_FILES, 0, 0), ENOSYS);
		FILTER_ANSWERS("kcmp probe", SYS_kcmp, ENOSYS, me, child, KCMP_VM, 0, 0);
	}
	close(hold[1]);
	int st = 0;
	waitpid(child, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
		escaped("the child's secret was overwritten from the parent");
	return finish("process_peek");
}
