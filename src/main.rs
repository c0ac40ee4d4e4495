//! rustbox: parse, validate (`request::validate`, in its two stages), dispatch per
//! mode, map errors to exit codes. Everything else is in the library.

use rustbox::boxdir::{self, BoxPaths};
use rustbox::caller::Caller;
use rustbox::request::cli;
use rustbox::request::config::{Config, Flavor};
use rustbox::request::spec::{Mode, RunSpec};
use rustbox::request::validate::{self, Refusal};
use rustbox::run;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::process::exit;

/// Size classes that are never unmapped (`rustbox::sys::alloc`): musl's own
/// allocator maps and unmaps memory dozens of times per run.
#[global_allocator]
static ALLOC: rustbox::sys::alloc::ClassAlloc = rustbox::sys::alloc::ClassAlloc;

/// Write to stderr. A message that cannot be delivered (stderr closed, a pipe
/// whose reader is gone) is dropped: there is nowhere left to report it, and
/// rustbox must not die of it (the standard macros panic) after doing its work.
fn say(msg: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// Write to stdout, dropping what cannot be delivered, as `say` does.
fn print_out(text: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes()).and_then(|()| o.flush());
}

/// An error as one line: a control character a caller put in an argument (a
/// newline in a path) is shown escaped, never as a line break.
fn one_line(msg: impl std::fmt::Display) -> String {
    msg.to_string()
        .chars()
        .flat_map(|c| {
            let esc: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            esc
        })
        .collect()
}

/// A refusal or failure: one line on stderr, exit 2.
fn fail(msg: impl std::fmt::Display) -> ! {
    say(format_args!("rustbox: {}", one_line(msg)));
    exit(2);
}

/// A failed step: its line, and the fix where the host or container is what
/// lacked something (`check::fix`).
fn fail_step(e: &rustbox::sys::error::StepError, msg: impl std::fmt::Display) -> ! {
    match rustbox::check::fix::for_failure(e, rustbox::check::fix::effective_caps()) {
        Some(fix) => fail(format_args!("{msg}; fix: {fix}")),
        None => fail(msg),
    }
}

/// The configuration: `/etc/rustbox/config`, or a test config that only a root
/// caller may choose (`request::validate` `config_is_roots`).
fn load_config(spec: &RunSpec, flavor: Flavor) -> Config {
    let path = spec
        .config
        .clone()
        .unwrap_or_else(|| flavor.config_path().into());
    Config::load_as(&path, flavor).unwrap_or_else(|e| fail(e))
}

fn main() {
    // First, while nothing else has run: possibly setuid root, started by anyone.
    if let Err(e) = rustbox::caller::selfguard::not_dumpable() {
        fail(e);
    }
    // Taken out of the process; -e and -E pass variables from here to the box.
    let caller_env: Vec<(OsString, OsString)> = rustbox::caller::selfguard::take_environment();
    let (flavor, spec) = command_line();
    rustbox::request::progress::set_level(spec.verbose);
    // The rules on the request alone; those on the caller come with `admit`.
    if let Err(r) = validate::request(&spec) {
        fail(r);
    }
    match spec.mode {
        Mode::Help => print_out(cli::HELP),
        Mode::Version => print_out(&version()),
        // Not root (no setuid bit, no sudo): nothing privileged can happen, and
        // the check is the one mode that says so in full.
        Mode::Check if !nix::unistd::geteuid().is_root() => {
            let cfg = load_config(&spec, flavor);
            check(&spec, &cfg);
        }
        Mode::PrintCgRoot | Mode::Check | Mode::Init | Mode::Cleanup | Mode::Run | Mode::Exec => {
            let caller = admit(&spec);
            let cfg = load_config(&spec, flavor);
            act(&spec, &cfg, &caller, &caller_env);
        }
    }
}

/// The name rustbox was started under, and the command line parsed. Arguments
/// are bytes as the kernel passed them: program arguments, -E values and paths go
/// to the box unchanged, valid UTF-8 or not.
fn command_line() -> (Flavor, RunSpec) {
    let mut argv = std::env::args_os();
    let flavor = argv.next().map_or(Flavor::Rustbox, |a| Flavor::of_name(&a));
    match cli::parse(argv) {
        Ok(spec) => (flavor, spec),
        Err(e) => fail(Refusal::Usage(e)),
    }
}

/// `--version`. isolate's first line: judges look for "The process isolator"
/// (kjudge refuses to start without it) and show what follows as the version.
fn version() -> String {
    format!(
        "The process isolator {} (rustbox {})\n\
         rustbox {}: isolate's command line, meta file and exit codes; evidence schema {}\n",
        rustbox::ISOLATE_LEVEL,
        rustbox::VERSION,
        rustbox::VERSION,
        rustbox::verdict::SCHEMA
    )
}

/// The caller of a mode that acts: rustbox must run as root (setuid), checked
/// before anything the caller asked, and the request must pass the rules on what
/// this caller may ask.
fn admit(spec: &RunSpec) -> Caller {
    if !nix::unistd::geteuid().is_root() {
        fail("privileges: must be started as root (install it setuid root with 'make install')");
    }
    let caller = Caller::of_process(spec);
    if let Err(e) = validate::for_caller(spec, &caller) {
        fail(e);
    }
    caller
}

/// The modes that act, for an admitted caller.
fn act(spec: &RunSpec, cfg: &Config, caller: &Caller, caller_env: &[(OsString, OsString)]) {
    match spec.mode {
        Mode::PrintCgRoot => {
            match rustbox::cgroup::detect(spec.cgroup)
                .and_then(|b| rustbox::cgroup::root_path(b, &cfg.cg_root))
            {
                Ok(p) => print_out(&format!("{}\n", p.display())),
                Err(e) => fail(e),
            }
        }
        Mode::Check => check(spec, cfg),
        Mode::Init | Mode::Cleanup | Mode::Run => on_box(spec, cfg, caller, caller_env),
        Mode::Exec => do_exec(spec, cfg, caller, caller_env),
        Mode::Help | Mode::Version => unreachable!("answered without a caller"),
    }
}

/// `--init`, `--cleanup` and `--run`: the box id is checked against the
/// configuration first.
fn on_box(spec: &RunSpec, cfg: &Config, caller: &Caller, caller_env: &[(OsString, OsString)]) {
    if let Err(e) = boxdir::check_id(cfg, spec.box_id) {
        fail(e);
    }
    let paths = BoxPaths::new(cfg, spec.box_id);
    match spec.mode {
        Mode::Init => match boxdir::init(cfg, &paths, caller, spec.limits.quota, spec.wait) {
            Ok(dir) => print_out(&format!("{}\n", dir.display())),
            Err(e) => fail_step(&e, &e),
        },
        Mode::Cleanup => {
            if let Err(e) = boxdir::cleanup(cfg, &paths, caller, spec.wait) {
                fail_step(&e, &e);
            }
        }
        Mode::Run => do_run(spec, cfg, caller, caller_env),
        _ => unreachable!("not a box mode"),
    }
}

fn do_run(spec: &RunSpec, cfg: &Config, caller: &Caller, caller_env: &[(OsString, OsString)]) {
    let outputs = match run::Outputs::open(spec, cfg, caller) {
        Ok(o) => o,
        Err(e) => fail(e),
    };
    let (outcome, written) = run::run(spec, cfg, caller, caller_env, outputs);
    finish(spec, outcome, written);
}

/// `--exec`: one process for --init, copy in, --run, copy out, --cleanup
/// (`rustbox::oneshot`); its status line and exit status are --run's.
fn do_exec(spec: &RunSpec, cfg: &Config, caller: &Caller, caller_env: &[(OsString, OsString)]) {
    match rustbox::oneshot::exec(spec, cfg, caller, caller_env) {
        Ok((outcome, after)) => finish(spec, outcome, after),
        Err(e) => fail_step(&e, &e),
    }
}

/// A run's end: the controls with -vv, the status line, the exit status.
fn finish(
    spec: &RunSpec,
    outcome: run::Outcome,
    written: Result<(), rustbox::sys::error::StepError>,
) -> ! {
    if rustbox::request::progress::shown(2) {
        for c in &outcome.evidence.controls {
            let state = match (c.applied, c.verified) {
                (false, _) => "FAILED",
                (true, true) => "verified",
                (true, false) => "applied",
            };
            rustbox::request::progress::say(2, format_args!("[{} {state}] {}", c.name, c.detail));
        }
    }
    rustbox::request::progress::say(
        1,
        format_args!(
            "Box finished: {:?} ({})",
            outcome.verdict.kind, outcome.verdict.message
        ),
    );
    // The results first: if they cannot be written, that is the one line (and
    // the run's own status line is not printed beside it).
    if let Err(e) = written {
        fail(e);
    }
    let code = outcome.verdict.exit_status();
    if code == 2 {
        match &outcome.evidence.failure {
            Some(e) => fail_step(e, &outcome.verdict.message),
            None => fail(&outcome.verdict.message),
        }
    } else if !spec.silent {
        say(format_args!("{}", run::status_line(&outcome)));
    }
    exit(code);
}

/// `--check` (or `--check-config`, the same mode): what this host supports, as
/// JSON; exit 2 if the kernel lacks a namespace rustbox needs.
fn check(spec: &RunSpec, cfg: &Config) {
    let items = rustbox::check::items(cfg);
    let text = match spec.json.as_deref().map(|p| p.as_os_str().as_bytes()) {
        None => rustbox::check::to_table(&items),
        Some(b"-") => match serde_json::to_string_pretty(&rustbox::check::to_json(cfg, &items)) {
            Ok(s) => s + "\n",
            Err(e) => fail(format_args!("check: {e}")),
        },
        Some(_) => fail("--check: --json takes '-' (the report on standard output)"),
    };
    print_out(&text);
    if !rustbox::check::can_run(&items) {
        exit(2);
    }
}
