//! RunSpec: everything one invocation asked for, as plain validated data.
//!
//! The CLI parser produces it, the supervisor and the chain read it. Nothing here
//! touches the kernel, so every rule about what a valid request is lives in one place
//! and is unit-tested.
//!
//! What the judge names (program arguments, environment values and names, paths)
//! is kept as bytes (`OsString`, `PathBuf`), never converted through UTF-8: a name
//! that is not valid UTF-8 reaches the box byte for byte.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

/// What the invocation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Init,
    Run,
    Cleanup,
    Version,
    Help,
    PrintCgRoot,
    /// `--check`, also named `--check-config`: what this host supports.
    Check,
    /// `--exec`: --init a free box, copy in, --run, copy out, --cleanup.
    Exec,
}

/// Resource limits, in isolate's units.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// CPU time limit, seconds (`-t`).
    pub time: Option<f64>,
    /// Wall-clock limit, seconds (`-w`).
    pub wall_time: Option<f64>,
    /// Extra time, seconds (`-x`).
    pub extra_time: f64,
    /// Address-space limit per process, KiB (`-m`).
    pub mem_kb: Option<u64>,
    /// Whole-box cgroup memory limit, KiB (`--cg-mem`).
    pub cg_mem_kb: Option<u64>,
    /// Stack limit, KiB (`-k`); `None` is unlimited.
    pub stack_kb: Option<u64>,
    /// File size limit, KiB (`-f`).
    pub fsize_kb: Option<u64>,
    /// Open files limit (`-n`).
    pub open_files: Option<u64>,
    /// Processes/threads limit (`-p`); `None` is unlimited.
    pub processes: Option<u64>,
    /// Disk quota: blocks, inodes (`-q`).
    pub quota: Option<(u64, u64)>,
    /// Core file size limit, KiB (`--core`).
    pub core_kb: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time: None,
            wall_time: None,
            extra_time: 0.0,
            mem_kb: None,
            cg_mem_kb: None,
            stack_kb: None,
            fsize_kb: None,
            open_files: Some(DEFAULT_OPEN_FILES),
            processes: Some(1),
            quota: None,
            core_kb: 0,
        }
    }
}

/// isolate master's default for `--open-files` (2.6 used 64).
pub const DEFAULT_OPEN_FILES: u64 = 1024;

/// Options of one directory rule (`--dir IN=OUT:OPTIONS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirFlags {
    pub rw: bool,
    pub dev: bool,
    pub noexec: bool,
    pub maybe: bool,
    pub fs: bool,
    pub tmp: bool,
    pub norec: bool,
}

/// What a directory rule puts in the box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A host directory, bound (absolute path).
    Bind(PathBuf),
    /// A new instance of a device-less filesystem (`fs`), e.g. `proc`.
    Fs(String),
    /// A fresh tmpfs owned by the box user (`tmp`).
    Tmp,
    /// rustbox's minimal /dev (the default for /dev).
    MinimalDev,
    /// procfs showing only the box's processes (the default for /proc): no
    /// host-wide files (/proc/sys, kallsyms, kcore, sysrq-trigger, meminfo...). An
    /// explicit `--dir=/proc=proc:fs` rule asks for the whole procfs instead.
    ProcPids,
}

/// One directory rule: what appears at `inside` in the box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirRule {
    /// Absolute path inside the box, normalised (no `.`/`..`, no trailing slash).
    pub inside: PathBuf,
    pub source: Source,
    pub flags: DirFlags,
}

/// One `--dir` argument: the inside path and the rule, or `None` for a removal.
pub type DirArg = (PathBuf, Option<DirRule>);

/// How the box's environment is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvRule {
    /// `-E VAR`: take VAR from the caller's environment.
    Inherit(OsString),
    /// `-E VAR=VALUE`.
    Set(OsString, OsString),
    /// `-E VAR=`: remove VAR.
    Unset(OsString),
}

/// Standard stream redirection, paths as seen inside the box.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Io {
    pub stdin: Option<OsString>,
    pub stdout: Option<OsString>,
    pub stderr: Option<OsString>,
    pub stderr_to_stdout: bool,
}

/// The seccomp policy chosen with `--seccomp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeccompChoice {
    /// isolate's `--syscalls` flags, the always-on rules and rustbox's profile.
    Default,
    /// No filter at all.
    Off,
    /// The flags and always-on rules, with the filters of a seccompiler JSON file
    /// in place of rustbox's profile.
    File(PathBuf),
}

/// cgroup backend selection (`--cgroup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupChoice {
    Auto,
    V1,
    V2,
}

/// isolate's `--syscalls` bits. A set bit means the feature is blocked.
pub mod syscall_flags {
    /// Key management: keyctl, add_key, request_key.
    pub const KEYRINGS: u32 = 1;
    /// Sockets of the AF_VSOCK family.
    pub const VSOCK: u32 = 2;
    /// Locks on inodes: flock and fcntl record locks.
    pub const INODE_LOCKS: u32 = 4;
    /// io_uring.
    pub const IO_URING: u32 = 8;
    /// System calls of another architecture (i386, x32).
    pub const LEGACY_ARCH: u32 = 16;
    pub const ALL: u32 = KEYRINGS | VSOCK | INODE_LOCKS | IO_URING | LEGACY_ARCH;
}

/// A whole validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub mode: Mode,
    pub box_id: u32,
    pub limits: Limits,
    /// Rules as given with `--dir`, in order, removals included; merged with the
    /// defaults (unless `no_default_dirs`) by [`merge_rules`].
    pub dirs: Vec<DirArg>,
    pub no_default_dirs: bool,
    pub env: Vec<EnvRule>,
    pub full_env: bool,
    pub io: Io,
    pub chdir: Option<OsString>,
    pub share_net: bool,
    pub inherit_fds: bool,
    pub meta: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub silent: bool,
    pub verbose: u32,
    pub cg: bool,
    pub cg_timing: Option<bool>,
    pub syscalls: u32,
    /// `--syscalls` was given (else `syscalls` is the default).
    pub syscalls_set: bool,
    pub seccomp: SeccompChoice,
    pub special_files: bool,
    pub wait: bool,
    pub tty_hack: bool,
    pub as_uid: Option<u32>,
    pub as_gid: Option<u32>,
    pub cpus: Option<f64>,
    pub cgroup: CgroupChoice,
    /// Test-only config path (`--config`), honoured only for a real root caller.
    pub config: Option<PathBuf>,
    /// `-b` was given (`--exec` takes a box of its own and refuses one).
    pub box_id_set: bool,
    /// `--exec`: host files copied into /box (source, name below /box).
    pub copy_in: Vec<(OsString, OsString)>,
    /// `--exec`: files below /box copied out after the run (name, host path).
    pub copy_out: Vec<(OsString, OsString)>,
    pub program: Vec<OsString>,
}

impl Default for RunSpec {
    fn default() -> Self {
        RunSpec {
            mode: Mode::Help,
            box_id: 0,
            limits: Limits::default(),
            dirs: Vec::new(),
            no_default_dirs: false,
            env: Vec::new(),
            full_env: false,
            io: Io::default(),
            chdir: None,
            share_net: false,
            inherit_fds: false,
            meta: None,
            json: None,
            silent: false,
            verbose: 0,
            cg: false,
            cg_timing: None,
            syscalls: syscall_flags::ALL,
            syscalls_set: false,
            seccomp: SeccompChoice::Default,
            special_files: false,
            wait: false,
            box_id_set: false,
            copy_in: Vec::new(),
            copy_out: Vec::new(),
            tty_hack: false,
            as_uid: None,
            as_gid: None,
            cpus: None,
            cgroup: CgroupChoice::Auto,
            config: None,
            program: Vec::new(),
        }
    }
}

/// Normalise an absolute path inside the box: it must start with `/` (or be given
/// relative to `/`, as isolate allows for `--dir`) and must not contain `..`.
pub fn normalize_inside(p: impl AsRef<OsStr>) -> Result<PathBuf, String> {
    let p = Path::new(p.as_ref());
    if p.as_os_str().is_empty() {
        return Err("empty path".into());
    }
    let shown = p.display();
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(s) => out.push(s),
            Component::ParentDir => return Err(format!("'{shown}' contains '..'")),
            Component::Prefix(_) => return Err(format!("'{shown}' is not a Linux path")),
        }
    }
    Ok(out)
}

/// A host-side source path of a rule: absolute, without `..`.
pub fn validate_outside(p: impl AsRef<OsStr>) -> Result<PathBuf, String> {
    let p = Path::new(p.as_ref());
    if !p.as_os_str().as_bytes().starts_with(b"/") {
        return Err(format!("'{}' is not an absolute path", p.display()));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(format!("'{}' contains '..'", p.display()));
    }
    Ok(p.to_path_buf())
}

/// Split `b` at the first `sep`: (before, after), or (b, None).
fn split_once_byte(b: &[u8], sep: u8) -> (&[u8], Option<&[u8]>) {
    match b.iter().position(|&c| c == sep) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    }
}

/// Parse isolate's `--dir` argument: `IN=OUT[:OPTS]`, `IN[:OPTS]`, or `IN=` (removal).
/// Returns `None` for a removal.
/// Paths are bytes: only the option names after the first `:` must be ASCII (and a
/// filesystem type of an `fs` rule UTF-8).
pub fn parse_dir_rule(arg: impl AsRef<OsStr>) -> Result<(PathBuf, Option<DirRule>), String> {
    let raw = arg.as_ref().as_bytes();
    let arg = arg.as_ref().to_string_lossy();
    let (body, opts) = split_once_byte(raw, b':');
    let mut flags = DirFlags::default();
    if let Some(o) = opts {
        // isolate separates options with ':' (`/x=/y:rw:noexec`); ',' is accepted too.
        for opt in o
            .split(|&c| c == b':' || c == b',')
            .filter(|s| !s.is_empty())
        {
            match opt {
                b"rw" => flags.rw = true,
                b"dev" => flags.dev = true,
                b"noexec" => flags.noexec = true,
                b"maybe" => flags.maybe = true,
                b"fs" => flags.fs = true,
                b"tmp" => flags.tmp = true,
                b"norec" => flags.norec = true,
                _ => {
                    return Err(format!(
                        "unknown directory option '{}' in '{arg}'",
                        String::from_utf8_lossy(opt)
                    ))
                }
            }
        }
    }
    let (inside, outside) = split_once_byte(body, b'=');
    let inside = OsStr::from_bytes(inside);
    let inside_path = normalize_inside(inside).map_err(|e| format!("--dir {arg}: {e}"))?;
    if inside_path == Path::new("/") {
        return Err(format!("--dir {arg}: cannot bind over the box root"));
    }
    if outside == Some(b"") {
        if opts.is_some() {
            return Err(format!("--dir {arg}: a removal takes no options"));
        }
        return Ok((inside_path, None));
    }
    let source = if flags.tmp {
        if outside.is_some() {
            return Err(format!("--dir {arg}: 'tmp' takes no source directory"));
        }
        if flags.fs {
            return Err(format!("--dir {arg}: 'tmp' and 'fs' exclude each other"));
        }
        Source::Tmp
    } else if flags.fs {
        // `fs`: OUT (or IN) names a filesystem type, e.g. proc.
        let fstype = outside.unwrap_or_else(|| {
            let b = inside.as_bytes();
            &b[b.iter().take_while(|&&c| c == b'/').count()..]
        });
        let shown = String::from_utf8_lossy(fstype);
        match std::str::from_utf8(fstype) {
            Ok(t) if !t.is_empty() && !t.contains('/') => Source::Fs(t.to_string()),
            _ => return Err(format!("--dir {arg}: '{shown}' is not a filesystem type")),
        }
    } else {
        let src: PathBuf = match outside {
            Some(o) => PathBuf::from(OsString::from_vec(o.to_vec())),
            None => inside_path.clone(),
        };
        Source::Bind(validate_outside(&src).map_err(|e| format!("--dir {arg}: {e}"))?)
    };
    if flags.tmp {
        flags.rw = true;
    }
    Ok((
        inside_path.clone(),
        Some(DirRule {
            inside: inside_path,
            source,
            flags,
        }),
    ))
}

/// The default rules: isolate's, with rustbox's /dev and /tmp. `box_dir` is the host
/// path of the box workspace and `tmp_dir` of the box's persistent /tmp, executable
/// as in isolate (judges build and run there: Piston's Go sets HOME=/tmp) unless
/// `tmp_noexec` (the config's `tmp_noexec = 1`).
pub fn default_dir_rules(box_dir: &Path, tmp_dir: &Path, tmp_noexec: bool) -> Vec<DirRule> {
    let rule = |inside: &str, source: Source, flags: DirFlags| DirRule {
        inside: PathBuf::from(inside),
        source,
        flags,
    };
    let ro = DirFlags::default();
    let bind = |p: &str| Source::Bind(PathBuf::from(p));
    vec![
        rule(
            "/box",
            Source::Bind(box_dir.to_path_buf()),
            DirFlags { rw: true, ..ro },
        ),
        rule("/bin", bind("/bin"), ro),
        rule("/dev", Source::MinimalDev, DirFlags { dev: true, ..ro }),
        rule("/lib", bind("/lib"), ro),
        rule("/lib64", bind("/lib64"), DirFlags { maybe: true, ..ro }),
        rule("/proc", Source::ProcPids, ro),
        rule(
            "/tmp",
            Source::Bind(tmp_dir.to_path_buf()),
            DirFlags {
                rw: true,
                noexec: tmp_noexec,
                ..ro
            },
        ),
        rule("/usr", bind("/usr"), ro),
        rule(
            "/dev/shm",
            Source::Tmp,
            DirFlags {
                rw: true,
                tmp: true,
                noexec: true,
                ..ro
            },
        ),
    ]
}

/// Merge the default rules with the user's: a user rule for the same inside path
/// replaces the default, a removal deletes it; user rules keep their order after the
/// defaults they do not replace.
pub fn merge_rules(defaults: Vec<DirRule>, user: &[DirArg]) -> Vec<DirRule> {
    let mut rules = defaults;
    for (inside, rule) in user {
        match rule {
            Some(r) => {
                if let Some(slot) = rules.iter_mut().find(|x| &x.inside == inside) {
                    *slot = r.clone();
                } else {
                    rules.push(r.clone());
                }
            }
            None => rules.retain(|x| &x.inside != inside),
        }
    }
    // Parents must be mounted before children: sort by depth, stable.
    rules.sort_by_key(|r| r.inside.components().count());
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_paths_are_normalised_and_dotdot_refused() {
        assert_eq!(
            normalize_inside("/usr/./lib/").unwrap(),
            PathBuf::from("/usr/lib")
        );
        assert_eq!(normalize_inside("etc").unwrap(), PathBuf::from("/etc"));
        assert!(normalize_inside("/usr/../etc").is_err());
        assert!(normalize_inside("").is_err());
    }

    #[test]
    fn dir_rule_forms() {
        let (i, r) = parse_dir_rule("/etc").unwrap();
        let r = r.unwrap();
        assert_eq!(i, PathBuf::from("/etc"));
        assert_eq!(r.source, Source::Bind(PathBuf::from("/etc")));
        assert!(!r.flags.rw);

        let (_, r) = parse_dir_rule("/tmp=/var/x/home:rw").unwrap();
        let r = r.unwrap();
        assert_eq!(r.source, Source::Bind(PathBuf::from("/var/x/home")));
        assert!(r.flags.rw);

        let (_, r) = parse_dir_rule("/etc:noexec").unwrap();
        assert!(r.unwrap().flags.noexec);

        let (i, r) = parse_dir_rule("/usr=").unwrap();
        assert_eq!(i, PathBuf::from("/usr"));
        assert!(r.is_none());

        let (_, r) = parse_dir_rule("/dev/shm:tmp").unwrap();
        let r = r.unwrap();
        assert!(r.flags.tmp && r.flags.rw && r.source == Source::Tmp);

        let (_, r) = parse_dir_rule("/sys=sysfs:fs").unwrap();
        assert_eq!(r.unwrap().source, Source::Fs("sysfs".into()));

        let (_, r) = parse_dir_rule("/a=/b:rw,dev,noexec,maybe,norec").unwrap();
        let f = r.unwrap().flags;
        assert!(f.rw && f.dev && f.noexec && f.maybe && f.norec);
        // isolate's own separator.
        let (_, r) = parse_dir_rule("/a=/b:rw:noexec").unwrap();
        let f = r.unwrap().flags;
        assert!(f.rw && f.noexec && !f.dev);
    }

    #[test]
    fn dir_rule_refusals() {
        assert!(parse_dir_rule("/a/../etc").is_err());
        assert!(parse_dir_rule("/a=relative/path").is_err());
        assert!(parse_dir_rule("/a=/b/../c").is_err());
        assert!(parse_dir_rule("/a:bogus").is_err());
        assert!(parse_dir_rule("/=/etc").is_err());
        assert!(parse_dir_rule("/a=/b:tmp").is_err());
        assert!(parse_dir_rule("/a:tmp,fs").is_err());
    }

    #[test]
    fn merge_replaces_and_removes() {
        let d = default_dir_rules(Path::new("/bx/box"), Path::new("/bx/tmp"), true);
        let user = vec![
            parse_dir_rule("/tmp=/home/x:rw").unwrap(),
            parse_dir_rule("/usr=").unwrap(),
            parse_dir_rule("/etc:noexec").unwrap(),
        ];
        let m = merge_rules(d, &user);
        let tmp = m.iter().find(|r| r.inside == Path::new("/tmp")).unwrap();
        assert_eq!(tmp.source, Source::Bind(PathBuf::from("/home/x")));
        assert!(!tmp.flags.noexec);
        assert!(!m.iter().any(|r| r.inside == Path::new("/usr")));
        assert!(m.iter().any(|r| r.inside == Path::new("/etc")));
    }
}
