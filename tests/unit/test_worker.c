/*
 * test_worker: the thread that takes long work off the loop. Jobs run one at a time, in the
 * order submitted, on a thread that is not the loop's; each comes back to done on the loop's
 * thread, after its run. Closed with jobs not yet delivered, every one goes to drop, none to
 * done, and none is lost.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "loop.h"
#include "worker.h"

#define N_JOBS 8

struct job {
	struct worker_job w; /* first: the worker's callbacks get it */
	int index;
	pthread_t ran_on, done_on;
	int run_order, done_order;
};

static struct loop *the_loop;
static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static int runs, dones, drops, running, overlaps; /* run's, counted on its thread */

static void run(struct worker_job *w)
{
	struct job *j = (struct job *)w;
	struct timespec ms = { 0, 2000000 };

	pthread_mutex_lock(&order_lock);
	overlaps += running != 0; /* one at a time: checked on the test's thread */
	running++;
	j->run_order = runs++;
	pthread_mutex_unlock(&order_lock);
	j->ran_on = pthread_self();
	nanosleep(&ms, NULL);
	pthread_mutex_lock(&order_lock);
	running--;
	pthread_mutex_unlock(&order_lock);
}

static void done(struct worker_job *w)
{
	struct job *j = (struct job *)w;

	j->done_on = pthread_self();
	j->done_order = dones++;
	if (dones == N_JOBS)
		loop_stop(the_loop);
}

static void drop(struct worker_job *w)
{
	(void)w;
	drops++;
}

/* A fresh loop and worker, and N_JOBS jobs submitted to it. */
static struct worker *open_and_submit(struct job jobs[N_JOBS])
{
	struct worker *wk;

	runs = dones = drops = overlaps = 0;
	the_loop = loop_new();
	assert_non_null(the_loop);
	assert_int_equal(worker_open(&wk, the_loop), 0);
	for (int i = 0; i < N_JOBS; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].index = i;
		jobs[i].w.run = run;
		jobs[i].w.done = done;
		assert_int_equal(worker_submit(wk, &jobs[i].w), 0);
	}
	return wk;
}

static void jobs_run_in_order_off_the_loop_and_come_back_on_it(void **state)
{
	struct job jobs[N_JOBS];
	struct worker *wk = open_and_submit(jobs);

	(void)state;
	assert_int_equal(loop_run(the_loop), 0);
	assert_int_equal(dones, N_JOBS);
	assert_int_equal(overlaps, 0);
	for (int i = 0; i < N_JOBS; i++) {
		assert_int_equal(jobs[i].run_order, i);
		assert_int_equal(jobs[i].done_order, i);
		assert_false(pthread_equal(jobs[i].ran_on, pthread_self()));
		assert_true(pthread_equal(jobs[i].done_on, pthread_self()));
	}
	worker_close(wk, drop);
	assert_int_equal(drops, 0);
	loop_free(the_loop);
}

static void closing_gives_every_undelivered_job_to_drop(void **state)
{
	struct job jobs[N_JOBS];
	struct worker *wk = open_and_submit(jobs);

	(void)state;
	/* The loop never runs: nothing is delivered; some jobs ran, the rest never will. */
	worker_close(wk, drop);
	assert_int_equal(dones, 0);
	assert_int_equal(drops, N_JOBS);
	assert_true(runs <= N_JOBS);
	loop_free(the_loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jobs_run_in_order_off_the_loop_and_come_back_on_it),
		cmocka_unit_test(closing_gives_every_undelivered_job_to_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
