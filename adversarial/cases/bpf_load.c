/*
 * bpf_load: load eBPF code into the kernel. A socket filter program (the kind an
 * unprivileged user could load when kernel.unprivileged_bpf_disabled is 0: the
 * verifier and JIT have had a long line of exploitable bugs) and a map.
 *
 * bpf_load filtered: the default seccomp profile answers ENOSYS; the probe of
 * kernel_surface.h shows that the filter, not the kernel, gave it.
 * bpf_load unfiltered: run with --seccomp=off, the layer below must hold:
 * unprivileged_bpf_disabled (1 or 2) and no CAP_BPF/CAP_SYS_ADMIN: EPERM.
 */
#include "kernel_surface.h"
#include <linux/bpf.h>

static long bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "filtered") && strcmp(argv[1], "unfiltered"))) {
		printf("usage: bpf_load filtered|unfiltered\n");
		return 2;
	}
	int filtered = !strcmp(argv[1], "filtered");
	seccomp_is(filtered ? 2 : 0);
	long disabled = show_sysctl("kernel/unprivileged_bpf_disabled");
	int want = filtered ? ENOSYS : EPERM;
	if (!filtered && disabled == 0)
		printf("note: unprivileged_bpf_disabled is 0: the kernel lets anyone load a "
		       "socket filter; only the seccomp filter can stop it\n");

	/* r0 = 0; exit: accept nothing. Any program the verifier takes will do. */
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	char log[256] = "";
	union bpf_attr prog;
	memset(&prog, 0, sizeof prog);
	prog.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	prog.insns = (unsigned long)insns;
	prog.insn_cnt = sizeof insns / sizeof insns[0];
	prog.license = (unsigned long)"GPL";
	prog.log_buf = (unsigned long)log;
	prog.log_size = sizeof log;
	prog.log_level = 1;
	MUST_FAIL("bpf(BPF_PROG_LOAD, socket filter)", bpf(BPF_PROG_LOAD, &prog), want);

	union bpf_attr map;
	memset(&map, 0, sizeof map);
	map.map_type = BPF_MAP_TYPE_ARRAY;
	map.key_size = 4;
	map.value_size = 8;
	map.max_entries = 1;
	MUST_FAIL("bpf(BPF_MAP_CREATE, array)", bpf(BPF_MAP_CREATE, &map), want);

	if (filtered) {
		FILTER_ANSWERS("bpf(BPF_PROG_LOAD) probe", SYS_bpf, ENOSYS, BPF_PROG_LOAD,
			       (long)&prog, sizeof prog);
		FILTER_ANSWERS("bpf(BPF_MAP_CREATE) probe", SYS_bpf, ENOSYS, BPF_MAP_CREATE,
			       (long)&map, sizeof map);
	}
	return finish("bpf_load");
}
