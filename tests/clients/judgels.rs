//! Judgels: `judgels-backends/judgels-grader-engines/src/main/java/judgels/gabriel/sandboxes/isolate/IsolateSandbox.java`.
//! The meta file is written inside the box's box/ directory, next to the
//! program's files, and read from there.

use crate::support::*;
use std::path::PathBuf;

const ID: u32 = 30;

/// What `getResult` makes of a run.
#[derive(Debug)]
struct Result {
    status: &'static str,
    time_ms: i64,
    wall_ms: i64,
    memory: i64,
    exit_signal: Option<i64>,
    killed: bool,
    message: Option<String>,
}

struct Sandbox {
    box_dir: PathBuf,
}

impl Sandbox {
    /// `getProcessBuilder` then `getResult`: time limit in ms, memory in KiB,
    /// stdin/stdout/stderr names in the box.
    fn execute(&self, time_ms: u32, mem_kib: u32, cmd: &[&str]) -> (Out, Option<Result>) {
        let t = time_ms as f64 / 1000.0;
        let meta = self.box_dir.join("_isolate.meta");
        let mut a = vec![
            format!("-b{ID}"),
            "--dir=/etc".into(),
            "-e".into(),
            "--cg".into(),
            "--cg-timing".into(),
            "-p50".into(),
            format!("-t{}", java(t)),
            "-x0.5".into(),
            format!("-w{}", java((time_ms + 8000) as f64 / 1000.0)),
            format!("--cg-mem={mem_kib}"),
            format!("-k{mem_kib}"),
            format!("-f{}", 100 * 1024),
            "-i_input.in".into(),
            "-o_output.out".into(),
            "-r_error.err".into(),
            format!("-M{}", meta.display()),
            "--run".into(),
            "--".into(),
        ];
        a.extend(cmd.iter().map(|s| s.to_string()));
        let args: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = isolate(&args);
        if out.code != 0 && out.code != 1 {
            return (out, None);
        }
        let text = read(&meta);
        let mut items = std::collections::HashMap::new();
        for line in text.split('\n') {
            let tokens: Vec<&str> = line.split(':').collect();
            // Java's split drops trailing empty strings; a line without ':'
            // would throw on tokens[1].
            if line.is_empty() {
                continue;
            }
            assert!(tokens.len() >= 2, "Judgels throws on {line:?}\n{text}");
            items.insert(tokens[0].to_string(), tokens[1].to_string());
        }
        let num = |k: &str| -> f64 {
            items
                .get(k)
                .unwrap_or_else(|| panic!("Judgels needs {k} (a NullPointerException)\n{text}"))
                .parse()
                .unwrap()
        };
        let r = Result {
            time_ms: (num("time") * 1000.0) as i64,
            wall_ms: (num("time-wall") * 1000.0) as i64,
            memory: num("cg-mem") as i64,
            status: match items.get("status").map(String::as_str) {
                None => "ZERO_EXIT_CODE",
                Some("RE") => "NONZERO_EXIT_CODE",
                Some("SG") => "KILLED_ON_SIGNAL",
                Some("TO") => "TIMED_OUT",
                Some(_) => "INTERNAL_ERROR",
            },
            exit_signal: items.get("exitsig").map(|v| v.parse().unwrap()),
            killed: items.get("killed").map(String::as_str).unwrap_or("0") == "1",
            message: items.get("message").cloned(),
        };
        (out, Some(r))
    }
}

/// Java's `Double.toString` for these values.
fn java(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

#[test]
fn judgels_grading() {
    let _t = timing_lock();
    let _guard = TestBox::uninit(ID);
    let o = isolate(&[&format!("-b{ID}"), "--cg", "--init"]);
    let sb = Sandbox {
        box_dir: init_dir(&o, ID).join("box"),
    };
    // addFile: copied in by the grader (root); the program as a compile step
    // inside the box would leave it, executable.
    place(&probe(), &sb.box_dir.join("solution"), 0o755);
    write(&sb.box_dir.join("_input.in"), "7\n", 0o644);

    let (o, r) = sb.execute(1000, 65_536, &["./solution", "io"]);
    let r = r.unwrap_or_else(|| panic!("internal error\n{o}"));
    assert_eq!(r.status, "ZERO_EXIT_CODE", "{r:?}\n{o}");
    assert_eq!(read(&sb.box_dir.join("_output.out")), "out:7\n");
    assert_eq!(read(&sb.box_dir.join("_error.err")), "err-line\n");
    assert!(r.memory > 0 && r.wall_ms >= 0 && r.time_ms >= 0, "{r:?}");

    let (o, r) = sb.execute(1000, 65_536, &["./solution", "exit", "3"]);
    let r = r.unwrap_or_else(|| panic!("internal error\n{o}"));
    assert_eq!(r.status, "NONZERO_EXIT_CODE", "{r:?}");
    assert_eq!(r.message.as_deref(), Some("Exited with error status 3"));

    let (o, r) = sb.execute(1000, 65_536, &["./solution", "segv"]);
    let r = r.unwrap_or_else(|| panic!("internal error\n{o}"));
    assert_eq!(r.status, "KILLED_ON_SIGNAL", "{r:?}");
    assert_eq!(r.exit_signal, Some(11), "{r:?}");
    assert!(!r.killed, "{r:?}");

    // -t0.5 -x0.5: killed past 0.5 s of CPU time (-x counts from the start).
    let (o, r) = sb.execute(500, 65_536, &["./solution", "spin"]);
    let r = r.unwrap_or_else(|| panic!("internal error\n{o}"));
    assert_eq!(r.status, "TIMED_OUT", "{r:?}");
    assert!(r.killed, "{r:?}");
    assert_eq!(r.message.as_deref(), Some("Time limit exceeded"));
    assert!(r.time_ms >= 500, "{r:?}");

    let (o, r) = sb.execute(2000, 65_536, &["./solution", "mem", "300"]);
    let r = r.unwrap_or_else(|| panic!("internal error\n{o}"));
    assert_eq!(r.status, "KILLED_ON_SIGNAL", "{r:?}");
    assert_eq!(r.exit_signal, Some(9), "{r:?}");
    assert!(r.memory <= 65_536 + 64, "{r:?}");

    // cleanUpIsolate: no --cg here, exit 0 required, then box/ deleted if left.
    let o = isolate(&[&format!("-b{ID}"), "--cleanup"]);
    assert_eq!(o.code, 0, "Judgels: Cannot clean up Isolate!\n{o}");
    assert!(!sb.box_dir.exists());
}
