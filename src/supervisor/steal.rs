//! Time a hypervisor took from this machine's CPUs: the `steal` column of
//! `/proc/stat`, read when the box starts and whenever the watchdog or the
//! evidence needs a bound on it.
//!
//! Why: the box's perf task clock (`cpuclock`) counts the time its tasks were on
//! a CPU as the guest sees it, and a vCPU the host has descheduled still has the
//! box's task on it, so stolen time is in that clock. The scheduler's own counts
//! (cgroup, rusage, what isolate reports) leave it out. A kill or a verdict by the
//! task clock alone would charge a program for time it never had.
//!
//! A kernel that has never shown any steal (bare metal, or a hypervisor without
//! steal accounting) is taken at its word: nothing is stolen, and the task clock
//! is the box's time (`cputime`). Otherwise the bound is the evidence's
//! `usage.steal_max_s`, which shows how much of the task clock may be steal.

use crate::sys::error::StepError;

/// One reading: total steal over all CPUs, ticks; how many CPUs were listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub ticks: u64,
    pub cpus: u64,
}

/// The steal at the box's start, to measure from.
pub struct StealMeter {
    start: Result<Reading, StepError>,
    tick_s: f64,
}

impl StealMeter {
    /// Read the steal now: the box's runs from here.
    pub fn start() -> StealMeter {
        StealMeter {
            start: read(),
            tick_s: 1.0 / crate::sys::procfs::ticks_per_second(),
        }
    }

    /// At most this much CPU time was stolen from the machine (all its CPUs,
    /// all tasks, so from the box too) since `start`, seconds. Err: unknown
    /// (`/proc/stat` unreadable at either end), and the error says why.
    pub fn stolen_at_most(&self) -> Result<f64, StepError> {
        let start = self.start.clone()?;
        Ok(upper_bound(start, read()?, self.tick_s))
    }
}

/// The upper bound of the time stolen between two readings, seconds; none at
/// all where neither reading shows any steal ever (a kernel that does not
/// account it). The column is the sum over the CPUs in USER_HZ ticks, floored
/// once, and the kernel adds each CPU's steal at that CPU's scheduler tick: so
/// the ticks between the readings, one more for the floor, and one per CPU for
/// the kernel tick each may not have added yet (a USER_HZ tick, 10 ms, is at
/// least a kernel tick).
pub fn upper_bound(start: Reading, now: Reading, tick_s: f64) -> f64 {
    if start.ticks == 0 && now.ticks == 0 {
        return 0.0;
    }
    let ticks = now.ticks.saturating_sub(start.ticks) + 1 + start.cpus.max(now.cpus);
    ticks as f64 * tick_s
}

/// The `cpu` line of `/proc/stat`: its eighth number is steal; the `cpuN`
/// lines count the CPUs.
pub fn parse(stat: &str) -> Option<Reading> {
    let mut ticks = None;
    let mut cpus = 0;
    for line in stat.lines() {
        let mut f = line.split_ascii_whitespace();
        match f.next() {
            Some("cpu") => ticks = f.nth(7)?.parse().ok(),
            Some(name) if name.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    Some(Reading {
        ticks: ticks?,
        cpus,
    })
}

fn read() -> Result<Reading, StepError> {
    let path = "/proc/stat";
    let text = crate::sys::fd::read_text(path)
        .map_err(|e| StepError::io("cpu.steal", format!("read {path}"), &e))?;
    parse(&text).ok_or_else(|| {
        StepError::new(
            "cpu.steal",
            format!("{path} has no steal column on its \"cpu\" line"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  10 0 20 300 4 0 1 59 0 0\n\
                        cpu0 5 0 10 150 2 0 1 30 0 0\n\
                        cpu1 5 0 10 150 2 0 0 29 0 0\n\
                        intr 1 2 3\nctxt 5\n";

    #[test]
    fn the_steal_column_and_the_cpus_are_read() {
        assert_eq!(parse(STAT), Some(Reading { ticks: 59, cpus: 2 }));
        // A kernel too old for the column, or a garbled file: no reading.
        assert_eq!(parse("cpu  1 2 3 4 5 6 7\ncpu0 1 2 3 4 5 6 7\n"), None);
        assert_eq!(parse("intr 1\n"), None);
    }

    #[test]
    fn the_bound_adds_a_tick_per_cpu_where_steal_is_accounted() {
        let at = |ticks, cpus| Reading { ticks, cpus };
        // Never any steal: none now.
        assert_eq!(upper_bound(at(0, 2), at(0, 2), 0.01), 0.0);
        // Steal accounted, none seen during the run: still the floor and a
        // tick per CPU.
        assert!((upper_bound(at(59, 2), at(59, 2), 0.01) - 0.03).abs() < 1e-12);
        // 17 ticks seen on 2 CPUs: at most 20.
        assert!((upper_bound(at(59, 2), at(76, 2), 0.01) - 0.20).abs() < 1e-12);
        // The first steal ever, during the run.
        assert!((upper_bound(at(0, 2), at(3, 2), 0.01) - 0.06).abs() < 1e-12);
        // A garbled later reading that is lower: no negative steal.
        assert!((upper_bound(at(59, 2), at(30, 2), 0.01) - 0.03).abs() < 1e-12);
    }
}
