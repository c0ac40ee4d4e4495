//! What the supervisor does to itself before anything else, because it may be a
//! setuid-root process started by anyone.
//!
//! - Not dumpable (`PR_SET_DUMPABLE` 0): no ptrace attach, no `/proc/<pid>/mem`,
//!   `environ` or fd access from the caller, and no core file, whatever
//!   `fs.suid_dumpable` says and whatever credential changes come later.
//! - No core dumps (soft `RLIMIT_CORE` 0) as a second lock on the same door.
//! - The caller's environment is taken out of the process: it is kept aside for
//!   `-E`/`-e` (which pass it to the box, as isolate does) and nothing in
//!   rustbox or its libraries can be steered by it afterwards (`RUST_*`, locale,
//!   `TZ`, `TMPDIR`...). The dynamic loader's `LD_*` variables are ignored by the
//!   C library already for a setuid start (secure-execution mode).

use crate::sys::error::StepError;
use std::ffi::OsString;

/// Make this process non-dumpable and core-less; read the result back.
pub fn not_dumpable() -> Result<(), StepError> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } < 0 {
        return Err(StepError::last_os(
            "supervisor.dumpable",
            "PR_SET_DUMPABLE 0",
        ));
    }
    // The soft limit only: the box's own RLIMIT_CORE (--core) is set later in
    // the chain, possibly after the capabilities are gone, and may still raise the
    // soft limit up to the hard one.
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut rl) } < 0 {
        return Err(StepError::last_os("supervisor.dumpable", "RLIMIT_CORE"));
    }
    rl.rlim_cur = 0;
    // SAFETY: setrlimit reads the valid struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &rl) } < 0 {
        return Err(StepError::last_os("supervisor.dumpable", "RLIMIT_CORE 0"));
    }
    check_not_dumpable()
}

/// Read back that the process is not dumpable (a run records this as a control).
pub fn check_not_dumpable() -> Result<(), StepError> {
    // SAFETY: prctl with integer arguments only.
    let d = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
    if d != 0 {
        return Err(StepError::new(
            "supervisor.dumpable",
            format!("PR_GET_DUMPABLE is {d}, not 0"),
        ));
    }
    Ok(())
}

/// Take the caller's environment out of the process and return it.
pub fn take_environment() -> Vec<(OsString, OsString)> {
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    // SAFETY: called first thing in main, while the process has one thread and
    // nothing holds a pointer into the environment. clearenv takes every entry,
    // even names std::env::remove_var would refuse (empty, or with '=').
    unsafe { libc::clearenv() };
    env
}
