/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cdev: the per-open-file state machine of the kernel's tpm-dev-common.c, free of
 * libfuse so that the CUSE and FUSE-file transports share it and tests drive it
 * directly.  Knows nothing of TPM handles: commands go to the resource manager through
 * the dispatcher.  ../shared/spec/tpmrm-uapi.md sections A-G are the reference; each
 * function cites the parts it implements.
 */
#ifndef TPMRM_CDEV_H
#define TPMRM_CDEV_H

#include <glib.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "rm.h"

/* E1: the kernel discards an unread response after 120 s. */
#define CDEV_DEFAULT_RESPONSE_TIMEOUT_MS 120000u

typedef struct CdevDevice CdevDevice;
typedef struct CdevFile CdevFile;

/* How a transport wakes a poller it parked (FUSE: fuse_lowlevel_notify_poll). */
typedef struct CdevPollOps {
	void (*notify)(void *ph);  /* wake, then release @ph */
	void (*destroy)(void *ph); /* release @ph without waking */
} CdevPollOps;

typedef struct CdevConfig {
	unsigned int response_timeout_ms; /* E1; 0 means the default */
	bool raw; /* /dev/tpm0 semantics (J): exclusive open, no resource manager */
} CdevConfig;

typedef struct CdevStats {
	uint64_t files_open;
	uint64_t files_released;
	uint64_t writes;   /* accepted */
	uint64_t reads;	   /* that returned bytes or an error */
	uint64_t timeouts; /* responses discarded unread (E1) */
} CdevStats;

/*
 * A device: every open file of one node, the dispatcher thread that runs their commands
 * through @rm (borrowed), and their timers.  @poll_ops may be NULL (no poll wake-ups).
 */
CdevDevice *cdev_device_new(Rm *rm, const CdevConfig *cfg, const CdevPollOps *poll_ops);
/*
 * Stop: new writes fail with EPIPE (B8), the command in flight finishes, and every file
 * still open is released (its space flushed, A5).  Call after the transport has stopped
 * calling in.
 */
void cdev_device_free(CdevDevice *dev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CdevDevice, cdev_device_free)

void cdev_device_get_stats(CdevDevice *dev, CdevStats *ret);
/* Wait up to @timeout_ms until at most @max_open files are open; returns the number open. */
unsigned int cdev_device_wait_open(CdevDevice *dev, unsigned int max_open, unsigned int timeout_ms);

/*
 * A1: any number of opens, each with a private space.  In raw mode (A2, J1) only one file
 * may be open at a time: NULL means another is (the open fails with EBUSY).
 */
CdevFile *cdev_file_open(CdevDevice *dev, const RmCaller *caller);
/* A5: waits for the file's command in flight, drops any response, frees the space. */
void cdev_file_release(CdevFile *f);
uint64_t cdev_file_id(const CdevFile *f);

/*
 * B1-B11: returns @len, or a negative errno.  @nonblock is O_NONBLOCK as the file has it
 * at the time of the write (B6): then the command is queued and every later error comes
 * back from read (F).  Blocking writes return when the response exists.
 */
ssize_t cdev_file_write(CdevFile *f, const uint8_t *buf, size_t len, bool nonblock);

/* C1-C8: bytes copied (0 when nothing is pending), or a pending errno (once). */
ssize_t cdev_file_read(CdevFile *f, uint8_t *buf, size_t len);

/*
 * D1-D5: POLLIN|POLLRDNORM when a response or an error is pending, else
 * POLLOUT|POLLWRNORM; never POLLERR or POLLHUP.  Waits while the file's command runs.
 * @ph (may be NULL) is kept, replacing an older one, and woken when the state changes
 * (async completion, time-out), as the kernel's wait queue would be.
 */
unsigned int cdev_file_poll(CdevFile *f, void *ph);

#endif
