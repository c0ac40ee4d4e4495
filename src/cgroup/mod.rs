//! The box's control group: one trait, a v1 and a v2 backend behind it.
//!
//! Written against cgroupfs directly rather than through a cgroup crate: the
//! evidence needs files such crates do not read (v2 `memory.events`, `pids.events`,
//! v1 `memory.oom_control`'s `oom_kill`), and the whole interface is a few reads and
//! writes (see docs/cgroups.md).
//!
//! Everything lives under `<hierarchy>/<cg_root>/box-<id>`; nothing else is touched.

pub mod delegate;
#[cfg(test)]
mod fake;
pub mod fs;
pub mod selfattach;
pub mod v1;
pub mod v2;

use crate::request::spec::CgroupChoice;
use crate::sys::error::StepError;
use crate::verdict::evidence::{CgroupUsage, Control};
pub use selfattach::SelfAttach;

/// Limits to apply to the box's cgroup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CgLimits {
    pub memory_bytes: Option<u64>,
    pub pids: Option<u64>,
    /// CPU bandwidth in CPUs (cpu.max / cfs quota).
    pub cpus: Option<f64>,
    /// cpuset.cpus and cpuset.mems from the config, if set for the box.
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
}

/// One box's cgroup.
pub trait BoxCgroup {
    fn version(&self) -> u8;
    /// A path to show in the evidence.
    fn display_path(&self) -> String;
    /// Apply the limits; one control per limit, each read back.
    fn apply(&self, l: &CgLimits) -> Result<Vec<Control>, StepError>;
    /// How the box's proxy gets into the group, prepared before the clone.
    fn entry(&self) -> Result<Entry, StepError>;
    /// Check from outside that process `pid` is in the group (v1: in every
    /// hierarchy).
    fn verify_member(&self, pid: i32) -> Result<(), StepError>;
    /// CPU time used so far, seconds (the watchdog's measure).
    fn cpu_seconds(&self) -> Result<f64, StepError>;
    /// Where `cpu_seconds` reads, as the evidence names it.
    fn cpu_source(&self) -> &'static str;
    /// Everything the group measured, after the run (the box's CPU time is
    /// `supervisor::cputime`'s, which reads `cpu_seconds`).
    fn stats(&self) -> Result<CgroupUsage, StepError>;
    /// Send SIGKILL to every process in the group now, without waiting: the
    /// watchdog's kill, which must not wait for the box's pid 1 to get a CPU.
    fn kill_now(&self);
    /// Kill every process in the cgroup and wait until it is empty.
    fn kill_all(&self) -> Result<(), StepError>;
    /// After the run (and kill_all): remove what is the run's alone (v2: the
    /// group; v1: the memory group, the others being kept for the box's next run
    /// until `remove_stale`).
    fn destroy(&self) -> Result<(), StepError>;
}

/// How the box's proxy enters its group.
pub enum Entry {
    /// Created in it: clone3(CLONE_INTO_CGROUP) with this directory (v2).
    CloneInto(std::os::fd::RawFd),
    /// It moves itself in, first thing after the clone (v1, see `selfattach`).
    SelfAttach(SelfAttach),
}

/// Which backend this host offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    V1,
    V2,
}

/// This process's mount table, read once: `--cg` runs look the hierarchies up
/// twice (detect, then create), and reading the table costs 0.1 ms or more (it
/// grows with the host's mounts). Nothing here mounts cgroup hierarchies. A
/// table that cannot be read is an error, never an empty one: an empty table
/// would say "no cgroup here" and `--cleanup` would leave the box's groups.
fn mountinfo() -> Result<&'static str, StepError> {
    const PATH: &str = "/proc/self/mountinfo";
    static INFO: std::sync::OnceLock<Result<String, StepError>> = std::sync::OnceLock::new();
    INFO.get_or_init(|| {
        crate::sys::fd::read_text(PATH).map_err(|e| StepError::io("cgroup.detect", PATH, &e))
    })
    .as_deref()
    .map_err(Clone::clone)
}

/// Pick the backend: a pure v2 host (controllers in the unified hierarchy) uses v2,
/// a host with the v1 controllers mounted uses v1; `--cgroup` forces one.
pub fn detect(choice: CgroupChoice) -> Result<Backend, StepError> {
    let info = mountinfo()?;
    let v2 = v2::Hierarchy::find(info).map(|h| h.usable());
    let v2_ok = matches!(v2, Some(Ok(())));
    // Why v2 cannot be used, where a v2 hierarchy is there at all.
    let v2_why = match &v2 {
        Some(Err(why)) => format!(": {why}"),
        _ => String::new(),
    };
    let v1_ok = v1::Hierarchies::find(info).is_ok();
    match choice {
        CgroupChoice::V1 if v1_ok => Ok(Backend::V1),
        CgroupChoice::V1 => Err(StepError::new(
            "cgroup.detect",
            "--cgroup v1: the cgroup v1 memory, pids, cpu, cpuacct and freezer controllers are not all mounted",
        )),
        CgroupChoice::V2 if v2_ok => Ok(Backend::V2),
        CgroupChoice::V2 => Err(StepError::new(
            "cgroup.detect",
            format!("--cgroup v2: no cgroup v2 hierarchy with the memory, pids and cpu controllers{v2_why}"),
        )),
        CgroupChoice::Auto if v2_ok => Ok(Backend::V2),
        CgroupChoice::Auto if v1_ok => Ok(Backend::V1),
        CgroupChoice::Auto => Err(StepError::new(
            "cgroup.detect",
            format!("no usable cgroup hierarchy: neither v2 with memory, pids and cpu, nor v1 memory, pids, cpu, cpuacct and freezer{v2_why}"),
        )),
    }
}

/// Create (or re-create, killing a stale one) the cgroup of box `id`.
pub fn create(backend: Backend, cg_root: &str, id: u32) -> Result<Box<dyn BoxCgroup>, StepError> {
    let info = mountinfo()?;
    Ok(match backend {
        Backend::V1 => Box::new(v1::V1Cgroup::create(info, cg_root, id)?),
        Backend::V2 => Box::new(v2::V2Cgroup::create(info, cg_root, id)?),
    })
}

/// Kill and remove whatever cgroup box `id` has on this host (stale ones and the
/// kept v1 groups included): `--init` and `--cleanup`.
pub fn remove_stale(cg_root: &str, id: u32) -> Result<(), StepError> {
    let info = mountinfo()?;
    if v1::Hierarchies::find(info).is_ok() {
        v1::V1Cgroup::remove_existing(info, cg_root, id)?;
    }
    // Box groups are made only where v2 is usable (`V2Cgroup::create`); a v2
    // hierarchy with no controllers for them (a v1 host's unified mount) has
    // none, and its base is not looked up.
    if v2::Hierarchy::find(info).is_some_and(|h| h.usable().is_ok()) {
        v2::V2Cgroup::remove_existing(info, cg_root, id)?;
    }
    Ok(())
}

/// What `--check` reports of this host's cgroups: the v1 controllers mounted,
/// each with its mount point, and on v2 the base the boxes' groups go under
/// (`v2::Hierarchy::base`) with the controllers it hands to children.
pub struct Survey {
    pub v1: Vec<(String, std::path::PathBuf)>,
    /// None: no cgroup2 mounted. Err: mounted, but its base cannot be told
    /// (then v2 is not usable; `detect` says so too).
    pub v2: Option<Result<V2Survey, StepError>>,
}

pub struct V2Survey {
    pub base: std::path::PathBuf,
    /// Enabled in the base's cgroup.subtree_control; where none of the required
    /// ones are yet, those the base has delegated (its cgroup.controllers),
    /// which rustbox enables itself at the first `--cg` run.
    pub controllers: Vec<String>,
    /// The base is to be delegated to itself (`delegate::ensure`).
    pub to_delegate: bool,
}

pub fn survey() -> Result<Survey, StepError> {
    let info = mountinfo()?;
    let v1 = v1::Hierarchies::mounted(info);
    let v2 = v2::Hierarchy::find(info).map(|h| survey_v2(&h));
    Ok(Survey { v1, v2 })
}

fn survey_v2(h: &v2::Hierarchy) -> Result<V2Survey, StepError> {
    let base = h.base()?;
    let read = |name: &str| fs::read("check.cgroup", &base.join(name));
    let enabled = read("cgroup.subtree_control")?;
    let (text, to_delegate) = if delegate::has_all(&enabled, v2::REQUIRED) {
        (enabled, false)
    } else {
        (read("cgroup.controllers")?, true)
    };
    Ok(V2Survey {
        controllers: text.split_whitespace().map(str::to_string).collect(),
        base,
        to_delegate,
    })
}

/// Where the boxes' groups live: the memory hierarchy's on v1, the unified one on v2.
pub fn root_path(backend: Backend, cg_root: &str) -> Result<std::path::PathBuf, StepError> {
    let info = mountinfo()?;
    let base = match backend {
        Backend::V1 => v1::Hierarchies::find(info).ok().and_then(|h| {
            h.by_controller
                .into_iter()
                .find(|(c, _)| c == "memory")
                .map(|(_, p)| p)
        }),
        Backend::V2 => match v2::Hierarchy::find(info) {
            Some(h) => Some(h.base()?),
            None => None,
        },
    };
    base.map(|b| b.join(cg_root))
        .ok_or_else(|| StepError::new("cgroup.detect", "the backend's hierarchy is not mounted"))
}

/// Write the configured cpuset into the group `d` (same files on v1 and v2) and
/// report the CPUs the group got, read back from `shown` (v2: the effective set).
fn set_cpuset(d: &std::path::Path, l: &CgLimits, shown: &str) -> Result<Control, StepError> {
    if let Some(c) = &l.cpuset_cpus {
        fs::set_list_verified("cgroup.cpuset", &d.join("cpuset.cpus"), c)?;
    }
    if let Some(m) = &l.cpuset_mems {
        fs::set_list_verified("cgroup.cpuset", &d.join("cpuset.mems"), m)?;
    }
    let cpus = fs::read("cgroup.cpuset", &d.join(shown))?;
    Ok(Control::applied(
        "cgroup.cpuset",
        true,
        format!("{shown} = {}", cpus.trim()),
    ))
}

/// CPU bandwidth period, microseconds, and the quota for `cpus` CPUs in it.
pub const CPU_PERIOD_US: u64 = 100_000;
pub fn cpu_quota_us(cpus: f64) -> u64 {
    ((cpus * CPU_PERIOD_US as f64).round() as u64).max(1000)
}

/// The directory name of box `id`.
pub fn box_dir_name(id: u32) -> String {
    format!("box-{id}")
}
