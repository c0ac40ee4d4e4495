//! Standard streams and the working directory, set up as the box user.
//!
//! The files named by `-i/-o/-r` are opened after `pivot_root` and after the uid
//! change, relative to /box: a path (or a link a program planted) can only resolve
//! inside the box's own tree, with the box user's rights. Nothing outside the box can
//! be read or overwritten through them.

use crate::error::StepError;
use std::ffi::CString;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StdioPlan {
    pub stdin: Option<CString>,
    pub stdout: Option<CString>,
    pub stderr: Option<CString>,
    pub stderr_to_stdout: bool,
    /// Working directory: /box, or --chdir (relative to /box).
    pub chdir: CString,
}

fn redirect(path: &CString, target: libc::c_int, flags: libc::c_int) -> Result<(), StepError> {
    // SAFETY: open with a valid path; the result is checked.
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o666) };
    if fd < 0 {
        return Err(StepError::last_os(
            "io.open",
            format!("{}", path.to_string_lossy()),
        ));
    }
    // SAFETY: dup2 onto a standard descriptor; dup2 clears O_CLOEXEC on the copy.
    let rc = unsafe { libc::dup2(fd, target) };
    // SAFETY: closing our temporary descriptor.
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Err(StepError::last_os(
            "io.open",
            format!("dup2 onto fd {target}"),
        ));
    }
    Ok(())
}

pub fn apply(p: &StdioPlan) -> Result<(), StepError> {
    let box_dir = c"/box";
    // Paths are relative to /box, as isolate's are. The box may have no /box (-D).
    // SAFETY: chdir with a static path; failure is tolerated here and caught by the
    // final chdir below when it matters.
    let _ = unsafe { libc::chdir(box_dir.as_ptr()) };
    if let Some(f) = &p.stdin {
        redirect(f, 0, libc::O_RDONLY)?;
    }
    let out = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;
    if let Some(f) = &p.stdout {
        redirect(f, 1, out)?;
    }
    if p.stderr_to_stdout {
        // SAFETY: dup2 between standard descriptors.
        if unsafe { libc::dup2(1, 2) } < 0 {
            return Err(StepError::last_os("io.open", "dup2(1, 2)"));
        }
    } else if let Some(f) = &p.stderr {
        redirect(f, 2, out)?;
    }
    // SAFETY: chdir with a valid path.
    if unsafe { libc::chdir(p.chdir.as_ptr()) } < 0 {
        return Err(StepError::last_os(
            "io.chdir",
            p.chdir.to_string_lossy().into_owned(),
        ));
    }
    Ok(())
}
