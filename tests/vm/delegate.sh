#!/bin/bash
# delegate.sh - run by tests/vm/cgroup-v2.sh inside the cgroup-v2-only VM, after
# the suites: rustbox in a container's setting on cgroup v2 (issue 14, item 1),
# built with the kernel's own tools as a runtime would make it:
#   - the container's group /ct, with memory, pids and cpu delegated to it (its
#     parent enables them) and none enabled for its children, and the
#     container's processes in it (a shell and a stand-in for the judge);
#   - a private cgroup namespace rooted at /ct and cgroupfs mounted afresh in a
#     private mount namespace, so /ct is all of cgroupfs it sees.
# Then:
#   1. `--check` names the delegation it will do;
#   2. `--run --cg` works: rustbox moved the container's processes into
#      /ct/rustbox-leaf and enabled the controllers in /ct (read back), the
#      box's group was /ct/<cg_root>/box-N, the meta has cg-mem, and an OOM
#      is seen; a second run finds it done and writes nothing more;
#   3. nothing was written above /ct, and --cleanup leaves no box group;
#   4. a container whose group was not delegated the controllers: `--run --cg`
#      is refused with one line naming cgroup.controllers, exit 2, and nothing
#      is made or moved.
# Prints "delegate: ok" and exits 0, or the first failure and exits 1.
set -uo pipefail
R=/opt/rustbox/rustbox
C=/sys/fs/cgroup
W=/tmp/delegate
fail() { echo "delegate: FAIL: $*"; exit 1; }
mkdir -p "$W" || fail "mkdir $W"
cat > "$W/config" <<EOF
box_root = $W/boxes
lock_root = $W/locks
first_uid = 69000
first_gid = 69000
num_boxes = 10
cg_root = rustbox/deleg
clock_keeper_idle = 0
EOF
for c in memory pids cpu; do
    grep -qw "$c" $C/cgroup.subtree_control || fail "the VM's root does not enable $c"
done
before_root=$(ls $C | sort)

# The container's group and its processes.
mkdir $C/ct || fail "mkdir $C/ct"
[ -z "$(cat $C/ct/cgroup.subtree_control)" ] || fail "a new group enables controllers for its children"

# "inside": what runs in the container (a new cgroup and mount namespace).
cat > "$W/inside" <<'EOF'
set -uo pipefail
fail() { echo "delegate: FAIL (inside): $*"; exit 1; }
RB=("$R" "--config=$W/config")
# The host's cgroupfs goes; a new mount shows the namespace's root.
umount /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup 2>&1 || fail "mount cgroup2"
C=/sys/fs/cgroup
grep -qx '0::/' /proc/self/cgroup || fail "not at the root of the cgroup namespace: $(cat /proc/self/cgroup)"
sleep 600 & judge=$!
out=$("${RB[@]}" --check 2>&1)
printf '%s\n' "$out" | grep -q 'backend .*ok .*rustbox-leaf' || fail "--check does not name the delegation: $out"
"${RB[@]}" --init -b 3 >/dev/null || fail "--init"
"${RB[@]}" --run --cg --cg-mem=32768 -b 3 -M "$W/meta" --json="$W/run.json" -- /bin/true 2>/dev/null || fail "--run --cg: $(cat "$W/run.json" 2>/dev/null)"
grep -q '^cg-mem:' "$W/meta" || fail "no cg-mem in the meta: $(cat "$W/meta")"
grep -q '"cgroup.delegate"' "$W/run.json" || fail "no cgroup.delegate control: $(cat "$W/run.json")"
echo "delegate: first run: $(tr -d '\n' < "$W/run.json" | grep -o '"detail": *"[^"]*rustbox-leaf[^"]*"')"
grep -q '/sys/fs/cgroup/rustbox/deleg/box-3' "$W/run.json" || fail "the box's group is not below the container's: $(cat "$W/run.json")"
for c in memory pids cpu; do
    grep -qw "$c" $C/cgroup.subtree_control || fail "$c is not enabled in the container's group: $(cat $C/cgroup.subtree_control)"
done
[ -z "$(cat $C/cgroup.procs)" ] || fail "processes left in the container's group: $(cat $C/cgroup.procs)"
grep -qx "$judge" $C/rustbox-leaf/cgroup.procs || fail "the judge ($judge) is not in rustbox-leaf: $(cat $C/rustbox-leaf/cgroup.procs)"
grep -qx "$$" $C/rustbox-leaf/cgroup.procs || fail "the container's shell is not in rustbox-leaf"
# An OOM: the memory controller is the box's.
"${RB[@]}" --run --cg --cg-mem=16384 -b 3 -M "$W/meta2" --json="$W/run2.json" -- /bin/bash -c 'printf -v x "%0100000000d" 0; echo ${#x}' >/dev/null 2>&1
grep -q '^cg-oom-killed:1' "$W/meta2" || fail "no OOM kill seen: $(cat "$W/meta2")"
grep -q '"cgroup.delegate"' "$W/run2.json" && fail "the second run delegated again"
"${RB[@]}" --cleanup -b 3 || fail "--cleanup"
[ ! -e $C/rustbox/deleg/box-3 ] || fail "the box's group is left"
kill $judge
echo "delegate: inside ok"
EOF
export R W
(
    echo $BASHPID > $C/ct/cgroup.procs || fail "into /ct"
    exec unshare --cgroup --mount --propagation private -- /bin/bash "$W/inside"
) || fail "inside the container"

# 3. Nothing above /ct: the root's listing is as it was, plus /ct.
after_root=$(ls $C | sort)
printf '%s\n' "$before_root" > "$W/before"
added=$(printf '%s\n' "$after_root" | grep -vxF -f "$W/before" | tr '\n' ' ')
[ "$added" = "ct " ] || fail "groups made above the container's: $added"
[ -d $C/ct/rustbox-leaf ] || fail "no $C/ct/rustbox-leaf"

# 4. Not delegated: /nd enables nothing for its children, so /nd/ct has no
# controllers at all.
mkdir -p $C/nd/ct || fail "mkdir $C/nd/ct"
[ -z "$(cat $C/nd/ct/cgroup.controllers)" ] || fail "/nd/ct has controllers"
out=$(
    echo $BASHPID > $C/nd/ct/cgroup.procs || exit 99
    exec unshare --cgroup --mount --propagation private -- /bin/bash -c "
        umount /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup || exit 98
        $R --config=$W/config --init -b 4 >/dev/null || exit 97
        $R --config=$W/config --run --cg -b 4 -- /bin/true; rc=\$?
        $R --config=$W/config --cleanup -b 4
        exit \$rc" 2>&1
)
rc=$?
[ "$rc" = 2 ] || fail "without delegated controllers --run --cg exited $rc, not 2: $out"
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "not one line: $out"
printf '%s\n' "$out" | grep -q 'cgroup.controllers' || fail "the refusal does not name cgroup.controllers: $out"
echo "delegate: refused as expected: $out"
[ ! -e $C/nd/ct/rustbox-leaf ] || fail "a leaf was made in a group that could not be delegated"
[ ! -e $C/nd/ct/rustbox ] || fail "a box group was made in a group that could not be delegated"

# Clean up what this script made, deepest first (the shells have ended; the
# leaf's last processes were this script's subshells).
for d in $C/ct/rustbox/deleg $C/ct/rustbox $C/ct/rustbox-leaf $C/ct $C/nd/ct $C/nd; do
    [ -d "$d" ] && { rmdir "$d" || fail "rmdir $d: $(cat "$d/cgroup.procs" 2>/dev/null)"; }
done
echo "delegate: ok"
