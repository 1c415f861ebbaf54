/*
 * loop: epoll, in the manner of Redis's ae.c. Registrations live in a table indexed by fd,
 * so dispatch is one array access. Timers and signals are fds too (timerfd, signalfd), which
 * keeps the whole agent to a single wait.
 */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum reg_kind { REG_NONE, REG_FD, REG_TIMER, REG_SIGNAL };

struct reg {
	enum reg_kind kind;
	void *fn;
	void *arg;
};

struct loop {
	int epfd;
	bool stop;
	struct reg *regs;
	int n_regs; /* size of regs, indexed by fd */
};

struct loop *loop_new(void)
{
	struct loop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	return loop;
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	for (int fd = 0; fd < loop->n_regs; fd++)
		if (loop->regs[fd].kind == REG_TIMER || loop->regs[fd].kind == REG_SIGNAL)
			close(fd);
	close(loop->epfd);
	free(loop->regs);
	free(loop);
}

static int reg_add(struct loop *loop, int fd, uint32_t events, enum reg_kind kind, void *fn,
		   void *arg)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if (fd < 0)
		return -EBADF;
	if (fd >= loop->n_regs) {
		int n = fd + 16;
		struct reg *r = realloc(loop->regs, (size_t)n * sizeof(*r));

		if (!r)
			return -ENOMEM;
		memset(r + loop->n_regs, 0, (size_t)(n - loop->n_regs) * sizeof(*r));
		loop->regs = r;
		loop->n_regs = n;
	}
	if (loop->regs[fd].kind != REG_NONE)
		return -EEXIST;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	loop->regs[fd] = (struct reg){ kind, fn, arg };
	return 0;
}

int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_fn *fn, void *arg)
{
	return reg_add(loop, fd, events, REG_FD, (void *)fn, arg);
}

int loop_set_fd(struct loop *loop, int fd, uint32_t events, loop_fd_fn *fn, void *arg)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if (fd < 0 || fd >= loop->n_regs || loop->regs[fd].kind != REG_FD)
		return loop_add_fd(loop, fd, events, fn, arg);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
		if (errno != ENOENT)
			return -errno;
		/* closed and reopened behind the loop's back: epoll forgot it */
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
	}
	loop->regs[fd] = (struct reg){ REG_FD, (void *)fn, arg };
	return 0;
}

int loop_del_fd(struct loop *loop, int fd)
{
	if (fd < 0 || fd >= loop->n_regs || loop->regs[fd].kind == REG_NONE)
		return -ENOENT;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->regs[fd].kind = REG_NONE;
	return 0;
}

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000u),
				  .tv_nsec = (long)(ns % 1000000000u) };
}

uint64_t loop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int loop_add_timer(struct loop *loop, uint64_t period_ns, loop_timer_fn *fn, void *arg)
{
	struct itimerspec its = { 0 };
	int fd, rc;

	if (period_ns == 0)
		return -EINVAL;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	its.it_interval = ts_of(period_ns);
	its.it_value = its.it_interval;
	if (timerfd_settime(fd, 0, &its, NULL) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = reg_add(loop, fd, EPOLLIN, REG_TIMER, (void *)fn, arg);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

int loop_timer_restart(int fd, uint64_t first_ns, uint64_t period_ns)
{
	struct itimerspec its = { .it_interval = ts_of(period_ns),
				  .it_value = ts_of(first_ns ? first_ns : 1) };

	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

int loop_timer_stop(int fd)
{
	struct itimerspec its = { 0 };

	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

int loop_add_signals(struct loop *loop, const int *signals, int n, loop_signal_fn *fn, void *arg)
{
	sigset_t set;
	int fd, rc;

	sigemptyset(&set);
	for (int i = 0; i < n; i++)
		sigaddset(&set, signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = reg_add(loop, fd, EPOLLIN, REG_SIGNAL, (void *)fn, arg);
	if (rc)
		close(fd);
	return rc;
}

static void dispatch(struct loop *loop, int fd, uint32_t events)
{
	struct reg *r = &loop->regs[fd];

	switch (r->kind) {
	case REG_FD:
		((loop_fd_fn *)r->fn)(loop, fd, events, r->arg);
		break;
	case REG_TIMER: {
		uint64_t expirations;

		if (read(fd, &expirations, sizeof(expirations)) == sizeof(expirations))
			((loop_timer_fn *)r->fn)(loop, expirations, r->arg);
		break;
	}
	case REG_SIGNAL: {
		struct signalfd_siginfo si;

		while (read(fd, &si, sizeof(si)) == sizeof(si))
			((loop_signal_fn *)r->fn)(loop, (int)si.ssi_signo, r->arg);
		break;
	}
	case REG_NONE:
		break; /* removed by an earlier callback of the same wake-up */
	}
}

int loop_run(struct loop *loop)
{
	struct epoll_event evs[32];

	loop->stop = false;
	while (!loop->stop) {
		int n = epoll_wait(loop->epfd, evs, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !loop->stop; i++)
			dispatch(loop, evs[i].data.fd, evs[i].events);
	}
	return 0;
}

void loop_stop(struct loop *loop)
{
	loop->stop = true;
}
