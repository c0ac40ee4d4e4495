//! What to do about a step that failed for want of something the host or the
//! container did not give: a capability, a call its seccomp profile or LSM
//! refuses, a writable cgroupfs. The failed step, its errno and this process's
//! effective capabilities decide it; the run's error line carries it after the
//! step's own message, so an operator reads cause and cure on one line.
//!
//! Only failures whose cause these three determine get a fix; any other keeps
//! its message alone rather than a guess. `mount.bind` gets none: its EPERM
//! and EACCES are rustbox's own refusals of what the caller asked (a path the
//! caller may not read, `norec` over mounts), not the container's.

use crate::sys::error::StepError;

/// This process's effective capabilities (`CapEff` of `/proc/self/status`), as
/// a bit set of linux/capability.h numbers; None if it cannot be read.
pub fn effective_caps() -> Option<u64> {
    cap_eff(&crate::sys::fd::read_text("/proc/self/status").ok()?)
}

/// The `CapEff` line of a `/proc/PID/status` text.
pub fn cap_eff(status: &str) -> Option<u64> {
    crate::sys::procfs::field(status, "CapEff:").and_then(|v| u64::from_str_radix(v, 16).ok())
}

/// The capabilities a step needs (from `check::NEEDED_CAPS`), by the step's
/// name and what it was doing. Empty for steps that need none or that are not
/// a privileged system call.
fn needed(step: &str, detail: &str) -> &'static [(u32, &'static str)] {
    const SYS_ADMIN: &[(u32, &str)] = &[(21, "SYS_ADMIN")];
    match step {
        "namespaces.verify" => &[(19, "SYS_PTRACE")],
        "namespace.time" if detail.contains("timens_offsets") => &[(25, "SYS_TIME")],
        "net.loopback" => &[(12, "NET_ADMIN")],
        "credentials.setgroups" => &[(6, "SETGID")],
        "box.chown" | "box.tmp" => &[(0, "CHOWN"), (1, "DAC_OVERRIDE"), (3, "FOWNER")],
        s if s.starts_with("caps.") => &[(8, "SETPCAP")],
        s if s.starts_with("credentials.") => &[(6, "SETGID"), (7, "SETUID")],
        "mount.bind" => &[],
        s if s.starts_with("namespaces.")
            || s.starts_with("namespace.")
            || s.starts_with("mount.")
            || s.starts_with("root.")
            || s == "uts.hostname"
            || s == "ipc.limits" =>
        {
            SYS_ADMIN
        }
        _ => &[],
    }
}

/// Steps that mount (pid 1's own procfs for the IPC limits among them): an
/// LSM's refusal of them is EACCES.
fn mounts(step: &str) -> bool {
    step.starts_with("mount.") || step.starts_with("root.") || step == "ipc.limits"
}

/// CLONE_INTO_CGROUP, as `namespaces.clone3` shows its flags.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

const SECCOMP: &str = "in a container: --security-opt seccomp=unconfined (docker, podman), \
seccompProfile Unconfined (Kubernetes), or a profile that allows the calls docs/containers.md lists";

/// The fix for `e`, given the effective capabilities `eff` (None: unknown).
pub fn for_failure(e: &StepError, eff: Option<u64>) -> Option<String> {
    let errno = e.errno?;
    let step = e.step.as_str();
    if step.starts_with("cgroup.") {
        return match errno {
            libc::EROFS => Some(
                "cgroupfs is mounted read-only here: give rustbox a writable cgroup subtree \
                 (docs/containers.md, \"cgroups\"), or run without --cg"
                    .into(),
            ),
            libc::EACCES | libc::EPERM => Some(
                "the cgroup subtree is not rustbox's to write here: delegate it \
                 (docs/containers.md, \"cgroups\"), or run without --cg"
                    .into(),
            ),
            _ => None,
        };
    }
    if errno == libc::ENOSYS {
        return Some(format!(
            "the kernel lacks this call, or a seccomp profile refuses it as if it did \
             (`rustbox --check` probes each call); {SECCOMP}"
        ));
    }
    if errno != libc::EPERM && errno != libc::EACCES {
        return None;
    }
    if step == "namespaces.clone3"
        && errno == libc::EACCES
        && clone_flags(&e.detail) & CLONE_INTO_CGROUP != 0
    {
        return Some(
            "the box's cgroup may not be entered here (CLONE_INTO_CGROUP): delegate the \
             cgroup subtree (docs/containers.md, \"cgroups\"), or run without --cg"
                .into(),
        );
    }
    let caps = needed(step, &e.detail);
    if caps.is_empty() {
        return None;
    }
    let eff = eff?;
    let missing: Vec<&str> = caps
        .iter()
        .filter(|(n, _)| eff & (1u64 << n) == 0)
        .map(|(_, name)| *name)
        .collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|n| format!("CAP_{n}")).collect();
        let adds: Vec<String> = missing.iter().map(|n| format!("--cap-add={n}")).collect();
        return Some(format!(
            "{} not among this process's capabilities: grant {} (docker, podman: {}; \
             Kubernetes: securityContext.capabilities.add)",
            names.join(", "),
            if missing.len() == 1 { "it" } else { "them" },
            adds.join(" ")
        ));
    }
    let held: Vec<String> = caps.iter().map(|(_, n)| format!("CAP_{n}")).collect();
    if errno == libc::EACCES && mounts(step) {
        return Some(format!(
            "refused although rustbox holds {}: an LSM refuses the mount (AppArmor's \
             docker-default profile does): --security-opt apparmor=unconfined, or a profile \
             that allows rustbox's mounts (docs/containers.md)",
            held.join(", ")
        ));
    }
    Some(format!(
        "refused although rustbox holds {}: a seccomp profile or an LSM refuses the call; {SECCOMP}",
        held.join(", ")
    ))
}

/// The flags of a `namespaces.clone3` detail ("flags 0x...").
fn clone_flags(detail: &str) -> u64 {
    detail
        .split_whitespace()
        .find_map(|w| w.strip_prefix("0x"))
        .map(|h| h.trim_end_matches(|c: char| !c.is_ascii_hexdigit()))
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Option<u64> = Some(u64::MAX);

    fn e(step: &str, detail: &str, errno: i32) -> StepError {
        StepError::sys(step, detail, errno)
    }

    #[test]
    fn a_missing_capability_is_named_with_how_to_grant_it() {
        let without_ptrace = Some(!(1u64 << 19));
        let f = for_failure(&e("namespaces.verify", "x", libc::EPERM), without_ptrace).unwrap();
        assert!(f.contains("CAP_SYS_PTRACE not among"), "{f}");
        assert!(f.contains("--cap-add=SYS_PTRACE"), "{f}");
        let f = for_failure(&e("net.loopback", "lo up", libc::EPERM), Some(0)).unwrap();
        assert!(f.starts_with("CAP_NET_ADMIN not among"), "{f}");
        let f = for_failure(&e("box.tmp", "/b/1/tmp", libc::EPERM), Some(0)).unwrap();
        assert!(
            f.contains("CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER") && f.contains("them"),
            "{f}"
        );
    }

    #[test]
    fn a_held_capability_points_at_seccomp_or_the_lsm() {
        let f = for_failure(&e("namespaces.clone3", "flags", libc::EPERM), ALL).unwrap();
        assert!(
            f.contains("holds CAP_SYS_ADMIN") && f.contains("seccomp=unconfined"),
            "{f}"
        );
        let f = for_failure(&e("mount.private", "/", libc::EACCES), ALL).unwrap();
        assert!(f.contains("apparmor=unconfined"), "{f}");
        let f = for_failure(&e("mount.private", "/", libc::EPERM), ALL).unwrap();
        assert!(f.contains("seccomp"), "{f}");
    }

    #[test]
    fn enosys_and_a_read_only_cgroupfs_have_their_own_fix() {
        let f = for_failure(&e("namespaces.clone3", "flags", libc::ENOSYS), ALL).unwrap();
        assert!(
            f.contains("kernel lacks this call") && f.contains("seccomp"),
            "{f}"
        );
        let f = for_failure(&e("cgroup.destroy", "rmdir x", libc::EROFS), ALL).unwrap();
        assert!(f.contains("read-only") && f.contains("without --cg"), "{f}");
        let f = for_failure(&e("cgroup.create", "mkdir x", libc::EACCES), Some(0)).unwrap();
        assert!(f.contains("delegate it"), "{f}");
    }

    #[test]
    fn rustboxs_own_refusals_of_a_bind_get_no_fix() {
        // The caller may not read the source; norec over mounts.
        let read = e("mount.bind", "/x: the caller may not read it", libc::EACCES);
        assert_eq!(for_failure(&read, ALL), None);
        let norec = e("mount.bind", "/x: norec would show", libc::EPERM);
        assert_eq!(for_failure(&norec, ALL), None);
    }

    #[test]
    fn a_cgroup_clone3_refusal_is_the_delegation() {
        let into = e("namespaces.clone3", "flags 0x26e020000", libc::EACCES);
        let f = for_failure(&into, ALL).unwrap();
        assert!(
            f.contains("CLONE_INTO_CGROUP") && f.contains("delegate"),
            "{f}"
        );
        let plain = e("namespaces.clone3", "flags 0x6e020000", libc::EACCES);
        assert!(for_failure(&plain, ALL).unwrap().contains("seccomp"));
        let f = for_failure(&e("ipc.limits", "fsmount(proc)", libc::EACCES), ALL).unwrap();
        assert!(f.contains("LSM refuses the mount"), "{f}");
    }

    #[test]
    fn other_failures_get_no_guess() {
        assert_eq!(
            for_failure(&e("io.open", "/box/in", libc::EACCES), ALL),
            None
        );
        assert_eq!(for_failure(&e("mount.bind", "/x", libc::ENOENT), ALL), None);
        assert_eq!(
            for_failure(&StepError::new("mount.verify", "differs"), ALL),
            None
        );
        // Unknown capabilities: no claim about which is missing.
        assert_eq!(
            for_failure(&e("net.loopback", "lo", libc::EPERM), None),
            None
        );
    }
}
