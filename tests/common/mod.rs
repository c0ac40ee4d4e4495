//! What the test suites (integration, cgroup, adversarial) share: the root check,
//! a private base directory per test process with its own rustbox config, the
//! binary under test, and host-side observation of box processes.
//!
//! Each suite has its own directory prefix, uid range and cgroup subtree, so the
//! suites can run at the same time without seeing each other's boxes.
//!
//! Two variables let a suite run where it was not built (the cgroup v2 VM of
//! `make test-cgroup-v2`): `RUSTBOX_BIN` names the rustbox binary to test (default:
//! the one cargo built), `RUSTBOX_PROBES` a directory of prebuilt probe programs
//! (default: build them with gcc).

#![allow(dead_code)] // each suite uses its own part of this module

pub mod harness;
pub mod pty;
pub mod suid;

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What tells one suite's boxes from another's.
pub struct SuiteConf {
    /// Directory prefix under /tmp: `/tmp/<prefix>-<pid>`.
    pub prefix: &'static str,
    /// Box N runs as uid/gid `first_uid + N`.
    pub first_uid: u32,
    pub num_boxes: u32,
    /// The suite's cgroup subtree (inside rustbox's).
    pub cg_root: &'static str,
    /// How to run the suite by hand, for the error messages.
    pub how_to_run: &'static str,
}

/// `RUSTBOX_TEST_SLOT=K` (0..9, default 0) lets K+1 copies of one suite run at once
/// (say, while attack programs are written): slot K uses the uids `first_uid +
/// K*num_boxes ...`, the cgroup subtree `<cg_root>-sK` and (setuid and fault
/// suites) users named after K.
pub fn slot() -> u32 {
    match std::env::var("RUSTBOX_TEST_SLOT") {
        Err(_) => 0,
        Ok(v) => match v.parse::<u32>() {
            Ok(k) if k < 10 => k,
            _ => panic!("RUSTBOX_TEST_SLOT={v:?}: expected a number 0..9"),
        },
    }
}

impl SuiteConf {
    /// The uid and gid of box 0 in this copy of the suite.
    pub fn uid_base(&self) -> u32 {
        self.first_uid + slot() * self.num_boxes
    }

    /// The cgroup subtree of this copy of the suite.
    pub fn cg(&self) -> String {
        match slot() {
            0 => self.cg_root.to_string(),
            k => format!("{}-s{k}", self.cg_root),
        }
    }
}

/// The rustbox binary under test.
pub fn rustbox_bin() -> PathBuf {
    match std::env::var_os("RUSTBOX_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_rustbox")),
    }
}

/// Panics (never skips) unless the real and effective uid are 0.
pub fn require_root(s: &SuiteConf) {
    // SAFETY: getuid and geteuid cannot fail.
    let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
    if uid != 0 || euid != 0 {
        panic!(
            "this suite must run as root (uid {uid}, euid {euid}): it creates namespaces, \
             mounts, cgroups and box users. Run `{}` as root.",
            s.how_to_run
        );
    }
}

/// Panics unless `tool version_arg` runs; `install` says how to get it.
pub fn require_tool(tool: &str, version_arg: &str, install: &str) {
    match Command::new(tool).arg(version_arg).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`{tool} {version_arg}` failed ({}): {}; {install}",
            o.status,
            text(&o.stderr)
        ),
        Err(e) => panic!("{tool} not found ({e}): {install}"),
    }
}

/// Panics unless gcc runs; `what` says what it builds.
pub fn require_gcc(what: &str) {
    require_tool(
        "gcc",
        "--version",
        &format!("install it (`make deps`, or apt-get install gcc libc6-dev) to build {what}"),
    );
}

/// Runs `cmd`; unless it succeeds, an error that starts with `what` and shows the
/// exit status and both streams.
pub fn try_run(cmd: &mut Command, what: &str) -> Result<Output, String> {
    let o = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "{what}: {}\n{}{}",
            o.status,
            text(&o.stdout),
            text(&o.stderr)
        ));
    }
    Ok(o)
}

/// Runs `cmd`, which must succeed ([`try_run`]).
pub fn run_ok(cmd: &mut Command, what: &str) -> Output {
    try_run(cmd, what).unwrap_or_else(|e| panic!("{e}"))
}

/// `gcc FLAGS -o OUT SRC`; the error says what failed to build and why.
pub fn gcc(flags: &[impl AsRef<OsStr>], out: &Path, src: &Path) -> Result<(), String> {
    let mut cmd = Command::new("gcc");
    cmd.args(flags).arg("-o").arg(out).arg(src);
    try_run(&mut cmd, &format!("gcc failed to build {}", src.display())).map(drop)
}

/// A command's output as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One finished command: exit status (-1 for a signal) and both streams.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<&Output> for Out {
    fn from(o: &Output) -> Out {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: text(&o.stdout),
            stderr: text(&o.stderr),
        }
    }
}

impl From<Output> for Out {
    fn from(o: Output) -> Out {
        Out::from(&o)
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A finished command as a failure message shows it.
pub fn show(o: &Output) -> String {
    Out::from(o).to_string()
}

/// `&str`s of `String`s, for argument lists.
pub fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `String`s of `&str`s, for argument lists.
pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

static BASE: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_base() {
    remove_suite_cgroups();
    if let Some(b) = BASE.get() {
        remove_tree(b);
    }
}

/// `rm -rf` of a test directory, for any depth: std's `remove_dir_all` recurses
/// once per level, and a box a failed run left behind may hold a tree thousands
/// of levels deep (adv `deep_tree_box`). Mounts below it are not entered.
pub fn remove_tree(p: &Path) {
    let _ = Command::new("rm")
        .args(["-rf", "--one-file-system", "--"])
        .arg(p)
        .status();
}

/// One line of a mountinfo file.
#[derive(Debug)]
pub struct Mount {
    pub point: PathBuf,
    pub fstype: String,
    /// The super options (the last field).
    pub options: String,
}

fn parse_mountinfo(info: &str) -> Vec<Mount> {
    info.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mut post = post.split(' ');
            let fstype = post.next()?.to_string();
            let options = post.nth(1).unwrap_or("").to_string();
            let point = PathBuf::from(pre.split(' ').nth(4)?);
            Some(Mount {
                point,
                fstype,
                options,
            })
        })
        .collect()
}

/// The mounts of the mount namespace of process `pid` (`"self"`: this one's), in
/// mount order.
pub fn mounts_of(pid: &str) -> Vec<Mount> {
    let file = format!("/proc/{pid}/mountinfo");
    parse_mountinfo(&std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {file}: {e}")))
}

/// Mount points at or below `dir` in the mount namespace of `pid` (none if that
/// process is gone).
pub fn mounts_below(pid: &str, dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    parse_mountinfo(&info)
        .into_iter()
        .filter(|m| m.point.starts_with(dir))
        .map(|m| m.point.display().to_string())
        .collect()
}

/// Mount points of every cgroup hierarchy (v1 and v2), found in mountinfo.
pub fn cgroup_mounts() -> Vec<PathBuf> {
    mounts_of("self")
        .into_iter()
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .map(|m| m.point)
        .collect()
}

/// The directories of box `id`'s cgroup in every hierarchy of `mounts`.
pub fn box_cgroups(s: &SuiteConf, mounts: &[PathBuf], id: u32) -> Vec<PathBuf> {
    mounts
        .iter()
        .map(|m| m.join(s.cg()).join(format!("box-{id}")))
        .collect()
}

/// The cgroup directories a suite makes rustbox create, and which of them were
/// there before it started: each hierarchy's `<cg_root>` (the suite's subtree)
/// and its parents (`rustbox`). Recorded by `fresh_base`.
struct CgSnapshot {
    /// (directory, existed before the suite), deepest first.
    dirs: Vec<(PathBuf, bool)>,
}

static CG: OnceLock<CgSnapshot> = OnceLock::new();

fn snapshot_cgroups(s: &SuiteConf) -> CgSnapshot {
    let mut dirs = Vec::new();
    for m in cgroup_mounts() {
        let root = m.join(s.cg());
        for d in root.ancestors().take_while(|d| *d != m) {
            dirs.push((d.to_path_buf(), d.exists()));
        }
    }
    CgSnapshot { dirs }
}

/// Remove the suite's cgroup subtree and the parents the suite made rustbox
/// create, where they are empty (a leftover box group keeps them, and is what
/// `cgroup_leftovers` reports). Called at exit, and by a suite that checks.
pub fn remove_suite_cgroups() {
    if let Some(snap) = CG.get() {
        for (d, existed) in &snap.dirs {
            if !existed {
                // Only empty groups go; another suite may be using a parent.
                let _ = std::fs::remove_dir(d);
            }
        }
    }
}

/// Every cgroup directory of the suite still there that was not there before it
/// started (after `remove_suite_cgroups`, nothing may be).
pub fn cgroup_leftovers() -> Vec<String> {
    let Some(snap) = CG.get() else {
        return vec!["the suite's cgroups were never recorded".into()];
    };
    snap.dirs
        .iter()
        .filter(|(d, existed)| !existed && d.exists())
        .map(|(d, _)| d.display().to_string())
        .collect()
}

/// `chmod MODE p`.
pub fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {:o} {}: {e}", mode, p.display()));
}

/// Copy `src` to `dst` with `mode`.
///
/// Copied by a child forked for it, not by this process: a descriptor open
/// for writing here would be inherited by whatever another test's thread
/// forks at that moment, and until that child's exec closes it an execve of
/// `dst` (a probe run in a box) fails with ETXTBSY (seen in
/// a_holder_of_an_earlier_version_is_released). The child makes only
/// async-signal-safe calls, so the fork of a multi-threaded process is fine;
/// no program is needed (the cgroup v2 VM has no install(1)).
pub fn place(src: &Path, dst: &Path, mode: u32) {
    use std::os::unix::ffi::OsStrExt;
    let what = format!("copy {} to {}", src.display(), dst.display());
    let from = std::ffi::CString::new(src.as_os_str().as_bytes()).expect("no NUL in a path");
    let to = std::ffi::CString::new(dst.as_os_str().as_bytes()).expect("no NUL in a path");
    // SAFETY: the child only calls open, read, write, close and _exit on memory
    // made before the fork (async-signal-safe: no lock another thread held can
    // be needed), and never returns.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: as above; every result is checked and ends the child.
        unsafe {
            let i = libc::open(from.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC;
            let o = libc::open(to.as_ptr(), flags, 0o600);
            if i < 0 || o < 0 {
                libc::_exit(1);
            }
            let mut buf = [0u8; 65536];
            loop {
                let n = libc::read(i, buf.as_mut_ptr().cast(), buf.len());
                if n == 0 {
                    break;
                }
                if n < 0 {
                    libc::_exit(2);
                }
                let mut off = 0;
                while off < n {
                    let w =
                        libc::write(o, buf.as_ptr().add(off as usize).cast(), (n - off) as usize);
                    if w <= 0 {
                        libc::_exit(3);
                    }
                    off += w;
                }
            }
            libc::_exit(if libc::close(o) == 0 { 0 } else { 4 });
        }
    }
    assert!(pid > 0, "{what}: fork: {}", std::io::Error::last_os_error());
    let mut status = 0;
    // SAFETY: waitpid for the child we just forked, into a local.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{what}: the copying child ended with status {status:#x}"
    );
    chmod(dst, mode);
}

/// `mkdir -p` with mode 0755 (box users must be able to reach what is inside).
pub fn mkdir_755(p: &Path) {
    std::fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    chmod(p, 0o755);
}

/// A fresh `/tmp/<prefix>-<pid>`, removed when the test process exits; the
/// directories of earlier processes of the suite that are gone are removed first.
pub fn fresh_base(s: &SuiteConf) -> PathBuf {
    if let Ok(rd) = std::fs::read_dir("/tmp") {
        let stale = format!("{}-", s.prefix);
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(&stale) else {
                continue;
            };
            if pid.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{pid}")).exists() {
                remove_tree(&e.path());
            }
        }
    }
    let _ = CG.set(snapshot_cgroups(s));
    let base = PathBuf::from(format!("/tmp/{}-{}", s.prefix, std::process::id()));
    remove_tree(&base);
    mkdir_755(&base);
    if BASE.set(base.clone()).is_ok() {
        // SAFETY: registering a plain extern "C" function with atexit.
        unsafe { libc::atexit(remove_base) };
    }
    base
}

/// The suite's rustbox config: boxes in `<base>/boxes`, locks in `<base>/locks`,
/// the suite's uids and cgroup subtree.
pub fn config_text(s: &SuiteConf, base: &Path) -> String {
    format!(
        "# rustbox test suite {}\nbox_root = {}\nlock_root = {}\nfirst_uid = {}\n\
         first_gid = {}\nnum_boxes = {}\ncg_root = {}\n\
         # no clock keeper (supervisor/keeper.rs) outliving the suite's runs\n\
         clock_keeper_idle = 0\n",
        s.prefix,
        base.join("boxes").display(),
        base.join("locks").display(),
        s.uid_base(),
        s.uid_base(),
        s.num_boxes,
        s.cg()
    )
}

/// Writes `<base>/config` ([`config_text`]) and returns its path.
pub fn write_config(s: &SuiteConf, base: &Path) -> PathBuf {
    let config = base.join("config");
    std::fs::write(&config, config_text(s, base))
        .unwrap_or_else(|e| panic!("write {}: {e}", config.display()));
    config
}

/// The probe programs of tests/probes/ in `dir`: copied from `RUSTBOX_PROBES` when
/// set, otherwise built with gcc.
pub fn provide_probes(dir: &Path) {
    mkdir_755(dir);
    if let Some(pre) = std::env::var_os("RUSTBOX_PROBES") {
        let src = Path::new(&pre).join("probe");
        std::fs::copy(&src, dir.join("probe"))
            .unwrap_or_else(|e| panic!("copy the prebuilt probe {}: {e}", src.display()));
        return;
    }
    require_gcc("the probes in tests/probes/");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probes/probe.c");
    let flags = ["-O1", "-Wall", "-Wextra", "-Werror", "-pthread"];
    gcc(&flags, &dir.join("probe"), &src).unwrap_or_else(|e| panic!("{e}"));
}

/// The text of `/proc/<pid>/status`, if the process exists.
pub fn proc_status(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status")).ok()
}

/// Every process's pid and the text of its `/proc/<pid>/status` (processes that
/// vanish while the directory is read are skipped).
pub fn proc_statuses() -> Vec<(u32, String)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter_map(|pid| proc_status(pid).map(|st| (pid, st)))
        .collect()
}

/// The trimmed value of field `key` (e.g. "Uid:") in a status text.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
}

/// The real uid in a status text.
fn real_uid(status: &str) -> Option<u32> {
    status_field(status, "Uid:")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The real uid of a host process, if it still exists.
pub fn uid_of(pid: libc::pid_t) -> Option<u32> {
    real_uid(&proc_status(u32::try_from(pid).ok()?)?)
}

/// The children of process `pid` (of its main thread).
pub fn children_of(pid: u32) -> std::io::Result<Vec<u32>> {
    let list = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))?;
    Ok(list
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect())
}

/// Processes whose real uid is `uid` (zombies included when `zombies`), with their
/// command names.
pub fn procs_of_uid(uid: u32, zombies: bool) -> Vec<(u32, String)> {
    let mut v = Vec::new();
    for (pid, st) in proc_statuses() {
        let field = |k: &str| status_field(&st, k);
        let dead = field("State:").is_some_and(|s| s.starts_with('Z') || s.starts_with('X'));
        if real_uid(&st) == Some(uid) && (zombies || !dead) {
            v.push((pid, field("Name:").unwrap_or("?").to_string()));
        }
    }
    v
}

/// Pids of the live (not zombie) processes whose real uid is `uid`.
pub fn pids_of_uid(uid: u32) -> Vec<u32> {
    procs_of_uid(uid, false)
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// Waits up to `limit` for the live processes of `uid` to be gone; those still
/// there then, with their names (empty: none is left).
pub fn procs_left(uid: u32, limit: Duration) -> Vec<(u32, String)> {
    if wait_for(limit, || pids_of_uid(uid).is_empty()) {
        Vec::new()
    } else {
        procs_of_uid(uid, false)
    }
}

/// Wait up to `limit` for `cond`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Waits up to `limit` for `child` to end: its status, or None when it had not
/// ended by then (it is killed and reaped).
pub fn wait_or_kill(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("wait for a child") {
            return Some(st);
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The names in directory `dir` (none if it cannot be read).
pub fn dir_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `c` starts in a private mount namespace of its own where each of `points`
/// is read-only (as a container runtime mounts `/proc/sys` or cgroupfs):
/// bound on itself first when `bind` (a directory that is no mount of its
/// own), then remounted read-only. Nothing of it reaches the caller's mounts.
pub fn read_only_mounts(c: &mut Command, points: &[&Path], bind: bool) {
    let mut steps = Vec::new();
    for p in points {
        if bind {
            steps.push((Some(c_path(p)), c_path(p), libc::MS_BIND));
        }
        let ro = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
        steps.push((None, c_path(p), ro));
    }
    in_private_mounts(c, steps);
}

/// `c` starts in a private mount namespace of its own where `dir` is bound on
/// `point` (a directory of plain files over `/proc/sys`, say). Nothing of it
/// reaches the caller's mounts.
pub fn bound_over(c: &mut Command, dir: &Path, point: &Path) {
    in_private_mounts(c, vec![(Some(c_path(dir)), c_path(point), libc::MS_BIND)]);
}

fn c_path(p: &Path) -> std::ffi::CString {
    std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("a path")
}

/// `c` starts in a private mount namespace of its own (everything in it made
/// private first), where each of `steps`, (source, target, flags) of mount(2)
/// with no type or data, is made in order.
fn in_private_mounts(
    c: &mut Command,
    steps: Vec<(Option<std::ffi::CString>, std::ffi::CString, libc::c_ulong)>,
) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only unshare and mount, on C strings made
    // before the fork; nothing allocates.
    unsafe {
        c.pre_exec(move || {
            let none = std::ptr::null();
            let mount = |src: *const libc::c_char, dst: *const libc::c_char, flags| {
                libc::mount(src, dst, none, flags, none.cast()) == 0
            };
            let mut ok = libc::unshare(libc::CLONE_NEWNS) == 0
                && mount(none, c"/".as_ptr(), libc::MS_REC | libc::MS_PRIVATE);
            for (src, dst, flags) in &steps {
                let src = src.as_ref().map_or(none, |s| s.as_ptr());
                ok = ok && mount(src, dst.as_ptr(), *flags);
            }
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// Whether this kernel accounts hypervisor steal: the `steal` column of
/// /proc/stat's `cpu` line has ever moved (a VM with steal time). Then a box's
/// CPU time is the scheduler's count, which leaves steal out; otherwise it is the
/// exact task clock.
pub fn steal_accounted() -> bool {
    let stat = std::fs::read_to_string("/proc/stat").expect("read /proc/stat");
    let reading = rustbox::supervisor::steal::parse(&stat).expect("/proc/stat has a steal column");
    reading.ticks > 0
}
