//! PR_SET_NO_NEW_PRIVS: no execve can ever grant privileges again (setuid bits and
//! file capabilities are ignored), and seccomp filters may be installed without
//! CAP_SYS_ADMIN.

use crate::sys::error::StepError;

pub fn set() -> Result<(), StepError> {
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
        return Err(StepError::last_os("nnp", "PR_SET_NO_NEW_PRIVS"));
    }
    // SAFETY: prctl with constant arguments only reads.
    let v = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
    if v != 1 {
        return Err(StepError::new(
            "nnp",
            format!("PR_GET_NO_NEW_PRIVS reads {v}"),
        ));
    }
    Ok(())
}
