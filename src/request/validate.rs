//! Every rule a parsed request must meet, in one place.
//!
//! `cli::parse` checks syntax only: option names, arguments present or absent, and
//! each value turned into its type (a number in its range, a keyword, a `--dir`
//! rule). What a request may ask as a whole is decided here: how the options fit
//! the mode, options that would not be enforced as asked, and what only root may
//! ask. Each rule is one small function with its reason; the tables below list
//! them in the order they are checked, and the first refusal is the one reported.
//!
//! Two stages, both called from `main`, in this order:
//! 1. [`request`], on the request alone, right after parsing: before `--help` and
//!    `--version` are answered, and before rustbox checks that it runs as root (a
//!    refusal needs no privileges to be reported).
//! 2. [`for_caller`], once the caller is known: that needs rustbox to run as root
//!    first, so that an unprivileged start is told so whatever it asked.

use crate::caller::Caller;
use crate::request::spec::{syscall_flags, CgroupChoice, Mode, RunSpec, SeccompChoice, Source};
use crate::sys::error::{Failure, StepError};
use std::fmt;

/// A request refused by stage 1, and how it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The command line is not one rustbox takes: shown as a parse error is, with a
    /// pointer to `--help`.
    Usage(Failure),
    /// Well formed, but it would not be enforced as asked: shown as it is.
    Unenforced(Failure),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Usage(e) => write!(f, "{e} (see rustbox --help)"),
            Refusal::Unenforced(e) => write!(f, "{e}"),
        }
    }
}

/// A rule on the request alone: `Err` says why it is refused.
type Rule = fn(&RunSpec) -> Result<(), String>;

/// A rule on what this caller may ask.
type CallerRule = fn(&RunSpec, &Caller) -> Result<(), String>;

/// How the command line is written (every mode).
const COMMAND_LINE: &[Rule] = &[
    program_only_with_run,
    chdir_not_empty,
    copies_only_with_exec,
];

/// What would not be enforced as asked (modes that act: not `--help`, `--version`).
const ENFORCEABLE: &[Rule] = &[
    cgroup_options_need_cg,
    seccomp_file_keeps_flag_16,
    syscalls_need_a_filter,
];

/// What only root may ask.
const ROOT_ONLY: &[CallerRule] = &[
    as_ids_are_roots,
    as_ids_come_together,
    config_is_roots,
    fs_types_of_callers,
];

/// Stage 1: the rules on the request alone. `--help` and `--version` answer
/// without acting, so the options they would ignore are not refused (as
/// isolate, which reads no option for them).
pub fn request(spec: &RunSpec) -> Result<(), Refusal> {
    for rule in COMMAND_LINE {
        rule(spec).map_err(|m| Refusal::Usage(Failure::Usage(m)))?;
    }
    if matches!(spec.mode, Mode::Help | Mode::Version) {
        return Ok(());
    }
    for rule in ENFORCEABLE {
        rule(spec).map_err(|m| Refusal::Unenforced(Failure::Usage(m)))?;
    }
    Ok(())
}

/// Stage 2: what `caller` may ask. A refusal is the step `caller`.
pub fn for_caller(spec: &RunSpec, caller: &Caller) -> Result<(), Failure> {
    for rule in ROOT_ONLY {
        rule(spec, caller).map_err(|m| StepError::new("caller", m))?;
    }
    Ok(())
}

/// `--run` runs a program and needs one; the other modes take none, so a stray
/// word (`-p 10` is `-p`, then the word `10`, as getopt reads it) is refused
/// rather than ignored.
fn program_only_with_run(spec: &RunSpec) -> Result<(), String> {
    match (spec.mode, spec.program.first()) {
        (Mode::Run, None) => {
            Err("--run needs a program to run: rustbox --run -- PROGRAM [ARGS]".into())
        }
        (Mode::Exec, None) => {
            Err("--exec needs a program to run: rustbox --exec -- PROGRAM [ARGS]".into())
        }
        (Mode::Run | Mode::Exec, Some(_)) | (_, None) => Ok(()),
        (_, Some(word)) => Err(format!(
            "unexpected argument '{}' (a program is only taken by --run and --exec)",
            word.to_string_lossy()
        )),
    }
}

/// `--copy-in` and `--copy-out` act only in `--exec`, which also takes its box
/// itself: a `-b` with it would be ignored, so it is refused.
fn copies_only_with_exec(spec: &RunSpec) -> Result<(), String> {
    let copies = !spec.copy_in.is_empty() || !spec.copy_out.is_empty();
    match spec.mode {
        Mode::Exec if spec.box_id_set => Err(
            "--exec takes a free box of its own (exec_boxes in the configuration): drop -b".into(),
        ),
        Mode::Exec => Ok(()),
        _ if copies => Err("--copy-in and --copy-out need --exec".into()),
        _ => Ok(()),
    }
}

/// `--chdir` is resolved inside the box, by the box user, after pivot_root: `..`
/// cannot leave the box's root, and isolate takes it (ReCodEx sends
/// `--chdir=../box`), so any path is taken but the empty one, which names nothing.
fn chdir_not_empty(spec: &RunSpec) -> Result<(), String> {
    match &spec.chdir {
        Some(c) if c.is_empty() => Err("--chdir: empty path".into()),
        _ => Ok(()),
    }
}

/// The cgroup options act only in control group mode: without `--cg` they would
/// be silently ignored, so they are refused (as isolate does).
fn cgroup_options_need_cg(spec: &RunSpec) -> Result<(), String> {
    let asked =
        spec.limits.cg_mem_kb.is_some() || spec.cpus.is_some() || spec.cgroup != CgroupChoice::Auto;
    if asked && !spec.cg {
        return Err("--cg-mem, --cpus and --cgroup need --cg (control group mode)".into());
    }
    Ok(())
}

/// With flag 16 cleared, i386 and x32 calls are allowed and meet rustbox's own
/// rules under their own numbers (plan/seccomp.rs, plan/abi.rs). A
/// `--seccomp=FILE`'s filters are compiled for native numbers only: a foreign call
/// would skip every one of them, so that combination is refused.
fn seccomp_file_keeps_flag_16(spec: &RunSpec) -> Result<(), String> {
    if matches!(spec.seccomp, SeccompChoice::File(_))
        && spec.syscalls & syscall_flags::LEGACY_ARCH == 0
    {
        return Err(
            "--seccomp=FILE with --syscalls without flag 16: the file's filters are compiled \
             for native call numbers, so i386 and x32 calls would skip them; keep flag 16 \
             with a file"
                .into(),
        );
    }
    Ok(())
}

/// `--syscalls` blocks calls with the seccomp filter; `--seccomp=off` installs
/// none, so an explicit non-zero `--syscalls` with it would block nothing.
fn syscalls_need_a_filter(spec: &RunSpec) -> Result<(), String> {
    if spec.seccomp == SeccompChoice::Off && spec.syscalls_set && spec.syscalls != 0 {
        return Err(
            "--syscalls blocks calls with a seccomp filter, but --seccomp=off installs none".into(),
        );
    }
    Ok(())
}

/// `--as-uid/--as-gid` make boxes belong to another user: only root may act for
/// someone else (isolate). `Caller::new` never gives anyone else another
/// identity either.
fn as_ids_are_roots(spec: &RunSpec, caller: &Caller) -> Result<(), String> {
    if (spec.as_uid.is_some() || spec.as_gid.is_some()) && !caller.is_root() {
        return Err("--as-uid and --as-gid may only be used by root".into());
    }
    Ok(())
}

/// One of the two ids alone would mix root's group or user with the other
/// user's: both are needed.
fn as_ids_come_together(spec: &RunSpec, _: &Caller) -> Result<(), String> {
    if spec.as_uid.is_some() != spec.as_gid.is_some() {
        return Err("--as-uid and --as-gid must be given together".into());
    }
    Ok(())
}

/// The configuration says which uids boxes run as and where root writes: a
/// caller other than root must not choose it (`--config` is for tests).
fn config_is_roots(spec: &RunSpec, caller: &Caller) -> Result<(), String> {
    if spec.config.is_some() && !caller.is_root() {
        return Err("--config: only root may choose the configuration file".into());
    }
    Ok(())
}

/// Filesystem types a caller other than root may mount with an `fs` rule. The
/// others (devtmpfs, debugfs, tracefs, bpf, configfs, securityfs, sysfs, ...)
/// would show the box kernel state that an ordinary user cannot mount for
/// themselves; root may still ask for any type, as in isolate.
pub const CALLER_FS_TYPES: &[&str] = &["proc", "tmpfs", "mqueue"];

/// `fs` rules of a caller other than root name one of [`CALLER_FS_TYPES`].
fn fs_types_of_callers(spec: &RunSpec, caller: &Caller) -> Result<(), String> {
    if caller.is_root() {
        return Ok(());
    }
    for (inside, rule) in &spec.dirs {
        if let Some(Source::Fs(t)) = rule.as_ref().map(|r| &r.source) {
            if !CALLER_FS_TYPES.contains(&t.as_str()) {
                return Err(format!(
                    "--dir {}={t}:fs: only root may mount a {t} file system \
                     (callers may use {})",
                    inside.display(),
                    CALLER_FS_TYPES.join(", ")
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(args: &[&str]) -> RunSpec {
        crate::request::cli::parse(args.iter().map(|s| s.to_string())).unwrap()
    }

    /// Stage 1's message for `args`, as main shows it, or `None` if taken.
    fn refused(args: &[&str]) -> Option<String> {
        request(&spec(args)).err().map(|r| r.to_string())
    }

    fn alice() -> Caller {
        Caller::new(1000, 1000, None, None)
    }

    fn root() -> Caller {
        Caller::new(0, 0, None, None)
    }

    /// Stage 2's message for `args` from `caller`, or `None` if taken.
    fn refused_for(caller: Caller, args: &[&str]) -> Option<String> {
        for_caller(&spec(args), &caller)
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn program_only_with_run_rule() {
        assert_eq!(refused(&["--run", "--", "/bin/true"]), None);
        assert_eq!(refused(&["--init"]), None);
        for args in [&["--run"][..], &["--run", "--"]] {
            let m = refused(args).unwrap();
            assert_eq!(
                m,
                "--run needs a program to run: rustbox --run -- PROGRAM [ARGS] \
                 (see rustbox --help)"
            );
        }
        // getopt: "-p 10" is -p without a value, then a word.
        let m = refused(&["--init", "-p", "10"]).unwrap();
        assert_eq!(
            m,
            "unexpected argument '10' (a program is only taken by --run and --exec) (see rustbox --help)"
        );
        // --help too: a stray word is refused, not ignored.
        assert!(refused(&["--help", "x"]).unwrap().contains("'x'"));
        assert!(refused(&["x"]).unwrap().contains("unexpected argument 'x'"));
        // A word that is not UTF-8 is shown, not taken for something else.
        use std::os::unix::ffi::OsStringExt;
        let args = [
            "--init".into(),
            std::ffi::OsString::from_vec(b"\xff".to_vec()),
        ];
        let s = crate::request::cli::parse(args).unwrap();
        let m = request(&s).unwrap_err().to_string();
        assert!(m.contains("unexpected argument '\u{fffd}'"), "{m}");
    }

    #[test]
    fn chdir_not_empty_rule() {
        assert_eq!(refused(&["--run", "--chdir=/tmp", "--", "x"]), None);
        // Inside the box `..` stays in it: isolate takes it, ReCodEx sends it.
        assert_eq!(refused(&["--run", "--chdir=../box", "--", "x"]), None);
        assert_eq!(
            refused(&["--run", "--chdir=", "--", "x"]).unwrap(),
            "--chdir: empty path (see rustbox --help)"
        );
    }

    #[test]
    fn cgroup_options_need_cg_rule() {
        for opt in ["--cg-mem=65536", "--cpus=1.5", "--cgroup=v2"] {
            assert_eq!(refused(&["--cg", opt, "--init"]), None, "{opt}");
            assert_eq!(
                refused(&[opt, "--init"]).unwrap(),
                "--cg-mem, --cpus and --cgroup need --cg (control group mode)",
                "{opt}"
            );
            // Not for the modes that do not act.
            assert_eq!(refused(&[opt, "--help"]), None);
            assert_eq!(refused(&[opt, "--version"]), None);
        }
        assert_eq!(refused(&["--cgroup=auto", "--init"]), None);
    }

    #[test]
    fn seccomp_file_keeps_flag_16_rule() {
        assert_eq!(
            refused(&["--seccomp=/f.json", "--syscalls=16", "--init"]),
            None
        );
        assert_eq!(refused(&["--seccomp=/f.json", "--init"]), None);
        assert_eq!(
            refused(&["--seccomp=default", "--syscalls=0", "--init"]),
            None
        );
        for flags in ["--syscalls=15", "--syscalls=0"] {
            let m = refused(&["--seccomp=/f.json", flags, "--init"]).unwrap();
            assert!(m.contains("keep flag 16 with a file"), "{m}");
            assert!(!m.contains("--help"), "{m}");
        }
    }

    #[test]
    fn syscalls_need_a_filter_rule() {
        assert_eq!(refused(&["--seccomp=off", "--init"]), None);
        assert_eq!(refused(&["--seccomp=off", "--syscalls=0", "--init"]), None);
        assert_eq!(
            refused(&["--seccomp=off", "--syscalls=1", "--init"]).unwrap(),
            "--syscalls blocks calls with a seccomp filter, but --seccomp=off installs none"
        );
    }

    #[test]
    fn as_ids_are_roots_rule() {
        let both = ["--as-uid=5", "--as-gid=6", "--init"];
        assert_eq!(refused_for(root(), &both), None);
        assert_eq!(refused_for(alice(), &["--init"]), None);
        for args in [
            &both[..],
            &["--as-uid=5", "--init"],
            &["--as-gid=5", "--init"],
        ] {
            assert_eq!(
                refused_for(alice(), args).unwrap(),
                "caller: --as-uid and --as-gid may only be used by root"
            );
        }
    }

    #[test]
    fn as_ids_come_together_rule() {
        assert_eq!(refused_for(root(), &["--init"]), None);
        for args in [&["--as-uid=5", "--init"][..], &["--as-gid=5", "--init"]] {
            assert_eq!(
                refused_for(root(), args).unwrap(),
                "caller: --as-uid and --as-gid must be given together"
            );
        }
    }

    #[test]
    fn config_is_roots_rule() {
        assert_eq!(refused_for(root(), &["--config=/x", "--init"]), None);
        assert_eq!(refused_for(alice(), &["--init"]), None);
        assert_eq!(
            refused_for(alice(), &["--config=/x", "--init"]).unwrap(),
            "caller: --config: only root may choose the configuration file"
        );
    }

    #[test]
    fn fs_types_of_callers_rule() {
        let ok = [
            "--run",
            "--dir=/proc=proc:fs",
            "--dir=/q=mqueue:fs",
            "--",
            "p",
        ];
        assert_eq!(refused_for(alice(), &ok), None);
        let dev = ["--run", "--dir=/d=devtmpfs:fs:dev", "--", "p"];
        assert_eq!(refused_for(root(), &dev), None);
        assert_eq!(
            refused_for(alice(), &dev).unwrap(),
            "caller: --dir /d=devtmpfs:fs: only root may mount a devtmpfs file system \
             (callers may use proc, tmpfs, mqueue)"
        );
    }

    /// The first refusal in table order is the one reported.
    #[test]
    fn rules_in_order() {
        let m = refused(&["--cg-mem=1", "--init", "x"]).unwrap();
        assert!(m.starts_with("unexpected argument"), "{m}");
        let m = refused_for(alice(), &["--config=/x", "--as-uid=1", "--init"]).unwrap();
        assert!(m.contains("may only be used by root"), "{m}");
    }
}
