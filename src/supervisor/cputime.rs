//! The box's CPU time as the limit and the verdict count it: the time the
//! scheduler gave the box's tasks, which leaves out what a hypervisor stole.
//!
//! - The perf task clock (`cpuclock`) is exact and current, but it counts the
//!   time stolen from a vCPU while a task of the box was on it.
//! - The scheduler's count leaves steal out, as isolate's does. It lags by up to
//!   a scheduler tick per running thread while the box runs, and is exact once
//!   the box is dead. With `--cg` it is the cgroup's counter, which has every
//!   task of the box. Without, it is the box's processes as /proc and their
//!   process CPU clocks show them while it runs, and the supervisor's wait4 of
//!   pid 1 at the end (every process of the box was reaped into it); both miss a
//!   child reaped by nobody (its parent ignored SIGCHLD), so they have every
//!   task only where the box cannot make a second one (`-p 1`, isolate's
//!   default).
//!
//! The box's time is the scheduler's count where that count has every task and
//! the kernel accounts steal (`steal`: /proc/stat has ever shown any, or cannot
//! be read). Otherwise it is the task clock, and the count is not read: on bare
//! metal the clock is exact; without a cgroup and with `-p` above 1 it is the
//! time steal and all, because a count that can miss a process would let a
//! program use CPU nobody charges.
//!
//! The task clock is behind the scheduler's count by no more than what it cannot
//! see, about a millisecond on a real machine: the proxy's steps before it is
//! opened, and the end of each exit after the task's counter is folded in
//! (where time is emulated, as in a TCG VM, the two drift apart by a few %). So
//! while it is under a limit by `CLOCK_LEAD`, the scheduler's count is not past
//! it by `SCHED_LEAD`, and nothing else needs to be read (`watchdog`).

use super::cpuclock::{self, TreeClock};
use super::steal::StealMeter;
use crate::cgroup::BoxCgroup;
use crate::sys::error::StepError;

/// How far past the limit the measure must be before the kill, seconds, by the
/// task clock: enough for the ms-rounded evidence and the counters that leave
/// out IRQ time (cpuacct, cpu.stat, rusage, on kernels that account it) to be
/// past the limit too.
pub const CLOCK_LEAD: f64 = 0.002;
/// ... and by the scheduler's count, which is the evidence itself: enough for
/// the ms-rounded evidence to show the limit passed.
pub const SCHED_LEAD: f64 = 0.001;

/// The scheduler's count of the box.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedCount {
    pub seconds: f64,
    pub source: String,
    /// It has every task of the box (see the module's notes).
    pub complete: bool,
}

/// The box's CPU time, the count that gave it, and the readings beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub seconds: f64,
    pub source: String,
    /// How far past a limit `seconds` must be for the kill (see the leads).
    pub lead: f64,
    /// The task clock as read for this measure.
    pub clock_s: Option<f64>,
    /// The machine's steal since the start, at most, as read for this measure.
    pub stolen_s: Option<f64>,
}

impl Measure {
    pub fn past(&self, limit: f64) -> bool {
        self.seconds - self.lead > limit
    }
}

/// The box's time from its clocks: `sched` reads the scheduler's count (only
/// where it can decide), `clock` is the task clock, `stolen` the machine's
/// steal since the start (None: unknown).
pub fn measure(
    sched: impl FnOnce() -> Option<SchedCount>,
    clock: Option<f64>,
    stolen: Option<f64>,
) -> Measure {
    let of_sched = |s: SchedCount| Measure {
        seconds: s.seconds,
        source: s.source,
        lead: SCHED_LEAD,
        clock_s: clock,
        stolen_s: stolen,
    };
    let Some(c) = clock else {
        return sched().map(of_sched).unwrap_or(Measure {
            seconds: 0.0,
            source: "none".into(),
            lead: SCHED_LEAD,
            clock_s: None,
            stolen_s: stolen,
        });
    };
    let by_clock = Measure {
        seconds: c,
        source: cpuclock::SOURCE.into(),
        lead: CLOCK_LEAD,
        clock_s: clock,
        stolen_s: stolen,
    };
    if stolen == Some(0.0) {
        return by_clock;
    }
    match sched() {
        Some(s) if s.complete => of_sched(s),
        _ => by_clock,
    }
}

/// The box's clocks, from the go on.
pub struct BoxCpu<'a> {
    clock: Option<&'a TreeClock>,
    cg: Option<&'a dyn BoxCgroup>,
    proxy: libc::pid_t,
    /// The box can make no task besides its program (`-p 1`).
    single_task: bool,
    steal: StealMeter,
}

impl<'a> BoxCpu<'a> {
    /// The box's clocks; `processes` is its `-p`, `steal` read before the go.
    pub fn new(
        clock: Option<&'a TreeClock>,
        cg: Option<&'a dyn BoxCgroup>,
        proxy: libc::pid_t,
        processes: Option<u64>,
        steal: StealMeter,
    ) -> BoxCpu<'a> {
        BoxCpu {
            clock,
            cg,
            proxy,
            single_task: processes == Some(1),
            steal,
        }
    }

    /// The task clock now: behind the box's CPU time by a millisecond at most.
    pub fn clock_s(&self) -> Option<f64> {
        self.clock.and_then(TreeClock::seconds)
    }

    /// The machine's steal since the start, at most.
    pub fn stolen_s(&self) -> Result<f64, StepError> {
        self.steal.stolen_at_most()
    }

    /// The cgroup's count, if it can be read; its error otherwise.
    fn of_cgroup(&self) -> Option<Result<SchedCount, StepError>> {
        self.cg.map(|c| {
            c.cpu_seconds().map(|seconds| SchedCount {
                seconds,
                source: c.cpu_source().into(),
                complete: true,
            })
        })
    }

    /// While the box runs (`clock` just read): the cgroup's count, or the /proc
    /// walk of the box's processes where there is no cgroup or it cannot be read
    /// (the read is tried again at the next sample, and the end fails the run
    /// if the group is unreadable then).
    /// A walk that can miss a process is not taken where the clock is there: the
    /// clock is the time then (`measure`), and the walk would only cost the
    /// kill its time.
    pub fn live(&self, clock: Option<f64>) -> Measure {
        let sched = || match self.of_cgroup() {
            Some(Ok(s)) => Some(s),
            _ if !self.single_task && clock.is_some() => None,
            _ => Some(SchedCount {
                seconds: crate::sys::procfs::tree_cpu_seconds(self.proxy),
                source: format!("/proc/{}:tree", self.proxy),
                complete: self.single_task,
            }),
        };
        measure(sched, clock, self.stolen_s().ok())
    }

    /// Once the box is dead: the cgroup's count, or what the wait4 of pid 1
    /// says every process of the box used (`reaped_s`). Returns the error of a
    /// steal that could not be read, for the evidence.
    pub fn at_end(&self, reaped_s: f64) -> (Measure, Option<StepError>) {
        let sched = || match self.of_cgroup() {
            Some(Ok(s)) => Some(s),
            _ => Some(SchedCount {
                seconds: reaped_s,
                source: "wait4(box pid 1):rusage".into(),
                complete: self.single_task,
            }),
        };
        let (stolen, err) = match self.stolen_s() {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        };
        (measure(sched, self.clock_s(), stolen), err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cg(s: f64) -> impl FnOnce() -> Option<SchedCount> {
        move || {
            Some(SchedCount {
                seconds: s,
                source: "cpuacct.usage".into(),
                complete: true,
            })
        }
    }

    fn walk(s: f64, complete: bool) -> impl FnOnce() -> Option<SchedCount> {
        move || {
            Some(SchedCount {
                seconds: s,
                source: "/proc/7:tree".into(),
                complete,
            })
        }
    }

    /// Where no steal is accounted the count is not read at all.
    #[test]
    fn without_steal_the_count_is_not_read() {
        let unread = || -> Option<SchedCount> { panic!("the count was read") };
        assert_eq!(measure(unread, Some(0.2), Some(0.0)).seconds, 0.2);
    }

    /// Found on this project's VM: 0.509 s on the task clock, 0.342 s in the
    /// cgroup, 0.339 s of wall time for three workers on (at most) one CPU's
    /// quota. The box had 0.342 s, not 0.509 s.
    #[test]
    fn stolen_time_is_not_the_box_s() {
        let m = measure(cg(0.342), Some(0.509), Some(0.19));
        assert_eq!((m.seconds, m.source.as_str()), (0.342, "cpuacct.usage"));
        assert!(
            !m.past(0.5),
            "killed at 0.342 s of CPU for a limit of 0.5 s"
        );
        // The readings beside it are the ones it was made of.
        assert_eq!((m.clock_s, m.stolen_s), (Some(0.509), Some(0.19)));
        // An unreadable steal does not make the box pay for it either.
        assert_eq!(measure(cg(0.342), Some(0.509), None).seconds, 0.342);
        // -p 1 without a cgroup: the walk has every task.
        assert_eq!(
            measure(walk(0.342, true), Some(0.509), Some(0.19)).seconds,
            0.342
        );
    }

    /// Without steal the task clock is the measure, as exact as before, and a
    /// kill by it still leads the ms-rounded evidence.
    #[test]
    fn without_steal_the_task_clock_decides() {
        let m = measure(cg(0.497), Some(0.503), Some(0.0));
        assert_eq!((m.seconds, m.source.as_str()), (0.503, "perf:task-clock"));
        assert!(m.past(0.5));
        assert!(!measure(cg(0.497), Some(0.5015), Some(0.0)).past(0.5));
        // The scheduler's count ahead of the clock (the proxy's own steps, or
        // an emulated machine's drift): the clock is still the time.
        assert_eq!(measure(cg(0.546), Some(0.503), Some(0.0)).seconds, 0.503);
    }

    /// A count that can miss a process (no cgroup, -p above 1: a child reaped by
    /// nobody leaves no trace in the walk or the wait4) never lowers the time
    /// below the task clock: no CPU goes uncharged, steal or not.
    #[test]
    fn a_count_that_can_miss_a_process_never_undercuts_the_clock() {
        for stolen in [Some(0.0), Some(0.5), None] {
            let m = measure(walk(0.1, false), Some(2.0), stolen);
            assert_eq!((m.seconds, m.source.as_str()), (2.0, "perf:task-clock"));
            assert!(m.past(1.9));
        }
    }

    /// No clock at all: the scheduler's count alone; nothing: zero, named.
    #[test]
    fn without_the_clock_the_count_alone() {
        let m = measure(walk(0.4, false), None, Some(0.3));
        assert_eq!((m.seconds, m.source.as_str()), (0.4, "/proc/7:tree"));
        assert_eq!(measure(|| None, None, None).source, "none");
    }
}
