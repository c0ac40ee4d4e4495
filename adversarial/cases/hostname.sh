# hostname: learn the host's name. The box has its own UTS namespace whose host
# name is "rustbox"; the runner also checks that the host's real name never
# appears as "nodename=<host>" in this output. /proc shows only the box's
# processes (subset=pid), so /proc/sys/kernel/hostname is normally absent; if a
# rule mounts the whole procfs, it must say rustbox too.
kernel_name=rustbox
if [ -e /proc/sys/kernel/hostname ]; then
	read -r kernel_name < /proc/sys/kernel/hostname
	echo "nodename=$kernel_name"
else
	echo "stopped: /proc/sys/kernel/hostname absent"
fi
uname_name=$(uname -n)
echo "nodename=$uname_name"
if [ "$kernel_name" = rustbox ] && [ "$uname_name" = rustbox ]; then
	echo "stopped: the host name is hidden (rustbox)"
else
	echo "ESCAPED: the host name is not rustbox"
	exit 1
fi
if hostname adv-changed 2>/dev/null || { echo adv-changed > /proc/sys/kernel/hostname; } 2>/dev/null; then
	echo "ESCAPED: the host name could be changed"
	exit 1
fi
after=$(uname -n)
if [ "$after" != rustbox ]; then
	echo "ESCAPED: the host name changed to $after"
	exit 1
fi
echo "stopped: sethostname refused"
echo "DEFENDED: hostname: the host's name is hidden and cannot be changed"
