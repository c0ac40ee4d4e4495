/*
 * admin_calls: calls that administer the host, each closed by the default seccomp
 * profile with ENOSYS. Without the filter the kernel answers most of them EPERM
 * (a missing capability), some ENOSYS (a feature this kernel lacks: then the
 * probe of kernel_surface.h is what proves the filter), and allows one to anyone
 * (fanotify). Each mode is one attack class:
 *
 *   iopl      iopl(3) and ioperm on port 0x80, then port I/O (inb): direct access
 *             to the hardware; the inb must fault (SIGSEGV);
 *   syslog    read the kernel log (kernel addresses, other users' activity):
 *             syslog(READ_ALL, SIZE_BUFFER, CONSOLE_LEVEL, CLEAR); /proc/kmsg and
 *             /dev/kmsg must not open either (a root file and an absent device);
 *   acct      acct(/box/acct): process accounting of the whole host into a file
 *             of the program;
 *   swap      swapon and swapoff of /box/swapfile;
 *   reboot    reboot(LINUX_REBOOT_CMD_CAD_OFF) (the kernel checks CAP_SYS_BOOT
 *             before the command, so a harmless command proves the same);
 *   quota     quotactl (Q_QUOTAON, Q_GETQUOTA of root) and quotactl_fd on /box;
 *   fanotify  fanotify_init: FAN_CLASS_NOTIF is allowed to anyone since 5.13
 *             (watching inodes of the box), FAN_CLASS_CONTENT needs
 *             CAP_SYS_ADMIN; only the filter stops the first;
 *   obsolete  lookup_dcookie and uselib: gone from current kernels (their own
 *             answer is ENOSYS), still closed by the filter for older ones.
 */
#include "kernel_surface.h"
#include <linux/reboot.h>
#include <sys/fanotify.h>
#include <sys/quota.h>

/* syslog(2) actions (<sys/klog.h> gives only the wrapper). */
#define SYSLOG_ACTION_CLEAR 5
#define SYSLOG_ACTION_CONSOLE_LEVEL 8
#define SYSLOG_ACTION_READ_ALL 3
#define SYSLOG_ACTION_SIZE_BUFFER 10

static long do_inb(void *arg)
{
	(void)arg;
	unsigned char v;
	__asm__ volatile("inb %w1, %0" : "=a"(v) : "Nd"((unsigned short)0x80));
	return v;
}

static void iopl_mode(void)
{
	kernel_lacks("CONFIG_X86_IOPL_IOPERM", NULL);
	MUST_FAIL("iopl(3)", syscall(SYS_iopl, 3), ENOSYS);
	MUST_FAIL("ioperm(0x80, 1, on)", syscall(SYS_ioperm, 0x80, 1, 1), ENOSYS);
	FILTER_ANSWERS("iopl probe", SYS_iopl, ENOSYS, 3);
	FILTER_ANSWERS("ioperm probe", SYS_ioperm, ENOSYS, 0x80, 1, 1);
	long v = 0;
	if (segv_guard(do_inb, NULL, &v))
		stopped("inb(0x80): SIGSEGV (no I/O permission)");
	else
		escaped("inb(0x80) read %#lx: the program has port I/O", v);
}

static void syslog_mode(void)
{
	show_sysctl("kernel/dmesg_restrict");
	static char buf[1 << 16];
	long r;
	MUST_FAIL("syslog(SYSLOG_ACTION_READ_ALL)",
		  r = syscall(SYS_syslog, SYSLOG_ACTION_READ_ALL, buf, (long)sizeof buf), ENOSYS);
	if (r > 0)
		printf("  read %ld bytes of the kernel log: %.80s\n", r, buf);
	MUST_FAIL("syslog(SYSLOG_ACTION_SIZE_BUFFER)",
		  syscall(SYS_syslog, SYSLOG_ACTION_SIZE_BUFFER, NULL, 0), ENOSYS);
	MUST_FAIL("syslog(SYSLOG_ACTION_CONSOLE_LEVEL, 8)",
		  syscall(SYS_syslog, SYSLOG_ACTION_CONSOLE_LEVEL, NULL, 8), ENOSYS);
	MUST_FAIL("syslog(SYSLOG_ACTION_CLEAR)", syscall(SYS_syslog, SYSLOG_ACTION_CLEAR, NULL, 0),
		  ENOSYS);
	FILTER_ANSWERS("syslog probe", SYS_syslog, ENOSYS, SYSLOG_ACTION_READ_ALL, (long)buf,
		       (long)sizeof buf);
	/* The same log through files: the filter does not see these, the layer below must. */
	MUST_FAIL("open(/proc/kmsg)", open("/proc/kmsg", O_RDONLY | O_NONBLOCK), EACCES, EPERM, ENOENT);
	MUST_FAIL("open(/dev/kmsg)", open("/dev/kmsg", O_RDONLY | O_NONBLOCK), ENOENT);
}

static void acct_mode(void)
{
	int fd = open("/box/acct", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	long r;
	MUST_FAIL("acct(/box/acct)", r = syscall(SYS_acct, "/box/acct"), ENOSYS);
	if (r == 0)
		syscall(SYS_acct, NULL);
	FILTER_ANSWERS("acct probe", SYS_acct, ENOSYS, (long)"/box/acct");
}

static void swap_mode(void)
{
	/* A small file of zeroes: swapon looks at the capability before the header. */
	int fd = open("/box/swapfile", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	static char page[4096];
	for (int i = 0; fd >= 0 && i < 16; i++)
		if (write(fd, page, sizeof page) != (ssize_t)sizeof page)
			break;
	if (fd >= 0)
		close(fd);
	long r;
	MUST_FAIL("swapon(/box/swapfile)", r = syscall(SYS_swapon, "/box/swapfile", 0), ENOSYS);
	if (r == 0)
		syscall(SYS_swapoff, "/box/swapfile");
	MUST_FAIL("swapoff(/box/swapfile)", syscall(SYS_swapoff, "/box/swapfile"), ENOSYS);
	FILTER_ANSWERS("swapon probe", SYS_swapon, ENOSYS, (long)"/box/swapfile", 0);
	FILTER_ANSWERS("swapoff probe", SYS_swapoff, ENOSYS, (long)"/box/swapfile");
}

static void reboot_mode(void)
{
	MUST_FAIL("reboot(LINUX_REBOOT_CMD_CAD_OFF)",
		  syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
			  LINUX_REBOOT_CMD_CAD_OFF, NULL),
		  ENOSYS);
	MUST_FAIL("reboot(bad magic)", syscall(SYS_reboot, 0, 0, LINUX_REBOOT_CMD_CAD_OFF, NULL),
		  ENOSYS);
	FILTER_ANSWERS("reboot probe", SYS_reboot, ENOSYS, LINUX_REBOOT_MAGIC1,
		       LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF, 0);
}

static void quota_mode(void)
{
	static char dqblk[256];
	MUST_FAIL("quotactl(Q_QUOTAON, /dev/vda)",
		  syscall(SYS_quotactl, QCMD(Q_QUOTAON, USRQUOTA), "/dev/vda", QFMT_VFS_V1,
			  "/box/aquota.user"),
		  ENOSYS);
	MUST_FAIL("quotactl(Q_GETQUOTA, root, /dev/vda)",
		  syscall(SYS_quotactl, QCMD(Q_GETQUOTA, USRQUOTA), "/dev/vda", 0, dqblk), ENOSYS);
	int box = open("/box", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	MUST_FAIL("quotactl_fd(/box, Q_GETQUOTA, root)",
		  syscall(SYS_quotactl_fd, box, QCMD(Q_GETQUOTA, USRQUOTA), 0, dqblk), ENOSYS);
	MUST_FAIL("quotactl_fd(/box, Q_SETQUOTA, own uid)",
		  syscall(SYS_quotactl_fd, box, QCMD(Q_SETQUOTA, USRQUOTA), getuid(), dqblk),
		  ENOSYS);
	FILTER_ANSWERS("quotactl probe", SYS_quotactl, ENOSYS, QCMD(Q_GETQUOTA, USRQUOTA),
		       (long)"/dev/vda", 0, (long)dqblk);
	FILTER_ANSWERS("quotactl_fd probe", SYS_quotactl_fd, ENOSYS, box,
		       QCMD(Q_GETQUOTA, USRQUOTA), 0, (long)dqblk);
}

static void fanotify_mode(void)
{
	long fd;
	MUST_FAIL("fanotify_init(FAN_CLASS_NOTIF)",
		  fd = syscall(SYS_fanotify_init, FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK,
			       O_RDONLY),
		  ENOSYS);
	if (fd >= 0) {
		int m = fanotify_mark((int)fd, FAN_MARK_ADD, FAN_OPEN | FAN_ACCESS, AT_FDCWD,
				      "/box");
		printf("  fanotify_mark(/box): %s\n", m == 0 ? "ok" : en(errno));
	}
	MUST_FAIL("fanotify_init(FAN_CLASS_CONTENT)",
		  syscall(SYS_fanotify_init, FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY), ENOSYS);
	MUST_FAIL("fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID)",
		  syscall(SYS_fanotify_init, FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_CLOEXEC,
			  O_RDONLY),
		  ENOSYS);
	FILTER_ANSWERS("fanotify_init probe", SYS_fanotify_init, ENOSYS,
		       FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY);
}

static void obsolete_mode(void)
{
	int no_dcookie = kernel_lacks(NULL, "__x64_sys_lookup_dcookie");
	int no_uselib = kernel_lacks("CONFIG_USELIB", "__x64_sys_uselib");
	if (no_dcookie == 1 || no_uselib == 1)
		printf("note: without the filter this kernel would answer ENOSYS too; the probes "
		       "below tell the filter's answer from the kernel's\n");
	char path[256];
	MUST_FAIL("lookup_dcookie(0)", syscall(SYS_lookup_dcookie, 0UL, path, sizeof path),
		  ENOSYS);
	MUST_FAIL("uselib(/box/payload)", syscall(SYS_uselib, "/box/payload"), ENOSYS);
	FILTER_ANSWERS("lookup_dcookie probe", SYS_lookup_dcookie, ENOSYS, 0, (long)path,
		       sizeof path);
	FILTER_ANSWERS("uselib probe", SYS_uselib, ENOSYS, (long)"/box/payload");
}

static const struct {
	const char *name;
	void (*fn)(void);
} modes[] = {
	{"iopl", iopl_mode},   {"syslog", syslog_mode},	    {"acct", acct_mode},
	{"swap", swap_mode},   {"reboot", reboot_mode},	    {"quota", quota_mode},
	{"fanotify", fanotify_mode}, {"obsolete", obsolete_mode},
};

int main(int argc, char **argv)
{
	for (size_t i = 0; argc == 2 && i < sizeof modes / sizeof modes[0]; i++) {
		if (strcmp(argv[1], modes[i].name) == 0) {
			seccomp_is(2);
			modes[i].fn();
			return finish(argv[1]);
		}
	}
	printf("usage: admin_calls iopl|syslog|acct|swap|reboot|quota|fanotify|obsolete\n");
	return 2;
}
