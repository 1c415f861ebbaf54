/*
 * The xen-credit rate node: bps and pps to "<bytes>,<usec>", rounding, 0 (which netback reads
 * as unlimited) never written, the pps limit folded in by the frame size, the largest values;
 * netback's io_ring_q<N> (debugfs) read for what waits on the ring.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "xen_credit.h"

static const char *rate(uint64_t bps, uint64_t pps, uint64_t frame_bytes)
{
	static char buf[64];

	return xen_credit_rate(bps, pps, frame_bytes * 8, buf, sizeof(buf)) ? buf : "unlimited";
}

static void bytes_per_20_ms(void **state)
{
	(void)state;
	assert_string_equal(rate(150000000, UINT64_MAX, 0), "375000,20000");
	assert_string_equal(rate(1000000000, UINT64_MAX, 0), "2500000,20000");
	assert_string_equal(rate(UINT64_MAX, UINT64_MAX, 1500), "unlimited");
}

static void rounding_and_never_zero(void **state)
{
	(void)state;
	assert_string_equal(rate(600, UINT64_MAX, 0), "2,20000");  /* 1.5 bytes: to nearest */
	assert_string_equal(rate(500, UINT64_MAX, 0), "1,20000");  /* 1.25 */
	assert_string_equal(rate(1, UINT64_MAX, 0), "1,20000");	   /* 0.0025: at least 1 */
	assert_string_equal(rate(0, UINT64_MAX, 0), "1,20000");	   /* 0 would be unlimited */
	assert_string_equal(rate(UINT64_MAX, 0, 1500), "1,20000"); /* no packets: likewise */
}

static void packets_fold_in_by_the_frame_size(void **state)
{
	char buf[64];

	(void)state;
	/* The paper's VM2: 700 Mbit/s and 60 kpps; with 1500-byte frames the bytes bind... */
	assert_string_equal(rate(700000000, 60000, 1500), "1750000,20000");
	/* ...with 64-byte frames the packets do: 60 kpps x 64 B = 30.72 Mbit/s. */
	assert_string_equal(rate(700000000, 60000, 64), "76800,20000");
	/* Before a frame size is measured: a full frame, the least restrictive. */
	assert_string_equal(rate(UINT64_MAX, 20000, 0), "605600,20000");
	/* A measured mean of 64.5 bytes (516 bits) is not taken as 64: 20 kpps x 516 bits. */
	assert_true(xen_credit_rate(UINT64_MAX, 20000, 516, buf, sizeof(buf)));
	assert_string_equal(buf, "25800,20000");
}

static void the_largest_values(void **state)
{
	(void)state;
	/* (2^64 - 2) / 8 x 0.02 s, to nearest: exact in 128 bits. */
	assert_string_equal(rate(UINT64_MAX - 1, UINT64_MAX, 0), "46116860184273879,20000");
	/* A packet limit too large to matter saturates, not wraps. */
	assert_string_equal(rate(UINT64_MAX, UINT64_MAX - 1, 1514), "unlimited");
	assert_string_equal(rate(UINT64_MAX, 1ull << 62, 1514), "unlimited");
	assert_string_equal(rate(1000000000, UINT64_MAX - 1, 1514), "2500000,20000");
}

/* netback's io_ring_q0 as Linux 6.1 writes it (xenvif_read_io_ring): a guest held by its
 * credit, its ring full. */
static const char held_ring[] =
	"Queue 0\nTX: nr_ents 256\n"
	"req prod 4294967290 (256) cons 4294967040 (6) event 4294967291 (257)\n"
	"rsp prod 4294967034 (base) pvt 4294967034 (0) event 4294967035 (1)\n"
	"pending prod 4294967296 pending cons 4294967290 nr_pending_reqs 6\n"
	"dealloc prod 0 dealloc cons 0 dealloc_queue 0\n\n"
	"RX: nr_ents 256\nreq prod 512 (256) cons 256 (0) event 257 (1)\n"
	"rsp prod 256 (base) pvt 256 (0) event 257 (1)\n"
	"NAPI state: 0 NAPI weight: 64 TX queue len 0\n"
	"Credit timer_pending: 1, credit: 1280, usec: 20000\n"
	"remaining: 16, expires: 4295123456, now: 4295123450\n";

static void ring_state_from_debugfs(void **state)
{
	uint32_t slots = 0;
	bool waiting = false;

	(void)state;
	assert_int_equal(xen_credit_ring_parse(held_ring, &slots, &waiting), 0);
	assert_int_equal(slots, 250); /* the indices wrapped between cons and prod */
	assert_true(waiting);
	assert_int_equal(xen_credit_ring_parse("Queue 0\nTX: nr_ents 256\nreq prod 7 (0) cons "
					       "7 (0) event 8 (1)\nCredit timer_pending: 0, "
					       "credit: 18446744073709551615, usec: 0\n",
					       &slots, &waiting),
			 0);
	assert_int_equal(slots, 0);
	assert_false(waiting);
	/* Not a ring's text: refused, nothing made up. */
	assert_int_equal(xen_credit_ring_parse("", &slots, &waiting), -EINVAL);
	assert_int_equal(xen_credit_ring_parse("TX: req prod x cons y\n", &slots, &waiting),
			 -EINVAL);
	assert_int_equal(xen_credit_ring_parse("RX: nr_ents 256\nreq prod 1 (0) cons 1 (0)\n",
					       &slots, &waiting),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bytes_per_20_ms),
		cmocka_unit_test(rounding_and_never_zero),
		cmocka_unit_test(packets_fold_in_by_the_frame_size),
		cmocka_unit_test(the_largest_values),
		cmocka_unit_test(ring_state_from_debugfs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
