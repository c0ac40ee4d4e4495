#!/bin/bash
# make test-docker: rustbox inside a Docker container (Debian's docker.io),
# without --privileged, with the settings docs/containers.md gives. The test
# starts a Docker daemon of its own (its own data and exec roots and socket, no
# bridge, no iptables rules, the vfs storage driver, real-time runtime for its
# containers' parent cgroup), so nothing of a Docker already on the host is
# used or changed, and stops it at the end.
#   1. exactly the eleven capabilities and CAP_SYS_NICE, seccomp and AppArmor
#      unconfined, /proc/sys writable (systempaths=unconfined), a private
#      cgroup namespace and cgroupfs as Docker mounts it (read-only): --check
#      fails naming exactly the cgroup controllers, and a plain run works;
#   2. the same with a delegated cgroup v1 subtree per controller bound over
#      /sys/fs/cgroup/<controller> and --cpu-rt-runtime: --check passes with
#      its timing item ok, --run --cg (meta cg-mem, a real-time watchdog),
#      --exec and --cleanup work;
#   3. without CAP_SYS_PTRACE: the run is refused, naming the step.
# The image, the daemon's files, the delegated groups and the groups the daemon
# made are removed at the end.
set -euo pipefail
bin=${RUSTBOX_BIN:?the release binary (make test-docker sets it)}
docker_bin=/usr/bin/docker   # Debian's client, whatever else is on PATH
[ -x /usr/sbin/dockerd ] && [ -x "$docker_bin" ] || { echo "test-docker: docker.io is not installed (make deps)" >&2; exit 1; }
deleg=rustbox-dock
image=localhost/rustbox-test-docker
run=/run/rb-docker
work=$(mktemp -d /var/tmp/rustbox-docker.XXXXXX)
fail() { echo "test-docker: $*" >&2; [ -f "$work/dockerd.log" ] && tail -n 20 "$work/dockerd.log" >&2; exit 1; }
dk() { "$docker_bin" -H "unix://$run/docker.sock" "$@"; }

# The daemon's own cgroup parent ("docker" under each hierarchy): removed at
# the end if this test made it.
made_parent=()
for h in /sys/fs/cgroup/*/; do
    [ -d "${h}docker" ] || made_parent+=("${h}docker")
done
dockerd_pid=
cleanup() {
    set +e
    if [ -n "$dockerd_pid" ]; then
        dk rmi -f "$image" >/dev/null 2>&1
        kill "$dockerd_pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$dockerd_pid" 2>/dev/null
    fi
    # The daemon's containerd, if it outlived the daemon.
    pkill -f "containerd --config $run/" 2>/dev/null
    for c in memory pids cpu cpuacct freezer cpuset; do
        d=/sys/fs/cgroup/$c/$deleg
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
        [ -d "$d" ] && echo "test-docker: $d is left" >&2
    done
    for d in "${made_parent[@]}"; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
        [ -d "$d" ] && echo "test-docker: $d is left" >&2
    done
    umount -R "$run" 2>/dev/null
    grep -q " $work" /proc/self/mountinfo && awk -v w="$work" '$5 ~ "^"w {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l
    rm -rf "$work" "$run"
}
trap cleanup EXIT

mkdir -p "$run"
/usr/sbin/dockerd --data-root="$work/data" --exec-root="$run" --pidfile="$run/dockerd.pid" \
    -H "unix://$run/docker.sock" --bridge=none --iptables=false --ip6tables=false \
    --ip-masq=false --userland-proxy=false --storage-driver=vfs --cgroup-parent=docker \
    --cpu-rt-runtime=200000 >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 300); do
    dk version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || fail "dockerd ended"
    sleep 0.1
done
dk version >/dev/null 2>&1 || fail "dockerd did not answer within 30 s"

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
dk import "$work/rootfs.tar" "$image" >/dev/null || fail "docker import"

caps=(--cap-drop=ALL)
for c in SYS_ADMIN SETUID SETGID SETPCAP CHOWN DAC_OVERRIDE FOWNER KILL NET_ADMIN SYS_PTRACE SYS_TIME SYS_NICE; do
    caps+=(--cap-add="$c")
done
# The ulimits: Docker's defaults are above this host's hard limits, which only
# CAP_SYS_RESOURCE (absent from the host's bounding set) could raise.
base=(run --rm --network=none --ulimit nofile=4096:4096 --ulimit nproc=4096:4096
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined
      --security-opt systempaths=unconfined --cgroupns=private)

# 1. cgroupfs read-only, as Docker mounts it.
set +e
out=$(dk "${base[@]}" "${caps[@]}" "$image" /usr/local/bin/rustbox --check 2>&1)
rc=$?
set -e
[ "$rc" = 2 ] || fail "--check with a read-only cgroupfs exited $rc, not 2: $out"
failed=$(printf '%s\n' "$out" | awk '$3 == "fail" { print $2 }' | sort | tr '\n' ' ')
[ "$failed" = "controller.cpu controller.cpuacct controller.freezer controller.memory controller.pids " ] ||
    fail "--check failed other items than the read-only cgroup controllers: $failed ($out)"
out=$(dk "${base[@]}" "${caps[@]}" "$image" /bin/sh -c \
    '/usr/local/bin/rustbox --init -b 0 >/dev/null && /usr/local/bin/rustbox --run -b 0 -p5 -- /bin/echo plain run; /usr/local/bin/rustbox --cleanup -b 0' 2>&1)
printf '%s\n' "$out" | grep -q '^plain run$' || fail "a plain run: $out"

# 2. A delegated v1 subtree per controller, and real-time runtime for the
# container's cpu group (the daemon's --cpu-rt-runtime gave its parent some).
vols=(--cpu-rt-runtime=100000)
for c in memory pids cpu cpuacct freezer cpuset; do
    mkdir -p "/sys/fs/cgroup/$c/$deleg"
    vols+=(-v "/sys/fs/cgroup/$c/$deleg:/sys/fs/cgroup/$c:rw")
done
cat /sys/fs/cgroup/cpuset/cpuset.cpus > "/sys/fs/cgroup/cpuset/$deleg/cpuset.cpus"
cat /sys/fs/cgroup/cpuset/cpuset.mems > "/sys/fs/cgroup/cpuset/$deleg/cpuset.mems"
out=$(dk "${base[@]}" "${caps[@]}" "${vols[@]}" "$image" /bin/sh -c '
rb=/usr/local/bin/rustbox
$rb --check >/tmp/check || { cat /tmp/check; exit 1; }
grep -q "capabilities.timing *ok" /tmp/check || { echo "timing not ok:"; cat /tmp/check; exit 1; }
$rb --init -b 0 >/dev/null
$rb --run --cg --cg-mem=65536 -b 0 -p5 -t 1 -M /tmp/meta --json=/tmp/run.json -- /bin/echo cg run || exit 1
grep -q "^cg-mem:" /tmp/meta || { echo "no cg-mem in the meta"; cat /tmp/meta; exit 1; }
tr -d "\n " < /tmp/run.json | grep -q "\"applied\":true,\"detail\":\"SCHED_FIFO" || { echo "watchdog not real-time:"; cat /tmp/run.json; exit 1; }
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
out=$(dk "${base[@]}" "${short[@]}" "$image" /bin/sh -c \
    '/usr/local/bin/rustbox --init -b 0 >/dev/null && /usr/local/bin/rustbox --run -b 0 -- /bin/true' 2>&1)
rc=$?
set -e
[ "$rc" = 2 ] || fail "without CAP_SYS_PTRACE the run exited $rc, not 2: $out"
printf '%s\n' "$out" | grep -q 'namespaces.verify' || fail "without CAP_SYS_PTRACE: $out"
echo "test-docker: ok (Docker $(dk version --format '{{.Server.Version}}'): read-only cgroupfs refused for --cg by name; plain, --cg and --exec runs with a real-time watchdog; a missing capability refused)"
