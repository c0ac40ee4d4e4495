//! The box's own file systems on the host: size- and inode-limited tmpfs mounts
//! on `<box>/N/tmp` (always) and `<box>/N/box` (with `--quota`, which, as in
//! isolate, is given to `--init`). Writing past a limit fails inside the box with
//! ENOSPC, and nothing the box writes there reaches the host's disk.
//!
//! The mounts are made by `--init` (after the box's processes are killed and its
//! tree removed) and taken down by `--init` and `--cleanup` before the tree is
//! removed. They live in the host's mount namespace for the life of the box, like
//! isolate's box directory; each run binds them into its private namespace.
//!
//! Mount targets are opened with O_NOFOLLOW|O_DIRECTORY and mounted on through
//! `/proc/self/fd/N`, so the mount lands on exactly the directory rustbox created
//! (all its parents are root-owned; the box user owns nothing on the path).

use crate::error::StepError;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// /tmp of every box: what a compiler or a program's scratch files need, no more.
pub const TMP_BYTES: u64 = 256 << 20;
pub const TMP_INODES: u64 = 16384;

/// Limits and ownership of one box tmpfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tmpfs {
    pub bytes: u64,
    /// Files and directories the box may create (the root directory is extra).
    pub inodes: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Tmpfs {
    /// isolate's `--quota=BLOCKS,INODES`: 1 KiB blocks.
    pub fn quota(blocks: u64, inodes: u64, uid: u32, gid: u32) -> Tmpfs {
        Tmpfs {
            bytes: blocks.saturating_mul(1024),
            inodes,
            mode: 0o700,
            uid,
            gid,
        }
    }

    fn options(&self) -> String {
        format!(
            "size={},nr_inodes={},mode={:o},uid={},gid={}",
            self.bytes,
            self.inodes + 1,
            self.mode,
            self.uid,
            self.gid
        )
    }
}

fn cpath(step: &str, p: &Path) -> Result<CString, StepError> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| StepError::new(step.to_string(), format!("NUL in {}", p.display())))
}

/// Mount a limited tmpfs on the directory `dir` (nodev, nosuid).
pub fn mount(dir: &Path, t: &Tmpfs) -> Result<(), StepError> {
    let step = "init.tmpfs";
    let c = cpath(step, dir)?;
    // SAFETY: open with a valid path; the result is checked.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(StepError::last_os(step, format!("open {}", dir.display())));
    }
    // SAFETY: a descriptor open(2) just returned, owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let target = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    let opts = CString::new(t.options()).unwrap();
    // SAFETY: mount(2) with NUL-terminated strings that outlive the call.
    let r = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NODEV | libc::MS_NOSUID,
            opts.as_ptr().cast(),
        )
    };
    if r != 0 {
        return Err(StepError::last_os(
            step,
            format!("mount tmpfs ({}) on {}", t.options(), dir.display()),
        ));
    }
    Ok(())
}

/// Take down every mount stacked on `dir`; a directory that is no mount point
/// (or does not exist) is fine.
pub fn unmount(dir: &Path) -> Result<(), StepError> {
    let step = "cleanup.umount";
    let c = cpath(step, dir)?;
    for _ in 0..16 {
        // SAFETY: umount2 with a valid path; MNT_DETACH so a busy mount goes too
        // (the box's processes are dead by now), UMOUNT_NOFOLLOW so a symlink is
        // never followed.
        let r = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) };
        if r != 0 {
            return match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINVAL) | Some(libc::ENOENT) => Ok(()),
                _ => Err(StepError::last_os(
                    step,
                    format!("umount {}", dir.display()),
                )),
            };
        }
    }
    Err(StepError::new(
        step,
        format!("{} has more than 16 stacked mounts", dir.display()),
    ))
}

/// The limits of the tmpfs mounted on `dir`: (bytes, inodes the box may create);
/// None if `dir` is not a tmpfs.
pub fn limits(dir: &Path) -> Option<(u64, u64)> {
    let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statfs into a zeroed struct we own.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and buffer.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    if st.f_type != libc::TMPFS_MAGIC {
        return None;
    }
    Some((
        st.f_blocks * st.f_bsize as u64,
        (st.f_files as u64).saturating_sub(1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_is_in_kib_blocks_and_counts_the_root_inode() {
        let t = Tmpfs::quota(1024, 100, 60001, 60001);
        assert_eq!(t.bytes, 1 << 20);
        assert_eq!(
            t.options(),
            "size=1048576,nr_inodes=101,mode=700,uid=60001,gid=60001"
        );
    }
}
