//! Process descriptors: a pidfd names one process for good, so a signal sent
//! through it can never reach another process that reused the pid.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// pidfd_open(2); None if the process is gone (or the kernel refuses).
pub fn open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open with flags 0 returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a descriptor pidfd_open just returned, owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
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
