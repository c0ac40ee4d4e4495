//! Loopback up in the box's new network namespace (hardening plan H1).
//!
//! A new network namespace holds only `lo`, and it is down: programs that talk to
//! 127.0.0.1 (a local server in a test, an MPI runtime) would fail. Bringing it up
//! gives them loopback and nothing else: there is no other interface and no route.

use crate::sys::error::StepError;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

fn ifreq_lo() -> libc::ifreq {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in b"lo".iter().enumerate() {
        ifr.ifr_name[i] = *b as libc::c_char;
    }
    ifr
}

fn flags(sock: &OwnedFd) -> Result<libc::c_short, StepError> {
    let mut ifr = ifreq_lo();
    // SAFETY: SIOCGIFFLAGS fills ifr for the named interface.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut ifr) } < 0 {
        return Err(StepError::last_os("net.loopback", "SIOCGIFFLAGS lo"));
    }
    // SAFETY: after SIOCGIFFLAGS the flags member of the union is the one set.
    Ok(unsafe { ifr.ifr_ifru.ifru_flags })
}

pub fn bring_up() -> Result<(), StepError> {
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(StepError::last_os("net.loopback", "socket(AF_INET)"));
    }
    // SAFETY: fd was just returned by socket(2).
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut ifr = ifreq_lo();
    ifr.ifr_ifru.ifru_flags = flags(&sock)? | (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    // SAFETY: SIOCSIFFLAGS with a filled ifreq for "lo".
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &ifr) } < 0 {
        return Err(StepError::last_os("net.loopback", "SIOCSIFFLAGS lo up"));
    }
    if flags(&sock)? & libc::IFF_UP as libc::c_short == 0 {
        return Err(StepError::new(
            "net.loopback",
            "lo is still down after SIOCSIFFLAGS",
        ));
    }
    Ok(())
}
