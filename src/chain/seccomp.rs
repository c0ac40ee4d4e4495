//! The last step before execve: install the seccomp programs the plan built
//! (`plan/seccomp.rs`), and read the mode back.

use crate::sys::error::StepError;
use seccompiler::BpfProgram;

/// Install the programs (no_new_privs is already set) and check the mode: 2
/// (filter), or 0 when there is no program (`--seccomp=off`).
pub fn install(progs: &[BpfProgram]) -> Result<(), StepError> {
    for p in progs {
        seccompiler::apply_filter(p)
            .map_err(|e| StepError::new("seccomp.install", format!("{e}")))?;
    }
    // SAFETY: prctl with constant arguments only reads.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    let want = if progs.is_empty() { 0 } else { 2 };
    if mode != want {
        return Err(StepError::new(
            "seccomp.verify",
            format!("seccomp mode is {mode}, not {want}"),
        ));
    }
    Ok(())
}
