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

use crate::error::StepError;
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
}

impl Reporter {
    pub fn new(fd: OwnedFd) -> Reporter {
        Reporter { fd }
    }

    fn send(&self, r: &Record) {
        self.send_encoded(&r.encode());
    }

    /// Write an already encoded record; allocates nothing.
    pub fn send_encoded(&self, line: &str) {
        let bytes = line.as_bytes();
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

    pub fn err(&self, e: &StepError) {
        self.send(&Record::Err(e.clone()));
    }

    pub fn exec_failed(&self, errno: i32, program: &str) {
        self.send(&Record::ExecFailed {
            errno,
            program: program.into(),
        });
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
