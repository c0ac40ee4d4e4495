//! pivot_root into the new root and detach the host's root.
//!
//! The `pivot_root(".", ".")` form stacks the old root on top of the new one at the
//! same place; unmounting "." with MNT_DETACH then removes the old root from the
//! namespace entirely, so no path inside the box leads back to the host tree.

use crate::sys::error::StepError;
use std::os::fd::{AsRawFd, OwnedFd};

pub fn pivot(root: &OwnedFd) -> Result<(), StepError> {
    // SAFETY: fchdir to a directory descriptor we own.
    if unsafe { libc::fchdir(root.as_raw_fd()) } < 0 {
        return Err(StepError::last_os("root.pivot", "fchdir to the new root"));
    }
    let dot = c".";
    // SAFETY: pivot_root with static paths; the new root is a mount point (our tmpfs).
    if unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) } < 0 {
        return Err(StepError::last_os("root.pivot", "pivot_root(., .)"));
    }
    // SAFETY: detach the old root, now stacked on ".".
    if unsafe { libc::umount2(dot.as_ptr(), libc::MNT_DETACH) } < 0 {
        return Err(StepError::last_os("root.pivot", "detach the old root"));
    }
    let slash = c"/";
    // SAFETY: chdir to a static path.
    if unsafe { libc::chdir(slash.as_ptr()) } < 0 {
        return Err(StepError::last_os("root.pivot", "chdir /"));
    }
    Ok(())
}

/// Verify: the mount table holds nothing of the host: every mount point is below
/// the new root, and the mount at / is our tmpfs.
pub fn verify(expected_mounts: usize) -> Result<usize, StepError> {
    let info = crate::sys::fd::read_text("/proc/self/mountinfo")
        .map_err(|e| StepError::io("root.pivot", "/proc/self/mountinfo", &e))?;
    let mut n = 0;
    for line in info.lines() {
        n += 1;
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 5 {
            continue;
        }
        if f[4] == "/" {
            let fstype = line.split(" - ").nth(1).and_then(|r| r.split(' ').next());
            if fstype != Some("tmpfs") {
                return Err(StepError::new(
                    "root.pivot",
                    format!("/ is not the box tmpfs: {line}"),
                ));
            }
        }
    }
    if n > expected_mounts {
        return Err(StepError::new(
            "root.pivot",
            format!("{n} mounts visible, at most {expected_mounts} expected"),
        ));
    }
    Ok(n)
}
