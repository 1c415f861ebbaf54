/*
 * udpblast: a cheap UDP load for bench_enforcers.sh. iperf3 sends one datagram per system call,
 * so on a small machine its own send path costs more than everything the enforcers do; this
 * sends in batches of 64 (sendmmsg) and receives likewise (recvmmsg), so the CPU left to
 * measure is the network's. Bounded in time: it stops by itself.
 *
 *   udpblast send ADDR PORT PAYLOAD_BYTES SECONDS BPS   prints "sent N"
 *   udpblast recv PORT SECONDS                          prints "received N"
 *
 * BPS paces the sender on the wire (payload + 42 bytes of headers); it sends as fast as it
 * can if it cannot reach it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_PAYLOAD 1472

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int usage(void)
{
	fprintf(stderr, "usage: udpblast send ADDR PORT PAYLOAD_BYTES SECONDS BPS\n"
			"       udpblast recv PORT SECONDS\n");
	return 2;
}

static int blast(const char *addr, int port, size_t payload, double secs, double bps)
{
	static char buf[MAX_PAYLOAD];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct mmsghdr msgs[BATCH];
	struct iovec iov = { buf, payload };
	uint64_t start, end, sent = 0, ns_per_pkt;
	int fd;

	if (inet_pton(AF_INET, addr, &to.sin_addr) != 1 || payload > MAX_PAYLOAD)
		return usage();
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		perror("udpblast");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	ns_per_pkt = (uint64_t)(1e9 * (double)(payload + 42) * 8 / bps);
	start = now_ns();
	end = start + (uint64_t)(secs * 1e9);
	for (uint64_t t = start; t < end; t = now_ns()) {
		uint64_t due = start + sent * ns_per_pkt;
		int n;

		if (due > t) { /* ahead of the pace: wait for it */
			struct timespec d = { 0, (long)(due - t) };

			nanosleep(&d, NULL);
			continue;
		}
		n = sendmmsg(fd, msgs, BATCH, 0);
		if (n > 0)
			sent += (uint64_t)n;
		else if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED)
			break;
	}
	printf("sent %llu\n", (unsigned long long)sent);
	close(fd);
	return 0;
}

static int sink(int port, double secs)
{
	static char bufs[BATCH][2048];
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 0, 100000 };
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint64_t end, got = 0;
	int fd, size = 4 << 20;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		perror("udpblast");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	end = now_ns() + (uint64_t)(secs * 1e9);
	while (now_ns() < end) {
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);

		if (n > 0)
			got += (uint64_t)n;
	}
	printf("received %llu\n", (unsigned long long)got);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "send"))
		return blast(argv[2], atoi(argv[3]), (size_t)atol(argv[4]), atof(argv[5]),
			     atof(argv[6]));
	if (argc == 4 && !strcmp(argv[1], "recv"))
		return sink(atoi(argv[2]), atof(argv[3]));
	return usage();
}
