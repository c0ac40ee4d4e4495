//! `--exec`: a one-shot run in one process. It takes a free box of the
//! configured `exec_boxes` and holds that box's lock from the first step to the
//! last, so nothing else can use, re-make or remove the box meanwhile:
//!
//! 1. every `--copy-in` source is opened with the caller's rights: a missing
//!    or unreadable one is refused before any box is taken;
//! 2. the first box that nobody holds and nobody has made (or that a dead
//!    `--exec` left: a live one would hold its lock) is made as `--init`
//!    makes one, marked one-shot;
//! 3. the sources are copied into its `/box`, as the caller;
//! 4. the program runs as `--run` runs it, meta and JSON included;
//! 5. each `--copy-out` file is copied out of `/box`, read beneath it with no
//!    link followed, written with the caller's rights;
//! 6. the box is removed as `--cleanup` removes it, whatever happened before.
//!
//! Many callers starting at once each take a different box: taking one is a
//! non-blocking flock, and a box is made only under its lock.

use crate::boxdir::{lifecycle, BoxLock, BoxPaths};
use crate::caller::outfile::OutFile;
use crate::caller::Caller;
use crate::request::config::Config;
use crate::request::spec::RunSpec;
use crate::run::{Outcome, Outputs};
use crate::sys::error::StepError;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The run's outcome, and the first failure of what came after it (writing
/// the meta or JSON, copying out, removing the box). Err: nothing ran.
pub fn exec(
    spec: &RunSpec,
    cfg: &Config,
    caller: &Caller,
    caller_env: &[(OsString, OsString)],
) -> Result<(Outcome, Result<(), StepError>), StepError> {
    let copy_in = spec
        .copy_in
        .iter()
        .map(|(src, dst)| {
            Ok((
                open_source(src, caller)?,
                below_box(dst, "exec.copy-in")?,
                src,
            ))
        })
        .collect::<Result<Vec<_>, StepError>>()?;
    let copy_out = spec
        .copy_out
        .iter()
        .map(|(name, dest)| Ok((below_box(name, "exec.copy-out")?, PathBuf::from(dest))))
        .collect::<Result<Vec<_>, StepError>>()?;
    let (paths, mut lock) = take_box(cfg)?;
    let mut spec = spec.clone();
    spec.box_id = paths.id;
    // From here every way out removes the box.
    let ready = lifecycle::init_locked(cfg, &paths, caller, spec.limits.quota, &mut lock, true)
        .and_then(|()| {
            copy_in
                .into_iter()
                .try_for_each(|(f, dst, src)| put(&paths, caller, f, &dst, src))
        })
        .and_then(|()| {
            copy_out
                .iter()
                .try_for_each(|(_, dest)| outside_every_box(cfg, paths.id, dest))
        })
        .and_then(|()| Outputs::open(&spec, cfg, caller));
    let outputs = match ready {
        Ok(o) => o,
        Err(e) => {
            return Err(match lifecycle::cleanup_locked(cfg, &paths, lock) {
                Ok(()) => e,
                Err(u) => StepError {
                    detail: format!("{}; removing the box failed too: {u}", e.detail),
                    ..e
                },
            })
        }
    };
    let (outcome, written, lock) =
        crate::run::run_held(&spec, cfg, caller, caller_env, outputs, paths.clone(), lock);
    // The most a box can hold: its quota; none for isolate's box on the host's
    // disk (root, host_disk_box, no --quota: `lifecycle::init_locked`).
    let on_host_disk = cfg.host_disk_box && spec.limits.quota.is_none() && caller.is_root();
    let (quota_kb, _) = spec.limits.quota.unwrap_or(cfg.box_quota);
    let max = if on_host_disk {
        u64::MAX
    } else {
        quota_kb.saturating_mul(1024)
    };
    let copied = copy_out.iter().try_for_each(|(name, dest)| {
        outside_every_box(cfg, paths.id, dest)
            .and_then(|()| take_out(&paths, caller, name, dest, max))
    });
    let removed = lifecycle::cleanup_locked(cfg, &paths, lock);
    Ok((outcome, written.and(copied).and(removed)))
}

/// A copy-out destination lies outside every box's trees (`hostpath::place`, as
/// for `-M`): another box's are its program's to change, and this box's own
/// `box/` goes with the box.
fn outside_every_box(cfg: &Config, id: u32, dest: &Path) -> Result<(), StepError> {
    if dest.as_os_str() == "-" {
        return Ok(()); // standard output, as for -M
    }
    match crate::caller::hostpath::place(&cfg.box_root, id, dest, "exec.copy-out")? {
        crate::caller::hostpath::Place::Outside => Ok(()),
        crate::caller::hostpath::Place::OwnBox(_) => Err(StepError::new(
            "exec.copy-out",
            format!(
                "{}: inside the box's own box/, which --exec removes: name a place outside it",
                dest.display()
            ),
        )),
    }
}

/// The first box of `exec_boxes` that is free: nobody holds its lock, and it is
/// not made, or only by an `--exec` that is gone (which is removed first).
fn take_box(cfg: &Config) -> Result<(BoxPaths, BoxLock), StepError> {
    let (first, last) = cfg.exec_boxes;
    let last = last.min(cfg.num_boxes.saturating_sub(1));
    for id in first..=last {
        let paths = BoxPaths::new(cfg, id);
        // Twice at most: once more after removing a dead --exec's box.
        for _ in 0..2 {
            let Some(lock) = BoxLock::try_acquire(cfg, &paths)? else {
                break; // busy
            };
            match (lock.state.initialized, lock.state.oneshot) {
                (false, _) => return Ok((paths, lock)),
                (true, false) => break, // somebody's box
                // A dead --exec's box that cannot be removed now is passed by:
                // one bad box must not stop every --exec.
                (true, true) => {
                    if lifecycle::cleanup_locked(cfg, &paths, lock).is_err() {
                        break;
                    }
                }
            }
        }
    }
    Err(StepError::new(
        "exec.box",
        format!("no free box among exec_boxes {first}-{last} (each is busy or made by --init)"),
    ))
}

/// A name below /box: relative, every component a plain name (a leading
/// `/box/` is taken off).
fn below_box(name: &OsStr, step: &str) -> Result<PathBuf, StepError> {
    let p = Path::new(name);
    let p = p.strip_prefix("/box").unwrap_or(p);
    let ok = !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if !ok {
        return Err(StepError::new(
            step,
            format!(
                "{}: a name below /box, with no '..', '.' or leading '/'",
                name.to_string_lossy()
            ),
        ));
    }
    Ok(p.to_path_buf())
}

/// A copy-in source, opened now with the caller's rights; a regular file.
fn open_source(src: &OsStr, caller: &Caller) -> Result<File, StepError> {
    let step = "exec.copy-in";
    let shown = src.to_string_lossy().into_owned();
    // As the box's owner, who the program runs for (root with --as-uid acts
    // for that user): as --dir sources are checked.
    let f = crate::caller::fsid::as_user(caller.acting, &[], step, || {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: a FIFO named as a source does not hold the caller; it is
        // refused below as not a regular file.
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(src)
            .map_err(|e| StepError::io(step, shown.clone(), &e))
    })?;
    let m = f
        .metadata()
        .map_err(|e| StepError::io(step, shown.clone(), &e))?;
    if !m.is_file() {
        return Err(StepError::new(step, format!("{shown}: not a regular file")));
    }
    Ok(f)
}

/// Copy `src` to `dst` below the box's fresh /box, as the caller (whose /box
/// it is): parent directories made, nothing there already, no link followed.
fn put(
    paths: &BoxPaths,
    caller: &Caller,
    mut src: File,
    dst: &Path,
    shown: &OsStr,
) -> Result<(), StepError> {
    use std::os::unix::fs::PermissionsExt;
    let step = "exec.copy-in";
    let mode = src
        .metadata()
        .map_err(|e| StepError::io(step, shown.to_string_lossy().into_owned(), &e))?
        .permissions()
        .mode()
        & 0o755
        | 0o600;
    // As the box's owner (the caller, or whom root acts for with --as-uid):
    // /box is theirs, and is lent to the box user from them.
    crate::caller::fsid::as_user(caller.acting, &[], step, || {
        let parent = dst.parent().unwrap_or(Path::new(""));
        let mut made = PathBuf::new();
        for c in parent.components() {
            made.push(c);
            let dir = crate::caller::hostpath::open_no_links(
                &paths.workspace,
                made.parent().unwrap_or(Path::new("")),
                step,
            )?;
            let name = crate::sys::fd::cstring(c.as_os_str().as_bytes(), step, made.display())?;
            // SAFETY: mkdirat below a directory descriptor we own, with a valid name.
            if unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) } != 0
                && std::io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST)
            {
                return Err(StepError::last_os(
                    step,
                    format!("mkdir /box/{}", made.display()),
                ));
            }
        }
        let dir = crate::caller::hostpath::open_no_links(&paths.workspace, parent, step)?;
        let name = dst.file_name().unwrap_or_default();
        let cname = crate::sys::fd::cstring(name.as_bytes(), step, dst.display())?;
        // SAFETY: openat below a directory descriptor we own, with a valid name;
        // O_EXCL|O_NOFOLLOW: a new file, never through a link.
        let fd = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                cname.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                mode,
            )
        };
        // SAFETY: openat's return: a new descriptor or -1.
        let fd = unsafe {
            crate::sys::fd::owned(
                fd.into(),
                step,
                format_args!("create /box/{}", dst.display()),
            )?
        };
        let mut out = File::from(fd);
        std::io::copy(&mut src, &mut out).map(drop).map_err(|e| {
            StepError::io(
                step,
                format!("copy {} to /box/{}", shown.to_string_lossy(), dst.display()),
                &e,
            )
        })
    })
}

/// Copy /box/`name` to `dest`, as the caller: read beneath /box with no link
/// followed (the box is the caller's again after the run, its links and
/// special files gone), written as `-M` is. A program that left no such file
/// leaves nothing to copy: that is said, and is no failure of rustbox's.
fn take_out(
    paths: &BoxPaths,
    caller: &Caller,
    name: &Path,
    dest: &Path,
    max_bytes: u64,
) -> Result<(), StepError> {
    let step = "exec.copy-out";
    let id = caller.path_identity();
    // Read as the box's owner (the box is theirs again after the run).
    let file = crate::caller::fsid::as_user(caller.acting, &[], step, || {
        let at = match crate::caller::hostpath::open_no_links(&paths.workspace, name, step) {
            Ok(fd) => fd,
            Err(e) if e.errno == Some(libc::ENOENT) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat writes only `st`, on a descriptor we own.
        if unsafe { libc::fstat(at.as_raw_fd(), &mut st) } != 0 {
            return Err(StepError::last_os(
                step,
                format!("stat /box/{}", name.display()),
            ));
        }
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(StepError::new(
                step,
                format!("/box/{}: not a regular file", name.display()),
            ));
        }
        // A sparse file can say any size while it holds no block of the quota:
        // more than the box could hold is refused, not written out as zeros.
        if st.st_size as u64 > max_bytes {
            return Err(StepError::new(
                step,
                format!(
                    "/box/{}: {} bytes, more than the box's quota of {max_bytes}",
                    name.display(),
                    st.st_size
                ),
            ));
        }
        let again = crate::sys::fd::cstring(
            format!("/proc/self/fd/{}", at.as_raw_fd()).as_bytes(),
            step,
            "fd",
        )?;
        // SAFETY: reopen the O_PATH descriptor we own for reading, through its
        // /proc link; O_NONBLOCK as a guard (it is a regular file).
        let rc = unsafe {
            libc::open(
                again.as_ptr(),
                libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        // SAFETY: open's return: a new descriptor or -1.
        let fd: OwnedFd = unsafe {
            crate::sys::fd::owned(
                rc.into(),
                step,
                format_args!("open /box/{}", name.display()),
            )?
        };
        Ok(Some(File::from(fd)))
    })?;
    let Some(file) = file else {
        crate::request::progress::say(
            0,
            format_args!(
                "rustbox: --copy-out: the program left no /box/{}; nothing copied",
                name.display()
            ),
        );
        return Ok(());
    };
    // The size was checked, but the box's owner (or a process the program
    // handed a descriptor to) may write the file still: no more than `max_bytes`
    // is copied, and a file that grows past it fails, nothing renamed in place.
    let mut capped = Capped {
        inner: file,
        left: max_bytes,
    };
    OutFile::prepare(dest, id, "copy-out")?.copy_from(&mut capped)
}

/// A reader that fails once more than `left` bytes come.
struct Capped {
    inner: File,
    left: u64,
}

impl std::io::Read for Capped {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(
                "it grew past the box's quota while being copied",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A copy-out source that grows past the limit while it is copied fails,
    /// after at most the limit was read.
    #[test]
    fn a_capped_reader_fails_past_its_limit() {
        let path = std::env::temp_dir().join(format!("rustbox-capped-{}", std::process::id()));
        std::fs::write(&path, vec![7u8; 100]).unwrap();
        let mut at_limit = Capped {
            inner: File::open(&path).unwrap(),
            left: 100,
        };
        let mut all = Vec::new();
        assert_eq!(at_limit.read_to_end(&mut all).unwrap(), 100);
        let mut over = Capped {
            inner: File::open(&path).unwrap(),
            left: 99,
        };
        assert!(std::io::copy(&mut over, &mut std::io::sink()).is_err());
        std::fs::remove_file(&path).unwrap();
    }
}
