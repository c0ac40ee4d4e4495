# fork_bomb.sh: the classic shell fork bomb, kept going: every member forks two
# more, and the first shell relaunches it forever. dash gives up at its first
# failed fork, so the bomb runs under bash (Debian essential), which retries.
# Under -p10 the box can never hold more than 10 processes; the runner watches
# the box uid's process count from the host while it runs, the wall limit ends
# it (TLE), and --cleanup must find nothing left.
if [ -z "$BASH_VERSION" ]; then
	exec /bin/bash "$0" "$@"
fi
bomb() { bomb | bomb & }
while :; do
	bomb
done
