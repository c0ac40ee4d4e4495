//! A procfs instance of the calling process's own, mounted nowhere: `fsopen`,
//! `fsconfig(FSCONFIG_CMD_CREATE)` and `fsmount` give a descriptor of a new
//! mount that is attached to no tree, so no other process can see it and no
//! mount propagation can carry it anywhere; it is gone when the descriptor is
//! closed.
//!
//! Why: a container runtime mounts its `/proc/sys` read-only (Docker, podman,
//! Kubernetes without `procMount: Unmasked`), to keep the container from the
//! host's settings. The box's pid 1 writes only settings of the box's own new
//! IPC namespace there (`supervisor::ipcns`), which the read-only bind was never
//! meant to stop; a procfs instance of its own has no such bind. What it may
//! write is what root in this IPC namespace may write through any procfs: the
//! mount changes where the files are reached, not what a write to them does.

use crate::sys::error::StepError;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd};

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: libc::c_uint = 0x1;
const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;
const MOUNT_ATTR_NOEXEC: libc::c_uint = 0x8;

/// A new, detached procfs: its root as a descriptor (`O_PATH`-like, for
/// `openat`). `writable` false mounts it read-only as well.
pub fn detached(step: &str, writable: bool) -> Result<OwnedFd, StepError> {
    let name: &CStr = c"proc";
    // SAFETY: fsopen reads a NUL-terminated file system name and returns a new
    // descriptor or -1; `owned` takes it over.
    let ctx = unsafe {
        crate::sys::fd::owned(
            libc::syscall(libc::SYS_fsopen, name.as_ptr(), FSOPEN_CLOEXEC),
            step,
            "fsopen(proc)",
        )?
    };
    // SAFETY: fsconfig on our own context descriptor with no key or value.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            ctx.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if rc < 0 {
        return Err(StepError::last_os(
            step,
            "fsconfig(proc, FSCONFIG_CMD_CREATE)",
        ));
    }
    let mut attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if !writable {
        attrs |= MOUNT_ATTR_RDONLY;
    }
    // SAFETY: fsmount of a created context returns a new mount descriptor or -1.
    unsafe {
        crate::sys::fd::owned(
            libc::syscall(libc::SYS_fsmount, ctx.as_raw_fd(), FSMOUNT_CLOEXEC, attrs),
            step,
            "fsmount(proc)",
        )
    }
}
