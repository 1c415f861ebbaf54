/*
 * bench_hook: what the netfront hook costs per packet, measured by the kernel itself
 * (BPF_PROG_TEST_RUN: the program run N times on a packet, the mean time per run), with delay
 * sampling off and at 1 packet in 64 and in 16, for 64- and 1514-byte frames. Each figure is
 * over 256 different packets (their signatures differ, so about 1 in N is sampled, as on the
 * wire), ROUNDS times; the median round is printed. Needs root.
 *
 *   bench_hook [REPEAT_PER_PACKET [ROUNDS]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "netfront.h"
#include "netfront.skel.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#define PACKETS 256

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* An Ethernet + IPv4 + UDP frame of len bytes, the i-th of a flow (IP id and payload differ). */
static void frame(unsigned char *p, size_t len, unsigned i)
{
	memset(p, 0, len);
	memcpy(p, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
	p[14] = 0x45;
	p[16] = (unsigned char)((len - 14) >> 8);
	p[17] = (unsigned char)(len - 14);
	p[18] = (unsigned char)(i >> 8);
	p[19] = (unsigned char)i;
	p[22] = 64;
	p[23] = 17;
	memcpy(p + 26, "\xc6\x12\x00\x01\xc6\x12\x00\xfe", 8); /* 198.18.0.1 -> .254 */
	p[34] = 0x14;
	p[36] = 0x14;
	p[38] = (unsigned char)((len - 34) >> 8);
	p[39] = (unsigned char)(len - 34);
	for (size_t k = 42; k + 4 <= len; k += 4) /* iperf3-like: a sequence number */
		memcpy(p + k, &i, 4);
}

static double run(struct netfront_bpf *skel, size_t len, unsigned repeat)
{
	unsigned char pkt[1514];
	struct __sk_buff ctx = { .ifindex = 1 };
	double total = 0;

	for (unsigned i = 0; i < PACKETS; i++) {
		DECLARE_LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
				    .data_size_in = (__u32)len, .ctx_in = &ctx,
				    .ctx_size_in = sizeof(ctx), .repeat = repeat);

		frame(pkt, len, i * 7919u);
		if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.netfront_egress), &o)) {
			perror("BPF_PROG_TEST_RUN");
			exit(1);
		}
		if (o.retval != TC_ACT_OK) {
			fprintf(stderr, "the hook did not pass the packet (%u)\n", o.retval);
			exit(1);
		}
		total += o.duration;
	}
	return total / PACKETS;
}

static int drain(void *ctx, void *data, size_t size)
{
	(void)ctx, (void)data, (void)size;
	return 0;
}

/* How many of the PACKETS frames of len bytes are sampled at 1 in every. */
static unsigned sampled(size_t len, unsigned every)
{
	unsigned char pkt[1514];
	__u32 w[NETFRONT_SIG_BYTES / 4];
	unsigned k = 0;

	for (unsigned i = 0; every && i < PACKETS; i++) {
		frame(pkt, len, i * 7919u);
		memcpy(w, pkt + NETFRONT_L2_BYTES, netfront_sig_len((__u32)len));
		k += !(netfront_sig(w, netfront_sig_len((__u32)len), (__u32)len) & (every - 1));
	}
	return k;
}

int main(int argc, char **argv)
{
	unsigned repeat = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	static const unsigned every[] = { 0, 64, 16 };
	static const size_t lens[] = { 64, 1514 };
	struct netfront_key key = { 0 };
	struct netfront_limit unlimited = { 0 };
	struct netfront_bucket zero;
	socklen_t sl = sizeof(key.netns_cookie);
	__u32 slot = 0, z = 0;
	struct netfront_bpf *skel = netfront_bpf__open();
	struct ring_buffer *rb;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	if (!skel || s < 0 || getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, &key.netns_cookie, &sl)) {
		perror("bench_hook");
		return 1;
	}
	bpf_program__set_autoload(skel->progs.netfront_uplink, false);
	if (netfront_bpf__load(skel)) {
		perror("bench_hook: load (root?)");
		return 1;
	}
	key.ifindex = 1; /* lo: the device the test runs see */
	memset(&zero, 0, sizeof(zero));
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.vif_slot), &key, &slot, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.limits), &slot, &unlimited, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.buckets), &slot, &zero, BPF_ANY)) {
		perror("bench_hook: maps");
		return 1;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.samples), drain, NULL, NULL);
	printf("netfront hook, ns per packet (kernel BPF_PROG_TEST_RUN), median of %d rounds of "
	       "%d packets x %u runs\n",
	       rounds, PACKETS, repeat);
	printf("%-12s %10s %10s %16s\n", "sampling", "64 B", "1514 B", "sampled of 256");
	for (size_t e = 0; e < sizeof(every) / sizeof(every[0]); e++) {
		struct netfront_config c = { .sample_mask = every[e] ? every[e] - 1 : 0,
					     .sample_on = every[e] != 0 };
		double med[2];

		bpf_map_update_elem(bpf_map__fd(skel->maps.config), &z, &c, BPF_ANY);
		for (size_t l = 0; l < 2; l++) {
			double r[32];

			for (int k = 0; k < rounds && k < 32; k++) {
				r[k] = run(skel, lens[l], repeat);
				ring_buffer__consume(rb);
			}
			qsort(r, (size_t)(rounds < 32 ? rounds : 32), sizeof(r[0]), cmp_double);
			med[l] = r[(rounds < 32 ? rounds : 32) / 2];
		}
		printf("%-12s %10.1f %10.1f %9u, %4u\n",
		       every[e] ? (e == 1 ? "1 in 64" : "1 in 16") : "off", med[0], med[1],
		       sampled(64, every[e]), sampled(1514, every[e]));
	}
	ring_buffer__free(rb);
	netfront_bpf__destroy(skel);
	close(s);
	return 0;
}
