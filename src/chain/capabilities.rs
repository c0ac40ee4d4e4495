//! Capabilities: every set emptied and read back (hardening plan C5).
//!
//! On entry the process runs as the box uid with an empty effective set but, thanks
//! to PR_SET_KEEPCAPS, a full permitted set. CAP_SETPCAP is raised once more because
//! dropping the bounding set and locking the securebits need it; then every set is
//! emptied. The securebits are locked so that no later execve (a setuid-root binary
//! on a mount we missed, say) can give root's capabilities back.

use crate::sys::error::StepError;

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

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets, as two 32-bit words each.
const CAPS_V3: u32 = 0x2008_0522;
const CAP_SETPCAP: u32 = 8;

/// The kernel's `__user_cap_header_struct`.
#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

/// The kernel's `__user_cap_data_struct`, one per 32-bit word of each set.
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Word {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The effective, permitted and inheritable sets of this thread (capget).
fn get(step: &str) -> Result<[Word; 2], StepError> {
    let mut h = Header {
        version: CAPS_V3,
        pid: 0,
    };
    let mut d = [Word::default(); 2];
    // SAFETY: capget writes two `Word`s (version 3) into `d` and may rewrite the
    // header's version; both are live locals of the kernel's layout.
    if unsafe { libc::syscall(libc::SYS_capget, &mut h as *mut Header, d.as_mut_ptr()) } < 0 {
        return Err(StepError::last_os(step, "capget"));
    }
    Ok(d)
}

/// Set this thread's effective, permitted and inheritable sets (capset).
fn set(d: &[Word; 2], step: &str, what: &str) -> Result<(), StepError> {
    let mut h = Header {
        version: CAPS_V3,
        pid: 0,
    };
    // SAFETY: capset reads two `Word`s (version 3) from `d`, a live local.
    if unsafe { libc::syscall(libc::SYS_capset, &mut h as *mut Header, d.as_ptr()) } < 0 {
        return Err(StepError::last_os(step, what));
    }
    Ok(())
}

/// Empty every set: CAP_SETPCAP raised (one capset), securebits locked, each
/// capability dropped from the bounding set, ambient cleared, then effective,
/// permitted and inheritable emptied by one capset.
pub fn clear_all(last: u32) -> Result<(), StepError> {
    let mut d = get("caps.setpcap")?;
    // Raising a capability that is not permitted is capset's EPERM: said as
    // such, so the fix can name it.
    if d[0].permitted & (1 << CAP_SETPCAP) == 0 {
        return Err(StepError::sys(
            "caps.setpcap",
            "raise CAP_SETPCAP: not in the permitted set",
            libc::EPERM,
        ));
    }
    d[0].effective |= 1 << CAP_SETPCAP;
    set(&d, "caps.setpcap", "raise CAP_SETPCAP")?;
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
    // Permitted may only shrink, effective must lie within it, inheritable
    // within the old permitted: all three empty at once is always allowed.
    set(
        &[Word::default(); 2],
        "caps.clear",
        "capset: effective, permitted, inheritable empty",
    )
}

/// Where the sets are read back from: the box's own /proc (one read of
/// /proc/self/status gives all five), or, where /proc is not the procfs the
/// chain mounted itself, one prctl per capability for the bounding and ambient
/// sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadBack {
    /// /proc is the procfs this chain mounted, with no mount below it.
    OwnProc,
    /// No /proc, or one the chain did not mount (a caller's rule).
    Prctl,
}

/// Read every set back from the kernel; all must be empty. Returns how.
pub fn verify(last: u32, how: ReadBack) -> Result<String, StepError> {
    if get("caps.verify")? != [Word::default(); 2] {
        return Err(StepError::new(
            "caps.verify",
            "capget: effective, permitted or inheritable not empty",
        ));
    }
    let per_cap = "read back by capget and one prctl per capability";
    let how = match how {
        ReadBack::OwnProc => match status_sets() {
            Ok(sets) => {
                for (name, mask) in sets {
                    if mask != 0 {
                        return Err(StepError::new(
                            "caps.verify",
                            format!("/proc/self/status {name} {mask:016x}"),
                        ));
                    }
                }
                "read back by capget and /proc/self/status".to_string()
            }
            // The box's procfs could not be read: the prctl reads read the
            // same sets, one capability at a time; the evidence says why.
            Err(e) => {
                per_capability(last)?;
                format!("{per_cap}: /proc/self/status could not be read ({e})")
            }
        },
        ReadBack::Prctl => {
            per_capability(last)?;
            format!("{per_cap}: /proc is not the procfs the chain mounted")
        }
    };
    // SAFETY: prctl with constant arguments only reads.
    let bits = unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) };
    if bits < 0 || (bits as libc::c_ulong) & SECUREBITS != SECUREBITS {
        return Err(StepError::new(
            "caps.verify",
            format!("securebits are {bits:#x}"),
        ));
    }
    Ok(how)
}

/// The five capability sets of /proc/self/status (`parse_sets`); Err if the
/// file is not procfs's or lacks one of them.
fn status_sets() -> std::io::Result<[(&'static str, u64); 5]> {
    use std::io::{Error, ErrorKind, Read};
    let mut f = std::fs::File::open("/proc/self/status")?;
    if nix::sys::statfs::fstatfs(&f)?.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(Error::other("not procfs"));
    }
    let mut text = String::new();
    f.read_to_string(&mut text)?;
    parse_sets(&text).ok_or_else(|| Error::from(ErrorKind::InvalidData))
}

/// CapInh, CapPrm, CapEff, CapBnd and CapAmb of a /proc/<pid>/status text, by
/// key; None if one is missing or not hexadecimal.
fn parse_sets(text: &str) -> Option<[(&'static str, u64); 5]> {
    let set = |key: &'static str| {
        let hex = crate::sys::procfs::field(text, &format!("{key}:"))?;
        Some((key, u64::from_str_radix(hex, 16).ok()?))
    };
    Some([
        set("CapInh")?,
        set("CapPrm")?,
        set("CapEff")?,
        set("CapBnd")?,
        set("CapAmb")?,
    ])
}

/// The bounding and ambient sets read back one capability at a time. A read
/// that fails is an error, but EINVAL, which means a capability this kernel
/// does not know (`last` is 63 when cap_last_cap could not be read).
fn per_capability(last: u32) -> Result<(), StepError> {
    let read = |what: &str, cap: u32, rc: libc::c_int| -> Result<(), StepError> {
        if rc > 0 {
            return Err(StepError::new(
                "caps.verify",
                format!("capability {cap} still in the {what} set"),
            ));
        }
        let e = std::io::Error::last_os_error();
        if rc < 0 && e.raw_os_error() != Some(libc::EINVAL) {
            return Err(StepError::io(
                "caps.verify",
                format!("read capability {cap} of the {what} set"),
                &e,
            ));
        }
        Ok(())
    };
    for cap in 0..=last {
        // SAFETY: prctl(PR_CAPBSET_READ, cap) only reads.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) };
        read("bounding", cap, rc)?;
        // SAFETY: PR_CAP_AMBIENT_IS_SET only reads.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_IS_SET,
                cap as libc::c_ulong,
                0,
                0,
            )
        };
        read("ambient", cap, rc)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_five_sets_are_read_by_key() {
        let text = "Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000001\n\
                    CapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n";
        let sets = parse_sets(text).unwrap();
        assert_eq!(sets[1], ("CapPrm", 1));
        assert_eq!(sets[3], ("CapBnd", 0x1ff_ffff_ffff));
    }

    #[test]
    fn a_missing_or_odd_set_is_no_reading() {
        let full = "CapInh:\t0\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\nCapAmb:\t0\n";
        assert!(parse_sets(full).is_some());
        assert!(parse_sets(&full.replace("CapAmb:\t0\n", "")).is_none());
        assert!(parse_sets(&full.replace("CapBnd:\t0", "CapBnd:\tzz")).is_none());
    }

    #[test]
    fn this_processs_sets_match_capget() {
        let d = get("test").unwrap();
        let sets = status_sets().unwrap();
        let word = |f: fn(&Word) -> u32| u64::from(f(&d[0])) | (u64::from(f(&d[1])) << 32);
        assert_eq!(sets[0].1, word(|w| w.inheritable));
        assert_eq!(sets[1].1, word(|w| w.permitted));
        assert_eq!(sets[2].1, word(|w| w.effective));
    }
}
