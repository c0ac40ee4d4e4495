//! Boxes: ids, paths, the per-box lock, `--init` and `--cleanup`.
//!
//! Layout of box N (all created by rustbox, root-owned unless said otherwise):
//! ```text
//! <box_root>/N/   0700/0710  what --init prints (0710 with the owner's group for
//!                            a box of a user other than root); a limited tmpfs (boxfs.rs:
//!                            --quota or the configured box_quota), unless the
//!                            configuration keeps boxes on the host's disk
//! <box_root>/N/box/    0700  the workspace, /box inside; owned by the caller,
//!                            lent to the box uid for the length of a run
//! <box_root>/N/tmp/    0700  /tmp inside, kept across runs of the box; owned by
//!                            the box uid (on the host's disk: a tmpfs of its own)
//! <box_root>/N/root/   0755  mount point of the box's tmpfs root (only ever
//!                            mounted inside the box's private mount namespace)
//! <lock_root>/N              the lock file: flock()ed while a command works on
//!                            the box, holds who initialised it
//! ```

pub mod tmpfs;
pub mod trees;
pub mod walk;

use crate::caller::Caller;
use crate::error::StepError;
use crate::request::config::Config;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Host paths of one box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxPaths {
    pub id: u32,
    pub dir: PathBuf,
    pub workspace: PathBuf,
    pub tmp: PathBuf,
    pub root_mnt: PathBuf,
    pub lock_file: PathBuf,
}

impl BoxPaths {
    pub fn new(cfg: &Config, id: u32) -> BoxPaths {
        let dir = cfg.box_root.join(id.to_string());
        BoxPaths {
            id,
            workspace: dir.join("box"),
            tmp: dir.join("tmp"),
            root_mnt: dir.join("root"),
            lock_file: cfg.lock_root.join(id.to_string()),
            dir,
        }
    }
}

/// Check a box id against the configured range.
pub fn check_id(cfg: &Config, id: u32) -> Result<(), StepError> {
    if id >= cfg.num_boxes {
        return Err(StepError::new(
            "box",
            format!("box id {id} out of range (0..{})", cfg.num_boxes - 1),
        ));
    }
    Ok(())
}

/// What the lock file records about a box.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoxState {
    pub initialized: bool,
    /// Whom the box was initialised for: /box is theirs between runs, and only
    /// they (or root) may use the box.
    pub owner: u32,
    pub owner_gid: u32,
}

impl BoxState {
    fn parse(s: &str) -> BoxState {
        let mut st = BoxState::default();
        let mut gid = None;
        for line in s.lines() {
            match line.split_once('=') {
                Some(("initialized", v)) => st.initialized = v == "1",
                Some(("owner", v)) => st.owner = v.parse().unwrap_or(0),
                Some(("owner_gid", v)) => gid = v.parse().ok(),
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
            "initialized={}\nowner={}\nowner_gid={}\n",
            u8::from(self.initialized),
            self.owner,
            self.owner_gid
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
                Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
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
                Ok(false) => {
                    return Err(StepError::new(
                        "lock",
                        format!(
                            "box {} is busy (another rustbox is using it; --wait waits)",
                            paths.id
                        ),
                    ))
                }
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
            return Ok(Some(lock));
        }
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

    /// Remove the lock file (at cleanup), still holding the lock until drop.
    pub fn remove(&self) -> Result<(), StepError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StepError::io("lock", self.path.display().to_string(), &e)),
        }
    }
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

/// Check that `m` (of `dir`) is a real directory owned by root and not writable by
/// group or others: rustbox follows nothing below it as root, but a caller who
/// could rename entries there could swap a box for a tree of their own.
fn private_dir_ok(dir: &Path, m: &std::fs::Metadata, step: &str) -> Result<(), StepError> {
    if !m.is_dir() {
        return Err(StepError::new(
            step,
            format!("{} is not a directory", dir.display()),
        ));
    }
    if m.uid() != 0 || m.mode() & 0o022 != 0 {
        return Err(StepError::new(
            step,
            format!(
                "{} must be owned by root and not writable by group or others",
                dir.display()
            ),
        ));
    }
    Ok(())
}

/// The box root (or lock root) as it must be for a run or a cleanup: existing,
/// root-owned, not writable by group or others. Absent is fine (nothing to use).
pub fn check_private_dir(dir: &Path, step: &str) -> Result<(), StepError> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) => private_dir_ok(dir, &m, step),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StepError::io(step, dir.display().to_string(), &e)),
    }
}

/// Create `dir` (and its parents) root-owned with `mode`, or check that an existing
/// one is a real directory owned by root and not writable by group or others.
pub fn ensure_private_dir(dir: &Path, mode: u32, step: &str) -> Result<(), StepError> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) => private_dir_ok(dir, &m, step),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(dir)
                .map_err(|e| StepError::io(step, dir.display().to_string(), &e))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
                .map_err(|e| StepError::io(step, dir.display().to_string(), &e))?;
            // A setuid start creates it with the caller's group: root's alone.
            std::os::unix::fs::lchown(dir, Some(0), Some(0))
                .map_err(|e| StepError::io(step, dir.display().to_string(), &e))
        }
        Err(e) => Err(StepError::io(step, dir.display().to_string(), &e)),
    }
}

fn mkdir_owned(path: &Path, mode: u32, uid: u32, gid: u32) -> Result<(), StepError> {
    let step = "init.mkdir";
    std::fs::DirBuilder::new()
        .mode(mode)
        .create(path)
        .map_err(|e| StepError::io(step, path.display().to_string(), &e))?;
    // mkdir's mode is filtered by the umask; set it exactly.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| StepError::io(step, path.display().to_string(), &e))?;
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .map_err(|e| StepError::io(step, path.display().to_string(), &e))
}

/// Kill every process running as the box's uid (leftovers of a crashed run).
/// Returns how many were killed.
pub fn kill_box_processes(uid: u32) -> Result<usize, StepError> {
    let mut killed = 0;
    for _round in 0..50 {
        let pids = crate::sys::procfs::pids_of_uid(uid)?;
        if pids.is_empty() {
            return Ok(killed);
        }
        for pid in pids {
            // SAFETY: kill(2) with a pid read from /proc and a constant signal; a
            // recycled pid can only belong to the same box uid (we re-check below).
            if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(StepError::new(
        "cleanup.kill",
        format!("processes of uid {uid} survive SIGKILL"),
    ))
}

/// The box's tmpfs goes before its tree: removing files from a mounted tmpfs
/// would leave the mount point busy (and unmounting is all a tmpfs box needs).
/// Boxes of earlier versions had `box/` and `tmp/` mounted separately.
fn unmount_box_fs(paths: &BoxPaths) -> Result<(), StepError> {
    crate::boxdir::tmpfs::unmount(&paths.workspace)?;
    crate::boxdir::tmpfs::unmount(&paths.tmp)?;
    crate::boxdir::tmpfs::unmount(&paths.dir)
}

/// Initialised boxes recorded as `uid`'s in the lock root, the box `except` left
/// out. Read under the lock root's own lock (see `init`).
fn boxes_owned_by(cfg: &Config, uid: u32, except: u32) -> Result<u32, StepError> {
    let step = "box.count";
    let mut n = 0;
    for name in crate::boxdir::walk::list(&cfg.lock_root, step)? {
        let Some(id) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if id == except {
            continue;
        }
        let lock = BoxPaths::new(cfg, id).lock_file;
        // Strict here: an unreadable lock file must not make a box uncounted.
        let text = match std::fs::read_to_string(&lock) {
            Ok(t) => t,
            // Cleaned up meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StepError::io(step, lock.display().to_string(), &e)),
        };
        if BoxState::parse(&text).owner() == Some(uid) {
            n += 1;
        }
    }
    Ok(n)
}

/// The caps the configuration puts on a caller other than root: the size of a box
/// (`user_max_quota`) and how many boxes they may hold (`user_max_boxes`).
fn check_caps(
    cfg: &Config,
    paths: &BoxPaths,
    caller: &Caller,
    quota: (u64, u64),
) -> Result<(), StepError> {
    if caller.is_root() {
        return Ok(());
    }
    let (max_b, max_i) = cfg.user_max_quota;
    if quota.0 > max_b || quota.1 > max_i {
        return Err(StepError::new(
            "box.caps",
            format!(
                "--quota={},{} is over this host's user_max_quota of {max_b},{max_i} for callers other than root",
                quota.0, quota.1
            ),
        ));
    }
    let held = boxes_owned_by(cfg, caller.acting.0, paths.id)?;
    if held >= cfg.user_max_boxes {
        return Err(StepError::new(
            "box.caps",
            format!(
                "uid {} holds {held} boxes already, this host's user_max_boxes (clean one up first)",
                caller.acting.0
            ),
        ));
    }
    Ok(())
}

/// An exclusive lock on the lock root itself, held while a caller other than root
/// counts their boxes and takes a new one, so two `--init`s at once cannot both
/// pass the count.
fn lock_root_lock(cfg: &Config) -> Result<File, StepError> {
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

/// `--init`: create (or reset) the box. Returns the directory to print.
pub fn init(
    cfg: &Config,
    paths: &BoxPaths,
    caller: &Caller,
    quota: Option<(u64, u64)>,
    wait: bool,
) -> Result<PathBuf, StepError> {
    caller.may_init(cfg.restricted_init, peek_state(paths).owner())?;
    ensure_private_dir(&cfg.box_root, 0o755, "init")?;
    let mut lock = BoxLock::acquire(cfg, paths, wait, true)?
        .ok_or_else(|| StepError::new("lock", "lock file vanished"))?;
    // Re-creating someone else's box would destroy their files.
    caller.may_init(cfg.restricted_init, lock.state.owner())?;
    let on_host_disk = cfg.host_disk_box && quota.is_none();
    let quota = quota.unwrap_or(cfg.box_quota);
    let _counting = match caller.is_root() {
        true => None,
        false => Some(lock_root_lock(cfg)?),
    };
    if let Err(e) = check_caps(cfg, paths, caller, quota) {
        // A refused --init leaves no lock file of a box that was never made.
        if !lock.state.initialized {
            lock.remove()?;
        }
        return Err(e);
    }
    let owner = caller.acting;
    let (uid, gid) = cfg.box_ids(paths.id);
    crate::request::progress::say(1, format_args!("Preparing sandbox {}", paths.dir.display()));
    crate::cgroup::remove_stale(&cfg.cg_root, paths.id)?;
    kill_box_processes(uid)?;
    unmount_box_fs(paths)?;
    crate::boxdir::trees::remove_tree(&paths.dir)?;
    let (dir_mode, dir_gid) = crate::boxdir::tmpfs::dir_access(owner);
    mkdir_owned(&paths.dir, dir_mode, 0, dir_gid)?;
    use crate::boxdir::tmpfs::Tmpfs;
    let made = if on_host_disk {
        mkdir_owned(&paths.workspace, 0o700, owner.0, owner.1)
            .and_then(|()| mkdir_owned(&paths.tmp, 0o700, uid, gid))
            .and_then(|()| mkdir_owned(&paths.root_mnt, 0o755, 0, 0))
            .and_then(|()| crate::boxdir::tmpfs::mount(&paths.tmp, &Tmpfs::tmp_only(uid, gid)))
    } else {
        crate::boxdir::tmpfs::mount(
            &paths.dir,
            &Tmpfs::whole_box(quota.0, quota.1, (dir_mode, dir_gid)),
        )
        .and_then(|()| mkdir_owned(&paths.workspace, 0o700, owner.0, owner.1))
        .and_then(|()| mkdir_owned(&paths.tmp, 0o700, uid, gid))
        .and_then(|()| mkdir_owned(&paths.root_mnt, 0o755, 0, 0))
    };
    let saved = made.and_then(|()| {
        lock.save(BoxState {
            initialized: true,
            owner: owner.0,
            owner_gid: owner.1,
        })
    });
    if let Err(e) = saved {
        // Nothing half-made stays: no mount, no directory, no lock file.
        let undone = unmount_box_fs(paths)
            .and_then(|()| crate::boxdir::trees::remove_tree(&paths.dir))
            .and_then(|()| lock.remove());
        return Err(match undone {
            Ok(()) => e,
            Err(u) => StepError {
                detail: format!("{}; undoing the half-made box failed too: {u}", e.detail),
                ..e
            },
        });
    }
    Ok(paths.dir.clone())
}

/// `--cleanup`: kill what is left, remove the box. Idempotent.
pub fn cleanup(
    cfg: &Config,
    paths: &BoxPaths,
    caller: &Caller,
    wait: bool,
) -> Result<(), StepError> {
    check_private_dir(&cfg.box_root, "cleanup")?;
    caller.may_use(peek_state(paths).owner())?;
    // No lock file: the box was never initialised (or is cleaned up already).
    let Some(lock) = BoxLock::acquire(cfg, paths, wait, false)? else {
        crate::request::progress::say(1, format_args!("Nothing to do -- box did not exist"));
        return Ok(());
    };
    crate::request::progress::say(1, format_args!("Deleting sandbox {}", paths.dir.display()));
    caller.may_use(lock.state.owner())?;
    let (uid, _gid) = cfg.box_ids(paths.id);
    crate::cgroup::remove_stale(&cfg.cg_root, paths.id)?;
    kill_box_processes(uid)?;
    unmount_box_fs(paths)?;
    crate::boxdir::trees::remove_tree(&paths.dir)?;
    lock.remove()
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
        };
        assert_eq!(BoxState::parse(&s.render()), s);
        let old = BoxState::parse("initialized=1\nowner=1234\n");
        assert_eq!(
            (old.owner, old.owner_gid, old.owner()),
            (1234, 1234, Some(1234))
        );
        assert_eq!(BoxState::parse("garbage"), BoxState::default());
    }

    #[test]
    fn paths_follow_layout() {
        let cfg = Config::default();
        let p = BoxPaths::new(&cfg, 42);
        assert_eq!(p.dir, PathBuf::from("/var/local/lib/rustbox/42"));
        assert_eq!(p.workspace, PathBuf::from("/var/local/lib/rustbox/42/box"));
        assert_eq!(p.lock_file, PathBuf::from("/run/rustbox/locks/42"));
        assert!(check_id(&cfg, 65999).is_ok());
        assert!(check_id(&cfg, 66000).is_err());
    }
}
