//! What is left of a box's own network namespace: its holder, released.
//!
//! From issue 13 until the review after it, each box kept one network namespace
//! from `--init` to `--cleanup` (held by a bind mount of its nsfs file on
//! `<lock_root>/N.net`), checked before each run for what an earlier run had
//! left and replaced if anything was there. The reviews kept finding state that
//! outlives a run's processes and that the checks did not read: the
//! namespace's counters, IPv6 multicast reports the kernel sends up to a second
//! after the process that joined is gone, the IPv6 per-CPU route cache a UDP
//! connect leaves without a packet. Only a new namespace is provably empty, so
//! every run gets one again (as isolate does), and the saving it was for (about
//! 0.1 ms of a run once the checks were complete, docs/performance.md) is given
//! up. `--init` and `--cleanup` release a holder a box of such a version has.

use crate::sys::error::StepError;
use std::path::{Path, PathBuf};

/// The holder of box `lock_file`'s network namespace: `<lock_root>/N.net`.
pub fn holder(lock_file: &Path) -> PathBuf {
    let mut p = lock_file.as_os_str().to_owned();
    p.push(".net");
    PathBuf::from(p)
}

/// The record of its counters beside it: `N.net.counters`.
fn record(file: &Path) -> PathBuf {
    let mut p = file.as_os_str().to_owned();
    p.push(".counters");
    PathBuf::from(p)
}

/// Unmount and remove a holder and its record. Absent is fine.
pub fn release(file: &Path) -> Result<(), StepError> {
    let step = "cleanup.netns";
    // The same unmount as the box's tmpfs: MNT_DETACH, no link followed, every
    // stacked mount; a holder whose bind is gone is no mount point.
    crate::boxdir::tmpfs::unmount(file)?;
    remove_if_any(file, step)?;
    remove_if_any(&record(file), step)
}

fn remove_if_any(file: &Path, step: &str) -> Result<(), StepError> {
    match std::fs::remove_file(file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StepError::io(step, file.display().to_string(), &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_sits_beside_the_lock_file() {
        assert_eq!(
            holder(Path::new("/run/rustbox/locks/7")),
            PathBuf::from("/run/rustbox/locks/7.net")
        );
        assert_eq!(
            record(Path::new("/run/rustbox/locks/7.net")),
            PathBuf::from("/run/rustbox/locks/7.net.counters")
        );
    }
}
