//! Piston: `api/src/job.js` (Job: prime, safe_call, execute, cleanup). The API
//! runs as its own user in a container whose entrypoint
//! (`api/src/docker-entrypoint.sh`) prepares cgroup v2 for isolate; here the
//! caller is root. Programs run through `/bin/bash <package>/run`, stdio are
//! pipes to rustbox, and when a program's stdout passes `output_max_size`
//! (1024 bytes) Piston sends SIGABRT to rustbox and still reads the meta.

use crate::support::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// A box as `#create_isolate_box` makes it.
struct PBox {
    id: u32,
    metadata: PathBuf,
    dir: PathBuf,
    _guard: TestBox,
}

fn create_box(id: u32) -> PBox {
    let guard = TestBox::uninit(id);
    let o = isolate(&["--init", "--cg", &format!("-b{id}")]);
    let dir = init_dir(&o, id).join("box");
    PBox {
        id,
        // /tmp/<id>-metadata.txt, in the suite's base directory.
        metadata: judge_dir("piston-tmp").join(format!("{id}-metadata.txt")),
        dir,
        _guard: guard,
    }
}

/// `prime`: submission/ made by the API's user (mode 0777 & ~022), the files
/// written in it (0644).
fn prime(b: &PBox, files: &[(&str, &str)]) {
    let sub = b.dir.join("submission");
    std::fs::create_dir(&sub).unwrap();
    chmod(&sub, 0o755);
    for (name, content) in files {
        write(&sub.join(name), content, 0o644);
    }
}

/// A runtime package: its directory, bound into the box at the same path.
fn package(name: &str, scripts: &[(&str, &str)]) -> PathBuf {
    let pkg = judge_dir(&format!("piston-pkg-{name}"));
    place(&probe(), &pkg.join("prog"), 0o755);
    for (file, text) in scripts {
        write(&pkg.join(file), text, 0o644);
    }
    pkg
}

/// What `safe_call` returns.
#[derive(Debug)]
struct Call {
    code: Option<i64>,
    signal: Option<String>,
    status: Option<String>,
    message: Option<String>,
    memory: Option<u64>,
    cpu_time: f64,
    wall_time: f64,
    stdout: String,
    stderr: String,
    isolate_exit: i32,
}

struct Opts<'a> {
    timeout_ms: u32,
    cpu_ms: u32,
    /// -1: no --cg-mem (Piston's default).
    memory: i64,
    stdin: &'a str,
}

const DEFAULT: Opts = Opts {
    timeout_ms: 3000,
    cpu_ms: 3000,
    memory: -1,
    stdin: "",
};

const OUTPUT_MAX_SIZE: usize = 1024;

fn safe_call(b: &PBox, pkg: &Path, file: &str, args: &[&str], o: &Opts) -> Call {
    let pkgdir = pkg.display().to_string();
    let mut a = vec![
        "--run".to_string(),
        format!("-b{}", b.id),
        format!("--meta={}", b.metadata.display()),
        "--cg".into(),
        "-s".into(),
        "-c".into(),
        "/box/submission".into(),
        "-E".into(),
        "HOME=/tmp".into(),
        "-E".into(),
        "PISTON_LANGUAGE=replay".into(),
        format!("--dir={pkgdir}"),
        "--dir=/etc:noexec".into(),
        "--processes=64".into(),
        "--open-files=2048".into(),
        format!("--fsize={}", 10_000_000 / 1000),
        format!("--wall-time={}", js(o.timeout_ms)),
        format!("--time={}", js(o.cpu_ms)),
        "--extra-time=0".into(),
    ];
    if o.memory >= 0 {
        a.push(format!("--cg-mem={}", o.memory / 1000));
    }
    a.push("--".into());
    a.push("/bin/bash".into());
    a.push(format!("{pkgdir}/{file}"));
    a.extend(args.iter().map(|s| s.to_string()));
    let args: Vec<&str> = a.iter().map(String::as_str).collect();
    let mut child = isolate_cmd(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn isolate");
    // The job's stdin gets a trailing newline, then the pipe is closed.
    let mut input = o.stdin.to_string();
    if !input.ends_with('\n') {
        input.push('\n');
    }
    {
        use std::io::Write;
        let mut si = child.stdin.take().unwrap();
        let _ = si.write_all(input.as_bytes());
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut err = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut out = child.stdout.take().unwrap();
    let (mut stdout, mut status, mut message) = (Vec::new(), None::<String>, None::<String>);
    let mut buf = [0u8; 4096];
    loop {
        let n = out.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        if stdout.len() + n > OUTPUT_MAX_SIZE {
            if status.is_none() {
                message = Some("stdout length exceeded".into());
                status = Some("OL".into());
                nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGABRT).unwrap();
            }
        } else {
            stdout.extend_from_slice(&buf[..n]);
        }
    }
    let exit = child.wait().unwrap();
    let stderr = err_reader.join().unwrap();
    let mut c = Call {
        code: None,
        signal: None,
        status,
        message,
        memory: None,
        cpu_time: 0.0,
        wall_time: 0.0,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr,
        isolate_exit: exit.code().unwrap_or(-1),
    };
    let text = read(&b.metadata);
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut parts = line.split(':');
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            panic!("Piston throws on a meta line without ':': {line:?}\n{text}");
        };
        match key {
            "cg-mem" => c.memory = Some(value.parse::<u64>().unwrap() * 1000),
            "exitcode" => c.code = Some(value.parse().unwrap()),
            "exitsig" => c.signal = Some(signal_name(value.parse().unwrap())),
            "message" => c.message = c.message.take().or(Some(value.to_string())),
            "status" => c.status = c.status.take().or(Some(value.to_string())),
            "time" => c.cpu_time = value.parse::<f64>().unwrap() * 1000.0,
            "time-wall" => c.wall_time = value.parse::<f64>().unwrap() * 1000.0,
            _ => {}
        }
    }
    if matches!(c.status.as_deref(), Some("TO" | "OL" | "EL")) {
        c.signal = Some("SIGKILL".into());
    }
    c
}

/// JavaScript's `${ms / 1000}`.
fn js(ms: u32) -> String {
    let s = ms as f64 / 1000.0;
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s}")
    }
}

fn signal_name(n: i32) -> String {
    nix::sys::signal::Signal::try_from(n)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| n.to_string())
}

/// `cleanup`: `--cleanup` of every box the job used, right away, and the meta
/// file removed.
fn cleanup(b: PBox) {
    let o = isolate(&["--cleanup", "--cg", &format!("-b{}", b.id)]);
    assert_eq!(o.code, 0, "{o}");
    assert!(!b.dir.exists(), "{} outlives --cleanup", b.dir.display());
    let _ = std::fs::remove_file(&b.metadata);
}

#[test]
fn piston_interpreted_job() {
    require_bash();
    let _t = timing_lock();
    let pkg = package("bash", &[("run", "bash \"$@\"\n")]);
    let prog = pkg.join("prog").display().to_string();
    let b = create_box(22);
    let job = |code: &str| {
        prime(&b, &[("file0.code", code)]);
    };

    job(&format!(
        "echo \"args: $*\"\necho \"home: $HOME\"\npwd\n{prog} io\n"
    ));
    let c = safe_call(
        &b,
        &pkg,
        "run",
        &["file0.code", "a", "b c"],
        &Opts {
            stdin: "hi",
            ..DEFAULT
        },
    );
    assert_eq!(c.isolate_exit, 0, "{c:?}");
    assert_eq!(c.status, None, "{c:?}");
    assert_eq!(c.code, Some(0), "{c:?}");
    assert_eq!(
        c.stdout, "args: a b c\nhome: /tmp\n/box/submission\nout:hi\n",
        "{c:?}"
    );
    assert_eq!(c.stderr, "err-line\n", "{c:?}");
    assert!(c.wall_time > 0.0 && c.memory.unwrap() > 0, "{c:?}");

    let again = |code: &str, o: &Opts| {
        std::fs::remove_dir_all(b.dir.join("submission")).unwrap();
        job(code);
        safe_call(&b, &pkg, "run", &["file0.code"], o)
    };
    let c = again(&format!("{prog} exit 3\n"), &DEFAULT);
    assert_eq!(c.status.as_deref(), Some("RE"), "{c:?}");
    assert_eq!(c.code, Some(3), "{c:?}");
    assert_eq!(c.message.as_deref(), Some("Exited with error status 3"));

    let c = again(&format!("exec {prog} segv\n"), &DEFAULT);
    assert_eq!(c.status.as_deref(), Some("RE"), "{c:?}");
    assert_eq!(c.code, Some(139), "bash under bash: 128 + SIGSEGV\n{c:?}");

    let tight = Opts {
        timeout_ms: 1500,
        cpu_ms: 500,
        ..DEFAULT
    };
    let c = again(&format!("{prog} spin\n"), &tight);
    assert_eq!(c.status.as_deref(), Some("TO"), "{c:?}");
    assert_eq!(c.message.as_deref(), Some("Time limit exceeded"), "{c:?}");
    assert_eq!(c.signal.as_deref(), Some("SIGKILL"), "{c:?}");
    assert!(c.cpu_time >= 500.0, "{c:?}");

    let c = again(&format!("{prog} sleep 10 /tmp/x\n"), &tight);
    assert_eq!(c.status.as_deref(), Some("TO"), "{c:?}");
    assert_eq!(
        c.message.as_deref(),
        Some("Time limit exceeded (wall clock)"),
        "{c:?}"
    );
    assert!((1500.0..2500.0).contains(&c.wall_time), "{c:?}");

    let mem = Opts {
        memory: 64_000_000,
        timeout_ms: 10_000,
        cpu_ms: 5000,
        ..DEFAULT
    };
    let c = again(&format!("{prog} mem 300\n"), &mem);
    assert_eq!(c.status.as_deref(), Some("RE"), "{c:?}");
    assert_eq!(c.code, Some(137), "the OOM kill under bash\n{c:?}");
    assert!(c.memory.unwrap() <= 64_000 * 1000 + 64_000, "{c:?}");

    // Output past 1024 bytes: SIGABRT to rustbox, which ends the run as isolate
    // does ("Sandbox keeper received fatal signal 6", exit 2) and writes the
    // meta; Piston keeps its own OL.
    let c = again("yes flood\n", &DEFAULT);
    assert_eq!(c.isolate_exit, 2, "{c:?}");
    assert_eq!(c.status.as_deref(), Some("OL"), "{c:?}");
    assert_eq!(c.message.as_deref(), Some("stdout length exceeded"));
    assert_eq!(c.signal.as_deref(), Some("SIGKILL"));
    // isolate's die() after the box started: status and message, then
    // box_exit's killed:1 and the final statistics, which Piston reads into
    // cpu_time, wall_time and memory.
    let m = meta(&b.metadata);
    assert_eq!(m.req("status"), "XX", "{m:?}");
    assert_eq!(m.req("killed"), "1", "{m:?}");
    let mut diffs = Vec::new();
    if m.get("message") != Some("Sandbox keeper received fatal signal 6") {
        diffs.push(format!(
            "message:{:?}, isolate: \"Sandbox keeper received fatal signal 6\"",
            m.get("message")
        ));
    }
    for k in ["time", "time-wall", "cg-mem"] {
        if m.get(k).is_none() {
            diffs.push(format!("no {k} (isolate writes it; Piston reads it)"));
        }
    }
    assert!(
        crate::common::pids_of_uid(crate::common::harness::first_uid() + b.id).is_empty(),
        "box processes outlive the SIGABRT"
    );
    cleanup(b);
    assert!(diffs.is_empty(), "meta after SIGABRT: {diffs:?}\n{m:?}");
}

/// A compiled language: `compile` runs in one box, and its `submission/` is
/// renamed into a fresh box for `run` (fs.rename, box directories being on
/// one file system under isolate).
#[test]
fn piston_compiled_job_moves_submission_between_boxes() {
    require_bash();
    let _t = timing_lock();
    let pkg = package(
        "c",
        &[
            (
                "compile",
                "cp \"$(dirname \"$0\")/prog\" a.out && chmod 755 a.out\n",
            ),
            ("run", "shift\n./a.out \"$@\"\n"),
        ],
    );
    let compile_box = create_box(20);
    prime(&compile_box, &[("file0.code", "int main(){}\n")]);
    let c = safe_call(&compile_box, &pkg, "compile", &["file0.code"], &DEFAULT);
    assert_eq!(c.code, Some(0), "compile\n{c:?}");
    let aout = compile_box.dir.join("submission/a.out");
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&aout).unwrap();
        assert_eq!(m.uid(), 0, "a.out is handed back to the caller");
    }
    let run_box = create_box(21);
    std::fs::rename(
        compile_box.dir.join("submission"),
        run_box.dir.join("submission"),
    )
    .unwrap_or_else(|e| {
        panic!(
            "Piston's fs.rename of the compile box's submission/ into the run box fails: {e} \
             (isolate keeps every box under one box_root directory on one file system)"
        )
    });
    let c = safe_call(
        &run_box,
        &pkg,
        "run",
        &["file0.code", "exit", "4"],
        &DEFAULT,
    );
    assert_eq!(c.status.as_deref(), Some("RE"), "{c:?}");
    assert_eq!(c.code, Some(4), "{c:?}");
    cleanup(compile_box);
    cleanup(run_box);
}
