//! Keyrings: the box starts with an empty session keyring of its own and empty
//! user keyrings.
//!
//! A new process inherits its parent's session keyring: without this step the
//! program would possess the caller's (a judge's) session keyring and could read
//! the keys in it wherever keyctl is allowed (`--syscalls` without flag 1,
//! `--seccomp=off`), and `/proc/keys` would list them in any case. The user and
//! user-session keyrings belong to the box uid and outlive a run, so one submission
//! could leave keys for the next one in the same box; they are cleared. Done as the
//! box user (the new keyring is then its own), before the seccomp filter, which may
//! close keyctl.

use crate::error::StepError;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_CLEAR: libc::c_long = 7;
const KEY_SPEC_USER_KEYRING: libc::c_long = -4;
const KEY_SPEC_USER_SESSION_KEYRING: libc::c_long = -5;

/// Join a new anonymous session keyring and clear the user keyrings. Returns a
/// description for the evidence. A kernel without keys support (ENOSYS) has
/// nothing to inherit and is not an error.
pub fn fresh() -> Result<&'static str, StepError> {
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, NULL) creates and joins an anonymous
    // keyring; no pointer is passed.
    let id = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if id < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOSYS) {
            return Ok("kernel without keyrings: nothing to inherit");
        }
        return Err(StepError::io(
            "keyring.session",
            "join a new session keyring",
            &e,
        ));
    }
    for (which, name) in [
        (KEY_SPEC_USER_KEYRING, "user keyring"),
        (KEY_SPEC_USER_SESSION_KEYRING, "user-session keyring"),
    ] {
        // SAFETY: keyctl(CLEAR, special keyring id) takes no pointer.
        if unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_CLEAR, which) } < 0 {
            return Err(StepError::last_os(
                "keyring.clear",
                format!("clear the {name}"),
            ));
        }
    }
    Ok("new anonymous session keyring; user and user-session keyrings cleared")
}
