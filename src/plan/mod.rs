//! From a validated RunSpec to the chain's ContainPlan: mount list, streams,
//! resource limits, environment, argv, seccomp programs. Done in the supervisor,
//! before the child exists, so the child only executes decisions already made.

pub mod abi;
pub mod bpf;
pub mod seccomp;
pub mod types;

pub use types::{ContainPlan, MountKind, MountPlan, RlimitPlan, RootPlan, StdioPlan};

use crate::boxdir::BoxPaths;
use crate::caller::Caller;
use crate::chain::mounts::{
    MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY,
};
use crate::request::config::Config;
use crate::request::spec::{default_dir_rules, merge_rules, DirRule, EnvRule, RunSpec, Source};
use crate::sys::error::StepError;
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// Size and inode limits of fresh tmpfs mounts (`tmp` rules, /dev/shm).
pub const TMPFS_LIMITS: &str = "size=256m,nr_inodes=16384";

fn cstring(s: &[u8], what: &str) -> Result<CString, StepError> {
    crate::sys::fd::cstring(s, "plan", what)
}

/// The mount plan for the box's rules. Bind sources the caller named are resolved
/// with `caller`'s filesystem identity (see `MountKind::Bind`).
pub fn mounts(
    spec: &RunSpec,
    paths: &BoxPaths,
    (uid, gid): (u32, u32),
    caller: (u32, u32),
    tmp_noexec: bool,
) -> Result<Vec<MountPlan>, StepError> {
    let defaults = if spec.no_default_dirs {
        Vec::new()
    } else {
        default_dir_rules(&paths.workspace, &paths.tmp, tmp_noexec)
    };
    // <box_root>/<id>: everything below the box root may hold planted links.
    let box_root = paths.dir.parent().unwrap_or(Path::new("/"));
    let named = |r: &DirRule| spec.dirs.iter().any(|(inside, _)| *inside == r.inside);
    let mut plans: Vec<MountPlan> = merge_rules(defaults, &spec.dirs)
        .into_iter()
        .map(|r| {
            let as_caller = named(&r).then_some(caller);
            mount_of(&r, box_root, (uid, gid), as_caller)
        })
        .collect();
    let links = plans
        .iter()
        .map(|m| {
            host_link(
                m,
                &plans,
                |p| std::fs::read_link(p),
                |p| std::fs::symlink_metadata(p),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (m, link) in plans.iter_mut().zip(links) {
        if let Some(target) = link {
            m.kind = MountKind::Link { target };
        }
    }
    Ok(plans)
}

/// The link a default bind of /bin, /lib or /lib64 becomes (`MountKind::Link`):
/// `m` is a candidate (`link_candidate`: beside the default /usr bind with the
/// same flags, no rule below it or at or below /usr/<name>), its source is the
/// host's own link to `usr/<name>` (or `/usr/<name>`), and /usr/<name> is a
/// real directory. So the link leads to what the bind would have shown, under
/// the same mount flags and Landlock rule. Anything else (a source that is no
/// link or not there, a link elsewhere): None, a bind. A host path that cannot be read (an errno but EINVAL, "no
/// link", or ENOENT) is an error: the box is not built other than asked.
fn host_link(
    m: &MountPlan,
    plans: &[MountPlan],
    read_link: impl Fn(&Path) -> std::io::Result<std::path::PathBuf>,
    metadata: impl Fn(&Path) -> std::io::Result<std::fs::Metadata>,
) -> Result<Option<std::path::PathBuf>, StepError> {
    let absent = |e: &std::io::Error| matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOENT));
    let Some((src, name)) = link_candidate(m, plans) else {
        return Ok(None);
    };
    let under_usr = Path::new("/usr").join(name);
    let target = match read_link(src) {
        Ok(t) => t,
        Err(e) if absent(&e) => return Ok(None),
        Err(e) => {
            let what = format!("readlink {}", src.display());
            return Err(StepError::io("plan.link", what, &e));
        }
    };
    if target != Path::new("usr").join(name) && target != under_usr {
        return Ok(None);
    }
    // Where the link leads must be a directory, as the bind's source was, and
    // no link of its own (one out of /usr would dangle in the box).
    match metadata(&under_usr) {
        Ok(md) => Ok(md.is_dir().then_some(target)),
        Err(e) if absent(&e) => Ok(None),
        Err(e) => {
            let what = format!("stat {}", under_usr.display());
            Err(StepError::io("plan.link", what, &e))
        }
    }
}

/// `m`'s source and name when `m` is a default bind of a name in / (source
/// the same path) beside the default bind of the host's /usr with the same
/// flags, and no rule of the plan lies below it or at or below /usr/<name>.
fn link_candidate<'a>(
    m: &'a MountPlan,
    plans: &[MountPlan],
) -> Option<(&'a std::path::PathBuf, &'a std::ffi::OsStr)> {
    let MountKind::Bind {
        src,
        recursive,
        as_caller: None,
        no_links_below: None,
        ..
    } = &m.kind
    else {
        return None;
    };
    let name = m.inside.file_name()?;
    if *src != m.inside || m.inside.parent() != Some(Path::new("/")) {
        return None;
    }
    // A rule below /bin itself, or at or below /usr/bin (which the link would
    // show at /bin where the bind showed the host's): a bind.
    let under_usr = Path::new("/usr").join(name);
    let below_m = plans
        .iter()
        .any(|o| o.inside != m.inside && o.inside.starts_with(&m.inside));
    if below_m || plans.iter().any(|o| o.inside.starts_with(&under_usr)) {
        return None;
    }
    let usr = plans.iter().find(|o| o.inside == Path::new("/usr"))?;
    let MountKind::Bind {
        src: usr_src,
        recursive: usr_recursive,
        as_caller: None,
        ..
    } = &usr.kind
    else {
        return None;
    };
    (usr_src == Path::new("/usr") && usr_recursive == recursive && usr.attrs == m.attrs)
        .then_some((src, name))
}

fn mount_of(
    r: &DirRule,
    box_root: &Path,
    (uid, gid): (u32, u32),
    as_caller: Option<(u32, u32)>,
) -> MountPlan {
    let mut attrs = MOUNT_ATTR_NOSUID;
    if !r.flags.rw {
        attrs |= MOUNT_ATTR_RDONLY;
    }
    if !r.flags.dev {
        attrs |= MOUNT_ATTR_NODEV;
    }
    if r.flags.noexec {
        attrs |= MOUNT_ATTR_NOEXEC;
    }
    let kind = match &r.source {
        Source::Bind(src) => MountKind::Bind {
            src: src.clone(),
            recursive: !r.flags.norec,
            maybe: r.flags.maybe,
            no_links_below: crate::caller::hostpath::below(box_root, src)
                .map(|rel| (box_root.to_path_buf(), rel)),
            as_caller,
        },
        Source::Fs(t) => MountKind::Fs {
            fstype: t.clone(),
            // Only the box's own processes exist in its pid namespace; hiding those
            // of other uids hides the root-owned proxy (pid 1) from the program.
            data: match t.as_str() {
                "proc" => "hidepid=invisible".into(),
                // Bounded like every other tmpfs of the box (the kernel's default
                // is half of the host's memory).
                "tmpfs" => TMPFS_LIMITS.into(),
                _ => String::new(),
            },
        },
        Source::Tmp => MountKind::Tmpfs {
            data: format!("mode=0700,uid={uid},gid={gid},{TMPFS_LIMITS}"),
        },
        Source::MinimalDev => MountKind::MinimalDev,
        // subset=pid (Linux 5.8) leaves only the per-process directories and the
        // self/thread-self links: nothing host-wide to read or write.
        Source::ProcPids => MountKind::Fs {
            fstype: "proc".into(),
            data: "hidepid=invisible,subset=pid".into(),
        },
    };
    MountPlan {
        inside: r.inside.clone(),
        kind,
        attrs,
    }
}

/// The environment: empty, or the caller's with -e; then LIBC_FATAL_STDERR_=1;
/// then the -E rules in order.
pub fn environment(spec: &RunSpec, caller: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = if spec.full_env {
        caller.to_vec()
    } else {
        Vec::new()
    };
    let set = |env: &mut Vec<(OsString, OsString)>, k: &OsStr, v: Option<OsString>| {
        env.retain(|(kk, _)| kk != k);
        if let Some(v) = v {
            env.push((k.into(), v));
        }
    };
    set(&mut env, OsStr::new("LIBC_FATAL_STDERR_"), Some("1".into()));
    for r in &spec.env {
        match r {
            EnvRule::Set(k, v) => set(&mut env, k, Some(v.clone())),
            EnvRule::Unset(k) => set(&mut env, k, None),
            EnvRule::Inherit(k) => {
                let v = caller
                    .iter()
                    .find(|(kk, _)| kk == k)
                    .map(|(_, v)| v.clone());
                set(&mut env, k, v);
            }
        }
    }
    env
}

/// isolate's resource limits, plus an RLIMIT_CPU backstop when -t is given.
pub fn rlimits(spec: &RunSpec) -> RlimitPlan {
    let l = &spec.limits;
    let inf = libc::RLIM_INFINITY;
    let mut v = Vec::new();
    if let Some(m) = l.mem_kb.filter(|&m| m > 0) {
        v.push((libc::RLIMIT_AS, m.saturating_mul(1024), "RLIMIT_AS"));
    }
    if let Some(f) = l.fsize_kb.filter(|&f| f > 0) {
        v.push((libc::RLIMIT_FSIZE, f.saturating_mul(1024), "RLIMIT_FSIZE"));
    }
    if let Some(n) = l.open_files.filter(|&n| n > 0) {
        v.push((libc::RLIMIT_NOFILE, n, "RLIMIT_NOFILE"));
    }
    let stack = l
        .stack_kb
        .filter(|&k| k > 0)
        .map_or(inf, |k| k.saturating_mul(1024));
    v.push((libc::RLIMIT_STACK, stack, "RLIMIT_STACK"));
    v.push((libc::RLIMIT_MEMLOCK, 0, "RLIMIT_MEMLOCK"));
    v.push((
        libc::RLIMIT_CORE,
        l.core_kb.saturating_mul(1024),
        "RLIMIT_CORE",
    ));
    // As isolate, in cgroup mode too: a program reading its limits sees what the
    // judge asked for. With --cg, pids.max (N + 1: the box's pid-1 proxy counts)
    // holds the whole box besides, and pids.events gives the kernel's evidence.
    if let Some(p) = l.processes {
        v.push((libc::RLIMIT_NPROC, p, "RLIMIT_NPROC"));
    }
    if let Some(t) = l.time {
        // A backstop only: the supervisor kills at max(-t, -x) over the whole tree.
        // Saturating: a float-to-integer `as` saturates (NaN is 0), and so does +1.
        let secs = (t.max(l.extra_time).ceil() as u64).saturating_add(1);
        v.push((libc::RLIMIT_CPU, secs, "RLIMIT_CPU"));
    }
    v
}

/// The whole plan.
pub fn build(
    spec: &RunSpec,
    cfg: &Config,
    paths: &BoxPaths,
    caller: &Caller,
    caller_env: &[(OsString, OsString)],
) -> Result<ContainPlan, StepError> {
    let (uid, gid) = cfg.box_ids(paths.id);
    let opt = |s: &Option<OsString>, what: &str| -> Result<Option<CString>, StepError> {
        s.as_ref().map(|p| cstring(p.as_bytes(), what)).transpose()
    };
    let stdio = StdioPlan {
        stdin: opt(&spec.io.stdin, "--stdin")?,
        stdout: opt(&spec.io.stdout, "--stdout")?,
        stderr: opt(&spec.io.stderr, "--stderr")?,
        stderr_to_stdout: spec.io.stderr_to_stdout,
        chdir: cstring(
            spec.chdir.as_deref().map_or(&b"/box"[..], OsStr::as_bytes),
            "--chdir",
        )?,
    };
    let env = environment(spec, caller_env)
        .into_iter()
        .map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.as_bytes());
            cstring(&kv, "an environment variable")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let argv = spec
        .program
        .iter()
        .map(|a| cstring(a.as_bytes(), "an argument"))
        .collect::<Result<Vec<_>, _>>()?;
    let root_mounts = mounts(spec, paths, (uid, gid), caller.acting, cfg.tmp_noexec)?;
    Ok(ContainPlan {
        root: RootPlan {
            mount_point: paths.root_mnt.clone(),
            mounts: root_mounts.clone(),
        },
        share_net: spec.share_net,
        net_spare: (!spec.share_net && cfg.net_spare)
            .then(|| crate::boxdir::netns::holder(&paths.lock_file)),
        uid,
        gid,
        stdio,
        rlimits: rlimits(spec),
        env,
        program: argv[0].clone(),
        argv,
        inherit_fds: spec.inherit_fds,
        // Decided by the supervisor, which looks at its stdout (`crate::sys::tty`).
        take_terminal: false,
        // A --seccomp FILE is the caller's: read with their rights.
        seccomp: crate::caller::fsid::as_user(caller.path_identity(), &[], "seccomp.file", || {
            seccomp::build(&spec.seccomp, spec.syscalls)
        })?,
        seccomp_desc: seccomp::describe(&spec.seccomp, spec.syscalls),
        last_cap: crate::chain::capabilities::last_cap(),
        landlock: crate::chain::landlock::abi().map(|abi| landlock(&root_mounts, abi)),
    })
}

/// The Landlock rules of a root: one per mount, beneath its inside path, with
/// what the mount allows (`chain::landlock`), masked to what the kernel's ABI
/// knows.
pub fn landlock(mounts: &[MountPlan], abi: u32) -> crate::chain::landlock::Plan {
    use crate::chain::landlock as ll;
    let handled = ll::handled(abi);
    let write = ll::WRITE_FILE
        | ll::REMOVE_DIR
        | ll::REMOVE_FILE
        | ll::MAKE_CHAR
        | ll::MAKE_DIR
        | ll::MAKE_REG
        | ll::MAKE_SOCK
        | ll::MAKE_FIFO
        | ll::MAKE_BLOCK
        | ll::MAKE_SYM
        | ll::REFER
        | ll::TRUNCATE;
    let rules = mounts
        .iter()
        // A maybe rule whose source is not there gets no mount, and so no
        // Landlock rule: its rights must not land on whatever another mount
        // puts at that path (a host submount of a recursive bind, found by
        // review). One that appears after this is mounted with no rule: reached
        // by nothing, which is the safe side.
        .filter(|m| match &m.kind {
            MountKind::Bind {
                src, maybe: true, ..
            } => src.exists(),
            // No mount: what it leads to is the /usr mount's, under its rule.
            MountKind::Link { .. } => false,
            _ => true,
        })
        .map(|m| {
            let mut access = ll::READ_FILE | ll::READ_DIR;
            // The minimal /dev is mounted read-only and noexec whatever its
            // rule's flags say (chain/root.rs), and its rule covers /dev/shm
            // below it: it gives neither execute nor make nor remove.
            let dev = m.kind == MountKind::MinimalDev;
            if m.attrs & MOUNT_ATTR_NOEXEC == 0 && !dev {
                access |= ll::EXECUTE;
            }
            if m.attrs & MOUNT_ATTR_RDONLY == 0 && !dev {
                access |= write;
            }
            // Device nodes are written through (/dev/null), never made.
            if m.attrs & MOUNT_ATTR_NODEV == 0 || dev {
                access |= ll::WRITE_FILE | ll::TRUNCATE | ll::IOCTL_DEV;
            }
            ll::Rule {
                path: CString::new(m.inside.as_os_str().as_bytes())
                    .expect("inside paths come from the command line's C strings"),
                access: access & handled,
            }
        })
        .collect();
    ll::Plan {
        abi,
        handled,
        rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each default mount's Landlock rights are what its mount allows; /dev
    /// gives no execute (its rule covers the noexec /dev/shm) and makes nothing.
    #[test]
    fn landlock_rules_follow_each_mount() {
        use crate::chain::landlock as ll;
        let m = |inside: &str, kind: MountKind, attrs: u64| MountPlan {
            inside: inside.into(),
            kind,
            attrs,
        };
        let bind = || MountKind::Bind {
            src: "/x".into(),
            recursive: true,
            maybe: false,
            no_links_below: None,
            as_caller: None,
        };
        let mounts = vec![
            m(
                "/usr",
                bind(),
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV,
            ),
            m("/box", bind(), MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV),
            m("/dev", MountKind::MinimalDev, MOUNT_ATTR_NOSUID),
            m(
                "/dev/shm",
                MountKind::Tmpfs {
                    data: String::new(),
                },
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
            ),
        ];
        let p = landlock(&mounts, 7);
        let a = |i: usize| p.rules[i].access;
        assert_eq!(a(0), ll::READ_FILE | ll::READ_DIR | ll::EXECUTE);
        assert_ne!(a(1) & ll::MAKE_REG, 0);
        assert_ne!(a(1) & ll::EXECUTE, 0);
        assert_eq!(
            a(2) & (ll::EXECUTE | ll::MAKE_REG | ll::MAKE_DIR | ll::REMOVE_FILE),
            0
        );
        assert_ne!(a(2) & ll::WRITE_FILE, 0, "/dev/null is written through");
        assert_eq!(a(3) & ll::EXECUTE, 0, "/dev/shm is noexec");
        assert_eq!(
            a(0) | a(1) | a(2) | a(3),
            (a(0) | a(1) | a(2) | a(3)) & ll::handled(7)
        );
        // An older ABI gets only the rights it knows.
        assert_eq!(landlock(&mounts, 1).rules[1].access & !ll::handled(1), 0);
    }

    fn spec(args: &[&str]) -> RunSpec {
        crate::request::cli::parse(args.iter().map(|s| s.to_string())).unwrap()
    }

    #[test]
    fn environment_rules_in_order() {
        let caller = vec![
            (OsString::from("HOME"), OsString::from("/root")),
            (OsString::from("SECRET"), OsString::from("x")),
        ];
        let s = spec(&[
            "--run", "-E", "HOME", "-E", "A=1", "-E", "MISSING", "--", "p",
        ]);
        let e = environment(&s, &caller);
        assert_eq!(
            e,
            vec![
                ("LIBC_FATAL_STDERR_".into(), "1".into()),
                ("HOME".into(), "/root".into()),
                ("A".into(), "1".into())
            ]
        );
        let s = spec(&[
            "--run",
            "-e",
            "-E",
            "SECRET=",
            "-E",
            "LIBC_FATAL_STDERR_=",
            "--",
            "p",
        ]);
        let e = environment(&s, &caller);
        assert_eq!(e, vec![("HOME".into(), "/root".into())]);
    }

    #[test]
    fn rlimits_follow_isolate() {
        let s = spec(&[
            "--run", "-m", "1024", "-f", "10", "-k", "2048", "-p5", "-t", "1.5", "-x", "2", "--",
            "p",
        ]);
        let r = rlimits(&s);
        let get = |n: &str| r.iter().find(|(_, _, name)| *name == n).map(|(_, v, _)| *v);
        assert_eq!(get("RLIMIT_AS"), Some(1024 * 1024));
        assert_eq!(get("RLIMIT_FSIZE"), Some(10 * 1024));
        assert_eq!(get("RLIMIT_STACK"), Some(2048 * 1024));
        assert_eq!(get("RLIMIT_NPROC"), Some(5));
        assert_eq!(get("RLIMIT_NOFILE"), Some(1024));
        assert_eq!(get("RLIMIT_CORE"), Some(0));
        assert_eq!(get("RLIMIT_CPU"), Some(3));
        let s = spec(&["--run", "-p", "--", "p"]);
        let r = rlimits(&s);
        assert!(!r.iter().any(|(_, _, n)| *n == "RLIMIT_NPROC"));
        // With --cg, -p N is RLIMIT_NPROC N too, as isolate sets it (pids.max,
        // N + 1, is the cgroup's); -p alone is still unlimited.
        let s = spec(&["--cg", "--run", "-p7", "--", "p"]);
        let get =
            |r: &RlimitPlan, n: &str| r.iter().find(|(_, _, name)| *name == n).map(|(_, v, _)| *v);
        assert_eq!(get(&rlimits(&s), "RLIMIT_NPROC"), Some(7));
        let s = spec(&["--cg", "--run", "--", "p"]);
        assert_eq!(get(&rlimits(&s), "RLIMIT_NPROC"), Some(1));
        let s = spec(&["--cg", "--run", "-p", "--", "p"]);
        assert_eq!(get(&rlimits(&s), "RLIMIT_NPROC"), None);
        // Time limits at their edges: -t 0 is no limit (no RLIMIT_CPU), huge
        // values do not wrap.
        let s = spec(&["--run", "-t", "0", "--", "p"]);
        assert_eq!(get(&rlimits(&s), "RLIMIT_CPU"), None);
        for (t, want) in [
            ("0.000001", 2),
            ("2147483.647", 2_147_485),
            ("4294967", 4_294_968),
            ("4294968", 4_294_969),
            ("10000000", 10_000_001),
        ] {
            let s = spec(&["--run", "-t", t, "--", "p"]);
            assert_eq!(get(&rlimits(&s), "RLIMIT_CPU"), Some(want), "-t {t}");
        }
        let s = spec(&["--run", "-t", "1", "-x", "10000000", "--", "p"]);
        assert_eq!(get(&rlimits(&s), "RLIMIT_CPU"), Some(10_000_001));
        assert!(r
            .iter()
            .any(|(_, v, n)| *n == "RLIMIT_STACK" && *v == libc::RLIM_INFINITY));
    }

    /// /tmp is executable by default, as isolate's (Piston builds and runs Go there
    /// with HOME=/tmp); the config's `tmp_noexec = 1` makes it noexec again.
    #[test]
    fn tmp_is_executable_unless_configured() {
        let cfg = Config::default();
        let paths = BoxPaths::new(&cfg, 1);
        let s = spec(&["--run", "--", "p"]);
        let tmp = |noexec| {
            mounts(&s, &paths, (1, 1), (0, 0), noexec)
                .unwrap()
                .into_iter()
                .find(|x| x.inside == Path::new("/tmp"))
                .unwrap()
                .attrs
        };
        assert_eq!(tmp(false) & MOUNT_ATTR_NOEXEC, 0);
        assert_ne!(tmp(true) & MOUNT_ATTR_NOEXEC, 0);
        let c = Config::parse("tmp_noexec = 1\n").unwrap();
        assert!(c.tmp_noexec && !Config::default().tmp_noexec);
    }

    #[test]
    fn a_default_bind_into_usr_is_a_link_only_beside_the_default_usr() {
        use crate::request::spec::DirFlags;
        let bind = |p: &str, flags: DirFlags, by: Option<(u32, u32)>| {
            let r = DirRule {
                inside: p.into(),
                source: Source::Bind(p.into()),
                flags,
            };
            mount_of(&r, Path::new("/var/local/lib/rustbox"), (1, 1), by)
        };
        let ro = DirFlags::default();
        let (bin, usr) = (bind("/bin", ro, None), bind("/usr", ro, None));
        let plan = |others: &[MountPlan]| -> Vec<MountPlan> {
            [bin.clone()]
                .into_iter()
                .chain(others.iter().cloned())
                .collect()
        };
        let with_usr = plan(std::slice::from_ref(&usr));
        let err = |n: i32| {
            move |_: &Path| -> std::io::Result<std::path::PathBuf> {
                Err(std::io::Error::from_raw_os_error(n))
            }
        };
        let stat_err = |n: i32| {
            move |_: &Path| -> std::io::Result<std::fs::Metadata> {
                Err(std::io::Error::from_raw_os_error(n))
            }
        };
        let dir = |p: &Path| std::fs::symlink_metadata(p);
        let link = |m: &MountPlan, p: &[MountPlan], t: &'static str| {
            host_link(m, p, move |_| Ok(std::path::PathBuf::from(t)), dir).unwrap()
        };
        assert_eq!(link(&bin, &with_usr, "usr/bin"), Some("usr/bin".into()));
        assert_eq!(link(&bin, &with_usr, "/usr/bin"), Some("/usr/bin".into()));
        // The host's /bin elsewhere, or no link at all (EINVAL), or not there.
        assert_eq!(link(&bin, &with_usr, "/opt/bin"), None);
        for n in [libc::EINVAL, libc::ENOENT] {
            assert_eq!(host_link(&bin, &with_usr, err(n), dir).unwrap(), None);
        }
        // A host path that cannot be read is the run's failure, not a guess.
        let e = host_link(&bin, &with_usr, err(libc::EIO), dir).unwrap_err();
        assert_eq!((e.step.as_str(), e.errno), ("plan.link", Some(libc::EIO)));
        let to = |_: &Path| Ok(std::path::PathBuf::from("usr/bin"));
        let e = host_link(&bin, &with_usr, to, stat_err(libc::EACCES)).unwrap_err();
        assert_eq!(e.errno, Some(libc::EACCES));
        // /usr gone, the caller's, or with other flags; /bin the caller's.
        assert_eq!(link(&bin, &plan(&[]), "usr/bin"), None);
        let theirs = bind("/usr", ro, Some((1000, 1000)));
        assert_eq!(link(&bin, &plan(&[theirs]), "usr/bin"), None);
        let rw = bind("/usr", DirFlags { rw: true, ..ro }, None);
        assert_eq!(link(&bin, &plan(&[rw]), "usr/bin"), None);
        let their_bin = bind("/bin", ro, Some((1000, 1000)));
        assert_eq!(link(&their_bin, &with_usr, "usr/bin"), None);
        // A rule below /bin, or at or below /usr/bin (which the link would
        // show at /bin where the bind showed the host's): a bind.
        for below in ["/bin/x", "/usr/bin/x", "/usr/bin"] {
            let p = plan(&[usr.clone(), bind(below, ro, Some((1000, 1000)))]);
            assert_eq!(link(&bin, &p, "usr/bin"), None, "{below}");
        }
        // Where the link would lead is no directory of /usr.
        let odd = bind("/rustbox-none", ro, None);
        assert_eq!(link(&odd, &with_usr, "usr/rustbox-none"), None);
    }

    #[test]
    fn mount_flags() {
        let cfg = Config::default();
        let paths = BoxPaths::new(&cfg, 1);
        let s = spec(&["--run", "-d", "/etc:noexec", "-d", "/usr=", "--", "p"]);
        let m = mounts(&s, &paths, (60001, 60001), (1000, 1000), false).unwrap();
        let etc = m
            .iter()
            .find(|x| x.inside == std::path::Path::new("/etc"))
            .unwrap();
        assert_eq!(
            etc.attrs,
            MOUNT_ATTR_NOSUID | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC
        );
        assert!(!m.iter().any(|x| x.inside == std::path::Path::new("/usr")));
        let bx = m
            .iter()
            .find(|x| x.inside == std::path::Path::new("/box"))
            .unwrap();
        assert_eq!(bx.attrs, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        // Parents before children: /dev before /dev/shm.
        let pos = |p: &str| {
            m.iter()
                .position(|x| x.inside == std::path::Path::new(p))
                .unwrap()
        };
        assert!(pos("/dev") < pos("/dev/shm"));
        let s = spec(&["--run", "-D", "--", "p"]);
        assert!(mounts(&s, &paths, (1, 1), (1000, 1000), false)
            .unwrap()
            .is_empty());
        // Only what the caller named is resolved with the caller's identity.
        let s = spec(&["--run", "-d", "/etc", "-d", "/usr=/opt/usr", "--", "p"]);
        let m = mounts(&s, &paths, (1, 1), (1000, 1001), false).unwrap();
        let as_caller = |p: &str| match &m.iter().find(|x| x.inside == Path::new(p)).unwrap().kind {
            MountKind::Bind { as_caller, .. } => *as_caller,
            k => panic!("{p}: not a bind: {k:?}"),
        };
        assert_eq!(as_caller("/etc"), Some((1000, 1001)));
        assert_eq!(as_caller("/usr"), Some((1000, 1001)));
        assert_eq!(as_caller("/bin"), None);
        assert_eq!(as_caller("/box"), None);
    }
}
