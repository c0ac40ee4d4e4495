//! After the box has ended: reap its pid 1, give the terminal back, and turn what
//! the pipes carried (the chain's records, the payload's status) and the clocks
//! into RunFacts.

use super::cputime::{BoxCpu, Measure};
use super::launch::Proxy;
use super::RunFacts;
use crate::cgroup::BoxCgroup;
use crate::supervisor::messages::{Message, PayloadStatus, Reader};
use crate::sys::error::StepError;
use crate::sys::tty::Saved;
use crate::verdict::evidence::{Control, CpuUsage};

/// Everything left to learn once the watch is over. `measured` is the box's CPU
/// time as the watchdog last measured it beyond the task clock.
pub fn collect(
    mut proxy: Proxy,
    cg: Option<&dyn BoxCgroup>,
    terminal: Option<&Saved>,
    cpu: &BoxCpu,
    measured: Option<Measure>,
    facts: &mut RunFacts,
) -> Result<(), StepError> {
    let proxy_end = proxy.reap();
    // The box's pid 1 is gone, and with it every process of the box: the
    // terminal goes back to the caller now (its control is listed after the
    // box's own below).
    let restored = terminal.map(Saved::restore);
    if let Some(c) = cg {
        // The proxy's exit killed its namespace; make sure the cgroup agrees.
        c.kill_all()?;
    }
    for pipe in [&mut proxy.report, &mut proxy.status] {
        read_to_end(pipe, facts);
    }
    facts.status = payload_status(&mut proxy.status);
    if let Some(end) = &proxy_end {
        let ws = end.wait_status;
        facts.proxy_maxrss_kb = Some(end.maxrss_kb);
        if facts.status.is_none() && facts.killed.is_none() && facts.failure.is_none() {
            // The program ended, but its end was never reported: the proxy lost
            // the write, or something outside killed it (the cgroup's OOM killer:
            // the caller weighs that evidence).
            facts.status_lost = Some(StepError::new(
                "proxy.status",
                format!(
                    "the proxy's report of the program's end was lost (proxy {})",
                    describe_wait(ws)
                ),
            ));
        }
    }
    let sealed = chain_records(&mut proxy.report, facts);
    program_ran(sealed, facts);
    // After the program's own: a terminal not given back fails the run (XX), but
    // the program's evidence stays as it was.
    match restored {
        Some(Ok((verified, detail))) => {
            facts
                .controls
                .push(Control::applied("tty.restore", verified, detail))
        }
        Some(Err(e)) => fail(facts, e),
        None => {}
    }
    let reaped = proxy_end.map(|end| end.cpu_s);
    facts.cpu = cpu_usage(facts.status, cpu, reaped, measured, &mut facts.controls);
    Ok(())
}

/// A failure of the run, listed with the controls; the first one is the run's.
fn fail(facts: &mut RunFacts, e: StepError) {
    facts.controls.push(Control::failed(&e));
    facts.failure.get_or_insert(e);
}

/// Whatever the pipe still holds; nothing more is written to it (everything of
/// the box is dead). A read error is a failure: records may be lost.
fn read_to_end(pipe: &mut Reader, facts: &mut RunFacts) {
    if let Err(e) = pipe.fill() {
        fail(facts, e);
    }
    pipe.end();
}

/// The payload's status: the one message on the status pipe. None if there is
/// none, or anything else is there.
fn payload_status(pipe: &mut Reader) -> Option<PayloadStatus> {
    match (pipe.next_line().and_then(|l| l.message), pipe.next_line()) {
        (Some(Message::Status(s)), None) => Some(s),
        _ => None,
    }
}

/// The chain's records into controls; whether the chain reached seccomp, the
/// last step before execve.
fn chain_records(report: &mut Reader, facts: &mut RunFacts) -> bool {
    let mut sealed = false;
    while let Some(line) = report.next_line() {
        match line.message {
            Some(Message::Ok {
                step,
                verified,
                detail,
            }) => {
                sealed |= step == "seccomp";
                facts
                    .controls
                    .push(Control::applied(&step, verified, detail));
            }
            Some(Message::Err(e)) => fail(facts, e),
            Some(Message::ExecFailed { errno, program }) => {
                facts.exec_errno = Some(errno);
                facts.controls.push(Control {
                    name: "exec".into(),
                    applied: false,
                    verified: false,
                    detail: format!("execve(\"{program}\") failed"),
                    errno: Some(errno),
                    errno_name: Some(crate::sys::error::errno_name(errno).into()),
                });
            }
            // A garbled or cut record, or one that has no place here: whatever
            // it said is lost.
            _ => {
                let e = StepError::new(
                    "supervisor.report",
                    format!("a record from the box could not be read: {:?}", line.text),
                );
                fail(facts, e);
            }
        }
    }
    sealed
}

/// Sealed and no failed execve: the program ran, even if the run failed later
/// (a fatal signal to rustbox): its times go into the meta, as isolate's do.
fn program_ran(sealed: bool, facts: &mut RunFacts) {
    if facts.exec_errno.is_some() {
        return;
    }
    if sealed {
        facts.executed = true;
        facts.controls.push(Control::applied(
            "exec",
            true,
            "execve succeeded (report pipe closed on exec)",
        ));
    } else if facts.killed.is_none() && facts.failure.is_none() {
        facts.failure = Some(StepError::new(
            "chain",
            "the box ended before reporting every step (no seccomp record)",
        ));
    }
}

/// The box's CPU time (`cputime`), now that everything in it is dead: what the
/// box's clocks give now, or what the watchdog measured if that is more (a
/// kill's measure, so a kill is never before the limit by the evidence). The
/// task clock and the steal beside it are the readings the time was made of.
/// User and system time are the program's own (its rusage, with the children
/// it waited for). A steal that cannot be read is listed with the controls.
fn cpu_usage(
    status: Option<PayloadStatus>,
    cpu: &BoxCpu,
    reaped_s: Option<f64>,
    measured: Option<Measure>,
    controls: &mut Vec<Control>,
) -> CpuUsage {
    let (u, s) = status.map_or((0.0, 0.0), |st| {
        (st.utime_us as f64 / 1e6, st.stime_us as f64 / 1e6)
    });
    // The program's rusage is in the proxy's (it reaped the program); the
    // larger covers a lost wait4 of the proxy.
    let reaped = reaped_s.map_or(u + s, |r| r.max(u + s));
    let (mut total, steal_error) = cpu.at_end(reaped);
    if let Some(e) = steal_error {
        controls.push(Control::failed(&e));
    }
    if let Some(m) = measured.filter(|m| m.seconds > total.seconds) {
        total = m;
    }
    CpuUsage {
        user_s: u,
        sys_s: s,
        total_s: total.seconds,
        source: total.source,
        task_clock_s: total.clock_s,
        steal_max_s: total.stolen_s,
    }
}

fn describe_wait(ws: i32) -> String {
    if libc::WIFEXITED(ws) {
        format!("exited with {}", libc::WEXITSTATUS(ws))
    } else if libc::WIFSIGNALED(ws) {
        format!("killed by signal {}", libc::WTERMSIG(ws))
    } else {
        format!("wait status {ws:#x}")
    }
}
