/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libfuse request handlers shared by the two transports (CUSE and the FUSE file): each
 * turns one request into one cdev call and one fuse_reply_*.  The request's userdata is
 * the FuseOpsContext.
 */
#ifndef TPMRM_FUSE_OPS_H
#define TPMRM_FUSE_OPS_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>

#include "cdev.h"

typedef struct FuseOpsContext {
	CdevDevice *dev;
	const char *node; /* for log lines */
	struct fuse_session *se;
} FuseOpsContext;

/* The CdevPollOps that wake FUSE pollers. */
extern const CdevPollOps fuse_ops_wakeups;

void fuse_ops_open(fuse_req_t req, struct fuse_file_info *fi);
void fuse_ops_read(fuse_req_t req, size_t size, struct fuse_file_info *fi);
void fuse_ops_write(fuse_req_t req, const char *buf, size_t size, struct fuse_file_info *fi);
void fuse_ops_flush(fuse_req_t req, struct fuse_file_info *fi);
void fuse_ops_release(fuse_req_t req, struct fuse_file_info *fi);
void fuse_ops_poll(fuse_req_t req, struct fuse_file_info *fi, struct fuse_pollhandle *ph);
void fuse_ops_ioctl(fuse_req_t req);

/*
 * Serve @se's requests on a pool of threads until SIGINT, SIGTERM or SIGHUP (libfuse's
 * handlers), or an unmount.  Returns 0 or a negative errno.  Shared by both transports.
 */
int fuse_ops_serve(struct fuse_session *se);

#endif
