/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rob-client: TPM clients of a tpmrm node for the robustness tests.  Commands are built
 * and parsed by tss2-sys (through a TCTI whose transmit is a plain write and read on the
 * node, so every errno is seen as the kernel's node gives it), and every response is
 * checked: signatures verify with the client's own key, digests match, handles are the
 * client's own.
 */
#ifndef TPMRM_ROB_CLIENT_H
#define TPMRM_ROB_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_sys.h>

#define ROB_POLL_MS 60000 /* a response that takes longer is a hang: the client fails */

/* Print "rob-client: WHO: message" and exit 1. */
void rob_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Who is talking, for rob_fail(): "client 7", "isolation", ... */
void rob_set_who(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double rob_now(void);

/* --- one open file of the node --- */

typedef struct RobConn {
	const char *node;
	int fd;
	bool nonblock;	      /* O_NONBLOCK: write, poll(POLLIN), read 10, poll, read the rest */
	int last_errno;	      /* of the latest command: 0, or what write() or read() failed with */
	bool errno_from_read; /* it came from read() (an async error, C4), not write() */
	unsigned long commands;
	TSS2_TCTI_CONTEXT *tcti;
	TSS2_SYS_CONTEXT *sys;
} RobConn;

/* Open @node; 0 or -errno. */
int rob_conn_open(RobConn *c, const char *node, bool nonblock);
void rob_conn_close(RobConn *c);

/*
 * One command through the node: 0 and the response, or -errno when write() or the async
 * read() failed (as the node reports RM and TPM transport errors).  A broken protocol (a
 * short write, a poll mask other than POLLIN, a size field that disagrees, no response
 * within ROB_POLL_MS) fails the client.
 */
int rob_conn_transact(RobConn *c, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t rsp_cap,
		      size_t *ret_rsp_len);

/* How a tss2-sys call ended. */
typedef enum RobResult {
	ROB_OK,
	ROB_ERRNO,     /* write or read failed: c->last_errno */
	ROB_TPM_RC,    /* the TPM (or the RM, 0x000B0143) answered with an error */
	ROB_MALFORMED, /* tss2-sys could not parse the response */
} RobResult;

RobResult rob_classify(const RobConn *c, TSS2_RC rc);

/* The control socket: one request, the whole reply (NUL-terminated, g_free it). */
char *rob_control(const char *sock, const char *request);

/* --- the subcommands --- */

int rob_load_main(int argc, char **argv);
int rob_isolation_main(int argc, char **argv);
int rob_nv_main(int argc, char **argv);
int rob_expect_main(int argc, char **argv);

#endif
