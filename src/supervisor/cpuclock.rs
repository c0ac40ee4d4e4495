//! A precise CPU clock for the whole box: a perf software counter
//! (`PERF_COUNT_SW_TASK_CLOCK`) opened on the box's pid 1 with `inherit`, so every
//! process and thread it creates gets a child counter, and reading the parent sums
//! them all, running ones included, to the nanosecond (exited children are folded
//! in when they exit).
//!
//! Why: the kernel's other CPU-time counters (cgroup `cpuacct.usage` and
//! `cpu.stat`, `/proc/<pid>/stat`) charge a running task only at scheduler ticks,
//! so they lag by up to one tick per busy CPU (4 ms at HZ=250); a watchdog reading
//! them kills a multi-threaded spinner 10 ms or more past its limit. Reading a perf
//! counter brings the count up to date on the CPU that runs the task.
//!
//! The counter is opened before the box runs anything (the proxy waits for the
//! go), and only the supervisor holds it. It counts time a hypervisor stole
//! from a vCPU while a task of the box was on it, which the box never had:
//! `supervisor::cputime` turns it, the scheduler's count and the machine's steal
//! into the box's CPU time, which the watchdog kills by and the evidence
//! reports (`usage.cpu_s`); the clock itself is beside it (`usage.task_clock_s`).

use crate::sys::error::StepError;
use std::os::fd::{AsRawFd, OwnedFd};

/// `struct perf_event_attr` up to `PERF_ATTR_SIZE_VER0` plus the flag word: the
/// fields this counter needs. The kernel accepts any size from VER0 (64 bytes) on.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    /// Bit 1: inherit. Bits are in the kernel's order (disabled is bit 0).
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    bp_addr: u64,
}

const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_COUNT_SW_TASK_CLOCK: u64 = 1;
const FLAG_DISABLED: u64 = 1;
const FLAG_INHERIT: u64 = 1 << 1;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;

/// How the evidence names this clock.
pub const SOURCE: &str = "perf:task-clock";

pub struct TreeClock {
    fd: OwnedFd,
}

/// A task clock of `pid` (0: the caller) with these flags.
fn task_clock(pid: libc::pid_t, flags: u64) -> Result<OwnedFd, StepError> {
    let attr = PerfEventAttr {
        type_: PERF_TYPE_SOFTWARE,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: PERF_COUNT_SW_TASK_CLOCK,
        flags,
        ..Default::default()
    };
    // SAFETY: perf_event_open reads the live `attr`, of the size it claims,
    // and returns a new descriptor or -1, which `owned` takes as the contract
    // says; on any CPU (-1), no group (-1).
    unsafe {
        crate::sys::fd::owned(
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const PerfEventAttr,
                pid,
                -1,
                -1,
                PERF_FLAG_FD_CLOEXEC,
            ),
            "cpuclock",
            format_args!("perf_event_open(task-clock, flags {flags:#x}) on pid {pid}"),
        )
    }
}

impl TreeClock {
    /// Count the CPU time of `pid` and of everything it creates from now on.
    pub fn open(pid: libc::pid_t) -> Result<TreeClock, StepError> {
        let fd = task_clock(pid, FLAG_INHERIT)?;
        Ok(TreeClock { fd })
    }

    /// CPU seconds of the whole tree so far; None if the read fails.
    pub fn seconds(&self) -> Option<f64> {
        let mut ns = 0u64;
        // SAFETY: read(2) writes at most 8 bytes into `ns`, a live u64.
        let n = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                (&mut ns as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
        (n == 8).then(|| ns as f64 / 1e9)
    }
}

/// A disabled task clock of the calling process, which counts nothing: while any
/// task-bound counter exists the kernel keeps its perf scheduling hooks switched
/// on, so the next `TreeClock::open` does not have to switch them on, which waits
/// for an RCU grace period (5 to 20 ms here after a quiet second). The clock
/// keeper (`supervisor::keeper`) holds one between runs.
pub fn hold_scheduling_hooks() -> Result<OwnedFd, StepError> {
    task_clock(0, FLAG_DISABLED)
}
