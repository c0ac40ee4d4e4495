//! Process descriptors: a pidfd names one process for good, so a signal sent
//! through it can never reach another process that reused the pid.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// pidfd_open(2); None if the process is gone (or the kernel refuses).
pub fn open(pid: i32) -> Option<OwnedFd> {
    open_or_errno(pid).ok()
}

/// pidfd_open(2), with the kernel's errno when it refuses.
fn open_or_errno(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open with flags 0 returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor pidfd_open just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// SIGKILL the process; a process that is already gone is not an error.
pub fn kill(fd: &impl AsRawFd) {
    // SAFETY: pidfd_send_signal on a pidfd we hold; no siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<u8>(),
            0,
        )
    };
}

/// `struct pidfd_info` of Linux 6.13 (`PIDFD_INFO_SIZE_VER0`, 64 bytes): the
/// fields the kernel fills for every process, creds included.
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    pid: u32,
    tgid: u32,
    ppid: u32,
    ruid: u32,
    rgid: u32,
    euid: u32,
    egid: u32,
    suid: u32,
    sgid: u32,
    fsuid: u32,
    fsgid: u32,
    spare0: u32,
}

/// `_IOWR(PIDFS_IOCTL_MAGIC 0xff, 11, struct pidfd_info)`.
const PIDFD_GET_INFO: u64 = (3 << 30) | (64 << 16) | (0xff << 8) | 11;
const PIDFD_INFO_CREDS: u64 = 1 << 1;

/// What the kernel says of a process's four uids (real, effective, saved,
/// filesystem) through its pidfd, without /proc: `Known`, `Gone` (it exited, or
/// was never there), or `Unsupported` (a kernel before 6.13: ask /proc).
pub enum Uids {
    Known([u32; 4]),
    Gone,
    Unsupported,
}

pub fn uids(pid: i32) -> Result<Uids, std::io::Error> {
    // ESRCH: gone. pidfd_open: ENOSYS before 5.3, EINVAL for a pid that is not a
    // thread-group leader; the ioctl: ENOTTY or EINVAL before 6.13.
    let answer = |e: std::io::Error| match e.raw_os_error() {
        Some(libc::ESRCH) => Ok(Uids::Gone),
        Some(libc::ENOSYS | libc::EINVAL | libc::ENOTTY) => Ok(Uids::Unsupported),
        _ => Err(e),
    };
    let fd = match open_or_errno(pid) {
        Ok(fd) => fd,
        Err(e) => return answer(e),
    };
    let mut info = PidfdInfo {
        mask: PIDFD_INFO_CREDS,
        ..PidfdInfo::default()
    };
    // SAFETY: the ioctl writes at most the 64 bytes its number encodes into
    // `info`, a live local of that layout.
    let r = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            PIDFD_GET_INFO as _,
            &mut info as *mut PidfdInfo,
        )
    };
    if r < 0 {
        return answer(std::io::Error::last_os_error());
    }
    if info.mask & PIDFD_INFO_CREDS == 0 {
        return Ok(Uids::Unsupported);
    }
    Ok(Uids::Known([info.ruid, info.euid, info.suid, info.fsuid]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_tells_our_own_uids() {
        // SAFETY: getuid/geteuid have no preconditions.
        let (r, e) = unsafe { (libc::getuid(), libc::geteuid()) };
        match uids(std::process::id() as i32).unwrap() {
            Uids::Known(u) => {
                assert_eq!(u[0], r);
                assert_eq!(u[1], e);
            }
            Uids::Unsupported => {
                let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
                let mut v = release
                    .trim()
                    .split(['.', '-'])
                    .map(|p| p.parse::<u32>().unwrap_or(0));
                let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
                assert!(
                    (major, minor) < (6, 13),
                    "PIDFD_GET_INFO is in 6.13, this is {release}"
                );
            }
            Uids::Gone => panic!("we are not gone"),
        }
        assert!(matches!(
            uids(i32::MAX).unwrap(),
            Uids::Gone | Uids::Unsupported
        ));
    }
}
