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

    /// Write the records collected so far; allocates nothing.
    pub fn flush(&self) {
        let mut p = self.pending.borrow_mut();
        self.write(&p);
        p.clear();
    }

    /// Write the records collected so far, then an already encoded record;
    /// allocates nothing.
    pub fn send_encoded(&self, line: &str) {
        self.flush();
        self.write(line.as_bytes());
    }

    fn write(&self, bytes: &[u8]) {
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
            if n <= 0 {
                if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return; // The supervisor is gone; PDEATHSIG will end us.
            }
            off += n as usize;
        }
    }

    /// A step was applied; `verified` says whether it was read back from the kernel.
    pub fn ok(&self, step: &str, verified: bool, detail: impl AsRef<str>) {
        self.send(&Record::Ok {
            step: step.into(),
            verified,
            detail: detail.as_ref().into(),
        });
    }

    /// A step failed: written at once, with every record before it.
    pub fn err(&self, e: &StepError) {
        self.send(&Record::Err(e.clone()));
        self.flush();
    }

    /// Written at once, with every record before it.
    pub fn exec_failed(&self, errno: i32, program: &str) {
        self.send(&Record::ExecFailed {
            errno,
            program: program.into(),
        });
        self.flush();
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
}
