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

pub mod cpuclock;
pub mod interrupt;
pub mod ipcns;
pub mod pidns;
pub mod timens;

use crate::cgroup::{BoxCgroup, Entry, SelfAttach};
use crate::chain::{self, ContainPlan, Reporter};
use crate::error::StepError;
use crate::evidence::{Control, CpuUsage, KillReason};
use crate::messages::{write_all, Message, Reader, Sender};
use crate::request::spec::Limits;
use crate::supervisor::interrupt::Interrupts;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Namespaces every box gets; the network one unless --share-net.
pub const NAMESPACES: &[(libc::c_int, &str)] = &[
    (libc::CLONE_NEWNS, "mnt"),
    (libc::CLONE_NEWPID, "pid"),
    (libc::CLONE_NEWIPC, "ipc"),
    (libc::CLONE_NEWUTS, "uts"),
    (libc::CLONE_NEWCGROUP, "cgroup"),
    (libc::CLONE_NEWNET, "net"),
];

/// Bounds of the CPU watchdog's sampling interval. The next sample is due when the
/// box could reach the limit at the earliest (CPU left / CPUs it may use), so
/// samples get denser near the limit and the kill overshoots by about a millisecond.
const CPU_SAMPLE_MIN: f64 = 0.001;
const CPU_SAMPLE_MAX: f64 = 0.050;
/// How far past the limit the perf task clock must be before the kill, seconds:
/// enough for the ms-rounded evidence and the counters that leave out IRQ time
/// (cpuacct, cpu.stat, rusage) to be past the limit too.
const PERF_CLOCK_LEAD: f64 = 0.002;

/// The longest the watch loop sleeps while any limit is set, milliseconds: it
/// re-reads the clocks at least this often, so no limit, however large, turns
/// into a sleep past it (or into a negative, endless, poll timeout).
const WATCH_MAX_MS: i32 = (CPU_SAMPLE_MAX * 1000.0) as i32;

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

pub use crate::messages::PayloadStatus;

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

fn pipe() -> Result<(OwnedFd, OwnedFd), StepError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors into our array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(StepError::last_os("supervisor.pipe", "pipe2"));
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3 into new namespaces, fork-style (no new stack). Returns (pid, pidfd) in
/// the parent and (0, -1) in the child.
fn clone_box(flags: u64, cgroup_fd: Option<RawFd>) -> Result<(libc::pid_t, RawFd), StepError> {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let mut pidfd: libc::c_int = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut libc::c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        // The child starts life inside the box's cgroup: no instant outside it.
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 without CLONE_VM and without a stack behaves like fork: the
    // child gets a copy of this (single-threaded) process and continues here.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if rc < 0 {
        return Err(StepError::last_os(
            "namespaces.clone3",
            format!("flags {flags:#x}"),
        ));
    }
    Ok((rc as libc::pid_t, pidfd))
}

/// End the proxy (or the payload before it runs anything of the program).
fn exit_now(code: libc::c_int) -> ! {
    // SAFETY: _exit never returns and runs no destructors.
    unsafe { libc::_exit(code) }
}

/// The proxy's exit status when it could not report (the supervisor reads it
/// from wait4 and says so in the evidence).
const PROXY_LOST_STATUS: libc::c_int = 3;

/// The proxy's own steps, before the program exists: each checked and read back.
/// Returns the records to send, the `proxy` one last.
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
        // SAFETY: F_GETFD only reads the flags; the listing's own descriptor,
        // closed by now, gives EBADF.
        let fl = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if fl < 0 || fl & libc::FD_CLOEXEC == 0 {
            continue;
        }
        // SAFETY: closing a descriptor of ours that nothing in this process uses:
        // the supervisor's objects stay in the supervisor.
        if unsafe { libc::close(fd) } < 0 {
            return Err(StepError::last_os("proxy.fds", format!("close {fd}")));
        }
        closed += 1;
    }
    Ok(closed)
}

fn proxy_prepare(
    cgroup: Option<SelfAttach>,
    keep: &[RawFd],
) -> Result<Vec<Message>, (Vec<Message>, StepError)> {
    let mut recs = Vec::new();
    let ok = |step: &str, detail: String| Message::Ok {
        step: step.into(),
        verified: true,
        detail,
    };
    // SAFETY: prctl with constant arguments. The supervisor is single-threaded, so
    // the "parent thread" PDEATHSIG watches is the supervisor itself.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } < 0 {
        return Err((
            recs,
            StepError::last_os("proxy.pdeathsig", "PR_SET_PDEATHSIG"),
        ));
    }
    let mut sig: libc::c_int = 0;
    // SAFETY: PR_GET_PDEATHSIG stores an int through the pointer we pass.
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
        return Err((
            recs,
            StepError::new("proxy.pdeathsig", format!("PR_GET_PDEATHSIG reads {sig}")),
        ));
    }
    // The supervisor blocks its termination signals and ignores SIGPIPE; the box
    // starts with neither.
    if let Err(e) = crate::supervisor::interrupt::reset_all() {
        return Err((recs, e));
    }
    // Into the box's cgroup (v1) before anything of the box runs; the supervisor
    // checks the membership from outside.
    if let Some(c) = cgroup {
        if let Err(e) = c.join() {
            return Err((recs, e));
        }
        recs.push(Message::Ok {
            step: "cgroup.attach".into(),
            verified: false,
            detail: String::new(),
        });
    }
    match close_supervisor_fds(keep) {
        Ok(n) => recs.push(ok(
            "proxy.fds",
            format!("{n} descriptors of the supervisor closed (the box lock among them)"),
        )),
        Err(e) => return Err((recs, e)),
    }
    // Not dumpable: the payload (another uid anyway) cannot ptrace or read us.
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } < 0 {
        return Err((
            recs,
            StepError::last_os("proxy.dumpable", "PR_SET_DUMPABLE 0"),
        ));
    }
    // SAFETY: prctl with constant arguments; returns the flag.
    let d = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) };
    if d != 0 {
        return Err((
            recs,
            StepError::new("proxy.dumpable", format!("PR_GET_DUMPABLE reads {d}")),
        ));
    }
    // Our cwd must not pin a host directory: pivot_root moves "/" users along.
    // SAFETY: chdir to a static path.
    if unsafe { libc::chdir(c"/".as_ptr()) } < 0 {
        return Err((recs, StepError::last_os("proxy.chdir", "chdir /")));
    }
    match crate::supervisor::ipcns::limit() {
        Ok(d) => recs.push(ok("ipc.limits", d)),
        Err(e) => return Err((recs, e)),
    }
    match crate::supervisor::timens::for_children() {
        Ok(d) => recs.push(ok("namespace.time", d)),
        Err(e) => return Err((recs, e)),
    }
    recs.push(ok(
        "proxy",
        "pid 1 of the box: PR_GET_PDEATHSIG = SIGKILL, PR_GET_DUMPABLE = 0, every signal \
         at its default action and none blocked (read back), cwd /; reaps orphans"
            .into(),
    ));
    Ok(recs)
}

/// The proxy, pid 1 of the box. Never returns.
fn proxy_main(
    plan: &ContainPlan,
    cgroup: Option<SelfAttach>,
    go: OwnedFd,
    report: OwnedFd,
    status: OwnedFd,
) -> ! {
    // Every step of ours, then one write of their records: the supervisor waits
    // for it (bounded, and ended by our death) before it sends the go byte.
    let keep = [go.as_raw_fd(), report.as_raw_fd(), status.as_raw_fd()];
    let (recs, failed) = match proxy_prepare(cgroup, &keep) {
        Ok(r) => (r, false),
        Err((mut r, e)) => {
            r.push(Message::Err(e));
            (r, true)
        }
    };
    let text: String = recs.iter().map(Message::encode).collect();
    // A write that fails cannot be reported either: the supervisor sees the
    // pipe close (or us die) without the `proxy` record, and the run is IE.
    let sent = write_all(report.as_raw_fd(), text.as_bytes(), "proxy.report");
    if sent.is_err() || failed {
        exit_now(1);
    }
    // Wait for the go; end-of-file means the supervisor died before it (and
    // before PDEATHSIG was armed, possibly).
    if Reader::new(go).wait() != Some(Message::Go) {
        exit_now(1);
    }
    // How many tasks the box creates: pids of a fresh pid namespace are handed out
    // in order from 1 (ours), and ns_last_pid reads the last one of the reader's
    // namespace. Opened now, while the host's /proc is still in our mount
    // namespace; read once the payload is gone.
    let last_pid = crate::supervisor::pidns::LastPid::open();

    // SAFETY: fork in a single-threaded process.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let rep = Reporter::new(report);
        // Reported or not, the run ends here: no program, no seccomp record.
        let code = match rep.err(&StepError::last_os("proxy.fork", "fork the payload")) {
            Ok(()) => 1,
            Err(_) => PROXY_LOST_STATUS,
        };
        exit_now(code);
    }
    if pid == 0 {
        drop(status);
        drop(last_pid);
        let rep = Reporter::new(report);
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
        exit_now(code);
    }
    drop(report);
    // Reap everything; report the payload's status when it ends, then exit, which
    // kills whatever else is left in the namespace.
    loop {
        let mut st: libc::c_int = 0;
        // SAFETY: rusage is plain data.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 for any child, filling our locals.
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
            // SAFETY: ptrace(PTRACE_DETACH) of our own stopped tracee.
            unsafe { libc::ptrace(libc::PTRACE_DETACH, w, 0, libc::WSTOPSIG(st)) };
            continue;
        }
        if w == pid {
            let tv = |t: libc::timeval| {
                (t.tv_sec.max(0) as u64)
                    .saturating_mul(1_000_000)
                    .saturating_add(t.tv_usec.max(0) as u64)
            };
            let s = PayloadStatus {
                wait_status: st,
                utime_us: tv(ru.ru_utime),
                stime_us: tv(ru.ru_stime),
                maxrss_kb: ru.ru_maxrss as u64,
                nvcsw: ru.ru_nvcsw as u64,
                nivcsw: ru.ru_nivcsw as u64,
                tasks: last_pid
                    .as_ref()
                    .and_then(|l| l.read())
                    .map(|n| n.saturating_sub(1)),
            };
            match Sender::new(status, "proxy.status").send(&Message::Status(s)) {
                Ok(()) => exit_now(0),
                // The supervisor reads this exit status and reports the loss.
                Err(_) => exit_now(PROXY_LOST_STATUS),
            }
        }
    }
}

/// How long the supervisor waits for the proxy's first records (its own steps
/// take well under a millisecond; this only bounds a proxy that hangs).
const PROXY_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Wait for the proxy's records of its own steps, up to the `proxy` one. Bounded:
/// it ends with an error when the proxy dies (its pidfd), closes the pipe, reports
/// a failure, a termination signal arrives, or `timeout` passes. The report pipe
/// must be non-blocking. Returns the proxy's controls and any bytes after them.
fn await_proxy(
    report: &OwnedFd,
    pidfd: &OwnedFd,
    interrupts: &Interrupts,
    timeout: Duration,
) -> Result<(Vec<Control>, Vec<u8>), StepError> {
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::new();
    let mut controls = Vec::new();
    let mut dead = false;
    loop {
        let eof = drain(report, &mut buf)?;
        while let Some(i) = buf.iter().position(|&c| c == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let line = String::from_utf8_lossy(&line[..i]).into_owned();
            match Message::decode(&line) {
                Some(Message::Ok {
                    step,
                    verified,
                    detail,
                }) => {
                    if step == "cgroup.attach" {
                        continue; // the supervisor's own check names it
                    }
                    let last = step == "proxy";
                    controls.push(Control::applied(&step, verified, detail));
                    if last {
                        return Ok((controls, buf));
                    }
                }
                Some(Message::Err(e)) => return Err(e),
                _ => {
                    return Err(StepError::new(
                        "proxy.ready",
                        format!("unexpected record from the proxy: {line:?}"),
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
        let pfds = poll_in(
            [report.as_raw_fd(), pidfd.as_raw_fd(), interrupts.raw_fd()],
            ms,
        )
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

/// `/proc/<who>/ns`, opened once for all the namespace links below it.
fn ns_dir(who: &str) -> Option<OwnedFd> {
    let path = std::ffi::CString::new(format!("/proc/{who}/ns")).ok()?;
    // SAFETY: open with a valid path; the result is checked.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    // SAFETY: a descriptor open(2) just returned, owned by nobody else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The target of the namespace link `ns` below a `ns_dir`, e.g. "net:[4026531840]".
fn ns_inode(dir: &Option<OwnedFd>, ns: &str) -> Option<Vec<u8>> {
    let dir = dir.as_ref()?;
    let name = std::ffi::CString::new(ns).ok()?;
    let mut buf = [0u8; 64];
    // SAFETY: readlinkat below a directory descriptor we own, into a live buffer of
    // the length given.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n > 0 && (n as usize) < buf.len()).then(|| buf[..n as usize].to_vec())
}

/// Check from outside that the proxy really is in new namespaces.
fn verify_namespaces(pid: libc::pid_t, share_net: bool) -> Result<Control, StepError> {
    let (my_dir, their_dir) = (ns_dir("self"), ns_dir(&pid.to_string()));
    let mut names = Vec::new();
    for &(_, ns) in NAMESPACES {
        if ns == "net" && share_net {
            continue;
        }
        let mine = ns_inode(&my_dir, ns);
        let theirs = ns_inode(&their_dir, ns);
        if mine.is_none() || theirs.is_none() || mine == theirs {
            return Err(StepError::new(
                "namespaces.verify",
                format!("the box is not in a new {ns} namespace"),
            ));
        }
        names.push(ns);
    }
    let detail = if share_net {
        format!(
            "new {} namespaces; net shared (--share-net)",
            names.join(", ")
        )
    } else {
        format!("new {} namespaces", names.join(", "))
    };
    Ok(Control::applied("namespaces", true, detail))
}

/// Check from outside that the proxy's children go into a time namespace of
/// their own while the proxy stays in ours (its wait4 and the supervisor's clocks
/// are the host's).
fn verify_time_namespace(pid: libc::pid_t) -> Result<(), StepError> {
    let (my_dir, their_dir) = (ns_dir("self"), ns_dir(&pid.to_string()));
    let mine = ns_inode(&my_dir, "time");
    let theirs = ns_inode(&their_dir, "time");
    let children = ns_inode(&their_dir, "time_for_children");
    if mine.is_none() || children.is_none() || children == mine {
        return Err(StepError::new(
            "namespaces.verify",
            "the program would not be in a new time namespace",
        ));
    }
    if theirs != mine {
        return Err(StepError::new(
            "namespaces.verify",
            "the proxy left the supervisor's time namespace",
        ));
    }
    Ok(())
}

fn set_nonblock(fd: &OwnedFd) -> Result<(), StepError> {
    // SAFETY: fcntl flag changes on a descriptor we own.
    let ok = unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        fl >= 0 && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) == 0
    };
    if !ok {
        return Err(StepError::last_os("supervisor.pipe", "O_NONBLOCK"));
    }
    Ok(())
}

/// Read what is available of a non-blocking pipe; Ok(true) at end-of-file. A
/// read error (other than "nothing yet") is an error: records may be lost.
fn drain(fd: &OwnedFd, buf: &mut Vec<u8>) -> Result<bool, StepError> {
    let mut f = std::mem::ManuallyDrop::new(
        // SAFETY: a temporary File view of a descriptor we keep owning (ManuallyDrop).
        unsafe { std::fs::File::from_raw_fd(fd.as_raw_fd()) },
    );
    let mut chunk = [0u8; 4096];
    loop {
        match f.read(&mut chunk) {
            Ok(0) => return Ok(true),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(StepError::io("supervisor.pipe", "read from the box", &e)),
        }
    }
}

/// The watchdog competes for the CPU with the box it watches. While it watches, it
/// runs at the lowest real-time priority (set after the clone, so the box inherits
/// nothing), so its timer wake-ups preempt the box at once and the kill lands
/// within a millisecond or two of the limit; it sleeps in poll(2) between samples,
/// so it takes almost no CPU. Where real-time scheduling is not allowed (e.g. a
/// cgroup without RT runtime) it falls back to nice -10. Failure only costs
/// precision. Dropping the guard restores the old scheduling, so the work after
/// the run (statistics, handing /box back) does not run at real-time priority.
struct WatchPriority {
    policy: libc::c_int,
    param: libc::sched_param,
    nice: libc::c_int,
}

impl WatchPriority {
    fn raise() -> WatchPriority {
        let mut param = libc::sched_param { sched_priority: 0 };
        // SAFETY: scheduling queries on the calling thread, into a struct we own.
        let (policy, nice) = unsafe {
            libc::sched_getparam(0, &mut param);
            (
                libc::sched_getscheduler(0),
                libc::getpriority(libc::PRIO_PROCESS, 0),
            )
        };
        let rt = libc::sched_param { sched_priority: 1 };
        // SAFETY: sched_setscheduler on the calling thread with a valid param.
        let ok = unsafe {
            libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &rt)
        } == 0;
        if !ok {
            // SAFETY: setpriority on the calling thread (who = 0).
            unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -10) };
        }
        WatchPriority {
            policy,
            param,
            nice,
        }
    }
}

impl Drop for WatchPriority {
    fn drop(&mut self) {
        // SAFETY: restoring the calling thread's own earlier policy and nice value.
        unsafe {
            if self.policy >= 0 {
                libc::sched_setscheduler(0, self.policy, &self.param);
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
fn kill_box(proxy: libc::pid_t, pidfd: RawFd, cg: Option<&dyn BoxCgroup>) {
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
    crate::sys::pidfd::kill(&pidfd);
}

/// How long a kill waits for the program to end before it kills the rest.
const PROGRAM_EXIT_WAIT: Duration = Duration::from_millis(50);

/// A pidfd of the program: the proxy's first child, pid 2 of the box. None if
/// it is gone (or was never forked).
fn program_pidfd(proxy: libc::pid_t) -> Option<OwnedFd> {
    let kids = std::fs::read_to_string(format!("/proc/{proxy}/task/{proxy}/children")).ok()?;
    let pid: libc::pid_t = kids.split_whitespace().next()?.parse().ok()?;
    let fd = crate::sys::pidfd::open(pid)?;
    // The pidfd names one process for good; its fdinfo says which: it must be
    // pid 2 of a namespace below ours (the pid may have been reused meanwhile).
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
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
    let mut flags: u64 = 0;
    for &(f, ns) in NAMESPACES {
        if ns == "net" && plan.share_net {
            continue;
        }
        flags |= f as u64;
    }
    let (go_r, go_w) = pipe()?;
    let (rep_r, rep_w) = pipe()?;
    let (st_r, st_w) = pipe()?;

    let (into, self_attach) = match cg.map(|c| c.entry()).transpose()? {
        Some(Entry::CloneInto(fd)) => (Some(fd), None),
        Some(Entry::SelfAttach(s)) => (None, Some(s)),
        None => (None, None),
    };
    let (pid, pidfd_raw) = clone_box(flags, into)?;
    if pid == 0 {
        drop(go_w);
        drop(rep_r);
        drop(st_r);
        proxy_main(plan, self_attach, go_r, rep_w, st_w);
    }
    // SAFETY: clone3 with CLONE_PIDFD stored a new descriptor for the child.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd_raw) };
    let self_attached = self_attach.is_some();
    drop(self_attach);
    drop(go_r);
    drop(rep_w);
    drop(st_w);

    let priority = WatchPriority::raise();
    let mut facts = RunFacts::default();
    match verify_namespaces(pid, plan.share_net) {
        Ok(c) => facts.controls.push(c),
        Err(e) => {
            kill_box(pid, pidfd.as_raw_fd(), cg);
            reap(pid);
            return Err(e);
        }
    }

    let kill_cpu = limits.time.map(|t| t.max(limits.extra_time));
    // Opened for every run while the proxy still waits for the go byte, so it
    // counts everything, and a run's CPU time is measured the same way whether or
    // not it has a limit.
    let clock = match crate::supervisor::cpuclock::TreeClock::open(pid) {
        Ok(c) => {
            facts.controls.push(Control::applied(
                "cpu.clock",
                true,
                "perf task-clock inherited by the whole box (exact, read on demand)",
            ));
            Some(c)
        }
        Err(e) => {
            // Still enforced, from the tick-based counters: less precise, not weaker.
            facts.controls.push(Control::applied(
                "cpu.clock",
                true,
                format!(
                    "{} (tick-based, may overshoot by a tick per CPU; {e})",
                    if cg.is_some() {
                        "cgroup CPU counter"
                    } else {
                        "/proc tree"
                    }
                ),
            ));
            None
        }
    };

    // The proxy's own steps ran meanwhile; it waits for the go byte, so nothing
    // of the box has run yet. Every failure from here on kills it.
    let fail = |e: StepError| -> Result<RunFacts, StepError> {
        kill_box(pid, pidfd.as_raw_fd(), cg);
        reap(pid);
        Err(e)
    };
    let mut rep_buf = match set_nonblock(&rep_r)
        .and_then(|()| set_nonblock(&st_r))
        .and_then(|()| await_proxy(&rep_r, &pidfd, interrupts, PROXY_READY_TIMEOUT))
    {
        Ok((controls, rest)) => {
            facts.controls.extend(controls);
            rest
        }
        Err(e) => return fail(e),
    };
    match verify_time_namespace(pid) {
        Ok(()) => {
            if let Some(c) = facts.controls.iter_mut().find(|c| c.name == "namespaces") {
                c.detail.push_str("; new time namespace for the program");
            }
        }
        Err(e) => return fail(e),
    }
    if let Some(c) = cg {
        let how = if self_attached {
            "the proxy moved itself into"
        } else {
            "clone3(CLONE_INTO_CGROUP) into"
        };
        match c.verify_member(pid) {
            Ok(()) => facts.controls.insert(
                0,
                Control::applied(
                    "cgroup.attach",
                    true,
                    format!(
                        "{how} {} before it runs anything; listed in its cgroup.procs",
                        c.display_path()
                    ),
                ),
            ),
            Err(e) => return fail(e),
        }
    }
    let start = Instant::now();
    if let Err(e) = Sender::new(go_w, "supervisor.go").send(&Message::Go) {
        return fail(e);
    }

    let ncpu = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
    let wall = limits.wall_time.map(duration_of_secs);
    let mut st_buf = Vec::new();
    let mut rep_eof = false;
    let mut last_cpu = 0.0f64;

    let end = loop {
        let wall_left = wall.map(|w| w.saturating_sub(start.elapsed()));
        let timeout = poll_timeout_ms(kill_cpu.map(|k| (k, last_cpu, ncpu)), wall_left);
        // A failed poll is a wake-up like any other: every condition below is
        // checked afresh, and the next timeout is computed again.
        let report_fd = if rep_eof { -1 } else { rep_r.as_raw_fd() };
        let pfds = poll_in([report_fd, pidfd.as_raw_fd(), interrupts.raw_fd()], timeout)
            .unwrap_or_default();
        if !rep_eof && pfds[0].revents != 0 {
            match drain(&rep_r, &mut rep_buf) {
                Ok(eof) => rep_eof = eof,
                Err(e) => {
                    // Records lost: the box cannot be shown to run under them.
                    kill_box(pid, pidfd.as_raw_fd(), cg);
                    facts.controls.push(Control::failed(&e));
                    facts.failure = Some(e);
                    break Instant::now();
                }
            }
        }
        if pfds[1].revents != 0 {
            break Instant::now();
        }
        if pfds[2].revents != 0 {
            if let Some(sig) = interrupts.pending() {
                kill_box(pid, pidfd.as_raw_fd(), cg);
                // The box was killed for it (meta killed:1); an interrupt is
                // isolate's SG "Interrupted", a fatal signal a failure (XX).
                facts.killed = Some(KillReason::Interrupted(sig));
                if !crate::supervisor::interrupt::is_interrupt(sig) {
                    let e = Interrupts::failure(sig, "during the run");
                    facts.controls.push(Control::failed(&e));
                    facts.failure = Some(e);
                }
                break Instant::now();
            }
        }
        if let Some(w) = wall {
            if start.elapsed() >= w {
                facts.killed = Some(KillReason::WallTime);
                kill_box(pid, pidfd.as_raw_fd(), cg);
                break Instant::now();
            }
        }
        if let Some(k) = kill_cpu {
            last_cpu = match (&clock, cg) {
                // Killed a little past the limit, so the reported time (rounded
                // to ms) shows it exceeded, as do the cgroup and rusage counters
                // beside it, which leave out IRQ time.
                (Some(t), _) => t.seconds().map_or(last_cpu, |s| s - PERF_CLOCK_LEAD),
                (None, Some(c)) => c.cpu_seconds().unwrap_or(last_cpu),
                (None, None) => crate::sys::procfs::tree_cpu_seconds(pid),
            };
            if last_cpu > k {
                facts.killed = Some(KillReason::CpuTime);
                kill_box(pid, pidfd.as_raw_fd(), cg);
                break Instant::now();
            }
        }
    };
    facts.wall_s = end.duration_since(start).as_secs_f64();
    drop(priority);
    let proxy_end = reap(pid);
    // The box's pid 1 is gone, and with it every process of the box: the
    // terminal goes back to the caller now (its control is listed after the
    // box's own below).
    let restored = terminal.map(crate::sys::tty::Saved::restore);
    if let Some(c) = cg {
        // The proxy's exit killed its namespace; make sure the cgroup agrees.
        c.kill_all()?;
    }
    for (fd, buf) in [(&rep_r, &mut rep_buf), (&st_r, &mut st_buf)] {
        if let Err(e) = drain(fd, buf) {
            facts.controls.push(Control::failed(&e));
            facts.failure.get_or_insert(e);
        }
    }
    facts.status = match Message::decode(String::from_utf8_lossy(&st_buf).trim_end_matches('\n')) {
        Some(Message::Status(s)) => Some(s),
        _ => None,
    };
    if let Some((ws, maxrss_kb)) = proxy_end {
        facts.proxy_maxrss_kb = Some(maxrss_kb);
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

    let mut sealed = false;
    for line in String::from_utf8_lossy(&rep_buf).lines() {
        match Message::decode(line) {
            Some(Message::Ok {
                step,
                verified,
                detail,
            }) => {
                if step == "seccomp" {
                    sealed = true;
                }
                facts
                    .controls
                    .push(Control::applied(&step, verified, detail));
            }
            Some(Message::Err(e)) => {
                facts.controls.push(Control::failed(&e));
                facts.failure.get_or_insert(e);
            }
            Some(Message::ExecFailed { errno, program }) => {
                facts.exec_errno = Some(errno);
                facts.controls.push(Control {
                    name: "exec".into(),
                    applied: false,
                    verified: false,
                    detail: format!("execve(\"{program}\") failed"),
                    errno: Some(errno),
                    errno_name: Some(crate::error::errno_name(errno).into()),
                });
            }
            _ => {
                // A garbled or cut record: whatever it said is lost.
                let e = StepError::new(
                    "supervisor.report",
                    format!("a record from the box could not be read: {line:?}"),
                );
                facts.controls.push(Control::failed(&e));
                facts.failure.get_or_insert(e);
            }
        }
    }
    // Sealed and no failed execve: the program ran, even if the run failed later
    // (a fatal signal to rustbox): its times go into the meta, as isolate's do.
    if facts.exec_errno.is_none() {
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
    // After the program's own: a terminal not given back fails the run (XX), but
    // the program's evidence stays as it was.
    match restored {
        Some(Ok((verified, detail))) => {
            facts
                .controls
                .push(Control::applied("tty.restore", verified, detail))
        }
        Some(Err(e)) => {
            facts.controls.push(Control::failed(&e));
            facts.failure.get_or_insert(e);
        }
        None => {}
    }

    let (u, s) = facts.status.map_or((0.0, 0.0), |st| {
        (st.utime_us as f64 / 1e6, st.stime_us as f64 / 1e6)
    });
    let rusage_total = u + s;
    // Everything in the box is dead now: the perf clock holds the exact total of
    // the whole tree, killed processes included (their rusage is lost with them).
    let exact = clock.as_ref().and_then(|c| c.seconds());
    facts.cpu = match exact {
        Some(total) => CpuUsage {
            user_s: u,
            sys_s: s,
            total_s: total.max(rusage_total),
            source: crate::supervisor::cpuclock::SOURCE.into(),
        },
        None if rusage_total >= last_cpu => CpuUsage {
            user_s: u,
            sys_s: s,
            total_s: rusage_total,
            source: "wait4:rusage".into(),
        },
        None => CpuUsage {
            user_s: u,
            sys_s: s,
            total_s: last_cpu,
            source: format!("/proc/{pid}/stat:tree"),
        },
    };
    Ok(facts)
}

/// Wait for the proxy; returns its wait status and `ru_maxrss` (KiB), which
/// covers the proxy and every process it reaped: the program, and when the box
/// was killed, whatever the kernel's teardown of the pid namespace reaped into it.
fn reap(pid: libc::pid_t) -> Option<(i32, u64)> {
    loop {
        let mut st = 0;
        // SAFETY: rusage is plain data.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 for our own child, filling our locals.
        let r = unsafe { libc::wait4(pid, &mut st, libc::__WALL, &mut ru) };
        if r == pid {
            return Some((st, ru.ru_maxrss.max(0) as u64));
        }
        if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
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

/// Wait until one of `fds` (-1: left out) is readable, or `ms` milliseconds pass
/// (-1: no bound); what each one reported. EINTR is a wake-up with nothing
/// reported.
fn poll_in(fds: [RawFd; 3], ms: i32) -> std::io::Result<[libc::pollfd; 3]> {
    let mut pfds = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    // SAFETY: poll on an array of three pollfds we own.
    if unsafe { libc::poll(pfds.as_mut_ptr(), 3, ms) } < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
    Ok(pfds)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child to stand in for the proxy, and a pidfd of it.
    fn stand_in(args: &[&str]) -> (std::process::Child, OwnedFd) {
        let child = std::process::Command::new(args[0])
            .args(&args[1..])
            .spawn()
            .unwrap();
        let fd = crate::sys::pidfd::open(child.id() as i32).unwrap();
        (child, fd)
    }

    fn report_pipe() -> (OwnedFd, OwnedFd) {
        let (r, w) = pipe().unwrap();
        set_nonblock(&r).unwrap();
        (r, w)
    }

    /// A proxy that never reports (its write lost, the pipe held open) no longer
    /// hangs the supervisor: the wait ends at its bound.
    #[test]
    fn waiting_for_a_silent_proxy_is_bounded() {
        let intr = Interrupts::block().unwrap();
        let (r, _w) = report_pipe();
        let (mut child, pidfd) = stand_in(&["sleep", "10"]);
        let t = Instant::now();
        let e = await_proxy(&r, &pidfd, &intr, Duration::from_millis(300)).unwrap_err();
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
        let (r, _w) = report_pipe();
        let (mut child, pidfd) = stand_in(&["true"]);
        let t = Instant::now();
        let e = await_proxy(&r, &pidfd, &intr, Duration::from_secs(20)).unwrap_err();
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
        let (r, w) = report_pipe();
        let text = "ok\tcgroup.attach\t0\t\nok\tipc.limits\t1\tx\nok\tproxy\t1\ty\n";
        write_all(w.as_raw_fd(), text.as_bytes(), "t").unwrap();
        let (c, rest) = await_proxy(&r, &pidfd, &intr, Duration::from_secs(5)).unwrap();
        let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["ipc.limits", "proxy"]);
        assert!(rest.is_empty());

        let (r, w) = report_pipe();
        let text = "ok\tipc.limits\t1\tx\nerr\tnamespace.time\t1\tunshare(CLONE_NEWTIME)\n";
        write_all(w.as_raw_fd(), text.as_bytes(), "t").unwrap();
        let e = await_proxy(&r, &pidfd, &intr, Duration::from_secs(5)).unwrap_err();
        assert_eq!(
            (e.step.as_str(), e.errno),
            ("namespace.time", Some(libc::EPERM))
        );

        let (r, w) = report_pipe();
        write_all(w.as_raw_fd(), b"ok\tipc.limits\t1\tx\n", "t").unwrap();
        drop(w);
        let e = await_proxy(&r, &pidfd, &intr, Duration::from_secs(5)).unwrap_err();
        assert!(e.detail.contains("ended before"), "{e}");
        child.kill().unwrap();
        child.wait().unwrap();
    }

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
