//! File-tree operations on directories a sandboxed program could have written to.
//!
//! The box workspace and the box's `/tmp` are filled by untrusted programs between
//! runs. Everything here walks them by file descriptor, never follows a symbolic
//! link, and never crosses into another filesystem, so a planted link or mount point
//! cannot redirect a removal or a chown to a host file.

use crate::error::StepError;
use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode, SFlag};
use nix::unistd::{fchownat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::path::Path;

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

fn open_dir_at(parent: Option<RawFd>, name: &Path, step: &str) -> Result<Dir, StepError> {
    Dir::openat(parent, name, DIR_FLAGS, Mode::empty())
        .map_err(|e| StepError::nix(step, name.display().to_string(), e))
}

fn entries(dir: &mut Dir) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    dir.iter()
        .filter_map(Result::ok)
        .map(|e| std::ffi::OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect()
}

/// Remove `path` and everything below it. A missing path is not an error.
/// Symbolic links are removed, never followed; another filesystem mounted below is
/// refused rather than entered.
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
    let mut dir = open_dir_at(None, path, step)?;
    let dev = nix::sys::stat::fstat(dir.as_raw_fd())
        .map_err(|e| StepError::nix(step, path.display().to_string(), e))?
        .st_dev;
    empty_dir(&mut dir, dev, path)?;
    drop(dir);
    std::fs::remove_dir(path).map_err(|e| StepError::io(step, path.display().to_string(), &e))
}

fn empty_dir(dir: &mut Dir, dev: u64, shown: &Path) -> Result<(), StepError> {
    let step = "cleanup.remove";
    let fd = dir.as_raw_fd();
    for name in entries(dir) {
        let here = shown.join(&name);
        let st = fstatat(Some(fd), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| StepError::nix(step, here.display().to_string(), e))?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
            if st.st_dev != dev {
                return Err(StepError::new(
                    step,
                    format!("{} is a mount point; not entering it", here.display()),
                ));
            }
            let mut sub = open_dir_at(Some(fd), Path::new(&name), step)?;
            empty_dir(&mut sub, dev, &here)?;
            drop(sub);
            unlinkat(Some(fd), name.as_os_str(), UnlinkatFlags::RemoveDir)
                .map_err(|e| StepError::nix(step, here.display().to_string(), e))?;
        } else {
            unlinkat(Some(fd), name.as_os_str(), UnlinkatFlags::NoRemoveDir)
                .map_err(|e| StepError::nix(step, here.display().to_string(), e))?;
        }
    }
    Ok(())
}

/// The entry `name` below `dir` itself (never what a link points to) as an
/// `O_PATH` descriptor, and its status: acting through the descriptor, a rename in
/// between changes nothing, and O_PATH opens no device.
fn open_entry(
    dir: RawFd,
    name: &std::ffi::OsStr,
) -> nix::Result<(std::os::fd::OwnedFd, libc::stat)> {
    let fd = nix::fcntl::openat(
        Some(dir),
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: openat just returned this descriptor; nothing else owns it.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
    Ok((fd, st))
}

/// Who may own what `chown_tree` hands over.
#[derive(Debug, Clone, Copy)]
pub enum Owners<'a> {
    /// Anything (a box of root's: root could chown it anyway).
    Any,
    /// Only entries owned by one of these uids (the box's owner and the box uid);
    /// anything else is refused. Without this, an owner could hard-link (or move)
    /// another user's file or directory into /box and have root hand it to them.
    Only(&'a [u32]),
}

/// Change the owner of `path` and everything below it, links themselves included,
/// without following any link; the top directory gets mode 0700 (a program could
/// have opened it to everyone). With `remove_special`, everything that is neither a
/// regular file nor a directory (links, devices, FIFOs, sockets) is removed instead:
/// isolate does so before every run, and after it unless `--special-files`. Each
/// entry is opened without following links, checked (kind, owner, device) and
/// chowned through that same descriptor, so a rename in between changes nothing.
pub fn chown_tree(
    path: &Path,
    uid: u32,
    gid: u32,
    remove_special: bool,
    owners: Owners,
) -> Result<(), StepError> {
    let step = "box.chown";
    let mut dir = open_dir_at(None, path, step)?;
    let fd = dir.as_raw_fd();
    let st = nix::sys::stat::fstat(fd)
        .map_err(|e| StepError::nix(step, path.display().to_string(), e))?;
    check_owner(&st, owners, path)?;
    nix::unistd::fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
        .map_err(|e| StepError::nix(step, path.display().to_string(), e))?;
    nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(0o700))
        .map_err(|e| StepError::nix(step, path.display().to_string(), e))?;
    let walk = Walk {
        dev: st.st_dev,
        uid,
        gid,
        remove_special,
        owners,
    };
    walk.below(&mut dir, path)
}

fn check_owner(st: &libc::stat, owners: Owners, shown: &Path) -> Result<(), StepError> {
    match owners {
        Owners::Only(ok) if !ok.contains(&st.st_uid) => Err(StepError::new(
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

struct Walk<'a> {
    dev: u64,
    uid: u32,
    gid: u32,
    remove_special: bool,
    owners: Owners<'a>,
}

impl Walk<'_> {
    fn below(&self, dir: &mut Dir, shown: &Path) -> Result<(), StepError> {
        let step = "box.chown";
        let fd = dir.as_raw_fd();
        for name in entries(dir) {
            let here = shown.join(&name);
            let err = |e| StepError::nix(step, here.display().to_string(), e);
            let (ent, st) = open_entry(fd, &name).map_err(err)?;
            let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
            let special = kind != SFlag::S_IFREG && kind != SFlag::S_IFDIR;
            if special && self.remove_special {
                unlinkat(Some(fd), name.as_os_str(), UnlinkatFlags::NoRemoveDir).map_err(err)?;
                continue;
            }
            if st.st_dev != self.dev {
                return Err(StepError::new(
                    step,
                    format!(
                        "{} is on another file system; not entering it",
                        here.display()
                    ),
                ));
            }
            check_owner(&st, self.owners, &here)?;
            fchownat(
                Some(ent.as_raw_fd()),
                "",
                Some(Uid::from_raw(self.uid)),
                Some(Gid::from_raw(self.gid)),
                AtFlags::AT_EMPTY_PATH,
            )
            .map_err(err)?;
            if kind == SFlag::S_IFDIR {
                // Reopened for reading by the same path: it must still be the
                // directory just checked and chowned.
                let mut sub = open_dir_at(Some(fd), Path::new(&name), step)?;
                let again = nix::sys::stat::fstat(sub.as_raw_fd()).map_err(err)?;
                if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) {
                    return Err(StepError::new(
                        step,
                        format!("{} was replaced during the walk", here.display()),
                    ));
                }
                self.below(&mut sub, &here)?;
            }
        }
        Ok(())
    }
}

/// Open the directory `path` (links on the way followed, the last one not).
pub fn open_dir(path: &Path, step: &str) -> Result<Dir, StepError> {
    open_dir_at(None, path, step)
}

/// Below `dir` (never following a link, never leaving its file system), clear the
/// setuid and setgid bits of every regular file owned by `uid`. Returns how many.
pub fn clear_set_ids(mut dir: Dir, shown: &Path, uid: u32) -> Result<usize, StepError> {
    let dev = nix::sys::stat::fstat(dir.as_raw_fd())
        .map_err(|e| StepError::nix("box.setid", shown.display().to_string(), e))?
        .st_dev;
    clear_below(&mut dir, dev, shown, uid)
}

fn clear_below(dir: &mut Dir, dev: u64, shown: &Path, uid: u32) -> Result<usize, StepError> {
    let step = "box.setid";
    let fd = dir.as_raw_fd();
    let mut n = 0;
    for name in entries(dir) {
        let here = shown.join(&name);
        let err = |e| StepError::nix(step, here.display().to_string(), e);
        let st = fstatat(Some(fd), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(err)?;
        if st.st_dev != dev {
            continue;
        }
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFDIR {
            let mut sub = open_dir_at(Some(fd), Path::new(&name), step)?;
            n += clear_below(&mut sub, dev, &here, uid)?;
        } else if kind == SFlag::S_IFREG
            && st.st_uid == uid
            && st.st_mode & (libc::S_ISUID | libc::S_ISGID) != 0
        {
            let (ent, now) = open_entry(fd, &name).map_err(err)?;
            if now.st_uid != uid
                || SFlag::from_bits_truncate(now.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG
            {
                continue;
            }
            let mode = Mode::from_bits_truncate(now.st_mode & 0o1777);
            let via = format!("/proc/self/fd/{}", ent.as_raw_fd());
            nix::sys::stat::fchmodat(
                None,
                via.as_str(),
                mode,
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(err)?;
            n += 1;
        }
    }
    Ok(n)
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
}
