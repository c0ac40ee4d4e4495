//! Reading /proc on the host side: processes of a box uid, CPU time of a tree.

use crate::error::StepError;
use std::os::unix::fs::MetadataExt;

/// Pids of every live process whose real uid is `uid`. Zombies are left out: they
/// are dead already, and only their parent can make them go away by reaping them.
///
/// Only the processes whose `/proc/<pid>` directory belongs to `uid` have their
/// status file read: the directory is owned by the process's effective uid, even
/// when the process made itself non-dumpable (the kernel's `task_dump_owner`
/// leaves world-readable directories alone), and a process of a box has its
/// effective uid equal to its real one (three equal ids, no capability, no setuid
/// program: no_new_privs and nosuid mounts). A stat is a fifth of the cost of
/// generating a status file: 0.5 ms instead of 2.6 ms for 90 processes.
pub fn pids_of_uid(uid: u32) -> Result<Vec<i32>, StepError> {
    let dir = std::fs::read_dir("/proc").map_err(|e| StepError::io("procfs", "/proc", &e))?;
    let mut out = Vec::new();
    for e in dir.flatten() {
        let pid: i32 = match e.file_name().to_str().and_then(|s| s.parse().ok()) {
            Some(p) => p,
            None => continue,
        };
        match e.metadata() {
            Ok(m) if m.uid() == uid => {}
            _ => continue, // another owner, or gone meanwhile
        }
        let status = match std::fs::read_to_string(format!("/proc/{pid}/status")) {
            Ok(s) => s,
            Err(_) => continue, // gone meanwhile
        };
        let real = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|s| s.parse::<u32>().ok());
        let dead = status
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .map(str::trim_start)
            .is_some_and(|st| st.starts_with('Z') || st.starts_with('X'));
        if real == Some(uid) && !dead {
            out.push(pid);
        }
    }
    Ok(out)
}

/// Clock ticks per second, for /proc/<pid>/stat times.
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf with a constant argument.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// (utime + stime + cutime + cstime) in ticks for one process, from /proc/<pid>/stat.
fn stat_ticks(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and ')': fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // rest[0] is field 3 (state); utime is field 14 -> index 11.
    let t: Option<Vec<u64>> = f.get(11..15)?.iter().map(|x| x.parse().ok()).collect();
    Some(t?.iter().sum())
}

fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|x| x.parse::<i32>().ok()));
            }
        }
    }
    out
}

/// CPU time in seconds used by `root` and every live descendant, including what
/// their reaped children used. A stop-gap until cgroup accounting measures the box.
pub fn tree_cpu_seconds(root: i32) -> f64 {
    let mut total = 0u64;
    let mut stack = vec![root];
    let mut seen = 0;
    while let Some(p) = stack.pop() {
        seen += 1;
        if seen > 100_000 {
            break;
        }
        total += stat_ticks(p).unwrap_or(0);
        stack.extend(children(p));
    }
    total as f64 / ticks_per_second()
}
