//! The seccomp filter: isolate's `--syscalls` flags, built with seccompiler before
//! the child is created and installed as the last step before execve.
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
//! netfilter, bpf) that is otherwise root-only.
//!
//! seccompiler kills the process on any foreign-architecture call; a small prefix of
//! our own in front of each program decides that case instead, per flag 16.

use crate::error::StepError;
use crate::spec::syscall_flags as F;
use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

fn target() -> Result<TargetArch, StepError> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| StepError::new("seccomp.build", format!("architecture: {e:?}")))
}

fn arg_eq(idx: u8, v: u64) -> Result<SeccompRule, StepError> {
    let c = SeccompCondition::new(idx, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, v)
        .map_err(|e| StepError::new("seccomp.build", format!("{e:?}")))?;
    SeccompRule::new(vec![c]).map_err(|e| StepError::new("seccomp.build", format!("{e:?}")))
}

/// Matches when `arg & mask == mask`.
fn arg_masked(idx: u8, mask: u64) -> Result<SeccompRule, StepError> {
    let c = SeccompCondition::new(
        idx,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(mask),
        mask,
    )
    .map_err(|e| StepError::new("seccomp.build", format!("{e:?}")))?;
    SeccompRule::new(vec![c]).map_err(|e| StepError::new("seccomp.build", format!("{e:?}")))
}

fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> Result<BpfProgram, StepError> {
    let f = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        target()?,
    )
    .map_err(|e| StepError::new("seccomp.build", format!("{e:?}")))?;
    f.try_into()
        .map_err(|e: seccompiler::BackendError| StepError::new("seccomp.build", format!("{e:?}")))
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}
fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Our architecture prefix (x86_64): native calls go on into the program; foreign
/// ones (i386, x32) get ENOSYS when blocked and are allowed otherwise.
fn arch_prefix(block_foreign: bool) -> Vec<sock_filter> {
    if std::env::consts::ARCH != "x86_64" {
        return Vec::new();
    }
    let foreign = if block_foreign {
        SECCOMP_RET_ERRNO | libc::ENOSYS as u32
    } else {
        SECCOMP_RET_ALLOW
    };
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;
    vec![
        stmt(LD_W_ABS, 4), // seccomp_data.arch
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, foreign),
        stmt(LD_W_ABS, 0), // seccomp_data.nr
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, foreign),
    ]
}

/// Build the programs for the given `--syscalls` flags. There is always at least one
/// program, so the box always runs in seccomp filter mode.
pub fn build(flags: u32) -> Result<Vec<BpfProgram>, StepError> {
    let mut enosys: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    if flags & F::KEYRINGS != 0 {
        for nr in [libc::SYS_keyctl, libc::SYS_add_key, libc::SYS_request_key] {
            enosys.insert(nr, vec![]);
        }
    }
    if flags & F::IO_URING != 0 {
        for nr in [
            libc::SYS_io_uring_setup,
            libc::SYS_io_uring_enter,
            libc::SYS_io_uring_register,
        ] {
            enosys.insert(nr, vec![]);
        }
    }
    enosys.insert(libc::SYS_clone3, vec![]);
    let mut groups = vec![(enosys, libc::ENOSYS)];
    let mut eperm = BTreeMap::new();
    let newuser = libc::CLONE_NEWUSER as u64;
    eperm.insert(libc::SYS_unshare, vec![arg_masked(0, newuser)?]);
    eperm.insert(libc::SYS_clone, vec![arg_masked(0, newuser)?]);
    groups.push((eperm, libc::EPERM));
    if flags & F::VSOCK != 0 {
        let mut m = BTreeMap::new();
        m.insert(libc::SYS_socket, vec![arg_eq(0, libc::AF_VSOCK as u64)?]);
        groups.push((m, libc::EAFNOSUPPORT));
    }
    if flags & F::INODE_LOCKS != 0 {
        let mut m = BTreeMap::new();
        m.insert(libc::SYS_flock, vec![]);
        let cmds = [
            libc::F_SETLK,
            libc::F_SETLKW,
            libc::F_OFD_SETLK,
            libc::F_OFD_SETLKW,
            libc::F_SETLEASE,
        ];
        let rules = cmds
            .iter()
            .map(|&c| arg_eq(1, c as u64))
            .collect::<Result<Vec<_>, _>>()?;
        m.insert(libc::SYS_fcntl, rules);
        groups.push((m, libc::ENOLCK));
    }
    let prefix = arch_prefix(flags & F::LEGACY_ARCH != 0);
    let mut progs = Vec::new();
    for (rules, errno) in groups {
        if rules.is_empty() && !progs.is_empty() {
            continue;
        }
        let mut p = prefix.clone();
        p.extend(compile(rules, errno)?);
        progs.push(p);
    }
    Ok(progs)
}

pub fn describe(flags: u32) -> String {
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
    if blocked.is_empty() {
        "filter mode, nothing blocked (--syscalls=0)".into()
    } else {
        format!("blocked: {}", blocked.join(", "))
    }
}

/// Install the programs (no_new_privs is already set) and check the mode.
pub fn install(progs: &[BpfProgram]) -> Result<(), StepError> {
    for p in progs {
        seccompiler::apply_filter(p)
            .map_err(|e| StepError::new("seccomp.install", format!("{e}")))?;
    }
    // SAFETY: prctl with constant arguments only reads.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    if mode != 2 {
        return Err(StepError::new(
            "seccomp.verify",
            format!("seccomp mode is {mode}, not 2 (filter)"),
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
            let p = build(flags).unwrap();
            assert!(!p.is_empty());
            assert!(p.iter().all(|prog| prog.len() < 4096));
        }
    }

    #[test]
    fn prefix_decides_foreign_arch() {
        let p = arch_prefix(true);
        assert_eq!(p[2].k, SECCOMP_RET_ERRNO | libc::ENOSYS as u32);
        let p = arch_prefix(false);
        assert_eq!(p[2].k, SECCOMP_RET_ALLOW);
    }
}
