/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rob-client: one open file of the node, and the control socket. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rob-client.h"
#include "tcti-func.h"

static char who[64] = "rob-client";

void rob_set_who(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(who, sizeof(who), fmt, ap);
	va_end(ap);
}

void rob_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "rob-client: %s: ", who);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

double rob_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t load_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* poll(POLLIN) as tpm2-tss does: revents must be exactly POLLIN (D1, D3). */
static void wait_pollin(RobConn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int n;

	do
		n = poll(&pfd, 1, ROB_POLL_MS);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		rob_fail("poll: %s", strerror(errno));
	if (n == 0)
		rob_fail("no response within %d ms (a hang)", ROB_POLL_MS);
	if (pfd.revents != POLLIN)
		rob_fail("poll revents 0x%x, expected POLLIN only", (unsigned int)pfd.revents);
}

/*
 * Read the response: the header, then the rest (F4).  0, or -errno: an async error (C4), or
 * any read that fails (a daemon that died mid-response gives ECONNABORTED or ENOTCONN).
 */
static int read_response(RobConn *c, uint8_t *rsp, size_t cap, size_t *ret_len)
{
	ssize_t n;
	size_t size;
	uint8_t extra;

	if (c->nonblock)
		wait_pollin(c);
	n = read(c->fd, rsp, 10);
	if (n < 0)
		return -errno;
	if (n != 10)
		rob_fail("a header read gave %zd bytes", n);
	size = load_u32(rsp + 2);
	if (size < 10 || size > cap)
		rob_fail("response size field %zu", size);
	if (size > 10) {
		if (c->nonblock)
			wait_pollin(c); /* the rest is still pending: POLLIN (D1) */
		n = read(c->fd, rsp + 10, cap - 10);
		if (n < 0) /* e.g. ECONNABORTED: the daemon died between the two reads */
			return -errno;
		if (n != (ssize_t)(size - 10))
			rob_fail("a body read gave %zd of %zu bytes", n, size - 10);
	}
	n = read(c->fd, &extra, 1);
	if (n < 0)
		return -errno;
	if (n != 0)
		rob_fail("a read after the whole response did not return 0 (C3)");
	*ret_len = size;
	return 0;
}

int rob_conn_transact(RobConn *c, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t rsp_cap,
		      size_t *ret_rsp_len)
{
	ssize_t n;
	int r;

	c->last_errno = 0;
	c->errno_from_read = false;
	c->commands++;
	n = write(c->fd, cmd, cmd_len);
	if (n < 0) {
		c->last_errno = errno;
		return -errno;
	}
	if ((size_t)n != cmd_len)
		rob_fail("write of %zu bytes returned %zd (B11)", cmd_len, n);
	r = read_response(c, rsp, rsp_cap, ret_rsp_len);
	if (r < 0) {
		c->last_errno = -r;
		c->errno_from_read = true;
	}
	return r;
}

static int conn_fn(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t rsp_cap,
		   size_t *ret_rsp_len)
{
	return rob_conn_transact(user, cmd, cmd_len, rsp, rsp_cap, ret_rsp_len);
}

int rob_conn_open(RobConn *c, const char *node, bool nonblock)
{
	TSS2_ABI_VERSION abi = TSS2_ABI_VERSION_CURRENT;
	size_t size = Tss2_Sys_GetContextSize(0);

	memset(c, 0, sizeof(*c));
	c->node = node;
	c->nonblock = nonblock;
	c->fd = open(node, O_RDWR | O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
	if (c->fd < 0)
		return -errno;
	c->tcti = tcti_func_new(conn_fn, c);
	c->sys = g_malloc0(size);
	if (Tss2_Sys_Initialize(c->sys, size, c->tcti, &abi) != TSS2_RC_SUCCESS)
		rob_fail("Tss2_Sys_Initialize failed");
	return 0;
}

void rob_conn_close(RobConn *c)
{
	if (c->sys) {
		Tss2_Sys_Finalize(c->sys);
		g_clear_pointer(&c->sys, g_free);
	}
	g_clear_pointer(&c->tcti, tcti_func_free);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

RobResult rob_classify(const RobConn *c, TSS2_RC rc)
{
	if (rc == TSS2_RC_SUCCESS)
		return ROB_OK;
	if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER && c->last_errno)
		return ROB_ERRNO;
	if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER ||
	    (rc & TSS2_RC_LAYER_MASK) == TSS2_RESMGR_RC_LAYER)
		return ROB_TPM_RC;
	return ROB_MALFORMED;
}

char *rob_control(const char *sock, const char *request)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval timeout = { .tv_sec = 20 };
	g_autoptr(GString) out = g_string_new(NULL);
	char buf[1024];
	ssize_t n;
	int fd;

	if (strlen(sock) >= sizeof(sun.sun_path))
		rob_fail("control socket path too long");
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		rob_fail("control socket %s: %s", sock, strerror(errno));
	if (write(fd, request, strlen(request)) != (ssize_t)strlen(request) ||
	    write(fd, "\n", 1) != 1)
		rob_fail("control socket %s: write: %s", sock, strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		g_string_append_len(out, buf, n);
	close(fd);
	if (n < 0)
		rob_fail("control socket %s: read: %s", sock, strerror(errno));
	return g_string_free(g_steal_pointer(&out), FALSE);
}
