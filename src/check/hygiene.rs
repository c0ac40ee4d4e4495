//! Timing hygiene: what makes the same program's CPU time differ from run to
//! run or from machine to machine, the list isolate-check-environment checks
//! (swap, SMT, the frequency governor and boost, ASLR, transparent huge pages,
//! core dumps piped to a program, hard link protection, asymmetric cores). Each
//! is a warning with the command that fixes it: none stops a run.
//!
//! Every file is read below `root` (`/` on a host; a fake tree in the tests).

use super::{Item, Status};
use std::path::PathBuf;

pub struct Host {
    pub root: PathBuf,
    /// Files that are there but could not be read: reported, not taken for absent.
    pub unreadable: std::cell::RefCell<Vec<String>>,
}

impl Host {
    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    pub fn new(root: impl Into<PathBuf>) -> Host {
        Host {
            root: root.into(),
            unreadable: Default::default(),
        }
    }

    /// A file's text, trimmed; None if it is not there. One that is there but
    /// cannot be read is None too, and listed in `unreadable`.
    fn read(&self, p: &str) -> Option<String> {
        match std::fs::read_to_string(self.path(p)) {
            Ok(s) => Some(s.trim().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                self.unreadable.borrow_mut().push(format!("{p}: {e}"));
                None
            }
        }
    }

    fn exists(&self, p: &str) -> bool {
        self.path(p).exists()
    }

    pub fn items(&self) -> Vec<Item> {
        let mut out = vec![
            self.swap(),
            self.smt(),
            self.governor(),
            self.boost(),
            self.aslr(),
            self.thp(),
            self.core_pattern(),
            self.hardlinks(),
            self.asymmetric(),
        ];
        let bad = self.unreadable.borrow();
        if !bad.is_empty() {
            out.push(Item::new(
                "timing",
                "unreadable",
                Status::Warn,
                format!("could not read: {}", bad.join("; ")),
                None,
            ));
        }
        out
    }

    fn swap(&self) -> Item {
        let swaps = self.read("/proc/swaps").map_or(0, |s| {
            s.lines().skip(1).filter(|l| !l.trim().is_empty()).count()
        });
        if swaps == 0 {
            return Item::ok("timing", "swap", "off");
        }
        Item::new(
            "timing",
            "swap",
            Status::Warn,
            format!("{swaps} swap area(s) on: a program near its memory limit is paged out and its times vary (on cgroup v1 the memory limit then also needs swap accounting, or --cg runs are refused)"),
            Some("swapoff -a"),
        )
    }

    fn smt(&self) -> Item {
        match self.read("/sys/devices/system/cpu/smt/active").as_deref() {
            None => Item::ok("timing", "smt", "no SMT control here (not detected)"),
            Some("0") => Item::ok("timing", "smt", "off"),
            Some(_) => {
                let control = self.read("/sys/devices/system/cpu/smt/control");
                let fix = if control.as_deref() == Some("notimplemented") {
                    "add nosmt to the kernel command line"
                } else {
                    "echo off > /sys/devices/system/cpu/smt/control"
                };
                Item::new(
                    "timing",
                    "smt",
                    Status::Warn,
                    "simultaneous multithreading is on: a program's time depends on what runs on its sibling",
                    Some(fix),
                )
            }
        }
    }

    fn governor(&self) -> Item {
        let dir = self.path("/sys/devices/system/cpu/cpufreq");
        let mut slow = Vec::new();
        let mut seen = 0;
        let listed = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<Vec<String>, _>>()
                .map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        };
        let listed = listed.unwrap_or_else(|e| {
            self.unreadable
                .borrow_mut()
                .push(format!("{}: {e}", dir.display()));
            None
        });
        if let Some(mut names) = listed {
            names.sort();
            // The policies are directories (policy0, ...); `boost` is a file.
            names.retain(|n| dir.join(n).is_dir());
            for n in names {
                let g = format!("/sys/devices/system/cpu/cpufreq/{n}/scaling_governor");
                if let Some(v) = self.read(&g) {
                    seen += 1;
                    if v != "performance" {
                        slow.push(format!("{n}: {v}"));
                    }
                }
            }
        }
        if seen == 0 {
            return Item::ok(
                "timing",
                "cpufreq.governor",
                "no frequency scaling here (not detected)",
            );
        }
        if slow.is_empty() {
            return Item::ok("timing", "cpufreq.governor", "performance on every policy");
        }
        Item::new(
            "timing",
            "cpufreq.governor",
            Status::Warn,
            format!("not 'performance': {}", slow.join(", ")),
            Some("for g in /sys/devices/system/cpu/cpufreq/*/scaling_governor; do echo performance > $g; done"),
        )
    }

    fn boost(&self) -> Item {
        let intel = self.read("/sys/devices/system/cpu/intel_pstate/no_turbo");
        let general = self.read("/sys/devices/system/cpu/cpufreq/boost");
        match (intel.as_deref(), general.as_deref()) {
            (None, None) => Item::ok(
                "timing",
                "cpufreq.boost",
                "no boost control here (not detected)",
            ),
            (Some(v), _) if v != "1" => Item::new(
                "timing",
                "cpufreq.boost",
                Status::Warn,
                "Intel turbo boost is on: the clock rises and falls with temperature and load",
                Some("echo 1 > /sys/devices/system/cpu/intel_pstate/no_turbo"),
            ),
            (_, Some(v)) if v != "0" => Item::new(
                "timing",
                "cpufreq.boost",
                Status::Warn,
                "frequency boost is on: the clock rises and falls with temperature and load",
                Some("echo 0 > /sys/devices/system/cpu/cpufreq/boost"),
            ),
            _ => Item::ok("timing", "cpufreq.boost", "off"),
        }
    }

    fn aslr(&self) -> Item {
        match self.read("/proc/sys/kernel/randomize_va_space").as_deref() {
            None => Item::ok("timing", "aslr", "not detected"),
            Some("0") => Item::ok("timing", "aslr", "off"),
            Some(v) => Item::new(
                "timing",
                "aslr",
                Status::Warn,
                format!("address space randomisation is on (randomize_va_space = {v}): cache and TLB behaviour, and so times, vary between runs of the same program"),
                Some("echo 0 > /proc/sys/kernel/randomize_va_space"),
            ),
        }
    }

    fn thp(&self) -> Item {
        let base = "/sys/kernel/mm/transparent_hugepage";
        let mut on = Vec::new();
        let mut fixes = Vec::new();
        for f in ["enabled", "defrag"] {
            let p = format!("{base}/{f}");
            if let Some(v) = self.read(&p) {
                if !v.contains("[never]") {
                    on.push(format!("{f} {v}"));
                    fixes.push(format!("echo never > {p}"));
                }
            }
        }
        let kd = format!("{base}/khugepaged/defrag");
        if let Some(v) = self.read(&kd) {
            if v != "0" {
                on.push(format!("khugepaged/defrag {v}"));
                fixes.push(format!("echo 0 > {kd}"));
            }
        }
        if on.is_empty() {
            return Item::ok(
                "timing",
                "thp",
                "transparent huge pages off (or not detected)",
            );
        }
        Item::new(
            "timing",
            "thp",
            Status::Warn,
            format!(
                "transparent huge pages: {}: whether a program gets 2 MiB pages changes its time",
                on.join("; ")
            ),
            Some(fixes.join("; ").as_str()),
        )
    }

    fn core_pattern(&self) -> Item {
        match self.read("/proc/sys/kernel/core_pattern") {
            Some(v) if v.starts_with('|') => Item::new(
                "timing",
                "core_pattern",
                Status::Warn,
                format!("core dumps go to a program ({v}): a crash is slow, and RLIMIT_CORE 0 does not stop a pipe"),
                Some("echo core > /proc/sys/kernel/core_pattern"),
            ),
            Some(v) => Item::ok("timing", "core_pattern", format!("{v} (a file; boxes have RLIMIT_CORE 0 by default)")),
            None => Item::ok("timing", "core_pattern", "not detected"),
        }
    }

    fn hardlinks(&self) -> Item {
        match self.read("/proc/sys/fs/protected_hardlinks").as_deref() {
            Some("0") => Item::new(
                "timing",
                "protected_hardlinks",
                Status::Warn,
                "hard link protection is off: any user can link to files they do not own",
                Some("echo 1 > /proc/sys/fs/protected_hardlinks"),
            ),
            Some(_) => Item::ok("timing", "protected_hardlinks", "on"),
            None => Item::ok("timing", "protected_hardlinks", "not detected"),
        }
    }

    fn asymmetric(&self) -> Item {
        if self.exists("/sys/devices/cpu_atom") && self.exists("/sys/devices/cpu_core") {
            return Item::new(
                "timing",
                "asymmetric_cores",
                Status::Warn,
                "the CPU has performance and efficiency cores: a box's time depends on which it ran on",
                Some("pin boxes to one kind of core (cpuset in the rustbox config, or taskset around the judge)"),
            );
        }
        Item::ok("timing", "asymmetric_cores", "one kind of core")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(name: &str, files: &[(&str, &str)]) -> Host {
        let root =
            std::env::temp_dir().join(format!("rustbox-hygiene-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (p, text) in files {
            let f = root.join(p.trim_start_matches('/'));
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, text).unwrap();
        }
        std::fs::create_dir_all(&root).unwrap();
        Host::new(root)
    }

    fn status_of(h: &Host, name: &str) -> (Status, Option<String>) {
        let i = h.items().into_iter().find(|i| i.name == name).unwrap();
        (i.status, i.fix)
    }

    /// A host tuned for judging: every item is fine.
    #[test]
    fn a_tuned_host_passes_every_item() {
        let h = tree(
            "tuned",
            &[
                ("/proc/swaps", "Filename Type Size Used Priority\n"),
                ("/sys/devices/system/cpu/smt/active", "0\n"),
                (
                    "/sys/devices/system/cpu/cpufreq/policy0/scaling_governor",
                    "performance\n",
                ),
                ("/sys/devices/system/cpu/cpufreq/boost", "0\n"),
                ("/proc/sys/kernel/randomize_va_space", "0\n"),
                (
                    "/sys/kernel/mm/transparent_hugepage/enabled",
                    "always madvise [never]\n",
                ),
                (
                    "/sys/kernel/mm/transparent_hugepage/defrag",
                    "always defer madvise [never]\n",
                ),
                (
                    "/sys/kernel/mm/transparent_hugepage/khugepaged/defrag",
                    "0\n",
                ),
                ("/proc/sys/kernel/core_pattern", "core\n"),
                ("/proc/sys/fs/protected_hardlinks", "1\n"),
            ],
        );
        for i in h.items() {
            assert_eq!(i.status, Status::Ok, "{}: {}", i.name, i.detail);
        }
        let _ = std::fs::remove_dir_all(&h.root);
    }

    /// A desktop-like host: each source of variability is a warning with its fix.
    #[test]
    fn each_source_of_variability_is_named_with_its_fix() {
        let h = tree(
            "loose",
            &[
                (
                    "/proc/swaps",
                    "Filename Type Size Used Priority\n/dev/sda2 partition 1000 0 -2\n",
                ),
                ("/sys/devices/system/cpu/smt/active", "1\n"),
                ("/sys/devices/system/cpu/smt/control", "on\n"),
                (
                    "/sys/devices/system/cpu/cpufreq/policy0/scaling_governor",
                    "performance\n",
                ),
                (
                    "/sys/devices/system/cpu/cpufreq/policy1/scaling_governor",
                    "powersave\n",
                ),
                ("/sys/devices/system/cpu/intel_pstate/no_turbo", "0\n"),
                ("/proc/sys/kernel/randomize_va_space", "2\n"),
                (
                    "/sys/kernel/mm/transparent_hugepage/enabled",
                    "[always] madvise never\n",
                ),
                (
                    "/sys/kernel/mm/transparent_hugepage/defrag",
                    "always defer [madvise] never\n",
                ),
                (
                    "/proc/sys/kernel/core_pattern",
                    "|/usr/lib/systemd/systemd-coredump %P\n",
                ),
                ("/proc/sys/fs/protected_hardlinks", "0\n"),
                ("/sys/devices/cpu_atom/type", "10\n"),
                ("/sys/devices/cpu_core/type", "4\n"),
            ],
        );
        let want = [
            ("swap", "swapoff -a"),
            ("smt", "echo off > /sys/devices/system/cpu/smt/control"),
            ("cpufreq.governor", "echo performance"),
            (
                "cpufreq.boost",
                "echo 1 > /sys/devices/system/cpu/intel_pstate/no_turbo",
            ),
            ("aslr", "echo 0 > /proc/sys/kernel/randomize_va_space"),
            (
                "thp",
                "echo never > /sys/kernel/mm/transparent_hugepage/defrag",
            ),
            ("core_pattern", "echo core > /proc/sys/kernel/core_pattern"),
            (
                "protected_hardlinks",
                "echo 1 > /proc/sys/fs/protected_hardlinks",
            ),
            ("asymmetric_cores", "pin boxes"),
        ];
        for (name, fix) in want {
            let (st, f) = status_of(&h, name);
            assert_eq!(st, Status::Warn, "{name}");
            assert!(
                f.as_deref().is_some_and(|f| f.contains(fix)),
                "{name}: {f:?}"
            );
        }
        let i = h
            .items()
            .into_iter()
            .find(|i| i.name == "cpufreq.governor")
            .unwrap();
        assert!(
            i.detail.contains("policy1: powersave") && !i.detail.contains("policy0"),
            "{}",
            i.detail
        );
        let _ = std::fs::remove_dir_all(&h.root);
    }

    /// SMT that the kernel cannot switch off at run time: the fix is a boot option.
    #[test]
    fn smt_without_runtime_control_asks_for_nosmt() {
        let h = tree(
            "smt",
            &[
                ("/sys/devices/system/cpu/smt/active", "1\n"),
                ("/sys/devices/system/cpu/smt/control", "notimplemented\n"),
            ],
        );
        assert_eq!(
            status_of(&h, "smt").1.as_deref(),
            Some("add nosmt to the kernel command line")
        );
        let _ = std::fs::remove_dir_all(&h.root);
    }
}
