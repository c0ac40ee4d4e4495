//! The proxy: pid 1 of the box's pid namespace. Its half (`main`): its own steps,
//! reported in one write; the go; the start of the payload, which runs the chain;
//! then reaping every process until the payload ends, and the payload's status.
//! The supervisor's half (`await_proxy`): wait, bounded, for the proxy's report.
//!
//! Killing the proxy kills the box: when a pid namespace's init dies, the kernel
//! SIGKILLs every process in it.

use super::interrupt::Interrupts;
use super::launch::ProxyEnds;
use super::pidns::LastPid;
use crate::cgroup::SelfAttach;
use crate::chain::{self, Reporter};
use crate::plan::ContainPlan;
use crate::supervisor::messages::{write_all, Message, PayloadStatus, Reader, Sender};
use crate::sys::error::StepError;
use crate::verdict::evidence::Control;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// The proxy's exit status when it could not report (the supervisor reads it
/// from wait4 and says so in the evidence).
const PROXY_LOST_STATUS: libc::c_int = 3;

/// How long the supervisor waits for the proxy's first records (its own steps
/// take well under a millisecond; this only bounds a proxy that hangs).
pub const PROXY_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// End the proxy (or the payload before it runs anything of the program).
fn exit_now(code: libc::c_int) -> ! {
    // SAFETY: _exit ends the process at once; no destructor runs, so none of
    // the supervisor's objects copied into this process is dropped here.
    unsafe { libc::_exit(code) }
}

/// The proxy, right after the clone. Never returns: the proxy ends in `_exit`, so
/// nothing of the supervisor's code runs in it after this.
///
/// Why this is safe here: the proxy is root, with every capability, in the box's
/// new namespaces but still on the host's root and /proc. It runs nothing of the
/// box's: its own steps are fixed, the program is exec'd only by the payload at
/// the end of the chain (which drops everything first), and the proxy never
/// reads what the box writes, only the payload's wait status.
pub fn main(plan: &ContainPlan, cgroup: Option<SelfAttach>, ends: ProxyEnds) -> ! {
    let keep = [
        ends.go.as_raw_fd(),
        ends.report.as_raw_fd(),
        ends.status.as_raw_fd(),
    ];
    let report = Sender::new(ends.report, "proxy.report");
    // Every step of ours, then one write of their records: the supervisor waits
    // for it (bounded, and ended by our death) before it sends the go. A write
    // that fails cannot be reported either: the supervisor sees the pipe close
    // (or us die) without the `proxy` record, and the run is IE.
    let prepared = prepare(&report, cgroup, &keep, plan.inherit_fds);
    let sent = match &prepared {
        Ok(()) => report.flush(),
        Err(e) => report.send(&Message::Err(e.clone())),
    };
    // End-of-file on the go pipe: the supervisor died before the go (and before
    // PDEATHSIG was armed, possibly).
    if prepared.is_err() || sent.is_err() || Reader::new(ends.go).wait() != Some(Message::Go) {
        exit_now(1);
    }
    // How many tasks the box creates: pids of a fresh pid namespace are handed out
    // in order from 1 (ours), and ns_last_pid reads the last one of the reader's
    // namespace. Opened now, while the host's /proc is still in our mount
    // namespace; read once the payload is gone.
    let last_pid = LastPid::open();
    let start = PayloadStart {
        plan,
        report: report.as_raw_fd(),
        not_its: [
            Some(ends.status.as_raw_fd()),
            last_pid.as_ref().map(LastPid::as_raw_fd),
        ],
    };
    // Back here once the payload has exec'd the program (or ended).
    let payload = spawn(&report, &start);
    // The payload holds the report pipe now; the supervisor reads end-of-file
    // when the payload's execve closes it.
    drop(report);
    let status = Sender::new(ends.status, "proxy.status");
    let code = match status.send(&Message::Status(reap_until(payload, last_pid))) {
        Ok(()) => 0,
        // The supervisor reads this exit status and reports the loss.
        Err(_) => PROXY_LOST_STATUS,
    };
    exit_now(code)
}

/// The proxy's own steps, before the program exists: each checked and read back,
/// its record queued on `report`, the `proxy` one last.
fn prepare(
    report: &Sender,
    cgroup: Option<SelfAttach>,
    keep: &[RawFd],
    inherit_fds: bool,
) -> Result<(), StepError> {
    die_with_the_supervisor()?;
    // The supervisor blocks its termination signals and ignores SIGPIPE; the box
    // starts with neither.
    super::interrupt::reset_all()?;
    // Into the box's cgroup (v1) before anything of the box runs; the supervisor
    // checks the membership from outside.
    if let Some(c) = cgroup {
        c.join()?;
        report.queue(&Message::ok("cgroup.attach", false, ""));
    }
    // Nothing of the supervisor's may reach the box: its lock, its signalfd, its
    // directories.
    let closed = if inherit_fds {
        let n = close_supervisor_fds(keep)?;
        format!("{n} descriptors of the supervisor closed (the box lock among them)")
    } else {
        close_all_but(keep)?;
        format!(
            "every descriptor above 2 but its {} pipes closed by close_range: the \
             supervisor's (the box lock among them) and the caller's (no --inherit-fds)",
            keep.len()
        )
    };
    report.queue(&Message::ok("proxy.fds", true, closed));
    not_dumpable()?;
    // Our cwd must not pin a host directory: pivot_root moves "/" users along.
    // SAFETY: chdir reads a static NUL-terminated path and changes nothing else.
    if unsafe { libc::chdir(c"/".as_ptr()) } < 0 {
        return Err(StepError::last_os("proxy.chdir", "chdir /"));
    }
    // Root, writing kernel settings: the IPC sysctls act on the box's own IPC
    // namespace only (`ipcns`), the clock offsets on the new time namespace of
    // our children only (`timens`). Both are read back.
    report.queue(&Message::ok("ipc.limits", true, super::ipcns::limit()?));
    report.queue(&Message::ok(
        "namespace.time",
        true,
        super::timens::for_children()?,
    ));
    report.queue(&Message::ok(
        "proxy",
        true,
        "pid 1 of the box: PR_GET_PDEATHSIG = SIGKILL, PR_GET_DUMPABLE = 0, every signal \
         at its default action and none blocked (read back), cwd /; reaps orphans",
    ));
    Ok(())
}

/// PR_SET_PDEATHSIG SIGKILL, read back: the box dies with the supervisor.
fn die_with_the_supervisor() -> Result<(), StepError> {
    // SAFETY: prctl with constant integer arguments. The supervisor is
    // single-threaded, so the "parent thread" PDEATHSIG watches is the
    // supervisor itself, not a thread that could end first.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } < 0 {
        return Err(StepError::last_os("proxy.pdeathsig", "PR_SET_PDEATHSIG"));
    }
    let mut sig: libc::c_int = 0;
    // SAFETY: PR_GET_PDEATHSIG stores one int through the pointer, a live local.
    let rc = unsafe {
        libc::prctl(
            libc::PR_GET_PDEATHSIG,
            &mut sig as *mut libc::c_int,
            0,
            0,
            0,
        )
    };
    if rc < 0 || sig != libc::SIGKILL {
        return Err(StepError::new(
            "proxy.pdeathsig",
            format!("PR_GET_PDEATHSIG reads {sig}"),
        ));
    }
    Ok(())
}

/// Not dumpable, read back: the payload (another uid anyway) cannot ptrace or
/// read us.
fn not_dumpable() -> Result<(), StepError> {
    crate::sys::dumpable::clear("proxy.dumpable")
}

/// Without --inherit-fds the box needs none of the caller's descriptors either
/// (the payload marks every one above 2 close-on-exec before its execve), so
/// every descriptor above 2 but `keep` is closed, by close_range around the kept
/// ones: no listing of /proc/self/fd, whose first read in a new process costs
/// about 0.1 ms of pid 1's path here. What the box holds after it is read back
/// by the payload's own listing (`chain::fds::verify`), of a copy of this table.
fn close_all_but(keep: &[RawFd]) -> Result<(), StepError> {
    let mut kept: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd > 2)
        .collect();
    kept.sort_unstable();
    let mut from = 3u32;
    for k in kept {
        if from < k {
            close_range(from, k - 1)?;
        }
        from = k.saturating_add(1);
    }
    close_range(from, u32::MAX)
}

/// close_range(first, last, 0).
fn close_range(first: u32, last: u32) -> Result<(), StepError> {
    // SAFETY: close_range closes descriptors only. The objects that own them
    // (OwnedFd, File) are the supervisor's, copied into this process by the
    // clone; the proxy never uses them and ends in `_exit`, so none is used or
    // dropped after this.
    if unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) } < 0 {
        return Err(StepError::last_os(
            "proxy.fds",
            format!("close_range({first}, {last})"),
        ));
    }
    Ok(())
}

/// Close every descriptor the supervisor opened for itself (its own are all
/// close-on-exec: the box lock, the signalfd, the result files' directories, a
/// cgroup directory), but `keep`: the box's processes must not hold the box's lock
/// (a judge's `--cleanup` right after the run would find the box busy) or any
/// other descriptor of the supervisor. The caller's own descriptors (not
/// close-on-exec) stay, for `--inherit-fds`. Returns how many were closed.
fn close_supervisor_fds(keep: &[RawFd]) -> Result<usize, StepError> {
    let names = crate::boxdir::walk::list(std::path::Path::new("/proc/self/fd"), "proxy.fds")?;
    let mut closed = 0;
    for fd in names
        .iter()
        .filter_map(|n| n.to_str()?.parse::<RawFd>().ok())
    {
        if fd <= 2 || keep.contains(&fd) {
            continue;
        }
        // SAFETY: F_GETFD only reads the descriptor's flags; the listing's own
        // descriptor, closed by now, gives EBADF.
        let fl = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if fl < 0 || fl & libc::FD_CLOEXEC == 0 {
            continue;
        }
        // SAFETY: the objects that own these descriptors (OwnedFd, File) are the
        // supervisor's, copied into this process by the clone; the proxy never
        // uses them and ends in `_exit`, so none is used or dropped after this.
        if unsafe { libc::close(fd) } < 0 {
            return Err(StepError::last_os("proxy.fds", format!("close {fd}")));
        }
        closed += 1;
    }
    Ok(closed)
}

/// What the payload starts from, in pid 1's memory.
struct PayloadStart<'a> {
    plan: &'a ContainPlan,
    /// Its end of the report pipe (the descriptor's number in its own table).
    report: RawFd,
    /// pid 1's own descriptors, which the payload closes first: the status pipe
    /// and `ns_last_pid`.
    not_its: [Option<RawFd>; 2],
}

/// Start the payload; its pid, once it has exec'd the program or ended (or at
/// once, where it is forked). A failed start ends the proxy, reported on
/// `report` if it can be.
///
/// The payload runs the chain in pid 1's memory until its execve, pid 1
/// waiting (`sys::vfork`): no copy of pid 1's pages to make or to write into.
/// Why that is safe here: pid 1 is single-threaded and does nothing until the
/// payload's execve or exit, and then only what it did after a fork (close its
/// end of the report pipe, reap, report the status); the chain, rustbox's own
/// code, is all that runs in the shared memory, and the program it execs has
/// memory of its own. Every step of the chain acts on the payload's own task:
/// credentials, capabilities, no_new_privs, seccomp, Landlock, rlimits,
/// descriptors, root and cwd are not shared with pid 1 (clone without
/// CLONE_THREAD, CLONE_FILES, CLONE_FS). The memory is not dumpable (pid 1's
/// `not_dumpable`, a property of the memory; the chain sets it again right
/// after its uid change, which sets it to `fs.suid_dumpable`), so no process
/// of the box's uid can read or trace the payload before its execve; pid 1
/// checks it once more when it goes on. While the chain runs, pid 1 is in
/// `D` (the clone's wait), as the load average and `ps` show.
///
/// Before Linux 6.2 the clone is refused (EINVAL: our children get a new
/// time namespace, and such a clone may not share our memory): the payload is
/// forked then, as before.
fn spawn(report: &Sender, start: &PayloadStart) -> libc::pid_t {
    // SAFETY: pid 1 is single-threaded; `payload_entry` ends in execve or
    // `_exit` and uses only `start` and what pid 1 holds.
    let pid = match unsafe { crate::sys::vfork::spawn(payload_entry, start) } {
        Ok(pid) => pid,
        Err((_, e)) if e.raw_os_error() == Some(libc::EINVAL) => return fork(report, start),
        Err((what, e)) => fail_to_start(report, what, &e),
    };
    // SAFETY: single-threaded, and the payload has left this memory (its
    // execve or exit came before the clone returned); no allocation is under way.
    unsafe { crate::sys::alloc::reclaim_after_shared_child() };
    // The payload's uid change made the memory dumpable if `fs.suid_dumpable`
    // says so, and the chain made it not dumpable again; it must be so now.
    if not_dumpable().is_err() {
        // The box dies with us; the supervisor reports the loss.
        exit_now(PROXY_LOST_STATUS);
    }
    pid
}

/// Fork the payload (kernels that refuse `spawn`'s clone).
fn fork(report: &Sender, start: &PayloadStart) -> libc::pid_t {
    // SAFETY: fork in a single-threaded process: the child is a copy of it with
    // no lock held by another thread; it runs only the chain and ends in execve
    // or `_exit`.
    match unsafe { libc::fork() } {
        0 => payload_entry(start),
        pid if pid > 0 => pid,
        _ => fail_to_start(report, "fork", &std::io::Error::last_os_error()),
    }
}

/// A payload that could not be started: the run ends here, no program, no
/// seccomp record; reported if it can be.
fn fail_to_start(report: &Sender, what: &str, e: &std::io::Error) -> ! {
    let e = StepError::io("proxy.fork", format!("start the payload: {what}"), e);
    let code = match report.send(&Message::Err(e)) {
        Ok(()) => 1,
        Err(_) => PROXY_LOST_STATUS,
    };
    exit_now(code)
}

/// The payload's first steps: none of pid 1's own descriptors, then the chain.
fn payload_entry(start: &PayloadStart) -> ! {
    // SAFETY: the payload's own copy of the report pipe's descriptor; it ends
    // in execve (close-on-exec) or `_exit`, so nothing else closes it here.
    let report = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(start.report) };
    let rep = Reporter::new(report);
    for fd in start.not_its.into_iter().flatten() {
        // SAFETY: closes the payload's copy of the descriptor (its table is its
        // own); pid 1's objects that own it are never dropped here.
        if unsafe { libc::close(fd) } < 0 {
            let e = StepError::last_os("proxy.fork", format!("close pid 1's descriptor {fd}"));
            exit_now(match rep.err(&e) {
                Ok(()) => 126,
                Err(_) => 125,
            });
        }
    }
    payload_main(start.plan, rep)
}

/// The payload: the chain, then execve. Never returns.
fn payload_main(plan: &ContainPlan, rep: Reporter) -> ! {
    let code = match chain::contain(plan, &rep) {
        Ok(errno) => {
            let msg = format!(
                "execve(\"{}\"): {}\n",
                plan.program.to_string_lossy(),
                std::io::Error::from_raw_os_error(errno)
            );
            // The program's stderr, as isolate does; the record of the
            // failure is already with the supervisor.
            match write_all(2, msg.as_bytes(), "exec.message") {
                Ok(()) => 127,
                Err(_) => 124,
            }
        }
        Err(e) => match rep.err(&e) {
            Ok(()) => 126,
            // Not even the failure reached the supervisor: it sees the
            // chain end without a seccomp record, and nothing was run.
            Err(_) => 125,
        },
    };
    exit_now(code)
}

/// Reap everything until the payload ends; its status. The proxy's exit then
/// kills whatever else is left in the namespace.
fn reap_until(payload: libc::pid_t, last_pid: Option<LastPid>) -> PayloadStatus {
    loop {
        let mut st: libc::c_int = 0;
        // SAFETY: rusage is plain integers, for which all zeroes is a value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 for any child writes only the two locals it is given.
        let w = unsafe { libc::wait4(-1, &mut st, libc::__WALL, &mut ru) };
        if w < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            exit_now(2);
        }
        if libc::WIFSTOPPED(st) {
            // A program that made us its tracer (PTRACE_TRACEME) and stopped: we
            // are nobody's debugger. Detach, passing the signal on, and wait on.
            // SAFETY: PTRACE_DETACH of a stopped tracee of ours touches no memory
            // of this process; a failure (it is gone) leaves nothing to undo.
            unsafe { libc::ptrace(libc::PTRACE_DETACH, w, 0, libc::WSTOPSIG(st)) };
            continue;
        }
        if w == payload {
            let tasks = last_pid.as_ref().and_then(LastPid::read);
            return status_of(st, &ru, tasks.map(|n| n.saturating_sub(1)));
        }
    }
}

/// The payload's end as the proxy's wait4 saw it.
fn status_of(wait_status: i32, ru: &libc::rusage, tasks: Option<u64>) -> PayloadStatus {
    let us = |t: libc::timeval| {
        (t.tv_sec.max(0) as u64)
            .saturating_mul(1_000_000)
            .saturating_add(t.tv_usec.max(0) as u64)
    };
    PayloadStatus {
        wait_status,
        utime_us: us(ru.ru_utime),
        stime_us: us(ru.ru_stime),
        maxrss_kb: ru.ru_maxrss as u64,
        nvcsw: ru.ru_nvcsw as u64,
        nivcsw: ru.ru_nivcsw as u64,
        tasks,
    }
}

/// The supervisor's half: wait for the proxy's records of its own steps, up to
/// the `proxy` one. Bounded: it ends with an error when the proxy dies (its
/// pidfd), closes the pipe, reports a failure, a termination signal arrives, or
/// `timeout` passes. Returns the proxy's controls; what came after them stays in
/// `report`.
pub fn await_proxy(
    report: &mut Reader,
    pidfd: &OwnedFd,
    interrupts: &Interrupts,
    timeout: Duration,
) -> Result<Vec<Control>, StepError> {
    let deadline = Instant::now() + timeout;
    let mut controls = Vec::new();
    let mut dead = false;
    loop {
        let eof = report.fill()?;
        while let Some(line) = report.next_line() {
            match line.message {
                // The supervisor's own check names it.
                Some(Message::Ok { step, .. }) if step == "cgroup.attach" => {}
                Some(Message::Ok {
                    step,
                    verified,
                    detail,
                }) => {
                    controls.push(Control::applied(&step, verified, detail));
                    if step == "proxy" {
                        return Ok(controls);
                    }
                }
                Some(Message::Err(e)) => return Err(e),
                _ => {
                    return Err(StepError::new(
                        "proxy.ready",
                        format!("unexpected record from the proxy: {:?}", line.text),
                    ))
                }
            }
        }
        if eof || dead {
            return Err(StepError::new(
                "proxy.ready",
                "the proxy ended before reporting its own steps",
            ));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(StepError::new(
                "proxy.ready",
                format!(
                    "no report from the proxy within {} s",
                    timeout.as_secs_f64()
                ),
            ));
        }
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        let fds = [report.raw_fd(), pidfd.as_raw_fd(), interrupts.raw_fd()];
        let pfds = super::watchdog::poll_in(fds, ms)
            .map_err(|e| StepError::io("proxy.ready", "poll", &e))?;
        if pfds[2].revents != 0 {
            if let Some(sig) = interrupts.pending() {
                return Err(Interrupts::failure(sig, "before the box started"));
            }
        }
        // The proxy is gone: read what it wrote, once more, then give up.
        dead = pfds[1].revents != 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::messages::write_all;

    /// A child to stand in for the proxy, and a pidfd of it.
    fn stand_in(args: &[&str]) -> (std::process::Child, OwnedFd) {
        let child = std::process::Command::new(args[0])
            .args(&args[1..])
            .spawn()
            .unwrap();
        let fd = crate::sys::pidfd::open(child.id() as i32).unwrap();
        (child, fd)
    }

    fn report_pipe() -> (Reader, OwnedFd) {
        let (r, w) = super::super::launch::pipe(true).unwrap();
        (Reader::new(r), w)
    }

    /// A proxy that never reports (its write lost, the pipe held open) no longer
    /// hangs the supervisor: the wait ends at its bound.
    #[test]
    fn waiting_for_a_silent_proxy_is_bounded() {
        let intr = Interrupts::block().unwrap();
        let (mut r, _w) = report_pipe();
        let (mut child, pidfd) = stand_in(&["sleep", "10"]);
        let t = Instant::now();
        let e = await_proxy(&mut r, &pidfd, &intr, Duration::from_millis(300)).unwrap_err();
        let took = t.elapsed();
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(e.step, "proxy.ready", "{e}");
        assert!(e.detail.contains("within"), "{e}");
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(3),
            "{took:?}"
        );
    }

    /// A proxy that dies without a word ends the wait at once, even while the
    /// pipe's write end is still open elsewhere.
    #[test]
    fn waiting_ends_when_the_proxy_dies() {
        let intr = Interrupts::block().unwrap();
        let (mut r, _w) = report_pipe();
        let (mut child, pidfd) = stand_in(&["true"]);
        let t = Instant::now();
        let e = await_proxy(&mut r, &pidfd, &intr, Duration::from_secs(20)).unwrap_err();
        child.wait().unwrap();
        assert!(e.detail.contains("ended before"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }

    /// The proxy's records up to its `proxy` one are its controls; a failure it
    /// reports is the run's failure; a closed pipe without them is one too.
    #[test]
    fn the_proxy_reports_its_steps_or_its_failure() {
        let intr = Interrupts::block().unwrap();
        let (mut child, pidfd) = stand_in(&["sleep", "10"]);
        let (mut r, w) = report_pipe();
        let text = "ok\tcgroup.attach\t0\t\nok\tipc.limits\t1\tx\nok\tproxy\t1\ty\n";
        write_all(w.as_raw_fd(), text.as_bytes(), "t").unwrap();
        let c = await_proxy(&mut r, &pidfd, &intr, Duration::from_secs(5)).unwrap();
        let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["ipc.limits", "proxy"]);
        assert!(r.next_line().is_none());

        let (mut r, w) = report_pipe();
        let text = "ok\tipc.limits\t1\tx\nerr\tnamespace.time\t1\tunshare(CLONE_NEWTIME)\n";
        write_all(w.as_raw_fd(), text.as_bytes(), "t").unwrap();
        let e = await_proxy(&mut r, &pidfd, &intr, Duration::from_secs(5)).unwrap_err();
        assert_eq!(
            (e.step.as_str(), e.errno),
            ("namespace.time", Some(libc::EPERM))
        );

        let (mut r, w) = report_pipe();
        write_all(w.as_raw_fd(), b"ok\tipc.limits\t1\tx\n", "t").unwrap();
        drop(w);
        let e = await_proxy(&mut r, &pidfd, &intr, Duration::from_secs(5)).unwrap_err();
        assert!(e.detail.contains("ended before"), "{e}");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// What the proxy sends after its own steps (the chain's records) stays in
    /// the reader for the supervisor's collection; a message of another pipe is
    /// no record of the proxy.
    #[test]
    fn the_chains_records_stay_for_later() {
        let intr = Interrupts::block().unwrap();
        let (mut child, pidfd) = stand_in(&["sleep", "10"]);
        let (mut r, w) = report_pipe();
        write_all(
            w.as_raw_fd(),
            b"ok\tproxy\t1\ty\nok\tmount.private\t1\tz\n",
            "t",
        )
        .unwrap();
        await_proxy(&mut r, &pidfd, &intr, Duration::from_secs(5)).unwrap();
        let next = r.next_line().unwrap();
        assert_eq!(next.message, Some(Message::ok("mount.private", true, "z")));

        let (mut r, w) = report_pipe();
        write_all(w.as_raw_fd(), b"go\n", "t").unwrap();
        let e = await_proxy(&mut r, &pidfd, &intr, Duration::from_secs(5)).unwrap_err();
        assert_eq!(e.step, "proxy.ready");
        assert!(e.detail.contains("\"go\""), "{e}");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
