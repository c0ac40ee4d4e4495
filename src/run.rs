//! `--run` end to end: lock the box, lend it to the box user, plan, supervise,
//! hand it back, judge, write meta and JSON.

use crate::boxdir::{BoxLock, BoxPaths};
use crate::caller::hostpath::Place;
use crate::caller::outfile::OutFile;
use crate::caller::Caller;
use crate::error::StepError;
use crate::evidence::{kernel_release, now_rfc3339, Control, CpuUsage, Evidence, Provenance};
use crate::request::config::Config;
use crate::request::spec::RunSpec;
use crate::verdict::{self, Verdict};
use std::ffi::OsString;

/// Where the meta file and JSON document go, checked before anything runs so
/// that an unusable path is refused up front (`outfile`).
#[derive(Default)]
pub struct Outputs {
    pub meta: Option<OutFile>,
    pub json: Option<OutFile>,
}

impl Outputs {
    /// Check the result files with the caller's rights: a caller can only have
    /// rustbox write where they could write themselves. One in the box's own
    /// `box/` is checked now and opened again after the box is handed back.
    pub fn open(
        spec: &RunSpec,
        box_root: &std::path::Path,
        caller: &Caller,
    ) -> Result<Outputs, StepError> {
        let id = caller.path_identity();
        let mut out = Outputs::default();
        for (p, what, slot) in [
            (&spec.meta, "meta", &mut out.meta),
            (&spec.json, "json", &mut out.json),
        ] {
            let Some(p) = p else { continue };
            let place = match p.as_os_str() == "-" {
                true => Place::Outside,
                false => crate::caller::hostpath::place(box_root, spec.box_id, p, what)?,
            };
            *slot = Some(match place {
                Place::Outside => OutFile::prepare(p, id, what)?,
                Place::OwnBox(rel) => OutFile::prepare_in_box(
                    &box_root.join(spec.box_id.to_string()),
                    &rel,
                    p,
                    id,
                    what,
                )?,
            });
        }
        Ok(out)
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
    crate::boxdir::check_private_dir(&cfg.box_root, "box")?;
    caller.may_use(crate::boxdir::peek_state(&paths).owner())?;
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
    crate::caller::selfguard::check_not_dumpable()?;
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
    let interrupts = crate::supervisor::interrupt::Interrupts::block()?;
    ev.controls.push(disk_quota(spec, &paths)?);
    let (uid, gid) = cfg.box_ids(spec.box_id);
    // Lend /box to the box user; links and special files a program left are removed.
    // From here on every way out goes through `give_back`.
    crate::request::progress::say(1, format_args!("Lending /box to uid {uid}"));
    let lent = Lent::lend(&paths, &lock.state, (uid, gid))?;
    let mut mounts = Vec::new();
    let mut ran = prepare_and_watch(
        spec,
        cfg,
        caller,
        caller_env,
        &paths,
        &interrupts,
        ev,
        &mut mounts,
    );
    // An interrupt before the box started ends the run as isolate's does (SG
    // "Interrupted"), not as a failure of rustbox.
    if let (Some(sig), Err(e)) = (interrupts.received(), &ran) {
        if crate::supervisor::interrupt::is_interrupt(sig)
            && e.step == crate::supervisor::interrupt::STEP
        {
            ev.killed = Some(crate::evidence::KillReason::Interrupted(sig));
            ran = Ok(());
        }
    }
    // Hand /box back to its owner, whatever happened in the box.
    crate::request::progress::say(
        1,
        format_args!("Handing /box back to uid {}", lock.state.owner),
    );
    let back = lent.give_back(!spec.special_files);
    // What the box wrote into a caller's read-write directory stays there: no
    // setuid or setgid program of the box user may be left for the caller to run
    // later against whoever uses this box next.
    // Root's directories too: another local user who can reach them could run it.
    let set_ids = clear_set_ids(&mounts, uid);
    // Every teardown error reaches the verdict: the first one decides it, the
    // others are listed beside it.
    let mut errors = [ran.err(), back.err()].into_iter().flatten();
    let first = errors.next();
    for e in errors {
        ev.controls.push(Control::failed(&e));
    }
    match set_ids {
        Ok(0) => {}
        Ok(n) => ev.controls.push(Control::applied(
            "box.setid",
            true,
            format!(
                "setuid/setgid bits cleared on {n} file(s) the box left in read-write directories"
            ),
        )),
        Err(e) if first.is_some() => ev.controls.push(Control::failed(&e)),
        Err(e) => return Err(e),
    }
    first.map_or(Ok(()), Err)
}

/// `/box` lent to the box user for the length of one run, and the box's `/tmp`
/// reset: the two directories of the box that the host sees and the program can
/// write. The owner's files become the box user's; `give_back` returns them.
/// Created only by `lend`, which gives back on its own failure; if `give_back` is
/// never reached (a panic unwinding through the run), dropping gives back.
struct Lent<'a> {
    paths: &'a BoxPaths,
    owner: (u32, u32),
    user: (u32, u32),
    returned: bool,
}

impl<'a> Lent<'a> {
    fn lend(
        paths: &'a BoxPaths,
        state: &crate::boxdir::BoxState,
        user: (u32, u32),
    ) -> Result<Lent<'a>, StepError> {
        let mut lent = Lent {
            paths,
            owner: (state.owner, state.owner_gid),
            user,
            returned: false,
        };
        let done = reset_tmp(paths, user).and_then(|()| {
            crate::boxdir::trees::chown_tree(&paths.workspace, user.0, user.1, true, lent.owners())
        });
        match done {
            Ok(()) => Ok(lent),
            Err(e) => {
                // Part of /box may be the box user's already.
                let back = lent.hand_back(true);
                lent.returned = true;
                Err(match back {
                    Ok(()) => e,
                    Err(b) => StepError {
                        detail: format!("{}; handing /box back failed too: {b}", e.detail),
                        ..e
                    },
                })
            }
        }
    }

    /// Only the owner's files and the box user's may change hands (a box of
    /// root's: anything, as before).
    fn owners(&self) -> crate::boxdir::trees::Owners {
        match self.owner.0 {
            0 => crate::boxdir::trees::Owners::Any,
            _ => crate::boxdir::trees::Owners::Pair(self.owner.0, self.user.0),
        }
    }

    fn hand_back(&self, remove_special: bool) -> Result<(), StepError> {
        let back = crate::boxdir::trees::chown_tree(
            &self.paths.workspace,
            self.owner.0,
            self.owner.1,
            remove_special,
            self.owners(),
        );
        let tmp = reset_tmp(self.paths, self.user);
        back.and(tmp)
    }

    /// Hand /box back (special files the program made removed, unless
    /// `remove_special` is false: `--special-files`) and reset /tmp.
    fn give_back(mut self, remove_special: bool) -> Result<(), StepError> {
        self.returned = true;
        self.hand_back(remove_special)
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if !self.returned {
            // Nothing can be reported from here; the box is at least its owner's.
            let _ = self.hand_back(true);
        }
    }
}

/// The box's `/tmp` as it must be between runs and at the start of each: the box
/// user's, mode 0700. A program may have opened it to everyone (`chmod 1777`);
/// other host users could then read what it left and plant what the next run
/// reads.
fn reset_tmp(paths: &BoxPaths, user: (u32, u32)) -> Result<(), StepError> {
    let dir = crate::boxdir::trees::open_dir(&paths.tmp, "box.tmp")?;
    crate::boxdir::trees::set_owner_mode(&dir, user, 0o700, "box.tmp", &paths.tmp)
}

/// Between lending and handing back: the plan, the cgroup, the run itself, and the
/// evidence it leaves. The plan's mounts are left in `mounts` for the teardown.
#[allow(clippy::too_many_arguments)]
fn prepare_and_watch(
    spec: &RunSpec,
    cfg: &Config,
    caller: &Caller,
    caller_env: &[(OsString, OsString)],
    paths: &BoxPaths,
    interrupts: &crate::supervisor::interrupt::Interrupts,
    ev: &mut Evidence,
    mounts: &mut Vec<crate::chain::root::MountPlan>,
) -> Result<(), StepError> {
    let mut plan = crate::plan::build(spec, cfg, paths, caller, caller_env)?;
    mounts.clone_from(&plan.root.mounts);
    let terminal = if spec.tty_hack {
        caller_terminal(ev)?
    } else {
        None
    };
    plan.take_terminal = terminal.is_some();
    let cg = if spec.cg {
        Some(box_cgroup(spec, cfg, ev)?)
    } else {
        None
    };
    crate::request::progress::say(
        1,
        format_args!(
            "Starting the box ({} mounts planned)",
            plan.root.mounts.len()
        ),
    );
    let facts = crate::supervisor::run(
        &plan,
        &spec.limits,
        cg.as_deref(),
        interrupts,
        terminal.as_ref(),
    );
    let cg_stats = cg.as_ref().map(|c| c.stats());
    let destroyed = cg.as_ref().map_or(Ok(()), |c| c.destroy());
    let absorbed = facts.and_then(|f| absorb(spec, f, cg_stats, ev));
    match (absorbed, destroyed) {
        // The first failure decides; a failed removal of the cgroup is listed too.
        (Err(e), Err(d)) => {
            ev.controls.push(Control::failed(&d));
            Err(e)
        }
        (absorbed, destroyed) => absorbed.and(destroyed),
    }
}

/// --tty-hack: the terminal on rustbox's stdout, saved to be given back after the
/// run, when it is rustbox's controlling terminal. Otherwise nothing is done, as
/// isolate does nothing without a terminal, and the evidence says why.
fn caller_terminal(ev: &mut Evidence) -> Result<Option<crate::sys::tty::Saved>, StepError> {
    use crate::sys::tty::Terminal;
    let skipped = |why: String| Control::applied("tty.foreground", false, why);
    match crate::sys::tty::inspect(libc::STDOUT_FILENO)? {
        Terminal::Controlling(saved) => Ok(Some(saved)),
        Terminal::NotATerminal(errno) => {
            ev.controls.push(skipped(format!(
                "--tty-hack skipped: stdout is not a terminal (tcgetattr: {})",
                crate::error::errno_name(errno)
            )));
            Ok(None)
        }
        Terminal::NotControlling => {
            ev.controls.push(skipped(
                "--tty-hack skipped: stdout is a terminal, but not rustbox's controlling \
                 terminal (tcgetpgrp: ENOTTY); no group of rustbox's session can be its \
                 foreground group"
                    .into(),
            ));
            Ok(None)
        }
    }
}

/// The facts of the run and the cgroup's statistics into the evidence.
fn absorb(
    spec: &RunSpec,
    mut facts: crate::supervisor::RunFacts,
    cg_stats: Option<Result<(CpuUsage, crate::evidence::CgroupUsage), StepError>>,
    ev: &mut Evidence,
) -> Result<(), StepError> {
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
        if ev.cpu.source != crate::supervisor::cpuclock::SOURCE {
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
        let dir = match crate::caller::fsid::as_user(*id, &[], "box.setid", || {
            crate::boxdir::trees::open_dir(src, "box.setid")
        }) {
            Ok(d) => d,
            Err(e) if e.errno == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        n += crate::boxdir::trees::clear_set_ids(dir, src, box_uid)?;
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

/// What bounds the box's writable file systems. `--quota` belongs to `--init` (as
/// in isolate, which takes it on `--run` too and ignores it there: ReCodEx and
/// camisole pass it only on `--run`); the control says what the box really has.
fn disk_quota(spec: &RunSpec, paths: &BoxPaths) -> Result<Control, StepError> {
    let show = |l: Option<(u64, u64)>| match l {
        Some((bytes, inodes)) => format!("tmpfs of {} KiB, {inodes} inodes", bytes / 1024),
        None => "host file system, no quota".to_string(),
    };
    // The whole box on one tmpfs (the default), or box/ on the host's disk with
    // tmp/ a tmpfs of its own.
    let whole = crate::boxdir::tmpfs::limits(&paths.dir, crate::boxdir::tmpfs::BOX_RESERVED_INODES);
    let ws = whole.or_else(|| crate::boxdir::tmpfs::limits(&paths.workspace, 1));
    let mut detail = match whole {
        Some(_) => format!("/box and /tmp: one {}", show(whole)),
        None => format!(
            "/box: {}; /tmp: {}",
            show(ws),
            show(crate::boxdir::tmpfs::limits(&paths.tmp, 1))
        ),
    };
    if let Some((blocks, inodes)) = spec.limits.quota {
        // tmpfs rounds its size up to whole pages.
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
        let want = (blocks.saturating_mul(1024)).div_ceil(page) * page;
        if ws != Some((want, inodes)) {
            detail.push_str(&format!(
                "; --quota={blocks},{inodes} given to --run is not applied (isolate \
                 applies a quota at --init, where it made this box)"
            ));
        }
    }
    Ok(Control::applied("disk.quota", true, detail))
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
            if let Err(d) = cg.destroy() {
                ev.controls.push(Control::failed(&d));
            }
            return Err(e);
        }
    }
    Ok(cg)
}

/// Write meta and JSON; returns the first error if writing failed (both are
/// tried).
pub fn write_outputs(out: Outputs, o: &Outcome) -> Result<(), StepError> {
    let meta = out.meta.map_or(Ok(()), |m| {
        m.write(verdict::meta(&o.evidence, &o.verdict).as_bytes())
    });
    let json = match out.json {
        None => Ok(()),
        Some(j) => serde_json::to_string_pretty(&verdict::json(&o.evidence, &o.verdict))
            .map_err(|e| StepError::new("json", e.to_string()))
            .and_then(|mut s| {
                s.push('\n');
                j.write(s.as_bytes())
            }),
    };
    meta.and(json)
}

/// isolate's status line on stderr.
pub fn status_line(o: &Outcome) -> String {
    if o.verdict.status == "OK" {
        format!(
            "OK ({} sec real, {} sec wall)",
            verdict::secs3(o.evidence.cpu.total_s),
            verdict::secs3(o.evidence.wall_s)
        )
    } else {
        o.verdict.message.clone()
    }
}
