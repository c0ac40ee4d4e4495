//! Mount primitives, all descriptor-based.
//!
//! Mount targets are reached one path component at a time with `O_NOFOLLOW`, from a
//! descriptor of the box's new root, and mounts are attached to the descriptor of the
//! target (the new mount API: `open_tree` + `mount_setattr` + `move_mount`). A symbolic
//! link that a sandboxed program left in `/box` or `/tmp` in an earlier run therefore
//! cannot send a mount anywhere else.

use crate::sys::error::StepError;
use crate::sys::fd;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub(crate) const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
pub(crate) const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
pub(crate) const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Open one directory component below `dir` without following links.
fn open_component(dir: RawFd, name: &std::ffi::CStr, flags: libc::c_int) -> libc::c_int {
    // SAFETY: openat with a valid NUL-terminated name; the result is checked by callers.
    unsafe {
        libc::openat(
            dir,
            name.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    }
}

/// What to create at the end of a path that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    Dir,
    File,
}

/// Walk `rel` (an absolute path inside the box) below `root`, creating what is
/// missing (directories 0755, and the leaf as `leaf`), never following a link.
/// Returns an `O_PATH` descriptor of the leaf.
pub fn make_beneath(root: RawFd, rel: &Path, leaf: Leaf) -> Result<OwnedFd, StepError> {
    let step = "mount.target";
    let shown = rel.display().to_string();
    let comps: Vec<&std::ffi::OsStr> = rel
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s),
            _ => None,
        })
        .collect();
    if comps.is_empty() {
        // SAFETY: a dup of a descriptor we hold is a new descriptor (or -1).
        return unsafe {
            fd::owned(
                libc::fcntl(root, libc::F_DUPFD_CLOEXEC, 0).into(),
                step,
                &shown,
            )
        };
    }
    // The directory reached so far: `root` itself until the first component
    // is open (no dup of it: two calls fewer per walk).
    let mut cur: Option<OwnedFd> = None;
    for (i, c) in comps.iter().enumerate() {
        let at = cur.as_ref().map_or(root, AsRawFd::as_raw_fd);
        let last = i + 1 == comps.len();
        let name = CString::new(c.as_bytes())
            .map_err(|_| StepError::new(step, format!("{shown}: NUL byte")))?;
        let want_dir = !last || leaf == Leaf::Dir;
        let flags = libc::O_PATH | if want_dir { libc::O_DIRECTORY } else { 0 };
        let mut fd = open_component(at, &name, flags);
        if fd < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT) {
            let rc = if want_dir {
                // SAFETY: mkdirat with a valid name below a directory descriptor.
                unsafe { libc::mkdirat(at, name.as_ptr(), 0o755) }
            } else {
                // SAFETY: create an empty file to serve as a mount point; O_EXCL
                // refuses anything that appeared meanwhile.
                let f = unsafe {
                    libc::openat(
                        at,
                        name.as_ptr(),
                        libc::O_CREAT
                            | libc::O_EXCL
                            | libc::O_WRONLY
                            | libc::O_NOFOLLOW
                            | libc::O_CLOEXEC,
                        0o644,
                    )
                };
                if f >= 0 {
                    // SAFETY: closing the descriptor openat just returned.
                    unsafe { libc::close(f) };
                    0
                } else {
                    -1
                }
            };
            if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
                return Err(StepError::last_os(step, format!("create {shown}")));
            }
            fd = open_component(at, &name, flags);
        }
        if fd < 0 {
            // ELOOP or ENOTDIR here means a link or a file was planted on the path.
            return Err(StepError::last_os(
                step,
                format!("open {shown} (links are not followed)"),
            ));
        }
        // SAFETY: fd was just returned by openat and is owned by nobody else.
        cur = Some(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    Ok(cur.expect("at least one component was opened"))
}

/// Clone the tree at `src` (recursively unless `norec`) as a detached mount, and
/// return it with the `O_PATH` descriptor of the source it was cloned from (so a
/// later check looks at exactly that directory). With `no_links_below` = (a
/// directory above `src`, the part of `src` below it), that part is resolved
/// without following any link (see `hostpath::open_no_links`).
pub fn clone_tree(
    src: &Path,
    recursive: bool,
    no_links_below: Option<(&Path, &Path)>,
) -> Result<(OwnedFd, OwnedFd), StepError> {
    let what = format!("open_tree {}", src.display());
    let source = match no_links_below {
        Some((root, rel)) => crate::caller::hostpath::open_no_links(root, rel, "mount.bind")?,
        None => fd::open(src, libc::O_PATH, "mount.bind")?,
    };
    let mut flags =
        OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: open_tree of the descriptor itself (empty path); returns a new
    // descriptor or -1.
    let rc = unsafe { libc::syscall(libc::SYS_open_tree, source.as_raw_fd(), c"".as_ptr(), flags) };
    // SAFETY: rc is open_tree's return: a new descriptor or -1.
    Ok((unsafe { fd::owned(rc, "mount.bind", &what) }?, source))
}

/// Set mount attributes on a mount (and, with `recursive`, all below it).
pub fn set_attrs(mnt: RawFd, set: u64, recursive: bool, what: &str) -> Result<(), StepError> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    let empty = c"";
    // SAFETY: mount_setattr on a descriptor we own, with a correctly sized struct.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            mnt,
            empty.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(StepError::last_os("mount.setattr", what.to_string()));
    }
    Ok(())
}

/// Attach the detached mount `mnt` on the target descriptor `to`.
pub fn attach(mnt: &OwnedFd, to: &OwnedFd, what: &str) -> Result<(), StepError> {
    let empty = c"";
    // SAFETY: move_mount between two descriptors we own, both with empty paths.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            empty.as_ptr(),
            to.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if rc < 0 {
        return Err(StepError::last_os("mount.attach", what.to_string()));
    }
    Ok(())
}

/// The id of the mount a descriptor's object sits on (`statx` `STATX_MNT_ID`).
pub fn mount_id(fd: RawFd, what: &str) -> Result<u64, StepError> {
    match crate::sys::fd::statx_mount_id(fd, libc::STATX_MNT_ID) {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(StepError::new(
            "mount.verify",
            format!("{what}: the kernel gave no mount id"),
        )),
        Err(e) => Err(StepError::sys("mount.verify", format!("statx {what}"), e)),
    }
}

/// Read back an `attach`: what `rel` below `parent` leads to now, reached again
/// from the top without following links, is the attached mount `mnt` itself.
pub fn verify_attached(
    mnt: &OwnedFd,
    parent: RawFd,
    rel: &Path,
    leaf: Leaf,
    what: &str,
) -> Result<OwnedFd, StepError> {
    let want = mount_id(mnt.as_raw_fd(), what)?;
    let now = make_beneath(parent, rel, leaf)?;
    let got = mount_id(now.as_raw_fd(), what)?;
    if got != want {
        return Err(StepError::new(
            "mount.verify",
            format!("{what}: mount {want} was attached, but the path leads to mount {got}"),
        ));
    }
    Ok(now)
}

/// Read back a new mount on `rel` below `root`: the path leads to a mount other
/// than the root's own. Returns the descriptor of what it leads to now.
pub fn verify_mounted(root: &OwnedFd, rel: &Path, what: &str) -> Result<OwnedFd, StepError> {
    let under = mount_id(root.as_raw_fd(), what)?;
    let now = make_beneath(root.as_raw_fd(), rel, Leaf::Dir)?;
    if mount_id(now.as_raw_fd(), what)? == under {
        return Err(StepError::new(
            "mount.verify",
            format!("{what}: nothing is mounted there"),
        ));
    }
    Ok(now)
}

/// The `/proc/self/fd/N` path of a descriptor, for the classic mount(2) call,
/// which then acts on exactly the object the descriptor names.
pub fn fd_path(fd: &OwnedFd) -> CString {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL in a number")
}

/// Mount a new instance of filesystem `fstype` on the target descriptor.
pub fn mount_fs(
    fstype: &str,
    to: &OwnedFd,
    flags: libc::c_ulong,
    data: &str,
    what: &str,
) -> Result<(), StepError> {
    let src = CString::new(format!("rustbox-{fstype}")).expect("no NUL");
    let ty = CString::new(fstype)
        .map_err(|_| StepError::new("mount.fs", format!("bad filesystem type {fstype}")))?;
    let data = CString::new(data).expect("no NUL in mount options");
    let target = fd_path(to);
    // SAFETY: mount(2) with valid strings; the target is our own O_PATH descriptor.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            ty.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    };
    if rc < 0 {
        return Err(StepError::last_os("mount.fs", what.to_string()));
    }
    Ok(())
}

/// Open `path` as an `O_PATH` directory descriptor.
pub fn open_path(path: &Path, step: &str) -> Result<OwnedFd, StepError> {
    fd::open(path, libc::O_PATH | libc::O_DIRECTORY, step)
}

/// Read the mount flags of the mount a descriptor sits on (for verification).
pub fn statvfs_flags(fd: &OwnedFd) -> Result<u64, StepError> {
    // SAFETY: fstatvfs fills a zeroed struct for a descriptor we own.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) };
    if rc < 0 {
        return Err(StepError::last_os("mount.verify", "fstatvfs"));
    }
    Ok(st.f_flag as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_beneath_refuses_symlinks() {
        let base = std::env::temp_dir().join(format!("rustbox-mb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("root")).unwrap();
        std::os::unix::fs::symlink("/etc", base.join("root/evil")).unwrap();
        let root = open_path(&base.join("root"), "t").unwrap();
        let ok = make_beneath(root.as_raw_fd(), Path::new("/a/b"), Leaf::Dir);
        assert!(ok.is_ok());
        assert!(base.join("root/a/b").is_dir());
        let f = make_beneath(root.as_raw_fd(), Path::new("/a/f"), Leaf::File);
        assert!(f.is_ok());
        assert!(base.join("root/a/f").is_file());
        let e = make_beneath(root.as_raw_fd(), Path::new("/evil/x"), Leaf::Dir).unwrap_err();
        assert!(
            matches!(e.errno, Some(libc::ELOOP) | Some(libc::ENOTDIR)),
            "{e}"
        );
        assert!(!Path::new("/etc/x").exists());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
