//! The adversarial suite: attack programs from `adversarial/`, run through the built
//! `rustbox` exactly as a judge would, checked against `adversarial/manifest.json`.
//!
//! For each case: build the payload with gcc (shell cases are copied as they are),
//! `rustbox --init`, copy it into `<box>/box/`, `rustbox --run -M META --json=FILE
//! ARGS -- /box/payload` (shell cases: `/bin/sh /box/payload.sh`), check the JSON
//! verdict, the exit status and what the program printed, then `rustbox --cleanup`
//! and check that no process of the box uid is left. Cases run one after the other,
//! each in its own box (box id = its index in the manifest) under a box root, lock
//! root and uid range of this suite only (`/tmp/rustbox-adv-<pid>/`, `first_uid`
//! 70000), selected with `--config`.
//!
//! Attack programs print one line per attempt and end with `DEFENDED: ...` when every
//! attack was stopped, `ESCAPED: ...` otherwise; the manifest says which lines must
//! (not) appear. The format of the manifest is described in `adversarial/README.md`.
//!
//! Output: one line per case, `PASS name: evidence` or `FAIL name: reasons`, details
//! of the failures, then a last line `N passed, M failed`. The test fails if any case
//! failed. Requirements: root (real and effective uid 0) and gcc; without either the
//! test panics saying so, it never skips.

use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::harness::try_read_json;
use common::{dir_names, procs_left, procs_of_uid, text, wait_for};

/// This suite's boxes: `/tmp/rustbox-adv-<pid>/`, uids from 70000 (up to 199 cases).
pub static SUITE: common::SuiteConf = common::SuiteConf {
    prefix: "rustbox-adv",
    first_uid: 70000,
    num_boxes: 200,
    cg_root: "rustbox/test-adv",
    how_to_run: "make adversarial",
};
/// No single run may take longer than this, whatever its limits say.
const HOST_DEADLINE: Duration = Duration::from_secs(30);
/// How long box processes may take to disappear after their box is gone.
const GRACE: Duration = Duration::from_secs(3);
/// The content of the host victim file and of `victim-dir/keep`.
const VICTIM_TEXT: &str = "rustbox-adv: a host file no box may reach\n";
const VERDICTS: &[&str] = &["OK", "RE", "SIG", "TLE", "MLE", "OLE", "IE"];
/// The highest descriptor `caller_fds` and `caller_dir_fds` may name; their sources
/// are moved above it so that no target overwrites a source.
const MAX_CALLER_FD: i32 = 1000;

// ---------------------------------------------------------------------------
// The manifest
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    source: String,
    lang: Lang,
    #[serde(default)]
    build: Vec<String>,
    args: Vec<String>,
    #[serde(default)]
    payload_args: Vec<String>,
    /// Descriptors the caller holds open (on a host file with a secret) when it
    /// starts rustbox.
    #[serde(default)]
    caller_fds: Vec<i32>,
    /// Descriptors the caller holds open on a host directory (holding a readable
    /// file with the secret) when it starts rustbox; its working directory is that
    /// directory too.
    #[serde(default)]
    caller_dir_fds: Vec<i32>,
    /// The caller starts rustbox holding a session keyring with a user key
    /// `judge-secret` = `{host_secret}`.
    #[serde(default)]
    caller_session_keyring: bool,
    /// The caller's RLIMIT_NOFILE (soft and hard) for every rustbox command of
    /// the case: rustbox must work within a caller's small descriptor limit.
    #[serde(default)]
    caller_nofile: Option<u64>,
    #[serde(default)]
    special: Option<String>,
    /// Runs of the same box before the one under test (to plant files); each must
    /// exit 0.
    #[serde(default)]
    before: Vec<Step>,
    /// `"init"`: `--init` the box again after the run (it must succeed), before the
    /// final `--cleanup`.
    #[serde(default)]
    after: Option<String>,
    expect: Expect,
    threat: String,
}

/// One earlier run of a case: rustbox options and program arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    args: Vec<String>,
    #[serde(default)]
    payload_args: Vec<String>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Lang {
    C,
    Sh,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// Allowed JSON verdicts (required unless the case is special or refused).
    verdict: Option<OneOrMany<String>>,
    /// The run must be refused: exit status 2 and this text in the one error line
    /// (the verdict fields then do not apply).
    refused: Option<String>,
    /// Allowed exit statuses of `rustbox --run`.
    exit: Option<OneOrMany<i32>>,
    #[serde(default)]
    stdout_contains: Vec<String>,
    #[serde(default)]
    stdout_not_contains: Vec<String>,
    /// Limits that must appear in the JSON `limits_hit`.
    #[serde(default)]
    limits_hit: Vec<String>,
    /// The limits the JSON `limits_hit` names, exactly (in any order); `[]`: none.
    limits_hit_exact: Option<Vec<String>>,
    /// Processes of the box uid, sampled from the host during the run.
    max_box_processes: Option<usize>,
    /// Upper bound of the JSON `usage.wall_s`.
    max_wall_s: Option<f64>,
    /// Files under `<box>/box/` that must exist after the run, with a maximum size.
    #[serde(default)]
    box_file_max_bytes: BTreeMap<String, u64>,
    /// Regular files under `<box>/box/` that must exist after the run (not a
    /// link), each containing all of these strings.
    #[serde(default)]
    box_file_contains: BTreeMap<String, Vec<String>>,
}

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("adversarial/cases")
}

/// `adversarial/manifest.json`, or the file named by `RUSTBOX_ADV_MANIFEST` (to
/// check that the cases catch a sandbox with a defense turned off).
fn load_manifest() -> Vec<Case> {
    let path = match std::env::var_os("RUSTBOX_ADV_MANIFEST") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("adversarial/manifest.json"),
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let cases: Vec<Case> = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    for c in &cases {
        let n = &c.name;
        if !names.insert(n.clone()) {
            problems.push(format!("{n}: the name is used twice"));
        }
        if n.is_empty() || !n.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
            problems.push(format!("{n:?}: a name is [A-Za-z0-9_]+"));
        }
        if !cases_dir().join(&c.source).is_file() {
            problems.push(format!("{n}: no source adversarial/cases/{}", c.source));
        }
        if c.lang == Lang::Sh && !c.build.is_empty() {
            problems.push(format!("{n}: build flags on a shell case"));
        }
        if c.threat.trim().is_empty() {
            problems.push(format!("{n}: no threat"));
        }
        if let Some(a) = c.after.as_deref().filter(|&a| a != "init") {
            problems.push(format!("{n}: unknown after {a:?}"));
        }
        match c.special.as_deref() {
            None if c.expect.refused.is_some() => {
                if c.expect.verdict.is_some() || c.expect.exit.is_some() {
                    problems.push(format!(
                        "{n}: a refused run has no verdict or exit to expect"
                    ));
                }
            }
            None => {
                match &c.expect.verdict {
                    None => problems.push(format!("{n}: expect.verdict is missing")),
                    Some(v) => {
                        let v = v.to_vec();
                        if v.is_empty() {
                            problems.push(format!("{n}: expect.verdict is empty"));
                        }
                        for x in v {
                            if !VERDICTS.contains(&x.as_str()) {
                                problems.push(format!("{n}: unknown verdict {x:?}"));
                            }
                        }
                    }
                }
                if c.expect.verdict.is_some()
                    && c.expect.stdout_contains.is_empty()
                    && c.expect.max_box_processes.is_none()
                    && c.expect.limits_hit.is_empty()
                    && c.expect.limits_hit_exact.is_none()
                    && c.expect.exit.is_none()
                {
                    problems.push(format!("{n}: expect checks nothing but the verdict"));
                }
            }
            Some("kill_supervisor") => {
                if c.lang != Lang::C {
                    problems.push(format!("{n}: kill_supervisor needs a C payload"));
                }
            }
            Some(s) => problems.push(format!("{n}: unknown special {s:?}")),
        }
        for &fd in &c.caller_fds {
            if !(3..=MAX_CALLER_FD).contains(&fd) {
                problems.push(format!("{n}: caller_fds must be in 3..={MAX_CALLER_FD}"));
            }
        }
        for &fd in &c.caller_dir_fds {
            if !(3..=MAX_CALLER_FD).contains(&fd) || c.caller_fds.contains(&fd) {
                problems.push(format!(
                    "{n}: caller_dir_fds must be in 3..={MAX_CALLER_FD} and not in caller_fds"
                ));
            }
        }
    }
    // The last box's uid runs the {host_pid} process.
    if cases.len() as u32 >= SUITE.num_boxes {
        problems.push(format!("more than {} cases", SUITE.num_boxes - 1));
    }
    if !problems.is_empty() {
        panic!(
            "{} is invalid:\n  - {}",
            path.display(),
            problems.join("\n  - ")
        );
    }
    cases
}

// ---------------------------------------------------------------------------
// The suite's environment
// ---------------------------------------------------------------------------

struct Suite {
    base: PathBuf,
    config: PathBuf,
    box_root: PathBuf,
    bin: PathBuf,
    out: PathBuf,
    /// Placeholders usable in payload_args and the stdout expectations.
    vars: Vec<(&'static str, String)>,
    secret_file: PathBuf,
    /// A root-owned host file (0644) and directory that planted links aim at.
    victim: PathBuf,
    victim_dir: PathBuf,
    /// A host directory behind `caller_dir_fds`, holding a world-readable `secret`.
    host_dir: PathBuf,
    /// The value of `RUSTBOX_ADV_TOKEN` in rustbox's environment.
    env_token: String,
    /// A process of another box's uid (`{host_pid}`), never in any box.
    host_sleep: Child,
    /// A file in the host's /dev/shm (`{host_shm_marker}`).
    shm_marker: PathBuf,
    /// Host SysV objects under `{host_sysv_key}`: shm segment, message queue and
    /// semaphore set ids.
    sysv_ids: (i32, i32, i32),
    _tcp: std::net::TcpListener,
    _abstract: std::os::unix::net::UnixListener,
}

impl Drop for Suite {
    fn drop(&mut self) {
        let _ = self.host_sleep.kill();
        let _ = self.host_sleep.wait();
        let _ = std::fs::remove_file(&self.shm_marker);
        let (shm, msg, sem) = self.sysv_ids;
        // SAFETY: IPC_RMID of the objects setup() created; no pointers are passed.
        unsafe {
            libc::shmctl(shm, libc::IPC_RMID, std::ptr::null_mut());
            libc::msgctl(msg, libc::IPC_RMID, std::ptr::null_mut());
            libc::semctl(sem, 0, libc::IPC_RMID);
        }
        common::remove_tree(&self.base);
    }
}

/// A SysV shared memory segment, message queue and semaphore set, mode 0666, all
/// under one key that is free on the host; returns the key and the three ids.
fn host_sysv_objects(pid: u32) -> (i32, (i32, i32, i32)) {
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | 0o666;
    for i in 0..64 {
        let key = 0x5242_0000 | ((pid as i32).wrapping_add(i) & 0xffff);
        // SAFETY: plain system calls with integer arguments.
        let (shm, msg, sem) = unsafe {
            (
                libc::shmget(key, 4096, flags),
                libc::msgget(key, flags),
                libc::semget(key, 1, flags),
            )
        };
        if shm >= 0 && msg >= 0 && sem >= 0 {
            return (key, (shm, msg, sem));
        }
        // SAFETY: removing only what this iteration created.
        unsafe {
            if shm >= 0 {
                libc::shmctl(shm, libc::IPC_RMID, std::ptr::null_mut());
            }
            if msg >= 0 {
                libc::msgctl(msg, libc::IPC_RMID, std::ptr::null_mut());
            }
            if sem >= 0 {
                libc::semctl(sem, 0, libc::IPC_RMID);
            }
        }
    }
    panic!("no free SysV IPC key for the host objects");
}

fn setup() -> Suite {
    common::require_root(&SUITE);
    common::require_gcc("the attack programs in adversarial/cases/");
    let pid = std::process::id();
    let base = common::fresh_base(&SUITE);
    let config = common::write_config(&SUITE, &base);
    let (bin, out) = (base.join("bin"), base.join("out"));
    common::mkdir_755(&bin);
    common::mkdir_755(&out);
    let box_root = base.join("boxes");

    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let secret = format!("rustbox-adv-host-secret-{pid}-{nanos}");
    let secret_file = base.join("host-secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    common::chmod(&secret_file, 0o600);

    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("listen on the host's loopback");
    let port = tcp.local_addr().unwrap().port();
    let abstract_name = format!("rustbox-adv-{pid}");
    let addr = {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())
            .expect("an abstract socket address")
    };
    let unix = std::os::unix::net::UnixListener::bind_addr(&addr)
        .expect("listen on a host abstract unix socket");
    // A host directory a caller could leave open, with a secret anyone may read.
    let host_dir = base.join("host-dir");
    common::mkdir_755(&host_dir);
    std::fs::write(host_dir.join("secret"), format!("{secret}\n")).unwrap();
    common::chmod(&host_dir.join("secret"), 0o644);
    let env_token = {
        let mut b = [0u8; 12];
        std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut b)
            .expect("read /dev/urandom");
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!("rustbox-adv-env-token-{hex}")
    };
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("read the host name")
        .trim()
        .to_string();
    assert_ne!(
        hostname, "rustbox",
        "the host is called rustbox: the host name case cannot tell host from box"
    );
    let victim = base.join("victim");
    let victim_dir = base.join("victim-dir");
    make_victims(&victim, &victim_dir);
    // Host objects the box must not reach, made last (Suite's drop removes them).
    let shm_name = format!("rustbox-adv-shm-{pid}");
    let shm_marker = Path::new("/dev/shm").join(&shm_name);
    std::fs::write(&shm_marker, format!("{secret}\n")).expect("create the /dev/shm marker");
    common::chmod(&shm_marker, 0o644);
    let (sysv_key, sysv_ids) = host_sysv_objects(pid);
    // A process of the last box's uid (no case uses that box): another box's.
    let other_uid = SUITE.uid_base() + SUITE.num_boxes - 1;
    let host_sleep = Command::new("sleep")
        .arg("900")
        .uid(other_uid)
        .gid(other_uid)
        .stdin(Stdio::null())
        .spawn()
        .expect("start a sleep of another box's uid");
    Suite {
        base,
        config,
        box_root,
        bin,
        out,
        vars: vec![
            ("{host_tcp_port}", port.to_string()),
            ("{host_abstract_socket}", abstract_name),
            ("{host_secret}", secret),
            ("{host_hostname}", hostname),
            ("{host_victim}", victim.display().to_string()),
            ("{host_victim_dir}", victim_dir.display().to_string()),
            ("{host_env_token}", env_token.clone()),
            ("{host_pid}", host_sleep.id().to_string()),
            ("{host_shm_marker}", shm_name),
            ("{host_sysv_key}", format!("{sysv_key:#x}")),
        ],
        secret_file,
        host_dir,
        env_token,
        host_sleep,
        shm_marker,
        sysv_ids,
        victim,
        victim_dir,
        _tcp: tcp,
        _abstract: unix,
    }
}

impl Suite {
    fn subst(&self, s: &str) -> String {
        let mut s = s.to_string();
        for (k, v) in &self.vars {
            s = s.replace(k, v);
        }
        s
    }

    fn rustbox(&self, args: &[String]) -> Command {
        let mut c = Command::new(common::rustbox_bin());
        c.arg(format!("--config={}", self.config.display()));
        c.args(args);
        c.stdin(Stdio::null());
        // A secret in the caller's environment: it must never reach a box.
        c.env("RUSTBOX_ADV_TOKEN", &self.env_token);
        c
    }

    /// rustbox for one of `case`'s commands: with the case's caller limits.
    fn rustbox_for(&self, case: &Case, args: &[String]) -> Command {
        let mut c = self.rustbox(args);
        if let Some(n) = case.caller_nofile {
            // SAFETY: only setrlimit, an async-signal-safe call, between fork and exec.
            unsafe {
                c.pre_exec(move || {
                    let l = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &l) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                })
            };
        }
        c
    }

    /// Build (or copy) the payload of a case into bin/.
    fn build(&self, case: &Case) -> Result<PathBuf, String> {
        let src = cases_dir().join(&case.source);
        let exe = self.bin.join(&case.name);
        match case.lang {
            Lang::Sh => {
                std::fs::copy(&src, &exe).map_err(|e| format!("copy {}: {e}", src.display()))?;
            }
            Lang::C => {
                let mut flags: Vec<std::ffi::OsString> =
                    case.build.iter().map(Into::into).collect();
                flags.extend(["-Wall", "-Wextra", "-Werror", "-I"].map(Into::into));
                flags.push(cases_dir().into());
                common::gcc(&flags, &exe, &src).map_err(|e| {
                    // The 32-bit twins need the i386 libc and libgcc.
                    if case.build.iter().any(|f| f == "-m32") {
                        format!("{e}\n(a -m32 build: `make deps` installs gcc-multilib)")
                    } else {
                        e
                    }
                })?;
            }
        }
        Ok(exe)
    }
}

// ---------------------------------------------------------------------------
// Host-side observations
// ---------------------------------------------------------------------------

/// Wait for a child, sampling the box uid's processes; kill it at the deadline.
/// Returns (exit code, the largest number of box processes seen, timed out).
fn watch(child: &mut Child, uid: u32, deadline: Duration) -> (Option<i32>, usize, bool) {
    let start = Instant::now();
    let mut peak = 0;
    loop {
        peak = peak.max(procs_of_uid(uid, true).len());
        match child.try_wait() {
            Ok(Some(st)) => return (st.code(), peak, false),
            Ok(None) => {}
            Err(_) => return (None, peak, false),
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let st = child.wait().ok().and_then(|s| s.code());
            return (st, peak, true);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------
// One case
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Outcome {
    problems: Vec<String>,
    /// Short evidence for the PASS line.
    summary: String,
    /// What to show when the case failed.
    details: String,
}

fn read_lossy(p: &Path) -> String {
    std::fs::read(p).map(|b| text(&b)).unwrap_or_default()
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    | {l}\n")).collect()
}

/// One case: build its payload, `--init` its box, the before-runs, the run under
/// test and its checks, then `--cleanup` (whatever failed before it).
fn run_case(suite: &Suite, case: &Case, id: u32) -> Outcome {
    let mut out = Outcome::default();
    let exe = match suite.build(case) {
        Ok(p) => p,
        Err(e) => {
            out.problems.push("the payload does not build".into());
            out.details = indent(&e);
            return out;
        }
    };
    if let Some(cx) = init_box(suite, case, id, &exe, &mut out) {
        if before_runs(&cx, &mut out) {
            run_and_check(&cx, &mut out);
        }
    }
    cleanup(suite, case, id, &mut out);
    out
}

/// A case whose box is ready: what its runs share.
struct CaseBox<'a> {
    suite: &'a Suite,
    case: &'a Case,
    idarg: String,
    uid: u32,
    /// The box directory `--init` printed.
    printed: String,
    workspace: PathBuf,
}

impl CaseBox<'_> {
    /// Placeholders, and {box_dir}: the directory --init printed.
    fn sub(&self, a: &str) -> String {
        self.suite.subst(a).replace("{box_dir}", &self.printed)
    }

    /// The payload's command line inside the box.
    fn program_with(&self, payload_args: &[String]) -> Vec<String> {
        let mut p: Vec<String> = match self.case.lang {
            Lang::C => vec!["/box/payload".into()],
            Lang::Sh => vec!["/bin/sh".into(), "/box/payload.sh".into()],
        };
        p.extend(payload_args.iter().map(|a| self.sub(a)));
        p
    }
}

/// `--init`, as a judge: the printed directory, then the payload copied into its
/// box/. None (the problem recorded) if either fails.
fn init_box<'a>(
    suite: &'a Suite,
    case: &'a Case,
    id: u32,
    exe: &Path,
    out: &mut Outcome,
) -> Option<CaseBox<'a>> {
    let idarg = id.to_string();
    let o = suite
        .rustbox(&["-b".into(), idarg.clone(), "--init".into()])
        .output()
        .expect("run rustbox --init");
    let printed = text(&o.stdout).trim().to_string();
    if o.status.code() != Some(0) || printed != suite.box_root.join(&idarg).display().to_string() {
        out.problems.push(format!(
            "--init failed (exit {:?}, printed {printed:?}): {}",
            o.status.code(),
            text(&o.stderr).trim()
        ));
        return None;
    }
    let workspace = PathBuf::from(&printed).join("box");
    let (name, mode) = match case.lang {
        Lang::C => ("payload", 0o755),
        Lang::Sh => ("payload.sh", 0o644),
    };
    let dst = workspace.join(name);
    if let Err(e) = std::fs::copy(exe, &dst)
        .and_then(|_| std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode)))
    {
        out.problems
            .push(format!("copy the payload to {}: {e}", dst.display()));
        return None;
    }
    Some(CaseBox {
        suite,
        case,
        idarg,
        uid: SUITE.uid_base() + id,
        printed,
        workspace,
    })
}

/// The case's runs before the one under test; false (the problem recorded) at the
/// first that does not exit 0.
fn before_runs(cx: &CaseBox, out: &mut Outcome) -> bool {
    for (i, step) in cx.case.before.iter().enumerate() {
        let mut a = vec!["-b".to_string(), cx.idarg.clone()];
        a.extend(step.args.iter().map(|x| cx.sub(x)));
        a.push("--run".into());
        a.push("--".into());
        a.extend(cx.program_with(&step.payload_args));
        let o = cx
            .suite
            .rustbox_for(cx.case, &a)
            .output()
            .expect("run rustbox");
        let _ = writeln!(
            out.details,
            "  before-run {}: rustbox {}\n  exit status: {:?}\n  stdout:\n{}  stderr:\n{}",
            i + 1,
            a.join(" "),
            o.status.code(),
            indent(&text(&o.stdout)),
            indent(&text(&o.stderr))
        );
        if o.status.code() != Some(0) {
            out.problems
                .push(format!("before-run {} exited {:?}", i + 1, o.status.code()));
            return false;
        }
    }
    true
}

/// Where the run under test leaves its results and streams.
struct RunFiles {
    meta: PathBuf,
    json: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl RunFiles {
    fn of(suite: &Suite, case: &Case) -> RunFiles {
        let f = |ext: &str| suite.out.join(format!("{}.{ext}", case.name));
        RunFiles {
            meta: f("meta"),
            json: f("json"),
            stdout: f("stdout"),
            stderr: f("stderr"),
        }
    }
}

/// What the run under test did, seen from the host.
struct Ran {
    code: Option<i32>,
    /// The largest number of box processes seen during the run.
    peak: usize,
    elapsed: Duration,
    stdout: String,
    stderr: String,
    doc: Option<Value>,
    verdict: String,
}

/// The run under test: started as the case's caller, watched (or, for the special
/// case, its supervisor killed), then every expectation of the case checked.
fn run_and_check(cx: &CaseBox, out: &mut Outcome) {
    let (suite, case) = (cx.suite, cx.case);
    let files = RunFiles::of(suite, case);
    let mut args = vec![
        "-b".to_string(),
        cx.idarg.clone(),
        "-M".into(),
        files.meta.display().to_string(),
        format!("--json={}", files.json.display()),
    ];
    args.extend(case.args.iter().map(|a| cx.sub(a)));
    args.push("--run".into());
    args.push("--".into());
    args.extend(cx.program_with(&case.payload_args));
    let mut cmd = suite.rustbox_for(case, &args);
    cmd.stdout(std::fs::File::create(&files.stdout).unwrap());
    cmd.stderr(std::fs::File::create(&files.stderr).unwrap());
    let cmdline = format!("rustbox {}", args.join(" "));
    let Some((mut child, start)) = spawn_as_caller(cx, cmd, out) else {
        return;
    };
    if case.special.as_deref() == Some("kill_supervisor") {
        kill_supervisor(case, &mut child, &cx.workspace, cx.uid, out);
        let _ = writeln!(
            out.details,
            "  command: {cmdline}\n  stdout:\n{}  stderr:\n{}",
            indent(&read_lossy(&files.stdout)),
            indent(&read_lossy(&files.stderr))
        );
        return;
    }
    let ran = watch_run(cx, &mut child, start, &files, out);
    let e = &case.expect;
    check_verdict(e, &ran, out);
    check_exit_and_stdout(suite, e, &ran, out);
    check_evidence(e, &ran, out);
    check_box_files(e, &cx.workspace, out);
    check_host_shm(suite, out);
    report(cx, &ran, &files, &cmdline, out);
    if case.after.as_deref() == Some("init") {
        let o = suite
            .rustbox_for(case, &["-b".into(), cx.idarg.clone(), "--init".into()])
            .output()
            .expect("run rustbox --init");
        if o.status.code() != Some(0) {
            out.problems.push(format!(
                "--init after the run failed: {}",
                text(&o.stderr).trim()
            ));
        }
    }
}

/// A descriptor of `f` above [`MAX_CALLER_FD`], so that no target overwrites it.
fn above(f: std::fs::File) -> std::os::fd::OwnedFd {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor that we then own.
    let fd = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD_CLOEXEC, MAX_CALLER_FD + 1) };
    assert!(
        fd > MAX_CALLER_FD,
        "dup a caller descriptor above {MAX_CALLER_FD}"
    );
    // SAFETY: fd is a fresh descriptor of ours.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

/// Start the run as the case's caller: with the descriptors it leaves open (a
/// host file with the secret, and a host directory, which is then its working
/// directory too) and its session keyring. The child and when it started, or None
/// (the problem recorded).
fn spawn_as_caller(cx: &CaseBox, mut cmd: Command, out: &mut Outcome) -> Option<(Child, Instant)> {
    let (suite, case) = (cx.suite, cx.case);
    let secret = above(std::fs::File::open(&suite.secret_file).expect("open the secret file"));
    let host_dir = above(std::fs::File::open(&suite.host_dir).expect("open the host directory"));
    if !case.caller_dir_fds.is_empty() {
        cmd.current_dir(&suite.host_dir);
    }
    if !case.caller_fds.is_empty() || !case.caller_dir_fds.is_empty() {
        use std::os::fd::AsRawFd;
        let (src, dir) = (secret.as_raw_fd(), host_dir.as_raw_fd());
        let fds: Vec<(i32, i32)> = (case.caller_fds.iter().map(|&fd| (src, fd)))
            .chain(case.caller_dir_fds.iter().map(|&fd| (dir, fd)))
            .collect();
        // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                for &(from, fd) in &fds {
                    if libc::dup2(from, fd) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // dup2 onto itself keeps FD_CLOEXEC; a dup never has it.
                    if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            })
        };
    }
    if case.caller_session_keyring {
        caller_session_keyring(&mut cmd, suite.subst("{host_secret}"));
    }
    let start = Instant::now();
    let child = cmd.spawn();
    drop(secret);
    drop(host_dir);
    match child {
        Ok(c) => Some((c, start)),
        Err(e) => {
            out.problems.push(format!("spawn rustbox: {e}"));
            None
        }
    }
}

/// The caller (a judge) holds a session keyring with a secret key in it.
fn caller_session_keyring(cmd: &mut Command, secret_text: String) {
    // SAFETY: only keyctl/add_key system calls between fork and exec, on data
    // prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let ring = libc::syscall(libc::SYS_keyctl, 1, c"rustbox-adv-caller".as_ptr());
            let key = libc::syscall(
                libc::SYS_add_key,
                c"user".as_ptr(),
                c"judge-secret".as_ptr(),
                secret_text.as_ptr(),
                secret_text.len(),
                -3i64, // KEY_SPEC_SESSION_KEYRING
            );
            if ring < 0 || key < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
}

/// Wait for the run under the host's deadline, sampling the box's processes;
/// then what it wrote.
fn watch_run(
    cx: &CaseBox,
    child: &mut Child,
    start: Instant,
    files: &RunFiles,
    out: &mut Outcome,
) -> Ran {
    let (code, peak, timed_out) = watch(child, cx.uid, HOST_DEADLINE);
    let elapsed = start.elapsed();
    let stdout = read_lossy(&files.stdout);
    let stderr = read_lossy(&files.stderr);
    if timed_out {
        out.problems.push(format!(
            "rustbox still ran after {HOST_DEADLINE:?}: killed from the host"
        ));
    }
    let doc = try_read_json(&files.json);
    let verdict = doc
        .as_ref()
        .and_then(|d| d["verdict"].as_str())
        .unwrap_or("<no JSON>")
        .to_string();
    Ran {
        code,
        peak,
        elapsed,
        stdout,
        stderr,
        doc,
        verdict,
    }
}

/// Refused as expected, or a JSON verdict among the allowed ones.
fn check_verdict(e: &Expect, ran: &Ran, out: &mut Outcome) {
    let (code, doc, verdict) = (ran.code, &ran.doc, &ran.verdict);
    let allowed = e.verdict.as_ref().map(|v| v.to_vec()).unwrap_or_default();
    if let Some(needle) = &e.refused {
        let lines: Vec<&str> = ran.stderr.lines().collect();
        if code != Some(2) {
            out.problems
                .push(format!("exit status {code:?}, expected 2 (refused)"));
        }
        if lines.len() != 1 || !lines[0].starts_with("rustbox: ") || !lines[0].contains(needle) {
            out.problems.push(format!(
                "stderr is not one 'rustbox: ' line containing {needle:?}"
            ));
        }
    } else if doc.is_none() {
        out.problems
            .push("no JSON verdict document was written".into());
    } else if !allowed.contains(verdict) {
        let msg = doc
            .as_ref()
            .and_then(|d| d["message"].as_str())
            .unwrap_or("");
        out.problems.push(format!(
            "verdict {verdict} ({msg}), expected {}",
            allowed.join(" or ")
        ));
    }
}

/// rustbox's exit status, and what the program printed (and must not have).
fn check_exit_and_stdout(suite: &Suite, e: &Expect, ran: &Ran, out: &mut Outcome) {
    let (code, stdout) = (ran.code, &ran.stdout);
    if let Some(x) = &e.exit {
        let x = x.to_vec();
        if !code.is_some_and(|c| x.contains(&c)) {
            out.problems.push(format!(
                "rustbox exit status {code:?}, expected one of {x:?}"
            ));
        }
    }
    for want in &e.stdout_contains {
        let want = suite.subst(want);
        if !stdout.contains(&want) {
            out.problems
                .push(format!("stdout lacks {:?}", want.trim_end()));
        }
    }
    for bad in &e.stdout_not_contains {
        let bad = suite.subst(bad);
        if stdout.contains(&bad) {
            let line = stdout
                .lines()
                .find(|l| l.contains(bad.trim_end()))
                .unwrap_or(bad.trim_end());
            out.problems.push(format!("stdout has {line:?}"));
        }
    }
}

/// The limits the JSON names, its wall time, and the box processes seen from the
/// host.
fn check_evidence(e: &Expect, ran: &Ran, out: &mut Outcome) {
    if let Some(d) = &ran.doc {
        let hit: Vec<&str> = d["limits_hit"]
            .as_array()
            .map(|a| a.iter().filter_map(|h| h["limit"].as_str()).collect())
            .unwrap_or_default();
        for l in &e.limits_hit {
            if !hit.contains(&l.as_str()) {
                out.problems
                    .push(format!("limits_hit {hit:?} does not name {l}"));
            }
        }
        if let Some(want) = &e.limits_hit_exact {
            let mut got: Vec<&str> = hit.clone();
            let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
            got.sort_unstable();
            want.sort_unstable();
            if got != want {
                out.problems
                    .push(format!("limits_hit {got:?}, expected exactly {want:?}"));
            }
        }
        if let Some(max) = e.max_wall_s {
            let wall = d["usage"]["wall_s"].as_f64().unwrap_or(f64::INFINITY);
            if wall > max {
                out.problems
                    .push(format!("wall time {wall:.3} s, more than {max} s"));
            }
        }
    }
    if let Some(max) = e.max_box_processes {
        let peak = ran.peak;
        if peak > max {
            out.problems.push(format!(
                "{peak} processes of the box uid seen from the host, more than {max}"
            ));
        }
    }
}

/// The files the attack left in /box: their sizes and contents.
fn check_box_files(e: &Expect, workspace: &Path, out: &mut Outcome) {
    for (f, &max) in &e.box_file_max_bytes {
        let p = workspace.join(f);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.len() > max => out
                .problems
                .push(format!("/box/{f} is {} bytes, more than {max}", m.len())),
            Ok(_) => {}
            Err(err) => out.problems.push(format!(
                "/box/{f} was not created ({err}): did the attack run?"
            )),
        }
    }
    for (f, want) in &e.box_file_contains {
        let p = workspace.join(f);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_file() => {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                for w in want.iter().filter(|w| !text.contains(w.as_str())) {
                    out.problems
                        .push(format!("/box/{f} does not contain {w:?}: {text:?}"));
                }
            }
            Ok(m) => out.problems.push(format!(
                "/box/{f} is not a regular file: {:?}",
                m.file_type()
            )),
            Err(err) => out
                .problems
                .push(format!("/box/{f} was not created ({err})")),
        }
    }
}

/// What the box wrote in its /dev/shm must not appear in the host's (removed
/// once reported, so that it is blamed on this case only).
fn check_host_shm(suite: &Suite, out: &mut Outcome) {
    if let Some(name) = suite.shm_marker.file_name().and_then(|n| n.to_str()) {
        let leaked: Vec<String> = dir_names(Path::new("/dev/shm"))
            .into_iter()
            .filter(|f| f.starts_with(name) && f != name)
            .collect();
        for f in &leaked {
            let _ = std::fs::remove_file(Path::new("/dev/shm").join(f));
        }
        if !leaked.is_empty() {
            out.problems.push(format!(
                "the host's /dev/shm has files of the box: {leaked:?}"
            ));
        }
    }
}

/// The PASS line's evidence, and the details shown if the case failed.
fn report(cx: &CaseBox, ran: &Ran, files: &RunFiles, cmdline: &str, out: &mut Outcome) {
    let (code, peak) = (ran.code, ran.peak);
    let attempts = ran
        .stdout
        .lines()
        .filter(|l| l.starts_with("stopped:"))
        .count();
    out.summary = format!(
        "verdict {}, exit {}, {attempts} attacks stopped, peak {peak} box processes, \
         {:.2} s",
        ran.verdict,
        code.map_or("?".into(), |c| c.to_string()),
        ran.elapsed.as_secs_f64()
    );
    let _ = write!(
        out.details,
        "  threat: {}\n  command: {cmdline}\n  exit status: {code:?}\n  stdout:\n{}  \
         stderr:\n{}  meta:\n{}",
        cx.case.threat,
        indent(&ran.stdout),
        indent(&ran.stderr),
        indent(&read_lossy(&files.meta)),
    );
    if let Some(d) = &ran.doc {
        let _ = write!(
            out.details,
            "  json (message, exit, usage, limits_hit):\n{}",
            indent(&format!(
                "{}\n{}\n{}\n{}",
                d["message"], d["exit"], d["usage"], d["limits_hit"]
            ))
        );
    }
}

/// The special case: SIGKILL the supervisor once the program has spread out, then
/// no process of the box uid may be left.
fn kill_supervisor(case: &Case, child: &mut Child, workspace: &Path, uid: u32, out: &mut Outcome) {
    let started = workspace.join("started");
    let mut peak = 0;
    let up = wait_for(Duration::from_secs(10), || {
        peak = peak.max(procs_of_uid(uid, true).len());
        started.exists() || matches!(child.try_wait(), Ok(Some(_)))
    }) && started.exists();
    let before = procs_of_uid(uid, false);
    // SAFETY: kill(2) of our own child, by its pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    let status = child.wait().ok();
    if !up {
        out.problems.push(format!(
            "the program never signalled that it had started (rustbox: {status:?})"
        ));
        return;
    }
    if before.len() < 4 {
        out.problems.push(format!(
            "only {} box processes before the kill (expected the program, two children \
             and a daemon): {before:?}",
            before.len()
        ));
    }
    if let Some(max) = case.expect.max_box_processes {
        if peak > max {
            out.problems
                .push(format!("{peak} processes of the box uid, more than {max}"));
        }
    }
    let t = Instant::now();
    let left = procs_left(uid, GRACE);
    if !left.is_empty() {
        out.problems.push(format!(
            "box processes survive a SIGKILLed supervisor for {GRACE:?}: {left:?}"
        ));
    }
    out.summary = format!(
        "{} box processes before the supervisor was killed, none {:.2} s after",
        before.len(),
        t.elapsed().as_secs_f64()
    );
}

/// The host file and directory every case may aim at (`{host_victim}`,
/// `{host_victim_dir}`) must be exactly as setup left them.
fn victims_intact(suite: &Suite, out: &mut Outcome) {
    use std::os::unix::fs::MetadataExt;
    let v = &suite.victim;
    match std::fs::symlink_metadata(v) {
        Ok(m) if m.is_file() && m.uid() == 0 && m.mode() & 0o7777 == 0o644 => {}
        Ok(m) => out.problems.push(format!(
            "{} changed: uid {} mode {:o}",
            v.display(),
            m.uid(),
            m.mode()
        )),
        Err(e) => out.problems.push(format!("{} is gone: {e}", v.display())),
    }
    if std::fs::read_to_string(v).ok().as_deref() != Some(VICTIM_TEXT) {
        out.problems.push(format!("{} was written to", v.display()));
    }
    let d = &suite.victim_dir;
    let names = dir_names(d);
    let keep = d.join("keep");
    let keep_ok = std::fs::symlink_metadata(&keep).is_ok_and(|m| m.uid() == 0)
        && std::fs::read_to_string(&keep).ok().as_deref() == Some(VICTIM_TEXT);
    if names != ["keep"] || !keep_ok {
        out.problems.push(format!(
            "{} changed: holds {names:?}, keep intact: {keep_ok}",
            d.display()
        ));
    }
    if !out.problems.is_empty() {
        // Put them back, so that one failure does not show up in every later case.
        let _ = std::fs::remove_dir_all(d);
        let _ = std::fs::remove_file(v);
        make_victims(v, d);
    }
}

fn make_victims(victim: &Path, dir: &Path) {
    std::fs::write(victim, VICTIM_TEXT).unwrap();
    common::chmod(victim, 0o644);
    common::mkdir_755(dir);
    std::fs::write(dir.join("keep"), VICTIM_TEXT).unwrap();
}

/// `--cleanup`; it must succeed and leave no box directory and no box process.
fn cleanup(suite: &Suite, case: &Case, id: u32, out: &mut Outcome) {
    let o = suite
        .rustbox_for(case, &["-b".into(), id.to_string(), "--cleanup".into()])
        .output()
        .expect("run rustbox --cleanup");
    if o.status.code() != Some(0) {
        out.problems
            .push(format!("--cleanup failed: {}", text(&o.stderr).trim()));
    }
    let dir = suite.box_root.join(id.to_string());
    if dir.exists() {
        out.problems
            .push(format!("{} still exists after --cleanup", dir.display()));
    }
    victims_intact(suite, out);
    let uid = SUITE.uid_base() + id;
    let left = procs_left(uid, GRACE);
    if !left.is_empty() {
        out.problems.push(format!(
            "processes of box uid {uid} left after --cleanup: {left:?}"
        ));
    }
}

#[test]
fn adversarial() {
    let t0 = Instant::now();
    let cases = load_manifest();
    let suite = setup();
    let (mut passed, mut failed) = (0, 0);
    let mut failures = Vec::new();
    let mut details = String::new();
    let verbose = std::env::var_os("RUSTBOX_ADV_VERBOSE").is_some();
    println!(
        "adversarial suite: {} cases, rustbox {}",
        cases.len(),
        common::rustbox_bin().display()
    );
    for (i, case) in cases.iter().enumerate() {
        let o = run_case(&suite, case, i as u32);
        if o.problems.is_empty() {
            passed += 1;
            println!("PASS {}: {}", case.name, o.summary);
            if verbose {
                print!("{}", o.details);
            }
        } else {
            failed += 1;
            failures.push(case.name.clone());
            println!("FAIL {}: {}", case.name, o.problems.join("; "));
            let _ = write!(details, "--- {} ---\n{}", case.name, o.details);
        }
    }
    if !details.is_empty() {
        println!("\ndetails of the failed cases:\n{details}");
    }
    println!("adversarial suite took {:.1} s", t0.elapsed().as_secs_f64());
    println!("{passed} passed, {failed} failed");
    drop(suite);
    assert!(
        failed == 0,
        "{failed} adversarial case(s) failed: {} (see the FAIL lines above)",
        failures.join(", ")
    );
}
