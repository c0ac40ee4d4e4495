//! The cgroup suite: `--cg` limits, measurements and whole-box kill, on whatever
//! backend the machine has. On the development host that is cgroup v1; `make
//! test-cgroup-v2` runs the same tests, statically linked, inside a VM whose kernel
//! has only cgroup v2 (see `tests/vm/`). Every test asserts the backend-specific
//! evidence (file names in `limits_hit`) for the version it finds.
//!
//! Boxes: `/tmp/rustbox-cg-<pid>/`, uids from 64000, cgroups under
//! `rustbox/test-cg`. Requirements: root, and gcc unless `RUSTBOX_PROBES` names
//! prebuilt probes. Nothing is skipped: a test that cannot run fails saying why.

mod common;

use common::harness::{self, cg_root, pids_of_uid, timing_lock, Run, TestBox};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

pub static SUITE: common::SuiteConf = common::SuiteConf {
    prefix: "rustbox-cg",
    first_uid: 64000,
    num_boxes: 100,
    cg_root: "rustbox/test-cg",
    how_to_run: "cargo test --test cgroup",
};

/// The CPU-time watchdog must stop a spinner within this much CPU time past the
/// limit: 10 ms on a real machine. `RUSTBOX_CPU_OVERSHOOT_MS` widens it where time
/// itself is emulated (the TCG VM of `make test-cgroup-v2`, whose vCPUs are host
/// threads that the host deschedules while the guest's clocks run on).
fn cpu_overshoot_max() -> f64 {
    std::env::var("RUSTBOX_CPU_OVERSHOOT_MS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.010, |ms| ms / 1000.0)
}

/// The cgroup version `--cg` picks on this machine (found by one run of /bin/true).
fn version() -> u64 {
    static V: OnceLock<u64> = OnceLock::new();
    *V.get_or_init(|| {
        let b = TestBox::new(99);
        let r = b.run(&["--cg"], &["/bin/true"]);
        assert_eq!(r.code, 0, "a plain --cg run fails on this machine:\n{r}");
        let v = r.json()["cgroup"]["version"].as_u64();
        assert!(
            matches!(v, Some(1 | 2)),
            "JSON cgroup.version is {v:?}\n{r}"
        );
        v.unwrap()
    })
}

/// The cgroup's own CPU counter, reported beside the task clock.
fn cpu_source() -> &'static str {
    if version() == 1 {
        "cpuacct.usage"
    } else {
        "cpu.stat:usage_usec"
    }
}

fn oom_source() -> &'static str {
    if version() == 1 {
        "memory.oom_control:oom_kill"
    } else {
        "memory.events:oom_kill"
    }
}

/// Mount points of the cgroup hierarchies rustbox uses: the unified one (v2) or
/// one per controller (v1).
fn cgroup_mounts() -> Vec<PathBuf> {
    let v: Vec<PathBuf> = common::mounts_of("self")
        .into_iter()
        .filter(|m| match version() {
            2 => m.fstype == "cgroup2",
            _ => {
                m.fstype == "cgroup"
                    && m.options.split(',').any(|o| {
                        ["memory", "pids", "cpu", "cpuacct", "freezer", "cpuset"].contains(&o)
                    })
            }
        })
        .map(|m| m.point)
        .collect();
    assert!(!v.is_empty(), "no cgroup hierarchy found in mountinfo");
    v
}

/// The box's group in every hierarchy.
fn box_groups(id: u32) -> Vec<PathBuf> {
    common::box_cgroups(&SUITE, &cgroup_mounts(), id)
}

/// After a run: nothing of the box runs in any of its groups, and the run's own
/// group is gone (v2: the box's group; v1: its memory group, the others being
/// kept for the box's next run, issue 13); after `--cleanup` every one is gone
/// (`assert_groups_gone`).
fn assert_groups_after_run(id: u32, r: &Run) {
    for g in box_groups(id) {
        let runs_own = version() == 2 || g.iter().any(|c| c == "memory");
        if runs_own {
            assert!(!g.exists(), "{} outlives the run\n{r}", g.display());
        } else {
            let procs = std::fs::read_to_string(g.join("cgroup.procs"))
                .unwrap_or_else(|e| panic!("the kept group {} ({e})\n{r}", g.display()));
            assert!(
                procs.trim().is_empty(),
                "{} holds {procs:?} after the run\n{r}",
                g.display()
            );
        }
    }
}

fn assert_groups_gone(id: u32) {
    for g in box_groups(id) {
        assert!(!g.exists(), "{} outlives --cleanup", g.display());
    }
}

fn hit_sources(r: &Run) -> Vec<String> {
    r.json()["limits_hit"]
        .as_array()
        .unwrap_or_else(|| panic!("limits_hit is not an array\n{r}"))
        .iter()
        .map(|h| h["source"].as_str().unwrap_or("").to_string())
        .collect()
}

fn hit<'a>(r: &'a Run, limit: &str) -> &'a Value {
    r.json()["limits_hit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["limit"] == limit)
        .unwrap_or_else(|| panic!("no {limit} in limits_hit\n{r}"))
}

/// No process of the box is left, right after rustbox returned.
fn assert_box_empty(b: &TestBox, r: &Run) {
    let left = pids_of_uid(b.uid());
    assert!(
        left.is_empty(),
        "processes of box uid {} outlive the run: {left:?}\n{r}",
        b.uid()
    );
}

// ---------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------

#[test]
fn memory_bomb_is_mle_with_oom_evidence() {
    let _t = timing_lock();
    let b = TestBox::new(1);
    let probe = b.install_probe("probe");
    let r = b.run(
        &["--cg", "--cg-mem=65536", "-p10", "-w", "20"],
        &[&probe, "mem", "300"],
    );
    assert_eq!(r.code, 1, "{r}");
    let j = r.json();
    assert_eq!(j["verdict"], "MLE", "{r}");
    let h = hit(&r, "memory");
    assert_eq!(h["source"], oom_source(), "{r}");
    assert!(j["cgroup"]["oom_kills"].as_u64().unwrap() >= 1, "{r}");
    let m = r.meta();
    assert_eq!(m.req("cg-oom-killed"), "1", "{r}");
    assert_eq!(m.req("status"), "SG", "{r}");
    assert_eq!(m.req("exitsig"), "9", "{r}");
    let peak: u64 = m.req("cg-mem").parse().unwrap();
    assert!(
        (32768..=65536 + 64).contains(&peak),
        "cg-mem {peak} KiB: the bomb should have reached the 64 MiB limit, not passed it\n{r}"
    );
    assert_box_empty(&b, &r);
}

#[test]
fn memory_under_the_limit_is_ok_and_measured() {
    let b = TestBox::new(2);
    let probe = b.install_probe("probe");
    let r = b.run(
        &["--cg", "--cg-mem=131072", "-w", "20"],
        &[&probe, "mem", "40"],
    );
    assert_eq!(r.json()["verdict"], "OK", "{r}");
    let peak: u64 = r.meta().req("cg-mem").parse().unwrap();
    assert!(
        (40 * 1024..131072).contains(&peak),
        "cg-mem {peak} KiB for a 40 MiB program\n{r}"
    );
    assert!(r.meta().get("cg-oom-killed").is_none(), "{r}");
}

/// Memory in no process's address space (a memfd file, its pages allocated)
/// passes -m, and only the cgroup bounds it; the control memory.total says which
/// holds for the run.
#[test]
fn memfd_is_bounded_by_the_cgroup_only() {
    // Filling a cgroup to its OOM kill takes the kernel's reclaim and OOM work on
    // every CPU: the CPU-time tests must not run beside it.
    let _t = timing_lock();
    let b = TestBox::new(23);
    let probe = b.install_probe("probe");
    let r = b.run(&["-m", "65536", "-w", "20"], &[&probe, "memfd", "512"]);
    assert_eq!(r.json()["verdict"], "OK", "{r}");
    assert_eq!(r.facts().one("memfd"), Some("ok"), "{r}");
    assert_eq!(r.control("memory.total")["verified"], false, "{r}");
    assert!(
        r.detail("memory.total")
            .contains("only --cg bounds the box's total memory"),
        "{r}"
    );
    let r = b.run(
        &["--cg", "--cg-mem=65536", "-w", "20"],
        &[&probe, "memfd", "512"],
    );
    let v = r.json()["verdict"].as_str().unwrap().to_string();
    let f = r.facts();
    assert!(
        v == "MLE" || f.one("memfd") == Some("ENOMEM"),
        "512 MiB of memfd under --cg-mem=65536: verdict {v}, memfd {:?}\n{r}",
        f.one("memfd")
    );
    assert_eq!(r.control("memory.total")["verified"], true, "{r}");
    assert!(
        r.detail("memory.total")
            .contains("bounded by the box's cgroup: 65536 KiB"),
        "{r}"
    );
}

// ---------------------------------------------------------------------------
// CPU time: the watchdog reads the cgroup's own CPU counter
// ---------------------------------------------------------------------------

/// The box's CPU time is what the scheduler gave it. Where this kernel accounts
/// hypervisor steal, that is the cgroup's count (exact once the box is dead):
/// the task clock, beside it, has the steal in it. Where it accounts none, it is
/// the exact task clock, which the cgroup's count trails by at most a few %
/// (charged at ticks; a loaded CI host showed 0.570 s against 0.602 s for two
/// threads).
fn assert_cpu_measure(r: &Run) {
    let j = r.json();
    let u = &j["usage"];
    let cg = &j["cgroup"];
    assert_eq!(cg["cpu_source"], cpu_source(), "{r}");
    let cg_cpu = cg["cpu_s"].as_f64().unwrap();
    let cpu = u["cpu_s"].as_f64().unwrap();
    let task = u["task_clock_s"].as_f64().expect("usage.task_clock_s");
    let steal = u["steal_max_s"].as_f64().expect("usage.steal_max_s");
    // Never above the larger of its two clocks (ms rounding aside). The
    // scheduler's count can be ahead of the task clock: by the proxy's own steps
    // before the clock is opened and the end of each exit (about a millisecond
    // on a real machine), by a few % where time is emulated (0.320 s against
    // 0.306 s in the TCG VM of `make test-cgroup-v2`).
    assert!(
        cpu <= task.max(cg_cpu) + 0.0005,
        "CPU time {cpu} s above both the task clock {task} s and the cgroup's {cg_cpu} s\n{r}"
    );
    if common::steal_accounted() {
        assert!(
            steal > 0.0,
            "steal is accounted here, steal_max_s {steal}\n{r}"
        );
        assert_eq!(
            u["cpu_source"],
            cpu_source(),
            "with steal accounted the CPU time is the cgroup's\n{r}"
        );
        assert!(
            cpu >= cg_cpu - 0.0005,
            "CPU time {cpu} s below the cgroup's count {cg_cpu} s\n{r}"
        );
    } else {
        // The exact task clock; the cgroup's count beside it may be ahead (by a
        // few % in the TCG VM, which killed a spinner at 0.502 s of task clock
        // with 0.546 s in the cgroup).
        assert_eq!(steal, 0.0, "{r}");
        assert_eq!(u["cpu_source"], "perf:task-clock", "{r}");
        assert_eq!(cpu, task, "{r}");
        assert!(
            (cg_cpu - task).abs() <= (0.15 * task).max(0.02),
            "cgroup CPU {cg_cpu} s far from the task clock {task} s\n{r}"
        );
    }
}

/// The run was stopped for CPU time within CPU_OVERSHOOT_MAX of `kill_at`;
/// returns the overshoot.
fn assert_cpu_tle(r: &Run, limit: f64, kill_at: f64, what: &str) -> f64 {
    let j = r.json();
    assert_eq!(j["verdict"], "TLE", "{r}");
    // The bound below holds only for a real-time watchdog (a normal-priority one
    // can wake a scheduler slice late): without it, this says why.
    assert_eq!(r.control("watchdog.priority")["applied"], true, "{r}");
    let h = hit(r, "cpu_time");
    assert_cpu_measure(r);
    assert_eq!(h["source"], j["usage"]["cpu_source"], "{r}");
    assert_eq!(h["measured"], j["usage"]["cpu_s"], "{r}");
    assert_eq!(h["limit_value"].as_f64(), Some(limit), "{r}");
    let measured = h["measured"].as_f64().unwrap();
    let over = measured - kill_at;
    eprintln!(
        "{what}: killed at {measured:.4} s CPU, overshoot {:.1} ms (cgroup v{})",
        over * 1000.0,
        version()
    );
    assert!(
        // 1e-9: the evidence is in ms, and 0.510 - 0.5 is a hair over 0.010 in f64.
        (0.0..=cpu_overshoot_max() + 1e-9).contains(&over),
        "{what}: CPU time {measured:.4} s is not within {} ms past {kill_at} s\n{r}",
        cpu_overshoot_max() * 1000.0
    );
    let m = r.meta();
    assert_eq!(m.req("status"), "TO", "{r}");
    assert_eq!(m.req("message"), "Time limit exceeded", "{r}");
    over
}

#[test]
fn cpu_single_thread_spinner() {
    let _t = timing_lock();
    let b = TestBox::new(10);
    let probe = b.install_probe("probe");
    let r = b.run(&["--cg", "-t", "0.5", "-w", "10"], &[&probe, "spin"]);
    assert_cpu_tle(&r, 0.5, 0.5, "1 thread, -t 0.5");
    assert_box_empty(&b, &r);
}

#[test]
fn cpu_multi_threaded_spinner_with_extra_time() {
    let _t = timing_lock();
    let b = TestBox::new(11);
    let probe = b.install_probe("probe");
    // Two CPUs of bandwidth so the threads really run in parallel; the kill comes at
    // the extra time (isolate: counted from the start, not added to -t).
    let r = b.run(
        &[
            "--cg", "--cpus=2", "-p4", "-t", "0.4", "-x", "0.6", "-w", "10",
        ],
        &[&probe, "threads", "2"],
    );
    assert_cpu_tle(&r, 0.4, 0.6, "2 threads, -t 0.4 -x 0.6");
    assert_box_empty(&b, &r);
}

/// A program is charged the CPU time the scheduler gave it, not the time a
/// hypervisor stole from its vCPU (which the box's task clock counts): one that
/// uses 0.3 s by its own process clock runs to the end under -t 0.35 however
/// much is stolen meanwhile (the cgroup suite was killed for 0.509 s of task clock
/// against 0.342 s in the cgroup, with 389 ticks of steal), and the evidence says
/// which count it is and shows the task clock and the steal beside it.
#[test]
fn cpu_time_leaves_out_hypervisor_steal() {
    let _t = timing_lock();
    let b = TestBox::new(14);
    let probe = b.install_probe("probe");
    for _ in 0..3 {
        let r = b.run(
            &["--cg", "-t", "0.35", "-w", "10"],
            &[&probe, "burn", "0.3"],
        );
        assert_eq!(r.code, 0, "{r}");
        assert_eq!(r.json()["verdict"], "OK", "{r}");
        assert_cpu_measure(&r);
        let u = &r.json()["usage"];
        eprintln!(
            "burn 0.3: cpu_s {} ({}), task clock {}, steal at most {}",
            u["cpu_s"], u["cpu_source"], u["task_clock_s"], u["steal_max_s"]
        );
        let cpu = u["cpu_s"].as_f64().unwrap();
        assert!((0.3..0.35).contains(&cpu), "{r}");
    }
}

/// Children the kernel reaps as they exit (SIGCHLD ignored) leave no rusage and
/// no /proc entry, but the cgroup has their time: charged, TLE for CPU time.
#[test]
fn cpu_autoreaped_children_are_charged() {
    let _t = timing_lock();
    let b = TestBox::new(15);
    let probe = b.install_probe("probe");
    let r = b.run(
        &["--cg", "-p10", "-t", "0.3", "-w", "8"],
        &[&probe, "autoreap", "1000"],
    );
    let j = r.json();
    assert_eq!(j["verdict"], "TLE", "{r}");
    assert_eq!(
        hit(&r, "cpu_time")["limit_value"].as_f64(),
        Some(0.3),
        "{r}"
    );
    assert!(j["usage"]["wall_s"].as_f64().unwrap() < 3.0, "{r}");
    assert_cpu_measure(&r);
    assert_box_empty(&b, &r);
}

#[test]
fn cpu_forking_workers_ignoring_sigxcpu() {
    let _t = timing_lock();
    let b = TestBox::new(12);
    let probe = b.install_probe("probe");
    let r = b.run(
        &["--cg", "-p10", "-t", "0.5", "-w", "10"],
        &[&probe, "spinfork", "3"],
    );
    assert_cpu_tle(&r, 0.5, 0.5, "3 forked workers, -t 0.5");
    assert_box_empty(&b, &r);
}

#[test]
fn one_cpu_by_default_holds_two_spinners() {
    let _t = timing_lock();
    let b = TestBox::new(13);
    let probe = b.install_probe("probe");
    let r = b.run(&["--cg", "-p4", "-w", "1.5"], &[&probe, "threads", "2"]);
    let j = r.json();
    assert_eq!(j["verdict"], "TLE", "{r}");
    assert!(r.meta().req("message").contains("wall"), "{r}");
    let cpu = j["usage"]["cpu_s"].as_f64().unwrap();
    let wall = j["usage"]["wall_s"].as_f64().unwrap();
    eprintln!("two spinners under the default --cpus 1: {cpu:.3} s CPU in {wall:.3} s wall");
    assert!(
        cpu <= wall * 1.15 + 0.02,
        "{cpu} s of CPU in {wall} s wall: more than one CPU\n{r}"
    );
    assert!(
        cpu >= wall * 0.5,
        "{cpu} s of CPU in {wall} s wall: the spinners barely ran\n{r}"
    );
    assert!(
        j["cgroup"]["nr_throttled"].as_u64().unwrap() >= 1,
        "the bandwidth limit never throttled\n{r}"
    );
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/// Which process limit the kernel enforced, by its own evidence. With --cg, -p N
/// is both RLIMIT_NPROC = N (as in isolate) and pids.max = N + 1 (the proxy
/// counts there); the kernel checks the rlimit first (copy_process), so the box's
/// own tasks normally meet RLIMIT_NPROC, which leaves no record anywhere, and
/// pids.events:max stays 0. Either way a "processes" limit is cited exactly when
/// pids.events counted a refusal, never without it.
fn assert_processes_cited_only_on_pids_evidence(r: &Run) {
    let hits = r.json()["cgroup"]["pids_max_hits"]
        .as_u64()
        .unwrap_or_else(|| panic!("no cgroup.pids_max_hits\n{r}"));
    let cited = hit_sources(r).contains(&"pids.events:max".to_string());
    assert_eq!(
        cited,
        hits > 0,
        "processes cited {cited} with pids.events:max = {hits}\n{r}"
    );
}

/// With --cg, `-p N` is RLIMIT_NPROC N inside the box too, as isolate sets it
/// (before, cgroup mode left RLIMIT_NPROC unlimited and only pids.max held);
/// pids.max stays N + 1. The default is 1, `-p` alone unlimited.
#[test]
fn processes_limit_is_rlimit_nproc_in_cgroup_mode() {
    let b = TestBox::new(80);
    let probe = b.install_probe("probe");
    let mut own = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we own.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut own) }, 0);
    let show = |v: libc::rlim_t| match v {
        libc::RLIM_INFINITY => "unlimited".to_string(),
        v => v.to_string(),
    };
    let inherited = format!("{}/{}", show(own.rlim_cur), show(own.rlim_max));
    for (opt, want) in [
        ("-p7", "7/7"),
        ("--processes=60", "60/60"),
        ("-p1", "1/1"),
        // -p alone sets nothing: the caller's own limit goes through (isolate).
        ("-p", inherited.as_str()),
    ] {
        let r = b.run(&["--cg", opt], &[&probe, "facts"]);
        assert_eq!(r.code, 0, "{opt}\n{r}");
        assert_eq!(r.facts().one("rlimit.NPROC"), Some(want), "{opt}\n{r}");
        let pids = r.json()["controls"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["detail"].as_str())
            .find(|d| d.contains("pids.max"))
            .map(String::from);
        match want.split('/').next().unwrap().parse::<u64>() {
            Ok(n) if opt != "-p" => assert_eq!(
                pids.as_deref(),
                Some(format!("pids.max = {}", n + 1).as_str()),
                "{opt}\n{r}"
            ),
            _ => assert_eq!(pids, None, "{opt}\n{r}"),
        }
    }
    let r = b.run(&["--cg"], &[&probe, "facts"]);
    assert_eq!(r.facts().one("rlimit.NPROC"), Some("1/1"), "default\n{r}");
    // Held at N: one process under -p1 cannot fork, two may exist under -p2.
    let r = b.run(&["--cg", "-p1"], &[&probe, "fork"]);
    assert_eq!(r.facts().one("fork"), Some("EAGAIN"), "{r}");
    let r = b.run(&["--cg", "-p2"], &[&probe, "fork"]);
    assert_eq!(r.facts().one("fork"), Some("ok"), "{r}");
}

#[test]
fn fork_bomb_is_held_by_pids_max() {
    let _t = timing_lock();
    let b = TestBox::new(20);
    let probe = b.install_probe("probe");
    let uid = b.uid();
    let watcher = std::thread::spawn(move || {
        let mut peak = 0;
        for _ in 0..300 {
            peak = peak.max(pids_of_uid(uid).len());
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    });
    let r = b.run(&["--cg", "-p10", "-w", "1"], &[&probe, "forkbomb"]);
    let peak = watcher.join().unwrap();
    assert_eq!(r.json()["verdict"], "TLE", "{r}");
    assert_processes_cited_only_on_pids_evidence(&r);
    assert!(
        r.stdout.contains("fork_error=EAGAIN"),
        "fork never failed\n{r}"
    );
    assert!(
        peak <= 10,
        "{peak} box processes seen from the host under -p10\n{r}"
    );
    assert_box_empty(&b, &r);
}

#[test]
fn thread_bomb_is_held_by_pids_max() {
    let _t = timing_lock();
    let b = TestBox::new(21);
    let probe = b.install_probe("probe");
    let r = b.run(&["--cg", "-p20", "-w", "10"], &[&probe, "threadbomb"]);
    let f = r.facts();
    let n: u32 = f
        .one("threads")
        .unwrap_or_else(|| panic!("no threads= line\n{r}"))
        .parse()
        .unwrap();
    assert_eq!(f.one("thread_error"), Some("EAGAIN"), "{r}");
    assert!(
        (10..20).contains(&n),
        "{n} threads besides the main one under -p20\n{r}"
    );
    assert_processes_cited_only_on_pids_evidence(&r);
}

#[test]
fn daemonised_grandchild_dies_with_the_box() {
    let b = TestBox::new(22);
    let probe = b.install_probe("probe");
    let r = b.run(&["--cg", "-p5", "-w", "10"], &[&probe, "daemon"]);
    assert_eq!(r.json()["verdict"], "OK", "{r}");
    assert!(r.stdout.contains("daemon=started"), "{r}");
    let pid = std::fs::read_to_string(b.workspace().join("daemon"))
        .unwrap_or_else(|e| panic!("the grandchild wrote no pid ({e})\n{r}"));
    assert!(!pid.trim().is_empty(), "{r}");
    assert_box_empty(&b, &r);
    assert_groups_after_run(22, &r);
    b.cleanup().expect("cleanup");
    assert_groups_gone(22);
}

// ---------------------------------------------------------------------------
// The box's cgroup: created, removed, stale ones cleared, other versions refused
// ---------------------------------------------------------------------------

#[test]
fn cgroup_is_removed_and_the_missing_version_refused() {
    let b = TestBox::new(30);
    let r = b.run(&["--cg"], &["/bin/true"]);
    assert_eq!(r.code, 0, "{r}");
    let path = r.json()["cgroup"]["path"].as_str().unwrap().to_string();
    assert!(
        path.ends_with(&format!("{}/box-30", cg_root())),
        "cgroup path {path}\n{r}"
    );
    assert_groups_after_run(30, &r);
    // The box's next run starts in the kept groups from zero.
    let r2 = b.run(&["--cg"], &["/bin/true"]);
    assert_eq!(r2.code, 0, "{r2}");
    assert_groups_after_run(30, &r2);
    // The version this machine does not offer with controllers is refused, strictly.
    let other = if version() == 1 { "v2" } else { "v1" };
    let r = b.run(&["--cg", &format!("--cgroup={other}")], &["/bin/true"]);
    assert_eq!(r.code, 2, "{r}");
    assert_eq!(r.stderr.lines().count(), 1, "{r}");
    assert!(r.stderr.contains(other), "{r}");
    assert_eq!(r.json()["verdict"], "IE", "{r}");
    assert_eq!(r.meta().req("status"), "XX", "{r}");
    b.cleanup().expect("cleanup");
    assert_groups_gone(30);
}

/// The groups a box keeps between runs (v1, issue 13) give each run its own
/// figures: a run after one that used CPU and was throttled reports neither.
#[test]
fn a_boxs_next_run_counts_from_zero() {
    let _t = timing_lock();
    let b = TestBox::new(33);
    let probe = b.install_probe("probe");
    // Three spinners for ten periods on one CPU's quota: throttled even where
    // the emulated cgroup v2 VM ran two spinners one after the other (found
    // there once: 0.6 s with no period over quota).
    let r = b.run(
        &["--cg", "-p5", "-t", "1.0", "-w", "8"],
        &[&probe, "spinfork", "3"],
    );
    assert_eq!(r.json()["verdict"], "TLE", "{r}");
    let first = &r.json()["cgroup"];
    let first_cpu = first["cpu_s"].as_f64().unwrap_or(0.0);
    assert!(first_cpu >= 0.9, "{r}");
    assert!(
        first["nr_throttled"].as_u64().unwrap_or(0) > 0,
        "three spinners on one CPU's quota\n{r}"
    );
    let r = b.run(&["--cg"], &["/bin/true"]);
    assert_eq!(r.json()["verdict"], "OK", "{r}");
    let next = &r.json()["cgroup"];
    // Counted from zero, the run has only its own CPU time: /bin/true and the
    // box's setup, a few ms here and up to 0.1 s in the emulated cgroup v2 VM.
    // The earlier run's (first_cpu, at least 0.5 s) would show in full.
    assert!(
        next["cpu_s"].as_f64().unwrap_or(1.0) < first_cpu / 2.0,
        "the earlier run's CPU time counted\n{r}"
    );
    assert_eq!(
        next["nr_throttled"].as_u64(),
        Some(0),
        "the earlier run's throttling counted\n{r}"
    );
    assert_eq!(next["pids_max_hits"].as_u64(), Some(0), "{r}");
    assert_eq!(next["oom_kills"].as_u64(), Some(0), "{r}");
    assert_groups_after_run(33, &r);
}

/// A crashed run's group (with a process still in it) is killed and removed by the
/// next `--init`, and by `--cleanup`.
#[test]
fn stale_cgroup_is_cleared_by_init_and_cleanup() {
    for (id, op) in [(31u32, "--init"), (32, "--cleanup")] {
        let _b = TestBox::new(id);
        let groups = box_groups(id);
        let sleeper = Command::new("/bin/sleep")
            .arg("1000")
            .spawn()
            .expect("start sleep");
        // Killed whatever happens below (a frozen or stuck sleeper must not hold
        // the test's output open).
        struct Reap(std::process::Child);
        impl Drop for Reap {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let mut sleeper = Reap(sleeper);
        for g in &groups {
            std::fs::create_dir_all(g).unwrap_or_else(|e| panic!("mkdir {}: {e}", g.display()));
            // A v1 cpuset group takes no process until it has CPUs and memory nodes.
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if g.join(f).exists() {
                    let parent = std::fs::read_to_string(g.parent().unwrap().join(f)).unwrap();
                    std::fs::write(g.join(f), parent.trim()).unwrap();
                }
            }
            let procs = g.join("cgroup.procs");
            std::fs::write(&procs, sleeper.0.id().to_string())
                .unwrap_or_else(|e| panic!("write {}: {e}", procs.display()));
        }
        let o = harness::rustbox(&["-b", &id.to_string(), op]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{op}: {}",
            harness::text(&o.stderr)
        );
        let gone = common::wait_or_kill(&mut sleeper.0, Duration::from_secs(2)).is_some();
        assert!(gone, "{op} left the stale group's process alive");
        for g in &groups {
            assert!(!Path::new(g).exists(), "{op} left {}", g.display());
        }
    }
}

// ---------------------------------------------------------------------------
// Disk: --quota (given to --init) and the default /tmp limit
// ---------------------------------------------------------------------------

/// File system type mounted on `dir` (the topmost mount there).
fn fstype_on(dir: &Path) -> Option<String> {
    common::mounts_of("self")
        .into_iter()
        .rev()
        .find(|m| m.point == dir)
        .map(|m| m.fstype)
}

#[test]
fn disk_fill_and_inode_spray_hit_the_quota() {
    let b = TestBox::new_with(40, &["--quota=4096,100"]);
    // One mount for the whole box: box/ and tmp/ are directories on it.
    assert_eq!(fstype_on(&b.dir).as_deref(), Some("tmpfs"));
    let below = common::mounts_below("self", &b.dir);
    assert_eq!(below.len(), 1, "one host mount per box: {below:?}");
    let probe = b.install_probe("probe");

    let r = b.run(&["--quota=4096,100"], &[&probe, "fill", "/box/f"]);
    let f = r.facts();
    assert_eq!(f.one("write"), Some("ENOSPC"), "{r}");
    let written: u64 = f.one("written").unwrap().parse().unwrap();
    assert!(
        (2 << 20..=4 << 20).contains(&written),
        "{written} bytes written under a 4096 KiB quota (the probe takes some)\n{r}"
    );
    assert_eq!(r.control("disk.quota")["applied"], true, "{r}");
    assert!(
        r.json()["controls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["detail"]
                .as_str()
                .is_some_and(|d| d.contains("/box and /tmp: one tmpfs of 4096 KiB, 100 inodes"))),
        "{r}"
    );
    std::fs::remove_file(b.workspace().join("f")).unwrap();

    let r = b.run(&[], &[&probe, "inodes", "/box"]);
    let f = r.facts();
    assert_eq!(f.one("create"), Some("ENOSPC"), "{r}");
    let n: u64 = f.one("created").unwrap().parse().unwrap();
    assert!(
        (90..100).contains(&n),
        "{n} files under a 100-inode quota\n{r}"
    );
    for e in std::fs::read_dir(b.workspace()).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().is_some_and(|n| n != "probe") {
            std::fs::remove_file(p).unwrap();
        }
    }

    // /tmp is on the same tmpfs: the box's quota bounds it too.
    let r = b.run(
        &[],
        &[&probe, "fill", "/tmp/f", &(300u64 << 20).to_string()],
    );
    let f = r.facts();
    assert_eq!(f.one("write"), Some("ENOSPC"), "{r}");
    let written: u64 = f.one("written").unwrap().parse().unwrap();
    assert!(
        written <= 4 << 20,
        "{written} bytes in /tmp under a 4096 KiB quota\n{r}"
    );

    // A --run giving another quota runs in the box as it is (isolate ignores
    // --quota on --run), and the JSON says so.
    let r = b.run(&["--quota=8192,100"], &[&probe, "marker"]);
    assert_eq!(r.code, 0, "{r}");
    assert!(b.workspace().join("marker").exists(), "{r}");
    let d = r.detail("disk.quota");
    assert!(d.contains("4096 KiB") && d.contains("not applied"), "{d}");

    // --cleanup takes the mount down with the box.
    let dir = b.dir.clone();
    drop(b);
    assert_eq!(fstype_on(&dir), None, "the box tmpfs outlives --cleanup");
}

// ---------------------------------------------------------------------------
// A program under a shell wrapper (the judges' own replays: tests/clients.rs)
// ---------------------------------------------------------------------------

/// judge0 and Piston run every program through bash: when the OOM killer takes
/// bash's child, bash exits 137 and isolate's meta says `status:RE`, `exitcode:137`,
/// "Exited with error status 137" and `cg-oom-killed:1` (judge0 shows NZEC). The
/// JSON verdict stays MLE with the cgroup's evidence.
#[test]
fn oom_kill_under_a_shell_wrapper_is_isolates_meta() {
    let _t = timing_lock();
    let b = TestBox::new(24);
    let probe = b.install_probe("probe");
    let script = format!("{probe} mem 300; exit $?");
    let r = b.run(
        &["--cg", "--cg-mem=65536", "-p10", "-w", "20"],
        &["/bin/sh", "-c", &script],
    );
    assert_eq!(r.code, 1, "{r}");
    assert_eq!(r.json()["verdict"], "MLE", "{r}");
    let m = r.meta();
    assert_eq!(m.req("status"), "RE", "{r}");
    assert_eq!(m.req("exitcode"), "137", "{r}");
    assert_eq!(m.req("message"), "Exited with error status 137", "{r}");
    assert_eq!(m.req("cg-oom-killed"), "1", "{r}");
    assert!(m.get("exitsig").is_none(), "{r}");
    assert!(m.req("cg-mem").parse::<u64>().is_ok(), "{r}");
}

/// A cgroupfs mounted read-only (as a container runtime mounts it, without a
/// delegated subtree): a `--cg` run is refused in one line that names the file
/// system and the fix, before the box is lent or any group is made; a run
/// without `--cg` still works.
#[test]
fn a_read_only_cgroupfs_is_refused_with_the_fix() {
    let b = TestBox::new(34);
    let mounts = cgroup_mounts();
    let points: Vec<&Path> = mounts.iter().map(PathBuf::as_path).collect();
    let read_only = |c: &mut Command| common::read_only_mounts(c, &points, false);
    let r = b.run_cmd(&["--cg"], &["/bin/true"], read_only);
    assert_eq!(r.code, 2, "{r}");
    assert_eq!(r.stderr.lines().count(), 1, "{r}");
    assert!(
        r.stderr.starts_with("rustbox: cgroup.")
            && r.stderr.contains("EROFS")
            && r.stderr.contains("fix: cgroupfs is mounted read-only here")
            && r.stderr.contains("or run without --cg"),
        "{r}"
    );
    for g in box_groups(34) {
        assert!(
            !g.exists(),
            "{} made on a read-only cgroupfs\n{r}",
            g.display()
        );
    }
    let r = b.run_cmd(&[], &["/bin/true"], read_only);
    assert_eq!(r.code, 0, "{r}");
    b.cleanup().expect("cleanup");
}

/// `--exec --cg` (issue 14): the one-shot run gets the box's group like a
/// `--run --cg` (its memory counted, an OOM kill seen) and leaves no group,
/// lock or box behind.
#[test]
fn exec_with_cg_measures_and_leaves_no_group() {
    let env = harness::env();
    let config = env.base.join("config-exec-cg");
    let conf =
        std::fs::read_to_string(&env.config).expect("the suite's config") + "exec_boxes = 35-35\n";
    std::fs::write(&config, conf).expect("write the exec config");
    let meta = env.out.join("exec-cg.meta");
    let json = env.out.join("exec-cg.json");
    let exec = |args: &[&str]| {
        Command::new(common::rustbox_bin())
            .arg(format!("--config={}", config.display()))
            .arg("--exec")
            .arg("--cg")
            .arg(format!("-M{}", meta.display()))
            .arg(format!("--json={}", json.display()))
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run rustbox --exec")
    };
    let o = exec(&["--cg-mem=65536", "-p4", "--", "/bin/true"]);
    assert_eq!(o.status.code(), Some(0), "{}", harness::text(&o.stderr));
    let m = std::fs::read_to_string(&meta).unwrap();
    assert!(m.lines().any(|l| l.starts_with("cg-mem:")), "{m}");
    let j = harness::read_json(&json);
    assert_eq!(j["box_id"], 35, "{j}");
    assert_eq!(j["cgroup"]["version"], version(), "{j}");
    assert_groups_gone(35);
    // A program over --cg-mem: the OOM kill is the group's, the verdict MLE.
    let o = exec(&[
        "--cg-mem=32768",
        "-p4",
        "--",
        "/bin/sh",
        "-c",
        "head -c 200000000 /dev/zero | tail -c 150000000 >/dev/null",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", harness::text(&o.stderr));
    let m = std::fs::read_to_string(&meta).unwrap();
    assert!(m.contains("cg-oom-killed:1"), "{m}");
    let j = harness::read_json(&json);
    assert_eq!(j["verdict"], "MLE", "{j}");
    assert_groups_gone(35);
    let lock = env.lock_root.join("35");
    assert!(!lock.exists(), "{} is left", lock.display());
    assert!(!env.box_root.join("35").exists(), "box 35 is left");
}
