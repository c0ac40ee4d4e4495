//! The watchdog: from the go until the box ends, the supervisor sleeps in poll(2)
//! on the report pipe, the proxy's pidfd and the signalfd, wakes for each CPU
//! sample and the wall limit, and kills the whole box past a limit or on a
//! signal. It watches at real-time priority (`Priority`), measures by the box's
//! perf task clock where it can (`cpuclock`), and takes signals as isolate does
//! (`interrupt`).

use super::cpuclock::TreeClock;
use super::cputime::{BoxCpu, Measure, CLOCK_LEAD};
use super::interrupt::{self, Interrupts};
use super::launch::Proxy;
use super::RunFacts;
use crate::cgroup::BoxCgroup;
use crate::request::spec::Limits;
use crate::verdict::evidence::{Control, KillReason};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Bounds of the CPU watchdog's sampling interval. The next sample is due when the
/// box could reach the limit at the earliest (CPU left / CPUs it may use), so
/// samples get denser near the limit and the kill overshoots by about a millisecond.
const CPU_SAMPLE_MIN: f64 = 0.001;
const CPU_SAMPLE_MAX: f64 = 0.050;
/// The longest the watch loop sleeps while any limit is set, milliseconds: it
/// re-reads the clocks at least this often, so no limit, however large, turns
/// into a sleep past it (or into a negative, endless, poll timeout).
const WATCH_MAX_MS: i32 = (CPU_SAMPLE_MAX * 1000.0) as i32;

/// How long a kill waits for the program to end before it kills the rest.
const PROGRAM_EXIT_WAIT: Duration = Duration::from_millis(50);

/// Seconds as a Duration, saturating: negative or NaN is zero, too large is
/// `Duration::MAX` (`Duration::from_secs_f64` panics on both).
pub fn duration_of_secs(s: f64) -> Duration {
    if s.is_nan() || s <= 0.0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
    }
}

/// The poll timeout of one turn of the watch loop, milliseconds (-1: no limit
/// to watch, sleep until the box ends or an interrupt). `cpu` is (kill
/// threshold, CPU time measured so far, CPUs the box may use), all seconds;
/// `wall_left` is what is left of the wall limit. Saturating throughout: the
/// result is always in -1 or 0..=WATCH_MAX_MS.
pub fn poll_timeout_ms(cpu: Option<(f64, f64, f64)>, wall_left: Option<Duration>) -> i32 {
    let mut timeout: Option<i32> = None;
    if let Some((kill, used, ncpu)) = cpu {
        // The earliest the box could reach the limit, if it used every CPU it has.
        let next = ((kill - used) / ncpu.max(1.0)).clamp(CPU_SAMPLE_MIN, CPU_SAMPLE_MAX);
        // NaN (from an infinite limit minus an infinite use) clamps to NaN: sample
        // at the longest interval then.
        let ms = if next.is_nan() {
            WATCH_MAX_MS
        } else {
            (next * 1000.0).ceil() as i32
        };
        timeout = Some(ms.clamp(0, WATCH_MAX_MS));
    }
    if let Some(left) = wall_left {
        let ms = left.as_micros().div_ceil(1000).min(WATCH_MAX_MS as u128) as i32;
        timeout = Some(timeout.map_or(ms, |t| t.min(ms)));
    }
    timeout.unwrap_or(-1)
}

/// Wait until one of `fds` (-1: left out) is readable, or `ms` milliseconds pass
/// (-1: no bound); what each one reported. EINTR is a wake-up with nothing
/// reported.
pub fn poll_in(fds: [RawFd; 3], ms: i32) -> std::io::Result<[libc::pollfd; 3]> {
    let mut pfds = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    // SAFETY: poll reads and writes exactly the three pollfds of a live local
    // array, the count given; a closed or negative descriptor is reported in
    // revents (or ignored), not an access to anything else.
    if unsafe { libc::poll(pfds.as_mut_ptr(), 3, ms) } < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
    Ok(pfds)
}

/// The box's CPU clock, opened while the proxy still waits for the go, so it
/// counts everything, and a run's CPU time is measured the same way whether or
/// not it has a limit; and its control. Without it the watchdog reads the
/// tick-based counters: less precise, not weaker.
pub fn open_clock(pid: libc::pid_t, cg: Option<&dyn BoxCgroup>) -> (Option<TreeClock>, Control) {
    match TreeClock::open(pid) {
        Ok(c) => (
            Some(c),
            Control::applied(
                "cpu.clock",
                true,
                "perf task-clock inherited by the whole box (exact, read on demand)",
            ),
        ),
        Err(e) => {
            let counter = if cg.is_some() {
                "cgroup CPU counter"
            } else {
                "/proc tree"
            };
            let detail = format!("{counter} (tick-based, may overshoot by a tick per CPU; {e})");
            (None, Control::applied("cpu.clock", true, detail))
        }
    }
}

/// The watchdog competes for the CPU with the box it watches. While it watches, it
/// runs at the lowest real-time priority (set after the clone, so the box inherits
/// nothing), so its timer wake-ups preempt the box at once and the kill lands
/// within a millisecond or two of the limit; it sleeps in poll(2) between samples,
/// so it takes almost no CPU. Where real-time scheduling is refused (no
/// CAP_SYS_NICE, or a v1 cpu cgroup with no real-time runtime, as a container's
/// gets by default) it falls back to nice -10, and a kill can land a scheduler
/// slice late: the run still holds, and the `watchdog.priority` control says so.
/// Dropping the guard restores the old scheduling, so the work after the run
/// (statistics, handing /box back) does not run at real-time priority.
pub struct Priority {
    policy: libc::c_long,
    param: SchedParam,
    nice: libc::c_int,
    /// Ok: SCHED_FIFO, read back. Err: the errno that refused it.
    realtime: Result<(), i32>,
}

/// The kernel's `struct sched_param`. The calls are made directly: musl's
/// wrappers of the `sched_*scheduler` and `sched_*param` calls answer ENOSYS.
#[repr(C)]
struct SchedParam {
    sched_priority: libc::c_int,
}

impl Priority {
    pub fn raise() -> Priority {
        let mut param = SchedParam { sched_priority: 0 };
        // SAFETY: queries of the calling thread's own scheduling (pid 0);
        // sched_getparam writes only `param`, a live local of the kernel's layout.
        let (policy, nice) = unsafe {
            libc::syscall(libc::SYS_sched_getparam, 0, &mut param as *mut SchedParam);
            (
                libc::syscall(libc::SYS_sched_getscheduler, 0),
                libc::getpriority(libc::PRIO_PROCESS, 0),
            )
        };
        let realtime = set_realtime();
        if realtime.is_err() {
            // SAFETY: changes only the calling process's nice value (who = 0).
            unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -10) };
        }
        Priority {
            policy,
            param,
            nice,
            realtime,
        }
    }

    /// Ok if the watchdog is real-time, else the errno that refused it.
    pub fn realtime(&self) -> Result<(), i32> {
        self.realtime
    }

    /// What the watchdog got, for the evidence: applied when it is real-time.
    pub fn control(&self) -> Control {
        match self.realtime {
            Ok(()) => Control::applied(
                "watchdog.priority",
                true,
                "SCHED_FIFO 1 while the box runs (read back): a CPU-time kill lands within a sample of the limit",
            ),
            Err(errno) => {
                // SAFETY: reads the calling process's own nice value.
                let now = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
                let e = crate::sys::error::StepError::sys(
                    "watchdog.priority",
                    format!(
                        "running at nice {now}, not real-time: a CPU-time kill can land up to a scheduler slice late, the limits still hold (SCHED_FIFO needs CAP_SYS_NICE and, in a v1 cpu cgroup, cpu.rt_runtime_us > 0)"
                    ),
                    errno,
                );
                Control::failed(&e)
            }
        }
    }
}

/// SCHED_FIFO 1 for the calling thread, read back. RESET_ON_FORK keeps it from
/// any process the supervisor starts later.
fn set_realtime() -> Result<(), i32> {
    let rt = SchedParam { sched_priority: 1 };
    // SAFETY: sets the calling thread's policy from a live param of the
    // kernel's layout; reads nothing else.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_sched_setscheduler,
            0,
            libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK,
            &rt as *const SchedParam,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EPERM));
    }
    // SAFETY: a query of the calling thread's own policy.
    let now = unsafe { libc::syscall(libc::SYS_sched_getscheduler, 0) };
    if now < 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    // Set but not in force (something reset it): as good as refused.
    if now & !libc::c_long::from(libc::SCHED_RESET_ON_FORK) != libc::c_long::from(libc::SCHED_FIFO)
    {
        return Err(libc::EPERM);
    }
    Ok(())
}

impl Drop for Priority {
    fn drop(&mut self) {
        // SAFETY: gives the calling thread back its own earlier policy, param and
        // nice value, read by `raise`; touches no memory but `param`'s.
        unsafe {
            if self.policy >= 0 {
                libc::syscall(
                    libc::SYS_sched_setscheduler,
                    0,
                    self.policy,
                    &self.param as *const SchedParam,
                );
            }
            libc::setpriority(libc::PRIO_PROCESS, 0, self.nice);
        }
    }
}

/// Kill the box: every process of its cgroup at once (without waiting for the
/// box's pid 1 to get a CPU), and pid 1 itself, whose death takes down the rest of
/// its pid namespace.
///
/// With a cgroup, the whole group dies at once: nothing of the box may run on past
/// a limit (the other processes of a forking program would, while the kill waited
/// for one of them), and the group's own peak is the box's memory evidence.
///
/// Without one, the program goes first, alone, and the kill waits (up to
/// `PROGRAM_EXIT_WAIT`) until it has ended: the dying pid 1 then reaps it as a
/// zombie, which adds its resource usage (`ru_maxrss`) to pid 1's and so to the
/// supervisor's wait4 of pid 1. Killed together, it would end after pid 1 had set
/// SIGCHLD to be ignored for the namespace's teardown and be reaped without a
/// trace, and a killed run would report no memory use at all.
///
/// Why this is safe here: every signal goes through a pidfd, which names one
/// process for good (the program's is checked to be pid 2 of the box), so no
/// kill can reach a process that reused a pid.
pub fn kill_box(proxy: libc::pid_t, pidfd: &OwnedFd, cg: Option<&dyn BoxCgroup>) {
    match cg {
        Some(c) => c.kill_now(),
        None => {
            if let Some(p) = program_pidfd(proxy) {
                crate::sys::pidfd::kill(&p);
                let ms = PROGRAM_EXIT_WAIT.as_millis() as i32;
                // Readable once the program has ended; a failed poll only
                // shortens the wait.
                let _ = poll_in([p.as_raw_fd(), -1, -1], ms);
            }
        }
    }
    crate::sys::pidfd::kill(pidfd);
}

/// A pidfd of the program: the proxy's first child, pid 2 of the box. None if
/// it is gone (or was never forked).
fn program_pidfd(proxy: libc::pid_t) -> Option<OwnedFd> {
    let kids = crate::sys::fd::read_text(format!("/proc/{proxy}/task/{proxy}/children")).ok()?;
    let pid: libc::pid_t = kids.split_whitespace().next()?.parse().ok()?;
    let fd = crate::sys::pidfd::open(pid)?;
    // The pidfd names one process for good; its fdinfo says which: it must be
    // pid 2 of a namespace below ours (the pid may have been reused meanwhile).
    let info = crate::sys::fd::read_text(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    let nspid: Vec<&str> = info
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .collect();
    (nspid.len() >= 2
        && nspid.first() == Some(&pid.to_string().as_str())
        && nspid.last() == Some(&"2"))
    .then_some(fd)
}

/// The watch from the go (at `start`) until the box ends or is killed. Sets what
/// it saw in `facts` (why the box was killed, a failure, the wall time); returns
/// the box's CPU time as it last measured it beyond the task clock, if it did.
pub fn watch(
    proxy: &mut Proxy,
    cg: Option<&dyn BoxCgroup>,
    interrupts: &Interrupts,
    cpu: &BoxCpu,
    limits: &Limits,
    start: Instant,
    facts: &mut RunFacts,
) -> Option<Measure> {
    let mut w = Watch {
        proxy,
        cg,
        interrupts,
        cpu,
        kill_cpu: limits.time.map(|t| t.max(limits.extra_time)),
        wall: limits.wall_time.map(duration_of_secs),
        ncpu: cpus_allowed(),
        start,
        pace: 0.0,
        measured: None,
    };
    while !w.turn(facts) {}
    facts.wall_s = start.elapsed().as_secs_f64();
    w.measured
}

/// How many CPUs the supervisor (and so the box) may run on: its affinity mask.
/// (std's `available_parallelism` reads the mount table and cgroup files for a
/// CPU quota as well, which the wake-up schedule does not need: a quota only
/// makes the box's CPU time grow slower.)
fn cpus_allowed() -> f64 {
    // SAFETY: cpu_set_t is a plain bitmask, for which all zeroes is a value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: sched_getaffinity writes at most `size` bytes into `set`, a live
    // local; CPU_COUNT only reads it.
    let n = unsafe {
        match libc::sched_getaffinity(0, size, &mut set) {
            0 => libc::CPU_COUNT(&set),
            _ => 1,
        }
    };
    f64::from(n.max(1))
}

struct Watch<'a> {
    proxy: &'a mut Proxy,
    cg: Option<&'a dyn BoxCgroup>,
    interrupts: &'a Interrupts,
    cpu: &'a BoxCpu<'a>,
    /// The CPU time past which the box is killed, seconds: max(-t, -x).
    kill_cpu: Option<f64>,
    wall: Option<Duration>,
    ncpu: f64,
    start: Instant,
    /// The CPU time the next sample is paced from, seconds.
    pace: f64,
    /// The box's CPU time as last measured beyond the task clock.
    measured: Option<Measure>,
}

impl Watch<'_> {
    /// One turn: sleep until something happens or a sample is due, then check
    /// everything afresh. True when the watch is over.
    fn turn(&mut self, facts: &mut RunFacts) -> bool {
        let wall_left = self.wall.map(|w| w.saturating_sub(self.start.elapsed()));
        let cpu = self.kill_cpu.map(|k| (k, self.pace, self.ncpu));
        let timeout = poll_timeout_ms(cpu, wall_left);
        let report = &self.proxy.report;
        let report_fd = if report.at_eof() { -1 } else { report.raw_fd() };
        let fds = [
            report_fd,
            self.proxy.pidfd.as_raw_fd(),
            self.interrupts.raw_fd(),
        ];
        // A failed poll is a wake-up like any other: every condition below is
        // checked afresh, and the next timeout is computed again.
        let pfds = poll_in(fds, timeout).unwrap_or_default();
        (pfds[0].revents != 0 && self.report_lost(facts))
            || pfds[1].revents != 0
            || (pfds[2].revents != 0 && self.interrupted(facts))
            || self.past_wall(facts)
            || self.past_cpu(facts)
    }

    fn kill(&self, facts: &mut RunFacts, reason: Option<KillReason>) -> bool {
        kill_box(self.proxy.pid, &self.proxy.pidfd, self.cg);
        if reason.is_some() {
            facts.killed = reason;
        }
        true
    }

    /// Take what the report pipe holds; a read error loses records, and the box
    /// cannot be shown to run under them: killed, and the run fails.
    fn report_lost(&mut self, facts: &mut RunFacts) -> bool {
        let Err(e) = self.proxy.report.fill() else {
            return false;
        };
        facts.controls.push(Control::failed(&e));
        facts.failure = Some(e);
        self.kill(facts, None)
    }

    /// A signal to rustbox: the box is killed for it (meta killed:1); an
    /// interrupt is isolate's SG "Interrupted", a fatal signal a failure (XX).
    fn interrupted(&self, facts: &mut RunFacts) -> bool {
        let Some(sig) = self.interrupts.pending() else {
            return false;
        };
        if !interrupt::is_interrupt(sig) {
            let e = Interrupts::failure(sig, "during the run");
            facts.controls.push(Control::failed(&e));
            facts.failure = Some(e);
        }
        self.kill(facts, Some(KillReason::Interrupted(sig)))
    }

    fn past_wall(&self, facts: &mut RunFacts) -> bool {
        match self.wall {
            Some(w) if self.start.elapsed() >= w => self.kill(facts, Some(KillReason::WallTime)),
            _ => false,
        }
    }

    /// Past the CPU limit by the box's CPU time (`cputime`). The task clock is
    /// read first: it is behind that time by a millisecond at most (`cputime`),
    /// so while it is under the limit by its lead nothing else is read. Past it,
    /// the box's time decides: where the scheduler's count has every task, a
    /// hypervisor's steal is not charged to the box.
    fn past_cpu(&mut self, facts: &mut RunFacts) -> bool {
        let Some(k) = self.kill_cpu else {
            return false;
        };
        let clock = self.cpu.clock_s();
        if let Some(c) = clock.filter(|c| c - CLOCK_LEAD <= k) {
            self.pace = c - CLOCK_LEAD;
            return false;
        }
        let m = self.cpu.live(clock);
        self.pace = m.seconds - m.lead;
        let past = m.past(k);
        self.measured = Some(m);
        past && self.kill(facts, Some(KillReason::CpuTime))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The poll timeout never goes negative (an endless poll: the watchdog would
    /// never sample) nor past WATCH_MAX_MS, for every time option at its
    /// boundaries: 0, tiny, isolate's int-milliseconds edge (2147483.647 s), where
    /// a millisecond count wraps i32 (2147484 s) and u32 (4294967.296 s), and the
    /// largest value the command line takes (1e7 s).
    #[test]
    fn poll_timeout_saturates_at_every_boundary() {
        let edges = [
            0.0,
            0.000_001,
            0.001,
            1.0,
            2_147_483.647,
            2_147_484.0,
            4_294_967.0,
            4_294_968.0,
            1.0e7,
            f64::MAX,
            f64::INFINITY,
        ];
        for &w in &edges {
            let left = Some(duration_of_secs(w));
            let t = poll_timeout_ms(None, left);
            assert!((0..=WATCH_MAX_MS).contains(&t), "-w {w}: timeout {t}");
            if w >= 1.0 {
                assert_eq!(t, WATCH_MAX_MS, "-w {w}");
            }
            for &k in &edges {
                for used in [0.0, 0.5, k, 2.0e7] {
                    let t = poll_timeout_ms(Some((k, used, 2.0)), left);
                    assert!(
                        (0..=WATCH_MAX_MS).contains(&t),
                        "-t {k} -w {w} used {used}: timeout {t}"
                    );
                    let t = poll_timeout_ms(Some((k, used, 2.0)), None);
                    assert!((1..=WATCH_MAX_MS).contains(&t), "-t {k}: {t}");
                }
            }
        }
        // The case of the report: -t 1 -w 3000000 samples the CPU every 50 ms at
        // most, not never.
        let t = poll_timeout_ms(Some((1.0, 0.0, 2.0)), Some(duration_of_secs(3.0e6)));
        assert_eq!(t, WATCH_MAX_MS);
        // Near the CPU limit the samples get denser; near the wall limit too.
        assert_eq!(poll_timeout_ms(Some((1.0, 0.968_75, 1.0)), None), 32);
        assert_eq!(poll_timeout_ms(None, Some(Duration::from_micros(2_500))), 3);
        assert_eq!(poll_timeout_ms(None, Some(Duration::ZERO)), 0);
        // Nothing to watch: sleep until the box ends.
        assert_eq!(poll_timeout_ms(None, None), -1);
        assert_eq!(duration_of_secs(-1.0), Duration::ZERO);
        assert_eq!(duration_of_secs(f64::NAN), Duration::ZERO);
        assert_eq!(duration_of_secs(f64::INFINITY), Duration::MAX);
        assert_eq!(duration_of_secs(1.5), Duration::from_millis(1500));
    }
}
