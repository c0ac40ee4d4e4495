//! Evidence: the facts gathered about one run, from the kernel and from the chain's
//! own reports. Immutable once collected; the verdict is computed from it alone.

use crate::error::StepError;
use crate::request::spec::Limits;
use serde::Serialize;

/// One control of the chain (or of the supervisor), as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Control {
    pub name: String,
    pub applied: bool,
    pub verified: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno_name: Option<String>,
}

impl Control {
    pub fn applied(name: &str, verified: bool, detail: impl Into<String>) -> Control {
        Control {
            name: name.into(),
            applied: true,
            verified,
            detail: detail.into(),
            errno: None,
            errno_name: None,
        }
    }

    pub fn failed(e: &StepError) -> Control {
        Control {
            name: e.step.clone(),
            applied: false,
            verified: false,
            detail: e.to_string(),
            errno: e.errno,
            errno_name: e.errno_name().map(String::from),
        }
    }
}

/// Why the supervisor killed the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KillReason {
    CpuTime,
    WallTime,
    /// The supervisor itself received this signal.
    Interrupted(i32),
}

/// CPU time, with where it was measured.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CpuUsage {
    pub user_s: f64,
    pub sys_s: f64,
    pub total_s: f64,
    /// The kernel source of `total_s`, e.g. `wait4:rusage` or `/proc/<pid>/stat`.
    pub source: String,
}

/// What the box's cgroup measured (filled by the cgroup backends).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CgroupUsage {
    pub version: u8,
    pub path: String,
    pub peak_memory_kb: Option<u64>,
    pub oom_kills: u64,
    pub oom_source: String,
    pub pids_max_hits: u64,
    pub pids_source: String,
    pub nr_throttled: u64,
    /// The group's own CPU counter after the run (cpuacct.usage / cpu.stat), beside
    /// the box's task clock in `usage`: it leaves out time stolen by a hypervisor.
    pub cpu_s: Option<f64>,
    pub cpu_source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    pub rustbox_version: String,
    pub kernel: String,
    pub strict: bool,
    pub started_at: String,
    pub finished_at: String,
}

/// Everything known about one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub box_id: u32,
    pub limits: Limits,
    /// A step failed: nothing was executed (or the supervisor failed around it).
    pub failure: Option<StepError>,
    pub controls: Vec<Control>,
    /// Every control applied and execve failed with this errno (isolate: RE, 127).
    pub exec_errno: Option<i32>,
    /// The program ran (execve succeeded).
    pub executed: bool,
    pub exit_code: Option<i32>,
    pub exit_signal: Option<i32>,
    pub killed: Option<KillReason>,
    pub cpu: CpuUsage,
    pub wall_s: f64,
    pub max_rss_kb: u64,
    /// Where `max_rss_kb` comes from; None when it was not measured.
    pub max_rss_source: Option<String>,
    pub csw_voluntary: u64,
    pub csw_forced: u64,
    /// Tasks (processes and threads) the box created; see `processes_source`.
    pub processes: u64,
    /// Where `processes` comes from; None when it was not measured (the box was
    /// killed before its pid 1 could count), and then `processes` is 0.
    pub processes_source: Option<String>,
    pub cgroup: Option<CgroupUsage>,
    pub provenance: Provenance,
}

/// The running kernel's release string.
pub fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// Current UTC time as RFC 3339 with milliseconds.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_millis())
}

fn rfc3339(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_767_225_600, 0), "2026-01-01T00:00:00.000Z");
    }
}
