#!/bin/bash
# make test-podman: rustbox inside a rootful podman container (Debian's
# podman, with runc: crun refuses this host's hybrid cgroup layout), without
# --privileged, with the settings docs/containers.md gives:
#   1. exactly the eleven capabilities, seccomp and AppArmor unconfined,
#      /proc/sys unmasked, cgroupfs as podman mounts it (read-only): --check
#      fails naming exactly the cgroup controllers, and a plain run works;
#   2. the same with a delegated cgroup v1 subtree per controller bound over
#      /sys/fs/cgroup/<controller>: --check passes, and --run --cg, --exec and
#      --cleanup work;
#      With real-time runtime for the container's cpu group
#      (--cpu-rt-runtime, and some in podman's parent group), --check's
#      timing item is ok and the watchdog runs at SCHED_FIFO; without it,
#      --check warns naming cpu.rt_runtime_us;
#   3. without CAP_SYS_PTRACE: the run is refused, naming the step.
# The image is made from busybox-static and the release binary; it, the
# delegated groups and everything below them are removed at the end.
set -euo pipefail
bin=${RUSTBOX_BIN:?the release binary (make test-podman sets it)}
deleg=rustbox-pod
image=localhost/rustbox-test-podman
work=$(mktemp -d)
fail() { echo "test-podman: $*" >&2; exit 1; }
rt_parent=/sys/fs/cgroup/cpu/libpod_parent
rt_was=
# podman's own cgroup parent (libpod_parent, with conmon's group below it):
# removed at the end if this test's runs made it.
made_parent=()
for h in /sys/fs/cgroup/*/; do
    [ -d "${h}libpod_parent" ] || made_parent+=("${h}libpod_parent")
done
cleanup() {
    if [ -n "$rt_was" ]; then echo "$rt_was" > "$rt_parent/cpu.rt_runtime_us" || true; fi
    for d in "${made_parent[@]}"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
        if [ -d "$d" ]; then echo "test-podman: $d is left" >&2; fi
    done
    podman rmi -f "$image" >/dev/null 2>&1 || true
    for c in memory pids cpu cpuacct freezer cpuset; do
        d=/sys/fs/cgroup/$c/$deleg
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
        if [ -d "$d" ]; then echo "test-podman: $d is left" >&2; fi
    done
    rm -rf "$work"
}
trap cleanup EXIT

r=$work/rootfs
mkdir -p "$r"/usr/bin "$r"/usr/lib "$r"/usr/local/bin "$r"/etc/rustbox "$r"/var/local/lib "$r"/run "$r"/tmp "$r"/proc "$r"/sys "$r"/dev
cp /usr/bin/busybox "$r"/usr/bin/
for a in sh true echo cat grep tr; do ln -s busybox "$r/usr/bin/$a"; done
ln -s usr/bin "$r"/bin
ln -s usr/lib "$r"/lib
install -m 4755 "$bin" "$r"/usr/local/bin/rustbox
printf 'clock_keeper_idle = 0\n' > "$r"/etc/rustbox/config
chmod 1777 "$r"/tmp
tar -C "$r" -cf "$work/rootfs.tar" .
podman import "$work/rootfs.tar" "$image" >/dev/null 2>&1

caps=(--cap-drop=ALL)
for c in SYS_ADMIN SETUID SETGID SETPCAP CHOWN DAC_OVERRIDE FOWNER KILL NET_ADMIN SYS_PTRACE SYS_TIME SYS_NICE; do
    caps+=(--cap-add="$c")
done
# The ulimits: podman's defaults are above this host's hard limits, which
# only CAP_SYS_RESOURCE (absent from the host's bounding set) could raise.
base=(--runtime runc run --rm --ulimit nofile=4096:4096 --ulimit nproc=4096:4096
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined
      --security-opt unmask=ALL --cgroupns=private)

# 1. cgroupfs read-only, as podman mounts it.
set +e
out=$(podman "${base[@]}" "${caps[@]}" "$image" /usr/local/bin/rustbox --check 2>&1)
rc=$?
set -e
[ "$rc" = 2 ] || fail "--check with a read-only cgroupfs exited $rc, not 2: $out"
failed=$(printf '%s\n' "$out" | awk '$3 == "fail" { print $2 }' | sort | tr '\n' ' ')
[ "$failed" = "controller.cpu controller.cpuacct controller.freezer controller.memory controller.pids " ] ||
    fail "--check failed other items than the read-only cgroup controllers: $failed"
timing=$(printf '%s\n' "$out" | awk '$2 == "capabilities.timing"')
case $timing in
    *" warn "*cpu.rt_runtime_us*) ;;
    *) fail "with no real-time runtime, --check's timing item: $timing" ;;
esac
out=$(podman "${base[@]}" "${caps[@]}" "$image" /bin/sh -c \
    '/usr/local/bin/rustbox --init -b 0 >/dev/null && /usr/local/bin/rustbox --run -b 0 -p5 -- /bin/echo plain run; /usr/local/bin/rustbox --cleanup -b 0' 2>&1)
printf '%s\n' "$out" | grep -q '^plain run$' || fail "a plain run: $out"

# 2. A delegated v1 subtree per controller, and real-time runtime: podman's
# parent group (made by the runs above) gets some, so that runc may give the
# container's group its share; given back at the end.
[ -f "$rt_parent/cpu.rt_runtime_us" ] || fail "no $rt_parent/cpu.rt_runtime_us after a podman run"
rt_was=$(cat "$rt_parent/cpu.rt_runtime_us")
echo 200000 > "$rt_parent/cpu.rt_runtime_us"
vols=(--cpu-rt-runtime=100000)
for c in memory pids cpu cpuacct freezer cpuset; do
    mkdir -p "/sys/fs/cgroup/$c/$deleg"
    vols+=(-v "/sys/fs/cgroup/$c/$deleg:/sys/fs/cgroup/$c:rw")
done
cat /sys/fs/cgroup/cpuset/cpuset.cpus > "/sys/fs/cgroup/cpuset/$deleg/cpuset.cpus"
cat /sys/fs/cgroup/cpuset/cpuset.mems > "/sys/fs/cgroup/cpuset/$deleg/cpuset.mems"
out=$(podman "${base[@]}" "${caps[@]}" "${vols[@]}" "$image" /bin/sh -c '
rb=/usr/local/bin/rustbox
$rb --check >/tmp/check || { cat /tmp/check; exit 1; }
grep -q "capabilities.timing *ok" /tmp/check || { echo "timing not ok:"; cat /tmp/check; exit 1; }
$rb --init -b 0 >/dev/null
$rb --run --cg --cg-mem=65536 -b 0 -p5 -t 1 -M /tmp/meta --json=/tmp/run.json -- /bin/echo cg run || exit 1
tr -d "\n " < /tmp/run.json | grep -q "\"applied\":true,\"detail\":\"SCHED_FIFO" || { echo "watchdog not real-time:"; cat /tmp/run.json; exit 1; }
grep -q "^cg-mem:" /tmp/meta || { echo "no cg-mem in the meta"; cat /tmp/meta; exit 1; }
$rb --exec --copy-in=/etc/rustbox/config=c -p5 -- /bin/cat /box/c || exit 1
$rb --cleanup -b 0' 2>&1) || fail "with a delegated cgroup: $out"
printf '%s\n' "$out" | grep -q '^cg run$' || fail "no --cg run output: $out"
printf '%s\n' "$out" | grep -q '^clock_keeper_idle = 0$' || fail "no --exec output: $out"

# 3. One capability short: refused, naming the step.
short=()
for a in "${caps[@]}"; do
    [ "$a" = --cap-add=SYS_PTRACE ] || short+=("$a")
done
set +e
out=$(podman "${base[@]}" "${short[@]}" "$image" /bin/sh -c \
    '/usr/local/bin/rustbox --init -b 0 >/dev/null && /usr/local/bin/rustbox --run -b 0 -- /bin/true' 2>&1)
rc=$?
set -e
[ "$rc" = 2 ] || fail "without CAP_SYS_PTRACE the run exited $rc, not 2: $out"
printf '%s\n' "$out" | grep -q 'namespaces.verify' || fail "without CAP_SYS_PTRACE: $out"
echo "test-podman: ok (read-only cgroupfs refused for --cg by name; plain, --cg and --exec runs; a missing capability refused)"
