//! The per-box lock: a file under the lock root, flock()ed while a command works
//! on the box, holding who initialised it (`BoxState`).

use super::{ensure_private_dir, BoxPaths};
use crate::request::config::Config;
use crate::sys::error::StepError;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

/// What the lock file records about a box.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoxState {
    pub initialized: bool,
    /// Whom the box was initialised for: /box is theirs between runs, and only
    /// they (or root) may use the box.
    pub owner: u32,
    pub owner_gid: u32,
    /// Made by `--exec` for one run: any `--exec` that finds it unlocked
    /// (its maker is gone: a live one holds the lock throughout) may clean it
    /// up and take it.
    pub oneshot: bool,
}

impl BoxState {
    pub(super) fn parse(s: &str) -> BoxState {
        let mut st = BoxState::default();
        let mut gid = None;
        for line in s.lines() {
            match line.split_once('=') {
                Some(("initialized", v)) => st.initialized = v == "1",
                Some(("owner", v)) => st.owner = v.parse().unwrap_or(0),
                Some(("owner_gid", v)) => gid = v.parse().ok(),
                Some(("oneshot", v)) => st.oneshot = v == "1",
                _ => {}
            }
        }
        // Lock files of earlier versions carry no group: the owner's uid stands in.
        st.owner_gid = gid.unwrap_or(st.owner);
        st
    }
    /// The owner to check a caller against: only an initialised box has one.
    pub fn owner(&self) -> Option<u32> {
        self.initialized.then_some(self.owner)
    }
    fn render(&self) -> String {
        format!(
            "initialized={}\nowner={}\nowner_gid={}\n{}",
            u8::from(self.initialized),
            self.owner,
            self.owner_gid,
            if self.oneshot { "oneshot=1\n" } else { "" }
        )
    }
}

/// The box's recorded state read without taking its lock: lets a caller who may
/// not use the box be turned away before they hold the box's lock even briefly
/// (the decision is made again under the lock).
pub fn peek_state(paths: &BoxPaths) -> BoxState {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&paths.lock_file);
    let mut s = String::new();
    match f.and_then(|mut f| f.read_to_string(&mut s)) {
        Ok(_) => BoxState::parse(&s),
        Err(_) => BoxState::default(),
    }
}

/// The per-box lock, held for as long as this value lives.
#[derive(Debug)]
pub struct BoxLock {
    file: File,
    pub state: BoxState,
    path: PathBuf,
}

impl BoxLock {
    /// Take the box's lock. Without `wait`, a busy box is an error. Only `--init`
    /// creates the lock file (`create`); otherwise a missing one means the box was
    /// never initialised, and `Ok(None)` is returned.
    pub fn acquire(
        cfg: &Config,
        paths: &BoxPaths,
        wait: bool,
        create: bool,
    ) -> Result<Option<BoxLock>, StepError> {
        match Self::take(cfg, paths, wait, create)? {
            Got::Locked(l) => Ok(Some(l)),
            Got::Absent => Ok(None),
            Got::Busy => Err(StepError::new(
                "lock",
                format!(
                    "box {} is busy (another rustbox is using it; --wait waits)",
                    paths.id
                ),
            )),
        }
    }

    fn take(cfg: &Config, paths: &BoxPaths, wait: bool, create: bool) -> Result<Got, StepError> {
        ensure_private_dir(&cfg.lock_root, 0o700, "lock")?;
        loop {
            let file = match OpenOptions::new()
                .read(true)
                .write(true)
                .create(create)
                .truncate(false)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&paths.lock_file)
            {
                Ok(f) => f,
                Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(Got::Absent)
                }
                Err(e) => {
                    return Err(StepError::io(
                        "lock",
                        paths.lock_file.display().to_string(),
                        &e,
                    ))
                }
            };
            match flock_ex(&file, wait) {
                Ok(true) => {}
                Ok(false) => return Ok(Got::Busy),
                Err(errno) => {
                    return Err(StepError::nix(
                        "lock",
                        paths.lock_file.display().to_string(),
                        errno,
                    ))
                }
            }
            // A cleanup may have removed the file between our open and our flock:
            // the lock is only ours if the path still names the file we locked.
            let locked = file
                .metadata()
                .map_err(|e| StepError::io("lock", paths.lock_file.display().to_string(), &e))?;
            match std::fs::symlink_metadata(&paths.lock_file) {
                Ok(m) if m.ino() == locked.ino() && m.dev() == locked.dev() => {}
                _ => continue,
            }
            let mut lock = BoxLock {
                file,
                state: BoxState::default(),
                path: paths.lock_file.clone(),
            };
            let mut s = String::new();
            lock.file
                .read_to_string(&mut s)
                .map_err(|e| StepError::io("lock", lock.path.display().to_string(), &e))?;
            lock.state = BoxState::parse(&s);
            return Ok(Got::Locked(lock));
        }
    }

    /// The lock of box `paths` if nobody holds it now (the lock file made if
    /// need be); None if another rustbox does. For `--exec`, which takes the
    /// first free box.
    pub fn try_acquire(cfg: &Config, paths: &BoxPaths) -> Result<Option<BoxLock>, StepError> {
        Ok(match Self::take(cfg, paths, false, true)? {
            Got::Locked(l) => Some(l),
            Got::Absent | Got::Busy => None,
        })
    }

    /// Record the box state in the lock file.
    pub fn save(&mut self, state: BoxState) -> Result<(), StepError> {
        let err = |e: std::io::Error| StepError::io("lock", self.path.display().to_string(), &e);
        self.file.set_len(0).map_err(err)?;
        self.file.seek(SeekFrom::Start(0)).map_err(err)?;
        self.file
            .write_all(state.render().as_bytes())
            .map_err(err)?;
        self.state = state;
        Ok(())
    }

    /// Whether the lock file's path still names the file this lock holds: once
    /// it is removed (a refused --init, a cleanup) another rustbox may make a
    /// new one there, and its box is not ours to touch.
    pub fn still_ours(&self) -> Result<bool, StepError> {
        let held = self
            .file
            .metadata()
            .map_err(|e| StepError::io("lock", self.path.display().to_string(), &e))?;
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) => Ok(m.ino() == held.ino() && m.dev() == held.dev()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StepError::io("lock", self.path.display().to_string(), &e)),
        }
    }

    /// Remove the lock file (at cleanup), still holding the lock until drop.
    pub fn remove(&self) -> Result<(), StepError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StepError::io("lock", self.path.display().to_string(), &e)),
        }
    }
}

/// What taking a box's lock found.
enum Got {
    Locked(BoxLock),
    /// No lock file, and none was to be made.
    Absent,
    /// Another rustbox holds it, and we may not wait.
    Busy,
}

/// An exclusive flock on `file`, waiting for it with `wait`: Ok(false) if it is
/// held elsewhere and we may not wait. EINTR is retried.
fn flock_ex(file: &File, wait: bool) -> Result<bool, nix::errno::Errno> {
    let op = if wait {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(true);
        }
        match nix::errno::Errno::last() {
            nix::errno::Errno::EINTR => continue,
            nix::errno::Errno::EWOULDBLOCK => return Ok(false),
            e => return Err(e),
        }
    }
}

/// An exclusive lock on the lock root itself, held while a caller other than root
/// counts their boxes and takes a new one, so two `--init`s at once cannot both
/// pass the count.
pub(super) fn lock_root_lock(cfg: &Config) -> Result<File, StepError> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&cfg.lock_root)
        .map_err(|e| StepError::io("lock", cfg.lock_root.display().to_string(), &e))?;
    match flock_ex(&f, true) {
        Ok(_) => Ok(f),
        Err(errno) => Err(StepError::nix(
            "lock",
            cfg.lock_root.display().to_string(),
            errno,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trip() {
        let s = BoxState {
            initialized: true,
            owner: 1234,
            owner_gid: 99,
            oneshot: false,
        };
        assert_eq!(BoxState::parse(&s.render()), s);
        assert!(
            !s.render().contains("oneshot"),
            "an --init box's lock file is as before"
        );
        let one = BoxState { oneshot: true, ..s };
        assert_eq!(BoxState::parse(&one.render()), one);
        let old = BoxState::parse("initialized=1\nowner=1234\n");
        assert_eq!(
            (old.owner, old.owner_gid, old.owner()),
            (1234, 1234, Some(1234))
        );
        assert_eq!(BoxState::parse("garbage"), BoxState::default());
    }
}
