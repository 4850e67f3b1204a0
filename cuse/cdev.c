/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The per-open-file semantics of /dev/tpmrm0 (the kernel's tpm-dev-common.c), one state
 * machine per CdevFile, with the kernel's field names:
 *
 *   response_length  > 0: bytes of the response still unread; < 0: a pending errno
 *                    (async mode); 0: nothing pending
 *   response_read    a read happened since the response appeared (re-enables write)
 *   command_enqueued an O_NONBLOCK command waits for the dispatcher
 *   running          a command of this file is being executed: the kernel holds the
 *                    file's buffer_mutex then, so read, write and poll wait (C7, D5)
 *
 * Where the kernel leaves a race (a read while an O_NONBLOCK command is queued but not
 * started returns 0 or blocks, C7), this file always waits for the response.
 */
#include <errno.h>
#include <string.h>

#include "cdev.h"
#include "dispatch.h"

struct CdevDevice {
	Rm *rm;
	CdevConfig cfg;
	CdevPollOps poll_ops;
	Dispatcher *dispatcher;
	GMutex lock; /* @files, @stats, @stopping */
	GCond released;
	GQueue files;
	uint64_t next_id;
	bool stopping;
	CdevStats stats;
};

struct CdevFile {
	CdevDevice *dev;
	uint64_t id;
	RmCaller caller;
	RmSpace *space;
	GList link; /* in dev->files */

	GMutex lock; /* the kernel's buffer_mutex, never held across a TPM command */
	GCond cond;  /* @running went false */
	uint8_t buf[RM_BUF_MAX];
	size_t cmd_len;
	ssize_t response_length;
	size_t read_off;
	bool response_read;
	bool command_enqueued;
	bool running;
	bool async;	  /* the command in flight came from an O_NONBLOCK write */
	int write_result; /* of a blocking write's command */
	gint64 deadline;  /* E1: the pending response is discarded then; 0 when none */
	void *ph;	  /* a poller to wake */

	DispatchJob job;
	DispatchTimer timer;
};

CdevDevice *cdev_device_new(Rm *rm, const CdevConfig *cfg, const CdevPollOps *poll_ops)
{
	CdevDevice *dev = g_new0(CdevDevice, 1);

	dev->rm = rm;
	if (cfg)
		dev->cfg = *cfg;
	if (!dev->cfg.response_timeout_ms)
		dev->cfg.response_timeout_ms = CDEV_DEFAULT_RESPONSE_TIMEOUT_MS;
	if (poll_ops)
		dev->poll_ops = *poll_ops;
	g_mutex_init(&dev->lock);
	g_cond_init(&dev->released);
	g_queue_init(&dev->files);
	dev->next_id = 1;
	dev->dispatcher = dispatcher_new();
	return dev;
}

void cdev_device_free(CdevDevice *dev)
{
	GList *link;

	if (!dev)
		return;
	g_mutex_lock(&dev->lock);
	dev->stopping = true;
	g_mutex_unlock(&dev->lock);

	/* Files the transport never released (the daemon is stopping): release them now. */
	while ((link = g_queue_peek_head_link(&dev->files)))
		cdev_file_release(link->data);
	dispatcher_free(dev->dispatcher);
	g_cond_clear(&dev->released);
	g_mutex_clear(&dev->lock);
	g_free(dev);
}

void cdev_device_get_stats(CdevDevice *dev, CdevStats *ret)
{
	g_mutex_lock(&dev->lock);
	*ret = dev->stats;
	g_mutex_unlock(&dev->lock);
}

unsigned int cdev_device_wait_open(CdevDevice *dev, unsigned int max_open, unsigned int timeout_ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	unsigned int n;

	g_mutex_lock(&dev->lock);
	while (dev->files.length > max_open && g_cond_wait_until(&dev->released, &dev->lock, end))
		;
	n = dev->files.length;
	g_mutex_unlock(&dev->lock);
	return n;
}

static void file_run_command(DispatchJob *job);
static void file_timer_fire(DispatchTimer *t);

CdevFile *cdev_file_open(CdevDevice *dev, const RmCaller *caller)
{
	CdevFile *f;

	g_mutex_lock(&dev->lock);
	if (dev->cfg.raw && dev->files.length > 0) { /* A2: the kernel's is_open bit */
		g_mutex_unlock(&dev->lock);
		return NULL;
	}
	f = g_new0(CdevFile, 1);
	f->dev = dev;
	f->id = dev->next_id++;
	if (caller)
		f->caller = *caller;
	f->link.data = f;
	g_queue_push_tail_link(&dev->files, &f->link);
	dev->stats.files_open++;
	g_mutex_unlock(&dev->lock);

	/* J1: a raw file has no space; A6: so its close flushes nothing. */
	f->space = dev->cfg.raw ? NULL : rm_space_new(dev->rm, caller);
	g_mutex_init(&f->lock);
	g_cond_init(&f->cond);
	f->response_read = true; /* the kernel's starting state */
	f->job.run = file_run_command;
	f->timer.fire = file_timer_fire;
	return f;
}

uint64_t cdev_file_id(const CdevFile *f)
{
	return f->id;
}

/* With f->lock held: wait until no command of this file is queued or running. */
static void wait_idle(CdevFile *f)
{
	while (f->running || f->command_enqueued)
		g_cond_wait(&f->cond, &f->lock);
}

static void *take_poll_handle(CdevFile *f)
{
	void *ph = f->ph;

	f->ph = NULL;
	return ph;
}

void cdev_file_release(CdevFile *f)
{
	CdevDevice *dev = f->dev;
	void *ph;

	/* A5 (1)-(3): wait for the command in flight, stop the timer, drop the response. */
	g_mutex_lock(&f->lock);
	wait_idle(f);
	f->response_length = 0;
	f->deadline = 0;
	ph = take_poll_handle(f);
	g_mutex_unlock(&f->lock);
	if (ph && dev->poll_ops.destroy)
		dev->poll_ops.destroy(ph);
	dispatcher_forget_timer(dev->dispatcher, &f->timer);

	/* A5 (4)-(5): the RM flushes the space's sessions; saved objects need nothing. */
	rm_space_free(f->space);

	g_mutex_lock(&dev->lock);
	g_queue_unlink(&dev->files, &f->link);
	dev->stats.files_open--;
	dev->stats.files_released++;
	g_cond_broadcast(&dev->released);
	g_mutex_unlock(&dev->lock);

	g_cond_clear(&f->cond);
	g_mutex_clear(&f->lock);
	g_free(f);
}

static bool device_stopping(CdevDevice *dev)
{
	bool stopping;

	g_mutex_lock(&dev->lock);
	stopping = dev->stopping;
	g_mutex_unlock(&dev->lock);
	return stopping;
}

/* With f->lock held: a response or error became pending: E1 starts its clock. */
static void arm_timeout(CdevFile *f)
{
	f->deadline = g_get_monotonic_time() + (gint64)f->dev->cfg.response_timeout_ms * 1000;
	dispatcher_arm(f->dev->dispatcher, &f->timer, f->deadline);
}

/* On the dispatcher thread: one command of @f through the resource manager. */
static void file_run_command(DispatchJob *job)
{
	CdevFile *f = G_STRUCT_MEMBER_P(job, -G_STRUCT_OFFSET(CdevFile, job));
	CdevDevice *dev = f->dev; /* outlives @f, which release may free once we unlock */
	uint8_t cmd[RM_BUF_MAX], rsp[RM_BUF_MAX];
	size_t cmd_len, rsp_len = 0;
	void *ph = NULL;
	int r;

	g_mutex_lock(&f->lock);
	f->command_enqueued = false; /* F1 */
	f->running = true;
	cmd_len = f->cmd_len;
	memcpy(cmd, f->buf, cmd_len);
	g_mutex_unlock(&f->lock);

	/* F2: the chip is gone while the command waited: the async errno is EIO. */
	if (device_stopping(dev))
		r = f->async ? -EIO : -EPIPE;
	else if (dev->cfg.raw) /* J1, J2: straight to the TPM */
		r = rm_process_raw(dev->rm, cmd, cmd_len, rsp, sizeof(rsp), &rsp_len);
	else
		r = rm_process(dev->rm, f->space, cmd, cmd_len, rsp, sizeof(rsp), &rsp_len);

	g_mutex_lock(&f->lock);
	if (r == 0) {
		memcpy(f->buf, rsp, rsp_len);
		f->response_length = (ssize_t)rsp_len;
	} else if (f->async) {
		f->response_length = r; /* F1, F6: delivered by the next read (C4) */
	}
	f->write_result = r;
	if (f->response_length != 0)
		arm_timeout(f);
	/* D4: only async completions wake pollers; a blocking write does not. */
	if (f->async)
		ph = take_poll_handle(f);
	f->running = false;
	g_cond_broadcast(&f->cond);
	g_mutex_unlock(&f->lock);
	/* From here on @f may be gone. */
	if (ph && dev->poll_ops.notify)
		dev->poll_ops.notify(ph);
}

/* E1, E2: on the dispatcher thread, when a response may have waited too long. */
static void file_timer_fire(DispatchTimer *t)
{
	CdevFile *f = G_STRUCT_MEMBER_P(t, -G_STRUCT_OFFSET(CdevFile, timer));
	void *ph = NULL;

	g_mutex_lock(&f->lock);
	if (f->deadline && g_get_monotonic_time() < f->deadline) {
		dispatcher_arm(f->dev->dispatcher, &f->timer, f->deadline); /* moved on */
	} else if (f->deadline && !f->running) {
		g_message("file %" G_GUINT64_FORMAT " (pid %d): unread TPM response discarded "
			  "after %u ms",
			  f->id, (int)f->caller.pid, f->dev->cfg.response_timeout_ms);
		f->response_read = true;
		f->response_length = 0;
		f->read_off = 0;
		f->deadline = 0;
		memset(f->buf, 0, sizeof(f->buf));
		ph = take_poll_handle(f);
		g_mutex_lock(&f->dev->lock);
		f->dev->stats.timeouts++;
		g_mutex_unlock(&f->dev->lock);
	}
	g_mutex_unlock(&f->lock);
	if (ph && f->dev->poll_ops.notify)
		f->dev->poll_ops.notify(ph);
}

ssize_t cdev_file_write(CdevFile *f, const uint8_t *buf, size_t len, bool nonblock)
{
	uint32_t size;
	ssize_t r;

	if (len > RM_BUF_MAX) /* B1: before anything else */
		return -E2BIG;

	g_mutex_lock(&f->lock);
	/* The kernel's write takes the buffer mutex: it waits for a running command. */
	while (f->running)
		g_cond_wait(&f->cond, &f->lock);
	/* B2: an unread response, or a queued command. */
	if ((!f->response_read && f->response_length != 0) || f->command_enqueued) {
		r = -EBUSY;
		goto out;
	}
	/* B3 happens in the transport (the bytes are already here); B4: */
	size = len >= 6 ? tpm2_wire_load_u32(buf + 2) : 0;
	if (len < 6 || len < size) {
		r = -EINVAL;
		goto out;
	}
	if (device_stopping(f->dev)) { /* B8 */
		r = -EPIPE;
		goto out;
	}
	/* B5: a new command; the rest of an old, partly read response goes. */
	memcpy(f->buf, buf, len);
	f->cmd_len = len;
	f->response_length = 0;
	f->response_read = false;
	f->read_off = 0;
	f->deadline = 0;
	f->async = nonblock;
	g_mutex_lock(&f->dev->lock);
	f->dev->stats.writes++;
	g_mutex_unlock(&f->dev->lock);

	if (nonblock) { /* B6 */
		f->command_enqueued = true;
		dispatcher_submit(f->dev->dispatcher, &f->job);
		r = (ssize_t)len;
		goto out;
	}
	/* B7: the whole transaction before returning; running guards the buffer meanwhile. */
	f->running = true;
	dispatcher_submit(f->dev->dispatcher, &f->job);
	while (f->running)
		g_cond_wait(&f->cond, &f->lock);
	r = f->write_result < 0 ? f->write_result : (ssize_t)len; /* B9, B10, B11 */
out:
	g_mutex_unlock(&f->lock);
	return r;
}

ssize_t cdev_file_read(CdevFile *f, uint8_t *buf, size_t len)
{
	ssize_t r = 0;
	size_t n;

	/* C6 (fixed behaviour): a zero-length read touches nothing. */
	if (len == 0)
		return 0;

	g_mutex_lock(&f->lock);
	wait_idle(f);		      /* C7 */
	if (f->response_length < 0) { /* C4: the async errno, once */
		r = f->response_length;
		f->response_read = true;
		f->response_length = 0;
	} else if (f->response_length > 0) { /* C2 */
		n = MIN(len, (size_t)f->response_length);
		memcpy(buf, f->buf + f->read_off, n);
		memset(f->buf + f->read_off, 0, n); /* C8 */
		f->read_off += n;
		f->response_length -= (ssize_t)n;
		f->response_read = true;
		r = (ssize_t)n;
	}
	if (f->response_length == 0) { /* C2, C3: fully consumed: cursor and timer reset */
		f->read_off = 0;
		f->deadline = 0;
	}
	g_mutex_unlock(&f->lock);
	if (r != 0) {
		g_mutex_lock(&f->dev->lock);
		f->dev->stats.reads++;
		g_mutex_unlock(&f->dev->lock);
	}
	return r;
}

unsigned int cdev_file_poll(CdevFile *f, void *ph)
{
	unsigned int mask;
	void *old = NULL;

	g_mutex_lock(&f->lock);
	/* D5: the kernel's poll takes the buffer mutex, held while a command runs. */
	while (f->running)
		g_cond_wait(&f->cond, &f->lock);
	/* D1; D2 also while an O_NONBLOCK command is queued. */
	mask = f->response_length != 0 ? POLLIN | POLLRDNORM : POLLOUT | POLLWRNORM;
	/* D4: the poller waits on the queue whatever the answer: completions and time-outs
	 * wake it. */
	if (ph) {
		old = f->ph;
		f->ph = ph;
	}
	g_mutex_unlock(&f->lock);
	if (old && f->dev->poll_ops.destroy)
		f->dev->poll_ops.destroy(old);
	return mask;
}
