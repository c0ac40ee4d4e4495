#!/bin/bash
# make test-podman: rustbox inside a rootful podman container (Debian's
# podman, with runc: crun refuses this host's hybrid cgroup layout), without
# --privileged, with the settings docs/containers.md gives; the cases are
# tests/container/cases.sh's:
#   1. exactly the eleven capabilities and CAP_SYS_NICE, seccomp and AppArmor
#      unconfined, /proc/sys and cgroupfs read-only as podman mounts them:
#      --check fails naming exactly the cgroup controllers and warns naming
#      cpu.rt_runtime_us (no real-time runtime), a plain run works, a --cg run
#      is refused with the fix;
#   2. the same with a delegated cgroup v1 subtree per controller bound over
#      /sys/fs/cgroup/<controller> and real-time runtime for the container's
#      cpu group (--cpu-rt-runtime, and some in podman's parent group):
#      --check passes with its timing item ok, and --run --cg with a
#      real-time watchdog, --exec and --cleanup work;
#   3. without CAP_SYS_PTRACE: refused, naming the step and the capability;
#   4. under podman's default seccomp profile: runs, with Landlock and the
#      box's own filter.
# The image is made from busybox-static and the release binary; it, the
# delegated groups and everything below them are removed at the end.
set -euo pipefail
: "${RUSTBOX_BIN:?the release binary (make test-podman sets it)}"
deleg=rustbox-pod
image=localhost/rustbox-test-podman
work=$(mktemp -d)
fail() { echo "test-podman: $*" >&2; exit 1; }
ctr() { podman --runtime runc "$@"; }
. "$(dirname "$0")/cases.sh"
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
    cleanup_delegated
    rm -rf "$work"
}
trap cleanup EXIT

make_image

case_read_only_cgroupfs
timing=$(printf '%s\n' "$check_out" | awk '$2 == "capabilities.timing"')
case $timing in
    *" warn "*cpu.rt_runtime_us*) ;;
    *) fail "with no real-time runtime, --check's timing item: $timing" ;;
esac
# podman's parent group (made by the runs above) gets real-time runtime, so
# that runc may give the container's group its share; given back at the end.
[ -f "$rt_parent/cpu.rt_runtime_us" ] || fail "no $rt_parent/cpu.rt_runtime_us after a podman run"
rt_was=$(cat "$rt_parent/cpu.rt_runtime_us")
echo 200000 > "$rt_parent/cpu.rt_runtime_us"
case_delegated
case_one_capability_short
case_default_seccomp runs
echo "test-podman: ok (/proc/sys read-only; read-only cgroupfs refused for --cg with the fix; plain, --cg and --exec runs with a real-time watchdog; a missing capability refused with the fix; runs under podman's default seccomp profile)"
