//! The box-level harness of the integration and cgroup suites: a [`TestBox`] guard
//! per test (`--init` on creation, `--cleanup` and a check that no box process is
//! left when dropped), runs with meta and JSON captured and parsed, the probe's
//! `key=value` facts, and refusal checks.
//!
//! Every test uses its own box id (tests run in parallel threads) under the suite's
//! base directory, selected with the test-only `--config` option.

use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::pty::Terminal;
use super::SuiteConf;
#[allow(unused_imports)] // re-exported for the suites
pub use super::{pids_of_uid, text, wait_for};

/// The suite this harness serves: each test crate defines `SUITE` at its root.
fn suite() -> &'static SuiteConf {
    &crate::SUITE
}

pub fn first_uid() -> u32 {
    suite().uid_base()
}

/// The suite's cgroup subtree.
pub fn cg_root() -> String {
    suite().cg()
}

/// A variable every run gets in the caller's environment; it must not reach the
/// box unless `-E` asks for it.
pub const SECRET: (&str, &str) = ("RUSTBOX_TEST_SECRET", "x");

pub struct Env {
    pub base: PathBuf,
    pub config: PathBuf,
    pub box_root: PathBuf,
    pub lock_root: PathBuf,
    /// Compiled probe programs.
    pub probes: PathBuf,
    /// Meta and JSON files of the runs.
    pub out: PathBuf,
}

static ENV: OnceLock<Env> = OnceLock::new();

/// The test environment, set up once per test process.
pub fn env() -> &'static Env {
    ENV.get_or_init(setup)
}

fn setup() -> Env {
    let s = suite();
    super::require_root(s);
    let base = super::fresh_base(s);
    let config = super::write_config(s, &base);
    let probes = base.join("probes");
    let out = base.join("out");
    super::provide_probes(&probes);
    super::mkdir_755(&out);
    Env {
        box_root: base.join("boxes"),
        lock_root: base.join("locks"),
        base,
        config,
        probes,
        out,
    }
}

/// CPU-time tests hold this, so that their spinners do not compete with each
/// other on a small machine (the measured overshoot depends on the supervisor
/// getting the CPU every few milliseconds).
pub fn timing_lock() -> MutexGuard<'static, ()> {
    static L: Mutex<()> = Mutex::new(());
    L.lock().unwrap_or_else(|e| e.into_inner())
}

/// rustbox with the test config and exactly these arguments.
pub fn rustbox_cmd(args: &[&str]) -> Command {
    let env = env();
    let mut c = Command::new(super::rustbox_bin());
    c.arg(format!("--config={}", env.config.display()));
    c.args(args);
    c.env(SECRET.0, SECRET.1);
    c.stdin(Stdio::null());
    c
}

pub fn rustbox(args: &[&str]) -> Output {
    let bin = super::rustbox_bin();
    match rustbox_cmd(args).output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run rustbox {}: {e} (RUSTBOX_BIN)", bin.display()),
    }
}

/// isolate's meta file: `key:value` lines.
#[derive(Debug, Default)]
pub struct Meta(pub BTreeMap<String, String>);

impl Meta {
    /// Panics unless every line is `key:value` and no key repeats.
    pub fn parse(s: &str) -> Meta {
        Meta::try_parse(s).unwrap_or_else(|e| panic!("{e}"))
    }
    /// As [`Meta::parse`], with what is wrong as the error.
    pub fn try_parse(s: &str) -> Result<Meta, String> {
        let mut m = BTreeMap::new();
        for line in s.lines() {
            let (k, v) = line
                .split_once(':')
                .ok_or_else(|| format!("meta line without ':': {line:?}\n{s}"))?;
            if m.insert(k.to_string(), v.to_string()).is_some() {
                return Err(format!("meta key {k} repeated:\n{s}"));
            }
        }
        Ok(Meta(m))
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    pub fn req(&self, k: &str) -> &str {
        self.get(k)
            .unwrap_or_else(|| panic!("meta has no {k}: {:?}", self.0))
    }
    pub fn secs(&self, k: &str) -> f64 {
        self.req(k)
            .parse()
            .unwrap_or_else(|_| panic!("meta {k} is not a number: {:?}", self.0))
    }
}

/// The probe's `key=value` lines; a key may repeat.
#[derive(Debug)]
pub struct Facts(pub Vec<(String, String)>);

impl Facts {
    pub fn parse(s: &str) -> Facts {
        Facts(
            s.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
    pub fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(kk, _)| kk == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// The one value of `k` (None if absent; panics if repeated).
    pub fn one(&self, k: &str) -> Option<&str> {
        let v = self.all(k);
        assert!(v.len() <= 1, "probe printed {k} {} times: {v:?}", v.len());
        v.first().copied()
    }
}

/// Collects every mismatch, then fails once with all of them listed.
#[derive(Default)]
pub struct Checks {
    failures: Vec<String>,
}

impl Checks {
    pub fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.failures.push(what.into());
        }
    }
    pub fn eq(&mut self, facts: &Facts, key: &str, want: &str) {
        let got = facts.one(key);
        if got != Some(want) {
            self.failures
                .push(format!("{key}: expected {want:?}, probe says {got:?}"));
        }
    }
    pub fn finish(self, context: &str) {
        if !self.failures.is_empty() {
            panic!(
                "{} check(s) failed:\n  - {}\n--- context ---\n{context}",
                self.failures.len(),
                self.failures.join("\n  - ")
            );
        }
    }
}

/// One `--run`: exit status, streams, meta and JSON (absent if not written).
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub meta: Option<Meta>,
    pub json: Option<Value>,
    pub meta_text: String,
    pub elapsed: Duration,
}

impl Run {
    /// A run that ended with `code`: its meta and JSON files as written (the
    /// streams empty).
    fn read(code: i32, meta: &Path, json: &Path) -> Run {
        let meta_text = std::fs::read_to_string(meta).unwrap_or_default();
        Run {
            code,
            stdout: String::new(),
            stderr: String::new(),
            meta: meta.exists().then(|| Meta::parse(&meta_text)),
            json: json_if_written(json),
            meta_text,
            elapsed: Duration::ZERO,
        }
    }
    pub fn meta(&self) -> &Meta {
        self.meta
            .as_ref()
            .unwrap_or_else(|| panic!("no meta file was written:\n{self}"))
    }
    pub fn json(&self) -> &Value {
        self.json
            .as_ref()
            .unwrap_or_else(|| panic!("no JSON file was written:\n{self}"))
    }
    pub fn facts(&self) -> Facts {
        Facts::parse(&self.stdout)
    }
    /// (name, applied, errno_name) of every control in the JSON document.
    pub fn controls(&self) -> Vec<(String, bool, Option<String>)> {
        controls(self.json()).unwrap_or_else(|| panic!("JSON controls is not an array:\n{self}"))
    }
    /// The first control called `name` in the JSON document.
    pub fn control(&self, name: &str) -> &Value {
        control(self.json(), name).unwrap_or_else(|| panic!("no {name} control:\n{self}"))
    }
    /// The detail texts of every control called `name`, in order.
    pub fn details(&self, name: &str) -> Vec<&str> {
        let list = self.json()["controls"].as_array();
        let list = list.unwrap_or_else(|| panic!("JSON controls is not an array:\n{self}"));
        list.iter()
            .filter(|c| c["name"] == name)
            .filter_map(|c| c["detail"].as_str())
            .collect()
    }
    /// The detail text of the first control called `name`.
    pub fn detail(&self, name: &str) -> &str {
        self.control(name)["detail"]
            .as_str()
            .unwrap_or_else(|| panic!("the {name} control has no detail:\n{self}"))
    }
}

/// (name, applied, errno_name) of every control in an evidence document (None if
/// it has no list of controls).
pub fn controls(doc: &Value) -> Option<Vec<(String, bool, Option<String>)>> {
    let list = doc["controls"].as_array()?;
    Some(
        list.iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or("").to_string(),
                    c["applied"].as_bool().unwrap_or(false),
                    c["errno_name"].as_str().map(String::from),
                )
            })
            .collect(),
    )
}

/// The first control called `name` in an evidence document.
pub fn control<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    doc["controls"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

/// The JSON document in file `p`; panics if there is none or it does not parse.
pub fn read_json(p: &Path) -> Value {
    let t = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    parse_json(&t, p)
}

/// The JSON document in file `p`, None if there is no such file; panics if it does
/// not parse.
pub fn json_if_written(p: &Path) -> Option<Value> {
    Some(parse_json(&std::fs::read_to_string(p).ok()?, p))
}

fn parse_json(t: &str, p: &Path) -> Value {
    serde_json::from_str(t)
        .unwrap_or_else(|e| panic!("JSON output {} does not parse: {e}\n{t}", p.display()))
}

/// The JSON document in file `p`, None if there is none or it does not parse
/// (a run that may have ended at any point).
pub fn try_read_json(p: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "exit status: {}", self.code)?;
        writeln!(f, "stdout:\n{}", self.stdout)?;
        writeln!(f, "stderr:\n{}", self.stderr)?;
        writeln!(f, "meta:\n{}", self.meta_text)?;
        if let Some(j) = &self.json {
            writeln!(
                f,
                "json:\n{}",
                serde_json::to_string_pretty(j).unwrap_or_default()
            )?;
        }
        Ok(())
    }
}

/// A run at a terminal ([`TestBox::run_at_terminal`]).
pub struct TermRun {
    pub term: Terminal,
    meta: PathBuf,
    json: PathBuf,
}

impl TermRun {
    /// Wait until rustbox has ended; its exit status, what the terminal showed
    /// (as `stdout`), meta and JSON.
    pub fn results(&mut self) -> Run {
        let code = self.term.rustbox_exit();
        let mut r = Run::read(code, &self.meta, &self.json);
        r.stdout = self.term.seen.clone();
        r
    }
}

/// A box for one test. Created with `--init` (or not, see [`TestBox::uninit`]);
/// `--cleanup` always runs when it is dropped.
pub struct TestBox {
    pub id: u32,
    pub dir: PathBuf,
    runs: std::cell::Cell<u32>,
}

impl TestBox {
    /// `--init` the box; checks that it prints the box directory.
    pub fn new(id: u32) -> TestBox {
        TestBox::new_with(id, &[])
    }

    /// `--init` with extra options (e.g. `--quota`).
    pub fn new_with(id: u32, opts: &[&str]) -> TestBox {
        let b = TestBox::uninit(id);
        let idarg = id.to_string();
        let mut args = vec!["-b", idarg.as_str()];
        args.extend_from_slice(opts);
        args.push("--init");
        let o = rustbox(&args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "--init -b {id} failed: {}",
            text(&o.stderr)
        );
        assert_eq!(
            text(&o.stdout),
            format!("{}\n", b.dir.display()),
            "--init prints the box directory"
        );
        assert!(b.workspace().is_dir(), "no box/ after --init");
        b
    }

    /// A guard for a box id that is not initialised.
    pub fn uninit(id: u32) -> TestBox {
        assert!(id < suite().num_boxes);
        let env = env();
        TestBox {
            id,
            dir: env.box_root.join(id.to_string()),
            runs: std::cell::Cell::new(0),
        }
    }

    pub fn uid(&self) -> u32 {
        first_uid() + self.id
    }
    pub fn gid(&self) -> u32 {
        first_uid() + self.id
    }
    pub fn workspace(&self) -> PathBuf {
        self.dir.join("box")
    }
    pub fn idarg(&self) -> String {
        self.id.to_string()
    }

    /// Copy the probe into `/box/<name>`; returns its path inside the box.
    pub fn install_probe(&self, name: &str) -> String {
        let dst = self.workspace().join(name);
        super::place(&env().probes.join("probe"), &dst, 0o755);
        format!("/box/{name}")
    }

    fn out_paths(&self) -> (PathBuf, PathBuf) {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let out = &env().out;
        let meta = out.join(format!("b{}-{n}.meta", self.id));
        let json = out.join(format!("b{}-{n}.json", self.id));
        let _ = std::fs::remove_file(&meta);
        let _ = std::fs::remove_file(&json);
        (meta, json)
    }

    /// `rustbox -b ID -M META --json JSON OPTS --run -- PROGRAM...` started by a
    /// shell that leads a new session on a new pseudo-terminal (see
    /// [`Terminal`]): the program's streams are the terminal, as a web IDE's
    /// are.
    pub fn run_at_terminal(&self, opts: &[&str], program: &[&str]) -> TermRun {
        let (meta, json) = self.out_paths();
        let mut args = vec![
            format!("--config={}", env().config.display()),
            "-b".into(),
            self.idarg(),
            "-M".into(),
            meta.display().to_string(),
            format!("--json={}", json.display()),
        ];
        args.extend(opts.iter().map(|s| s.to_string()));
        args.push("--run".into());
        args.push("--".into());
        args.extend(program.iter().map(|s| s.to_string()));
        let mut c = Command::new("/bin/sh");
        c.args(super::pty::shell_args(&super::rustbox_bin(), &args));
        c.env(SECRET.0, SECRET.1);
        TermRun {
            term: Terminal::start(c),
            meta,
            json,
        }
    }

    /// `rustbox -b ID -M META --json JSON OPTS --run -- PROGRAM...`
    pub fn run(&self, opts: &[&str], program: &[&str]) -> Run {
        self.run_cmd(opts, program, |_| {})
    }

    pub fn run_cmd(
        &self,
        opts: &[&str],
        program: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Run {
        let (meta, json) = self.out_paths();
        let id = self.idarg();
        let m = meta.display().to_string();
        let j = format!("--json={}", json.display());
        let mut args: Vec<&str> = vec!["-b", &id, "-M", &m, &j];
        args.extend_from_slice(opts);
        args.push("--run");
        args.push("--");
        args.extend_from_slice(program);
        let mut c = rustbox_cmd(&args);
        adjust(&mut c);
        let t = Instant::now();
        let o = c.output().expect("run rustbox");
        let elapsed = t.elapsed();
        let mut r = Run::read(o.status.code().unwrap_or(-1), &meta, &json);
        r.stdout = text(&o.stdout);
        r.stderr = text(&o.stderr);
        r.elapsed = elapsed;
        r
    }

    /// `--cleanup`, then check that no process of the box uid is left.
    pub fn cleanup(&self) -> Result<(), String> {
        let o = rustbox(&["-b", &self.idarg(), "--cleanup"]);
        if o.status.code() != Some(0) {
            return Err(format!(
                "--cleanup -b {} failed: {}",
                self.id,
                text(&o.stderr)
            ));
        }
        if self.dir.exists() {
            return Err(format!(
                "{} still exists after --cleanup",
                self.dir.display()
            ));
        }
        let left = pids_of_uid(self.uid());
        if !left.is_empty() {
            return Err(format!(
                "processes of box uid {} left after --cleanup: {left:?}",
                self.uid()
            ));
        }
        Ok(())
    }
}

impl Drop for TestBox {
    fn drop(&mut self) {
        if let Err(e) = self.cleanup() {
            if std::thread::panicking() {
                eprintln!("{e}");
            } else {
                panic!("{e}");
            }
        }
    }
}

/// Exit status 2, exactly one error line on stderr starting with "rustbox:", and
/// it mentions `needle`.
pub fn assert_refused(code: Option<i32>, stdout: &str, stderr: &str, needle: &str) {
    let ctx = format!("exit {code:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(code, Some(2), "expected exit status 2\n{ctx}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty(), "no error on stderr\n{ctx}");
    assert!(
        lines[0].starts_with("rustbox: "),
        "stderr must start with 'rustbox: '\n{ctx}"
    );
    assert_eq!(lines.len(), 1, "more than one error line on stderr\n{ctx}");
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "the error does not mention {needle:?}\n{ctx}"
    );
    assert!(stdout.is_empty(), "nothing may be printed on stdout\n{ctx}");
}

/// The mode bits of a host path (without following a link).
pub fn lmode(p: &Path) -> Option<u32> {
    std::fs::symlink_metadata(p).ok().map(|m| m.mode())
}

/// Removes a host file when dropped.
pub struct HostFile(pub PathBuf);

impl HostFile {
    pub fn create(p: impl Into<PathBuf>, content: &str) -> HostFile {
        let p = p.into();
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        HostFile(p)
    }
    pub fn content(&self) -> String {
        std::fs::read_to_string(&self.0).unwrap_or_else(|e| format!("<unreadable: {e}>"))
    }
}

impl Drop for HostFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
