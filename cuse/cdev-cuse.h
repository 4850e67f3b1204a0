/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The CUSE transport: a real character device /dev/NAME served through /dev/cuse. */
#ifndef TPMRM_CDEV_CUSE_H
#define TPMRM_CDEV_CUSE_H

#include <stdbool.h>
#include <sys/types.h>

#include "cdev.h"

typedef struct CuseDevOptions {
	const char *name; /* the node is /dev/NAME */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	/* Called once on the serving thread: 0 when the node exists with its mode and owner,
	 * or a negative errno when it could not be set up. */
	void (*ready)(void *user, int status);
	void *user;
} CuseDevOptions;

typedef struct CuseDev CuseDev;

/*
 * Open /dev/cuse and register the device.  Fails with a message suggesting 'modprobe
 * cuse' or --fuse PATH when /dev/cuse is missing or not usable.
 */
int cuse_dev_start(CdevDevice *dev, const CuseDevOptions *o, CuseDev **ret, char **ret_error);
/* Serve until SIGINT, SIGTERM or SIGHUP.  Returns 0 or a negative errno. */
int cuse_dev_run(CuseDev *cd);
/* Unregister (the node goes away) and free.  NULL-safe. */
void cuse_dev_free(CuseDev *cd);

#endif
