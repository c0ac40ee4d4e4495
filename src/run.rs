//! `--run` end to end: lock the box, lend it to the box user, plan, supervise,
//! hand it back, judge, write meta and JSON.

use crate::boxes::{BoxLock, BoxPaths};
use crate::caller::Caller;
use crate::config::Config;
use crate::error::StepError;
use crate::evidence::{kernel_release, now_rfc3339, Control, CpuUsage, Evidence, Provenance};
use crate::spec::RunSpec;
use crate::verdict::{self, Verdict};
use std::ffi::OsString;
use std::io::Write;

/// Where the meta file and JSON document go, opened before anything runs so that an
/// unwritable path is refused up front.
#[derive(Default)]
pub struct Outputs {
    pub meta: Option<Box<dyn Write>>,
    pub json: Option<std::fs::File>,
}

fn create(path: &std::path::Path, what: &str) -> Result<std::fs::File, StepError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        // A link as the file itself is refused (ELOOP), never followed as root.
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| StepError::io(what, path.display().to_string(), &e))
}

impl Outputs {
    /// Open (create or truncate) the result files with the caller's rights: a
    /// caller can only have rustbox write where they could write themselves.
    pub fn open(
        spec: &RunSpec,
        box_root: &std::path::Path,
        caller: &Caller,
    ) -> Result<Outputs, StepError> {
        for (p, what) in [(&spec.meta, "meta"), (&spec.json, "json")] {
            if let Some(p) = p.as_ref().filter(|p| p.as_os_str() != "-") {
                crate::hostpath::refuse_in_program_tree(box_root, p, what)?;
            }
        }
        crate::fsid::as_user(caller.path_identity(), &[], "caller.files", || {
            let meta: Option<Box<dyn Write>> = match &spec.meta {
                None => None,
                Some(p) if p.as_os_str() == "-" => Some(Box::new(std::io::stdout())),
                Some(p) => Some(Box::new(create(p, "meta")?)),
            };
            let json = spec.json.as_ref().map(|p| create(p, "json")).transpose()?;
            Ok(Outputs { meta, json })
        })
    }
}

/// Where `max_rss_kb` comes from when the proxy reported the program's end.
pub const MAX_RSS_SOURCE: &str =
    "wait4(program): ru_maxrss of the program and the children it waited for";
/// ... and when the box was killed before it could (a watchdog kill): the
/// supervisor's own wait4 of the box's pid 1, whose exit reaped every process of
/// the box into it.
pub const MAX_RSS_SOURCE_KILLED: &str =
    "wait4(box pid 1): ru_maxrss of the proxy and every process it reaped (the box was killed)";

/// How `usage.processes` is counted.
pub const PROCESSES_SOURCE: &str = "pid namespace: ns_last_pid - 1 (processes and threads)";

/// The result of a --run: evidence and its verdict.
pub struct Outcome {
    pub evidence: Evidence,
    pub verdict: Verdict,
}

fn empty_evidence(spec: &RunSpec, started_at: String) -> Evidence {
    Evidence {
        box_id: spec.box_id,
        limits: spec.limits.clone(),
        failure: None,
        controls: Vec::new(),
        exec_errno: None,
        executed: false,
        exit_code: None,
        exit_signal: None,
        killed: None,
        cpu: CpuUsage::default(),
        wall_s: 0.0,
        max_rss_kb: 0,
        max_rss_source: None,
        csw_voluntary: 0,
        csw_forced: 0,
        processes: 0,
        processes_source: None,
        cgroup: None,
        provenance: Provenance {
            rustbox_version: crate::VERSION.into(),
            kernel: kernel_release(),
            strict: true,
            started_at,
            finished_at: String::new(),
        },
    }
}

/// Run the program in box `spec.box_id`.
pub fn run(
    spec: &RunSpec,
    cfg: &Config,
    caller: &Caller,
    caller_env: &[(OsString, OsString)],
) -> Outcome {
    let mut ev = empty_evidence(spec, now_rfc3339());
    if let Err(e) = run_inner(spec, cfg, caller, caller_env, &mut ev) {
        ev.controls.push(Control::failed(&e));
        ev.failure.get_or_insert(e);
    }
    ev.provenance.finished_at = now_rfc3339();
    let verdict = verdict::verdict(&ev);
    Outcome {
        evidence: ev,
        verdict,
    }
}

fn run_inner(
    spec: &RunSpec,
    cfg: &Config,
    caller: &Caller,
    caller_env: &[(OsString, OsString)],
    ev: &mut Evidence,
) -> Result<(), StepError> {
    let paths = BoxPaths::new(cfg, spec.box_id);
    crate::boxes::check_private_dir(&cfg.box_root, "box")?;
    caller.may_use(crate::boxes::peek_state(&paths).owner())?;
    let lock = BoxLock::acquire(cfg, &paths, spec.wait, false)?;
    let lock = match lock {
        Some(l) if l.state.initialized && paths.workspace.is_dir() => l,
        _ => {
            return Err(StepError::new(
                "box",
                format!(
                    "box {} is not initialised (run rustbox --init -b {})",
                    spec.box_id, spec.box_id
                ),
            ))
        }
    };
    caller.may_use(lock.state.owner())?;
    crate::selfguard::check_not_dumpable()?;
    ev.controls.push(Control::applied(
        "supervisor.dumpable",
        true,
        "PR_GET_DUMPABLE = 0: no ptrace, /proc/<pid>/mem or core dump of the supervisor",
    ));
    ev.controls.push(Control::applied(
        "box.lock",
        true,
        format!(
            "flock on {}; box of uid {}, called by uid {}",
            paths.lock_file.display(),
            lock.state.owner,
            caller.uid
        ),
    ));
    // From here on, SIGINT/SIGTERM/SIGHUP end the run through the teardown below.
    let interrupts = crate::interrupt::Interrupts::block()?;
    ev.controls.push(disk_quota(spec, &paths)?);
    let (uid, gid) = cfg.box_ids(spec.box_id);
    // Only the owner's files and the box user's may change hands (a box of root's:
    // anything, as before).
    let mine = [lock.state.owner, uid];
    let owners = match lock.state.owner {
        0 => crate::fsutil::Owners::Any,
        _ => crate::fsutil::Owners::Only(&mine),
    };
    // Lend /box to the box user; links and special files a program left are removed.
    crate::fsutil::chown_tree(&paths.workspace, uid, gid, true, owners)?;
    let plan = crate::plan::build(spec, cfg, &paths, caller, caller_env)?;
    let cg = if spec.cg {
        Some(box_cgroup(spec, cfg, ev)?)
    } else {
        None
    };
    let facts = crate::supervisor::run(&plan, &spec.limits, cg.as_deref(), &interrupts);
    let cg_stats = cg.as_ref().map(|c| c.stats());
    let destroyed = cg.as_ref().map_or(Ok(()), |c| c.destroy());
    // Hand /box back to its owner, whatever happened in the box.
    let back = crate::fsutil::chown_tree(
        &paths.workspace,
        lock.state.owner,
        lock.state.owner_gid,
        !spec.special_files,
        owners,
    );
    // What the box wrote into a caller's read-write directory stays there: no
    // setuid or setgid program of the box user may be left for the caller to run
    // later against whoever uses this box next.
    let set_ids = match caller.acting.0 {
        0 => Ok(0),
        _ => clear_set_ids(&plan.root.mounts, uid),
    };
    let mut facts = facts?;
    ev.controls.push(memory_total(spec));
    ev.controls.extend(facts.controls);
    ev.failure = facts.failure;
    ev.exec_errno = facts.exec_errno;
    ev.executed = facts.executed;
    ev.killed = facts.killed;
    ev.cpu = facts.cpu;
    ev.wall_s = facts.wall_s;
    if let Some(st) = facts.status {
        let ws = st.wait_status;
        if libc::WIFEXITED(ws) {
            ev.exit_code = Some(libc::WEXITSTATUS(ws));
        } else if libc::WIFSIGNALED(ws) {
            ev.exit_signal = Some(libc::WTERMSIG(ws));
        }
        ev.max_rss_kb = st.maxrss_kb;
        ev.max_rss_source = Some(MAX_RSS_SOURCE.into());
        ev.csw_voluntary = st.nvcsw;
        ev.csw_forced = st.nivcsw;
        if let Some(t) = st.tasks {
            ev.processes = t;
            ev.processes_source = Some(PROCESSES_SOURCE.into());
        }
    } else if ev.killed.is_some() {
        ev.exit_signal = Some(libc::SIGKILL);
        if let Some(kb) = facts.proxy_maxrss_kb {
            ev.max_rss_kb = kb;
            ev.max_rss_source = Some(MAX_RSS_SOURCE_KILLED.into());
        }
    }
    if let Some(stats) = cg_stats {
        // The box's time is its exact task clock when the supervisor has one (the
        // same clock the watchdog kills by, so a kill is never before the limit by
        // the evidence); otherwise the cgroup's, as in isolate. The cgroup's own
        // counter is reported beside it either way.
        let (cpu, usage) = stats?;
        if ev.cpu.source != crate::cpuclock::SOURCE {
            ev.cpu = cpu;
        }
        if usage.oom_kills > 0 && facts.status_lost.take().is_some() {
            // The cgroup's OOM killer took the box's pid 1 (and so the box): a
            // kill, with the cgroup's evidence, not a failure of rustbox.
            ev.exit_signal = Some(libc::SIGKILL);
        }
        ev.cgroup = Some(usage);
    }
    if let Some(e) = facts.status_lost.take() {
        ev.controls.push(Control::failed(&e));
        ev.failure.get_or_insert(e);
    }
    back?;
    let cleared = set_ids?;
    if cleared > 0 {
        ev.controls.push(Control::applied(
            "box.setid",
            true,
            format!("setuid/setgid bits cleared on {cleared} file(s) the box left in read-write directories"),
        ));
    }
    destroyed?;
    Ok(())
}

/// Clear the setuid and setgid bits of the box user's regular files below every
/// read-write bind source the caller named (as the plan resolved them: opened
/// with the caller's rights, walked without following links). A source that is
/// not there (a `maybe` rule) holds nothing of the box.
fn clear_set_ids(
    mounts: &[crate::chain::root::MountPlan],
    box_uid: u32,
) -> Result<usize, StepError> {
    use crate::chain::mounts::MOUNT_ATTR_RDONLY;
    use crate::chain::root::MountKind;
    let mut n = 0;
    for m in mounts.iter().filter(|m| m.attrs & MOUNT_ATTR_RDONLY == 0) {
        let MountKind::Bind {
            src,
            as_caller: Some(id),
            ..
        } = &m.kind
        else {
            continue;
        };
        let dir = match crate::fsid::as_user(*id, &[], "box.setid", || {
            crate::fsutil::open_dir(src, "box.setid")
        }) {
            Ok(d) => d,
            Err(e) if e.errno == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        n += crate::fsutil::clear_set_ids(dir, src, box_uid)?;
    }
    Ok(n)
}

/// What bounds the box's memory as a whole. `-m` is RLIMIT_AS, per process and
/// of its address space only: files in the box's tmpfs (/tmp, /dev/shm), memfd
/// files and kernel objects (SysV IPC, pipes, sockets) are outside it. Only the
/// cgroup's memory limit (`--cg --cg-mem`) counts all of it.
fn memory_total(spec: &RunSpec) -> Control {
    match (spec.cg, spec.limits.cg_mem_kb) {
        (true, Some(kb)) => Control::applied(
            "memory.total",
            true,
            format!(
                "bounded by the box's cgroup: {kb} KiB for everything the box uses \
                 (processes, tmpfs files, memfd, kernel memory)"
            ),
        ),
        (true, None) => Control::applied(
            "memory.total",
            false,
            "not bounded: --cg without --cg-mem sets no memory limit; -m bounds each \
             process's address space only",
        ),
        (false, _) => Control::applied(
            "memory.total",
            false,
            "not bounded: without --cg, -m bounds each process's address space only; \
             tmpfs files (/tmp, /dev/shm), memfd and kernel objects are outside it \
             (SysV IPC is kept small, see ipc.limits); only --cg bounds the box's total memory",
        ),
    }
}

/// What bounds the box's writable file systems. `--quota` is applied by `--init`
/// (as in isolate); given to `--run`, it must match what the box has, or nothing runs.
fn disk_quota(spec: &RunSpec, paths: &BoxPaths) -> Result<Control, StepError> {
    let show = |l: Option<(u64, u64)>| match l {
        Some((bytes, inodes)) => format!("tmpfs of {} KiB, {inodes} inodes", bytes / 1024),
        None => "host file system, no quota".to_string(),
    };
    let (ws, tmp) = (
        crate::boxfs::limits(&paths.workspace),
        crate::boxfs::limits(&paths.tmp),
    );
    if let Some((blocks, inodes)) = spec.limits.quota {
        // tmpfs rounds its size up to whole pages.
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
        let want = (blocks * 1024).div_ceil(page) * page;
        if ws != Some((want, inodes)) {
            return Err(StepError::new(
                "disk.quota",
                format!(
                    "--quota={blocks},{inodes} asked, but box {} has {} (give --quota to --init)",
                    spec.box_id,
                    show(ws)
                ),
            ));
        }
    }
    Ok(Control::applied(
        "disk.quota",
        true,
        format!("/box: {}; /tmp: {}", show(ws), show(tmp)),
    ))
}

/// Create the box's cgroup and apply its limits (--cg).
fn box_cgroup(
    spec: &RunSpec,
    cfg: &Config,
    ev: &mut Evidence,
) -> Result<Box<dyn crate::cgroup::BoxCgroup>, StepError> {
    let backend = crate::cgroup::detect(spec.cgroup)?;
    let cg = crate::cgroup::create(backend, &cfg.cg_root, spec.box_id)?;
    let limits = crate::cgroup::CgLimits {
        memory_bytes: spec.limits.cg_mem_kb.map(|k| k.saturating_mul(1024)),
        // The program's processes plus the box's pid-1 proxy.
        pids: spec.limits.processes.map(|p| p + 1),
        // One CPU unless asked: a multi-threaded spinner cannot take the host.
        cpus: Some(spec.cpus.unwrap_or(1.0)),
        cpuset_cpus: cfg.box_cpus.get(&spec.box_id).cloned(),
        cpuset_mems: cfg.box_mems.get(&spec.box_id).cloned(),
    };
    ev.controls.push(Control::applied(
        "cgroup.create",
        true,
        format!("cgroup v{} at {}", cg.version(), cg.display_path()),
    ));
    match cg.apply(&limits) {
        Ok(controls) => ev.controls.extend(controls),
        Err(e) => {
            let _ = cg.destroy();
            return Err(e);
        }
    }
    Ok(cg)
}

/// Write meta and JSON; returns an error line if writing failed.
pub fn write_outputs(out: &mut Outputs, o: &Outcome) -> Result<(), StepError> {
    if let Some(m) = out.meta.as_mut() {
        m.write_all(verdict::meta(&o.evidence, &o.verdict).as_bytes())
            .and_then(|_| m.flush())
            .map_err(|e| StepError::io("meta", "write", &e))?;
    }
    if let Some(j) = out.json.as_mut() {
        let doc = verdict::json(&o.evidence, &o.verdict);
        let mut s = serde_json::to_string_pretty(&doc)
            .map_err(|e| StepError::new("json", e.to_string()))?;
        s.push('\n');
        j.write_all(s.as_bytes())
            .map_err(|e| StepError::io("json", "write", &e))?;
    }
    Ok(())
}

/// isolate's status line on stderr.
pub fn status_line(o: &Outcome) -> String {
    if o.verdict.kind == verdict::Kind::OK {
        format!(
            "OK ({} sec real, {} sec wall)",
            verdict::secs3(o.evidence.cpu.total_s),
            verdict::secs3(o.evidence.wall_s)
        )
    } else {
        o.verdict.message.clone()
    }
}
