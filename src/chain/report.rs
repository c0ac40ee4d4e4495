//! The report pipe: how the sandboxed child tells the supervisor, step by step, what
//! it applied and verified, and which step failed.
//!
//! One line per record, fields separated by tabs:
//! - `ok <step> <verified 0|1> <detail>`: a step was applied (and checked);
//! - `err <step> <errno|-> <detail>`: a step failed; nothing will be executed;
//! - `execfail <errno> <program>`: every control was in place but execve failed.
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

use crate::error::StepError;
use std::cell::RefCell;
use std::os::fd::{AsRawFd, OwnedFd};

/// One record as the supervisor decodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Ok {
        step: String,
        verified: bool,
        detail: String,
    },
    Err(StepError),
    ExecFailed {
        errno: i32,
        program: String,
    },
}

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\t' || c == '\n' { ' ' } else { c })
        .collect()
}

impl Record {
    pub fn encode(&self) -> String {
        match self {
            Record::Ok {
                step,
                verified,
                detail,
            } => format!(
                "ok\t{}\t{}\t{}\n",
                clean(step),
                u8::from(*verified),
                clean(detail)
            ),
            Record::Err(e) => format!(
                "err\t{}\t{}\t{}\n",
                clean(&e.step),
                e.errno.map_or("-".to_string(), |n| n.to_string()),
                clean(&e.detail)
            ),
            Record::ExecFailed { errno, program } => {
                format!("execfail\t{}\t{}\n", errno, clean(program))
            }
        }
    }

    pub fn decode(line: &str) -> Option<Record> {
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        match f.as_slice() {
            ["ok", step, v, detail] => Some(Record::Ok {
                step: step.to_string(),
                verified: *v == "1",
                detail: detail.to_string(),
            }),
            ["err", step, errno, detail] => Some(Record::Err(StepError {
                step: step.to_string(),
                detail: detail.to_string(),
                errno: errno.parse().ok(),
            })),
            ["execfail", errno, program] => Some(Record::ExecFailed {
                errno: errno.parse().unwrap_or(0),
                program: program.to_string(),
            }),
            _ => None,
        }
    }
}

/// The child's end of the report pipe.
#[derive(Debug)]
pub struct Reporter {
    fd: OwnedFd,
    /// Records not written yet.
    pending: RefCell<Vec<u8>>,
}

impl Reporter {
    pub fn new(fd: OwnedFd) -> Reporter {
        Reporter {
            fd,
            pending: RefCell::new(Vec::with_capacity(4096)),
        }
    }

    fn send(&self, r: &Record) {
        self.pending
            .borrow_mut()
            .extend_from_slice(r.encode().as_bytes());
    }

    /// Write the records collected so far; allocates nothing unless it fails.
    pub fn flush(&self) -> Result<(), StepError> {
        let mut p = self.pending.borrow_mut();
        let r = self.write(&p);
        p.clear();
        r
    }

    /// Write the records collected so far, then an already encoded record;
    /// allocates nothing unless it fails.
    pub fn send_encoded(&self, line: &str) -> Result<(), StepError> {
        self.flush()?;
        self.write(line.as_bytes())
    }

    fn write(&self, bytes: &[u8]) -> Result<(), StepError> {
        let mut off = 0;
        while off < bytes.len() {
            // SAFETY: writing from a live buffer to a descriptor we own.
            let n = unsafe {
                libc::write(
                    self.fd.as_raw_fd(),
                    bytes[off..].as_ptr().cast(),
                    bytes.len() - off,
                )
            };
            if n < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                // The supervisor is gone or the pipe broke: the record is lost,
                // and nothing may run without it.
                return Err(StepError::last_os(
                    "report.write",
                    format!("{} bytes of records to the supervisor", bytes.len() - off),
                ));
            }
            if n == 0 {
                return Err(StepError::new(
                    "report.write",
                    "the report pipe took no bytes",
                ));
            }
            off += n as usize;
        }
        Ok(())
    }

    /// A step was applied; `verified` says whether it was read back from the kernel.
    /// Collected only: written with the next record that is written at once.
    pub fn ok(&self, step: &str, verified: bool, detail: impl AsRef<str>) {
        self.send(&Record::Ok {
            step: step.into(),
            verified,
            detail: detail.as_ref().into(),
        });
    }

    /// A step failed: written at once, with every record before it.
    pub fn err(&self, e: &StepError) -> Result<(), StepError> {
        self.send(&Record::Err(e.clone()));
        self.flush()
    }

    /// Written at once, with every record before it.
    pub fn exec_failed(&self, errno: i32, program: &str) -> Result<(), StepError> {
        self.send(&Record::ExecFailed {
            errno,
            program: program.into(),
        });
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let recs = [
            Record::Ok {
                step: "mount.private".into(),
                verified: true,
                detail: "MS_REC|MS_PRIVATE on /".into(),
            },
            Record::Err(StepError::sys("mount.bind", "/usr\tx", libc::ENOENT)),
            Record::Err(StepError::new("credentials.verify", "uid 0")),
            Record::ExecFailed {
                errno: libc::ENOENT,
                program: "/box/a.out".into(),
            },
        ];
        for r in recs {
            let line = r.encode();
            let back = Record::decode(line.trim_end_matches('\n')).unwrap();
            match (&r, &back) {
                (Record::Err(a), Record::Err(b)) => {
                    assert_eq!(a.step, b.step);
                    assert_eq!(a.errno, b.errno);
                    assert_eq!(a.detail.replace('\t', " "), b.detail);
                }
                _ => assert_eq!(r, back),
            }
        }
        assert_eq!(Record::decode("garbage"), None);
    }

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
