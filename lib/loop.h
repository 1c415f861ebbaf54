/*
 * loop: the agent's one event loop (epoll). Every fd the agent waits on is registered here:
 * the period timer, the signal fd, the platform's watch fds, the HTTP servers' fds and timer,
 * libcurl's sockets and timer, and the eventfds by which the worker and the store's writer
 * hand results back. Callbacks run to completion on this one thread; nothing here locks.
 */
#ifndef DBAVM_LOOP_H
#define DBAVM_LOOP_H

#include <stdint.h>

struct loop;

typedef void loop_fd_fn(struct loop *loop, int fd, uint32_t events, void *arg);
/* expirations > 1 means the loop was late by expirations - 1 whole periods. */
typedef void loop_timer_fn(struct loop *loop, uint64_t expirations, void *arg);
typedef void loop_signal_fn(struct loop *loop, int signo, void *arg);

struct loop *loop_new(void);
/* Closes the timer and signal fds it created; fds added with loop_add_fd stay their owner's. */
void loop_free(struct loop *loop);

int loop_add_fd(struct loop *loop, int fd, uint32_t events, loop_fd_fn *fn, void *arg);
/* Registers fd, or changes what it waits for and who is called (libcurl's sockets). */
int loop_set_fd(struct loop *loop, int fd, uint32_t events, loop_fd_fn *fn, void *arg);
int loop_del_fd(struct loop *loop, int fd);

/* The clock of the loop's timers (CLOCK_MONOTONIC, also bpf_ktime_get_ns's), in ns. */
uint64_t loop_now_ns(void);

/* A periodic timer on CLOCK_MONOTONIC; returns its fd or a negative errno. */
int loop_add_timer(struct loop *loop, uint64_t period_ns, loop_timer_fn *fn, void *arg);
/* Re-arms a timer of loop_add_timer: its next expiration first_ns from now (0 counts as 1),
 * then every period_ns; expirations not yet read are dropped. 0 or a negative errno. */
int loop_timer_restart(int fd, uint64_t first_ns, uint64_t period_ns);
/* Disarms a timer of loop_add_timer until loop_timer_restart. 0 or a negative errno. */
int loop_timer_stop(int fd);
/* Blocks the signals and delivers them through a signalfd; returns 0 or a negative errno. */
int loop_add_signals(struct loop *loop, const int *signals, int n, loop_signal_fn *fn, void *arg);

/* Runs until loop_stop; returns 0, or a negative errno if epoll itself failed. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);

#endif
