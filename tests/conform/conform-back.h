/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Views of the TPM behind the node: the daemon's control socket (--control), a raw TPM node
 * such as /dev/tpm0 (--backchannel), or, for sessions only, the node itself (a tpmrm node
 * lists every space's sessions: I5 keeps non-transient handles).
 */
#ifndef TPMRM_CONFORM_BACK_H
#define TPMRM_CONFORM_BACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conform-wire.h"
#include "conform.h"

typedef struct TpmView {
	TpmList transient;
	TpmList loaded; /* GetCapability(TPM_CAP_HANDLES, 0x02000000) */
	TpmList saved;	/* GetCapability(TPM_CAP_HANDLES, 0x03000000) */
} TpmView;

typedef bool (*ViewPred)(const TpmView *v, uint32_t handle);

/* True with --control or --backchannel. */
bool back_available(const Conform *c);
/* "the control socket" or "the raw node PATH". */
const char *back_name(const Conform *c);

/*
 * Send one request line (without the newline) to the control socket and read the reply
 * until EOF into @out (NUL-terminated).  0, -errno, or -EPROTO for an "error ..." reply.
 */
int ctl_request(const Conform *c, const char *req, char *out, size_t cap, int timeout_ms);

/*
 * Wait until the spaces of the fds this process closed are freed: with --control,
 * "wait-spaces <c->nopen> 5000".  0 when done or when there is no control socket;
 * -EBUSY when the daemon still had more spaces open after 5 s ("timeout K"), or the
 * -errno of the request itself.
 */
int back_settle(Conform *c);

/*
 * open() on a tpm0 node, which is exclusive (A2): a file closed a moment ago may hold it
 * until its release is done, which on a FUSE file comes after close() returned.  On
 * EBUSY, wait for that (with --control "wait-spaces <c->nopen> MS", else retrying every
 * 10 ms) for up to CONFORM_REOPEN_MS.  The fd or -errno; *ret_waited_ms (may be NULL)
 * says how long it took.
 */
int node_open_released(Conform *c, int flags, int64_t *ret_waited_ms);

/* The backchannel's view (transient objects, loaded and saved sessions). */
int back_view(Conform *c, TpmView *v);
/* Sessions as a fresh fd of the node lists them; transient is this fd's own (empty). */
int node_view(Conform *c, TpmView *v);

/*
 * Call @view until @pred(v, @handle) holds.  When the release of a closed fd may still be
 * in flight and nothing can say when it ends (a FUSE file without --control), retries for
 * CONFORM_SETTLE_MS; otherwise looks once.  0 when @pred held, -EAGAIN when it did not
 * (*v holds the last view), or -errno.
 */
int view_until(Conform *c, int (*view)(Conform *, TpmView *), ViewPred pred, uint32_t handle,
	       TpmView *v);

/* Predicates on a session handle (compared by index: TPMs list either session range). */
bool view_session_absent(const TpmView *v, uint32_t handle);
bool view_session_saved(const TpmView *v, uint32_t handle);
bool view_no_transient(const TpmView *v, uint32_t unused);

#endif
