//! The type-state pre-exec chain.
//!
//! Each stage is a type; each step consumes the stage before and returns the next,
//! so the compiler enforces the order and only [`Sealed`] can `exec`. Stages have
//! private fields: the only way to get one is through the step before it, starting
//! from [`Fresh::enter`]. `trybuild/` holds programs that skip or reorder steps and
//! must not compile.
//!
//! The order is in one place, [`contain`]. It runs in the payload process: the
//! child of the box's pid-1 proxy, inside new mount, pid, ipc, uts, net and cgroup
//! namespaces, still root, with nothing else of the box set up yet.

pub mod capabilities;
pub mod credentials;
pub mod devnode;
pub mod exec;
pub mod fds;
pub mod keyring;
pub mod landlock;
pub mod loopback;
pub mod mounts;
pub mod nnp;
pub mod norec;
pub mod pgrp;
pub mod pivot;
pub mod propagation;
pub mod report;
pub mod rlimits;
pub mod root;
pub mod seccomp;
pub mod stdio;
pub mod uts;

pub use report::Reporter;

use crate::plan::ContainPlan;
use crate::supervisor::messages::Message;
use crate::sys::error::StepError;
use std::ffi::CString;

struct Ctx<'a> {
    plan: &'a ContainPlan,
    rep: &'a Reporter,
    /// Inside paths of the `maybe` binds the root step skipped: no mount, so no
    /// Landlock rule (its rights would land on whatever is at that path).
    skipped: Vec<std::path::PathBuf>,
}

/// In new namespaces, nothing applied yet.
pub struct Fresh<'a>(Ctx<'a>);
/// Mount propagation is private: nothing mounted from here on reaches the host.
pub struct Private<'a>(Ctx<'a>);
/// The box's tmpfs root is `/`, the host's root is detached.
pub struct Rooted<'a>(Ctx<'a>);
/// The UTS namespace has the box's host name.
pub struct Named<'a>(Ctx<'a>);
/// Loopback is up in the box's network namespace (or the host's is shared).
pub struct Networked<'a>(Ctx<'a>);
/// Running as the box uid/gid with no supplementary groups.
pub struct Credentialed<'a>(Ctx<'a>);
/// In a process group of its own; with --tty-hack, the terminal's foreground one.
pub struct Grouped<'a>(Ctx<'a>);
/// Standard streams and working directory are in place.
pub struct Wired<'a>(Ctx<'a>);
/// No descriptor but 0, 1, 2 will survive execve.
pub struct Hygienic<'a>(Ctx<'a>);
/// Every capability set is empty, securebits locked.
pub struct Unprivileged<'a>(Ctx<'a>);
/// no_new_privs is set.
pub struct Locked<'a>(Ctx<'a>);
/// The Landlock domain is in force (or this kernel has none, and the evidence
/// says so).
pub struct Fenced<'a>(Ctx<'a>);
/// Resource limits are set; from here on nothing allocates.
pub struct Limited<'a> {
    ctx: Ctx<'a>,
    seccomp_ok: String,
    exec: exec::Prepared,
}
/// The seccomp filter is installed: only `exec` is left.
pub struct Sealed<'a> {
    ctx: Ctx<'a>,
    exec: exec::Prepared,
}

impl<'a> Fresh<'a> {
    /// Start the chain. Call only in the payload process, inside the box's namespaces.
    pub fn enter(plan: &'a ContainPlan, rep: &'a Reporter) -> Fresh<'a> {
        Fresh(Ctx {
            plan,
            rep,
            skipped: Vec::new(),
        })
    }

    /// Step 1: make every mount private (MS_REC|MS_PRIVATE on /).
    pub fn private_mounts(self) -> Result<Private<'a>, StepError> {
        propagation::make_private()?;
        propagation::verify_private()?;
        self.0.rep.ok(
            "mount.private",
            true,
            "MS_REC|MS_PRIVATE on /, no shared mount left",
        );
        Ok(Private(self.0))
    }
}

impl<'a> Private<'a> {
    /// Step 2: tmpfs root, directory rules, /proc, /dev, /tmp; pivot_root; detach.
    pub fn new_root(self) -> Result<Rooted<'a>, StepError> {
        let (root_fd, skipped) = root::build(&self.0.plan.root, self.0.rep)?;
        pivot::pivot(&root_fd)?;
        drop(root_fd);
        let mut ctx = self.0;
        ctx.skipped = skipped;
        // The plan's mounts (its links are none), the root, up to five per
        // /dev (its nodes, when they are bound), and up to 64 that recursive
        // binds bring along.
        let mounts = ctx.plan.root.mounts.iter();
        let planned = mounts
            .filter(|m| !matches!(m.kind, crate::plan::MountKind::Link { .. }))
            .count();
        let most = planned + 1 + root::DEV_NODES.len() + 64;
        match pivot::verify(most) {
            Ok(n) => ctx.rep.ok(
                "root.pivot",
                true,
                format!("pivot_root done, old root detached, {n} mounts visible"),
            ),
            Err(e) if e.errno.is_some() || e.detail.contains("mountinfo") => ctx.rep.ok(
                "root.pivot",
                false,
                "pivot_root done, old root detached (no /proc to verify)",
            ),
            Err(e) => return Err(e),
        }
        Ok(Rooted(ctx))
    }
}

impl<'a> Rooted<'a> {
    /// Step 3: a host name that says nothing about the host.
    pub fn hostname(self) -> Result<Named<'a>, StepError> {
        uts::set_hostname()?;
        self.0.rep.ok("uts.hostname", true, uts::BOX_HOSTNAME);
        Ok(Named(self.0))
    }
}

impl<'a> Named<'a> {
    /// Step 4: loopback up in the new network namespace.
    pub fn network(self) -> Result<Networked<'a>, StepError> {
        if self.0.plan.share_net {
            self.0.rep.ok(
                "net.loopback",
                false,
                "skipped: --share-net keeps the host network",
            );
        } else {
            loopback::bring_up()?;
            self.0.rep.ok(
                "net.loopback",
                true,
                "lo up; no other interface in the namespace",
            );
        }
        Ok(Networked(self.0))
    }
}

impl<'a> Networked<'a> {
    /// Step 5: setgroups([]), setresgid, setresuid; all six ids verified; then a
    /// fresh session keyring and empty user keyrings.
    pub fn credentials(self) -> Result<Credentialed<'a>, StepError> {
        let p = self.0.plan;
        credentials::drop_to(p.uid, p.gid)?;
        self.0.rep.ok(
            "credentials",
            true,
            format!(
                "uid {0}/{0}/{0} gid {1}/{1}/{1}, no supplementary groups",
                p.uid, p.gid
            ),
        );
        // As the box user: the keyrings it starts with are its own and empty.
        let keys = keyring::fresh()?;
        self.0.rep.ok("keyring", true, keys);
        Ok(Credentialed(self.0))
    }
}

impl<'a> Credentialed<'a> {
    /// Step 6: a process group of its own (isolate's setpgrp): a background job
    /// of the caller's terminal. With --tty-hack and the caller's terminal on
    /// stdout, that group becomes the terminal's foreground group. As the box
    /// user, and before the streams are redirected: the terminal is the caller's
    /// stdout, as in isolate.
    pub fn process_group(self) -> Result<Grouped<'a>, StepError> {
        let pg = pgrp::own_group()?;
        self.0.rep.ok(
            "pgrp",
            true,
            format!(
                "setpgid(0, 0): a process group of its own, getpgrp() = getpid() = {pg} read back"
            ),
        );
        if self.0.plan.take_terminal {
            crate::sys::tty::take_foreground(libc::STDOUT_FILENO)?;
            self.0.rep.ok(
                "tty.foreground",
                true,
                format!(
                    "--tty-hack: the program's process group ({pg} in the box) is the foreground \
                     group of the caller's terminal on stdout: tcsetpgrp with SIGTTOU ignored, \
                     tcgetpgrp = {pg} read back; SIGTTOU back at its default action"
                ),
            );
        }
        Ok(Grouped(self.0))
    }
}

impl<'a> Grouped<'a> {
    /// Step 7: stdin/stdout/stderr opened as the box user, then chdir.
    pub fn stdio(self) -> Result<Wired<'a>, StepError> {
        let s = &self.0.plan.stdio;
        stdio::apply(s)?;
        let named = |f: &Option<CString>| f.as_ref().map(|f| f.to_string_lossy().into_owned());
        let err = if s.stderr_to_stdout {
            Some("stdout".to_string())
        } else {
            named(&s.stderr)
        };
        let streams: Vec<String> = [
            ("stdin", named(&s.stdin)),
            ("stdout", named(&s.stdout)),
            ("stderr", err),
        ]
        .into_iter()
        .map(|(n, f)| format!("{n} {}", f.unwrap_or_else(|| "inherited".into())))
        .collect();
        self.0.rep.ok(
            "io",
            true,
            format!(
                "{}; each redirection read back (device, inode); cwd {} read back",
                streams.join(", "),
                s.chdir.to_string_lossy()
            ),
        );
        Ok(Wired(self.0))
    }
}

impl<'a> Wired<'a> {
    /// Step 8: every descriptor but 0/1/2 close-on-exec (unless --inherit-fds).
    pub fn hygiene(self) -> Result<Hygienic<'a>, StepError> {
        let rep = self.0.rep;
        rep.ok(
            "env",
            true,
            format!("{} variables, built from scratch", self.0.plan.env.len()),
        );
        if self.0.plan.inherit_fds {
            rep.ok("fds.close_range", false, "skipped: --inherit-fds");
        } else {
            fds::cloexec_all_above_stderr()?;
            let n = fds::verify()?;
            rep.ok(
                "fds.close_range",
                true,
                format!("{n} descriptors above 2, all close-on-exec"),
            );
        }
        Ok(Hygienic(self.0))
    }
}

impl<'a> Hygienic<'a> {
    /// Step 9: bounding, ambient, inheritable, permitted, effective sets emptied.
    pub fn drop_capabilities(self) -> Result<Unprivileged<'a>, StepError> {
        let last = self.0.plan.last_cap;
        capabilities::clear_all(last)?;
        let how = capabilities::verify(last, own_proc(&self.0.plan.root))?;
        self.0.rep.ok(
            "capabilities",
            true,
            format!("bounding, ambient, inheritable, permitted, effective empty (caps 0..={last}, {how}); securebits locked"),
        );
        Ok(Unprivileged(self.0))
    }
}

impl<'a> Unprivileged<'a> {
    /// Step 10: PR_SET_NO_NEW_PRIVS, read back.
    pub fn no_new_privs(self) -> Result<Locked<'a>, StepError> {
        nnp::set()?;
        self.0
            .rep
            .ok("no_new_privs", true, "PR_GET_NO_NEW_PRIVS = 1");
        Ok(Locked(self.0))
    }
}

impl<'a> Locked<'a> {
    /// Step 11: Landlock, beneath the mounts: only what the plan's mounts bind,
    /// with what each allows. After no_new_privs (which it requires of an
    /// unprivileged process) and before the limits (it opens one descriptor
    /// per rule).
    pub fn landlock(self) -> Result<Fenced<'a>, StepError> {
        match &self.0.plan.landlock {
            Ok(planned) => {
                let mut l = planned.clone();
                l.rules.retain(|r| {
                    !self
                        .0
                        .skipped
                        .iter()
                        .any(|p| p.as_os_str().as_encoded_bytes() == r.path.as_bytes())
                });
                let l = &l;
                let n = landlock::restrict(l)?;
                let writable: Vec<String> = l
                    .rules
                    .iter()
                    .filter(|r| r.access & landlock::MAKE_REG != 0)
                    .map(|r| r.path.to_string_lossy().into_owned())
                    .collect();
                self.0.rep.ok(
                    "landlock",
                    true,
                    format!(
                        "ABI {}, {n} rules (one per mount): files made only beneath {}; nothing beneath no rule (listing / refused, read back)",
                        l.abi,
                        writable.join(", ")
                    ),
                );
            }
            Err(why) => self.0.rep.ok(
                "landlock",
                false,
                format!("not applied: {why}; the mounts and seccomp are the layers"),
            ),
        }
        Ok(Fenced(self.0))
    }
}

impl<'a> Fenced<'a> {
    /// Step 12: resource limits. Everything later is prepared first, because a
    /// tight -m or -n could make any later allocation or open fail.
    pub fn rlimits(self) -> Result<Limited<'a>, StepError> {
        let p = self.0.plan;
        let exec = exec::Prepared::new(p);
        let seccomp_ok = Message::ok(
            "seccomp",
            true,
            if p.seccomp.is_empty() {
                format!("mode 0; {}", p.seccomp_desc)
            } else {
                format!(
                    "mode 2 (filter, {} program{}); {}",
                    p.seccomp.len(),
                    if p.seccomp.len() == 1 { "" } else { "s" },
                    p.seccomp_desc
                )
            },
        )
        .encode();
        let line = Message::ok("rlimits", true, rlimits::describe(&p.rlimits)).encode();
        rlimits::apply(&p.rlimits)?;
        // Every record so far goes out here: one that cannot stops the chain.
        self.0.rep.send_encoded(&line)?;
        Ok(Limited {
            ctx: self.0,
            seccomp_ok,
            exec,
        })
    }
}

impl<'a> Limited<'a> {
    /// Step 13: the seccomp filter, last, since it would block steps above.
    pub fn seccomp(self) -> Result<Sealed<'a>, StepError> {
        seccomp::install(&self.ctx.plan.seccomp)?;
        // The supervisor counts the program as run under every control only with
        // this record; without it, nothing is executed.
        self.ctx.rep.send_encoded(&self.seccomp_ok)?;
        Ok(Sealed {
            ctx: self.ctx,
            exec: self.exec,
        })
    }
}

impl Sealed<'_> {
    /// Step 14: execve. Returns only if execve failed, with its errno (or the
    /// failure to report that).
    pub fn exec(self) -> Result<i32, StepError> {
        let errno = self.exec.execve();
        self.ctx
            .rep
            .exec_failed(errno, &self.ctx.plan.program.to_string_lossy())?;
        Ok(errno)
    }
}

/// How the capability sets are read back: from /proc/self/status when /proc is
/// the procfs this chain mounts and nothing else is mounted on, below or above
/// it (a caller's rule could put a file of its choosing there).
fn own_proc(root: &crate::plan::RootPlan) -> capabilities::ReadBack {
    let proc = std::path::Path::new("/proc");
    let mut touching = root
        .mounts
        .iter()
        .filter(|m| m.inside.starts_with(proc) || proc.starts_with(&m.inside));
    match (touching.next(), touching.next()) {
        (Some(m), None)
            if m.inside == proc
                && matches!(&m.kind, crate::plan::MountKind::Fs { fstype, .. } if fstype == "proc") =>
        {
            capabilities::ReadBack::OwnProc
        }
        _ => capabilities::ReadBack::Prctl,
    }
}

/// The whole chain, in order. Returns the errno of a failed execve, or the step
/// that failed before it.
pub fn contain(plan: &ContainPlan, rep: &Reporter) -> Result<i32, StepError> {
    let sealed = Fresh::enter(plan, rep)
        .private_mounts()?
        .new_root()?
        .hostname()?
        .network()?
        .credentials()?
        .process_group()?
        .stdio()?
        .hygiene()?
        .drop_capabilities()?
        .no_new_privs()?
        .landlock()?
        .rlimits()?
        .seccomp()?;
    sealed.exec()
}
