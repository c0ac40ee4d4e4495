//! The report pipe, the chain's half: how the sandboxed child tells the
//! supervisor, step by step, what it applied and verified, and which step failed.
//! The messages and their encoding are `crate::supervisor::messages`, whose `Reader` is the
//! supervisor's half.
//!
//! The write end is close-on-exec, so a successful execve closes it and the
//! supervisor reads end-of-file: that is the signal that the program is running
//! under every control listed.
//!
//! Records of the setup are collected and written together, at the first record
//! sent already encoded (the resource limits' and seccomp's, the last two before
//! execve) or with an error: each write wakes the supervisor, which watches at
//! real-time priority and so preempts the box on every wake-up; one per step made
//! some twenty switches per run.
//!
//! A record that cannot be written stops the chain: every write returns its error
//! (step `report.write`), the stages pass it on, and the program is never
//! executed. Otherwise the supervisor would see a program run under controls it
//! has no record of (an OK verdict with the controls missing from the JSON, or an
//! IE only after the program ran).

use crate::supervisor::messages::{Message, Sender};
use crate::sys::error::StepError;
use std::os::fd::OwnedFd;

/// The child's end of the report pipe.
#[derive(Debug)]
pub struct Reporter(Sender);

impl Reporter {
    pub fn new(fd: OwnedFd) -> Reporter {
        Reporter(Sender::new(fd, "report.write"))
    }

    /// Write the records collected so far; allocates nothing unless it fails.
    pub fn flush(&self) -> Result<(), StepError> {
        self.0.flush()
    }

    /// Write the records collected so far, then an already encoded record;
    /// allocates nothing unless it fails.
    pub fn send_encoded(&self, line: &str) -> Result<(), StepError> {
        self.0.send_encoded(line)
    }

    /// A step was applied; `verified` says whether it was read back from the kernel.
    /// Collected only: written with the next record that is written at once.
    pub fn ok(&self, step: &str, verified: bool, detail: impl AsRef<str>) {
        self.0.queue(&Message::ok(step, verified, detail.as_ref()));
    }

    /// A step failed: written at once, with every record before it.
    pub fn err(&self, e: &StepError) -> Result<(), StepError> {
        self.0.send(&Message::Err(e.clone()))
    }

    /// Written at once, with every record before it.
    pub fn exec_failed(&self, errno: i32, program: &str) -> Result<(), StepError> {
        self.0.send(&Message::ExecFailed {
            errno,
            program: program.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe() -> (OwnedFd, OwnedFd) {
        use std::os::fd::FromRawFd;
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two descriptors into our array.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both were just created and are owned by nobody else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    /// A record the supervisor cannot receive is an error of the step that sent
    /// it (the Rust test harness ignores SIGPIPE, as the supervisor does; in the
    /// box, where SIGPIPE is at its default, the write kills the payload first,
    /// which stops the chain too).
    #[test]
    fn lost_records_are_errors() {
        let (r, w) = pipe();
        drop(r);
        let rep = Reporter::new(w);
        rep.ok("mount.private", true, "x");
        let e = rep.flush().unwrap_err();
        assert_eq!(e.step, "report.write");
        assert_eq!(e.errno, Some(libc::EPIPE));
        let e = rep.send_encoded("ok\tseccomp\t1\tx\n").unwrap_err();
        assert_eq!(e.errno, Some(libc::EPIPE));
        let e = rep.err(&StepError::new("a", "b")).unwrap_err();
        assert_eq!(e.errno, Some(libc::EPIPE));
        let e = rep.exec_failed(libc::ENOENT, "/box/x").unwrap_err();
        assert_eq!(e.errno, Some(libc::EPIPE));
    }

    #[test]
    fn records_arrive_in_order_when_the_pipe_is_open() {
        let (r, w) = pipe();
        let rep = Reporter::new(w);
        rep.ok("a", true, "1");
        rep.ok("b", false, "2");
        rep.send_encoded("ok\tc\t1\t3\n").unwrap();
        drop(rep);
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(r), &mut s).unwrap();
        assert_eq!(s, "ok\ta\t1\t1\nok\tb\t0\t2\nok\tc\t1\t3\n");
    }

    /// A descriptor that cannot be written (EBADF) loses the record too.
    #[test]
    fn an_unwritable_descriptor_is_an_error() {
        let ro = std::fs::File::open("/dev/null").unwrap();
        let rep = Reporter::new(OwnedFd::from(ro));
        rep.ok("a", true, "1");
        assert_eq!(rep.flush().unwrap_err().errno, Some(libc::EBADF));
    }
}
