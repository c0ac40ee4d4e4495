//! What the chain is given: built here, in the supervisor, before the child
//! exists (`plan::build`), and only read there (`chain`). No step of the chain
//! decides anything the plan did not say.

use seccompiler::BpfProgram;
use std::ffi::CString;
use std::path::PathBuf;

/// Everything the chain needs, computed by the supervisor before the child exists.
#[derive(Debug, Clone)]
pub struct ContainPlan {
    pub root: RootPlan,
    pub share_net: bool,
    /// The holder of the box's spare network namespace (`boxdir::netns`), taken
    /// and entered by the supervisor for the clone; None: a new one per run.
    pub net_spare: Option<PathBuf>,
    pub uid: u32,
    pub gid: u32,
    pub stdio: StdioPlan,
    pub rlimits: RlimitPlan,
    pub env: Vec<CString>,
    pub program: CString,
    pub argv: Vec<CString>,
    pub inherit_fds: bool,
    /// --tty-hack, and stdout is the caller's controlling terminal: the
    /// program's process group becomes its foreground group (`crate::sys::tty`).
    pub take_terminal: bool,
    pub seccomp: Vec<BpfProgram>,
    pub seccomp_desc: String,
    /// cap_last_cap, read by the supervisor (the box may not see /proc/sys).
    pub last_cap: u32,
    /// The Landlock rules made from the mounts (`chain::landlock`), or why this
    /// kernel cannot apply them.
    pub landlock: Result<crate::chain::landlock::Plan, String>,
}

/// What one mount puts at a path inside the box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// Bind a host directory.
    Bind {
        src: PathBuf,
        recursive: bool,
        maybe: bool,
        /// Set when `src` lies below the box root, where programs plant links:
        /// (box root, the part of `src` below it), resolved without following any
        /// link.
        no_links_below: Option<(PathBuf, PathBuf)>,
        /// Set when the caller named `src` (a `--dir` rule, not a default one): the
        /// filesystem identity (uid, gid) `src` is resolved and checked with, so
        /// the box gets nothing the caller could not read (write, for `rw`)
        /// themselves. None: rustbox's own default, resolved as root.
        as_caller: Option<(u32, u32)>,
    },
    /// A new instance of a device-less filesystem (proc, sysfs, ...).
    Fs { fstype: String, data: String },
    /// A fresh tmpfs, owned by the box user.
    Tmpfs { data: String },
    /// A minimal /dev: tmpfs with null, zero, full, random, urandom and the usual links.
    MinimalDev,
    /// A symbolic link on the root tmpfs, where the host has the same one: a
    /// default bind of /bin, /lib or /lib64 whose source is the host's link into
    /// /usr (a merged-/usr system), while /usr is bound by a default rule with
    /// the same flags (`plan::host_link`). What the box sees through it is the
    /// /usr mount's; one mount fewer to make, verify and tear down.
    Link { target: PathBuf },
}

/// One mount of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPlan {
    pub inside: PathBuf,
    pub kind: MountKind,
    /// MOUNT_ATTR_* flags to set on it.
    pub attrs: u64,
}

/// Everything needed to build the root, computed before the child is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootPlan {
    /// Host directory the root tmpfs is mounted on.
    pub mount_point: PathBuf,
    pub mounts: Vec<MountPlan>,
}

/// Standard streams and the working directory of the program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StdioPlan {
    pub stdin: Option<CString>,
    pub stdout: Option<CString>,
    pub stderr: Option<CString>,
    pub stderr_to_stdout: bool,
    /// Working directory: /box, or --chdir (relative to /box).
    pub chdir: CString,
}

/// Resource limits: (resource, value, name), set in this order.
pub type RlimitPlan = Vec<(RlimitResource, u64, &'static str)>;

/// The type `setrlimit` takes its resource in: glibc's enum, musl's int.
#[cfg(target_env = "gnu")]
pub type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
pub type RlimitResource = libc::c_int;
