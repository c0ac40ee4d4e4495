# rustbox — build, install, test.
# Everything here is meant to run as root on a Debian machine.

PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
CARGO     ?= cargo
# The installed binary is linked statically against musl: a setuid-root program
# with no dynamic loader, no shared library and no LD_* to consider, and a start
# of 0.3 ms where static glibc takes 0.7 (its CPU-feature probe is a dozen CPUID
# exits on a VM; docs/performance.md). --target keeps the static flags away from
# build scripts and proc-macros; rust-toolchain.toml installs the target.
TARGET    := x86_64-unknown-linux-musl
RELEASE   := target/$(TARGET)/release/rustbox

.PHONY: all toolchain build deps docs deb test-deb test-container test-podman test-docker install install-as-isolate uninstall test test-unit test-integration test-setuid test-faults faults test-cgroup test-cgroup-v2 test-clients test-trybuild test-runtimes test-soak soak adversarial lint clean bench

all: build

# The installed binary is static musl (issue 13: no dynamic loader at each start).
# rust-toolchain.toml names the target, but rustup adds a toolchain's targets only
# when it installs the toolchain itself: one already there (a fresh machine's)
# lacks it. Idempotent.
toolchain:
	@rustup target list --installed 2>/dev/null | grep -qx '$(TARGET)' || rustup target add $(TARGET)

build: toolchain
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --locked --target $(TARGET)

# What the tests need beyond the Rust toolchain (pinned by rust-toolchain.toml):
# gcc and libc's static archive (probes, attack programs), gcc-multilib (gcc -m32:
# the 32-bit twins of the kernel-surface cases, under --syscalls without flag 16;
# stubs-32.h is libc6-dev-i386's, the 32-bit libgcc lib32gcc's), qemu (the cgroup v2
# VM), and the compilers and runtimes of tests/runtimes.rs (g++, javac/java,
# python3, node, go; the boxes run them from /usr/bin). Idempotent: installs only what is missing.
deps:
	@missing=""; \
	command -v gcc >/dev/null 2>&1 || missing="$$missing gcc libc6-dev"; \
	[ -e /usr/include/stdio.h ] || missing="$$missing libc6-dev"; \
	[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || missing="$$missing libc6-dev"; \
	[ -e /usr/include/x86_64-linux-gnu/asm/unistd_64.h ] || missing="$$missing linux-libc-dev"; \
	[ -e /usr/include/x86_64-linux-gnu/gnu/stubs-32.h ] || missing="$$missing gcc-multilib"; \
	[ -e "$$(gcc -m32 -print-libgcc-file-name 2>/dev/null)" ] || missing="$$missing gcc-multilib"; \
	command -v qemu-system-x86_64 >/dev/null 2>&1 || missing="$$missing qemu-system-x86"; \
	[ -x /usr/bin/g++ ] || missing="$$missing g++"; \
	[ -x /usr/bin/javac ] || missing="$$missing openjdk-17-jdk-headless"; \
	[ -x /usr/bin/java ] || missing="$$missing openjdk-17-jdk-headless"; \
	[ -x /usr/bin/python3 ] || missing="$$missing python3"; \
	[ -x /usr/bin/zsh ] || missing="$$missing zsh"; \
	[ -x /usr/bin/man ] || missing="$$missing man-db"; \
	[ -x /usr/bin/podman ] || missing="$$missing podman"; \
	[ -x /usr/sbin/runc ] || missing="$$missing runc"; \
	[ -x /usr/sbin/dockerd ] || missing="$$missing docker.io"; \
	[ -x /usr/bin/busybox ] || missing="$$missing busybox-static"; \
	[ -x /usr/bin/fish ] || missing="$$missing fish"; \
	[ -x /usr/bin/node ] || missing="$$missing nodejs"; \
	[ -x /usr/bin/go ] || missing="$$missing golang-go"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

# Installs the binary setuid root, like isolate.
install: build
	install -d $(DESTDIR)$(BINDIR)
	install -o root -g root -m 4755 $(RELEASE) $(DESTDIR)$(BINDIR)/rustbox

# The same binary also as `isolate`: started under that name it reads isolate's
# config file (/usr/local/etc/isolate) and uses isolate's box and lock roots, so
# a judge image made for isolate works by swapping the binary.
install-as-isolate: install
	install -o root -g root -m 4755 $(RELEASE) $(DESTDIR)$(BINDIR)/isolate

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rustbox $(DESTDIR)$(BINDIR)/isolate

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

test-unit:
	$(CARGO) test --locked --lib --bins --test hardening_doc --test completions

# The integration suite and the attack programs run against the binary `make
# install` installs (musl, static, release).
test-integration: build
	@[ "$$(id -u)" = 0 ] || { echo "make test: the integration tests need root (they drive real namespaces)"; exit 1; }
	RUSTBOX_BIN=$(CURDIR)/$(RELEASE) $(CARGO) test --locked --test integration

# The cgroup suite on this host's backend (v1 on the development machine).
test-cgroup:
	@[ "$$(id -u)" = 0 ] || { echo "make test: the cgroup tests need root"; exit 1; }
	$(CARGO) test --locked --test cgroup -- --nocapture

# Replays of real judges (CMS, judge0, Piston, Judgels, ReCodEx, kjudge,
# camisole): each one's own isolate command lines, files and meta reading, with
# rustbox started as `isolate` (tests/clients.rs). test-cgroup-v2 runs them again
# on cgroup v2.
test-clients:
	@[ "$$(id -u)" = 0 ] || { echo "make test: the client replays need root"; exit 1; }
	$(CARGO) test --locked --test clients -- --nocapture

# The cgroup suite and the client replays, statically linked, in a VM with a
# cgroup-v2-only kernel.
test-cgroup-v2: deps
	tests/vm/cgroup-v2.sh

# Setuid operation: a setuid-root copy called by two throw-away users (created
# and removed by the suite), with its own /etc/rustbox/config in a private mount
# namespace.
test-setuid:
	@[ "$$(id -u)" = 0 ] || { echo "make test: the setuid tests need root (they create users)"; exit 1; }
	$(CARGO) test --locked --test setuid

# The fault sweep (docs/faults.md): each system call of a run (supervisor,
# proxy, payload) and of --init/--cleanup failed once, in that process only, as
# root and through the setuid copy, with and without --cg; every injected run
# must end in a named internal error or a run exactly as isolated as a clean one,
# and --cleanup must leave nothing. test-faults: a stratified sample whose offset
# changes from run to run (RUSTBOX_FAULTS_SEED=N repeats one), a few minutes;
# faults: every index.
test-faults:
	@[ "$$(id -u)" = 0 ] || { echo "make test: the fault sweep needs root (ptrace, users, boxes)"; exit 1; }
	RUSTBOX_FAULTS_BUDGET=$(or $(BUDGET),150) $(CARGO) test --locked --test faults -- --nocapture

faults:
	@[ "$$(id -u)" = 0 ] || { echo "make faults: the fault sweep needs root (ptrace, users, boxes)"; exit 1; }
	RUSTBOX_FAULTS=full $(CARGO) test --locked --test faults -- --nocapture

test-trybuild:
	$(CARGO) test --locked --test trybuild

# gcc, g++, javac/java, python3, node, go and rustc programs built and run in a
# box under the default seccomp profile (root; the tools from make deps).
test-runtimes: deps
	@[ "$$(id -u)" = 0 ] || { echo "make test: the runtime tests need root"; exit 1; }
	$(CARGO) test --locked --test runtimes -- --nocapture

# Attack programs of adversarial/ run through rustbox as a judge would (root, gcc).
# .PHONY matters: a directory called adversarial/ exists.
adversarial: build
	RUSTBOX_BIN=$(CURDIR)/$(RELEASE) $(CARGO) test --locked --test adversarial -- --nocapture

# Soak and concurrency (tests/soak.rs): init/run/cleanup cycles with --cg on 32
# boxes at once (CPU, wall and fork-bomb kills among them), then zero leftover
# processes, mounts, cgroups, box dirs, lock files and supervisor descriptors.
# test-soak: 1,000 cycles in all, about a minute, with the debug build the other
# suites use. soak: 10,000 cycles against the release profile, the build that
# make install installs.
test-soak:
	@[ "$$(id -u)" = 0 ] || { echo "make test: the soak test needs root"; exit 1; }
	RUSTBOX_SOAK_CYCLES=1000 $(CARGO) test --locked --test soak -- --nocapture

soak:
	@[ "$$(id -u)" = 0 ] || { echo "make soak: the soak test needs root"; exit 1; }
	RUSTBOX_SOAK_CYCLES=10000 $(CARGO) test --release --locked --test soak -- --nocapture

test: deps lint test-unit test-integration test-setuid test-faults test-cgroup test-container test-podman test-docker test-deb test-clients test-cgroup-v2 test-trybuild test-runtimes adversarial test-soak

# A benchmark, not a test: rustbox next to fork+exec, unshare and bubblewrap.
# It times the binary `make install` installs.
bench: build
	@command -v bwrap >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap; }
	RUSTBOX_BIN=$(CURDIR)/$(RELEASE) $(CARGO) run --release --locked --example bench -- $(or $(RUNS),300)

# The Debian package: target/deb/rustbox_<version>_amd64.deb (packaging/).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
deb: build
	bash packaging/deb.sh $(RELEASE) $(VERSION) target/deb

# Install, upgrade, remove and purge the package on this host (root; it uses
# the package's own roots and purges a rustbox package installed before it).
test-deb: build
	@[ "$$(id -u)" = 0 ] || { echo "make test: the package test needs root"; exit 1; }
	RUSTBOX_BIN=$(CURDIR)/$(RELEASE) $(CARGO) test --locked --test deb -- --nocapture

# The core integration cases and the cgroup suite in a container-like
# environment (tests/container/run.sh, docs/containers.md): the documented
# capability bounding set, private mount/pid/cgroup namespaces, cgroupfs
# read-only but a delegated subtree.
test-container: build
	@[ "$$(id -u)" = 0 ] || { echo "make test: the container test needs root"; exit 1; }
	RUSTBOX_BIN=$(CURDIR)/$(RELEASE) bash tests/container/run.sh

# rustbox in a Docker container, without --privileged, under a Docker daemon
# the test starts and stops itself (tests/container/docker.sh, docs/containers.md).
test-docker: build
	@[ "$$(id -u)" = 0 ] || { echo "make test: the docker test needs root"; exit 1; }
	RUSTBOX_BIN=$(CURDIR)/$(RELEASE) bash tests/container/docker.sh

# rustbox in a rootful podman container, without --privileged
# (tests/container/podman.sh, docs/containers.md).
test-podman: build
	@[ "$$(id -u)" = 0 ] || { echo "make test: the podman test needs root"; exit 1; }
	RUSTBOX_BIN=$(CURDIR)/$(RELEASE) bash tests/container/podman.sh

# The man page and the shell completions, from the options and --help
# (src/request/docs.rs); a unit test fails when the committed ones differ.
docs:
	$(CARGO) run --locked --example gen-docs

clean:
	$(CARGO) clean
