/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>

#include "fuse-ops.h"

static CdevFile *file_of(struct fuse_file_info *fi)
{
	return (CdevFile *)(uintptr_t)fi->fh;
}

static FuseOpsContext *context_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void poll_notify(void *ph)
{
	fuse_lowlevel_notify_poll(ph);
	fuse_pollhandle_destroy(ph);
}

static void poll_destroy(void *ph)
{
	fuse_pollhandle_destroy(ph);
}

const CdevPollOps fuse_ops_wakeups = {
	.notify = poll_notify,
	.destroy = poll_destroy,
};

void fuse_ops_open(fuse_req_t req, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	FuseOpsContext *c = context_of(req);
	RmCaller caller = { .uid = ctx->uid, .gid = ctx->gid, .pid = ctx->pid };
	CdevFile *f = cdev_file_open(c->dev, &caller);

	if (!f) { /* A2: the raw node is exclusive */
		g_info("open %s refused: already open (uid %u, pid %d)", c->node,
		       (unsigned int)ctx->uid, (int)ctx->pid);
		fuse_reply_err(req, EBUSY);
		return;
	}
	/* Offsets mean nothing: the kernel's own read cursor lives in the CdevFile. */
	fi->fh = (uintptr_t)f;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fi->nonseekable = 1;
	g_info("open %s: file %" G_GUINT64_FORMAT ", uid %u, pid %d", c->node, cdev_file_id(f),
	       (unsigned int)ctx->uid, (int)ctx->pid);
	if (fuse_reply_open(req, fi) != 0) {
		/* The opener is gone (killed): nobody will release this file. */
		cdev_file_release(f);
	}
}

void fuse_ops_read(fuse_req_t req, size_t size, struct fuse_file_info *fi)
{
	uint8_t buf[RM_BUF_MAX];
	ssize_t r = cdev_file_read(file_of(fi), buf, MIN(size, sizeof(buf)));

	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_buf(req, (const char *)buf, (size_t)r);
}

void fuse_ops_write(fuse_req_t req, const char *buf, size_t size, struct fuse_file_info *fi)
{
	/* fi->flags is the file's f_flags now, so fcntl(F_SETFL, O_NONBLOCK) counts (B6). */
	ssize_t r = cdev_file_write(file_of(fi), (const uint8_t *)buf, size,
				    (fi->flags & O_NONBLOCK) != 0);

	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_write(req, (size_t)r);
}

/* Sent on every close of a dup'ed or inherited descriptor; the last one is RELEASE. */
void fuse_ops_flush(fuse_req_t req, struct fuse_file_info *fi)
{
	(void)fi;
	fuse_reply_err(req, 0);
}

void fuse_ops_release(fuse_req_t req, struct fuse_file_info *fi)
{
	CdevFile *f = file_of(fi);
	FuseOpsContext *c = context_of(req);

	g_info("release %s: file %" G_GUINT64_FORMAT, c->node, cdev_file_id(f));
	cdev_file_release(f); /* A5: waits for the command in flight, flushes the space */
	fuse_reply_err(req, 0);
}

void fuse_ops_poll(fuse_req_t req, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	fuse_reply_poll(req, cdev_file_poll(file_of(fi), ph));
}

int fuse_ops_serve(struct fuse_session *se)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r;

	/* Blocking writes hold a thread each for a whole TPM command; allow plenty. */
	fuse_loop_cfg_set_max_threads(cfg, 256);
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	if (fuse_set_signal_handlers(se) != 0) {
		fuse_loop_cfg_destroy(cfg);
		return -EIO;
	}
	r = fuse_session_loop_mt(se, cfg);
	fuse_remove_signal_handlers(se);
	fuse_loop_cfg_destroy(cfg);
	return r < 0 ? r : 0;
}

/* G1: no ioctls on a TPM node. */
void fuse_ops_ioctl(fuse_req_t req)
{
	fuse_reply_err(req, ENOTTY);
}
