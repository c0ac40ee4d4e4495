//! One device node of the box's `/dev`: `mknodat` of a host device's numbers.
//!
//! The box's `/dev` is a tmpfs of its own (nosuid, noexec, made read-only once
//! filled). Each node in it is made here, as root before the credentials drop,
//! with the device numbers, permission bits and owner of the host's node of
//! the same name, and read back. A node of the box's own rather than a bind of the
//! host's: the same device, without a mount per node (five fewer mounts to make,
//! check and tear down on every run) and without an inode the box shares with
//! the host and every other box.
//!
//! Why this is safe: `mknodat` needs CAP_MKNOD, which only the chain has, as
//! root before the credentials drop clears every capability; the tmpfs is reachable only from the box's private mount
//! namespace, which has no other process in it yet, so nothing can race a
//! name created here; and the tmpfs is made read-only before the program runs,
//! so the program can neither add a node nor change one (chmod, chown: EROFS).
//! A device's own access checks do not depend on which inode opened it.

use crate::sys::error::StepError;
use std::ffi::CStr;
use std::os::fd::RawFd;

/// `fstatat` of `name` in `dir`, no link followed.
fn stat_at(dir: RawFd, name: &CStr, what: &str) -> Result<libc::stat, StepError> {
    nix::sys::stat::fstatat(Some(dir), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_err(|e| StepError::nix("mount.dev", format!("fstatat {what}"), e))
}

/// What `copy_char_device` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// The node is there, read back.
    Made,
    /// Nothing was made: `mknodat` answered one of the errnos that mean "no
    /// device nodes here" (no CAP_MKNOD: EPERM; an LSM: EACCES; a kernel or
    /// filter without it: ENOSYS, EOPNOTSUPP).
    Refused(i32),
}

/// Make `name` in the directory `dev` a character device node with the
/// numbers, permission bits (never setuid, setgid or sticky) and owner of the
/// node of the same name in `host_dev` (the host's `/dev`; it must be a
/// character device); read back.
pub fn copy_char_device(
    dev: RawFd,
    name: &CStr,
    host_dev: RawFd,
    shown: &str,
) -> Result<Node, StepError> {
    let host = stat_at(host_dev, name, &format!("the host's {shown}"))?;
    if host.st_mode & libc::S_IFMT != libc::S_IFCHR {
        return Err(StepError::new(
            "mount.dev",
            format!("the host's {shown} is not a character device"),
        ));
    }
    let perm = host.st_mode & 0o777;
    // The mode exactly as asked: no umask of the caller's filters it (the
    // chain is single-threaded, and the mask is put back at once).
    // SAFETY: umask only swaps the process's mask.
    let mask = unsafe { libc::umask(0) };
    // SAFETY: mknodat of a NUL-terminated name below a descriptor we hold; the
    // mode and device come from the host's node.
    let rc = unsafe { libc::mknodat(dev, name.as_ptr(), libc::S_IFCHR | perm, host.st_rdev) };
    let made = (rc == 0)
        .then_some(())
        .ok_or_else(|| StepError::last_os("mount.dev", format!("mknod {shown}")));
    // SAFETY: as above.
    unsafe { libc::umask(mask) };
    if let Err(e) = made {
        return match e.errno {
            Some(n @ (libc::EPERM | libc::EACCES | libc::ENOSYS | libc::EOPNOTSUPP)) => {
                Ok(Node::Refused(n))
            }
            _ => Err(e),
        };
    }
    // The owner is the supervisor's group otherwise: the host node's, exactly.
    // The name is the node made just now, in a tmpfs no other process can reach.
    // SAFETY: fchownat of a NUL-terminated name below a descriptor we hold, no
    // link followed.
    let owner = (host.st_uid, host.st_gid);
    if unsafe {
        libc::fchownat(
            dev,
            name.as_ptr(),
            owner.0,
            owner.1,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    } < 0
    {
        return Err(StepError::last_os("mount.dev", format!("chown {shown}")));
    }
    let got = stat_at(dev, name, shown)?;
    if got.st_mode != libc::S_IFCHR | perm
        || got.st_rdev != host.st_rdev
        || (got.st_uid, got.st_gid) != owner
    {
        return Err(StepError::new(
            "mount.verify",
            format!(
                "{shown}: not the character device {}:{} mode {perm:o} of {}:{}",
                libc::major(host.st_rdev),
                libc::minor(host.st_rdev),
                owner.0,
                owner.1
            ),
        ));
    }
    Ok(Node::Made)
}
