//! CMS: `cms/grading/Sandbox.py` (IsolateSandbox), `cms/grading/steps/evaluation.py`
//! and `cms/grading/tasktypes/Communication.py`.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// One CMS sandbox: its outer directory (mkdtemp, 0700) with `home` inside,
/// bound at /tmp; meta files `run.meta.<n>` in the outer directory.
struct Sandbox {
    id: u32,
    outer: PathBuf,
    home: PathBuf,
    exec_num: u32,
    /// `set_multiprocess`: 1, or 1000 for a multi-process step.
    max_processes: u32,
    _guard: TestBox,
}

impl Sandbox {
    /// `Sandbox.__init__`: home made and opened to all (allow_writing_all), an
    /// idempotent `--cleanup`, then `--init`.
    fn new(id: u32, name: &str) -> Sandbox {
        let outer = judge_dir(&format!("cms-{name}-{id}"));
        chmod(&outer, 0o700);
        let home = outer.join("home");
        std::fs::create_dir(&home).unwrap();
        chmod(&home, 0o777);
        let guard = TestBox::uninit(id);
        let box_id = format!("--box-id={id}");
        let o = isolate(&[&box_id, "--cg", "--cleanup"]);
        assert_eq!(o.code, 0, "CMS's first, idempotent --cleanup\n{o}");
        let o = isolate(&[&box_id, "--cg", "--init"]);
        init_dir(&o, id);
        Sandbox {
            id,
            outer,
            home,
            exec_num: 0,
            max_processes: 1,
            _guard: guard,
        }
    }

    /// `create_file`: executables 0755, other files 0644.
    fn create(&self, name: &str, src: &Path, executable: bool) {
        place(
            src,
            &self.home.join(name),
            if executable { 0o755 } else { 0o644 },
        );
    }

    /// `allow_writing_only(stdout, stderr)`: the named files are touched, home
    /// and everything in it made 0755, then the named files 0722.
    fn allow_writing_only(&self, names: &[&str]) {
        for n in names {
            let p = self.home.join(n);
            if !p.exists() {
                std::fs::write(&p, "").unwrap();
            }
        }
        chmod(&self.home, 0o755);
        for e in std::fs::read_dir(&self.home).unwrap() {
            chmod(&e.unwrap().path(), 0o755);
        }
        for n in names {
            chmod(&self.home.join(n), 0o722);
        }
    }

    /// `build_box_options` for an evaluation step (`evaluation_step_before_run`):
    /// time limit T, wall 2T+1, --cg-mem in KiB, fsize in KiB, one process.
    fn eval_args(
        &mut self,
        time: f64,
        mem_kib: u64,
        fsize_kib: u64,
        dirs: &[String],
        stdin: Option<&str>,
        stdout: &str,
    ) -> (Vec<String>, PathBuf) {
        self.exec_num += 1;
        let meta = self.outer.join(format!("run.meta.{}", self.exec_num));
        let mut a = vec![
            "--cg".to_string(),
            format!("--box-id={}", self.id),
            "--chdir=/tmp".into(),
            format!("--dir=/tmp={}:rw", self.home.display()),
            "--dir=/dev/shm:tmp".into(),
            // maybe_add_mapped_directory: only where the host has it.
            "--dir=/etc/alternatives=/etc/alternatives".into(),
        ];
        a.extend(dirs.iter().cloned());
        a.push("--env=HOME=/tmp".into());
        a.push(format!("--fsize={fsize_kib}"));
        if let Some(i) = stdin {
            a.push(format!("--stdin={}", inner(i)));
        }
        a.push(format!("--cg-mem={mem_kib}"));
        a.push(format!("--stdout={}", inner(stdout)));
        a.push(format!("--processes={}", self.max_processes));
        a.push("--stderr=/tmp/stderr.txt".into());
        a.push(format!("--time={}", g(time)));
        a.push(format!("--wall-time={}", g(2.0 * time + 1.0)));
        a.push(format!("--meta={}", meta.display()));
        a.push("--run".into());
        a.push("--".into());
        (a, meta)
    }

    /// A whole evaluation step of a Batch task.
    fn evaluate(&mut self, time: f64, mem_kib: u64, fsize_kib: u64, cmd: &[&str]) -> Step {
        self.allow_writing_only(&["stderr.txt", "output.txt"]);
        let (mut a, meta) = self.eval_args(
            time,
            mem_kib,
            fsize_kib,
            &[],
            Some("input.txt"),
            "output.txt",
        );
        a.extend(cmd.iter().map(|s| s.to_string()));
        let args: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = isolate(&args);
        Step::read(out, &meta)
    }

    /// `cleanup(delete=True)`, first half: a chmod run inside the box so the
    /// CMS user can remove what the box user made in home. CMS ignores its exit
    /// status.
    fn chmod_run(&self) -> Out {
        let box_id = format!("--box-id={}", self.id);
        let dir = format!("--dir=/tmp={}:rw", self.home.display());
        isolate(&[
            &box_id,
            "--cg",
            &dir,
            "--run",
            "--",
            "/bin/chmod",
            "777",
            "-R",
            "/tmp",
        ])
    }

    /// `cleanup(delete=True)`, second half: `--cleanup` (check_call), then the
    /// outer directory removed.
    fn cleanup(self) {
        let o = isolate(&[&format!("--box-id={}", self.id), "--cg", "--cleanup"]);
        assert_eq!(o.code, 0, "CMS's --cleanup (check_call)\n{o}");
        assert!(
            !self._guard.dir.exists(),
            "the box directory outlives --cleanup"
        );
        std::fs::remove_dir_all(&self.outer).unwrap();
    }

    fn delete(self) {
        let _ = self.chmod_run();
        self.cleanup();
    }
}

/// `os.path.join("/tmp", name)`: an absolute name (a FIFO) stays as it is.
fn inner(name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else {
        format!("/tmp/{name}")
    }
}

/// Python's `%g`.
fn g(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// What CMS makes of one run: `translate_box_exitcode` and `get_exit_status`.
#[derive(Debug)]
struct Step {
    out: Out,
    meta: Meta,
}

impl Step {
    fn read(out: Out, meta: &Path) -> Step {
        assert!(
            matches!(out.code, 0 | 1),
            "CMS takes exit {} as a sandbox error (0 and 1 only are runs)\n{out}",
            out.code
        );
        let m = crate::support::meta(meta);
        Step { out, meta: m }
    }

    fn exit_status(&self) -> &'static str {
        let m = &self.meta;
        match m.get("status") {
            Some("XX") => "sandbox error",
            Some("TO") if m.get("message").is_some_and(|s| s.contains("wall")) => "wall timeout",
            Some("TO") => "timeout",
            Some("SG") if m.get("cg-oom-killed").is_some() => "memory limit exceeded",
            Some("SG") => "signal",
            Some("RE") => "nonzero return",
            None => "ok",
            Some(s) => panic!("status {s} is none CMS knows\n{self:?}"),
        }
    }

    /// The statistics CMS keeps (`execution_stats`): all must parse.
    fn stats(&self) -> (f64, f64, u64) {
        (
            secs(&self.meta, "time"),
            secs(&self.meta, "time-wall"),
            int(&self.meta, "cg-mem") * 1024,
        )
    }
}

#[test]
fn cms_batch_task_on_the_largest_box_id() {
    let _t = timing_lock();
    // Shard 63, box index 999: the largest id a CMS worker computes.
    let mut sb = Sandbox::new(64_999, "batch");
    sb.create("input.txt", &write_tmp("cms-input", "3 4\n"), false);
    sb.create("sol", &probe(), true);

    let s = sb.evaluate(1.0, 262_144, 1_048_576, &["/tmp/sol", "io"]);
    assert_eq!(s.exit_status(), "ok", "{s:?}");
    assert_eq!(s.out.code, 0);
    assert_eq!(int(&s.meta, "exitcode"), 0, "{s:?}");
    let (_, _, mem) = s.stats();
    assert!(mem > 0, "{s:?}");
    assert_eq!(read(&sb.home.join("output.txt")), "out:3 4\n");
    assert_eq!(read(&sb.home.join("stderr.txt")), "err-line\n");

    let s = sb.evaluate(1.0, 262_144, 1_048_576, &["/tmp/sol", "exit", "3"]);
    assert_eq!(s.exit_status(), "nonzero return", "{s:?}");
    assert_eq!(s.out.code, 1);
    assert_eq!(int(&s.meta, "exitcode"), 3, "{s:?}");
    assert_eq!(s.meta.req("message"), "Exited with error status 3");

    let s = sb.evaluate(1.0, 262_144, 1_048_576, &["/tmp/sol", "segv"]);
    assert_eq!(s.exit_status(), "signal", "{s:?}");
    assert_eq!(int(&s.meta, "exitsig"), 11, "{s:?}");
    assert_eq!(s.meta.req("message"), "Caught fatal signal 11");

    let s = sb.evaluate(0.5, 262_144, 1_048_576, &["/tmp/sol", "spin"]);
    assert_eq!(s.exit_status(), "timeout", "{s:?}");
    assert_eq!(s.meta.req("message"), "Time limit exceeded", "{s:?}");
    assert_eq!(s.meta.req("killed"), "1", "{s:?}");
    let (time, _, _) = s.stats();
    assert!(time > 0.5, "{s:?}");

    // --time=0.5 gives --wall-time=2.
    let s = sb.evaluate(
        0.5,
        262_144,
        1_048_576,
        &["/tmp/sol", "sleep", "10", "/tmp/x"],
    );
    assert_eq!(s.exit_status(), "wall timeout", "{s:?}");
    assert_eq!(
        s.meta.req("message"),
        "Time limit exceeded (wall clock)",
        "{s:?}"
    );
    let (_, wall, _) = s.stats();
    assert!((2.0..3.0).contains(&wall), "{s:?}");

    let s = sb.evaluate(2.0, 65_536, 1_048_576, &["/tmp/sol", "mem", "300"]);
    assert_eq!(s.exit_status(), "memory limit exceeded", "{s:?}");
    assert_eq!(int(&s.meta, "exitsig"), 9, "{s:?}");

    // max_file_size: a program writing past --fsize dies of SIGXFSZ.
    let s = sb.evaluate(
        2.0,
        262_144,
        1024,
        &["/tmp/sol", "fsize", "/tmp/output.txt", "4194304"],
    );
    assert_eq!(s.exit_status(), "signal", "{s:?}");
    assert_eq!(int(&s.meta, "exitsig"), 25, "{s:?}");

    // What the box user made in home (a private directory) is opened to all by
    // the chmod run of cleanup(delete=True), so the CMS user can remove it.
    let s = {
        sb.max_processes = 1000;
        let (mut a, meta) = sb.eval_args(1.0, 262_144, 1_048_576, &[], None, "output.txt");
        chmod(&sb.home, 0o777);
        a.extend(
            [
                "/bin/sh",
                "-c",
                "mkdir /tmp/private && echo x > /tmp/private/f && chmod 700 /tmp/private",
            ]
            .map(String::from),
        );
        let args: Vec<&str> = a.iter().map(String::as_str).collect();
        Step::read(isolate(&args), &meta)
    };
    assert_eq!(
        s.exit_status(),
        "ok",
        "{s:?}\nstderr.txt: {}",
        read(&sb.home.join("stderr.txt"))
    );
    let private = sb.home.join("private");
    assert_eq!(mode(&private), 0o700);
    let outer = sb.outer.clone();
    let box_uid = crate::common::harness::first_uid() + sb.id;
    {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&private).unwrap().uid(), box_uid);
    }
    // The files CMS itself made stay root's (chmod fails on them, exit 1, as
    // CMS expects); the box user's own are opened.
    let o = sb.chmod_run();
    assert!(matches!(o.code, 0 | 1), "{o}");
    assert_eq!(mode(&private), 0o777, "chmod -R 777 inside the box");
    assert_eq!(mode(&private.join("f")), 0o777);
    sb.cleanup();
    assert!(!outer.exists());
}

/// A file in the suite's base directory with `content`, for `create`.
fn write_tmp(name: &str, content: &str) -> PathBuf {
    let p = crate::common::harness::env().base.join(name);
    write(&p, content, 0o644);
    p
}

/// Communication with one user process and stdin/stdout on the FIFOs: the
/// manager and the user program run at the same time in two boxes, joined by
/// FIFOs in a host directory bound as /fifo0 in both.
#[test]
fn cms_communication_task_over_fifos() {
    let _t = timing_lock();
    let fifo_dir = judge_dir("cms-fifo0");
    let u_to_m = fifo_dir.join("u0_to_m");
    let m_to_u = fifo_dir.join("m_to_u0");
    for f in [&u_to_m, &m_to_u] {
        nix::unistd::mkfifo(f, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    }
    chmod(&fifo_dir, 0o755);
    chmod(&u_to_m, 0o666);
    chmod(&m_to_u, 0o666);
    let fifo_rule = format!("--dir=/fifo0={}:rw", fifo_dir.display());

    let mut mgr = Sandbox::new(1000, "manager");
    let mut usr = Sandbox::new(1001, "user");
    // The manager: opens its end of m_to_u for writing, then u_to_m for reading
    // (the order of the user's --stdin then --stdout), sends the input, reads
    // the answer, writes the outcome.
    let script = write_tmp(
        "cms-manager",
        "#!/bin/sh\nexec 3>\"$2\"\nexec 4<\"$1\"\nread -r q\necho \"$q\" >&3\nexec 3>&-\n\
         read -r a <&4\necho \"answer:$a\"\n",
    );
    mgr.create("input.txt", &write_tmp("cms-mgr-input", "21\n"), false);
    mgr.create("manager", &script, true);
    usr.create("sol", &probe(), true);

    mgr.allow_writing_only(&["stderr.txt", "output.txt"]);
    let (mut ma, mmeta) = mgr.eval_args(
        5.0,
        262_144,
        1_048_576,
        std::slice::from_ref(&fifo_rule),
        Some("input.txt"),
        "output.txt",
    );
    ma.extend(["./manager", "/fifo0/u0_to_m", "/fifo0/m_to_u0"].map(String::from));
    usr.allow_writing_only(&["stderr.txt"]);
    let (mut ua, umeta) = usr.eval_args(
        1.0,
        262_144,
        1_048_576,
        std::slice::from_ref(&fifo_rule),
        Some("/fifo0/m_to_u0"),
        "/fifo0/u0_to_m",
    );
    ua.extend(["/tmp/sol", "io"].map(String::from));

    let start = |a: &[String]| {
        let args: Vec<&str> = a.iter().map(String::as_str).collect();
        isolate_cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start isolate")
    };
    let m = start(&ma);
    let u = start(&ua);
    let u = Step::read(u.wait_with_output().unwrap().into(), &umeta);
    let m = Step::read(m.wait_with_output().unwrap().into(), &mmeta);
    assert_eq!(u.exit_status(), "ok", "user: {u:?}\nmanager: {m:?}");
    assert_eq!(m.exit_status(), "ok", "manager: {m:?}\nuser: {u:?}");
    let (_, wall, _) = u.stats();
    assert!(wall < 5.0, "{u:?}");
    assert_eq!(read(&mgr.home.join("output.txt")), "answer:out:21\n");
    mgr.delete();
    usr.delete();
    std::fs::remove_dir_all(&fifo_dir).unwrap();
}
