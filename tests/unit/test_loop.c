/*
 * test_loop: the agent's one event loop. An fd's callback gets its events and argument; a
 * callback changed with loop_set_fd is the one called; a removed fd is never called again; a
 * periodic timer fires, a stopped one does not until restarted; a blocked signal arrives
 * through the loop, not as a signal; loop_stop ends loop_run from inside a callback.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"

struct seen {
	int calls, fd, signo;
	uint32_t events;
	uint64_t expirations;
	int stop_after; /* loop_stop at this many calls */
};

static void on_fd(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct seen *s = arg;
	char c;

	s->calls++;
	s->fd = fd;
	s->events = events;
	assert_int_equal(read(fd, &c, 1), 1);
	if (s->calls >= s->stop_after)
		loop_stop(loop);
}

static void on_fd_other(struct loop *loop, int fd, uint32_t events, void *arg)
{
	on_fd(loop, fd, events, arg);
}

static void on_timer(struct loop *loop, uint64_t expirations, void *arg)
{
	struct seen *s = arg;

	s->calls++;
	s->expirations += expirations;
	if (s->calls >= s->stop_after)
		loop_stop(loop);
}

static void on_signal(struct loop *loop, int signo, void *arg)
{
	struct seen *s = arg;

	s->calls++;
	s->signo = signo;
	loop_stop(loop);
}

static void loop_calls_an_fd_with_its_events_and_argument(void **state)
{
	struct loop *loop = loop_new();
	struct seen s = { .stop_after = 1 };
	int p[2];

	(void)state;
	assert_non_null(loop);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_add_fd(loop, p[0], EPOLLIN, on_fd, &s), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.fd, p[0]);
	assert_true(s.events & EPOLLIN);
	/* Twice the same fd is refused; loop_set_fd is the way to change it. */
	assert_int_not_equal(loop_add_fd(loop, p[0], EPOLLIN, on_fd, &s), 0);
	loop_free(loop);
	close(p[0]);
	close(p[1]);
}

static void loop_set_fd_changes_the_callback_and_del_fd_removes_it(void **state)
{
	struct loop *loop = loop_new();
	struct seen first = { .stop_after = 1 }, second = { .stop_after = 1 },
		    ticks = { .stop_after = 3 };
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_add_fd(loop, p[0], EPOLLIN, on_fd, &first), 0);
	assert_int_equal(loop_set_fd(loop, p[0], EPOLLIN, on_fd_other, &second), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(first.calls, 0);
	assert_int_equal(second.calls, 1);

	/* Removed: a byte waiting on it calls nobody while a timer runs the loop three times. */
	assert_int_equal(loop_del_fd(loop, p[0]), 0);
	assert_int_not_equal(loop_del_fd(loop, p[0]), 0);
	assert_int_equal(write(p[1], "y", 1), 1);
	assert_true(loop_add_timer(loop, 2000000, on_timer, &ticks) >= 0);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(ticks.calls, 3);
	assert_int_equal(second.calls, 1);
	loop_free(loop);
	close(p[0]);
	close(p[1]);
}

static void a_stopped_timer_waits_for_its_restart(void **state)
{
	struct loop *loop = loop_new();
	struct seen stopped = { .stop_after = 100 }, other = { .stop_after = 5 };
	uint64_t t0;
	int fd;

	(void)state;
	fd = loop_add_timer(loop, 1000000, on_timer, &stopped);
	assert_true(fd >= 0);
	assert_int_equal(loop_timer_stop(fd), 0);
	assert_true(loop_add_timer(loop, 2000000, on_timer, &other) >= 0);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(other.calls, 5);
	assert_int_equal(stopped.calls, 0);

	/* Restarted: its first expiration after first_ns, then every period. */
	stopped.stop_after = 2;
	t0 = loop_now_ns();
	assert_int_equal(loop_timer_restart(fd, 5000000, 1000000), 0);
	other.stop_after = 1000000; /* the other runs on and stops nothing */
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(stopped.calls, 2);
	assert_true(loop_now_ns() - t0 >= 6000000);
	loop_free(loop);
}

static void a_blocked_signal_arrives_through_the_loop(void **state)
{
	static const int signals[] = { SIGUSR1 };
	struct loop *loop = loop_new();
	struct seen s = { 0 };

	(void)state;
	assert_int_equal(loop_add_signals(loop, signals, 1, on_signal, &s), 0);
	assert_int_equal(raise(SIGUSR1), 0); /* blocked: no handler runs, the process lives */
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.signo, SIGUSR1);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loop_calls_an_fd_with_its_events_and_argument),
		cmocka_unit_test(loop_set_fd_changes_the_callback_and_del_fd_removes_it),
		cmocka_unit_test(a_stopped_timer_waits_for_its_restart),
		cmocka_unit_test(a_blocked_signal_arrives_through_the_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
