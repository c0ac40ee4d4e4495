#!/usr/bin/env bash
# cgroup-v2.sh - run rustbox's cgroup suite (tests/cgroup.rs), the client
# replays (tests/clients.rs) and the delegation to itself in a container's cgroup
# namespace (tests/vm/delegate.sh) inside a throwaway VM whose kernel has only cgroup v2
# (`cgroup_no_v1=all`), so the v2 backend is tested against a real unified
# hierarchy; the host here only has v1 controllers.
#
# usage: tests/vm/cgroup-v2.sh [TEST-FILTER...]   (run as root from the repository)
#
# What it does:
#   1. builds rustbox and the two test binaries statically (glibc, crt-static) and
#      the probe with gcc -static: the guest has no shared libraries;
#   2. fetches a Debian cloud kernel, busybox-static and bash-static (judge0 and
#      Piston run every program through /bin/bash) with `apt-get download` into
#      $RUSTBOX_VM_CACHE (default /var/cache/rustbox-vm) - nothing is installed on the
#      host by this script; qemu-system-x86 comes from `make deps`;
#   3. packs an initramfs (busybox, bash, the binaries, an init script), boots it
#      with qemu under TCG, and streams the suites' output back over a serial port;
#   4. exits with the first failing suite's exit status, 0 if both pass (125 if
#      the VM itself failed, 124 on timeout, with the guest console shown).
#
# The test filters, if any, are given to both suites.
#
# Environment: RUSTBOX_VM_CACHE, RUSTBOX_VM_MEM (MiB, 1024), RUSTBOX_VM_CPUS (2),
# RUSTBOX_VM_TIMEOUT (seconds, 1500), RUSTBOX_VM_KERNEL (package, linux-image-cloud-amd64).
set -euo pipefail

me=cgroup-v2
die() { echo "$me: $*" >&2; exit 125; }
log() { echo "$me: $*" >&2; }

[ "$(id -u)" = 0 ] || die "must run as root (apt-get download, and the suite drives namespaces)"
cd "$(dirname "$0")/../.."
ROOT=$PWD
CACHE=${RUSTBOX_VM_CACHE:-/var/cache/rustbox-vm}
MEM=${RUSTBOX_VM_MEM:-1024}
CPUS=${RUSTBOX_VM_CPUS:-2}
TIMEOUT=${RUSTBOX_VM_TIMEOUT:-1500}
KPKG=${RUSTBOX_VM_KERNEL:-linux-image-cloud-amd64}
QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not found: run \`make deps\`"

# ------------------------------------------------------------------ static binaries
TARGET=x86_64-unknown-linux-musl
SDIR=$ROOT/target/static
export RUSTFLAGS="-C target-feature=+crt-static"
log "building rustbox, the cgroup suite and the client replays statically"
cargo build --release --locked --target $TARGET --target-dir "$SDIR" >&2
suite_bin() {  # the static test binary of tests/$1.rs
  cargo test --release --locked --no-run --test "$1" --target $TARGET \
      --target-dir "$SDIR" --message-format=json 2>/dev/null |
    sed -n "s/.*\"executable\":\"\\([^\"]*\\/$1-[0-9a-f]*\\)\".*/\\1/p" | tail -n1
}
SUITE=$(suite_bin cgroup)
[ -x "$SUITE" ] || die "could not find the static cgroup test binary"
CLIENTS=$(suite_bin clients)
[ -x "$CLIENTS" ] || die "could not find the static clients test binary"
RUSTBOX=$SDIR/$TARGET/release/rustbox
PROBE=$SDIR/probe
gcc -static -O1 -Wall -Wextra -Werror -pthread -o "$PROBE" tests/probes/probe.c ||
  die "gcc -static failed (is libc6-dev installed? \`make deps\`)"

# ------------------------------------------------------------------ kernel, busybox
mkdir -p "$CACHE/debs"
exec 9>"$CACHE/.lock"
flock 9
download() {  # apt-get download $1 into the cache unless it is there; refresh lists once
  ls "$CACHE/debs/$1"_*.deb >/dev/null 2>&1 && return 0
  log "apt-get download $1"
  (cd "$CACHE/debs" && apt-get -q -o APT::Sandbox::User=root download "$1" >&2) || {
    apt-get -q update >&2 || true
    (cd "$CACHE/debs" && apt-get -q -o APT::Sandbox::User=root download "$1" >&2)
  } || die "apt-get download $1 failed"
}
BB=$CACHE/busybox/bin/busybox
if [ ! -x "$BB" ]; then
  download busybox-static
  rm -rf "$CACHE/busybox"
  dpkg -x "$(ls "$CACHE"/debs/busybox-static_*.deb | head -n1)" "$CACHE/busybox"
  [ -x "$BB" ] || die "busybox-static has no bin/busybox"
fi
BASH_STATIC=$CACHE/bash/bin/bash-static
if [ ! -x "$BASH_STATIC" ]; then
  download bash-static
  rm -rf "$CACHE/bash"
  dpkg -x "$(ls "$CACHE"/debs/bash-static_*.deb | head -n1)" "$CACHE/bash"
  [ -x "$BASH_STATIC" ] || die "bash-static has no bin/bash-static"
fi
if [ ! -f "$CACHE/kernel/vmlinuz" ]; then
  apt-cache show "$KPKG" >/dev/null 2>&1 || apt-get -q update >&2
  # The metapackage names the real image package (linux-image-<abi>-cloud-amd64).
  real=$(apt-cache depends "$KPKG" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$real" ] || die "$KPKG depends on no linux-image package"
  download "$real"
  rm -rf "$CACHE/kernel.tmp"
  dpkg -x "$(ls "$CACHE/debs/$real"_*.deb | head -n1)" "$CACHE/kernel.tmp"
  cp "$CACHE"/kernel.tmp/boot/vmlinuz-* "$CACHE/kernel.tmp/vmlinuz" || die "no vmlinuz in $real"
  rm -rf "$CACHE/kernel.tmp/lib" "$CACHE/kernel.tmp/usr"   # modules: not needed
  rm -rf "$CACHE/kernel"; mv "$CACHE/kernel.tmp" "$CACHE/kernel"
fi
flock -u 9

# ------------------------------------------------------------------ initramfs
W=$(mktemp -d /tmp/rustbox-vm.XXXXXX)
trap 'rm -rf "$W"' EXIT
I=$W/initramfs
# /lib and /usr: rustbox binds them into every box by default.
mkdir -p "$I"/stage/{bin,lib,usr/bin,proc,sys,dev,tmp,etc,opt/rustbox/probes} "$I/newroot"
cp "$BB" "$I/stage/bin/busybox"
cp "$RUSTBOX" "$I/stage/opt/rustbox/rustbox"
cp "$BASH_STATIC" "$I/stage/bin/bash"
# GNU chmod with the glibc files it loads, as on every host CMS runs on: CMS's
# cleanup runs `/bin/chmod 777 -R /tmp` in the box, and busybox's chmod takes
# -R only before the mode. (The binaries under test stay static.)
cp /bin/chmod "$I/stage/bin/chmod"
# util-linux unshare for tests/vm/delegate.sh: busybox's has no --cgroup.
cp /usr/bin/unshare "$I/stage/bin/unshare"
for lib in $(ldd /bin/chmod /usr/bin/unshare | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u); do
  cp -L --parents "$lib" "$I/stage/" || die "copy $lib"
done
cp tests/vm/delegate.sh "$I/stage/opt/rustbox/delegate.sh"
cp "$SUITE" "$I/stage/opt/rustbox/cgroup-suite"
cp "$CLIENTS" "$I/stage/opt/rustbox/clients-suite"
cp "$PROBE" "$I/stage/opt/rustbox/probes/probe"
printf '%s\n' "$@" > "$I/stage/opt/rustbox/filters"

# Stage 1 (the initramfs, pid 1): pivot_root(2) refuses to move the initramfs
# root, and rustbox's chain needs it, so copy everything into a tmpfs and
# switch_root there.
cat > "$I/init" <<'EOF'
#!/stage/bin/busybox sh
B=/stage/bin/busybox
$B mount -t tmpfs -o mode=755 tmpfs /newroot && $B cp -a /stage/. /newroot/ ||
  { echo "RUSTBOX-VM-ERROR stage1"; $B poweroff -f; }
exec $B switch_root /newroot /init2
EOF
# Stage 2: a minimal system with cgroup2 as the only cgroup file system, every
# controller enabled for children of the root (as systemd does), then the suite.
cat > "$I/stage/init2" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin HOME=/ TERM=dumb
fail() { echo "RUSTBOX-VM-ERROR $*"; poweroff -f; }
mount -t proc proc /proc || fail proc
mount -t sysfs sysfs /sys || fail sysfs
mount -t devtmpfs devtmpfs /dev || fail devtmpfs
mount -t tmpfs -o mode=1777 tmpfs /tmp || fail tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail cgroup2
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
  echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || fail "enable $c"
done
echo "root:x:0:0::/:/bin/sh" > /etc/passwd
mkdir -p /etc/alternatives   # CMS binds it into every box (tests/clients/cms.rs)
ip link set lo up
stty -F /dev/ttyS1 raw -echo; stty -F /dev/ttyS2 raw -echo
echo "RUSTBOX-VM-READY $(uname -r) v1 hierarchies: $(awk 'NR>1 && $2!=0' /proc/cgroups | wc -l) controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
cd /opt/rustbox
# Under TCG the guest's clocks run while the host deschedules its vCPU threads:
# CPU-time kills are judged with a wider bar here than on real hardware (10 ms).
export RUSTBOX_BIN=/opt/rustbox/rustbox RUSTBOX_PROBES=/opt/rustbox/probes RUSTBOX_CPU_OVERSHOOT_MS=40
./cgroup-suite --test-threads=2 --nocapture $(cat filters) >/dev/ttyS1 2>&1
rc=$?
echo "== client replays (tests/clients.rs) ==" >/dev/ttyS1
./clients-suite --test-threads=2 --nocapture $(cat filters) >/dev/ttyS1 2>&1
rc2=$?
[ "$rc" = 0 ] && rc=$rc2
echo "== delegation to itself in a container's cgroup namespace (tests/vm/delegate.sh) ==" >/dev/ttyS1
/bin/bash ./delegate.sh >/dev/ttyS1 2>&1
rc3=$?
[ "$rc" = 0 ] && rc=$rc3
echo "$rc" > /dev/ttyS2
sync
poweroff -f
EOF
chmod 755 "$I/init" "$I/stage/init2"
(cd "$I" && find . | "$BB" cpio -o -H newc > "$W/initrd" 2>/dev/null) || die "cpio failed"

# ------------------------------------------------------------------ boot
: > "$W/console"; : > "$W/out"; : > "$W/status"
log "booting $(basename "$(ls "$CACHE"/debs/linux-image-*.deb | head -n1)" .deb) under TCG ($CPUS vCPUs, $MEM MiB)"
t0=$(date +%s)
timeout -k 5 "$TIMEOUT" "$QEMU" -accel tcg,thread=multi -cpu max -M pc -m "$MEM" -smp "$CPUS" \
  -nodefaults -no-user-config -display none -no-reboot \
  -kernel "$CACHE/kernel/vmlinuz" -initrd "$W/initrd" \
  -append "console=ttyS0 cgroup_no_v1=all panic=-1 quiet loglevel=3 rdinit=/init" \
  -serial "file:$W/console" -serial "file:$W/out" -serial "file:$W/status" \
  </dev/null >"$W/qemu.log" 2>&1 &
qpid=$!
tail -c +1 -s 0.2 -f --pid=$qpid "$W/out" &
tpid=$!
qrc=0; wait $qpid || qrc=$?
wait $tpid 2>/dev/null || true
status=$(tr -dc '0-9' < "$W/status")
log "VM ran $(( $(date +%s) - t0 )) s; $(grep -a -o 'RUSTBOX-VM-READY.*' "$W/console" | tr -d '\r' || true)"
if [ -n "$status" ]; then
  exit "$status"
fi
[ "$qrc" = 124 ] && { log "timed out after ${TIMEOUT}s"; tail -n 30 "$W/console" | tr -d '\r' >&2; exit 124; }
log "the guest reported no status (qemu exit $qrc); console:"
tail -n 40 "$W/console" | tr -d '\r' >&2
tail -n 10 "$W/qemu.log" >&2
exit 125
