//! Descriptors: nothing but 0, 1 and 2 survives into the program.
//!
//! close_range(3, ~0, CLOSE_RANGE_CLOEXEC) marks every other descriptor close-on-exec
//! in one call rather than closing it now: the report pipe must stay usable until
//! execve, and execve closes them all atomically.

use crate::sys::error::StepError;

pub fn cloexec_all_above_stderr() -> Result<(), StepError> {
    // SAFETY: close_range with constant arguments only changes descriptor flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc < 0 {
        return Err(StepError::last_os(
            "fds.close_range",
            "close_range(3, ~0, CLOEXEC)",
        ));
    }
    Ok(())
}

/// Verify by listing /proc/self/fd: every descriptor above 2 must be close-on-exec.
pub fn verify() -> Result<usize, StepError> {
    // A listing that stopped early would have verified nothing after it: read
    // errors are errors. The listing's own descriptor is closed by now.
    let names = crate::boxdir::walk::list(std::path::Path::new("/proc/self/fd"), "fds.verify")?;
    let mut n = 0;
    for name in names {
        let fd: i32 = match name.to_str().and_then(|s| s.parse().ok()) {
            Some(fd) => fd,
            None => continue,
        };
        if fd <= 2 {
            continue;
        }
        // SAFETY: F_GETFD only reads flags; a closed fd (the directory's own) gives -1.
        let fl = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if fl >= 0 && fl & libc::FD_CLOEXEC == 0 {
            return Err(StepError::new(
                "fds.verify",
                format!("fd {fd} would survive execve"),
            ));
        }
        n += 1;
    }
    Ok(n)
}
