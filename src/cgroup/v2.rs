//! cgroup v2: the unified hierarchy, the box's group `<mount>/<cg_root>/box-<id>`.
//!
//! The proxy is created straight into the group with clone3(CLONE_INTO_CGROUP), so
//! no process of the box ever runs outside it; the whole box dies by `cgroup.kill`.

use super::{box_dir_name, cpu_quota_us, delegate, fs, BoxCgroup, CgLimits, Entry, CPU_PERIOD_US};
use crate::sys::error::StepError;
use crate::verdict::evidence::{CgroupUsage, Control};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Controllers the box's group needs; cpuset is used when offered.
pub const REQUIRED: &[&str] = &["memory", "pids", "cpu"];

#[derive(Debug, Clone)]
pub struct Hierarchy {
    pub mount: PathBuf,
    /// The mount's root in the hierarchy (mountinfo's fourth field): "/" for a
    /// mount made in this process's cgroup namespace.
    pub root: String,
}

impl Hierarchy {
    pub fn find(mountinfo: &str) -> Option<Hierarchy> {
        mountinfo.lines().find_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            if post.split(' ').next()? != "cgroup2" {
                return None;
            }
            let mut f = pre.split(' ');
            Some(Hierarchy {
                root: f.nth(3)?.to_string(),
                mount: PathBuf::from(f.next()?),
            })
        })
    }

    /// Are these controllers available to children of the hierarchy's root?
    pub fn has_controllers(&self, want: &[&str]) -> bool {
        let have = crate::sys::fd::read_text(self.mount.join("cgroup.subtree_control"))
            .unwrap_or_default();
        delegate::has_all(&have, want)
    }

    /// Where `<cg_root>` goes: the root, where it hands the controllers to its
    /// children (a host); else the group this process runs in, which rustbox
    /// then delegates to itself (a container: `delegate`). Only reads.
    pub fn base(&self) -> Result<PathBuf, StepError> {
        if self.has_controllers(REQUIRED) {
            return Ok(self.mount.clone());
        }
        delegate::base_dir(&self.mount, &self.root, &delegate::own_cgroup()?)
    }

    /// Can the boxes' groups have the controllers here: the base hands them
    /// down already, or has them delegated, so that rustbox can; if not, why.
    pub fn usable(&self) -> Result<(), String> {
        if self.has_controllers(REQUIRED) {
            return Ok(());
        }
        let base = self.base().map_err(|e| e.to_string())?;
        let f = base.join("cgroup.controllers");
        let have = crate::sys::fd::read_text(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        if delegate::has_all(&have, REQUIRED) {
            Ok(())
        } else {
            Err(format!(
                "the cgroup v2 group rustbox runs in, {}, is not delegated {} (its cgroup.controllers offers \"{}\"), and the hierarchy's root does not enable them for its children",
                base.display(),
                REQUIRED.join(", "),
                have.trim()
            ))
        }
    }
}

pub struct V2Cgroup {
    dir: PathBuf,
    fd: OwnedFd,
    /// What this run did to delegate the base to itself (None: nothing to do).
    delegated: Option<String>,
}

fn open_dir(p: &Path) -> Result<OwnedFd, StepError> {
    crate::sys::fd::open(p, libc::O_RDONLY | libc::O_DIRECTORY, "cgroup.create")
}

impl V2Cgroup {
    pub fn create(mountinfo: &str, cg_root: &str, id: u32) -> Result<V2Cgroup, StepError> {
        let h = Hierarchy::find(mountinfo)
            .ok_or_else(|| StepError::new("cgroup.v2", "no cgroup2 filesystem mounted"))?;
        let base = h.base()?;
        // The root hands the controllers down (a host), or the base is this
        // process's own group, delegated to itself once (a container).
        let delegation = delegate::ensure(&base, REQUIRED)?;
        Self::remove_existing(mountinfo, cg_root, id)?;
        let enable: Vec<String> = delegation
            .enabled
            .split_whitespace()
            .filter(|c| REQUIRED.contains(c) || *c == "cpuset")
            .map(|c| format!("+{c}"))
            .collect();
        let mut d = base;
        for comp in cg_root.split('/') {
            d.push(comp);
            fs::mkdir("cgroup.create", &d)?;
            // Our own subtree: pass the controllers down to the box groups.
            fs::write(
                "cgroup.create",
                &d.join("cgroup.subtree_control"),
                &enable.join(" "),
            )?;
        }
        d.push(box_dir_name(id));
        fs::mkdir("cgroup.create", &d)?;
        match open_dir(&d) {
            Ok(fd) => Ok(V2Cgroup {
                dir: d,
                fd,
                delegated: delegation.done,
            }),
            Err(e) => {
                // Nothing half-made stays behind.
                fs::rmdir("cgroup.create", &d)?;
                Err(e)
            }
        }
    }

    pub fn remove_existing(mountinfo: &str, cg_root: &str, id: u32) -> Result<(), StepError> {
        let Some(h) = Hierarchy::find(mountinfo) else {
            return Ok(());
        };
        let d = h.base()?.join(cg_root).join(box_dir_name(id));
        if !d.exists() {
            return Ok(());
        }
        kill_dir(&d)?;
        fs::rmdir("cgroup.destroy", &d)
    }
}

fn kill_dir(d: &Path) -> Result<(), StepError> {
    let k = d.join("cgroup.kill");
    if fs::procs("cgroup.kill", &d.join("cgroup.procs"))?.is_empty() {
        return Ok(());
    }
    fs::write("cgroup.kill", &k, "1")?;
    let start = Instant::now();
    while !fs::procs("cgroup.kill", &d.join("cgroup.procs"))?.is_empty() {
        if start.elapsed() > Duration::from_secs(5) {
            return Err(StepError::new(
                "cgroup.kill",
                format!("processes survive cgroup.kill in {}", d.display()),
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

impl BoxCgroup for V2Cgroup {
    fn version(&self) -> u8 {
        2
    }

    fn display_path(&self) -> String {
        self.dir.display().to_string()
    }

    fn apply(&self, l: &CgLimits) -> Result<Vec<Control>, StepError> {
        let mut out = Vec::new();
        if let Some(what) = &self.delegated {
            out.push(Control::applied("cgroup.delegate", true, what));
        }
        let d = &self.dir;
        if let Some(b) = l.memory_bytes {
            let got = fs::set_bytes_verified("cgroup.memory", &d.join("memory.max"), b)?;
            let swap = d.join("memory.swap.max");
            let swap_note = if swap.exists() {
                fs::set_verified("cgroup.memory", &swap, "0")?;
                "memory.swap.max = 0"
            } else {
                "no swap controller"
            };
            out.push(Control::applied(
                "cgroup.memory",
                true,
                format!("memory.max = {got}; {swap_note}"),
            ));
        }
        if let Some(p) = l.pids {
            fs::set_verified("cgroup.pids", &d.join("pids.max"), &p.to_string())?;
            out.push(Control::applied(
                "cgroup.pids",
                true,
                format!("pids.max = {p}"),
            ));
        }
        if let Some(c) = l.cpus {
            let v = format!("{} {CPU_PERIOD_US}", cpu_quota_us(c));
            fs::set_verified("cgroup.cpu", &d.join("cpu.max"), &v)?;
            out.push(Control::applied(
                "cgroup.cpu",
                true,
                format!("cpu.max = {v} ({c} CPUs)"),
            ));
        }
        if l.cpuset_cpus.is_some() || l.cpuset_mems.is_some() {
            if !d.join("cpuset.cpus").exists() {
                return Err(StepError::new(
                    "cgroup.cpuset",
                    "a cpuset is configured but the cpuset controller is not enabled",
                ));
            }
            out.push(super::set_cpuset(d, l, "cpuset.cpus.effective")?);
        }
        Ok(out)
    }

    fn entry(&self) -> Result<Entry, StepError> {
        Ok(Entry::CloneInto(self.fd.as_raw_fd()))
    }

    fn verify_member(&self, pid: i32) -> Result<(), StepError> {
        fs::check_member("cgroup.attach", &self.dir, pid)
    }

    fn cpu_seconds(&self) -> Result<f64, StepError> {
        let s = fs::read("cgroup.cpu", &self.dir.join("cpu.stat"))?;
        Ok(fs::keyed(&s, "usage_usec").unwrap_or(0) as f64 / 1e6)
    }

    fn cpu_source(&self) -> &'static str {
        "cpu.stat:usage_usec"
    }

    fn stats(&self) -> Result<CgroupUsage, StepError> {
        let d = &self.dir;
        let cpu = fs::read("cgroup.stats", &d.join("cpu.stat"))?;
        let events = fs::read("cgroup.stats", &d.join("memory.events"))?;
        let pids = fs::read("cgroup.stats", &d.join("pids.events"))?;
        let us = |k: &str| fs::keyed(&cpu, k).unwrap_or(0) as f64 / 1e6;
        let usage = CgroupUsage {
            cpu_s: Some(us("usage_usec")),
            cpu_source: self.cpu_source().into(),
            version: 2,
            path: self.display_path(),
            peak_memory_kb: fs::read_u64("cgroup.stats", &d.join("memory.peak"))
                .ok()
                .map(|b| b / 1024),
            oom_kills: fs::keyed(&events, "oom_kill").unwrap_or(0),
            oom_source: "memory.events:oom_kill".into(),
            pids_max_hits: fs::keyed(&pids, "max").unwrap_or(0),
            pids_source: "pids.events:max".into(),
            nr_throttled: fs::keyed(&cpu, "nr_throttled").unwrap_or(0),
        };
        Ok(usage)
    }

    fn kill_now(&self) {
        // Errors are caught by kill_all, which follows.
        let _ = fs::write("cgroup.kill", &self.dir.join("cgroup.kill"), "1");
    }

    fn kill_all(&self) -> Result<(), StepError> {
        kill_dir(&self.dir)
    }

    fn destroy(&self) -> Result<(), StepError> {
        fs::rmdir("cgroup.destroy", &self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeFs;
    use super::*;

    /// A unified hierarchy offering `offered` to its children.
    fn hierarchy(name: &str, offered: &str) -> (FakeFs, PathBuf, String) {
        let f = FakeFs::new(name);
        let m = f.mount("unified");
        FakeFs::put(&m, "cgroup.subtree_control", offered);
        let info = format!(
            "{}{}",
            FakeFs::line(&f.base.join("elsewhere"), Some("memory")),
            FakeFs::line(&m, None)
        );
        (f, m, info)
    }

    /// The files the kernel makes in a new group, with their initial values.
    fn kernel_files(d: &Path) {
        for (f, v) in [
            ("memory.max", "max\n"),
            ("memory.swap.max", "max\n"),
            ("pids.max", "max\n"),
            ("cpu.max", "max 100000\n"),
        ] {
            FakeFs::put(d, f, v);
        }
    }

    #[test]
    fn finds_the_unified_hierarchy_and_its_controllers() {
        let (_f, m, info) = hierarchy("find", "cpuset cpu io memory pids\n");
        let h = Hierarchy::find(&info).unwrap();
        assert_eq!(h.mount, m);
        assert!(h.has_controllers(REQUIRED));
        assert!(!h.has_controllers(&["hugetlb"]));
        assert!(Hierarchy::find("1 1 0:1 / /proc rw - proc proc rw\n").is_none());
    }

    #[test]
    fn create_makes_the_subtree_and_passes_the_controllers_down() {
        let (_f, m, info) = hierarchy("create", "cpuset cpu io memory hugetlb pids\n");
        let cg = V2Cgroup::create(&info, "rustbox/suite", 7).unwrap();
        let box_dir = m.join("rustbox/suite/box-7");
        assert!(box_dir.is_dir());
        assert_eq!(cg.display_path(), box_dir.display().to_string());
        // Only what the boxes need (and cpuset), in the order offered.
        for d in ["rustbox", "rustbox/suite"] {
            assert_eq!(
                FakeFs::read(&m, &format!("{d}/cgroup.subtree_control")),
                "+cpuset +cpu +memory +pids"
            );
        }
        // Its descriptor is what clone3 gets.
        match cg.entry().unwrap() {
            Entry::CloneInto(fd) => assert_eq!(fd, cg.fd.as_raw_fd()),
            Entry::SelfAttach(_) => panic!("v2 enters by CLONE_INTO_CGROUP"),
        }
    }

    #[test]
    fn create_refuses_a_hierarchy_without_the_controllers() {
        let (_f, m, info) = hierarchy("missing", "cpu io\n");
        // The base is then this process's own group (here the fake root:
        // refused, as a true root; elsewhere a group the fake lacks): refused.
        let e = V2Cgroup::create(&info, "rustbox", 1).err().unwrap();
        assert_eq!(e.step, "cgroup.delegate", "{e}");
        assert!(!m.join("rustbox").exists(), "nothing is made");
        assert!(
            V2Cgroup::create("", "rustbox", 1).is_err(),
            "no cgroup2 mounted"
        );
    }

    #[test]
    fn apply_writes_each_limit_and_reads_it_back() {
        let (_f, m, info) = hierarchy("apply", "cpu memory pids\n");
        let cg = V2Cgroup::create(&info, "rustbox", 3).unwrap();
        let d = m.join("rustbox/box-3");
        kernel_files(&d);
        let l = CgLimits {
            memory_bytes: Some(64 << 20),
            pids: Some(5),
            cpus: Some(1.5),
            ..CgLimits::default()
        };
        let controls = cg.apply(&l).unwrap();
        assert_eq!(FakeFs::read(&d, "memory.max"), (64u64 << 20).to_string());
        assert_eq!(FakeFs::read(&d, "memory.swap.max"), "0");
        assert_eq!(FakeFs::read(&d, "pids.max"), "5");
        assert_eq!(FakeFs::read(&d, "cpu.max"), "150000 100000");
        let names: Vec<&str> = controls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["cgroup.memory", "cgroup.pids", "cgroup.cpu"]);
        assert!(controls.iter().all(|c| c.applied && c.verified));
        // No swap file: said so, not written.
        std::fs::remove_file(d.join("memory.swap.max")).unwrap();
        let c = cg.apply(&l).unwrap();
        assert!(
            c[0].detail.contains("no swap controller"),
            "{}",
            c[0].detail
        );
        // A cpuset asked for where the controller is not enabled.
        let e = cg
            .apply(&CgLimits {
                cpuset_cpus: Some("0".into()),
                ..CgLimits::default()
            })
            .err()
            .unwrap();
        assert_eq!(e.step, "cgroup.cpuset");
    }

    #[test]
    fn a_limit_that_does_not_read_back_is_an_error_naming_the_file() {
        let (_f, m, info) = hierarchy("readback", "cpu memory pids\n");
        let cg = V2Cgroup::create(&info, "rustbox", 4).unwrap();
        let d = m.join("rustbox/box-4");
        kernel_files(&d);
        FakeFs::swallow(&d, "pids.max");
        let e = cg
            .apply(&CgLimits {
                pids: Some(9),
                ..CgLimits::default()
            })
            .err()
            .unwrap();
        assert_eq!(e.step, "cgroup.pids");
        assert!(e.detail.contains("pids.max reads back as"), "{e}");
        FakeFs::swallow(&d, "memory.max");
        let e = cg
            .apply(&CgLimits {
                memory_bytes: Some(1 << 20),
                ..CgLimits::default()
            })
            .err()
            .unwrap();
        assert!(e.detail.contains("memory.max"), "{e}");
    }

    #[test]
    fn stats_come_from_the_groups_own_files() {
        let (_f, m, info) = hierarchy("stats", "cpu memory pids\n");
        let cg = V2Cgroup::create(&info, "rustbox", 5).unwrap();
        let d = m.join("rustbox/box-5");
        FakeFs::put(
            &d,
            "cpu.stat",
            "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 4\nnr_throttled 2\n",
        );
        FakeFs::put(
            &d,
            "memory.events",
            "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n",
        );
        FakeFs::put(&d, "pids.events", "max 3\n");
        FakeFs::put(&d, "memory.peak", "10485760\n");
        assert_eq!(cg.cpu_seconds().unwrap(), 1.5);
        let u = cg.stats().unwrap();
        assert_eq!(u.cpu_s, Some(1.5));
        assert_eq!(u.peak_memory_kb, Some(10240));
        assert_eq!((u.oom_kills, u.pids_max_hits, u.nr_throttled), (1, 3, 2));
        assert_eq!(u.version, 2);
        // A kernel without memory.peak: no peak, not a made-up one.
        std::fs::remove_file(d.join("memory.peak")).unwrap();
        assert_eq!(cg.stats().unwrap().peak_memory_kb, None);
        // A missing counter file is an error, never a zero.
        std::fs::remove_file(d.join("memory.events")).unwrap();
        assert_eq!(cg.stats().err().unwrap().step, "cgroup.stats");
    }

    #[test]
    fn an_empty_group_is_removed_without_a_kill() {
        let (_f, m, info) = hierarchy("remove", "cpu memory pids\n");
        V2Cgroup::remove_existing(&info, "rustbox", 6).unwrap();
        let cg = V2Cgroup::create(&info, "rustbox", 6).unwrap();
        let d = m.join("rustbox/box-6");
        FakeFs::put(&d, "cgroup.procs", "");
        cg.kill_all().unwrap();
        assert!(
            !d.join("cgroup.kill").exists(),
            "nothing to kill: not written"
        );
        // A group listing a process is killed through cgroup.kill.
        FakeFs::put(&d, "cgroup.procs", "not-a-pid\n");
        assert!(cg.kill_all().err().unwrap().detail.contains("is not a pid"));
        std::fs::remove_file(d.join("cgroup.procs")).unwrap();
        drop(cg);
        // The fake's directory holds no control files now: rmdir takes it.
        V2Cgroup::remove_existing(&info, "rustbox", 6).unwrap();
        assert!(!d.exists());
    }
}
