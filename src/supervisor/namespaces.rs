//! The box's namespaces: the clone flags, and the check from outside that the
//! proxy really is in new ones (and that its children go into a time namespace
//! of their own, `timens`).

use crate::sys::error::StepError;
use crate::verdict::evidence::Control;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Namespaces every box gets; the network one unless --share-net.
pub const NAMESPACES: &[(libc::c_int, &str)] = &[
    (libc::CLONE_NEWNS, "mnt"),
    (libc::CLONE_NEWPID, "pid"),
    (libc::CLONE_NEWIPC, "ipc"),
    (libc::CLONE_NEWUTS, "uts"),
    (libc::CLONE_NEWCGROUP, "cgroup"),
    (libc::CLONE_NEWNET, "net"),
];

/// The box's network namespace as one run has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetNs {
    /// --share-net: the host's.
    Shared,
    /// A new one for this run: nothing of an earlier run can be in it.
    New,
    /// The box's spare (`boxdir::netns`), made ahead of this run and never used:
    /// the clone happens inside it, so pid 1 is born there; `inode` is the one
    /// pid 1 must show.
    Spare { inode: u64 },
    /// A new one, the spare taken from its holder having been refused (why):
    /// as `New`.
    SpareRefused(String),
}

/// The namespaces the clone itself creates (`NAMESPACES`): the network one only
/// when the run gets a new one.
fn created(net: &NetNs) -> impl Iterator<Item = &'static (libc::c_int, &'static str)> + '_ {
    NAMESPACES
        .iter()
        .filter(move |(_, ns)| *ns != "net" || matches!(net, NetNs::New | NetNs::SpareRefused(_)))
}

/// The clone3 flags for the box's namespaces.
pub fn clone_flags(net: &NetNs) -> u64 {
    created(net).fold(0, |flags, (f, _)| flags | *f as u64)
}

/// `/proc/<who>/ns`, opened once for all the namespace links below it.
fn ns_dir(who: &str) -> Result<OwnedFd, StepError> {
    let path = format!("/proc/{who}/ns");
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    crate::sys::fd::open(Path::new(&path), flags, "namespaces.verify")
}

/// The target of the namespace link `ns` of process `who` below its `ns_dir`,
/// e.g. "net:[4026531840]"; readlinkat's errno when it cannot be read.
fn ns_link(dir: &OwnedFd, who: &str, ns: &str) -> Result<Vec<u8>, StepError> {
    let step = "namespaces.verify";
    let name = crate::sys::fd::cstring(ns.as_bytes(), step, ns)?;
    let what = format!("readlink /proc/{who}/ns/{ns}");
    let mut buf = [0u8; 64];
    // SAFETY: readlinkat reads the NUL-terminated `name` below a directory
    // descriptor we own and writes at most `buf.len()` bytes into `buf`, a live
    // local; it does not terminate them, and only the count returned is used.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(StepError::last_os(step, what));
    }
    match n as usize {
        // A link target that fills the buffer may be cut: not a namespace's.
        len if len > 0 && len < buf.len() => Ok(buf[..len].to_vec()),
        _ => Err(StepError::sys(step, what, libc::ENAMETOOLONG)),
    }
}

/// Check from outside that the proxy really is in new namespaces.
pub fn verify(pid: libc::pid_t, net: &NetNs) -> Result<Control, StepError> {
    let who = pid.to_string();
    let (my_dir, their_dir) = (ns_dir("self")?, ns_dir(&who)?);
    let mut names = Vec::new();
    if let NetNs::Spare { inode } = net {
        let theirs = ns_link(&their_dir, &who, "net")?;
        let mine = ns_link(&my_dir, "self", "net")?;
        if theirs == mine || theirs != format!("net:[{inode}]").into_bytes() {
            return Err(StepError::new(
                "namespaces.verify",
                format!("the box is not in its spare network namespace net:[{inode}]"),
            ));
        }
    }
    for &(_, ns) in created(net) {
        let mine = ns_link(&my_dir, "self", ns)?;
        // Another process's namespace links need ptrace access to it
        // (CAP_SYS_PTRACE, for a non-dumpable one); a box's pid 1 that is gone
        // has none either.
        let theirs = ns_link(&their_dir, &who, ns).map_err(|e| StepError {
            detail: format!(
                "{} (the box's pid 1; without CAP_SYS_PTRACE, or with pid 1 gone, its namespaces cannot be checked)",
                e.detail
            ),
            ..e
        })?;
        if mine == theirs {
            return Err(StepError::new(
                "namespaces.verify",
                format!("the box is not in a new {ns} namespace"),
            ));
        }
        names.push(ns);
    }
    let names = names.join(", ");
    let detail = match net {
        NetNs::Shared => format!("new {names} namespaces; net shared (--share-net)"),
        NetNs::New => format!("new {names} namespaces"),
        NetNs::SpareRefused(why) => format!(
            "new {names} namespaces (the box's spare net namespace could not be entered, so the clone made this one: {why})"
        ),
        NetNs::Spare { inode } => format!(
            "new {names} namespaces; a new net namespace net:[{inode}], taken from the box's holder for this run alone, made there by rustbox after a run had ended"
        ),
    };
    Ok(Control::applied("namespaces", true, detail))
}

/// Check from outside that the proxy's children go into a time namespace of
/// their own while the proxy stays in ours (its wait4 and the supervisor's clocks
/// are the host's); `namespaces`, the control of `verify`, says so.
pub fn verify_time_namespace(pid: libc::pid_t, namespaces: &mut Control) -> Result<(), StepError> {
    let who = pid.to_string();
    let (my_dir, their_dir) = (ns_dir("self")?, ns_dir(&who)?);
    let mine = ns_link(&my_dir, "self", "time")?;
    let theirs = ns_link(&their_dir, &who, "time")?;
    let children = ns_link(&their_dir, &who, "time_for_children")?;
    if children == mine {
        return Err(StepError::new(
            "namespaces.verify",
            "the program would not be in a new time namespace",
        ));
    }
    if theirs != mine {
        return Err(StepError::new(
            "namespaces.verify",
            "the proxy left the supervisor's time namespace",
        ));
    }
    namespaces
        .detail
        .push_str("; new time namespace for the program");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clone_makes_a_network_namespace_only_when_the_run_gets_a_new_one() {
        let all = libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWCGROUP
            | libc::CLONE_NEWNET;
        assert_eq!(clone_flags(&NetNs::New), all as u64);
        let no_net = (all & !libc::CLONE_NEWNET) as u64;
        assert_eq!(clone_flags(&NetNs::Shared), no_net);
    }
}
