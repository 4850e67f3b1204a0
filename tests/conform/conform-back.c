/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conform-back.h"
#include "conform-io.h"

bool back_available(const Conform *c)
{
	return c->control || c->backchannel;
}

const char *back_name(const Conform *c)
{
	return c->control ? "the control socket" : "the raw TPM node";
}

static int ctl_connect(const Conform *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(c->control) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, c->control, strlen(c->control) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* Read until EOF, polling so that a silent server cannot hang us. */
static int ctl_read_all(int fd, char *out, size_t cap, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;

	for (;;) {
		int left = (int)(deadline - now_ms());

		if (left <= 0 || poll(&pfd, 1, left) == 0)
			return -ETIMEDOUT;
		n = read(fd, out + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap - 1)
			return -EMSGSIZE;
	}
	out[len] = '\0';
	return 0;
}

/* The reply on one log line: newlines shown as " | ". */
static void log_reply(const Conform *c, const char *req, int r, const char *out)
{
	char line[256];
	size_t i;

	snprintf(line, sizeof(line), "%s", r ? errno_str(-r).s : out);
	for (i = 0; line[i]; i++)
		if (line[i] == '\n')
			line[i] = line[i + 1] ? '|' : '\0';
	conform_log(c, "control: %s -> %s", req, line);
}

int ctl_request(const Conform *c, const char *req, char *out, size_t cap, int timeout_ms)
{
	char line[128];
	int fd, r, n;

	n = snprintf(line, sizeof(line), "%s\n", req);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL;
	fd = ctl_connect(c);
	if (fd < 0)
		return fd;
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		r = -errno;
		close(fd);
		return r ? r : -EIO;
	}
	r = ctl_read_all(fd, out, cap, timeout_ms);
	close(fd);
	if (c->verbose)
		log_reply(c, req, r, out);
	if (r == 0 && strncmp(out, "error", 5) == 0)
		return -EPROTO;
	return r;
}

int back_settle(Conform *c)
{
	char req[64], out[256];
	int r;

	if (!c->control)
		return 0;
	conform_step(c, "control: wait-spaces %d %d", c->nopen, CONFORM_SETTLE_MS);
	snprintf(req, sizeof(req), "wait-spaces %d %d", c->nopen, CONFORM_SETTLE_MS);
	r = ctl_request(c, req, out, sizeof(out), CONFORM_SETTLE_MS + 5000);
	if (r < 0)
		return r;
	if (strncmp(out, "ok ", 3) == 0)
		return 0;
	if (strncmp(out, "timeout ", 8) == 0)
		return -EBUSY;
	return -EPROTO;
}

int node_open_released(Conform *c, int flags, int64_t *ret_waited_ms)
{
	int64_t t0 = now_ms(), left;
	char req[64], out[128];
	bool asked = false;
	int fd;

	for (;;) {
		fd = node_open(c, flags);
		left = t0 + CONFORM_REOPEN_MS - now_ms();
		if (fd != -EBUSY || left <= 0)
			break;
		if (c->control && !asked) {
			conform_step(c, "control: wait-spaces %d %lld", c->nopen, (long long)left);
			snprintf(req, sizeof(req), "wait-spaces %d %lld", c->nopen,
				 (long long)left);
			ctl_request(c, req, out, sizeof(out), (int)left + 5000);
			asked = true;
		} else {
			sleep_ms(10);
		}
	}
	if (ret_waited_ms)
		*ret_waited_ms = now_ms() - t0;
	return fd;
}

/* "NAME 0x.. 0x..": the handles after @name into @out; false if the line is not @name's. */
static bool parse_handle_line(const char *line, const char *name, TpmList *out)
{
	size_t n = strlen(name);
	const char *p = line + n;
	char *end;

	if (strncmp(line, name, n) != 0 || (*p != ' ' && *p != '\n' && *p != '\0'))
		return false;
	out->n = 0;
	while (*p == ' ') {
		unsigned long v = strtoul(p + 1, &end, 16);

		if (end == p + 1 || out->n == sizeof(out->v) / sizeof(out->v[0]))
			return false;
		out->v[out->n++] = (uint32_t)v;
		p = end;
	}
	return *p == '\n' || *p == '\0';
}

static int ctl_view(Conform *c, TpmView *v)
{
	char out[8192] = "";
	const char *l2, *l3;
	int r;

	r = ctl_request(c, "handles", out, sizeof(out), 5000);
	if (r < 0)
		return r;
	l2 = strchr(out, '\n');
	l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
	if (!l3 || !parse_handle_line(out, "transient", &v->transient) ||
	    !parse_handle_line(l2 + 1, "loaded-session", &v->loaded) ||
	    !parse_handle_line(l3 + 1, "saved-session", &v->saved))
		return -EPROTO;
	return 0;
}

/* The three listings through @fd (a raw node, or a tpmrm node for sessions). */
static int list_view(Conform *c, int fd, TpmView *v)
{
	static const uint32_t first[3] = { TPM_HT_TRANSIENT, TPM_HT_LOADED_SESSION,
					   TPM_HT_SAVED_SESSION };
	TpmList *lists[3] = { &v->transient, &v->loaded, &v->saved };
	uint32_t rc;
	int i, r;

	for (i = 0; i < 3; i++) {
		if (first[i] == TPM_HT_TRANSIENT) /* continuing is wrong on tpmrm (I5) */
			r = tpm_get_handles(c, fd, first[i], 64, lists[i], &(bool){ false }, &rc);
		else
			r = tpm_get_handles_all(c, fd, first[i], lists[i], &rc);
		if (r < 0)
			return r;
		if (rc != 0)
			return -EPROTO;
	}
	return 0;
}

static int raw_view(Conform *c, TpmView *v)
{
	int fd = -1, tries, r;

	/* /dev/tpm0 is exclusive (A2): someone else may hold it for a moment. */
	for (tries = 0; tries < 50; tries++) {
		fd = open(c->backchannel, O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != EBUSY)
			break;
		sleep_ms(20);
	}
	if (fd < 0)
		return -errno;
	r = list_view(c, fd, v);
	close(fd);
	return r;
}

int back_view(Conform *c, TpmView *v)
{
	memset(v, 0, sizeof(*v));
	if (c->control)
		return ctl_view(c, v);
	if (c->backchannel)
		return raw_view(c, v);
	return -ENOTSUP;
}

int node_view(Conform *c, TpmView *v)
{
	int fd, r;

	memset(v, 0, sizeof(*v));
	fd = node_open(c, O_RDWR);
	if (fd < 0)
		return fd;
	r = list_view(c, fd, v);
	node_close(c, fd);
	return r;
}

int view_until(Conform *c, int (*view)(Conform *, TpmView *), ViewPred pred, uint32_t handle,
	       TpmView *v)
{
	bool retry = c->kind == NODE_FILE && !c->control;
	int64_t deadline = now_ms() + CONFORM_SETTLE_MS;
	int r;

	r = back_settle(c);
	if (r < 0)
		return r;
	for (;;) {
		r = view(c, v);
		if (r < 0)
			return r;
		if (pred(v, handle))
			return 0;
		if (!retry || now_ms() > deadline)
			return -EAGAIN;
		sleep_ms(50);
	}
}

bool view_session_absent(const TpmView *v, uint32_t handle)
{
	return !tpm_list_has_index(&v->loaded, handle) && !tpm_list_has_index(&v->saved, handle);
}

bool view_session_saved(const TpmView *v, uint32_t handle)
{
	return tpm_list_has_index(&v->saved, handle);
}

bool view_no_transient(const TpmView *v, uint32_t unused)
{
	(void)unused;
	return v->transient.n == 0;
}
