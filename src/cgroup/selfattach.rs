//! A process moving itself into a cgroup v1 group: "0" written to a group's `tasks`
//! file moves the calling thread there.
//!
//! Why not the supervisor writing the proxy's pid to `cgroup.procs`: moving another
//! process, or a whole thread group, takes the kernel's global
//! `cgroup_threadgroup_rwsem` for writing, and that waits for an RCU grace period
//! unless a migration happened in the last few tens of milliseconds: 13 ms median
//! per run on the development VM (2 vCPUs, HZ=250) once runs are 50 ms or more
//! apart. A thread moving itself needs no such lock (`cgroup_procs_write_start` in
//! kernel/cgroup/cgroup.c takes it only for a pid other than 0, or for a thread
//! group): 0.13 ms for all six hierarchies. The proxy is single-threaded, so its
//! one thread is the whole process, and everything it forks afterwards starts in
//! the group.
//!
//! The files are opened by the supervisor before the clone (the permission check
//! uses the opener's credentials) and written by the proxy before it runs anything
//! else of the box; the supervisor then checks the membership from outside.

use crate::sys::error::StepError;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

pub struct SelfAttach {
    files: Vec<(OwnedFd, PathBuf)>,
}

impl SelfAttach {
    /// Open the `tasks` file of each group directory for writing.
    pub fn open(dirs: &[PathBuf]) -> Result<SelfAttach, StepError> {
        let mut files = Vec::with_capacity(dirs.len());
        for d in dirs {
            let path = d.join("tasks");
            files.push((
                crate::sys::fd::open(&path, libc::O_WRONLY, "cgroup.attach")?,
                path,
            ));
        }
        Ok(SelfAttach { files })
    }

    /// Move the calling thread into every group. Call only in a single-threaded
    /// process. The descriptors are closed either way.
    pub fn join(self) -> Result<(), StepError> {
        for (fd, path) in &self.files {
            // SAFETY: write of one byte from a static buffer to a descriptor we own.
            if unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
                return Err(StepError::last_os(
                    "cgroup.attach",
                    format!("write 0 to {}", path.display()),
                ));
            }
        }
        Ok(())
    }
}
