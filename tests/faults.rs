//! The fault sweep (docs/faults.md): every system call rustbox makes in a run,
//! failed once, in one process, must end in a named internal error or in a run
//! exactly as isolated as a clean one, and `--cleanup` must leave nothing.
//!
//! `tests/faults/inject.c` (built here with gcc) runs rustbox under ptrace,
//! tells its processes apart (supervisor, proxy, payload), counts each one's
//! system calls and fails the Nth call of one of them with EIO. For every
//! configuration (root or a throw-away user through a setuid-root copy, with and
//! without `--cg`) the suite first makes a clean run (the probe's facts are the
//! reference) and a dry run (the call sequence of each role), then, for each
//! (role, N) of the sweep: `--init`, plants a link to a host file and a FIFO in
//! /box, runs the faulted `--run` (whose program plants another link and FIFO
//! and prints its facts), classifies the end, checks /box, `--cleanup`s and
//! checks that nothing is left. A sample of `--init` and `--cleanup` calls is
//! faulted the same way.
//!
//! `RUSTBOX_FAULTS=full` sweeps every index (`make faults`); otherwise a sample
//! of about `RUSTBOX_FAULTS_BUDGET` injections per role (default 150),
//! every k-th index from an offset that changes from run to run
//! (`RUSTBOX_FAULTS_SEED`, printed, reproduces one).

mod common;

use common::harness::{try_read_json, Facts, Meta};
use common::strings;
use common::suid::User;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub static SUITE: common::SuiteConf = common::SuiteConf {
    prefix: "rustbox-faults",
    first_uid: 68000,
    num_boxes: 100,
    cg_root: "rustbox/test-faults",
    how_to_run: "cargo test --test faults -- --nocapture",
};

/// Calls the injector never fails (they cannot fail, or not with an I/O error);
/// the sweep skips them.
const UNFAILABLE: &[&str] = &[
    "exit",
    "exit_group",
    "rt_sigreturn",
    "restart_syscall",
    "getpid",
    "getppid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getpgrp",
    "umask",
    "sched_yield",
    "sync",
    // Without GRND_NONBLOCK: EINTR (retried by Rust's std), EFAULT or EINVAL only.
    "getrandom",
];

/// Seconds before the injector kills a run as hung.
const HANG_S: u32 = 20;

struct Env {
    base: PathBuf,
    config: PathBuf,
    box_root: PathBuf,
    lock_root: PathBuf,
    probe: PathBuf,
    inject: PathBuf,
    victim: PathBuf,
    /// The victim's (uid, gid, mode, content) before anything ran.
    victim_was: (u32, u32, u32, String),
    suid: OnceLock<Suid>,
}

struct Suid {
    bin: PathBuf,
    holder: u32,
    user: User,
}

static ENV: OnceLock<Env> = OnceLock::new();

fn env() -> &'static Env {
    ENV.get_or_init(setup)
}

fn setup() -> Env {
    common::require_root(&SUITE);
    common::require_gcc("the fault injector tests/faults/inject.c");
    let base = common::fresh_base(&SUITE);
    let config = common::write_config(&SUITE, &base);
    let probes = base.join("probes");
    common::provide_probes(&probes);
    let inject = base.join("inject");
    common::gcc(
        &["-O1", "-Wall", "-Wextra", "-Werror"],
        &inject,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/faults/inject.c"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let victim = base.join("victim");
    std::fs::write(&victim, "the host's file\n").unwrap();
    common::chmod(&victim, 0o600);
    Env {
        box_root: base.join("boxes"),
        lock_root: base.join("locks"),
        probe: probes.join("probe"),
        victim_was: victim_state(&victim),
        victim,
        inject,
        config,
        base,
        suid: OnceLock::new(),
    }
}

fn victim_state(p: &Path) -> (u32, u32, u32, String) {
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (
        m.uid(),
        m.gid(),
        m.mode(),
        std::fs::read_to_string(p).unwrap_or_default(),
    )
}

fn suid() -> &'static Suid {
    let e = env();
    e.suid.get_or_init(|| {
        let bin = common::suid::setuid_copy(&e.base);
        let user = common::suid::add_user(&format!("rbf{}u", common::slot()), &e.base);
        let config = std::fs::read_to_string(&e.config).unwrap();
        let holder = common::suid::holder(&config);
        Suid { bin, holder, user }
    })
}

/// Who calls rustbox.
#[derive(Clone, Copy, PartialEq)]
enum Who {
    Root,
    User,
}

/// One configuration of the sweep.
struct Conf {
    name: &'static str,
    who: Who,
    cg: bool,
    id: u32,
}

impl Conf {
    fn uid(&self) -> u32 {
        SUITE.uid_base() + self.id
    }
    fn owner(&self) -> (u32, u32) {
        match self.who {
            Who::Root => (0, 0),
            Who::User => (suid().user.uid, suid().user.gid),
        }
    }
    /// The box directory as this test sees it: a setuid caller's box is a tmpfs
    /// mounted in the holder's mount namespace, reached through its root.
    fn dir(&self) -> PathBuf {
        let host = env().box_root.join(self.id.to_string());
        match self.who {
            Who::Root => host,
            Who::User => PathBuf::from(format!("/proc/{}/root{}", suid().holder, host.display())),
        }
    }
    fn workspace(&self) -> PathBuf {
        self.dir().join("box")
    }
    /// Where meta, JSON and the injector's report go (writable by the caller).
    fn out(&self) -> PathBuf {
        match self.who {
            Who::Root => env().base.join(format!("out-{}", self.name)),
            Who::User => suid().user.home.join(format!("out-{}", self.name)),
        }
    }
}

/// What to do to one call of rustbox.
#[derive(Clone)]
enum Trace {
    /// Not traced.
    Plain,
    /// List every call (the dry run) into the file.
    Count(PathBuf),
    /// Fail call `nth` of `role`.
    Fault { role: &'static str, nth: usize },
}

struct Ended {
    stdout: String,
    stderr: String,
    /// The injector's report (empty for Plain).
    report: BTreeMap<String, String>,
    /// The exit status of the injector (rustbox's, or 124 for a hang).
    code: Option<i32>,
}

/// rustbox `args` as the configuration's caller, through the injector.
fn call(conf: &Conf, args: &[String], trace: &Trace) -> Ended {
    let e = env();
    let out = conf.out();
    let report = out.join("report");
    let _ = std::fs::remove_file(&report);
    let mut c = Command::new(&e.inject);
    match trace {
        Trace::Plain => {
            c.args(["--plain", "1"]);
        }
        Trace::Count(f) => {
            c.arg("--count").arg(f);
        }
        Trace::Fault { role, nth } => {
            c.args(["--role", role, "--nth", &nth.to_string()]);
        }
    }
    c.arg("--report")
        .arg(&report)
        .args(["--timeout", &HANG_S.to_string()]);
    match conf.who {
        Who::Root => {
            c.arg("--").arg(common::rustbox_bin());
            c.arg(format!("--config={}", e.config.display()));
        }
        Who::User => {
            let s = suid();
            c.args(["--user", &format!("{}:{}", s.user.uid, s.user.gid)])
                .arg("--mntns")
                .arg(format!("/proc/{}/ns/mnt", s.holder))
                .arg("--cd")
                .arg(&s.user.home)
                .arg("--")
                .arg(&s.bin);
            c.env_clear().env("PATH", "/usr/bin:/bin");
        }
    }
    c.args(args);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("run the injector");
    // The injector has its own timeout; this one only guards against the
    // injector itself hanging.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut s);
        s
    });
    let status = common::wait_or_kill(&mut child, Duration::from_secs(HANG_S as u64 + 15));
    let stdout = common::text(&t_out.join().unwrap());
    let stderr = common::text(&t_err.join().unwrap());
    // `key=value` lines, as the probe's facts (a later line wins).
    let mut rep: BTreeMap<String, String> = std::fs::read_to_string(&report)
        .map(|t| Facts::parse(&t).0.into_iter().collect())
        .unwrap_or_default();
    if status.is_none() {
        rep.insert("end".into(), "timeout".into());
    }
    Ended {
        stdout,
        stderr,
        report: rep,
        code: status.and_then(|s| s.code()),
    }
}

fn init(conf: &Conf, trace: &Trace) -> Ended {
    call(
        conf,
        &strings(&["-b", &conf.id.to_string(), "--init"]),
        trace,
    )
}

fn cleanup(conf: &Conf, trace: &Trace) -> Ended {
    call(
        conf,
        &strings(&["-b", &conf.id.to_string(), "--cleanup"]),
        trace,
    )
}

fn must(e: &Ended, what: &str) {
    assert_eq!(
        e.code,
        Some(0),
        "{what} failed\nstdout: {}\nstderr: {}",
        e.stdout,
        e.stderr
    );
}

/// The probe in /box (the owner's file, as if they had put it there), and a link
/// to the host's victim file and a FIFO, left as if by an earlier program.
fn prepare_box(conf: &Conf) {
    let ws = conf.workspace();
    let (ou, og) = conf.owner();
    let p = ws.join("probe");
    common::place(&env().probe, &p, 0o755);
    std::os::unix::fs::lchown(&p, Some(ou), Some(og)).unwrap();
    let link = ws.join("pre-link");
    std::os::unix::fs::symlink(&env().victim, &link).unwrap();
    let fifo = ws.join("pre-fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    for f in [&link, &fifo] {
        std::os::unix::fs::lchown(f, Some(conf.uid()), Some(conf.uid())).unwrap();
    }
}

fn run_args(conf: &Conf) -> Vec<String> {
    let out = conf.out();
    let mut a = strings(&["-b", &conf.id.to_string()]);
    a.push(format!("-M{}", out.join("meta").display()));
    a.push(format!("--json={}", out.join("run.json").display()));
    if conf.cg {
        a.push("--cg".into());
    }
    a.extend(strings(&["--run", "--", "/box/probe", "plant-facts"]));
    a.push(env().victim.display().to_string());
    a
}

/// The probe's facts with the namespace links made comparable: "host" when the
/// link is the test process's own, "new" otherwise (inode numbers differ from
/// one box to the next).
/// The clocks likewise: the wall clock is dropped, the box's uptime-like clocks
/// become "near zero" (a time namespace of its own) or "host".
fn normalized(stdout: &str) -> Vec<(String, String)> {
    Facts::parse(stdout)
        .0
        .into_iter()
        .filter(|(k, _)| k != "clock.realtime")
        .map(|(k, v)| match k.strip_prefix("clock.") {
            Some(_) => {
                let near_zero = v.parse::<u64>().is_ok_and(|s| s < 600);
                (k, if near_zero { "near zero" } else { "host" }.to_string())
            }
            None => (k, v),
        })
        .map(|(k, v)| match k.strip_prefix("ns.") {
            Some(ns) => {
                let host = std::fs::read_link(format!("/proc/self/ns/{ns}"))
                    .map(|l| l.display().to_string())
                    .unwrap_or_default();
                let kind = if v == host { "host" } else { "new" };
                (k, kind.to_string())
            }
            None => (k, v),
        })
        .collect()
}

/// The differences between two fact lists, shortly.
fn diff(want: &[(String, String)], got: &[(String, String)]) -> String {
    let mut out = Vec::new();
    for (k, v) in got {
        if !want.contains(&(k.clone(), v.clone())) {
            out.push(format!("+{k}={v}"));
        }
    }
    for (k, v) in want {
        if !got.contains(&(k.clone(), v.clone())) {
            out.push(format!("-{k}={v}"));
        }
    }
    if out.is_empty() && want != got {
        out.push("same facts in another order".into());
    }
    out.truncate(6);
    out.join(" ")
}

/// A step name as rustbox writes one: `area.step` or `area`.
fn step_of(msg: &str) -> Option<&str> {
    let (step, _) = msg.split_once(": ")?;
    let ok = !step.is_empty()
        && step.starts_with(|c: char| c.is_ascii_lowercase())
        && step
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    ok.then_some(step)
}

/// Classes of an injected run; the last six are failures of rustbox.
const SAFE: &[&str] = &["ie-named", "clean", "exec-failed", "not-injected"];
const UNSAFE: &[&str] = &["hang", "crash", "leak", "weaker", "unnamed", "bad-exit"];

struct Verdict {
    class: &'static str,
    /// The step of an internal error.
    step: Option<String>,
    detail: String,
}

/// A panic's place and message (the two lines after "thread ... panicked at"),
/// or all of stderr.
fn panic_of(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    match lines.iter().position(|l| l.contains("panicked at")) {
        Some(i) => format!(
            "panic: {} {}",
            lines[i].trim(),
            lines.get(i + 1).map_or("", |l| l.trim())
        ),
        None => format!("panic: {}", stderr.trim()),
    }
}

/// How a faulted `--run` ended.
fn classify_run(conf: &Conf, e: &Ended, reference: &[(String, String)]) -> Verdict {
    let v = |class, detail: String| Verdict {
        class,
        step: None,
        detail,
    };
    let end = e.report.get("end").map(String::as_str).unwrap_or("none");
    let err_lines: Vec<&str> = e.stderr.lines().collect();
    if end == "timeout" {
        return v("hang", format!("no end within {HANG_S} s"));
    }
    if let Some(sig) = end.strip_prefix("signal:") {
        return v(
            "crash",
            format!("killed by signal {sig}; stderr: {}", e.stderr.trim()),
        );
    }
    if end == "exit:101" || e.stderr.contains("panicked at") {
        return v("crash", panic_of(&e.stderr));
    }
    let meta_text = std::fs::read_to_string(conf.out().join("meta")).unwrap_or_default();
    let meta = (!meta_text.is_empty())
        .then(|| Meta::try_parse(&meta_text).ok())
        .flatten();
    let json = try_read_json(&conf.out().join("run.json"));
    match end {
        "exit:2" => {
            let line = match err_lines.as_slice() {
                [l] => *l,
                _ => {
                    return v(
                        "unnamed",
                        format!("not one line on stderr: {:?}", e.stderr.trim()),
                    )
                }
            };
            let Some(step) = line.strip_prefix("rustbox: ").and_then(step_of) else {
                return v("unnamed", format!("no step named: {line:?}"));
            };
            if let Some(m) = &meta {
                let status = m.get("status");
                let msg = m.get("message").unwrap_or("");
                // A failure to write the results is reported after them.
                let late = step == "meta" || step == "json";
                if !late && (status != Some("XX") || step_of(msg).is_none()) {
                    return v(
                        "unnamed",
                        format!("exit 2 ({line}) but meta says {status:?} {msg:?}"),
                    );
                }
            }
            Verdict {
                class: "ie-named",
                step: Some(step.to_string()),
                detail: line.to_string(),
            }
        }
        "exit:0" | "exit:1" => {
            let (Some(m), Some(j)) = (&meta, &json) else {
                return v(
                    "bad-exit",
                    format!("{end} without a complete meta file and JSON document"),
                );
            };
            let status = m.get("status");
            if end == "exit:1" {
                let execve = e.report.get("name").map(String::as_str) == Some("execve")
                    && e.report.get("role").map(String::as_str) == Some("payload");
                if execve
                    && status == Some("RE")
                    && m.get("exitcode") == Some("127")
                    && e.stdout.is_empty()
                {
                    return v("exec-failed", "execve failed: RE 127, nothing ran".into());
                }
                return v(
                    "bad-exit",
                    format!(
                        "exit 1, status {status:?} {:?}; stdout {} bytes; stderr {:?}",
                        m.get("message"),
                        e.stdout.len(),
                        e.stderr.trim()
                    ),
                );
            }
            if status.is_some() || j["verdict"] != "OK" {
                return v(
                    "bad-exit",
                    format!("exit 0 with status {status:?}, verdict {}", j["verdict"]),
                );
            }
            let got = normalized(&e.stdout);
            if got != reference {
                return v("weaker", format!("facts differ: {}", diff(reference, &got)));
            }
            let class = if e.report.get("injected").map(String::as_str) == Some("1") {
                "clean"
            } else {
                "not-injected"
            };
            v(class, String::new())
        }
        other => v(
            "bad-exit",
            format!("ended {other} (code {:?}): {}", e.code, e.stderr.trim()),
        ),
    }
}

/// What is left of the box after `--cleanup`.
fn leftovers(conf: &Conf, lingering: &str) -> Vec<String> {
    let e = env();
    let mut left = Vec::new();
    if conf.dir().exists() {
        left.push(format!("{} still exists", conf.dir().display()));
    }
    let lock = e.lock_root.join(conf.id.to_string());
    if lock.exists() {
        left.push(format!("lock file {} still exists", lock.display()));
    }
    let procs = common::procs_left(conf.uid(), Duration::from_secs(2));
    if !procs.is_empty() {
        left.push(format!("processes of the box uid: {procs:?}"));
    }
    for p in lingering.split(',').filter(|s| !s.is_empty()) {
        let st = p.split(':').next().and_then(|pid| pid.parse().ok());
        let alive = st.and_then(common::proc_status).is_some_and(|st| {
            common::status_field(&st, "State:").is_some_and(|s| !s.starts_with('Z'))
        });
        if alive {
            left.push(format!("process {p} outlived the run and the cleanup"));
        }
    }
    let mut nss = vec!["self".to_string()];
    if conf.who == Who::User {
        nss.push(suid().holder.to_string());
    }
    for ns in nss {
        let m = common::mounts_below(&ns, &env().box_root.join(conf.id.to_string()));
        if !m.is_empty() {
            left.push(format!("mounts (namespace of {ns}): {m:?}"));
        }
    }
    for d in common::box_cgroups(&SUITE, &common::cgroup_mounts(), conf.id) {
        if d.is_dir() {
            left.push(format!("cgroup {}", d.display()));
        }
    }
    if victim_state(&e.victim) != e.victim_was {
        left.push(format!("the host file {} changed", e.victim.display()));
    }
    left
}

/// /box right after a faulted run: handed back, nothing the box planted left.
fn box_after_run(conf: &Conf, v: &Verdict) -> Vec<String> {
    let mut bad = Vec::new();
    let ws = conf.workspace();
    let ie = v.class == "ie-named";
    let handback_failed = v.step.as_deref() == Some("box.chown");
    if !ws.exists() {
        return bad;
    }
    let (ou, _) = conf.owner();
    // What was planted (as the box user) stays as it was when a run fails before
    // /box is lent; an internal error may leave it, nothing else may.
    let planted = |p: &Path| {
        ie && p.parent() == Some(ws.as_path())
            && p.file_name().is_some_and(|n| {
                ["pre-link", "pre-fifo", "run-link", "run-fifo"]
                    .iter()
                    .any(|x| n == *x)
            })
    };
    if !handback_failed {
        let mut stack = vec![ws.clone()];
        while let Some(d) = stack.pop() {
            let Ok(m) = std::fs::symlink_metadata(&d) else {
                continue;
            };
            if planted(&d) {
                continue;
            }
            if m.uid() != ou {
                bad.push(format!(
                    "{} owned by uid {} after the run",
                    d.display(),
                    m.uid()
                ));
            }
            if m.is_dir() {
                match std::fs::read_dir(&d) {
                    Ok(rd) => stack.extend(rd.flatten().map(|e| e.path())),
                    Err(e) => bad.push(format!("read {}: {e}", d.display())),
                }
            }
        }
    }
    if !ie {
        for n in ["pre-link", "pre-fifo", "run-link", "run-fifo"] {
            if std::fs::symlink_metadata(ws.join(n)).is_ok() {
                bad.push(format!("/box/{n} left after the run"));
            }
        }
    }
    bad
}

struct Finding {
    what: String,
    verdict: Verdict,
    problems: Vec<String>,
}

#[derive(Default)]
struct Tally {
    counts: BTreeMap<&'static str, usize>,
    findings: Vec<Finding>,
}

impl Tally {
    fn add(&mut self, what: String, mut verdict: Verdict, problems: Vec<String>) {
        if !problems.is_empty() && SAFE.contains(&verdict.class) {
            verdict.detail = format!("{} ({})", verdict.class, verdict.detail);
            verdict.class = "leak";
        }
        *self.counts.entry(verdict.class).or_default() += 1;
        if UNSAFE.contains(&verdict.class) {
            let f = Finding {
                what,
                verdict,
                problems,
            };
            println!(
                "UNSAFE {} {}: {}{}",
                f.verdict.class,
                f.what,
                f.verdict.detail,
                if f.problems.is_empty() {
                    String::new()
                } else {
                    format!(" | left: {}", f.problems.join("; "))
                }
            );
            self.findings.push(f);
        }
    }
}

/// One call of the dry run's list.
struct Call {
    role: String,
    idx: usize,
    name: String,
    arg0: u64,
}

fn read_calls(f: &Path) -> Vec<Call> {
    std::fs::read_to_string(f)
        .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        .lines()
        .filter_map(|l| {
            let v: Vec<&str> = l.split(' ').collect();
            (v.len() == 5).then(|| Call {
                role: v[0].to_string(),
                idx: v[1].parse().unwrap_or(0),
                name: v[3].to_string(),
                arg0: v[4].parse().unwrap_or(0),
            })
        })
        .collect()
}

/// The indices of `role` to fault: from rustbox's main on for the supervisor
/// (the loader and Rust's start-up before it are not rustbox's code: its first
/// call is prctl(PR_SET_DUMPABLE)), every k-th of them in a sample.
fn sweep(calls: &[Call], role: &str, budget: Option<usize>, seed: u64) -> Vec<(usize, String)> {
    let mine: Vec<&Call> = calls.iter().filter(|c| c.role == role).collect();
    let from = if role == "supervisor" {
        mine.iter()
            .position(|c| c.name == "prctl" && c.arg0 == libc::PR_SET_DUMPABLE as u64)
            .expect("the supervisor never calls prctl(PR_SET_DUMPABLE): not rustbox?")
    } else {
        0
    };
    let todo: Vec<&&Call> = mine[from..]
        .iter()
        .filter(|c| !UNFAILABLE.contains(&c.name.as_str()))
        .collect();
    let k = match budget {
        Some(b) if b > 0 => todo.len().div_ceil(b).max(1),
        _ => 1,
    };
    let off = (seed as usize) % k;
    todo.iter()
        .enumerate()
        .filter(|(i, _)| i % k == off)
        .map(|(_, c)| (c.idx, c.name.clone()))
        .collect()
}

fn plan() -> (Option<usize>, u64) {
    let full = std::env::var("RUSTBOX_FAULTS").is_ok_and(|v| v == "full");
    let budget: usize = std::env::var("RUSTBOX_FAULTS_BUDGET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let seed = std::env::var("RUSTBOX_FAULTS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    (if full { None } else { Some(budget) }, seed)
}

fn sweep_conf(conf: Conf) {
    if conf.who == Who::User {
        suid();
    }
    let (budget, seed) = plan();
    let out = conf.out();
    common::mkdir_755(&out);
    if conf.who == Who::User {
        let u = &suid().user;
        std::os::unix::fs::chown(&out, Some(u.uid), Some(u.gid)).unwrap();
    }
    let _ = cleanup(&conf, &Trace::Plain);

    // The reference: a clean, untraced run.
    must(&init(&conf, &Trace::Plain), "--init");
    prepare_box(&conf);
    let clean = call(&conf, &run_args(&conf), &Trace::Plain);
    assert_eq!(
        clean.code,
        Some(0),
        "the clean run failed\nstdout: {}\nstderr: {}",
        clean.stdout,
        clean.stderr
    );
    let reference = normalized(&clean.stdout);
    assert!(
        reference.iter().any(|(k, _)| k == "status.CapEff")
            && reference.iter().any(|(k, _)| k == "mount")
            && reference.iter().any(|(k, _)| k == "ns.pid"),
        "the probe printed no facts:\n{}",
        clean.stdout
    );
    let none_left = box_after_run(
        &conf,
        &Verdict {
            class: "clean",
            step: None,
            detail: String::new(),
        },
    );
    assert!(
        none_left.is_empty(),
        "a clean run already leaves: {none_left:?}"
    );
    must(&cleanup(&conf, &Trace::Plain), "--cleanup");
    let left = leftovers(&conf, "");
    assert!(left.is_empty(), "a clean cycle already leaves: {left:?}");

    // The dry runs: each role's calls. Traced, the program's facts must be the
    // reference's (or every comparison below would be wrong).
    let counts = out.join("calls-init");
    let _ = std::fs::remove_file(&counts);
    must(&init(&conf, &Trace::Count(counts.clone())), "traced --init");
    let init_calls = read_calls(&counts);
    prepare_box(&conf);
    let counts = out.join("calls-run");
    let dry = call(&conf, &run_args(&conf), &Trace::Count(counts.clone()));
    assert_eq!(
        normalized(&dry.stdout),
        reference,
        "traced, the probe sees other facts: {}",
        diff(&reference, &normalized(&dry.stdout))
    );
    let run_calls = read_calls(&counts);
    let counts = out.join("calls-cleanup");
    must(
        &cleanup(&conf, &Trace::Count(counts.clone())),
        "traced --cleanup",
    );
    let cleanup_calls = read_calls(&counts);

    let mut tally = Tally::default();
    let mut n_runs = 0;
    let t0 = Instant::now();
    // --run: every role.
    for role in ["supervisor", "proxy", "payload"] {
        for (nth, name) in sweep(&run_calls, role, budget, seed) {
            n_runs += 1;
            let what = format!("{} --run {role} #{nth} {name}", conf.name);
            let i = init(&conf, &Trace::Plain);
            if i.code != Some(0) {
                tally.add(
                    what,
                    Verdict {
                        class: "leak",
                        step: None,
                        detail: format!("--init before the run failed: {}", i.stderr.trim()),
                    },
                    vec![],
                );
                let _ = cleanup(&conf, &Trace::Plain);
                continue;
            }
            prepare_box(&conf);
            let _ = std::fs::remove_file(out.join("meta"));
            let _ = std::fs::remove_file(out.join("run.json"));
            let ended = call(&conf, &run_args(&conf), &Trace::Fault { role, nth });
            let verdict = hit(classify_run(&conf, &ended, &reference), &ended, &name);
            let mut problems = box_after_run(&conf, &verdict);
            let c = cleanup(&conf, &Trace::Plain);
            if c.code != Some(0) {
                problems.push(format!("--cleanup failed: {}", c.stderr.trim()));
            }
            let lingering = ended.report.get("lingering").cloned().unwrap_or_default();
            problems.extend(leftovers(&conf, &lingering));
            if !problems.is_empty() {
                // Do not let one leak spoil the next injection.
                let _ = cleanup(&conf, &Trace::Plain);
            }
            tally.add(what, verdict, problems);
        }
    }
    // --init and --cleanup: a sample (a quarter of the run's budget each).
    let small = budget.map(|b| (b / 4).max(3));
    for (nth, name) in sweep(&init_calls, "supervisor", small, seed) {
        n_runs += 1;
        let what = format!("{} --init supervisor #{nth} {name}", conf.name);
        let ended = init(
            &conf,
            &Trace::Fault {
                role: "supervisor",
                nth,
            },
        );
        let verdict = hit(classify_admin(&ended), &ended, &name);
        let mut problems = Vec::new();
        if verdict.class == "clean" || verdict.class == "not-injected" {
            // A box that says it is ready must be.
            let m = std::fs::symlink_metadata(conf.workspace());
            if m.as_ref().map(|m| m.uid()).ok() != Some(conf.owner().0) {
                problems.push("--init succeeded but box/ is not the caller's".into());
            }
        }
        let c = cleanup(&conf, &Trace::Plain);
        if c.code != Some(0) {
            problems.push(format!("--cleanup failed: {}", c.stderr.trim()));
        }
        problems.extend(leftovers(&conf, ""));
        tally.add(what, verdict, problems);
    }
    for (nth, name) in sweep(&cleanup_calls, "supervisor", small, seed) {
        n_runs += 1;
        let what = format!("{} --cleanup supervisor #{nth} {name}", conf.name);
        must(&init(&conf, &Trace::Plain), "--init");
        let ended = cleanup(
            &conf,
            &Trace::Fault {
                role: "supervisor",
                nth,
            },
        );
        let verdict = hit(classify_admin(&ended), &ended, &name);
        let mut problems = Vec::new();
        if verdict.class == "clean" || verdict.class == "not-injected" {
            problems.extend(leftovers(&conf, ""));
        }
        // After a failed cleanup, another one must still do the job.
        let c = cleanup(&conf, &Trace::Plain);
        if c.code != Some(0) {
            problems.push(format!("the next --cleanup failed: {}", c.stderr.trim()));
        }
        problems.extend(leftovers(&conf, ""));
        problems.dedup();
        tally.add(what, verdict, problems);
    }

    let line: Vec<String> = tally
        .counts
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    println!(
        "faults {}: {} injections in {:.0} s ({}; seed {seed}): {}",
        conf.name,
        n_runs,
        t0.elapsed().as_secs_f64(),
        match budget {
            Some(b) => format!("sample, budget {b}"),
            None => "full sweep".into(),
        },
        line.join(" ")
    );
    // A sweep in which no failure ever showed would prove only that nothing was
    // failed.
    assert!(
        tally.counts.get("ie-named").copied().unwrap_or(0) > 0,
        "{}: no injected failure led to an internal error: is the injector failing calls?",
        conf.name
    );
    if !tally.findings.is_empty() {
        panic!(
            "{}: {} injected run(s) not safe (listed above, one line each): {}",
            conf.name,
            tally.findings.len(),
            line.join(" ")
        );
    }
}

/// Says which call was really failed when it is not the dry run's call of that
/// index (the sequences differ where rustbox loops or reads /proc).
fn hit(mut v: Verdict, e: &Ended, dry_name: &str) -> Verdict {
    if let Some(n) = e.report.get("name") {
        if n != dry_name {
            v.detail = format!("[hit {n}] {}", v.detail);
        }
    }
    v
}

/// How a faulted `--init` or `--cleanup` ended: done (exit 0), or exit 2 with
/// one line naming the step.
fn classify_admin(e: &Ended) -> Verdict {
    let v = |class, detail: String| Verdict {
        class,
        step: None,
        detail,
    };
    let end = e.report.get("end").map(String::as_str).unwrap_or("none");
    if end == "timeout" {
        return v("hang", format!("no end within {HANG_S} s"));
    }
    if end.starts_with("signal:") || end == "exit:101" || e.stderr.contains("panicked at") {
        return v("crash", format!("{end}: {}", panic_of(&e.stderr)));
    }
    match end {
        "exit:0" => {
            let class = if e.report.get("injected").map(String::as_str) == Some("1") {
                "clean"
            } else {
                "not-injected"
            };
            v(class, String::new())
        }
        "exit:2" => {
            let lines: Vec<&str> = e.stderr.lines().collect();
            match lines.as_slice() {
                [l] => match l.strip_prefix("rustbox: ").and_then(step_of) {
                    Some(step) => Verdict {
                        class: "ie-named",
                        step: Some(step.to_string()),
                        detail: l.to_string(),
                    },
                    None => v("unnamed", format!("no step named: {l:?}")),
                },
                _ => v(
                    "unnamed",
                    format!("not one line on stderr: {:?}", e.stderr.trim()),
                ),
            }
        }
        other => v("bad-exit", format!("ended {other}: {}", e.stderr.trim())),
    }
}

#[test]
fn faults_root() {
    sweep_conf(Conf {
        name: "root",
        who: Who::Root,
        cg: false,
        id: 1,
    });
}

#[test]
fn faults_root_cg() {
    sweep_conf(Conf {
        name: "root-cg",
        who: Who::Root,
        cg: true,
        id: 2,
    });
}

#[test]
fn faults_setuid() {
    sweep_conf(Conf {
        name: "setuid",
        who: Who::User,
        cg: false,
        id: 3,
    });
}

#[test]
fn faults_setuid_cg() {
    sweep_conf(Conf {
        name: "setuid-cg",
        who: Who::User,
        cg: true,
        id: 4,
    });
}
