/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Syscalls on the node under test, logged with -v, and whole TPM transactions on top.
 *
 * Counts are returned as ssize_t (the count, or a negative errno), everything else as
 * 0/-errno.  A TPM error code is a successful transaction: it travels in TpmRsp.rc.
 */
#ifndef TPMRM_CONFORM_IO_H
#define TPMRM_CONFORM_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conform-wire.h"
#include "conform.h"

/* poll(2) with every event bit a device can report; what the spec's masks are compared to. */
#define POLL_ALL_EVENTS \
	(POLLIN | POLLPRI | POLLOUT | POLLRDNORM | POLLRDBAND | POLLWRNORM | POLLWRBAND | POLLRDHUP)

/* open(c->path, @flags | O_CLOEXEC): the fd, or -errno.  Counted in c->nopen. */
int node_open(Conform *c, int flags);
/* close(); NULL-safe in the sense that fd < 0 is ignored. */
void node_close(Conform *c, int fd);
ssize_t node_write(Conform *c, int fd, const void *buf, size_t len);
ssize_t node_read(Conform *c, int fd, void *buf, size_t cap);
/* revents (0 on a time-out), or -errno. */
int node_poll(Conform *c, int fd, short events, int timeout_ms);
int node_set_nonblock(Conform *c, int fd, bool on);
ssize_t node_pread(Conform *c, int fd, void *buf, size_t cap, off_t off);
ssize_t node_pwrite(Conform *c, int fd, const void *buf, size_t len, off_t off);
/* The new offset, or -errno. */
off_t node_lseek(Conform *c, int fd, off_t off, int whence);
int node_ioctl(Conform *c, int fd, unsigned long request);

/*
 * Send @cmd on @fd and read the whole response into @rsp (rc parsed).  On an O_NONBLOCK fd
 * first polls for POLLIN for up to CONFORM_OP_MS.  Returns 0, the node's -errno from
 * write or read, or -CONFORM_E_* when no or a malformed response came.
 */
int tpm_call(Conform *c, int fd, const TpmCmd *cmd, TpmRsp *rsp);
/* tpm_call() for commands whose body does not matter: 0 and *ret_rc, or -errno. */
int tpm_call_rc(Conform *c, int fd, const TpmCmd *cmd, uint32_t *ret_rc);

/* CreatePrimary (see tpm_cmd_create_primary); *ret_handle is set when *ret_rc is 0. */
int tpm_create_primary(Conform *c, int fd, uint32_t unique, uint32_t *ret_rc, uint32_t *ret_handle);
/* StartAuthSession of @type; *ret_handle is set when *ret_rc is 0. */
int tpm_start_session(Conform *c, int fd, uint8_t type, uint32_t *ret_rc, uint32_t *ret_handle);
int tpm_flush(Conform *c, int fd, uint32_t handle, uint32_t *ret_rc);
int tpm_read_public(Conform *c, int fd, uint32_t handle, uint32_t *ret_rc);
int tpm_policy_get_digest(Conform *c, int fd, uint32_t session, uint32_t *ret_rc);

/* One GetCapability(TPM_CAP_HANDLES, @first, @count); the handles are appended to @out. */
int tpm_get_handles(Conform *c, int fd, uint32_t first, uint32_t count, TpmList *out,
		    bool *ret_more, uint32_t *ret_rc);
/*
 * All handles of @first's type, continuing from the last handle + 1 while moreData (not for
 * transient handles on a tpmrm node: I5).  Stops on a TPM error (*ret_rc).
 */
int tpm_get_handles_all(Conform *c, int fd, uint32_t first, TpmList *out, uint32_t *ret_rc);
/* Every TPMA_CC of GetCapability(TPM_CAP_COMMANDS), continuing while moreData. */
int tpm_get_commands(Conform *c, int fd, TpmList *out, uint32_t *ret_rc);

#endif
