//! Starting the box: the three pipes, clone3 into new namespaces (and, with a
//! cgroup v2, into the box's cgroup), and the one way out before the go: kill the
//! box and reap its pid 1.

use crate::cgroup::{BoxCgroup, Entry};
use crate::plan::ContainPlan;
use crate::supervisor::messages::{Message, Reader, Sender};
use crate::supervisor::namespaces::NetNs;
use crate::sys::error::StepError;
use crate::verdict::evidence::Control;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The box's pid 1, the proxy, as the supervisor holds it.
pub struct Proxy {
    pub pid: libc::pid_t,
    /// Names the proxy for good: signals through it cannot reach a reused pid.
    pub pidfd: OwnedFd,
    /// Entered a cgroup v1 group itself (otherwise created in a v2 one, if any).
    pub self_attached: bool,
    /// The network namespace it was born in.
    pub net: NetNs,
    /// Its own steps' records, then the chain's.
    pub report: Reader,
    /// The payload's end.
    pub status: Reader,
    /// Taken by `go`.
    go: Option<Sender>,
}

/// The proxy's ends of the pipes.
pub struct ProxyEnds {
    pub go: OwnedFd,
    pub report: OwnedFd,
    pub status: OwnedFd,
}

/// Clone the proxy into new namespaces; it runs `proxy::main` and waits for the
/// go. From the moment this returns, every failure is `Proxy::abort`.
///
/// Why this is safe here: the clone copies a root process, but into new
/// namespaces (checked from outside before the go, `namespaces::verify`), with
/// PDEATHSIG armed as its first step, created inside the box's cgroup (v2) or
/// moving itself there next (v1). Of the supervisor's descriptors it keeps only
/// the pipes' proxy ends (the others are close-on-exec, and it closes them before
/// anything of the box runs); the caller's own are the chain's to close.
pub fn start(plan: &ContainPlan, cg: Option<&dyn BoxCgroup>) -> Result<Proxy, StepError> {
    let (go_r, go_w) = pipe(false)?;
    let (rep_r, rep_w) = pipe(true)?;
    let (st_r, st_w) = pipe(true)?;
    let (into, self_attach) = match cg.map(|c| c.entry()).transpose()? {
        Some(Entry::CloneInto(fd)) => (Some(fd), None),
        Some(Entry::SelfAttach(s)) => (None, Some(s)),
        None => (None, None),
    };
    // The box's spare network namespace, when it has one, is entered for the
    // clone only: pid 1 is born in it, and the supervisor is back in its own
    // before anything else.
    let spare = match &plan.net_spare {
        Some(file) if !plan.share_net => crate::boxdir::netns::take(file),
        _ => Ok(None),
    };
    // A spare that cannot be taken or entered (an odd holder, an LSM or
    // seccomp profile that refuses setns) is never entered: the clone makes a
    // new namespace, and the evidence says why.
    let entered = spare.and_then(|s| {
        s.map(|s| Ok((s.inode, super::netns_home::enter(&s.fd)?)))
            .transpose()
    });
    let (net, home) = match entered {
        _ if plan.share_net => (NetNs::Shared, None),
        Ok(None) => (NetNs::New, None),
        Ok(Some((inode, home))) => (NetNs::Spare { inode }, Some(home)),
        Err(e) => (NetNs::SpareRefused(e.to_string()), None),
    };
    let flags = super::namespaces::clone_flags(&net);
    let cloned = clone_box(flags, into);
    // The child (None) stays where it was born; only the supervisor goes back.
    let back = match (&cloned, home) {
        (Ok(None), _) | (_, None) => Ok(()),
        (_, Some(h)) => h.leave(),
    };
    let cloned = cloned.map_err(|e| match &back {
        Err(b) => StepError {
            detail: format!("{}; and going back failed: {b}", e.detail),
            ..e
        },
        Ok(()) => e,
    });
    let Some((pid, pidfd)) = cloned? else {
        drop((go_w, rep_r, st_r));
        let ends = ProxyEnds {
            go: go_r,
            report: rep_w,
            status: st_w,
        };
        super::proxy::main(plan, self_attach, ends);
    };
    if let Err(e) = back {
        // Not in the supervisor's own network namespace: the box does not start.
        super::watchdog::kill_box(pid, &pidfd, cg);
        reap(pid);
        return Err(e);
    }
    Ok(Proxy {
        pid,
        pidfd,
        self_attached: self_attach.is_some(),
        net,
        report: Reader::new(rep_r),
        status: Reader::new(st_r),
        go: Some(Sender::new(go_w, "supervisor.go")),
    })
}

impl Proxy {
    /// The go: the proxy starts the payload. Sent once, and the pipe closed.
    pub fn go(&mut self) -> Result<(), StepError> {
        self.go.take().map_or(Ok(()), |go| go.send(&Message::Go))
    }

    /// Kill the box, wait for its pid 1, and fail with `e`.
    pub fn abort(self, cg: Option<&dyn BoxCgroup>, e: StepError) -> StepError {
        super::watchdog::kill_box(self.pid, &self.pidfd, cg);
        self.reap();
        e
    }

    /// Wait for the proxy; returns its wait status and rusage, which covers the
    /// proxy and every process it reaped: the program, and when the box was
    /// killed, whatever the kernel's teardown of the pid namespace reaped into it.
    pub fn reap(&self) -> Option<ProxyEnd> {
        reap(self.pid)
    }

    /// Check from outside that the proxy is in the box's cgroup.
    pub fn verify_cgroup(&self, c: &dyn BoxCgroup) -> Result<Control, StepError> {
        let how = if self.self_attached {
            "the proxy moved itself into"
        } else {
            "clone3(CLONE_INTO_CGROUP) into"
        };
        c.verify_member(self.pid)?;
        Ok(Control::applied(
            "cgroup.attach",
            true,
            format!(
                "{how} {} before it runs anything; listed in its cgroup.procs",
                c.display_path()
            ),
        ))
    }
}

/// How the proxy ended, from the supervisor's wait4.
pub struct ProxyEnd {
    pub wait_status: i32,
    /// `ru_maxrss`, KiB.
    pub maxrss_kb: u64,
    /// `ru_utime` + `ru_stime`, seconds.
    pub cpu_s: f64,
}

fn reap(pid: libc::pid_t) -> Option<ProxyEnd> {
    loop {
        let mut st = 0;
        // SAFETY: rusage is plain integers, for which all zeroes is a value.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 writes only the two locals it is given; `pid` is our own
        // child, so no other waiter in this (single-threaded) process takes it.
        let r = unsafe { libc::wait4(pid, &mut st, libc::__WALL, &mut ru) };
        if r == pid {
            let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            return Some(ProxyEnd {
                wait_status: st,
                maxrss_kb: ru.ru_maxrss.max(0) as u64,
                cpu_s: secs(ru.ru_utime) + secs(ru.ru_stime),
            });
        }
        if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
}

/// A close-on-exec pipe; with `nonblocking_read`, its read end does not block
/// (the supervisor's, polled with the proxy's pidfd and the signalfd).
pub fn pipe(nonblocking_read: bool) -> Result<(OwnedFd, OwnedFd), StepError> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| StepError::nix("supervisor.pipe", "pipe2", e))?;
    if nonblocking_read {
        let fl = fcntl(r.as_raw_fd(), FcntlArg::F_GETFL)
            .map_err(|e| StepError::nix("supervisor.pipe", "O_NONBLOCK", e))?;
        let fl = OFlag::from_bits_retain(fl) | OFlag::O_NONBLOCK;
        fcntl(r.as_raw_fd(), FcntlArg::F_SETFL(fl))
            .map_err(|e| StepError::nix("supervisor.pipe", "O_NONBLOCK", e))?;
    }
    Ok((r, w))
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

/// clone3 into new namespaces, fork-style (no new stack). Returns the child's
/// pid and a pidfd of it in the parent, None in the child.
fn clone_box(
    flags: u64,
    cgroup_fd: Option<RawFd>,
) -> Result<Option<(libc::pid_t, OwnedFd)>, StepError> {
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
    // SAFETY: clone3 without CLONE_VM and without a stack is fork: the child gets
    // a copy of this address space and continues here, with no thread but the
    // calling one, and the supervisor has no other thread whose locks it could
    // inherit held. The kernel reads `args` (of the size given) and writes only
    // `pidfd`, a live local.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match rc {
        0 => Ok(None),
        // SAFETY: with CLONE_PIDFD a successful clone3 stored a new descriptor in
        // `pidfd`, in the parent only; nothing else owns it.
        pid if pid > 0 => Ok(Some((pid as libc::pid_t, unsafe {
            OwnedFd::from_raw_fd(pidfd)
        }))),
        _ => Err(StepError::last_os(
            "namespaces.clone3",
            format!("flags {flags:#x}"),
        )),
    }
}
