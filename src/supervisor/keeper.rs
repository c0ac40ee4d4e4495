//! The clock keeper: one small process per host that keeps the kernel's perf
//! scheduling hooks switched on while runs keep coming.
//!
//! Why: the box's CPU clock is a task-bound perf counter (`cpuclock`). The kernel
//! switches its perf scheduling hooks on when the first such counter appears and
//! off one second after the last one goes, and switching them on waits for an RCU
//! grace period: 5 to 20 ms on the development VM, three times the rest of a run,
//! for every run that comes more than a second after the previous one (a judge
//! with one submission at a time). The keeper holds a disabled counter of its own
//! (which counts nothing) until no run has come for `clock_keeper_idle` seconds.
//!
//! How: the keeper binds the abstract unix datagram socket `rustbox-clock-keeper`
//! in the host's network namespace. After its outputs are written, a `--run`
//! sends it an empty datagram, which restarts its idle time; if nobody receives
//! it, the run starts a keeper (a double fork, so it is nobody's child) and
//! exits. Two keepers cannot both bind the name: the second one ends at once.
//!
//! What it may do: nothing. It starts as a copy of the supervisor and at once
//! closes every descriptor it was born with (the caller's pipes must see
//! end-of-file when rustbox exits) and puts every signal back to its default
//! action with the mask cleared; then it leaves the caller's session, binds its
//! socket, opens its counter (as root, so `perf_event_paranoid` does not
//! matter), and becomes uid and gid 65534 with no groups, no capabilities,
//! no_new_privs, not dumpable, at `/`. Anyone may send it datagrams (which keep
//! it up to `clock_keeper_idle` seconds longer) or bind the name first; either
//! costs only the speed-up. A process that binds the name first with
//! SO_PASSCRED learns, from each run's empty datagram, the supervisor's pid and
//! real uid and gid: what `/proc` shows anyone already (unless hidepid).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// The abstract name (a leading NUL, no terminating one).
const NAME: &[u8] = b"\0rustbox-clock-keeper";
/// The keeper's user and group: nobody.
const NOBODY: libc::uid_t = 65534;

fn address() -> (libc::sockaddr_un, libc::socklen_t) {
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in a.sun_path.iter_mut().zip(NAME) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + NAME.len();
    (a, len as libc::socklen_t)
}

fn datagram_socket() -> Option<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    // SAFETY: a new descriptor that nothing else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// After a run: tell the keeper another run came, or start one. Never fails the
/// run: what goes wrong here costs only the speed-up. `idle` zero: no keeper.
pub fn ensure(idle: Duration) {
    // Stranded in a box's network namespace (going back failed, and the run
    // failed with it): a keeper's socket there would be the box's to find.
    if idle.is_zero() || !super::netns_home::at_home() {
        return;
    }
    let Some(sock) = datagram_socket() else {
        return;
    };
    let (addr, len) = address();
    // SAFETY: sendto with no payload to a live address of the given length.
    let sent = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            std::ptr::null(),
            0,
            libc::MSG_DONTWAIT,
            (&addr as *const libc::sockaddr_un).cast(),
            len,
        )
    };
    if sent == 0 {
        return; // A keeper is there, and counts from now.
    }
    spawn(idle);
}

/// Double fork: the keeper is reparented at once, and the intermediate child
/// is reaped here.
fn spawn(idle: Duration) {
    // SAFETY: fork in a single-threaded process (no lock of the allocator or of
    // std can be held by another thread); the child runs `keep`, which ends in
    // _exit and never returns into the supervisor's code.
    let child = unsafe { libc::fork() };
    if child == 0 {
        // SAFETY: as above.
        if unsafe { libc::fork() } == 0 {
            keep(idle);
        }
        // SAFETY: ends the intermediate child without running destructors.
        unsafe { libc::_exit(0) };
    }
    if child > 0 {
        let mut st = 0;
        // SAFETY: waits for our own child, writing only `st`.
        unsafe { libc::waitpid(child, &mut st, 0) };
    }
}

/// The keeper itself. Never returns.
fn keep(idle: Duration) -> ! {
    let exit = || -> ! {
        // SAFETY: ends the keeper without running the supervisor's destructors.
        unsafe { libc::_exit(0) }
    };
    // First, before it does anything: none of the caller's descriptors (its
    // pipes must see end-of-file when rustbox exits) and none of the
    // supervisor's signal handling (a keeper dies of SIGTERM, at once).
    if close_all().is_err() || super::interrupt::reset_all().is_err() {
        exit();
    }
    // SAFETY: setsid has no memory effects; the keeper leaves the caller's
    // session and terminal.
    unsafe { libc::setsid() };
    let Some(sock) = datagram_socket() else {
        exit()
    };
    let (addr, len) = address();
    // SAFETY: bind to a live address of the given length.
    if unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len,
        )
    } != 0
    {
        exit(); // Another keeper has the name.
    }
    // Held until the keeper exits.
    let Ok(_hooks) = super::cpuclock::hold_scheduling_hooks() else {
        exit()
    };
    if become_nobody().is_err() {
        exit();
    }
    let timeout = idle.as_millis().min(i32::MAX as u128) as i32;
    loop {
        let mut p = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one live pollfd.
        match unsafe { libc::poll(&mut p, 1, timeout) } {
            0 => exit(), // Idle long enough.
            n if n > 0 => drain(&sock),
            _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
            _ => exit(),
        }
    }
}

fn drain(sock: &OwnedFd) {
    let mut buf = [0u8; 64];
    // SAFETY: recv writes at most `buf.len()` bytes into `buf`, a live local.
    while unsafe {
        libc::recv(
            sock.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    } >= 0
    {}
}

/// Everything of the supervisor's privilege and context given up.
fn become_nobody() -> Result<(), ()> {
    let ok = |r: libc::c_int| if r == 0 { Ok(()) } else { Err(()) };
    // SAFETY: each call changes only the calling process's own attributes, from
    // constant arguments.
    unsafe {
        ok(libc::chdir(c"/".as_ptr()))?;
        ok(libc::setgroups(0, std::ptr::null()))?;
        ok(libc::setresgid(NOBODY, NOBODY, NOBODY))?;
        ok(libc::setresuid(NOBODY, NOBODY, NOBODY))?;
        ok(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
        ok(libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0))?;
        ok(libc::prctl(
            libc::PR_SET_NAME,
            c"rustbox-clock".as_ptr(),
            0,
            0,
            0,
        ))?;
        if libc::geteuid() != NOBODY || libc::getuid() != NOBODY {
            return Err(());
        }
    }
    Ok(())
}

/// Close every descriptor the keeper was born with.
fn close_all() -> Result<(), ()> {
    // SAFETY: closes descriptors of this process only; the keeper uses none of
    // them (its own socket and counter are opened after this).
    match unsafe { libc::syscall(libc::SYS_close_range, 0, libc::c_uint::MAX, 0) } {
        0 => Ok(()),
        _ => Err(()),
    }
}
