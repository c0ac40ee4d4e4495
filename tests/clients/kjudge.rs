//! kjudge: `worker/sandbox/isolate/sandbox.go` (Runner.Run, buildCmd),
//! `worker/sandbox/isolate/meta.go`, `worker/sandbox/sandbox.go` (Input.CopyTo)
//! and `worker/run.go`. kjudge uses box 0 (no `-b`), runs isolate from the
//! box's box/ directory with the program's name only (`code`), and feeds and
//! reads the program through pipes.

use crate::support::*;
use std::path::Path;

/// What Run and parseMetaFile give back.
#[derive(Debug)]
struct Output {
    success: bool,
    error_message: String,
    memory_used: i64,
    running_time: f64,
    stdout: String,
}

/// One `Runner.Run`: init, copy, run, parse, cleanup (deferred).
fn run_one(time_limit_s: f64, memory_kib: u32, args: &[&str], input: &str) -> Output {
    let _guard = TestBox::uninit(0);
    let o = isolate(&["--init", "--cg"]);
    let dir = init_dir(&o, 0).join("box");
    // CopyTo: "code" written 0777 (minus the umask).
    place(&probe(), &dir.join("code"), 0o755);
    let meta_file = judge_dir("kjudge-tmp").join("meta.txt");
    let t = format!("{time_limit_s:.1}");
    let w = format!("{:.1}", 2.0 * time_limit_s + 1.0);
    let m = meta_file.display().to_string();
    let mem = format!("--cg-mem={memory_kib}");
    let mut a = vec![
        "--cg",
        "--run",
        "-M",
        &m,
        "-t",
        &t,
        "-w",
        &w,
        "-x",
        "1.0",
        "-f",
        "262144",
        "-p",
        "-s",
        "--env=ONLINE_JUDGE=true",
        "--env=KJUDGE=true",
        &mem,
        "--",
        "code",
    ];
    a.extend_from_slice(args);
    let out = isolate_piped(&a, input.as_bytes(), Some(&dir));
    assert!(
        out.code == 0 || out.code == 1,
        "kjudge takes exit {} as an error\n{out}",
        out.code
    );
    let output = parse_meta(&meta_file, out.stdout);
    // defer s.cleanup(): the exit status is not looked at, so check it here.
    let o = isolate(&["--cleanup", "--cg"]);
    assert_eq!(o.code, 0, "{o}");
    output
}

fn parse_meta(path: &Path, stdout: String) -> Output {
    let text = read(path);
    let fields: std::collections::HashMap<&str, &str> =
        text.lines().filter_map(|l| l.split_once(':')).collect();
    let need = |k: &str| -> &str {
        fields
            .get(k)
            .unwrap_or_else(|| panic!("kjudge: key {k}: does not exist\n{text}"))
    };
    Output {
        success: !fields.contains_key("message"),
        error_message: fields.get("message").unwrap_or(&"").to_string(),
        memory_used: need("cg-mem").parse().expect("strconv.Atoi(cg-mem)"),
        running_time: need("time").parse().expect("strconv.ParseFloat(time)"),
        stdout,
    }
}

#[test]
fn kjudge_judging() {
    let _t = timing_lock();
    let v = isolate(&["--version"]);
    assert!(
        v.stdout.contains("The process isolator"),
        "kjudge panics: Wrong isolate command found\n{v}"
    );

    let o = run_one(1.0, 262_144, &["io"], "9\n");
    assert!(o.success, "{o:?}");
    assert_eq!(o.stdout, "out:9\n", "{o:?}");
    assert!(o.memory_used > 0, "{o:?}");

    let o = run_one(1.0, 262_144, &["exit", "3"], "");
    assert!(!o.success);
    assert_eq!(o.error_message, "Exited with error status 3", "{o:?}");

    let o = run_one(1.0, 262_144, &["segv"], "");
    assert_eq!(o.error_message, "Caught fatal signal 11", "{o:?}");

    // -t 0.5 -x 1.0: killed past 1 s of CPU time (-x counts from the start).
    let o = run_one(0.5, 262_144, &["spin"], "");
    assert_eq!(o.error_message, "Time limit exceeded", "{o:?}");
    assert!(o.running_time >= 1.0, "{o:?}");

    // -w 2.0 for -t 0.5.
    let o = run_one(0.5, 262_144, &["sleep", "10", "/box/x"], "");
    assert_eq!(o.error_message, "Time limit exceeded (wall clock)", "{o:?}");

    let o = run_one(2.0, 65_536, &["mem", "300"], "");
    assert_eq!(o.error_message, "Caught fatal signal 9", "{o:?}");
    assert!(o.memory_used <= 65_536 + 64, "{o:?}");
}
