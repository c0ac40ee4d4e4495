//! cgroup v1: one hierarchy per controller (memory, pids, cpu, cpuacct, freezer,
//! and cpuset when mounted), the box's group `<mount>/<cg_root>/box-<id>` in each.
//!
//! Whole-box kill on v1 has no cgroup.kill: the freezer stops every task first, so
//! nothing can fork while the tasks are SIGKILLed, then thaws them to let them die.
//!
//! Only the memory group is made for each run and removed after it: its charges
//! (the box's tmpfs pages among them) must be this run's alone, and v1 cannot
//! reset them. The other groups are kept from the box's first `--cg` run until
//! `--init` or `--cleanup` removes them (`remove_existing`): each run finds them
//! empty (or empties them), resets `cpuacct.usage` to 0 and reads back the 0,
//! rewrites every limit, thaws a frozen freezer, and reads the counters it cannot
//! reset (`pids.events` max, `cpu.stat` nr_throttled) as a base that the run's
//! figures are counted from. Making and removing six directories was 0.55 ms of
//! CPU per run; one is about a tenth of a millisecond.

use super::{
    box_dir_name, cpu_quota_us, fs, BoxCgroup, CgLimits, Entry, SelfAttach, CPU_PERIOD_US,
};
use crate::sys::error::StepError;
use crate::verdict::evidence::{CgroupUsage, Control};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const REQUIRED: &[&str] = &["memory", "pids", "cpu", "cpuacct", "freezer"];

/// Mount points of the v1 controllers.
#[derive(Debug, Clone)]
pub struct Hierarchies {
    /// (controller, mount point); one entry per controller.
    pub by_controller: Vec<(String, PathBuf)>,
}

impl Hierarchies {
    /// Every controller rustbox uses (the required ones and cpuset) that this
    /// mount table has mounted, with its mount point.
    pub fn mounted(mountinfo: &str) -> Vec<(String, PathBuf)> {
        let mut by = Vec::new();
        for line in mountinfo.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            let mut post = post.split(' ');
            if post.next() != Some("cgroup") {
                continue;
            }
            let opts = post.nth(1).unwrap_or("");
            let Some(mp) = pre.split(' ').nth(4) else {
                continue;
            };
            for o in opts.split(',') {
                if REQUIRED.contains(&o) || o == "cpuset" {
                    by.push((o.to_string(), PathBuf::from(mp)));
                }
            }
        }
        by
    }

    pub fn find(mountinfo: &str) -> Result<Hierarchies, StepError> {
        let by = Self::mounted(mountinfo);
        let missing: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .filter(|c| !by.iter().any(|(n, _)| n == c))
            .collect();
        if !missing.is_empty() {
            return Err(StepError::new(
                "cgroup.v1",
                format!("controllers not mounted: {}", missing.join(", ")),
            ));
        }
        Ok(Hierarchies { by_controller: by })
    }

    fn mount(&self, c: &str) -> Option<&Path> {
        self.by_controller
            .iter()
            .find(|(n, _)| n == c)
            .map(|(_, p)| p.as_path())
    }

    /// Distinct mount points (a combined mount like cpu,cpuacct appears once).
    fn mounts(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.by_controller.iter().map(|(_, p)| p.clone()).collect();
        v.sort();
        v.dedup();
        v
    }
}

pub struct V1Cgroup {
    h: Hierarchies,
    cg_root: String,
    id: u32,
    /// What the kept groups' counters showed before the run.
    base: Base,
}

/// Counters of the kept groups that cannot be reset, as read before the run.
#[derive(Debug, Clone, Copy, Default)]
struct Base {
    pids_max_hits: u64,
    nr_throttled: u64,
}

impl V1Cgroup {
    fn dir(&self, controller: &str) -> PathBuf {
        let m = self
            .h
            .mount(controller)
            .expect("required controller checked at find");
        m.join(&self.cg_root).join(box_dir_name(self.id))
    }

    fn dirs(&self) -> Vec<PathBuf> {
        self.h
            .mounts()
            .into_iter()
            .map(|m| m.join(&self.cg_root).join(box_dir_name(self.id)))
            .collect()
    }

    pub fn create(mountinfo: &str, cg_root: &str, id: u32) -> Result<V1Cgroup, StepError> {
        let h = Hierarchies::find(mountinfo)?;
        let mut cg = V1Cgroup {
            h,
            cg_root: cg_root.to_string(),
            id,
            base: Base::default(),
        };
        // A group left by a crashed run is killed first; the memory group is the
        // run's own (see the module's notes), the others are kept.
        cg.kill_all()?;
        cg.destroy()?;
        let mut made = Vec::new();
        match cg.make_dirs(&mut made).and_then(|()| cg.reset(&made)) {
            Ok(base) => {
                cg.base = base;
                Ok(cg)
            }
            Err(e) => {
                // Nothing half-made stays behind: what this call created goes,
                // newest first. A parent another box's group appeared in since
                // (ENOTEMPTY, EBUSY) is that box's now.
                for d in made.iter().rev() {
                    match std::fs::remove_dir(d) {
                        Ok(()) => {}
                        Err(r)
                            if matches!(r.raw_os_error(), Some(libc::ENOTEMPTY | libc::EBUSY)) => {}
                        Err(r) => {
                            return Err(StepError {
                                detail: format!(
                                    "{}; removing {} after it failed too: {r}",
                                    e.detail,
                                    d.display()
                                ),
                                ..e
                            })
                        }
                    }
                }
                Err(e)
            }
        }
    }

    /// The kept groups made ready for a run: the CPU counter at 0 (read back), the
    /// freezer thawed, and the base of the counters that cannot be reset. A group
    /// this run made (in `made`) is all of that already.
    fn reset(&self, made: &[PathBuf]) -> Result<Base, StepError> {
        let step = "cgroup.create";
        let kept = |c: &str| !made.contains(&self.dir(c));
        let mut base = Base::default();
        if kept("cpuacct") {
            fs::set_verified(step, &self.dir("cpuacct").join("cpuacct.usage"), "0")?;
        }
        if kept("freezer") {
            let state = self.dir("freezer").join("freezer.state");
            if fs::read(step, &state)?.trim() != "THAWED" {
                fs::set_verified(step, &state, "THAWED")?;
            }
        }
        if kept("pids") {
            let events = fs::read(step, &self.dir("pids").join("pids.events"))?;
            base.pids_max_hits = fs::keyed(&events, "max").unwrap_or(0);
        }
        if kept("cpu") {
            let cpu_stat = fs::read(step, &self.dir("cpu").join("cpu.stat")).unwrap_or_default();
            base.nr_throttled = fs::keyed(&cpu_stat, "nr_throttled").unwrap_or(0);
        }
        Ok(base)
    }

    /// The hierarchy (mount point) that holds the memory controller.
    fn memory_mount(&self) -> &Path {
        self.h
            .mount("memory")
            .expect("required controller checked at find")
    }

    /// Create the box's group in every hierarchy (its parents as needed); every
    /// directory created is added to `made`.
    fn make_dirs(&self, made: &mut Vec<PathBuf>) -> Result<(), StepError> {
        for m in self.h.mounts() {
            let mut d = m.clone();
            let box_dir = box_dir_name(self.id);
            let comps: Vec<&str> = self.cg_root.split('/').chain([box_dir.as_str()]).collect();
            for (i, comp) in comps.iter().enumerate() {
                d.push(comp);
                let created = fs::mkdir("cgroup.create", &d)?;
                if created {
                    made.push(d.clone());
                }
                // A new cpuset group starts empty and cannot take tasks: inherit.
                // So may a parent emptied since (v1 empties a cpuset whose CPUs
                // go offline). A kept box group is `apply`'s: it rewrites the
                // box's two files and reads them back.
                let kept_box = !created && i + 1 == comps.len();
                if !kept_box && self.h.mount("cpuset") == Some(m.as_path()) {
                    for f in ["cpuset.cpus", "cpuset.mems"] {
                        let cur = fs::read("cgroup.create", &d.join(f))?;
                        if cur.trim().is_empty() {
                            let parent =
                                fs::read("cgroup.create", &d.parent().unwrap_or(&m).join(f))?;
                            fs::write("cgroup.create", &d.join(f), parent.trim())?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Kill and remove the groups of box `id` (kept ones included) if they exist.
    pub fn remove_existing(mountinfo: &str, cg_root: &str, id: u32) -> Result<(), StepError> {
        let cg = V1Cgroup {
            h: Hierarchies::find(mountinfo)?,
            cg_root: cg_root.to_string(),
            id,
            base: Base::default(),
        };
        cg.kill_all()?;
        for d in cg.dirs() {
            fs::rmdir("cgroup.destroy", &d)?;
        }
        Ok(())
    }

    /// No process in the group, in any hierarchy.
    fn is_empty(&self) -> Result<bool, StepError> {
        for d in self.dirs() {
            if !fs::procs("cgroup.kill", &d.join("cgroup.procs"))?.is_empty() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn wait_frozen(&self, state: &Path) -> Result<(), StepError> {
        let start = Instant::now();
        loop {
            let s = fs::read("cgroup.kill", state)?;
            if s.trim() == "FROZEN" {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(2) {
                return Err(StepError::new(
                    "cgroup.kill",
                    format!("{} stays {}", state.display(), s.trim()),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl BoxCgroup for V1Cgroup {
    fn version(&self) -> u8 {
        1
    }

    fn display_path(&self) -> String {
        self.dir("memory").display().to_string()
    }

    fn apply(&self, l: &CgLimits) -> Result<Vec<Control>, StepError> {
        let mut out = Vec::new();
        if let Some(b) = l.memory_bytes {
            let d = self.dir("memory");
            let got = fs::set_bytes_verified("cgroup.memory", &d.join("memory.limit_in_bytes"), b)?;
            let memsw = d.join("memory.memsw.limit_in_bytes");
            let swap = if memsw.exists() {
                fs::set_bytes_verified("cgroup.memory", &memsw, b)?;
                "memory+swap limited too"
            } else if swap_enabled() {
                return Err(StepError::new(
                    "cgroup.memory",
                    "swap is on but the kernel does not account it (memory.memsw.* missing): the limit would not hold",
                ));
            } else {
                "no swap on this host"
            };
            out.push(Control::applied(
                "cgroup.memory",
                true,
                format!("memory.limit_in_bytes = {got}; {swap}"),
            ));
        }
        let pids_max = self.dir("pids").join("pids.max");
        match l.pids {
            Some(p) => {
                fs::set_verified("cgroup.pids", &pids_max, &p.to_string())?;
                out.push(Control::applied(
                    "cgroup.pids",
                    true,
                    format!("pids.max = {p}"),
                ));
            }
            // A kept group may hold an earlier run's limit.
            None => fs::set_verified("cgroup.pids", &pids_max, "max")?,
        }
        if let Some(c) = l.cpus {
            let d = self.dir("cpu");
            let quota = cpu_quota_us(c);
            fs::set_verified(
                "cgroup.cpu",
                &d.join("cpu.cfs_period_us"),
                &CPU_PERIOD_US.to_string(),
            )?;
            fs::set_verified(
                "cgroup.cpu",
                &d.join("cpu.cfs_quota_us"),
                &quota.to_string(),
            )?;
            out.push(Control::applied(
                "cgroup.cpu",
                true,
                format!("cpu.cfs_quota_us = {quota} per {CPU_PERIOD_US} us ({c} CPUs)"),
            ));
        }
        let configured = l.cpuset_cpus.is_some() || l.cpuset_mems.is_some();
        if self.h.mount("cpuset").is_none() {
            if configured {
                return Err(StepError::new(
                    "cgroup.cpuset",
                    "a cpuset is configured but the cpuset controller is not mounted",
                ));
            }
        } else {
            // A kept group may hold a cpuset configured for an earlier run: each
            // of its two files gets what this run asks for, or the parent's, as
            // a new group inherits.
            let d = self.dir("cpuset");
            let parent = d.parent().unwrap_or(&d).to_path_buf();
            for (f, asked) in [
                ("cpuset.cpus", &l.cpuset_cpus),
                ("cpuset.mems", &l.cpuset_mems),
            ] {
                let now = fs::read("cgroup.cpuset", &d.join(f))?;
                match asked {
                    Some(v) if now.trim() != v.trim() => {
                        fs::set_list_verified("cgroup.cpuset", &d.join(f), v)?
                    }
                    Some(_) => {}
                    None => {
                        let want = fs::read("cgroup.cpuset", &parent.join(f))?;
                        if now.trim() != want.trim() {
                            fs::set_verified("cgroup.cpuset", &d.join(f), want.trim())?;
                        }
                    }
                }
            }
            if configured {
                let cpus = fs::read("cgroup.cpuset", &d.join("cpuset.cpus"))?;
                out.push(Control::applied(
                    "cgroup.cpuset",
                    true,
                    format!("cpuset.cpus = {}", cpus.trim()),
                ));
            }
        }
        Ok(out)
    }

    fn entry(&self) -> Result<Entry, StepError> {
        // No CLONE_INTO_CGROUP on v1: the proxy moves itself (see selfattach.rs).
        Ok(Entry::SelfAttach(SelfAttach::open(&self.dirs())?))
    }

    fn verify_member(&self, pid: i32) -> Result<(), StepError> {
        for d in self.dirs() {
            fs::check_member("cgroup.attach", &d, pid)?;
        }
        Ok(())
    }

    fn cpu_seconds(&self) -> Result<f64, StepError> {
        Ok(fs::read_u64("cgroup.cpu", &self.dir("cpuacct").join("cpuacct.usage"))? as f64 / 1e9)
    }

    fn cpu_source(&self) -> &'static str {
        "cpuacct.usage"
    }

    fn stats(&self) -> Result<CgroupUsage, StepError> {
        let acct = self.dir("cpuacct");
        let mem = self.dir("memory");
        let ns = |f: &str| fs::read_u64("cgroup.stats", &acct.join(f)).map(|v| v as f64 / 1e9);
        let oom = fs::read("cgroup.stats", &mem.join("memory.oom_control"))?;
        let pids = fs::read("cgroup.stats", &self.dir("pids").join("pids.events"))?;
        let cpu_stat =
            fs::read("cgroup.stats", &self.dir("cpu").join("cpu.stat")).unwrap_or_default();
        let usage = CgroupUsage {
            cpu_s: Some(ns("cpuacct.usage")?),
            cpu_source: self.cpu_source().into(),
            version: 1,
            path: self.display_path(),
            peak_memory_kb: Some(
                fs::read_u64("cgroup.stats", &mem.join("memory.max_usage_in_bytes"))? / 1024,
            ),
            oom_kills: fs::keyed(&oom, "oom_kill").unwrap_or(0),
            oom_source: "memory.oom_control:oom_kill".into(),
            // Counted from the base read before the run (the group is kept).
            pids_max_hits: fs::keyed(&pids, "max")
                .unwrap_or(0)
                .saturating_sub(self.base.pids_max_hits),
            pids_source: "pids.events:max".into(),
            nr_throttled: fs::keyed(&cpu_stat, "nr_throttled")
                .unwrap_or(0)
                .saturating_sub(self.base.nr_throttled),
        };
        Ok(usage)
    }

    fn kill_now(&self) {
        // v1 has no cgroup.kill. Each listed pid is pinned with a pidfd and signalled
        // only if the pinned process is still in this group: a pid recycled since
        // the listing is never hit. kill_all (freezer) follows for stragglers.
        let want = format!("/{}/{}", self.cg_root, box_dir_name(self.id));
        // Best effort and at once; errors are kill_all's to find and report.
        let listed = fs::procs("cgroup.kill", &self.dir("pids").join("cgroup.procs"));
        for pid in listed.unwrap_or_default() {
            let Some(fd) = crate::sys::pidfd::open(pid) else {
                continue;
            };
            let member = crate::sys::fd::read_text(format!("/proc/{pid}/cgroup"))
                .is_ok_and(|t| fs::group_in(&t, "pids") == Some(want.as_str()));
            if member {
                crate::sys::pidfd::kill(&fd);
            }
        }
    }

    fn kill_all(&self) -> Result<(), StepError> {
        let fz = self.dir("freezer");
        if !fz.exists() {
            return Ok(());
        }
        // Usually the box is gone already (its pid 1 exited and was reaped): an
        // empty group has no task that could fork, so there is nothing to freeze.
        // Freezing and thawing even an empty group costs 0.8 ms.
        if self.is_empty()? {
            return Ok(());
        }
        let state = fz.join("freezer.state");
        fs::write("cgroup.kill", &state, "FROZEN")?;
        let frozen = self.wait_frozen(&state);
        for pid in fs::procs("cgroup.kill", &fz.join("cgroup.procs"))? {
            // SAFETY: kill(2) of a pid listed in the box's own frozen cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        fs::write("cgroup.kill", &state, "THAWED")?;
        frozen?;
        let start = Instant::now();
        while !self.is_empty()? {
            if start.elapsed() > Duration::from_secs(5) {
                return Err(StepError::new(
                    "cgroup.kill",
                    "processes survive in the box cgroup",
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    fn destroy(&self) -> Result<(), StepError> {
        // The run's own group; the kept ones go with --init or --cleanup.
        let d = self
            .memory_mount()
            .join(&self.cg_root)
            .join(box_dir_name(self.id));
        fs::rmdir("cgroup.destroy", &d)
    }
}

fn swap_enabled() -> bool {
    crate::sys::fd::read_text("/proc/swaps").is_ok_and(|s| s.lines().count() > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_v1_hierarchies() {
        let info = "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
            33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n\
            35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
            37 31 0:34 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n\
            39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n\
            41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let h = Hierarchies::find(info).unwrap();
        assert_eq!(h.mount("memory"), Some(Path::new("/sys/fs/cgroup/memory")));
        assert_eq!(h.mounts().len(), 5);
        let without_pids: String = info
            .lines()
            .filter(|l| !l.contains("pids"))
            .collect::<Vec<_>>()
            .join("\n");
        let e = Hierarchies::find(&without_pids).unwrap_err();
        assert!(e.detail.contains("pids"), "{e}");
        let combined = "1 1 0:1 / /cg/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
            2 1 0:2 / /cg/memory rw - cgroup cgroup rw,memory\n\
            3 1 0:3 / /cg/freezer rw - cgroup cgroup rw,freezer\n\
            4 1 0:4 / /cg/pids rw - cgroup cgroup rw,pids\n";
        let h = Hierarchies::find(combined).unwrap();
        assert_eq!(h.mounts().len(), 4);
    }

    use super::super::fake::FakeFs;

    /// The v1 hierarchies under a fake base: cpu and cpuacct combined, the
    /// others one each, and a cpuset (named to come last) when `cpuset`.
    fn hierarchies(name: &str, cpuset: bool) -> (FakeFs, String) {
        let f = FakeFs::new(name);
        let mut info = String::new();
        let mut ctrls = vec![
            ("cpu,cpuacct", "cpu,cpuacct"),
            ("freezer", "freezer"),
            ("memory", "memory"),
            ("pids", "pids"),
        ];
        if cpuset {
            ctrls.push(("zcpuset", "cpuset"));
        }
        for (dir, opts) in ctrls {
            info.push_str(&FakeFs::line(&f.mount(dir), Some(opts)));
        }
        (f, info)
    }

    #[test]
    fn create_makes_one_group_per_mount() {
        let (f, info) = hierarchies("create", false);
        let cg = V1Cgroup::create(&info, "rb/suite", 2).unwrap();
        for m in ["cpu,cpuacct", "freezer", "memory", "pids"] {
            assert!(f.base.join(m).join("rb/suite/box-2").is_dir(), "{m}");
        }
        assert_eq!(cg.dirs().len(), 4, "cpu,cpuacct is one mount");
        assert_eq!(
            cg.display_path(),
            f.base.join("memory/rb/suite/box-2").display().to_string()
        );
        // The proxy moves itself into each of them, through their tasks files.
        assert!(cg.entry().is_err(), "no tasks file yet");
        for d in cg.dirs() {
            FakeFs::put(&d, "tasks", "");
        }
        match cg.entry().unwrap() {
            Entry::SelfAttach(_) => {}
            Entry::CloneInto(_) => panic!("v1 has no CLONE_INTO_CGROUP"),
        }
    }

    #[test]
    fn a_failed_create_leaves_nothing_it_made() {
        let (f, info) = hierarchies("undo", true);
        // The cpuset parent has no cpuset.cpus to inherit: the last hierarchy fails.
        let e = V1Cgroup::create(&info, "rb/suite", 2).err().unwrap();
        assert_eq!(e.step, "cgroup.create");
        for m in ["cpu,cpuacct", "freezer", "memory", "pids"] {
            assert!(!f.base.join(m).join("rb").exists(), "{m}/rb left behind");
        }
        assert!(!f.base.join("zcpuset/rb/suite").exists());
    }

    #[test]
    fn apply_writes_each_limit_in_its_hierarchy_and_reads_it_back() {
        let (f, info) = hierarchies("apply", false);
        let cg = V1Cgroup::create(&info, "rb", 3).unwrap();
        let mem = f.base.join("memory/rb/box-3");
        FakeFs::put(&mem, "memory.memsw.limit_in_bytes", "9223372036854771712\n");
        let l = CgLimits {
            memory_bytes: Some(32 << 20),
            pids: Some(4),
            cpus: Some(0.5),
            ..CgLimits::default()
        };
        let c = cg.apply(&l).unwrap();
        assert_eq!(
            FakeFs::read(&mem, "memory.limit_in_bytes"),
            (32u64 << 20).to_string()
        );
        assert_eq!(
            FakeFs::read(&mem, "memory.memsw.limit_in_bytes"),
            (32u64 << 20).to_string()
        );
        assert!(
            c[0].detail.contains("memory+swap limited too"),
            "{}",
            c[0].detail
        );
        assert_eq!(FakeFs::read(&f.base.join("pids/rb/box-3"), "pids.max"), "4");
        let cpu = f.base.join("cpu,cpuacct/rb/box-3");
        assert_eq!(FakeFs::read(&cpu, "cpu.cfs_period_us"), "100000");
        assert_eq!(FakeFs::read(&cpu, "cpu.cfs_quota_us"), "50000");
        // No cpuset mounted: a configured cpuset is an error, not ignored.
        let e = cg
            .apply(&CgLimits {
                cpuset_mems: Some("0".into()),
                ..CgLimits::default()
            })
            .err()
            .unwrap();
        assert!(e.detail.contains("not mounted"), "{e}");
        // A value the kernel does not keep.
        FakeFs::swallow(&cpu, "cpu.cfs_quota_us");
        let e = cg.apply(&l).err().unwrap();
        assert!(e.detail.contains("cpu.cfs_quota_us reads back as"), "{e}");
    }

    #[test]
    fn stats_come_from_each_controllers_files() {
        let (f, info) = hierarchies("stats", false);
        let cg = V1Cgroup::create(&info, "rb", 4).unwrap();
        let cpu = f.base.join("cpu,cpuacct/rb/box-4");
        let mem = f.base.join("memory/rb/box-4");
        FakeFs::put(&cpu, "cpuacct.usage", "2500000000\n");
        FakeFs::put(&cpu, "cpuacct.usage_user", "2000000000\n");
        FakeFs::put(&cpu, "cpuacct.usage_sys", "500000000\n");
        FakeFs::put(
            &cpu,
            "cpu.stat",
            "nr_periods 9\nnr_throttled 4\nthrottled_time 1\n",
        );
        FakeFs::put(&mem, "memory.max_usage_in_bytes", "2097152\n");
        FakeFs::put(
            &mem,
            "memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        );
        FakeFs::put(&f.base.join("pids/rb/box-4"), "pids.events", "max 1\n");
        assert_eq!(cg.cpu_seconds().unwrap(), 2.5);
        let u = cg.stats().unwrap();
        assert_eq!(u.cpu_s, Some(2.5));
        assert_eq!(u.peak_memory_kb, Some(2048));
        assert_eq!((u.oom_kills, u.pids_max_hits, u.nr_throttled), (2, 1, 4));
        assert_eq!(u.version, 1);
        std::fs::remove_file(mem.join("memory.oom_control")).unwrap();
        assert_eq!(cg.stats().err().unwrap().step, "cgroup.stats");
    }

    /// A box's second --cg run: the groups of its first are kept (all but the
    /// memory group), their counters reset or counted from a base, a frozen
    /// freezer thawed, an earlier run's limits replaced; --cleanup removes them.
    #[test]
    fn a_kept_group_starts_each_run_from_zero() {
        let (f, info) = hierarchies("kept", true);
        FakeFs::put(&f.base.join("zcpuset/rb"), "cpuset.cpus", "0-1\n");
        FakeFs::put(&f.base.join("zcpuset/rb"), "cpuset.mems", "0\n");
        // The files the kernel gives a new cpuset group: empty.
        FakeFs::put(&f.base.join("zcpuset/rb/box-6"), "cpuset.cpus", "");
        FakeFs::put(&f.base.join("zcpuset/rb/box-6"), "cpuset.mems", "");
        let first = V1Cgroup::create(&info, "rb", 6).unwrap();
        first.destroy().unwrap();
        let cpu = f.base.join("cpu,cpuacct/rb/box-6");
        let pids = f.base.join("pids/rb/box-6");
        let fz = f.base.join("freezer/rb/box-6");
        let set = f.base.join("zcpuset/rb/box-6");
        assert!(
            !f.base.join("memory/rb/box-6").exists(),
            "the memory group is the run's"
        );
        for d in [&cpu, &pids, &fz, &set] {
            assert!(d.is_dir(), "{} is not kept", d.display());
        }
        // What the first run left: counts, a limit, a frozen freezer, a cpuset.
        FakeFs::put(&cpu, "cpuacct.usage", "7000000000\n");
        FakeFs::put(&cpu, "cpu.stat", "nr_periods 9\nnr_throttled 4\n");
        FakeFs::put(&pids, "pids.events", "max 3\n");
        FakeFs::put(&pids, "pids.max", "5\n");
        FakeFs::put(&fz, "freezer.state", "FROZEN\n");
        FakeFs::put(&set, "cpuset.cpus", "1\n");
        let cg = V1Cgroup::create(&info, "rb", 6).unwrap();
        assert!(
            f.base.join("memory/rb/box-6").is_dir(),
            "a fresh memory group"
        );
        assert_eq!(FakeFs::read(&cpu, "cpuacct.usage"), "0");
        assert_eq!(FakeFs::read(&fz, "freezer.state"), "THAWED");
        cg.apply(&CgLimits::default()).unwrap();
        assert_eq!(
            FakeFs::read(&pids, "pids.max"),
            "max",
            "the first run's limit stays"
        );
        assert_eq!(
            FakeFs::read(&set, "cpuset.cpus"),
            "0-1",
            "the first run's cpuset stays"
        );
        // A run that configures only one of the two gets the parent's other one.
        FakeFs::put(&set, "cpuset.cpus", "1\n");
        cg.apply(&CgLimits {
            cpuset_mems: Some("0".into()),
            ..CgLimits::default()
        })
        .unwrap();
        assert_eq!(
            FakeFs::read(&set, "cpuset.cpus"),
            "0-1",
            "an earlier run's cpuset.cpus stays beside this run's cpuset.mems"
        );
        FakeFs::put(&cpu, "cpu.stat", "nr_periods 12\nnr_throttled 6\n");
        FakeFs::put(&pids, "pids.events", "max 4\n");
        let mem = f.base.join("memory/rb/box-6");
        FakeFs::put(&mem, "memory.max_usage_in_bytes", "4096\n");
        FakeFs::put(&mem, "memory.oom_control", "oom_kill 0\n");
        let u = cg.stats().unwrap();
        assert_eq!(
            (u.pids_max_hits, u.nr_throttled),
            (1, 2),
            "counted from the base"
        );
        // A kept counter that does not read back as 0 is an error.
        FakeFs::swallow(&cpu, "cpuacct.usage");
        for file in ["memory.max_usage_in_bytes", "memory.oom_control"] {
            std::fs::remove_file(mem.join(file)).unwrap(); // the kernel's, in fact
        }
        cg.destroy().unwrap();
        assert_eq!(
            V1Cgroup::create(&info, "rb", 6).err().unwrap().step,
            "cgroup.create"
        );
    }

    #[test]
    fn an_empty_group_is_not_frozen_and_is_removed() {
        let (f, info) = hierarchies("empty", false);
        let cg = V1Cgroup::create(&info, "rb", 5).unwrap();
        cg.kill_all().unwrap();
        let fz = f.base.join("freezer/rb/box-5");
        assert!(
            !fz.join("freezer.state").exists(),
            "an empty group is not frozen"
        );
        cg.destroy().unwrap();
        assert!(!f.base.join("memory/rb/box-5").exists());
        assert!(fz.exists(), "the freezer group is kept for the next run");
        V1Cgroup::remove_existing(&info, "rb", 5).unwrap();
        assert!(!fz.exists(), "--cleanup removes the kept groups");
        // Removing a group that is not there is not an error.
        V1Cgroup::remove_existing(&info, "rb", 5).unwrap();
    }
}
