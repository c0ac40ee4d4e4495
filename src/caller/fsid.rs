//! The filesystem identity (`setfsuid`/`setfsgid`): how rustbox, running as root,
//! opens what the caller named with the caller's rights and no more.
//!
//! The kernel checks every path lookup and open against the fsuid, the fsgid and
//! the supplementary groups. Moving the fsuid away from 0 also drops the
//! filesystem capabilities (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, ...)
//! from the effective set, so a lookup done here fails exactly where the caller's
//! own would; moving it back to 0 raises them again from the permitted set. Other
//! capabilities (CAP_SYS_ADMIN for a bind mount) stay, which is what lets the
//! mount step bind a caller-named directory without root's power to reach it.
//!
//! The identity is per thread: rustbox's supervisor and box child are single
//! threaded, and the identity is always restored before `as_user` returns.

use crate::sys::error::StepError;
use caps::CapSet;
pub use caps::Capability;

/// Read the current fsuid and fsgid. `setfsuid(-1)` changes nothing (-1 is never a
/// valid id) and returns the current value; these calls report no errors at all,
/// which is why every change is read back.
fn current() -> (u32, u32) {
    // SAFETY: setfsuid/setfsgid with an invalid id only return the current id.
    unsafe {
        (
            libc::setfsuid(u32::MAX) as u32,
            libc::setfsgid(u32::MAX) as u32,
        )
    }
}

fn set(uid: u32, gid: u32, step: &str) -> Result<(), StepError> {
    // SAFETY: plain system calls on this thread's credentials; checked below.
    unsafe {
        libc::setfsgid(gid);
        libc::setfsuid(uid);
    }
    let now = current();
    if now != (uid, gid) {
        return Err(StepError::new(
            step,
            format!(
                "setfsuid({uid})/setfsgid({gid}) did not take effect (fsuid {}, fsgid {})",
                now.0, now.1
            ),
        ));
    }
    Ok(())
}

/// Run `f` with filesystem identity `(uid, gid)` (and this thread's supplementary
/// groups), and with no effective capability but those in `keep`, then return to
/// root's identity and capabilities. An identity of root is a plain call. If going
/// back fails, that error wins: nothing may go on with the wrong identity.
///
/// Why the capabilities too: the fsuid switch drops only the filesystem ones.
/// CAP_SYS_PTRACE would still let a lookup through the `/proc/<pid>/cwd` and
/// `root` links of any process (the caller could not follow them), and others
/// (CAP_SYS_ADMIN, CAP_NET_ADMIN) are of no use to opening a file.
pub fn as_user<T>(
    (uid, gid): (u32, u32),
    keep: &[Capability],
    step: &str,
    f: impl FnOnce() -> Result<T, StepError>,
) -> Result<T, StepError> {
    if uid == 0 && gid == 0 {
        return f();
    }
    let cap_err = |e: caps::errors::CapsError| StepError::new(step, format!("capabilities: {e}"));
    let before = current();
    let effective = caps::read(None, CapSet::Effective).map_err(cap_err)?;
    let only: caps::CapsHashSet = effective
        .iter()
        .filter(|c| keep.contains(c))
        .copied()
        .collect();
    // The identity first, while CAP_SETUID/CAP_SETGID are there (an --as-uid
    // identity needs them); then the capabilities; back in the reverse order.
    let out = set(uid, gid, step)
        .and_then(|()| caps::set(None, CapSet::Effective, &only).map_err(cap_err))
        .and_then(|()| f());
    // Going back is tried in full whatever fails: a capability set left reduced
    // would have the teardown after a run (handing /box back) fail for want of
    // CAP_CHOWN. A capset can fail once (a fault sweep failed exactly that
    // call); it is retried, and the identity is restored either way.
    let mut caps_back = Ok(());
    for _ in 0..3 {
        caps_back = caps::set(None, CapSet::Effective, &effective).map_err(cap_err);
        if caps_back.is_ok() {
            break;
        }
    }
    let mut ids_back = Ok(());
    for _ in 0..3 {
        ids_back = set(before.0, before.1, step);
        if ids_back.is_ok() {
            break;
        }
    }
    caps_back.and(ids_back)?;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Unit tests run as whatever user runs cargo; the identity switch itself is
    // exercised by the setuid suite (tests/setuid.rs), as root and as callers.
    #[test]
    fn root_identity_is_a_plain_call() {
        let before = current();
        let r = as_user((0, 0), &[], "t", || Ok(current()));
        assert_eq!(r.unwrap(), before);
        assert_eq!(current(), before);
    }
}
