//! Standard streams and the working directory, set up as the box user.
//!
//! The files named by `-i/-o/-r` are opened after `pivot_root` and after the uid
//! change, relative to /box: a path (or a link a program planted) can only resolve
//! inside the box's own tree, with the box user's rights. Nothing outside the box can
//! be read or overwritten through them.

use crate::plan::StdioPlan;
use crate::sys::error::StepError;
use std::ffi::CString;

/// (device, inode) of an open descriptor.
fn identity(fd: libc::c_int, what: &str) -> Result<(u64, u64), StepError> {
    // SAFETY: an all-zero stat is a valid buffer to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat into our buffer; a bad descriptor is an error, checked.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(StepError::last_os("io.verify", format!("fstat {what}")));
    }
    Ok((st.st_dev, st.st_ino))
}

/// Read back a redirection: descriptor `target` is the file `want` names.
fn verify_is(target: libc::c_int, want: (u64, u64), what: &str) -> Result<(), StepError> {
    let got = identity(target, &format!("fd {target}"))?;
    if got != want {
        return Err(StepError::new(
            "io.verify",
            format!("fd {target} is not {what} after the redirection"),
        ));
    }
    // Not close-on-exec, or the program would start without it.
    // SAFETY: fcntl(F_GETFD) on a standard descriptor.
    let fl = unsafe { libc::fcntl(target, libc::F_GETFD) };
    if fl < 0 || fl & libc::FD_CLOEXEC != 0 {
        return Err(StepError::new(
            "io.verify",
            format!("fd {target} would not survive execve"),
        ));
    }
    Ok(())
}

fn redirect(path: &CString, target: libc::c_int, flags: libc::c_int) -> Result<(), StepError> {
    let shown = path.to_string_lossy().into_owned();
    // SAFETY: open with a valid path; the result is checked.
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o666) };
    if fd < 0 {
        return Err(StepError::last_os("io.open", shown));
    }
    let want = identity(fd, &shown);
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
    verify_is(target, want?, &shown)
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
        verify_is(2, identity(1, "fd 1")?, "stdout")?;
    } else if let Some(f) = &p.stderr {
        redirect(f, 2, out)?;
    }
    let shown = p.chdir.to_string_lossy().into_owned();
    // SAFETY: an all-zero stat is a valid buffer to fill.
    let (mut named, mut dot): (libc::stat, libc::stat) = unsafe { std::mem::zeroed() };
    // What the path names, resolved as chdir will resolve it (from /box).
    // SAFETY: stat of a valid path into our buffer.
    if unsafe { libc::stat(p.chdir.as_ptr(), &mut named) } < 0 {
        return Err(StepError::last_os("io.chdir", shown));
    }
    // SAFETY: chdir with a valid path.
    if unsafe { libc::chdir(p.chdir.as_ptr()) } < 0 {
        return Err(StepError::last_os("io.chdir", shown));
    }
    // Read back: "." is that directory.
    // SAFETY: stat of a static path into our buffer.
    if unsafe { libc::stat(c".".as_ptr(), &mut dot) } < 0 {
        return Err(StepError::last_os(
            "io.chdir",
            format!("stat . after chdir {shown}"),
        ));
    }
    if (named.st_dev, named.st_ino) != (dot.st_dev, dot.st_ino) {
        return Err(StepError::new(
            "io.chdir",
            format!("the working directory is not {shown}"),
        ));
    }
    Ok(())
}
