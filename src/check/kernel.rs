//! The kernel features rustbox uses, each probed with the real call in a form
//! that does nothing: a call the kernel lacks returns ENOSYS, one a seccomp
//! profile or LSM refuses (a container's) returns EPERM or EACCES, and one it
//! has fails on its deliberately bad argument (EBADF, EFAULT, EINVAL) or, where
//! the call is harmless, succeeds.

use super::{Item, Status};

/// How a probe call came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The kernel has the call (it ran, or refused only its argument).
    Present,
    /// ENOSYS: a kernel without it.
    Missing,
    /// EPERM/EACCES: present or not, something (seccomp, an LSM) refuses it.
    Refused(i32),
}

/// Classify a raw syscall return: `rc` and the errno read right after it.
pub fn classify(rc: i64, errno: i32) -> Probe {
    match (rc, errno) {
        (r, _) if r >= 0 => Probe::Present,
        (_, libc::ENOSYS) => Probe::Missing,
        (_, e @ (libc::EPERM | libc::EACCES)) => Probe::Refused(e),
        _ => Probe::Present,
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The kernel's features, each an item of group "kernel".
pub fn items() -> Vec<Item> {
    let mut out = Vec::new();
    for ns in ["mnt", "pid", "ipc", "uts", "net", "cgroup", "time"] {
        let here = std::path::Path::new("/proc/self/ns").join(ns).exists();
        out.push(match (here, ns) {
            (true, _) => Item::ok("kernel", format!("namespace.{ns}"), "present"),
            (false, "time") => Item::new(
                "kernel",
                "namespace.time",
                Status::Fail,
                "no time namespaces (kernel 5.6+, CONFIG_TIME_NS): each box's monotonic and boot clocks start at 0 in one",
                Some("a kernel 5.6 or later built with CONFIG_TIME_NS=y"),
            ),
            (false, _) => Item::new(
                "kernel",
                format!("namespace.{ns}"),
                Status::Fail,
                format!("no {ns} namespaces in this kernel"),
                Some(format!("a kernel built with the {ns} namespace").as_str()),
            ),
        });
    }
    out.push(required(
        "clone3",
        clone3(),
        "the box's pid 1 is cloned with clone3 (kernel 5.3+; CLONE_INTO_CGROUP on cgroup v2, 5.7+)",
    ));
    out.push(required(
        "open_tree",
        open_tree(),
        "binds are made with open_tree/move_mount (kernel 5.2+)",
    ));
    out.push(required(
        "mount_setattr",
        mount_setattr(),
        "read-only, nosuid, nodev and noexec are set on each bind with mount_setattr (kernel 5.12+)",
    ));
    out.push(required(
        "openat2",
        openat2(),
        "paths the caller names are resolved with openat2's RESOLVE_ flags (kernel 5.6+)",
    ));
    out.push(required(
        "close_range",
        close_range(),
        "every descriptor but 0, 1, 2 is closed with one close_range (kernel 5.9+)",
    ));
    out.push(required(
        "pidfd_open",
        pidfd_open(),
        "processes are signalled through pidfds, never a pid that may be reused (kernel 5.3+)",
    ));
    out.push(required(
        "clone3.into_cgroup",
        clone3_into_cgroup(),
        "on cgroup v2 the box's pid 1 is born in its group (CLONE_INTO_CGROUP, kernel 5.7+)",
    ));
    out.extend(chain_calls(has_sys_admin()));
    out.push(pidfd_info());
    out.push(seccomp());
    out.push(landlock());
    out
}

/// A feature a run cannot do without.
fn required(name: &str, p: Probe, why: &str) -> Item {
    match p {
        Probe::Present => Item::ok("kernel", name, why),
        Probe::Missing => Item::new(
            "kernel",
            name,
            Status::Fail,
            format!("the kernel lacks {name}: {why}"),
            Some("a newer kernel (6.1 or later is what rustbox is tested on)"),
        ),
        Probe::Refused(e) => Item::new(
            "kernel",
            name,
            Status::Fail,
            format!(
                "{name} is refused here ({}): {why}",
                std::io::Error::from_raw_os_error(e)
            ),
            Some("allow it in the container's seccomp profile (docker/podman: --security-opt seccomp=<a profile that allows it>) or its LSM policy"),
        ),
    }
}

fn clone3() -> Probe {
    // SAFETY: clone3 with a null argument block of size 0: the kernel checks the
    // size first and returns EINVAL; nothing is cloned.
    let rc = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) };
    classify(rc, errno())
}

/// clone3 with CLONE_INTO_CGROUP and a descriptor that cannot be open
/// (i32::MAX: above the largest nr_open): a kernel that knows the flag fails
/// on the descriptor (EBADF), one that does not on the flag (EINVAL), before
/// any process runs. A plain fork's flags (no CLONE_VM): were a child ever
/// made, it would have its own copy of memory, end at once and be reaped.
fn clone3_into_cgroup() -> Probe {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    // struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2): flags, pidfd,
    // child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
    // set_tid_size, cgroup.
    let mut args = [0u64; 11];
    args[0] = CLONE_INTO_CGROUP;
    args[4] = libc::SIGCHLD as u64;
    args[10] = i32::MAX as u64;
    // SAFETY: clone3 reads `args` (a live local of the size passed); with the
    // descriptor unusable it returns EBADF (or EINVAL) and no process runs.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            args.as_ptr(),
            std::mem::size_of_val(&args),
        )
    };
    let err = errno();
    if rc == 0 {
        // SAFETY: the child of a fork ends here without running anything.
        unsafe { libc::_exit(0) };
    }
    if rc > 0 {
        // SAFETY: waitpid on the child just made; only its status is written.
        unsafe { libc::waitpid(rc as libc::pid_t, std::ptr::null_mut(), 0) };
        return Probe::Present;
    }
    match err {
        libc::EINVAL => Probe::Missing,
        e => classify(rc, e),
    }
}

/// Whether this process holds CAP_SYS_ADMIN: pivot_root, move_mount, fsopen
/// and sethostname check it before their arguments, so without it their EPERM
/// says nothing about a seccomp profile.
fn has_sys_admin() -> bool {
    crate::check::fix::effective_caps().is_some_and(|e| e & (1 << 21) != 0)
}

/// The other calls the supervisor and the chain make, each with an argument
/// that fails before it does anything (a null path: EFAULT; descriptor -1:
/// EBADF; a length over the limit: EINVAL): what a container's seccomp
/// profile refuses shows as EPERM (Docker's default refuses pivot_root).
/// Without CAP_SYS_ADMIN (`admin` false) the calls that check it first are not
/// probed; the capabilities item names what is missing.
/// One probe of `chain_calls`: name, whether the call checks CAP_SYS_ADMIN
/// before its arguments, the probe, and what rustbox uses the call for.
type ChainCall = (&'static str, bool, fn() -> i64, &'static str);

fn chain_calls(admin: bool) -> Vec<Item> {
    const NULL: *const libc::c_char = std::ptr::null();
    // SAFETY (each probe below): every pointer is null or none is passed, every
    // descriptor is -1, and each call fails on that argument (or, without
    // CAP_SYS_ADMIN, on the capability) before it changes anything;
    // unshare(0) asks for nothing and changes nothing.
    let calls: [ChainCall; 9] = [
        (
            "unshare",
            false,
            || unsafe { libc::unshare(0) }.into(),
            "the proxy's time namespace (unshare)",
        ),
        (
            "setns",
            false,
            || unsafe { libc::setns(-1, 0) }.into(),
            "the box's network namespace entered for its clone (setns)",
        ),
        (
            "mount",
            false,
            || unsafe { libc::mount(NULL, NULL, NULL, 0, std::ptr::null()) }.into(),
            "the box's mounts (mount)",
        ),
        (
            "umount2",
            false,
            || unsafe { libc::umount2(NULL, 0) }.into(),
            "the old root detached after pivot_root (umount2)",
        ),
        (
            "pidfd_send_signal",
            false,
            || unsafe { libc::syscall(libc::SYS_pidfd_send_signal, -1, 0, NULL, 0) },
            "the box killed through pidfds (pidfd_send_signal)",
        ),
        (
            "pivot_root",
            true,
            || unsafe { libc::syscall(libc::SYS_pivot_root, NULL, NULL) },
            "the box's root (pivot_root)",
        ),
        (
            "move_mount",
            true,
            || unsafe { libc::syscall(libc::SYS_move_mount, -1, NULL, -1, NULL, 0) },
            "binds attached (move_mount)",
        ),
        (
            "fsopen",
            true,
            || unsafe { libc::syscall(libc::SYS_fsopen, NULL, 0) },
            "pid 1's own procfs, for the box's IPC limits (fsopen)",
        ),
        (
            "sethostname",
            true,
            || unsafe { libc::sethostname(NULL, 65) }.into(),
            "the box's host name (sethostname)",
        ),
    ];
    let mut out: Vec<Item> = calls
        .into_iter()
        .map(|(name, gated, probe, why)| {
            if gated && !admin {
                return Item::new(
                    "kernel",
                    name,
                    Status::Note,
                    format!("not probed: it checks CAP_SYS_ADMIN first, which this process lacks (see capabilities): {why}"),
                    None,
                );
            }
            // The errno is read right after the call (arguments go left to right).
            required(name, classify(probe(), errno()), why)
        })
        .collect();
    // SAFETY: perf_event_open with a null attribute: EFAULT, nothing opened.
    let perf = classify(
        unsafe { libc::syscall(libc::SYS_perf_event_open, NULL, 0, -1, -1, 0) },
        errno(),
    );
    let why = "the box's CPU clock: an exact task clock (perf_event_open)";
    out.push(match perf {
        Probe::Present => Item::ok("kernel", "perf_event_open", why),
        _ => Item::new(
            "kernel",
            "perf_event_open",
            Status::Warn,
            format!("{why} is not available here: the watchdog falls back to tick-based counters, which may overshoot -t by a tick per CPU"),
            Some("allow perf_event_open (the container's seccomp profile; kernel.perf_event_paranoid does not matter to root)"),
        ),
    });
    out
}

fn open_tree() -> Probe {
    // SAFETY: open_tree on descriptor -1 with a null path: EBADF or EFAULT,
    // nothing opened.
    let rc = unsafe { libc::syscall(libc::SYS_open_tree, -1, std::ptr::null::<u8>(), 0) };
    classify(rc, errno())
}

fn mount_setattr() -> Probe {
    // SAFETY: mount_setattr on descriptor -1 with no attributes: EINVAL or
    // EBADF, no mount changed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            -1,
            std::ptr::null::<u8>(),
            0,
            std::ptr::null::<u8>(),
            0usize,
        )
    };
    classify(rc, errno())
}

fn openat2() -> Probe {
    // SAFETY: openat2 with a null how of size 0: EINVAL (the size is checked
    // first), nothing opened.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            -1,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
            0usize,
        )
    };
    classify(rc, errno())
}

fn close_range() -> Probe {
    // SAFETY: closes descriptors from u32::MAX to u32::MAX: none can be open.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, u32::MAX, u32::MAX, 0) };
    classify(rc, errno())
}

fn pidfd_open() -> Probe {
    // SAFETY: pidfd_open of our own pid; the descriptor is closed below.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    let p = classify(rc, errno());
    if rc >= 0 {
        // SAFETY: the descriptor just returned, closed once.
        unsafe { libc::close(rc as libc::c_int) };
    }
    p
}

/// PIDFD_GET_INFO (6.13+): `--init` and `--cleanup` read each host process's
/// uids through it; without it they read every process's status, slower.
fn pidfd_info() -> Item {
    let release = crate::verdict::evidence::kernel_release();
    let fast = matches!(
        crate::sys::pidfd::uids(std::process::id() as i32),
        Ok(crate::sys::pidfd::Uids::Known(_))
    );
    if fast {
        Item::ok(
            "kernel",
            "pidfd_info",
            "PIDFD_GET_INFO: the process scans of --init and --cleanup read uids in one call",
        )
    } else {
        Item::new(
            "kernel",
            "pidfd_info",
            Status::Note,
            format!("no PIDFD_GET_INFO on {release}: --init and --cleanup read each process's status instead (slower, as safe)"),
            Some("a kernel 6.13 or later, for speed only"),
        )
    }
}

/// seccomp filters with SECCOMP_RET_KILL_PROCESS, which the profile uses.
fn seccomp() -> Item {
    // SAFETY: prctl(PR_GET_SECCOMP) only reads this process's mode.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    if mode < 0 {
        let e = errno();
        return Item::new(
            "kernel",
            "seccomp",
            Status::Fail,
            format!(
                "PR_GET_SECCOMP fails: {} (a kernel without CONFIG_SECCOMP_FILTER?)",
                std::io::Error::from_raw_os_error(e)
            ),
            Some("a kernel built with CONFIG_SECCOMP_FILTER=y"),
        );
    }
    let action: u32 = 0x8000_0000; // SECCOMP_RET_KILL_PROCESS
                                   // SAFETY: SECCOMP_GET_ACTION_AVAIL (2) reads the u32 we pass; nothing is
                                   // installed.
    let rc = unsafe { libc::syscall(libc::SYS_seccomp, 2, 0, &action as *const u32) };
    match classify(rc, errno()) {
        Probe::Present if rc == 0 => Item::ok(
            "kernel",
            "seccomp",
            if mode == 2 {
                "filters with SECCOMP_RET_KILL_PROCESS (rustbox itself already runs under a filter: a container's)"
            } else {
                "filters with SECCOMP_RET_KILL_PROCESS"
            },
        ),
        _ => Item::new(
            "kernel",
            "seccomp",
            Status::Fail,
            "seccomp filters or SECCOMP_RET_KILL_PROCESS are not available",
            Some("a kernel 4.14 or later built with CONFIG_SECCOMP_FILTER=y"),
        ),
    }
}

/// Landlock's ABI version, or why there is none: each run's second layer under
/// the mounts (`chain::landlock`); without it runs go ahead, and say so.
fn landlock() -> Item {
    match crate::chain::landlock::abi() {
        Ok(abi) => Item::ok(
            "kernel",
            "landlock",
            format!("ABI {abi}: every run is fenced to what its mounts bind (a second layer under them)"),
        ),
        Err(why) => Item::new(
            "kernel",
            "landlock",
            Status::Note,
            format!("{why}: runs go ahead without the second layer (the mounts, seccomp and no capabilities hold), and their evidence says so"),
            Some("a kernel 5.13 or later with landlock in its lsm= list, for the second layer"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_tells_missing_from_refused_from_present() {
        assert_eq!(classify(3, 0), Probe::Present);
        assert_eq!(classify(-1, libc::EINVAL), Probe::Present);
        assert_eq!(classify(-1, libc::EBADF), Probe::Present);
        assert_eq!(classify(-1, libc::ENOSYS), Probe::Missing);
        assert_eq!(classify(-1, libc::EPERM), Probe::Refused(libc::EPERM));
    }

    /// On the kernel the tests run on (6.1+), every required call is there.
    #[test]
    fn this_kernel_has_every_call_rustbox_needs() {
        for (name, p) in [
            ("clone3", clone3()),
            ("open_tree", open_tree()),
            ("mount_setattr", mount_setattr()),
            ("openat2", openat2()),
            ("close_range", close_range()),
            ("pidfd_open", pidfd_open()),
            ("clone3.into_cgroup", clone3_into_cgroup()),
        ] {
            assert_eq!(p, Probe::Present, "{name}");
        }
        // The tests run as root: every call is probed and there.
        assert!(
            has_sys_admin(),
            "the unit tests run as root (make test-unit)"
        );
        for item in chain_calls(true) {
            assert_eq!(item.status, Status::Ok, "{item:?}");
        }
        // Without CAP_SYS_ADMIN the calls that check it first are not probed.
        let notes: Vec<String> = chain_calls(false)
            .into_iter()
            .filter(|i| i.status == Status::Note)
            .map(|i| i.name)
            .collect();
        assert_eq!(notes, ["pivot_root", "move_mount", "fsopen", "sethostname"]);
    }
}
