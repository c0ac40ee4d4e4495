//! What the caller asked for: the command line (`cli`), the request it becomes
//! (`spec`), the rules it must meet (`validate`), the configuration file (`config`)
//! and the progress messages of `-v`.

pub mod cli;
pub mod config;
pub mod docs;
pub mod progress;
pub mod spec;
pub mod validate;
