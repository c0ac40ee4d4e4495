//! `rustbox --check`: a report an operator acts on. Each item is one thing
//! rustbox needs or one thing that makes timings unfair, with a verdict and,
//! where there is one, the fix:
//!
//! - `privilege`: root (setuid) and the capabilities the supervisor uses;
//! - `kernel` (`kernel.rs`): namespaces and each system call, probed for real;
//! - `cgroup`: the backend `--cg` would use, each controller, and whether the
//!   place the boxes' groups go is writable;
//! - `filesystem`: the box and lock roots;
//! - `timing` (`hygiene.rs`): isolate-check-environment's list.
//!
//! `fail` means a run (or a `--cg` run) in strict mode would be refused here:
//! the check then exits 2. `warn` is a source of unfair timings, `note` a
//! feature rustbox does without. The check changes nothing on the host.

pub mod fix;
pub mod hygiene;
pub mod kernel;

use crate::request::config::Config;
use serde_json::{json, Value};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Note,
    Warn,
    Fail,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Note => "note",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Item {
    pub group: &'static str,
    pub name: String,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

impl Item {
    pub fn new(
        group: &'static str,
        name: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
        fix: Option<&str>,
    ) -> Item {
        Item {
            group,
            name: name.into(),
            status,
            detail: detail.into(),
            fix: fix.map(str::to_string),
        }
    }

    pub fn ok(group: &'static str, name: impl Into<String>, detail: impl Into<String>) -> Item {
        Item::new(group, name, Status::Ok, detail, None)
    }
}

/// Every item, in the order of the report.
pub fn items(cfg: &Config) -> Vec<Item> {
    let mut out = privilege();
    out.extend(kernel::items());
    out.extend(cgroup(cfg));
    out.extend(filesystem(cfg));
    out.extend(hygiene::Host::new("/").items());
    out
}

/// Whether strict mode can run here: no item failed.
pub fn can_run(items: &[Item]) -> bool {
    items.iter().all(|i| i.status != Status::Fail)
}

/// The report as JSON: the configuration rustbox found (what `--check-config`
/// always printed) and the items.
pub fn to_json(cfg: &Config, items: &[Item]) -> Value {
    json!({
        "rustbox_version": crate::VERSION,
        "kernel": crate::verdict::evidence::kernel_release(),
        "config": cfg.source.as_ref().map(|p| p.display().to_string()),
        "cg_root": cfg.cg_root,
        "box_root": cfg.box_root,
        "lock_root": cfg.lock_root,
        "first_uid": cfg.first_uid,
        "first_gid": cfg.first_gid,
        "num_boxes": cfg.num_boxes,
        "clock_keeper_idle": cfg.clock_keeper_idle,
        "strict_mode_can_run": can_run(items),
        "checks": items.iter().map(|i| json!({
            "group": i.group,
            "name": i.name,
            "status": i.status.name(),
            "detail": i.detail,
            "fix": i.fix,
        })).collect::<Vec<_>>(),
    })
}

/// The report as a table, each fix on the line below its item.
pub fn to_table(items: &[Item]) -> String {
    let w = items.iter().map(|i| i.name.len()).max().unwrap_or(0);
    let mut s = format!(
        "rustbox {} on Linux {}\n{:<10} {:<w$} {:<6} DETAIL\n",
        crate::VERSION,
        crate::verdict::evidence::kernel_release(),
        "GROUP",
        "CHECK",
        "STATUS",
    );
    for i in items {
        s += &format!(
            "{:<10} {:<w$} {:<6} {}\n",
            i.group,
            i.name,
            i.status.name(),
            i.detail
        );
        if let Some(f) = &i.fix {
            if i.status != Status::Ok {
                s += &format!("{:<10} {:<w$} {:<6}   fix: {f}\n", "", "", "");
            }
        }
    }
    let count = |st: Status| items.iter().filter(|i| i.status == st).count();
    s += &if can_run(items) {
        format!(
            "strict mode can run here ({} warnings, {} notes)\n",
            count(Status::Warn),
            count(Status::Note)
        )
    } else {
        format!(
            "strict mode cannot run here: {} failed ({} warnings)\n",
            count(Status::Fail),
            count(Status::Warn)
        )
    };
    s
}

/// The capabilities the supervisor and the chain use (numbers of
/// linux/capability.h): without one of them a step fails. Found by dropping
/// each from the bounding set in turn (docs/containers.md): CHOWN (the box's
/// directories), DAC_OVERRIDE and FOWNER (lending /box and /tmp), KILL (a box
/// uid's stale processes at --init and --cleanup), SETGID and SETUID (the box
/// user), SETPCAP (emptying the bounding set), NET_ADMIN (lo up in the new
/// network namespace), SYS_ADMIN (namespaces, mounts, pivot_root), SYS_PTRACE
/// (reading the box's /proc/PID/ns links to verify its namespaces), SYS_TIME
/// (the box's time namespace offsets).
pub const NEEDED_CAPS: [(u32, &str); 11] = [
    (0, "CAP_CHOWN"),
    (1, "CAP_DAC_OVERRIDE"),
    (3, "CAP_FOWNER"),
    (5, "CAP_KILL"),
    (6, "CAP_SETGID"),
    (7, "CAP_SETUID"),
    (8, "CAP_SETPCAP"),
    (12, "CAP_NET_ADMIN"),
    (19, "CAP_SYS_PTRACE"),
    (21, "CAP_SYS_ADMIN"),
    (25, "CAP_SYS_TIME"),
];

fn privilege() -> Vec<Item> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    // SAFETY: as above.
    let uid = unsafe { libc::getuid() };
    let mut out = vec![if euid == 0 {
        Item::ok(
            "privilege",
            "root",
            if uid == 0 {
                "started by root".to_string()
            } else {
                format!("setuid root, started by uid {uid}")
            },
        )
    } else {
        Item::new(
            "privilege",
            "root",
            Status::Fail,
            format!("not root (euid {euid}): every mode but this one is refused"),
            Some("install it setuid root (make install), or run it as root"),
        )
    }];
    let status = crate::sys::fd::read_text("/proc/self/status");
    let eff = status.as_ref().ok().and_then(|s| fix::cap_eff(s));
    // The watchdog's real-time priority (watchdog::Priority), tried for real and
    // given back. Without it runs still hold, but a CPU-time kill can land a
    // scheduler slice late (10 ms seen in a container): a timing warning.
    out.push(realtime_item(eff));
    out.push(match (eff, &status) {
        (Some(eff), _) => {
            let missing: Vec<&str> = NEEDED_CAPS
                .iter()
                .filter(|(n, _)| eff & (1u64 << n) == 0)
                .map(|(_, name)| *name)
                .collect();
            if missing.is_empty() {
                Item::ok("privilege", "capabilities", "every capability the supervisor uses is effective")
            } else {
                Item::new(
                    "privilege",
                    "capabilities",
                    Status::Fail,
                    format!("not effective: {}", missing.join(", ")),
                    Some("grant them to the container (docker/podman: --cap-add), or run as full root"),
                )
            }
        }
        (None, Err(e)) => Item::new(
            "privilege",
            "capabilities",
            Status::Fail,
            format!("cannot read /proc/self/status: {e}"),
            None,
        ),
        (None, Ok(_)) => Item::new(
            "privilege",
            "capabilities",
            Status::Fail,
            "no CapEff line in /proc/self/status",
            None,
        ),
    });
    out
}

/// Whether this process may write `dir` (for a directory that is there), and
/// whether its file system is mounted read-only.
fn writable(dir: &Path) -> Result<(), String> {
    let c = crate::sys::fd::cpath(dir, "check").map_err(|e| e.detail)?;
    // SAFETY: a valid NUL-terminated path; statvfs writes only `st`.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(format!("statvfs: {}", std::io::Error::last_os_error()));
    }
    if st.f_flag & libc::ST_RDONLY != 0 {
        return Err("mounted read-only".into());
    }
    // SAFETY: a valid path; faccessat only checks.
    if unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) } != 0 {
        return Err(format!("not writable: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

fn cgroup(cfg: &Config) -> Vec<Item> {
    use crate::cgroup::Backend;
    use crate::request::spec::CgroupChoice;
    let survey = match crate::cgroup::survey() {
        Ok(s) => s,
        Err(e) => {
            return vec![Item::new(
                "cgroup",
                "backend",
                Status::Fail,
                e.to_string(),
                None,
            )]
        }
    };
    let backend = match crate::cgroup::detect(CgroupChoice::Auto) {
        Ok(b) => b,
        Err(e) => {
            let mut found: Vec<String> = survey.v1.iter().map(|(c, _)| format!("v1 {c}")).collect();
            match &survey.v2 {
                Some(Ok(v2)) => found.push(format!(
                    "v2 at {} with [{}]{}",
                    v2.base.display(),
                    v2.controllers.join(" "),
                    if v2.to_delegate { " delegated" } else { "" }
                )),
                Some(Err(e)) => found.push(format!("v2 ({e})")),
                None => {}
            }
            return vec![Item::new(
                "cgroup",
                "backend",
                Status::Fail,
                format!("{}; found: {}: --cg runs are refused", e.detail, if found.is_empty() { "nothing".into() } else { found.join(", ") }),
                Some("mount cgroup v2 with memory, pids and cpu in the root's cgroup.subtree_control (or the v1 memory, pids, cpu, cpuacct and freezer hierarchies); in a container, give it a cgroup namespace with memory, pids and cpu delegated to its group, mounted read-write"),
            )];
        }
    };
    let mut out = Vec::new();
    let (required, optional): (&[&str], &[&str]) = match backend {
        Backend::V1 => (crate::cgroup::v1::REQUIRED, &["cpuset"]),
        Backend::V2 => (crate::cgroup::v2::REQUIRED, &["cpuset"]),
    };
    let place = |c: &str| -> Option<std::path::PathBuf> {
        match backend {
            Backend::V1 => survey
                .v1
                .iter()
                .find(|(n, _)| n == c)
                .map(|(_, p)| p.clone()),
            Backend::V2 => survey
                .v2
                .as_ref()
                .and_then(|r| r.as_ref().ok())
                .filter(|v2| v2.controllers.iter().any(|h| h == c))
                .map(|v2| v2.base.clone()),
        }
    };
    out.push(Item::ok(
        "cgroup",
        "backend",
        match backend {
            Backend::V1 => "v1 (each controller its own hierarchy)".to_string(),
            Backend::V2 => match survey.v2.as_ref().and_then(|r| r.as_ref().ok()) {
                Some(v2) if v2.to_delegate => format!(
                    "v2 at {}, this process's own group: the first --cg run moves its processes into {}/{} and enables the controllers for its children (delegation to itself)",
                    v2.base.display(),
                    v2.base.display(),
                    crate::cgroup::delegate::LEAF
                ),
                Some(v2) => format!("v2 at {}", v2.base.display()),
                None => "v2".to_string(),
            },
        },
    ));
    for c in required.iter().chain(optional) {
        let needed = required.contains(c);
        out.push(match place(c) {
            Some(mount) => {
                // Where the boxes' groups go: <mount>/<cg_root>, or the mount
                // itself while cg_root is not made yet.
                let dir = mount.join(cfg.cg_root.trim_start_matches('/'));
                let probe = if dir.is_dir() { dir } else { mount.clone() };
                match writable(&probe) {
                    Ok(()) => Item::ok("cgroup", format!("controller.{c}"), format!("{}", probe.display())),
                    Err(why) => Item::new(
                        "cgroup",
                        format!("controller.{c}"),
                        if needed { Status::Fail } else { Status::Warn },
                        format!("{}: {why}: rustbox cannot make the boxes' groups there", probe.display()),
                        Some("a writable cgroup file system (in a container: a delegated subtree mounted read-write)"),
                    ),
                }
            }
            None if needed => Item::new(
                "cgroup",
                format!("controller.{c}"),
                Status::Fail,
                format!("the {c} controller is not available: --cg runs are refused"),
                Some(match backend {
                    Backend::V1 => "mount its v1 hierarchy",
                    Backend::V2 => "enable it in the root's cgroup.subtree_control (in a container: delegate it to the container's group)",
                }),
            ),
            None => Item::new(
                "cgroup",
                format!("controller.{c}"),
                Status::Note,
                format!("the {c} controller is not available: a configured cpuset is refused"),
                None,
            ),
        });
    }
    if backend == Backend::V1 {
        out.push(swap_accounting(&survey));
    }
    out
}

/// v1 with swap on needs memory.memsw.* or the memory limit would not hold.
fn swap_accounting(survey: &crate::cgroup::Survey) -> Item {
    let swap_on = crate::sys::fd::read_text("/proc/swaps").is_ok_and(|s| s.lines().count() > 1);
    let memsw = survey
        .v1
        .iter()
        .find(|(n, _)| n == "memory")
        .is_some_and(|(_, m)| m.join("memory.memsw.limit_in_bytes").exists());
    match (swap_on, memsw) {
        (false, _) => Item::ok("cgroup", "swap_accounting", "swap is off"),
        (true, true) => Item::ok("cgroup", "swap_accounting", "swap is on and accounted (memory.memsw.*)"),
        (true, false) => Item::new(
            "cgroup",
            "swap_accounting",
            Status::Fail,
            "swap is on but the kernel does not account it (no memory.memsw.*): --cg runs are refused",
            Some("swapoff -a, or boot with swapaccount=1"),
        ),
    }
}

/// The file system type's name, from statfs's magic number.
fn fs_name(magic: i64) -> String {
    match magic {
        0x0102_1994 => "tmpfs".into(),
        0xEF53 => "ext4".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x794C_7630 => "overlay".into(),
        0x6969 => "nfs".into(),
        0x6573_5546 => "fuse".into(),
        0x2FC1_2FC1 => "zfs".into(),
        m => format!("type {m:#x}"),
    }
}

fn filesystem(cfg: &Config) -> Vec<Item> {
    let mut out = Vec::new();
    for (name, dir, what) in [
        (
            "box_root",
            &cfg.box_root,
            "each box is a tmpfs mounted here",
        ),
        (
            "lock_root",
            &cfg.lock_root,
            "locks and network namespace holders",
        ),
    ] {
        let Some(at) = Path::new(dir).ancestors().find(|a| a.exists()) else {
            out.push(Item::new(
                "filesystem",
                name,
                Status::Fail,
                format!("{}: nothing of it exists", dir.display()),
                None,
            ));
            continue;
        };
        let c = match crate::sys::fd::cpath(at, "check") {
            Ok(c) => c,
            Err(e) => {
                out.push(Item::new("filesystem", name, Status::Fail, e.detail, None));
                continue;
            }
        };
        // SAFETY: statfs writes only `st`, with a valid path.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
            out.push(Item::new(
                "filesystem",
                name,
                Status::Fail,
                format!(
                    "statfs {}: {}",
                    at.display(),
                    std::io::Error::last_os_error()
                ),
                None,
            ));
            continue;
        }
        let fs = fs_name(st.f_type as i64);
        let shown = if at == dir.as_path() {
            format!("{} on {fs}", dir.display())
        } else {
            format!(
                "{} (made at the first --init) under {} on {fs}",
                dir.display(),
                at.display()
            )
        };
        out.push(match writable(at) {
            Err(why) => Item::new(
                "filesystem",
                name,
                Status::Fail,
                format!("{shown}: {why}"),
                Some(
                    "point the configuration's box_root/lock_root at a writable local file system",
                ),
            ),
            Ok(()) if fs == "nfs" || fs == "fuse" => Item::new(
                "filesystem",
                name,
                Status::Warn,
                format!("{shown}: a network or FUSE file system ({what})"),
                Some("a local file system"),
            ),
            Ok(()) => Item::ok("filesystem", name, format!("{shown} ({what})")),
        });
    }
    out
}

/// Whether the watchdog gets SCHED_FIFO here, and if not, why: the capability,
/// or (with it) a v1 cpu cgroup that has no real-time runtime, which is what a
/// container's own group gets unless the runtime is told otherwise.
fn realtime_item(eff: Option<u64>) -> Item {
    const SYS_NICE: u32 = 23;
    let got = crate::supervisor::watchdog::Priority::raise().realtime();
    let Err(errno) = got else {
        return Item::ok(
            "privilege",
            "capabilities.timing",
            "the watchdog runs at real-time priority (SCHED_FIFO, tried and given back)",
        );
    };
    let late = "the watchdog runs at normal priority, and a CPU-time kill can land up to a scheduler slice (about 10 ms) late";
    let e = crate::sys::error::errno_name(errno);
    if eff.is_some_and(|eff| eff & (1u64 << SYS_NICE) == 0) {
        return Item::new(
            "privilege",
            "capabilities.timing",
            Status::Warn,
            format!("CAP_SYS_NICE is not effective: {late}"),
            Some("grant CAP_SYS_NICE (docker/podman: --cap-add=SYS_NICE)"),
        );
    }
    let group = crate::sys::fd::read_text("/proc/self/cgroup")
        .ok()
        .and_then(|t| crate::cgroup::fs::group_in(&t, "cpu").map(str::to_string));
    match group {
        Some(g) => Item::new(
            "privilege",
            "capabilities.timing",
            Status::Warn,
            format!("SCHED_FIFO refused ({e}) with CAP_SYS_NICE: the v1 cpu cgroup {g} has no real-time runtime (cpu.rt_runtime_us); {late}"),
            Some("give the group real-time runtime (docker: dockerd --cpu-rt-runtime=950000 and docker run --cpu-rt-runtime=100000; podman: --cpu-rt-runtime=100000; by hand: write cpu.rt_runtime_us of the group and each parent)"),
        ),
        None => Item::new(
            "privilege",
            "capabilities.timing",
            Status::Warn,
            format!("SCHED_FIFO refused ({e}): {late}"),
            Some("allow real-time scheduling for rustbox (CAP_SYS_NICE, no policy that forbids SCHED_FIFO)"),
        ),
    }
}
