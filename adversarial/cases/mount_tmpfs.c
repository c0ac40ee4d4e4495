/*
 * mount_tmpfs: change the box's mount table without privileges: mount a tmpfs,
 * remount /usr read-write, bind /box over /bin, unmount /proc, pivot_root.
 * All need CAP_SYS_ADMIN, which the program must not have.
 */
#include "adv.h"
#include <sys/mount.h>
#include <sys/syscall.h>

int main(void)
{
	MUST_FAIL("mount tmpfs on /tmp", mount("none", "/tmp", "tmpfs", 0, "size=1m"), EPERM);
	MUST_FAIL("mount tmpfs on /box", mount("none", "/box", "tmpfs", 0, NULL), EPERM);
	MUST_FAIL("remount /usr rw", mount(NULL, "/usr", NULL, MS_REMOUNT | MS_BIND, NULL),
		  EPERM);
	MUST_FAIL("bind /box over /bin", mount("/box", "/bin", NULL, MS_BIND, NULL), EPERM);
	MUST_FAIL("umount /proc", umount2("/proc", MNT_DETACH), EPERM);
	MUST_FAIL("pivot_root", syscall(SYS_pivot_root, "/box", "/box"), EPERM);
	MUST_FAIL("fsopen(tmpfs)", syscall(SYS_fsopen, "tmpfs", 0), EPERM);
	MUST_FAIL("open_tree(/, OPEN_TREE_CLONE)", syscall(SYS_open_tree, -100, "/", 1), EPERM);
	MUST_FAIL("chroot(/box)", chroot("/box"), EPERM);
	return finish("mount_tmpfs");
}
