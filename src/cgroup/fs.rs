//! cgroupfs file access with context: every error names the file and the value.

use crate::sys::error::StepError;
use std::path::Path;

pub fn write(step: &str, path: &Path, value: &str) -> Result<(), StepError> {
    std::fs::write(path, value)
        .map_err(|e| StepError::io(step, format!("write {value:?} to {}", path.display()), &e))
}

pub fn read(step: &str, path: &Path) -> Result<String, StepError> {
    crate::sys::fd::read_text(path).map_err(|e| StepError::io(step, path.display().to_string(), &e))
}

pub fn read_u64(step: &str, path: &Path) -> Result<u64, StepError> {
    let s = read(step, path)?;
    let t = s.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse()
        .map_err(|_| StepError::new(step, format!("{}: '{t}' is not a number", path.display())))
}

/// Write `value` and read it back; the kernel must report exactly what was written.
pub fn set_verified(step: &str, path: &Path, value: &str) -> Result<(), StepError> {
    write(step, path, value)?;
    let got = read(step, path)?;
    if got.trim() != value {
        return Err(StepError::new(
            step,
            format!(
                "{} reads back as {:?}, not {value:?}",
                path.display(),
                got.trim()
            ),
        ));
    }
    Ok(())
}

/// Write a CPU or memory-node list (`0-2,5`) and read it back as the same set:
/// the kernel writes lists its own way ("0,1" reads back as "0-1").
pub fn set_list_verified(step: &str, path: &Path, value: &str) -> Result<(), StepError> {
    write(step, path, value)?;
    let got = read(step, path)?;
    match (id_list(value), id_list(&got)) {
        (Some(want), Some(have)) if want == have => Ok(()),
        _ => Err(StepError::new(
            step,
            format!(
                "{} reads back as {:?}, not {value:?}",
                path.display(),
                got.trim()
            ),
        )),
    }
}

/// A kernel id list (`0-2,5`, empty for none) as its ids; None if malformed.
pub fn id_list(text: &str) -> Option<std::collections::BTreeSet<u32>> {
    let mut ids = std::collections::BTreeSet::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b): (u32, u32) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let n = part.trim().parse().ok()?;
                (n, n)
            }
        };
        if a > b || b - a > 65_536 {
            return None;
        }
        ids.extend(a..=b);
    }
    Some(ids)
}

/// Write a byte limit and read it back; the kernel may round it down to whole pages.
pub fn set_bytes_verified(step: &str, path: &Path, bytes: u64) -> Result<u64, StepError> {
    write(step, path, &bytes.to_string())?;
    let got = read_u64(step, path)?;
    if got > bytes || bytes - got >= 4096 {
        return Err(StepError::new(
            step,
            format!("{} reads back as {got}, not {bytes}", path.display()),
        ));
    }
    Ok(got)
}

/// The value of `key` in a flat keyed file (`key value` per line), e.g. memory.events.
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next()?.parse().ok())?
    })
}

/// Pids listed in a cgroup.procs file. An unreadable list is an error, never an
/// empty group: "nobody left" is what the kill loops wait for. A group that is
/// gone (ENOENT) is empty.
pub fn procs(step: &str, path: &Path) -> Result<Vec<i32>, StepError> {
    let text = match crate::sys::fd::read_text(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StepError::io(step, path.display().to_string(), &e)),
    };
    text.split_whitespace()
        .map(|p| {
            p.parse().map_err(|_| {
                StepError::new(step, format!("{}: '{p}' is not a pid", path.display()))
            })
        })
        .collect()
}

/// The group a `/proc/PID/cgroup` text names for v1 `controller` (one of a
/// hierarchy's comma-separated list), or for cgroup v2 with `controller` "" (the
/// "0::PATH" line).
pub fn group_in<'a>(proc_cgroup: &'a str, controller: &str) -> Option<&'a str> {
    proc_cgroup.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let hit = match controller {
            "" => ctrls.is_empty(),
            c => ctrls.split(',').any(|x| x == c),
        };
        hit.then_some(path)
    })
}

/// Check that process `pid` (as this process sees it) is listed in the group `dir`.
pub fn check_member(step: &str, dir: &Path, pid: i32) -> Result<(), StepError> {
    let path = dir.join("cgroup.procs");
    let procs = read(step, &path)?;
    if procs.split_whitespace().any(|p| p == pid.to_string()) {
        Ok(())
    } else {
        Err(StepError::new(
            step,
            format!("process {pid} is not in {}", dir.display()),
        ))
    }
}

/// Create `dir` unless it exists; true if this call created it.
pub fn mkdir(step: &str, dir: &Path) -> Result<bool, StepError> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(StepError::io(step, format!("mkdir {}", dir.display()), &e)),
    }
}

/// Remove a cgroup directory (its control files go with it). Missing is fine.
pub fn rmdir(step: &str, dir: &Path) -> Result<(), StepError> {
    for _ in 0..200 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            // EBUSY while the last tasks finish exiting.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            Err(e) => return Err(StepError::io(step, format!("rmdir {}", dir.display()), &e)),
        }
    }
    Err(StepError::sys(
        step,
        format!("rmdir {}", dir.display()),
        libc::EBUSY,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists as the kernel writes them and as a caller does are the same sets;
    /// anything malformed is no list at all.
    #[test]
    fn id_lists_compare_as_sets() {
        assert_eq!(id_list("0,1"), id_list("0-1\n"));
        assert_eq!(id_list("0-2,5"), Some([0, 1, 2, 5].into_iter().collect()));
        assert_eq!(id_list("\n"), Some(Default::default()));
        assert_ne!(id_list("0-1"), id_list("0-2"));
        for bad in ["3-1", "a", "1-", "-1", "0-4294967295"] {
            assert_eq!(id_list(bad), None, "{bad}");
        }
    }

    #[test]
    fn groups_by_controller_and_v2() {
        let t = "9:name=systemd:/\n4:cpu,cpuacct:/a/b\n3:pids:/box-1\n0::/ct/leaf\n";
        assert_eq!(group_in(t, "cpu"), Some("/a/b"));
        assert_eq!(group_in(t, "cpuacct"), Some("/a/b"));
        assert_eq!(group_in(t, "pids"), Some("/box-1"));
        assert_eq!(group_in(t, ""), Some("/ct/leaf"));
        assert_eq!(group_in(t, "memory"), None);
        assert_eq!(group_in("4:cpu:/x\n", ""), None);
    }

    #[test]
    fn keyed_files() {
        let t = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n";
        assert_eq!(keyed(t, "oom_kill"), Some(2));
        assert_eq!(keyed(t, "max"), Some(3));
        assert_eq!(keyed(t, "oom"), Some(1));
        assert_eq!(keyed(t, "nope"), None);
    }
}
