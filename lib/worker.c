/*
 * worker: the thread, two queues under one mutex (todo: submitted, not yet run; done: run,
 * not yet delivered) and an eventfd that tells the loop that done is not empty.
 */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

struct queue {
	struct worker_job *head, **tail;
};

struct worker {
	struct loop *loop;
	int event_fd;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct queue todo, done;
	bool stopping;
};

static void push(struct queue *q, struct worker_job *j)
{
	j->next = NULL;
	*q->tail = j;
	q->tail = &j->next;
}

static struct worker_job *take_all(struct queue *q)
{
	struct worker_job *j = q->head;

	q->head = NULL;
	q->tail = &q->head;
	return j;
}

void worker_thread_background(const char *name)
{
	pthread_setname_np(pthread_self(), name);
	/* Linux's nice is per thread: this one only. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), WORKER_NICE))
		log_warn("thread priority not lowered thread=%s err=%s", name, strerror(errno));
}

static void *thread_main(void *arg)
{
	struct worker *w = arg;
	uint64_t one = 1;

	worker_thread_background("dbavm-worker");
	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct worker_job *j;

		while (!w->todo.head && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->stopping)
			break;
		j = w->todo.head;
		w->todo.head = j->next;
		if (!w->todo.head)
			w->todo.tail = &w->todo.head;
		pthread_mutex_unlock(&w->lock);
		j->run(j);
		pthread_mutex_lock(&w->lock);
		push(&w->done, j);
		if (write(w->event_fd, &one, sizeof(one)) < 0)
			log_warn("worker could not wake the loop err=%d", errno);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void on_event(struct loop *loop, int fd, uint32_t events, void *arg)
{
	struct worker *w = arg;
	struct worker_job *j, *next;
	uint64_t n;

	(void)loop, (void)events;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("worker event read failed err=%d", errno);
	pthread_mutex_lock(&w->lock);
	j = take_all(&w->done);
	pthread_mutex_unlock(&w->lock);
	for (; j; j = next) {
		next = j->next;
		j->done(j);
	}
}

int worker_open(struct worker **out, struct loop *loop)
{
	struct worker *w = calloc(1, sizeof(*w));
	sigset_t all, old;
	int rc;

	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->todo.tail = &w->todo.head;
	w->done.tail = &w->done.head;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->event_fd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = loop_add_fd(loop, w->event_fd, EPOLLIN, on_event, w);
	if (rc)
		goto fail;
	/* The thread takes no signal: they are the loop's, through its signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&w->thread, NULL, thread_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		loop_del_fd(loop, w->event_fd);
		goto fail;
	}
	*out = w;
	return 0;
fail:
	if (w->event_fd >= 0)
		close(w->event_fd);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return rc;
}

int worker_submit(struct worker *w, struct worker_job *job)
{
	int rc = 0;

	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		rc = -ESHUTDOWN;
	} else {
		push(&w->todo, job);
		pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

void worker_close(struct worker *w, worker_fn *drop)
{
	struct worker_job *j, *next;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	loop_del_fd(w->loop, w->event_fd);
	close(w->event_fd);
	for (int pass = 0; pass < 2; pass++)
		for (j = take_all(pass ? &w->todo : &w->done); j; j = next) {
			next = j->next;
			drop(j);
		}
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
