//! Landlock: a second layer under the mounts. The program may reach only what
//! the plan's mounts bind, with what each mount allows (read; execute unless
//! noexec; write, make and remove only where the mount is read-write; device
//! nodes written through only where it has devices), even if a mount were
//! wrong: the rules name the plan's directories, not whatever ended up mounted.
//! Beneath no rule (the root tmpfs itself, anything mounted by mistake) nothing
//! may be read, written or executed.
//!
//! The supervisor reads the kernel's ABI version (`abi`) and the plan carries
//! the rules (`plan::landlock`); this file makes the ruleset, adds each rule
//! through an O_PATH descriptor of its directory, and restricts the process
//! (no_new_privs is already set, so no privilege is needed). Then it checks the
//! domain is in force: listing `/`, which no rule covers, must be refused.
//! Descriptors opened before (the standard streams) keep what they had.
//!
//! A rule gives its rights to everything beneath it and no rule can take them
//! away: a mount nested below another gets the outer rule's rights as well.
//! So `/dev` (read-only, noexec, its nodes written through) gives no execute
//! or make right, and `/dev/shm` beneath it stays noexec; a read-only `--dir`
//! rule placed inside a read-write one (inside `/box`, say) is held read-only
//! by its mount alone.

use crate::sys::error::StepError;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub const EXECUTE: u64 = 1 << 0;
pub const WRITE_FILE: u64 = 1 << 1;
pub const READ_FILE: u64 = 1 << 2;
pub const READ_DIR: u64 = 1 << 3;
pub const REMOVE_DIR: u64 = 1 << 4;
pub const REMOVE_FILE: u64 = 1 << 5;
pub const MAKE_CHAR: u64 = 1 << 6;
pub const MAKE_DIR: u64 = 1 << 7;
pub const MAKE_REG: u64 = 1 << 8;
pub const MAKE_SOCK: u64 = 1 << 9;
pub const MAKE_FIFO: u64 = 1 << 10;
pub const MAKE_BLOCK: u64 = 1 << 11;
pub const MAKE_SYM: u64 = 1 << 12;
/// ABI 2: link or rename into another directory.
pub const REFER: u64 = 1 << 13;
/// ABI 3: truncate, and open with O_TRUNC.
pub const TRUNCATE: u64 = 1 << 14;
/// ABI 5: ioctl on a device file.
pub const IOCTL_DEV: u64 = 1 << 15;

/// The rights that apply to a file (not only to a directory's entries).
pub const FILE_RIGHTS: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;

/// Every file system right the kernel of Landlock ABI `abi` knows: all of them
/// are handled, so none is left unrestricted.
pub fn handled(abi: u32) -> u64 {
    let mut all = (1 << 13) - 1; // ABI 1: EXECUTE ..= MAKE_SYM
    if abi >= 2 {
        all |= REFER;
    }
    if abi >= 3 {
        all |= TRUNCATE;
    }
    if abi >= 5 {
        all |= IOCTL_DEV;
    }
    all
}

const CREATE_RULESET_VERSION: u32 = 1;
const RULE_PATH_BENEATH: libc::c_int = 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The kernel's Landlock ABI version, or why there is none (ENOSYS: not built
/// in; EOPNOTSUPP: not enabled at boot).
pub fn abi() -> Result<u32, String> {
    // SAFETY: with the VERSION flag and no attributes, landlock_create_ruleset
    // only returns the ABI version; no descriptor is made.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if rc >= 1 {
        return Ok(rc as u32);
    }
    let e = std::io::Error::last_os_error();
    Err(match e.raw_os_error() {
        Some(libc::ENOSYS) => {
            "this kernel has no Landlock (5.13+, CONFIG_SECURITY_LANDLOCK)".into()
        }
        Some(libc::EOPNOTSUPP) => {
            "Landlock is built in but not enabled (lsm= boot parameter)".into()
        }
        _ => format!("landlock_create_ruleset: {e}"),
    })
}

/// One rule: everything beneath `path` (inside the box) gets `access`. The
/// chain drops the rules of the `maybe` binds it skipped before `restrict`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub path: CString,
    pub access: u64,
}

/// What the chain applies: the ABI, the handled rights, the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub abi: u32,
    pub handled: u64,
    pub rules: Vec<Rule>,
}

/// Make the ruleset, add the rules, restrict this process; then check the
/// domain holds. Returns how many rules were added.
pub fn restrict(plan: &Plan) -> Result<usize, StepError> {
    let step = "landlock";
    let attr = RulesetAttr {
        handled_access_fs: plan.handled,
        handled_access_net: 0,
        scoped: 0,
    };
    // SAFETY: the attribute struct is live for the call and its size is given;
    // the result is a new descriptor or -1.
    let ruleset = unsafe {
        crate::sys::fd::owned(
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &attr as *const RulesetAttr,
                std::mem::size_of::<RulesetAttr>(),
                0u32,
            ),
            step,
            "landlock_create_ruleset",
        )?
    };
    for r in &plan.rules {
        add(&ruleset, r)?;
    }
    // SAFETY: restricts this (single-threaded) process with a ruleset descriptor
    // we own; no_new_privs is set, as the kernel requires.
    if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32) } != 0 {
        return Err(StepError::last_os(step, "landlock_restrict_self"));
    }
    drop(ruleset);
    verify()?;
    Ok(plan.rules.len())
}

/// Add one rule.
///
/// The path is resolved with no link followed (`hostpath::open_no_links`,
/// beneath the box's root) and must be the root of a mount the plan made
/// there: a rule's rights must not land on whatever else is at that path (a
/// directory of another mount, a link a program left).
fn add(ruleset: &OwnedFd, r: &Rule) -> Result<(), StepError> {
    let step = "landlock";
    let shown = r.path.to_string_lossy();
    let inside = Path::new(OsStr::from_bytes(r.path.as_bytes()));
    let fd = crate::caller::hostpath::open_no_links(
        Path::new("/"),
        inside.strip_prefix("/").unwrap_or(inside),
        step,
    )?;
    // SAFETY: an all-zero statx is a valid buffer to fill.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: statx of the descriptor itself (empty path) into our buffer.
    if unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_TYPE,
            &mut stx,
        )
    } != 0
    {
        return Err(StepError::last_os(step, format!("statx {shown}")));
    }
    let root_known = stx.stx_attributes_mask & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0;
    let is_root = stx.stx_attributes & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0;
    match (root_known, is_root) {
        (true, true) => {}
        (true, false) => {
            return Err(StepError::new(
                step,
                format!("{shown} is not the mount the plan made there"),
            ))
        }
        (false, _) => {
            return Err(StepError::new(
                step,
                format!("statx {shown}: the kernel does not say whether it is a mount root"),
            ))
        }
    }
    let is_dir = u32::from(stx.stx_mode) & libc::S_IFMT == libc::S_IFDIR;
    let attr = PathBeneathAttr {
        allowed_access: if is_dir {
            r.access
        } else {
            r.access & FILE_RIGHTS
        },
        parent_fd: fd.as_raw_fd(),
    };
    // SAFETY: the rule attribute is live for the call; both descriptors are ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0u32,
        )
    };
    if rc != 0 {
        return Err(StepError::last_os(
            step,
            format!("landlock_add_rule {shown} ({:#x})", r.access),
        ));
    }
    Ok(())
}

/// The domain is in force: `/` (the box's tmpfs root, which no rule covers)
/// cannot be opened for listing.
fn verify() -> Result<(), StepError> {
    // SAFETY: open with a constant path; a descriptor it returns is closed.
    let rc = unsafe {
        libc::open(
            c"/".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if rc >= 0 {
        // SAFETY: the descriptor just returned, closed once.
        unsafe { libc::close(rc) };
        return Err(StepError::new(
            "landlock",
            "after landlock_restrict_self, / can still be listed: the domain is not in force",
        ));
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EACCES) => Ok(()),
        e => Err(StepError::new(
            "landlock",
            format!(
                "listing / failed with errno {e:?}, not EACCES: the domain cannot be told in force"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_right_of_the_abi_is_handled() {
        assert_eq!(handled(1), 0x1fff);
        assert_eq!(handled(2), 0x3fff);
        assert_eq!(handled(4), 0x7fff);
        assert_eq!(handled(7), 0xffff);
    }
}
