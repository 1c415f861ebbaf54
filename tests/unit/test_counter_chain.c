/*
 * The counter chain (enforce/counter_chain.h) over fake sources: a vif counted by the first
 * source that takes it, moved on when its readings keep failing, its counts going on across
 * the move without a jump, and what counts it and why said in its enf_vif.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "counter_chain.h"
#include "enforcer.h"
#include "measure_only.h"

/* How a fake source behaves, by its index in `fake` (its enforcer's priv points here). */
struct fake {
	int open_rc, attach_rc, read_rc, sync_rc;
	uint64_t pkts; /* what it reads for every vif; +10 per read */
	unsigned opens, syncs, attached, closes;
};

static struct fake fake[3];

static int fake_attach(struct enforcer *e, struct enf_vif *ev)
{
	struct fake *f = e->priv;

	if (f->attach_rc)
		return f->attach_rc;
	f->attached++;
	ev->state = f;
	return 0;
}

static void fake_detach(struct enforcer *e, struct enf_vif *ev)
{
	struct fake *f = e->priv;

	f->attached--;
	ev->state = NULL;
}

static int fake_sync(struct enforcer *e, uint64_t now_ns)
{
	(void)now_ns;
	((struct fake *)e->priv)->syncs++;
	return ((struct fake *)e->priv)->sync_rc;
}

static int fake_read(struct enforcer *e, struct enf_vif *ev, struct vif_counters *out)
{
	struct fake *f = e->priv;

	assert_ptr_equal(ev->state, f); /* read only where attached */
	if (f->read_rc)
		return f->read_rc;
	f->pkts += 10;
	memset(out, 0, sizeof(*out));
	out->offered_pkts = out->passed_pkts = f->pkts;
	out->offered_bytes = out->passed_bytes = f->pkts * 100;
	return 0;
}

static void fake_close(struct enforcer *e)
{
	((struct fake *)e->priv)->closes++;
}

static const struct enforcer_ops fake_ops = {
	.name = "fake",
	.sees_offered = true,
	.attach = fake_attach,
	.detach = fake_detach,
	.sync = fake_sync,
	.read_counters = fake_read,
	.apply = measure_only_apply,
	.close = fake_close,
};

static int fake_open(int i, struct enforcer *e, char *why, size_t why_len)
{
	fake[i].opens++;
	if (fake[i].open_rc) {
		snprintf(why, why_len, "source%d: %s", i, strerror(-fake[i].open_rc));
		return fake[i].open_rc;
	}
	e->ops = &fake_ops;
	e->priv = &fake[i];
	return 0;
}

#define FAKE_OPEN(i)                                                                               \
	static int open##i(struct enforcer *e, uint32_t sample_every, char *why, size_t len)       \
	{                                                                                          \
		(void)sample_every;                                                                \
		return fake_open(i, e, why, len);                                                  \
	}
FAKE_OPEN(0)
FAKE_OPEN(1)
FAKE_OPEN(2)

static const struct counter_source sources[] = { { "bpf", "the first", open0 },
						 { "netdev", "the second", open1 },
						 { "xenstat", "the third", open2 } };
static const struct platform_vif desc = { .id = "vif3.0", .host_ifindex = 7 };

static int reset(void **state)
{
	(void)state;
	memset(fake, 0, sizeof(fake));
	fake[1].pkts = 5000; /* a source's counts are its own: the netdevs' since the vif's start */
	return 0;
}

static struct enf_vif new_vif(void)
{
	return (struct enf_vif){ .desc = &desc, .vm = "vm3", .dir = SLA_EGRESS };
}

/* The chain over the three sources, opened, with v attached. */
static void open_attached(struct enforcer *e, struct enf_vif *v, char *why, size_t len)
{
	assert_int_equal(counter_chain_open(e, sources, 3, 0, why, len), 0);
	assert_int_equal(e->ops->attach(e, v), 0);
}

static void chain_first_that_attaches_counts(void **state)
{
	struct enforcer e = { 0 };
	struct enf_vif v = new_vif();
	struct vif_counters c;
	char why[256] = "";

	(void)state;
	fake[0].attach_rc = -ENOENT; /* a dom0 without clsact: the tap cannot attach */
	assert_int_equal(counter_chain_open(&e, sources, 3, 0, why, sizeof(why)), 0);
	assert_int_equal(fake[1].opens, 0); /* opened when a vif needs it */
	assert_int_equal(e.ops->attach(&e, &v), 0);
	assert_string_equal(v.counted_by, "netdev");
	assert_non_null(strstr(v.count_note, "bpf: No such file or directory"));
	assert_int_equal(fake[1].attached, 1);
	assert_int_equal(e.ops->sync(&e, 1), 0);
	assert_int_equal(fake[0].syncs, 1); /* the first, and the one with a vif */
	assert_int_equal(fake[1].syncs, 1);
	assert_int_equal(fake[2].syncs, 0); /* never opened */
	assert_int_equal(e.ops->read_counters(&e, &v, &c), 0);
	assert_int_equal(c.passed_pkts, 5010);
	e.ops->detach(&e, &v);
	assert_int_equal(fake[1].attached, 0);
	e.ops->close(&e);
	assert_int_equal(fake[0].closes + fake[1].closes + fake[2].closes, 2);
}

static void chain_moves_on_after_failed_readings_without_a_jump(void **state)
{
	struct enforcer e = { 0 };
	struct enf_vif v = new_vif();
	struct vif_counters c;
	char why[256] = "";

	(void)state;
	open_attached(&e, &v, why, sizeof(why));
	assert_string_equal(v.counted_by, "bpf");
	assert_string_equal(v.count_note, "");
	assert_int_equal(e.ops->read_counters(&e, &v, &c), 0);
	assert_int_equal(e.ops->read_counters(&e, &v, &c), 0);
	assert_int_equal(c.passed_pkts, 20);
	fake[0].read_rc = -EIO;
	for (int i = 1; i < CHAIN_FAILS; i++) { /* failing: still the first's */
		assert_int_equal(e.ops->read_counters(&e, &v, &c), -EIO);
		assert_string_equal(v.counted_by, "bpf");
	}
	assert_int_equal(e.ops->read_counters(&e, &v, &c), -EIO); /* the last: moved */
	assert_string_equal(v.counted_by, "netdev");
	assert_non_null(strstr(v.count_note, "bpf: 3 readings failed (Input/output error)"));
	assert_int_equal(fake[0].attached, 0);
	assert_int_equal(fake[1].attached, 1);
	/* The netdevs read 5010 then 5020: shown as 20 (the last shown), then 30. */
	assert_int_equal(e.ops->read_counters(&e, &v, &c), 0);
	assert_int_equal(c.passed_pkts, 20);
	assert_int_equal(c.passed_bytes, 2000);
	assert_int_equal(e.ops->read_counters(&e, &v, &c), 0);
	assert_int_equal(c.passed_pkts, 30);
	assert_int_equal(c.offered_bytes, 3000);
	e.ops->detach(&e, &v);
	e.ops->close(&e);
}

static void chain_waits_for_a_source_down_as_a_whole(void **state)
{
	struct enforcer e = { 0 };
	struct enf_vif v = new_vif();
	struct vif_counters c;
	char why[256] = "";

	(void)state;
	open_attached(&e, &v, why, sizeof(why));
	assert_int_equal(e.ops->read_counters(&e, &v, &c), 0);
	fake[0].sync_rc = fake[0].read_rc = -EIO; /* libxenstat without an answer */
	for (int i = 0; i < 3 * CHAIN_FAILS; i++) {
		assert_int_equal(e.ops->sync(&e, 1), -EIO);
		assert_int_equal(e.ops->read_counters(&e, &v, &c), -EIO);
	}
	assert_string_equal(v.counted_by, "bpf"); /* waited for */
	assert_int_equal(fake[1].opens, 0);
	fake[0].sync_rc = fake[0].read_rc = 0;
	assert_int_equal(e.ops->sync(&e, 2), 0);
	assert_int_equal(e.ops->read_counters(&e, &v, &c), 0);
	assert_int_equal(c.passed_pkts, 20);
	e.ops->detach(&e, &v);
	e.ops->close(&e);
}

static void chain_last_source_failing_stays_and_says_so(void **state)
{
	struct enforcer e = { 0 };
	struct enf_vif v = new_vif();
	struct vif_counters c;
	char why[256] = "";

	(void)state;
	fake[0].attach_rc = -ENOENT;
	fake[2].open_rc = -ENODEV;
	open_attached(&e, &v, why, sizeof(why));
	fake[1].read_rc = -EAGAIN;
	for (int i = 0; i < 3 * CHAIN_FAILS; i++)
		assert_int_equal(e.ops->read_counters(&e, &v, &c), -EAGAIN);
	/* xenstat does not open: back on the netdevs, tried again each period */
	assert_string_equal(v.counted_by, "netdev");
	assert_non_null(strstr(v.count_note, "source2: No such device"));
	assert_int_equal(fake[1].attached, 1);
	fake[1].read_rc = 0;
	assert_int_equal(e.ops->read_counters(&e, &v, &c), 0);
	e.ops->detach(&e, &v);
	e.ops->close(&e);
}

static void chain_no_source_takes_the_vif(void **state)
{
	struct enforcer e = { 0 };
	struct enf_vif v = new_vif();
	char why[256] = "";

	(void)state;
	for (int i = 0; i < 3; i++)
		fake[i].attach_rc = -EINVAL;
	assert_int_equal(counter_chain_open(&e, sources, 3, 0, why, sizeof(why)), 0);
	assert_int_equal(e.ops->attach(&e, &v), -EINVAL);
	assert_null(v.counted_by);
	assert_non_null(strstr(v.count_note, "bpf: Invalid argument; netdev: Invalid argument; "
					     "xenstat: Invalid argument"));
	assert_null(v.state);
	e.ops->close(&e);
}

static void chain_first_that_opens_and_none(void **state)
{
	struct enforcer e = { 0 };
	struct enf_vif v = new_vif();
	char why[256] = "";

	(void)state;
	fake[0].open_rc = -EPERM; /* no BPF for this agent: the netdevs from the start */
	open_attached(&e, &v, why, sizeof(why));
	assert_string_equal(v.counted_by, "netdev");
	assert_non_null(strstr(v.count_note, "source0: Operation not permitted"));
	e.ops->detach(&e, &v);
	e.ops->close(&e);

	fake[1].open_rc = fake[2].open_rc = -ENODEV;
	memset(&e, 0, sizeof(e));
	assert_int_equal(counter_chain_open(&e, sources, 3, 0, why, sizeof(why)), -ENODEV);
	assert_string_equal(why, "source0: Operation not permitted; source1: No such device; "
				 "source2: No such device");
	assert_null(e.ops);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(chain_first_that_attaches_counts, reset),
		cmocka_unit_test_setup(chain_moves_on_after_failed_readings_without_a_jump, reset),
		cmocka_unit_test_setup(chain_waits_for_a_source_down_as_a_whole, reset),
		cmocka_unit_test_setup(chain_last_source_failing_stays_and_says_so, reset),
		cmocka_unit_test_setup(chain_no_source_takes_the_vif, reset),
		cmocka_unit_test_setup(chain_first_that_opens_and_none, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
