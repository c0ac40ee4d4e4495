//! What the processes of a run tell each other: one set of messages, one
//! encoding, one sender, one reader.
//!
//! Three pipes, each one way, each created by the supervisor before the clone:
//! ```text
//! report  payload (chain::Reporter) and proxy ──▶ supervisor   Ok, Err, ExecFailed
//! status  proxy ──▶ supervisor                                 Status
//! go      supervisor ──▶ proxy                                 Go
//! ```
//! One message per line, fields separated by tabs (a tab or newline inside a
//! field becomes a space), the first field naming the kind:
//! - `ok <step> <verified 0|1> <detail>`: a step was applied (and checked);
//! - `err <step> <errno|-> <detail>`: a step failed; nothing will be executed;
//! - `execfail <errno> <program>`: every control was in place but execve failed;
//! - `status <wait status> <utime µs> <stime µs> <maxrss KiB> <nvcsw> <nivcsw> <tasks|->`:
//!   the payload ended;
//! - `go`: the supervisor checked the box from outside; the proxy may start the
//!   payload.
//!
//! A line that decodes to none of these is garbled; each reader says what that
//! costs (an internal error on the report and status pipes, no run on the go pipe).

use crate::sys::error::StepError;
use std::cell::RefCell;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// One message between the processes of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A step was applied; `verified`: read back from the kernel.
    Ok {
        step: String,
        verified: bool,
        detail: String,
    },
    /// A step failed; nothing of the program will run.
    Err(StepError),
    /// Every control was in place, but execve failed.
    ExecFailed { errno: i32, program: String },
    /// The payload ended: what the proxy's wait4 said about it.
    Status(PayloadStatus),
    /// The supervisor's go: the proxy starts the payload.
    Go,
}

/// What the proxy reports about the payload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PayloadStatus {
    pub wait_status: i32,
    pub utime_us: u64,
    pub stime_us: u64,
    pub maxrss_kb: u64,
    pub nvcsw: u64,
    pub nivcsw: u64,
    /// Tasks (processes and threads) created in the box, the payload included,
    /// the proxy not: the box pid namespace's last pid minus one. None when the
    /// proxy could not read it.
    pub tasks: Option<u64>,
}

fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\t' || c == '\n' { ' ' } else { c })
        .collect()
}

/// A number, or `-` for none.
fn or_dash(n: Option<impl ToString>) -> String {
    n.map_or("-".to_string(), |n| n.to_string())
}

impl Message {
    /// A step applied, as the chain and the proxy report it.
    pub fn ok(step: &str, verified: bool, detail: impl Into<String>) -> Message {
        Message::Ok {
            step: step.into(),
            verified,
            detail: detail.into(),
        }
    }

    /// The message as one line, newline included.
    pub fn encode(&self) -> String {
        match self {
            Message::Ok {
                step,
                verified,
                detail,
            } => format!(
                "ok\t{}\t{}\t{}\n",
                clean(step),
                u8::from(*verified),
                clean(detail)
            ),
            Message::Err(e) => format!(
                "err\t{}\t{}\t{}\n",
                clean(&e.step),
                or_dash(e.errno),
                clean(&e.detail)
            ),
            Message::ExecFailed { errno, program } => {
                format!("execfail\t{}\t{}\n", errno, clean(program))
            }
            Message::Status(s) => format!(
                "status\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                s.wait_status,
                s.utime_us,
                s.stime_us,
                s.maxrss_kb,
                s.nvcsw,
                s.nivcsw,
                or_dash(s.tasks)
            ),
            Message::Go => "go\n".into(),
        }
    }

    /// One line (without its newline) back into a message; None if it is garbled.
    pub fn decode(line: &str) -> Option<Message> {
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        match f.as_slice() {
            ["ok", step, v, detail] => Some(Message::ok(step, *v == "1", *detail)),
            ["err", step, errno, detail] => Some(Message::Err(StepError {
                step: step.to_string(),
                detail: detail.to_string(),
                errno: errno.parse().ok(),
            })),
            ["execfail", errno, program] => Some(Message::ExecFailed {
                errno: errno.parse().unwrap_or(0),
                program: program.to_string(),
            }),
            ["status", ..] => decode_status(line).map(Message::Status),
            ["go"] => Some(Message::Go),
            _ => None,
        }
    }
}

/// A `status` line: every field a number (tasks `-` for none), seven of them.
fn decode_status(line: &str) -> Option<PayloadStatus> {
    let f: Vec<&str> = line.split('\t').skip(1).collect();
    let [ws, utime, stime, maxrss, nvcsw, nivcsw, tasks] = f.as_slice() else {
        return None;
    };
    Some(PayloadStatus {
        wait_status: ws.parse().ok()?,
        utime_us: utime.parse().ok()?,
        stime_us: stime.parse().ok()?,
        maxrss_kb: maxrss.parse().ok()?,
        nvcsw: nvcsw.parse().ok()?,
        nivcsw: nivcsw.parse().ok()?,
        tasks: match *tasks {
            "-" => None,
            n => Some(n.parse().ok()?),
        },
    })
}

/// Write all of `buf` to `fd`; a short or failed write is an error of `step`.
/// Every message goes out through here.
pub fn write_all(fd: RawFd, buf: &[u8], step: &str) -> Result<(), StepError> {
    let mut off = 0;
    while off < buf.len() {
        // SAFETY: write(2) only reads `buf[off..]`, a live slice of the length
        // given; a descriptor that is not open or not writable is an error return.
        let n = unsafe { libc::write(fd, buf[off..].as_ptr().cast(), buf.len() - off) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(StepError::last_os(
                step,
                format!("write of {} bytes", buf.len()),
            ));
        }
        if n == 0 {
            return Err(StepError::new(step, "the pipe took no bytes"));
        }
        off += n as usize;
    }
    Ok(())
}

/// The writing end of one pipe. Messages can be queued and go out together with
/// the next one sent: each write wakes the supervisor, which watches at real-time
/// priority and so preempts the box on every wake-up.
#[derive(Debug)]
pub struct Sender {
    fd: OwnedFd,
    /// The step a failed write is an error of.
    step: &'static str,
    /// Encoded messages not written yet.
    pending: RefCell<Vec<u8>>,
}

impl AsRawFd for Sender {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Sender {
    pub fn new(fd: OwnedFd, step: &'static str) -> Sender {
        Sender {
            fd,
            step,
            pending: RefCell::new(Vec::with_capacity(4096)),
        }
    }

    /// Collected only: written with the next message that is sent.
    pub fn queue(&self, m: &Message) {
        self.pending
            .borrow_mut()
            .extend_from_slice(m.encode().as_bytes());
    }

    /// Written at once, with every message queued before it.
    pub fn send(&self, m: &Message) -> Result<(), StepError> {
        self.queue(m);
        self.flush()
    }

    /// Write the messages queued so far; allocates nothing unless it fails.
    pub fn flush(&self) -> Result<(), StepError> {
        let mut p = self.pending.borrow_mut();
        let r = write_all(self.fd.as_raw_fd(), &p, self.step);
        p.clear();
        r
    }

    /// The messages queued so far, then an already encoded one; allocates
    /// nothing unless it fails.
    pub fn send_encoded(&self, line: &str) -> Result<(), StepError> {
        self.flush()?;
        write_all(self.fd.as_raw_fd(), line.as_bytes(), self.step)
    }

    /// The descriptor, for a sender of another step (nothing queued is kept).
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

/// The reading end of one pipe, and what was read of it but not taken yet.
#[derive(Debug)]
pub struct Reader {
    pipe: std::fs::File,
    buf: Vec<u8>,
    /// End-of-file was read.
    eof: bool,
    /// Nothing more will be read (`end`): a cut last line is a line.
    ended: bool,
}

/// One line as it came, and what it decodes to (None: garbled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub message: Option<Message>,
}

impl Reader {
    pub fn new(fd: OwnedFd) -> Reader {
        Reader {
            pipe: std::fs::File::from(fd),
            buf: Vec::new(),
            eof: false,
            ended: false,
        }
    }

    pub fn raw_fd(&self) -> RawFd {
        self.pipe.as_raw_fd()
    }

    /// End-of-file was read.
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    /// Read what a non-blocking pipe holds now; Ok(true) at end-of-file. A read
    /// error (other than "nothing yet") is an error: messages may be lost.
    pub fn fill(&mut self) -> Result<bool, StepError> {
        loop {
            match self.read_some() {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(StepError::io("supervisor.pipe", "read from the box", &e)),
            }
        }
    }

    /// Block until one whole message has arrived (a blocking pipe); None at
    /// end-of-file, on a read error or for a garbled line.
    pub fn wait(&mut self) -> Option<Message> {
        loop {
            if let Some(line) = self.next_line() {
                return line.message;
            }
            if self.eof {
                return None;
            }
            match self.read_some() {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    }

    /// Nothing more will be read: what is left, a cut last line too, is read as
    /// it is.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// The next whole line read, decoded; after `end`, the cut rest too.
    pub fn next_line(&mut self) -> Option<Line> {
        let bytes: Vec<u8> = match self.buf.iter().position(|&c| c == b'\n') {
            Some(i) => {
                let mut l: Vec<u8> = self.buf.drain(..=i).collect();
                l.pop();
                l
            }
            None if self.ended && !self.buf.is_empty() => std::mem::take(&mut self.buf),
            None => return None,
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let message = Message::decode(&text);
        Some(Line { text, message })
    }

    /// One read(2) into the buffer; Ok(true) at end-of-file.
    fn read_some(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 4096];
        let n = self.pipe.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        if n == 0 {
            self.eof = true;
        }
        Ok(n == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe() -> (OwnedFd, OwnedFd) {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
    }

    /// The next line's message (Some(None): a garbled line).
    fn message(rd: &mut Reader) -> Option<Option<Message>> {
        rd.next_line().map(|l| l.message)
    }

    fn status() -> PayloadStatus {
        PayloadStatus {
            wait_status: 256,
            utime_us: 5,
            stime_us: 6,
            maxrss_kb: 7,
            nvcsw: 8,
            nivcsw: 9,
            tasks: Some(3),
        }
    }

    #[test]
    fn round_trip() {
        let msgs = [
            Message::Ok {
                step: "mount.private".into(),
                verified: true,
                detail: "MS_REC|MS_PRIVATE on /".into(),
            },
            Message::Err(StepError::sys("mount.bind", "/usr\tx", libc::ENOENT)),
            Message::Err(StepError::new("credentials.verify", "uid 0")),
            Message::ExecFailed {
                errno: libc::ENOENT,
                program: "/box/a.out".into(),
            },
            Message::Status(status()),
            Message::Go,
        ];
        for m in msgs {
            let line = m.encode();
            assert_eq!(line.matches('\n').count(), 1, "{line:?}");
            let back = Message::decode(line.trim_end_matches('\n')).unwrap();
            match (&m, &back) {
                (Message::Err(a), Message::Err(b)) => {
                    assert_eq!(a.step, b.step);
                    assert_eq!(a.errno, b.errno);
                    assert_eq!(a.detail.replace('\t', " "), b.detail);
                }
                _ => assert_eq!(m, back),
            }
        }
        assert_eq!(Message::decode("garbage"), None);
    }

    #[test]
    fn status_round_trip() {
        let s = status();
        let decode = |m: &Message| Message::decode(m.encode().trim_end_matches('\n'));
        assert_eq!(decode(&Message::Status(s)), Some(Message::Status(s)));
        let unknown = PayloadStatus { tasks: None, ..s };
        assert_eq!(
            decode(&Message::Status(unknown)),
            Some(Message::Status(unknown))
        );
        assert_eq!(Message::decode("status\t1\t2"), None);
    }

    /// Cut, padded, misspelled or non-numeric lines decode to nothing: none is
    /// taken for a message it is not. (A cut `ok` or `err` detail is still a
    /// detail: those lines end in free text.)
    #[test]
    fn garbled_lines_are_no_messages() {
        let full = Message::Status(status()).encode();
        let full = full.trim_end_matches('\n');
        for cut in 0..full.len() {
            assert_eq!(Message::decode(&full[..cut]), None, "{:?}", &full[..cut]);
        }
        for bad in [
            "",
            "\t",
            "ok",
            "ok\tstep",
            "ok\tstep\t1",
            "err\tstep\t1",
            "execfail",
            "go\t",
            "gо",
            "Go",
            "status\t256\t5\t6\t7\t8\t9\t3\t4",
            "status\t256\t5\t6\t7\t8\t9\t",
            "status\t256\t5\t-6\t7\t8\t9\t3",
            "status\tx\t5\t6\t7\t8\t9\t3",
            "status 256 5 6 7 8 9 3",
            "256 5 6 7 8 9 3",
            "\u{fffd}\u{fffd}",
        ] {
            assert_eq!(Message::decode(bad), None, "{bad:?}");
        }
    }

    /// A message that cannot be written is an error of the sender's step, and a
    /// read error of the supervisor is an error, not end-of-file.
    #[test]
    fn pipe_errors_are_errors() {
        let (r, w) = pipe();
        drop(r);
        let e = write_all(w.as_raw_fd(), b"x", "proxy.status").unwrap_err();
        assert_eq!(
            (e.step.as_str(), e.errno),
            ("proxy.status", Some(libc::EPIPE))
        );
        let e = Sender::new(w, "supervisor.go")
            .send(&Message::Go)
            .unwrap_err();
        assert_eq!(
            (e.step.as_str(), e.errno),
            ("supervisor.go", Some(libc::EPIPE))
        );
        // A write-only descriptor cannot be read: EBADF.
        let (_r, w) = pipe();
        let e = Reader::new(w).fill().unwrap_err();
        assert_eq!(e.errno, Some(libc::EBADF));
    }

    /// The reader hands out whole lines in order, keeps a cut one until more
    /// arrives or the pipe ends, and names a garbled one.
    #[test]
    fn the_reader_takes_lines_as_they_come() {
        let (r, w) = pipe();
        nix::fcntl::fcntl(
            r.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let mut rd = Reader::new(r);
        write_all(w.as_raw_fd(), b"go\nok\ta\t1\tx\nsta", "t").unwrap();
        assert!(!rd.fill().unwrap());
        assert_eq!(message(&mut rd), Some(Some(Message::Go)));
        assert_eq!(message(&mut rd), Some(Some(Message::ok("a", true, "x"))));
        assert_eq!(rd.next_line(), None);
        write_all(w.as_raw_fd(), b"tus\t0\t0\t0\t0\t0\t0\t-\n\xffgarbled", "t").unwrap();
        drop(w);
        assert!(rd.fill().unwrap());
        assert!(rd.at_eof());
        let s = PayloadStatus::default();
        assert_eq!(message(&mut rd), Some(Some(Message::Status(s))));
        // A cut line is no line until the reader is told nothing more comes.
        assert_eq!(rd.next_line(), None);
        rd.end();
        let garbled = rd.next_line().unwrap();
        assert_eq!(
            (garbled.text.as_str(), garbled.message),
            ("\u{fffd}garbled", None)
        );
        assert_eq!(rd.next_line(), None);
    }

    /// The proxy's wait for the go: a message, or nothing at end-of-file.
    #[test]
    fn waiting_for_one_message() {
        let (r, w) = pipe();
        let s = Sender::new(w, "t");
        s.send(&Message::Go).unwrap();
        drop(s);
        let mut rd = Reader::new(r);
        assert_eq!(rd.wait(), Some(Message::Go));
        assert_eq!(rd.wait(), None);
        // A cut go and then the end: no go.
        let (r, w) = pipe();
        write_all(w.as_raw_fd(), b"g", "t").unwrap();
        drop(w);
        assert_eq!(Reader::new(r).wait(), None);
    }

    /// Queued messages wait for the next one sent, and go out in one write.
    #[test]
    fn queued_messages_go_out_with_the_next() {
        let (r, w) = pipe();
        nix::fcntl::fcntl(
            r.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let s = Sender::new(w, "t");
        let mut rd = Reader::new(r);
        s.queue(&Message::ok("a", false, ""));
        assert!(!rd.fill().unwrap());
        assert_eq!(rd.next_line(), None);
        s.send(&Message::Err(StepError::new("b", "c"))).unwrap();
        assert!(!rd.fill().unwrap());
        assert_eq!(message(&mut rd), Some(Some(Message::ok("a", false, ""))));
        assert_eq!(
            message(&mut rd),
            Some(Some(Message::Err(StepError::new("b", "c"))))
        );
    }
}
