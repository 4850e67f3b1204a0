/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "dispatch.h"

struct Dispatcher {
	GMutex lock;
	GCond cond;
	GQueue jobs;
	GSequence *timers;     /* DispatchTimer *, ordered by deadline */
	DispatchTimer *firing; /* the timer whose @fire runs now */
	bool stopping;
	GThread *thread;
};

static gint timer_cmp(gconstpointer a, gconstpointer b, gpointer user)
{
	const DispatchTimer *x = a, *y = b;

	(void)user;
	if (x->deadline != y->deadline)
		return x->deadline < y->deadline ? -1 : 1;
	return x < y ? -1 : (x > y);
}

/* With the lock held: the first timer due, removed from the queue, or NULL. */
static DispatchTimer *pop_due_timer(Dispatcher *d, gint64 now, gint64 *ret_next)
{
	GSequenceIter *first = g_sequence_get_begin_iter(d->timers);
	DispatchTimer *t;

	*ret_next = G_MAXINT64;
	if (g_sequence_iter_is_end(first))
		return NULL;
	t = g_sequence_get(first);
	if (t->deadline > now) {
		*ret_next = t->deadline;
		return NULL;
	}
	g_sequence_remove(first);
	t->pos = NULL;
	return t;
}

static gpointer dispatcher_thread(gpointer data)
{
	Dispatcher *d = data;
	DispatchTimer *t;
	GList *link;
	gint64 next;

	g_mutex_lock(&d->lock);
	for (;;) {
		link = g_queue_pop_head_link(&d->jobs);
		if (link) {
			g_mutex_unlock(&d->lock);
			((DispatchJob *)link->data)->run(link->data);
			g_mutex_lock(&d->lock);
			continue;
		}
		if (d->stopping)
			break;
		t = pop_due_timer(d, g_get_monotonic_time(), &next);
		if (t) {
			d->firing = t;
			g_mutex_unlock(&d->lock);
			t->fire(t);
			g_mutex_lock(&d->lock);
			d->firing = NULL;
			g_cond_broadcast(&d->cond);
			continue;
		}
		if (next == G_MAXINT64)
			g_cond_wait(&d->cond, &d->lock);
		else
			g_cond_wait_until(&d->cond, &d->lock, next);
	}
	g_mutex_unlock(&d->lock);
	return NULL;
}

Dispatcher *dispatcher_new(void)
{
	Dispatcher *d = g_new0(Dispatcher, 1);

	g_mutex_init(&d->lock);
	g_cond_init(&d->cond);
	g_queue_init(&d->jobs);
	d->timers = g_sequence_new(NULL);
	d->thread = g_thread_new("tpmrm-dispatch", dispatcher_thread, d);
	return d;
}

void dispatcher_free(Dispatcher *d)
{
	GSequenceIter *it;

	if (!d)
		return;
	g_mutex_lock(&d->lock);
	d->stopping = true;
	g_cond_broadcast(&d->cond);
	g_mutex_unlock(&d->lock);
	g_thread_join(d->thread);

	for (it = g_sequence_get_begin_iter(d->timers); !g_sequence_iter_is_end(it);
	     it = g_sequence_iter_next(it))
		((DispatchTimer *)g_sequence_get(it))->pos = NULL;
	g_sequence_free(d->timers);
	g_cond_clear(&d->cond);
	g_mutex_clear(&d->lock);
	g_free(d);
}

void dispatcher_submit(Dispatcher *d, DispatchJob *job)
{
	g_mutex_lock(&d->lock);
	job->link.data = job;
	job->link.prev = job->link.next = NULL;
	g_queue_push_tail_link(&d->jobs, &job->link);
	g_cond_broadcast(&d->cond);
	g_mutex_unlock(&d->lock);
}

void dispatcher_arm(Dispatcher *d, DispatchTimer *t, gint64 deadline)
{
	g_mutex_lock(&d->lock);
	if (t->pos && t->deadline <= deadline) {
		g_mutex_unlock(&d->lock);
		return;
	}
	if (t->pos)
		g_sequence_remove(t->pos);
	t->deadline = deadline;
	t->pos = g_sequence_insert_sorted(d->timers, t, timer_cmp, NULL);
	g_cond_broadcast(&d->cond);
	g_mutex_unlock(&d->lock);
}

void dispatcher_forget_timer(Dispatcher *d, DispatchTimer *t)
{
	g_mutex_lock(&d->lock);
	if (t->pos) {
		g_sequence_remove(t->pos);
		t->pos = NULL;
	}
	while (d->firing == t)
		g_cond_wait(&d->cond, &d->lock);
	g_mutex_unlock(&d->lock);
}
