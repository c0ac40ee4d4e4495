//! cgroup v2 delegation to itself: where the boxes' groups go when the root of
//! the hierarchy rustbox sees does not hand the controllers to its children, and
//! how that place is made able to.
//!
//! A container with its own cgroup namespace sees its own group as the root of
//! cgroupfs. The runtime has delegated the controllers to that group (they are
//! in its `cgroup.controllers`) but enabled none for its children (its
//! `cgroup.subtree_control` is empty), and the container's processes are in it.
//! The kernel enables a controller for a group's children only when the group
//! itself has no process (the no-internal-processes rule), so rustbox:
//!
//! 1. takes the group it runs in (`/proc/self/cgroup`) as the base: nothing is
//!    ever written above it (a trailing `rustbox-leaf` is rustbox's own, below:
//!    its parent is the base);
//! 2. moves every process of the base into `<base>/rustbox-leaf` (rustbox
//!    itself among them), until the base has none;
//! 3. enables memory, pids and cpu (and cpuset where delegated) in the base's
//!    `cgroup.subtree_control`, read back.
//!
//! The boxes' groups then go to `<base>/<cg_root>/box-<id>` as on a host. All of
//! it is done once: the next run finds the controllers enabled and only reads.
//! Where the root does hand the controllers down (a host, systemd), the base is
//! the root, as it always was, and nothing here writes. The hierarchy's true
//! root is never written: it is the host init's (and exempt from the rule).

use super::fs;
use crate::sys::error::StepError;
use std::path::{Path, PathBuf};

const STEP: &str = "cgroup.delegate";

/// The group, below the base, that takes the base's processes.
pub const LEAF: &str = "rustbox-leaf";

/// How often the move-then-enable is tried before giving up: each failure is a
/// process that arrived in the base meanwhile (a fork of one being moved).
const ROUNDS: usize = 50;

/// The cgroup v2 path of this process, as `/proc/self/cgroup` says ("0::PATH").
pub fn own_cgroup() -> Result<String, StepError> {
    const PATH: &str = "/proc/self/cgroup";
    let t = crate::sys::fd::read_text(PATH).map_err(|e| StepError::io(STEP, PATH, &e))?;
    fs::group_in(&t, "")
        .map(str::to_string)
        .ok_or_else(|| StepError::new(STEP, format!("{PATH} has no cgroup v2 line")))
}

/// The base directory for a process in `own` (a path as `/proc/self/cgroup`
/// gives it), in a hierarchy mounted at `mount` whose mount root is `root` (the
/// mountinfo field; "/" for a mount made in the process's cgroup namespace).
pub fn base_dir(mount: &Path, root: &str, own: &str) -> Result<PathBuf, StepError> {
    let own = own.strip_suffix(&format!("/{LEAF}")).unwrap_or(own);
    let rel = if root == "/" {
        Some(own.trim_start_matches('/'))
    } else {
        own.strip_prefix(root)
            .filter(|r| r.is_empty() || r.starts_with('/'))
            .map(|r| r.trim_start_matches('/'))
    };
    let rel = rel.ok_or_else(|| {
        StepError::new(
            STEP,
            format!(
                "this process's cgroup {own} is not below the cgroup2 mount {} (its root is {root})",
                mount.display()
            ),
        )
    })?;
    if rel.split('/').any(|c| c == "..") {
        return Err(StepError::new(
            STEP,
            format!("this process's cgroup {own} is outside its namespace"),
        ));
    }
    Ok(if rel.is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(rel)
    })
}

/// Whether every one of `want` is in the space-separated list `have` (the
/// kernel lists names; a plain file, as in the unit tests, keeps the "+").
pub fn has_all(have: &str, want: &[&str]) -> bool {
    want.iter().all(|w| {
        have.split_whitespace()
            .any(|h| h.strip_prefix('+').unwrap_or(h) == *w)
    })
}

/// What `ensure` found or did.
#[derive(Debug, PartialEq)]
pub struct Delegation {
    /// The base's cgroup.subtree_control, as read (or read back).
    pub enabled: String,
    /// What was done: None if the base handed the controllers down already.
    pub done: Option<String>,
}

/// Make `base` hand `required` (and cpuset, if delegated) to its children.
pub fn ensure(base: &Path, required: &[&str]) -> Result<Delegation, StepError> {
    let enabled = fs::read(STEP, &base.join("cgroup.subtree_control"))?;
    if has_all(&enabled, required) {
        return Ok(Delegation {
            enabled,
            done: None,
        });
    }
    // The hierarchy's true root (it alone has no cgroup.type) is the host's:
    // its init enables the controllers there, not rustbox.
    if !base.join("cgroup.type").exists() {
        return Err(StepError::new(
            STEP,
            format!(
                "the root of the cgroup v2 hierarchy, {}, does not enable {} for its children (cgroup.subtree_control): enable them there (the host's init does, as systemd does); rustbox enables controllers only in a group delegated to it",
                base.display(),
                required.join(", ")
            ),
        ));
    }
    let delegated = fs::read(STEP, &base.join("cgroup.controllers"))?;
    if !has_all(&delegated, required) {
        return Err(StepError::new(
            STEP,
            format!(
                "{}/cgroup.controllers offers \"{}\", not all of {}: the controllers are not delegated to this cgroup (the container runtime, or the parent's cgroup.subtree_control, must give them)",
                base.display(),
                delegated.trim(),
                required.join(", ")
            ),
        ));
    }
    let enable: Vec<String> = delegated
        .split_whitespace()
        .filter(|c| required.contains(c) || *c == "cpuset")
        .map(|c| format!("+{c}"))
        .collect();
    let leaf = base.join(LEAF);
    let made = fs::mkdir(STEP, &leaf)?;
    let done = move_and_enable(base, &leaf, &enable, required);
    if done.is_err() {
        // Nothing half-done: the processes go back where they were (the base
        // still has no controller enabled, so it may hold them), and a leaf
        // made here goes. What cannot be undone is said beside the error.
        let back = move_all(&leaf, base).and_then(|_| match made {
            true => fs::rmdir(STEP, &leaf),
            false => Ok(()),
        });
        if let (Err(e), Err(b)) = (&done, back) {
            return Err(StepError {
                detail: format!("{}; and undoing it failed: {b}", e.detail),
                ..e.clone()
            });
        }
    }
    done
}

/// The moves and the write of `ensure`, retried while processes arrive.
fn move_and_enable(
    base: &Path,
    leaf: &Path,
    enable: &[String],
    required: &[&str],
) -> Result<Delegation, StepError> {
    let mut moved = 0usize;
    for _ in 0..ROUNDS {
        moved += move_all(base, leaf)?;
        match std::fs::write(base.join("cgroup.subtree_control"), enable.join(" ")) {
            Ok(()) => {
                let now = fs::read(STEP, &base.join("cgroup.subtree_control"))?;
                if !has_all(&now, required) {
                    return Err(StepError::new(
                        STEP,
                        format!(
                            "{}/cgroup.subtree_control reads back as \"{}\" after writing \"{}\"",
                            base.display(),
                            now.trim(),
                            enable.join(" ")
                        ),
                    ));
                }
                let done = format!(
                    "{} processes moved into {}, {} enabled in {}/cgroup.subtree_control (read back)",
                    moved,
                    leaf.display(),
                    enable.join(" "),
                    base.display()
                );
                return Ok(Delegation {
                    enabled: now,
                    done: Some(done),
                });
            }
            // A process arrived in the base since the move: move again.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => continue,
            Err(e) => {
                return Err(StepError::io(
                    STEP,
                    format!(
                        "write {:?} to {}/cgroup.subtree_control",
                        enable.join(" "),
                        base.display()
                    ),
                    &e,
                ))
            }
        }
    }
    Err(StepError::sys(
        STEP,
        format!(
            "{} keeps getting new processes: the controllers cannot be enabled for its children",
            base.display()
        ),
        libc::EBUSY,
    ))
}

/// Move every process listed in `from`'s cgroup.procs into `to`; how many.
/// One that has exited meanwhile (ESRCH) needs no move.
fn move_all(from: &Path, to: &Path) -> Result<usize, StepError> {
    let target = to.join("cgroup.procs");
    let mut n = 0;
    for pid in fs::procs(STEP, &from.join("cgroup.procs"))? {
        match std::fs::write(&target, pid.to_string()) {
            Ok(()) => n += 1,
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => {
                return Err(StepError::io(
                    STEP,
                    format!("move process {pid} into {}", target.display()),
                    &e,
                ))
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeFs;
    use super::*;

    /// A container's group: not the true root, `controllers` delegated to it,
    /// none enabled for its children.
    fn container(name: &str, controllers: &str) -> (FakeFs, PathBuf) {
        let f = FakeFs::new(name);
        let b = f.mount("ct");
        FakeFs::put(&b, "cgroup.type", "domain\n");
        FakeFs::put(&b, "cgroup.subtree_control", "");
        FakeFs::put(&b, "cgroup.controllers", controllers);
        (f, b)
    }

    #[test]
    fn the_base_is_the_own_group_below_the_mount_and_never_above() {
        let m = Path::new("/sys/fs/cgroup");
        assert_eq!(base_dir(m, "/", "/").unwrap(), m);
        assert_eq!(base_dir(m, "/", "/ct").unwrap(), m.join("ct"));
        // rustbox's own leaf: its parent is the base, so every run finds one base.
        assert_eq!(base_dir(m, "/", &format!("/{LEAF}")).unwrap(), m);
        assert_eq!(
            base_dir(m, "/", &format!("/ct/{LEAF}")).unwrap(),
            m.join("ct")
        );
        // A bind of a subtree: paths are below its root.
        assert_eq!(base_dir(m, "/ct", "/ct/a").unwrap(), m.join("a"));
        assert_eq!(base_dir(m, "/ct", "/ct").unwrap(), m);
        let e = base_dir(m, "/ct", "/ctx/a").err().unwrap();
        assert!(e.detail.contains("not below"), "{e}");
        // Outside the namespace the kernel shows "/.."; never followed.
        assert!(base_dir(m, "/", "/../other").is_err());
    }

    #[test]
    fn an_enabled_base_is_only_read() {
        let f = FakeFs::new("deleg-enabled");
        let b = f.mount("ct");
        FakeFs::put(&b, "cgroup.subtree_control", "cpu memory pids\n");
        assert_eq!(
            ensure(&b, &["memory", "pids", "cpu"]).unwrap(),
            Delegation {
                enabled: "cpu memory pids\n".into(),
                done: None
            }
        );
        assert!(!b.join(LEAF).exists(), "nothing made");
    }

    #[test]
    fn the_processes_move_to_the_leaf_then_the_controllers_are_enabled() {
        let (_f, b) = container("deleg-move", "cpuset cpu io memory pids\n");
        FakeFs::put(&b, "cgroup.procs", "41\n42\n");
        FakeFs::put(&b, &format!("{LEAF}/cgroup.procs"), "");
        let d = ensure(&b, &["memory", "pids", "cpu"]).unwrap();
        assert_eq!(d.enabled, "+cpuset +cpu +memory +pids");
        let got = d.done.unwrap();
        // Each pid written on its own (the fake keeps the last write).
        assert_eq!(FakeFs::read(&b, &format!("{LEAF}/cgroup.procs")), "42");
        assert!(got.starts_with("2 processes moved"), "{got}");
        assert_eq!(
            FakeFs::read(&b, "cgroup.subtree_control"),
            "+cpuset +cpu +memory +pids"
        );
        assert!(got.contains("+cpuset +cpu +memory +pids"), "{got}");
    }

    #[test]
    fn the_true_root_is_never_written() {
        let f = FakeFs::new("deleg-root");
        let b = f.mount("unified");
        FakeFs::put(&b, "cgroup.subtree_control", "");
        FakeFs::put(&b, "cgroup.controllers", "cpu memory pids\n");
        let e = ensure(&b, &["memory", "pids", "cpu"]).err().unwrap();
        assert!(e.detail.contains("root of the cgroup v2 hierarchy"), "{e}");
        assert_eq!(FakeFs::read(&b, "cgroup.subtree_control"), "");
        assert!(!b.join(LEAF).exists());
    }

    #[test]
    fn controllers_not_delegated_are_refused_naming_the_file() {
        let (_f, b) = container("deleg-none", "cpu io\n");
        let e = ensure(&b, &["memory", "pids", "cpu"]).err().unwrap();
        assert_eq!(e.step, "cgroup.delegate");
        assert!(e.detail.contains("cgroup.controllers"), "{e}");
        assert!(!b.join(LEAF).exists(), "nothing half-made");
    }

    #[test]
    fn a_write_the_kernel_ignored_is_an_error() {
        let (_f, b) = container("deleg-ignored", "cpu memory pids\n");
        FakeFs::put(&b, "cgroup.procs", "");
        FakeFs::swallow(&b, "cgroup.subtree_control");
        let e = ensure(&b, &["memory", "pids", "cpu"]).err().unwrap();
        assert!(e.detail.contains("reads back"), "{e}");
    }
}
