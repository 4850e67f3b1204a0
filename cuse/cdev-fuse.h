/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The FUSE-file transport: the node is a regular file at PATH, covered by a one-file FUSE
 * mount whose root is that file.  For kernels without CUSE.
 */
#ifndef TPMRM_CDEV_FUSE_H
#define TPMRM_CDEV_FUSE_H

#include <stdbool.h>
#include <sys/types.h>

#include "cdev.h"

typedef struct FuseFileOptions {
	const char *path;
	mode_t mode; /* permissions of the node */
	uid_t uid;
	gid_t gid;
	bool allow_other; /* let users other than the mounter in (then the mode decides) */
} FuseFileOptions;

typedef struct FuseFile FuseFile;

/*
 * Create PATH if it is absent, recover a stale mount left there by a crashed daemon, and
 * mount.  Returns 0 and *ret, or a negative errno with a message in *ret_error.
 */
int fuse_file_mount(CdevDevice *dev, const FuseFileOptions *o, FuseFile **ret, char **ret_error);
/*
 * fusermount3 lets an ordinary user mount with allow_other only if /etc/fuse.conf has the
 * line user_allow_other.  Returns 0 if it has; -EPERM with a message naming the file if it
 * has not or the file is absent; another -errno with a message if it cannot be read (then
 * only fusermount3, which reads it as root, knows).
 */
int fuse_file_check_user_allow_other(char **ret_error);
/* Serve requests until SIGINT, SIGTERM or SIGHUP, or an unmount.  Returns 0 or -errno. */
int fuse_file_run(FuseFile *ff);
/* Unmount and free.  NULL-safe. */
void fuse_file_free(FuseFile *ff);

#endif
