//! rustbox: an isolate-compatible sandbox for running untrusted programs.
//!
//! The contracts (command line, box layout, JSON evidence, verdicts) are in
//! `docs/` (`isolate-compat.md`, `verdict.schema.json`, `cgroups.md`, `seccomp.md`),
//! the threats and their defenses in `HARDENING.md`.

pub mod boxdir;
pub mod caller;
pub mod cgroup;
pub mod chain;
pub mod check;
pub mod oneshot;
pub mod plan;
pub mod request;
pub mod run;
pub mod supervisor;
pub mod sys;
pub mod verdict;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The isolate release whose command line and meta file rustbox follows.
pub const ISOLATE_LEVEL: &str = "2.6";
