//! The box's own file system on the host: one size- and inode-limited tmpfs
//! mounted on `<box_root>/N` by `--init`, holding the box's `box/` (the program's
//! `/box`), `tmp/` (its `/tmp`) and `root/` (the mount point of each run's root).
//! Writing past a limit fails inside the box with ENOSPC, nothing the box writes
//! reaches the host's disk, and each box adds exactly one mount to the host's
//! mount table (66,000 box ids stay below `fs.mount-max`). Removing the box is an
//! unmount, whatever tree a program built in it.
//!
//! The limits are `--init --quota=BLOCKS,INODES` (isolate's option) or the
//! configured `box_quota`. A configuration with `host_disk_box = 1` keeps
//! isolate's box on the host's disk instead (unbounded, as in isolate); `tmp/` is
//! then a tmpfs of its own (`TMP_BYTES`, `TMP_INODES`), again one mount.
//!
//! The mounts live in the host's mount namespace for the life of the box, like
//! isolate's box directory; each run binds them into its private namespace. They
//! are taken down by `--init` and `--cleanup` before the tree is removed.
//!
//! Mount targets are opened with O_NOFOLLOW|O_DIRECTORY and mounted on through
//! `/proc/self/fd/N`, so the mount lands on exactly the directory rustbox created
//! (all its parents are root-owned; the box user owns nothing on the path).

use crate::sys::error::StepError;
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// /tmp of a box on the host's disk (`host_disk_box`): what a compiler or a
/// program's scratch files need, no more.
pub const TMP_BYTES: u64 = 256 << 20;
pub const TMP_INODES: u64 = 16384;

/// Inodes of the box tmpfs that rustbox itself uses: its root (`<box_root>/N`),
/// `box/`, `tmp/` and `root/`. The box's quota of inodes comes on top.
pub const BOX_RESERVED_INODES: u64 = 4;

/// Limits and ownership of one box tmpfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tmpfs {
    pub bytes: u64,
    /// Files and directories the box may create.
    pub inodes: u64,
    /// Inodes rustbox uses itself on top of `inodes` (the root directory at least).
    pub reserved: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Mode and group of `<box_root>/N` for a box of `owner` (uid, gid): root's
/// directory that only the owner may pass through (0710, the owner's group), or
/// only root for root's boxes (0700). Nobody else can reach the box's files, run a
/// setuid program of the box user left in `/box` during a run, or hold a
/// directory of the box open to keep its memory after `--cleanup`.
pub fn dir_access((uid, gid): (u32, u32)) -> (u32, u32) {
    match uid {
        0 => (0o700, 0),
        _ => (0o710, gid),
    }
}

impl Tmpfs {
    /// The tmpfs of a whole box for isolate's `--quota=BLOCKS,INODES` (1 KiB
    /// blocks): root's, with the box directory's mode and group (`dir_access`).
    pub fn whole_box(blocks: u64, inodes: u64, (mode, gid): (u32, u32)) -> Tmpfs {
        Tmpfs {
            bytes: blocks.saturating_mul(1024),
            inodes,
            reserved: BOX_RESERVED_INODES,
            mode,
            uid: 0,
            gid,
        }
    }

    /// `/tmp` of a box kept on the host's disk: the box user's, mode 0700.
    pub fn tmp_only(uid: u32, gid: u32) -> Tmpfs {
        Tmpfs {
            bytes: TMP_BYTES,
            inodes: TMP_INODES,
            reserved: 1,
            mode: 0o700,
            uid,
            gid,
        }
    }

    fn options(&self) -> String {
        format!(
            "size={},nr_inodes={},mode={:o},uid={},gid={}",
            self.bytes,
            self.inodes.saturating_add(self.reserved),
            self.mode,
            self.uid,
            self.gid
        )
    }
}

/// Mount a limited tmpfs on the directory `dir` (nodev, nosuid).
pub fn mount(dir: &Path, t: &Tmpfs) -> Result<(), StepError> {
    let step = "init.tmpfs";
    let fd = crate::sys::fd::open(
        dir,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        step,
    )?;
    let target = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    let opts = CString::new(t.options()).unwrap();
    // SAFETY: mount(2) with NUL-terminated strings that outlive the call.
    let r = unsafe {
        libc::mount(
            // The source names no host path (it shows in the box's mountinfo).
            c"rustbox-box".as_ptr(),
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
    let c = crate::sys::fd::cpath(dir, step)?;
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

/// The limits of the tmpfs mounted on `dir`: (bytes, inodes besides the
/// `reserved` ones rustbox uses); None if no tmpfs is mounted there (`dir` on the
/// same file system as its parent: the box root itself may be on a tmpfs).
pub fn limits(dir: &Path, reserved: u64) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let here = std::fs::symlink_metadata(dir).ok()?;
    let up = std::fs::metadata(dir.join("..")).ok()?;
    if here.dev() == up.dev() {
        return None;
    }
    let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statfs into a zeroed struct we own.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and buffer.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    // f_type is signed in glibc's struct and unsigned in musl's.
    #[allow(clippy::unnecessary_cast)]
    if st.f_type as u64 != libc::TMPFS_MAGIC as u64 {
        return None;
    }
    Some((
        st.f_blocks * st.f_bsize as u64,
        (st.f_files as u64).saturating_sub(reserved),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_is_in_kib_blocks_and_counts_rustbox_inodes() {
        let t = Tmpfs::whole_box(1024, 100, dir_access((1000, 1001)));
        assert_eq!(t.bytes, 1 << 20);
        assert_eq!(
            t.options(),
            "size=1048576,nr_inodes=104,mode=710,uid=0,gid=1001"
        );
        assert_eq!(dir_access((0, 5)), (0o700, 0));
        let t = Tmpfs::tmp_only(60001, 60001);
        assert_eq!(
            t.options(),
            "size=268435456,nr_inodes=16385,mode=700,uid=60001,gid=60001"
        );
    }
}
