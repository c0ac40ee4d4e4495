//! Who called rustbox, in whose name it acts, and what that caller may do.
//!
//! Installed setuid root, rustbox is started by any user with euid 0 and the
//! caller's real uid and gid. The caller names paths (meta, JSON, `--dir` sources,
//! a seccomp file); rustbox opens them with the caller's rights (`fsid`). Boxes
//! belong to whoever initialised them, as in isolate: only that user, or root, may
//! run in or clean up a box, and with `restricted_init` only root may create one.

pub mod fsid;
pub mod hostpath;
pub mod outfile;
pub mod selfguard;

use crate::error::StepError;
use crate::request::spec::{RunSpec, Source};

/// The caller of this invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// Real uid and gid of the process: whoever named the paths on the command line.
    pub uid: u32,
    pub gid: u32,
    /// Whom boxes are created for and checked against: the caller, or the user of
    /// `--as-uid/--as-gid` (root only). isolate checks bind sources with this
    /// identity too.
    pub acting: (u32, u32),
}

impl Caller {
    /// The caller from the real ids and the `--as-uid/--as-gid` options.
    pub fn new(
        uid: u32,
        gid: u32,
        as_uid: Option<u32>,
        as_gid: Option<u32>,
    ) -> Result<Caller, StepError> {
        let acting = match (as_uid, as_gid) {
            (None, None) => (uid, gid),
            _ if uid != 0 => {
                return Err(StepError::new(
                    "caller",
                    "--as-uid and --as-gid may only be used by root",
                ))
            }
            (Some(u), Some(g)) => (u, g),
            _ => {
                return Err(StepError::new(
                    "caller",
                    "--as-uid and --as-gid must be given together",
                ))
            }
        };
        Ok(Caller { uid, gid, acting })
    }

    /// The caller of this process.
    pub fn of_process(spec: &RunSpec) -> Result<Caller, StepError> {
        Caller::new(
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
            spec.as_uid,
            spec.as_gid,
        )
    }

    /// A root caller may act on any box; `--as-uid` does not change that (isolate).
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    /// The identity the caller's own paths are opened with (meta, JSON, seccomp
    /// file): the real ids, as isolate opens its meta file.
    pub fn path_identity(&self) -> (u32, u32) {
        (self.uid, self.gid)
    }

    /// May this caller create (or re-create) a box that is in `state`?
    pub fn may_init(&self, restricted_init: bool, owner: Option<u32>) -> Result<(), StepError> {
        if restricted_init && !self.is_root() {
            return Err(StepError::new(
                "box.owner",
                "new boxes can only be created by root here (restricted_init)",
            ));
        }
        self.may_use(owner)
    }

    /// May this caller run in or clean up a box initialised by `owner`?
    pub fn may_use(&self, owner: Option<u32>) -> Result<(), StepError> {
        match owner {
            Some(o) if o != self.acting.0 && !self.is_root() => Err(StepError::new(
                "box.owner",
                format!("this box belongs to another user (uid {o})"),
            )),
            _ => Ok(()),
        }
    }
}

/// Filesystem types a caller other than root may mount with an `fs` rule. The
/// others (devtmpfs, debugfs, tracefs, bpf, configfs, securityfs, sysfs, ...)
/// would show the box kernel state that an ordinary user cannot mount for
/// themselves; root may still ask for any type, as in isolate.
pub const CALLER_FS_TYPES: &[&str] = &["proc", "tmpfs", "mqueue"];

/// Refuse what only root may ask for.
pub fn refuse_root_only(spec: &RunSpec, caller: &Caller) -> Result<(), StepError> {
    if caller.is_root() {
        return Ok(());
    }
    if spec.config.is_some() {
        return Err(StepError::new(
            "caller",
            "--config: only root may choose the configuration file",
        ));
    }
    for (inside, rule) in &spec.dirs {
        if let Some(Source::Fs(t)) = rule.as_ref().map(|r| &r.source) {
            if !CALLER_FS_TYPES.contains(&t.as_str()) {
                return Err(StepError::new(
                    "caller",
                    format!(
                        "--dir {}={t}:fs: only root may mount a {t} file system \
                         (callers may use {})",
                        inside.display(),
                        CALLER_FS_TYPES.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_uid_is_root_only_and_paired() {
        assert!(Caller::new(1000, 1000, Some(5), Some(5)).is_err());
        assert!(Caller::new(0, 0, Some(5), None).is_err());
        assert!(Caller::new(0, 0, None, Some(5)).is_err());
        let c = Caller::new(0, 0, Some(5), Some(6)).unwrap();
        assert_eq!(c.acting, (5, 6));
        assert_eq!(c.path_identity(), (0, 0));
        assert!(c.is_root());
        let c = Caller::new(1000, 100, None, None).unwrap();
        assert_eq!(c.acting, (1000, 100));
    }

    #[test]
    fn boxes_belong_to_their_owner() {
        let alice = Caller::new(1000, 1000, None, None).unwrap();
        let root = Caller::new(0, 0, None, None).unwrap();
        let for_alice = Caller::new(0, 0, Some(1000), Some(1000)).unwrap();
        assert!(alice.may_use(Some(1000)).is_ok());
        assert!(alice.may_use(None).is_ok());
        let e = alice.may_use(Some(1001)).unwrap_err();
        assert!(e.detail.contains("belongs to another user (uid 1001)"));
        assert!(root.may_use(Some(1001)).is_ok());
        assert!(for_alice.may_use(Some(1001)).is_ok());
        assert!(alice.may_init(false, Some(1001)).is_err());
        assert!(alice.may_init(false, Some(1000)).is_ok());
        assert!(alice.may_init(true, None).is_err());
        assert!(root.may_init(true, Some(1001)).is_ok());
        assert!(for_alice.may_init(true, None).is_ok());
    }

    #[test]
    fn callers_fs_types_are_limited() {
        let spec =
            |a: &[&str]| crate::request::cli::parse(a.iter().map(|s| s.to_string())).unwrap();
        let alice = Caller::new(1000, 1000, None, None).unwrap();
        let root = Caller::new(0, 0, None, None).unwrap();
        let s = spec(&[
            "--run",
            "--dir=/proc=proc:fs",
            "--dir=/q=mqueue:fs",
            "--",
            "p",
        ]);
        assert!(refuse_root_only(&s, &alice).is_ok());
        let s = spec(&["--run", "--dir=/d=devtmpfs:fs:dev", "--", "p"]);
        assert!(refuse_root_only(&s, &alice).is_err());
        assert!(refuse_root_only(&s, &root).is_ok());
        let s = spec(&["--run", "--config=/x", "--", "p"]);
        assert!(refuse_root_only(&s, &alice).is_err());
    }
}
