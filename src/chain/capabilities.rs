//! Capabilities: every set emptied and read back (hardening plan C5).
//!
//! On entry the process runs as the box uid with an empty effective set but, thanks
//! to PR_SET_KEEPCAPS, a full permitted set. CAP_SETPCAP is raised once more because
//! dropping the bounding set and locking the securebits need it; then every set is
//! emptied. The securebits are locked so that no later execve (a setuid-root binary
//! on a mount we missed, say) can give root's capabilities back.

use crate::sys::error::StepError;
use caps::{CapSet, Capability};

const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;
const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
const SECBIT_NO_SETUID_FIXUP_LOCKED: libc::c_ulong = 1 << 3;
const SECBIT_KEEP_CAPS_LOCKED: libc::c_ulong = 1 << 5;
const SECBIT_NO_CAP_AMBIENT_RAISE: libc::c_ulong = 1 << 6;
const SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: libc::c_ulong = 1 << 7;
pub const SECUREBITS: libc::c_ulong = SECBIT_NOROOT
    | SECBIT_NOROOT_LOCKED
    | SECBIT_NO_SETUID_FIXUP
    | SECBIT_NO_SETUID_FIXUP_LOCKED
    | SECBIT_KEEP_CAPS_LOCKED
    | SECBIT_NO_CAP_AMBIENT_RAISE
    | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

/// The highest capability number this kernel knows. Read by the supervisor before
/// the box exists: inside it /proc/sys may be absent and descriptors scarce.
pub fn last_cap() -> u32 {
    crate::sys::fd::read_text("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

pub fn clear_all(last: u32) -> Result<(), StepError> {
    // Raising a capability that is not permitted is capset's EPERM: said as
    // such (the caps crate's error keeps no errno), so the fix can name it.
    let permitted = caps::has_cap(None, CapSet::Permitted, Capability::CAP_SETPCAP)
        .map_err(|e| StepError::new("caps.setpcap", format!("read the permitted set: {e}")))?;
    if !permitted {
        return Err(StepError::sys(
            "caps.setpcap",
            "raise CAP_SETPCAP: not in the permitted set",
            libc::EPERM,
        ));
    }
    caps::raise(None, CapSet::Effective, Capability::CAP_SETPCAP)
        .map_err(|e| StepError::new("caps.setpcap", format!("raise CAP_SETPCAP: {e}")))?;
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0) } < 0 {
        return Err(StepError::last_os(
            "caps.securebits",
            format!("PR_SET_SECUREBITS {SECUREBITS:#x}"),
        ));
    }
    for cap in 0..=last {
        // SAFETY: prctl(PR_CAPBSET_DROP, cap); EINVAL for caps unknown to the kernel.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            return Err(StepError::last_os(
                "caps.bounding",
                format!("drop capability {cap}"),
            ));
        }
    }
    // SAFETY: prctl with constant arguments.
    if unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    } < 0
    {
        return Err(StepError::last_os(
            "caps.ambient",
            "PR_CAP_AMBIENT_CLEAR_ALL",
        ));
    }
    for set in [CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        caps::clear(None, set)
            .map_err(|e| StepError::new("caps.clear", format!("{set:?}: {e}")))?;
    }
    Ok(())
}

/// Read every set back from the kernel; all must be empty.
pub fn verify(last: u32) -> Result<(), StepError> {
    for set in [
        CapSet::Effective,
        CapSet::Permitted,
        CapSet::Inheritable,
        CapSet::Ambient,
    ] {
        let have = caps::read(None, set)
            .map_err(|e| StepError::new("caps.verify", format!("read {set:?}: {e}")))?;
        if !have.is_empty() {
            return Err(StepError::new(
                "caps.verify",
                format!("{set:?} still holds {have:?}"),
            ));
        }
    }
    for cap in 0..=last {
        // SAFETY: prctl(PR_CAPBSET_READ, cap) only reads.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) };
        if rc > 0 {
            return Err(StepError::new(
                "caps.verify",
                format!("capability {cap} still in the bounding set"),
            ));
        }
    }
    // SAFETY: prctl with constant arguments only reads.
    let bits = unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) };
    if bits < 0 || (bits as libc::c_ulong) & SECUREBITS != SECUREBITS {
        return Err(StepError::new(
            "caps.verify",
            format!("securebits are {bits:#x}"),
        ));
    }
    Ok(())
}
