//! Descriptors and C strings: where a descriptor a system call returned becomes
//! an owned one, and where a path or argument becomes a C string, with the error
//! that names the step, once for the whole crate.

use crate::sys::error::StepError;
use std::ffi::CString;
use std::fmt::Display;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `bytes` as a C string; a NUL inside is an error of `step` about `what`.
pub fn cstring(bytes: &[u8], step: &str, what: impl Display) -> Result<CString, StepError> {
    CString::new(bytes).map_err(|_| StepError::new(step, format!("{what}: NUL byte inside")))
}

/// The path `p` as a C string (see `cstring`).
pub fn cpath(p: &Path, step: &str) -> Result<CString, StepError> {
    cstring(p.as_os_str().as_bytes(), step, p.display())
}

/// The descriptor a system call just returned, owned; a negative return is the
/// errno of `step`, doing `what`, read now.
///
/// # Safety
/// `rc` is the return value of a call that returns a new descriptor or -1
/// (open, openat, socket, open_tree, openat2, pidfd_open, perf_event_open...),
/// and nothing else owns that descriptor.
pub unsafe fn owned(rc: i64, step: &str, what: impl Display) -> Result<OwnedFd, StepError> {
    if rc < 0 {
        return Err(StepError::last_os(step, what.to_string()));
    }
    // SAFETY: by the contract above, `rc` is a fresh descriptor nothing owns.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

/// The same for a call made through `nix`, which returns the raw descriptor.
///
/// # Safety
/// As `owned`: `r` comes straight from a nix call that returns a new descriptor.
pub unsafe fn owned_nix(r: nix::Result<RawFd>) -> nix::Result<OwnedFd> {
    // SAFETY: by the contract above.
    r.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `struct open_how` of openat2(2) (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(`dir`, `rel`, `flags` | O_CLOEXEC, `resolve`): the path resolved
/// under the RESOLVE_* rules given (below `dir`, no links, no mount crossed...).
pub fn openat2(
    dir: &impl std::os::fd::AsRawFd,
    rel: &std::ffi::CStr,
    flags: libc::c_int,
    resolve: u64,
) -> std::io::Result<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    // SAFETY: openat2 with a descriptor the caller holds, a NUL-terminated path
    // and an open_how of the size passed; it returns a new descriptor or -1.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            rel.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `rc` is the fresh descriptor openat2 just returned.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

/// Open `p` (links followed) with `flags` | `O_CLOEXEC`.
pub fn open(p: &Path, flags: libc::c_int, step: &str) -> Result<OwnedFd, StepError> {
    let c = cpath(p, step)?;
    openat_cwd(&c, flags).map_err(|e| StepError::io(step, format!("open {}", p.display()), &e))
}

/// openat(AT_FDCWD, `c`, `flags` | O_CLOEXEC), the system call itself: musl's
/// `open` adds an `fcntl(F_SETFD)` for O_CLOEXEC, for kernels older than
/// 2.6.23. Retried on EINTR, as std's `File::open` is.
fn openat_cwd(c: &std::ffi::CStr, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    loop {
        // SAFETY: openat with a valid NUL-terminated path returns a new
        // descriptor or -1.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                c.as_ptr(),
                flags | libc::O_CLOEXEC,
            )
        };
        if rc >= 0 {
            // SAFETY: `rc` is the fresh descriptor openat just returned;
            // nothing else owns it.
            return Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) });
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `statx` STATX_MNT_ID_UNIQUE (Linux 6.8): a mount's id, never reused.
pub const STATX_MNT_ID_UNIQUE: u32 = 0x4000;

/// The mount id `statx` gives for the object `fd` names (`mask`: STATX_MNT_ID,
/// or STATX_MNT_ID_UNIQUE, whose ids are never reused); None if the kernel
/// did not fill it in, the errno if statx failed.
pub fn statx_mount_id(fd: RawFd, mask: u32) -> Result<Option<u64>, i32> {
    // SAFETY: an all-zero statx is a valid buffer to fill.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: statx of the descriptor itself (empty path) into our buffer.
    let rc = unsafe {
        libc::statx(
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            mask,
            &mut st,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    Ok((st.stx_mask & mask != 0).then_some(st.stx_mnt_id))
}

/// The whole of a kernel file (procfs, cgroupfs) in one read, and one more for
/// the end. `std::fs::read_to_string` asks for the size first and, as these
/// files say 0, starts with a 32-byte read and doubles: a dozen calls for
/// `/proc/net/netstat`, each making the kernel format the text again up to
/// where it stands.
pub fn read_text(p: impl AsRef<Path>) -> std::io::Result<String> {
    String::from_utf8(read_bytes(p)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// The same, as bytes. Opened with `openat_cwd` and read into a buffer that
/// holds any such file at once (std's `read_to_end` asks the size with `fstat`
/// and the position with `lseek` first): open, read, read, close, where std and
/// musl made seven calls of it.
pub fn read_bytes(p: impl AsRef<Path>) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let c = CString::new(p.as_ref().as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut f = std::fs::File::from(openat_cwd(&c, libc::O_RDONLY)?);
    let mut buf = vec![0u8; 16 << 10];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn owned_descriptors_and_errors() {
        let d = open(Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, "t").unwrap();
        assert!(d.as_raw_fd() > 2);
        let e = open(Path::new("/nonexistent/x"), libc::O_RDONLY, "t.open").unwrap_err();
        assert_eq!((e.step.as_str(), e.errno), ("t.open", Some(libc::ENOENT)));
        assert!(e.detail.contains("/nonexistent/x"), "{e}");
        let e = cpath(Path::new(std::ffi::OsStr::from_bytes(b"/a\0b")), "t").unwrap_err();
        assert!(e.detail.contains("NUL"), "{e}");
    }

    /// A file larger than the first buffer is read whole; a missing one is its
    /// errno.
    #[test]
    fn whole_files_in_few_reads() {
        let dir = std::env::temp_dir().join(format!("rustbox-fd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("big"), &big).unwrap();
        assert_eq!(read_bytes(dir.join("big")).unwrap(), big);
        std::fs::write(dir.join("small"), "max\n").unwrap();
        assert_eq!(read_text(dir.join("small")).unwrap(), "max\n");
        let e = read_bytes(dir.join("missing")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(read_text("/proc/self/stat").unwrap().contains(')'));
    }
}
