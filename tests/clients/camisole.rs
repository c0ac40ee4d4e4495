//! camisole: `camisole/isolate.py` (Isolator). It picks a box id from the names
//! in the box root, passes the program's input through a pipe, reads
//! `box/._stdout` and `box/._stderr`, and converts every meta key with the type
//! of its default: a key isolate does not write is a KeyError.

use crate::support::*;
use std::path::PathBuf;

/// camisole's `meta_defaults`: the only keys it accepts, with their types.
const KNOWN: [(&str, &str); 12] = [
    ("cg-mem", "int"),
    ("cg-oom-killed", "int"),
    ("csw-forced", "int"),
    ("csw-voluntary", "int"),
    ("exitcode", "int"),
    ("exitsig", "int"),
    ("killed", "bool"),
    ("max-rss", "int"),
    ("message", "str"),
    ("status", "str"),
    ("time", "float"),
    ("time-wall", "float"),
];

#[derive(Debug)]
struct Info {
    isolate_exit: i32,
    stdout: String,
    stderr: String,
    status: String,
    meta: Meta,
}

/// `__aenter__`, `run`, `__aexit__` for one program.
fn isolator(id: u32, opts: &[(&str, &str)], cmd: &[&str], data: &str) -> Info {
    // The box root's names are all parsed as numbers (int(p.name)).
    let root = &crate::common::harness::env().box_root;
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                name.parse::<u32>().is_ok(),
                "camisole: int({name:?}) fails on an entry of the box root"
            );
        }
    }
    let _guard = TestBox::uninit(id);
    let box_id = id.to_string();
    let o = isolate(&["--box-id", &box_id, "--cg", "--init"]);
    let path: PathBuf = init_dir(&o, id).join("box");
    place(&probe(), &path.join("prog"), 0o755);
    // NamedTemporaryFile(prefix='camisole-meta-'): made first, mode 0600.
    let meta_file = judge_dir("camisole-tmp").join(format!("camisole-meta-{id}"));
    write(&meta_file, "", 0o600);

    let mut a: Vec<String> = vec!["--box-id".into(), box_id.clone(), "--cg".into()];
    for opt in [
        "extra-time",
        "fsize",
        "mem",
        "processes",
        "quota",
        "stack",
        "time",
        "virt-mem",
        "wall-time",
    ] {
        let iopt = match opt {
            "virt-mem" => "mem",
            "mem" => "cg-mem",
            o => o,
        };
        match opts.iter().find(|(k, _)| *k == opt) {
            Some((_, v)) => a.push(format!("--{iopt}={v}")),
            None if iopt == "processes" => a.push("-p".into()),
            None => {}
        }
    }
    if let Ok(p) = std::env::var("PATH") {
        a.extend(["--env".to_string(), format!("PATH={p}")]);
    }
    a.push(format!("--meta={}", meta_file.display()));
    a.push("--stdout=._stdout".into());
    a.push("--stderr=._stderr".into());
    a.push("--run".into());
    a.push("--".into());
    a.extend(cmd.iter().map(|s| s.to_string()));
    let args: Vec<&str> = a.iter().map(String::as_str).collect();
    let out = isolate_piped(&args, data.as_bytes(), None);
    assert!(
        out.code < 2,
        "camisole: IsolateInternalError (exit {})\n{out}",
        out.code
    );
    let stdout = read(&path.join("._stdout"));
    let stderr = read(&path.join("._stderr"));

    // _load_meta_file
    let m = meta(&meta_file);
    for (k, v) in &m.0 {
        let ty = KNOWN
            .iter()
            .find(|(n, _)| n == k)
            .unwrap_or_else(|| panic!("camisole: KeyError {k:?} (meta {:?})", m.0))
            .1;
        let ok = match ty {
            "int" => v.parse::<i64>().is_ok(),
            "float" => v.parse::<f64>().is_ok(),
            _ => true,
        };
        assert!(ok, "camisole: {ty}({v:?}) fails for {k}");
    }
    let mut status = match m.get("status").unwrap_or("OK") {
        "OK" => "OK",
        "RE" => "RUNTIME_ERROR",
        "TO" => "TIMED_OUT",
        "SG" => "SIGNALED",
        "XX" => "INTERNAL_ERROR",
        s => panic!("camisole: KeyError {s:?} in verbose_status"),
    }
    .to_string();
    if m.get("cg-oom-killed").is_some_and(|v| v != "0") {
        status = "OUT_OF_MEMORY".into();
    }
    let o = isolate(&["--box-id", &box_id, "--cg", "--cleanup"]);
    assert_eq!(o.code, 0, "{o}");
    let _ = std::fs::remove_file(&meta_file);
    Info {
        isolate_exit: out.code,
        stdout,
        stderr,
        status,
        meta: m,
    }
}

#[test]
fn camisole_runs() {
    let _t = timing_lock();
    let id = 50;
    let limits = [("time", "0.5"), ("wall-time", "2"), ("mem", "65536")];
    let i = isolator(id, &limits, &["./prog", "io"], "abc\n");
    assert_eq!(i.status, "OK", "{i:?}");
    assert_eq!(i.isolate_exit, 0);
    assert_eq!(i.stdout, "out:abc\n");
    assert_eq!(i.stderr, "err-line\n");

    let i = isolator(id, &limits, &["./prog", "exit", "3"], "");
    assert_eq!(i.status, "RUNTIME_ERROR", "{i:?}");
    assert_eq!(i.meta.req("exitcode"), "3");

    let i = isolator(id, &limits, &["./prog", "segv"], "");
    assert_eq!(i.status, "SIGNALED", "{i:?}");
    assert_eq!(i.meta.req("exitsig"), "11");

    let i = isolator(id, &limits, &["./prog", "spin"], "");
    assert_eq!(i.status, "TIMED_OUT", "{i:?}");
    assert_eq!(i.meta.req("killed"), "1");

    let i = isolator(id, &limits, &["./prog", "sleep", "10", "/box/x"], "");
    assert_eq!(i.status, "TIMED_OUT", "{i:?}");
    assert_eq!(i.meta.req("message"), "Time limit exceeded (wall clock)");

    let mem = [("time", "5"), ("wall-time", "10"), ("mem", "65536")];
    let i = isolator(id, &mem, &["./prog", "mem", "300"], "");
    assert_eq!(i.status, "OUT_OF_MEMORY", "{i:?}");
}
