//! Replays of real judges against rustbox, started under the name `isolate` as
//! the judges start it: each judge's own command sequence (init, the files it
//! places and how, run, what it reads back, cleanup), taken from its source and
//! given verbatim. Only host paths are moved into the suite's base directory and
//! box ids into the suite's range (CMS's large ids are kept); `--config` names
//! the suite's config (a test-only option, root only) and is the one argument
//! no judge gives. No judge code is copied: the command lines are rebuilt here
//! from the facts below, and each test asserts what that judge reads.
//!
//! | judge | source (in its repository) | init / cleanup | run options | files | reads back |
//! |---|---|---|---|---|---|
//! | CMS | `cms/grading/Sandbox.py`, `cms/grading/steps/evaluation.py`, `cms/grading/tasktypes/Communication.py` | `--box-id=N --cg --cleanup` then `--init`; ids `(1 + shard % 64) * 1000 + index` (1000..64999); before deleting: `--box-id=N --cg --dir=/tmp=<home>:rw --run -- /bin/chmod 777 -R /tmp`, then `--cleanup` (must exit 0) | `--cg --box-id=N --chdir=/tmp --dir=/tmp=<outer>/home:rw --dir=/dev/shm:tmp --dir=/etc/alternatives=/etc/alternatives --env=HOME=/tmp --fsize=K --stdin=/tmp/F --cg-mem=K --stdout=/tmp/F --processes=1 --stderr=/tmp/stderr.txt --time=T --wall-time=2T+1 --meta=<outer>/run.meta.N --run --`; interactive: `--dir=/fifoI=<fifo dir>:rw`, user `--stdin=/fifoI/m_to_uI --stdout=/fifoI/uI_to_m`, manager in its own box started at the same time with both FIFO paths as arguments | home 0777 at creation; before a run home and its files 0755, stdout/stderr pre-created 0722, executables 0755; FIFOs 0666 in a 0755 directory | exit 0/1 (2: sandbox error, other: exception); `status` (XX, TO + `wall` in `message`, SG + `cg-oom-killed` present = memory, RE), `exitcode`, `exitsig`, `time`, `time-wall`, `cg-mem` |
//! | judge0 | `app/jobs/isolate_job.rb` | `--cg -b ID --init`; `--cg -b ID --cleanup`, then the box directory must be gone | `--cg -s -b ID -M <box dir>/metadata.txt -t T -x X -w W -k K -pN --cg-timing --cg-mem=K -f K -E HOME=/tmp -E PATH=... -E LANG -E LANGUAGE -E LC_ALL -E JUDGE0_* -d /etc:noexec --run -- /bin/bash run.sh < stdin.txt > stdout.txt 2> stderr.txt` through `sh -c`; compile: same with `--stderr-to-stdout -i /dev/null -x 0` and `> compile_output.txt` | stdin/stdout/stderr/metadata files touched in the box directory as root, source and run.sh written into box/ as root | exit status of the compile only (0 = compiled); `status` (TO, SG by `exitsig`, RE = NZEC, XX), `exitcode`, `exitsig`, `message`, `time`, `time-wall`, `cg-mem` |
//! | Piston | `api/src/job.js`, `api/src/docker-entrypoint.sh` | `--init --cg -bN`; `--cleanup --cg -bN` right after the run; compiled languages: the compile box's `submission/` is renamed into a second box | `--run -bN --meta=/tmp/N-metadata.txt --cg -s -c /box/submission -E HOME=/tmp -E PISTON_LANGUAGE=L --dir=<pkg dir> --dir=/etc:noexec --processes=64 --open-files=2048 --fsize=10000 --wall-time=3 --time=3 --extra-time=0 [--cg-mem=K] -- /bin/bash <pkg dir>/run ARGS`, stdio pipes; SIGABRT to rustbox when stdout passes 1024 bytes | `box/submission` made (0755) and written (0644) by the caller | `status` (kept `OL` after its SIGABRT), `message`, `exitcode`, `exitsig`, `time`, `time-wall`, `cg-mem`; every line must have a `:` |
//! | Judgels | `judgels-backends/judgels-grader-engines/src/main/java/judgels/gabriel/sandboxes/isolate/IsolateSandbox.java` | `-bN --cg --init` (ids 0..99); `-bN --cleanup` (no `--cg`), must exit 0 | `-bN --dir=/etc -e --cg --cg-timing -p50 -tT -x0.5 -wW --cg-mem=K -kK -f102400 -iF -oF -rF -M<box dir>/box/_isolate.meta --run --` | copied into box/ as root | exit 0/1 (else internal error); `time`, `time-wall`, `cg-mem` (all required), `status`, `exitsig`, `killed`, `message` |
//! | ReCodEx | `src/sandbox/isolate_sandbox.cpp` | `--cg --box-id=N --init` (stderr to /dev/null, `/box` appended to the printed path); `--cg --box-id=N --cleanup`, must exit 0 | `--cg --cg-timing --box-id=N --cg-mem=K --time=%f --wall-time=%f --extra-time=%f [--stack=K] [--fsize=K] --quota=B,I --stdin=F --stdout=F --stderr=F --chdir=../box --processes[=N] --env=K=V --dir=IN=OUT:rw --dir=etc/alternatives=/etc/alternatives:maybe --meta=<temp>/N/meta.log --run --`, stdio /dev/null | data directory copied in before the run and back after | exit 0/1, killed by a signal = error; `time`, `time-wall`, `killed`, `status`, `message`, `exitsig`, `exitcode`, `cg-mem`, `max-rss`, `csw-voluntary`, `csw-forced` (numbers must parse) |
//! | kjudge | `worker/sandbox/isolate/sandbox.go`, `worker/sandbox/isolate/meta.go`, `worker/sandbox/sandbox.go`, `worker/run.go` | `--version` must contain "The process isolator"; `--init --cg` (box 0); `--cleanup --cg` | `--cg --run -M <tmp>/meta.txt -t %.1f -w %.1f -x 1.0 -f 262144 -p -s --env=ONLINE_JUDGE=true --env=KJUDGE=true --cg-mem=K -- code`, run from the box's box/ directory, stdio pipes | `code` written 0777 (umask 022), other files 0666 | exit 0/1 (else error); `message` present = failure, shown as the verdict; `cg-mem` and `time` required |
//! | camisole | `camisole/isolate.py` | box id from the box root's listing (every name parsed as a number); `--box-id N --cg --init` (exit 2 with "already exists": next id); `--box-id N --cg --cleanup`, must exit 0 | `--box-id N --cg [-d DIR] --extra-time= --fsize= --cg-mem= -p --quota= --stack= --time= --wall-time= --env PATH=... --meta=/tmp/camisole-meta-XXX --stdout=._stdout --stderr=._stderr --run --`, stdin a pipe | meta file pre-created (0600) by camisole | exit ≥ 2 = internal error; `box/._stdout`, `box/._stderr`; every meta key must be one of isolate's (`cg-mem cg-oom-killed csw-forced csw-voluntary exitcode exitsig killed max-rss message status time time-wall`), typed; `cg-oom-killed` = out of memory |
//!
//! isolate 2.6's own words (`isolate.c`) are the expected values: `status:TO`
//! "Time limit exceeded" / "Time limit exceeded (wall clock)" with `killed:1`,
//! `status:SG` "Caught fatal signal N" with `exitsig`, `status:RE` "Exited with
//! error status N" with `exitcode`, `status:XX` "Sandbox keeper received fatal
//! signal N" for SIGABRT to the keeper; exit status 0, 1 or 2.
//!
//! Boxes: `/tmp/rustbox-cl-<pid>/`, uids from 200000 (66,000 boxes: CMS's ids),
//! cgroups under `rustbox/test-clients`. Requirements: root, /bin/bash (judge0
//! and Piston run everything through it), gcc unless `RUSTBOX_PROBES` names
//! prebuilt probes. Nothing is skipped: a test that cannot run fails saying why.
//! The same suite runs in the cgroup v2 VM (`make test-cgroup-v2`).

mod common;

#[path = "clients/camisole.rs"]
mod camisole;
#[path = "clients/cms.rs"]
mod cms;
#[path = "clients/judge0.rs"]
mod judge0;
#[path = "clients/judgels.rs"]
mod judgels;
#[path = "clients/kjudge.rs"]
mod kjudge;
#[path = "clients/piston.rs"]
mod piston;
#[path = "clients/recodex.rs"]
mod recodex;
#[path = "clients/support.rs"]
mod support;

pub static SUITE: common::SuiteConf = common::SuiteConf {
    prefix: "rustbox-cl",
    first_uid: 200_000,
    // CMS computes box ids up to 64999; the rustbox default, 66000, covers them.
    num_boxes: 66_000,
    cg_root: "rustbox/test-clients",
    how_to_run: "cargo test --test clients",
};
