//! The supervisor: creates the box's namespaces, watches CPU and wall time, kills
//! the whole box, and collects the evidence.
//!
//! Processes:
//! ```text
//! supervisor (caller's process, root)
//!   └─ proxy: pid 1 of the box's pid namespace; PDEATHSIG=SIGKILL; reaps orphans,
//!      │        reports the payload's wait status and rusage over a pipe
//!      └─ payload: runs the type-state chain (`chain::contain`), then execve
//! ```
//! Killing the proxy kills the box: when a pid namespace's init dies, the kernel
//! SIGKILLs every process in it, and the proxy's exit waits until they are gone.
//!
//! The order is in one place, [`run`]; each concern has its file, with its proxy
//! half and its supervisor half: `launch` (pipes, clone3, the abort before the
//! go), `namespaces` (flags, and their check from outside; `ipcns`, `timens`,
//! `pidns` one kernel primitive each), `proxy` (pid 1 of the box), `watchdog`
//! (the poll loop, its priority, the kill, signals `interrupt`), the box's CPU
//! time `cputime` (of the task clock `cpuclock` and the machine's `steal`), `collect` (what the pipes carried, into RunFacts). What the
//! processes tell each other is `crate::supervisor::messages`.

pub mod collect;
pub mod cpuclock;
pub mod cputime;
pub mod interrupt;
pub mod ipcns;
pub mod keeper;
pub mod launch;
pub mod messages;
pub mod namespaces;
pub mod netns_home;
pub mod pidns;
pub mod proxy;
pub mod steal;
pub mod timens;
pub mod watchdog;

pub use crate::supervisor::messages::PayloadStatus;

use crate::cgroup::BoxCgroup;
use crate::plan::ContainPlan;
use crate::request::spec::Limits;
use crate::sys::error::StepError;
use crate::verdict::evidence::{Control, CpuUsage, KillReason};
use cpuclock::TreeClock;
use interrupt::Interrupts;
use launch::Proxy;
use std::time::Instant;

/// Raw facts of one run, before they become Evidence.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    pub controls: Vec<Control>,
    pub failure: Option<StepError>,
    pub exec_errno: Option<i32>,
    pub executed: bool,
    pub status: Option<PayloadStatus>,
    pub killed: Option<KillReason>,
    pub cpu: CpuUsage,
    pub wall_s: f64,
    /// `ru_maxrss` of the proxy from the supervisor's wait4, KiB: the largest
    /// resident set of the proxy and of every process it reaped.
    pub proxy_maxrss_kb: Option<u64>,
    /// The proxy ended without reporting the program's end (and the supervisor
    /// killed nothing): a failure unless the box's cgroup saw an OOM kill.
    pub status_lost: Option<StepError>,
}

/// Run the plan in a new box and watch it. Setup failures of the supervisor itself
/// are returned as Err; everything after the clone is in RunFacts. `terminal`
/// (--tty-hack, when the plan takes the caller's terminal) is given back as soon
/// as nothing of the box is left, however the run ended.
pub fn run(
    plan: &ContainPlan,
    limits: &Limits,
    cg: Option<&dyn BoxCgroup>,
    interrupts: &Interrupts,
    terminal: Option<&crate::sys::tty::Saved>,
) -> Result<RunFacts, StepError> {
    if let Some(sig) = interrupts.pending() {
        return Err(Interrupts::failure(sig, "before the box started"));
    }
    let mut proxy = launch::start(plan, cg)?;
    // The machine's steal from here, read while pid 1 takes its own steps.
    let steal = steal::StealMeter::start();
    let priority = watchdog::Priority::raise();
    let mut facts = RunFacts::default();
    // The proxy waits for the go: nothing of the box has run yet, and every
    // failure until the go kills it.
    let clock = match check_before_go(&mut proxy, cg, interrupts, &mut facts) {
        Ok(clock) => clock,
        Err(e) => return Err(proxy.abort(cg, e)),
    };
    facts.controls.push(priority.control());
    let cpu = cputime::BoxCpu::new(clock.as_ref(), cg, proxy.pid, limits.processes, steal);
    let start = Instant::now();
    if let Err(e) = proxy.go() {
        return Err(proxy.abort(cg, e));
    }
    let measured = watchdog::watch(&mut proxy, cg, interrupts, &cpu, limits, start, &mut facts);
    drop(priority);
    collect::collect(proxy, cg, terminal, &cpu, measured, &mut facts)?;
    Ok(facts)
}

/// What the supervisor checks from outside while the proxy waits for the go, and
/// the proxy's own report; the box's CPU clock, opened meanwhile. The controls in
/// the order of the evidence: the cgroup, the namespaces, the clock, the proxy's.
fn check_before_go(
    proxy: &mut Proxy,
    cg: Option<&dyn BoxCgroup>,
    interrupts: &Interrupts,
    facts: &mut RunFacts,
) -> Result<Option<TreeClock>, StepError> {
    let timeout = proxy::PROXY_READY_TIMEOUT;
    let mut namespaces = match namespaces::verify(proxy.pid, &proxy.net) {
        Ok(c) => c,
        // Pid 1 may be gone because one of its own steps failed: then its
        // report names that step, the cause; the namespaces' check only saw
        // that it was gone.
        Err(e) => {
            return Err(
                proxy::await_proxy(&mut proxy.report, &proxy.pidfd, interrupts, timeout)
                    .err()
                    .unwrap_or(e),
            )
        }
    };
    let (clock, clock_control) = watchdog::open_clock(proxy.pid, cg);
    let own = proxy::await_proxy(&mut proxy.report, &proxy.pidfd, interrupts, timeout)?;
    namespaces::verify_time_namespace(proxy.pid, &mut namespaces)?;
    if let Some(c) = cg {
        facts.controls.push(proxy.verify_cgroup(c)?);
    }
    facts.controls.push(namespaces);
    facts.controls.push(clock_control);
    facts.controls.extend(own);
    Ok(clock)
}
