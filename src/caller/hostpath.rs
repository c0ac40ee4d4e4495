//! Host paths the caller names (`--dir` sources, `-M`, `--json`) that may lie in a
//! box's directory tree, where sandboxed programs plant links between runs, and
//! the access check of a caller's bind source.
//!
//! A box's `box/` and `tmp/` belong to the program while it runs, and `tmp/` keeps
//! whatever it left there. rustbox runs as root, so following a link planted there
//! would let the program aim a root write (meta, JSON) or a bind mount (`--dir`) at
//! any host path. So: a result file inside the run's own `box/` is written only
//! after the box is handed back, beneath the box directory with no link followed
//! (`outfile`); one in a box's `tmp/` or in another box is refused; and bind
//! sources below the box root are resolved without following any link at all.

use crate::sys::error::StepError;
use crate::sys::fd;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// `p` made absolute (against the working directory) with `.` and `..` resolved
/// textually, the way a reader of the command line sees it.
pub fn lexical(p: &Path) -> PathBuf {
    let mut out = if p.is_absolute() {
        PathBuf::from("/")
    } else {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
    };
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The part of `p` below `box_root`, if `p` lies there (textually).
pub fn below(box_root: &Path, p: &Path) -> Option<PathBuf> {
    lexical(p)
        .strip_prefix(lexical(box_root))
        .ok()
        .map(Path::to_path_buf)
}

/// Whether `rel` (relative to the box root) is in a tree a program writes:
/// `<N>/box/...` or `<N>/tmp/...`, the directories themselves included.
fn is_program_tree(rel: &Path) -> bool {
    let mut c = rel.components();
    let id = c.next().and_then(|x| x.as_os_str().to_str());
    let sub = c.next().map(|x| x.as_os_str());
    id.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        && sub.is_some_and(|s| s == "box" || s == "tmp")
}

/// Where a result file (`-M`, `--json`) lies with respect to the box trees.
#[derive(Debug, PartialEq, Eq)]
pub enum Place {
    /// Outside every box's `box/` and `tmp/`: written as any caller's file.
    Outside,
    /// Inside this run's own `box/`: `rel` below the box directory `<N>`, starting
    /// with `box/`. Written after `/box` is handed back, beneath `<N>` with no link
    /// followed (`outfile`).
    OwnBox(PathBuf),
}

/// Where the result file `p` (`what` = "meta" or "json") of a run of box `id` lies,
/// named directly or through links of the caller's own. Inside this box's `box/`
/// is allowed (isolate writes there; Judgels reads its meta from there). Refused:
/// `box/` itself, a box's `tmp/` (emptied and closed after every run, and the
/// program's while it runs), and another box's trees (whose program may be running).
pub fn place(box_root: &Path, id: u32, p: &Path, what: &str) -> Result<Place, StepError> {
    let named = lexical(p);
    // The directory as the kernel will resolve it (the caller's links followed).
    let resolved = named
        .parent()
        .and_then(|dir| std::fs::canonicalize(dir).ok())
        .zip(named.file_name())
        .map(|(dir, name)| dir.join(name));
    let root = lexical(box_root);
    let roots = [
        std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone()),
        root,
    ];
    // The resolved form first: it is what the kernel will reach.
    let inside = resolved
        .iter()
        .chain(std::iter::once(&named))
        .find_map(|c| {
            roots
                .iter()
                .find_map(|r| c.strip_prefix(r).ok().filter(|rel| is_program_tree(rel)))
        });
    let Some(rel) = inside else {
        return Ok(Place::Outside);
    };
    let mut c = rel.components();
    let own = c
        .next()
        .is_some_and(|n| n.as_os_str() == id.to_string().as_str());
    let sub = c.next().map(|x| x.as_os_str().to_owned());
    let below: PathBuf = c.collect();
    let refuse = |why: &str| {
        Err(StepError::new(
            what,
            format!("{} is inside {why}; write it in this box's box/ or outside the boxes (e.g. in the directory --init printed)", p.display()),
        ))
    };
    match (own, sub.as_deref().and_then(|s| s.to_str())) {
        (false, _) => refuse("another box's box/ or tmp/, whose program may be running"),
        (true, Some("tmp")) => {
            refuse("the box's tmp/, which is emptied and closed after every run")
        }
        (true, _) if below.as_os_str().is_empty() => {
            refuse("nothing: it names the box's box/ itself")
        }
        (true, _) => Ok(Place::OwnBox(Path::new("box").join(below))),
    }
}

/// Open `rel` below the directory `root` as an `O_PATH` descriptor, refusing every
/// symbolic link on the way (and any escape from `root`): `openat2` with
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`. `root` itself is the administrator's
/// configured path and is resolved normally.
pub fn open_no_links(root: &Path, rel: &Path, step: &str) -> Result<OwnedFd, StepError> {
    let shown = root.join(rel).display().to_string();
    let dir = fd::open(root, libc::O_PATH | libc::O_DIRECTORY, step)?;
    let rel_c = if rel.as_os_str().is_empty() {
        fd::cpath(Path::new("."), step)?
    } else {
        fd::cpath(rel, step)?
    };
    let opened = fd::openat2(
        &dir,
        &rel_c,
        libc::O_PATH,
        libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
    );
    opened.map_err(|e| {
        let e = StepError::io(step, format!("open {shown}"), &e);
        match e.errno {
            Some(libc::ELOOP) | Some(libc::EXDEV) => StepError {
                detail: format!("{} (a link on the path is not followed)", e.detail),
                ..e
            },
            _ => e,
        }
    })
}

/// Check that the current filesystem identity may read and search the directory
/// behind `fd` (and write it, with `write`): `faccessat2(AT_EMPTY_PATH|AT_EACCESS)`,
/// which judges by the fsuid, fsgid and groups, not by the real ids. Used on a
/// caller's bind source while running with the caller's identity (`fsid`), so the
/// box gets nothing its caller could not read (hardening plan H4).
pub fn may_access(fd: &OwnedFd, write: bool, step: &str, shown: &Path) -> Result<(), StepError> {
    let mode = libc::R_OK | libc::X_OK | if write { libc::W_OK } else { 0 };
    let want = if write { "read and write" } else { "read" };
    access(fd, mode, step, shown, want)
}

/// Check that the current filesystem identity may create entries in the
/// directory behind `fd` (write and search it), as `may_access` does.
pub fn may_write_dir(fd: &OwnedFd, step: &str, shown: &Path) -> Result<(), StepError> {
    access(fd, libc::W_OK | libc::X_OK, step, shown, "write in")
}

fn access(fd: &OwnedFd, mode: i32, step: &str, shown: &Path, want: &str) -> Result<(), StepError> {
    // SAFETY: faccessat2 on a descriptor we own with an empty path; no memory is
    // written.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_faccessat2,
            std::os::fd::AsRawFd::as_raw_fd(fd),
            c"".as_ptr(),
            mode,
            libc::AT_EMPTY_PATH | libc::AT_EACCESS,
        )
    };
    if rc < 0 {
        return Err(StepError::last_os(
            step,
            format!("{}: the caller may not {want} it", shown.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_resolves_dots() {
        assert_eq!(lexical(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(lexical(Path::new("/../..")), PathBuf::from("/"));
    }

    #[test]
    fn program_trees() {
        let r = Path::new("/var/rb");
        let at = |p: &str| place(r, 7, Path::new(p), "meta");
        let refused = |p: &str| at(p).is_err();
        assert_eq!(
            at("/var/rb/7/box/meta").unwrap(),
            Place::OwnBox("box/meta".into())
        );
        assert_eq!(
            at("/var/rb/x/../7/box/a/m").unwrap(),
            Place::OwnBox("box/a/m".into())
        );
        assert!(refused("/var/rb/7/tmp/x/meta"));
        assert!(refused("/var/rb/7/tmp"));
        assert!(refused("/var/rb/7/box"));
        assert!(refused("/var/rb/7/box/."));
        assert!(refused("/var/rb/8/box/meta"), "another box's");
        assert!(refused("/var/rb/70/box/meta"), "another box's");
        assert_eq!(
            at("/var/rb/7/meta").unwrap(),
            Place::Outside,
            "judge0 keeps meta beside box/"
        );
        assert_eq!(at("/var/rb/7/boxes/m").unwrap(), Place::Outside);
        assert_eq!(at("/var/rb/seven/box/m").unwrap(), Place::Outside);
        assert_eq!(at("/tmp/meta").unwrap(), Place::Outside);
        assert_eq!(
            below(r, Path::new("/var/rb/3/tmp/a")),
            Some(PathBuf::from("3/tmp/a"))
        );
        assert_eq!(below(r, Path::new("/var/rbx/3")), None);
    }
}
