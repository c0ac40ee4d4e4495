//! Setuid operation from a test: a setuid-root copy of the binary, throw-away
//! users (removed at exit), and private mount namespaces, each held open by a
//! sleeping process, in which `/etc/rustbox/config` is the suite's (a setuid
//! rustbox reads no other). Used by the setuid and fault suites.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use super::{run_ok, text};

/// An account made by a suite.
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

impl User {
    /// The arguments of `setpriv` that run what follows them as this user.
    pub fn setpriv_args(&self) -> [String; 4] {
        [
            format!("--reuid={}", self.name),
            format!("--regid={}", self.name),
            "--init-groups".into(),
            "--".into(),
        ]
    }
}

/// What `undo_host_changes` undoes at exit: users, holder processes, /etc/rustbox.
static MADE_USERS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static HOLDERS: Mutex<Vec<std::process::Child>> = Mutex::new(Vec::new());
static MADE_ETC: AtomicBool = AtomicBool::new(false);
static PREPARED: Once = Once::new();

extern "C" fn undo_host_changes() {
    if let Ok(mut holders) = HOLDERS.lock() {
        for h in holders.iter_mut() {
            let _ = h.kill();
            let _ = h.wait();
        }
    }
    let users = MADE_USERS.lock().map(|v| v.clone()).unwrap_or_default();
    for u in users {
        let _ = Command::new("userdel").arg(u).output();
    }
    if MADE_ETC.load(Ordering::SeqCst) {
        // The namespaces die with their holders; their mounts on it go with them.
        std::thread::sleep(Duration::from_millis(100));
        let _ = std::fs::remove_dir("/etc/rustbox");
    }
}

/// Registers the undoing at exit and makes sure `/etc/rustbox` exists (a mount
/// point for the holders' config tmpfs; removed at exit if made here).
pub fn prepare_host() {
    PREPARED.call_once(|| {
        // SAFETY: registering a plain extern "C" function with atexit.
        unsafe { libc::atexit(undo_host_changes) };
        if !Path::new("/etc/rustbox").exists() {
            std::fs::create_dir("/etc/rustbox").expect("mkdir /etc/rustbox");
            super::chmod(Path::new("/etc/rustbox"), 0o755);
            MADE_ETC.store(true, Ordering::SeqCst);
        }
    });
}

/// Panics unless `base` allows setuid programs; then a setuid-root copy of the
/// binary under test in `<base>/bin/rustbox`.
pub fn setuid_copy(base: &Path) -> PathBuf {
    // SAFETY: statvfs on a valid path into a zeroed struct.
    let nosuid = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        let p = std::ffi::CString::new(base.as_os_str().as_encoded_bytes()).unwrap();
        libc::statvfs(p.as_ptr(), &mut st) == 0 && st.f_flag & libc::ST_NOSUID != 0
    };
    assert!(
        !nosuid,
        "{} is on a nosuid mount: a setuid copy of rustbox cannot work there",
        base.display()
    );
    let bin_dir = base.join("bin");
    super::mkdir_755(&bin_dir);
    let bin = bin_dir.join("rustbox");
    std::fs::copy(super::rustbox_bin(), &bin).expect("copy rustbox");
    super::chmod(&bin, 0o4755);
    bin
}

/// A new user `name` (a leftover of an interrupted run goes first), removed at
/// exit, with a 0700 home `<base>/home/<name>`.
pub fn add_user(name: &str, base: &Path) -> User {
    prepare_host();
    let _ = Command::new("userdel").arg(name).output();
    run_ok(
        Command::new("useradd").args(["-M", "-U", "-s", "/usr/sbin/nologin", name]),
        &format!("useradd {name} (package passwd)"),
    );
    MADE_USERS.lock().unwrap().push(name.to_string());
    let id = |flag: &str| -> u32 {
        let o = run_ok(Command::new("id").args([flag, name]), "id");
        text(&o.stdout).trim().parse().expect("numeric id")
    };
    let (uid, gid) = (id("-u"), id("-g"));
    let home = base.join("home").join(name);
    std::fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(uid), Some(gid)).unwrap();
    super::chmod(&home, 0o700);
    User {
        name: name.to_string(),
        uid,
        gid,
        home,
    }
}

/// A process in a new private mount namespace where `/etc/rustbox/config` is
/// `config`; it lives until the test process exits.
pub fn holder(config: &str) -> u32 {
    prepare_host();
    let child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sleep", "100000"])
        .stdin(Stdio::null())
        .spawn()
        .expect("run unshare (util-linux)");
    let pid = child.id();
    HOLDERS.lock().unwrap().push(child);
    // Wait until the child is in its own namespace (unshare has exec'd sleep).
    let own = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let ready = super::wait_for(Duration::from_secs(5), || {
        std::fs::read_link(format!("/proc/{pid}/ns/mnt")).is_ok_and(|n| n != own)
            && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "sleep")
    });
    assert!(ready, "unshare did not start a mount namespace");
    run_ok(
        Command::new("nsenter")
            .arg(format!("--mount=/proc/{pid}/ns/mnt"))
            .args([
                "mount",
                "-t",
                "tmpfs",
                "-o",
                "mode=0755,size=64k",
                "rustbox-suid",
                "/etc/rustbox",
            ]),
        "mount the config tmpfs",
    );
    let file = format!("/proc/{pid}/root/etc/rustbox/config");
    std::fs::write(&file, config).unwrap();
    super::chmod(Path::new(&file), 0o644);
    pid
}
