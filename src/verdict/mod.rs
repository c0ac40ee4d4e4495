//! The verdict, a pure function of the evidence, and the two writers: isolate's meta
//! file and the JSON evidence document (`rustbox.verdict/1`).
//!
//! Precedence: IE > TLE > MLE > OLE > SIG > RE > OK.
//!
//! A limit is cited (and decides the verdict) only when it was set and the
//! kernel's evidence shows it was hit: a program cannot forge OLE by raising
//! SIGXFSZ itself when no `-f` was given, nor MLE without `--cg-mem`; then its
//! death is a signal like any other (SIG).

pub mod evidence;

use crate::verdict::evidence::{Evidence, KillReason};
use serde::Serialize;
use serde_json::{json, Value};

pub const SCHEMA: &str = "rustbox.verdict/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    OK,
    RE,
    SIG,
    TLE,
    MLE,
    OLE,
    IE,
}

/// A limit the run crossed, with the measurement and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitHit {
    pub limit: &'static str,
    pub limit_value: f64,
    /// What the kernel measured, in the limit's unit; None (JSON null) where the
    /// evidence is an event and nothing measured a quantity (file_size: the
    /// SIGXFSZ itself), never a copy of the limit. For processes, the number of
    /// forks the kernel refused.
    pub measured: Option<f64>,
    /// The kernel source of the evidence.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub kind: Kind,
    /// isolate's status code: OK (none in isolate), RE, SG, TO, XX.
    pub status: &'static str,
    pub message: String,
    pub limits_hit: Vec<LimitHit>,
}

impl Verdict {
    /// rustbox's exit status: 0 OK, 1 the program failed, 2 rustbox failed.
    /// isolate's: by the meta status (a program that exited 0 although the
    /// cgroup's OOM killer took one of its children is 0 there, and MLE here).
    pub fn exit_status(&self) -> i32 {
        match (self.kind, self.status) {
            (Kind::IE, _) => 2,
            (_, "OK") => 0,
            _ => 1,
        }
    }
}

/// isolate's time format: whole milliseconds, truncated, three decimals.
/// Saturating: NaN and negatives are 0, and the float-to-integer `as` stops at
/// u64::MAX milliseconds (isolate's int milliseconds wrap past 2147483.647 s).
pub fn secs3(s: f64) -> String {
    let ms = (s.max(0.0) * 1000.0).floor() as u64;
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn round3(s: f64) -> f64 {
    (s * 1000.0).floor() / 1000.0
}

pub fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("SIG{sig}"))
}

/// The verdict. Pure: reads nothing but the evidence.
pub fn verdict(e: &Evidence) -> Verdict {
    let mut v = decide(e);
    // A process limit the kernel enforced is evidence whatever the verdict: the
    // program saw fork() fail and may have failed because of it. Cited only when
    // -p N set one (pids.max = N + 1) and pids.events counted refusals.
    if let (Some(cg), Some(n)) = (&e.cgroup, e.limits.processes) {
        if cg.pids_max_hits > 0 && v.kind != Kind::IE {
            v.limits_hit.push(LimitHit {
                limit: "processes",
                limit_value: n as f64,
                // pids.events "max": how many forks the kernel refused.
                measured: Some(cg.pids_max_hits as f64),
                source: cg.pids_source.clone(),
            });
        }
    }
    v
}

/// The verdict, by the first of these that holds: rustbox failed, rustbox was
/// interrupted, a time limit, the memory limit, a signal, the exit status.
fn decide(e: &Evidence) -> Verdict {
    failed(e)
        .or_else(|| interrupted(e))
        .or_else(|| over_time(e))
        .or_else(|| over_memory(e))
        .or_else(|| signalled(e))
        .unwrap_or_else(|| exited(e))
}

fn mk(kind: Kind, status: &'static str, message: String, limits_hit: Vec<LimitHit>) -> Verdict {
    Verdict {
        kind,
        status,
        message,
        limits_hit,
    }
}

fn failed(e: &Evidence) -> Option<Verdict> {
    let f = e.failure.as_ref()?;
    // A fatal signal to rustbox gets isolate's own words ("Sandbox keeper
    // received fatal signal N"); every other failure names its step.
    let message = match f.step.as_str() {
        crate::supervisor::interrupt::STEP => f.detail.clone(),
        _ => f.to_string(),
    };
    Some(mk(Kind::IE, "XX", message, vec![]))
}

fn interrupted(e: &Evidence) -> Option<Verdict> {
    // isolate's: SG "Interrupted", exitsig the signal rustbox received.
    matches!(e.killed, Some(KillReason::Interrupted(_)))
        .then(|| mk(Kind::SIG, "SG", "Interrupted".into(), vec![]))
}

fn over_time(e: &Evidence) -> Option<Verdict> {
    if let Some(t) = e.limits.time.filter(|&t| e.cpu.total_s > t) {
        let hit = LimitHit {
            limit: "cpu_time",
            limit_value: t,
            // The box's CPU time as its source (perf task clock, cgroup or
            // rusage) counted it.
            measured: Some(round3(e.cpu.total_s)),
            source: e.cpu.source.clone(),
        };
        return Some(mk(Kind::TLE, "TO", "Time limit exceeded".into(), vec![hit]));
    }
    if let Some(w) = e.limits.wall_time {
        if e.killed == Some(KillReason::WallTime) || e.wall_s > w {
            let hit = LimitHit {
                limit: "wall_time",
                limit_value: w,
                // The supervisor's monotonic clock from the go message to the end.
                measured: Some(round3(e.wall_s)),
                source: "CLOCK_MONOTONIC".into(),
            };
            let message = "Time limit exceeded (wall clock)".into();
            return Some(mk(Kind::TLE, "TO", message, vec![hit]));
        }
    }
    // Killed for CPU time but the final measure is under -t: only possible when
    // -x < -t is misconfigured; still a time-out.
    (e.killed == Some(KillReason::CpuTime) && e.limits.time.is_some())
        .then(|| mk(Kind::TLE, "TO", "Time limit exceeded".into(), vec![]))
}

/// MLE: --cg-mem set a limit and the cgroup's own OOM-kill counter moved.
fn over_memory(e: &Evidence) -> Option<Verdict> {
    let (cg, limit) = (e.cgroup.as_ref()?, e.limits.cg_mem_kb?);
    if cg.oom_kills == 0 {
        return None;
    }
    let hits = vec![LimitHit {
        limit: "memory",
        limit_value: limit as f64,
        // The group's peak usage as the kernel recorded it, if read.
        measured: cg.peak_memory_kb.map(|k| k as f64),
        source: cg.oom_source.clone(),
    }];
    // The meta says what isolate's does: how the program itself ended. A wrapper
    // (judge0's and Piston's bash) whose child the OOM killer took exits 137: RE
    // "Exited with error status 137"; a program killed itself: SG. The JSON
    // verdict is MLE either way, with the evidence.
    Some(match (e.exit_code, e.exit_signal) {
        (Some(c), _) if c != 0 => mk(
            Kind::MLE,
            "RE",
            format!("Exited with error status {c}"),
            hits,
        ),
        (Some(_), _) => mk(Kind::MLE, "OK", "OK".into(), hits),
        (None, sig) => {
            let sig = sig.unwrap_or(libc::SIGKILL);
            mk(Kind::MLE, "SG", format!("Caught fatal signal {sig}"), hits)
        }
    })
}

fn signalled(e: &Evidence) -> Option<Verdict> {
    let sig = e.exit_signal?;
    let message = format!("Caught fatal signal {sig}");
    // OLE: -f set RLIMIT_FSIZE (0 sets none) and the program died of SIGXFSZ,
    // the kernel's signal for a write past it. The evidence is the signal;
    // nothing measured a file's size.
    match e.limits.fsize_kb.filter(|&f| f > 0) {
        Some(f) if sig == libc::SIGXFSZ => {
            let hit = LimitHit {
                limit: "file_size",
                limit_value: f as f64,
                measured: None,
                source: "wait4:WTERMSIG=SIGXFSZ".into(),
            };
            Some(mk(Kind::OLE, "SG", message, vec![hit]))
        }
        _ => Some(mk(Kind::SIG, "SG", message, vec![])),
    }
}

fn exited(e: &Evidence) -> Verdict {
    match e.exit_code {
        Some(0) => mk(Kind::OK, "OK", "OK".into(), vec![]),
        Some(c) => mk(
            Kind::RE,
            "RE",
            format!("Exited with error status {c}"),
            vec![],
        ),
        None => mk(
            Kind::IE,
            "XX",
            "supervisor.status: the program's exit status was not collected".into(),
            vec![],
        ),
    }
}

/// isolate's meta file.
pub fn meta(e: &Evidence, v: &Verdict) -> String {
    let mut m = String::new();
    let mut kv = |k: &str, val: String| {
        m.push_str(k);
        m.push(':');
        m.push_str(&val);
        m.push('\n');
    };
    if e.executed || e.exec_errno.is_some() {
        kv("time", secs3(e.cpu.total_s));
        kv("time-wall", secs3(e.wall_s));
        kv("max-rss", e.max_rss_kb.to_string());
        kv("csw-voluntary", e.csw_voluntary.to_string());
        kv("csw-forced", e.csw_forced.to_string());
        if let Some(cg) = &e.cgroup {
            // Always with --cg (kjudge and Judgels read it): the group's peak, or
            // where the kernel keeps none (v2 before 5.19: no memory.peak) the
            // largest process's peak, which is never more than the group's.
            let peak = cg.peak_memory_kb.unwrap_or(e.max_rss_kb);
            kv("cg-mem", peak.to_string());
            if cg.oom_kills > 0 {
                kv("cg-oom-killed", "1".into());
            }
        }
    }
    if v.kind != Kind::TLE && v.kind != Kind::IE {
        if let Some(c) = e.exit_code {
            kv("exitcode", c.to_string());
        }
        let sig = match e.killed {
            Some(KillReason::Interrupted(s)) => Some(s),
            _ => e.exit_signal,
        };
        if let Some(s) = sig {
            kv("exitsig", s.to_string());
        }
    }
    if e.killed.is_some() {
        kv("killed", "1".into());
    }
    if v.status != "OK" {
        kv("status", v.status.into());
        kv("message", v.message.replace('\n', " "));
    }
    m
}

/// The JSON evidence document.
pub fn json(e: &Evidence, v: &Verdict) -> Value {
    let l = &e.limits;
    let usage = json!({
        "cpu_s": round3(e.cpu.total_s),
        "user_s": round3(e.cpu.user_s),
        "sys_s": round3(e.cpu.sys_s),
        "cpu_source": e.cpu.source,
        "task_clock_s": e.cpu.task_clock_s.map(round3),
        "steal_max_s": e.cpu.steal_max_s.map(round3),
        "wall_s": round3(e.wall_s),
        "peak_memory_kb": e.cgroup.as_ref().and_then(|c| c.peak_memory_kb).unwrap_or(e.max_rss_kb),
        "max_rss_kb": e.max_rss_kb,
        "max_rss_source": e.max_rss_source,
        "csw_voluntary": e.csw_voluntary,
        "csw_forced": e.csw_forced,
        "processes": e.processes,
        "processes_source": e.processes_source,
    });
    let limits = json!({
        "cpu_s": l.time,
        "extra_s": l.extra_time,
        "wall_s": l.wall_time,
        "memory_kb": l.cg_mem_kb,
        "address_space_kb": l.mem_kb,
        "stack_kb": l.stack_kb,
        "fsize_kb": l.fsize_kb,
        "open_files": l.open_files,
        "processes": l.processes,
        "core_kb": l.core_kb,
    });
    let cgroup = match &e.cgroup {
        Some(c) => json!({
            "version": c.version,
            "path": c.path,
            "peak_memory_kb": c.peak_memory_kb,
            "oom_kills": c.oom_kills,
            "oom_source": c.oom_source,
            "pids_max_hits": c.pids_max_hits,
            "pids_source": c.pids_source,
            "nr_throttled": c.nr_throttled,
            "cpu_s": c.cpu_s.map(round3),
            "cpu_source": c.cpu_source,
        }),
        None => Value::Null,
    };
    json!({
        "schema": SCHEMA,
        "box_id": e.box_id,
        "verdict": v.kind,
        "status": v.status,
        "message": v.message,
        "exit": {
            "code": e.exit_code,
            "signal": e.exit_signal,
            "signal_name": e.exit_signal.map(signal_name),
            "exec_errno": e.exec_errno,
        },
        "killed": e.killed.is_some(),
        "kill_reason": e.killed,
        "usage": usage,
        "limits": limits,
        "limits_hit": v.limits_hit,
        "controls": e.controls,
        "cgroup": cgroup,
        "provenance": e.provenance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::spec::Limits;
    use crate::sys::error::StepError;
    use crate::verdict::evidence::{CgroupUsage, CpuUsage, Provenance};

    fn base() -> Evidence {
        Evidence {
            box_id: 0,
            limits: Limits::default(),
            failure: None,
            controls: vec![],
            exec_errno: None,
            executed: true,
            exit_code: Some(0),
            exit_signal: None,
            killed: None,
            cpu: CpuUsage {
                user_s: 0.1,
                sys_s: 0.0,
                total_s: 0.1,
                source: "wait4:rusage".into(),
                ..CpuUsage::default()
            },
            wall_s: 0.2,
            max_rss_kb: 1000,
            max_rss_source: None,
            csw_voluntary: 1,
            csw_forced: 2,
            processes: 1,
            processes_source: Some("test".into()),
            cgroup: None,
            provenance: Provenance {
                rustbox_version: "0".into(),
                kernel: "6".into(),
                strict: true,
                started_at: "a".into(),
                finished_at: "b".into(),
            },
        }
    }

    #[test]
    fn ok_and_re() {
        let e = base();
        let v = verdict(&e);
        assert_eq!((v.kind, v.status, v.exit_status()), (Kind::OK, "OK", 0));
        let m = meta(&e, &v);
        assert!(m.contains("exitcode:0\n") && !m.contains("status:"), "{m}");
        let mut e = base();
        e.exit_code = Some(3);
        let v = verdict(&e);
        assert_eq!((v.kind, v.status, v.exit_status()), (Kind::RE, "RE", 1));
        assert_eq!(v.message, "Exited with error status 3");
        assert!(meta(&e, &v).contains("exitcode:3\nstatus:RE\n"));
    }

    #[test]
    fn signals_sig_and_ole() {
        let mut e = base();
        e.exit_code = None;
        e.exit_signal = Some(11);
        let v = verdict(&e);
        assert_eq!((v.kind, v.status), (Kind::SIG, "SG"));
        assert_eq!(v.message, "Caught fatal signal 11");
        e.exit_signal = Some(libc::SIGXFSZ);
        e.limits.fsize_kb = Some(10);
        let v = verdict(&e);
        assert_eq!((v.kind, v.status), (Kind::OLE, "SG"));
        assert_eq!(v.limits_hit.len(), 1);
        let h = &v.limits_hit[0];
        assert_eq!(
            (h.limit, h.limit_value, h.measured),
            ("file_size", 10.0, None)
        );
        assert_eq!(h.source, "wait4:WTERMSIG=SIGXFSZ");
    }

    /// SIGXFSZ without -f (or with -f 0, which sets no limit) is a signal like
    /// any other: raise(SIGXFSZ) cannot forge OLE.
    #[test]
    fn forged_sigxfsz_is_sig() {
        for fsize in [None, Some(0)] {
            let mut e = base();
            e.exit_code = None;
            e.exit_signal = Some(libc::SIGXFSZ);
            e.limits.fsize_kb = fsize;
            let v = verdict(&e);
            assert_eq!((v.kind, v.status), (Kind::SIG, "SG"), "-f {fsize:?}");
            assert_eq!(v.message, "Caught fatal signal 25");
            assert!(v.limits_hit.is_empty(), "{:?}", v.limits_hit);
            let j = json(&e, &v);
            assert_eq!(j["verdict"], "SIG");
            assert_eq!(j["limits_hit"], serde_json::json!([]));
            assert!(meta(&e, &v).contains("exitsig:25\nstatus:SG\n"));
        }
    }

    /// An OOM kill counts as MLE only under --cg-mem; otherwise the SIGKILL is SIG,
    /// and the meta still says cg-oom-killed (what CMS reads).
    #[test]
    fn oom_kill_without_cg_mem_is_sig() {
        let mut e = base();
        e.exit_code = None;
        e.exit_signal = Some(9);
        e.cgroup = Some(CgroupUsage {
            version: 1,
            oom_kills: 1,
            peak_memory_kb: None,
            oom_source: "memory.oom_control:oom_kill".into(),
            ..Default::default()
        });
        let v = verdict(&e);
        assert_eq!((v.kind, v.status), (Kind::SIG, "SG"));
        assert!(v.limits_hit.is_empty(), "{:?}", v.limits_hit);
        assert!(meta(&e, &v).contains("cg-oom-killed:1"));
        // With the limit: MLE, and no peak read means measured null, not 0.
        e.limits.cg_mem_kb = Some(65536);
        let v = verdict(&e);
        assert_eq!(v.kind, Kind::MLE);
        let h = &v.limits_hit[0];
        assert_eq!(
            (h.limit, h.limit_value, h.measured),
            ("memory", 65536.0, None)
        );
        assert_eq!(json(&e, &v)["limits_hit"][0]["measured"], Value::Null);
    }

    /// A process limit is cited only when -p N set one and pids.events counted.
    #[test]
    fn processes_cited_only_when_set_and_hit() {
        let mut e = base();
        e.cgroup = Some(CgroupUsage {
            version: 1,
            pids_max_hits: 3,
            pids_source: "pids.events:max".into(),
            ..Default::default()
        });
        e.limits.processes = Some(10);
        let v = verdict(&e);
        assert_eq!(v.kind, Kind::OK);
        let h = &v.limits_hit[0];
        assert_eq!(
            (h.limit, h.limit_value, h.measured),
            ("processes", 10.0, Some(3.0))
        );
        e.limits.processes = None;
        assert!(verdict(&e).limits_hit.is_empty());
        e.limits.processes = Some(10);
        e.cgroup.as_mut().unwrap().pids_max_hits = 0;
        assert!(verdict(&e).limits_hit.is_empty());
    }

    /// Time limits decide only when set: a CpuTime kill reason without -t (no
    /// evidence of a limit) is not a time-out.
    #[test]
    fn time_cited_only_when_set() {
        let mut e = base();
        e.cpu.total_s = 100.0;
        e.wall_s = 100.0;
        assert_eq!(verdict(&e).kind, Kind::OK);
        e.exit_code = None;
        e.exit_signal = Some(9);
        e.killed = Some(KillReason::CpuTime);
        let v = verdict(&e);
        assert_eq!(v.kind, Kind::SIG);
        assert!(v.limits_hit.is_empty());
        e.limits.time = Some(1.0);
        let v = verdict(&e);
        assert_eq!(v.kind, Kind::TLE);
        assert_eq!(v.limits_hit[0].measured, Some(100.0));
    }

    #[test]
    fn cpu_tle_beats_everything_but_ie() {
        let mut e = base();
        e.limits.time = Some(1.0);
        e.cpu.total_s = 1.2;
        e.exit_code = None;
        e.exit_signal = Some(9);
        e.killed = Some(KillReason::CpuTime);
        let v = verdict(&e);
        assert_eq!((v.kind, v.status), (Kind::TLE, "TO"));
        assert_eq!(v.message, "Time limit exceeded");
        assert_eq!(v.limits_hit[0].limit, "cpu_time");
        let m = meta(&e, &v);
        assert!(m.contains("killed:1") && !m.contains("exitsig"), "{m}");
        e.failure = Some(StepError::new("x", "y"));
        assert_eq!(verdict(&e).kind, Kind::IE);
    }

    #[test]
    fn tle_reported_even_after_normal_exit_within_extra_time() {
        let mut e = base();
        e.limits.time = Some(1.0);
        e.limits.extra_time = 2.0;
        e.cpu.total_s = 1.5;
        let v = verdict(&e);
        assert_eq!(v.kind, Kind::TLE);
        assert!(!meta(&e, &v).contains("killed"));
    }

    #[test]
    fn wall_tle_message_says_wall() {
        let mut e = base();
        e.limits.wall_time = Some(1.0);
        e.wall_s = 1.01;
        e.killed = Some(KillReason::WallTime);
        let v = verdict(&e);
        assert_eq!(v.kind, Kind::TLE);
        assert!(v.message.contains("wall"));
    }

    #[test]
    fn mle_from_cgroup_oom() {
        let mut e = base();
        e.limits.cg_mem_kb = Some(65536);
        e.exit_code = None;
        e.exit_signal = Some(9);
        e.cgroup = Some(CgroupUsage {
            cpu_s: None,
            cpu_source: String::new(),
            version: 1,
            oom_kills: 1,
            peak_memory_kb: Some(65536),
            oom_source: "memory.oom_control:oom_kill".into(),
            ..Default::default()
        });
        let v = verdict(&e);
        assert_eq!((v.kind, v.status), (Kind::MLE, "SG"));
        let m = meta(&e, &v);
        assert!(
            m.contains("cg-oom-killed:1") && m.contains("cg-mem:65536"),
            "{m}"
        );
        assert!(
            m.contains("exitsig:9\n") && m.contains("message:Caught fatal signal 9\n"),
            "{m}"
        );
    }

    /// A signal to rustbox (SIGTERM, SIGINT, SIGHUP, SIGQUIT) ends the run as
    /// isolate's: SG "Interrupted", exitsig that signal, killed:1, exit status 1.
    #[test]
    fn interrupted_runs_are_isolates_sg() {
        let mut e = base();
        e.exit_code = None;
        e.exit_signal = Some(libc::SIGKILL);
        e.killed = Some(KillReason::Interrupted(libc::SIGTERM));
        let v = verdict(&e);
        assert_eq!((v.kind, v.status, v.exit_status()), (Kind::SIG, "SG", 1));
        assert_eq!(v.message, "Interrupted");
        let m = meta(&e, &v);
        assert!(
            m.contains("exitsig:15\nkilled:1\nstatus:SG\nmessage:Interrupted\n"),
            "{m}"
        );
    }

    /// judge0 and Piston run the program through bash: the OOM killer takes the
    /// child, bash exits 137, and isolate's meta says RE with that exit code
    /// (judge0 shows NZEC), with cg-oom-killed:1. The JSON verdict stays MLE.
    #[test]
    fn oom_inside_a_wrapper_is_isolates_re_with_oom_evidence() {
        let mut e = base();
        e.limits.cg_mem_kb = Some(65536);
        e.exit_code = Some(137);
        e.cgroup = Some(CgroupUsage {
            version: 2,
            oom_kills: 1,
            peak_memory_kb: None,
            oom_source: "memory.events:oom_kill".into(),
            ..Default::default()
        });
        let v = verdict(&e);
        assert_eq!((v.kind, v.status, v.exit_status()), (Kind::MLE, "RE", 1));
        let m = meta(&e, &v);
        for want in [
            "exitcode:137\n",
            "status:RE\n",
            "message:Exited with error status 137\n",
            "cg-oom-killed:1\n",
        ] {
            assert!(m.contains(want), "{want:?} missing:\n{m}");
        }
        // No memory.peak (v2 before 5.19): cg-mem is there all the same.
        assert!(m.contains(&format!("cg-mem:{}\n", e.max_rss_kb)), "{m}");
        assert!(!m.contains("exitsig"), "{m}");
    }

    #[test]
    fn ie_and_json_shape() {
        let mut e = base();
        e.failure = Some(StepError::sys("mount.bind", "/nope", libc::ENOENT));
        e.executed = false;
        e.exit_code = None;
        let v = verdict(&e);
        assert_eq!((v.kind, v.status, v.exit_status()), (Kind::IE, "XX", 2));
        let j = json(&e, &v);
        assert_eq!(j["schema"], SCHEMA);
        assert_eq!(j["verdict"], "IE");
        assert_eq!(j["status"], "XX");
        assert!(j["message"].as_str().unwrap().contains("ENOENT"));
        let m = meta(&e, &v);
        assert!(m.starts_with("status:XX\nmessage:mount.bind"), "{m}");
    }

    #[test]
    fn time_format_truncates_to_ms() {
        assert_eq!(secs3(1.0049), "1.004");
        assert_eq!(secs3(0.0), "0.000");
        assert_eq!(secs3(12.3456), "12.345");
        assert_eq!(secs3(2_147_483.647), "2147483.647");
        assert_eq!(secs3(2_147_484.0), "2147484.000");
        assert_eq!(secs3(4_294_968.0), "4294968.000");
        assert_eq!(secs3(1.0e7), "10000000.000");
        assert_eq!(secs3(f64::MAX), "18446744073709551.615");
        assert_eq!(secs3(f64::NAN), "0.000");
        assert_eq!(secs3(-1.0), "0.000");
    }

    #[test]
    fn a_fatal_signal_has_isolates_words_and_other_failures_their_step() {
        let mut e = base();
        e.failure = Some(crate::supervisor::interrupt::Interrupts::failure(
            libc::SIGABRT,
            "during the run",
        ));
        let v = verdict(&e);
        assert_eq!(v.message, "Sandbox keeper received fatal signal 6");
        // The program ran: isolate's meta has its times even so.
        let m = meta(&e, &v);
        assert!(
            m.contains("time:0.100\n") && m.contains("status:XX\n"),
            "{m}"
        );
        e.failure = Some(StepError::new("mount.bind", "/x: gone"));
        assert_eq!(verdict(&e).message, "mount.bind: /x: gone");
    }
}
