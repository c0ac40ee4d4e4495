#!/bin/bash
# make test-container: the integration suite and the cgroup suite inside a
# container-like environment made with the kernel's own tools, the way a
# container runtime with a private cgroup namespace gives rustbox its place
# (docs/containers.md):
#   - a capability bounding set of exactly the documented eleven
#     (src/check/mod.rs NEEDED_CAPS) and CAP_SYS_NICE, which the timing
#     tests need (the watchdog's real-time priority);
#   - private mount, pid and cgroup namespaces, a /proc of its own;
#   - the container's cgroup, <hierarchy>/rustbox-ct in each hierarchy, is the
#     root of its cgroup namespace; cgroupfs is mounted afresh inside, so that
#     is all of cgroupfs it sees and may write; /sys/fs/cgroup itself is a
#     read-only tmpfs. Nothing above the delegated group is reachable.
# The delegated groups are made before and removed after; nothing else of the
# host is changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${RUSTBOX_BIN:?the release binary (make test-container sets it)}
deleg=rustbox-ct
rt_budget=100000
caps=-all,+chown,+dac_override,+fowner,+kill,+setgid,+setuid,+setpcap,+net_admin,+sys_admin,+sys_ptrace,+sys_time,+sys_nice

# "mount point|fstype|super options" of every cgroup hierarchy.
hierarchies() {
    awk '{ for (i = 1; i <= NF; i++) if ($i == "-") {
             if ($(i+1) == "cgroup" || $(i+1) == "cgroup2") print $5 "|" $(i+1) "|" $(i+3); break } }' \
        /proc/self/mountinfo
}

made=()
cleanup() {
    for d in "${made[@]}"; do
        # Below it only what the suites made: empty groups at most, after a
        # failed run; removed deepest first. Moved back out first: this shell.
        echo $$ > "${d%/$deleg}/cgroup.procs" 2>/dev/null || true
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        if [ -d "$d" ]; then
            echo "test-container: $d is left" >&2
        fi
    done
}
trap cleanup EXIT
while IFS='|' read -r mnt _ _; do
    d=$mnt/$deleg
    [ -d "$d" ] || { mkdir "$d"; made+=("$d"); }
    # A new v1 cpu group has no real-time runtime, so the watchdog could not
    # run at SCHED_FIFO in it: a runtime gives it some when asked
    # (docker/podman --cpu-rt-runtime); the timing tests need it.
    if [ -f "$d/cpu.rt_runtime_us" ]; then
        echo "$rt_budget" > "$d/cpu.rt_runtime_us"
    fi
    # A new v1 cpuset group starts empty and cannot take tasks.
    if [ -f "$mnt/cpuset.cpus" ] && [ -z "$(cat "$d/cpuset.cpus")" ]; then
        cat "$mnt/cpuset.cpus" > "$d/cpuset.cpus"
        cat "$mnt/cpuset.mems" > "$d/cpuset.mems"
    fi
    # This shell (and so the container) into the delegated group.
    echo $$ > "$d/cgroup.procs"
done < <(hierarchies)

inside=$(cat <<'INNER'
set -euo pipefail
mount -t tmpfs -o mode=0755,size=1m rustbox-ct-cgroupfs /sys/fs/cgroup
while IFS='|' read -r mnt fstype opts; do
    mkdir -p "$mnt"
    # Inside the cgroup namespace a new cgroupfs mount shows the namespace's
    # root, the delegated group, as its "/".
    mount -t "$fstype" -o "${opts#rw,}" rustbox-ct "$mnt"
done <<< "$HIERARCHIES"
mount -o remount,ro,bind /sys/fs/cgroup
# Proof of the setting before anything runs: the cgroup rustbox is in is the
# namespace's root, and the host's groups above it are nowhere to be seen.
grep -q '^[0-9]*:memory:/$' /proc/self/cgroup || { echo "test-container: not at the root of a cgroup namespace" >&2; cat /proc/self/cgroup >&2; exit 1; }
if [ -d /sys/fs/cgroup/memory/rustbox-ct ] || [ -d /sys/fs/cgroup/memory/system.slice ]; then
    echo "test-container: the host's groups are visible" >&2; exit 1
fi
# The watchdog's priority, both ways (src/check/mod.rs realtime_item): with no
# real-time runtime in the container's cpu group (a container's default),
# --check warns and names cpu.rt_runtime_us; with the budget given, it is ok.
# --check exits 2 when any item fails (here, e.g., a box root that is not made
# yet): only this item is judged, so its exit status is 0 or 2, anything else
# is an error.
timing() {
    local json rc=0
    json=$(setpriv --bounding-set="$CAPS" -- "$BIN" --check --json=-) || rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 2 ] || { echo "test-container: --check exited $rc" >&2; return 1; }
    printf '%s' "$json" | python3 -c '
import json, sys
items = [i for i in json.load(sys.stdin)["checks"] if i["name"] == "capabilities.timing"]
assert len(items) == 1, items
print(items[0]["status"], items[0]["detail"])'
}
rt=
for f in /sys/fs/cgroup/*/cpu.rt_runtime_us; do
    [ -f "$f" ] && { rt=$f; break; }
done
if [ -n "$rt" ]; then
    echo 0 > "$rt"
    got=$(timing)
    case $got in
        "warn "*cpu.rt_runtime_us*) ;;
        *) echo "test-container: with no real-time runtime --check says: $got" >&2; exit 1 ;;
    esac
    echo "test-container: no real-time runtime: $got" >&2
    echo "$RT_BUDGET" > "$rt"
fi
got=$(timing)
echo "test-container: real-time runtime $RT_BUDGET us: $got" >&2
case $got in
    "ok "*) ;;
    *) echo "test-container: --check's timing item is not ok: $got" >&2; exit 1 ;;
esac
# The suites' own test threads (as make test-cgroup runs them: more would load
# the two CPUs under the timing tests, whose kill overshoot is bounded to 10 ms).
# The namespace's pid 1 is a container's init (docker --init, tini): it reaps
# whatever is orphaned into it (the clock keeper's double fork) and ends with
# the suites' exit status.
exec python3 -c '
import os, subprocess, sys
main = subprocess.Popen(sys.argv[1:])
while True:
    pid, status = os.waitpid(-1, 0)
    if pid == main.pid:
        sys.exit(os.waitstatus_to_exitcode(status))
' setpriv --bounding-set="$CAPS" -- env RUSTBOX_BIN="$BIN" \
    cargo test --locked --test integration --test cgroup -- ${CT_FILTER:-}
INNER
)
HIERARCHIES="$(hierarchies)" CAPS=$caps RT_BUDGET=$rt_budget BIN=$bin CT_FILTER="${CT_FILTER:-}" \
    unshare --mount --pid --fork --cgroup --mount-proc --propagation private -- bash -c "$inside"
