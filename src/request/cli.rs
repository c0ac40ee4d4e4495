//! isolate-compatible command line, parsed the way GNU getopt_long does it.
//!
//! Judge scripts were written against isolate, which uses getopt_long. Its rules are
//! reproduced exactly here instead of through a generic argument library, because
//! they differ in ways those scripts rely on:
//! - options may come in any order, also after `--run`; `--` ends the options;
//! - a required value may be attached (`-b5`, `--box-id=5`) or be the next word;
//! - an optional value must be attached (`-p`, `-p10`, `--processes=10`; `-p 10`
//!   is `-p` followed by the word `10`);
//! - a long option may be abbreviated to any unambiguous prefix (`--proc=4`);
//! - short options may be grouped (`-sv`).
//!
//! Arguments are bytes, as the kernel hands them over: program arguments, `-E`
//! names and values and every path keep any byte but NUL, whatever the locale
//! (nothing goes through a UTF-8 conversion). Option names are ASCII, and a
//! number or keyword must be one.

use crate::request::spec::{
    parse_dir_rule, CgroupChoice, DirArg, EnvRule, Limits, Mode, RunSpec, SeccompChoice,
};
use crate::sys::error::Failure;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    Optional,
}

/// What an option sets, by family: each family is applied by one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opt {
    /// What the invocation does (`apply` itself).
    Mode(Mode),
    /// A switch without a value (`switch`).
    Switch(Switch),
    /// A value kept as bytes: a path, a `--dir` or `-E` rule (`bytes`).
    Bytes(Bytes),
    /// A resource limit, a number (`limit`).
    Limit(Limit),
    /// Any other number or keyword (`word`).
    Word(Word),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Switch {
    Cg,
    CgTiming,
    NoCgTiming,
    NoDefaultDirs,
    FullEnv,
    StderrToStdout,
    Silent,
    Verbose,
    ShareNet,
    InheritFds,
    Wait,
    SpecialFiles,
    TtyHack,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bytes {
    Chdir,
    Dir,
    Env,
    Stdin,
    Stdout,
    Stderr,
    Meta,
    Json,
    Seccomp,
    Config,
    CopyIn,
    CopyOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    CgMem,
    Fsize,
    Stack,
    Mem,
    OpenFiles,
    Processes,
    Quota,
    Time,
    WallTime,
    ExtraTime,
    Core,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    BoxId,
    Syscalls,
    AsUid,
    AsGid,
    Cpus,
    Cgroup,
}

// Short names, so that a row of the table fits a line.
use Opt::{Bytes as B, Limit as L, Mode as M, Switch as S, Word as W};

/// (long name, short letter, argument kind, option)
const OPTIONS: &[(&str, Option<char>, Arg, Opt)] = &[
    ("box-id", Some('b'), Arg::Required, W(Word::BoxId)),
    ("chdir", Some('c'), Arg::Required, B(Bytes::Chdir)),
    ("cg", None, Arg::None, S(Switch::Cg)),
    ("cg-mem", None, Arg::Required, L(Limit::CgMem)),
    ("cg-timing", None, Arg::None, S(Switch::CgTiming)),
    ("no-cg-timing", None, Arg::None, S(Switch::NoCgTiming)),
    ("dir", Some('d'), Arg::Required, B(Bytes::Dir)),
    (
        "no-default-dirs",
        Some('D'),
        Arg::None,
        S(Switch::NoDefaultDirs),
    ),
    ("env", Some('E'), Arg::Required, B(Bytes::Env)),
    ("full-env", Some('e'), Arg::None, S(Switch::FullEnv)),
    ("fsize", Some('f'), Arg::Required, L(Limit::Fsize)),
    ("stdin", Some('i'), Arg::Required, B(Bytes::Stdin)),
    ("stack", Some('k'), Arg::Required, L(Limit::Stack)),
    ("meta", Some('M'), Arg::Required, B(Bytes::Meta)),
    ("mem", Some('m'), Arg::Required, L(Limit::Mem)),
    ("open-files", Some('n'), Arg::Required, L(Limit::OpenFiles)),
    ("stdout", Some('o'), Arg::Required, B(Bytes::Stdout)),
    ("processes", Some('p'), Arg::Optional, L(Limit::Processes)),
    ("quota", Some('q'), Arg::Required, L(Limit::Quota)),
    ("stderr", Some('r'), Arg::Required, B(Bytes::Stderr)),
    (
        "stderr-to-stdout",
        None,
        Arg::None,
        S(Switch::StderrToStdout),
    ),
    ("silent", Some('s'), Arg::None, S(Switch::Silent)),
    ("time", Some('t'), Arg::Required, L(Limit::Time)),
    ("verbose", Some('v'), Arg::None, S(Switch::Verbose)),
    ("wall-time", Some('w'), Arg::Required, L(Limit::WallTime)),
    ("extra-time", Some('x'), Arg::Required, L(Limit::ExtraTime)),
    ("core", None, Arg::Required, L(Limit::Core)),
    ("share-net", None, Arg::None, S(Switch::ShareNet)),
    ("inherit-fds", None, Arg::None, S(Switch::InheritFds)),
    ("init", None, Arg::None, M(Mode::Init)),
    ("run", None, Arg::None, M(Mode::Run)),
    ("cleanup", None, Arg::None, M(Mode::Cleanup)),
    ("version", None, Arg::None, M(Mode::Version)),
    ("help", None, Arg::None, M(Mode::Help)),
    ("wait", None, Arg::None, S(Switch::Wait)),
    ("special-files", None, Arg::None, S(Switch::SpecialFiles)),
    ("tty-hack", None, Arg::None, S(Switch::TtyHack)),
    ("syscalls", None, Arg::Required, W(Word::Syscalls)),
    ("as-uid", None, Arg::Required, W(Word::AsUid)),
    ("as-gid", None, Arg::Required, W(Word::AsGid)),
    // Another name for --check: one mode.
    ("check-config", None, Arg::None, M(Mode::Check)),
    ("print-cg-root", None, Arg::None, M(Mode::PrintCgRoot)),
    ("json", None, Arg::Required, B(Bytes::Json)),
    ("seccomp", None, Arg::Required, B(Bytes::Seccomp)),
    ("cpus", None, Arg::Required, W(Word::Cpus)),
    ("cgroup", None, Arg::Required, W(Word::Cgroup)),
    ("check", None, Arg::None, M(Mode::Check)),
    ("exec", None, Arg::None, M(Mode::Exec)),
    ("copy-in", None, Arg::Required, B(Bytes::CopyIn)),
    ("copy-out", None, Arg::Required, B(Bytes::CopyOut)),
    ("config", None, Arg::Required, B(Bytes::Config)),
];

/// Every long option, its short letter, and whether it takes a value (`Some(true)`
/// required, `Some(false)` optional, `None` none): what the man page and the shell
/// completions are made from (`request::docs`).
pub fn options() -> impl Iterator<Item = (&'static str, Option<char>, Option<bool>)> {
    OPTIONS.iter().map(|(name, short, arg, _)| {
        let takes = match arg {
            Arg::None => None,
            Arg::Optional => Some(false),
            Arg::Required => Some(true),
        };
        (*name, *short, takes)
    })
}

fn usage(msg: impl Into<String>) -> Failure {
    Failure::Usage(msg.into())
}

/// Find a long option by exact name or unambiguous prefix, as getopt_long does.
fn lookup_long(name: &str) -> Result<(&'static str, Arg, Opt), Failure> {
    if let Some(&(n, _, a, o)) = OPTIONS.iter().find(|(n, ..)| *n == name) {
        return Ok((n, a, o));
    }
    let matches: Vec<_> = OPTIONS
        .iter()
        .filter(|(n, ..)| n.starts_with(name))
        .collect();
    match matches.as_slice() {
        [] => Err(usage(format!("unrecognized option '--{name}'"))),
        [&(n, _, a, o)] => Ok((n, a, o)),
        many => {
            let names: Vec<String> = many.iter().map(|(n, ..)| format!("--{n}")).collect();
            Err(usage(format!(
                "option '--{name}' is ambiguous; possibilities: {}",
                names.join(" ")
            )))
        }
    }
}

fn lookup_short(b: u8) -> Result<(&'static str, Arg, Opt), Failure> {
    let c = char::from(b);
    OPTIONS
        .iter()
        .find(|(_, s, ..)| b.is_ascii() && *s == Some(c))
        .map(|&(n, _, a, o)| (n, a, o))
        .ok_or_else(|| {
            if b.is_ascii() {
                usage(format!("invalid option -- '{c}'"))
            } else {
                usage(format!("invalid option -- '\\x{b:02x}'"))
            }
        })
}

/// The value of `--name` as text, for numbers and keywords: it must be UTF-8
/// (the parsers below then accept only ASCII).
fn text<'a>(name: &str, v: &'a OsStr) -> Result<&'a str, Failure> {
    v.to_str().ok_or_else(|| {
        usage(format!(
            "invalid value '{}' for --{name}: not text",
            v.to_string_lossy()
        ))
    })
}

/// A non-negative whole number.
fn parse_uint(name: &str, v: &str) -> Result<u64, Failure> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(usage(format!(
            "invalid value '{v}' for --{name}: expected a whole number"
        )));
    }
    v.parse::<u64>()
        .map_err(|_| usage(format!("invalid value '{v}' for --{name}: out of range")))
}

/// The largest number of seconds a time option takes (about 115 days). Every
/// computation on a time limit saturates, so nothing wraps below it either.
pub const MAX_SECONDS: f64 = 1.0e7;

/// A non-negative number of seconds, fractions allowed, at most MAX_SECONDS.
fn parse_seconds(name: &str, v: &str) -> Result<f64, Failure> {
    parse_decimal(name, v, "seconds")
}

/// A non-negative decimal number (digits and at most one '.'), at most
/// MAX_SECONDS, of `unit`.
fn parse_decimal(name: &str, v: &str, unit: &str) -> Result<f64, Failure> {
    let ok_chars = !v.is_empty()
        && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && v.bytes().filter(|&b| b == b'.').count() <= 1
        && v != ".";
    let x: f64 = if ok_chars {
        v.parse().unwrap_or(f64::NAN)
    } else {
        f64::NAN
    };
    if !x.is_finite() || !(0.0..=MAX_SECONDS).contains(&x) {
        return Err(usage(format!(
            "invalid value '{v}' for --{name}: expected 0 to {MAX_SECONDS} {unit}"
        )));
    }
    Ok(x)
}

/// `-t` and `-w`: 0 is "no limit", as in isolate (which tests the limit for
/// being non-zero before it enforces it).
fn parse_limit_seconds(name: &str, v: &str) -> Result<Option<f64>, Failure> {
    parse_seconds(name, v).map(|x| (x > 0.0).then_some(x))
}

/// The words of the command line, taken in order.
struct Words {
    args: Vec<OsString>,
    next: usize,
}

impl Words {
    fn take(&mut self) -> Option<OsString> {
        let w = self.args.get(self.next).cloned();
        self.next += usize::from(w.is_some());
        w
    }

    fn rest(&mut self) -> Vec<OsString> {
        let rest = self.args[self.next..].to_vec();
        self.next = self.args.len();
        rest
    }
}

/// What the options said so far.
#[derive(Default)]
struct Parsed {
    spec: RunSpec,
    mode: Option<Mode>,
    dirs: Vec<DirArg>,
    positional: Vec<OsString>,
}

/// Parse the arguments (without the program name): syntax only. Whether the
/// request may be honoured is `request::validate`'s to say.
pub fn parse<I, S>(args: I) -> Result<RunSpec, Failure>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let mut words = Words {
        args: args.into_iter().map(Into::into).collect(),
        next: 0,
    };
    let mut p = Parsed::default();
    while let Some(word) = words.take() {
        let a = word.as_bytes();
        if a == b"--" {
            p.positional.extend(words.rest());
            break;
        }
        if let Some(body) = a.strip_prefix(b"--") {
            long_option(&mut p, body, &mut words)?;
        } else if a.len() > 1 && a[0] == b'-' {
            short_options(&mut p, &a[1..], &mut words)?;
        } else {
            p.positional.push(word);
        }
    }
    let mut spec = p.spec;
    spec.mode = p.mode.unwrap_or(Mode::Help);
    spec.dirs = p.dirs;
    spec.program = p.positional;
    Ok(spec)
}

/// `--name`, `--name=VALUE` or `--name VALUE` (`body` is what follows `--`).
fn long_option(p: &mut Parsed, body: &[u8], words: &mut Words) -> Result<(), Failure> {
    let (name, attached) = match body.iter().position(|&b| b == b'=') {
        Some(at) => (
            &body[..at],
            Some(OsStr::from_bytes(&body[at + 1..]).to_owned()),
        ),
        None => (body, None),
    };
    let name = std::str::from_utf8(name).map_err(|_| {
        usage(format!(
            "unrecognized option '--{}'",
            String::from_utf8_lossy(name)
        ))
    })?;
    let (full, kind, opt) = lookup_long(name)?;
    let value = match kind {
        Arg::None if attached.is_some() => {
            return Err(usage(format!(
                "option '--{full}' doesn't allow an argument"
            )))
        }
        Arg::None => None,
        Arg::Optional => attached,
        Arg::Required => match attached.or_else(|| words.take()) {
            Some(v) => Some(v),
            None => return Err(usage(format!("option '--{full}' requires an argument"))),
        },
    };
    apply(p, full, opt, value)
}

/// A group of short options (`-sv`, `-b5`, `-b 5`; `chars` is what follows `-`):
/// one that takes a value takes the rest of the word, or else the next word.
fn short_options(p: &mut Parsed, chars: &[u8], words: &mut Words) -> Result<(), Failure> {
    let mut j = 0;
    while j < chars.len() {
        let c = chars[j];
        j += 1;
        let (full, kind, opt) = lookup_short(c)?;
        let rest = (j < chars.len()).then(|| OsStr::from_bytes(&chars[j..]).to_owned());
        let value = match kind {
            Arg::None => None,
            Arg::Optional => rest,
            Arg::Required => match rest.or_else(|| words.take()) {
                Some(v) => Some(v),
                None => {
                    let c = char::from(c);
                    return Err(usage(format!("option requires an argument -- '{c}'")));
                }
            },
        };
        if kind != Arg::None {
            j = chars.len();
        }
        apply(p, full, opt, value)?;
    }
    Ok(())
}

fn set_mode(mode: &mut Option<Mode>, m: Mode) -> Result<(), Failure> {
    match mode {
        Some(old) if *old != m => Err(usage("only one of --init, --run, --cleanup, --exec, --version, --help, --check, --check-config, --print-cg-root may be given")),
        _ => {
            *mode = Some(m);
            Ok(())
        }
    }
}

/// Apply one option (`name` is its long name) to what was parsed so far.
fn apply(p: &mut Parsed, name: &str, opt: Opt, value: Option<OsString>) -> Result<(), Failure> {
    // Options with Arg::Required always carry a value here; only -p may come
    // without one.
    match opt {
        Opt::Mode(m) => {
            // --check-config: the report as JSON, as it has always been printed.
            if name == "check-config" && p.spec.json.is_none() {
                p.spec.json = Some("-".into());
            }
            set_mode(&mut p.mode, m)
        }
        Opt::Switch(s) => {
            switch(&mut p.spec, s);
            Ok(())
        }
        Opt::Bytes(b) => bytes(p, b, value.unwrap_or_default()),
        Opt::Limit(l) => {
            let v = value.as_deref().map(|v| text(name, v)).transpose()?;
            limit(&mut p.spec.limits, name, l, v)
        }
        Opt::Word(w) => word(
            &mut p.spec,
            name,
            w,
            text(name, &value.unwrap_or_default())?,
        ),
    }
}

fn switch(spec: &mut RunSpec, s: Switch) {
    match s {
        Switch::Cg => spec.cg = true,
        Switch::CgTiming => spec.cg_timing = Some(true),
        Switch::NoCgTiming => spec.cg_timing = Some(false),
        Switch::NoDefaultDirs => spec.no_default_dirs = true,
        Switch::FullEnv => spec.full_env = true,
        Switch::StderrToStdout => spec.io.stderr_to_stdout = true,
        Switch::Silent => spec.silent = true,
        Switch::Verbose => spec.verbose += 1,
        Switch::ShareNet => spec.share_net = true,
        Switch::InheritFds => spec.inherit_fds = true,
        Switch::Wait => spec.wait = true,
        Switch::SpecialFiles => spec.special_files = true,
        Switch::TtyHack => spec.tty_hack = true,
    }
}

/// Values kept as the bytes given: paths, `--dir` and `-E` rules.
fn bytes(p: &mut Parsed, b: Bytes, raw: OsString) -> Result<(), Failure> {
    let spec = &mut p.spec;
    match b {
        Bytes::Chdir => spec.chdir = Some(raw),
        Bytes::Dir => p.dirs.push(parse_dir_rule(raw).map_err(usage)?),
        Bytes::Env => spec.env.push(parse_env(&raw)?),
        Bytes::Stdin => spec.io.stdin = Some(raw),
        Bytes::Stdout => spec.io.stdout = Some(raw),
        Bytes::Stderr => spec.io.stderr = Some(raw),
        Bytes::Meta => spec.meta = Some(PathBuf::from(raw)),
        Bytes::Json => spec.json = Some(PathBuf::from(raw)),
        Bytes::Config => spec.config = Some(PathBuf::from(raw)),
        Bytes::CopyIn => spec.copy_in.push(copy_rule("copy-in", raw)?),
        Bytes::CopyOut => spec.copy_out.push(copy_rule("copy-out", raw)?),
        Bytes::Seccomp => {
            spec.seccomp = match raw.as_bytes() {
                b"default" => SeccompChoice::Default,
                b"off" => SeccompChoice::Off,
                b"" => return Err(usage("--seccomp needs default, off or a FILE")),
                _ => SeccompChoice::File(PathBuf::from(raw)),
            }
        }
    }
    Ok(())
}

/// `A[=B]` of --copy-in and --copy-out: split at the first `=`; B defaults to
/// A's last component. The name below /box (copy-in's B, copy-out's A) must
/// be relative, with no `..`: it is checked when the box exists (`oneshot`).
fn copy_rule(name: &str, raw: OsString) -> Result<(OsString, OsString), Failure> {
    let b = raw.as_bytes();
    let (a, rest) = match b.iter().position(|&c| c == b'=') {
        Some(at) => (&b[..at], Some(&b[at + 1..])),
        None => (b, None),
    };
    let base = |x: &[u8]| -> Vec<u8> {
        let t: &[u8] = x.strip_suffix(b"/").unwrap_or(x);
        t.rsplit(|&c| c == b'/').next().unwrap_or(t).to_vec()
    };
    let second = match rest {
        Some(r) if !r.is_empty() => r.to_vec(),
        _ => base(a),
    };
    if a.is_empty() || second.is_empty() || b.contains(&0) {
        return Err(usage(format!(
            "--{name}: expected SOURCE[=DESTINATION], not '{}'",
            raw.to_string_lossy()
        )));
    }
    Ok((OsString::from_vec(a.to_vec()), OsString::from_vec(second)))
}

/// Resource limits, in isolate's units. `v` is `None` only for `-p` alone
/// (unlimited); `--processes=` is an empty value, refused.
fn limit(l: &mut Limits, name: &str, which: Limit, v: Option<&str>) -> Result<(), Failure> {
    if which == Limit::Processes && v.is_none() {
        l.processes = None;
        return Ok(());
    }
    let v = v.unwrap_or_default();
    let n = || parse_uint(name, v);
    match which {
        Limit::CgMem => l.cg_mem_kb = Some(cg_mem(n()?)?),
        Limit::Fsize => l.fsize_kb = Some(n()?),
        Limit::Stack => l.stack_kb = Some(n()?),
        Limit::Mem => l.mem_kb = Some(n()?),
        Limit::OpenFiles => l.open_files = Some(n()?),
        Limit::Core => l.core_kb = n()?,
        Limit::Processes => l.processes = Some(processes(n()?)?),
        Limit::Quota => {
            let q = crate::request::config::quota(v)
                .map_err(|e| usage(format!("invalid value for --quota: {e}")))?;
            l.quota = Some(q);
        }
        Limit::Time => l.time = parse_limit_seconds(name, v)?,
        Limit::WallTime => l.wall_time = parse_limit_seconds(name, v)?,
        Limit::ExtraTime => l.extra_time = parse_seconds(name, v)?,
    }
    Ok(())
}

/// `--cg-mem`: 0 would kill everything at once; over 16 TiB is a typo, not a limit.
fn cg_mem(k: u64) -> Result<u64, Failure> {
    if k == 0 || k > (1u64 << 34) {
        return Err(usage(format!(
            "invalid value '{k}' for --cg-mem: expected 1 to 17179869184 KiB"
        )));
    }
    Ok(k)
}

/// `-pN`: isolate reads 0 as "unlimited"; say it the unambiguous way.
fn processes(n: u64) -> Result<u64, Failure> {
    if n == 0 || n > 4_194_304 {
        return Err(usage(format!(
            "invalid value '{n}' for --processes: expected 1 to 4194304 (-p alone is unlimited)"
        )));
    }
    Ok(n)
}

/// The other numbers and keywords.
fn word(spec: &mut RunSpec, name: &str, w: Word, v: &str) -> Result<(), Failure> {
    match w {
        Word::BoxId => {
            let n = parse_uint(name, v)?;
            spec.box_id =
                u32::try_from(n).map_err(|_| usage(format!("box id {n} out of range")))?;
            spec.box_id_set = true;
        }
        Word::Syscalls => {
            let n = parse_uint(name, v)?;
            if n > u64::from(crate::request::spec::syscall_flags::ALL) {
                return Err(usage(format!(
                    "invalid value '{n}' for --syscalls: unknown flag bits"
                )));
            }
            spec.syscalls = n as u32;
            spec.syscalls_set = true;
        }
        Word::AsUid => spec.as_uid = Some(parse_id(name, v)?),
        Word::AsGid => spec.as_gid = Some(parse_id(name, v)?),
        Word::Cpus => {
            let c = parse_decimal(name, v, "CPUs")?;
            if c <= 0.0 {
                return Err(usage("--cpus must be greater than 0"));
            }
            spec.cpus = Some(c);
        }
        Word::Cgroup => spec.cgroup = cgroup(v)?,
    }
    Ok(())
}

fn cgroup(v: &str) -> Result<CgroupChoice, Failure> {
    match v {
        "auto" => Ok(CgroupChoice::Auto),
        "v1" => Ok(CgroupChoice::V1),
        "v2" => Ok(CgroupChoice::V2),
        o => Err(usage(format!(
            "invalid value '{o}' for --cgroup: expected auto, v1 or v2"
        ))),
    }
}

fn parse_id(name: &str, v: &str) -> Result<u32, Failure> {
    let n = parse_uint(name, v)?;
    u32::try_from(n).map_err(|_| usage(format!("invalid value '{v}' for --{name}: out of range")))
}

/// `VAR`, `VAR=VALUE` or `VAR=`, as bytes: only the first `=` is special.
fn parse_env(s: &OsStr) -> Result<EnvRule, Failure> {
    let b = s.as_bytes();
    let bytes = |x: &[u8]| OsString::from_vec(x.to_vec());
    let rule = match b.iter().position(|&c| c == b'=') {
        Some(at) if at + 1 == b.len() => EnvRule::Unset(bytes(&b[..at])),
        Some(at) => EnvRule::Set(bytes(&b[..at]), bytes(&b[at + 1..])),
        None => EnvRule::Inherit(s.to_owned()),
    };
    let key = match &rule {
        EnvRule::Unset(k) | EnvRule::Set(k, _) | EnvRule::Inherit(k) => k,
    };
    if key.is_empty() || key.as_bytes().contains(&0) {
        return Err(usage(format!(
            "invalid --env rule '{}'",
            s.to_string_lossy()
        )));
    }
    Ok(rule)
}

pub const HELP: &str = "\
Usage: rustbox [OPTIONS] --init
       rustbox [OPTIONS] --run -- PROGRAM [ARGS...]
       rustbox [OPTIONS] --cleanup
       rustbox [OPTIONS] --exec [--copy-in=SRC[=DST]]... [--copy-out=NAME[=DEST]]... -- PROGRAM [ARGS...]
       rustbox --version | --help | --check | --check-config | --print-cg-root

An isolate-compatible sandbox.

Modes:
    --init               make box ID (its /box and /tmp)
    --run                run PROGRAM in box ID
    --cleanup            remove box ID and everything of it
    --exec               one run in a box of its own: a free box of exec_boxes
                         is made, --copy-in files go into /box, PROGRAM runs
                         with the --run options, --copy-out files come out,
                         and the box is removed; one process
    --version            isolate's version line, then rustbox's
    --help               this text
    --print-cg-root      where the boxes' cgroups live
Options (isolate's names and units):
-b, --box-id=ID          box to use (default 0)
-c, --chdir=DIR          working directory inside the box (default /box)
-d, --dir=IN[=OUT][:OPT] directory rule; OPT (':' or ','-separated): rw, dev,
                         noexec, maybe, fs, tmp, norec
-D, --no-default-dirs    do not add the default directory rules
-E, --env=VAR[=VAL]      inherit VAR, set it, or (VAR=) remove it
-e, --full-env           inherit the whole environment
-f, --fsize=KB           file size limit
-i, --stdin=FILE         standard input, a path inside the box
-k, --stack=KB           stack size limit (default unlimited)
-M, --meta=FILE          write isolate's meta file
-m, --mem=KB             address space limit per process
-n, --open-files=N       open files limit (default 1024)
-o, --stdout=FILE        standard output, a path inside the box
-p, --processes[=N]      process limit (default 1; without N unlimited)
-q, --quota=BLK,INO      disk quota
-r, --stderr=FILE        standard error, a path inside the box
    --stderr-to-stdout   send standard error to standard output
-s, --silent             print no status line
-t, --time=SEC           CPU time limit
-v, --verbose            more messages
-w, --wall-time=SEC      wall-clock time limit
-x, --extra-time=SEC     extra CPU time before the kill
    --core=KB            core file size limit (default 0)
    --share-net          keep the host's network namespace
    --inherit-fds        keep file descriptors other than 0, 1, 2
    --syscalls=FLAGS     block: 1 keyrings, 2 AF_VSOCK, 4 inode locks, 8 io_uring,
                         16 other architectures (default 31, all blocked)
    --cg, --cg-mem=KB    cgroup mode and whole-box memory limit
    --cg-timing, --no-cg-timing
                         accepted as isolate does; --cg always times the cgroup
    --special-files      keep special files the program left in the box
    --tty-hack           give the program the caller's terminal
    --wait               wait for a busy box instead of failing
    --as-uid=UID, --as-gid=GID
                         (root only) act for this user: the box is theirs
rustbox additions:
    --json=FILE          write the JSON evidence document
    --seccomp=default|off|FILE
                         default: also close kernel surface (bpf, perf, ptrace,
                         userfaultfd, kexec, modules, TIOCSTI...); FILE: seccompiler
                         JSON filters in place of that profile; off: no filter
    --cpus=N             CPU bandwidth of the box (cgroup cpu.max)
    --cgroup=auto|v1|v2  cgroup backend
    --check              report what this host supports and what makes its
                         timings unfair, each with its fix; exit 2 if strict
                         mode cannot run here. With --json=- as JSON
    --check-config       the same, as JSON (isolate has neither)
    --config=FILE        (root only) the configuration file to use
    --copy-in=SRC[=DST]  --exec: copy the host file SRC (read with your rights)
                         to /box/DST (default: SRC's name)
    --copy-out=NAME[=DEST]
                         --exec: copy /box/NAME out to DEST (default: NAME's
                         name in the current directory), written with your rights
Exit status: 0 the program succeeded, 1 it failed (RE, SG, TO), 2 rustbox failed (XX).
";

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<RunSpec, Failure> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn modes_and_box_id() {
        let s = p(&["--init", "-b", "7"]).unwrap();
        assert_eq!(s.mode, Mode::Init);
        assert_eq!(s.box_id, 7);
        let s = p(&["--box-id=12", "--cleanup"]).unwrap();
        assert_eq!((s.mode, s.box_id), (Mode::Cleanup, 12));
        let s = p(&["-b65999", "--init"]).unwrap();
        assert_eq!(s.box_id, 65999);
        assert!(p(&["--init", "--run", "--", "x"]).is_err());
        // --check-config is another name for --check: one mode.
        assert_eq!(p(&["--check-config"]).unwrap().mode, Mode::Check);
        assert_eq!(p(&["--check-config"]).unwrap().json, Some("-".into()));
        // --exec's copies: SRC[=DST], DST by default SRC's last name.
        let e = p(&[
            "--exec",
            "--copy-in=/src/a.c",
            "--copy-in=/x=d/y",
            "--copy-out=out.txt",
            "--",
            "/bin/true",
        ])
        .unwrap();
        assert_eq!(e.mode, Mode::Exec);
        assert_eq!(
            e.copy_in,
            vec![
                ("/src/a.c".into(), "a.c".into()),
                ("/x".into(), "d/y".into())
            ]
        );
        assert_eq!(e.copy_out, vec![("out.txt".into(), "out.txt".into())]);
        assert!(!e.box_id_set);
        assert!(p(&["--exec", "--copy-in=", "--", "/bin/true"]).is_err());
        assert_eq!(p(&["--check"]).unwrap().json, None);
        assert_eq!(p(&["--check", "--check-config"]).unwrap().mode, Mode::Check);
        assert!(p(&["--check", "--init"]).is_err());
    }

    #[test]
    fn options_after_run_and_program_args_kept_verbatim() {
        let s = p(&[
            "--run",
            "-b",
            "3",
            "-t",
            "1.5",
            "--",
            "/bin/echo",
            "-n",
            "--time=9",
        ])
        .unwrap();
        assert_eq!(s.mode, Mode::Run);
        assert_eq!(s.box_id, 3);
        assert_eq!(s.limits.time, Some(1.5));
        assert_eq!(s.program, vec!["/bin/echo", "-n", "--time=9"]);
    }

    #[test]
    fn optional_processes_value() {
        assert_eq!(p(&["--init"]).unwrap().limits.processes, Some(1));
        assert_eq!(p(&["--init", "-p"]).unwrap().limits.processes, None);
        assert_eq!(p(&["--init", "-p10"]).unwrap().limits.processes, Some(10));
        assert_eq!(
            p(&["--init", "--processes=60"]).unwrap().limits.processes,
            Some(60)
        );
        assert_eq!(
            p(&["--init", "--processes"]).unwrap().limits.processes,
            None
        );
        // An empty value is not "no value".
        assert!(p(&["--init", "--processes="]).is_err());
        // GNU getopt: "-p 10" is -p without a value, then a positional word
        // (which validate refuses without --run).
        let s = p(&["--init", "-p", "10"]).unwrap();
        assert_eq!(s.limits.processes, None);
        assert_eq!(s.program, vec!["10"]);
    }

    #[test]
    fn grouped_shorts_and_abbreviations() {
        let s = p(&["--init", "-sv", "-vb4"]).unwrap();
        assert!(s.silent);
        assert_eq!(s.verbose, 2);
        assert_eq!(s.box_id, 4);
        let s = p(&["--init", "--wall=3", "--proc=5"]).unwrap();
        assert_eq!(s.limits.wall_time, Some(3.0));
        assert_eq!(s.limits.processes, Some(5));
        // --c is ambiguous (chdir, cg, cg-mem, ...).
        assert!(p(&["--init", "--c=1"])
            .unwrap_err()
            .to_string()
            .contains("ambiguous"));
    }

    #[test]
    fn judge0_command_line() {
        let s = p(&[
            "--cg",
            "-s",
            "-b",
            "17",
            "-M",
            "/var/m/metadata.txt",
            "--stderr-to-stdout",
            "-t",
            "5.0",
            "-x",
            "1.0",
            "-w",
            "10.0",
            "-k",
            "128000",
            "-p60",
            "--cg-timing",
            "--cg-mem=128000",
            "-f",
            "1024",
            "-E",
            "HOME=/tmp",
            "-E",
            "PATH=/usr/bin:/bin",
            "-d",
            "/etc:noexec",
            "--run",
            "--",
            "/bin/bash",
            "run.sh",
        ])
        .unwrap();
        assert!(s.cg && s.silent && s.io.stderr_to_stdout);
        assert_eq!(s.limits.processes, Some(60));
        assert_eq!(s.limits.cg_mem_kb, Some(128000));
        assert_eq!(s.limits.stack_kb, Some(128000));
        assert_eq!(s.limits.extra_time, 1.0);
        assert_eq!(s.cg_timing, Some(true));
        assert_eq!(s.env[0], EnvRule::Set("HOME".into(), "/tmp".into()));
        assert!(s.dirs[0].1.as_ref().unwrap().flags.noexec);
        assert_eq!(s.program, vec!["/bin/bash", "run.sh"]);
    }

    #[test]
    fn cms_command_line() {
        let s = p(&[
            "--cg",
            "--box-id=65999",
            "--chdir=/tmp",
            "--dir=/tmp=/var/cms/home:rw",
            "--dir=/dev/shm:tmp",
            "--dir=/etc/alternatives=/etc/alternatives",
            "--env=HOME=/tmp",
            "--fsize=1048576",
            "--stdin=/tmp/input.txt",
            "--stack=262144",
            "--cg-mem=262144",
            "--stdout=/tmp/stdout.txt",
            "--processes=1000",
            "--stderr=/tmp/stderr.txt",
            "--time=1.0",
            "--wall-time=3.0",
            "--meta=/var/cms/run.meta",
            "--run",
            "--",
            "/tmp/prog",
        ])
        .unwrap();
        assert_eq!(s.box_id, 65999);
        assert_eq!(s.dirs.len(), 3);
        assert_eq!(s.io.stdin.as_deref(), Some(OsStr::new("/tmp/input.txt")));
        assert_eq!(s.limits.processes, Some(1000));
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(p(&["--bogus"]).is_err());
        assert!(p(&["-Z"]).is_err());
        assert!(p(&["--init", "-t", "1x"]).is_err());
        assert!(p(&["--init", "-t", "-1"]).is_err());
        assert!(p(&["--init", "-m", "10.5"]).is_err());
        assert!(p(&["--init", "-b", "-3"]).is_err());
        assert!(p(&["--init", "-b"]).is_err());
        assert!(p(&["--init", "--dir=/a/../b"]).is_err());
        assert!(p(&["--init", "--dir=/a=rel"]).is_err());
        assert!(p(&["--init", "--run=3", "--", "x"]).is_err());
        assert!(p(&["--init", "--syscalls=64"]).is_err());
        let s = p(&["--run", "--chdir=../box", "--", "x"]).unwrap();
        assert_eq!(s.chdir.as_deref(), Some(OsStr::new("../box")));
        assert!(p(&["--init", "-E", "=x"]).is_err());
    }

    fn bytes(b: &[u8]) -> OsString {
        OsString::from_vec(b.to_vec())
    }

    /// Arguments, -E names and values and every path keep bytes that are not
    /// UTF-8 (here 0xff 0xfe), exactly.
    #[test]
    fn bytes_pass_unchanged() {
        let odd = |pre: &[u8]| {
            let mut v = pre.to_vec();
            v.extend_from_slice(b"\xff\xfe");
            bytes(&v)
        };
        let args: Vec<OsString> = vec![
            odd(b"-o/box/out-"),
            "-i".into(),
            odd(b"in-"),
            odd(b"--stderr=err-"),
            odd(b"--chdir=/box/d-"),
            "-E".into(),
            odd(b"K\xfe=v-"),
            "-E".into(),
            odd(b"I-"),
            odd(b"-M/m/meta-"),
            odd(b"--json=/j/doc-"),
            odd(b"--config=/c/conf-"),
            odd(b"--seccomp=/s/f-"),
            {
                let mut d = b"--dir=/in-\xff=/out-\xfe".to_vec();
                d.extend_from_slice(b":rw");
                bytes(&d)
            },
            "--run".into(),
            "--".into(),
            odd(b"/box/prog-"),
            odd(b""),
            "plain".into(),
        ];
        let s = parse(args).unwrap();
        assert_eq!(s.io.stdout, Some(odd(b"/box/out-")));
        assert_eq!(s.io.stdin, Some(odd(b"in-")));
        assert_eq!(s.io.stderr, Some(odd(b"err-")));
        assert_eq!(s.chdir, Some(odd(b"/box/d-")));
        assert_eq!(
            s.env,
            vec![
                EnvRule::Set(bytes(b"K\xfe"), odd(b"v-")),
                EnvRule::Inherit(odd(b"I-"))
            ]
        );
        assert_eq!(s.meta, Some(PathBuf::from(odd(b"/m/meta-"))));
        assert_eq!(s.json, Some(PathBuf::from(odd(b"/j/doc-"))));
        assert_eq!(s.config, Some(PathBuf::from(odd(b"/c/conf-"))));
        assert_eq!(s.seccomp, SeccompChoice::File(odd(b"/s/f-").into()));
        let (inside, rule) = &s.dirs[0];
        let rule = rule.as_ref().unwrap();
        assert_eq!(*inside, PathBuf::from(bytes(b"/in-\xff")));
        assert_eq!(
            rule.source,
            crate::request::spec::Source::Bind(PathBuf::from(bytes(b"/out-\xfe")))
        );
        assert!(rule.flags.rw);
        assert_eq!(
            s.program,
            vec![odd(b"/box/prog-"), odd(b""), OsString::from("plain")]
        );
    }

    /// Option names are ASCII and numbers are text: other bytes there are refused
    /// with one line that shows them, never taken for something else.
    #[test]
    fn bytes_where_text_is_needed_are_refused() {
        let e = |args: Vec<OsString>| parse(args).unwrap_err().to_string();
        let m = e(vec!["--init".into(), "-t".into(), bytes(b"1\xff")]);
        assert!(m.contains("invalid value '1\u{fffd}' for --time"), "{m}");
        let m = e(vec!["--init".into(), bytes(b"-b\xff")]);
        assert!(m.contains("invalid value"), "{m}");
        let m = e(vec!["--init".into(), bytes(b"--box\xff-id=1")]);
        assert!(m.contains("unrecognized option"), "{m}");
        let m = e(vec!["--init".into(), bytes(b"-\xff")]);
        assert!(m.contains("invalid option -- '\\xff'"), "{m}");
        let m = e(vec!["--init".into(), bytes(b"--cgroup=v1\xff")]);
        assert!(m.contains("--cgroup"), "{m}");
        let m = e(vec!["--init".into(), bytes(b"-d/x=\xff:fs")]);
        assert!(m.contains("not a filesystem type"), "{m}");
        let m = e(vec!["--init".into(), bytes(b"-d/x:rw\xff")]);
        assert!(m.contains("unknown directory option"), "{m}");
        for m in [
            e(vec!["--init".into(), "-E".into(), bytes(b"=\xff")]),
            e(vec!["--init".into(), "-E".into(), bytes(b"A\0B=1")]),
        ] {
            assert!(m.contains("invalid --env rule"), "{m}");
        }
    }

    /// -t, -w and -x at their edges: 0 is "no limit" for -t and -w (isolate); the
    /// largest value taken is MAX_SECONDS; just past it, refused.
    #[test]
    fn time_options_at_their_edges() {
        let l = |args: &[&str]| p(args).map(|s| s.limits);
        let t = l(&["--init", "-t", "0", "-w", "0", "-x", "0"]).unwrap();
        assert_eq!((t.time, t.wall_time, t.extra_time), (None, None, 0.0));
        let t = l(&["--init", "-t", "0.000", "--wall-time=00"]).unwrap();
        assert_eq!((t.time, t.wall_time), (None, None));
        for v in [
            "0.000001",
            "0.001",
            "2147483.647",
            "2147484",
            "4294967",
            "4294967.296",
            "4294968",
            "10000000",
            "10000000.000",
        ] {
            let x: f64 = v.parse().unwrap();
            let t = l(&["--init", "-t", v, "-w", v, "-x", v]).unwrap();
            assert_eq!((t.time, t.wall_time, t.extra_time), (Some(x), Some(x), x));
        }
        for v in [
            "10000000.001",
            "10000001",
            "1e7",
            "inf",
            "nan",
            "-1",
            "1,5",
            "",
        ] {
            for opt in ["-t", "-w", "-x"] {
                let e = l(&["--init", opt, v]).unwrap_err().to_string();
                assert!(
                    e.contains(&format!("invalid value '{v}'")) && !e.contains('\n'),
                    "{opt} {v}: {e}"
                );
            }
        }
    }

    #[test]
    fn env_rules() {
        let s = p(&["--init", "-E", "A", "-E", "B=1", "-E", "C=", "-e"]).unwrap();
        assert!(s.full_env);
        assert_eq!(
            s.env,
            vec![
                EnvRule::Inherit("A".into()),
                EnvRule::Set("B".into(), "1".into()),
                EnvRule::Unset("C".into())
            ]
        );
    }
}
