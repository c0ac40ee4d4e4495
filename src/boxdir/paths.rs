//! Where a box lives: its paths, the id range, and the checks that the box and
//! lock roots are root's alone.

use crate::request::config::Config;
use crate::sys::error::StepError;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
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

#[cfg(test)]
mod tests {
    use super::*;

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
