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

use crate::sys::error::StepError;

const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_CLEAR: libc::c_long = 7;
const KEYCTL_READ: libc::c_long = 11;
const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
const KEY_SPEC_USER_KEYRING: libc::c_long = -4;
const KEY_SPEC_USER_SESSION_KEYRING: libc::c_long = -5;

/// Join a new anonymous session keyring and clear the user keyrings. Returns a
/// description for the evidence. A kernel without keys support (ENOSYS) has
/// nothing to inherit and is not an error.
pub fn fresh() -> Result<&'static str, StepError> {
    // The session keyring inherited (an error if there is none: nothing to compare).
    let before = session_id();
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
    verify(id, before)?;
    Ok("new anonymous session keyring (read back), empty; user and user-session keyrings cleared and read back empty")
}

/// The id of the session keyring (negative: none, errno set).
fn session_id() -> libc::c_long {
    // SAFETY: keyctl(GET_KEYRING_ID, special id, no create) takes no pointer.
    unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_KEYRING_ID,
            KEY_SPEC_SESSION_KEYRING,
            0,
        )
    }
}

/// Read back: the session keyring is now the new one (`id`), not the one
/// inherited (`before`), and it and the user keyrings hold no key (KEYCTL_READ
/// of a keyring gives the size of its list of key ids).
fn verify(id: libc::c_long, before: libc::c_long) -> Result<(), StepError> {
    let now = session_id();
    if now < 0 {
        return Err(StepError::last_os(
            "keyring.verify",
            "the id of the session keyring",
        ));
    }
    if now != id || now == before {
        return Err(StepError::new(
            "keyring.verify",
            format!("session keyring {now}: not the new keyring {id} (inherited: {before})"),
        ));
    }
    for (which, name) in [
        (KEY_SPEC_SESSION_KEYRING, "session keyring"),
        (KEY_SPEC_USER_KEYRING, "user keyring"),
        (KEY_SPEC_USER_SESSION_KEYRING, "user-session keyring"),
    ] {
        // SAFETY: keyctl(READ) with a null buffer of length 0 only returns the size.
        let n = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_READ,
                which,
                std::ptr::null_mut::<libc::c_char>(),
                0usize,
            )
        };
        if n < 0 {
            return Err(StepError::last_os(
                "keyring.verify",
                format!("read the {name}"),
            ));
        }
        if n != 0 {
            return Err(StepError::new(
                "keyring.verify",
                format!("the {name} holds {} key(s)", n / 4),
            ));
        }
    }
    Ok(())
}
