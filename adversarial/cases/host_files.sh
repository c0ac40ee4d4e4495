# host_files: read the host's secrets and identity files. The box's root is a
# tmpfs holding only /bin, /lib, /lib64, /usr, /box, /tmp, /dev and /proc, so
# /etc, /root, /home, /var, /sys, /boot must be absent, and /proc must not show
# the proxy (pid 1, root) or anything of the host.
# Prints "ESCAPED: ..." for each file that is readable, "DEFENDED: ..." if none.
fails=0
n=0
for f in /etc/shadow /etc/gshadow /etc/passwd /etc/group /etc/hostname /etc/machine-id \
         /etc/ssh /etc/rustbox/config /root /root/.ssh /home /var/log /var/local/lib/rustbox \
         /sys/kernel /boot /proc/1/environ /proc/1/cmdline /proc/1/root /proc/1/cwd \
         /usr/../etc/shadow \
         /bin/../etc/passwd /box/../etc/passwd /tmp/../root; do
	n=$((n + 1))
	if [ -e "$f" ] || [ -L "$f" ]; then
		if [ -r "$f" ] && { [ -d "$f" ] || read -r line < "$f"; } 2>/dev/null; then
			echo "ESCAPED: $f exists and is readable"
			fails=$((fails + 1))
		else
			echo "stopped: $f exists but is unreadable"
		fi
	else
		echo "stopped: $f absent"
	fi
done
# Writing outside /box and /tmp: every other mount is read-only.
for d in / /usr /bin /lib /dev; do
	n=$((n + 1))
	if command true > "$d/adv-write-test" 2>/dev/null; then
		echo "ESCAPED: created $d/adv-write-test"
		fails=$((fails + 1))
	else
		echo "stopped: $d is not writable"
	fi
done
if [ "$fails" -eq 0 ]; then
	echo "DEFENDED: host_files: all $n attacks stopped"
else
	echo "ESCAPED: host_files: $fails of $n attacks were not stopped"
	exit 1
fi
