//! `--run` end to end: lock the box, lend it to the box user, plan, supervise,
//! hand it back, judge, write meta and JSON.

use crate::boxdir::lend::Lent;
use crate::boxdir::{BoxLock, BoxPaths};
use crate::caller::hostpath::Place;
use crate::caller::outfile::OutFile;
use crate::caller::Caller;
use crate::request::config::Config;
use crate::request::progress;
use crate::request::spec::RunSpec;
use crate::supervisor::interrupt::Interrupts;
use crate::sys::error::StepError;
use crate::verdict::evidence::{Control, Evidence};
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
    pub fn open(spec: &RunSpec, cfg: &Config, caller: &Caller) -> Result<Outputs, StepError> {
        let paths = BoxPaths::new(cfg, spec.box_id);
        let id = caller.path_identity();
        let mut out = Outputs::default();
        for (p, what, slot) in [
            (&spec.meta, "meta", &mut out.meta),
            (&spec.json, "json", &mut out.json),
        ] {
            let Some(p) = p else { continue };
            let place = match p.as_os_str() == "-" {
                true => Place::Outside,
                false => crate::caller::hostpath::place(&cfg.box_root, spec.box_id, p, what)?,
            };
            *slot = Some(match place {
                Place::Outside => OutFile::prepare(p, id, what)?,
                // What --special-files keeps (the program's links) could send
                // the write elsewhere and leave the program's file at the judge's
                // path (found by review).
                Place::OwnBox(_) if spec.special_files => {
                    return Err(StepError::new(
                        what,
                        format!(
                            "{} is in the box's box/ and --special-files keeps the links \
                             the program makes there: write it outside box/, or drop \
                             --special-files",
                            p.display()
                        ),
                    ))
                }
                Place::OwnBox(rel) => OutFile::prepare_in_box(&paths.dir, &rel, p, id, what)?,
            });
        }
        Ok(out)
    }
}

/// The result of a --run: evidence and its verdict.
pub struct Outcome {
    pub evidence: Evidence,
    pub verdict: Verdict,
}

/// What a `--run` works from: the request, the configuration, who asked, and the
/// environment variables the caller's `-e`/`-E` may pass on.
struct Request<'a> {
    spec: &'a RunSpec,
    cfg: &'a Config,
    caller: &'a Caller,
    env: &'a [(OsString, OsString)],
}

impl<'a> Request<'a> {
    /// The request, and the evidence its run starts from.
    fn start(
        spec: &'a RunSpec,
        cfg: &'a Config,
        caller: &'a Caller,
        env: &'a [(OsString, OsString)],
    ) -> (Request<'a>, Evidence) {
        let ev = Evidence::new(spec.box_id, &spec.limits);
        (
            Request {
                spec,
                cfg,
                caller,
                env,
            },
            ev,
        )
    }
}

/// Run the program in box `spec.box_id`, and write the meta and JSON `outputs`
/// (their failure is the second value). The box stays locked until they are
/// written: a run queued behind this one (`--wait`) must not have `box/`, where a
/// meta file may go, before then (found by review).
pub fn run(
    spec: &RunSpec,
    cfg: &Config,
    caller: &Caller,
    caller_env: &[(OsString, OsString)],
    outputs: Outputs,
) -> (Outcome, Result<(), StepError>) {
    let (req, mut ev) = Request::start(spec, cfg, caller, caller_env);
    let locked = acquire(&req, &mut ev);
    let (outcome, written, locked) = run_locked(&req, ev, locked, outputs);
    // A run that had the box and ran its program, still holding the lock: does
    // the box's next run get a spare network namespace (`boxdir::netns`)? Not
    // when the supervisor is stranded outside its own (`netns_home`).
    let spare = match &locked {
        Ok((paths, _))
            if cfg.net_spare
                && !spec.share_net
                && outcome.evidence.executed
                && crate::supervisor::netns_home::at_home() =>
        {
            let holder = crate::boxdir::netns::holder(&paths.lock_file);
            crate::boxdir::netns::wants_spare(&holder).map(|seen| (holder, seen))
        }
        _ => None,
    };
    drop(locked);
    // The box let go: its next run's network namespace is made now, off that
    // run's path.
    if let Some((holder, seen)) = spare {
        crate::boxdir::netns::make_spare(&holder, seen);
    }
    // The next run's CPU clock opens warm if it comes soon (`supervisor::keeper`).
    crate::supervisor::keeper::ensure(std::time::Duration::from_secs(cfg.clock_keeper_idle.into()));
    (outcome, written)
}

/// `--exec`'s run: in box `paths`, whose lock it has held since it took the box
/// (and keeps, for the cleanup: the lock is handed back with the outcome).
pub fn run_held(
    spec: &RunSpec,
    cfg: &Config,
    caller: &Caller,
    caller_env: &[(OsString, OsString)],
    outputs: Outputs,
    paths: BoxPaths,
    lock: BoxLock,
) -> (Outcome, Result<(), StepError>, BoxLock) {
    let (req, mut ev) = Request::start(spec, cfg, caller, caller_env);
    ev.controls.push(Control::applied(
        "box.lock",
        true,
        format!(
            "flock on {}, held by --exec from --init to --cleanup; box of uid {}",
            paths.lock_file.display(),
            lock.state.owner
        ),
    ));
    let (outcome, written, locked) = run_locked(&req, ev, Ok((paths, lock)), outputs);
    crate::supervisor::keeper::ensure(std::time::Duration::from_secs(cfg.clock_keeper_idle.into()));
    let Ok((_, lock)) = locked else {
        unreachable!("run_locked hands back the lock it was given")
    };
    (outcome, written, lock)
}

/// The run in the locked box (or the failure to lock it), its verdict, and the
/// outputs written before the lock is handed back.
#[allow(clippy::type_complexity)]
fn run_locked(
    req: &Request,
    mut ev: Evidence,
    locked: Result<(BoxPaths, BoxLock), StepError>,
    outputs: Outputs,
) -> (
    Outcome,
    Result<(), StepError>,
    Result<(BoxPaths, BoxLock), StepError>,
) {
    let ran = match &locked {
        Ok((paths, lock)) => run_in_box(req, paths, lock, &mut ev),
        Err(e) => Err(e.clone()),
    };
    if let Err(e) = ran {
        ev.fail(e);
    }
    ev.finish();
    let verdict = verdict::verdict(&ev);
    let outcome = Outcome {
        evidence: ev,
        verdict,
    };
    let written = write_outputs(outputs, &outcome);
    (outcome, written, locked)
}

/// The order of a `--run` in the locked box, as plain as `chain::contain`: check
/// the caller and the host, lend `/box` (a guard that always hands it back),
/// prepare and supervise, tear down (always), settle what the evidence says.
fn run_in_box(
    req: &Request,
    paths: &BoxPaths,
    lock: &BoxLock,
    ev: &mut Evidence,
) -> Result<(), StepError> {
    let interrupts = check_host(req.spec, paths, ev)?;
    let user = req.cfg.box_ids(req.spec.box_id);
    progress::say(1, format_args!("Lending /box to uid {}", user.0));
    let lent = Lent::lend(paths, &lock.state, user)?;
    let mut mounts = Vec::new();
    let ran = prepare_and_watch(req, paths, &interrupts, ev, &mut mounts);
    let ran = interrupted_before_start(ran, &interrupts, ev);
    progress::say(
        1,
        format_args!("Handing /box back to uid {}", lock.state.owner),
    );
    let back = lent.give_back(!req.spec.special_files);
    let set_ids = clear_set_ids(&mounts, user.0);
    settle([ran, back], set_ids, ev)
}

/// The box, locked, initialised and the caller's to use.
fn acquire(req: &Request, ev: &mut Evidence) -> Result<(BoxPaths, BoxLock), StepError> {
    let Request {
        spec, cfg, caller, ..
    } = req;
    let paths = BoxPaths::new(cfg, spec.box_id);
    crate::boxdir::check_private_dir(&cfg.box_root, "box")?;
    caller.may_use(crate::boxdir::peek_state(&paths).owner())?;
    let lock = match BoxLock::acquire(cfg, &paths, spec.wait, false)? {
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
    // The owner again, under the lock: it may have changed since the peek.
    caller.may_use(lock.state.owner())?;
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
    Ok((paths, lock))
}

/// Before anything is lent: the supervisor still cannot be traced, the signals
/// that end a run are held for the teardown, and the box's disk is what it says.
fn check_host(
    spec: &RunSpec,
    paths: &BoxPaths,
    ev: &mut Evidence,
) -> Result<Interrupts, StepError> {
    crate::caller::selfguard::check_not_dumpable()?;
    ev.controls.push(Control::applied(
        "supervisor.dumpable",
        true,
        "PR_GET_DUMPABLE = 0: no ptrace, /proc/<pid>/mem or core dump of the supervisor",
    ));
    // From here on, SIGINT/SIGTERM/SIGHUP end the run through the teardown.
    let interrupts = Interrupts::block()?;
    ev.controls.push(disk_quota(spec, paths)?);
    Ok(interrupts)
}

/// An interrupt before the box started ends the run as isolate's does (SG
/// "Interrupted"), not as a failure of rustbox.
fn interrupted_before_start(
    ran: Result<(), StepError>,
    interrupts: &Interrupts,
    ev: &mut Evidence,
) -> Result<(), StepError> {
    match (interrupts.received(), ran) {
        (Some(sig), Err(e))
            if crate::supervisor::interrupt::is_interrupt(sig)
                && e.step == crate::supervisor::interrupt::STEP =>
        {
            ev.killed = Some(crate::verdict::evidence::KillReason::Interrupted(sig));
            Ok(())
        }
        (_, ran) => ran,
    }
}

/// Every teardown error reaches the verdict: the first one decides it, the others
/// are listed beside it. What the box wrote into a caller's read-write directory
/// stays there, but no setuid or setgid program of the box user (`set_ids`).
fn settle(
    steps: [Result<(), StepError>; 2],
    set_ids: Result<usize, StepError>,
    ev: &mut Evidence,
) -> Result<(), StepError> {
    let mut errors = steps.into_iter().filter_map(Result::err);
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

/// Between lending and handing back: the plan, the cgroup, the run itself, and the
/// evidence it leaves. The plan's mounts are left in `mounts` for the teardown.
fn prepare_and_watch(
    req: &Request,
    paths: &BoxPaths,
    interrupts: &Interrupts,
    ev: &mut Evidence,
    mounts: &mut Vec<crate::plan::MountPlan>,
) -> Result<(), StepError> {
    let Request { spec, cfg, .. } = req;
    let mut plan = crate::plan::build(spec, cfg, paths, req.caller, req.env)?;
    mounts.clone_from(&plan.root.mounts);
    let terminal = caller_terminal(spec.tty_hack, ev)?;
    plan.take_terminal = spec.tty_hack && terminal.is_some();
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
    let absorbed = facts.and_then(|f| {
        ev.controls.push(memory_total(spec));
        ev.absorb(f, cg_stats)
    });
    match (absorbed, destroyed) {
        // The first failure decides; a failed removal of the cgroup is listed too.
        (Err(e), Err(d)) => {
            ev.controls.push(Control::failed(&d));
            Err(e)
        }
        (absorbed, destroyed) => absorbed.and(destroyed),
    }
}

/// The caller's terminal, saved to be given back after the run (its foreground
/// group and modes). With --tty-hack, the terminal on rustbox's stdout, as
/// isolate takes it, when it is rustbox's controlling terminal; otherwise nothing
/// is done and the evidence says why. Without --tty-hack the program does not
/// take it, but a program that ignores SIGTTOU can still make itself the
/// foreground group or change the modes of a terminal on its streams: whichever
/// of them is rustbox's controlling terminal is given back all the same.
fn caller_terminal(
    tty_hack: bool,
    ev: &mut Evidence,
) -> Result<Option<crate::sys::tty::Saved>, StepError> {
    use crate::sys::tty::Terminal;
    if !tty_hack {
        for fd in [libc::STDOUT_FILENO, libc::STDIN_FILENO, libc::STDERR_FILENO] {
            if let Terminal::Controlling(saved) = crate::sys::tty::inspect(fd)? {
                return Ok(Some(saved));
            }
        }
        return Ok(None);
    }
    let skipped = |why: String| Control::applied("tty.foreground", false, why);
    match crate::sys::tty::inspect(libc::STDOUT_FILENO)? {
        Terminal::Controlling(saved) => Ok(Some(saved)),
        Terminal::NotATerminal(errno) => {
            ev.controls.push(skipped(format!(
                "--tty-hack skipped: stdout is not a terminal (tcgetattr: {})",
                crate::sys::error::errno_name(errno)
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

/// Clear the setuid and setgid bits of the box user's regular files below every
/// read-write bind source the caller named (as the plan resolved them: opened
/// with the caller's rights, walked without following links). A source that is
/// not there (a `maybe` rule) holds nothing of the box.
fn clear_set_ids(mounts: &[crate::plan::MountPlan], box_uid: u32) -> Result<usize, StepError> {
    use crate::chain::mounts::MOUNT_ATTR_RDONLY;
    use crate::plan::MountKind;
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
fn write_outputs(out: Outputs, o: &Outcome) -> Result<(), StepError> {
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
