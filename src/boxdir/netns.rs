//! A box's next network namespace, made ahead of its run: the spare.
//!
//! Every run gets a network namespace no program has ever been in (as
//! isolate's new one per run). Making one (`copy_net_ns`, `lo` up) is about
//! 0.7 ms of a run's critical path here, so after a run has written its results
//! and let go of the box, the supervisor forks a maker that makes the box's
//! next namespace and holds it by a bind mount of its nsfs file on the holder,
//! `<lock_root>/N.net` (made empty by `--init`). The next run takes it: it opens
//! the holder, checks that it holds a network namespace, and detaches every
//! mount stacked there before entering it for the clone of the box's pid 1, so
//! a namespace is used by one run at most; without a spare (none made yet, the
//! maker not done, `net_spare = 0`) the clone makes a new one, as before.
//!
//! Why a spare is as fresh as a new one: it is made by rustbox's own process
//! (root, after the run before has ended: every process of that run is gone),
//! nothing runs in it but the maker's `lo` up, and it is reachable only through
//! the holder in the lock root (root's, 0700): setns into it needs
//! CAP_SYS_ADMIN. From an earlier design (a namespace kept per box and checked
//! between runs, withdrawn after its review) the lesson kept is that no check
//! can prove a used namespace empty: a spare is never used twice.
//!
//! No lock is needed between the maker and runs: mounts stack only on top, and
//! a run detaches every mount on the holder after opening the top one, so the
//! one it uses is never left mounted. `--cleanup` detaches them all and removes
//! the holder (a maker that comes later finds no holder and gives up; one that
//! mounts between the two is detached by the retry).

use crate::sys::error::StepError;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// `statfs` f_type of nsfs.
const NSFS_MAGIC: libc::c_long = 0x6e73_6673;
/// ioctl NS_GET_NSTYPE: the CLONE_NEW* type of a namespace file.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// The holder of box `lock_file`'s spare network namespace: `<lock_root>/N.net`.
pub fn holder(lock_file: &Path) -> PathBuf {
    let mut p = lock_file.as_os_str().to_owned();
    p.push(".net");
    PathBuf::from(p)
}

/// The record of its counters a box of an earlier version kept beside it.
fn record(file: &Path) -> PathBuf {
    let mut p = file.as_os_str().to_owned();
    p.push(".counters");
    PathBuf::from(p)
}

/// `--init`: an empty holder (root's, 0600), after whatever was there (an
/// earlier box's spare, or the namespace a box of an earlier version kept).
pub fn make_holder(file: &Path) -> Result<(), StepError> {
    release(file)?;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(file)
        .map(drop)
        .map_err(|e| StepError::io("init.netns", file.display().to_string(), &e))
}

/// `--cleanup` (and `--init` first): every mount on the holder detached, the
/// holder and an earlier version's record removed. Absent is fine. A maker that
/// mounts between the unmount and the removal makes the removal EBUSY: then
/// again.
pub fn release(file: &Path) -> Result<(), StepError> {
    let step = "cleanup.netns";
    for _ in 0..8 {
        // The same unmount as the box's tmpfs: MNT_DETACH, no link followed,
        // every stacked mount; a holder with no spare is no mount point.
        crate::boxdir::tmpfs::unmount(file)?;
        match std::fs::remove_file(file) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => continue,
            Err(e) => return Err(StepError::io(step, file.display().to_string(), &e)),
        }
    }
    if std::fs::symlink_metadata(file).is_ok() {
        return Err(StepError::new(
            step,
            format!("{} is mounted on again and again", file.display()),
        ));
    }
    match std::fs::remove_file(record(file)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StepError::io(step, record(file).display().to_string(), &e)),
    }
}

/// A spare taken for one run: its namespace, and no longer on the holder.
pub struct Spare {
    pub fd: OwnedFd,
    pub inode: u64,
}

/// `--run`: the spare on `file`, taken off it; None if there is none (no holder:
/// a box of an earlier version; an empty holder: none made yet).
pub fn take(file: &Path) -> Result<Option<Spare>, StepError> {
    let step = "namespaces.net";
    // A holder of a version that kept one namespace per box (its counters'
    // record beside it) holds a namespace earlier runs used: never taken, and
    // replaced by an empty holder.
    if std::fs::symlink_metadata(record(file)).is_ok() {
        make_holder(file)?;
        return Ok(None);
    }
    let fd = match crate::sys::fd::open(file, libc::O_RDONLY | libc::O_NOFOLLOW, step) {
        Ok(fd) => fd,
        Err(e) if e.errno == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    if !is_net_namespace(&fd, step)? {
        // The empty holder itself: no spare now.
        return Ok(None);
    }
    // Off the holder before it is used: this one and any stacked on it.
    crate::boxdir::tmpfs::unmount(file).map_err(|e| StepError {
        step: step.into(),
        ..e
    })?;
    let inode = inode_of(&fd, step)?;
    Ok(Some(Spare { fd, inode }))
}

/// Whether `fd` is a network namespace's nsfs file.
fn is_net_namespace(fd: &OwnedFd, step: &str) -> Result<bool, StepError> {
    // SAFETY: fstatfs on a descriptor we own into a zeroed struct we own.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(StepError::last_os(step, "fstatfs of the spare's holder"));
    }
    if st.f_type as libc::c_long != NSFS_MAGIC {
        return Ok(false);
    }
    // SAFETY: NS_GET_NSTYPE takes no argument and returns the type.
    let t = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
    if t < 0 {
        return Err(StepError::last_os(step, "NS_GET_NSTYPE of the spare"));
    }
    if t != libc::CLONE_NEWNET {
        return Err(StepError::new(
            step,
            format!("the holder holds a namespace of type {t:#x}, not a network one"),
        ));
    }
    Ok(true)
}

fn inode_of(fd: &OwnedFd, step: &str) -> Result<u64, StepError> {
    // SAFETY: fstat on a descriptor we own into a zeroed struct we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(StepError::last_os(step, "fstat of the spare"));
    }
    Ok(st.st_ino)
}

/// The maker's process name (`comm`), as `ps` shows it.
pub const MAKER_NAME: &std::ffi::CStr = c"rustbox-netns";

/// After a run, the box let go: fork the maker of the box's next namespace.
/// Never fails the run: what goes wrong costs only the speed-up (the next run
/// makes its own). Nothing to do without a holder.
pub fn make_spare(file: &Path) {
    let Ok(target) = crate::sys::fd::cpath(file, "netns.spare") else {
        return;
    };
    // SAFETY: fork of a single-threaded process; the child only makes system
    // calls on memory made before the fork, then _exits.
    if unsafe { libc::fork() } != 0 {
        return;
    }
    // SAFETY: ends the maker without running the supervisor's destructors.
    let exit = |code| -> ! { unsafe { libc::_exit(code) } };
    // First: none of the caller's descriptors (its pipes must see end-of-file
    // when rustbox exits) nor its session.
    // Root in full (a setuid supervisor's real uid is the caller's, who could
    // then signal it), and out of the caller's session.
    // SAFETY: close_range, setresuid, setsid and PR_SET_NAME (from a static
    // string) have no memory effects.
    unsafe {
        libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
        if libc::setresuid(0, 0, 0) != 0 {
            exit(1);
        }
        libc::setsid();
        libc::prctl(libc::PR_SET_NAME, MAKER_NAME.as_ptr(), 0, 0, 0);
    }
    // SAFETY: unshare with a constant flag; the maker is single-threaded.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        exit(1);
    }
    if crate::chain::loopback::bring_up().is_err() {
        exit(1);
    }
    // The holder, no link followed; a holder with a spare on it already (a
    // maker before us): nothing to do. Gone (cleaned up): nothing to do.
    // SAFETY: open with a NUL-terminated path; the descriptor is ours.
    let holder = unsafe {
        libc::open(
            target.as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if holder < 0 {
        exit(1);
    }
    // SAFETY: fstatfs on the descriptor just opened, into a zeroed struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstatfs(holder, &mut st) } != 0 || st.f_type as libc::c_long == NSFS_MAGIC {
        exit(1);
    }
    let on = std::ffi::CString::new(format!("/proc/self/fd/{holder}")).unwrap_or_default();
    // SAFETY: mount(2) with NUL-terminated strings that outlive the call: a bind
    // of our own network namespace file on the holder, through its descriptor,
    // so it lands on exactly that file.
    let r = unsafe {
        libc::mount(
            c"/proc/thread-self/ns/net".as_ptr(),
            on.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    exit(if r == 0 { 0 } else { 1 })
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
