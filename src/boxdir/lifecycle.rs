//! `--init` and `--cleanup`: make a box (its tmpfs, its directories, under the
//! caps a caller other than root has) and remove it, killing what the box uid
//! left running.

use super::lock::lock_root_lock;
use super::{check_private_dir, ensure_private_dir, peek_state, BoxLock, BoxPaths, BoxState};
use crate::caller::Caller;
use crate::request::config::Config;
use crate::sys::error::StepError;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

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
        let text = match crate::sys::fd::read_text(&lock) {
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
    init_locked(cfg, paths, caller, quota, &mut lock, false)?;
    Ok(paths.dir.clone())
}

/// `--init` under a lock already held (`--exec` holds its box's from the
/// start to the end): make the box afresh; `oneshot` marks one made by
/// `--exec`.
pub fn init_locked(
    cfg: &Config,
    paths: &BoxPaths,
    caller: &Caller,
    quota: Option<(u64, u64)>,
    lock: &mut BoxLock,
    oneshot: bool,
) -> Result<(), StepError> {
    // Re-creating someone else's box would destroy their files.
    caller.may_init(cfg.restricted_init, lock.state.owner())?;
    ensure_private_dir(&cfg.box_root, 0o755, "init")?;
    // isolate's unbounded box on the host's disk is root's to ask for: a caller
    // of the setuid binary gets a tmpfs within `user_max_quota` (found by review:
    // with `host_disk_box = 1` a user wrote past the cap onto the host's disk).
    let on_host_disk = cfg.host_disk_box && quota.is_none() && caller.is_root();
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
    // The holder of the box's spare network namespace, empty (after whatever an
    // earlier box or version left there).
    let net = crate::boxdir::netns::holder(&paths.lock_file);
    let made = made.and_then(|()| crate::boxdir::netns::make_holder(&net));
    let saved = made.and_then(|()| {
        lock.save(BoxState {
            initialized: true,
            owner: owner.0,
            owner_gid: owner.1,
            oneshot,
        })
    });
    if let Err(e) = saved {
        // Nothing half-made stays: no mount, no directory, no lock file.
        let undone = crate::boxdir::netns::release(&net)
            .and_then(|()| unmount_box_fs(paths))
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
    Ok(())
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
    caller.may_use(lock.state.owner())?;
    cleanup_locked(cfg, paths, lock)
}

/// `--cleanup` under a lock already held: kill what is left, remove the box.
/// A lock whose file is gone from its path (a refused `init_locked` removed it)
/// holds nothing any more: another rustbox may have made a box there since, and
/// nothing of it is touched (found by review: `--exec` after a refused init
/// removed another caller's new box).
pub fn cleanup_locked(cfg: &Config, paths: &BoxPaths, lock: BoxLock) -> Result<(), StepError> {
    if !lock.still_ours()? {
        return Ok(());
    }
    crate::request::progress::say(1, format_args!("Deleting sandbox {}", paths.dir.display()));
    let (uid, _gid) = cfg.box_ids(paths.id);
    crate::cgroup::remove_stale(&cfg.cg_root, paths.id)?;
    kill_box_processes(uid)?;
    crate::boxdir::netns::release(&crate::boxdir::netns::holder(&paths.lock_file))?;
    unmount_box_fs(paths)?;
    crate::boxdir::trees::remove_tree(&paths.dir)?;
    lock.remove()
}
