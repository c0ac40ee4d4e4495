//! The box directory: its paths (`paths`), its lock (`lock`), `--init` and
//! `--cleanup` (`lifecycle`), its tmpfs (`tmpfs`), lending `/box` for a run
//! (`lend`), the holder of its spare network namespace (`netns`), and the tree
//! walks (`walk`, `trees`).
//!
//! Layout of box N (all created by rustbox, root-owned unless said otherwise):
//! ```text
//! <box_root>/N/   0700/0710  what --init prints (0710 with the owner's group for
//!                            a box of a user other than root); a limited tmpfs (tmpfs.rs:
//!                            --quota or the configured box_quota), unless the
//!                            configuration keeps boxes on the host's disk
//! <box_root>/N/box/    0700  the workspace, /box inside; owned by the caller,
//!                            lent to the box uid for the length of a run
//! <box_root>/N/tmp/    0700  /tmp inside, kept across runs of the box; owned by
//!                            the box uid (on the host's disk: a tmpfs of its own)
//! <box_root>/N/root/   0755  mount point of the box's tmpfs root (only ever
//!                            mounted inside the box's private mount namespace)
//! <lock_root>/N              the lock file: flock()ed while a command works on
//!                            the box, holds who initialised it
//! <lock_root>/N.net          0600  the holder of the box's spare network
//!                            namespace (netns.rs): made empty by --init, the
//!                            spare's nsfs file bind-mounted on it between runs,
//!                            released by --cleanup (N.net.counters beside it:
//!                            a box of a version that kept one per box)
//! <lock_root>/N.net.lock     0600  the spare maker's lock (made by --init)
//! <lock_root>/N.net.tag      link to the mount namespace the spare on the
//!                            holder was made in, removed by the run that takes it
//! ```

pub mod lend;
pub mod lifecycle;
pub mod lock;
pub mod maker;
pub mod netns;
pub mod paths;
pub mod tmpfs;
pub mod trees;
pub mod walk;

pub use lifecycle::{cleanup, init, kill_box_processes};
pub use lock::{peek_state, BoxLock, BoxState};
pub use paths::{check_id, check_private_dir, ensure_private_dir, BoxPaths};
