//! rustbox: an isolate-compatible sandbox for running untrusted programs.
//!
//! The contracts (command line, box layout, JSON evidence, verdicts) are in
//! `docs/` (`isolate-compat.md`, `verdict.schema.json`, `cgroups.md`, `seccomp.md`),
//! the threats and their defenses in `HARDENING.md`.

pub mod boxes;
pub mod boxfs;
pub mod caller;
pub mod cgroup;
pub mod chain;
pub mod cli;
pub mod config;
pub mod cpuclock;
pub mod dirents;
pub mod error;
pub mod evidence;
pub mod fsid;
pub mod fsutil;
pub mod hostpath;
pub mod interrupt;
pub mod ipcns;
pub mod outfile;
pub mod pidfd;
pub mod pidns;
pub mod plan;
pub mod procfs;
pub mod progress;
pub mod run;
pub mod selfguard;
pub mod spec;
pub mod supervisor;
pub mod timens;
pub mod tty;
pub mod verdict;
pub mod walk;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The isolate release whose command line and meta file rustbox follows.
pub const ISOLATE_LEVEL: &str = "2.6";
