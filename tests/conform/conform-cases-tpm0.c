/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * --tpm0: the /dev/tpm0 counterparts of cases 3, 4, 34 and 37 (tpmrm-uapi.md 2.J, A2,
 * A6).  A tpm0 node has no resource manager: handles are the TPM's own, nothing is
 * flushed at close, and a bad handle is the TPM's business, not an errno.
 *
 * What these cases create outlives their files by design (A6, J4), so each flushes it
 * again on every path it can; a leftover is named in the detail.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "conform-back.h"
#include "conform-cases.h"
#include "conform-check.h"

/* Case 34's command: FlushContext(0x80123456). */
#define TPM0_BAD_HANDLE 0x80123456u
static const uint8_t bad_flush[14] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0e, 0x00,
				       0x00, 0x01, 0x65, 0x80, 0x12, 0x34, 0x56 };

/* "0x000001cb" */
static Str tpm_rc_str(uint32_t rc)
{
	Str out;

	snprintf(out.s, sizeof(out.s), "0x%08x", rc);
	return out;
}

/* The first virtual handle a tpmrm node hands out is RM_VHANDLE(0); these are its three. */
static bool in_vhandle_range(uint32_t h)
{
	return h >= RM_VHANDLE(2) && h <= RM_VHANDLE(0);
}

/* CreatePrimary(@unique): a transient handle *ret_h, and its TPM2B_PUBLIC into @pub. */
static bool create_physical(Conform *c, CaseResult *res, int fd, uint32_t unique, uint32_t *ret_h,
			    uint8_t *pub, uint16_t *ret_len)
{
	const uint8_t *p;
	TpmCmd cmd;
	TpmRsp rsp;
	int r;

	tpm_cmd_create_primary(&cmd, unique);
	r = tpm_call(c, fd, &cmd, &rsp);
	if (r == 0 && tpm_rc_is_auth_error(rsp.rc)) {
		case_skip(res, "owner-auth",
			  "CreatePrimary refused the empty owner password (rc 0x%08x)", rsp.rc);
		return false;
	}
	if (!expect_rc0(res, "CreatePrimary", r, r == 0 ? rsp.rc : 0))
		return false;
	if (tpm_rsp_handle(&rsp, ret_h) < 0 || tpm_rsp_public(&rsp, true, &p, ret_len) < 0) {
		case_fail(res, "CreatePrimary: malformed response");
		return false;
	}
	memcpy(pub, p, *ret_len);
	if ((*ret_h & TPM_HT_MASK) != TPM_HT_TRANSIENT) {
		case_fail(res,
			  "CreatePrimary: saw handle 0x%08x, spec expects a transient 0x80xxxxxx",
			  *ret_h);
		*ret_h = 0; /* nothing of ours to flush */
		return false;
	}
	return true;
}

/* Every handle of @first's range through @fd (the TPM's own listing on tpm0: J1). */
static bool list_all(Conform *c, CaseResult *res, int fd, uint32_t first, TpmList *l)
{
	uint32_t rc = 0;
	char what[64];
	int r;

	snprintf(what, sizeof(what), "GetCapability(HANDLES, 0x%08x)", first);
	r = tpm_get_handles_all(c, fd, first, l, &rc);
	return expect_rc0(res, what, r, rc);
}

/*
 * FlushContext(@h) of what the case made, which a tpm0 close leaves in the TPM (A6).
 * Every case has its verdict by then: a failure to flush fails a passed case, and is
 * added to a failed one's detail.  True when there was nothing to flush or it worked.
 */
static bool flush_made(Conform *c, CaseResult *res, int fd, uint32_t h)
{
	char was[sizeof(res->detail)], why[256];
	uint32_t rc = 0;
	int r;

	if (!h)
		return true;
	if (fd < 0) {
		snprintf(why, sizeof(why), "0x%08x is left in the TPM (no fd to flush it)", h);
	} else {
		r = tpm_flush(c, fd, h, &rc);
		if (r == 0 && rc == 0)
			return true;
		snprintf(why, sizeof(why),
			 "FlushContext(0x%08x) to clean up: saw %s%s, so it may be left in the TPM",
			 h, r == 0 ? "rc " : "", r == 0 ? tpm_rc_str(rc).s : ret_str(r).s);
	}
	memcpy(was, res->detail, sizeof(was));
	if (res->result == RESULT_FAIL)
		case_fail(res, "%.700s; %s", was, why);
	else
		case_fail(res, "%s", why);
	return false;
}

/* ReadPublic(@h) gives @pub: the very object, not just a handle value. */
static bool same_public(Conform *c, CaseResult *res, int fd, uint32_t h, const uint8_t *pub,
			uint16_t len)
{
	const uint8_t *p;
	uint16_t plen = 0;
	TpmCmd cmd;
	TpmRsp rsp;
	int r;

	tpm_cmd_read_public(&cmd, h);
	r = tpm_call(c, fd, &cmd, &rsp);
	if (!expect_rc0(res, "ReadPublic after reopening", r, r == 0 ? rsp.rc : 0))
		return false;
	if (tpm_rsp_public(&rsp, false, &p, &plen) < 0 || plen != len || memcmp(p, pub, len) != 0) {
		case_fail(res,
			  "ReadPublic(0x%08x) after reopening gave another key than the one "
			  "created before the close",
			  h);
		return false;
	}
	return true;
}

Result case_tpm0_close_keeps_objects(Conform *c, CaseResult *res)
{
	uint8_t pub[CONFORM_BUF];
	uint16_t len = 0;
	TpmList l = { .n = 0 };
	uint32_t h = 0;
	bool made;
	int fd;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	made = create_physical(c, res, fd, 0x3a0, &h, pub, &len);
	node_close(c, fd);
	if (!made)
		return res->result;
	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0) {
		flush_made(c, res, fd, h);
		return res->result;
	}
	if (!list_all(c, res, fd, TPM_HT_TRANSIENT, &l))
		;
	else if (!tpm_list_has(&l, h))
		case_fail(res,
			  "after close and reopen, GetCapability(HANDLES, 0x80000000) does "
			  "not list 0x%08x: spec expects tpm0 objects to stay (A6, J4)",
			  h);
	else if (same_public(c, res, fd, h, pub, len))
		case_pass(res,
			  "primary 0x%08x stayed in the TPM after close: listed and readable "
			  "from a new fd (A6, J4); flushed again",
			  h);
	flush_made(c, res, fd, h);
	node_close(c, fd);
	return res->result;
}

Result case_tpm0_close_keeps_sessions(Conform *c, CaseResult *res)
{
	TpmList loaded = { .n = 0 }, saved = { .n = 0 };
	uint32_t s = 0;
	int fd;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!start_session(c, res, fd, TPM_SE_HMAC, &s)) {
		node_close(c, fd);
		return res->result;
	}
	node_close(c, fd);
	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0) {
		flush_made(c, res, fd, s);
		return res->result;
	}
	if (!list_all(c, res, fd, TPM_HT_LOADED_SESSION, &loaded) ||
	    !list_all(c, res, fd, TPM_HT_SAVED_SESSION, &saved))
		;
	else if (!tpm_list_has_index(&loaded, s) && !tpm_list_has_index(&saved, s))
		case_fail(res,
			  "after close and reopen, session 0x%08x is listed neither loaded nor "
			  "saved: spec expects tpm0 sessions to stay (A6, J4)",
			  s);
	else
		case_pass(res,
			  "HMAC session 0x%08x stayed in the TPM (%s) after close (A6, J4); "
			  "flushed again",
			  s, tpm_list_has_index(&loaded, s) ? "loaded" : "saved");
	flush_made(c, res, fd, s);
	node_close(c, fd);
	return res->result;
}

/* GetCapability(HANDLES, @h, 1) lists @h first: the property is the TPM's handle space. */
static bool listed_from(Conform *c, CaseResult *res, int fd, uint32_t h)
{
	TpmList l = { .n = 0 };
	uint32_t rc = 0;
	bool more = false;
	int r;

	r = tpm_get_handles(c, fd, h, 1, &l, &more, &rc);
	if (!expect_rc0(res, "GetCapability(HANDLES, h, 1)", r, rc))
		return false;
	if (l.n != 1 || l.v[0] != h) {
		case_fail(res,
			  "GetCapability(HANDLES, 0x%08x, 1): saw %zu handles (first 0x%08x), "
			  "spec expects 0x%08x itself: the handle was translated",
			  h, l.n, l.n ? l.v[0] : 0, h);
		return false;
	}
	return true;
}

/* With --control: the TPM behind the node lists @h too. */
static bool tpm_lists(Conform *c, CaseResult *res, uint32_t h)
{
	TpmView v;
	int r;

	if (!c->control)
		return true;
	r = back_view(c, &v);
	if (r < 0) {
		case_fail(res, "control socket: handles: %s", ret_str(r).s);
		return false;
	}
	if (!tpm_list_has(&v.transient, h)) {
		case_fail(res,
			  "the control socket's TPM listing lacks 0x%08x: the handle was "
			  "translated",
			  h);
		return false;
	}
	return true;
}

/* @h is new in @after, listed where the TPM lists it, and (--control) the TPM's own. */
static bool physical_checks(Conform *c, CaseResult *res, int fd, uint32_t h)
{
	TpmList after = { .n = 0 };

	if (!list_all(c, res, fd, TPM_HT_TRANSIENT, &after))
		return false;
	if (!tpm_list_has(&after, h)) {
		case_fail(res,
			  "GetCapability(HANDLES, 0x80000000) does not list CreatePrimary's "
			  "0x%08x: the handle was translated",
			  h);
		return false;
	}
	return listed_from(c, res, fd, h) && tpm_lists(c, res, h);
}

Result case_tpm0_handles_physical(Conform *c, CaseResult *res)
{
	uint8_t pub[CONFORM_BUF];
	uint16_t len = 0;
	TpmList before = { .n = 0 }, gone = { .n = 0 };
	uint32_t h = 0, made;
	int fd;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!list_all(c, res, fd, TPM_HT_TRANSIENT, &before) ||
	    !create_physical(c, res, fd, 0x3a7, &h, pub, &len) || !physical_checks(c, res, fd, h))
		goto out;
	if (tpm_list_has(&before, h)) {
		case_fail(res, "CreatePrimary's 0x%08x was listed before it was made", h);
		goto out;
	}
	made = h;
	h = 0;
	case_pass(res,
		  "CreatePrimary gave 0x%08x%s, listed as such from 0x80000000 and from "
		  "itself%s: not virtualised (J1); %zu other transient objects listed; flushed "
		  "again",
		  made,
		  in_vhandle_range(made)
			  ? " (inside the RM's vhandle range, so the listings decide)"
			  : " (outside the RM's 0x80fffffd-0x80ffffff)",
		  c->control ? ", and by the TPM behind the control socket" : "", before.n);
	if (flush_made(c, res, fd, made) && list_all(c, res, fd, TPM_HT_TRANSIENT, &gone) &&
	    tpm_list_has(&gone, made))
		case_fail(res, "FlushContext(0x%08x) gave rc 0, but it is still listed", made);
out:
	flush_made(c, res, fd, h);
	node_close(c, fd);
	return res->result;
}

/* The TPM's transient handle TPM0_BAD_HANDLE exists (then case 34 would flush it). */
static int bad_handle_exists(Conform *c, int fd, bool *ret_exists)
{
	TpmList l = { .n = 0 };
	uint32_t rc = 0;
	bool more = false;
	int r;

	r = tpm_get_handles(c, fd, TPM0_BAD_HANDLE, 1, &l, &more, &rc);
	if (r < 0 || rc != 0)
		return r < 0 ? r : -EPROTO;
	*ret_exists = l.n && l.v[0] == TPM0_BAD_HANDLE;
	return 0;
}

/* An O_NONBLOCK read of a 10-byte TPM error response (format not RM-layered). */
static bool read_tpm_error(Conform *c, CaseResult *res, int fd, uint32_t *ret_rc)
{
	uint8_t buf[CONFORM_BUF];
	ssize_t r = node_read(c, fd, buf, sizeof(buf));

	if (r < 0 || r != TPM_HEADER_SIZE) {
		case_fail(res,
			  "read: saw %s, spec expects the TPM's 10-byte error response (J1: "
			  "no RM, so no EINVAL)",
			  ret_str(r).s);
		return false;
	}
	*ret_rc = tpm_get_u32(buf + 6);
	if (tpm_get_u16(buf) != TPM_ST_NO_SESSIONS || tpm_get_u32(buf + 2) != TPM_HEADER_SIZE ||
	    *ret_rc == 0 || (*ret_rc & 0xffff0000u) != 0) {
		case_fail(res,
			  "read: saw tag 0x%04x size %u rc 0x%08x, spec expects a TPM error "
			  "response (tag 0x8001, size 10, a TPM rc)",
			  tpm_get_u16(buf), tpm_get_u32(buf + 2), *ret_rc);
		return false;
	}
	return true;
}

Result case_tpm0_nonblock_tpm_error(Conform *c, CaseResult *res)
{
	uint32_t rc = 0;
	bool exists = false;
	int fd, r;

	fd = open_or_fail(c, res, O_RDWR | O_NONBLOCK);
	if (fd < 0)
		return res->result;
	r = bad_handle_exists(c, fd, &exists);
	if (r < 0)
		case_fail(res, "GetCapability(HANDLES, 0x80123456, 1): saw %s", ret_str(r).s);
	else if (exists)
		case_skip(res, "handle-exists",
			  "the TPM has a transient object 0x80123456; not flushing it");
	else if (expect_ret(res, "O_NONBLOCK write of FlushContext(0x80123456)",
			    node_write(c, fd, bad_flush, sizeof(bad_flush)), sizeof(bad_flush)) &&
		 wait_pollin(c, res, fd, "after the write") && read_tpm_error(c, res, fd, &rc) &&
		 read_nothing(c, res, fd, "read after the response") &&
		 expect_ret(res, "next write", node_write(c, fd, TPM_GR32, 12), 12) &&
		 wait_pollin(c, res, fd, "after the next write") &&
		 read_gr32(c, res, fd, "read after the next write"))
		case_pass(res,
			  "write 14, POLLIN, read gave the TPM's error response rc 0x%08x (J1: "
			  "no RM, no errno), then 0; next write accepted",
			  rc);
	node_close(c, fd);
	return res->result;
}
