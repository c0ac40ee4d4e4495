#!/bin/bash
# make test-docker: rustbox inside a Docker container (Debian's docker.io),
# without --privileged, with the settings docs/containers.md gives. The test
# starts a Docker daemon of its own (its own data and exec roots and socket, no
# bridge, no iptables rules, the vfs storage driver, real-time runtime for its
# containers' parent cgroup), so nothing of a Docker already on the host is
# used or changed, and stops it at the end.
# The cases are tests/container/cases.sh's, as for podman (1: read-only
# cgroupfs and /proc/sys; 2: a delegated v1 subtree and real-time runtime;
# 3: one capability short; 4: Docker's default seccomp profile).
# The image, the daemon's files, the delegated groups and the groups the daemon
# made are removed at the end.
set -euo pipefail
: "${RUSTBOX_BIN:?the release binary (make test-docker sets it)}"
docker_bin=/usr/bin/docker   # Debian's client, whatever else is on PATH
[ -x /usr/sbin/dockerd ] && [ -x "$docker_bin" ] || { echo "test-docker: docker.io is not installed (make deps)" >&2; exit 1; }
deleg=rustbox-dock
image=localhost/rustbox-test-docker
run=/run/rb-docker
work=$(mktemp -d /var/tmp/rustbox-docker.XXXXXX)
fail() { echo "test-docker: $*" >&2; [ -f "$work/dockerd.log" ] && tail -n 20 "$work/dockerd.log" >&2; exit 1; }
dk() { "$docker_bin" -H "unix://$run/docker.sock" "$@"; }
ctr() { dk "$@"; }
. "$(dirname "$0")/cases.sh"
base+=(--network=none)

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
    cleanup_delegated
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

make_image
case_read_only_cgroupfs
case_delegated
case_one_capability_short
case_default_seccomp refused
echo "test-docker: ok (Docker $(dk version --format '{{.Server.Version}}'): /proc/sys read-only; read-only cgroupfs refused for --cg with the fix; plain, --cg and --exec runs with a real-time watchdog; a missing capability and Docker's default seccomp profile (at $seccomp_step; --check: $refused) refused with the fix)"
