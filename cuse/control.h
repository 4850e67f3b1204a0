/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket (--control PATH): a unix stream socket, mode 0600, for
 * introspection by tests, the benchmark and administrators.  One request line per
 * connection; the reply follows and the server closes the connection.
 *
 *   handles             three lines: "transient H...", "loaded-session H...",
 *                       "saved-session H..." (0x%08x each, the backend's own lists,
 *                       taken between two client commands)
 *   wait-spaces N MS    wait until at most N files are open, up to MS ms;
 *                       "ok K" or "timeout K", K the files open
 *   stats               "NAME VALUE" lines: counters of the RM and the device (taken
 *                       between two client commands, like handles: a reply waits for
 *                       the TPM command in flight)
 *
 * Errors: "error MESSAGE".
 */
#ifndef TPMRM_CONTROL_H
#define TPMRM_CONTROL_H

#include "cdev.h"

typedef struct Control Control;

/* Listen on @path (replacing a stale socket) and serve from a thread of its own. */
int control_start(const char *path, Rm *rm, CdevDevice *dev, Control **ret, char **ret_error);
/* Stop the thread and remove the socket.  NULL-safe. */
void control_stop(Control *c);

/* Answer one request line into @out (for the thread, and for tests). */
void control_answer(Rm *rm, CdevDevice *dev, const char *line, GString *out);

#endif
