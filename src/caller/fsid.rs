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
/// valid id) and returns the current value; these calls report no errors as such,
/// which is why every change is read back.
fn current(step: &str) -> Result<(u32, u32), StepError> {
    // SAFETY: setfsuid/setfsgid with an invalid id only return the current id;
    // they touch no memory. errno is read right after each call.
    let uid = unsafe { libc::setfsuid(u32::MAX) };
    let uid = checked(uid, std::io::Error::last_os_error(), "setfsuid", step)?;
    // SAFETY: as above.
    let gid = unsafe { libc::setfsgid(u32::MAX) };
    let gid = checked(gid, std::io::Error::last_os_error(), "setfsgid", step)?;
    Ok((uid, gid))
}

/// The id `setfsuid(-1)` (or `setfsgid(-1)`, `call`) returned, or the error it
/// carries: a failed call comes back as -1 (glibc's wrapper sets errno), and -1
/// is never an id. Taken as one, a failed read of the identity to go back to had
/// `as_user` "restore" fsuid 4294967295, which changes nothing, and return with
/// the caller's identity still on (a fault sweep failed exactly that read). The
/// error names the errno in its text but does not carry it as the step's errno:
/// a caller that reads ENOENT as "the path is not there" (`box.setid`) must not
/// take a failed identity read for that.
fn checked(
    raw: libc::c_int,
    err: std::io::Error,
    call: &str,
    step: &str,
) -> Result<u32, StepError> {
    if raw == -1 {
        return Err(StepError::new(
            step,
            format!("{call}(-1): the current filesystem identity could not be read: {err}"),
        ));
    }
    Ok(raw as u32)
}

fn set(uid: u32, gid: u32, step: &str) -> Result<(), StepError> {
    // SAFETY: plain system calls on this thread's credentials; checked below.
    unsafe {
        libc::setfsgid(gid);
        libc::setfsuid(uid);
    }
    let now = current(step)?;
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
    // Read before anything changes: if it cannot be read, nothing has changed.
    let before = current(step)?;
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
        let before = current("t").unwrap();
        let r = as_user((0, 0), &[], "t", || current("t"));
        assert_eq!(r.unwrap(), before);
        assert_eq!(current("t").unwrap(), before);
    }

    #[test]
    fn a_failed_read_of_the_identity_is_an_error_not_an_id() {
        let eio = || std::io::Error::from_raw_os_error(libc::EIO);
        let e = checked(-1, eio(), "setfsuid", "meta").unwrap_err();
        assert_eq!(e.step, "meta");
        assert_eq!(e.errno, None);
        assert!(e.detail.contains("setfsuid(-1)"), "{}", e.detail);
        assert!(e.detail.contains("os error 5"), "{}", e.detail);
        assert_eq!(checked(1001, eio(), "setfsgid", "meta").unwrap(), 1001);
        assert_eq!(checked(0, eio(), "setfsuid", "meta").unwrap(), 0);
    }
}
