//! Lending `/box` to the box user for one run, and giving it back: the guard
//! that makes every way out of a run hand the box back to its owner.

use super::BoxPaths;
use crate::sys::error::StepError;

/// `/box` lent to the box user for the length of one run, and the box's `/tmp`
/// reset: the two directories of the box that the host sees and the program can
/// write. The owner's files become the box user's; `give_back` returns them.
/// Created only by `lend`, which gives back on its own failure; if `give_back` is
/// never reached (a panic unwinding through the run), dropping gives back.
pub struct Lent<'a> {
    paths: &'a BoxPaths,
    owner: (u32, u32),
    user: (u32, u32),
    returned: bool,
}

impl<'a> Lent<'a> {
    pub fn lend(
        paths: &'a BoxPaths,
        state: &crate::boxdir::BoxState,
        user: (u32, u32),
    ) -> Result<Lent<'a>, StepError> {
        let mut lent = Lent {
            paths,
            owner: (state.owner, state.owner_gid),
            user,
            returned: false,
        };
        let done = reset_tmp(paths, user).and_then(|()| {
            crate::boxdir::trees::chown_tree(&paths.workspace, user.0, user.1, true, lent.owners())
        });
        match done {
            Ok(()) => Ok(lent),
            Err(e) => {
                // Part of /box may be the box user's already.
                let back = lent.hand_back(true);
                lent.returned = true;
                Err(match back {
                    Ok(()) => e,
                    // The same failure again (the /tmp reset, both ways): once.
                    Err(b) if b.step == e.step && b.errno == e.errno && b.detail == e.detail => e,
                    Err(b) => StepError {
                        detail: format!("{}; handing /box back failed too: {b}", e.detail),
                        ..e
                    },
                })
            }
        }
    }

    /// Only the owner's files and the box user's may change hands (a box of
    /// root's: anything, as before).
    fn owners(&self) -> crate::boxdir::trees::Owners {
        match self.owner.0 {
            0 => crate::boxdir::trees::Owners::Any,
            _ => crate::boxdir::trees::Owners::Pair(self.owner.0, self.user.0),
        }
    }

    fn hand_back(&self, remove_special: bool) -> Result<(), StepError> {
        let back = crate::boxdir::trees::chown_tree(
            &self.paths.workspace,
            self.owner.0,
            self.owner.1,
            remove_special,
            self.owners(),
        );
        let tmp = reset_tmp(self.paths, self.user);
        back.and(tmp)
    }

    /// Hand /box back (special files the program made removed, unless
    /// `remove_special` is false: `--special-files`) and reset /tmp.
    pub fn give_back(mut self, remove_special: bool) -> Result<(), StepError> {
        self.returned = true;
        self.hand_back(remove_special)
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if !self.returned {
            // Nothing can be reported from here; the box is at least its owner's.
            let _ = self.hand_back(true);
        }
    }
}

/// The box's `/tmp` as it must be between runs and at the start of each: the box
/// user's, mode 0700. A program may have opened it to everyone (`chmod 1777`);
/// other host users could then read what it left and plant what the next run
/// reads.
fn reset_tmp(paths: &BoxPaths, user: (u32, u32)) -> Result<(), StepError> {
    let dir = crate::boxdir::trees::open_dir(&paths.tmp, "box.tmp")?;
    crate::boxdir::trees::set_owner_mode(&dir, user, 0o700, "box.tmp", &paths.tmp)
}
