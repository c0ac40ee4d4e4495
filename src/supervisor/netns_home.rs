//! The supervisor in the box's spare network namespace for the clone of pid 1,
//! and back home: one `setns` in, one out.
//!
//! Why this is safe here: the supervisor is single-threaded, so `setns` moves
//! the whole process; between the two calls it only clones (the child is born
//! in the spare, which is what is wanted). If going back fails, the box does not
//! start (`launch`), and nothing after it may use the network from where the
//! supervisor is stranded: `at_home` is false and the clock keeper and the
//! spare maker are not started.

use crate::sys::error::StepError;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

static STRANDED: AtomicBool = AtomicBool::new(false);

/// Whether the process is still in the network namespace it started in.
pub fn at_home() -> bool {
    !STRANDED.load(Ordering::SeqCst)
}

/// The supervisor's own network namespace, to go back to.
pub struct Home(OwnedFd);

/// Enter the namespace `spare` names, keeping the way home.
pub fn enter(spare: &OwnedFd) -> Result<Home, StepError> {
    let step = "namespaces.net";
    let home = crate::sys::fd::open(Path::new("/proc/thread-self/ns/net"), libc::O_RDONLY, step)?;
    setns(spare, "the box's spare")?;
    Ok(Home(home))
}

impl Home {
    /// Back to the supervisor's own network namespace.
    pub fn leave(self) -> Result<(), StepError> {
        setns(&self.0, "the supervisor's own")
            .inspect_err(|_| STRANDED.store(true, Ordering::SeqCst))
    }
}

fn setns(fd: &OwnedFd, which: &str) -> Result<(), StepError> {
    // SAFETY: setns with a descriptor we own and the type it must have.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(StepError::last_os(
            "namespaces.net",
            format!("setns into {which} network namespace"),
        ));
    }
    Ok(())
}
