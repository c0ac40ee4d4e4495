//! A box's next network namespace, made ahead of its run: the spare.
//!
//! Every run gets a network namespace no program has ever been in (as
//! isolate's new one per run). Making one (`copy_net_ns`, `lo` up) is about
//! 0.7 ms of a run's critical path here, so after a run has written its results
//! and let go of the box, the supervisor starts a maker (`boxdir::maker`) that makes the box's
//! next namespace and holds it by a bind mount of its nsfs file on the holder,
//! `<lock_root>/N.net` (made empty by `--init`). The next run takes it: it opens
//! the holder, checks that it holds a network namespace and is the mount its
//! tag names (by the mount's unique id), removes the tag (no run takes one
//! without) and enters it for the clone of the box's pid 1, so a namespace is
//! used by one run at most; without a spare (none made yet, the
//! maker not done, `net_spare = 0`) the clone makes a new one, as before. The
//! namespace taken stays on the holder until the box's next maker detaches
//! it (with anything stacked there) before it mounts a new one, or
//! `--cleanup` does: an unmount waits for an expedited RCU grace period,
//! 0.1-0.2 ms of a run's path here.
//!
//! Why a spare is as fresh as a new one: it is made by rustbox's own process
//! (root in full, started by a run that had the box and ran its program, after
//! every process of that run is gone), nothing runs in it but the maker's `lo`
//! up, and it is reachable only through the holder in the lock root (root's,
//! not writable by others): setns into it needs CAP_SYS_ADMIN, and a descriptor
//! of its nsfs file gives an unprivileged process no call that changes it
//! (RTM_NEWNSID, IFLA_NET_NS_FD and SIOCGSKNS need CAP_NET_ADMIN; the NS_GET
//! ioctls read). From an earlier design (a namespace kept per box and checked
//! between runs, withdrawn after its review) the lesson kept is that no check
//! can prove a used namespace empty: a spare is never used twice.
//!
//! How: a maker holds `N.net.lock` (still the file the run saw) from its
//! detaching of what is on the holder to its mount, and tags the spare
//! with the mount namespace it works in (`N.net.tag`); so at most one spare is
//! ever on the holder. A run takes one only when that tag names its own mount
//! namespace (`made_in`: a copy propagated into a slave or copied namespace, a
//! systemd unit's PrivateTmp or an `unshare -m`, is never taken there), clears
//! the tag (one take per tag) before it uses the spare; a maker detaches every
//! mount on the holder before it tags and mounts; a run that finds the lock
//! held makes its own namespace rather than wait. Only a box run twice since
//! `--init` gets spares (`wants_spare`). `--cleanup` waits for the maker lock,
//! then detaches them all and removes the holder, the tag and the lock (a
//! maker that comes later finds no lock and gives up, leaving nothing; one
//! that finds the lock of a box made again by `--init`, even one whose inode
//! number came back, makes that box a spare as fresh as any, under its lock).

use crate::sys::error::StepError;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// `statfs` f_type of nsfs.
pub(crate) const NSFS_MAGIC: libc::c_long = 0x6e73_6673;
/// ioctl NS_GET_NSTYPE: the CLONE_NEW* type of a namespace file.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// `file` with `suffix` added to its name.
fn beside(file: &Path, suffix: &str) -> PathBuf {
    let mut p = file.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// The holder of box `lock_file`'s spare network namespace: `<lock_root>/N.net`.
pub fn holder(lock_file: &Path) -> PathBuf {
    beside(lock_file, ".net")
}

/// The record of its counters a box of an earlier version kept beside it.
fn record(file: &Path) -> PathBuf {
    beside(file, ".counters")
}

/// `--init`: an empty holder (root's, 0600) and its maker lock, after
/// whatever was there (an earlier box's spare, or the namespace a box of an
/// earlier version kept).
pub fn make_holder(file: &Path) -> Result<(), StepError> {
    release(file)?;
    create_new(file).map_err(|e| StepError::io("init.netns", file.display().to_string(), &e))?;
    ensure_maker_lock(file)
}

/// Remove the file `f`; absent is fine.
fn remove_if_there(f: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(f) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// A new empty file, root's, 0600; EEXIST if something is there.
fn create_new(file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(file)
        .map(drop)
}

/// The maker lock of the holder `file`, made if it is missing (a box of a
/// version that made it on the maker's first lock). Only `--init` and a run,
/// both with the box locked, make it; a maker or a take only opens it, so a
/// maker that comes after `--cleanup` finds none and leaves nothing.
fn ensure_maker_lock(file: &Path) -> Result<(), StepError> {
    let lock = maker_lock(file);
    match create_new(&lock) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(StepError::io("init.netns", lock.display().to_string(), &e))
        }
        _ => Ok(()),
    }
}

/// `--cleanup` (and `--init` first): every mount on the holder detached, the
/// holder, its tag and maker lock and an earlier version's record removed.
/// Absent is fine. All under the maker lock, waited for: a maker mounts and
/// tags only under it, and only while the holder is still there; one that
/// comes after finds no lock file to take. (A maker that mounted between the
/// unmount and the removal made the removal EBUSY: then again.)
pub fn release(file: &Path) -> Result<(), StepError> {
    let step = "cleanup.netns";
    let lock = maker_lock(file);
    let _held = lock_waiting(&lock).map_err(|e| {
        StepError::io(
            step,
            format!("{} (held by a spare maker)", lock.display()),
            &e,
        )
    })?;
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
    for extra in [record(file), maker_lock(file), tag(file)] {
        remove_if_there(&extra)
            .map_err(|e| StepError::io(step, extra.display().to_string(), &e))?;
    }
    Ok(())
}

/// A spare taken for one run: its namespace, its tag gone.
pub struct Spare {
    pub fd: OwnedFd,
    pub inode: u64,
}

/// `--run`: the spare on `file`, taken (its tag removed); None if there is none (no holder:
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
    // A maker between its check and its mount: no spare for this run.
    let Some(_held) = try_lock(&maker_lock(file)) else {
        return Ok(None);
    };
    // The last spare mounted on the holder was made in another mount
    // namespace (`made_in`), or no tag says where (a holder of a version that
    // kept one namespace per box, which wrote none, or of one that wrote it
    // into the lock file): not ours to take.
    let Some(made) = made_in(file).filter(|t| Some(&t.namespace) == mount_namespace().as_ref())
    else {
        return Ok(None);
    };
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    let fd = match crate::sys::fd::open(file, flags, step) {
        Ok(fd) => fd,
        Err(e) if e.errno == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    if !is_net_namespace(&fd, step)? {
        // The empty holder itself: no spare now.
        return Ok(None);
    }
    // One take per tag: a mount namespace number can come back (a copy of this
    // namespace, made while the spare was on the holder, outliving it), and an
    // empty tag matches nothing.
    let tag = tag(file);
    std::fs::remove_file(&tag)
        .map_err(|e| StepError::io(step, format!("clear the spare's tag {}", tag.display()), &e))?;
    match (made.mount, unique_mount_id(fd.as_raw_fd())) {
        // The tag names the spare's own mount (an id the kernel never gives
        // again), so this must be the mount this run sees on the holder: a
        // copy of it in another mount namespace, or anything mounted over it,
        // is another mount, never taken (and with the tag gone, the tagged one
        // is not either). What is taken stays there until the box's next
        // maker detaches it before it mounts a new spare (the unmount waits
        // for an expedited RCU grace period, off every run's path), or
        // `--cleanup` does.
        (Some(id), Ok(top)) if top == id => {}
        // Another mount; a tag with no id (a maker of an earlier version, or
        // a tag left from one): what is on the holder may be a namespace a run
        // took, so it is not taken. A kernel without unique mount ids (before
        // 6.8) gets no spares at all: its makers give up, and a mount
        // namespace number alone cannot tell a copy's view of a taken
        // namespace from a fresh spare (found by review).
        (_, Ok(_)) | (_, Err(libc::ENOSYS | libc::EINVAL)) => return Ok(None),
        (_, Err(e)) => return Err(StepError::sys(step, "statx of the spare", e)),
    }
    let inode = stat_of(fd.as_raw_fd())
        .map_err(|e| StepError::sys(step, "fstat of the spare", e))?
        .st_ino;
    Ok(Some(Spare { fd, inode }))
}

/// The unique id of the mount the file `fd` names sits on; ENOSYS if the
/// kernel has no unique mount ids.
fn unique_mount_id(fd: libc::c_int) -> Result<u64, i32> {
    crate::sys::fd::statx_mount_id(fd, crate::sys::fd::STATX_MNT_ID_UNIQUE)?.ok_or(libc::ENOSYS)
}

/// The maker lock `file`, opened (never made: `ensure_maker_lock`).
fn open_lock(file: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(file)
}

/// An exclusive flock on the maker lock `file`, not waited for: None if
/// another process holds it or there is no such file.
fn try_lock(file: &Path) -> Option<std::fs::File> {
    let f = open_lock(file).ok()?;
    // SAFETY: flock on a descriptor we own.
    (unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0).then_some(f)
}

/// How long `--cleanup` waits for a maker to let go of its lock: a maker holds
/// it for a few calls (the unmount of what is on the holder, its check, the
/// tag, the mount), so only a maker stopped by someone else (a freezer, a
/// debugger) holds it this long.
const MAKER_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// An exclusive flock on the maker lock `file`, waited for (a maker holds it
/// from its unmount of what is on the holder to its mount), up to
/// `MAKER_LOCK_WAIT`: then ETIMEDOUT.
/// None if there is no such file.
fn lock_waiting(file: &Path) -> std::io::Result<Option<std::fs::File>> {
    let f = match open_lock(file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let deadline = std::time::Instant::now() + MAKER_LOCK_WAIT;
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Some(f));
        }
        let e = std::io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EWOULDBLOCK | libc::EINTR)) {
            return Err(e);
        }
        if std::time::Instant::now() >= deadline {
            return Err(std::io::Error::from_raw_os_error(libc::ETIMEDOUT));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The file system type (`statfs` f_type) of the file `fd` names, or the errno.
fn fs_type(fd: libc::c_int) -> Result<libc::c_long, i32> {
    // SAFETY: fstatfs on a descriptor the caller owns into a zeroed struct we own.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstatfs(fd, &mut st) } != 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    Ok(st.f_type as libc::c_long)
}

/// `fstat` of the file `fd` names, or the errno.
fn stat_of(fd: libc::c_int) -> Result<libc::stat, i32> {
    // SAFETY: fstat on a descriptor the caller owns into a zeroed struct we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    Ok(st)
}

/// Whether `fd` is a network namespace's nsfs file (else it must be the empty
/// holder, a regular file).
fn is_net_namespace(fd: &OwnedFd, step: &str) -> Result<bool, StepError> {
    let t = fs_type(fd.as_raw_fd())
        .map_err(|e| StepError::sys(step, "fstatfs of the spare's holder", e))?;
    if t != NSFS_MAGIC {
        let s = stat_of(fd.as_raw_fd())
            .map_err(|e| StepError::sys(step, "fstat of the spare's holder", e))?;
        if s.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(StepError::new(
                step,
                "the spare's holder is not a regular file",
            ));
        }
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

/// After a run of the box that ran its program, the box still locked: whether
/// the maker is to make its next spare. Yes if the box has been run before
/// since `--init`: a box run once is mostly one a judge cleans up next
/// (`--init`, one `--run`, `--cleanup` per submission), where a spare would be
/// made and torn down for nothing (about 2 ms of CPU, and a slower cycle); a
/// box run twice is run again. The first run marks the empty holder with one
/// byte (`--init` made it empty). A namespace on the holder with its tag is a
/// spare no run has taken: no maker then. One without (taken by a run, which
/// leaves it there for the maker to detach) is replaced.
///
/// Returns the maker lock's identity, taken while the box is locked, for
/// `make_spare` (None: no spare): the lock file is never mounted on, and
/// `--cleanup` removes it, `--init` makes a new one.
pub fn wants_spare(file: &Path) -> Option<(u64, u64)> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(mut f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(file)
    else {
        return None;
    };
    if fs_type(f.as_raw_fd()).ok()? == NSFS_MAGIC {
        // A spare made here and not taken yet: nothing to make. (A tag naming
        // another mount namespace: that one's spare, never taken here.)
        if made_in(file).is_some_and(|t| Some(t.namespace) == mount_namespace()) {
            return None;
        }
    } else {
        // Not the holder: nothing.
        let st = stat_of(f.as_raw_fd()).ok()?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return None;
        }
        if st.st_size == 0 {
            // A mark that cannot be written costs only this box's spares.
            f = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
                .open(file)
                .ok()?;
            let _ = f.write_all(b"1");
            return None;
        }
    }
    // The maker only opens its lock; a box made by a version that had the
    // maker make it gets it here, while the box is locked.
    ensure_maker_lock(file).ok()?;
    lock_identity(&maker_lock(file))
}

/// The identity (device, inode) of the maker lock file `lock` (never a link:
/// not followed), if it is there.
fn lock_identity(lock: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let st = std::fs::symlink_metadata(lock).ok()?;
    Some((st.dev(), st.ino()))
}

/// This process's mount namespace (its nsfs link, "mnt:[N]"); None if it
/// cannot be read.
fn mount_namespace() -> Option<std::ffi::OsString> {
    std::fs::read_link("/proc/self/ns/mnt")
        .ok()
        .map(PathBuf::into_os_string)
}

/// The spare's tag: a symbolic link beside the holder whose target is the
/// mount namespace ("mnt:[N]") the last spare on it was made in, written by
/// its maker under the maker lock just before its mount, and removed by the
/// run that takes it. A link and not the lock file's data: on a lock root on
/// ext4 (a /run that is no tmpfs), truncating the data a maker had written
/// and closed waited for its writeback and a discard, 0.22-0.33 ms of every
/// run; a short link lives in its inode (removing it: about 0.02 ms).
fn tag(file: &Path) -> PathBuf {
    beside(file, ".tag")
}

/// What the tag of the last spare on the holder says: the mount namespace it
/// was made in and its mount's unique id; None if there is no tag. Read under
/// the maker lock.
///
/// Why both: a spare bound on the holder propagates into mount namespaces
/// that are slaves or copies of the one it was made in (a systemd unit's
/// PrivateTmp, an `unshare -m`), as does a namespace a run took and left
/// there for the next maker; and a mount namespace's number comes back once
/// it is freed, so a stale tag can name a namespace made later. A run takes a
/// spare only when the tag names its own mount namespace and the mount it
/// sees on the holder is the very mount the tag names: the copy in another
/// namespace is another mount, with another id, and ids are never reused, so
/// a tag names one mount that one maker made and no take but the first can
/// match it. A spare that propagated elsewhere is never taken there (and goes
/// with `--cleanup`).
fn made_in(file: &Path) -> Option<Made> {
    parse_tag(std::fs::read_link(tag(file)).ok()?.into_os_string())
}

/// A tag's target read as `Made`; None if it is empty or its id is no number.
fn parse_tag(target: std::ffi::OsString) -> Option<Made> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let (namespace, mount) = match target.as_bytes().iter().position(|&b| b == b' ') {
        None => (target, None),
        Some(at) => {
            let mut bytes = target.into_vec();
            let id = std::str::from_utf8(&bytes[at + 1..]).ok()?.parse().ok()?;
            bytes.truncate(at);
            (std::ffi::OsString::from_vec(bytes), Some(id))
        }
    };
    (!namespace.is_empty()).then_some(Made { namespace, mount })
}

/// What a spare's tag says: the mount namespace its maker worked in
/// ("mnt:[N]"), and the unique id of the mount it put on the holder (none in
/// a tag of an earlier version). The tag's target is the two, a space between
/// them.
#[derive(Debug, PartialEq)]
struct Made {
    namespace: std::ffi::OsString,
    mount: Option<u64>,
}

/// The lock a maker holds from its unmount of what is on the holder to its mount, so that
/// at most one spare is ever on it; a run that finds it held makes its own
/// namespace rather than wait.
fn maker_lock(file: &Path) -> PathBuf {
    beside(file, ".lock")
}

/// After a run that wants a spare (`wants_spare`), the box let go: start the
/// maker of the box's next namespace (`boxdir::maker`). Never fails the
/// command: what goes wrong costs only the speed-up (the next run makes its
/// own).
pub fn make_spare(file: &Path, seen: (u64, u64)) {
    let c = |p: PathBuf| std::ffi::CString::new(p.into_os_string().into_encoded_bytes()).ok();
    let (Some(holder), Some(lock), Some(tag)) =
        (c(file.to_path_buf()), c(maker_lock(file)), c(tag(file)))
    else {
        return;
    };
    crate::boxdir::maker::spawn(crate::boxdir::maker::Plan {
        holder,
        lock,
        tag,
        seen,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_names_a_mount_namespace_and_a_mount() {
        let made = |t: &str| parse_tag(t.into());
        assert_eq!(
            made("mnt:[4026531832] 2149723331"),
            Some(Made {
                namespace: "mnt:[4026531832]".into(),
                mount: Some(2149723331)
            })
        );
        assert_eq!(
            made("mnt:[4026531832]"),
            Some(Made {
                namespace: "mnt:[4026531832]".into(),
                mount: None
            })
        );
        assert_eq!(made("mnt:[4026531832] 12x"), None);
        assert_eq!(made("mnt:[4026531832] "), None);
        assert_eq!(made(""), None);
        assert_eq!(made(" 7"), None);
    }

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
