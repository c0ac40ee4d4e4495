//! Limits of the box's own IPC namespace: SysV message queues, shared memory and
//! semaphores, and POSIX message queues.
//!
//! Objects of these kinds live in the kernel, outside any process: RLIMIT_AS
//! (`-m`) does not count them, and a program can create them, detach and go on.
//! A new IPC namespace starts with the kernel's defaults, which are host-sized
//! (32000 message queues of 16 KiB: 500 MiB of kernel memory; shared memory
//! without a bound). The box's pid 1 is in the box's new IPC namespace and still
//! root, and `/proc/sys/kernel/msg*`, `shm*`, `sem` and `/proc/sys/fs/mqueue/*`
//! act on the IPC namespace of the process that writes them: it writes low values
//! there before the program exists, and reads them back. It reaches them through
//! the host's `/proc` (still in pid 1's view: root's mount table, copied by the
//! clone) when that is procfs and each file opens beneath it without crossing
//! a mount and takes the write (`limit`); otherwise (a container's `/proc/sys`
//! is a read-only bind) through a procfs of its own mounted nowhere
//! (`sys::procmount`). Which procfs does not matter to what the
//! write does: a sysctl of an IPC namespace is looked up in the writer's. The
//! host's costs nothing to make: a procfs of its own is about 0.13 ms of pid 1's
//! path here (its mount, and its teardown when the descriptor is closed).
//!
//! Only `--cg` bounds the box's memory as a whole (tmpfs files, memfd, kernel
//! objects); these limits make the SysV objects small even without it.

use crate::sys::error::StepError;
use std::io::Write;
use std::os::unix::fs::FileExt;

/// Shared memory in all, bytes (also the largest segment).
pub const SHM_BYTES: u64 = 32 << 20;

/// (file below /proc/sys, value). Values chosen so that ordinary uses (a few
/// queues, a shared segment of some MiB, semaphore sets) still work.
fn limits(page: u64) -> [(&'static str, String); 8] {
    [
        // Message queues: 16 of at most 16 KiB each (256 KiB in all), messages
        // of up to 8 KiB (the kernel's defaults for the last two).
        ("kernel/msgmni", "16".into()),
        ("kernel/msgmnb", "16384".into()),
        ("kernel/msgmax", "8192".into()),
        // Shared memory: 32 segments, 32 MiB in all.
        ("kernel/shmmni", "32".into()),
        ("kernel/shmmax", SHM_BYTES.to_string()),
        ("kernel/shmall", (SHM_BYTES / page).to_string()),
        // Semaphores: SEMMSL SEMMNS SEMOPM SEMMNI: 32 sets, 4096 semaphores.
        ("kernel/sem", "250 4096 32 32".into()),
        // POSIX message queues (their bytes are bounded by RLIMIT_MSGQUEUE too).
        ("fs/mqueue/queues_max", "16".into()),
    ]
}

fn normal(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Write the limits into the calling process's IPC namespace and read them back.
/// Returns a description for the evidence.
///
/// Through the host's /proc first, each file opened beneath it without crossing
/// a mount or following a link (`openat2` RESOLVE_NO_XDEV: a directory bound on
/// /proc/sys, or a FUSE one, is never written instead of the kernel's). If any
/// of that fails (not procfs, a mount on the way, a read-only /proc/sys, a value
/// that does not read back), all eight again through a procfs of its own, and
/// that is the answer; the evidence says why.
pub fn limit() -> Result<String, StepError> {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
    let limits = limits(page);
    let shown = match host_proc().and_then(|p| write_all(&p, &limits)) {
        Ok(shown) => format!("through the host's /proc): {}", shown.join(", ")),
        Err(why) => {
            // Both failures named if this one fails too.
            let both = |e: StepError| StepError {
                detail: format!("{}; before it, through the host's /proc: {why}", e.detail),
                ..e
            };
            let own = crate::sys::procmount::detached("ipc.limits", true).map_err(both)?;
            let shown = write_all(&own, &limits).map_err(both)?;
            format!(
                "through a procfs of its own, the host's /proc refused: {why}): {}",
                shown.join(", ")
            )
        }
    };
    Ok(format!("the box's IPC namespace (read back, {shown}"))
}

/// Every limit written below `proc` and read back: "name=value" each.
fn write_all(
    proc: &std::os::fd::OwnedFd,
    limits: &[(&str, String)],
) -> Result<Vec<String>, StepError> {
    let resolve = libc::RESOLVE_BENEATH
        | libc::RESOLVE_NO_XDEV
        | libc::RESOLVE_NO_SYMLINKS
        | libc::RESOLVE_NO_MAGICLINKS;
    limits
        .iter()
        .map(|(file, value)| {
            let rel = format!("sys/{file}");
            let c = crate::sys::fd::cstring(rel.as_bytes(), "ipc.limits", &rel)?;
            // One descriptor to write and read back through (a sysctl file
            // reads from offset 0 again with pread).
            let f = crate::sys::fd::openat2(proc, &c, libc::O_RDWR, resolve)
                .map_err(|e| StepError::io("ipc.limits", format!("open /proc/{rel}"), &e))?;
            write_back(f, file, value)
        })
        .collect()
}

/// The host's /proc, if it is procfs: its root as a descriptor.
fn host_proc() -> Result<std::os::fd::OwnedFd, StepError> {
    let p = crate::sys::fd::open(
        std::path::Path::new("/proc"),
        libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        "ipc.limits",
    )?;
    match nix::sys::statfs::fstatfs(&p) {
        Ok(st) if st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC => Ok(p),
        Ok(_) => Err(StepError::new("ipc.limits", "/proc is not procfs")),
        Err(e) => Err(StepError::nix("ipc.limits", "fstatfs /proc", e)),
    }
}

/// Write `value` to the sysctl `file` (below /proc/sys) open as `fd`, and read it
/// back; "name=value" for the evidence.
fn write_back(fd: std::os::fd::OwnedFd, file: &str, value: &str) -> Result<String, StepError> {
    let path = format!("/proc/sys/{file}");
    let mut f = std::fs::File::from(fd);
    f.write_all(value.as_bytes())
        .map_err(|e| StepError::io("ipc.limits", format!("write {value} to {path}"), &e))?;
    let mut buf = [0u8; 128];
    let n = f
        .read_at(&mut buf, 0)
        .map_err(|e| StepError::io("ipc.limits", format!("read {path}"), &e))?;
    let back = String::from_utf8_lossy(&buf[..n]);
    if normal(&back) != value {
        return Err(StepError::new(
            "ipc.limits",
            format!("{path} reads {:?} after {value:?} was written", back.trim()),
        ));
    }
    Ok(format!(
        "{}={value}",
        file.rsplit('/').next().unwrap_or(file)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shm_total_matches_the_page_size() {
        for page in [4096u64, 16384, 65536] {
            let l = limits(page);
            let all: u64 = l[5].1.parse().unwrap();
            assert_eq!(all * page, SHM_BYTES);
        }
        assert_eq!(normal("250\t4096\t32\t32\n"), "250 4096 32 32");
    }
}
