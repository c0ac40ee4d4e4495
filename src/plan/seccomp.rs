//! The seccomp filter, built by the supervisor before the child is created (the
//! child installs it as the last step before execve: `plan/seccomp.rs`). `--seccomp=default` (the default) has three parts: isolate's `--syscalls` flags, the always-on rules below, and
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
//! - 16 other architectures: i386 (int 0x80, `gcc -m32` programs) and x32 system
//!   calls fail with ENOSYS. Cleared, they are allowed and meet the same rules as
//!   native calls, under their own numbers (`abi.rs`).
//!
//! Always, whatever the flags: no new user namespace (`unshare`/`clone` with
//! CLONE_NEWUSER fail with EPERM; `clone3`, whose flags a filter cannot read, fails
//! with ENOSYS so libc falls back to `clone`). Inside a user namespace of its own
//! the program would hold every capability over it and reach kernel code (mount,
//! netfilter, bpf) that is otherwise root-only. And no ioctl of `TTY_IOCTLS`
//! (EPERM) on the caller's terminal, which the program may share (inherited
//! streams, `--tty-hack`).
//!
//! The rules name calls, never numbers: each ABI's table of `abi.rs` maps them, and
//! a call an ABI lacks is simply not in that ABI's part.
//!
//! The programs: one for rustbox's own rules (the flags, the always-on rules and
//! the default profile), compiled by `bpf.rs` into a binary search over the
//! call numbers, one search per ABI when flag 16 is cleared; behind it, with
//! `--seccomp=FILE`, the file's filters compiled by seccompiler for native
//! numbers. seccompiler kills the process on any foreign-architecture call; a
//! small prefix of our own in front of each file program answers that case
//! ENOSYS instead (a FILE with flag 16 cleared is refused: its rules exist for
//! native numbers only).

use super::abi::{Abi, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use super::bpf::{self, Answer, Cond};
use super::bpf::{jump, stmt, JA, JEQ_K, JGE_K, LD_W_ABS, RET_K};
use crate::request::spec::{syscall_flags as F, SeccompChoice};
use crate::sys::error::StepError;
use seccompiler::{sock_filter, BpfProgram, TargetArch};
use std::collections::BTreeMap;
use std::path::Path;

const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
const AUDIT_ARCH_RISCV64: u32 = 0xC000_00F3;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
/// socketcall's first argument for socket(2) (`SYS_SOCKET` of linux/net.h).
const SYS_SOCKET: u64 = 1;

fn target() -> Result<TargetArch, StepError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| StepError::new("seccomp.build", format!("architecture: {e:?}")))
}

fn enosys() -> u32 {
    bpf::RET_ERRNO | libc::ENOSYS as u32
}

/// Calls, by name, answered with one errno: unconditionally (no rule) or when one
/// of their rules holds (all its conditions).
#[derive(Debug, Clone)]
struct Group {
    errno: i32,
    calls: BTreeMap<&'static str, Vec<Vec<Cond>>>,
}

impl Group {
    fn new(errno: i32) -> Group {
        Group {
            errno,
            calls: BTreeMap::new(),
        }
    }
    fn always(mut self, names: impl IntoIterator<Item = &'static str>) -> Group {
        for name in names {
            self.calls.insert(name, Vec::new());
        }
        self
    }
    fn when(mut self, name: &'static str, rules: Vec<Vec<Cond>>) -> Group {
        self.calls.insert(name, rules);
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

/// The prefix of a program for native calls only (x86_64): native calls go on
/// into the program; foreign ones (i386, x32) get ENOSYS. Elsewhere, as
/// seccompiler does, any other architecture kills the process.
fn arch_prefix() -> Vec<sock_filter> {
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
    vec![
        stmt(LD_W_ABS, 4), // seccomp_data.arch
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, enosys()),
        stmt(LD_W_ABS, 0), // seccomp_data.nr
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, enosys()),
    ]
}

/// The program for all three ABIs of an x86_64 kernel (flag 16 cleared): the
/// architecture, then the x32 bit, pick the section of the call's own ABI, each a
/// search over that ABI's numbers of the same rules. No other architecture
/// reaches an x86_64 kernel's filter; one would get ENOSYS.
fn per_abi_program(groups: &[Group]) -> Result<BpfProgram, StepError> {
    let native = bpf::section(&table(groups, Abi::X86_64)?)?;
    let x32 = bpf::section(&table(groups, Abi::X32)?)?;
    let i386 = bpf::section(&table(groups, Abi::I386)?)?;
    const HEAD: usize = 8;
    let i386_at = HEAD + native.len() + x32.len();
    let mut p = vec![
        stmt(LD_W_ABS, 4), // 0: seccomp_data.arch
        jump(JEQ_K, AUDIT_ARCH_I386, 0, 1),
        stmt(JA, (i386_at - 3) as u32), // 2: to the i386 section
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, enosys()),
        stmt(LD_W_ABS, 0), // 5: seccomp_data.nr
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(JA, native.len() as u32), // 7: over the native section, to x32's
    ];
    debug_assert_eq!(p.len(), HEAD);
    p.extend(native);
    p.extend(x32);
    p.extend(i386);
    bpf::program(p)
}

/// The kernel surface rustbox's default profile closes with ENOSYS ("this kernel
/// has no such call"), the answer runtimes take as "feature absent" and fall back
/// from. None of these is needed to run a contest solution or a grader; each one
/// is kernel code reachable without privilege (or a way to inspect or steer
/// another process) that has carried exploitable bugs.
pub const KERNEL_SURFACE: &[&str] = &[
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "kcmp",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "open_by_handle_at",
    "name_to_handle_at",
    "acct",
    "quotactl",
    "quotactl_fd",
    "swapon",
    "swapoff",
    "reboot",
    "syslog",
    "lookup_dcookie",
    "fanotify_init",
    "iopl",
    "ioperm",
    "uselib",
    // Memory the kernel itself cannot see (unmapped from its direct map).
    "memfd_secret",
    // 16-bit and call-gate segments: the espfix and LDT bugs. And i386's
    // virtual-8086 mode, 16-bit code too (x86_64 kernels answer ENOSYS as well).
    "modify_ldt",
    "vm86old",
    "vm86",
    // NUMA policy, the whole family, so that a runtime sees one consistent
    // kernel without NUMA (libnuma's numa_available() asks get_mempolicy).
    "mbind",
    "set_mempolicy",
    "get_mempolicy",
    "set_mempolicy_home_node",
    "migrate_pages",
    "move_pages",
    // Acting on another process's memory through a pidfd.
    "process_madvise",
    "process_mrelease",
    // Page-cache residency of any file the box can open: which host binaries
    // and libraries of the shared /usr were used lately.
    "cachestat",
    // Watches on the shared read-only /usr: a covert channel between boxes and
    // a view of which host programs run.
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    // The host kernel's file-system types (obsolete).
    "sysfs",
];

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
/// need be; TIOCEXCL makes the terminal exclusive, so the caller can no longer
/// open it (EBUSY for sudo, ssh, an editor) after the run, TIOCNXCL undoes it
/// for a terminal someone else made exclusive, and TCXONC stops or starts the
/// terminal's output or input (`tcflow`): stopped, it stays stopped, and the
/// caller, rustbox's own status line included, blocks writing to it). Answered
/// with EPERM. Reading and setting the terminal's modes (TCGETS, TCSETS*), its
/// window size and its foreground group stay allowed: an interactive program
/// needs them, under `--tty-hack` above all, and rustbox gives the modes and the
/// foreground group back after the run.
// The requests are c_ulong in glibc and c_int in musl.
#[allow(clippy::unnecessary_cast)]
pub const TTY_IOCTLS: &[(u64, &str)] = &[
    (libc::TIOCSTI as u64, "TIOCSTI"),
    (libc::TIOCLINUX as u64, "TIOCLINUX"),
    (libc::TIOCSETD as u64, "TIOCSETD"),
    (libc::TIOCEXCL as u64, "TIOCEXCL"),
    (libc::TIOCNXCL as u64, "TIOCNXCL"),
    (libc::TCXONC as u64, "TCXONC"),
];

/// The programs for a run. `--seccomp=off` gives none. Otherwise there is always
/// one program answering the `--syscalls` flags, the user-namespace, clone3 and
/// terminal-ioctl rules and, with `--seccomp=default`, rustbox's profile (kernel
/// surface, personas, netlink families); a `--seccomp=FILE`'s filters follow it. The kernel runs
/// every program on every call and keeps the strictest answer, so a FILE can
/// narrow what the base allows, never widen it.
pub fn build(choice: &SeccompChoice, flags: u32) -> Result<Vec<BpfProgram>, StepError> {
    let block_foreign = flags & F::LEGACY_ARCH != 0;
    let (profile, files) = match choice {
        SeccompChoice::Off => return Ok(Vec::new()),
        SeccompChoice::Default => (default_profile(), Vec::new()),
        SeccompChoice::File(path) if !block_foreign => {
            return Err(StepError::new(
                "seccomp.build",
                format!(
                    "{}: a file's filters are compiled for native call numbers, so i386 \
                     and x32 calls would skip them: --seccomp=FILE needs --syscalls flag 16",
                    path.display()
                ),
            ))
        }
        SeccompChoice::File(path) => (Vec::new(), from_file(path)?),
    };
    target()?;
    let mut ours = base(flags).into_iter().chain(profile).collect::<Vec<_>>();
    ours.extend(behind_socketcall(&ours));
    let prefix = arch_prefix();
    let first = if block_foreign || std::env::consts::ARCH != "x86_64" {
        bpf::compile(&prefix, &table(&ours, Abi::X86_64)?)?
    } else {
        per_abi_program(&ours)?
    };
    let mut progs = vec![first];
    // Every file program gets our architecture prefix: seccompiler's own check
    // would kill the process on any foreign call.
    progs.extend(
        files
            .into_iter()
            .map(|p| prefix.iter().cloned().chain(p).collect()),
    );
    Ok(progs)
}

/// The groups as one table for one ABI, each call's answers newest group first:
/// the answer the kernel would give if each group were a program of its own,
/// installed in order (every answer is an ERRNO, and of equal actions the newest
/// program's wins). A call this ABI lacks is left out; a name no ABI has is a
/// mistake in the rules.
fn table(groups: &[Group], abi: Abi) -> Result<bpf::Table, StepError> {
    let mut t = bpf::Table::new();
    for g in groups.iter().rev() {
        for (&name, rules) in &g.calls {
            if !Abi::known_anywhere(name) {
                return Err(StepError::new(
                    "seccomp.build",
                    format!("a rule names {name}, a call of no ABI"),
                ));
            }
            for nr in abi.numbers(name) {
                t.entry(nr).or_default().push(Answer {
                    errno: g.errno,
                    when: rules.clone(),
                });
            }
        }
    }
    Ok(t)
}

/// i386's socketcall(2) multiplexes the socket calls: `socketcall(SYS_SOCKET,
/// args)` is socket(2) with its three arguments in memory, which a filter cannot
/// read. When a rule looks at socket's arguments (AF_VSOCK, netlink families),
/// that sub-call would pass it unchecked: it is answered ENOSYS ("no such call"),
/// whatever its arguments. The other sub-calls stay: no rule holds on their
/// native twins. i386 kernels since 4.3 have socket(2) itself (359), whose
/// arguments the rules see; Debian 12's 32-bit glibc still calls socketcall, so a
/// 32-bit glibc program's socket() fails here with ENOSYS (docs/seccomp.md).
fn behind_socketcall(groups: &[Group]) -> Vec<Group> {
    let ruled = groups.iter().any(|g| g.calls.contains_key("socket"));
    if !ruled {
        return Vec::new();
    }
    vec![Group::new(libc::ENOSYS).when("socketcall", vec![arg_eq(0, SYS_SOCKET)])]
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
        Group::new(libc::ENOSYS).always(KERNEL_SURFACE.iter().copied()),
        Group::new(libc::EPERM).when("personality", vec![persona]),
        Group::new(libc::EPROTONOSUPPORT).when("socket", vec![netlink]),
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

/// i386's fcntl64 also sets locks with F_SETLK64 and F_SETLKW64 (13 and 14; its
/// fcntl refuses them with EINVAL).
const F_SETLK64: i32 = 13;
const F_SETLKW64: i32 = 14;

/// What is always there when seccomp is on: isolate's `--syscalls` flags, no new
/// user namespace, clone3 answered ENOSYS.
fn base(flags: u32) -> Vec<Group> {
    let mut enosys = Group::new(libc::ENOSYS);
    if flags & F::KEYRINGS != 0 {
        enosys = enosys.always(["keyctl", "add_key", "request_key"]);
    }
    if flags & F::IO_URING != 0 {
        enosys = enosys.always(["io_uring_setup", "io_uring_enter", "io_uring_register"]);
    }
    let newuser = libc::CLONE_NEWUSER as u64;
    // The request argument is an `unsigned int` to the kernel, which ignores the
    // upper half of the register; the comparison is on the low 32 bits only, so
    // setting high bits cannot slip past it (CVE-2019-10063).
    let tty = TTY_IOCTLS.iter().map(|&(req, _)| arg_eq(1, req)).collect();
    let mut groups = vec![
        enosys.always(["clone3"]),
        // clone's flags are its first argument on every ABI here (i386 has
        // CLONE_BACKWARDS: flags, stack, parent tid, tls, child tid).
        Group::new(libc::EPERM)
            .when("unshare", vec![arg_masked(0, newuser)])
            .when("clone", vec![arg_masked(0, newuser)])
            .when("ioctl", tty),
    ];
    if flags & F::VSOCK != 0 {
        groups.push(
            Group::new(libc::EAFNOSUPPORT).when("socket", vec![arg_eq(0, libc::AF_VSOCK as u64)]),
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
        let set_lock: Vec<Vec<Cond>> = cmds.iter().map(|&c| arg_eq(1, c as u64)).collect();
        let set_lock64 = set_lock
            .iter()
            .cloned()
            .chain([F_SETLK64, F_SETLKW64].map(|c| arg_eq(1, c as u64)))
            .collect();
        groups.push(
            Group::new(libc::ENOLCK)
                .always(["flock"])
                .when("fcntl", set_lock)
                .when("fcntl64", set_lock64),
        );
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
    let mut flags_text = if blocked.is_empty() {
        "--syscalls=0 (no isolate flag)".to_string()
    } else {
        format!("--syscalls blocks {}", blocked.join(", "))
    };
    if flags & F::LEGACY_ARCH == 0 {
        flags_text.push_str("; i386 and x32 calls meet the same rules under their own numbers");
    }
    let flags = flags_text;
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
            assert_eq!(prog[..6], arch_prefix()[..]);
        }
        // The file's rules are for native numbers: without flag 16 an i386 call
        // would skip them, so that combination is an error, for any file.
        for flags in [0, F::ALL & !F::LEGACY_ARCH] {
            let e = build(&SeccompChoice::File(p.clone()), flags).unwrap_err();
            assert!(e.to_string().contains("flag 16"), "{e}");
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
        let e = build(&SeccompChoice::File("/nonexistent/f.json".into()), F::ALL).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/f.json"), "{e}");
    }

    /// The groups of a run with the default profile, as `build` assembles them.
    fn default_groups(flags: u32) -> Vec<Group> {
        let mut g: Vec<Group> = base(flags).into_iter().chain(default_profile()).collect();
        g.extend(behind_socketcall(&g));
        g
    }

    /// The stack as it was built before `bpf.rs`: one seccompiler program per
    /// group, each behind the prefix, for native numbers.
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
                    .flat_map(|(name, rules)| {
                        let rules: Vec<SeccompRule> = rules.iter().map(rule).collect();
                        Abi::X86_64
                            .numbers(name)
                            .into_iter()
                            .map(move |nr| (i64::from(nr), rules.clone()))
                    })
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

    /// seccomp_data for a call of architecture `arch`.
    fn data(arch: u32, nr: u32, args: &[u64; 6]) -> [u32; 16] {
        let mut d = [0u32; 16];
        d[0] = nr;
        d[1] = arch;
        for (i, v) in args.iter().enumerate() {
            d[4 + 2 * i] = *v as u32;
            d[5 + 2 * i] = (*v >> 32) as u32;
        }
        d
    }

    /// Arguments that meet or miss each rule: clone flags, ioctl requests, fcntl
    /// commands, personas, socket domains and protocols, socketcall's sub-calls.
    fn args_to_try() -> Vec<[u64; 6]> {
        let newuser = libc::CLONE_NEWUSER as u64;
        let mut args: Vec<[u64; 6]> = vec![[0; 6], [u64::MAX; 6]];
        for a0 in [
            newuser,
            newuser | 0x2_0000 | 1 << 40,
            1 << 40,
            40,
            40 | 1 << 32,
            1, // socketcall(SYS_SOCKET)
            1 | 1 << 32,
            2, // socketcall(SYS_BIND)
            8, // socketcall(SYS_SOCKETPAIR)
        ] {
            args.push([a0, 0, 0, 0, 0, 0]);
        }
        for a1 in [6u64, 7, 13, 14, 37, 38, 1024, 5, 12, 0x5412, 0x541C, 0x5413] {
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
        args
    }

    #[test]
    fn one_program_answers_as_the_stack_of_programs_did() {
        let args = args_to_try();
        let mut checked = 0;
        for flags in 0..=F::ALL {
            let prefix = arch_prefix();
            let stack = seccompiler_stack(&default_groups(flags), &prefix);
            let one = build(&SeccompChoice::Default, flags).unwrap();
            // Native calls; foreign ones, blocked by flag 16, too (the
            // per-ABI rules are the next test's).
            let mut arches = vec![(AUDIT_ARCH_X86_64, 0)];
            if flags & F::LEGACY_ARCH != 0 {
                arches.extend([(AUDIT_ARCH_X86_64, X32_SYSCALL_BIT), (AUDIT_ARCH_I386, 0)]);
            }
            for (arch, nr_base) in arches {
                for nr in (0..470).map(|n| n + nr_base) {
                    for a in &args {
                        let d = data(arch, nr, a);
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
        assert!(checked > 1_000_000, "{checked}");
    }

    /// The name of the rule call that has number `nr` on `abi`, if any.
    fn name_of(groups: &[Group], abi: Abi, nr: u32) -> Option<&'static str> {
        let mut names = groups
            .iter()
            .flat_map(|g| g.calls.keys().copied())
            .filter(|name| abi.numbers(name).contains(&nr));
        let first = names.next();
        assert!(
            names.all(|n| Some(n) == first),
            "{} {nr:#x}: two calls",
            abi.name()
        );
        first
    }

    /// Flag 16 cleared: an i386 or x32 call gets the answer the native call of the
    /// same name gets, with the same arguments, for every rule and every other
    /// flag; a number no rule names is allowed (the same number natively may be
    /// another, denied, call); and the native calls' answers are those of the
    /// program with flag 16 set. The i386-only calls are spelled out:
    /// socketcall(SYS_SOCKET) and vm86/vm86old ENOSYS, fcntl64 as fcntl plus
    /// F_SETLK64/F_SETLKW64.
    #[test]
    fn every_rule_holds_on_every_abi() {
        let args = args_to_try();
        let errno = |e: i32| bpf::RET_ERRNO | e as u32;
        let mut checked = 0;
        for flags in (0..=F::ALL).filter(|f| f & F::LEGACY_ARCH == 0) {
            let groups = default_groups(flags);
            let p = &build(&SeccompChoice::Default, flags).unwrap()[0];
            let blocked = &build(&SeccompChoice::Default, flags | F::LEGACY_ARCH).unwrap()[0];
            let native = |name: &str, a: &[u64; 6]| {
                let nr = Abi::X86_64.numbers(name)[0];
                bpf::run(p, &data(AUDIT_ARCH_X86_64, nr, a))
            };
            for nr in 0..470 {
                for a in &args {
                    let d = data(AUDIT_ARCH_X86_64, nr, a);
                    assert_eq!(bpf::run(p, &d), bpf::run(blocked, &d), "x86_64 {nr}");
                }
            }
            let x32 = (0..470).chain(512..560).map(|n| n | X32_SYSCALL_BIT);
            let abis = [
                (Abi::X32, x32.collect::<Vec<_>>()),
                (Abi::I386, (0..470).collect()),
            ];
            for (abi, nrs) in abis {
                let arch = if abi == Abi::I386 {
                    AUDIT_ARCH_I386
                } else {
                    AUDIT_ARCH_X86_64
                };
                for nr in nrs {
                    let name = name_of(&groups, abi, nr);
                    for a in &args {
                        let low = |i: usize| a[i] as u32;
                        let want = match name {
                            None => bpf::RET_ALLOW,
                            Some("vm86" | "vm86old") => errno(libc::ENOSYS),
                            Some("socketcall") if low(0) == 1 => errno(libc::ENOSYS),
                            Some("socketcall") => bpf::RET_ALLOW,
                            Some("fcntl64")
                                if flags & F::INODE_LOCKS != 0 && [13, 14].contains(&low(1)) =>
                            {
                                errno(libc::ENOLCK)
                            }
                            Some("fcntl64") => native("fcntl", a),
                            Some(n) => native(n, a),
                        };
                        let got = bpf::run(p, &data(arch, nr, a));
                        assert_eq!(
                            got,
                            want,
                            "flags {flags} {} nr {nr:#x} ({name:?}) args {a:x?}",
                            abi.name()
                        );
                        checked += 1;
                    }
                }
            }
            // Flag 16 set: every foreign call is ENOSYS, whatever it is.
            for a in &args {
                for nr in [0, 24, 102, 310, 357] {
                    let d = data(AUDIT_ARCH_I386, nr, a);
                    assert_eq!(bpf::run(blocked, &d), errno(libc::ENOSYS));
                    let d = data(AUDIT_ARCH_X86_64, nr | X32_SYSCALL_BIT, a);
                    assert_eq!(bpf::run(blocked, &d), errno(libc::ENOSYS));
                }
            }
        }
        assert!(checked > 1_000_000, "{checked}");
    }

    /// The calls of the issue, by hand, through each ABI's own numbers (the
    /// numbers of asm/unistd_32.h and unistd_x32.h), with flag 16 cleared.
    #[test]
    fn foreign_abis_spelled_out() {
        let errno = |e: i32| bpf::RET_ERRNO | e as u32;
        let allow = bpf::RET_ALLOW;
        let newuser = libc::CLONE_NEWUSER as u64;
        let x = X32_SYSCALL_BIT;
        let p = &build(&SeccompChoice::Default, F::ALL & !F::LEGACY_ARCH).unwrap()[0];
        let i386 = |nr: u32, a: [u64; 6]| bpf::run(p, &data(AUDIT_ARCH_I386, nr, &a));
        let x32 = |nr: u32, a: [u64; 6]| bpf::run(p, &data(AUDIT_ARCH_X86_64, nr | x, &a));
        let cases: [(&str, u32, u32); 33] = [
            ("i386 getuid", i386(24, [0; 6]), allow),
            (
                "i386 unshare(NEWUSER)",
                i386(310, [newuser, 0, 0, 0, 0, 0]),
                errno(libc::EPERM),
            ),
            (
                "i386 unshare(NEWNS)",
                i386(310, [0x2_0000, 0, 0, 0, 0, 0]),
                allow,
            ),
            (
                "i386 clone(NEWUSER)",
                i386(120, [newuser | 0x11, 0, 0, 0, 0, 0]),
                errno(libc::EPERM),
            ),
            ("i386 clone3", i386(435, [0; 6]), errno(libc::ENOSYS)),
            ("i386 bpf", i386(357, [0; 6]), errno(libc::ENOSYS)),
            (
                "i386 321 (signalfd, x86_64's bpf)",
                i386(321, [0; 6]),
                allow,
            ),
            (
                "i386 ptrace",
                i386(26, [16, 1, 0, 0, 0, 0]),
                errno(libc::ENOSYS),
            ),
            ("i386 101 (ioperm)", i386(101, [0; 6]), errno(libc::ENOSYS)),
            (
                "i386 ioctl(TIOCSTI)",
                i386(54, [1, 0x5412, 0, 0, 0, 0]),
                errno(libc::EPERM),
            ),
            (
                "i386 ioctl(TCGETS)",
                i386(54, [1, 0x5401, 0, 0, 0, 0]),
                allow,
            ),
            (
                "i386 personality(READ_IMPLIES_EXEC)",
                i386(136, [0x40_0000, 0, 0, 0, 0, 0]),
                errno(libc::EPERM),
            ),
            (
                "i386 personality(query)",
                i386(136, [0xffff_ffff, 0, 0, 0, 0, 0]),
                allow,
            ),
            (
                "i386 socket(NETLINK, UEVENT)",
                i386(359, [16, 3, 15, 0, 0, 0]),
                errno(libc::EPROTONOSUPPORT),
            ),
            (
                "i386 socket(NETLINK, ROUTE)",
                i386(359, [16, 3, 0, 0, 0, 0]),
                allow,
            ),
            (
                "i386 socket(VSOCK)",
                i386(359, [40, 1, 0, 0, 0, 0]),
                errno(libc::EAFNOSUPPORT),
            ),
            (
                "i386 socketcall(SYS_SOCKET)",
                i386(102, [1, 0x1000, 0, 0, 0, 0]),
                errno(libc::ENOSYS),
            ),
            (
                "i386 socketcall(SYS_CONNECT)",
                i386(102, [3, 0x1000, 0, 0, 0, 0]),
                allow,
            ),
            ("i386 ipc(SHMGET)", i386(117, [23, 0, 4096, 0, 0, 0]), allow),
            ("i386 vm86old", i386(113, [0; 6]), errno(libc::ENOSYS)),
            ("i386 vm86", i386(166, [0; 6]), errno(libc::ENOSYS)),
            ("i386 keyctl", i386(288, [0; 6]), errno(libc::ENOSYS)),
            (
                "i386 io_uring_setup",
                i386(425, [8, 0, 0, 0, 0, 0]),
                errno(libc::ENOSYS),
            ),
            (
                "i386 flock",
                i386(143, [3, 2, 0, 0, 0, 0]),
                errno(libc::ENOLCK),
            ),
            (
                "i386 fcntl64(F_SETLK64)",
                i386(221, [3, 13, 0, 0, 0, 0]),
                errno(libc::ENOLCK),
            ),
            (
                "i386 fcntl64(F_GETLK64)",
                i386(221, [3, 12, 0, 0, 0, 0]),
                allow,
            ),
            (
                "i386 fcntl(F_OFD_SETLK)",
                i386(55, [3, 37, 0, 0, 0, 0]),
                errno(libc::ENOLCK),
            ),
            (
                "x32 unshare(NEWUSER)",
                x32(272, [newuser, 0, 0, 0, 0, 0]),
                errno(libc::EPERM),
            ),
            (
                "x32 ioctl 514 (TIOCSTI)",
                x32(514, [1, 0x5412, 0, 0, 0, 0]),
                errno(libc::EPERM),
            ),
            (
                "x32 ioctl 16 (TIOCSTI)",
                x32(16, [1, 0x5412, 0, 0, 0, 0]),
                errno(libc::EPERM),
            ),
            ("x32 ptrace 521", x32(521, [0; 6]), errno(libc::ENOSYS)),
            ("x32 getpid", x32(39, [0; 6]), allow),
            ("x32 rt_sigaction 512", x32(512, [0; 6]), allow),
        ];
        for (what, got, want) in cases {
            assert_eq!(got, want, "{what}");
        }
    }

    /// seccomp_data for an x86_64 call.
    fn call(nr: i64, args: [u64; 6]) -> [u32; 16] {
        data(AUDIT_ARCH_X86_64, nr as u32, &args)
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
            (451, 3), // cachestat
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
        for &name in KERNEL_SURFACE {
            if !rows.iter().any(|r| r.contains(&format!("`{name}`"))) {
                missing.push(name.to_string());
            }
        }
        for (name, answer) in [
            ("TIOCSTI", "EPERM"),
            ("TIOCLINUX", "EPERM"),
            ("TIOCSETD", "EPERM"),
            ("TIOCEXCL", "EPERM"),
            ("TCXONC", "EPERM"),
            ("`personality`", "EPERM"),
            ("NETLINK_KOBJECT_UEVENT", "EPROTONOSUPPORT"),
            ("`clone3`", "ENOSYS"),
            ("CLONE_NEWUSER", "EPERM"),
            ("`keyctl`", "ENOSYS"),
            ("AF_VSOCK", "EAFNOSUPPORT"),
            ("`flock`", "ENOLCK"),
            ("`io_uring_setup`", "ENOSYS"),
            ("`socketcall(SYS_SOCKET", "ENOSYS"),
            ("F_SETLK64", "ENOLCK"),
            ("`ipc`", "allowed"),
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
        // hundred instructions (the kernel takes 4096), and a few hundred more
        // for each foreign ABI when flag 16 is cleared.
        let one = F::LEGACY_ARCH;
        for (flags, max) in [(one, 400), (F::ALL, 400), (0, 900), (F::ALL & !one, 900)] {
            let p = &build(&SeccompChoice::Default, flags).unwrap()[0];
            assert!(p.len() < max, "flags {flags}: {} instructions", p.len());
            eprintln!("default profile, flags {flags}: {} instructions", p.len());
        }
    }

    #[test]
    fn prefix_decides_foreign_arch() {
        let errno = bpf::RET_ERRNO | libc::ENOSYS as u32;
        let p = arch_prefix();
        assert_eq!(p[2].k, errno);
        assert_eq!(p[5].k, errno);
        // Flag 16 set: the program is the prefix, then the native search.
        let prog = &build(&SeccompChoice::Default, F::ALL).unwrap()[0];
        assert_eq!(prog[..6], p[..]);
        // Cleared: the per-ABI program, whose unknown architecture is ENOSYS too.
        let prog = &build(&SeccompChoice::Default, F::ALL & !F::LEGACY_ARCH).unwrap()[0];
        assert_ne!(prog[..6], p[..]);
        assert_eq!(
            bpf::run(prog, &data(AUDIT_ARCH_AARCH64, 24, &[0; 6])),
            errno
        );
    }
}
