//! Dumpability (`PR_SET_DUMPABLE`): whether processes of the same uid may
//! trace or read a process, and whether it leaves a core. It is a property of
//! the memory, shared by every task of it (`sys::vfork`), and the kernel sets
//! it to `fs.suid_dumpable` when a task of it changes its effective uid or gid.

use crate::sys::error::StepError;

/// Not dumpable, read back; a failure is `step`'s.
pub fn clear(step: &str) -> Result<(), StepError> {
    // SAFETY: prctl with constant integer arguments; touches no memory.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } < 0 {
        return Err(StepError::last_os(step, "PR_SET_DUMPABLE 0"));
    }
    // SAFETY: prctl with constant integer arguments reads and writes no memory;
    // it returns the flag.
    let d = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
    if d != 0 {
        return Err(StepError::new(step, format!("PR_GET_DUMPABLE reads {d}")));
    }
    Ok(())
}
