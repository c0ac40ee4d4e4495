//! A `norec` bind asked for by a caller other than root must not uncover what
//! the host's mounts hide.
//!
//! A non-recursive clone of a directory takes its mount alone: where another file
//! system is mounted below it on the host, the box sees the directory underneath
//! the mount point instead, files the caller cannot reach in their own view of the
//! host (rustbox clones as root in the host's user namespace, where the kernel
//! locks no mount). isolate binds as root for root alone; rustbox also serves
//! users through its setuid binary, so for them `norec` is allowed only where no
//! mount lies below the source, which then makes it the same as a recursive bind.
//! Root's `norec` is as isolate's: root can see below mounts anyway.
//!
//! The source is the descriptor the tree was cloned from, and its path is what the
//! kernel says of that descriptor, so no link swapped in between can point the
//! check elsewhere.

use crate::sys::error::StepError;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Refuse the bind if any mount of this mount namespace lies below `source`.
pub fn refuse_hidden_below(source: &OwnedFd, shown: &Path) -> Result<(), StepError> {
    let step = "mount.bind";
    let link = format!("/proc/self/fd/{}", source.as_raw_fd());
    let path = std::fs::read_link(&link)
        .map_err(|e| StepError::io(step, format!("readlink {link} ({})", shown.display()), &e))?;
    // Bytes: mount points need not be UTF-8.
    let info = crate::sys::fd::read_bytes("/proc/self/mountinfo")
        .map_err(|e| StepError::io(step, "/proc/self/mountinfo", &e))?;
    let below = mounts_below(&info, path.as_os_str().as_bytes());
    if below > 0 {
        return Err(StepError::sys(
            step,
            format!(
                "{}: norec would show what {below} mount(s) below it cover; only root may \
                 ask that (drop norec: the mounts are then bound too)",
                shown.display()
            ),
            libc::EPERM,
        ));
    }
    Ok(())
}

/// A mount point as mountinfo writes it, its octal escapes (`\040` for a space,
/// and tab, newline, backslash) undone: the path's own bytes.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let oct = field
            .get(i + 1..i + 4)
            .filter(|d| field[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct {
            Some(d) => {
                out.push(d.iter().fold(0u8, |v, c| v.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            None => {
                out.push(field[i]);
                i += 1;
            }
        }
    }
    out
}

/// How many mount points of `mountinfo` lie strictly below the directory `dir`,
/// compared as bytes.
fn mounts_below(mountinfo: &[u8], dir: &[u8]) -> usize {
    let mut prefix = dir.to_vec();
    if prefix.last() != Some(&b'/') {
        prefix.push(b'/');
    }
    mountinfo
        .split(|&b| b == b'\n')
        .filter_map(|l| l.split(|&b| b == b' ').nth(4))
        .map(unescape)
        .filter(|mp| mp.len() > prefix.len() && mp.starts_with(&prefix))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_mount_points_strictly_below() {
        let info = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
            2 1 0:5 / /home rw - ext4 /dev/sda2 rw\n\
            3 2 0:6 / /home/a\\040b/x rw - tmpfs t rw\n\
            4 1 0:7 / /homer rw - tmpfs t rw\n";
        let info = info.as_bytes();
        assert_eq!(mounts_below(info, b"/home"), 1);
        assert_eq!(mounts_below(info, b"/home/a b"), 1);
        assert_eq!(mounts_below(info, b"/home/a b/x"), 0);
        assert_eq!(mounts_below(info, b"/srv"), 0);
        assert_eq!(mounts_below(info, b"/"), 3);
    }

    #[test]
    fn paths_are_bytes_not_text() {
        // UTF-8, and bytes that are no UTF-8 at all, in a mount point.
        let info = b"1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
            2 1 0:6 / /srv/donn\xc3\xa9es/dir/sub rw - tmpfs t rw\n\
            3 1 0:7 / /srv/\xff\\134x/sub rw - tmpfs t rw\n";
        assert_eq!(mounts_below(info, "/srv/donn\u{e9}es/dir".as_bytes()), 1);
        assert_eq!(mounts_below(info, b"/srv/\xff\\x"), 1);
        assert_eq!(mounts_below(info, b"/srv"), 2);
        assert_eq!(unescape(b"a\\040b\\011c\\134d\\9"), b"a b\tc\\d\\9");
    }
}
