/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dispatcher: one thread that runs TPM work one job at a time, in arrival order, and
 * fires timers.  The TPM is single-threaded (libtpms is process-global), so everything
 * that reaches the backend goes through here.
 *
 * Lock order: a caller may hold its own lock while it submits or arms (its lock, then the
 * dispatcher's); jobs and timers run with no dispatcher lock held.
 */
#ifndef TPMRM_DISPATCH_H
#define TPMRM_DISPATCH_H

#include <glib.h>
#include <stdbool.h>

typedef struct Dispatcher Dispatcher;
typedef struct DispatchJob DispatchJob;
typedef struct DispatchTimer DispatchTimer;

struct DispatchJob {
	void (*run)(DispatchJob *job);
	GList link; /* owned by the dispatcher while queued */
};

/*
 * A one-shot timer embedded in its owner.  @fire runs on the dispatcher thread at or
 * after @deadline; the owner checks there whether the timer still matters.
 */
struct DispatchTimer {
	void (*fire)(DispatchTimer *t);
	gint64 deadline;    /* g_get_monotonic_time() microseconds; guarded by the dispatcher */
	GSequenceIter *pos; /* in the dispatcher's timer queue, or NULL */
};

Dispatcher *dispatcher_new(void);
/* Runs the jobs already queued, then stops the thread.  Armed timers are dropped. */
void dispatcher_free(Dispatcher *d);

/* Queue @job; it runs after every job queued before it. */
void dispatcher_submit(Dispatcher *d, DispatchJob *job);

/* (Re)arm @t for @deadline; a timer already armed keeps the earlier of the two deadlines
 * and its owner re-arms from @fire if its own deadline moved. */
void dispatcher_arm(Dispatcher *d, DispatchTimer *t, gint64 deadline);

/*
 * Disarm @t and wait until it is not firing: after this the dispatcher will not touch
 * @t.  Must not be called with a lock that @fire takes.
 */
void dispatcher_forget_timer(Dispatcher *d, DispatchTimer *t);

#endif
