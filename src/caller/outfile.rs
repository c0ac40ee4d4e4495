//! The result files a caller names (`-M` meta, `--json`), written with the
//! caller's rights and never into a file somebody else can rewrite.
//!
//! A regular file is never written in place: the new content goes into a fresh
//! file created (as the caller, `O_EXCL`) in the same directory and is renamed
//! over the name. So a file another user created there first (`/tmp/meta`, mode
//! 0666, in a sticky directory with `fs.protected_regular=0`) is replaced by one
//! the caller owns, or, where the caller may not replace it (another user's file
//! in a sticky directory), nothing is written and the run says so; a hard link
//! planted at the name is replaced, its target untouched; and the judge never
//! reads a half-written file. A symbolic link at the name is refused, as before.
//! A device or FIFO the caller may write (`/dev/null`, a pipe) is written in
//! place; `-` is standard output.
//!
//! `prepare` runs before the box starts, so an unusable path is refused up front;
//! `write` runs after the run.

use crate::sys::error::StepError;
use std::ffi::{CString, OsStr, OsString};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

enum Target {
    Stdout,
    /// A regular file, or no file yet: a new file in `dir` renamed over `name`.
    Replace {
        dir: OwnedFd,
        name: OsString,
        /// The new file's mode: the caller's old file's, or 0644.
        mode: u32,
    },
    /// A device, FIFO or socket the caller may write: written in place.
    Stream(std::fs::File),
    /// A file in the run's own `box/`, which the program had in its hands: `rel`
    /// below the box directory `box_dir`, reopened after the run beneath it with
    /// no link followed, and whatever the program left at the name replaced.
    InBox {
        box_dir: PathBuf,
        rel: PathBuf,
    },
}

/// One result file, checked and ready to be written.
pub struct OutFile {
    target: Target,
    /// "meta" or "json": the step named in errors.
    what: &'static str,
    shown: PathBuf,
    /// The caller's filesystem identity.
    id: (u32, u32),
}

fn cstr(s: &OsStr, what: &str, shown: &Path) -> Result<CString, StepError> {
    crate::sys::fd::cstring(s.as_bytes(), what, shown.display())
}

/// The directory and file name of `path` (`meta` is `./meta`).
fn split(path: &Path, what: &str) -> Result<(PathBuf, OsString), StepError> {
    let name = path
        .file_name()
        .ok_or_else(|| StepError::new(what, format!("{}: not a file name", path.display())))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name.to_os_string()))
}

impl OutFile {
    /// Check `path` with the caller's identity `id` (`crate::caller::fsid`), and open what
    /// must be opened now.
    pub fn prepare(path: &Path, id: (u32, u32), what: &'static str) -> Result<OutFile, StepError> {
        let out = |target| OutFile {
            target,
            what,
            shown: path.to_path_buf(),
            id,
        };
        if path.as_os_str() == "-" {
            return Ok(out(Target::Stdout));
        }
        let target = crate::caller::fsid::as_user(id, &[], what, || target_of(path, id, what))?;
        Ok(out(target))
    }

    /// A result file at `rel` (`box/...`) below the box directory `box_dir`: checked
    /// now with the caller's identity `id`, and opened again when written.
    pub fn prepare_in_box(
        box_dir: &Path,
        rel: &Path,
        shown: &Path,
        id: (u32, u32),
        what: &'static str,
    ) -> Result<OutFile, StepError> {
        crate::caller::fsid::as_user(id, &[], what, || {
            open_in_box(box_dir, rel, shown, what).map(drop)
        })?;
        Ok(OutFile {
            target: Target::InBox {
                box_dir: box_dir.to_path_buf(),
                rel: rel.to_path_buf(),
            },
            what,
            shown: shown.to_path_buf(),
            id,
        })
    }

    /// Write `bytes` as the whole content.
    pub fn write(self, bytes: &[u8]) -> Result<(), StepError> {
        self.copy_from(&mut &bytes[..])
    }

    /// Write what `src` reads, to its end, as the whole content (`--exec`'s
    /// copy-out streams a box's file this way).
    pub fn copy_from(self, src: &mut dyn std::io::Read) -> Result<(), StepError> {
        let what = self.what;
        let err =
            |e: std::io::Error| StepError::io(what, format!("write {}", self.shown.display()), &e);
        match self.target {
            Target::Stdout => {
                let mut o = std::io::stdout().lock();
                std::io::copy(src, &mut o)
                    .and_then(|_| o.flush())
                    .map_err(err)
            }
            Target::Stream(mut f) => std::io::copy(src, &mut f).map(drop).map_err(err),
            Target::Replace { dir, name, mode } => {
                crate::caller::fsid::as_user(self.id, &[], what, || {
                    replace(&dir, &name, mode, src, what, &self.shown)
                })
            }
            // A fresh file of the caller's, mode 0644: not the mode of what the
            // program left at the name.
            Target::InBox { box_dir, rel } => {
                crate::caller::fsid::as_user(self.id, &[], what, || {
                    let (dir, name) = open_in_box(&box_dir, &rel, &self.shown, what)?;
                    replace(&dir, &name, 0o644, src, what, &self.shown)
                        .map_err(|e| remove_forgery(&dir, &name, e))
                })
            }
        }
    }
}

/// The directory of `rel` (`box/...`) below `box_dir`, opened beneath it with no
/// link followed (`openat2`), and the file name, checked: whatever is at the name
/// but a directory is replaced by a rename, which follows nothing (a symbolic
/// link, a hard link, a FIFO the program left there stays as it is, unlinked from
/// this name).
fn open_in_box(
    box_dir: &Path,
    rel: &Path,
    shown: &Path,
    what: &str,
) -> Result<(OwnedFd, OsString), StepError> {
    let (dir_rel, name) = split(rel, what)?;
    let dir = crate::caller::hostpath::open_no_links(box_dir, &dir_rel, what)?;
    let cname = cstr(&name, what, shown)?;
    match nix::sys::stat::fstatat(
        Some(dir.as_raw_fd()),
        cname.as_c_str(),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    ) {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {
            return Err(StepError::sys(
                what,
                format!("{}: a directory is at that name", shown.display()),
                libc::EISDIR,
            ))
        }
        Ok(_) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(StepError::nix(what, shown.display().to_string(), e)),
    }
    crate::caller::hostpath::may_write_dir(&dir, what, shown)?;
    Ok((dir, name))
}

/// After a failed write in the box: the name may hold a file the program forged;
/// remove it, so that a judge reading it finds nothing rather than the program's
/// verdict, and say whether that worked.
fn remove_forgery(dir: &OwnedFd, name: &OsStr, e: StepError) -> StepError {
    let gone = CString::new(name.as_bytes()).ok().is_some_and(|c| {
        // SAFETY: unlinkat of one name below a descriptor we own; checked.
        let rc = unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT)
    });
    let note = if gone {
        "; nothing is left at that name"
    } else {
        "; what is at that name is the program's, not rustbox's"
    };
    StepError {
        detail: format!("{}{note}", e.detail),
        ..e
    }
}

/// What writing `path` means, decided as the caller (`id`): a new file renamed
/// over the name, or a device or FIFO of theirs written in place.
fn target_of(path: &Path, id: (u32, u32), what: &str) -> Result<Target, StepError> {
    let (dir_path, name) = split(path, what)?;
    // The directory as the caller reaches it (their own links followed).
    let dir = crate::sys::fd::open(&dir_path, libc::O_PATH | libc::O_DIRECTORY, what)?;
    let cname = cstr(&name, what, path)?;
    let st = match nix::sys::stat::fstatat(
        Some(dir.as_raw_fd()),
        cname.as_c_str(),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    ) {
        Ok(st) => Some(st),
        Err(nix::errno::Errno::ENOENT) => None,
        Err(e) => return Err(StepError::nix(what, path.display().to_string(), e)),
    };
    let refuse = |why: String, errno| Err(StepError::sys(what, why, errno));
    match st.map(|s| (s.st_mode & libc::S_IFMT, s.st_uid)) {
        Some((libc::S_IFLNK, _)) => refuse(
            format!("{}: a symbolic link is not followed", path.display()),
            libc::ELOOP,
        ),
        Some((libc::S_IFDIR, _)) => refuse(path.display().to_string(), libc::EISDIR),
        // A FIFO or socket of another user would hand them the meta file, and
        // let them write what the judge reads back from it.
        Some((kind, owner))
            if kind != libc::S_IFREG
                && kind != libc::S_IFCHR
                && kind != libc::S_IFBLK
                && owner != id.0 =>
        {
            refuse(
                format!(
                    "{} is a FIFO or socket of uid {owner}: not written into",
                    path.display()
                ),
                libc::EPERM,
            )
        }
        Some((kind, _)) if kind != libc::S_IFREG => open_stream(&dir, &cname, what, path),
        _ => {
            if let Some(st) = st.filter(|s| s.st_uid != id.0) {
                may_replace(&dir, &dir_path, &st, id, what, path)?;
            }
            crate::caller::hostpath::may_write_dir(&dir, what, &dir_path)?;
            // A judge's own file keeps its permissions (a 0600 meta stays private).
            let mode = st
                .filter(|s| s.st_uid == id.0)
                .map_or(0o644, |s| s.st_mode & 0o666);
            Ok(Target::Replace { dir, name, mode })
        }
    }
}

/// A device or the caller's FIFO: written in place, opened now (as the caller),
/// without blocking on a FIFO nobody reads (ENXIO); writes block again after.
fn open_stream(
    dir: &OwnedFd,
    cname: &std::ffi::CStr,
    what: &str,
    path: &Path,
) -> Result<Target, StepError> {
    let flags = libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK;
    // SAFETY: openat below a descriptor we own, with a valid name, returns a new
    // descriptor or -1.
    let fd = unsafe {
        crate::sys::fd::owned(
            libc::openat(dir.as_raw_fd(), cname.as_ptr(), flags).into(),
            what,
            format_args!("open {}", path.display()),
        )
    }?;
    // SAFETY: fcntl(F_GETFL) on a descriptor we own; no pointer.
    let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    // SAFETY: fcntl(F_SETFL) on a descriptor we own; no pointer.
    if fl < 0 || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK) } < 0 {
        return Err(StepError::last_os(
            what,
            format!("fcntl {}", path.display()),
        ));
    }
    Ok(Target::Stream(std::fs::File::from(fd)))
}

/// Another user's file at the name: in a sticky directory only the file's owner,
/// the directory's or root may replace it.
fn may_replace(
    dir: &OwnedFd,
    dir_path: &Path,
    st: &libc::stat,
    id: (u32, u32),
    what: &str,
    path: &Path,
) -> Result<(), StepError> {
    let dst = nix::sys::stat::fstat(dir.as_raw_fd())
        .map_err(|e| StepError::nix(what, dir_path.display().to_string(), e))?;
    if dst.st_mode & libc::S_ISVTX != 0 && id.0 != 0 && dst.st_uid != id.0 {
        return Err(StepError::sys(
            what,
            format!(
                "{} is a file of uid {} in a sticky directory: not written into, \
                 and not replaced (name another file)",
                path.display(),
                st.st_uid
            ),
            libc::EPERM,
        ));
    }
    Ok(())
}

/// A fresh name for the new file beside `name`: not guessable, so nobody can
/// have created it first.
fn temp_name(name: &OsStr) -> OsString {
    let mut r = [0u8; 8];
    // SAFETY: getrandom fills the buffer we own, of the length given.
    let n = unsafe { libc::getrandom(r.as_mut_ptr().cast(), r.len(), 0) };
    let noise = if n == r.len() as isize {
        u64::from_ne_bytes(r)
    } else {
        // No entropy source: O_EXCL still refuses a name that exists.
        u64::from(std::process::id()) << 32
            | u64::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos()),
            )
    };
    // Independent of `name`, so a name near NAME_MAX still gets one.
    let _ = name;
    OsString::from(format!(".rustbox-{noise:016x}"))
}

fn replace(
    dir: &OwnedFd,
    name: &OsStr,
    mode: u32,
    src: &mut dyn std::io::Read,
    what: &str,
    shown: &Path,
) -> Result<(), StepError> {
    let tmp = temp_name(name);
    let ctmp = cstr(&tmp, what, shown)?;
    let cname = cstr(name, what, shown)?;
    // SAFETY: openat below a descriptor we own, with valid names; checked.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            ctmp.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode,
        )
    };
    if fd < 0 {
        return Err(StepError::last_os(
            what,
            format!("create a new file beside {}", shown.display()),
        ));
    }
    // SAFETY: a descriptor openat(2) just returned, owned by nobody else.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    let written = std::io::copy(src, &mut f)
        .map(drop)
        .map_err(|e| StepError::io(what, format!("write {}", shown.display()), &e));
    drop(f);
    let renamed = written.and_then(|()| {
        // SAFETY: renameat within one directory descriptor we own, valid names.
        let rc = unsafe {
            libc::renameat(
                dir.as_raw_fd(),
                ctmp.as_ptr(),
                dir.as_raw_fd(),
                cname.as_ptr(),
            )
        };
        if rc < 0 {
            return Err(StepError::last_os(
                what,
                format!("rename into {}", shown.display()),
            ));
        }
        Ok(())
    });
    if let Err(e) = renamed {
        // SAFETY: unlinkat of the name we created, below our descriptor.
        if unsafe { libc::unlinkat(dir.as_raw_fd(), ctmp.as_ptr(), 0) } < 0 {
            let left = StepError::last_os(what, format!("remove {}", tmp.to_string_lossy()));
            return Err(StepError {
                detail: format!("{}; {left}", e.detail),
                ..e
            });
        }
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn me() -> (u32, u32) {
        (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    }

    fn scratch(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("rustbox-out-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    #[test]
    fn replaces_the_file_and_leaves_a_hard_linked_target_alone() {
        let d = scratch("replace");
        let victim = d.join("victim");
        std::fs::write(&victim, "keep\n").unwrap();
        let meta = d.join("meta");
        std::fs::hard_link(&victim, &meta).unwrap();
        let ino = std::fs::metadata(&meta).unwrap().ino();
        OutFile::prepare(&meta, me(), "meta")
            .unwrap()
            .write(b"status:OK\n")
            .unwrap();
        assert_eq!(std::fs::read_to_string(&meta).unwrap(), "status:OK\n");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
        assert_ne!(std::fs::metadata(&meta).unwrap().ino(), ino);
        // Nothing else is left in the directory.
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 2);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn links_directories_and_bad_names_are_refused() {
        let d = scratch("refuse");
        std::os::unix::fs::symlink("/etc/passwd", d.join("link")).unwrap();
        let e = OutFile::prepare(&d.join("link"), me(), "meta")
            .err()
            .unwrap();
        assert_eq!(e.errno, Some(libc::ELOOP), "{e}");
        let e = OutFile::prepare(&d, me(), "json").err().unwrap();
        assert_eq!(e.errno, Some(libc::EISDIR), "{e}");
        assert!(OutFile::prepare(&d.join("none/meta"), me(), "meta").is_err());
        // A device is written in place.
        OutFile::prepare(Path::new("/dev/null"), me(), "meta")
            .unwrap()
            .write(b"x")
            .unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn in_the_box_whatever_the_program_left_is_replaced_and_no_link_followed() {
        let d = scratch("inbox");
        let boxd = d.join("box");
        std::fs::create_dir(&boxd).unwrap();
        let victim = d.join("victim");
        std::fs::write(&victim, "keep\n").unwrap();
        let shown = boxd.join("meta");
        let write = |rel: &str| {
            OutFile::prepare_in_box(&d, Path::new(rel), &shown, me(), "meta")
                .and_then(|f| f.write(b"status:OK\n"))
        };
        // Ready before the run; then the program plants a link at the name.
        let f = OutFile::prepare_in_box(&d, Path::new("box/meta"), &shown, me(), "meta").unwrap();
        std::os::unix::fs::symlink(&victim, &shown).unwrap();
        f.write(b"status:RE\n").unwrap();
        assert_eq!(std::fs::read_to_string(&shown).unwrap(), "status:RE\n");
        assert!(!std::fs::symlink_metadata(&shown).unwrap().is_symlink());
        // A hard link and a FIFO at the name: replaced, the target untouched.
        std::fs::remove_file(&shown).unwrap();
        std::fs::hard_link(&victim, &shown).unwrap();
        write("box/meta").unwrap();
        std::fs::remove_file(&shown).unwrap();
        nix::unistd::mkfifo(&shown, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
        write("box/meta").unwrap();
        assert_eq!(std::fs::read_to_string(&shown).unwrap(), "status:OK\n");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
        // A link on the way is not followed; a directory at the name is refused.
        std::os::unix::fs::symlink(&d, boxd.join("up")).unwrap();
        let e = write("box/up/victim").err().unwrap();
        assert!(e.to_string().contains("not followed"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
        std::fs::create_dir(boxd.join("dir")).unwrap();
        assert_eq!(write("box/dir").err().unwrap().errno, Some(libc::EISDIR));
        // Nothing but what the test made is left.
        let mut left: Vec<_> = std::fs::read_dir(&boxd)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["dir", "meta", "up"]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
