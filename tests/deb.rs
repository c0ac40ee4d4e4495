//! The Debian package (`make deb`, packaging/): installing it gives a setuid
//! binary that works with its example configuration, the man page and the
//! completions; upgrading keeps the boxes, which the new binary runs in;
//! removing it cleans up every box first (processes, mounts, network namespace
//! holders, cgroups, and the cgroup parents), and purging leaves nothing of
//! rustbox on the host. Needs root and dpkg; it uses the package's own roots
//! (/var/local/lib/rustbox, /run/rustbox), so it purges any rustbox package
//! installed before it starts.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT_DIRS: [&str; 4] = [
    "/etc/rustbox",
    "/var/local/lib/rustbox",
    "/run/rustbox/locks",
    "/run/rustbox",
];

fn sh(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn build(version: &str, out: &Path) -> PathBuf {
    let bin = std::env::var("RUSTBOX_BIN")
        .expect("RUSTBOX_BIN: the release binary (make test-deb sets it)");
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let deb = sh(Command::new("bash")
        .arg(top.join("packaging/deb.sh"))
        .args([&bin, version])
        .arg(out));
    PathBuf::from(deb.trim())
}

fn dpkg(args: &[&str]) -> String {
    sh(Command::new("dpkg")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// `dpkg -i deb` where the kernel file `file` reads `fake` (a bind mount in a
/// mount namespace of its own): the host the package's preinst must refuse.
/// `skip`: with RUSTBOX_SKIP_HOST_CHECK=1. The fake goes beside the packages,
/// in the test's own directory.
fn dpkg_i_where(file: &str, fake: &str, deb: &Path, skip: bool) -> std::process::Output {
    let f = deb.with_file_name("fake-kernel-file");
    std::fs::write(&f, fake).expect("write the fake kernel file");
    let mut c = Command::new("unshare");
    if skip {
        c.env("RUSTBOX_SKIP_HOST_CHECK", "1");
    }
    let o = c
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind "$1" "$2" && exec dpkg -i "$3""#)
        .args(["sh", f.to_str().unwrap(), file, deb.to_str().unwrap()])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .expect("run unshare (util-linux) and dpkg");
    let _ = std::fs::remove_file(&f);
    o
}

/// A host without what rustbox needs (issue 14): the preinst refuses it in one
/// line naming the cause, and dpkg leaves nothing of the package (on an
/// upgrade: the version before, as it was).
fn assert_refused_by_preinst(deb: &Path, installed: Option<&str>) {
    for (file, fake, cause) in [
        (
            "/proc/sys/kernel/osrelease",
            "5.10.0-old\n",
            "it needs Linux 5.12 or later",
        ),
        (
            "/proc/sys/kernel/seccomp/actions_avail",
            "errno allow\n",
            "no kill_process action",
        ),
    ] {
        let o = dpkg_i_where(file, fake, deb, false);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success(),
            "dpkg -i with {file} = {fake:?} succeeded: {err}"
        );
        let ours: Vec<&str> = err.lines().filter(|l| l.starts_with("rustbox: ")).collect();
        assert_eq!(ours.len(), 1, "one line of the preinst's: {err}");
        assert!(
            ours[0].starts_with("rustbox: cannot be installed on this host: ")
                && ours[0].contains(cause),
            "{err}"
        );
        let st = Command::new("dpkg-query")
            .args(["-W", "-f=${db:Status-Status} ${Version}", "rustbox"])
            .output()
            .expect("dpkg-query");
        let st = String::from_utf8_lossy(&st.stdout).into_owned();
        match installed {
            None => {
                // dpkg knows the name it was asked for, with nothing of it installed.
                assert!(
                    st.is_empty() || st.starts_with("not-installed"),
                    "after a refused install: {st}"
                );
                assert!(
                    !Path::new("/usr/bin/rustbox").exists(),
                    "/usr/bin/rustbox after a refused install"
                );
            }
            Some(v) => assert_eq!(st, format!("installed {v}"), "after a refused upgrade"),
        }
    }
}

fn mounted_below(prefix: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| m.starts_with(prefix))
        .collect()
}

fn cgroups_left() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/sys/fs/cgroup").expect("/sys/fs/cgroup") {
        let e = e.expect("read /sys/fs/cgroup");
        let d = e.path().join("rustbox");
        if d.exists() {
            out.push(d);
        }
    }
    if Path::new("/sys/fs/cgroup/rustbox").exists() {
        out.push("/sys/fs/cgroup/rustbox".into());
    }
    out
}

/// Processes whose binary is the package's (a clock keeper, say).
fn packaged_processes() -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc") {
        let e = e.expect("read /proc");
        if let Ok(exe) = std::fs::read_link(e.path().join("exe")) {
            if exe.to_string_lossy().starts_with("/usr/bin/rustbox") {
                out.push(format!(
                    "{}: {}",
                    e.file_name().to_string_lossy(),
                    exe.display()
                ));
            }
        }
    }
    out
}

#[test]
fn the_package_installs_upgrades_removes_and_purges_cleanly() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "the package test needs root");
    // Nothing of an earlier package (a failed run of this test).
    let _ = Command::new("dpkg").args(["-P", "rustbox"]).output();
    let out = std::env::temp_dir().join(format!("rustbox-deb-{}", std::process::id()));
    let v1 = build("0.1.0~test1", &out);
    let v2 = build("0.1.0~test2", &out);
    assert!(
        v1.ends_with("rustbox_0.1.0~test1_amd64.deb"),
        "{}",
        v1.display()
    );

    assert_refused_by_preinst(&v1, None);
    dpkg(&["-i", v1.to_str().unwrap()]);
    let m = std::fs::metadata("/usr/bin/rustbox").expect("/usr/bin/rustbox");
    assert_eq!(
        (m.mode() & 0o7777, m.uid(), m.gid()),
        (0o4755, 0, 0),
        "setuid root"
    );
    let conf = sh(Command::new("/usr/bin/rustbox").arg("--check-config"));
    assert!(
        conf.contains("\"config\": \"/etc/rustbox/config\""),
        "{conf}"
    );
    let man = sh(Command::new("man").args(["-w", "rustbox"]));
    assert_eq!(man.trim(), "/usr/share/man/man1/rustbox.1.gz");
    for f in [
        "/usr/share/bash-completion/completions/rustbox",
        "/usr/share/zsh/vendor-completions/_rustbox",
        "/usr/share/fish/vendor_completions.d/rustbox.fish",
        "/usr/share/doc/rustbox/HARDENING.md",
    ] {
        assert!(Path::new(f).is_file(), "{f}");
    }

    // A box, run in with --cg, as a judge would.
    let rb = |args: &[&str]| sh(Command::new("/usr/bin/rustbox").args(args));
    let boxdir = PathBuf::from(rb(&["--init", "-b", "901"]).trim());
    std::fs::copy("/bin/true", boxdir.join("box/true")).expect("copy true");
    rb(&["--run", "--cg", "-b", "901", "--", "/box/true"]);
    assert!(!cgroups_left().is_empty(), "the --cg run made no groups");

    // Upgrade: refused on a host without what rustbox needs (the first
    // version stays), and then the box is kept, and the new binary runs in it.
    assert_refused_by_preinst(&v2, Some("0.1.0~test1"));
    // RUSTBOX_SKIP_HOST_CHECK=1 (an image built on another kernel): installed,
    // with a warning naming the cause.
    let o = dpkg_i_where("/proc/sys/kernel/osrelease", "5.10.0-old\n", &v2, true);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "the upgrade with RUSTBOX_SKIP_HOST_CHECK=1: {err}"
    );
    assert!(
        err.contains("rustbox: warning: installed although no run could work on this host")
            && err.contains("5.10.0-old"),
        "{err}"
    );
    let st = dpkg(&["-s", "rustbox"]);
    assert!(st.contains("Version: 0.1.0~test2"), "{st}");
    assert!(
        Path::new("/run/rustbox/locks/901").exists(),
        "the upgrade lost the box"
    );
    rb(&["--run", "--cg", "-b", "901", "--", "/box/true"]);

    // A box directory whose lock went with a reboot (/run is a tmpfs): removal
    // takes it over and removes it too.
    let orphan = Path::new("/var/local/lib/rustbox/905");
    std::fs::create_dir_all(orphan.join("box")).unwrap();
    std::fs::write(orphan.join("box/left"), "x").unwrap();

    // Remove: every box cleaned up before the binary goes.
    dpkg(&["-r", "rustbox"]);
    assert!(
        !orphan.exists(),
        "a box without its lock outlives the package"
    );
    assert!(!Path::new("/usr/bin/rustbox").exists());
    assert!(!boxdir.exists(), "the box outlives the package");
    assert_eq!(
        mounted_below("/var/local/lib/rustbox"),
        Vec::<String>::new()
    );
    assert_eq!(mounted_below("/run/rustbox"), Vec::<String>::new());
    assert_eq!(cgroups_left(), Vec::<PathBuf>::new());
    assert_eq!(packaged_processes(), Vec::<String>::new());
    let locks: Vec<_> = std::fs::read_dir("/run/rustbox/locks")
        .map(|d| d.map(|e| e.expect("read locks").file_name()).collect())
        .unwrap_or_default();
    assert!(locks.is_empty(), "{locks:?}");
    assert!(
        Path::new("/etc/rustbox/config").exists(),
        "remove keeps the conffile"
    );

    // Purge: nothing of rustbox is left.
    dpkg(&["-P", "rustbox"]);
    for d in ROOT_DIRS {
        assert!(!Path::new(d).exists(), "{d} outlives the purge");
    }
    let _ = std::fs::remove_dir_all(&out);
}
