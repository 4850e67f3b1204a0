/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "conform-io.h"

static void log_bytes(const Conform *c, const char *what, const uint8_t *p, size_t n)
{
	char hex[3 * 24 + 8];
	size_t i, off = 0;

	if (!c->verbose)
		return;
	for (i = 0; i < n && i < 24; i++)
		off += (size_t)snprintf(hex + off, sizeof(hex) - off, " %02x", p[i]);
	if (n > 24)
		snprintf(hex + off, sizeof(hex) - off, " ...");
	conform_log(c, "%s%s", what, hex);
}

int node_open(Conform *c, int flags)
{
	int fd;

	conform_step(c, "open(%s, %s)", c->path,
		     (flags & O_NONBLOCK) ? "O_RDWR|O_NONBLOCK" : "O_RDWR");
	fd = open(c->path, flags | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		conform_log(c, "open -> %s", errno_str(err).s);
		return -err;
	}
	c->nopen++;
	conform_log(c, "open -> fd %d", fd);
	return fd;
}

void node_close(Conform *c, int fd)
{
	if (fd < 0)
		return;
	conform_step(c, "close(fd %d)", fd);
	close(fd);
	c->nopen--;
}

ssize_t node_write(Conform *c, int fd, const void *buf, size_t len)
{
	ssize_t r;

	conform_step(c, "write(fd %d, %zu bytes)", fd, len);
	log_bytes(c, "  >", buf, len);
	r = write(fd, buf, len);
	if (r < 0)
		r = -errno;
	conform_log(c, "write(fd %d, %zu) %s", fd, len, ret_str(r).s);
	return r;
}

ssize_t node_read(Conform *c, int fd, void *buf, size_t cap)
{
	ssize_t r;

	conform_step(c, "read(fd %d, %zu bytes)", fd, cap);
	r = read(fd, buf, cap);
	if (r < 0)
		r = -errno;
	conform_log(c, "read(fd %d, %zu) %s", fd, cap, ret_str(r).s);
	if (r > 0)
		log_bytes(c, "  <", buf, (size_t)r);
	return r;
}

int node_poll(Conform *c, int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r;

	conform_step(c, "poll(fd %d, 0x%x, %d ms)", fd, (unsigned int)events, timeout_ms);
	r = poll(&pfd, 1, timeout_ms);
	if (r < 0) {
		r = -errno;
		conform_log(c, "poll -> %s", errno_str(-r).s);
		return r;
	}
	conform_log(c, "poll(fd %d, 0x%x) -> revents 0x%x", fd, (unsigned int)events,
		    (unsigned int)pfd.revents);
	return r == 0 ? 0 : pfd.revents;
}

int node_set_nonblock(Conform *c, int fd, bool on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -errno;
	flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
	conform_log(c, "fcntl(fd %d, F_SETFL, %s)", fd, on ? "O_NONBLOCK" : "0");
	if (fcntl(fd, F_SETFL, flags) < 0)
		return -errno;
	return 0;
}

ssize_t node_pread(Conform *c, int fd, void *buf, size_t cap, off_t off)
{
	ssize_t r;

	conform_step(c, "pread(fd %d, %zu bytes, offset 0x%llx)", fd, cap, (long long)off);
	r = pread(fd, buf, cap, off);
	if (r < 0)
		r = -errno;
	conform_log(c, "pread(fd %d, %zu, 0x%llx) %s", fd, cap, (long long)off, ret_str(r).s);
	return r;
}

ssize_t node_pwrite(Conform *c, int fd, const void *buf, size_t len, off_t off)
{
	ssize_t r;

	conform_step(c, "pwrite(fd %d, %zu bytes, offset 0x%llx)", fd, len, (long long)off);
	r = pwrite(fd, buf, len, off);
	if (r < 0)
		r = -errno;
	conform_log(c, "pwrite(fd %d, %zu, 0x%llx) %s", fd, len, (long long)off, ret_str(r).s);
	return r;
}

off_t node_lseek(Conform *c, int fd, off_t off, int whence)
{
	off_t r;

	conform_step(c, "lseek(fd %d, %lld, %d)", fd, (long long)off, whence);
	r = lseek(fd, off, whence);
	if (r < 0)
		r = -errno;
	conform_log(c, "lseek(fd %d) %s", fd, ret_str(r).s);
	return r;
}

int node_ioctl(Conform *c, int fd, unsigned long request)
{
	int r;

	conform_step(c, "ioctl(fd %d, 0x%lx, 0)", fd, request);
	r = ioctl(fd, request, 0);
	if (r < 0)
		r = -errno;
	conform_log(c, "ioctl(fd %d, 0x%lx) %s", fd, request, ret_str(r).s);
	return r;
}

/* Read until the response is as long as its header says (normally one read). */
static int read_response(Conform *c, int fd, TpmRsp *rsp)
{
	ssize_t r;
	size_t want = TPM_HEADER_SIZE;

	rsp->len = 0;
	while (rsp->len < want) {
		r = node_read(c, fd, rsp->buf + rsp->len, sizeof(rsp->buf) - rsp->len);
		if (r < 0)
			return (int)r;
		if (r == 0)
			return rsp->len ? -CONFORM_E_BADRSP : -CONFORM_E_NORSP;
		rsp->len += (size_t)r;
		if (rsp->len >= TPM_HEADER_SIZE)
			want = tpm_get_u32(rsp->buf + 2);
		if (want < TPM_HEADER_SIZE || want > sizeof(rsp->buf))
			return -CONFORM_E_BADRSP;
	}
	if (rsp->len != want)
		return -CONFORM_E_BADRSP;
	rsp->rc = tpm_get_u32(rsp->buf + 6);
	return 0;
}

int tpm_call(Conform *c, int fd, const TpmCmd *cmd, TpmRsp *rsp)
{
	int flags, r;
	ssize_t n;

	if (cmd->overflow)
		return -EOVERFLOW;
	conform_log(c, "%s on fd %d", cmd->name, fd);
	n = node_write(c, fd, cmd->buf, cmd->len);
	if (n < 0)
		return (int)n;
	if ((size_t)n != cmd->len)
		return -CONFORM_E_SHORTWR;
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0 && (flags & O_NONBLOCK)) {
		r = node_poll(c, fd, POLLIN, CONFORM_OP_MS);
		if (r < 0)
			return r;
		if (!(r & POLLIN))
			return -CONFORM_E_TIMEOUT;
	}
	r = read_response(c, fd, rsp);
	if (r == 0)
		conform_log(c, "%s -> rc 0x%08x, %zu bytes", cmd->name, rsp->rc, rsp->len);
	return r;
}

int tpm_call_rc(Conform *c, int fd, const TpmCmd *cmd, uint32_t *ret_rc)
{
	TpmRsp rsp;
	int r = tpm_call(c, fd, cmd, &rsp);

	if (r == 0)
		*ret_rc = rsp.rc;
	return r;
}

/* A call whose response starts with a handle (CreatePrimary, StartAuthSession, ...). */
static int call_handle(Conform *c, int fd, const TpmCmd *cmd, uint32_t *ret_rc,
		       uint32_t *ret_handle)
{
	TpmRsp rsp;
	int r = tpm_call(c, fd, cmd, &rsp);

	if (r < 0)
		return r;
	if (rsp.rc == 0) {
		r = tpm_rsp_handle(&rsp, ret_handle);
		if (r < 0)
			return r;
	}
	*ret_rc = rsp.rc;
	return 0;
}

int tpm_create_primary(Conform *c, int fd, uint32_t unique, uint32_t *ret_rc, uint32_t *ret_handle)
{
	TpmCmd cmd;

	tpm_cmd_create_primary(&cmd, unique);
	return call_handle(c, fd, &cmd, ret_rc, ret_handle);
}

int tpm_start_session(Conform *c, int fd, uint8_t type, uint32_t *ret_rc, uint32_t *ret_handle)
{
	TpmCmd cmd;

	tpm_cmd_start_auth_session(&cmd, type);
	return call_handle(c, fd, &cmd, ret_rc, ret_handle);
}

int tpm_flush(Conform *c, int fd, uint32_t handle, uint32_t *ret_rc)
{
	TpmCmd cmd;

	tpm_cmd_flush_context(&cmd, handle);
	return tpm_call_rc(c, fd, &cmd, ret_rc);
}

int tpm_read_public(Conform *c, int fd, uint32_t handle, uint32_t *ret_rc)
{
	TpmCmd cmd;

	tpm_cmd_read_public(&cmd, handle);
	return tpm_call_rc(c, fd, &cmd, ret_rc);
}

int tpm_policy_get_digest(Conform *c, int fd, uint32_t session, uint32_t *ret_rc)
{
	TpmCmd cmd;

	tpm_cmd_policy_get_digest(&cmd, session);
	return tpm_call_rc(c, fd, &cmd, ret_rc);
}

/* Send @cmd, a GetCapability of @cap, and append the listed values to @out. */
static int get_cap_list(Conform *c, int fd, const TpmCmd *cmd, uint32_t cap, TpmList *out,
			bool *ret_more, uint32_t *ret_rc)
{
	TpmRsp rsp;
	int r;

	r = tpm_call(c, fd, cmd, &rsp);
	if (r < 0)
		return r;
	*ret_rc = rsp.rc;
	*ret_more = false;
	if (rsp.rc != 0)
		return 0;
	return tpm_rsp_cap_list(&rsp, cap, out, ret_more);
}

int tpm_get_handles(Conform *c, int fd, uint32_t first, uint32_t count, TpmList *out,
		    bool *ret_more, uint32_t *ret_rc)
{
	TpmCmd cmd;

	tpm_cmd_get_capability(&cmd, TPM_CAP_HANDLES, first, count);
	return get_cap_list(c, fd, &cmd, TPM_CAP_HANDLES, out, ret_more, ret_rc);
}

/* Continue a listing from the last value's @key + 1 while moreData. */
static int get_cap_all(Conform *c, int fd, uint32_t cap, uint32_t first, TpmList *out,
		       uint32_t *ret_rc)
{
	const size_t max = sizeof(out->v) / sizeof(out->v[0]);
	uint32_t prop = first;
	bool more = true;
	TpmCmd cmd;
	int r, rounds;

	out->n = 0;
	for (rounds = 0; more && rounds < 64 && out->n < max; rounds++) {
		size_t before = out->n;

		tpm_cmd_get_capability(&cmd, cap, prop, 64);
		r = get_cap_list(c, fd, &cmd, cap, out, &more, ret_rc);
		if (r < 0 || *ret_rc != 0)
			return r;
		if (out->n == before)
			break;
		prop = out->v[out->n - 1];
		if (cap == TPM_CAP_COMMANDS) /* the command code: index and V bit */
			prop &= 0xffffu | TPMA_CC_V;
		prop++;
	}
	return 0;
}

int tpm_get_handles_all(Conform *c, int fd, uint32_t first, TpmList *out, uint32_t *ret_rc)
{
	return get_cap_all(c, fd, TPM_CAP_HANDLES, first, out, ret_rc);
}

int tpm_get_commands(Conform *c, int fd, TpmList *out, uint32_t *ret_rc)
{
	return get_cap_all(c, fd, TPM_CAP_COMMANDS, 0x11f, out, ret_rc);
}
