# box_plant: plant links and FIFOs in the box's own directories (/box, /tmp) for
# the judge's next step to stumble on: a later run with -M, --json, -o, -i or
# --dir naming that path, --init or --cleanup walking the box. The runner runs this
# as a "before" step; what must hold is checked on the host afterwards (the runner's
# victim file and directory are untouched, the later run is refused or harmless).
# usage: box_plant.sh symlink TARGET LINK | fifo PATH | say TEXT | forge PATH TEXT ...
# (forge writes TEXT into PATH, and the script then exits 3)
rc=0
while [ $# -gt 0 ]; do
	case $1 in
	symlink)
		ln -s "$2" "$3" || { echo "UNEXPECTED: ln -s $2 $3 failed"; exit 1; }
		echo "planted: $3 -> $2"
		shift 3
		;;
	fifo)
		mkfifo "$2" || { echo "UNEXPECTED: mkfifo $2 failed"; exit 1; }
		echo "planted: FIFO $2"
		shift 2
		;;
	forge)
		printf '%s\n' "$3" > "$2" || { echo "UNEXPECTED: cannot write $2"; exit 1; }
		echo "forged: $2"
		rc=3
		shift 3
		;;
	say)
		echo "$2"
		shift 2
		;;
	*)
		echo "UNEXPECTED: unknown command $1"
		exit 2
		;;
	esac
done
exit $rc
