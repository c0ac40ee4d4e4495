//! Small system helpers that any side may use: one kernel interface each.

pub mod alloc;
pub mod dirents;
pub mod dumpable;
pub mod error;
pub mod fd;
pub mod pidfd;
pub mod procclock;
pub mod procfs;
pub mod procmount;
pub mod raw;
pub mod tty;
pub mod vfork;
