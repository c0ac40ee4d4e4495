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

use crate::error::StepError;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Refuse the bind if any mount of this mount namespace lies below `source`.
pub fn refuse_hidden_below(source: &OwnedFd, shown: &Path) -> Result<(), StepError> {
    let step = "mount.bind";
    let link = format!("/proc/self/fd/{}", source.as_raw_fd());
    let path = std::fs::read_link(&link)
        .map_err(|e| StepError::io(step, format!("readlink {link} ({})", shown.display()), &e))?;
    let info = std::fs::read_to_string("/proc/self/mountinfo")
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

/// How many mount points of `mountinfo` lie strictly below the directory `dir`
/// (as the kernel writes paths there: space, tab, newline and backslash octal).
fn mounts_below(mountinfo: &str, dir: &[u8]) -> usize {
    let mut esc = String::new();
    for &b in dir {
        match b {
            b' ' | b'\t' | b'\n' | b'\\' => esc.push_str(&format!("\\{b:03o}")),
            _ => esc.push(b as char),
        }
    }
    let prefix = if esc.ends_with('/') {
        esc
    } else {
        format!("{esc}/")
    };
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| mp.len() > prefix.len() && mp.starts_with(prefix.as_str()))
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
        assert_eq!(mounts_below(info, b"/home"), 1);
        assert_eq!(mounts_below(info, b"/home/a b"), 1);
        assert_eq!(mounts_below(info, b"/home/a b/x"), 0);
        assert_eq!(mounts_below(info, b"/srv"), 0);
        assert_eq!(mounts_below(info, b"/"), 3);
    }
}
