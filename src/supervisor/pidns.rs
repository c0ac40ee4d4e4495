//! The last pid handed out in the caller's pid namespace
//! (`/proc/sys/kernel/ns_last_pid`): in the box's fresh namespace, where pids go
//! out in order from 1, it counts the tasks the box created.
//!
//! The file answers for the pid namespace of the task that reads it, whatever
//! /proc it was opened through, so the box's pid 1 opens it early (through the
//! host's /proc, before the payload replaces the root) and reads it at the end.
//! Pids wrap only after `kernel.pid_max` (at least 32768) allocations.

use std::os::fd::{AsRawFd, OwnedFd};

pub struct LastPid(OwnedFd);

impl AsRawFd for LastPid {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

impl LastPid {
    /// Open the file; None if this kernel or mount has none.
    pub fn open() -> Option<LastPid> {
        let path = std::path::Path::new("/proc/sys/kernel/ns_last_pid");
        crate::sys::fd::open(path, libc::O_RDONLY, "proxy.tasks")
            .ok()
            .map(LastPid)
    }

    /// The last pid handed out in the reading task's pid namespace.
    pub fn read(&self) -> Option<u64> {
        let mut buf = [0u8; 32];
        // SAFETY: pread(2) writes at most `buf.len()` bytes into `buf`, a live
        // local; only the count returned is used.
        let n = unsafe { libc::pread(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n <= 0 {
            return None;
        }
        std::str::from_utf8(&buf[..n as usize])
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}
