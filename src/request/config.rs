//! System configuration: `/etc/rustbox/config`, isolate's `key = value` format and key
//! names, with built-in defaults so that no file is needed.

use crate::sys::error::StepError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG_PATH: &str = "/etc/rustbox/config";

/// Under which name rustbox was started. Installed as `isolate` (`make
/// install-as-isolate`), it reads isolate's config file and uses isolate's box
/// and lock roots, so a judge image made for isolate works by swapping the
/// binary; under its own name it keeps its own paths, and both can live on one
/// host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Rustbox,
    Isolate,
}

impl Flavor {
    /// The flavor for a program name (`argv[0]`).
    pub fn of_name(argv0: &std::ffi::OsStr) -> Flavor {
        match Path::new(argv0).file_name() {
            Some(n) if n == "isolate" => Flavor::Isolate,
            _ => Flavor::Rustbox,
        }
    }

    /// Where the system config file is.
    pub fn config_path(self) -> &'static str {
        match self {
            Flavor::Rustbox => DEFAULT_CONFIG_PATH,
            // isolate's CONFIG: $(PREFIX)/etc/isolate with PREFIX=/usr/local.
            Flavor::Isolate => "/usr/local/etc/isolate",
        }
    }

    /// The built-in defaults.
    pub fn defaults(self) -> Config {
        match self {
            Flavor::Rustbox => Config::default(),
            // isolate's layout too: every box on the box root's file system
            // (Piston renames a compile box's files into the run box), bounded
            // only when --init gets --quota; `host_disk_box = 0` gives each box
            // a tmpfs of `box_quota`.
            Flavor::Isolate => Config {
                box_root: PathBuf::from("/var/local/lib/isolate"),
                lock_root: PathBuf::from("/run/isolate/locks"),
                cg_root: "isolate".into(),
                host_disk_box: true,
                ..Config::default()
            },
        }
    }
}

/// isolate's `cg_root`: a path in the cgroup file system (`/sys/fs/cgroup/...`),
/// or `auto:FILE`, FILE holding that path (written by isolate-cg-keeper). rustbox
/// keeps a path relative to each hierarchy's mount: `/sys/fs/cgroup/` (and a v1
/// controller's directory) is taken off. A FILE that cannot be read (no keeper
/// running: rustbox needs none) leaves the default, `isolate`.
fn isolate_cg_root(v: &str) -> String {
    let path = match v.strip_prefix("auto:") {
        Some(file) => match std::fs::read_to_string(file.trim()) {
            Ok(p) => p.trim().to_string(),
            Err(_) => return "isolate".into(),
        },
        None => v.to_string(),
    };
    let rel = path.strip_prefix("/sys/fs/cgroup/").unwrap_or(&path);
    let rel = rel.strip_prefix("unified/").unwrap_or(rel);
    rel.trim_matches('/').to_string()
}

/// A box's disk unless configured or asked otherwise: 1 GiB in 65,536 files and
/// directories, `/box` and `/tmp` together.
pub const DEFAULT_BOX_QUOTA: (u64, u64) = (1 << 20, 65536);

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where boxes live: `<box_root>/<id>/box`.
    pub box_root: PathBuf,
    /// Where per-box lock files live.
    pub lock_root: PathBuf,
    /// The cgroup subtree rustbox owns, relative to each hierarchy's mount point.
    pub cg_root: String,
    pub first_uid: u32,
    pub first_gid: u32,
    pub num_boxes: u32,
    /// Only root may `--init` a box.
    pub restricted_init: bool,
    /// The box's disk (a tmpfs of the whole box) when `--init` has no `--quota`:
    /// (1 KiB blocks, inodes), `box_quota = BLOCKS,INODES`.
    pub box_quota: (u64, u64),
    /// `host_disk_box = 1`: without `--quota`, keep `/box` on the host's disk,
    /// unbounded, as isolate does, for boxes root makes (a user's box is a tmpfs
    /// within `user_max_quota` all the same: `boxdir::lifecycle::init`).
    pub host_disk_box: bool,
    /// The largest `--quota` a caller other than root may ask for,
    /// `user_max_quota = BLOCKS,INODES`.
    pub user_max_quota: (u64, u64),
    /// `tmp_noexec = 1`: the box's /tmp is not executable (isolate's is).
    pub tmp_noexec: bool,
    /// How many initialised boxes a caller other than root may hold at once,
    /// `user_max_boxes = N`.
    pub user_max_boxes: u32,
    /// Per-box cpuset: `box<N>.cpus = 0-1`.
    pub box_cpus: BTreeMap<u32, String>,
    /// Per-box memory nodes: `box<N>.mems = 0`.
    pub box_mems: BTreeMap<u32, String>,
    /// `clock_keeper_idle = S`: after a run, the clock keeper
    /// (`supervisor::keeper`) stays up until no run has come for S seconds; 0:
    /// no keeper.
    pub clock_keeper_idle: u32,
    /// `net_spare = 0|1` (default 1): after a run, make the box's next network
    /// namespace ahead of it (`boxdir::netns`); 0: each run's clone makes one.
    pub net_spare: bool,
    /// The box ids `--exec` takes a free one of (first, last).
    pub exec_boxes: (u32, u32),
    /// The file this came from, if any.
    pub source: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            box_root: PathBuf::from("/var/local/lib/rustbox"),
            lock_root: PathBuf::from("/run/rustbox/locks"),
            cg_root: "rustbox".into(),
            first_uid: 60000,
            first_gid: 60000,
            // CMS uses box ids up to 65999.
            num_boxes: 66000,
            restricted_init: false,
            box_quota: DEFAULT_BOX_QUOTA,
            host_disk_box: false,
            user_max_quota: DEFAULT_BOX_QUOTA,
            user_max_boxes: 1000,
            tmp_noexec: false,
            box_cpus: BTreeMap::new(),
            box_mems: BTreeMap::new(),
            clock_keeper_idle: 15,
            net_spare: true,
            exec_boxes: (65000, 65999),
            source: None,
        }
    }
}

impl Config {
    /// Load `path` if it exists; the defaults if it does not. The file decides
    /// which uids boxes run as and where root writes, so it must be root's alone:
    /// owned by root and not writable by group or others, in directories that
    /// only root can change (a root-owned sticky directory such as /tmp is fine).
    pub fn load(path: &Path) -> Result<Config, StepError> {
        Config::load_as(path, Flavor::Rustbox)
    }

    /// `load`, with the defaults and key spellings of `flavor`.
    pub fn load_as(path: &Path, flavor: Flavor) -> Result<Config, StepError> {
        use std::io::Read;
        let mut f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(flavor.defaults()),
            Err(e) => return Err(StepError::io("config", path.display().to_string(), &e)),
        };
        trusted(path, &f).map_err(|e| StepError::new("config", e))?;
        let mut text = String::new();
        f.read_to_string(&mut text)
            .map_err(|e| StepError::io("config", path.display().to_string(), &e))?;
        let mut c = Config::parse_as(&text, flavor)
            .map_err(|e| StepError::new("config", format!("{}: {e}", path.display())))?;
        c.source = Some(path.to_path_buf());
        Ok(c)
    }

    /// Parse the text of a config file.
    pub fn parse(text: &str) -> Result<Config, String> {
        Config::parse_as(text, Flavor::Rustbox)
    }

    /// `parse`, with the defaults and key spellings of `flavor`.
    pub fn parse_as(text: &str, flavor: Flavor) -> Result<Config, String> {
        let mut c = flavor.defaults();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| format!("line {}: expected 'key = value'", n + 1))?;
            let (k, v) = (k.trim(), v.trim());
            let num = |v: &str| -> Result<u32, String> {
                v.parse::<u32>()
                    .map_err(|_| format!("line {}: '{v}' is not a whole number", n + 1))
            };
            let abs = |v: &str| -> Result<PathBuf, String> {
                if v.starts_with('/') && !v.split('/').any(|c| c == "..") {
                    Ok(PathBuf::from(v))
                } else {
                    Err(format!("line {}: '{v}' is not an absolute path", n + 1))
                }
            };
            match k {
                "box_root" => c.box_root = abs(v)?,
                "lock_root" => c.lock_root = abs(v)?,
                "cg_root" => {
                    let r = match flavor {
                        Flavor::Isolate => isolate_cg_root(v),
                        Flavor::Rustbox => v.trim_matches('/').to_string(),
                    };
                    let r = r.as_str();
                    if r.is_empty() || r.split('/').any(|c| c == ".." || c == ".") {
                        return Err(format!("line {}: bad cg_root '{v}'", n + 1));
                    }
                    c.cg_root = r.to_string();
                }
                "first_uid" => c.first_uid = num(v)?,
                "first_gid" => c.first_gid = num(v)?,
                "num_boxes" => c.num_boxes = num(v)?,
                "restricted_init" => c.restricted_init = num(v)? != 0,
                "box_quota" => {
                    c.box_quota = quota(v).map_err(|e| format!("line {}: {e}", n + 1))?
                }
                "user_max_quota" => {
                    c.user_max_quota = quota(v).map_err(|e| format!("line {}: {e}", n + 1))?
                }
                "host_disk_box" => c.host_disk_box = num(v)? != 0,
                "user_max_boxes" => c.user_max_boxes = num(v)?,
                "tmp_noexec" => c.tmp_noexec = num(v)? != 0,
                "clock_keeper_idle" => c.clock_keeper_idle = num(v)?,
                "net_spare" => c.net_spare = num(v)? != 0,
                "exec_boxes" => {
                    let (a, b) = v
                        .split_once('-')
                        .ok_or_else(|| format!("line {}: exec_boxes is FIRST-LAST", n + 1))?;
                    let (a, b) = (num(a.trim())?, num(b.trim())?);
                    if a > b {
                        return Err(format!("line {}: exec_boxes {a}-{b} is empty", n + 1));
                    }
                    c.exec_boxes = (a, b);
                }
                _ => {
                    let per_box = k
                        .strip_prefix("box")
                        .and_then(|r| r.split_once('.'))
                        .and_then(|(id, key)| id.parse::<u32>().ok().map(|id| (id, key)));
                    match per_box {
                        Some((id, "cpus")) => {
                            c.box_cpus.insert(id, v.to_string());
                        }
                        Some((id, "mems" | "node")) => {
                            c.box_mems.insert(id, v.to_string());
                        }
                        _ => return Err(format!("line {}: unknown key '{k}'", n + 1)),
                    }
                }
            }
        }
        if c.first_uid == 0 || c.first_gid == 0 {
            return Err("first_uid and first_gid must not be 0".into());
        }
        if u64::from(c.first_uid) + u64::from(c.num_boxes) > u64::from(u32::MAX - 1)
            || u64::from(c.first_gid) + u64::from(c.num_boxes) > u64::from(u32::MAX - 1)
        {
            return Err("first_uid/first_gid + num_boxes overflows the id space".into());
        }
        Ok(c)
    }

    /// The uid and gid box `id` runs as.
    pub fn box_ids(&self, id: u32) -> (u32, u32) {
        (self.first_uid + id, self.first_gid + id)
    }
}

/// `BLOCKS,INODES` as `--quota` takes them: 1 to 2^40 KiB, 1 to 2^32 inodes.
pub fn quota(v: &str) -> Result<(u64, u64), String> {
    let bad = || format!("'{v}' is not BLOCKS,INODES (1 to 2^40 KiB, 1 to 2^32 inodes)");
    let (b, i) = v.split_once(',').ok_or_else(bad)?;
    let num = |x: &str| -> Result<u64, String> {
        let x = x.trim();
        if x.is_empty() || !x.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        x.parse().map_err(|_| bad())
    };
    let (b, i) = (num(b)?, num(i)?);
    if !(1..=1 << 40).contains(&b) || !(1..=1 << 32).contains(&i) {
        return Err(bad());
    }
    Ok((b, i))
}

/// Is the opened config file, and every directory above where it really lives,
/// beyond the reach of anyone but root?
fn trusted(path: &Path, f: &std::fs::File) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let why = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let m = f.metadata().map_err(|e| why(path, e))?;
    if !m.is_file() || m.uid() != 0 || m.mode() & 0o022 != 0 {
        return Err(format!(
            "{} must be a regular file owned by root and not writable by group or others",
            path.display()
        ));
    }
    let real = std::fs::canonicalize(path).map_err(|e| why(path, e))?;
    for dir in real.ancestors().skip(1) {
        let d = std::fs::metadata(dir).map_err(|e| why(dir, e))?;
        let sticky = d.mode() & libc::S_ISVTX != 0;
        if d.uid() != 0 || (d.mode() & 0o022 != 0 && !sticky) {
            return Err(format!(
                "{}: {} must be owned by root and not writable by group or others",
                path.display(),
                dir.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The package's example configuration (packaging/debian/config) shows each
    /// key with its built-in value: read as it is, it is the defaults.
    #[test]
    fn the_packaged_example_config_is_the_defaults() {
        let text = include_str!("../../packaging/debian/config");
        assert_eq!(Config::parse(text).unwrap(), Config::default());
        let uncommented: String = text
            .lines()
            .map(|l| {
                l.strip_prefix('#')
                    .filter(|r| r.starts_with(|c: char| c.is_ascii_lowercase()))
                    .unwrap_or(l)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            Config::parse(&uncommented).unwrap(),
            Config::default(),
            "a value shown in the example is not the built-in one"
        );
    }
    use super::*;

    #[test]
    fn defaults_without_file() {
        let c = Config::load(Path::new("/nonexistent/rustbox/config")).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.box_ids(5), (60005, 60005));
    }

    #[test]
    fn parses_isolate_keys() {
        let c = Config::parse(
            "# comment\nbox_root = /srv/boxes\nlock_root=/run/x\ncg_root = /rb/\nfirst_uid = 70000\n\
             first_gid = 71000\nnum_boxes = 10\nrestricted_init = 1\nbox3.cpus = 0-1\nbox3.node = 0\n",
        )
        .unwrap();
        assert_eq!(c.box_root, PathBuf::from("/srv/boxes"));
        assert_eq!(c.cg_root, "rb");
        assert_eq!(c.box_ids(2), (70002, 71002));
        assert!(c.restricted_init);
        assert_eq!(c.box_cpus.get(&3).map(String::as_str), Some("0-1"));
        assert_eq!(c.box_mems.get(&3).map(String::as_str), Some("0"));
    }

    #[test]
    fn refuses_bad_files() {
        assert!(Config::parse("box_root = relative").is_err());
        assert!(Config::parse("first_uid = x").is_err());
        assert!(Config::parse("frobnicate = 1").is_err());
        assert!(Config::parse("first_uid = 0").is_err());
        assert!(Config::parse("novalue").is_err());
        assert!(Config::parse("cg_root = ../x").is_err());
        assert!(Config::parse("box_quota = 10").is_err());
        assert!(Config::parse("box_quota = 0,5").is_err());
        assert!(Config::parse("user_max_quota = 5,x").is_err());
    }

    #[test]
    fn isolate_flavor_paths_and_cg_root() {
        use std::ffi::OsStr;
        assert_eq!(
            Flavor::of_name(OsStr::new("/usr/local/bin/isolate")),
            Flavor::Isolate
        );
        assert_eq!(Flavor::of_name(OsStr::new("rustbox")), Flavor::Rustbox);
        assert_eq!(
            Flavor::of_name(OsStr::new("isolate-check")),
            Flavor::Rustbox
        );
        let d = Flavor::Isolate.defaults();
        assert_eq!(d.box_root, PathBuf::from("/var/local/lib/isolate"));
        assert_eq!(d.lock_root, PathBuf::from("/run/isolate/locks"));
        assert!(
            d.host_disk_box,
            "isolate keeps every box on one file system"
        );
        assert!(!Flavor::Rustbox.defaults().host_disk_box);
        let c = Config::parse_as(
            "box_root = /var/local/lib/isolate\ncg_root = /sys/fs/cgroup/isolate.slice/isolate.service\n\
             first_uid = 60000\nfirst_gid = 60000\nnum_boxes = 1000\n",
            Flavor::Isolate,
        )
        .unwrap();
        assert_eq!(c.cg_root, "isolate.slice/isolate.service");
        assert_eq!(c.num_boxes, 1000);
        let f = std::env::temp_dir().join(format!("rustbox-cgroot-{}", std::process::id()));
        std::fs::write(&f, "/sys/fs/cgroup/isolate.slice/isolate.service\n").unwrap();
        let c = Config::parse_as(
            &format!("cg_root = auto:{}\n", f.display()),
            Flavor::Isolate,
        )
        .unwrap();
        assert_eq!(c.cg_root, "isolate.slice/isolate.service");
        std::fs::remove_file(&f).unwrap();
        let c = Config::parse_as("cg_root = auto:/nonexistent/cgroup\n", Flavor::Isolate).unwrap();
        assert_eq!(c.cg_root, "isolate");
    }

    #[test]
    fn disk_keys() {
        let c = Config::default();
        assert_eq!(c.box_quota, DEFAULT_BOX_QUOTA);
        assert!(!c.host_disk_box);
        let c = Config::parse(
            "box_quota = 2048,100\nhost_disk_box = 1\nuser_max_quota = 4096, 200\nuser_max_boxes = 7\n",
        )
        .unwrap();
        assert_eq!(c.box_quota, (2048, 100));
        assert!(c.host_disk_box);
        assert_eq!(c.user_max_quota, (4096, 200));
        assert_eq!(c.user_max_boxes, 7);
    }
}
