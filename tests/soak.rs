//! The soak and concurrency suite: many `--init` / `--run --cg` / `--cleanup`
//! cycles on many boxes at once, then a count of everything a cycle could leave
//! behind, each of which must be zero.
//!
//! `RUSTBOX_SOAK_CYCLES` (default 1000; `make soak` uses 10000) is the TOTAL number
//! of cycles, spread over `RUSTBOX_SOAK_BOXES` (default 32) worker threads running
//! at the same time, each owning one box id and looping over its share. A cycle
//! runs one of these programs in turn (offset per box, so the kinds mix at any
//! moment), each checked against its expected verdict:
//!
//! - `/bin/true` (OK),
//! - three forked CPU spinners killed at `-t 0.05` (TO: the CPU watchdog's kill),
//! - a fork bomb held by `-p16` and killed at `-t 0.1` (TO: whole-box kill),
//! - a daemonised grandchild left behind by a program that exits 0 (OK; the
//!   grandchild must die with the box),
//! - a sleeper killed at `-w 0.2` (TO, wall clock),
//! - the fd audit: `/bin/sh` waits in the box while the test lists the
//!   supervisor's descriptors (see [`audit_supervisor`]).
//!
//! The supervisor is the rustbox process of one `--run`, so descriptors cannot
//! pile up inside it from cycle to cycle; what the audit checks is that while the
//! box runs it holds exactly the descriptors the run needs ([`REQUIRED_FDS`]: no
//! write end of its own pipes, nothing in the box directory), the same set in
//! every audited run. rustbox is started with descriptors 0-2 only, so every other
//! one it holds is its own.
//!
//! Checked after every cycle (cheap, per box): no live process of the box uid
//! after `--run` and after `--cleanup`; after `--cleanup` no box directory, lock
//! file, mount under the box directory, or cgroup `box-N` in any hierarchy.
//! Checked after all cycles (whole suite): processes of the suite's uids (zombies
//! included), rustbox processes with the suite's `--config` (supervisors, proxies),
//! unreaped children of the test; mountinfo lines naming the suite's directory;
//! directories under `<hierarchy>/<cg_root>` in every cgroup hierarchy; entries of
//! the box root and of the lock root.
//!
//! Boxes: `/tmp/rustbox-soak-<pid>/`, uids from 65000, cgroups under
//! `rustbox/test-soak`. Requirements: root and gcc (for the probe).

mod common;

use common::harness::{self, env, rustbox, rustbox_cmd, text, Meta};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub static SUITE: common::SuiteConf = common::SuiteConf {
    prefix: "rustbox-soak",
    first_uid: 65000,
    num_boxes: 64,
    cg_root: "rustbox/test-soak",
    how_to_run: "cargo test --test soak -- --nocapture",
};

const DEFAULT_CYCLES: u32 = 1000;
const DEFAULT_BOXES: u32 = 32;

fn env_u32(name: &str, default: u32) -> u32 {
    match std::env::var(name) {
        Err(_) => default,
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?}: expected a number")),
    }
}

// ---------------------------------------------------------------------------
// What a cycle runs
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    True,
    Spin,
    ForkBomb,
    Daemon,
    Wall,
    FdAudit,
}

/// One box's sequence of runs, repeated; box k starts at position k.
const ROTATION: [Kind; 8] = [
    Kind::True,
    Kind::Spin,
    Kind::True,
    Kind::ForkBomb,
    Kind::True,
    Kind::Daemon,
    Kind::Wall,
    Kind::FdAudit,
];

/// What the program in the box of an fd audit does: say it started, then wait
/// for the host to let it finish.
const WAIT_FOR_GO: &str = ": > /box/started; while [ ! -e /box/go ]; do sleep 0.005; done";

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::True => "true",
            Kind::Spin => "cpu-TLE spinners",
            Kind::ForkBomb => "fork bomb",
            Kind::Daemon => "daemon",
            Kind::Wall => "wall-TLE sleeper",
            Kind::FdAudit => "fd audit",
        }
    }

    /// Options; every run has a wall limit, so no cycle can hang the soak.
    fn opts(self) -> &'static [&'static str] {
        match self {
            Kind::True => &["--cg", "-w", "10"],
            Kind::Spin => &["--cg", "-p8", "-t", "0.05", "-w", "10"],
            Kind::ForkBomb => &["--cg", "-p16", "-t", "0.1", "-w", "10"],
            Kind::Daemon => &["--cg", "-p8", "-w", "10"],
            Kind::Wall => &["--cg", "-w", "0.2"],
            Kind::FdAudit => &["--cg", "-p8", "-w", "10"],
        }
    }

    fn program(self) -> &'static [&'static str] {
        match self {
            Kind::True => &["/bin/true"],
            Kind::Spin => &["/box/probe", "spinfork", "3"],
            Kind::ForkBomb => &["/box/probe", "forkbomb"],
            Kind::Daemon => &["/box/probe", "daemon", "/box/daemon.pid"],
            Kind::Wall => &["/box/probe", "sleep", "5"],
            Kind::FdAudit => &["/bin/sh", "-c", WAIT_FOR_GO],
        }
    }

    fn needs_probe(self) -> bool {
        self.program()[0] == "/box/probe"
    }

    /// (exit status, JSON verdict, meta status, meta message).
    fn expected(self) -> (i32, &'static str, Option<&'static str>, &'static str) {
        match self {
            Kind::True | Kind::Daemon | Kind::FdAudit => (0, "OK", None, "OK"),
            Kind::Spin | Kind::ForkBomb => (1, "TLE", Some("TO"), "Time limit exceeded"),
            Kind::Wall => (1, "TLE", Some("TO"), "Time limit exceeded (wall clock)"),
        }
    }
}

// ---------------------------------------------------------------------------
// Host-side observation
// ---------------------------------------------------------------------------

/// A process as /proc shows it.
#[derive(Debug, Clone)]
struct Proc {
    pid: u32,
    name: String,
    state: char,
    /// Real, effective, saved and filesystem uid.
    uids: [u32; 4],
}

fn scan_procs() -> Vec<Proc> {
    common::proc_statuses()
        .into_iter()
        .map(|(pid, st)| {
            let field = |k: &str| common::status_field(&st, k);
            let mut uids = [u32::MAX; 4];
            if let Some(u) = field("Uid:") {
                for (slot, x) in uids.iter_mut().zip(u.split_whitespace()) {
                    *slot = x.parse().unwrap_or(u32::MAX);
                }
            }
            Proc {
                pid,
                name: field("Name:").unwrap_or("?").to_string(),
                state: field("State:")
                    .and_then(|s| s.chars().next())
                    .unwrap_or('?'),
                uids,
            }
        })
        .collect()
}

/// Live (not zombie) processes with any of their uids equal to `uid`.
fn live_procs_of_uid(uid: u32) -> Vec<Proc> {
    scan_procs()
        .into_iter()
        .filter(|p| p.uids.contains(&uid) && !matches!(p.state, 'Z' | 'X'))
        .collect()
}

/// The executable of `pid`, without a " (deleted)" suffix.
fn exe_of(pid: u32) -> Option<PathBuf> {
    let p = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let s = p.to_string_lossy();
    Some(PathBuf::from(s.strip_suffix(" (deleted)").unwrap_or(&s)))
}

fn rustbox_exe() -> PathBuf {
    let b = common::rustbox_bin();
    std::fs::canonicalize(&b).unwrap_or(b)
}

/// Field 22 of /proc/<pid>/stat: when the process started (tells a recycled pid).
fn start_time(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    after.split(' ').nth(19)?.parse().ok()
}

fn mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").expect("read /proc/self/mountinfo")
}

/// Mount points of every cgroup hierarchy (v1 and v2).
fn cgroup_mounts() -> Vec<PathBuf> {
    let v = common::cgroup_mounts();
    assert!(!v.is_empty(), "no cgroup hierarchy is mounted");
    v
}

/// Directories below `dir`, recursively (0 if it does not exist).
fn dirs_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(e.path());
                out.extend(dirs_below(&e.path()));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The supervisor's descriptors
// ---------------------------------------------------------------------------

/// What every audited run's supervisor must hold, no more: the test's stdio, the
/// meta and JSON files' directories (opened before the run), the box lock, the signalfd of the
/// blocked termination signals, the proxy's pidfd and the read ends of the report
/// and status pipes. Optional, but then the same in every run: the perf task clock
/// (absent where perf events are not allowed) and, on cgroup v2, the box's cgroup
/// directory (clone3 CLONE_INTO_CGROUP).
const REQUIRED_FDS: &[&str] = &[
    "stdin (/dev/null)",
    "stdout",
    "stderr",
    // The directories of the meta and JSON files (O_PATH): the files themselves
    // are created after the run and renamed into place (outfile.rs).
    "result file directory",
    "result file directory",
    "box lock file",
    "signalfd",
    "pidfd",
    "pipe read end",
    "pipe read end",
];
const OPTIONAL_FDS: &[&str] = &["perf task clock", "cgroup directory"];

struct AuditCtx {
    id: u32,
    meta: PathBuf,
    json: PathBuf,
    lock: PathBuf,
    cg_mounts: Vec<PathBuf>,
}

/// What one descriptor of the supervisor is.
fn classify(fd: u32, target: &str, flags: Option<u32>, cx: &AuditCtx) -> String {
    let readonly = flags.is_some_and(|f| f & libc::O_ACCMODE as u32 == libc::O_RDONLY as u32);
    let o_path = flags.is_some_and(|f| f & libc::O_PATH as u32 != 0);
    let t = Path::new(target);
    let cg_dir = cx
        .cg_mounts
        .iter()
        .any(|m| t == m.join(harness::cg_root()).join(format!("box-{}", cx.id)));
    match (fd, target) {
        (0, "/dev/null") => "stdin (/dev/null)".into(),
        (1, _) => "stdout".into(),
        (2, _) => "stderr".into(),
        _ if o_path && (Some(t) == cx.meta.parent() || Some(t) == cx.json.parent()) => {
            "result file directory".into()
        }
        _ if t == cx.lock => "box lock file".into(),
        (_, "anon_inode:[signalfd]") => "signalfd".into(),
        (_, "anon_inode:[pidfd]") => "pidfd".into(),
        (_, "anon_inode:[perf_event]") => "perf task clock".into(),
        _ if target.starts_with("pipe:") && readonly => "pipe read end".into(),
        _ if target.starts_with("pipe:") => format!("UNEXPECTED pipe write end ({target})"),
        _ if cg_dir => "cgroup directory".into(),
        _ => format!("UNEXPECTED {target}"),
    }
}

/// The supervisor's descriptors, classified: (fd, what), sorted by fd.
fn supervisor_fds(pid: u32, cx: &AuditCtx) -> Result<Vec<(u32, String)>, String> {
    let dir = format!("/proc/{pid}/fd");
    let rd = std::fs::read_dir(&dir).map_err(|e| format!("list {dir}: {e}"))?;
    let mut v = Vec::new();
    for e in rd.flatten() {
        let Ok(fd) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(target) = std::fs::read_link(e.path()) else {
            continue; // closed meanwhile
        };
        let flags = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("flags:"))
                    .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
            });
        v.push((fd, classify(fd, &target.to_string_lossy(), flags, cx)));
    }
    v.sort();
    Ok(v)
}

/// Compare one listing against REQUIRED_FDS and OPTIONAL_FDS; the optional ones
/// found are returned, to be compared across runs.
fn check_fds(fds: &[(u32, String)]) -> Result<Vec<String>, String> {
    let mut want: Vec<&str> = REQUIRED_FDS.to_vec();
    let mut optional = Vec::new();
    let mut bad = Vec::new();
    for (fd, what) in fds {
        if let Some(i) = want.iter().position(|w| w == what) {
            want.remove(i);
        } else if OPTIONAL_FDS.contains(&what.as_str()) && !optional.contains(what) {
            optional.push(what.clone());
        } else {
            bad.push(format!("fd {fd}: {what}"));
        }
    }
    if bad.is_empty() && want.is_empty() {
        Ok(optional)
    } else {
        Err(format!(
            "supervisor descriptors: unexpected [{}], missing [{}]; all: {fds:?}",
            bad.join(", "),
            want.join(", ")
        ))
    }
}

/// The fd audit of one run, while the box waits for `/box/go`: every descriptor
/// of the supervisor (the rustbox process itself) is one it needs for the run.
/// The listing is taken twice if the first has a surprise, 100 ms apart: the
/// supervisor drops the go pipe's write end right after the go byte, and on a
/// loaded machine the box might get as far as `/box/started` before that drop.
/// A leaked descriptor stays; it fails the second listing too.
///
/// Returns the shape of the table: (number of descriptors, optional ones present).
fn audit_supervisor(sup: u32, cx: &AuditCtx) -> Result<FdShape, String> {
    let mut fds = supervisor_fds(sup, cx)?;
    let optional = match check_fds(&fds) {
        Ok(o) => o,
        Err(_) => {
            std::thread::sleep(Duration::from_millis(100));
            fds = supervisor_fds(sup, cx)?;
            check_fds(&fds)?
        }
    };
    Ok((fds.len(), optional))
}

/// (number of descriptors, optional descriptors present).
type FdShape = (usize, Vec<String>);

/// A process told from a later one with its pid: (pid, start time).
type ProcId = (u32, Option<u64>);

/// The proxy: the supervisor's one child, running the rustbox binary (to check
/// after the run that it is gone).
fn find_proxy(sup: u32) -> Result<ProcId, String> {
    let kids =
        common::children_of(sup).map_err(|e| format!("read the supervisor's children: {e}"))?;
    if kids.len() != 1 {
        return Err(format!(
            "the supervisor has {} children, expected one (the proxy): {kids:?}",
            kids.len()
        ));
    }
    let proxy = kids[0];
    if exe_of(proxy) != Some(rustbox_exe()) {
        return Err(format!(
            "the supervisor's child {proxy} runs {:?}, not rustbox",
            exe_of(proxy)
        ));
    }
    Ok((proxy, start_time(proxy)))
}

// ---------------------------------------------------------------------------
// One worker: one box, its share of the cycles
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Timing {
    n: u32,
    total: Duration,
    max: Duration,
}

impl Timing {
    fn add(&mut self, d: Duration) {
        self.n += 1;
        self.total += d;
        self.max = self.max.max(d);
    }
    fn merge(&mut self, o: &Timing) {
        self.n += o.n;
        self.total += o.total;
        self.max = self.max.max(o.max);
    }
    fn mean_ms(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.total.as_secs_f64() * 1000.0 / f64::from(self.n)
        }
    }
    fn max_ms(&self) -> f64 {
        self.max.as_secs_f64() * 1000.0
    }
}

#[derive(Default)]
struct Report {
    cycles: u32,
    init: Timing,
    cleanup: Timing,
    runs: BTreeMap<Kind, Timing>,
    /// The shape of the supervisor's descriptor table in every clean fd audit.
    audits: Vec<FdShape>,
    /// Audits that found a descriptor the supervisor should not hold.
    fd_problems: Vec<String>,
    cg_versions: BTreeSet<u64>,
    failure: Option<String>,
}

struct Worker {
    id: u32,
    uid: u32,
    dir: PathBuf,
    lock: PathBuf,
    meta: PathBuf,
    json: PathBuf,
    cg_mounts: Vec<PathBuf>,
}

impl Worker {
    fn new(id: u32, cg_mounts: Vec<PathBuf>) -> Worker {
        let e = env();
        Worker {
            id,
            uid: harness::first_uid() + id,
            dir: e.box_root.join(id.to_string()),
            lock: e.lock_root.join(id.to_string()),
            meta: e.out.join(format!("soak-{id}.meta")),
            json: e.out.join(format!("soak-{id}.json")),
            cg_mounts,
        }
    }

    fn init(&self) -> Result<(), String> {
        let o = rustbox(&["-b", &self.id.to_string(), "--init"]);
        if o.status.code() != Some(0) {
            return Err(format!("--init failed: {}", text(&o.stderr)));
        }
        if text(&o.stdout) != format!("{}\n", self.dir.display()) {
            return Err(format!("--init printed {:?}", text(&o.stdout)));
        }
        Ok(())
    }

    fn cleanup(&self) -> Result<(), String> {
        let o = rustbox(&["-b", &self.id.to_string(), "--cleanup"]);
        if o.status.code() != Some(0) {
            return Err(format!("--cleanup failed: {}", text(&o.stderr)));
        }
        Ok(())
    }

    fn no_live_processes(&self, when: &str) -> Result<(), String> {
        let left = live_procs_of_uid(self.uid);
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "processes of box uid {} {when}: {:?}",
                self.uid,
                left.iter().map(|p| (p.pid, &p.name)).collect::<Vec<_>>()
            ))
        }
    }

    /// What a finished cycle must not leave for this box.
    fn nothing_left(&self) -> Result<(), String> {
        self.no_live_processes("left after --cleanup")?;
        if self.dir.exists() {
            return Err(format!("{} exists after --cleanup", self.dir.display()));
        }
        if self.lock.exists() {
            return Err(format!("{} exists after --cleanup", self.lock.display()));
        }
        if let Some(mp) = common::mounts_below("self", &self.dir).first() {
            return Err(format!("a mount is left after --cleanup: {mp}"));
        }
        for g in common::box_cgroups(&SUITE, &self.cg_mounts, self.id) {
            if g.exists() {
                return Err(format!("cgroup {} exists after --cleanup", g.display()));
            }
        }
        Ok(())
    }

    /// One `--run` of `kind`, checked against its expected verdict.
    fn run(&self, kind: Kind, r: &mut Report) -> Result<(), String> {
        let ws = self.dir.join("box");
        if kind.needs_probe() {
            // Copied by install(1), not by this process: a descriptor open for
            // writing here would be inherited by whatever another worker forks
            // at that moment, and until that child's exec closes it the box's
            // execve of /box/probe fails with ETXTBSY (seen once in 10,000
            // cycles with std::fs::copy).
            let dst = ws.join("probe");
            let mut install = std::process::Command::new("install");
            install
                .args(["-m", "0755"])
                .arg(env().probes.join("probe"))
                .arg(&dst);
            common::try_run(
                &mut install,
                &format!("install the probe to {}", dst.display()),
            )?;
        }
        let _ = std::fs::remove_file(&self.meta);
        let _ = std::fs::remove_file(&self.json);
        let id = self.id.to_string();
        let m = self.meta.display().to_string();
        let j = format!("--json={}", self.json.display());
        let mut args: Vec<&str> = vec!["-b", &id, "-M", &m, &j];
        args.extend_from_slice(kind.opts());
        args.push("--run");
        args.push("--");
        args.extend_from_slice(kind.program());
        let mut cmd = rustbox_cmd(&args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        // rustbox starts with stdin, stdout and stderr only, whatever the test
        // inherited from its own caller: every other descriptor of the
        // supervisor is its own, which is what the fd audit counts.
        // SAFETY: the closure only makes one async-signal-safe system call.
        unsafe {
            cmd.pre_exec(|| {
                libc::syscall(
                    libc::SYS_close_range,
                    3u32,
                    u32::MAX,
                    libc::CLOSE_RANGE_CLOEXEC,
                );
                Ok(())
            });
        }
        let t = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("spawn rustbox: {e}"))?;
        let audit = if kind == Kind::FdAudit {
            Some(self.audit_during(&mut child, &ws))
        } else {
            None
        };
        let o = child
            .wait_with_output()
            .map_err(|e| format!("wait for rustbox: {e}"))?;
        r.runs.entry(kind).or_default().add(t.elapsed());

        let code = o.status.code().unwrap_or(-1);
        let meta_text = std::fs::read_to_string(&self.meta).unwrap_or_default();
        let json_text = std::fs::read_to_string(&self.json).unwrap_or_default();
        let ctx = || {
            format!(
                "{} run on box {}: exit {code}\nstdout: {}\nstderr: {}\nmeta:\n{meta_text}",
                kind.name(),
                self.id,
                text(&o.stdout),
                text(&o.stderr)
            )
        };
        let (fds, proxy) = match audit {
            Some(Err(e)) => return Err(format!("{e}\n{}", ctx())),
            Some(Ok((fds, proxy))) => (Some(fds), Some(proxy)),
            None => (None, None),
        };
        let meta = Meta::parse(&meta_text);
        let json: Value = serde_json::from_str(&json_text)
            .map_err(|e| format!("JSON does not parse ({e})\n{}", ctx()))?;
        let (want_code, want_verdict, want_status, want_message) = kind.expected();
        let ok = code == want_code
            && json["verdict"] == want_verdict
            && meta.get("status") == want_status
            && meta.get("message").unwrap_or("OK") == want_message
            && (want_status.is_some() || meta.get("exitcode") == Some("0"))
            && (want_status.is_none() || meta.get("killed") == Some("1"));
        if !ok {
            return Err(format!(
                "expected exit {want_code}, verdict {want_verdict}, status {want_status:?}, \
                 message {want_message:?}\n{}",
                ctx()
            ));
        }
        if kind == Kind::Daemon && !text(&o.stdout).contains("daemon=started") {
            return Err(format!("the daemon did not start\n{}", ctx()));
        }
        match json["cgroup"]["version"].as_u64() {
            Some(v @ (1 | 2)) => {
                r.cg_versions.insert(v);
            }
            v => return Err(format!("JSON cgroup.version is {v:?}: no --cg?\n{}", ctx())),
        }
        self.no_live_processes("outlive the run")?;
        if let Some((proxy, started)) = proxy {
            if exe_of(proxy) == Some(rustbox_exe()) && start_time(proxy) == started {
                return Err(format!("the proxy {proxy} outlives the run\n{}", ctx()));
            }
        }
        match fds {
            Some(Ok(shape)) => r.audits.push(shape),
            Some(Err(e)) => r.fd_problems.push(format!("box {}: {e}", self.id)),
            None => {}
        }
        Ok(())
    }

    /// Wait until the box says it started, audit the supervisor and find the
    /// proxy, let the box end. Err if the box never started.
    fn audit_during(
        &self,
        child: &mut Child,
        ws: &Path,
    ) -> Result<(Result<FdShape, String>, ProcId), String> {
        let started = ws.join("started");
        let t = Instant::now();
        let res = loop {
            if started.exists() {
                let cx = AuditCtx {
                    id: self.id,
                    meta: self.meta.clone(),
                    json: self.json.clone(),
                    lock: self.lock.clone(),
                    cg_mounts: self.cg_mounts.clone(),
                };
                let fds = audit_supervisor(child.id(), &cx);
                break find_proxy(child.id()).map(|p| (fds, p));
            }
            if let Ok(Some(st)) = child.try_wait() {
                break Err(format!("rustbox ended ({st}) before the box started"));
            }
            if t.elapsed() > Duration::from_secs(10) {
                break Err("the box did not start within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        // Root may write into /box while it is lent to the box uid.
        let _ = std::fs::write(ws.join("go"), "");
        res
    }

    /// Cycles `first..first + n` of this box (the cycle number picks the kind).
    fn work(&self, first: u32, n: u32, stop: &AtomicBool) -> Report {
        let _guard = StopOnPanic { w: self, stop };
        let mut r = Report::default();
        for i in first..first + n {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let kind = ROTATION[i as usize % ROTATION.len()];
            let res = (|| {
                let t = Instant::now();
                self.init()?;
                r.init.add(t.elapsed());
                let ran = self.run(kind, &mut r);
                let t = Instant::now();
                let cleaned = self.cleanup();
                r.cleanup.add(t.elapsed());
                ran?;
                cleaned?;
                self.nothing_left()
            })();
            if let Err(e) = res {
                r.failure = Some(format!("box {}, cycle {}: {e}", self.id, r.cycles + 1));
                stop.store(true, Ordering::Relaxed);
                let _ = self.cleanup();
                break;
            }
            r.cycles += 1;
        }
        r
    }
}

/// A worker that panics stops the others and cleans its box up (a box left
/// mounted would keep the suite's directory from being removed).
struct StopOnPanic<'a> {
    w: &'a Worker,
    stop: &'a AtomicBool,
}

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.store(true, Ordering::Relaxed);
            let _ = self.w.cleanup();
        }
    }
}

// ---------------------------------------------------------------------------
// The soak
// ---------------------------------------------------------------------------

/// Every leftover of the whole suite, counted.
struct Leaks {
    processes: Vec<String>,
    mounts: Vec<String>,
    cgroups: Vec<String>,
    box_dirs: Vec<String>,
    lock_files: Vec<String>,
}

impl Leaks {
    fn count() -> Leaks {
        let e = env();
        let first = harness::first_uid();
        let uids = first..first + SUITE.num_boxes;
        // A supervisor or proxy of this suite (the proxy is a fork of the
        // supervisor): rustbox with this suite's --config on its command line.
        let config = format!("--config={}", e.config.display());
        let ours = |pid: u32| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == config.as_bytes()))
        };
        let mut processes = Vec::new();
        for p in scan_procs() {
            if p.uids.iter().any(|u| uids.contains(u)) {
                processes.push(format!("{} {} (state {}, box uid)", p.pid, p.name, p.state));
            } else if ours(p.pid) {
                processes.push(format!("{} {} (state {}, rustbox)", p.pid, p.name, p.state));
            }
        }
        // Unreaped children of the test process.
        for t in common::dir_names(Path::new("/proc/self/task")) {
            let c = std::fs::read_to_string(format!("/proc/self/task/{t}/children"))
                .unwrap_or_default();
            for pid in c.split_whitespace() {
                processes.push(format!("{pid} (child of the test process)"));
            }
        }
        let base = e.base.display().to_string();
        let mounts = mountinfo()
            .lines()
            .filter(|l| l.contains(&base))
            .map(String::from)
            .collect();
        let cgroups = cgroup_mounts()
            .iter()
            .flat_map(|m| dirs_below(&m.join(harness::cg_root())))
            .map(|p| p.display().to_string())
            .collect();
        Leaks {
            processes,
            mounts,
            cgroups,
            box_dirs: common::dir_names(&e.box_root),
            lock_files: common::dir_names(&e.lock_root),
        }
    }

    fn total(&self) -> usize {
        self.processes.len()
            + self.mounts.len()
            + self.cgroups.len()
            + self.box_dirs.len()
            + self.lock_files.len()
    }
}

#[test]
fn soak_init_run_cleanup_cycles_leak_nothing() {
    let cycles = env_u32("RUSTBOX_SOAK_CYCLES", DEFAULT_CYCLES);
    let boxes = env_u32("RUSTBOX_SOAK_BOXES", DEFAULT_BOXES);
    assert!(
        (1..=SUITE.num_boxes).contains(&boxes),
        "RUSTBOX_SOAK_BOXES={boxes}: expected 1..={}",
        SUITE.num_boxes
    );
    assert!(
        cycles >= boxes,
        "fewer cycles ({cycles}) than boxes ({boxes})"
    );
    let e = env();
    let cg_mounts = cgroup_mounts();
    // A crashed earlier run of this slot may have left boxes: start from nothing.
    for id in 0..SUITE.num_boxes {
        let o = rustbox(&["-b", &id.to_string(), "--cleanup"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "--cleanup -b {id}: {}",
            text(&o.stderr)
        );
    }
    let before = Leaks::count();
    assert_eq!(
        before.total(),
        0,
        "leftovers before the soak started: processes {:?}, mounts {:?}, cgroups {:?}",
        before.processes,
        before.mounts,
        before.cgroups
    );

    let (per, extra) = (cycles / boxes, cycles % boxes);
    println!(
        "soak: {cycles} init/run/cleanup cycles in total, spread over {boxes} boxes in \
         parallel ({}{} cycles per box), every run with --cg; base {}",
        per,
        if extra > 0 {
            format!("-{}", per + 1)
        } else {
            String::new()
        },
        e.base.display()
    );
    let stop = AtomicBool::new(false);
    let t0 = Instant::now();
    let reports: Vec<Report> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..boxes)
            .map(|id| {
                let n = per + u32::from(id < extra);
                let w = Worker::new(id, cg_mounts.clone());
                let stop = &stop;
                s.spawn(move || w.work(id, n, stop))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a soak worker panicked"))
            .collect()
    });
    let elapsed = t0.elapsed();

    // Let transient zombies (box processes killed at the end of a run, reparented
    // to init) be reaped, then count what is left.
    common::wait_for(Duration::from_secs(2), || Leaks::count().total() == 0);
    let leaks = Leaks::count();

    // Summary.
    let mut init = Timing::default();
    let mut cleanup = Timing::default();
    let mut runs: BTreeMap<Kind, Timing> = BTreeMap::new();
    let mut audits: Vec<FdShape> = Vec::new();
    let mut fd_problems = Vec::new();
    let mut versions: BTreeSet<u64> = BTreeSet::new();
    let mut failures = Vec::new();
    let mut done = 0;
    for r in &reports {
        done += r.cycles;
        init.merge(&r.init);
        cleanup.merge(&r.cleanup);
        for (k, t) in &r.runs {
            runs.entry(*k).or_default().merge(t);
        }
        audits.extend(r.audits.iter().cloned());
        fd_problems.extend(r.fd_problems.iter().cloned());
        versions.extend(&r.cg_versions);
        failures.extend(r.failure.clone());
    }
    let mut all_runs = Timing::default();
    for t in runs.values() {
        all_runs.merge(t);
    }
    println!(
        "soak: {done} of {cycles} cycles done in {:.1} s ({:.1} cycles/s), cgroup version {versions:?}",
        elapsed.as_secs_f64(),
        f64::from(done) / elapsed.as_secs_f64()
    );
    println!(
        "soak: per command, mean/max ms: --init {:.1}/{:.0}, --run {:.1}/{:.0}, --cleanup {:.1}/{:.0}",
        init.mean_ms(),
        init.max_ms(),
        all_runs.mean_ms(),
        all_runs.max_ms(),
        cleanup.mean_ms(),
        cleanup.max_ms()
    );
    for (k, t) in &runs {
        println!(
            "soak:   {:<17} {:>5} runs, mean {:6.1} ms, max {:5.0} ms",
            k.name(),
            t.n,
            t.mean_ms(),
            t.max_ms()
        );
    }
    // Descriptors: an audit with a descriptor the supervisor should not hold is
    // a leak; so is a clean one whose table differs from the most common one (an
    // optional descriptor that comes and goes).
    let mut shapes: BTreeMap<&FdShape, usize> = BTreeMap::new();
    for a in &audits {
        *shapes.entry(a).or_default() += 1;
    }
    let usual = shapes.values().copied().max().unwrap_or(0);
    let fd_leaks = fd_problems.len() + (audits.len() - usual);
    for (shape, n) in &shapes {
        println!(
            "soak: supervisor fds while the box runs: {} descriptors ({} required{}) in {n} \
             of {} audited runs",
            shape.0,
            REQUIRED_FDS.len(),
            shape.1.iter().map(|o| format!(", {o}")).collect::<String>(),
            audits.len() + fd_problems.len()
        );
    }
    println!(
        "soak: leaked: processes {}, mounts {}, cgroups {}, box dirs {}, lock files {}, \
         supervisor fds {}",
        leaks.processes.len(),
        leaks.mounts.len(),
        leaks.cgroups.len(),
        leaks.box_dirs.len(),
        leaks.lock_files.len(),
        fd_leaks
    );

    // Leave the host as found: the suite's own (now empty) cgroup directories and
    // the parents it made, which must then all be gone.
    common::remove_suite_cgroups();
    let cg_left = common::cgroup_leftovers();
    println!(
        "soak: cgroup directories left after the suite: {}",
        cg_left.len()
    );

    let mut problems = failures;
    if done != cycles && problems.is_empty() {
        problems.push(format!("only {done} of {cycles} cycles ran"));
    }
    if audits.is_empty() && fd_problems.is_empty() {
        problems.push("no fd audit ran".into());
    }
    problems.extend(fd_problems);
    if shapes.len() > 1 {
        problems.push(format!(
            "the supervisor's descriptor table differs between runs: {shapes:?}"
        ));
    }
    for (what, v) in [
        ("processes", &leaks.processes),
        ("mounts", &leaks.mounts),
        ("cgroups", &leaks.cgroups),
        ("suite cgroup directories", &cg_left),
        ("box dirs", &leaks.box_dirs),
        ("lock files", &leaks.lock_files),
    ] {
        if !v.is_empty() {
            problems.push(format!("leaked {what}: {v:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "the soak failed:\n  - {}",
        problems.join("\n  - ")
    );
}
