//! A time namespace per run, so the box's clocks say nothing of the host's uptime.
//!
//! `CLOCK_BOOTTIME`, `sysinfo().uptime` and `/proc/uptime` count from the host's
//! boot, and `CLOCK_MONOTONIC` nearly so: a program learns how long the host has
//! been up (and when it was last rebooted, patched, ...). A time namespace adds
//! offsets to both clocks for the processes in it. `unshare(CLONE_NEWTIME)` puts
//! only the caller's future children in a new one (`time_for_children`); its
//! offsets (`/proc/self/timens_offsets`) can be written until the first process
//! enters it: a forked child at its fork, one that shares the caller's memory
//! (the payload, `sys::vfork`; Linux 6.2+) at its execve, so the chain runs in
//! the host's time namespace and the program in the new one. The box's pid 1
//! does this before it starts the payload, with offsets that take both clocks back to under a second, and stays
//! in the host's time namespace itself: the supervisor's measurements (wall time,
//! CPU clocks, rusage) are not affected. `CLOCK_REALTIME` has no offset in a time
//! namespace: the date stays the host's.

use crate::sys::error::StepError;
use std::io::Write;
use std::os::unix::fs::FileExt;

const CLONE_NEWTIME: libc::c_int = 0x80;
const OFFSETS: &str = "/proc/self/timens_offsets";

fn now(clock: libc::clockid_t, name: &str) -> Result<libc::timespec, StepError> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime into our struct.
    if unsafe { libc::clock_gettime(clock, &mut ts) } < 0 {
        return Err(StepError::last_os(
            "namespace.time",
            format!("clock_gettime({name})"),
        ));
    }
    Ok(ts)
}

/// The offsets that take `monotonic` and `boottime` (read now) back to under a
/// second: minus their whole seconds. The kernel refuses an offset that would make
/// a clock negative, and these cannot (the clocks only move on).
fn offsets_for(monotonic: i64, boottime: i64) -> String {
    format!("monotonic {} 0\nboottime {} 0\n", -monotonic, -boottime)
}

/// Parse `timens_offsets` (`<clock> <secs> <nsecs>` lines, the clock by name or
/// number) into (monotonic, boottime) seconds.
fn parse_offsets(s: &str) -> Option<(i64, i64)> {
    let (mut mono, mut boot) = (None, None);
    for line in s.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 3 || f[2] != "0" {
            return None;
        }
        let v: i64 = f[1].parse().ok()?;
        match f[0] {
            "monotonic" | "1" => mono = Some(v),
            "boottime" | "7" => boot = Some(v),
            _ => return None,
        }
    }
    Some((mono?, boot?))
}

/// Put the caller's next children in a new time namespace whose clocks start near
/// zero; read the offsets back. Call in the box's pid 1 before it starts the payload. Returns a
/// description for the evidence.
pub fn for_children() -> Result<String, StepError> {
    // SAFETY: unshare with a constant flag; affects only our future children.
    if unsafe { libc::unshare(CLONE_NEWTIME) } < 0 {
        return Err(StepError::last_os(
            "namespace.time",
            "unshare(CLONE_NEWTIME)",
        ));
    }
    let mono = now(libc::CLOCK_MONOTONIC, "CLOCK_MONOTONIC")?;
    let boot = now(libc::CLOCK_BOOTTIME, "CLOCK_BOOTTIME")?;
    let (m, b): (i64, i64) = (mono.tv_sec, boot.tv_sec);
    let want = (-m, -b);
    let text = offsets_for(m, b);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(OFFSETS)
        .map_err(|e| StepError::io("namespace.time", OFFSETS, &e))?;
    // One write: the kernel takes all lines of a write or none.
    let n = f
        .write(text.as_bytes())
        .map_err(|e| StepError::io("namespace.time", format!("write {OFFSETS}"), &e))?;
    if n != text.len() {
        return Err(StepError::new(
            "namespace.time",
            format!("{OFFSETS}: {n} of {} bytes written", text.len()),
        ));
    }
    let mut buf = [0u8; 256];
    let n = f
        .read_at(&mut buf, 0)
        .map_err(|e| StepError::io("namespace.time", format!("read {OFFSETS}"), &e))?;
    let back = String::from_utf8_lossy(&buf[..n]);
    if parse_offsets(&back) != Some(want) {
        return Err(StepError::new(
            "namespace.time",
            format!("{OFFSETS} reads {:?}, not the offsets written", back.trim()),
        ));
    }
    Ok(format!(
        "new time namespace for the program: CLOCK_MONOTONIC and CLOCK_BOOTTIME (uptime) start near 0 \
         (offsets {} s, {} s, read back); CLOCK_REALTIME is the host's",
        want.0, want.1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip() {
        let t = offsets_for(12345, 23456);
        assert_eq!(t, "monotonic -12345 0\nboottime -23456 0\n");
        assert_eq!(parse_offsets(&t), Some((-12345, -23456)));
        // The kernel prints clock ids as numbers on some versions.
        assert_eq!(parse_offsets("1 -5 0\n7 -6 0\n"), Some((-5, -6)));
        assert_eq!(parse_offsets("monotonic 0 0\n"), None);
        assert_eq!(parse_offsets("monotonic -5 1\nboottime -6 0\n"), None);
    }
}
