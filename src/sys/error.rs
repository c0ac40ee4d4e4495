//! Errors that carry the step that failed, the path or object involved and the errno.
//!
//! Every failure in rustbox ends up as one line on stderr and, during a run, as a
//! `controls` entry in the JSON evidence. Both need the same three facts: which step,
//! what it was doing, and the kernel's errno when there is one.

use std::fmt;

/// A failure of one named step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    /// The step that failed, e.g. `mount.bind` or `credentials.setresuid`.
    pub step: String,
    /// What it was doing, e.g. the path or value involved.
    pub detail: String,
    /// The errno the kernel returned, if the failure came from a system call.
    pub errno: Option<i32>,
}

impl StepError {
    /// A failure with no errno (a refused value, a failed verification).
    pub fn new(step: impl Into<String>, detail: impl Into<String>) -> Self {
        StepError {
            step: step.into(),
            detail: detail.into(),
            errno: None,
        }
    }

    /// A failure of a system call: errno is taken from the given value.
    pub fn sys(step: impl Into<String>, detail: impl Into<String>, errno: i32) -> Self {
        StepError {
            step: step.into(),
            detail: detail.into(),
            errno: Some(errno),
        }
    }

    /// A failure of a system call that just returned -1: errno is read now.
    pub fn last_os(step: impl Into<String>, detail: impl Into<String>) -> Self {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        Self::sys(step, detail, errno)
    }

    /// From an `std::io::Error`, keeping its errno when it has one.
    pub fn io(step: impl Into<String>, detail: impl Into<String>, e: &std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(n) => Self::sys(step, detail, n),
            None => Self::new(step, format!("{}: {}", detail.into(), e)),
        }
    }

    /// From a nix errno.
    pub fn nix(step: impl Into<String>, detail: impl Into<String>, e: nix::errno::Errno) -> Self {
        Self::sys(step, detail, e as i32)
    }

    /// The symbolic errno name, e.g. `EPERM`.
    pub fn errno_name(&self) -> Option<&'static str> {
        self.errno.map(errno_name)
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.detail)?;
        if let Some(n) = self.errno {
            let msg = std::io::Error::from_raw_os_error(n);
            write!(
                f,
                ": {} ({})",
                errno_name(n),
                strip_os_suffix(&msg.to_string())
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for StepError {}

fn strip_os_suffix(s: &str) -> &str {
    match s.find(" (os error") {
        Some(i) => &s[..i],
        None => s,
    }
}

/// The symbolic name of an errno value.
pub fn errno_name(n: i32) -> &'static str {
    let e = nix::errno::Errno::from_raw(n);
    if e == nix::errno::Errno::UnknownErrno {
        "EUNKNOWN"
    } else {
        // The symbolic constant name (e.g. "EPERM"), from our own table.
        errno_static_name(e)
    }
}

fn errno_static_name(e: nix::errno::Errno) -> &'static str {
    use nix::errno::Errno::*;
    match e {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        ESRCH => "ESRCH",
        EINTR => "EINTR",
        EIO => "EIO",
        ENXIO => "ENXIO",
        E2BIG => "E2BIG",
        ENOEXEC => "ENOEXEC",
        EBADF => "EBADF",
        ECHILD => "ECHILD",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EFAULT => "EFAULT",
        EBUSY => "EBUSY",
        EEXIST => "EEXIST",
        EXDEV => "EXDEV",
        ENODEV => "ENODEV",
        ENOTDIR => "ENOTDIR",
        EISDIR => "EISDIR",
        EINVAL => "EINVAL",
        ENFILE => "ENFILE",
        EMFILE => "EMFILE",
        ENOTTY => "ENOTTY",
        ETXTBSY => "ETXTBSY",
        EFBIG => "EFBIG",
        ENOSPC => "ENOSPC",
        ESPIPE => "ESPIPE",
        EROFS => "EROFS",
        EMLINK => "EMLINK",
        EPIPE => "EPIPE",
        ERANGE => "ERANGE",
        ENAMETOOLONG => "ENAMETOOLONG",
        ENOSYS => "ENOSYS",
        ENOTEMPTY => "ENOTEMPTY",
        ELOOP => "ELOOP",
        EOPNOTSUPP => "EOPNOTSUPP",
        EAFNOSUPPORT => "EAFNOSUPPORT",
        EADDRINUSE => "EADDRINUSE",
        ENETUNREACH => "ENETUNREACH",
        ECONNREFUSED => "ECONNREFUSED",
        EDQUOT => "EDQUOT",
        _ => "EOTHER",
    }
}

/// A refusal or failure of rustbox itself, before or around a run.
/// Maps to exit status 2 and one line on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The command line was malformed (unknown option, bad value, missing program).
    Usage(String),
    /// A step failed (setup, box management, I/O).
    Step(StepError),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(s) => write!(f, "{s}"),
            Failure::Step(e) => write!(f, "{e}"),
        }
    }
}

impl From<StepError> for Failure {
    fn from(e: StepError) -> Self {
        Failure::Step(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_step_detail_and_errno() {
        let e = StepError::sys("mount.bind", "/usr -> /usr", libc::EPERM);
        let s = e.to_string();
        assert!(s.starts_with("mount.bind: /usr -> /usr: EPERM ("), "{s}");
        assert_eq!(e.errno_name(), Some("EPERM"));
    }

    #[test]
    fn display_without_errno() {
        let e = StepError::new("credentials.verify", "uid is 0");
        assert_eq!(e.to_string(), "credentials.verify: uid is 0");
    }
}
