//! What the replays share: rustbox started under the name `isolate`, the
//! judges' directories in the suite's base directory, meta files read the way
//! isolate writes them, and the probe as the judges' "compiled program".

use crate::common::{self, harness};
pub use common::{chmod, place, Out};
pub use harness::{timing_lock, Meta, TestBox};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The binary under test as `<base>/bin/isolate`: a judge calls `isolate`, and
/// under that name rustbox takes isolate's flavour (config keys, paths).
pub fn isolate_path() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let bin = harness::env().base.join("bin");
        common::mkdir_755(&bin);
        let p = bin.join("isolate");
        std::os::unix::fs::symlink(common::rustbox_bin(), &p)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", p.display()));
        p
    })
}

/// The `--config=` argument every replayed command line starts with.
pub fn config_arg() -> String {
    format!("--config={}", harness::env().config.display())
}

/// `isolate --config=<suite config> ARGS`, standard input /dev/null.
pub fn isolate_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(isolate_path());
    c.arg(config_arg()).args(args).stdin(Stdio::null());
    c
}

pub fn isolate(args: &[&str]) -> Out {
    isolate_cmd(args).output().expect("run isolate").into()
}

/// `isolate ARGS` with `input` written to a pipe on its standard input (and
/// the pipe closed), as Piston, kjudge and camisole feed a program.
pub fn isolate_piped(args: &[&str], input: &[u8], cwd: Option<&Path>) -> Out {
    let mut c = isolate_cmd(args);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    let mut child = c.spawn().expect("start isolate");
    let mut stdin = child.stdin.take().unwrap();
    // A program that never reads may close the pipe first: not an error here.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("wait for isolate").into()
}

/// A judge's `sh -c` command line (judge0 runs isolate through Ruby's
/// backticks): `isolate --config=...` followed by `rest`, shell syntax and all.
pub fn isolate_shell(rest: &str) -> Out {
    let line = format!("{} {} {rest}", isolate_path().display(), config_arg());
    Command::new("/bin/sh")
        .arg("-c")
        .arg(&line)
        .stdin(Stdio::null())
        .output()
        .expect("run sh -c")
        .into()
}

/// The box directory `--init` printed, checked to be the suite's box `id`.
pub fn init_dir(o: &Out, id: u32) -> PathBuf {
    assert_eq!(o.code, 0, "--init of box {id}:\n{o}");
    let dir = PathBuf::from(o.stdout.trim_end());
    assert_eq!(
        dir,
        harness::env().box_root.join(id.to_string()),
        "--init prints the box directory\n{o}"
    );
    dir
}

/// A judge's own directory on the host (created 0755 by root).
pub fn judge_dir(name: &str) -> PathBuf {
    let d = harness::env().base.join(name);
    common::mkdir_755(&d);
    d
}

/// The probe program (tests/probes/probe.c), the judges' "compiled solution".
pub fn probe() -> PathBuf {
    harness::env().probes.join("probe")
}

/// Write `content` to `dst` with `mode`.
pub fn write(dst: &Path, content: &str, mode: u32) {
    std::fs::write(dst, content).unwrap_or_else(|e| panic!("write {}: {e}", dst.display()));
    chmod(dst, mode);
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// The meta file at `p`, parsed as isolate writes it (one `key:value` a line,
/// no key twice).
pub fn meta(p: &Path) -> Meta {
    Meta::parse(&read(p))
}

/// The mode bits (permissions) of `p`.
pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()))
        .mode()
        & 0o7777
}

/// /bin/bash must be there: judge0 and Piston run every program through it.
pub fn require_bash() {
    assert!(
        Path::new("/bin/bash").is_file(),
        "/bin/bash is missing: judge0 and Piston run every program through it \
         (the cgroup v2 VM installs bash-static as /bin/bash)"
    );
}

/// The time keys are isolate's `%d.%03d` seconds.
pub fn secs(m: &Meta, k: &str) -> f64 {
    let v = m.req(k);
    let (i, f) = v
        .split_once('.')
        .unwrap_or_else(|| panic!("meta {k}:{v} is not seconds.millis: {:?}", m.0));
    assert!(
        !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()),
        "meta {k}:{v}"
    );
    assert!(
        f.len() == 3 && f.bytes().all(|b| b.is_ascii_digit()),
        "meta {k}:{v}: isolate writes three decimals"
    );
    m.secs(k)
}

/// A key that must be a whole number (KiB, counts, codes).
pub fn int(m: &Meta, k: &str) -> u64 {
    m.req(k)
        .parse()
        .unwrap_or_else(|_| panic!("meta {k} is not a whole number: {:?}", m.0))
}
