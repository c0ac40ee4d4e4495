//! Another process's CPU clock (`clock_getcpuclockid`): what the scheduler has
//! charged all its threads so far, dead ones included, in nanoseconds; for a
//! thread running on another CPU it may trail by up to a scheduler tick. Any process may
//! read any other's: it is the time `/proc/<pid>/stat` shows, without the
//! rounding to clock ticks.

/// The kernel's largest pid (PID_MAX_LIMIT): the clock id encodes the pid in
/// its upper bits, and a larger one (or 0) would name the caller's own clock.
const PID_MAX_LIMIT: libc::pid_t = 1 << 22;

/// CPU seconds of process `pid` (host pid); None if it is gone or its clock
/// cannot be read (the walk that asks is a lower bound either way).
pub fn seconds(pid: libc::pid_t) -> Option<f64> {
    if !(1..=PID_MAX_LIMIT).contains(&pid) {
        return None;
    }
    let mut clock: libc::clockid_t = 0;
    // SAFETY: clock_getcpuclockid writes one clockid_t into a live local.
    if unsafe { libc::clock_getcpuclockid(pid, &mut clock) } != 0 {
        return None;
    }
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into a live local.
    if unsafe { libc::clock_gettime(clock, &mut t) } != 0 {
        return None;
    }
    Some(t.tv_sec as f64 + t.tv_nsec as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_process_clock_counts_what_it_ran() {
        let me = std::process::id() as libc::pid_t;
        let before = super::seconds(me).expect("own process clock");
        let spin = std::time::Instant::now();
        while spin.elapsed().as_millis() < 30 {
            std::hint::black_box(0u64);
        }
        let after = super::seconds(me).unwrap();
        assert!(after - before >= 0.02, "{before} -> {after}");
        // Out of the kernel's range (0 and i32::MAX would encode the caller's own
        // clock), and a child that is gone.
        assert_eq!(super::seconds(0), None);
        assert_eq!(super::seconds(i32::MAX), None);
        let child = std::process::Command::new("/bin/true").spawn().unwrap();
        let pid = child.id() as libc::pid_t;
        child.wait_with_output().unwrap();
        assert_eq!(super::seconds(pid), None);
    }
}
