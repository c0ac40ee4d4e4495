//! Who called rustbox, in whose name it acts, and what that caller may do.
//!
//! Installed setuid root, rustbox is started by any user with euid 0 and the
//! caller's real uid and gid. The caller names paths (meta, JSON, `--dir` sources,
//! a seccomp file); rustbox opens them with the caller's rights (`fsid`). Boxes
//! belong to whoever initialised them, as in isolate: only that user, or root, may
//! run in or clean up a box, and with `restricted_init` only root may create one.
//! What only root may ask for is checked with the other request rules, in
//! `request::validate`.

pub mod fsid;
pub mod hostpath;
pub mod outfile;
pub mod selfguard;

use crate::request::spec::RunSpec;
use crate::sys::error::StepError;

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
    /// The caller from the real ids and the `--as-uid/--as-gid` options. Only root
    /// giving both acts for someone else; anything else asked with them is refused
    /// by `request::validate` (`as_ids_are_roots`, `as_ids_come_together`), and the
    /// caller here acts as itself.
    pub fn new(uid: u32, gid: u32, as_uid: Option<u32>, as_gid: Option<u32>) -> Caller {
        let acting = match (as_uid, as_gid) {
            (Some(u), Some(g)) if uid == 0 => (u, g),
            _ => (uid, gid),
        };
        Caller { uid, gid, acting }
    }

    /// The caller of this process.
    pub fn of_process(spec: &RunSpec) -> Caller {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Only root naming both ids acts for someone else (what is asked otherwise
    /// is refused by `request::validate`).
    #[test]
    fn only_root_acts_for_another_user() {
        assert_eq!(
            Caller::new(1000, 1000, Some(5), Some(5)).acting,
            (1000, 1000)
        );
        assert_eq!(Caller::new(0, 0, Some(5), None).acting, (0, 0));
        assert_eq!(Caller::new(0, 0, None, Some(5)).acting, (0, 0));
        let c = Caller::new(0, 0, Some(5), Some(6));
        assert_eq!(c.acting, (5, 6));
        assert_eq!(c.path_identity(), (0, 0));
        assert!(c.is_root());
        let c = Caller::new(1000, 100, None, None);
        assert_eq!(c.acting, (1000, 100));
    }

    #[test]
    fn boxes_belong_to_their_owner() {
        let alice = Caller::new(1000, 1000, None, None);
        let root = Caller::new(0, 0, None, None);
        let for_alice = Caller::new(0, 0, Some(1000), Some(1000));
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
}
