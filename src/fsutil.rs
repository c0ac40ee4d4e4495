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
use std::os::fd::{AsRawFd, RawFd};
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

/// Change the owner of `path` and everything below it, links themselves included,
/// without following any link. With `remove_special`, everything that is neither a
/// regular file nor a directory (links, devices, FIFOs, sockets) is removed instead:
/// isolate does so before every run, and after it unless `--special-files`.
pub fn chown_tree(path: &Path, uid: u32, gid: u32, remove_special: bool) -> Result<(), StepError> {
    let step = "box.chown";
    let mut dir = open_dir_at(None, path, step)?;
    let fd = dir.as_raw_fd();
    let dev = nix::sys::stat::fstat(fd)
        .map_err(|e| StepError::nix(step, path.display().to_string(), e))?
        .st_dev;
    nix::unistd::fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
        .map_err(|e| StepError::nix(step, path.display().to_string(), e))?;
    chown_below(&mut dir, dev, path, uid, gid, remove_special)
}

fn chown_below(
    dir: &mut Dir,
    dev: u64,
    shown: &Path,
    uid: u32,
    gid: u32,
    remove_special: bool,
) -> Result<(), StepError> {
    let step = "box.chown";
    let fd = dir.as_raw_fd();
    for name in entries(dir) {
        let here = shown.join(&name);
        let st = fstatat(Some(fd), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| StepError::nix(step, here.display().to_string(), e))?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        let special = kind != SFlag::S_IFREG && kind != SFlag::S_IFDIR;
        if special && remove_special {
            unlinkat(Some(fd), name.as_os_str(), UnlinkatFlags::NoRemoveDir)
                .map_err(|e| StepError::nix(step, here.display().to_string(), e))?;
            continue;
        }
        fchownat(
            Some(fd),
            name.as_os_str(),
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| StepError::nix(step, here.display().to_string(), e))?;
        if kind == SFlag::S_IFDIR && st.st_dev == dev {
            let mut sub = open_dir_at(Some(fd), Path::new(&name), step)?;
            chown_below(&mut sub, dev, &here, uid, gid, remove_special)?;
        }
    }
    Ok(())
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
