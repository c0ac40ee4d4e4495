//! Reading a directory's names with `getdents64(2)` itself.
//!
//! Why not the C library's `readdir_r` (what `nix::dir` calls): it reports a
//! failed `getdents64` by its return value, an errno, which `nix` does not take for
//! an error (it only knows -1), so a listing that failed halfway looked complete.
//! A fault sweep found that: a failed read of `/box` during the hand-back left the
//! rest of `/box` the box user's, with the run reported OK. And std's `read_dir`
//! panics when `closedir` fails. Here every failed call is an error, and closing
//! is the caller's descriptor's business.

use std::ffi::{OsStr, OsString};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;

/// Offsets in `struct linux_dirent64`: d_ino (8), d_off (8), d_reclen (2),
/// d_type (1), then the NUL-terminated name.
const RECLEN_AT: usize = 16;
const NAME_AT: usize = 19;

/// Every name in the directory open at `fd` (read from its current offset, which
/// for a freshly opened directory is the start), `.` and `..` left out.
pub fn names(fd: RawFd) -> Result<Vec<OsString>, nix::errno::Errno> {
    let mut buf = vec![0u8; 32 * 1024];
    let mut out = Vec::new();
    loop {
        // SAFETY: getdents64 writes at most `buf.len()` bytes into our buffer.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            let e = nix::errno::Errno::last();
            if e == nix::errno::Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Ok(out);
        }
        let mut off = 0;
        let end = n as usize;
        while off + NAME_AT < end {
            let reclen = u16::from_ne_bytes([buf[off + RECLEN_AT], buf[off + RECLEN_AT + 1]]);
            let reclen = usize::from(reclen);
            if reclen == 0 || off + reclen > end {
                // A record the kernel cannot have written.
                return Err(nix::errno::Errno::EIO);
            }
            let name = &buf[off + NAME_AT..off + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if name != b"." && name != b".." {
                out.push(OsStr::from_bytes(name).to_os_string());
            }
            off += reclen;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn lists_every_name_of_a_large_directory() {
        let d = std::env::temp_dir().join(format!("rustbox-dirents-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).unwrap();
        // More than one buffer's worth, and a name that is not UTF-8.
        for i in 0..3000 {
            std::fs::write(d.join(format!("file-with-a-longish-name-{i:05}")), "").unwrap();
        }
        std::fs::write(d.join(OsStr::from_bytes(b"\xff\xfe")), "").unwrap();
        let f = std::fs::File::open(&d).unwrap();
        let mut v = names(f.as_raw_fd()).unwrap();
        v.sort();
        assert_eq!(v.len(), 3001);
        assert!(v.contains(&OsStr::from_bytes(b"\xff\xfe").to_os_string()));
        assert!(!v.iter().any(|n| n == "." || n == ".."));
        // Not a directory: the kernel's error, not an empty listing.
        let file = std::fs::File::open(d.join("file-with-a-longish-name-00000")).unwrap();
        assert_eq!(names(file.as_raw_fd()), Err(nix::errno::Errno::ENOTDIR));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
