//! The seccomp filter, built before the child is created and installed as the
//! last step before execve. `--seccomp=default` (the default) has three parts: isolate's `--syscalls` flags, the always-on rules below, and
//! rustbox's profile of kernel surface (`KERNEL_SURFACE`: ENOSYS; personas
//! other than `PERSONALITY_ALLOWED`: EPERM; netlink families other
//! than `NETLINK_ALLOWED`: EPROTONOSUPPORT). docs/seccomp.md tables every denial
//! and its reason. `--seccomp=FILE` replaces the profile by the file's filters and keeps
//! the rest; `--seccomp=off` installs nothing.
//!
//! Each flag bit, when set, blocks one kernel feature that can leak between boxes
//! or widen the attack surface:
//! - 1 keyrings: keyctl, add_key, request_key fail with ENOSYS;
//! - 2 AF_VSOCK: socket(AF_VSOCK, ...) fails with EAFNOSUPPORT;
//! - 4 inode locks: flock and fcntl record locks/leases fail with ENOLCK;
//! - 8 io_uring: io_uring_setup/enter/register fail with ENOSYS;
//! - 16 other architectures: i386 (int 0x80) and x32 system calls fail with ENOSYS.
//!
//! Always, whatever the flags: no new user namespace (`unshare`/`clone` with
//! CLONE_NEWUSER fail with EPERM; `clone3`, whose flags a filter cannot read, fails
//! with ENOSYS so libc falls back to `clone`). Inside a user namespace of its own
//! the program would hold every capability over it and reach kernel code (mount,
//! netfilter, bpf) that is otherwise root-only. And no ioctl of `TTY_IOCTLS`
//! (EPERM) on the caller's terminal, which the program may share (inherited
//! streams, `--tty-hack`).
//!
//! The programs: one for rustbox's own rules (the flags, the always-on rules and
//! the default profile), compiled by `bpf.rs` into a single binary search over the
//! call numbers; behind it, with `--seccomp=FILE`, the file's filters compiled by
//! seccompiler. seccompiler kills the process on any foreign-architecture call; a
//! small prefix of our own in front of each program decides that case instead,
//! per flag 16.

use super::bpf::{self, Answer, Cond};
use super::bpf::{jump, stmt, JEQ_K, JGE_K, LD_W_ABS, RET_K};
use crate::error::StepError;
use crate::spec::{syscall_flags as F, SeccompChoice};
use seccompiler::{sock_filter, BpfProgram, TargetArch};
use std::collections::BTreeMap;
use std::path::Path;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
const AUDIT_ARCH_RISCV64: u32 = 0xC000_00F3;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;

fn target() -> Result<TargetArch, StepError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| StepError::new("seccomp.build", format!("architecture: {e:?}")))
}

/// Calls answered with one errno: unconditionally (no rule) or when one of their
/// rules holds (all its conditions).
#[derive(Debug, Clone)]
struct Group {
    errno: i32,
    calls: BTreeMap<i64, Vec<Vec<Cond>>>,
}

impl Group {
    fn new(errno: i32) -> Group {
        Group {
            errno,
            calls: BTreeMap::new(),
        }
    }
    fn always(mut self, nrs: impl IntoIterator<Item = i64>) -> Group {
        for nr in nrs {
            self.calls.insert(nr, Vec::new());
        }
        self
    }
    fn when(mut self, nr: i64, rules: Vec<Vec<Cond>>) -> Group {
        self.calls.insert(nr, rules);
        self
    }
}

/// Argument `idx`, as an `int`, equals `v`.
fn arg_eq(idx: u8, v: u64) -> Vec<Cond> {
    vec![Cond::Low32Eq {
        arg: idx,
        value: v as u32,
    }]
}

/// Every bit of `mask` is set in argument `idx`.
fn arg_masked(idx: u8, mask: u64) -> Vec<Cond> {
    vec![Cond::AllBits { arg: idx, mask }]
}

/// Our architecture prefix (x86_64): native calls go on into the program; foreign
/// ones (i386, x32) get ENOSYS when blocked and are allowed otherwise. Elsewhere,
/// as seccompiler does, any other architecture kills the process.
fn arch_prefix(block_foreign: bool) -> Vec<sock_filter> {
    if std::env::consts::ARCH != "x86_64" {
        let native = match std::env::consts::ARCH {
            "aarch64" => AUDIT_ARCH_AARCH64,
            _ => AUDIT_ARCH_RISCV64,
        };
        return vec![
            stmt(LD_W_ABS, 4),
            jump(JEQ_K, native, 1, 0),
            stmt(RET_K, SECCOMP_RET_KILL_PROCESS),
        ];
    }
    let foreign = if block_foreign {
        bpf::RET_ERRNO | libc::ENOSYS as u32
    } else {
        bpf::RET_ALLOW
    };
    vec![
        stmt(LD_W_ABS, 4), // seccomp_data.arch
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, foreign),
        stmt(LD_W_ABS, 0), // seccomp_data.nr
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, foreign),
    ]
}

/// The kernel surface rustbox's default profile closes with ENOSYS ("this kernel
/// has no such call"), the answer runtimes take as "feature absent" and fall back
/// from. None of these is needed to run a contest solution or a grader; each one
/// is kernel code reachable without privilege (or a way to inspect or steer
/// another process) that has carried exploitable bugs.
pub const KERNEL_SURFACE: &[(i64, &str)] = &[
    (libc::SYS_bpf, "bpf"),
    (libc::SYS_perf_event_open, "perf_event_open"),
    (libc::SYS_userfaultfd, "userfaultfd"),
    (libc::SYS_ptrace, "ptrace"),
    (libc::SYS_process_vm_readv, "process_vm_readv"),
    (libc::SYS_process_vm_writev, "process_vm_writev"),
    (libc::SYS_pidfd_getfd, "pidfd_getfd"),
    (libc::SYS_kcmp, "kcmp"),
    (libc::SYS_kexec_load, "kexec_load"),
    (libc::SYS_kexec_file_load, "kexec_file_load"),
    (libc::SYS_init_module, "init_module"),
    (libc::SYS_finit_module, "finit_module"),
    (libc::SYS_delete_module, "delete_module"),
    (libc::SYS_open_by_handle_at, "open_by_handle_at"),
    (libc::SYS_name_to_handle_at, "name_to_handle_at"),
    (libc::SYS_acct, "acct"),
    (libc::SYS_quotactl, "quotactl"),
    (libc::SYS_quotactl_fd, "quotactl_fd"),
    (libc::SYS_swapon, "swapon"),
    (libc::SYS_swapoff, "swapoff"),
    (libc::SYS_reboot, "reboot"),
    (libc::SYS_syslog, "syslog"),
    (libc::SYS_lookup_dcookie, "lookup_dcookie"),
    (libc::SYS_fanotify_init, "fanotify_init"),
    (libc::SYS_iopl, "iopl"),
    (libc::SYS_ioperm, "ioperm"),
    (libc::SYS_uselib, "uselib"),
    // Memory the kernel itself cannot see (unmapped from its direct map).
    (libc::SYS_memfd_secret, "memfd_secret"),
    // 16-bit and call-gate segments: the espfix and LDT bugs.
    (libc::SYS_modify_ldt, "modify_ldt"),
    // NUMA policy, the whole family, so that a runtime sees one consistent
    // kernel without NUMA (libnuma's numa_available() asks get_mempolicy).
    (libc::SYS_mbind, "mbind"),
    (libc::SYS_set_mempolicy, "set_mempolicy"),
    (libc::SYS_get_mempolicy, "get_mempolicy"),
    (libc::SYS_set_mempolicy_home_node, "set_mempolicy_home_node"),
    (libc::SYS_migrate_pages, "migrate_pages"),
    (libc::SYS_move_pages, "move_pages"),
    // Acting on another process's memory through a pidfd.
    (libc::SYS_process_madvise, "process_madvise"),
    (libc::SYS_process_mrelease, "process_mrelease"),
    // Page-cache residency of any file the box can open: which host binaries
    // and libraries of the shared /usr were used lately.
    (SYS_CACHESTAT, "cachestat"),
    // Watches on the shared read-only /usr: a covert channel between boxes and
    // a view of which host programs run.
    (libc::SYS_inotify_init, "inotify_init"),
    (libc::SYS_inotify_init1, "inotify_init1"),
    (libc::SYS_inotify_add_watch, "inotify_add_watch"),
    // The host kernel's file-system types (obsolete).
    (libc::SYS_sysfs, "sysfs"),
];

/// cachestat(2) (Linux 6.5), not in the libc crate for x86_64: the same number on
/// every architecture (the unified table).
const SYS_CACHESTAT: i64 = 451;

/// The personality values the default profile lets through: the query
/// (0xffffffff, which changes nothing) and PER_LINUX. Any other persona is EPERM:
/// READ_IMPLIES_EXEC makes every readable mapping executable, ADDR_NO_RANDOMIZE
/// turns off address-space randomisation for the programs the box executes,
/// UNAME26 and the rest fake the kernel's answers.
pub const PERSONALITY_ALLOWED: &[u32] = &[0xffff_ffff, 0];

/// The netlink protocols `socket(AF_NETLINK, ...)` may open: NETLINK_ROUTE only
/// (glibc's getaddrinfo and interface listings use it, and it sees only the box's
/// network namespace). Any other family is EPROTONOSUPPORT, the kernel's answer for
/// a family it has not built: NETLINK_KOBJECT_UEVENT delivers the host's device
/// events, NETLINK_AUDIT, NETLINK_CONNECTOR, NETLINK_NETFILTER, NETLINK_GENERIC and
/// the rest are host-wide or administrative kernel code.
pub const NETLINK_ALLOWED: &[u32] = &[libc::NETLINK_ROUTE as u32];

/// Terminal ioctls that push input into or drive the terminal of whoever holds it
/// (TIOCSTI injects keystrokes: CVE-2017-5226; TIOCLINUX selects and pastes on a
/// virtual console; TIOCSETD swaps the line discipline of the caller's terminal,
/// which outlives the run, for one a program chooses, loading its module if
/// need be). Answered with EPERM. Reading and setting the terminal's modes
/// (TCGETS, TCSETS*), its window size and its foreground group stay allowed: an
/// interactive program needs them, under `--tty-hack` above all.
pub const TTY_IOCTLS: &[(u64, &str)] = &[
    (libc::TIOCSTI, "TIOCSTI"),
    (libc::TIOCLINUX, "TIOCLINUX"),
    (libc::TIOCSETD, "TIOCSETD"),
];

/// The programs for a run. `--seccomp=off` gives none. Otherwise there is always
/// one program answering the `--syscalls` flags, the user-namespace, clone3 and
/// terminal-ioctl rules and, with `--seccomp=default`, rustbox's profile (kernel
/// surface, personas, netlink families); a `--seccomp=FILE`'s filters follow it.
/// The kernel runs
/// every program on every call and keeps the strictest answer, so a FILE can
/// narrow what the base allows, never widen it.
pub fn build(choice: &SeccompChoice, flags: u32) -> Result<Vec<BpfProgram>, StepError> {
    let (profile, files) = match choice {
        SeccompChoice::Off => return Ok(Vec::new()),
        SeccompChoice::Default => (default_profile(), Vec::new()),
        SeccompChoice::File(path) => (Vec::new(), from_file(path)?),
    };
    target()?;
    // Every program gets our architecture prefix: seccompiler's own check would
    // kill the process on any foreign call.
    let prefix = arch_prefix(flags & F::LEGACY_ARCH != 0);
    let ours = base(flags).into_iter().chain(profile).collect::<Vec<_>>();
    let mut progs = vec![bpf::compile(&prefix, &table(&ours))?];
    progs.extend(
        files
            .into_iter()
            .map(|p| prefix.iter().cloned().chain(p).collect()),
    );
    Ok(progs)
}

/// The groups as one table, each call's answers newest group first: the answer
/// the kernel would give if each group were a program of its own, installed in
/// order (every answer is an ERRNO, and of equal actions the newest program's
/// wins).
fn table(groups: &[Group]) -> bpf::Table {
    let mut t = bpf::Table::new();
    for g in groups.iter().rev() {
        for (&nr, rules) in &g.calls {
            t.entry(nr as u32).or_default().push(Answer {
                errno: g.errno,
                when: rules.clone(),
            });
        }
    }
    t
}

fn default_profile() -> Vec<Group> {
    // personality's and socket's arguments are compared on their low 32 bits
    // (`unsigned int` and `int` to the kernel), as ioctl's request in `base`.
    let persona = vec![Cond::Low32NotIn {
        arg: 0,
        values: PERSONALITY_ALLOWED,
    }];
    let netlink = vec![
        Cond::Low32Eq {
            arg: 0,
            value: libc::AF_NETLINK as u32,
        },
        Cond::Low32NotIn {
            arg: 2,
            values: NETLINK_ALLOWED,
        },
    ];
    vec![
        Group::new(libc::ENOSYS).always(KERNEL_SURFACE.iter().map(|&(nr, _)| nr)),
        Group::new(libc::EPERM).when(libc::SYS_personality, vec![persona]),
        Group::new(libc::EPROTONOSUPPORT).when(libc::SYS_socket, vec![netlink]),
    ]
}

/// `--seccomp=FILE`: one or more filters in seccompiler's JSON format
/// (`{"name": {"mismatch_action": ..., "match_action": ..., "filter": [...]}}`),
/// compiled for this architecture, all installed.
fn from_file(path: &Path) -> Result<Vec<BpfProgram>, StepError> {
    let step = "seccomp.file";
    let f = std::fs::File::open(path)
        .map_err(|e| StepError::io(step, format!("open {}", path.display()), &e))?;
    let map = seccompiler::compile_from_json(std::io::BufReader::new(f), target()?)
        .map_err(|e| StepError::new(step, format!("{}: {e}", path.display())))?;
    if map.is_empty() {
        return Err(StepError::new(
            step,
            format!("{}: no filter in the file", path.display()),
        ));
    }
    // Installed in name order, so the same file always gives the same stack.
    let sorted: BTreeMap<String, BpfProgram> = map.into_iter().collect();
    Ok(sorted.into_values().collect())
}

/// What is always there when seccomp is on: isolate's `--syscalls` flags, no new
/// user namespace, clone3 answered ENOSYS.
fn base(flags: u32) -> Vec<Group> {
    let mut enosys = Group::new(libc::ENOSYS);
    if flags & F::KEYRINGS != 0 {
        enosys = enosys.always([libc::SYS_keyctl, libc::SYS_add_key, libc::SYS_request_key]);
    }
    if flags & F::IO_URING != 0 {
        enosys = enosys.always([
            libc::SYS_io_uring_setup,
            libc::SYS_io_uring_enter,
            libc::SYS_io_uring_register,
        ]);
    }
    let newuser = libc::CLONE_NEWUSER as u64;
    // The request argument is an `unsigned int` to the kernel, which ignores the
    // upper half of the register; the comparison is on the low 32 bits only, so
    // setting high bits cannot slip past it (CVE-2019-10063).
    let tty = TTY_IOCTLS.iter().map(|&(req, _)| arg_eq(1, req)).collect();
    let mut groups = vec![
        enosys.always([libc::SYS_clone3]),
        Group::new(libc::EPERM)
            .when(libc::SYS_unshare, vec![arg_masked(0, newuser)])
            .when(libc::SYS_clone, vec![arg_masked(0, newuser)])
            .when(libc::SYS_ioctl, tty),
    ];
    if flags & F::VSOCK != 0 {
        groups.push(
            Group::new(libc::EAFNOSUPPORT)
                .when(libc::SYS_socket, vec![arg_eq(0, libc::AF_VSOCK as u64)]),
        );
    }
    if flags & F::INODE_LOCKS != 0 {
        let cmds = [
            libc::F_SETLK,
            libc::F_SETLKW,
            libc::F_OFD_SETLK,
            libc::F_OFD_SETLKW,
            libc::F_SETLEASE,
        ];
        groups.push(Group::new(libc::ENOLCK).always([libc::SYS_flock]).when(
            libc::SYS_fcntl,
            cmds.iter().map(|&c| arg_eq(1, c as u64)).collect(),
        ));
    }
    groups
}

/// The evidence line of the seccomp control.
pub fn describe(choice: &SeccompChoice, flags: u32) -> String {
    let names = [
        (F::KEYRINGS, "keyrings"),
        (F::VSOCK, "AF_VSOCK"),
        (F::INODE_LOCKS, "inode locks"),
        (F::IO_URING, "io_uring"),
        (F::LEGACY_ARCH, "foreign architectures"),
    ];
    let blocked: Vec<&str> = names
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, n)| *n)
        .collect();
    let flags = if blocked.is_empty() {
        "--syscalls=0 (no isolate flag)".to_string()
    } else {
        format!("--syscalls blocks {}", blocked.join(", "))
    };
    let always = format!(
        "new user namespaces EPERM, clone3 ENOSYS, ioctl {} EPERM",
        TTY_IOCTLS
            .iter()
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    );
    match choice {
        SeccompChoice::Off => "off (--seccomp=off): no filter".into(),
        SeccompChoice::Default => format!(
            "default profile: {} calls of kernel surface ENOSYS, personality other than \
             the query and PER_LINUX EPERM, netlink other than NETLINK_ROUTE \
             EPROTONOSUPPORT; {flags}; {always}",
            KERNEL_SURFACE.len(),
        ),
        SeccompChoice::File(p) => format!("filters of {}; {flags}; {always}", p.display()),
    }
}

/// Install the programs (no_new_privs is already set) and check the mode: 2
/// (filter), or 0 when there is no program (`--seccomp=off`).
pub fn install(progs: &[BpfProgram]) -> Result<(), StepError> {
    for p in progs {
        seccompiler::apply_filter(p)
            .map_err(|e| StepError::new("seccomp.install", format!("{e}")))?;
    }
    // SAFETY: prctl with constant arguments only reads.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    let want = if progs.is_empty() { 0 } else { 2 };
    if mode != want {
        return Err(StepError::new(
            "seccomp.verify",
            format!("seccomp mode is {mode}, not {want}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_for_every_flag_combination() {
        for flags in 0..=F::ALL {
            let p = build(&SeccompChoice::Default, flags).unwrap();
            assert_eq!(p.len(), 1, "base and profile in one program");
            assert!(p.iter().all(|prog| prog.len() < 4096));
        }
        assert!(build(&SeccompChoice::Off, F::ALL).unwrap().is_empty());
    }

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("rustbox-sc-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn file_filters_are_stacked_on_the_base() {
        let p = file(
            "ok.json",
            r#"{"deny_getppid": {"mismatch_action": "allow", "match_action": {"errno": 1},
                "filter": [{"syscall": "getppid"}]}}"#,
        );
        let progs = build(&SeccompChoice::File(p.clone()), F::ALL).unwrap();
        assert_eq!(progs.len(), 2, "the base program, then the file's");
        // Every program, the file's too, starts with the architecture prefix.
        for prog in &progs {
            assert_eq!(prog[..6], arch_prefix(true)[..]);
        }
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        let cases = [
            (
                "name.json",
                r#"{"f": {"mismatch_action": "allow", "match_action": "kill_process", "filter": [{"syscall": "no_such_call"}]}}"#,
                "no_such_call",
            ),
            ("syntax.json", "{", "parsing"),
            ("empty.json", "{}", "no filter"),
        ];
        for (name, text, needle) in cases {
            let p = file(name, text);
            let e = build(&SeccompChoice::File(p.clone()), F::ALL).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(needle) && msg.contains(name), "{msg}");
            std::fs::remove_file(p).unwrap();
        }
        let e = build(&SeccompChoice::File("/nonexistent/f.json".into()), 0).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/f.json"), "{e}");
    }

    /// The stack as it was built before `bpf.rs`: one seccompiler program per
    /// group, each behind the prefix.
    fn seccompiler_stack(groups: &[Group], prefix: &[sock_filter]) -> Vec<BpfProgram> {
        use seccompiler::{
            SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition,
            SeccompFilter, SeccompRule,
        };
        let rule = |r: &Vec<Cond>| {
            // seccompiler has no "none of": one Dword Ne per value, all of
            // which must hold.
            let conds = r
                .iter()
                .flat_map(|c| match *c {
                    Cond::Low32Eq { arg, value } => {
                        vec![SeccompCondition::new(arg, Len::Dword, Op::Eq, value.into())]
                    }
                    Cond::AllBits { arg, mask } => vec![SeccompCondition::new(
                        arg,
                        Len::Qword,
                        Op::MaskedEq(mask),
                        mask,
                    )],
                    Cond::Low32NotIn { arg, values } => values
                        .iter()
                        .map(|&v| SeccompCondition::new(arg, Len::Dword, Op::Ne, v.into()))
                        .collect(),
                })
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            SeccompRule::new(conds).unwrap()
        };
        groups
            .iter()
            .map(|g| {
                let rules = g
                    .calls
                    .iter()
                    .map(|(nr, rules)| (*nr, rules.iter().map(rule).collect()))
                    .collect();
                let f = SeccompFilter::new(
                    rules,
                    SeccompAction::Allow,
                    SeccompAction::Errno(g.errno as u32),
                    target().unwrap(),
                )
                .unwrap();
                let p: BpfProgram = f.try_into().unwrap();
                prefix.iter().cloned().chain(p).collect()
            })
            .collect()
    }

    /// What the kernel answers for a stack: every program runs, the most
    /// restrictive action wins, and of equal ones the newest program's.
    fn stack_answer(progs: &[BpfProgram], data: &[u32; 16]) -> u32 {
        let action = |r: u32| (r & 0xffff_0000) as i32;
        let mut ret = bpf::RET_ALLOW;
        for p in progs.iter().rev() {
            let cur = bpf::run(p, data);
            if action(cur) < action(ret) {
                ret = cur;
            }
        }
        ret
    }

    #[test]
    fn one_program_answers_as_the_stack_of_programs_did() {
        const AUDIT_ARCH_I386: u32 = 0x4000_0003;
        let newuser = libc::CLONE_NEWUSER as u64;
        let mut args: Vec<[u64; 6]> = vec![[0; 6], [u64::MAX; 6]];
        for a0 in [
            newuser,
            newuser | 0x2_0000 | 1 << 40,
            1 << 40,
            40,
            40 | 1 << 32,
        ] {
            args.push([a0, 0, 0, 0, 0, 0]);
        }
        for a1 in [6u64, 7, 37, 38, 1024, 5, 0x5412, 0x541C, 0x5413] {
            args.push([0, a1, 0, 0, 0, 0]);
            args.push([3, a1 | 0xffff_0000_0000, 0, 0, 0, 0]);
        }
        // personality: the query, PER_LINUX, personas, high bits.
        for a0 in [
            0xffff_ffffu64,
            0x1_ffff_ffff,
            0xffff_fffe,
            8,
            0x0040_0000,
            0x0004_0000,
            0x0002_0000,
            0x0040_0000 | 1 << 32,
        ] {
            args.push([a0, 0, 0, 0, 0, 0]);
        }
        // socket: netlink (16) and others, with every kind of protocol.
        for a0 in [16u64, 16 | 1 << 32, 17, 2, 40] {
            for a2 in [0u64, 1 << 32, 4, 9, 15, 15 | 0xffff_ffff_0000_0000, 16, 31] {
                args.push([a0, 3, a2, 0, 0, 0]);
            }
        }
        let mut checked = 0;
        for flags in 0..=F::ALL {
            let prefix = arch_prefix(flags & F::LEGACY_ARCH != 0);
            let groups: Vec<Group> = base(flags).into_iter().chain(default_profile()).collect();
            let stack = seccompiler_stack(&groups, &prefix);
            let one = build(&SeccompChoice::Default, flags).unwrap();
            for (arch, nr_base) in [
                (AUDIT_ARCH_X86_64, 0),
                (AUDIT_ARCH_X86_64, X32_SYSCALL_BIT),
                (AUDIT_ARCH_I386, 0),
            ] {
                for nr in (0..470).map(|n| n + nr_base) {
                    for a in &args {
                        let mut d = [0u32; 16];
                        d[0] = nr;
                        d[1] = arch;
                        for (i, v) in a.iter().enumerate() {
                            d[4 + 2 * i] = *v as u32;
                            d[5 + 2 * i] = (*v >> 32) as u32;
                        }
                        assert_eq!(
                            stack_answer(&one, &d),
                            stack_answer(&stack, &d),
                            "flags {flags} arch {arch:#x} nr {nr:#x} args {a:x?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1_000_000);
    }

    /// seccomp_data for an x86_64 call.
    fn call(nr: i64, args: [u64; 6]) -> [u32; 16] {
        let mut d = [0u32; 16];
        d[0] = nr as u32;
        d[1] = AUDIT_ARCH_X86_64;
        for (i, v) in args.iter().enumerate() {
            d[4 + 2 * i] = *v as u32;
            d[5 + 2 * i] = (*v >> 32) as u32;
        }
        d
    }

    #[test]
    fn profile_closes_the_surface_the_issue_names() {
        let errno = |e: i32| bpf::RET_ERRNO | e as u32;
        let named: [(i64, u64); 17] = [
            (libc::SYS_memfd_secret, 0),
            (libc::SYS_modify_ldt, 1),
            (libc::SYS_mbind, 0),
            (libc::SYS_set_mempolicy, 2),
            (libc::SYS_get_mempolicy, 0),
            (libc::SYS_set_mempolicy_home_node, 0),
            (libc::SYS_migrate_pages, 0),
            (libc::SYS_move_pages, 0),
            (libc::SYS_process_madvise, 3),
            (libc::SYS_process_mrelease, 3),
            (SYS_CACHESTAT, 3),
            (libc::SYS_inotify_init, 0),
            (libc::SYS_inotify_init1, 0),
            (libc::SYS_inotify_add_watch, 3),
            (libc::SYS_sysfs, 2),
            (libc::SYS_bpf, 0),
            (libc::SYS_ptrace, 0),
        ];
        let persona = [
            (0xffff_ffffu64, true),
            (0, true),
            (1 << 32, true), // the kernel reads an unsigned int: PER_LINUX
            (0x1_ffff_ffff, true),
            (0x0040_0000, false), // READ_IMPLIES_EXEC
            (0x0004_0000, false), // ADDR_NO_RANDOMIZE
            (0x0002_0000, false), // UNAME26
            (8, false),           // PER_LINUX32
            (0xffff_fffe, false),
            (0x0040_0000 | 1 << 32, false),
        ];
        let netlink = [
            (16u64, 0u64, true), // NETLINK_ROUTE
            (16, 1 << 32, true),
            (16, 15, false), // NETLINK_KOBJECT_UEVENT
            (16, 9, false),  // NETLINK_AUDIT
            (16, 11, false), // NETLINK_CONNECTOR
            (16, 4, false),  // NETLINK_SOCK_DIAG
            (16, 16, false), // NETLINK_GENERIC
            (16 | 1 << 32, 15 | 0xffff_ffff_0000_0000, false),
            (2, 15, true),  // AF_INET, protocol 15: not netlink
            (17, 15, true), // AF_PACKET: not this rule's
        ];
        for flags in [0, F::ALL] {
            let p = &build(&SeccompChoice::Default, flags).unwrap()[0];
            for (nr, a0) in named {
                let got = bpf::run(p, &call(nr, [a0, 0, 0, 0, 0, 0]));
                assert_eq!(got, errno(libc::ENOSYS), "flags {flags} nr {nr}");
            }
            for (a0, allowed) in persona {
                let got = bpf::run(p, &call(libc::SYS_personality, [a0, 0, 0, 0, 0, 0]));
                let want = if allowed {
                    bpf::RET_ALLOW
                } else {
                    errno(libc::EPERM)
                };
                assert_eq!(got, want, "personality({a0:#x})");
            }
            for (dom, proto, allowed) in netlink {
                let got = bpf::run(p, &call(libc::SYS_socket, [dom, 3, proto, 0, 0, 0]));
                let want = if allowed {
                    bpf::RET_ALLOW
                } else {
                    errno(libc::EPROTONOSUPPORT)
                };
                assert_eq!(got, want, "socket({dom:#x}, SOCK_RAW, {proto:#x})");
            }
            // AF_VSOCK keeps its own answer, the --syscalls flag's.
            let vsock = bpf::run(p, &call(libc::SYS_socket, [40, 1, 0, 0, 0, 0]));
            let want = if flags & F::VSOCK != 0 {
                errno(libc::EAFNOSUPPORT)
            } else {
                bpf::RET_ALLOW
            };
            assert_eq!(vsock, want);
        }
        // The profile is the default's alone: with a FILE, the base stays and
        // these calls are the file's to decide.
        let f = file(
            "none.json",
            r#"{"f": {"mismatch_action": "allow", "match_action": {"errno": 1},
                "filter": [{"syscall": "getppid"}]}}"#,
        );
        let progs = build(&SeccompChoice::File(f.clone()), F::ALL).unwrap();
        std::fs::remove_file(f).unwrap();
        let nl = call(libc::SYS_socket, [16, 3, 15, 0, 0, 0]);
        assert_eq!(bpf::run(&progs[0], &nl), bpf::RET_ALLOW);
        let ino = call(libc::SYS_inotify_init1, [0; 6]);
        assert_eq!(bpf::run(&progs[0], &ino), bpf::RET_ALLOW);
    }

    /// docs/seccomp.md tables every denial: each call of the profile and each
    /// ioctl appears in a table row of it, with its answer where the row has one.
    #[test]
    fn docs_table_lists_every_denial() {
        let doc =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/seccomp.md"))
                .unwrap();
        let rows: Vec<&str> = doc.lines().filter(|l| l.starts_with("| ")).collect();
        let row_of = |name: &str| {
            rows.iter()
                .find(|r| r.contains(&format!("`{name}`")) || r.contains(name))
                .copied()
        };
        let mut missing = Vec::new();
        for &(_, name) in KERNEL_SURFACE {
            if !rows.iter().any(|r| r.contains(&format!("`{name}`"))) {
                missing.push(name.to_string());
            }
        }
        for (name, answer) in [
            ("TIOCSTI", "EPERM"),
            ("TIOCLINUX", "EPERM"),
            ("TIOCSETD", "EPERM"),
            ("`personality`", "EPERM"),
            ("NETLINK_KOBJECT_UEVENT", "EPROTONOSUPPORT"),
            ("`clone3`", "ENOSYS"),
            ("CLONE_NEWUSER", "EPERM"),
            ("`keyctl`", "ENOSYS"),
            ("AF_VSOCK", "EAFNOSUPPORT"),
            ("`flock`", "ENOLCK"),
            ("`io_uring_setup`", "ENOSYS"),
        ] {
            match row_of(name) {
                Some(r) if r.contains(answer) => {}
                Some(r) => missing.push(format!("{name} without {answer}: {r}")),
                None => missing.push(name.to_string()),
            }
        }
        assert!(missing.is_empty(), "docs/seccomp.md lacks {missing:?}");
    }

    #[test]
    fn filter_length_stays_small() {
        // The search is logarithmic; the whole program with every flag is a few
        // hundred instructions (the kernel takes 4096).
        for flags in [0, F::ALL] {
            let p = &build(&SeccompChoice::Default, flags).unwrap()[0];
            assert!(p.len() < 400, "flags {flags}: {} instructions", p.len());
            eprintln!("default profile, flags {flags}: {} instructions", p.len());
        }
    }

    #[test]
    fn prefix_decides_foreign_arch() {
        let p = arch_prefix(true);
        assert_eq!(p[2].k, bpf::RET_ERRNO | libc::ENOSYS as u32);
        let p = arch_prefix(false);
        assert_eq!(p[2].k, bpf::RET_ALLOW);
    }
}
