//! Setuid operation: rustbox installed setuid root and called by ordinary users,
//! as a judge host runs it from unprivileged worker accounts.
//!
//! The suite makes a setuid-root copy of the built binary, creates two users
//! (`rbs<slot>a` and `rbs<slot>b`, removed again at exit) and runs everything
//! through `setpriv` as those users. A setuid rustbox only ever reads
//! `/etc/rustbox/config` (no caller may choose another), so the suite gives it
//! its own: a private mount namespace, held open by a sleeping process, in which
//! a tmpfs on `/etc/rustbox` holds the suite's config (`nsenter` runs each call in
//! it). Two such namespaces exist: an open one and one with `restricted_init = 1`.
//! `/etc/rustbox` is created on the host if it is missing (and removed at exit).
//!
//! Requirements: root, gcc, util-linux (`unshare`, `nsenter`, `setpriv`),
//! `useradd`/`userdel`, and a base directory not mounted `nosuid`. Without any of
//! them every test fails saying so.

mod common;

use common::harness::{control, controls, read_json};
use common::suid::{add_user, holder, User};
use common::{run_ok, show, strings, strs, text, uid_of};

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub static SUITE: common::SuiteConf = common::SuiteConf {
    prefix: "rustbox-suid",
    first_uid: 66000,
    num_boxes: 100,
    cg_root: "rustbox/test-suid",
    how_to_run: "cargo test --test setuid",
};

struct Env {
    base: PathBuf,
    bin: PathBuf,
    /// Holder processes of the two mount namespaces.
    open_ns: u32,
    restricted_ns: u32,
    /// Default tmpfs boxes, `user_max_quota = 2048,100`, `user_max_boxes = 2`.
    capped_ns: u32,
    alice: User,
    bob: User,
    /// A root-owned 0700 directory with a world-readable `pub/` inside.
    root_only: PathBuf,
    /// A root-owned 0755 directory ordinary users cannot write.
    root_dir: PathBuf,
}

static ENV: OnceLock<Env> = OnceLock::new();

fn env() -> &'static Env {
    ENV.get_or_init(setup)
}

fn setup() -> Env {
    common::require_root(&SUITE);
    common::require_gcc("the LD_PRELOAD library of the environment test");
    let base = common::fresh_base(&SUITE);
    let bin = common::suid::setuid_copy(&base);

    let slot = common::slot();
    common::suid::prepare_host();
    let (a, b) = (format!("rbs{slot}a"), format!("rbs{slot}b"));
    let alice = add_user(&a, &base);
    let bob = add_user(&b, &base);

    // The open and restricted configurations keep boxes on the host's disk
    // (`host_disk_box`), where hard links and moved directories of other users can
    // reach /box; the third has the default tmpfs boxes and caps for callers.
    let config = |extra: &str| common::config_text(&SUITE, &base) + extra;
    let open_ns = holder(&config("restricted_init = 0\nhost_disk_box = 1\n"));
    let restricted_ns = holder(&config("restricted_init = 1\nhost_disk_box = 1\n"));
    // Its own box and lock roots (the later keys win): other tests' boxes of
    // alice's must not count against her cap.
    let capped_ns = holder(&config(&format!(
        "box_root = {}\nlock_root = {}\nbox_quota = 1024,50\nuser_max_quota = 2048,100\n\
         user_max_boxes = 2\n",
        base.join("capped/boxes").display(),
        base.join("capped/locks").display(),
    )));

    let root_only = base.join("root-only");
    std::fs::create_dir_all(root_only.join("pub")).unwrap();
    common::chmod(&root_only, 0o700);
    common::chmod(&root_only.join("pub"), 0o755);
    std::fs::write(root_only.join("pub/secret"), "root's secret\n").unwrap();
    std::fs::write(root_only.join("pub/filter.json"), "{}").unwrap();
    let root_dir = base.join("root-dir");
    common::mkdir_755(&root_dir);
    Env {
        base,
        bin,
        open_ns,
        restricted_ns,
        capped_ns,
        alice,
        bob,
        root_only,
        root_dir,
    }
}

/// Who runs a command: a suite user, or root.
#[derive(Clone, Copy)]
enum As<'a> {
    User(&'a User),
    Root,
}

/// `nsenter` into namespace `ns`, then (for a user) `setpriv` to that user, in
/// the user's home; `wrap` comes next (e.g. env(1)), then rustbox and `args`.
fn cmd_with(ns: u32, who: As, wrap: &[String], args: &[&str]) -> Command {
    let e = env();
    let mut c = Command::new("nsenter");
    c.arg(format!("--mount=/proc/{ns}/ns/mnt")).arg("--");
    match who {
        As::User(u) => {
            c.arg("setpriv").args(u.setpriv_args());
            c.current_dir(&u.home);
        }
        As::Root => {
            c.current_dir(&e.base);
        }
    }
    c.args(wrap).arg(&e.bin).args(args);
    c.env_clear().env("PATH", "/usr/bin:/bin");
    c.stdin(Stdio::null());
    c
}

/// rustbox (the setuid copy) as `who`, in the open or the restricted namespace.
fn cmd_in(ns: u32, who: As, args: &[&str]) -> Command {
    cmd_with(ns, who, &[], args)
}

fn rb(who: As, args: &[&str]) -> Output {
    cmd_in(env().open_ns, who, args)
        .output()
        .expect("run rustbox")
}

fn assert_refused(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "{}", show(o));
    assert!(
        text(&o.stderr).contains(needle),
        "stderr lacks {needle:?}\n{}",
        show(o)
    );
}

fn box_dir(id: u32) -> PathBuf {
    env().base.join("boxes").join(id.to_string())
}

/// What statfs(2) says of the file system at `p`.
fn statfs_of(p: &Path) -> libc::statfs {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: an all-zero statfs is a valid buffer; statfs fills it from a valid
    // NUL-terminated path.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as said above.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    assert_eq!(rc, 0, "statfs {}", p.display());
    st
}

/// `p` as the suite's rustbox sees it (in the open namespace, where a user's box
/// is a tmpfs), reached from the test's own namespace.
fn seen(p: &Path) -> PathBuf {
    PathBuf::from(format!("/proc/{}/root{}", env().open_ns, p.display()))
}

/// Cleans up box `id` as root when the test ends.
struct Cleanup(u32);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = rb(As::Root, &["-b", &self.0.to_string(), "--cleanup"]);
    }
}

// ---------------------------------------------------------------------------

/// An ordinary user runs the whole cycle through the setuid binary: the box is
/// theirs, the program runs as the box uid, the result files are created with
/// the caller's identity, and /box comes back to them after the run.
#[test]
fn a_user_runs_the_full_cycle() {
    let e = env();
    let a = As::User(&e.alice);
    let _c = Cleanup(1);
    let o = rb(a, &["-b", "1", "--init"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(text(&o.stdout).trim(), box_dir(1).display().to_string());
    let ws = seen(&box_dir(1).join("box"));
    let m = std::fs::metadata(&ws).unwrap();
    assert_eq!((m.uid(), m.gid()), (e.alice.uid, e.alice.gid));

    let (meta, js) = (e.alice.home.join("meta"), e.alice.home.join("run.json"));
    let o = rb(
        a,
        &[
            "-b",
            "1",
            "-M",
            meta.to_str().unwrap(),
            "--json",
            js.to_str().unwrap(),
            "-p5",
            "--run",
            "--",
            "/bin/sh",
            "-c",
            "id -u > /box/uid; chmod 777 /box; echo ran",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(text(&o.stdout), "ran\n");
    for f in [&meta, &js] {
        let m = std::fs::metadata(f).unwrap();
        assert_eq!(
            (m.uid(), m.gid()),
            (e.alice.uid, e.alice.gid),
            "{} not created with the caller's identity",
            f.display()
        );
    }
    let doc = read_json(&js);
    assert_eq!(doc["verdict"], "OK", "{doc}");
    let dumpable = control(&doc, "supervisor.dumpable").expect("control");
    assert_eq!(dumpable["verified"], true, "{dumpable}");
    let uid_file = ws.join("uid");
    assert_eq!(
        std::fs::read_to_string(&uid_file).unwrap().trim(),
        (SUITE.uid_base() + 1).to_string(),
        "the program must run as the box uid"
    );
    let m = std::fs::metadata(&uid_file).unwrap();
    assert_eq!(
        (m.uid(), m.gid()),
        (e.alice.uid, e.alice.gid),
        "/box handed back"
    );
    let mode = std::fs::metadata(&ws).unwrap().mode() & 0o7777;
    assert_eq!(mode, 0o700, "the program opened /box to everyone: {mode:o}");

    let o = rb(a, &["-b", "1", "--cleanup"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(!box_dir(1).exists());
    assert!(!e.base.join("locks/1").exists());
}

/// A box belongs to whoever initialised it: another user can neither run in it,
/// clean it up nor re-create it; root can do all three, and /box still goes back
/// to its owner.
#[test]
fn boxes_belong_to_whoever_initialised_them() {
    let e = env();
    let (a, b) = (As::User(&e.alice), As::User(&e.bob));
    let _c = Cleanup(2);
    assert_eq!(rb(a, &["-b", "2", "--init"]).status.code(), Some(0));
    let keep = seen(&box_dir(2).join("box/keep"));
    std::fs::write(&keep, "alice's file").unwrap();
    std::os::unix::fs::chown(&keep, Some(e.alice.uid), Some(e.alice.gid)).unwrap();

    let owner = format!("belongs to another user (uid {})", e.alice.uid);
    assert_refused(&rb(b, &["-b", "2", "--run", "--", "/bin/true"]), &owner);
    assert_refused(&rb(b, &["-b", "2", "--cleanup"]), &owner);
    assert_refused(&rb(b, &["-b", "2", "--init"]), &owner);
    assert_eq!(std::fs::read_to_string(&keep).unwrap(), "alice's file");

    let o = rb(
        As::Root,
        &["-b", "2", "--run", "--", "/bin/cat", "/box/keep"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let m = std::fs::metadata(&keep).unwrap();
    assert_eq!((m.uid(), m.gid()), (e.alice.uid, e.alice.gid));
    let o = rb(a, &["-b", "2", "--run", "--", "/bin/cat", "/box/keep"]);
    assert_eq!(text(&o.stdout), "alice's file", "{}", show(&o));
}

/// Every path the caller names is opened with the caller's rights (H4 for bind
/// sources): what the caller cannot reach, rustbox does not reach for them.
#[test]
fn caller_named_paths_use_the_callers_rights() {
    let e = env();
    let a = As::User(&e.alice);
    let _c = Cleanup(3);
    assert_eq!(rb(a, &["-b", "3", "--init"]).status.code(), Some(0));
    let pub_dir = e.root_only.join("pub");
    let run = |extra: &[&str], prog: &[&str]| {
        let mut args = vec!["-b", "3", "-p5"];
        args.extend_from_slice(extra);
        args.push("--run");
        args.push("--");
        args.extend_from_slice(prog);
        rb(a, &args)
    };

    // Result files where the caller may not write.
    let victim = e.root_dir.join("meta");
    let o = run(&["-M", victim.to_str().unwrap()], &["/bin/true"]);
    assert_refused(&o, "EACCES");
    assert!(
        !victim.exists(),
        "meta created in a directory the caller cannot write"
    );
    let root_file = e.root_dir.join("existing.json");
    std::fs::write(&root_file, "root's\n").unwrap();
    let o = run(&["--json", root_file.to_str().unwrap()], &["/bin/true"]);
    assert_refused(&o, "EACCES");
    assert_eq!(std::fs::read_to_string(&root_file).unwrap(), "root's\n");
    let hidden = pub_dir.join("meta");
    let o = run(&["-M", hidden.to_str().unwrap()], &["/bin/true"]);
    assert_refused(&o, "EACCES");
    assert!(!hidden.exists());

    // A bind source behind a directory the caller cannot search: refused, and
    // the evidence names the step and the errno. Root may bind it.
    let js = e.alice.home.join("bind.json");
    let dir_rule = format!("--dir=/s={}", pub_dir.display());
    let o = run(
        &[&dir_rule, "--json", js.to_str().unwrap()],
        &["/bin/cat", "/s/secret"],
    );
    assert_refused(&o, "mount.bind");
    assert!(!text(&o.stdout).contains("secret"), "{}", show(&o));
    let doc = read_json(&js);
    assert_eq!(doc["verdict"], "IE", "{doc}");
    let failed = controls(&doc).and_then(|c| c.into_iter().find(|(_, applied, _)| !applied));
    assert_eq!(
        failed,
        Some(("mount.bind".into(), false, Some("EACCES".into()))),
        "{doc}"
    );
    let o = rb(
        As::Root,
        &["-b", "3", &dir_rule, "--run", "--", "/bin/cat", "/s/secret"],
    );
    assert_eq!(text(&o.stdout), "root's secret\n", "{}", show(&o));

    // Another user's private home, and a directory the caller may read but not
    // write asked for read-write.
    let bob_data = e.bob.home.join("data");
    std::fs::create_dir_all(&bob_data).unwrap();
    common::chmod(&bob_data, 0o777);
    let o = run(
        &[&format!("--dir=/s={}:rw", bob_data.display())],
        &["/bin/true"],
    );
    assert_refused(&o, "EACCES");
    let ro = e.root_dir.join("ro-data");
    common::mkdir_755(&ro);
    std::fs::write(ro.join("f"), "readable\n").unwrap();
    let o = run(&[&format!("--dir=/s={}:rw", ro.display())], &["/bin/true"]);
    assert_refused(&o, "may not read and write");
    let o = run(
        &[&format!("--dir=/s={}", ro.display())],
        &["/bin/cat", "/s/f"],
    );
    assert_eq!(text(&o.stdout), "readable\n", "{}", show(&o));

    // The caller's own directory works, read-write too.
    let own = e.alice.home.join("data");
    std::fs::create_dir_all(&own).unwrap();
    std::os::unix::fs::chown(&own, Some(e.alice.uid), Some(e.alice.gid)).unwrap();
    common::chmod(&own, 0o777);
    let o = run(
        &[&format!("--dir=/d={}:rw", own.display())],
        &["/bin/sh", "-c", "echo w > /d/out && cat /d/out"],
    );
    assert_eq!(text(&o.stdout), "w\n", "{}", show(&o));

    // A seccomp file the caller cannot read.
    let filter = pub_dir.join("filter.json");
    let o = run(
        &[&format!("--seccomp={}", filter.display())],
        &["/bin/true"],
    );
    assert_refused(&o, "seccomp.file");

    // Root-only choices.
    assert_refused(
        &run(&["--config=/etc/passwd"], &["/bin/true"]),
        "only root may choose the configuration",
    );
    assert_refused(
        &run(&["--as-uid=0", "--as-gid=0"], &["/bin/true"]),
        "may only be used by root",
    );
    assert_refused(
        &run(&["--dir=/d=devtmpfs:fs:dev"], &["/bin/true"]),
        "only root may mount a devtmpfs",
    );
    let o = run(&["--dir=/q=mqueue:fs"], &["/bin/true"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}

/// `--as-uid/--as-gid`: root acts on behalf of a user, as in isolate. The box is
/// created for that user; both ids are needed, and only root may give them.
#[test]
fn root_acts_for_a_user_with_as_uid() {
    let e = env();
    let _c = Cleanup(4);
    let (u, g) = (e.alice.uid.to_string(), e.alice.gid.to_string());
    let as_alice = [
        format!("--as-uid={u}"),
        format!("--as-gid={g}"),
        "-b".into(),
        "4".into(),
    ];
    let args = |extra: &[&str]| -> Vec<String> {
        as_alice
            .iter()
            .cloned()
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    assert_refused(
        &rb(As::Root, &["--as-uid", &u, "-b", "4", "--init"]),
        "must be given together",
    );
    let o = rb(As::Root, &strs(&args(&["--init"])));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let m = std::fs::metadata(box_dir(4).join("box")).unwrap();
    assert_eq!((m.uid(), m.gid()), (e.alice.uid, e.alice.gid));
    let o = rb(As::User(&e.alice), &["-b", "4", "--run", "--", "/bin/true"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_refused(
        &rb(As::User(&e.bob), &["-b", "4", "--run", "--", "/bin/true"]),
        "belongs to another user",
    );
    // isolate checks bind sources with the acting user's identity.
    let o = rb(
        As::Root,
        &strs(&args(&[
            &format!("--dir=/s={}", e.root_only.join("pub").display()),
            "--run",
            "--",
            "/bin/true",
        ])),
    );
    assert_refused(&o, "mount.bind");
}

/// `restricted_init`: only root creates boxes (for a user with `--as-uid`); the
/// user then runs in and cleans up their box.
#[test]
fn restricted_init_leaves_creation_to_root() {
    let e = env();
    let ns = e.restricted_ns;
    let a = As::User(&e.alice);
    let r = |who, args: &[&str]| cmd_in(ns, who, args).output().unwrap();
    struct Done(u32);
    impl Drop for Done {
        fn drop(&mut self) {
            let _ = cmd_in(self.0, As::Root, &["-b", "5", "--cleanup"]).output();
        }
    }
    let _d = Done(ns);
    assert_refused(&r(a, &["-b", "5", "--init"]), "restricted_init");
    assert!(!box_dir(5).exists());
    let (u, g) = (e.alice.uid.to_string(), e.alice.gid.to_string());
    let o = r(
        As::Root,
        &[
            &format!("--as-uid={u}"),
            &format!("--as-gid={g}"),
            "-b",
            "5",
            "--init",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = r(a, &["-b", "5", "--run", "--", "/bin/true"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = r(a, &["-b", "5", "--cleanup"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(!box_dir(5).exists());
}

/// The caller cannot attach to, or read the memory or environment of, the
/// supervisor it started; the run records the supervisor as not dumpable.
#[test]
fn the_caller_cannot_trace_the_supervisor() {
    let e = env();
    let a = As::User(&e.alice);
    let _c = Cleanup(6);
    assert_eq!(rb(a, &["-b", "6", "--init"]).status.code(), Some(0));
    let js = e.alice.home.join("trace.json");
    let mut child = cmd_in(
        e.open_ns,
        a,
        &[
            "-b",
            "6",
            "-w",
            "20",
            "--json",
            js.to_str().unwrap(),
            "--run",
            "--",
            "/bin/sleep",
            "2",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // nsenter and setpriv exec into rustbox: the child's pid is the supervisor.
    let sup = child.id();
    let started = common::wait_for(Duration::from_secs(5), || {
        !common::pids_of_uid(SUITE.uid_base() + 6).is_empty()
    });
    assert!(started, "the box never started");
    let exe = std::fs::read_link(format!("/proc/{sup}/exe")).unwrap();
    assert_eq!(exe, e.bin, "pid {sup} is not the supervisor");

    let (uid, gid) = (e.alice.uid, e.alice.gid);
    let paths: Vec<std::ffi::CString> = ["mem", "environ"]
        .iter()
        .map(|f| std::ffi::CString::new(format!("/proc/{sup}/{f}")).unwrap())
        .collect();
    // SAFETY: fork in a test process; the child only makes raw system calls
    // (no allocation, no locks) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: raw system calls only, then _exit; see above.
        unsafe {
            let mut code = 0;
            let none: *const libc::gid_t = std::ptr::null();
            if libc::syscall(libc::SYS_setgroups, 0, none) != 0
                || libc::syscall(libc::SYS_setresgid, gid, gid, gid) != 0
                || libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0
            {
                libc::_exit(10);
            }
            let r = libc::ptrace(
                libc::PTRACE_ATTACH,
                sup as libc::pid_t,
                std::ptr::null_mut::<libc::c_void>(),
                std::ptr::null_mut::<libc::c_void>(),
            );
            if r == 0 || *libc::__errno_location() != libc::EPERM {
                code |= 1;
            }
            for (i, p) in paths.iter().enumerate() {
                let fd = libc::open(p.as_ptr(), libc::O_RDONLY);
                if fd >= 0 {
                    code |= 2 << i;
                }
            }
            libc::_exit(code);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for the child forked above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let code = libc::WEXITSTATUS(status);
    let st = child.wait().unwrap();
    assert_eq!(
        code & 1,
        0,
        "the caller attached to the supervisor with ptrace"
    );
    assert_eq!(code & 2, 0, "the caller opened the supervisor's memory");
    assert_eq!(
        code & 4,
        0,
        "the caller opened the supervisor's environment"
    );
    assert_eq!(code, 0, "the probe child could not become the caller");
    assert_eq!(st.code(), Some(0));
    let doc = read_json(&js);
    let c = control(&doc, "supervisor.dumpable").expect("control");
    assert_eq!(c["applied"], true, "{doc}");
}

/// Nothing in the caller's environment steers the privileged supervisor: the
/// loader's LD_* variables are not honoured, and the box sees only what -E asks
/// for.
#[test]
fn the_callers_environment_steers_nothing() {
    let e = env();
    let a = As::User(&e.alice);
    let _c = Cleanup(7);
    assert_eq!(rb(a, &["-b", "7", "--init"]).status.code(), Some(0));
    // A library that leaves a mark named after the effective uid it was loaded with.
    let lib_dir = e.base.join("evil");
    common::mkdir_755(&lib_dir);
    let src = lib_dir.join("evil.c");
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\n#include <unistd.h>\n\
             __attribute__((constructor)) static void mark(void) {{\n\
             char p[256]; snprintf(p, sizeof p, \"{}/loaded-by-%u\", (unsigned)geteuid());\n\
             FILE *f = fopen(p, \"w\"); if (f) fclose(f); }}\n",
            lib_dir.display()
        ),
    )
    .unwrap();
    let lib = lib_dir.join("libevil.so");
    run_ok(
        Command::new("gcc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&lib)
            .arg(&src),
        "gcc evil.c",
    );
    common::chmod(&lib_dir, 0o777);

    // Through env(1), so that only what runs as the caller starts with these.
    let mut wrap: Vec<String> = vec!["/usr/bin/env".into()];
    wrap.extend([
        format!("LD_PRELOAD={}", lib.display()),
        format!("LD_LIBRARY_PATH={}", lib_dir.display()),
        format!("LD_AUDIT={}", lib.display()),
        "RUST_BACKTRACE=full".into(),
        "LANG=xx_XX.UTF-8".into(),
        "LC_ALL=xx_XX.UTF-8".into(),
        "TZ=Mars/Olympus".into(),
        "MALLOC_CHECK_=3".into(),
        "CALLER_SECRET=s3cret".into(),
    ]);
    // A shell as the caller, with the same variables, runs something (which must
    // load the library) and then execs rustbox.
    wrap.extend(["/bin/sh", "-c", "/bin/true && exec \"$@\"", "sh"].map(String::from));
    let o = cmd_with(
        e.open_ns,
        a,
        &wrap,
        &["-b", "7", "-E", "LANG", "--run", "--", "/usr/bin/env"],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let mut seen: Vec<String> = text(&o.stdout).lines().map(str::to_string).collect();
    seen.sort();
    assert_eq!(
        seen,
        vec!["LANG=xx_XX.UTF-8", "LIBC_FATAL_STDERR_=1"],
        "the box must see only what -E passes\n{}",
        show(&o)
    );
    assert!(
        lib_dir.join(format!("loaded-by-{}", e.alice.uid)).exists(),
        "the library was never loaded by a program of the caller: the test proves nothing"
    );
    assert!(
        !lib_dir.join("loaded-by-0").exists(),
        "LD_PRELOAD/LD_AUDIT was honoured by the setuid-root supervisor"
    );
}

/// A configuration file anyone but root could change is refused, and so is a box
/// root that is group- or world-writable.
#[test]
fn config_and_box_root_must_be_roots_alone() {
    let e = env();
    let cfg = e.base.join("loose.cf");
    let boxes = e.base.join("loose-boxes");
    common::mkdir_755(&boxes);
    std::fs::write(
        &cfg,
        format!(
            "box_root = {}\nlock_root = {}\nfirst_uid = {}\nfirst_gid = {}\nnum_boxes = 10\n\
             cg_root = {}\n",
            boxes.display(),
            e.base.join("locks").display(),
            SUITE.uid_base() + 90,
            SUITE.uid_base() + 90,
            SUITE.cg()
        ),
    )
    .unwrap();
    let rbc = |args: &[&str]| {
        let mut all = vec![format!("--config={}", cfg.display())];
        all.extend(args.iter().map(|s| s.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        rb(As::Root, &all)
    };
    common::chmod(&cfg, 0o666);
    assert_refused(
        &rbc(&["-b", "1", "--init"]),
        "not writable by group or others",
    );
    common::chmod(&cfg, 0o644);
    std::os::unix::fs::chown(&cfg, Some(e.alice.uid), None).unwrap();
    assert_refused(&rbc(&["-b", "1", "--init"]), "owned by root");
    std::os::unix::fs::chown(&cfg, Some(0), None).unwrap();

    common::chmod(&boxes, 0o777);
    for args in [
        &["-b", "1", "--init"][..],
        &["-b", "1", "--run", "--", "/bin/true"],
        &["-b", "1", "--cleanup"],
    ] {
        assert_refused(&rbc(args), "not writable by group or others");
    }
    common::chmod(&boxes, 0o755);
    let o = rbc(&["-b", "1", "--init"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = rbc(&["-b", "1", "--cleanup"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}

/// A hard link to another user's file placed in /box is not handed over by the
/// chown around a run: the run is refused and the file keeps its owner.
#[test]
fn hard_links_in_box_are_not_handed_over() {
    let e = env();
    let a = As::User(&e.alice);
    let _c = Cleanup(8);
    // A box on the host's disk is root's to make (here for alice, with --as-uid):
    // alice's own --init gets a tmpfs, where no hard link of a host file can go.
    let (uid, gid) = (e.alice.uid.to_string(), e.alice.gid.to_string());
    let o = rb(
        As::Root,
        &[
            "-b",
            "8",
            &format!("--as-uid={uid}"),
            &format!("--as-gid={gid}"),
            "--init",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    // Bob's file, writable by all, on the file system of the box root.
    let shared = e.base.join("shared");
    common::mkdir_755(&shared);
    let bobs = shared.join("bobs-file");
    std::fs::write(&bobs, "bob's\n").unwrap();
    std::os::unix::fs::chown(&bobs, Some(e.bob.uid), Some(e.bob.gid)).unwrap();
    common::chmod(&bobs, 0o666);
    let link = box_dir(8).join("box/link");
    let o = Command::new("setpriv")
        .args(e.alice.setpriv_args())
        .arg("ln")
        .arg(&bobs)
        .arg(&link)
        .output()
        .unwrap();
    assert!(o.status.success(), "alice could not link: {}", show(&o));
    let o = rb(a, &["-b", "8", "--run", "--", "/bin/true"]);
    assert_refused(&o, &format!("belongs to uid {}", e.bob.uid));
    let m = std::fs::metadata(&bobs).unwrap();
    assert_eq!(
        (m.uid(), m.gid()),
        (e.bob.uid, e.bob.gid),
        "bob's file changed hands"
    );
}

/// The caller's paths are looked up with none of root's capabilities: the
/// `/proc/<pid>/cwd` link of a root process into a directory the caller cannot
/// reach leads nowhere for them.
#[test]
fn caller_paths_do_not_pass_through_proc_links() {
    let e = env();
    let a = As::User(&e.alice);
    let _c = Cleanup(9);
    assert_eq!(rb(a, &["-b", "9", "--init"]).status.code(), Some(0));
    let hidden = e.root_only.join("open-inside");
    std::fs::create_dir_all(&hidden).unwrap();
    common::chmod(&hidden, 0o777);
    std::fs::write(hidden.join("secret"), "{\"root-secret\": 1}").unwrap();
    let mut sleeper = Command::new("sleep")
        .arg("30")
        .current_dir(&hidden)
        .spawn()
        .unwrap();
    let cwd = format!("/proc/{}/cwd", sleeper.id());
    let planted = format!("{cwd}/planted");
    let o = rb(a, &["-b", "9", "-M", &planted, "--run", "--", "/bin/true"]);
    let secret = format!("--seccomp={cwd}/secret");
    let o2 = rb(a, &["-b", "9", &secret, "--run", "--", "/bin/true"]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert_refused(&o, "meta");
    assert!(
        !hidden.join("planted").exists(),
        "meta planted through {cwd}"
    );
    assert_refused(&o2, "seccomp.file");
    assert!(!text(&o2.stderr).contains("root-secret"), "{}", show(&o2));
}

/// A setuid or setgid program the box leaves in a caller's read-write directory
/// loses those bits after the run: the caller cannot keep a way to act as the box
/// user for whoever uses the box next. A tmpfs a caller asks for is bounded.
#[test]
fn no_setuid_box_programs_are_left_behind() {
    let e = env();
    let a = As::User(&e.alice);
    let _c = Cleanup(10);
    assert_eq!(rb(a, &["-b", "10", "--init"]).status.code(), Some(0));
    let out = e.alice.home.join("out");
    std::fs::create_dir_all(out.join("sub")).unwrap();
    for d in [&out, &out.join("sub")] {
        std::os::unix::fs::chown(d, Some(e.alice.uid), Some(e.alice.gid)).unwrap();
        common::chmod(d, 0o777);
    }
    let js = e.alice.home.join("setid.json");
    let rule = format!("--dir=/out={}:rw", out.display());
    let o = rb(
        a,
        &[
            "-b",
            "10",
            "-p5",
            &rule,
            "--json",
            js.to_str().unwrap(),
            "--run",
            "--",
            "/bin/sh",
            "-c",
            "cp /bin/true /out/t && cp /bin/true /out/sub/u && chmod 6755 /out/t /out/sub/u",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    for f in [out.join("t"), out.join("sub/u")] {
        let m = std::fs::metadata(&f).unwrap();
        assert_eq!(m.uid(), SUITE.uid_base() + 10, "{}", f.display());
        assert_eq!(
            m.mode() & 0o6000,
            0,
            "{} kept mode {:o}",
            f.display(),
            m.mode()
        );
    }
    let doc = read_json(&js);
    let c = control(&doc, "box.setid").expect("control box.setid");
    assert!(c["detail"].as_str().unwrap().contains("2 file"), "{c}");
    // A read-write `maybe` rule whose source is absent holds nothing to clear.
    let missing = format!(
        "--dir=/m={}:rw:maybe",
        e.alice.home.join("absent").display()
    );
    let o = rb(a, &["-b", "10", &missing, "--run", "--", "/bin/true"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = rb(
        a,
        &[
            "-b",
            "10",
            "--dir=/t=tmpfs:fs:rw",
            "--run",
            "--",
            "/bin/grep",
            " /t ",
            "/proc/self/mountinfo",
        ],
    );
    assert!(text(&o.stdout).contains("size=262144k"), "{}", show(&o));
}

/// In the default configuration a box is one bounded tmpfs; a caller other than
/// root may not ask for more than `user_max_quota` nor hold more than
/// `user_max_boxes` boxes, and each refusal names its cap. Root is not capped.
#[test]
fn caps_bound_what_a_user_may_take() {
    let e = env();
    let a = As::User(&e.alice);
    let ns = e.capped_ns;
    let boxes = e.base.join("capped/boxes");
    let cleanup_in_ns = |id: &str| {
        cmd_in(ns, As::Root, &["-b", id, "--cleanup"])
            .output()
            .unwrap()
    };
    let o = cmd_in(ns, a, &["-b", "20", "--quota=4096,10", "--init"])
        .output()
        .unwrap();
    assert_refused(&o, "user_max_quota");
    assert_eq!(text(&o.stderr).lines().count(), 1, "{}", show(&o));
    for id in ["20", "21"] {
        let o = cmd_in(ns, a, &["-b", id, "--init"]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    }
    // The box is a tmpfs of the configured size, seen inside the namespace.
    let st = statfs_of(Path::new(&format!("/proc/{ns}/root{}/20", boxes.display())));
    let (fstype, bytes) = (st.f_type, st.f_blocks * st.f_bsize as u64);
    assert_eq!(fstype, libc::TMPFS_MAGIC, "box 20 is no tmpfs");
    assert_eq!(bytes, 1024 * 1024, "box_quota = 1024,50");
    let o = cmd_in(ns, a, &["-b", "22", "--init"]).output().unwrap();
    assert_refused(&o, "user_max_boxes");
    // Re-initialising a box of one's own takes nothing more.
    let o = cmd_in(ns, a, &["-b", "21", "--init"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = cmd_in(ns, As::Root, &["-b", "22", "--quota=8192,10", "--init"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "root is not capped: {}", show(&o));
    for id in ["20", "21", "22"] {
        let o = cleanup_in_ns(id);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    }
    // Nothing of the boxes is left mounted in the namespace.
    let mounts = std::fs::read_to_string(format!("/proc/{ns}/mountinfo")).unwrap();
    assert!(!mounts.contains(&boxes.display().to_string()), "{mounts}");
}

/// A judge's meta and JSON inside the box's own `box/` (Judgels passes
/// `-M<box>/box/_isolate.meta`): written after the run as the caller, over
/// whatever the program left at the name, never through it.
#[test]
fn results_in_the_box_are_the_callers_written_after_the_run() {
    let e = env();
    let a = As::User(&e.alice);
    let _c = Cleanup(13);
    assert_eq!(rb(a, &["-b", "13", "--init"]).status.code(), Some(0));
    let ws = box_dir(13).join("box");
    let meta = ws.join("_isolate.meta");
    let js = ws.join("run.json");
    let victim = e.root_dir.join("victim");
    std::fs::write(&victim, "root's\n").unwrap();
    let plant = format!(
        "ln -s {v} /box/_isolate.meta; ln -s {v} /box/run.json; exit 3",
        v = victim.display()
    );
    let o = rb(
        a,
        &[
            "-b",
            "13",
            "-p4",
            &format!("-M{}", meta.display()),
            &format!("--json={}", js.display()),
            "--run",
            "--",
            "/bin/sh",
            "-c",
            &plant,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root's\n");
    let (meta_seen, js_seen) = (seen(&meta), seen(&js));
    for p in [&meta_seen, &js_seen] {
        let m = std::fs::symlink_metadata(p).unwrap();
        assert!(
            m.file_type().is_file(),
            "{}: {:?}",
            p.display(),
            m.file_type()
        );
        assert_eq!(
            (m.uid(), m.mode() & 0o7777),
            (e.alice.uid, 0o644),
            "{}",
            p.display()
        );
    }
    let m = std::fs::read_to_string(&meta_seen).unwrap();
    assert!(
        m.contains("status:RE\n") && m.contains("exitcode:3\n"),
        "{m}"
    );
    assert_eq!(read_json(&js_seen)["verdict"], "RE");
    // Another box's box/, and this box's tmp/: refused, one line, exit 2.
    let o = rb(
        a,
        &[
            "-b",
            "13",
            &format!("-M{}/12/box/m", e.base.join("boxes").display()),
            "--run",
            "--",
            "/bin/true",
        ],
    );
    assert_refused(&o, "another box's");
    let o = rb(
        a,
        &[
            "-b",
            "13",
            &format!("--json={}", box_dir(13).join("tmp/j").display()),
            "--run",
            "--",
            "/bin/true",
        ],
    );
    assert_refused(&o, "tmp/");
    // --special-files keeps the program's links in box/: refused with a result
    // file there, one line, exit 2.
    let o = rb(
        a,
        &[
            "-b",
            "13",
            "--special-files",
            &format!("-M{}", meta.display()),
            "--run",
            "--",
            "/bin/true",
        ],
    );
    assert_refused(&o, "--special-files keeps the links");
}

/// `norec` from a user: a non-recursive clone would show what a mount below the
/// source hides (files the user cannot reach in their own view of the host), so
/// it is refused where a mount lies below; root's `norec` is isolate's.
#[test]
fn a_users_norec_bind_uncovers_nothing_a_mount_hides() {
    let e = env();
    let a = As::User(&e.alice);
    let _c = Cleanup(14);
    assert_eq!(rb(a, &["-b", "14", "--init"]).status.code(), Some(0));
    let data = e.alice.home.join("norec");
    let sub = data.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("hidden"), "under the mount\n").unwrap();
    for d in [&data, &sub] {
        common::chmod(d, 0o755);
    }
    // A mount over sub/, in the namespace the suite's rustbox runs in.
    let ns_mount = |args: &[&str]| {
        let o = Command::new("nsenter")
            .arg(format!("--mount=/proc/{}/ns/mnt", e.open_ns))
            .arg("--")
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", show(&o));
    };
    let subs = sub.to_str().unwrap();
    ns_mount(&["mount", "-t", "tmpfs", "-o", "size=64k", "cover", subs]);
    ns_mount(&["sh", "-c", &format!("echo on top > {subs}/top")]);
    let rule = |opts: &str| format!("--dir=/d={}{opts}", data.display());
    let ls = ["--run", "--", "/bin/ls", "/d/sub"];
    let run = |who: As, opts: &str| {
        let mut args = vec!["-b", "14"];
        let r = rule(opts);
        args.push(&r);
        args.extend_from_slice(&ls);
        rb(who, &args)
    };
    let o = run(a, ":norec");
    assert_refused(&o, "norec would show what 1 mount(s) below it cover");
    assert!(!text(&o.stdout).contains("hidden"), "{}", show(&o));
    // Recursive (the default): the mount comes along, the box sees what the user sees.
    let o = run(a, "");
    assert_eq!(text(&o.stdout), "top\n", "{}", show(&o));
    // Root may: isolate's norec.
    let o = run(As::Root, ":norec");
    assert_eq!(text(&o.stdout), "hidden\n", "{}", show(&o));
    ns_mount(&["umount", subs]);
    // With nothing mounted below, a user's norec is a plain bind.
    let o = run(a, ":norec");
    assert_eq!(text(&o.stdout), "hidden\n", "{}", show(&o));
}

/// --tty-hack through the setuid binary, at an ordinary user's terminal (a shell
/// of alice's leading a session on a new pseudo-terminal): the program is the
/// terminal's foreground group while it runs, as the box uid, so it sets the
/// terminal's modes and reads what alice types; then the terminal is alice's
/// shell's again, its modes as before.
#[test]
fn tty_hack_at_a_users_terminal() {
    let e = env();
    let a = As::User(&e.alice);
    let _c = Cleanup(11);
    let o = rb(a, &["-b", "11", "--init"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let js = e.alice.home.join("tty.json");
    let wrap = strings(&["/bin/sh", "-c", common::pty::SCRIPT]);
    let cmd = cmd_with(
        e.open_ns,
        a,
        &wrap,
        &[
            "-b",
            "11",
            "--json",
            js.to_str().unwrap(),
            "--tty-hack",
            "-w",
            "20",
            "-p5",
            "--run",
            "--",
            "/bin/sh",
            "-c",
            "stty -echo && echo ready && read line && echo \"line=$line\"",
        ],
    );
    let mut t = common::pty::Terminal::start(cmd);
    t.wait_for("ready\n");
    let fg = t.foreground();
    assert_ne!(fg, t.leader_pid(), "{}", t.seen);
    assert_eq!(
        uid_of(fg),
        Some(SUITE.uid_base() + 11),
        "foreground group {fg}"
    );
    t.type_text("typed by alice\n");
    let code = t.rustbox_exit();
    assert_eq!(code, 0, "{}", t.seen);
    assert!(t.seen.contains("line=typed by alice\n"), "{}", t.seen);
    t.assert_is_the_callers(&t.seen);
    let doc = read_json(&js);
    for name in ["tty.foreground", "tty.restore"] {
        let c = control(&doc, name).unwrap_or_else(|| panic!("{name}: {doc}"));
        assert_eq!(c["verified"], true, "{c}");
    }
    t.finish();
}

/// `host_disk_box = 1` keeps isolate's unbounded box on the host's disk for root
/// alone: a user's box is a tmpfs within `user_max_quota` all the same, so the
/// cap holds (found by review: a user wrote past it onto the host's disk).
#[test]
fn a_users_box_is_bounded_even_where_boxes_live_on_the_host_disk() {
    let e = env();
    let a = As::User(&e.alice);
    let _c = Cleanup(15);
    let o = rb(a, &["-b", "15", "--init"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let dir = seen(&box_dir(15));
    assert_eq!(
        statfs_of(&dir).f_type,
        libc::TMPFS_MAGIC,
        "a user's box on the host's disk"
    );
    // Root's box in the same configuration is isolate's, on the disk.
    let o = rb(As::Root, &["-b", "15", "--init"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_ne!(
        statfs_of(&dir).f_type,
        libc::TMPFS_MAGIC,
        "root's box with host_disk_box = 1"
    );
}
