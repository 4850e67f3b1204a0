/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Cases 3-5 and 37-51: what close flushes, and the resource manager's spaces, virtual
 * handles, sessions and contexts (tpmrm-uapi.md sections 2.A, 2.H and 2.I).
 *
 * Everything a case creates in the TPM goes when its fds close (A5), except what outlives
 * a close by design: a session the client saved itself (case 5) and a persistent object
 * (case 42).  Those two cases remove them on every path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conform-back.h"
#include "conform-cases.h"
#include "conform-check.h"

static const uint8_t invalid_cc[10] = {
	0x80, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0xfe
};
static const uint8_t rm_rc_rsp[10] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x0b, 0x01, 0x43 };

/* A persistent handle in the owner range for case 42, unlikely to be in use. */
#define CONFORM_PERSISTENT 0x8100c042u

/* How a backchannel part ended, for the PASS detail. */
static const char *back_note(const Conform *c)
{
	if (c->control)
		return "the control socket agrees";
	if (c->backchannel)
		return "the raw TPM node agrees";
	return "backchannel part skipped: no --control or --backchannel";
}

static Result view_failed(CaseResult *res, const char *what, int r)
{
	return case_fail(res, "%s: %s", what,
			 r == -EBUSY ? "wait-spaces timed out: the daemon did not free the closed "
				       "spaces within 5 s"
				     : ret_str(r).s);
}

/* The transient handles a tpmrm fd lists (one GetCapability, count 16, as the spec). */
static bool list_transient(Conform *c, CaseResult *res, int fd, TpmList *out)
{
	uint32_t rc = 0;
	bool more = false;
	int r;

	out->n = 0;
	r = tpm_get_handles(c, fd, TPM_HT_TRANSIENT, 16, out, &more, &rc);
	return expect_rc0(res, "GetCapability(HANDLES, 0x80000000, 16)", r, rc);
}

Result case_close_flushes_objects(Conform *c, CaseResult *res)
{
	TpmList l = { .n = 0 };
	TpmView v;
	int fd, r;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!create_primary(c, res, fd, 3, RM_VHANDLE(0), NULL)) {
		node_close(c, fd);
		return res->result;
	}
	node_close(c, fd);
	r = back_settle(c);
	if (r < 0)
		return view_failed(res, "after closing fd A", r);
	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!list_transient(c, res, fd, &l) || l.n != 0) {
		node_close(c, fd);
		return l.n ? case_fail(res, "new fd B lists %zu transient handles, spec expects 0",
				       l.n)
			   : res->result;
	}
	node_close(c, fd);
	if (back_available(c)) {
		r = view_until(c, back_view, view_no_transient, 0, &v);
		if (r == -EAGAIN)
			return case_fail(res,
					 "after close, %s shows %zu transient objects, spec "
					 "expects none (A5, I7)",
					 back_name(c), v.transient.n);
		if (r < 0)
			return view_failed(res, back_name(c), r);
	}
	return case_pass(res, "after close, a new fd lists no transient handles; %s", back_note(c));
}

static const char *session_state(const TpmView *v, uint32_t s)
{
	if (tpm_list_has_index(&v->saved, s))
		return "saved";
	if (tpm_list_has_index(&v->loaded, s))
		return "loaded";
	return "gone";
}

/* @pred must hold for @s both through the node and through the backchannel. */
static bool views_agree(Conform *c, CaseResult *res, ViewPred pred, uint32_t s, const char *expect)
{
	TpmView v;
	int r;

	r = view_until(c, node_view, pred, s, &v);
	if (r == -EAGAIN) {
		case_fail(res, "listing sessions through the node: 0x%08x is %s, spec expects %s",
			  s, session_state(&v, s), expect);
		return false;
	}
	if (r == 0 && back_available(c))
		r = view_until(c, back_view, pred, s, &v);
	if (r == -EAGAIN) {
		case_fail(res, "%s: session 0x%08x is %s, spec expects %s", back_name(c), s,
			  session_state(&v, s), expect);
		return false;
	}
	if (r < 0)
		view_failed(res, "listing sessions", r);
	return r == 0;
}

Result case_close_flushes_sessions(Conform *c, CaseResult *res)
{
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
	if (!views_agree(c, res, view_session_absent, s, "neither loaded nor saved (A5)"))
		return res->result;
	return case_pass(res, "HMAC session 0x%08x was flushed at close; %s", s, back_note(c));
}

/* fd A starts a session and saves it itself; *ret_ctx holds the TPMS_CONTEXT. */
static bool start_and_save(Conform *c, CaseResult *res, uint32_t *ret_s, uint8_t *ctx,
			   size_t *ret_len)
{
	const uint8_t *body;
	uint32_t saved;
	TpmCmd cmd;
	TpmRsp rsp;
	bool ok = false;
	int fd, r;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return false;
	if (!start_session(c, res, fd, TPM_SE_HMAC, ret_s))
		goto out;
	tpm_cmd_context_save(&cmd, *ret_s);
	r = tpm_call(c, fd, &cmd, &rsp);
	if (!expect_rc0(res, "ContextSave(S)", r, r == 0 ? rsp.rc : 0))
		goto out;
	if (tpm_rsp_context(&rsp, &body, ret_len, &saved) < 0) {
		case_fail(res, "ContextSave(S): malformed TPMS_CONTEXT");
		goto out;
	}
	memcpy(ctx, body, *ret_len);
	ok = true;
out:
	node_close(c, fd);
	return ok;
}

/* A new fd loads the blob, must get S back, and must flush it at its own close. */
static bool load_and_close(Conform *c, CaseResult *res, uint32_t s, const uint8_t *ctx, size_t len)
{
	uint32_t rc = 0, h = 0;
	TpmCmd cmd;
	TpmRsp rsp;
	int fd, r;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return false;
	tpm_cmd_context_load(&cmd, ctx, len);
	r = tpm_call(c, fd, &cmd, &rsp);
	if (r == 0)
		rc = rsp.rc;
	if (!expect_rc0(res, "ContextLoad(S's blob) on a new fd", r, rc))
		;
	else if (tpm_rsp_handle(&rsp, &h) < 0)
		case_fail(res, "ContextLoad: malformed response");
	else if (h != s)
		case_fail(res, "ContextLoad: saw handle 0x%08x, spec expects S = 0x%08x", h, s);
	node_close(c, fd);
	if (r < 0 || rc != 0 || h != s)
		return false;
	return views_agree(c, res, view_session_absent, s,
			   "flushed when the loading fd closed (tracked: I17)");
}

/* Case 5's session outlives its fd on purpose: make sure it goes in the end. */
static void flush_leftover_session(Conform *c, uint32_t s)
{
	uint32_t rc;
	int fd = node_open(c, O_RDWR);

	if (fd < 0)
		return;
	tpm_flush(c, fd, s, &rc);
	node_close(c, fd);
}

Result case_client_saved_session(Conform *c, CaseResult *res)
{
	uint8_t ctx[CONFORM_BUF];
	size_t len = 0;
	uint32_t s = 0;

	if (!start_and_save(c, res, &s, ctx, &len)) {
		if (s)
			flush_leftover_session(c, s);
		return res->result;
	}
	if (c->kind == NODE_FILE && !c->control)
		sleep_ms(500); /* release timing unknown: give it a moment before "still saved" */
	if (!views_agree(c, res, view_session_saved, s, "still saved after close (I16)") ||
	    !load_and_close(c, res, s, ctx, len)) {
		flush_leftover_session(c, s);
		return res->result;
	}
	return case_pass(res,
			 "client-saved session 0x%08x stayed saved after close; a new fd "
			 "loaded it, tracked it and flushed it at close; %s%s",
			 s, back_note(c),
			 c->kind == NODE_FILE && !c->control
				 ? " (FUSE file without --control: \"still saved\" checked "
				   "500 ms after close)"
				 : "");
}

/* Create primaries 1..@n in slots 0..n-1 of @fd. */
static bool fill_slots(Conform *c, CaseResult *res, int fd, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!create_primary(c, res, fd, 0x370 + i, RM_VHANDLE(i), NULL))
			return false;
	return true;
}

/* ReadPublic of every vhandle in @l must succeed. */
static bool read_publics(Conform *c, CaseResult *res, int fd, const uint32_t *h, int n)
{
	uint32_t rc = 0;
	char what[64];
	int i, r;

	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "ReadPublic(0x%08x)", h[i]);
		r = tpm_read_public(c, fd, h[i], &rc);
		if (!expect_rc0(res, what, r, rc))
			return false;
	}
	return true;
}

static const uint32_t three_slots[3] = { RM_VHANDLE(0), RM_VHANDLE(1), RM_VHANDLE(2) };

/* The fd lists exactly the three slot vhandles. */
static bool lists_three(Conform *c, CaseResult *res, int fd)
{
	TpmList l = { .n = 0 };
	char buf[256];
	int i;

	if (!list_transient(c, res, fd, &l))
		return false;
	for (i = 0; i < 3; i++)
		if (!tpm_list_has(&l, three_slots[i]))
			break;
	if (l.n == 3 && i == 3)
		return true;
	tpm_list_format(&l, buf, sizeof(buf));
	case_fail(res,
		  "GetCapability(HANDLES): saw %s, spec expects exactly 0x80ffffff "
		  "0x80fffffe 0x80fffffd",
		  buf);
	return false;
}

/*
 * "ENOMEM" or "the TPM's 0x902": which documented refusal of a 4th entity was seen, and
 * its behaviour token ("enomem", "tpm-0x902", "tpm-0x903") in *ret_token.
 */
static const char *fourth_refused(CaseResult *res, const char *what, int r, uint32_t rc,
				  uint32_t tpm_rc, const char **ret_token)
{
	*ret_token = "enomem";
	if (r == -ENOMEM)
		return "ENOMEM";
	*ret_token = tpm_rc == TPM_RC_OBJECT_MEMORY ? "tpm-0x902" : "tpm-0x903";
	if (r == 0 && rc == tpm_rc)
		return tpm_rc == TPM_RC_OBJECT_MEMORY ? "the TPM's TPM_RC_OBJECT_MEMORY (0x902)"
						      : "the TPM's TPM_RC_SESSION_MEMORY (0x903)";
	if (r == 0)
		case_fail(res, "%s: saw rc 0x%08x, spec expects ENOMEM or rc 0x%03x", what, rc,
			  tpm_rc);
	else
		case_fail(res, "%s: saw %s, spec expects ENOMEM or rc 0x%03x", what, ret_str(r).s,
			  tpm_rc);
	return NULL;
}

Result case_object_slots(Conform *c, CaseResult *res)
{
	const char *how, *token;
	uint32_t rc = 0, h = 0;
	int fd, r;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!fill_slots(c, res, fd, 3))
		goto out;
	r = tpm_create_primary(c, fd, 0x374, &rc, &h);
	how = fourth_refused(res, "4th CreatePrimary", r, rc, TPM_RC_OBJECT_MEMORY, &token);
	if (!how)
		goto out;
	if (lists_three(c, res, fd) && read_publics(c, res, fd, three_slots, 3))
		case_pass_as(res, token,
			     "0x80ffffff 0x80fffffe 0x80fffffd, then the 4th got %s; exactly "
			     "those 3 listed and readable (I4, I18)",
			     how);
out:
	node_close(c, fd);
	return res->result;
}

Result case_object_slot_reuse(Conform *c, CaseResult *res)
{
	uint32_t rc = 0;
	int fd, r;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!fill_slots(c, res, fd, 3))
		goto out;
	r = tpm_flush(c, fd, RM_VHANDLE(1), &rc);
	if (expect_rc0(res, "FlushContext(0x80fffffe)", r, rc) &&
	    create_primary(c, res, fd, 0x380, RM_VHANDLE(1), NULL))
		case_pass(res, "after FlushContext(0x80fffffe) the next object got 0x80fffffe "
			       "again (I8, I13)");
out:
	node_close(c, fd);
	return res->result;
}

Result case_flush_bad_vhandle(Conform *c, CaseResult *res)
{
	static const uint32_t bad[3] = { 0x80fffffd, 0x80000000, 0x80fffffc };
	uint32_t rc = 0;
	char what[64];
	int i, r, fd;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	for (i = 0; i < 3; i++) {
		snprintf(what, sizeof(what), "FlushContext(0x%08x) on a fresh fd", bad[i]);
		r = tpm_flush(c, fd, bad[i], &rc);
		if (r == 0) {
			case_fail(res, "%s: saw a response with rc 0x%08x, spec expects EINVAL",
				  what, rc);
			break;
		}
		if (!expect_ret(res, what, r, -EINVAL))
			break;
	}
	node_close(c, fd);
	if (i < 3)
		return res->result;
	return case_pass(res, "EINVAL for 0x80fffffd (empty slot), 0x80000000 and 0x80fffffc "
			      "(I2)");
}

/* CreatePrimary(@unique) into slot 0 of @fd; its TPM2B_PUBLIC into @pub. */
static bool create_with_public(Conform *c, CaseResult *res, int fd, uint32_t unique, uint8_t *pub,
			       uint16_t *ret_len)
{
	const uint8_t *p;
	uint32_t h = 0;
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
	if (tpm_rsp_handle(&rsp, &h) < 0 || h != RM_VHANDLE(0)) {
		case_fail(res, "CreatePrimary: saw handle 0x%08x, spec expects 0x80ffffff", h);
		return false;
	}
	if (tpm_rsp_public(&rsp, true, &p, ret_len) < 0) {
		case_fail(res, "CreatePrimary: malformed response");
		return false;
	}
	memcpy(pub, p, *ret_len);
	return true;
}

/* @fd lists only 0x80ffffff, and ReadPublic(0x80ffffff) gives @fd's own key @pub. */
static bool sees_own_object(Conform *c, CaseResult *res, int fd, const char *name,
			    const uint8_t *pub, uint16_t len)
{
	const uint8_t *p;
	uint16_t plen;
	TpmList l = { .n = 0 };
	TpmCmd cmd;
	TpmRsp rsp;
	int r;

	if (!list_transient(c, res, fd, &l))
		return false;
	if (l.n != 1 || l.v[0] != RM_VHANDLE(0)) {
		case_fail(res,
			  "fd %s lists %zu transient handles (first 0x%08x), spec expects "
			  "only 0x80ffffff",
			  name, l.n, l.n ? l.v[0] : 0);
		return false;
	}
	tpm_cmd_read_public(&cmd, RM_VHANDLE(0));
	r = tpm_call(c, fd, &cmd, &rsp);
	if (!expect_rc0(res, "ReadPublic(0x80ffffff)", r, r == 0 ? rsp.rc : 0))
		return false;
	if (tpm_rsp_public(&rsp, false, &p, &plen) < 0 || plen != len || memcmp(p, pub, len) != 0) {
		case_fail(res,
			  "fd %s: ReadPublic(0x80ffffff) gave another space's key, spec "
			  "expects fd %s's own (I2)",
			  name, name);
		return false;
	}
	return true;
}

Result case_spaces_isolated(Conform *c, CaseResult *res)
{
	uint8_t pub_a[CONFORM_BUF], pub_b[CONFORM_BUF];
	uint16_t len_a = 0, len_b = 0;
	int fda, fdb = -1;

	fda = open_or_fail(c, res, O_RDWR);
	if (fda < 0)
		return res->result;
	fdb = open_or_fail(c, res, O_RDWR);
	if (fdb < 0)
		goto out;
	if (!create_with_public(c, res, fda, 0x40a, pub_a, &len_a) ||
	    !create_with_public(c, res, fdb, 0x40b, pub_b, &len_b))
		goto out;
	if (len_a == len_b && memcmp(pub_a, pub_b, len_a) == 0) {
		case_fail(res, "the two primaries are identical; cannot tell the spaces apart");
		goto out;
	}
	if (sees_own_object(c, res, fda, "A", pub_a, len_a) &&
	    sees_own_object(c, res, fdb, "B", pub_b, len_b))
		case_pass(res, "each fd got 0x80ffffff, lists only it, and 0x80ffffff addresses "
			       "its own key");
out:
	node_close(c, fdb);
	node_close(c, fda);
	return res->result;
}

/* The selftest's stepwise listing: count 1 from 0x80000000, property + 1 while moreData. */
static bool list_stepwise(Conform *c, CaseResult *res, int fd, TpmList *out)
{
	uint32_t prop = TPM_HT_TRANSIENT, rc = 0;
	bool more = true;
	int r, rounds;

	out->n = 0;
	for (rounds = 0; more && rounds < 32; rounds++, prop++) {
		r = tpm_get_handles(c, fd, prop, 1, out, &more, &rc);
		if (!expect_rc0(res, "GetCapability(HANDLES, count 1)", r, rc))
			return false;
	}
	return true;
}

Result case_get_handles_stepwise(Conform *c, CaseResult *res)
{
	TpmList l = { .n = 0 };
	char buf[256];
	int fd1, fd2 = -1;

	fd1 = open_or_fail(c, res, O_RDWR);
	if (fd1 < 0)
		return res->result;
	fd2 = open_or_fail(c, res, O_RDWR);
	if (fd2 < 0 || !create_primary(c, res, fd1, 0x411, RM_VHANDLE(0), NULL) ||
	    !create_primary(c, res, fd2, 0x412, RM_VHANDLE(0), NULL) ||
	    !create_primary(c, res, fd2, 0x413, RM_VHANDLE(1), NULL) ||
	    !list_stepwise(c, res, fd2, &l))
		goto out;
	tpm_list_format(&l, buf, sizeof(buf));
	if (l.n == 2 && tpm_list_has(&l, RM_VHANDLE(0)) && tpm_list_has(&l, RM_VHANDLE(1)))
		case_pass(res, "fd2's stepwise listing gave exactly its 2 handles: %s (I5)", buf);
	else
		case_fail(res,
			  "fd2's stepwise listing: saw %s, spec expects exactly 0x80ffffff "
			  "and 0x80fffffe",
			  buf);
out:
	node_close(c, fd2);
	node_close(c, fd1);
	return res->result;
}

static int evict(Conform *c, int fd, uint32_t object, uint32_t persistent, uint32_t *ret_rc)
{
	TpmCmd cmd;

	tpm_cmd_evict_control(&cmd, object, persistent);
	return tpm_call_rc(c, fd, &cmd, ret_rc);
}

/* Lists persistent handles through @fd (and the raw node, when given) into @l. */
static bool list_persistent(Conform *c, CaseResult *res, int fd, TpmList *l, bool *ret_raw_same)
{
	TpmList raw = { .n = 0 };
	uint32_t rc = 0;
	int r, rawfd;

	r = tpm_get_handles_all(c, fd, TPM_HT_PERSISTENT, l, &rc);
	if (!expect_rc0(res, "GetCapability(HANDLES, 0x81000000)", r, rc))
		return false;
	*ret_raw_same = false;
	if (!c->backchannel)
		return true;
	rawfd = open(c->backchannel, O_RDWR | O_CLOEXEC);
	if (rawfd < 0)
		return true;
	r = tpm_get_handles_all(c, rawfd, TPM_HT_PERSISTENT, &raw, &rc);
	close(rawfd);
	*ret_raw_same = r == 0 && rc == 0 && raw.n == l->n &&
			memcmp(raw.v, l->v, l->n * sizeof(l->v[0])) == 0;
	return true;
}

/* Make CONFORM_PERSISTENT from a new primary; then list, then always evict it again. */
static Result persistent_roundtrip(Conform *c, CaseResult *res, int fd)
{
	TpmList l = { .n = 0 };
	uint32_t rc = 0;
	bool raw_same = false;
	int r;

	if (!create_primary(c, res, fd, 0x420, RM_VHANDLE(0), NULL))
		return res->result;
	r = evict(c, fd, RM_VHANDLE(0), CONFORM_PERSISTENT, &rc);
	if (r == 0 && tpm_rc_is_auth_error(rc))
		return case_skip(res, "owner-auth",
				 "EvictControl refused the empty owner password (rc 0x%08x)", rc);
	if (!expect_rc0(res, "EvictControl(0x80ffffff -> 0x8100c042)", r, rc))
		return res->result;
	if (!list_persistent(c, res, fd, &l, &raw_same))
		; /* failed the case */
	else if (!tpm_list_has(&l, CONFORM_PERSISTENT))
		case_fail(res, "0x8100c042 made persistent but not listed as such");
	else
		case_pass(res,
			  "no persistent keys existed; made 0x8100c042, which was listed "
			  "unmodified%s; removed again",
			  raw_same ? " (as on the raw node)" : "");
	r = evict(c, fd, CONFORM_PERSISTENT, CONFORM_PERSISTENT, &rc);
	if (r < 0 || rc != 0)
		case_fail(res,
			  "could not remove the test key 0x8100c042 (%s rc 0x%08x); remove "
			  "it by hand",
			  ret_str(r).s, rc);
	return res->result;
}

Result case_persistent_unmodified(Conform *c, CaseResult *res)
{
	TpmList l = { .n = 0 };
	char buf[256];
	bool raw_same = false;
	size_t i;
	int fd;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!list_persistent(c, res, fd, &l, &raw_same))
		goto out;
	if (l.n == 0) {
		persistent_roundtrip(c, res, fd);
		goto out;
	}
	for (i = 0; i < l.n && (l.v[i] & TPM_HT_MASK) == TPM_HT_PERSISTENT; i++)
		;
	tpm_list_format(&l, buf, sizeof(buf));
	if (i < l.n || (c->backchannel && !raw_same))
		case_fail(res, "persistent listing %s differs from %s", buf,
			  i < l.n ? "the 0x81 range" : "the raw node's");
	else
		case_pass(res, "%zu persistent handles listed unmodified%s: %s", l.n,
			  raw_same ? " (as on the raw node)" : "", buf);
out:
	node_close(c, fd);
	return res->result;
}

/* Three policy sessions in @fd, distinct. */
static bool three_sessions(Conform *c, CaseResult *res, int fd, uint32_t *s)
{
	int i;

	for (i = 0; i < 3; i++)
		if (!start_session(c, res, fd, TPM_SE_POLICY, &s[i]))
			return false;
	if (s[0] == s[1] || s[1] == s[2] || s[0] == s[2]) {
		case_fail(res, "session handles 0x%08x 0x%08x 0x%08x are not distinct", s[0], s[1],
			  s[2]);
		return false;
	}
	return true;
}

/* PolicyGetDigest on each of @s: all rc 0 (@intact) or all a handle error. */
static bool sessions_state(Conform *c, CaseResult *res, int fd, const uint32_t *s, bool intact)
{
	uint32_t rc = 0;
	char what[64];
	int i, r;

	for (i = 0; i < 3; i++) {
		snprintf(what, sizeof(what), "PolicyGetDigest(0x%08x)", s[i]);
		r = tpm_policy_get_digest(c, fd, s[i], &rc);
		if (intact ? !expect_rc0(res, what, r, rc) : !expect_handle_error(res, what, r, rc))
			return false;
	}
	return true;
}

Result case_session_slots(Conform *c, CaseResult *res)
{
	uint32_t s[3], rc = 0, h = 0;
	const char *how, *token;
	int fd, r;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!three_sessions(c, res, fd, s))
		goto out;
	r = tpm_start_session(c, fd, TPM_SE_POLICY, &rc, &h);
	how = fourth_refused(res, "4th StartAuthSession", r, rc, TPM_RC_SESSION_MEMORY, &token);
	if (!how)
		goto out;
	if (sessions_state(c, res, fd, s, r == 0))
		case_pass_as(res, token,
			     "sessions 0x%08x 0x%08x 0x%08x untranslated; the 4th got %s; the "
			     "3 earlier ones are %s (I12, I18, I18a)",
			     s[0], s[1], s[2], how, r == 0 ? "intact" : "gone");
out:
	node_close(c, fd);
	return res->result;
}

/* PolicyGetDigest(@s) with rc 0; *ret_zero says whether the digest is all zero. */
static bool digest_ok(Conform *c, CaseResult *res, int fd, uint32_t s, bool *ret_zero)
{
	const uint8_t *d;
	uint16_t len = 0, i;
	TpmCmd cmd;
	TpmRsp rsp;
	int r;

	tpm_cmd_policy_get_digest(&cmd, s);
	r = tpm_call(c, fd, &cmd, &rsp);
	if (!expect_rc0(res, "PolicyGetDigest(S)", r, r == 0 ? rsp.rc : 0))
		return false;
	if (tpm_rsp_digest(&rsp, &d, &len) < 0) {
		case_fail(res, "PolicyGetDigest: malformed response");
		return false;
	}
	*ret_zero = true;
	for (i = 0; i < len; i++)
		if (d[i])
			*ret_zero = false;
	return true;
}

Result case_session_survives(Conform *c, CaseResult *res)
{
	uint32_t s = 0, rc = 0;
	bool zero = true;
	TpmCmd cmd;
	TpmRsp rsp;
	int fd, r;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!start_session(c, res, fd, TPM_SE_POLICY, &s))
		goto out;
	tpm_cmd_policy_pcr(&cmd, s, 0);
	if (tpm_call_rc(c, fd, &cmd, &rc) < 0)
		rc = 1;
	tpm_cmd_raw(&cmd, "GetRandom(32)", TPM_GR32, sizeof(TPM_GR32));
	r = tpm_call(c, fd, &cmd, &rsp);
	if (!expect_rc0(res, "GR32 between the policy commands", r, r == 0 ? rsp.rc : 0) ||
	    !digest_ok(c, res, fd, s, &zero))
		goto out;
	if (rc == 0 && zero)
		case_fail(res, "PolicyGetDigest(S) is all zero after PolicyPCR: the session "
			       "state was lost across commands");
	else
		case_pass(res,
			  "policy session 0x%08x still worked after GR32%s (saved and "
			  "reloaded: I1, I6)",
			  s, rc == 0 ? ", its PolicyPCR digest intact" : "");
out:
	node_close(c, fd);
	return res->result;
}

Result case_session_loss_on_error(Conform *c, CaseResult *res)
{
	uint32_t s = 0, rc = 0;
	int fd, r;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!start_session(c, res, fd, TPM_SE_POLICY, &s))
		goto out;
	r = tpm_flush(c, fd, RM_VHANDLE(1), &rc);
	if (r == 0 || !expect_ret(res, "FlushContext(0x80fffffe) on an empty slot", r, -EINVAL)) {
		if (r == 0)
			case_fail(res,
				  "FlushContext(0x80fffffe) on an empty slot: saw a response "
				  "(rc 0x%08x), spec expects EINVAL",
				  rc);
		goto out;
	}
	r = tpm_policy_get_digest(c, fd, s, &rc);
	if (r == 0 && tpm_rc_is_handle_error(rc))
		case_pass_as(res, "session-lost",
			     "kernel behaviour (I12): the EINVAL destroyed the fd's session; "
			     "PolicyGetDigest got rc 0x%08x",
			     rc);
	else if (r == 0 && rc == 0)
		case_pass_as(res, "session-kept",
			     "the session survived the EINVAL: this node does not copy the "
			     "kernel quirk I12 (the spec leaves it to the project)");
	else
		case_fail(res,
			  "PolicyGetDigest(S) after the EINVAL: saw %s rc 0x%08x, spec "
			  "expects a TPM handle error (kernel) or rc 0",
			  ret_str(r).s, rc);
out:
	node_close(c, fd);
	return res->result;
}

Result case_cross_fd_session_flush(Conform *c, CaseResult *res)
{
	uint32_t s = 0, rc = 0;
	int fda, fdb = -1, r;

	fda = open_or_fail(c, res, O_RDWR);
	if (fda < 0)
		return res->result;
	fdb = open_or_fail(c, res, O_RDWR);
	if (fdb < 0 || !start_session(c, res, fda, TPM_SE_POLICY, &s))
		goto out;
	r = tpm_flush(c, fdb, s, &rc);
	if (!expect_rc0(res, "fd B FlushContext(fd A's session)", r, rc))
		goto out;
	r = tpm_policy_get_digest(c, fda, s, &rc);
	if (expect_handle_error(res, "fd A PolicyGetDigest(S) after fd B flushed it", r, rc))
		case_pass(res,
			  "fd B flushed fd A's session 0x%08x (rc 0); fd A then got rc "
			  "0x%08x (I14)",
			  s, rc);
out:
	node_close(c, fdb);
	node_close(c, fda);
	return res->result;
}

/* ContextSave(@h) into @ctx; the savedHandle must be the TPM's, never a vhandle. */
static bool save_object(Conform *c, CaseResult *res, int fd, uint32_t h, uint8_t *ctx,
			size_t *ret_len, uint32_t *ret_saved)
{
	const uint8_t *body;
	TpmCmd cmd;
	TpmRsp rsp;
	int r;

	tpm_cmd_context_save(&cmd, h);
	r = tpm_call(c, fd, &cmd, &rsp);
	if (!expect_rc0(res, "ContextSave(0x80ffffff)", r, r == 0 ? rsp.rc : 0))
		return false;
	if (tpm_rsp_context(&rsp, &body, ret_len, ret_saved) < 0) {
		case_fail(res, "ContextSave: malformed TPMS_CONTEXT");
		return false;
	}
	memcpy(ctx, body, *ret_len);
	return true;
}

/* ContextLoad(@ctx): 0 with *ret_rc and *ret_handle, or -errno. */
static int load_context(Conform *c, int fd, const uint8_t *ctx, size_t len, uint32_t *ret_rc,
			uint32_t *ret_handle)
{
	TpmCmd cmd;
	TpmRsp rsp;
	int r;

	tpm_cmd_context_load(&cmd, ctx, len);
	r = tpm_call(c, fd, &cmd, &rsp);
	if (r < 0)
		return r;
	*ret_rc = rsp.rc;
	if (rsp.rc == 0)
		return tpm_rsp_handle(&rsp, ret_handle);
	return 0;
}

Result case_context_save_load(Conform *c, CaseResult *res)
{
	uint8_t ctx[CONFORM_BUF];
	uint32_t saved = 0, rc = 0, h = 0;
	size_t len = 0;
	int fd, r;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!create_primary(c, res, fd, 0x470, RM_VHANDLE(0), NULL) ||
	    !save_object(c, res, fd, RM_VHANDLE(0), ctx, &len, &saved))
		goto out;
	if (saved < 0x80000000u || saved > 0x80000002u) {
		case_fail(res,
			  "ContextSave: savedHandle 0x%08x, spec expects the TPM's "
			  "0x80000000/1/2, never a vhandle (I15)",
			  saved);
		goto out;
	}
	r = load_context(c, fd, ctx, len, &rc, &h);
	if (!expect_rc0(res, "ContextLoad", r, rc))
		goto out;
	if (h != RM_VHANDLE(1)) {
		case_fail(res, "ContextLoad: saw handle 0x%08x, spec expects 0x80fffffe (I17)", h);
		goto out;
	}
	if (read_publics(c, res, fd, three_slots, 2))
		case_pass(res,
			  "savedHandle 0x%08x; ContextLoad gave 0x80fffffe; both usable "
			  "(I15, I17)",
			  saved);
out:
	node_close(c, fd);
	return res->result;
}

Result case_context_load_full(Conform *c, CaseResult *res)
{
	uint8_t ctx[CONFORM_BUF];
	uint32_t saved = 0, rc = 0, h = 0;
	const char *how, *token;
	size_t len = 0;
	int fd, r;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!fill_slots(c, res, fd, 3) ||
	    !save_object(c, res, fd, RM_VHANDLE(0), ctx, &len, &saved))
		goto out;
	r = load_context(c, fd, ctx, len, &rc, &h);
	how = fourth_refused(res, "ContextLoad with 3 slots used", r, rc, TPM_RC_OBJECT_MEMORY,
			     &token);
	if (how && read_publics(c, res, fd, three_slots, 3) && lists_three(c, res, fd))
		case_pass_as(res, token,
			     "ContextLoad into a full space got %s; the 3 objects stayed "
			     "intact (I4, I18)",
			     how);
out:
	node_close(c, fd);
	return res->result;
}

/* The TPMA_CC of @cc in @l, or 0. */
static uint32_t find_cc(const TpmList *l, uint32_t cc)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if ((l->v[i] & (0xffffu | TPMA_CC_V)) == cc)
			return l->v[i];
	return 0;
}

/* The raw node's command list equals @l (true without a raw node: nothing to compare). */
static bool same_as_raw(Conform *c, const TpmList *l, bool *ret_compared)
{
	TpmList raw = { .n = 0 };
	uint32_t rc = 0;
	int fd, r;

	*ret_compared = false;
	if (!c->backchannel)
		return true;
	fd = open(c->backchannel, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return true;
	r = tpm_get_commands(c, fd, &raw, &rc);
	close(fd);
	if (r < 0 || rc != 0)
		return true;
	*ret_compared = true;
	return raw.n == l->n && memcmp(raw.v, l->v, l->n * sizeof(l->v[0])) == 0;
}

Result case_commands_unfiltered(Conform *c, CaseResult *res)
{
	static const uint32_t need[] = { TPM_CC_CREATE_PRIMARY, TPM_CC_CONTEXT_LOAD,
					 TPM_CC_CONTEXT_SAVE,	TPM_CC_FLUSH_CONTEXT,
					 TPM_CC_READ_PUBLIC,	TPM_CC_START_AUTH_SESSION,
					 TPM_CC_GET_CAPABILITY, TPM_CC_GET_RANDOM };
	TpmList l = { .n = 0 };
	uint32_t rc = 0, flush, save;
	bool compared = false;
	size_t i;
	int fd, r;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	r = tpm_get_commands(c, fd, &l, &rc);
	node_close(c, fd);
	if (!expect_rc0(res, "GetCapability(TPM_CAP_COMMANDS)", r, rc))
		return res->result;
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!find_cc(&l, need[i]))
			return case_fail(res, "cc 0x%03x missing from the %zu listed commands",
					 need[i], l.n);
	flush = find_cc(&l, TPM_CC_FLUSH_CONTEXT);
	save = find_cc(&l, TPM_CC_CONTEXT_SAVE);
	if (TPMA_CC_CHANDLES(flush) != 0 || TPMA_CC_CHANDLES(save) != 1)
		return case_fail(res,
				 "cHandles FlushContext %u ContextSave %u, spec expects the "
				 "TPM's own 0 and 1 (the RM's override of H1 is internal)",
				 TPMA_CC_CHANDLES(flush), TPMA_CC_CHANDLES(save));
	if (!same_as_raw(c, &l, &compared))
		return case_fail(res, "the node's %zu commands differ from the raw TPM's", l.n);
	return case_pass(res, "%zu commands listed with the TPM's own attributes%s", l.n,
			 compared ? ", identical to the raw TPM's list"
				  : " (no raw node to compare with)");
}

Result case_invalid_cc_keeps_sessions(Conform *c, CaseResult *res)
{
	uint8_t buf[CONFORM_BUF];
	uint32_t s = 0, rc = 0;
	ssize_t n;
	int fd, r;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!start_session(c, res, fd, TPM_SE_POLICY, &s) ||
	    !expect_ret(res, "write of cc 0x1fe", node_write(c, fd, invalid_cc, 10), 10))
		goto out;
	n = node_read(c, fd, buf, sizeof(buf));
	if (n != 10 || memcmp(buf, rm_rc_rsp, 10) != 0) {
		case_fail(res, "cc 0x1fe: saw %s bytes, spec expects the 10-byte 0x000b0143",
			  ret_str(n).s);
		goto out;
	}
	r = tpm_policy_get_digest(c, fd, s, &rc);
	if (expect_rc0(res, "PolicyGetDigest(S) after cc 0x1fe", r, rc))
		case_pass(res, "session 0x%08x survived the H3 error (no swap-in happened)", s);
out:
	node_close(c, fd);
	return res->result;
}
