/*
 * pgsink: the sink's own measure of what pktgen sent it, independent of the agent, for the
 * Xen tests (tests/xen/dom0-test.sh, run in the sink's namespace). It reads every frame the
 * sink's interface receives (a packet socket, the kernel's receive timestamp), keeps those
 * that carry pktgen's header (its magic, sequence number and send time, stamped by the domU's
 * clock), and after SECONDS prints one line per sender (source IPv4 address):
 *
 *   src=198.18.0.11 pkts=N bytes=B pps=P mbps=M frame=F lost=L loss=R
 *   delay_mean_s=D delay_p50_s=E delay_floor_s=G delay_abs_mean_s=A jitter_s=J
 *
 * pkts, bytes (whole frames: Ethernet header, no FCS) and pps/mbps over the time from the
 * first frame to the last; lost = sequence numbers never seen between the first and the last
 * seen, and loss its share of them. Delay is receive time minus send time, less the smallest
 * such difference (the two clocks' offset is unknown, and the quickest packet is taken as the
 * path's floor), so it is the delay added over the floor; the floor itself and the mean
 * without it follow (on Xen the domU's and dom0's wall clocks both run off the hypervisor's
 * time: a floor of a few microseconds says they agree, and the mean is then the delay); jitter is
 * RFC 3550's estimator (J += (|D| - J) / 16) over consecutive arrivals, which no clock offset
 * changes: what iperf3 reports. pktgen stamps microseconds, so both are exact to a microsecond.
 *
 * With -p, in the driver domain, it measures the stretch the agent measures, with the
 * kernel's packet taps instead of BPF: each pktgen frame as it is received on IN (a vif:
 * where netback hands it to dom0's stack) and as it is sent on OUT (the uplink: the tap every
 * transmitted packet passes, just before the driver), matched by sender and sequence number,
 * both stamped by dom0's clock:
 *
 *   src=198.18.0.12 pkts_in=N matched=M lost=L loss=R delay_mean_s=D delay_p50_s=E
 *   delay_p99_s=F jitter_s=J jitter_mean_s=K others=O tap_drops=T
 *
 * tap_drops: frames the packet socket itself dropped (PACKET_STATISTICS): it listens on every
 * interface, and under QEMU's TCG a slow read overflowed its default buffer, so that frames
 * seen on IN whose copy on OUT the socket dropped counted as lost (15 % where netem lost 10 %
 * and the sink's sequence numbers said 10.3). Its buffer is forced to 32 MiB; the Xen test
 * checks tap_drops is 0 before it compares anything with this measure.
 *
 * lost: frames seen on IN but never on OUT (the path's loss); jitter over consecutive
 * frames in the order they left by OUT, as the agent computes it, and like the agent over
 * every frame of the VM: IN is one VM's vif, and its frames that are not pktgen's (others,
 * each printed as an "other" line) are matched by their content and timed with the rest;
 * jitter_mean_s the mean of |D - D_prev| over the whole flow, the value the estimator follows (its
 * last value weighs the last few dozen frames, and two measures of it agree only if they end on the
 * same ones). pgsink IFNAME SECONDS pgsink -p IN OUT SECONDS
 * SIGINT or SIGTERM ends the capture early, with its report.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PKTGEN_MAGIC 0xbe9be955u
#define MAX_SRC 8
#define MAX_PKTS 400000 /* per sender: 40 s at 10 kpps */

struct sender {
	uint32_t ip;	  /* network order */
	double *in_s;	  /* -p: when each sequence number was seen on IN (0: not) */
	uint32_t in_base; /* the first sequence number seen on IN */
	uint64_t pkts_in, matched, others; /* -p: others: its frames not pktgen's, matched */
	uint64_t pkts, bytes;
	uint32_t seq_lo, seq_hi;
	double first_s, last_s;
	double *delay_s; /* receive - send, per packet as it came */
	size_t n;
	double jitter_s, prev_d;
	double abs_diff_sum; /* of |D - D_prev| over consecutive frames: what J follows */
	uint64_t diffs;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct sender *sender_of(struct sender *s, size_t *n, uint32_t ip)
{
	for (size_t i = 0; i < *n; i++)
		if (s[i].ip == ip)
			return &s[i];
	if (*n == MAX_SRC)
		return NULL;
	memset(&s[*n], 0, sizeof(s[*n]));
	s[*n].ip = ip;
	s[*n].delay_s = malloc(MAX_PKTS * sizeof(double));
	s[*n].in_s = calloc(MAX_PKTS, sizeof(double));
	return s[*n].delay_s && s[*n].in_s ? &s[(*n)++] : NULL;
}

struct pg_frame {
	uint32_t src, seq; /* src in network order */
	double sent_s;	   /* pktgen's stamp, the domU's clock */
};

/* Whether f is a pktgen frame (IPv4, UDP, pktgen's magic after the UDP header). */
static int parse(const uint8_t *f, size_t len, struct pg_frame *out)
{
	const uint8_t *ip = f + ETH_HLEN, *pg;
	uint32_t magic, sec, usec;

	if (len < ETH_HLEN + 20 + 8 + 16 || f[12] != 0x08 || f[13] != 0x00 || (ip[0] >> 4) != 4 ||
	    ip[9] != 17)
		return 0;
	pg = ip + (ip[0] & 0xf) * 4 + 8;
	if ((size_t)(pg + 16 - f) > len)
		return 0;
	memcpy(&magic, pg, 4);
	if (ntohl(magic) != PKTGEN_MAGIC)
		return 0;
	memcpy(&out->src, ip + 12, 4);
	memcpy(&out->seq, pg + 4, 4);
	memcpy(&sec, pg + 8, 4);
	memcpy(&usec, pg + 12, 4);
	out->seq = ntohl(out->seq);
	out->sent_s = (double)ntohl(sec) + (double)ntohl(usec) / 1e6;
	return 1;
}

/* RFC 3550: J += (|D - D_prev| - J) / 16, from the second delay on. */
static void add_delay(struct sender *s, double d)
{
	if (s->n) {
		double diff = d > s->prev_d ? d - s->prev_d : s->prev_d - d;

		s->jitter_s += (diff - s->jitter_s) / 16;
		s->abs_diff_sum += diff;
		s->diffs++;
	}
	s->prev_d = d;
	if (s->n < MAX_PKTS)
		s->delay_s[s->n++] = d;
}

/* One frame received by the sink at rx_s (wall clock, the kernel's stamp). */
static void take(struct sender *all, size_t *n_all, const uint8_t *f, size_t len, double rx_s)
{
	struct pg_frame pf;
	struct sender *s;
	uint32_t seq;

	if (!parse(f, len, &pf) || !(s = sender_of(all, n_all, pf.src)))
		return;
	seq = pf.seq;
	if (!s->pkts) {
		s->seq_lo = s->seq_hi = seq;
		s->first_s = rx_s;
	}
	s->seq_lo = seq < s->seq_lo ? seq : s->seq_lo;
	s->seq_hi = seq > s->seq_hi ? seq : s->seq_hi;
	s->pkts++;
	s->bytes += len;
	s->last_s = rx_s;
	add_delay(s, rx_s - pf.sent_s);
}

/* -p: frames of IN's VM that are not pktgen's (ARP, neighbour discovery, a command's TCP),
 * matched from IN to OUT by their content, as the agent matches every frame: a ring of the
 * last ones seen on IN. Each is printed as it is matched, to tell what a VM sent besides. */
#define MAX_OTHER 1024
static struct other {
	uint64_t hash;
	double in_s;
} others[MAX_OTHER];
static unsigned next_other;

static uint64_t frame_hash(const uint8_t *f, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ f[i]) * 0x100000001b3ull;
	return h ^ len;
}

static void take_other(struct sender *all, size_t n_all, const uint8_t *f, size_t len, double t_s,
		       int on_out)
{
	uint64_t h = frame_hash(f, len);

	if (!on_out) {
		others[next_other++ % MAX_OTHER] = (struct other){ h, t_s };
		return;
	}
	for (unsigned i = 0; i < MAX_OTHER; i++) {
		if (others[i].hash != h || others[i].in_s == 0)
			continue;
		printf("other t=%.6f len=%zu ethertype=0x%02x%02x delay_s=%.6f\n", t_s, len,
		       len > 13 ? f[12] : 0, len > 13 ? f[13] : 0, t_s - others[i].in_s);
		if (n_all == 1) { /* IN is one VM's vif: its frame */
			all[0].others++;
			add_delay(&all[0], t_s - others[i].in_s);
		}
		others[i].in_s = 0;
		return;
	}
}

/* -p: one frame seen on IN (received) or OUT (sent) at t_s, dom0's clock. */
static void take_pair(struct sender *all, size_t *n_all, const uint8_t *f, size_t len, double t_s,
		      int on_out)
{
	struct pg_frame pf;
	struct sender *s;
	uint32_t k;

	if (!parse(f, len, &pf)) {
		take_other(all, *n_all, f, len, t_s, on_out);
		return;
	}
	if (!(s = sender_of(all, n_all, pf.src)))
		return;
	if (!on_out) {
		if (!s->pkts_in++)
			s->in_base = pf.seq;
		k = pf.seq - s->in_base;
		if (k < MAX_PKTS)
			s->in_s[k] = t_s;
		return;
	}
	k = pf.seq - s->in_base;
	if (!s->pkts_in || k >= MAX_PKTS || s->in_s[k] == 0)
		return; /* sent before it was seen coming in: not one of ours to time */
	s->matched++;
	add_delay(s, t_s - s->in_s[k]);
	s->in_s[k] = 0;
}

static unsigned long long tap_drops; /* -p: what the socket dropped, read at the end */

static void report_pair(struct sender *s)
{
	char ip[INET_ADDRSTRLEN];
	double sum = 0;
	uint64_t lost = s->pkts_in > s->matched ? s->pkts_in - s->matched : 0;

	inet_ntop(AF_INET, &s->ip, ip, sizeof(ip));
	qsort(s->delay_s, s->n, sizeof(double), by_value);
	for (size_t i = 0; i < s->n; i++)
		sum += s->delay_s[i];
	printf("src=%s pkts_in=%llu matched=%llu lost=%llu loss=%.4f delay_mean_s=%.6f "
	       "delay_p50_s=%.6f delay_p99_s=%.6f jitter_s=%.6f jitter_mean_s=%.6f others=%llu "
	       "tap_drops=%llu\n",
	       ip, (unsigned long long)s->pkts_in, (unsigned long long)s->matched,
	       (unsigned long long)lost, s->pkts_in ? (double)lost / (double)s->pkts_in : 0,
	       s->n ? sum / (double)s->n : 0, s->n ? s->delay_s[s->n / 2] : 0,
	       s->n ? s->delay_s[s->n * 99 / 100] : 0, s->jitter_s,
	       s->diffs ? s->abs_diff_sum / (double)s->diffs : 0, (unsigned long long)s->others,
	       tap_drops);
}

static void report(struct sender *s)
{
	char ip[INET_ADDRSTRLEN];
	double span = s->last_s - s->first_s, floor_s, sum = 0;
	uint64_t expected = (uint64_t)(s->seq_hi - s->seq_lo) + 1;
	uint64_t lost = expected > s->pkts ? expected - s->pkts : 0;

	inet_ntop(AF_INET, &s->ip, ip, sizeof(ip));
	qsort(s->delay_s, s->n, sizeof(double), by_value);
	floor_s = s->n ? s->delay_s[0] : 0;
	for (size_t i = 0; i < s->n; i++)
		sum += s->delay_s[i] - floor_s;
	printf("src=%s pkts=%llu bytes=%llu pps=%.1f mbps=%.3f frame=%.1f lost=%llu loss=%.4f "
	       "delay_mean_s=%.6f delay_p50_s=%.6f delay_floor_s=%.6f delay_abs_mean_s=%.6f "
	       "jitter_s=%.6f\n",
	       ip, (unsigned long long)s->pkts, (unsigned long long)s->bytes,
	       span > 0 ? (double)(s->pkts - 1) / span : 0,
	       span > 0 ? (double)s->bytes * 8 / span / 1e6 : 0,
	       s->pkts ? (double)s->bytes / (double)s->pkts : 0, (unsigned long long)lost,
	       expected ? (double)lost / (double)expected : 0, s->n ? sum / (double)s->n : 0,
	       s->n ? s->delay_s[s->n / 2] - floor_s : 0, floor_s,
	       s->n ? sum / (double)s->n + floor_s : 0, s->jitter_s);
}

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: pgsink IFNAME SECONDS | pgsink -p IN OUT SECONDS (at most 120 s)\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sender all[MAX_SRC];
	size_t n_all = 0;
	int pair = argc == 5 && !strcmp(argv[1], "-p");
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	unsigned in_if = 0, out_if = 0;
	uint8_t buf[2048], cbuf[256];
	double secs = atof(argv[argc - 1]), end_s;
	int fd, on = 1, rcvbuf = 32 << 20;

	if ((argc != 3 && !pair) || secs <= 0 || secs > 120)
		return usage();
	if (pair) { /* every interface, both ways: IN's received frames, OUT's sent ones */
		in_if = if_nametoindex(argv[2]);
		out_if = if_nametoindex(argv[3]);
		sll.sll_protocol = htons(ETH_P_ALL);
	} else {
		sll.sll_ifindex = (int)if_nametoindex(argv[1]);
		sll.sll_protocol = htons(ETH_P_IP);
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, sll.sll_protocol);
	if ((pair ? !in_if || !out_if : !sll.sll_ifindex) || fd < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on))) {
		fprintf(stderr, "pgsink: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* Root's own limit, past rmem_max: a slow read must not cost frames (tap_drops). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	{
		struct sigaction sa = { .sa_handler = on_stop }; /* no SA_RESTART: poll returns */

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	end_s = now_s() + secs;
	while (!stopping && now_s() < end_s) {
		struct pollfd p = { fd, POLLIN, 0 };
		struct sockaddr_ll from;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_name = &from,
				    .msg_namelen = sizeof(from),
				    .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;
		double t_s = 0;
		ssize_t len;
		size_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		len = recvmsg(fd, &m, MSG_TRUNC);
		if (len <= 0)
			continue;
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				t_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
			}
		if (t_s <= 0)
			continue;
		n = (size_t)len < sizeof(buf) ? (size_t)len : sizeof(buf);
		if (!pair)
			take(all, &n_all, buf, n, t_s);
		else if ((unsigned)from.sll_ifindex == in_if && from.sll_pkttype != PACKET_OUTGOING)
			take_pair(all, &n_all, buf, n, t_s, 0);
		else if ((unsigned)from.sll_ifindex == out_if &&
			 from.sll_pkttype == PACKET_OUTGOING)
			take_pair(all, &n_all, buf, n, t_s, 1);
	}
	{
		struct tpacket_stats st;
		socklen_t len = sizeof(st);

		if (!getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len))
			tap_drops = st.tp_drops;
	}
	for (size_t i = 0; i < n_all; i++) {
		if (pair)
			report_pair(&all[i]);
		else
			report(&all[i]);
		free(all[i].delay_s);
		free(all[i].in_s);
	}
	close(fd);
	return 0;
}
