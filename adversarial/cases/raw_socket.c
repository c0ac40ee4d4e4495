/*
 * raw_socket: sniff or forge packets: AF_PACKET (SOCK_RAW and SOCK_DGRAM),
 * AF_INET SOCK_RAW (ICMP, raw IP), AF_INET6 SOCK_RAW. All need CAP_NET_RAW.
 */
#include "adv.h"
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <sys/socket.h>

int main(void)
{
	MUST_FAIL("socket(AF_PACKET, SOCK_RAW)", socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)),
		  EPERM);
	MUST_FAIL("socket(AF_PACKET, SOCK_DGRAM)",
		  socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP)), EPERM);
	MUST_FAIL("socket(AF_INET, SOCK_RAW, ICMP)", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP),
		  EPERM);
	MUST_FAIL("socket(AF_INET, SOCK_RAW, IPPROTO_RAW)",
		  socket(AF_INET, SOCK_RAW, IPPROTO_RAW), EPERM);
	MUST_FAIL("socket(AF_INET6, SOCK_RAW, ICMPV6)",
		  socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), EPERM, EAFNOSUPPORT);
	return finish("raw_socket");
}
