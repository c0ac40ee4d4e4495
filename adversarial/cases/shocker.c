/*
 * shocker: the 2014 Docker escape. open_by_handle_at opens a file from a handle
 * that names its inode, without any path: a handle for the root directory of the
 * filesystem under a bind mount (ext4: inode 2, the handle is easy to forge)
 * opens it from inside the bind mount, and from there any file of that
 * filesystem. name_to_handle_at produces genuine handles to start from.
 *
 * shocker filtered: the default seccomp profile answers ENOSYS to both calls.
 * shocker unfiltered: with --seccomp=off, open_by_handle_at needs
 * CAP_DAC_READ_SEARCH (or, since 6.10, CAP_SYS_ADMIN over the mount for
 * directories): EPERM for the forged handles and for a genuine one.
 * name_to_handle_at works there, and that is harmless on its own: it only names a
 * file the program can already see.
 */
#include "kernel_surface.h"

/* Room for a file handle of up to 128 bytes. */
struct handle {
	struct file_handle fh;
	unsigned char f_handle[128];
};

/* A handle of type `type` naming inode `ino`, generation `gen`. */
static void forge(struct handle *h, int type, unsigned ino, unsigned gen)
{
	memset(h, 0, sizeof *h);
	h->fh.handle_bytes = 8;
	h->fh.handle_type = type; /* FILEID_INO32_GEN: ext2/3/4, tmpfs */
	memcpy(h->f_handle, &ino, 4);
	memcpy(h->f_handle + 4, &gen, 4);
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "filtered") && strcmp(argv[1], "unfiltered"))) {
		printf("usage: shocker filtered|unfiltered\n");
		return 2;
	}
	int filtered = !strcmp(argv[1], "filtered");
	seccomp_is(filtered ? 2 : 0);
	int want = filtered ? ENOSYS : EPERM;

	struct handle real = {.fh.handle_bytes = 128};
	int mount_id = -1;
#define NAME_TO_HANDLE() syscall(SYS_name_to_handle_at, AT_FDCWD, "/box/payload", &real, &mount_id, 0)
	long r;
	if (filtered) {
		MUST_FAIL("name_to_handle_at(/box/payload)", r = NAME_TO_HANDLE(), ENOSYS);
	} else if ((r = NAME_TO_HANDLE()) == 0) {
		printf("name_to_handle_at(/box/payload): ok (type %d, %u bytes, mount %d): "
		       "harmless alone\n",
		       real.fh.handle_type, real.fh.handle_bytes, mount_id);
	} else {
		printf("name_to_handle_at(/box/payload): %s\n", en(errno));
	}

	/* The mount to decode in: /box (a bind mount of a host directory), and /.
	 * Under Landlock no program may open /, which no rule covers (EACCES): the
	 * attack on its mount stops there, before the handle. */
	int box = open("/box", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int root_errno = errno;
	if (box < 0)
		unexpected("open /box: %s", en(errno));
	struct handle h;
	char what[128];
	static const unsigned inodes[] = {2, 1, 128};
	for (size_t i = 0; i < sizeof inodes / sizeof inodes[0]; i++) {
		forge(&h, 1, inodes[i], 0);
		snprintf(what, sizeof what, "open_by_handle_at(/box, forged inode %u, O_DIRECTORY)",
			 inodes[i]);
		long fd;
		MUST_FAIL(what, fd = syscall(SYS_open_by_handle_at, box, &h, O_RDONLY | O_DIRECTORY),
			  want);
		if (fd >= 0) {
			char link[64], path[256] = "";
			snprintf(link, sizeof link, "/proc/self/fd/%ld", fd);
			ssize_t n = readlink(link, path, sizeof path - 1);
			printf("  opened %s\n", n > 0 ? path : "?");
			close((int)fd);
		}
	}
	forge(&h, 1, 2, 0);
	if (root < 0 && root_errno == EACCES)
		stopped("open(/) for open_by_handle_at: EACCES (Landlock: no rule covers /)");
	else if (root < 0)
		unexpected("open /: %s", en(root_errno));
	else
		MUST_FAIL("open_by_handle_at(/, forged inode 2, O_DIRECTORY)",
			  syscall(SYS_open_by_handle_at, root, &h, O_RDONLY | O_DIRECTORY), want);
	if (!filtered && r == 0)
		MUST_FAIL("open_by_handle_at(/box, genuine handle of /box/payload)",
			  syscall(SYS_open_by_handle_at, box, &real, O_RDONLY), want);
	if (filtered) {
		FILTER_ANSWERS("name_to_handle_at probe", SYS_name_to_handle_at, ENOSYS, AT_FDCWD,
			       (long)"/box/payload", (long)&real, (long)&mount_id, 0);
		FILTER_ANSWERS("open_by_handle_at probe", SYS_open_by_handle_at, ENOSYS, box,
			       (long)&h, O_RDONLY | O_DIRECTORY);
	}
	return finish("shocker");
}
