/*
 * modules: run code in the kernel by loading a module: init_module with an image
 * in memory, finit_module on an open descriptor (here /box/payload, an ELF file
 * the program controls), and unload one with delete_module.
 *
 * modules filtered: the default seccomp profile answers ENOSYS; a kernel built
 * without CONFIG_MODULES answers ENOSYS too, so the probe of kernel_surface.h is
 * what proves that the filter gave it.
 * modules unfiltered: with --seccomp=off, EPERM (no CAP_SYS_MODULE); or ENOSYS
 * when the kernel has no module loader, accepted only when the configuration (or
 * /proc/kallsyms) says so.
 */
#include "kernel_surface.h"

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "filtered") && strcmp(argv[1], "unfiltered"))) {
		printf("usage: modules filtered|unfiltered\n");
		return 2;
	}
	int filtered = !strcmp(argv[1], "filtered");
	seccomp_is(filtered ? 2 : 0);
	show_sysctl("kernel/modules_disabled");
	int none = kernel_lacks("CONFIG_MODULES", "__x64_sys_init_module");
	int want = filtered || none == 1 ? ENOSYS : EPERM;
	if (none == 1)
		printf("note: this kernel has no module loader: its own answer is ENOSYS%s\n",
		       filtered ? "; the probes below tell the filter's answer from the "
				  "kernel's"
				: "");

	/* The start of an ELF relocatable object: enough for the loader to look at. */
	static unsigned char image[4096] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
	MUST_FAIL("init_module(ELF image in memory)",
		  syscall(SYS_init_module, image, sizeof image, ""), want);
	int fd = open("/box/payload", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		printf("open /box/payload: %s\n", en(errno));
	MUST_FAIL("finit_module(/box/payload)", syscall(SYS_finit_module, fd, "", 0), want);
	MUST_FAIL("delete_module(ext4)", syscall(SYS_delete_module, "ext4", O_NONBLOCK), want);
	if (filtered) {
		FILTER_ANSWERS("init_module probe", SYS_init_module, ENOSYS, (long)image,
			       sizeof image, (long)"");
		FILTER_ANSWERS("finit_module probe", SYS_finit_module, ENOSYS, fd, (long)"", 0);
		FILTER_ANSWERS("delete_module probe", SYS_delete_module, ENOSYS, (long)"ext4",
			       O_NONBLOCK);
	}
	return finish("modules");
}
