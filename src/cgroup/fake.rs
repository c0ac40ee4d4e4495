//! Fake cgroup file systems for the backends' unit tests: plain directories under
//! the system's temporary directory, and a mount table naming them, so that the
//! backends can be tested without root and without touching the host's cgroups.
//!
//! A plain directory is not cgroupfs: `mkdir` creates no control files and a
//! write is read back as written. The tests put in place the files the kernel
//! would have made, and stand in for a kernel that refuses a value with a file
//! that reads back as something else (`/dev/null` reads as empty).

use std::path::{Path, PathBuf};

pub struct FakeFs {
    pub base: PathBuf,
}

impl FakeFs {
    pub fn new(name: &str) -> FakeFs {
        let base =
            std::env::temp_dir().join(format!("rustbox-fakecg-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        FakeFs { base }
    }

    /// A mount point `name` below the base, created.
    pub fn mount(&self, name: &str) -> PathBuf {
        let m = self.base.join(name);
        std::fs::create_dir_all(&m).unwrap();
        m
    }

    /// A mountinfo line for a cgroup (v1, `opts` its controllers) or cgroup2
    /// (`opts` None) file system at `mp`.
    pub fn line(mp: &Path, opts: Option<&str>) -> String {
        match opts {
            Some(o) => format!(
                "30 25 0:26 / {} rw,nosuid - cgroup cgroup rw,{o}\n",
                mp.display()
            ),
            None => format!(
                "31 25 0:27 / {} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
                mp.display()
            ),
        }
    }

    /// Write `text` to `rel` below `dir`, creating the directories on the way.
    pub fn put(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Replace the file `rel` below `dir` by a link to /dev/null: it takes every
    /// write and reads back as nothing, like a kernel that ignored the value.
    pub fn swallow(dir: &Path, rel: &str) {
        let p = dir.join(rel);
        let _ = std::fs::remove_file(&p);
        std::os::unix::fs::symlink("/dev/null", p).unwrap();
    }

    pub fn read(dir: &Path, rel: &str) -> String {
        std::fs::read_to_string(dir.join(rel)).unwrap()
    }
}

impl Drop for FakeFs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}
