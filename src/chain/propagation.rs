//! Mount propagation: make every mount in the child's new mount namespace private.
//!
//! The namespace starts as a copy of the host's, with the host's propagation. Until
//! this step, a mount made here could propagate back to the host through a shared
//! peer group; after it, nothing done in the box is seen outside.

use crate::sys::error::StepError;

pub fn make_private() -> Result<(), StepError> {
    let root = c"/";
    // SAFETY: mount(2) with MS_REC|MS_PRIVATE changes propagation only; no strings
    // other than the static "/" are passed.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        return Err(StepError::last_os(
            "mount.private",
            "MS_REC|MS_PRIVATE on /",
        ));
    }
    Ok(())
}

/// Verify: no mount in our namespace has a `shared:` tag in mountinfo.
pub fn verify_private() -> Result<(), StepError> {
    let info = crate::sys::fd::read_text("/proc/self/mountinfo")
        .map_err(|e| StepError::io("mount.private", "/proc/self/mountinfo", &e))?;
    if let Some(line) = info.lines().find(|l| l.contains(" shared:")) {
        return Err(StepError::new(
            "mount.private",
            format!("a mount is still shared: {line}"),
        ));
    }
    Ok(())
}
