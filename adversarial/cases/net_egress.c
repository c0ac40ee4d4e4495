/*
 * net_egress HOST_PORT ABSTRACT: reach anything outside the box over the network.
 * The box has its own network namespace with only `lo`:
 *  - TCP to 1.1.1.1:53, 10.0.2.2:80 (qemu's host), 192.168.0.1:80, [2606:4700::1111]:53
 *    and UDP sendto 1.1.1.1:53 and 8.8.8.8:53 must fail (no route);
 *  - TCP to 127.0.0.1:HOST_PORT, where the runner listens on the host's loopback,
 *    must be refused (the box's loopback is its own);
 *  - the host's abstract unix socket ABSTRACT (per network namespace) must be
 *    unreachable.
 * A connect is bounded by SO_SNDTIMEO so that a route that drops packets cannot
 * hang us; a timeout means packets left the box, which is an escape.
 */
#include "adv.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <stddef.h>
#include <sys/un.h>

static int tcp_socket(int family)
{
	int s = socket(family, SOCK_STREAM, 0);
	struct timeval tv = {1, 0};
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return s;
}

static void tcp4(const char *ip, int port, int refused_ok)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, ip, &a.sin_addr);
	int s = tcp_socket(AF_INET);
	char what[96];
	snprintf(what, sizeof what, "TCP connect %s:%d", ip, port);
	if (refused_ok)
		MUST_FAIL(what, connect(s, (struct sockaddr *)&a, sizeof a), ECONNREFUSED);
	else
		MUST_FAIL(what, connect(s, (struct sockaddr *)&a, sizeof a), ENETUNREACH,
			  EHOSTUNREACH, ENETDOWN);
	close(s);
}

static void tcp6(const char *ip, int port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	inet_pton(AF_INET6, ip, &a.sin6_addr);
	int s = tcp_socket(AF_INET6);
	if (s < 0) {
		stopped("socket(AF_INET6): %s", en(errno));
		return;
	}
	char what[96];
	snprintf(what, sizeof what, "TCP connect [%s]:%d", ip, port);
	MUST_FAIL(what, connect(s, (struct sockaddr *)&a, sizeof a), ENETUNREACH, EHOSTUNREACH,
		  ENETDOWN, EADDRNOTAVAIL);
	close(s);
}

static void udp4(const char *ip, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, ip, &a.sin_addr);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	char what[96];
	snprintf(what, sizeof what, "UDP sendto %s:%d", ip, port);
	MUST_FAIL(what, sendto(s, "x", 1, 0, (struct sockaddr *)&a, sizeof a), ENETUNREACH,
		  EHOSTUNREACH, ENETDOWN);
	close(s);
}

int main(int argc, char **argv)
{
	int host_port = argc > 1 ? atoi(argv[1]) : 0;
	const char *abstract = argc > 2 ? argv[2] : NULL;

	tcp4("1.1.1.1", 53, 0);
	tcp4("10.0.2.2", 80, 0);
	tcp4("192.168.0.1", 80, 0);
	tcp6("2606:4700:4700::1111", 53);
	udp4("1.1.1.1", 53);
	udp4("8.8.8.8", 53);
	if (host_port > 0)
		tcp4("127.0.0.1", host_port, 1);
	else
		unexpected("no host port given");
	if (abstract) {
		struct sockaddr_un u = {.sun_family = AF_UNIX};
		size_t n = strlen(abstract);
		if (n > sizeof u.sun_path - 1)
			n = sizeof u.sun_path - 1;
		memcpy(u.sun_path + 1, abstract, n);
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		char what[160];
		snprintf(what, sizeof what, "connect to the host's abstract socket @%s", abstract);
		MUST_FAIL(what,
			  connect(s, (struct sockaddr *)&u,
				  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)),
			  ECONNREFUSED);
		close(s);
	}
	return finish("net_egress");
}
