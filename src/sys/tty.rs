//! The caller's terminal under `--tty-hack`: its foreground process group and
//! its modes.
//!
//! isolate 2.6's `--tty-hack`, for interactive programs (web IDEs): when its
//! stdout is a terminal, the program's process group (one of its own, as always:
//! `chain::pgrp`) becomes the terminal's foreground group while it runs, and the
//! keeper makes its own group the foreground one again when it exits. The
//! program ignores SIGTTOU around its tcsetpgrp (a background group would
//! otherwise be stopped by it) and then sets it back to its default action; the
//! keeper ignores SIGTTOU throughout. The box stays in the caller's session: a
//! terminal's foreground group must be a group of the session the terminal
//! belongs to, and the process calling tcsetpgrp must have it as its
//! controlling terminal. The pgid is the caller's own, from its pid namespace:
//! the program names its group as it sees it, which is how the kernel looks it
//! up.
//!
//! rustbox does the same, each call checked and read back, with three
//! differences: nothing is done when stdout is a terminal that is not rustbox's
//! controlling terminal (isolate's tcsetpgrp fails there, unchecked); the
//! terminal goes back to the group that was its foreground group before the run
//! (rustbox's own, or the caller's shell job when rustbox ran in the
//! background, where isolate's keeper would take the terminal for its own
//! group); and the terminal's modes (termios) go back to what they were, so a
//! program that turned echo off or switched to raw mode leaves nothing of it to
//! the caller.
//!
//! Without `--tty-hack` the program is a background job of the caller's
//! terminal and does not take it; but one that ignores SIGTTOU can still make
//! itself the foreground group or change the modes, so the terminal is saved
//! and given back all the same (`inspect`, `Saved::restore`).

use crate::sys::error::StepError;
use std::os::fd::RawFd;

/// What stdout is, seen from the supervisor before the run.
pub enum Terminal {
    /// Not a terminal (isatty fails): nothing to do, as in isolate.
    NotATerminal(i32),
    /// A terminal, but not rustbox's controlling terminal (tcgetpgrp ENOTTY): no
    /// process group of rustbox's session can be its foreground group.
    NotControlling,
    /// rustbox's controlling terminal, with what to give back after the run.
    Controlling(Saved),
}

/// The terminal's foreground group and modes before the run.
pub struct Saved {
    fd: RawFd,
    pgrp: libc::pid_t,
    modes: libc::termios,
}

/// Look at the terminal on `fd` (rustbox's stdout).
pub fn inspect(fd: RawFd) -> Result<Terminal, StepError> {
    // SAFETY: an all-zero termios is a valid buffer to fill.
    let mut modes: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: tcgetattr into our buffer; it fails on anything but a terminal
    // (this is isatty).
    if unsafe { libc::tcgetattr(fd, &mut modes) } < 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Ok(Terminal::NotATerminal(errno));
    }
    // SAFETY: tcgetpgrp only reads.
    let pgrp = unsafe { libc::tcgetpgrp(fd) };
    if pgrp < 0 {
        let e = StepError::last_os("tty.inspect", format!("tcgetpgrp({fd})"));
        if e.errno == Some(libc::ENOTTY) {
            return Ok(Terminal::NotControlling);
        }
        return Err(e);
    }
    Ok(Terminal::Controlling(Saved { fd, pgrp, modes }))
}

/// Set the action of SIGTTOU to `handler` (SIG_IGN or SIG_DFL), read back.
fn sigttou(handler: libc::sighandler_t, step: &str) -> Result<(), StepError> {
    // SAFETY: all-zero sigactions are valid (empty mask, no flags).
    let (mut new, mut old): (libc::sigaction, libc::sigaction) = unsafe { std::mem::zeroed() };
    new.sa_sigaction = handler;
    // SAFETY: sigaction with a valid action for a catchable signal.
    if unsafe { libc::sigaction(libc::SIGTTOU, &new, std::ptr::null_mut()) } < 0 {
        return Err(StepError::last_os(step, "sigaction(SIGTTOU)"));
    }
    // SAFETY: sigaction reading the action only, into our struct.
    if unsafe { libc::sigaction(libc::SIGTTOU, std::ptr::null(), &mut old) } < 0 {
        return Err(StepError::last_os(step, "sigaction(SIGTTOU) read back"));
    }
    if old.sa_sigaction != handler {
        return Err(StepError::new(
            step,
            "SIGTTOU's action did not change as set (read back)",
        ));
    }
    Ok(())
}

/// In the payload, in its own process group, before the streams are
/// redirected: make that group the foreground group of the terminal on `fd`,
/// read back. SIGTTOU is ignored around the call and back at its default
/// action afterwards, for the program.
pub fn take_foreground(fd: RawFd) -> Result<(), StepError> {
    const STEP: &str = "tty.foreground";
    // SAFETY: getpgrp cannot fail.
    let pg = unsafe { libc::getpgrp() };
    sigttou(libc::SIG_IGN, STEP)?;
    // SAFETY: tcsetpgrp on our inherited stdout.
    let set = unsafe { libc::tcsetpgrp(fd, pg) };
    let set_err = (set < 0).then(|| StepError::last_os(STEP, format!("tcsetpgrp({fd}, {pg})")));
    // Back to its default whatever happened: the program starts with it.
    match (set_err, sigttou(libc::SIG_DFL, STEP)) {
        (Some(e), Err(back)) => {
            return Err(StepError {
                detail: format!("{}; then {back}", e.detail),
                ..e
            })
        }
        (Some(e), Ok(())) | (None, Err(e)) => return Err(e),
        (None, Ok(())) => {}
    }
    // SAFETY: tcgetpgrp only reads.
    let now = unsafe { libc::tcgetpgrp(fd) };
    if now < 0 {
        return Err(StepError::last_os(
            STEP,
            format!("tcgetpgrp({fd}) read back"),
        ));
    }
    if now != pg {
        return Err(StepError::new(
            STEP,
            format!("the terminal's foreground group reads {now} after tcsetpgrp, not {pg}"),
        ));
    }
    Ok(())
}

/// The flags and control characters of two sets of modes are the same.
fn same_modes(a: &libc::termios, b: &libc::termios) -> bool {
    (a.c_iflag, a.c_oflag, a.c_cflag, a.c_lflag, a.c_cc)
        == (b.c_iflag, b.c_oflag, b.c_cflag, b.c_lflag, b.c_cc)
}

impl Saved {
    /// In the supervisor, once nothing of the box is left: the saved foreground
    /// group and modes back, read back. SIGTTOU is ignored first (the supervisor
    /// ignores it anyway, isolate's table): rustbox is a background process of
    /// the terminal at this point. Ok(false, why) when there is no terminal left
    /// to restore (hung up during the run, or no longer rustbox's controlling
    /// terminal: EIO, ENOTTY); Ok(true, what) when restored.
    pub fn restore(&self) -> Result<(bool, String), StepError> {
        const STEP: &str = "tty.restore";
        sigttou(libc::SIG_IGN, STEP)?;
        let (fd, pg) = (self.fd, self.pgrp);
        // SAFETY: tcsetpgrp on our own stdout.
        if unsafe { libc::tcsetpgrp(fd, pg) } < 0 {
            let e = StepError::last_os(STEP, format!("tcsetpgrp({fd}, {pg})"));
            if matches!(e.errno, Some(libc::EIO) | Some(libc::ENOTTY)) {
                return Ok((
                    false,
                    format!(
                        "nothing to restore: the terminal is gone from rustbox's session \
                         (hung up?): {e}"
                    ),
                ));
            }
            return Err(e);
        }
        // TCSANOW: TCSADRAIN would wait for output the caller may never read.
        // SAFETY: tcsetattr from our saved, valid termios.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &self.modes) } < 0 {
            return Err(StepError::last_os(STEP, format!("tcsetattr({fd})")));
        }
        // SAFETY: tcgetpgrp only reads.
        let now = unsafe { libc::tcgetpgrp(fd) };
        if now != pg {
            return Err(StepError::new(
                STEP,
                format!("the terminal's foreground group reads {now} after tcsetpgrp, not {pg}"),
            ));
        }
        // SAFETY: an all-zero termios is a valid buffer to fill.
        let mut modes: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr into our buffer.
        if unsafe { libc::tcgetattr(fd, &mut modes) } < 0 {
            return Err(StepError::last_os(
                STEP,
                format!("tcgetattr({fd}) read back"),
            ));
        }
        if !same_modes(&modes, &self.modes) {
            return Err(StepError::new(
                STEP,
                "the terminal's modes differ from the saved ones after tcsetattr",
            ));
        }
        Ok((
            true,
            format!(
                "the terminal on stdout: foreground group {pg} (as before the run) and its \
                 modes restored; tcgetpgrp and tcgetattr read back"
            ),
        ))
    }
}
