//! A caller at a terminal, for the `--tty-hack` tests: a new pseudo-terminal, and
//! `sh` as the leader of a new session whose controlling terminal it is, the
//! terminal's foreground group, running rustbox the way a shell script does (in
//! the shell's own process group). The test holds the master side: it reads what
//! the terminal shows, types, and asks the terminal for its foreground group and
//! modes (on a pseudo-terminal's master these calls answer for the slave, from
//! outside its session).
//!
//! The shell prints `rustbox-exit=N` when rustbox has ended, then waits for a
//! line before it exits itself: the session, and so the terminal's foreground
//! group, outlive rustbox for as long as the test needs to look.

use std::ffi::{CStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the session leader runs: `sh -c SCRIPT RUSTBOX ARGS...`.
pub const SCRIPT: &str = "\"$0\" \"$@\"; echo \"rustbox-exit=$?\"; read x";

/// What the shell prints before rustbox's exit status.
const EXIT_MARK: &str = "rustbox-exit=";

/// How long any wait for the terminal's output lasts before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

fn check(rc: libc::c_int, what: &str) {
    if rc < 0 {
        panic!("{what}: {}", std::io::Error::last_os_error());
    }
}

/// A new pseudo-terminal: (master, slave), both close-on-exec.
pub fn open_pty() -> (File, File) {
    // SAFETY: posix_openpt with constant flags; the result is checked.
    let m = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    check(m, "posix_openpt");
    // SAFETY: a descriptor posix_openpt just returned, owned by nobody else.
    let master = unsafe { OwnedFd::from_raw_fd(m) };
    // SAFETY: grantpt and unlockpt on the master we own.
    check(unsafe { libc::grantpt(m) }, "grantpt");
    // SAFETY: as above.
    check(unsafe { libc::unlockpt(m) }, "unlockpt");
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: ptsname_r writes at most name.len() bytes into our buffer.
    let rc = unsafe { libc::ptsname_r(m, name.as_mut_ptr(), name.len()) };
    assert_eq!(
        rc,
        0,
        "ptsname_r: {}",
        std::io::Error::from_raw_os_error(rc)
    );
    // SAFETY: ptsname_r stored a NUL-terminated name.
    let path = unsafe { CStr::from_ptr(name.as_ptr()) };
    // SAFETY: open of the slave's path; the result is checked.
    let s = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    check(s, &format!("open {}", path.to_string_lossy()));
    // SAFETY: a descriptor open just returned, owned by nobody else.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    (File::from(master), File::from(slave))
}

/// The arguments of `sh` that run `rustbox ARGS` under [`SCRIPT`].
pub fn shell_args(rustbox: &std::path::Path, args: &[String]) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec!["-c".into(), SCRIPT.into(), rustbox.into()];
    v.extend(args.iter().map(OsString::from));
    v
}

/// A session on a pseudo-terminal, led by the command the test gave.
pub struct Terminal {
    master: File,
    leader: Option<Child>,
    /// Everything the terminal showed so far, carriage returns removed.
    pub seen: String,
}

impl Terminal {
    /// Start `cmd` (which must end up executing `sh` with [`shell_args`]) as the
    /// leader of a new session, with the new terminal as its controlling terminal
    /// and as its stdin, stdout and stderr.
    pub fn start(mut cmd: Command) -> Terminal {
        let (master, slave) = open_pty();
        let io = |f: &File| Stdio::from(f.try_clone().expect("dup the slave"));
        cmd.stdin(io(&slave)).stdout(io(&slave)).stderr(io(&slave));
        // SAFETY: setsid and ioctl are async-signal-safe system calls; nothing
        // else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let leader = cmd.spawn().expect("start the session leader");
        drop(slave);
        Terminal {
            master,
            leader: Some(leader),
            seen: String::new(),
        }
    }

    /// The session leader's pid: its process group is the caller's.
    pub fn leader_pid(&self) -> libc::pid_t {
        self.leader.as_ref().map_or(0, |c| c.id() as libc::pid_t)
    }

    /// Read what the terminal shows until `done` holds of it; panics with the
    /// transcript after [`PATIENCE`].
    fn read_until(&mut self, what: &str, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "the terminal never showed {what} within {PATIENCE:?}; it showed:\n{}",
                    self.seen
                );
            }
            let mut p = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one pollfd we own.
            let n = unsafe { libc::poll(&mut p, 1, left.as_millis().min(1000) as i32) };
            if n <= 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            match self.master.read(&mut buf) {
                Ok(0) => panic!("the terminal closed before {what}:\n{}", self.seen),
                Ok(k) => self
                    .seen
                    .push_str(&String::from_utf8_lossy(&buf[..k]).replace('\r', "")),
                Err(e) => panic!("read the terminal ({e}) before {what}:\n{}", self.seen),
            }
        }
    }

    /// Read what the terminal shows until it contains `needle`; fails at once if
    /// rustbox ends first.
    pub fn wait_for(&mut self, needle: &str) {
        self.read_until(&format!("{needle:?}"), |s| {
            s.contains(needle) || s.contains(EXIT_MARK)
        });
        if !self.seen.contains(needle) {
            panic!(
                "rustbox ended before the terminal showed {needle:?}:\n{}",
                self.seen
            );
        }
    }

    /// rustbox's exit status, once the shell has printed it.
    pub fn rustbox_exit(&mut self) -> i32 {
        let line = |s: &str| -> Option<String> {
            let (_, after) = s.split_once(EXIT_MARK)?;
            after.split_once('\n').map(|(n, _)| n.trim().to_string())
        };
        self.read_until("rustbox's exit status", |s| line(s).is_some());
        let n = line(&self.seen).unwrap_or_default();
        n.parse()
            .unwrap_or_else(|_| panic!("exit status {n:?} is not a number:\n{}", self.seen))
    }

    /// Type `text` at the terminal.
    pub fn type_text(&mut self, text: &str) {
        self.master
            .write_all(text.as_bytes())
            .expect("write to the terminal");
    }

    /// The terminal's foreground process group (a pid in the test's namespace).
    pub fn foreground(&self) -> libc::pid_t {
        // SAFETY: TIOCGPGRP on the master we own, into a local.
        let pg = unsafe { libc::tcgetpgrp(self.master.as_raw_fd()) };
        check(pg, "tcgetpgrp on the master");
        pg
    }

    /// Whether the terminal echoes what is typed (its modes, read on the master).
    pub fn echoes(&self) -> bool {
        // SAFETY: an all-zero termios is a valid buffer to fill.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr on the master we own, into our buffer.
        check(
            unsafe { libc::tcgetattr(self.master.as_raw_fd(), &mut t) },
            "tcgetattr on the master",
        );
        t.c_lflag & libc::ECHO != 0
    }

    /// The terminal is the caller's again: its foreground group is the shell's (the
    /// group rustbox was started in) and it echoes again; `context` goes with a
    /// failure.
    pub fn assert_is_the_callers(&self, context: impl std::fmt::Display) {
        assert_eq!(
            self.foreground(),
            self.leader_pid(),
            "the terminal's foreground group is not the caller's after the run:\n{context}"
        );
        assert!(
            self.echoes(),
            "the terminal's modes were not restored:\n{context}"
        );
    }

    /// Let the shell exit (a line for its `read`), wait for it, and return the
    /// transcript.
    pub fn finish(mut self) -> String {
        self.type_text("\n");
        let mut leader = self.leader.take().expect("leader");
        if super::wait_or_kill(&mut leader, PATIENCE).is_none() {
            panic!("the session leader did not exit:\n{}", self.seen);
        }
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // A test that failed midway: end the session leader (the terminal then
        // hangs up, and rustbox ends on its SIGHUP).
        if let Some(mut c) = self.leader.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
