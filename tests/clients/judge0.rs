//! judge0: `app/jobs/isolate_job.rb` (IsolateJob). Every isolate command goes
//! through Ruby's backticks, that is `/bin/sh -c`, and every program through
//! `/bin/bash` with a script in the box; standard streams are the shell's
//! redirections to files in the box directory.

use crate::support::*;
use std::path::{Path, PathBuf};

const ID: u32 = 10;
const PATH: &str = "\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"";
const ENVS: &str = "-E LANG -E LANGUAGE -E LC_ALL -E JUDGE0_HOMEPAGE -E JUDGE0_SOURCE_CODE \
                    -E JUDGE0_MAINTAINER -E JUDGE0_VERSION";

/// A submission's limits (judge0's defaults, tighter times for the test).
struct Limits {
    cpu: &'static str,
    extra: &'static str,
    wall: &'static str,
    stack: u32,
    procs: u32,
    mem: u32,
    fsize: u32,
}

const LIMITS: Limits = Limits {
    cpu: "0.5",
    extra: "0.5",
    wall: "3.0",
    stack: 64_000,
    procs: 60,
    mem: 128_000,
    fsize: 1024,
};

struct Workdir {
    dir: PathBuf,
}

impl Workdir {
    fn boxdir(&self) -> PathBuf {
        self.dir.join("box")
    }
    fn f(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    /// `initialize_file`: `sudo touch` and chown to judge0's user (root here).
    fn touch(&self, name: &str) {
        std::fs::write(self.f(name), "").unwrap();
    }
}

/// What `verify` takes from the metadata file.
#[derive(Debug)]
struct Verdict {
    status: String,
    time: f64,
    wall_time: f64,
    memory: u64,
    exit_code: i64,
    exit_signal: Option<i64>,
    message: Option<String>,
    stdout: String,
    stderr: String,
}

fn verify(w: &Workdir) -> Verdict {
    let m = meta(&w.f("metadata.txt"));
    let status = match m.get("status") {
        Some("TO") => "Time Limit Exceeded".to_string(),
        Some("SG") => format!("Runtime Error (signal {})", m.req("exitsig")),
        Some("RE") => "Runtime Error (NZEC)".to_string(),
        Some("XX") => "Internal Error".to_string(),
        None => "Accepted".to_string(),
        Some(s) => panic!("status {s}: judge0 does not know it\n{m:?}"),
    };
    Verdict {
        status,
        time: secs(&m, "time"),
        wall_time: secs(&m, "time-wall"),
        memory: int(&m, "cg-mem"),
        exit_code: m.get("exitcode").map_or(0, |v| v.parse().unwrap()),
        exit_signal: m.get("exitsig").map(|v| v.parse().unwrap()),
        message: m.get("message").map(String::from),
        stdout: read(&w.f("stdout.txt")),
        stderr: read(&w.f("stderr.txt")),
    }
}

/// `compile`: compile.sh in the box, run through bash with stdin /dev/null and
/// stdout into compile_output.txt; the exit status says whether it compiled.
fn compile(w: &Workdir, compile_cmd: &str) -> (Out, String) {
    write(&w.boxdir().join("compile.sh"), compile_cmd, 0o644);
    w.touch("compile_output.txt");
    let o = isolate_shell(&format!(
        "--cg -s -b {ID} -M {meta} --stderr-to-stdout -i /dev/null -t 15.0 -x 0 -w 20.0 \
         -k 128000 -p120 --cg-timing --cg-mem=512000 -f 4096 -E HOME=/tmp -E PATH={PATH} \
         {ENVS} -d /etc:noexec --run -- /bin/bash $(basename {script}) > {out}",
        meta = w.f("metadata.txt").display(),
        script = w.boxdir().join("compile.sh").display(),
        out = w.f("compile_output.txt").display(),
    ));
    let output = read(&w.f("compile_output.txt"));
    // reset_metadata_file, then the compile files removed.
    std::fs::remove_file(w.f("metadata.txt")).unwrap();
    w.touch("metadata.txt");
    std::fs::remove_file(w.f("compile_output.txt")).unwrap();
    std::fs::remove_file(w.boxdir().join("compile.sh")).unwrap();
    (o, output)
}

/// `run`: run.sh (`run_cmd args`) through bash, the streams redirected by the
/// shell; the exit status is not looked at.
fn run(w: &Workdir, run_cmd: &str, stdin: &str, l: &Limits) -> Verdict {
    write(&w.f("stdin.txt"), stdin, 0o644);
    write(&w.boxdir().join("run.sh"), &format!("{run_cmd} "), 0o644);
    let _ = isolate_shell(&format!(
        "--cg -s -b {ID} -M {meta} -t {cpu} -x {extra} -w {wall} -k {stack} -p{procs} \
         --cg-timing --cg-mem={mem} -f {fsize} -E HOME=/tmp -E PATH={PATH} {ENVS} \
         -d /etc:noexec --run -- /bin/bash $(basename {script}) < {i} > {o} 2> {e}",
        meta = w.f("metadata.txt").display(),
        cpu = l.cpu,
        extra = l.extra,
        wall = l.wall,
        stack = l.stack,
        procs = l.procs,
        mem = l.mem,
        fsize = l.fsize,
        script = w.boxdir().join("run.sh").display(),
        i = w.f("stdin.txt").display(),
        o = w.f("stdout.txt").display(),
        e = w.f("stderr.txt").display(),
    ));
    std::fs::remove_file(w.boxdir().join("run.sh")).unwrap();
    let v = verify(w);
    // Every run starts from a fresh metadata file.
    std::fs::remove_file(w.f("metadata.txt")).unwrap();
    w.touch("metadata.txt");
    v
}

/// `cleanup`: ownership taken back, box/ and tmp/ emptied, the files removed,
/// `--cleanup`; judge0 raises if the box directory is still there.
fn cleanup(w: &Workdir) {
    let o = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "chown -R 0:0 {b} && rm -rf {b}/* {t}/* && rm -rf {d}/stdin.txt {d}/stdout.txt \
             {d}/stderr.txt {d}/metadata.txt",
            b = w.boxdir().display(),
            t = w.dir.join("tmp").display(),
            d = w.dir.display(),
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let o = isolate_shell(&format!("--cg -b {ID} --cleanup"));
    assert_eq!(o.code, 0, "{o}");
    assert!(
        !Path::new(&w.dir).exists(),
        "judge0 raises: box dir still there"
    );
}

#[test]
fn judge0_submission_lifecycle() {
    require_bash();
    let _t = timing_lock();
    let _guard = TestBox::uninit(ID);
    let o = isolate_shell(&format!("--cg -b {ID} --init"));
    let w = Workdir {
        dir: init_dir(&o, ID),
    };
    for f in ["stdin.txt", "stdout.txt", "stderr.txt", "metadata.txt"] {
        w.touch(f);
    }
    // The "source" (a prebuilt program), written by judge0 as root.
    place(&probe(), &w.boxdir().join("main.bin"), 0o644);

    // A compile that fails: rustbox's exit status 1 is judge0's CE.
    let (o, out) = compile(&w, "echo nope; exit 1");
    assert_eq!(o.code, 1, "a failed compile is exit 1\n{o}");
    assert_eq!(out, "nope\n");
    // One that works, writing a.out into /box as the box user.
    let (o, out) = compile(&w, "/bin/cp main.bin a.out && /bin/chmod 755 a.out");
    assert_eq!(o.code, 0, "a compile that succeeds is exit 0\n{o}\n{out}");
    assert_eq!(out, "");

    let v = run(&w, "./a.out io", "hello\n", &LIMITS);
    assert_eq!(v.status, "Accepted", "{v:?}");
    assert_eq!(v.stdout, "out:hello\n", "{v:?}");
    assert_eq!(v.stderr, "err-line\n", "{v:?}");
    assert_eq!(v.exit_code, 0);
    assert!(v.memory > 0 && v.time >= 0.0 && v.wall_time > 0.0, "{v:?}");

    // -E LANG etc. name variables judge0's own environment may lack: a
    // variable that is not set is not passed (isolate: inherit if set).
    let v = run(&w, "./a.out facts", "", &LIMITS);
    assert_eq!(v.status, "Accepted", "{v:?}");
    let envs: Vec<&str> = v
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("env="))
        .collect();
    assert!(envs.contains(&"HOME=/tmp"), "{envs:?}");
    assert!(
        envs.contains(&"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        "{envs:?}"
    );
    assert!(!envs.iter().any(|e| e.starts_with("JUDGE0_")), "{envs:?}");

    let v = run(&w, "./a.out exit 3", "", &LIMITS);
    assert_eq!(v.status, "Runtime Error (NZEC)", "{v:?}");
    assert_eq!(v.exit_code, 3, "{v:?}");
    assert_eq!(v.message.as_deref(), Some("Exited with error status 3"));

    // A segfault under the wrapper: bash reports it as exit 128 + 11.
    let v = run(&w, "./a.out segv", "", &LIMITS);
    assert_eq!(v.status, "Runtime Error (NZEC)", "{v:?}");
    assert_eq!(v.exit_code, 139, "{v:?}");
    assert_eq!(v.exit_signal, None, "{v:?}");
    assert_eq!(v.message.as_deref(), Some("Exited with error status 139"));

    // CPU time: isolate kills once the time passes both -t and -x (-x counts
    // from the start, it is not added to -t), reported as TLE.
    let v = run(&w, "./a.out spin", "", &LIMITS);
    assert_eq!(v.status, "Time Limit Exceeded", "{v:?}");
    assert_eq!(v.message.as_deref(), Some("Time limit exceeded"));
    assert!(
        (0.5..0.6).contains(&v.time),
        "killed at -t 0.5 = -x 0.5: {v:?}"
    );

    let v = run(&w, "./a.out sleep 10 /tmp/x", "", &LIMITS);
    assert_eq!(v.status, "Time Limit Exceeded", "{v:?}");
    assert_eq!(
        v.message.as_deref(),
        Some("Time limit exceeded (wall clock)")
    );
    assert!((3.0..4.0).contains(&v.wall_time), "{v:?}");

    // Memory under the wrapper: the OOM killer takes a.out, bash exits 137.
    let mem = Limits {
        mem: 65_536,
        cpu: "5.0",
        wall: "20.0",
        ..LIMITS
    };
    let v = run(&w, "./a.out mem 300", "", &mem);
    assert_eq!(v.status, "Runtime Error (NZEC)", "{v:?}");
    assert_eq!(v.exit_code, 137, "{v:?}");
    assert!(v.memory <= 65_536 + 64, "{v:?}");

    // -f: the output file size limit, SIGXFSZ under bash (128 + 25).
    let v = run(&w, "./a.out fsize /box/big 4194304", "", &LIMITS);
    assert_eq!(v.status, "Runtime Error (NZEC)", "{v:?}");
    assert_eq!(v.exit_code, 153, "{v:?}");

    cleanup(&w);
}
