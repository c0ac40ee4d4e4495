//! File-tree operations on directories a sandboxed program could have written to.
//!
//! The box workspace and the box's `/tmp` are filled by untrusted programs between
//! runs. Everything here walks them by file descriptor, never follows a symbolic
//! link, and never crosses into another filesystem, so a planted link or mount point
//! cannot redirect a removal or a chown to a host file.

use crate::boxdir::walk::{self, Entry, Kind, Visitor};
use crate::sys::error::StepError;
use nix::fcntl::AtFlags;
use nix::sys::stat::Mode;
use nix::unistd::{fchownat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::ffi::OsStr;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

pub use crate::boxdir::walk::open_dir;

/// Removes everything below a directory, links themselves (never their targets).
struct Remove;

/// Set the mode of the inode behind `fd`, which may be an `O_PATH` descriptor:
/// fchmod does not take one (EBADF), but its `/proc/self/fd` link names exactly
/// that inode, whatever happened to its name since it was opened. Any other
/// descriptor takes fchmod itself, without the walk through procfs (about
/// 0.05 ms a call here, two to four calls a run).
pub fn chmod_fd(fd: &impl AsRawFd, mode: u32, step: &str, shown: &Path) -> Result<(), StepError> {
    match nix::sys::stat::fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(mode)) {
        Err(nix::errno::Errno::EBADF) => {}
        done => return done.map_err(|e| StepError::nix(step, shown.display().to_string(), e)),
    }
    let via = format!("/proc/self/fd/{}", fd.as_raw_fd());
    nix::sys::stat::fchmodat(
        None,
        via.as_str(),
        Mode::from_bits_truncate(mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(|e| StepError::nix(step, shown.display().to_string(), e))
}

/// Give the inode behind `fd` (possibly `O_PATH`) this owner and mode, through
/// the descriptor: a rename in between changes nothing.
pub fn set_owner_mode(
    fd: &impl AsRawFd,
    (uid, gid): (u32, u32),
    mode: u32,
    step: &str,
    shown: &Path,
) -> Result<(), StepError> {
    fchownat(
        Some(fd.as_raw_fd()),
        "",
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        AtFlags::AT_EMPTY_PATH,
    )
    .map_err(|e| StepError::nix(step, shown.display().to_string(), e))?;
    chmod_fd(fd, mode, step, shown)
}

/// Make the directory behind `fd` root's, mode 0700, before anything below it is
/// touched: a box's owner (on the host's disk) could otherwise keep renaming in
/// it while the walk runs, and make every removal fail. Its ancestors are root's
/// already, so nobody can move it away either.
fn lock_down(fd: &impl AsRawFd, step: &str, shown: &Path) -> Result<(), StepError> {
    set_owner_mode(fd, (0, 0), 0o700, step, shown)
}

impl Visitor for Remove {
    fn dir(&mut self, e: &Entry) -> Result<bool, StepError> {
        if !e.same_fs {
            return Err(StepError::new(
                "cleanup.remove",
                format!("{} is a mount point; not entering it", e.shown.display()),
            ));
        }
        lock_down(e.fd, "cleanup.remove", e.shown)?;
        Ok(true)
    }
    fn other(&mut self, e: &Entry) -> Result<(), StepError> {
        unlinkat(Some(e.parent), e.name, UnlinkatFlags::NoRemoveDir)
            .map_err(|err| StepError::nix("cleanup.remove", e.shown.display().to_string(), err))
    }
    fn left(&mut self, parent: RawFd, name: &OsStr, shown: &Path) -> Result<(), StepError> {
        unlinkat(Some(parent), name, UnlinkatFlags::RemoveDir)
            .map_err(|err| StepError::nix("cleanup.remove", shown.display().to_string(), err))
    }
}

/// Remove `path` and everything below it. A missing path is not an error.
/// Symbolic links are removed, never followed; another filesystem mounted below is
/// refused rather than entered. Any depth, a few descriptors (`walk`).
pub fn remove_tree(path: &Path) -> Result<(), StepError> {
    let step = "cleanup.remove";
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StepError::io(step, path.display().to_string(), &e)),
    };
    if !meta.is_dir() {
        return std::fs::remove_file(path)
            .map_err(|e| StepError::io(step, path.display().to_string(), &e));
    }
    let top = open_dir(path, step)?;
    lock_down(&top, step, path)?;
    walk::walk(top, path, step, &mut Remove)?;
    std::fs::remove_dir(path).map_err(|e| StepError::io(step, path.display().to_string(), &e))
}

/// Who may own what `chown_tree` hands over.
#[derive(Debug, Clone, Copy)]
pub enum Owners {
    /// Anything (a box of root's: root could chown it anyway).
    Any,
    /// Only entries owned by one of these two uids (the box's owner and the box
    /// uid); anything else is refused. Without this, an owner could hard-link (or
    /// move) another user's file or directory into /box and have root hand it to
    /// them.
    Pair(u32, u32),
}

/// Change the owner of `path` and everything below it, links themselves included,
/// without following any link; the top directory gets mode 0700 (a program could
/// have opened it to everyone). With `remove_special`, everything that is neither a
/// regular file nor a directory (links, devices, FIFOs, sockets) is removed instead:
/// isolate does so before every run, and after it unless `--special-files`. Each
/// entry is opened without following links, checked (kind, owner, device) and
/// chowned through that same descriptor, so a rename in between changes nothing.
/// An entry that cannot be handed over is skipped and the walk goes on; the first
/// such error is returned at the end.
pub fn chown_tree(
    path: &Path,
    uid: u32,
    gid: u32,
    remove_special: bool,
    owners: Owners,
) -> Result<(), StepError> {
    let step = "box.chown";
    let dir = open_dir(path, step)?;
    let fd = dir.as_raw_fd();
    let st = nix::sys::stat::fstat(fd)
        .map_err(|e| StepError::nix(step, path.display().to_string(), e))?;
    check_owner(&st, owners, path)?;
    set_owner_mode(&dir, (uid, gid), 0o700, step, path)?;
    let mut v = Handover {
        uid,
        gid,
        remove_special,
        owners,
    };
    walk::walk(dir, path, step, &mut v)
}

fn check_owner(st: &libc::stat, owners: Owners, shown: &Path) -> Result<(), StepError> {
    match owners {
        Owners::Pair(a, b) if st.st_uid != a && st.st_uid != b => Err(StepError::new(
            "box.chown",
            format!(
                "{} belongs to uid {}, neither the box's owner nor its user: refusing to \
                 hand it over (a hard link or a moved directory of someone else's?)",
                shown.display(),
                st.st_uid
            ),
        )),
        _ => Ok(()),
    }
}

struct Handover {
    uid: u32,
    gid: u32,
    remove_special: bool,
    owners: Owners,
}

impl Handover {
    fn chown(&self, e: &Entry) -> Result<(), StepError> {
        check_owner(e.st, self.owners, e.shown)?;
        fchownat(
            Some(e.fd.as_raw_fd()),
            "",
            Some(Uid::from_raw(self.uid)),
            Some(Gid::from_raw(self.gid)),
            AtFlags::AT_EMPTY_PATH,
        )
        .map_err(|err| StepError::nix("box.chown", e.shown.display().to_string(), err))
    }
}

impl Visitor for Handover {
    fn dir(&mut self, e: &Entry) -> Result<bool, StepError> {
        if !e.same_fs {
            return Err(StepError::new(
                "box.chown",
                format!(
                    "{} is on another file system; not entering it",
                    e.shown.display()
                ),
            ));
        }
        self.chown(e)?;
        Ok(true)
    }
    fn other(&mut self, e: &Entry) -> Result<(), StepError> {
        if e.kind == Kind::Special && self.remove_special {
            return unlinkat(Some(e.parent), e.name, UnlinkatFlags::NoRemoveDir)
                .map_err(|err| StepError::nix("box.chown", e.shown.display().to_string(), err));
        }
        if !e.same_fs {
            return Err(StepError::new(
                "box.chown",
                format!("{} is on another file system", e.shown.display()),
            ));
        }
        self.chown(e)
    }
}

/// Clears the setuid and setgid bits of one user's regular files.
struct ClearSetIds {
    uid: u32,
    cleared: usize,
}

/// Kernel file systems no program can leave a file of its own on.
const PSEUDO_FS: &[libc::c_long] = &[
    libc::PROC_SUPER_MAGIC as libc::c_long,
    libc::SYSFS_MAGIC as libc::c_long,
    libc::CGROUP_SUPER_MAGIC as libc::c_long,
    libc::CGROUP2_SUPER_MAGIC as libc::c_long,
    libc::DEBUGFS_MAGIC as libc::c_long,
    libc::TRACEFS_MAGIC as libc::c_long,
    libc::SECURITYFS_MAGIC as libc::c_long,
    libc::BPF_FS_MAGIC as libc::c_long,
    libc::DEVPTS_SUPER_MAGIC as libc::c_long,
];

impl Visitor for ClearSetIds {
    fn dir(&mut self, e: &Entry) -> Result<bool, StepError> {
        if e.same_fs {
            return Ok(true);
        }
        // SAFETY: fstatfs into a zeroed struct we own, on a descriptor we hold.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: fstatfs writes into the struct we own, on a descriptor we hold.
        if unsafe { libc::fstatfs(e.fd.as_raw_fd(), &mut st) } < 0 {
            return Err(StepError::last_os(
                "box.setid",
                e.shown.display().to_string(),
            ));
        }
        Ok(!PSEUDO_FS.contains(&(st.f_type as libc::c_long)))
    }
    /// A file system mounted below a caller's read-write directory is bound into
    /// the box with it (binds are recursive) and may be writable there: the box
    /// can leave its setuid programs on it too. Clearing a bit of a box-user file
    /// is safe on any file system.
    fn cross_mounts(&self) -> bool {
        true
    }
    fn other(&mut self, e: &Entry) -> Result<(), StepError> {
        if e.kind != Kind::File
            || e.st.st_uid != self.uid
            || e.st.st_mode & (libc::S_ISUID | libc::S_ISGID) == 0
        {
            return Ok(());
        }
        chmod_fd(e.fd, e.st.st_mode & 0o1777, "box.setid", e.shown)?;
        self.cleared += 1;
        Ok(())
    }
}

/// Below `dir` (never following a link; into file systems mounted below it, but
/// kernel ones), clear the setuid and setgid bits of every regular file owned by
/// `uid`. Returns how many.
pub fn clear_set_ids(
    dir: std::os::fd::OwnedFd,
    shown: &Path,
    uid: u32,
) -> Result<usize, StepError> {
    let mut v = ClearSetIds { uid, cleared: 0 };
    walk::walk(dir, shown, "box.setid", &mut v)?;
    Ok(v.cleared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch(name: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("rustbox-fsutil-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    #[test]
    fn chmod_fd_sets_the_mode_through_either_kind_of_descriptor() {
        use std::os::unix::fs::PermissionsExt;
        let d = scratch("chmod");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let plain = std::fs::File::open(&d).unwrap();
        chmod_fd(&plain, 0o700, "test", &d).unwrap();
        assert_eq!(mode(&d), 0o700);
        let path_only = crate::sys::fd::open(&d, libc::O_PATH | libc::O_DIRECTORY, "test").unwrap();
        chmod_fd(&path_only, 0o750, "test", &d).unwrap();
        assert_eq!(mode(&d), 0o750);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn remove_tree_does_not_follow_links() {
        let outside = scratch("outside");
        std::fs::write(outside.join("keep"), b"x").unwrap();
        let t = scratch("tree");
        std::fs::create_dir_all(t.join("a/b")).unwrap();
        std::fs::write(t.join("a/b/f"), b"y").unwrap();
        symlink(&outside, t.join("a/link")).unwrap();
        remove_tree(&t).unwrap();
        assert!(!t.exists());
        assert!(
            outside.join("keep").exists(),
            "a link target outside was removed"
        );
        remove_tree(&t).unwrap(); // idempotent
        std::fs::remove_dir_all(&outside).unwrap();
    }

    /// A chain of `n` directories below `t` (built relative to descriptors), a
    /// link and a FIFO at the bottom.
    fn chain(t: &Path, n: usize) {
        use nix::dir::Dir;
        use nix::fcntl::OFlag;
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
        let mut d = Dir::open(t, flags, Mode::empty()).unwrap();
        for _ in 0..n {
            nix::sys::stat::mkdirat(Some(d.as_raw_fd()), "d", Mode::from_bits_truncate(0o755))
                .unwrap();
            d = Dir::openat(Some(d.as_raw_fd()), "d", flags, Mode::empty()).unwrap();
        }
        let bottom = format!("/proc/self/fd/{}", d.as_raw_fd());
        symlink("/etc/passwd", format!("{bottom}/link")).unwrap();
        nix::unistd::mkfifo(
            format!("{bottom}/fifo").as_str(),
            Mode::from_bits_truncate(0o644),
        )
        .unwrap();
    }

    #[test]
    fn deep_trees_are_handed_over_and_removed() {
        let t = scratch("deep");
        chain(&t, 5000);
        // Not root in every unit-test run: hand the tree to whoever we are.
        let (uid, gid) = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        chown_tree(&t, uid, gid, true, Owners::Any).unwrap();
        let flags = nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY;
        let mut d = nix::dir::Dir::open(&t, flags, Mode::empty()).unwrap();
        for _ in 0..5000 {
            d = nix::dir::Dir::openat(Some(d.as_raw_fd()), "d", flags, Mode::empty()).unwrap();
        }
        let left: Vec<_> = d
            .iter()
            .map(|e| e.unwrap().file_name().to_owned())
            .filter(|n| n.to_bytes() != b"." && n.to_bytes() != b"..")
            .collect();
        assert!(
            left.is_empty(),
            "the link and the FIFO are removed: {left:?}"
        );
        drop(d);
        remove_tree(&t).unwrap();
        assert!(!t.exists());
    }
}
