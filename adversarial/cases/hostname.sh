# hostname: learn the host's name. The box has its own UTS namespace whose host
# name is "rustbox"; the runner also checks that the host's real name never
# appears as "nodename=<host>" in this output.
read -r kernel_name < /proc/sys/kernel/hostname
echo "nodename=$kernel_name"
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
read -r after < /proc/sys/kernel/hostname
if [ "$after" != rustbox ]; then
	echo "ESCAPED: the host name changed to $after"
	exit 1
fi
echo "stopped: sethostname refused"
echo "DEFENDED: hostname: the host's name is hidden and cannot be changed"
