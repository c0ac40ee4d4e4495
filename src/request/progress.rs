//! isolate's `-v`: progress messages on stderr, more with `-vv`. Nothing else is
//! changed by it; without it rustbox prints only its one status or error line.

use std::sync::atomic::{AtomicU32, Ordering};

static LEVEL: AtomicU32 = AtomicU32::new(0);

/// How many `-v` were given.
pub fn set_level(n: u32) {
    LEVEL.store(n, Ordering::Relaxed);
}

/// Whether messages of `level` (1: `-v`, 2: `-vv`) are shown.
pub fn shown(level: u32) -> bool {
    LEVEL.load(Ordering::Relaxed) >= level
}

/// A progress message of `level`. Like every message, dropped if stderr is gone.
pub fn say(level: u32, msg: std::fmt::Arguments) {
    if shown(level) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "{msg}");
    }
}
