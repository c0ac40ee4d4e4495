//! One walker for the directory trees sandboxed programs fill (`/box`, a caller's
//! read-write directory, a box's whole directory at removal), with a visitor that
//! decides what happens to each entry.
//!
//! A program can build a tree of any shape: 30,000 directories nested in one chain
//! takes it a second and a half. So the walk is iterative (bounded stack) and keeps
//! at most three descriptors open at any depth: the directory being visited, one
//! entry of it, and, while descending, the directory below. Going back up reopens
//! `..` and checks that it is the very directory (device, inode) the walk came down
//! from: if anything was moved meanwhile the walk stops there and says so, rather
//! than carry on in a place it never checked. What the walk remembers per level is
//! the names still to visit there (memory grows with the tree, never the stack).
//!
//! Nothing is followed: every entry is opened `O_PATH|O_NOFOLLOW` below its
//! directory's descriptor, a directory is entered only by reopening the same name
//! `O_NOFOLLOW|O_DIRECTORY` and checking it is the entry just examined, and no
//! directory of another file system (a mount point) is entered.
//!
//! Errors do not end the walk: an entry that cannot be handled is recorded and the
//! walk goes on with the next one, so one bad entry does not leave the rest of the
//! tree unhandled; the walk then fails with the first error (and how many more).

use crate::sys::error::StepError;
use crate::sys::fd;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    /// Symbolic links, devices, FIFOs, sockets.
    Special,
}

/// One entry of a directory being walked.
pub struct Entry<'a> {
    /// The directory holding the entry, open for reading.
    pub parent: RawFd,
    pub name: &'a OsStr,
    /// The entry itself, `O_PATH|O_NOFOLLOW`: acting through it, a rename since
    /// the status was read changes nothing.
    pub fd: &'a OwnedFd,
    pub st: &'a libc::stat,
    pub kind: Kind,
    /// On the walk's file system (false: something is mounted here).
    pub same_fs: bool,
    /// The host path, for messages.
    pub shown: &'a Path,
}

/// What to do with each entry.
pub trait Visitor {
    /// A directory: Ok(true) to walk below it (another file system only where
    /// `cross_mounts` says so).
    fn dir(&mut self, e: &Entry) -> Result<bool, StepError>;
    /// Whether the walk may enter a file system mounted below its top.
    fn cross_mounts(&self) -> bool {
        false
    }
    /// Anything but a directory.
    fn other(&mut self, e: &Entry) -> Result<(), StepError>;
    /// Everything below the directory `name` of `parent` was visited.
    fn left(&mut self, _parent: RawFd, _name: &OsStr, _shown: &Path) -> Result<(), StepError> {
        Ok(())
    }
}

/// Open the directory `path` for a walk (links on the way followed, the last one
/// not).
pub fn open_dir(path: &Path, step: &str) -> Result<OwnedFd, StepError> {
    // SAFETY: straight from nix's open, which returns a new descriptor.
    unsafe { fd::owned_nix(nix::fcntl::open(path, DIR_FLAGS, Mode::empty())) }
        .map_err(|e| StepError::nix(step, path.display().to_string(), e))
}

/// Open the directory `name` below `dir`, not following a link.
fn open_dir_at(dir: RawFd, name: &OsStr) -> nix::Result<OwnedFd> {
    // SAFETY: straight from nix's openat, which returns a new descriptor.
    unsafe {
        fd::owned_nix(nix::fcntl::openat(
            Some(dir),
            name,
            DIR_FLAGS,
            Mode::empty(),
        ))
    }
}

/// The names in the directory `path` (its links followed: `/proc/self/fd`), read
/// through `nix`'s directory stream. std's `read_dir` panics when closing the
/// directory fails (a fault sweep found it); here a failed close is only that.
pub fn list(path: &Path, step: &str) -> Result<Vec<OsString>, StepError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    // SAFETY: straight from nix's open, which returns a new descriptor.
    let dir = unsafe { fd::owned_nix(nix::fcntl::open(path, flags, Mode::empty())) }
        .map_err(|e| StepError::nix(step, format!("open {}", path.display()), e))?;
    read_names(&dir, step, path)
}

fn stat_of(fd: RawFd, step: &str, shown: &Path) -> Result<libc::stat, StepError> {
    nix::sys::stat::fstat(fd).map_err(|e| StepError::nix(step, shown.display().to_string(), e))
}

/// The names in `dir` (without `.` and `..`). A read error is an error: a listing
/// that silently stops early would leave the rest unhandled.
fn read_names(dir: &OwnedFd, step: &str, shown: &Path) -> Result<Vec<OsString>, StepError> {
    crate::sys::dirents::names(dir.as_raw_fd())
        .map_err(|e| StepError::nix(step, format!("read {}", shown.display()), e))
}

/// The names of `dir` as a level's stack of names to visit: popped from the end,
/// they come in the order listed.
fn names(dir: &OwnedFd, step: &str, shown: &Path) -> Result<Vec<OsString>, StepError> {
    let mut out = read_names(dir, step, shown)?;
    out.reverse();
    Ok(out)
}

fn open_entry(dir: RawFd, name: &OsStr) -> nix::Result<(OwnedFd, libc::stat)> {
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    // SAFETY: straight from nix's openat, which returns a new descriptor.
    let fd = unsafe { fd::owned_nix(nix::fcntl::openat(Some(dir), name, flags, Mode::empty())) }?;
    let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
    Ok((fd, st))
}

fn kind(st: &libc::stat) -> Kind {
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFREG => Kind::File,
        _ => Kind::Special,
    }
}

/// Errors of one walk: the first, and how many there were.
#[derive(Default)]
struct Failures {
    first: Option<StepError>,
    count: usize,
}

impl Failures {
    fn add(&mut self, e: StepError) {
        self.count += 1;
        self.first.get_or_insert(e);
    }
    fn finish(self) -> Result<(), StepError> {
        match self.first {
            None => Ok(()),
            Some(mut e) => {
                if self.count > 1 {
                    e.detail = format!("{} (and {} more)", e.detail, self.count - 1);
                }
                Err(e)
            }
        }
    }
}

/// A level of the walk above the current directory.
struct Level {
    dev: u64,
    ino: u64,
    /// Names of this directory not visited yet.
    todo: Vec<OsString>,
}

/// Walk everything below `top` (whose host path is `shown`), depth first, calling
/// `v` for each entry; `step` names the walk in errors.
pub fn walk(top: OwnedFd, shown: &Path, step: &str, v: &mut impl Visitor) -> Result<(), StepError> {
    let st = stat_of(top.as_raw_fd(), step, shown)?;
    let dev = st.st_dev;
    let mut fails = Failures::default();
    let mut path: PathBuf = shown.to_path_buf();
    let todo = names(&top, step, shown)?;
    let mut levels = vec![Level {
        dev: st.st_dev,
        ino: st.st_ino,
        todo,
    }];
    let mut cur = top;
    loop {
        let level = levels.last_mut().expect("the top level is popped last");
        let Some(name) = level.todo.pop() else {
            // Everything below `cur` is done: back up to its parent.
            if levels.len() == 1 {
                break;
            }
            levels.pop();
            let up = levels.last().expect("not the top level");
            let name = path
                .file_name()
                .map(OsStr::to_os_string)
                .unwrap_or_default();
            let parent = match back_up(&cur, (up.dev, up.ino), &path, step) {
                Ok(p) => p,
                Err(e) => {
                    fails.add(e);
                    return fails.finish();
                }
            };
            cur = parent;
            path.pop();
            if let Err(e) = v.left(cur.as_raw_fd(), &name, &path.join(&name)) {
                fails.add(e);
            }
            continue;
        };
        let here = path.join(&name);
        let st = match visit(&cur, &name, &here, dev, step, v) {
            Ok(Some(st)) => st,
            Ok(None) => continue,
            Err(err) => {
                fails.add(err);
                continue;
            }
        };
        let (sub, todo) = match descend(&cur, &name, &st, &here, step) {
            Ok(x) => x,
            Err(err) => {
                fails.add(err);
                continue;
            }
        };
        levels.push(Level {
            dev: st.st_dev,
            ino: st.st_ino,
            todo,
        });
        cur = sub;
        path = here;
    }
    fails.finish()
}

/// Show the visitor the entry `name` of `cur` (opened without following a link).
/// A directory it wants walked (on the walk's file system `dev`, or across
/// mounts where it asks) is returned, with what it was when examined.
fn visit(
    cur: &OwnedFd,
    name: &OsStr,
    here: &Path,
    dev: u64,
    step: &str,
    v: &mut impl Visitor,
) -> Result<Option<libc::stat>, StepError> {
    let (fd, st) = open_entry(cur.as_raw_fd(), name)
        .map_err(|e| StepError::nix(step, here.display().to_string(), e))?;
    let e = Entry {
        parent: cur.as_raw_fd(),
        name,
        fd: &fd,
        st: &st,
        kind: kind(&st),
        same_fs: st.st_dev == dev,
        shown: here,
    };
    if e.kind != Kind::Dir {
        v.other(&e)?;
        return Ok(None);
    }
    let walk_it = v.dir(&e)? && (e.same_fs || v.cross_mounts());
    Ok(walk_it.then_some(st))
}

/// The parent of `cur` (the directory at `path`), opened by `..` and checked to
/// be the directory the walk came from (`was`: device and inode).
fn back_up(cur: &OwnedFd, was: (u64, u64), path: &Path, step: &str) -> Result<OwnedFd, StepError> {
    let parent = open_dir_at(cur.as_raw_fd(), OsStr::new(".."))
        .map_err(|e| StepError::nix(step, format!("{}/..", path.display()), e))?;
    let pst = stat_of(parent.as_raw_fd(), step, path)?;
    if (pst.st_dev, pst.st_ino) != was {
        return Err(StepError::new(
            step,
            format!(
                "{} was moved during the walk; stopping there",
                path.display()
            ),
        ));
    }
    Ok(parent)
}

/// The subdirectory `name` of `cur`, reopened for reading by that name (it must
/// still be the directory the visitor just examined, `st`), and its names.
fn descend(
    cur: &OwnedFd,
    name: &OsStr,
    st: &libc::stat,
    here: &Path,
    step: &str,
) -> Result<(OwnedFd, Vec<OsString>), StepError> {
    let sub = open_dir_at(cur.as_raw_fd(), name)
        .map_err(|e| StepError::nix(step, here.display().to_string(), e))?;
    let again = stat_of(sub.as_raw_fd(), step, here)?;
    if (again.st_dev, again.st_ino) != (st.st_dev, st.st_ino) {
        return Err(StepError::new(
            step,
            format!("{} was replaced during the walk", here.display()),
        ));
    }
    let todo = names(&sub, step, here)?;
    Ok((sub, todo))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts what it sees; fails on entries named "bad".
    #[derive(Default)]
    struct Count {
        dirs: usize,
        others: usize,
        left: usize,
    }

    impl Visitor for Count {
        fn dir(&mut self, e: &Entry) -> Result<bool, StepError> {
            self.dirs += 1;
            if e.name == "bad" {
                return Err(StepError::new("t", "bad dir"));
            }
            Ok(true)
        }
        fn other(&mut self, e: &Entry) -> Result<(), StepError> {
            self.others += 1;
            if e.name == "bad" {
                return Err(StepError::new("t", "bad file"));
            }
            Ok(())
        }
        fn left(&mut self, _: RawFd, _: &OsStr, _: &Path) -> Result<(), StepError> {
            self.left += 1;
            Ok(())
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("rustbox-walk-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }

    #[test]
    fn deep_chain_with_few_descriptors() {
        let t = scratch("deep");
        // 3,000 levels, built relative to a descriptor (no long paths).
        let mut d = open_dir(&t, "t").unwrap();
        for _ in 0..3000 {
            nix::sys::stat::mkdirat(Some(d.as_raw_fd()), "d", Mode::from_bits_truncate(0o755))
                .unwrap();
            d = open_dir_at(d.as_raw_fd(), OsStr::new("d")).unwrap();
        }
        std::fs::write(
            "/proc/self/fd/".to_string() + &d.as_raw_fd().to_string() + "/f",
            "x",
        )
        .unwrap();
        drop(d);
        let before = open_fds();
        struct Peak(Count, usize);
        impl Visitor for Peak {
            fn dir(&mut self, e: &Entry) -> Result<bool, StepError> {
                self.1 = self.1.max(open_fds());
                self.0.dir(e)
            }
            fn other(&mut self, e: &Entry) -> Result<(), StepError> {
                self.1 = self.1.max(open_fds());
                self.0.other(e)
            }
        }
        let mut v = Peak(Count::default(), 0);
        walk(open_dir(&t, "t").unwrap(), &t, "t", &mut v).unwrap();
        assert_eq!((v.0.dirs, v.0.others), (3000, 1));
        assert!(
            v.1 <= before + 4,
            "{} descriptors open during the walk, {before} before",
            v.1
        );
        // std's remove_dir_all is itself iterative.
        std::fs::remove_dir_all(&t).unwrap();
    }

    #[test]
    fn goes_on_past_errors_and_reports_them() {
        let t = scratch("errors");
        std::fs::create_dir_all(t.join("a/bad/x")).unwrap();
        std::fs::write(t.join("a/bad/x/f"), "").unwrap();
        std::fs::write(t.join("bad"), "").unwrap();
        std::fs::create_dir_all(t.join("z/y")).unwrap();
        std::fs::write(t.join("z/y/g"), "").unwrap();
        let mut v = Count::default();
        let e = walk(open_dir(&t, "t").unwrap(), &t, "t", &mut v).unwrap_err();
        assert!(e.detail.contains("(and 1 more)"), "{e}");
        // a, a/bad (refused, not entered), z, z/y; the files bad and z/y/g.
        assert_eq!((v.dirs, v.others, v.left), (4, 2, 3));
        std::fs::remove_dir_all(&t).unwrap();
    }
}
