//! ReCodEx worker: `src/sandbox/isolate_sandbox.cpp` (isolate_sandbox). Numbers
//! are C++'s `std::to_string` (six decimals for the times); isolate's own
//! stdin, stdout and stderr are /dev/null; the job's data directory is copied
//! into box/ before the run and back after.

use crate::support::*;
use std::path::{Path, PathBuf};

const ID: u32 = 40;

/// `sandbox_limits` of one task.
struct Limits {
    memory: u64,
    extra_memory: u64,
    cpu_time: f32,
    wall_time: f32,
    extra_time: f32,
    stack: u64,
    files_size: u64,
    disk_size: u64,
    disk_files: u64,
    processes: u32,
}

const LIMITS: Limits = Limits {
    memory: 65_536,
    extra_memory: 0,
    cpu_time: 0.5,
    wall_time: 2.0,
    extra_time: 0.1,
    stack: 0,
    files_size: 1024,
    disk_size: 8192,
    disk_files: 100,
    processes: 0,
};

/// What `process_meta_file` fills in; every number must parse.
#[derive(Debug, Default)]
struct Results {
    time: f32,
    wall_time: f32,
    killed: bool,
    status: Option<&'static str>,
    message: String,
    exitsig: i32,
    exitcode: i32,
    memory: u64,
    max_rss: u64,
    csw_voluntary: u64,
    csw_forced: u64,
}

fn run(sandboxed: &Path, data: &Path, meta: &Path, l: &Limits, cmd: &[&str]) -> Results {
    copy_dir(data, sandboxed);
    let mut a = vec![
        "--cg".to_string(),
        "--cg-timing".into(),
        format!("--box-id={ID}"),
        format!("--cg-mem={}", l.memory + l.extra_memory),
        format!("--time={:.6}", l.cpu_time),
        format!("--wall-time={:.6}", l.wall_time),
        format!("--extra-time={:.6}", l.extra_time),
    ];
    if l.stack != 0 {
        a.push(format!("--stack={}", l.stack));
    }
    if l.files_size != 0 {
        a.push(format!("--fsize={}", l.files_size));
    }
    // BLOCK_SIZE of sys/mount.h is 1024.
    a.push(format!(
        "--quota={},{}",
        l.disk_size * 1024 / 1024,
        l.disk_files
    ));
    a.push("--stdin=input.txt".into());
    a.push("--stdout=output.txt".into());
    a.push("--stderr=error.txt".into());
    // chdir is relative to /box in the config, given relative to / (`..`).
    a.push("--chdir=../box".into());
    if l.processes == 0 {
        a.push("--processes".into());
    } else {
        a.push(format!("--processes={}", l.processes));
    }
    a.push("--env=RECODEX=1".into());
    a.push(format!("--dir=/evaluate={}:rw", data.display()));
    a.push("--dir=etc/alternatives=/etc/alternatives:maybe".into());
    a.push(format!("--meta={}", meta.display()));
    a.push("--run".into());
    a.push("--".into());
    a.extend(cmd.iter().map(|s| s.to_string()));
    let args: Vec<&str> = a.iter().map(String::as_str).collect();
    // ReCodEx sends isolate's stdout and stderr to /dev/null; stderr is kept
    // here for the failure message only.
    let o = isolate_cmd(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let code = o
        .status
        .code()
        .unwrap_or_else(|| panic!("isolate was killed: {:?}", o.status));
    assert!(
        code == 0 || code == 1,
        "Isolate run into internal error. Return value: {code}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    copy_dir(sandboxed, data);
    let text = read(meta);
    let mut r = Results::default();
    for line in text.lines() {
        let (k, v) = line.split_once(':').unwrap_or((line, ""));
        let n = |v: &str| -> u64 {
            v.parse()
                .unwrap_or_else(|_| panic!("std::stoul throws on {k}:{v}"))
        };
        match k {
            "time" => r.time = v.parse().unwrap(),
            "time-wall" => r.wall_time = v.parse().unwrap(),
            "killed" => r.killed = true,
            "status" => {
                r.status = Some(match v {
                    "RE" => "RE",
                    "SG" => "SG",
                    "TO" => "TO",
                    "XX" => "XX",
                    other => panic!("status {other}"),
                })
            }
            "message" => r.message = v.to_string(),
            "exitsig" => r.exitsig = v.parse().unwrap(),
            "exitcode" => r.exitcode = v.parse().unwrap(),
            "cg-mem" => r.memory = n(v),
            "max-rss" => r.max_rss = n(v),
            "csw-voluntary" => r.csw_voluntary = n(v),
            "csw-forced" => r.csw_forced = n(v),
            _ => {}
        }
    }
    r
}

/// `helpers::copy_directory`: the files of `from` into `to` (one level).
fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn recodex_worker_task() {
    let _t = timing_lock();
    let _guard = TestBox::uninit(ID);
    let temp = judge_dir("recodex-temp").join(ID.to_string());
    std::fs::create_dir_all(&temp).unwrap();
    let meta = temp.join("meta.log");
    let data = judge_dir("recodex-data");
    place(&probe(), &data.join("solution"), 0o755);
    write(&data.join("input.txt"), "5\n", 0o644);

    let o = isolate(&["--cg", &format!("--box-id={ID}"), "--init"]);
    let sandboxed: PathBuf = init_dir(&o, ID).join("box");

    let r = run(&sandboxed, &data, &meta, &LIMITS, &["./solution", "io"]);
    assert_eq!(r.status, None, "{r:?}");
    assert_eq!(read(&data.join("output.txt")), "out:5\n", "copied back");
    assert_eq!(read(&data.join("error.txt")), "err-line\n");
    assert!(r.memory > 0 && r.max_rss > 0, "{r:?}");

    let r = run(
        &sandboxed,
        &data,
        &meta,
        &LIMITS,
        &["./solution", "exit", "3"],
    );
    assert_eq!((r.status, r.exitcode), (Some("RE"), 3), "{r:?}");
    assert_eq!(r.message, "Exited with error status 3");

    let r = run(&sandboxed, &data, &meta, &LIMITS, &["./solution", "segv"]);
    assert_eq!((r.status, r.exitsig), (Some("SG"), 11), "{r:?}");
    assert!(!r.killed, "{r:?}");

    let r = run(&sandboxed, &data, &meta, &LIMITS, &["./solution", "spin"]);
    assert_eq!(r.status, Some("TO"), "{r:?}");
    assert!(r.killed, "{r:?}");
    assert_eq!(r.message, "Time limit exceeded");
    assert!(r.time >= 0.5, "{r:?}");

    let r = run(
        &sandboxed,
        &data,
        &meta,
        &LIMITS,
        &["./solution", "sleep", "10", "/box/x"],
    );
    assert_eq!(r.status, Some("TO"), "{r:?}");
    assert_eq!(r.message, "Time limit exceeded (wall clock)");
    assert!((2.0..3.0).contains(&r.wall_time), "{r:?}");

    let mem = Limits {
        cpu_time: 5.0,
        wall_time: 10.0,
        ..LIMITS
    };
    let r = run(
        &sandboxed,
        &data,
        &meta,
        &mem,
        &["./solution", "mem", "300"],
    );
    assert_eq!((r.status, r.exitsig), (Some("SG"), 9), "{r:?}");
    assert!(r.memory <= 65_536 + 64, "{r:?}");

    let r = run(
        &sandboxed,
        &data,
        &meta,
        &LIMITS,
        &["./solution", "fsize", "/box/big", "4194304"],
    );
    assert_eq!((r.status, r.exitsig), (Some("SG"), 25), "{r:?}");

    let o = isolate(&["--cg", &format!("--box-id={ID}"), "--cleanup"]);
    assert_eq!(o.code, 0, "Isolate cleanup error\n{o}");
}
