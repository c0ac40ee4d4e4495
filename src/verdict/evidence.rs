//! Evidence: the facts gathered about one run, from the kernel and from the chain's
//! own reports. Immutable once collected; the verdict is computed from it alone.

use crate::request::spec::Limits;
use crate::supervisor::{PayloadStatus, RunFacts};
use crate::sys::error::StepError;
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
    /// The kernel source of `total_s`, e.g. `cpuacct.usage` or `perf:task-clock`.
    pub source: String,
    /// The box's perf task clock at the end (time on a CPU as the guest sees it,
    /// hypervisor steal included); None without that clock.
    pub task_clock_s: Option<f64>,
    /// The machine's steal during the run, at most (every CPU, every task);
    /// None if /proc/stat could not be read.
    pub steal_max_s: Option<f64>,
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

/// Where `max_rss_kb` comes from when the proxy reported the program's end.
pub const MAX_RSS_SOURCE: &str =
    "wait4(program): ru_maxrss of the program and the children it waited for";
/// ... and when the box was killed before it could (a watchdog kill): the
/// supervisor's own wait4 of the box's pid 1, whose exit reaped every process of
/// the box into it.
pub const MAX_RSS_SOURCE_KILLED: &str =
    "wait4(box pid 1): ru_maxrss of the proxy and every process it reaped (the box was killed)";

/// How `usage.processes` is counted.
pub const PROCESSES_SOURCE: &str = "pid namespace: ns_last_pid - 1 (processes and threads)";

impl Evidence {
    /// The evidence of a run not started yet: which box, under which limits, by
    /// which rustbox on which kernel, from now.
    pub fn new(box_id: u32, limits: &Limits) -> Evidence {
        Evidence {
            box_id,
            limits: limits.clone(),
            failure: None,
            controls: Vec::new(),
            exec_errno: None,
            executed: false,
            exit_code: None,
            exit_signal: None,
            killed: None,
            cpu: CpuUsage::default(),
            wall_s: 0.0,
            max_rss_kb: 0,
            max_rss_source: None,
            csw_voluntary: 0,
            csw_forced: 0,
            processes: 0,
            processes_source: None,
            cgroup: None,
            provenance: Provenance {
                rustbox_version: crate::VERSION.into(),
                kernel: kernel_release(),
                strict: true,
                started_at: now_rfc3339(),
                finished_at: String::new(),
            },
        }
    }

    /// A step failed: its control, and the run's failure unless one came first.
    pub fn fail(&mut self, e: StepError) {
        self.controls.push(Control::failed(&e));
        self.failure.get_or_insert(e);
    }

    /// The run is over: nothing more is added.
    pub fn finish(&mut self) {
        self.provenance.finished_at = now_rfc3339();
    }

    /// What the supervisor saw of the run, and what the box's cgroup measured.
    /// A cgroup that could not be read fails the run (after the rest is in).
    pub fn absorb(
        &mut self,
        mut facts: RunFacts,
        cgroup: Option<Result<CgroupUsage, StepError>>,
    ) -> Result<(), StepError> {
        self.controls.append(&mut facts.controls);
        self.failure = facts.failure.take();
        self.exec_errno = facts.exec_errno;
        self.executed = facts.executed;
        self.killed = facts.killed;
        self.cpu = std::mem::take(&mut facts.cpu);
        self.wall_s = facts.wall_s;
        match facts.status {
            Some(st) => self.program_ended(&st),
            None if self.killed.is_some() => self.box_killed(facts.proxy_maxrss_kb),
            None => {}
        }
        if let Some(measured) = cgroup {
            self.cgroup_measured(measured?, &mut facts.status_lost);
        }
        if let Some(e) = facts.status_lost.take() {
            self.fail(e);
        }
        Ok(())
    }

    /// The proxy's report of how the program ended and what it used.
    fn program_ended(&mut self, st: &PayloadStatus) {
        let ws = st.wait_status;
        if libc::WIFEXITED(ws) {
            self.exit_code = Some(libc::WEXITSTATUS(ws));
        } else if libc::WIFSIGNALED(ws) {
            self.exit_signal = Some(libc::WTERMSIG(ws));
        }
        self.max_rss_kb = st.maxrss_kb;
        self.max_rss_source = Some(MAX_RSS_SOURCE.into());
        self.csw_voluntary = st.nvcsw;
        self.csw_forced = st.nivcsw;
        if let Some(t) = st.tasks {
            self.processes = t;
            self.processes_source = Some(PROCESSES_SOURCE.into());
        }
    }

    /// A box the watchdog killed before its pid 1 could report: SIGKILL, and the
    /// peak memory the supervisor's own wait4 of pid 1 saw.
    fn box_killed(&mut self, proxy_maxrss_kb: Option<u64>) {
        self.exit_signal = Some(libc::SIGKILL);
        if let Some(kb) = proxy_maxrss_kb {
            self.max_rss_kb = kb;
            self.max_rss_source = Some(MAX_RSS_SOURCE_KILLED.into());
        }
    }

    /// The cgroup's counters. The box's time stays what the supervisor measured
    /// (`supervisor::cputime`: the cgroup's count where the task clock has steal
    /// in it, the same measure the watchdog kills by); the cgroup's own counter
    /// is reported beside it.
    fn cgroup_measured(&mut self, usage: CgroupUsage, status_lost: &mut Option<StepError>) {
        if usage.oom_kills > 0 && status_lost.take().is_some() {
            // The cgroup's OOM killer took the box's pid 1 (and so the box): a
            // kill, with the cgroup's evidence, not a failure of rustbox.
            self.exit_signal = Some(libc::SIGKILL);
        }
        self.cgroup = Some(usage);
    }
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
