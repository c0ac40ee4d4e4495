# The cases make test-podman and make test-docker share, sourced by both
# (tests/container/podman.sh, docker.sh). The caller defines:
#   ctr ARGS...   its container command (podman, or docker with its socket);
#   fail MSG      report and exit 1;
#   work          a scratch directory removed at the end;
#   image         the name to import the image as;
#   deleg         the name of the delegated v1 groups to make;
#   RUSTBOX_BIN   the release binary.
# and then calls, in order: make_image, the cases, and cleanup_delegated at the
# end (from its EXIT trap).

# The image: busybox-static and the setuid binary, a config with no clock
# keeper (a container's runs come from one test).
make_image() {
    local r=$work/rootfs
    mkdir -p "$r"/usr/bin "$r"/usr/lib "$r"/usr/local/bin "$r"/etc/rustbox "$r"/var/local/lib \
        "$r"/run "$r"/tmp "$r"/proc "$r"/sys "$r"/dev
    cp /usr/bin/busybox "$r"/usr/bin/
    for a in sh true echo cat grep tr; do ln -s busybox "$r/usr/bin/$a"; done
    ln -s usr/bin "$r"/bin
    ln -s usr/lib "$r"/lib
    install -m 4755 "$RUSTBOX_BIN" "$r"/usr/local/bin/rustbox
    printf 'clock_keeper_idle = 0\n' > "$r"/etc/rustbox/config
    chmod 1777 "$r"/tmp
    tar -C "$r" -cf "$work/rootfs.tar" .
    ctr import "$work/rootfs.tar" "$image" >/dev/null 2>&1 || fail "import the image"
}

# The documented capability set (docs/containers.md) and CAP_SYS_NICE.
caps=(--cap-drop=ALL)
for c in SYS_ADMIN SETUID SETGID SETPCAP CHOWN DAC_OVERRIDE FOWNER KILL NET_ADMIN SYS_PTRACE SYS_TIME SYS_NICE; do
    caps+=(--cap-add="$c")
done
# The ulimits: the runtimes' defaults are above this host's hard limits, which
# only CAP_SYS_RESOURCE (absent from the host's bounding set) could raise.
# /proc/sys stays read-only and masked as the runtime mounts it.
base=(run --rm --ulimit nofile=4096:4096 --ulimit nproc=4096:4096
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined
      --cgroupns=private)

# A command in the container, its status and output in $rc and $out.
in_ctr() {
    set +e
    out=$(ctr "$@" 2>&1)
    rc=$?
    set -e
}

box_run='/usr/local/bin/rustbox --init -b 0 >/dev/null && /usr/local/bin/rustbox --run -b 0'

# 1. cgroupfs read-only, as the runtime mounts it: --check fails naming
# exactly the v1 controllers; a plain run works (with /proc/sys read-only); a
# --cg run is refused with the fix.
case_read_only_cgroupfs() {
    in_ctr "${base[@]}" "${caps[@]}" "$image" /usr/local/bin/rustbox --check
    [ "$rc" = 2 ] || fail "--check with a read-only cgroupfs exited $rc, not 2: $out"
    check_out=$out
    local failed
    failed=$(printf '%s\n' "$out" | awk '$3 == "fail" { print $2 }' | sort | tr '\n' ' ')
    [ "$failed" = "controller.cpu controller.cpuacct controller.freezer controller.memory controller.pids " ] ||
        fail "--check failed other items than the read-only cgroup controllers: $failed ($out)"
    in_ctr "${base[@]}" "${caps[@]}" "$image" /bin/sh -c \
        "$box_run -p5 -- /bin/echo plain run; /usr/local/bin/rustbox --cleanup -b 0"
    printf '%s\n' "$out" | grep -q '^plain run$' || fail "a plain run: $out"
    in_ctr "${base[@]}" "${caps[@]}" "$image" /bin/sh -c "$box_run --cg -- /bin/true"
    [ "$rc" = 2 ] || fail "a --cg run on a read-only cgroupfs exited $rc, not 2: $out"
    printf '%s\n' "$out" | grep -q 'EROFS.*fix: cgroupfs is mounted read-only here' ||
        fail "a --cg run on a read-only cgroupfs: no fix named: $out"
}

# 2. A delegated v1 subtree per controller bound over its mount, and
# real-time runtime for the container's cpu group: --check passes with its
# timing item ok; --run --cg (cg-mem, a real-time watchdog), --exec and
# --cleanup work.
case_delegated() {
    local vols=(--cpu-rt-runtime=100000) c
    for c in memory pids cpu cpuacct freezer cpuset; do
        mkdir -p "/sys/fs/cgroup/$c/$deleg"
        vols+=(-v "/sys/fs/cgroup/$c/$deleg:/sys/fs/cgroup/$c:rw")
    done
    cat /sys/fs/cgroup/cpuset/cpuset.cpus > "/sys/fs/cgroup/cpuset/$deleg/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems > "/sys/fs/cgroup/cpuset/$deleg/cpuset.mems"
    in_ctr "${base[@]}" "${caps[@]}" "${vols[@]}" "$image" /bin/sh -c '
rb=/usr/local/bin/rustbox
$rb --check >/tmp/check || { cat /tmp/check; exit 1; }
grep -q "capabilities.timing *ok" /tmp/check || { echo "timing not ok:"; cat /tmp/check; exit 1; }
$rb --init -b 0 >/dev/null
$rb --run --cg --cg-mem=65536 -b 0 -p5 -t 1 -M /tmp/meta --json=/tmp/run.json -- /bin/echo cg run || exit 1
grep -q "^cg-mem:" /tmp/meta || { echo "no cg-mem in the meta"; cat /tmp/meta; exit 1; }
tr -d "\n " < /tmp/run.json | grep -q "\"applied\":true,\"detail\":\"SCHED_FIFO" || { echo "watchdog not real-time:"; cat /tmp/run.json; exit 1; }
$rb --exec --copy-in=/etc/rustbox/config=c -p5 -- /bin/cat /box/c || exit 1
$rb --cleanup -b 0'
    [ "$rc" = 0 ] || fail "with a delegated cgroup: $out"
    printf '%s\n' "$out" | grep -q '^cg run$' || fail "no --cg run output: $out"
    printf '%s\n' "$out" | grep -q '^clock_keeper_idle = 0$' || fail "no --exec output: $out"
}

# 3. One capability short: refused, naming the step and the capability to add.
case_one_capability_short() {
    local short=() a
    for a in "${caps[@]}"; do
        [ "$a" = --cap-add=SYS_PTRACE ] || short+=("$a")
    done
    in_ctr "${base[@]}" "${short[@]}" "$image" /bin/sh -c "$box_run -- /bin/true"
    [ "$rc" = 2 ] || fail "without CAP_SYS_PTRACE the run exited $rc, not 2: $out"
    printf '%s\n' "$out" | grep -q 'namespaces.verify.*fix: CAP_SYS_PTRACE not among.*--cap-add=SYS_PTRACE' ||
        fail "without CAP_SYS_PTRACE: $out"
}

# 4. The runtime's own seccomp profile (its default). "refused": the run is
# refused naming the call and the profile as the fix, and --check fails naming
# the call as refused here. "runs": the run works, Landlock and the box's own
# filter applied under it.
case_default_seccomp() {
    local expect=$1 own=() a
    for a in "${base[@]}"; do
        if [ "$a" = seccomp=unconfined ]; then unset 'own[-1]'; continue; fi
        own+=("$a")
    done
    in_ctr "${own[@]}" "${caps[@]}" "$image" /bin/sh -c "$box_run -vv -- /bin/true"
    if [ "$expect" = runs ]; then
        [ "$rc" = 0 ] || fail "under the default seccomp profile the run exited $rc: $out"
        printf '%s\n' "$out" | grep -q '^\[landlock verified\]' || fail "no Landlock under the default profile: $out"
        printf '%s\n' "$out" | grep -q '^\[seccomp verified\]' || fail "no box filter under the default profile: $out"
        return 0
    fi
    [ "$rc" = 2 ] || fail "under the default seccomp profile the run exited $rc, not 2: $out"
    local line
    line=$(printf '%s\n' "$out" | grep '^rustbox: ' | tail -n 1)
    printf '%s\n' "$line" | grep -q 'fix: .*seccomp=unconfined' ||
        fail "under the default seccomp profile: no fix named: $out"
    seccomp_step=$(printf '%s\n' "$line" | sed -n 's/^rustbox: \([a-z0-9_.]*\):.*/\1/p')
    in_ctr "${own[@]}" "${caps[@]}" "$image" /usr/local/bin/rustbox --check
    [ "$rc" = 2 ] || fail "--check under the default seccomp profile exited $rc, not 2: $out"
    refused=$(printf '%s\n' "$out" | awk '$1 == "kernel" && $3 == "fail" && /refused here/ { print $2 }' | tr '\n' ' ')
    [ -n "$refused" ] || fail "--check under the default seccomp profile names no refused call: $out"
}

# The delegated groups and everything below them.
cleanup_delegated() {
    local c d
    for c in memory pids cpu cpuacct freezer cpuset; do
        d=/sys/fs/cgroup/$c/$deleg
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
        if [ -d "$d" ]; then echo "$deleg: $d is left" >&2; fi
    done
    return 0
}
