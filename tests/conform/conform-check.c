/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "conform-back.h"
#include "conform-check.h"

int open_or_fail(Conform *c, CaseResult *res, int flags)
{
	int fd;

	if (!c->tpm0) {
		fd = node_open(c, flags);
		if (fd < 0)
			case_fail(res, "open(%s): saw %s, spec expects success (A1)", c->path,
				  errno_str(-fd).s);
		return fd;
	}
	fd = node_open_released(c, flags, NULL);
	if (fd == -EBUSY)
		case_fail(res,
			  "open(%s): still EBUSY %d ms after this case's earlier files were "
			  "closed, spec expects success once no file is open (A2)",
			  c->path, CONFORM_REOPEN_MS);
	else if (fd < 0)
		case_fail(res, "open(%s): saw %s, spec expects success (A2)", c->path,
			  errno_str(-fd).s);
	return fd;
}

bool expect_ret(CaseResult *res, const char *what, ssize_t r, ssize_t want)
{
	if (r == want)
		return true;
	case_fail(res, "%s: saw %s, spec expects %s", what, ret_str(r).s, ret_str(want).s);
	return false;
}

bool expect_rc0(CaseResult *res, const char *what, int r, uint32_t rc)
{
	if (r < 0) {
		case_fail(res, "%s: saw %s, spec expects a response with rc 0", what, ret_str(r).s);
		return false;
	}
	if (rc != 0) {
		case_fail(res, "%s: saw rc 0x%08x, spec expects rc 0", what, rc);
		return false;
	}
	return true;
}

bool expect_handle_error(CaseResult *res, const char *what, int r, uint32_t rc)
{
	if (r < 0) {
		case_fail(res, "%s: saw %s, spec expects a TPM handle or reference error response",
			  what, ret_str(r).s);
		return false;
	}
	if (!tpm_rc_is_handle_error(rc)) {
		case_fail(res, "%s: saw rc 0x%08x, spec expects a TPM handle or reference error",
			  what, rc);
		return false;
	}
	return true;
}

Str poll_str(int mask)
{
	static const struct {
		int bit;
		const char *name;
	} names[] = {
		{ POLLIN, "POLLIN" },	      { POLLPRI, "POLLPRI" },
		{ POLLOUT, "POLLOUT" },	      { POLLERR, "POLLERR" },
		{ POLLHUP, "POLLHUP" },	      { POLLNVAL, "POLLNVAL" },
		{ POLLRDNORM, "POLLRDNORM" }, { POLLRDBAND, "POLLRDBAND" },
		{ POLLWRNORM, "POLLWRNORM" }, { POLLWRBAND, "POLLWRBAND" },
		{ POLLRDHUP, "POLLRDHUP" },
	};
	Str out = { .s = "" };
	size_t i, off = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(mask & names[i].bit) || off >= sizeof(out.s))
			continue;
		off += (size_t)snprintf(out.s + off, sizeof(out.s) - off, "%s%s", off ? "|" : "",
					names[i].name);
	}
	if (!out.s[0])
		snprintf(out.s, sizeof(out.s), mask ? "0x%x" : "nothing", (unsigned int)mask);
	return out;
}

bool expect_poll(Conform *c, CaseResult *res, int fd, const char *when, short want)
{
	const short in_out = POLLIN | POLLOUT;
	int r;

	r = node_poll(c, fd, POLL_ALL_EVENTS, 0);
	if (r < 0) {
		case_fail(res, "%s: poll failed with %s", when, errno_str(-r).s);
		return false;
	}
	if (r != want) {
		case_fail(res, "%s: poll(all events) saw %s, spec expects %s", when, poll_str(r).s,
			  poll_str(want).s);
		return false;
	}
	r = node_poll(c, fd, in_out, 0);
	if (r >= 0 && r != (want & in_out)) {
		case_fail(res, "%s: poll(POLLIN|POLLOUT) saw %s, spec expects %s", when,
			  poll_str(r).s, poll_str(want & in_out).s);
		return false;
	}
	return r >= 0;
}

bool send_gr32(Conform *c, CaseResult *res, int fd)
{
	return expect_ret(res, "write GR32", node_write(c, fd, TPM_GR32, sizeof(TPM_GR32)),
			  sizeof(TPM_GR32));
}

bool read_gr32(Conform *c, CaseResult *res, int fd, const char *what)
{
	uint8_t buf[CONFORM_BUF];
	ssize_t r = node_read(c, fd, buf, sizeof(buf));

	if (!expect_ret(res, what, r, TPM_GR32_RSP_LEN))
		return false;
	if (!tpm_gr32_ok(buf, (size_t)r)) {
		case_fail(res, "%s: saw 44 bytes that are not a GetRandom(32) success response",
			  what);
		return false;
	}
	return true;
}

bool read_nothing(Conform *c, CaseResult *res, int fd, const char *what)
{
	uint8_t buf[CONFORM_BUF];

	return expect_ret(res, what, node_read(c, fd, buf, sizeof(buf)), 0);
}

bool set_nonblock(Conform *c, CaseResult *res, int fd, bool on)
{
	int r = node_set_nonblock(c, fd, on);

	if (r < 0)
		case_fail(res, "fcntl(F_SETFL, %s): failed with %s", on ? "O_NONBLOCK" : "0",
			  errno_str(-r).s);
	return r == 0;
}

bool wait_pollin(Conform *c, CaseResult *res, int fd, const char *what)
{
	int r = node_poll(c, fd, POLLIN, CONFORM_OP_MS);

	if (r == POLLIN)
		return true;
	if (r == 0)
		case_fail(res, "%s: no POLLIN within %d s, spec expects POLLIN", what,
			  CONFORM_OP_MS / 1000);
	else if (r < 0)
		case_fail(res, "%s: poll failed with %s", what, errno_str(-r).s);
	else
		case_fail(res, "%s: poll(POLLIN) saw %s, spec expects POLLIN", what, poll_str(r).s);
	return false;
}

bool create_primary(Conform *c, CaseResult *res, int fd, uint32_t unique, uint32_t want,
		    uint32_t *ret_handle)
{
	uint32_t rc = 0, handle = 0;
	int r = tpm_create_primary(c, fd, unique, &rc, &handle);

	if (r == 0 && tpm_rc_is_auth_error(rc)) {
		case_skip(res, "owner-auth",
			  "CreatePrimary under TPM_RH_OWNER with an empty password refused "
			  "(rc 0x%08x): the owner hierarchy has a password or is disabled",
			  rc);
		return false;
	}
	if (!expect_rc0(res, "CreatePrimary", r, rc))
		return false;
	if (want && handle != want) {
		case_fail(res, "CreatePrimary: saw handle 0x%08x, spec expects 0x%08x", handle,
			  want);
		return false;
	}
	if (ret_handle)
		*ret_handle = handle;
	return true;
}

bool start_session(Conform *c, CaseResult *res, int fd, uint8_t type, uint32_t *ret_handle)
{
	uint32_t want = type == TPM_SE_POLICY ? TPM_HT_POLICY_SESSION : TPM_HT_HMAC_SESSION;
	uint32_t rc = 0, handle = 0;
	int r = tpm_start_session(c, fd, type, &rc, &handle);

	if (!expect_rc0(res, "StartAuthSession", r, rc))
		return false;
	if ((handle & TPM_HT_MASK) != want) {
		case_fail(res,
			  "StartAuthSession: saw handle 0x%08x, spec expects 0x%02xxxxxxx "
			  "(session handles are not translated: I4)",
			  handle, want >> 24);
		return false;
	}
	*ret_handle = handle;
	return true;
}
