/*
 * kexec: replace the running kernel. kexec_load with a segment list and
 * kexec_file_load with a kernel image (here /box/payload itself: the call is
 * stopped long before the image is parsed). Loaded, the next reboot (or crash)
 * boots code of the attacker's choosing on the host.
 *
 * kexec filtered: the default seccomp profile answers ENOSYS; a kernel built
 * without CONFIG_KEXEC answers ENOSYS too, so the probe of kernel_surface.h is
 * what proves that the filter gave it.
 * kexec unfiltered: with --seccomp=off, EPERM (no CAP_SYS_BOOT); or ENOSYS when the
 * kernel has no kexec at all, accepted only when the configuration (or
 * /proc/kallsyms) says so.
 */
#include "kernel_surface.h"
#include <linux/kexec.h>

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "filtered") && strcmp(argv[1], "unfiltered"))) {
		printf("usage: kexec filtered|unfiltered\n");
		return 2;
	}
	int filtered = !strcmp(argv[1], "filtered");
	seccomp_is(filtered ? 2 : 0);
	show_sysctl("kernel/kexec_load_disabled");
	int no_load = kernel_lacks("CONFIG_KEXEC", "__x64_sys_kexec_load");
	int no_file = kernel_lacks("CONFIG_KEXEC_FILE", "__x64_sys_kexec_file_load");
	if (filtered && (no_load == 1 || no_file == 1))
		printf("note: without the filter this kernel would also answer ENOSYS; the "
		       "probes below tell the filter's answer from the kernel's\n");

	/* One segment of a page of zeroes at 16 MiB; entry at its start. */
	static char image[4096];
	struct kexec_segment seg = {
		.buf = image, .bufsz = sizeof image, .mem = (void *)0x1000000, .memsz = 4096};
#define KEXEC_LOAD() syscall(SYS_kexec_load, 0x1000000UL, 1UL, &seg, KEXEC_ARCH_DEFAULT)
	if (filtered)
		MUST_FAIL("kexec_load(1 segment)", KEXEC_LOAD(), ENOSYS);
	else if (no_load == 1)
		MUST_FAIL("kexec_load(1 segment) (no kexec in this kernel)", KEXEC_LOAD(), ENOSYS);
	else
		MUST_FAIL("kexec_load(1 segment)", KEXEC_LOAD(), EPERM);

	int fd = open("/box/payload", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		printf("open /box/payload: %s\n", en(errno));
#define KEXEC_FILE_LOAD() syscall(SYS_kexec_file_load, fd, -1, 1UL, "", KEXEC_FILE_NO_INITRAMFS)
	if (filtered)
		MUST_FAIL("kexec_file_load(/box/payload)", KEXEC_FILE_LOAD(), ENOSYS);
	else if (no_file == 1)
		MUST_FAIL("kexec_file_load(/box/payload) (no kexec_file in this kernel)",
			  KEXEC_FILE_LOAD(), ENOSYS);
	else
		MUST_FAIL("kexec_file_load(/box/payload)", KEXEC_FILE_LOAD(), EPERM);

	if (filtered) {
		FILTER_ANSWERS("kexec_load probe", SYS_kexec_load, ENOSYS, 0x1000000L, 1,
			       (long)&seg, KEXEC_ARCH_DEFAULT);
		FILTER_ANSWERS("kexec_file_load probe", SYS_kexec_file_load, ENOSYS, fd, -1, 1,
			       (long)"", KEXEC_FILE_NO_INITRAMFS);
	}
	return finish("kexec");
}
