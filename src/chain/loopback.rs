//! Loopback up in the box's new network namespace (hardening plan H1).
//!
//! A new network namespace holds only `lo`, and it is down: programs that talk to
//! 127.0.0.1 (a local server in a test, an MPI runtime) would fail. Bringing it up
//! gives them loopback and nothing else: there is no other interface and no route.
//!
//! The calls are made without the C library (`sys::raw`): the spare maker
//! (`boxdir::maker`), which shares the supervisor's memory while both run,
//! brings up its namespace's `lo` with the same code.

use crate::sys::error::StepError;
use crate::sys::raw::{call, out};

fn ifreq_lo() -> libc::ifreq {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo".iter().enumerate() {
        ifr.ifr_name[i] = *b as libc::c_char;
    }
    ifr
}

/// ioctl `req` on `sock` with `ifr`: only SIOCGIFFLAGS and SIOCSIFFLAGS, which
/// read and write an ifreq.
fn ioctl(sock: usize, req: libc::c_ulong, ifr: &mut libc::ifreq) -> Result<(), i32> {
    debug_assert!(req == libc::SIOCGIFFLAGS || req == libc::SIOCSIFFLAGS);
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write the ifreq given, a
    // live local of the caller's.
    unsafe { call(libc::SYS_ioctl, [sock, req as usize, out(ifr), 0, 0, 0]) }.map(drop)
}

fn flags(sock: usize) -> Result<libc::c_short, (&'static str, i32)> {
    let mut ifr = ifreq_lo();
    ioctl(sock, libc::SIOCGIFFLAGS, &mut ifr).map_err(|e| ("SIOCGIFFLAGS lo", e))?;
    // SAFETY: after SIOCGIFFLAGS the flags member of the union is the one set.
    Ok(unsafe { ifr.ifr_ifru.ifru_flags })
}

/// `lo` up and read back: what failed and its errno (0: no errno) if not.
pub fn up_raw() -> Result<(), (&'static str, i32)> {
    let domain = libc::AF_INET as usize;
    let kind = (libc::SOCK_DGRAM | libc::SOCK_CLOEXEC) as usize;
    // SAFETY: socket(2) with constant arguments.
    let sock = unsafe { call(libc::SYS_socket, [domain, kind, 0, 0, 0, 0]) }
        .map_err(|e| ("socket(AF_INET)", e))?;
    let result = (|| {
        let mut ifr = ifreq_lo();
        ifr.ifr_ifru.ifru_flags =
            flags(sock)? | (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        ioctl(sock, libc::SIOCSIFFLAGS, &mut ifr).map_err(|e| ("SIOCSIFFLAGS lo up", e))?;
        if flags(sock)? & libc::IFF_UP as libc::c_short == 0 {
            return Err(("lo is still down after SIOCSIFFLAGS", 0));
        }
        Ok(())
    })();
    // SAFETY: closes the socket made above, ours alone.
    let closed = unsafe { call(libc::SYS_close, [sock, 0, 0, 0, 0, 0]) };
    result?;
    closed.map(drop).map_err(|e| ("close the socket", e))
}

pub fn bring_up() -> Result<(), StepError> {
    up_raw().map_err(|(what, errno)| match errno {
        0 => StepError::new("net.loopback", what),
        e => StepError::sys("net.loopback", what, e),
    })
}
