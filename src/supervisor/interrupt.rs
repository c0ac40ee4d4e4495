//! Signals to the supervisor during a run, handled as isolate 2.6 does, taken
//! through a signalfd instead of their default action.
//!
//! isolate's table: SIGHUP, SIGINT, SIGQUIT and SIGTERM end the run as `SG`
//! "Interrupted" with `exitsig` (exit status 1); SIGILL, SIGABRT, SIGFPE, SIGSEGV
//! and SIGBUS end it as `XX` "Sandbox keeper received fatal signal N" (exit status
//! 2; Piston sends SIGABRT when a program's output passes its cap, and still reads
//! the meta); SIGPIPE, SIGUSR1, SIGUSR2 and SIGTTOU are ignored. In every case the
//! box is killed, torn down as after any run (`/box` handed back, the cgroup
//! removed) and the meta written. Left to their default, these signals would end
//! the supervisor at any point: mid-setup, with the box's cgroup not removed,
//! `/box` still the box user's and no meta for the judge. They stay blocked until
//! the supervisor exits, so a second one cannot cut the teardown short. (A fault
//! of the supervisor's own, a real SIGSEGV, is not blockable and still kills it.)
//! The box itself starts with an empty signal mask and default actions
//! (`reset_all`, in the proxy right after the clone).

use crate::sys::error::StepError;
use crate::sys::raw::KERNEL_SIGSET;
use std::cell::Cell;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Signals that end the run as interrupted (`SG`).
pub const INTERRUPTS: [libc::c_int; 4] = [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM];
/// Signals that end it as a failure of the supervisor (`XX`).
pub const FATAL: [libc::c_int; 5] = [
    libc::SIGILL,
    libc::SIGABRT,
    libc::SIGFPE,
    libc::SIGSEGV,
    libc::SIGBUS,
];
/// Signals the supervisor ignores.
pub const IGNORED: [libc::c_int; 4] = [libc::SIGPIPE, libc::SIGUSR1, libc::SIGUSR2, libc::SIGTTOU];

pub struct Interrupts {
    fd: OwnedFd,
    /// The first signal read from the descriptor.
    received: Cell<Option<libc::c_int>>,
}

fn mask() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in INTERRUPTS.iter().chain(&FATAL) {
            libc::sigaddset(&mut set, *s);
        }
        set
    }
}

/// Is `sig` one that ends the run as interrupted (`SG`), not as a failure?
pub fn is_interrupt(sig: libc::c_int) -> bool {
    INTERRUPTS.contains(&sig)
}

impl Interrupts {
    /// Ignore isolate's ignored signals, block the others and open a non-blocking
    /// signalfd for them.
    pub fn block() -> Result<Interrupts, StepError> {
        for sig in IGNORED {
            // SAFETY: setting SIG_IGN for a catchable signal; checked.
            if unsafe { libc::signal(sig, libc::SIG_IGN) } == libc::SIG_ERR {
                return Err(StepError::last_os(
                    "supervisor.signals",
                    format!("ignore signal {sig}"),
                ));
            }
        }
        let set = mask();
        // SAFETY: sigprocmask with a valid set; the supervisor is single-threaded.
        if unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) } < 0 {
            return Err(StepError::last_os("supervisor.signals", "sigprocmask"));
        }
        // SAFETY: signalfd(-1, ...) reads the live `set` and returns a new
        // descriptor or -1, which `owned` takes as the contract says.
        let fd = unsafe {
            crate::sys::fd::owned(
                libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC).into(),
                "supervisor.signals",
                "signalfd",
            )
        }?;
        Ok(Interrupts {
            fd,
            received: Cell::new(None),
        })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// A signal that arrived, if any (consumed).
    pub fn pending(&self) -> Option<libc::c_int> {
        // SAFETY: an all-zero signalfd_siginfo is a valid value to read into.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: read into a live buffer of the given size.
        let n = unsafe {
            libc::read(
                self.raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        let sig = (n == size as isize).then_some(info.ssi_signo as libc::c_int);
        if self.received.get().is_none() {
            self.received.set(sig);
        }
        sig
    }

    /// The first signal that arrived during the run, if any.
    pub fn received(&self) -> Option<libc::c_int> {
        self.received.get()
    }

    /// The failure a run ends with when `sig` arrived: isolate's message for a
    /// fatal one; for an interrupt, what the run reports if it ends before the
    /// box ran (the verdict is then `SG` "Interrupted", see `verdict`).
    pub fn failure(sig: libc::c_int, when: &str) -> StepError {
        if is_interrupt(sig) {
            return StepError::new(STEP, format!("Interrupted by {} {when}", signal_name(sig)));
        }
        StepError::new(STEP, format!("Sandbox keeper received fatal signal {sig}"))
    }
}

/// The step a signal to rustbox ends a run in.
pub const STEP: &str = "supervisor.signal";

/// In the box, right after the clone: every signal back to its default action and
/// none blocked. Both survive execve, and the supervisor has SIGPIPE ignored (the
/// Rust runtime does that) besides the termination signals blocked; a program must
/// start as it would from a shell, where a write to a closed pipe kills it. Every
/// call is checked and the result read back (each action SIG_DFL, the mask empty).
pub fn reset_all() -> Result<(), StepError> {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        to_default(sig)?;
    }
    unblock_all()
}

/// The kernel's struct sigaction, used directly: glibc refuses to touch 32 and
/// 33, which it reserves for itself, but a caller may have left them ignored.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// `sig` at SIG_DFL with no flags: read first, and only a signal that is not
/// there already is set and read back. After the fork or clone only the few
/// the supervisor changed are not (SIGPIPE and the others it ignores, Rust's
/// SIGSEGV and SIGBUS handlers), so this makes about 75 calls where setting
/// every one made 124. The flags count: SA_NOCLDWAIT with SIG_DFL on SIGCHLD
/// would have pid 1's children reaped by the kernel.
fn to_default(sig: libc::c_int) -> Result<(), StepError> {
    let now = action(sig)?;
    if now.handler == libc::SIG_DFL && now.flags == 0 {
        return Ok(());
    }
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: rt_sigaction reads the live `dfl` (the kernel's layout, the
    // kernel's sigset size) and writes nothing; SIG_DFL needs no restorer, and
    // no handler of ours runs, so nothing in this process is affected but how
    // the signal is delivered.
    let set = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            &dfl as *const KernelSigaction,
            std::ptr::null_mut::<KernelSigaction>(),
            KERNEL_SIGSET,
        )
    };
    if set < 0 {
        return Err(StepError::last_os(
            "proxy.signals",
            format!("rt_sigaction({sig}, SIG_DFL)"),
        ));
    }
    let after = action(sig)?;
    if after.handler != libc::SIG_DFL || after.flags != 0 {
        return Err(StepError::new(
            "proxy.signals",
            format!("signal {sig} is not at its default action after the reset"),
        ));
    }
    Ok(())
}

/// The action of `sig` now.
fn action(sig: libc::c_int) -> Result<KernelSigaction, StepError> {
    let mut now = KernelSigaction {
        handler: usize::MAX,
        flags: u64::MAX,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: rt_sigaction with no new action only writes the current one into
    // `now`, a live local of the kernel's layout.
    let get = unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            std::ptr::null::<KernelSigaction>(),
            &mut now as *mut KernelSigaction,
            KERNEL_SIGSET,
        )
    };
    if get < 0 {
        return Err(StepError::last_os(
            "proxy.signals",
            format!("rt_sigaction({sig}) read"),
        ));
    }
    Ok(now)
}

/// An empty signal mask, read back. (Unblocking runs no handler of ours:
/// every action is SIG_DFL by now.)
fn unblock_all() -> Result<(), StepError> {
    crate::sys::raw::sigmask(Some(0))
        .map_err(|e| StepError::sys("proxy.signals", "rt_sigprocmask(SETMASK, {})", e))?;
    let now = crate::sys::raw::sigmask(None)
        .map_err(|e| StepError::sys("proxy.signals", "rt_sigprocmask read back", e))?;
    if now != 0 {
        return Err(StepError::new(
            "proxy.signals",
            format!("signals still blocked after the reset: mask {now:#x}"),
        ));
    }
    Ok(())
}

pub fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGFPE => "SIGFPE",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        _ => "a signal",
    }
}
