//! Language runtimes under the default seccomp profile: a judge's compilers and
//! interpreters must still work in a box. Each test builds, where a judge builds
//! (inside the box for gcc, g++, javac and go; on the host for rustc, whose
//! toolchain lives under /root), and runs inside the box a program that prints a
//! greeting, sums 1..=1,000,000 over four threads and runs `/bin/echo sub` as a
//! subprocess; the output must be exactly
//!
//! ```text
//! hello from <language>
//! threads: 500000500000
//! subprocess: sub
//! ```
//!
//! The options are a judge's: `-p` unlimited for compilers and runtimes that
//! start many threads, no `-m` for the JVM, Go and Node (judges bound their
//! memory with `--cg-mem`), `-d /etc:noexec` where the runtime reads its
//! configuration through /etc (java's /etc/java-17-openjdk links and
//! /etc/alternatives), `-E PATH` and `-E HOME=/tmp`, generous time limits.
//!
//! C also runs as a 32-bit program (`gcc -m32` in the box, run with foreign
//! architectures allowed: `--syscalls=15 --dir=/lib32`).
//!
//! A missing tool fails its test, naming the package (`make deps` installs them);
//! nothing is skipped. Root is needed, as for the integration suite; boxes are
//! under `/tmp/rustbox-rt-<pid>/`, uids from 67000.

mod common;

use common::harness::{self, TestBox};
use std::process::Command;
use std::sync::Mutex;

/// This suite's boxes: `/tmp/rustbox-rt-<pid>/`, uids from 67000.
pub static SUITE: common::SuiteConf = common::SuiteConf {
    prefix: "rustbox-rt",
    first_uid: 67000,
    num_boxes: 20,
    cg_root: "rustbox/test-rt",
    how_to_run: "cargo test --test runtimes",
};

const EXPECTED_TAIL: &str = "threads: 500000500000\nsubprocess: sub\n";

/// Compilers are heavy on a small machine: one language at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Panics unless `tool version_arg` runs on the host (the box runs the same
/// /usr/bin paths).
fn require_tool(tool: &str, version_arg: &str, package: &str) {
    common::require_tool(
        tool,
        version_arg,
        &format!("install {package} (`make deps`)"),
    );
}

/// Options every step gets: the environment a judge passes.
const ENV: &[&str] = &["-E", "PATH=/usr/local/bin:/usr/bin:/bin", "-E", "HOME=/tmp"];

/// Runs `program` in the box with `opts` (and ENV); the run must be OK with exit
/// 0 under the default profile. Returns stdout.
fn ok_run(b: &TestBox, what: &str, opts: &[&str], program: &[&str]) -> String {
    let mut all: Vec<&str> = ENV.to_vec();
    all.extend_from_slice(opts);
    let r = b.run(&all, program);
    eprintln!(
        "{what}: {program:?}: exit {}, {:.2} s wall, {} s cpu",
        r.code,
        r.elapsed.as_secs_f64(),
        r.meta.as_ref().and_then(|m| m.get("time")).unwrap_or("?")
    );
    assert_eq!(r.code, 0, "{what}: {program:?} did not exit 0\n{r}");
    assert_eq!(r.json()["verdict"], "OK", "{what}\n{r}");
    let seccomp = r.control("seccomp");
    assert_eq!(seccomp["applied"], true, "{what}\n{r}");
    let detail = seccomp["detail"].as_str().unwrap_or("");
    // The profile with the personality and netlink rules, not an older one.
    assert!(
        detail.contains("default profile")
            && detail.contains("personality other than")
            && detail.contains("netlink other than NETLINK_ROUTE"),
        "{what}: not under the default profile: {detail}\n{r}"
    );
    r.stdout
}

fn write(b: &TestBox, name: &str, text: &str) {
    let p = b.workspace().join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

fn assert_output(lang: &str, out: &str) {
    assert_eq!(
        out,
        format!("hello from {lang}\n{EXPECTED_TAIL}"),
        "{lang}: the program's output"
    );
}

/// Compiling: many processes and threads, minutes of wall time at worst.
const COMPILE: &[&str] = &["-p", "-t", "60", "-w", "300", "-f", "262144"];
/// Running a native program: four threads and a child, 1 GiB of address space.
const RUN_NATIVE: &[&str] = &["-p16", "-t", "10", "-w", "60", "-m", "1048576"];
/// Running a managed runtime: threads of its own, no address-space limit.
const RUN_MANAGED: &[&str] = &["-p", "-t", "20", "-w", "120"];

const C_SRC: &str = r#"#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static long long part[4];

static void *work(void *arg)
{
	long k = (long)arg;
	long long s = 0;
	for (long i = k * 250000 + 1; i <= (k + 1) * 250000; i++)
		s += i;
	part[k] = s;
	return NULL;
}

int main(void)
{
	printf("hello from C\n");
	pthread_t t[4];
	for (long k = 0; k < 4; k++)
		if (pthread_create(&t[k], NULL, work, (void *)k) != 0)
			return 1;
	long long sum = 0;
	for (int k = 0; k < 4; k++) {
		pthread_join(t[k], NULL);
		sum += part[k];
	}
	printf("threads: %lld\n", sum);
	fflush(stdout);
	FILE *p = popen("/bin/echo sub", "r");
	char line[64] = "";
	if (!p || !fgets(line, sizeof line, p) || pclose(p) != 0)
		return 2;
	printf("subprocess: %s", line);
	return 0;
}
"#;

#[test]
fn c_with_gcc_in_the_box() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    require_tool("/usr/bin/gcc", "--version", "gcc");
    let b = TestBox::new(1);
    write(&b, "hello.c", C_SRC);
    ok_run(
        &b,
        "gcc",
        COMPILE,
        &["/usr/bin/gcc", "-O2", "-pthread", "-o", "hello", "hello.c"],
    );
    assert_output("C", &ok_run(&b, "run", RUN_NATIVE, &["./hello"]));
}

/// A judge that allows 32-bit programs: foreign architectures allowed
/// (`--syscalls=15`, every flag but 16: i386 calls meet the same rules under their
/// own numbers), and `/lib32` bound in, where Debian's i386 loader and libc live
/// (`/lib/ld-linux.so.2` links there; the default rules, isolate's, have no
/// /lib32). gcc -m32 links against it too.
const M32: &[&str] = &["--syscalls=15", "--dir=/lib32"];

#[test]
fn c_m32_with_gcc_in_the_box() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    require_tool("/usr/bin/gcc", "--version", "gcc");
    let stubs = "/usr/include/x86_64-linux-gnu/gnu/stubs-32.h";
    assert!(
        std::path::Path::new(stubs).exists(),
        "{stubs} missing: gcc -m32 needs gcc-multilib (`make deps`)"
    );
    let b = TestBox::new(8);
    write(&b, "hello.c", C_SRC);
    let compile: Vec<&str> = COMPILE.iter().chain(M32).copied().collect();
    let gcc = [
        "/usr/bin/gcc",
        "-m32",
        "-O2",
        "-pthread",
        "-o",
        "hello32",
        "hello.c",
    ];
    ok_run(&b, "gcc -m32", &compile, &gcc);
    let exe = std::fs::read(b.workspace().join("hello32")).unwrap();
    assert_eq!(&exe[..5], b"\x7fELF\x01", "hello32 is not a 32-bit ELF");
    let run: Vec<&str> = RUN_NATIVE.iter().chain(M32).copied().collect();
    assert_output("C", &ok_run(&b, "run -m32", &run, &["./hello32"]));
}

const CPP_SRC: &str = r#"#include <cstdio>
#include <iostream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

int main()
{
    std::cout << "hello from C++" << std::endl;
    std::vector<long long> part(4);
    std::vector<std::thread> ts;
    for (int k = 0; k < 4; k++)
        ts.emplace_back([k, &part] {
            for (long long i = k * 250000LL + 1; i <= (k + 1) * 250000LL; i++)
                part[k] += i;
        });
    for (auto &t : ts)
        t.join();
    std::cout << "threads: " << std::accumulate(part.begin(), part.end(), 0LL) << std::endl;
    FILE *p = popen("/bin/echo sub", "r");
    char line[64] = "";
    if (!p || !fgets(line, sizeof line, p) || pclose(p) != 0)
        return 2;
    std::cout << "subprocess: " << line << std::flush;
    return 0;
}
"#;

#[test]
fn cpp_with_gxx_in_the_box() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    require_tool("/usr/bin/g++", "--version", "g++");
    let b = TestBox::new(2);
    write(&b, "hello.cpp", CPP_SRC);
    ok_run(
        &b,
        "g++",
        COMPILE,
        &[
            "/usr/bin/g++",
            "-O2",
            "-pthread",
            "-o",
            "hello",
            "hello.cpp",
        ],
    );
    assert_output("C++", &ok_run(&b, "run", RUN_NATIVE, &["./hello"]));
}

const JAVA_SRC: &str = r#"import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.concurrent.atomic.AtomicLong;

public class Main {
    public static void main(String[] args) throws Exception {
        System.out.println("hello from Java");
        AtomicLong sum = new AtomicLong();
        Thread[] ts = new Thread[4];
        for (int k = 0; k < 4; k++) {
            final long lo = k * 250000L + 1, hi = (k + 1) * 250000L;
            ts[k] = new Thread(() -> {
                long s = 0;
                for (long i = lo; i <= hi; i++) s += i;
                sum.addAndGet(s);
            });
            ts[k].start();
        }
        for (Thread t : ts) t.join();
        System.out.println("threads: " + sum.get());
        Process p = new ProcessBuilder("/bin/echo", "sub").start();
        String line = new BufferedReader(new InputStreamReader(p.getInputStream())).readLine();
        if (p.waitFor() != 0) System.exit(2);
        System.out.println("subprocess: " + line);
    }
}
"#;

/// java and javac are /etc/alternatives links and read /etc/java-17-openjdk.
const JAVA_DIRS: &[&str] = &["-d", "/etc:noexec"];

#[test]
fn java_with_javac_in_the_box() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    require_tool("/usr/bin/javac", "-version", "openjdk-17-jdk-headless");
    require_tool("/usr/bin/java", "-version", "openjdk-17-jdk-headless");
    let b = TestBox::new(3);
    write(&b, "Main.java", JAVA_SRC);
    let compile = [JAVA_DIRS, COMPILE].concat();
    ok_run(&b, "javac", &compile, &["/usr/bin/javac", "Main.java"]);
    let run = [JAVA_DIRS, RUN_MANAGED].concat();
    let out = ok_run(&b, "java", &run, &["/usr/bin/java", "-cp", "/box", "Main"]);
    assert_output("Java", &out);
}

const PY_SRC: &str = r#"import subprocess
import threading

print("hello from Python", flush=True)
part = [0] * 4


def work(k):
    part[k] = sum(range(k * 250000 + 1, (k + 1) * 250000 + 1))


ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("threads:", sum(part), flush=True)
out = subprocess.run(["/bin/echo", "sub"], capture_output=True, text=True, check=True)
print("subprocess:", out.stdout, end="")
"#;

#[test]
fn python3_in_the_box() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    require_tool("/usr/bin/python3", "--version", "python3");
    let b = TestBox::new(4);
    write(&b, "hello.py", PY_SRC);
    let out = ok_run(&b, "python3", RUN_NATIVE, &["/usr/bin/python3", "hello.py"]);
    assert_output("Python", &out);
}

const JS_SRC: &str = r#"const { Worker, isMainThread, parentPort, workerData } = require("worker_threads");
const { execFileSync } = require("child_process");

if (isMainThread) {
  console.log("hello from Node.js");
  const parts = [];
  let done = 0;
  for (let k = 0; k < 4; k++) {
    const w = new Worker(__filename, { workerData: k });
    w.on("message", (s) => {
      parts.push(BigInt(s));
      if (++done === 4) {
        console.log("threads: " + parts.reduce((a, b) => a + b, 0n));
        const out = execFileSync("/bin/echo", ["sub"], { encoding: "utf8" });
        process.stdout.write("subprocess: " + out);
      }
    });
    w.on("error", (e) => { console.error(e); process.exit(2); });
  }
} else {
  const k = workerData;
  let s = 0;
  for (let i = k * 250000 + 1; i <= (k + 1) * 250000; i++) s += i;
  parentPort.postMessage(String(s));
}
"#;

#[test]
fn node_in_the_box() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    require_tool("/usr/bin/node", "--version", "nodejs");
    let b = TestBox::new(5);
    write(&b, "hello.js", JS_SRC);
    let out = ok_run(&b, "node", RUN_MANAGED, &["/usr/bin/node", "hello.js"]);
    assert_output("Node.js", &out);
}

const GO_SRC: &str = r#"package main

import (
	"fmt"
	"os/exec"
	"sync"
)

func main() {
	fmt.Println("hello from Go")
	var wg sync.WaitGroup
	part := make([]int64, 4)
	for k := 0; k < 4; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			for i := int64(k)*250000 + 1; i <= int64(k+1)*250000; i++ {
				part[k] += i
			}
		}(k)
	}
	wg.Wait()
	fmt.Println("threads:", part[0]+part[1]+part[2]+part[3])
	out, err := exec.Command("/bin/echo", "sub").Output()
	if err != nil {
		panic(err)
	}
	fmt.Print("subprocess: ", string(out))
}
"#;

#[test]
fn go_with_go_build_in_the_box() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    require_tool("/usr/bin/go", "version", "golang-go");
    let b = TestBox::new(6);
    write(&b, "hello.go", GO_SRC);
    // The build cache in the box's /tmp, as judges set it.
    let compile = [
        COMPILE,
        &["-E", "GOCACHE=/tmp/gocache", "-E", "GOPATH=/tmp/go"],
    ]
    .concat();
    ok_run(
        &b,
        "go build",
        &compile,
        &["/usr/bin/go", "build", "-o", "hello", "hello.go"],
    );
    let out = ok_run(&b, "run", RUN_MANAGED, &["./hello"]);
    assert_output("Go", &out);
}

const RUST_SRC: &str = r#"use std::process::Command;
use std::thread;

fn main() {
    println!("hello from Rust");
    let parts: Vec<_> = (0..4u64)
        .map(|k| thread::spawn(move || (k * 250000 + 1..=(k + 1) * 250000).sum::<u64>()))
        .collect();
    let sum: u64 = parts.into_iter().map(|t| t.join().unwrap()).sum();
    println!("threads: {sum}");
    let out = Command::new("/bin/echo").arg("sub").output().unwrap();
    assert!(out.status.success());
    print!("subprocess: {}", String::from_utf8_lossy(&out.stdout));
}
"#;

#[test]
fn rust_built_on_the_host_runs_in_the_box() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    require_tool("rustc", "--version", "the Rust toolchain (rustup)");
    let b = TestBox::new(7);
    let src = harness::env().out.join("hello.rs");
    std::fs::write(&src, RUST_SRC).unwrap();
    let bin = b.workspace().join("hello");
    let o = Command::new("rustc")
        .args(["-O", "--edition", "2021", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("run rustc");
    assert!(
        o.status.success(),
        "rustc failed: {}",
        common::text(&o.stderr)
    );
    let out = ok_run(&b, "run", RUN_NATIVE, &["./hello"]);
    assert_output("Rust", &out);
}
