/*
 * worker: one thread for work too long for the loop thread (parsing a large request body).
 *
 * A job is submitted from the loop thread with two functions: run, called on the worker
 * thread, and done, called back on the loop thread (through an eventfd registered in the
 * loop) once run has returned. Jobs run one at a time, in submission order. run must not
 * touch what the loop thread owns; the job carries what it needs in and out.
 */
#ifndef DBAVM_WORKER_H
#define DBAVM_WORKER_H

#include "loop.h"

struct worker;
struct worker_job;

typedef void worker_fn(struct worker_job *job);

/* Embedded in the caller's own job. */
struct worker_job {
	struct worker_job *next;
	worker_fn *run;	 /* on the worker thread */
	worker_fn *done; /* on the loop thread, after run */
};

/* Starts the thread; 0 or a negative errno. */
int worker_open(struct worker **out, struct loop *loop);
/* Queues job (its run and done set); 0, or -ESHUTDOWN once closing. */
int worker_submit(struct worker *w, struct worker_job *job);
/* Waits for the job running now, then stops the thread; every job not yet delivered, run or
 * not, is given to drop on the calling thread instead of done. */
void worker_close(struct worker *w, worker_fn *drop);

/*
 * Called first by a helper thread (a worker's, the store's writer): names it and lowers it to
 * nice WORKER_NICE, the lowest, so that the event loop's thread, which keeps the periods, has
 * the CPU when it wants it. Not SCHED_IDLE, which runs only on a CPU nothing else on the host
 * wants: with every core busy with other work, PUTs were answered in 0.27 s (median) instead
 * of 0.05 at nice 19. Nice 10 answered in 0.01 s but let the store's writer delay the loop
 * (tests/bench/bench_busy_host.sh).
 */
#define WORKER_NICE 19
void worker_thread_background(const char *name);

#endif
