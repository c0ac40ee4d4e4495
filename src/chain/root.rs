//! The box's new root: a tmpfs holding only mount points, the directory rules
//! mounted on them, then the tmpfs itself made read-only.
//!
//! Runs in the child's private mount namespace, as root, before `pivot_root`. Host
//! paths (bind sources) are resolved in the host's view; targets only ever below the
//! new root's descriptor (see `mounts`).

use super::mounts::{
    self, Leaf, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY,
};
use super::report::Reporter;
use crate::plan::{MountKind, MountPlan, RootPlan};
use crate::sys::error::StepError;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Devices of the minimal /dev: all harmless character devices.
pub const DEV_NODES: &[&str] = &["null", "zero", "full", "random", "urandom"];
const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

pub fn describe_attrs(a: u64) -> String {
    let mut v = Vec::new();
    v.push(if a & MOUNT_ATTR_RDONLY != 0 {
        "ro"
    } else {
        "rw"
    });
    if a & MOUNT_ATTR_NOSUID != 0 {
        v.push("nosuid");
    }
    if a & MOUNT_ATTR_NODEV != 0 {
        v.push("nodev");
    }
    if a & MOUNT_ATTR_NOEXEC != 0 {
        v.push("noexec");
    }
    v.join(",")
}

fn ms_flags(attrs: u64) -> libc::c_ulong {
    let mut f = 0;
    if attrs & MOUNT_ATTR_RDONLY != 0 {
        f |= libc::MS_RDONLY;
    }
    if attrs & MOUNT_ATTR_NOSUID != 0 {
        f |= libc::MS_NOSUID;
    }
    if attrs & MOUNT_ATTR_NODEV != 0 {
        f |= libc::MS_NODEV;
    }
    if attrs & MOUNT_ATTR_NOEXEC != 0 {
        f |= libc::MS_NOEXEC;
    }
    f
}

/// Mount the root tmpfs and every planned mount on it; returns the root descriptor.
/// The root, and the inside paths of the `maybe` binds it skipped (their
/// sources absent): they get no mount, and so no Landlock rule.
pub fn build(
    plan: &RootPlan,
    rep: &Reporter,
) -> Result<(OwnedFd, Vec<std::path::PathBuf>), StepError> {
    // The root tmpfs only holds mount points: tiny, and never executable itself.
    let host_mp = mounts::open_path(&plan.mount_point, "root.tmpfs")?;
    mounts::mount_fs(
        "tmpfs",
        &host_mp,
        libc::MS_NOSUID | libc::MS_NODEV,
        "mode=0755,size=1m,nr_inodes=4096",
        &format!("tmpfs on {}", plan.mount_point.display()),
    )?;
    drop(host_mp);
    // Re-open: the old descriptor names the directory under the new mount.
    let root = mounts::open_path(&plan.mount_point, "root.tmpfs")?;
    rep.ok("root.tmpfs", false, "tmpfs root, 1 MiB, 4096 inodes");

    let mut skipped = Vec::new();
    for m in &plan.mounts {
        if !mount_one(&root, m, rep)? {
            skipped.push(m.inside.clone());
        }
    }

    // Nothing may be created in the root itself.
    mounts::set_attrs(
        root.as_raw_fd(),
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        false,
        "root tmpfs read-only",
    )?;
    let flags = mounts::statvfs_flags(&root)?;
    if flags & libc::ST_RDONLY == 0 {
        return Err(StepError::new(
            "root.readonly",
            "root tmpfs still writable after remount",
        ));
    }
    rep.ok("root.readonly", true, "/ is a read-only tmpfs");
    Ok((root, skipped))
}

/// Mount `m`; false if it was a `maybe` bind skipped for its absent source.
fn mount_one(root: &OwnedFd, m: &MountPlan, rep: &Reporter) -> Result<bool, StepError> {
    let inside = m.inside.display().to_string();
    match &m.kind {
        MountKind::Bind { .. } => return bind(root, m, rep),
        MountKind::Fs { fstype, data } => {
            let target = mounts::make_beneath(root.as_raw_fd(), &m.inside, Leaf::Dir)?;
            mounts::mount_fs(fstype, &target, ms_flags(m.attrs), data, &inside)?;
            let now = mounts::verify_mounted(root, &m.inside, &inside)?;
            verify_flags(&now, &m.inside, m.attrs)?;
            rep.ok(
                "mount.fs",
                true,
                format!("{inside}: {fstype} {data} ({})", describe_attrs(m.attrs)),
            );
        }
        MountKind::Tmpfs { data } => {
            let target = mounts::make_beneath(root.as_raw_fd(), &m.inside, Leaf::Dir)?;
            mounts::mount_fs("tmpfs", &target, ms_flags(m.attrs), data, &inside)?;
            let now = mounts::verify_mounted(root, &m.inside, &inside)?;
            verify_flags(&now, &m.inside, m.attrs)?;
            rep.ok(
                "mount.tmpfs",
                true,
                format!("{inside}: tmpfs {data} ({})", describe_attrs(m.attrs)),
            );
        }
        MountKind::Link { target } => {
            link(root, &m.inside, target)?;
            rep.ok(
                "mount.link",
                true,
                format!(
                    "{inside} -> {} (the host's own link; /usr is bound; read back)",
                    target.display()
                ),
            );
        }
        MountKind::MinimalDev => {
            let how = minimal_dev(root, &m.inside)?.describe();
            rep.ok(
                "mount.dev",
                true,
                format!(
                    "{inside}: read-only tmpfs (nosuid, noexec) with {} ({how}; read back)",
                    DEV_NODES.join(", ")
                ),
            );
        }
    }
    Ok(true)
}

/// The link `inside` (a name in the root itself, `plan::host_link`) to `target`,
/// made on the root tmpfs while it is still writable, and read back.
fn link(root: &OwnedFd, inside: &Path, target: &Path) -> Result<(), StepError> {
    let shown = || format!("{} -> {}", inside.display(), target.display());
    let name = inside
        .file_name()
        .filter(|_| inside.parent() == Some(Path::new("/")))
        .ok_or_else(|| StepError::new("mount.link", format!("{}: not a name in /", shown())))?;
    nix::unistd::symlinkat(target, Some(root.as_raw_fd()), name)
        .map_err(|e| StepError::nix("mount.link", shown(), e))?;
    let back = nix::fcntl::readlinkat(Some(root.as_raw_fd()), name)
        .map_err(|e| StepError::nix("mount.link", format!("read back {}", shown()), e))?;
    if Path::new(&back) != target {
        return Err(StepError::new(
            "mount.link",
            format!("{} reads {back:?}", shown()),
        ));
    }
    Ok(())
}

/// A bind rule: the source cloned (with the caller's identity when the caller
/// named it), checked to be a directory, attached beneath the new root and read
/// back there.
fn bind(root: &OwnedFd, m: &MountPlan, rep: &Reporter) -> Result<bool, StepError> {
    let MountKind::Bind {
        src,
        recursive,
        maybe,
        no_links_below,
        as_caller,
    } = &m.kind
    else {
        unreachable!("bind() is called for bind rules only");
    };
    let inside = m.inside.display().to_string();
    let below = no_links_below
        .as_ref()
        .map(|(r, rel)| (r.as_path(), rel.as_path()));
    let write = m.attrs & MOUNT_ATTR_RDONLY == 0;
    let tree = match clone_source(src, *recursive, below, write, *as_caller) {
        Ok(t) => t,
        Err(e) if *maybe && e.errno == Some(libc::ENOENT) => {
            rep.ok(
                "mount.bind",
                false,
                format!("{inside}: skipped, {} absent (maybe)", src.display()),
            );
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    // The source must be a directory (isolate binds directories).
    let st = nix::sys::stat::fstat(tree.as_raw_fd())
        .map_err(|e| StepError::nix("mount.bind", src.display().to_string(), e))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(StepError::new(
            "mount.bind",
            format!("{} is not a directory", src.display()),
        ));
    }
    mounts::set_attrs(tree.as_raw_fd(), m.attrs, true, &inside)?;
    let target = mounts::make_beneath(root.as_raw_fd(), &m.inside, Leaf::Dir)?;
    mounts::attach(&tree, &target, &inside)?;
    let now = mounts::verify_attached(&tree, root.as_raw_fd(), &m.inside, Leaf::Dir, &inside)?;
    verify_flags(&now, &m.inside, m.attrs)?;
    let rights = match as_caller {
        Some((u, g)) => format!(", source checked as uid {u} gid {g}"),
        None => String::new(),
    };
    rep.ok(
        "mount.bind",
        true,
        format!(
            "{inside} <- {} ({}{rights})",
            src.display(),
            describe_attrs(m.attrs)
        ),
    );
    Ok(true)
}

/// The bind source `src` cloned as a detached tree. A source the caller named
/// (`as_caller`) is looked up and checked with their identity: the lookup of
/// every component and the access check fail where the caller's own would;
/// CAP_SYS_ADMIN, which open_tree needs, is not a filesystem capability and
/// stays. A user's `norec` must uncover nothing a mount hides (`norec`); root's
/// is isolate's.
fn clone_source(
    src: &Path,
    recursive: bool,
    below: Option<(&Path, &Path)>,
    write: bool,
    as_caller: Option<(u32, u32)>,
) -> Result<OwnedFd, StepError> {
    let Some(id) = as_caller else {
        return mounts::clone_tree(src, recursive, below).map(|(t, _)| t);
    };
    let keep = [crate::caller::fsid::Capability::CAP_SYS_ADMIN];
    crate::caller::fsid::as_user(id, &keep, "mount.bind", || {
        let (t, source) = mounts::clone_tree(src, recursive, below)?;
        crate::caller::hostpath::may_access(&t, write, "mount.bind", src)?;
        if !recursive && id.0 != 0 {
            super::norec::refuse_hidden_below(&source, src)?;
        }
        Ok(t)
    })
}

/// The MOUNT_ATTR_* flags `attrs` are in effect on the mount `fd` sits on.
fn verify_flags(fd: &OwnedFd, inside: &Path, attrs: u64) -> Result<(), StepError> {
    let f = mounts::statvfs_flags(fd)?;
    let want = [
        (MOUNT_ATTR_RDONLY, libc::ST_RDONLY, "ro"),
        (MOUNT_ATTR_NOSUID, libc::ST_NOSUID, "nosuid"),
        (MOUNT_ATTR_NODEV, libc::ST_NODEV, "nodev"),
        (MOUNT_ATTR_NOEXEC, libc::ST_NOEXEC, "noexec"),
    ];
    for (attr, st, name) in want {
        if attrs & attr != 0 && f & st == 0 {
            return Err(StepError::new(
                "mount.verify",
                format!("{}: {name} asked for but not in effect", inside.display()),
            ));
        }
    }
    Ok(())
}

fn minimal_dev(root: &OwnedFd, inside: &Path) -> Result<DevNodes, StepError> {
    let dev = mounts::make_beneath(root.as_raw_fd(), inside, Leaf::Dir)?;
    mounts::mount_fs(
        "tmpfs",
        &dev,
        libc::MS_NOSUID | libc::MS_NOEXEC,
        "mode=0755,size=64k,nr_inodes=64",
        "/dev tmpfs",
    )?;
    drop(dev);
    let dev = mounts::verify_mounted(root, inside, "/dev tmpfs")?;
    // The host's /dev, in the host's view (before the pivot): where each
    // node's device numbers and permission bits come from.
    let host_dev = crate::sys::fd::open(
        Path::new("/dev"),
        libc::O_PATH | libc::O_DIRECTORY,
        "mount.dev",
    )?;
    // Nodes of the box's own where this process may make them; from the
    // first refusal on (no CAP_MKNOD in a container's bounding set, a user
    // namespace, an LSM), the host's nodes bound one by one, as before nodes
    // were made.
    let mut how = DevNodes {
        made: Vec::new(),
        refused: None,
    };
    for name in DEV_NODES {
        let n = std::ffi::CString::new(*name).expect("no NUL");
        let shown = format!("/dev/{name}");
        if how.refused.is_none() {
            match super::devnode::copy_char_device(
                dev.as_raw_fd(),
                &n,
                host_dev.as_raw_fd(),
                &shown,
            )? {
                super::devnode::Node::Made => {
                    how.made.push(name);
                    continue;
                }
                super::devnode::Node::Refused(errno) => how.refused = Some(errno),
            }
        }
        bind_node(&dev, name, &shown)?;
    }
    for (name, to) in DEV_LINKS {
        let n = std::ffi::CString::new(*name).expect("no NUL");
        let t = std::ffi::CString::new(*to).expect("no NUL");
        // SAFETY: symlinkat with valid strings into our own fresh tmpfs.
        if unsafe { libc::symlinkat(t.as_ptr(), dev.as_raw_fd(), n.as_ptr()) } < 0 {
            return Err(StepError::last_os(
                "mount.dev",
                format!("/dev/{name} -> {to}"),
            ));
        }
    }
    // /dev/shm and any other rule below /dev need their mount points before the
    // tmpfs goes read-only.
    let _ = mounts::make_beneath(dev.as_raw_fd(), Path::new("shm"), Leaf::Dir)?;
    let dev_attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
    mounts::set_attrs(dev.as_raw_fd(), dev_attrs, false, "/dev read-only")?;
    verify_flags(&dev, inside, dev_attrs)?;
    Ok(how)
}

/// How the nodes of the box's `/dev` came to be there: those made on the
/// box's tmpfs with the host's device numbers (`devnode`), in `DEV_NODES`
/// order; the others (from the first refusal, its errno) the host's, each
/// bound on a file of the tmpfs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DevNodes {
    made: Vec<&'static str>,
    refused: Option<i32>,
}

impl DevNodes {
    /// For the evidence.
    fn describe(&self) -> String {
        let made = "a node of the host's character device, its numbers, mode and owner";
        let bound = "the host's character device bound (nosuid, noexec, read-only)";
        let Some(errno) = self.refused else {
            return format!("each {made}");
        };
        let why = crate::sys::error::errno_name(errno);
        if self.made.is_empty() {
            return format!("each {bound}: mknod refused ({why})");
        }
        format!(
            "{}: {made}; {}: {bound}, mknod refused ({why})",
            self.made.join(", "),
            DEV_NODES[self.made.len()..].join(", ")
        )
    }
}

/// The host's `/dev/<name>` bound on `<dev>/<name>`: a clone of the host's
/// node, which must be a character device, read-only, nosuid and noexec; read
/// back.
fn bind_node(dev: &OwnedFd, name: &str, shown: &str) -> Result<(), StepError> {
    let src = Path::new("/dev").join(name);
    let (tree, _) = mounts::clone_tree(&src, false, None)?;
    // The host's node, as cloned: it must be a character device.
    let want = fstat(&tree, shown)?;
    if want.st_mode & libc::S_IFMT != libc::S_IFCHR {
        return Err(StepError::new(
            "mount.dev",
            format!("the host's {} is not a character device", src.display()),
        ));
    }
    // Read-only too: the device is still written through it (a node's mount
    // flags do not bind its device), but its mode, owner and times are not
    // the box's to change, as on the box's own nodes.
    let attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
    mounts::set_attrs(tree.as_raw_fd(), attrs, false, &src.display().to_string())?;
    let target = mounts::make_beneath(dev.as_raw_fd(), Path::new(name), Leaf::File)?;
    mounts::attach(&tree, &target, shown)?;
    // Read back: the box's /dev/<name> is that mount, that device, nosuid and
    // noexec.
    let now = mounts::verify_attached(&tree, dev.as_raw_fd(), Path::new(name), Leaf::File, shown)?;
    let got = fstat(&now, shown)?;
    if got.st_mode & libc::S_IFMT != libc::S_IFCHR || got.st_rdev != want.st_rdev {
        return Err(StepError::new(
            "mount.verify",
            format!(
                "{shown}: not the character device {}:{} of the host",
                libc::major(want.st_rdev),
                libc::minor(want.st_rdev)
            ),
        ));
    }
    verify_flags(&now, Path::new(shown), attrs)
}

fn fstat(fd: &OwnedFd, what: &str) -> Result<libc::stat, StepError> {
    // SAFETY: an all-zero stat is a valid buffer to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat of a descriptor we own into our buffer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(StepError::last_os("mount.verify", format!("fstat {what}")));
    }
    Ok(st)
}
