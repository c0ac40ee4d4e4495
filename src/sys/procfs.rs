//! Reading /proc on the host side: processes of a box uid, CPU time of a tree.

use crate::sys::error::StepError;

/// Pids of every live process acting as `uid`: any of its real, effective, saved
/// or filesystem uids is `uid` (a setuid program of the box user run from outside
/// the box counts too). Zombies are left out (dead already; only their parent can
/// reap them), except a thread-group leader that exited while its threads run on:
/// /proc shows it as a zombie, and a signal to it still reaches the threads.
///
/// Every process's uids are read (through its pidfd, or its status): the owner of `/proc/<pid>` is only its
/// effective uid, and a process can keep the box uid as its real (or saved) uid
/// with another effective one (a setuid program of the box user, then
/// `setreuid`), from where it could signal the box's later programs. (A review
/// found the owner pre-filter missing exactly that process.)
pub fn pids_of_uid(uid: u32) -> Result<Vec<i32>, StepError> {
    let names = crate::boxdir::walk::list(std::path::Path::new("/proc"), "procfs")?;
    let mut out = Vec::new();
    // A process that exits while we look is gone (ENOENT, ESRCH); any other error
    // would leave a process of the box unseen, so it is an error.
    let gone = |e: &std::io::Error| matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH));
    for name in names {
        let pid: i32 = match name.to_str().and_then(|s| s.parse().ok()) {
            Some(p) => p,
            None => continue,
        };
        // The kernel's answer through a pidfd (6.13+) is the status's Uid line
        // without /proc's rendering of the rest (a tenth of the cost, and 90
        // processes per --init and --cleanup here): a process none of whose
        // uids is `uid` is skipped; the others' status is read for their state.
        match crate::sys::pidfd::uids(pid) {
            Ok(crate::sys::pidfd::Uids::Known(ids)) if !ids.contains(&uid) => continue,
            Ok(crate::sys::pidfd::Uids::Gone) => continue,
            Ok(_) => {}
            Err(err) => return Err(StepError::io("procfs", format!("pidfd of {pid}"), &err)),
        }
        let status = match crate::sys::fd::read_text(format!("/proc/{pid}/status")) {
            Ok(s) => s,
            Err(err) if gone(&err) => continue,
            Err(err) => return Err(StepError::io("procfs", format!("/proc/{pid}/status"), &err)),
        };
        if acts_as(&status, uid) && alive(&status) {
            out.push(pid);
        }
    }
    Ok(out)
}

/// The value of the `key` line (e.g. `"Uid:"`) of a `/proc/<pid>/status` text,
/// trimmed.
pub fn field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
}

/// Any of the four uids of a status text is `uid`.
fn acts_as(status: &str, uid: u32) -> bool {
    field(status, "Uid:").is_some_and(|ids| {
        ids.split_whitespace()
            .filter_map(|s| s.parse::<u32>().ok())
            .any(|u| u == uid)
    })
}

/// Not dead, or a zombie leader whose threads still run.
fn alive(status: &str) -> bool {
    let zombie =
        field(status, "State:").is_some_and(|st| st.starts_with('Z') || st.starts_with('X'));
    let threads = field(status, "Threads:")
        .and_then(|t| t.parse::<u32>().ok())
        .unwrap_or(1);
    !zombie || threads > 1
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

/// CPU seconds of one process and of the children it reaped: its process clock
/// (`procclock`, exact to its last tick) plus cutime and cstime from
/// /proc/<pid>/stat (clock ticks); utime and stime from there if the clock
/// cannot be read.
fn process_tree_seconds(pid: i32) -> Option<f64> {
    let s = crate::sys::fd::read_text(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and ')': fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // rest[0] is field 3 (state); utime is field 14 -> index 11.
    let t: Option<Vec<u64>> = f.get(11..15)?.iter().map(|x| x.parse().ok()).collect();
    let t = t?;
    let tick = ticks_per_second();
    let own = crate::sys::procclock::seconds(pid).unwrap_or((t[0] + t[1]) as f64 / tick);
    Some(own + (t[2] + t[3]) as f64 / tick)
}

/// Children of every thread of `pid`. Best effort: the walk is a lower bound
/// (the task clock minus the steal is the other, `supervisor::cputime`), and a
/// process that ends while we look has no children to count.
fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let task = std::path::PathBuf::from(format!("/proc/{pid}/task"));
    for t in crate::boxdir::walk::list(&task, "procfs").unwrap_or_default() {
        if let Ok(s) = crate::sys::fd::read_text(task.join(t).join("children")) {
            out.extend(s.split_whitespace().filter_map(|x| x.parse::<i32>().ok()));
        }
    }
    out
}

/// CPU time in seconds used by `root` and every live descendant, including what
/// their reaped children used: the scheduler's count of a box without a cgroup
/// (`supervisor::cputime`). A lower bound: it lags by a scheduler tick per busy
/// CPU, misses children reaped by nobody yet, and a process that ends while the
/// walk is under way is counted nowhere (each is read before its children, and
/// each pid once, so none is counted twice).
pub fn tree_cpu_seconds(root: i32) -> f64 {
    let mut total = 0.0;
    let mut stack = vec![root];
    // A thread that exits while its children are listed hands them to a
    // sibling thread, which may list them again: each pid is counted once.
    let mut seen = std::collections::HashSet::new();
    while let Some(p) = stack.pop() {
        if !seen.insert(p) {
            continue;
        }
        if seen.len() > 100_000 {
            break;
        }
        total += process_tree_seconds(p).unwrap_or(0.0);
        stack.extend(children(p));
    }
    total
}

#[cfg(test)]
mod tests {
    #[test]
    fn who_counts_as_the_box_user() {
        let st = |uids: &str, state: &str, threads: u32| {
            format!("Name:\tx\nState:\t{state}\nUid:\t{uids}\nThreads:\t{threads}\n")
        };
        assert!(super::acts_as(&st("5\t5\t5\t5", "R (running)", 1), 5));
        assert!(super::acts_as(&st("1000\t5\t5\t5", "S (sleeping)", 1), 5));
        assert!(!super::acts_as(&st("1000\t1000\t1000\t1000", "S", 1), 5));
        assert!(super::alive(&st("5\t5\t5\t5", "S (sleeping)", 1)));
        assert!(!super::alive(&st("5\t5\t5\t5", "Z (zombie)", 1)));
        assert!(super::alive(&st("5\t5\t5\t5", "Z (zombie)", 3)));
    }
}
