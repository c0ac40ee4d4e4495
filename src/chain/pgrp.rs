//! The program's process group: one of its own, as isolate's `setpgrp()`.
//!
//! Started by the box's pid 1, the payload starts in the process group rustbox
//! was started in: the caller's, which is the foreground group of the caller's
//! terminal when there is one. There it would read what is typed at that
//! terminal, change its modes and take its ^C as the caller's own jobs do. In a
//! group of its own it is a background job of that terminal: a read stops it
//! (SIGTTIN; EIO when it ignores that), a mode change or a tcsetpgrp stops it
//! (SIGTTOU) unless it ignores SIGTTOU, in which case the kernel lets the change
//! through: so the supervisor gives the terminal's modes and foreground group
//! back after every run at its controlling terminal (`run::caller_terminal`).
//! Signals typed at the terminal go to the caller's group, whose rustbox ends
//! the run as isolate's does. `--tty-hack` then makes this group the foreground
//! one (`crate::sys::tty`).
//!
//! The group is in the box's pid namespace (its pgid is the payload's pid there,
//! 2), in the caller's session: setsid would leave the terminal, and a session's
//! terminal can only have a group of that session in the foreground.

use crate::sys::error::StepError;

/// setpgid(0, 0), read back: the calling process leads a new process group.
/// Returns its pgid (the caller's pid, in its pid namespace).
pub fn own_group() -> Result<libc::pid_t, StepError> {
    // SAFETY: setpgid on the calling process only, with constant arguments.
    if unsafe { libc::setpgid(0, 0) } < 0 {
        return Err(StepError::last_os("pgrp", "setpgid(0, 0)"));
    }
    // SAFETY: getpid and getpgrp cannot fail.
    let (pid, pg) = unsafe { (libc::getpid(), libc::getpgrp()) };
    if pg != pid {
        return Err(StepError::new(
            "pgrp",
            format!("getpgrp() reads {pg} after setpgid(0, 0), not the pid {pid}"),
        ));
    }
    Ok(pg)
}
