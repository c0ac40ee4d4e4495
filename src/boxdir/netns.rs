//! The box's network namespace, one per box for the box's life, as `/box` and
//! `/tmp` are: made by `--init`, held by a bind mount of its nsfs file on
//! `<lock_root>/N.net`, entered by each `--run` for the clone of the box's pid 1,
//! removed by `--cleanup`. A new network namespace costs about a millisecond to
//! make (every pernet init of the kernel, sysctl tables included) and as much
//! again to tear down in a kernel worker; a box that runs a hundred test cases
//! pays it once.
//!
//! What one run could leave in it for the next: nothing that a process holds (a
//! run ends with every process of its pid namespace dead, so every socket it had
//! is closed); the box has no capability in it, so no address, route, filter or
//! sysctl changes. What the kernel keeps after a close is checked before every
//! run (`leftovers`): sockets still counted (a unix socket kept alive by its own
//! descriptor in flight, say), TCP TIME_WAIT entries, IP fragment queues, IPv6
//! flow labels. If anything is there the namespace is replaced by a fresh one
//! before the box starts, and the evidence says so. TCP's per-destination
//! metrics cache, which a connection's TCP_INFO would reveal to the next run, is
//! switched off in the namespace (`tcp_no_metrics_save = 1`, checked as well).
//!
//! The file lives in the lock root (root's, 0700): nobody else can open it, and
//! entering it needs CAP_SYS_ADMIN anyway.

use crate::sys::error::StepError;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The holder of box `lock_file`'s network namespace: `<lock_root>/N.net`.
pub fn holder(lock_file: &Path) -> PathBuf {
    let mut p = lock_file.as_os_str().to_owned();
    p.push(".net");
    PathBuf::from(p)
}

/// The text of the holder's namespace's counters as it was made: `N.net.counters`.
fn record(file: &Path) -> PathBuf {
    let mut p = file.as_os_str().to_owned();
    p.push(".counters");
    PathBuf::from(p)
}

/// The counters a run can read and move without any capability (in
/// `/proc/thread-self/net`); the one a kernel without IPv6 lacks is optional.
const COUNTERS: [(&str, bool); 4] = [
    ("dev", true),
    ("snmp", true),
    ("netstat", true),
    ("snmp6", false),
];

/// Set once going back to the supervisor's own network namespace has failed:
/// nothing that uses the network (the clock keeper's socket) may then be done.
static STRANDED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the process is still in the network namespace it started in.
pub fn at_home() -> bool {
    !STRANDED.load(std::sync::atomic::Ordering::SeqCst)
}

/// The sysctl that stops TCP from caching per-destination metrics across
/// connections (and so across runs), with the value it must have.
const NO_METRICS_SAVE: (&str, &str) = ("/proc/sys/net/ipv4/tcp_no_metrics_save", "1");

/// `--init`: a fresh network namespace with `lo` up, held at `file` (an earlier
/// one there is released first). The caller's own namespace is left unchanged.
pub fn make(file: &Path) -> Result<(), StepError> {
    let step = "init.netns";
    release(file)?;
    let home = current(step)?;
    let done = match fresh(step).and_then(|seen| bind(file, &seen, step)) {
        Ok(()) => enter_fd(&home, step, "the caller's own").inspect_err(|_| strand()),
        Err(e) => Err(back_home(&home, step, e)),
    };
    let Err(e) = done else {
        return Ok(());
    };
    // Nothing half-made stays: no mount, no file.
    Err(match release(file) {
        Ok(()) => e,
        Err(u) => StepError {
            detail: format!("{}; undoing it failed too: {u}", e.detail),
            ..e
        },
    })
}

/// `--cleanup` (and `--init` before it makes one): unmount and remove the holder
/// and its record. Absent is fine.
pub fn release(file: &Path) -> Result<(), StepError> {
    let step = "cleanup.netns";
    // The same unmount as the box's tmpfs: MNT_DETACH, no link followed, every
    // stacked mount; a holder whose bind was never made is no mount point.
    crate::boxdir::tmpfs::unmount(file)?;
    remove_if_any(file, step)?;
    remove_if_any(&record(file), step)
}

fn remove_if_any(file: &Path, step: &str) -> Result<(), StepError> {
    match std::fs::remove_file(file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StepError::io(step, file.display().to_string(), &e)),
    }
}

/// The supervisor inside the box's network namespace, for the clone of the box's
/// pid 1 (which is born in it); `leave` goes back home.
pub struct Entered {
    home: OwnedFd,
    /// The namespace's inode, which the box's pid 1 must show.
    pub inode: u64,
    /// What an earlier run had left, when the namespace was replaced because of it.
    pub replaced: Option<String>,
}

/// `--run`: enter the box's network namespace held at `file`, checked empty of
/// anything an earlier run left, or replaced by a fresh one if it is not. None if
/// the box has none (made by a rustbox before this one): the box then gets a new
/// one of its own for this run.
pub fn enter(file: &Path) -> Result<Option<Entered>, StepError> {
    let step = "namespaces.net";
    let held = match crate::sys::fd::open(file, libc::O_RDONLY | libc::O_NOFOLLOW, step) {
        Ok(fd) => fd,
        Err(e) if e.errno == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    let home = current(step)?;
    let found = match enter_fd(&held, step, &file.display().to_string()) {
        Ok(()) => match leftovers(step, &record(file)) {
            Ok(found) => found,
            Err(e) => return Err(back_home(&home, step, e)),
        },
        // Not a network namespace: a holder whose mount is gone (unmounted by
        // hand, or a lock root that outlived a reboot). setns left us at home.
        Err(e) if e.errno == Some(libc::EINVAL) => Some("no namespace held any more".to_string()),
        Err(e) => return Err(e),
    };
    drop(held);
    let replaced = match found {
        None => None,
        Some(what) => match fresh(step).and_then(|seen| bind(file, &seen, step)) {
            Ok(()) => Some(what),
            Err(e) => return Err(back_home(&home, step, e)),
        },
    };
    if let Some(more) = replaced
        .as_ref()
        .and_then(|_| leftovers(step, &record(file)).transpose())
    {
        let e = more.map_or_else(
            |e| e,
            |w| StepError::new(step, format!("a fresh namespace shows {w}")),
        );
        return Err(back_home(&home, step, e));
    }
    let inode = match inode_of_current(step) {
        Ok(i) => i,
        Err(e) => return Err(back_home(&home, step, e)),
    };
    Ok(Some(Entered {
        home,
        inode,
        replaced,
    }))
}

impl Entered {
    /// Back to the supervisor's own network namespace.
    pub fn leave(self) -> Result<(), StepError> {
        enter_fd(&self.home, "namespaces.net", "the supervisor's own").inspect_err(|_| strand())
    }
}

/// Go home after a failure inside; the first failure is the one returned.
fn back_home(home: &OwnedFd, step: &str, e: StepError) -> StepError {
    match enter_fd(home, step, "the caller's own") {
        Ok(()) => e,
        Err(b) => {
            strand();
            StepError {
                detail: format!("{}; and going back failed: {b}", e.detail),
                ..e
            }
        }
    }
}

/// Going back home failed: the run fails (the caller returns the error) and
/// nothing after it uses the network.
fn strand() {
    STRANDED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// The calling thread's network namespace.
fn current(step: &str) -> Result<OwnedFd, StepError> {
    crate::sys::fd::open(Path::new("/proc/thread-self/ns/net"), libc::O_RDONLY, step)
}

fn inode_of_current(step: &str) -> Result<u64, StepError> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| m.ino())
        .map_err(|e| StepError::io(step, "/proc/thread-self/ns/net", &e))
}

fn enter_fd(fd: &OwnedFd, step: &str, which: &str) -> Result<(), StepError> {
    // SAFETY: setns with a descriptor we own and the type it must have; the
    // process is single-threaded, so no other thread is left elsewhere.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(StepError::last_os(
            step,
            format!("setns into {which} network namespace"),
        ));
    }
    Ok(())
}

/// The calling process into a new network namespace, set up as a box's: `lo`
/// up, no TCP metrics cache. Returns its counters' text, read after the setup.
fn fresh(step: &str) -> Result<String, StepError> {
    // SAFETY: unshare with a constant flag; single-threaded, so it applies to the
    // whole process (only its sockets made from now on are in the new one).
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(StepError::last_os(step, "unshare(CLONE_NEWNET)"));
    }
    crate::chain::loopback::bring_up()?;
    let (path, value) = NO_METRICS_SAVE;
    std::fs::write(path, value).map_err(|e| StepError::io(step, path, &e))?;
    counters(&NetDir::open(step)?)
}

/// The text of the current namespace's counters, file by file.
fn counters(net: &NetDir) -> Result<String, StepError> {
    let mut all = String::new();
    for (name, needed) in COUNTERS {
        let text = if needed {
            net.read(name)?
        } else {
            net.read_if_any(name)?.unwrap_or_default()
        };
        all.push_str(&format!("== {name}\n"));
        all.push_str(&text);
    }
    Ok(all)
}

/// Bind the calling process's network namespace on `file` (created, root's,
/// 0600), and keep its counters' text `seen` beside it. Nothing is left of either
/// if a step fails.
fn bind(file: &Path, seen: &str, step: &str) -> Result<(), StepError> {
    release(file)?;
    let made = create(file, step).and_then(|fd| {
        let target = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        // SAFETY: mount(2) with NUL-terminated strings that outlive the call; a
        // bind of our own namespace file on the file we just created, through
        // its descriptor, so it lands on exactly that file.
        let r = unsafe {
            libc::mount(
                c"/proc/thread-self/ns/net".as_ptr(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            )
        };
        if r != 0 {
            return Err(StepError::last_os(
                step,
                format!("bind the network namespace on {}", file.display()),
            ));
        }
        let rec = record(file);
        let mut out = create(&rec, step)?;
        std::io::Write::write_all(&mut out, seen.as_bytes())
            .map_err(|e| StepError::io(step, rec.display().to_string(), &e))
    });
    let Err(e) = made else {
        return Ok(());
    };
    Err(match release(file) {
        Ok(()) => e,
        Err(u) => StepError {
            detail: format!("{}; undoing it failed too: {u}", e.detail),
            ..e
        },
    })
}

/// A new file of root's, 0600, where none is (the lock root is root's, 0700).
fn create(file: &Path, step: &str) -> Result<std::fs::File, StepError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(file)
        .map_err(|e| StepError::io(step, file.display().to_string(), &e))
}

/// What an earlier run left in the current network namespace, in words; None if
/// nothing. `record`: the file of its counters' text as it was made.
fn leftovers(step: &str, record: &Path) -> Result<Option<String>, StepError> {
    let net = NetDir::open(step)?;
    let mut found = Vec::new();
    // Every socket of the namespace, of any family, is counted in `sockets:
    // used`; only when there are any is the slower per-protocol table read, to
    // name them.
    let sockstat = net.read("sockstat")?;
    if let Some(n) = counted(&sockstat, "sockets:", "used", "sockets in use") {
        let named = open_sockets(&net.read("protocols")?);
        found.extend(if named.is_empty() { vec![n] } else { named });
    }
    found.extend(counted(&sockstat, "TCP:", "tw", "TCP TIME_WAIT"));
    found.extend(counted(&sockstat, "FRAG:", "inuse", "IPv4 fragment queues"));
    // IPv6 fragment queues come only with IPv6 packets, which move the counters
    // below; flow labels need no packet and outlive their socket.
    if let Some(labels) = net.read_if_any("ip6_flowlabel")? {
        let n = labels
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count();
        if n > 0 {
            found.push(format!("{n} IPv6 flow labels"));
        }
    }
    let (path, value) = NO_METRICS_SAVE;
    if read(path, step)?.trim() != value {
        found.push("TCP metrics saved".to_string());
    }
    let now = counters(&net)?;
    match crate::sys::fd::read_text(record) {
        Ok(then) => found.extend(moved(&then, &now)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            found.push("no record of its counters".to_string())
        }
        Err(e) => return Err(StepError::io(step, record.display().to_string(), &e)),
    }
    Ok((!found.is_empty()).then(|| found.join(", ")))
}

/// `/proc/thread-self/net`, opened once: each file is then one lookup, not a
/// walk of `/proc/<pid>/task/<tid>` (new dentries for every run's new pid).
struct NetDir {
    fd: OwnedFd,
    step: String,
}

impl NetDir {
    const PATH: &'static str = "/proc/thread-self/net";

    fn open(step: &str) -> Result<NetDir, StepError> {
        let fd = crate::sys::fd::open(
            Path::new(Self::PATH),
            libc::O_RDONLY | libc::O_DIRECTORY,
            step,
        )?;
        Ok(NetDir {
            fd,
            step: step.to_string(),
        })
    }

    fn read(&self, name: &str) -> Result<String, StepError> {
        self.read_if_any(name)?.ok_or_else(|| {
            StepError::new(&self.step, format!("{}/{name}: no such file", Self::PATH))
        })
    }

    /// None for a file this kernel does not have (no IPv6).
    fn read_if_any(&self, name: &str) -> Result<Option<String>, StepError> {
        use std::io::Read;
        let what = || format!("{}/{name}", Self::PATH);
        let c = crate::sys::fd::cstring(name.as_bytes(), &self.step, name)?;
        // SAFETY: openat on a directory descriptor we own, with a NUL-terminated
        // name; the result is checked (and owned) below.
        let rc = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::NotFound {
                return Ok(None);
            }
            return Err(StepError::io(&self.step, what(), &e));
        }
        // SAFETY: a fresh descriptor that nothing else owns.
        let mut f = unsafe { std::fs::File::from_raw_fd(rc) };
        let mut text = String::with_capacity(16 << 10);
        f.read_to_string(&mut text)
            .map_err(|e| StepError::io(&self.step, what(), &e))?;
        Ok(Some(text))
    }
}

/// The counters that differ between two texts of `counters`, named by the label
/// their line starts with: "counters moved (lo:, Ip:, Udp:)". None if the same.
fn moved(then: &str, now: &str) -> Option<String> {
    if then == now {
        return None;
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (then.lines().collect(), now.lines().collect());
    let mut labels: Vec<&str> = Vec::new();
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied(), b.get(i).copied());
        if x == y {
            continue;
        }
        let label = y
            .or(x)
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or("?");
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    let shown = labels
        .iter()
        .take(6)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    let more = if labels.len() > 6 { ", ..." } else { "" };
    Some(format!("network counters moved ({shown}{more})"))
}

/// Protocols of `/proc/net/protocols` with sockets in use: "2 UNIX sockets". A
/// line this code cannot read is a leftover too, not a clean namespace.
fn open_sockets(protocols: &str) -> Vec<String> {
    protocols
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            let name = cols.next().unwrap_or("?");
            match cols.nth(1).map(str::parse::<u64>) {
                Some(Ok(0)) => None,
                Some(Ok(n)) => Some(format!("{n} {name} sockets")),
                _ => Some(format!("an unreadable line of protocols ({})", l.trim())),
            }
        })
        .collect()
}

/// The counter `key` on the line starting with `label` of a sockstat file, when
/// it is not 0: "3 TCP TIME_WAIT".
fn counted(sockstat: &str, label: &str, key: &str, what: &str) -> Option<String> {
    let line = sockstat.lines().find(|l| l.starts_with(label))?;
    let mut cols = line.split_whitespace().skip(1);
    while let (Some(k), Some(v)) = (cols.next(), cols.next()) {
        if k == key {
            return match v.parse::<u64>() {
                Ok(0) => None,
                Ok(n) => Some(format!("{n} {what}")),
                Err(_) => Some(format!("unreadable {what} ({v})")),
            };
        }
    }
    Some(format!("no {what} count"))
}

fn read(path: &str, step: &str) -> Result<String, StepError> {
    crate::sys::fd::read_text(path).map_err(|e| StepError::io(step, path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_sits_beside_the_lock_file() {
        assert_eq!(
            holder(Path::new("/run/rustbox/locks/7")),
            PathBuf::from("/run/rustbox/locks/7.net")
        );
    }

    #[test]
    fn sockets_in_use_are_named_by_protocol() {
        let p = "protocol  size sockets  memory press maxhdr  slab module\n\
                 UNIX-STREAM 1024 0 -1 NI 0 yes kernel\n\
                 UNIX      1024      2      -1   NI       0   yes  kernel\n\
                 TCP       2432      0       1   no     320   yes  kernel\n";
        assert_eq!(open_sockets(p), vec!["2 UNIX sockets".to_string()]);
        // A line this code cannot read is not taken for an empty protocol.
        let odd = "protocol  size sockets\nTCP 2432 many\nUDP\n";
        assert_eq!(open_sockets(odd).len(), 2, "{:?}", open_sockets(odd));
    }

    #[test]
    fn moved_counters_are_named_by_their_line() {
        let then = "== dev\n    lo: 0 0\n== snmp\nIp: 2 64 0\nUdp: 0 0\n";
        assert_eq!(moved(then, then), None);
        let now = "== dev\n    lo: 86 2\n== snmp\nIp: 2 64 2\nUdp: 0 0\nIcmpMsg: 1\n";
        assert_eq!(
            moved(then, now).as_deref(),
            Some("network counters moved (lo:, Ip:, IcmpMsg:)")
        );
    }

    #[test]
    fn time_wait_and_fragments_are_counted() {
        let s = "sockets: used 2\nTCP: inuse 0 orphan 0 tw 3 alloc 1 mem 0\n\
                 FRAG: inuse 0 memory 0\n";
        assert_eq!(
            counted(s, "TCP:", "tw", "TCP TIME_WAIT"),
            Some("3 TCP TIME_WAIT".to_string())
        );
        assert_eq!(counted(s, "FRAG:", "inuse", "IPv4 fragment queues"), None);
        // A format this code does not know is a leftover, not a clean namespace.
        assert_eq!(
            counted("TCP: inuse 0\n", "TCP:", "tw", "TCP TIME_WAIT"),
            Some("no TCP TIME_WAIT count".to_string())
        );
    }
}
