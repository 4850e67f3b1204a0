/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The resource manager over the real in-process libtpms: the kernel selftests' SpaceTest,
 * the conformance cases 3-5 and 37-50 of ../shared/spec/tpmrm-uapi.md section 5, and
 * sessions, sequences and saved contexts used across commands and spaces.
 *
 * Each tss2-sys context is one client "open file": its TCTI calls rm_process() on its own
 * RmSpace.  A second kind of context talks to the backend itself through
 * rm_with_backend(), past the RM, the way the spec's "raw-TPM backchannel" does.  Every
 * test ends, once its spaces are freed, by asking the TPM what is left (assert_tpm_clean).
 *
 * libtpms has 3 transient-object slots and 3 loaded-session slots, exactly the kernel's
 * per-space limits, so with the kernel's eager algorithm a 4th object or session in a
 * space is refused by the TPM itself (0x902 / 0x903 responses), never with ENOMEM (I18a).
 */
#include <check.h>
#include <errno.h>
#include <glib.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "rm.h"
#include "tcti-func.h"
#include "test-util.h"
#include "tpm-backend.h"

/* The vhandles of slots 0, 1 and 2 (spec section 1). */
#define VH0 0x80FFFFFFu
#define VH1 0x80FFFFFEu
#define VH2 0x80FFFFFDu

#define HT_MASK		   0xFF000000u
#define HT_HMAC_SESSION	   0x02000000u /* also TPM_HT_LOADED_SESSION in GetCapability */
#define HT_POLICY_SESSION  0x03000000u /* also TPM_HT_SAVED_SESSION in GetCapability */
#define HT_TRANSIENT	   0x80000000u
#define HT_PERSISTENT	   0x81000000u
#define PERSISTENT_HANDLE  0x81000001u
#define SESSION_INDEX_MASK 0x00FFFFFFu

/* The debug PCR: resettable, extendable at locality 0, zero after Startup. */
#define POLICY_PCR 16

static TpmBackend *be;
static Rm *rm;

static void setup(void)
{
	g_autofree char *error = NULL;
	int r = tpm_backend_libtpms_new(NULL, &be, &error);

	ck_assert_msg(r == 0, "libtpms: %s", error ? error : "?");
	ck_assert_int_eq(rm_new(be, NULL, &rm), 0);
}

static void teardown(void)
{
	g_clear_pointer(&rm, rm_free);
	g_clear_pointer(&be, tpm_backend_free);
}

/* --- clients: one tss2-sys context per space, or one straight onto the backend --- */

typedef struct Client {
	RmSpace *space; /* NULL for the raw backchannel */
	TSS2_TCTI_CONTEXT *tcti;
	TSS2_SYS_CONTEXT *sys;
} Client;

static int client_transmit(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			   size_t rsp_cap, size_t *ret_rsp_len)
{
	Client *c = user;

	return rm_process(rm, c->space, cmd, cmd_len, rsp, rsp_cap, ret_rsp_len);
}

/* A new "open file": its own space. */
static Client *client_new(void)
{
	Client *c = g_new0(Client, 1);

	c->space = rm_space_new(rm, NULL);
	ck_assert_ptr_nonnull(c->space);
	c->tcti = tcti_func_new(client_transmit, c);
	c->sys = test_sys_new(c->tcti);
	return c;
}

typedef struct BackendCall {
	const uint8_t *cmd;
	size_t cmd_len;
	uint8_t *rsp;
	size_t rsp_cap;
	size_t *ret_rsp_len;
} BackendCall;

static int backend_call(TpmBackend *b, void *user)
{
	BackendCall *call = user;

	return tpm_backend_transmit(b, call->cmd, call->cmd_len, call->rsp, call->rsp_cap,
				    call->ret_rsp_len);
}

static int raw_transmit(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			size_t rsp_cap, size_t *ret_rsp_len)
{
	BackendCall call = { cmd, cmd_len, rsp, rsp_cap, ret_rsp_len };

	(void)user;
	return rm_with_backend(rm, backend_call, &call);
}

/* The backchannel: commands go to the TPM between two client commands, untouched. */
static Client *raw_client_new(void)
{
	Client *c = g_new0(Client, 1);

	c->tcti = tcti_func_new(raw_transmit, c);
	c->sys = test_sys_new(c->tcti);
	return c;
}

/* Closes the "open file": the RM flushes the space's sessions (A5). */
static void client_free(Client *c)
{
	if (!c)
		return;
	test_sys_free(c->sys);
	tcti_func_free(c->tcti);
	rm_space_free(c->space);
	g_free(c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Client, client_free)

/* Raw bytes as client @c writes them; the response lands in @rsp (RM_BUF_MAX bytes). */
static int client_raw(Client *c, const uint8_t *cmd, size_t len, uint8_t *rsp, size_t *ret_len)
{
	if (c->space)
		return rm_process(rm, c->space, cmd, len, rsp, RM_BUF_MAX, ret_len);
	return raw_transmit(NULL, cmd, len, rsp, RM_BUF_MAX, ret_len);
}

static RmStats stats_now(void)
{
	RmStats s;

	rm_get_stats(rm, &s);
	return s;
}

static RmSpaceStats space_stats(Client *c)
{
	RmSpaceStats s;

	rm_space_get_stats(c->space, &s);
	return s;
}

/* A TPM response code, with both values in hex when they differ. */
#define ck_assert_rc_eq(expr, want)                                                         \
	do {                                                                                \
		uint32_t got_ = (expr), want_ = (want);                                     \
		ck_assert_msg(got_ == want_, "%s: rc 0x%08x, expected 0x%08x", #expr, got_, \
			      want_);                                                       \
	} while (0)

/* A tss2-sys call that the RM refused: no response, and rm_process()'s errno. */
#define ck_assert_rm_errno(client, expr, err)                                                \
	do {                                                                                 \
		uint32_t got_ = (expr);                                                      \
		ck_assert_msg(got_ == TSS2_TCTI_RC_IO_ERROR,                                 \
			      "%s: rc 0x%08x, expected no response (errno %d)", #expr, got_, \
			      (err));                                                        \
		ck_assert_int_eq(tcti_func_last_errno((client)->tcti), (err));               \
	} while (0)

/* A TPM error response (not success, and not an errno): returns its rc. */
static uint32_t assert_tpm_error(Client *c, uint32_t rc)
{
	ck_assert_msg(rc != TPM2_RC_SUCCESS, "expected a TPM error response, got success");
	ck_assert_msg(rc != TSS2_TCTI_RC_IO_ERROR, "expected a TPM error response, got errno %d",
		      tcti_func_last_errno(c->tcti));
	ck_assert_int_eq(tcti_func_last_errno(c->tcti), 0);
	return rc;
}

/* --- hashing, with glib --- */

/* SHA-256 of the concatenation of (const void *, size_t) pairs, ended by NULL. */
static void sha256_cat(uint8_t out[32], ...)
{
	GChecksum *cs = g_checksum_new(G_CHECKSUM_SHA256);
	gsize len = 32;
	const void *p;
	va_list ap;

	va_start(ap, out);
	while ((p = va_arg(ap, const void *)) != NULL)
		g_checksum_update(cs, p, (gssize)va_arg(ap, size_t));
	va_end(ap);
	g_checksum_get_digest(cs, out, &len);
	g_checksum_free(cs);
	ck_assert_uint_eq(len, 32);
}

/* HMAC-SHA-256 keyed with @key of the concatenation of (pointer, size_t) pairs. */
static void hmac_cat(const uint8_t *key, size_t key_len, uint8_t out[32], ...)
{
	GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, key, key_len);
	gsize len = 32;
	const void *p;
	va_list ap;

	va_start(ap, out);
	while ((p = va_arg(ap, const void *)) != NULL)
		g_hmac_update(h, p, (gssize)va_arg(ap, size_t));
	va_end(ap);
	g_hmac_get_digest(h, out, &len);
	g_hmac_unref(h);
	ck_assert_uint_eq(len, 32);
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)g_random_int_range(0, 256);
}

static void store_be32(uint8_t *p, uint32_t v)
{
	tpm2_wire_store_u32(p, v);
}

/* --- objects --- */

static const TSS2L_SYS_AUTH_COMMAND pw_auth = {
	.count = 1,
	.auths = { { .sessionHandle = TPM2_RH_PW } },
};

/* An ECC P-256 storage primary, noDA; @unique makes each key (and its name) distinct. */
static TPM2B_PUBLIC storage_template(uint32_t unique)
{
	TPM2B_PUBLIC pub = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN |
					    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
					    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
			.parameters.eccDetail = {
				.symmetric = { .algorithm = TPM2_ALG_AES,
					       .keyBits.aes = 128,
					       .mode.aes = TPM2_ALG_CFB },
				.scheme.scheme = TPM2_ALG_NULL,
				.curveID = TPM2_ECC_NIST_P256,
				.kdf.scheme = TPM2_ALG_NULL,
			},
		},
	};

	pub.publicArea.unique.ecc.x.size = 4;
	store_be32(pub.publicArea.unique.ecc.x.buffer, unique);
	return pub;
}

/* An unrestricted ECC P-256 signing key, noDA, authorised by its authValue. */
static TPM2B_PUBLIC signing_template(void)
{
	TPM2B_PUBLIC pub = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN |
					    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
					    TPMA_OBJECT_SIGN_ENCRYPT,
			.parameters.eccDetail = {
				.symmetric.algorithm = TPM2_ALG_NULL,
				.scheme.scheme = TPM2_ALG_NULL,
				.curveID = TPM2_ECC_NIST_P256,
				.kdf.scheme = TPM2_ALG_NULL,
			},
		},
	};

	return pub;
}

static TSS2_RC create_primary_from(Client *c, const TPM2B_PUBLIC *tmpl, const char *auth,
				   TPM2_HANDLE *ret_handle, TPM2B_NAME *ret_name)
{
	TPM2B_SENSITIVE_CREATE sens = { .size = 0 };
	TPM2B_DATA outside = { .size = 0 };
	TPML_PCR_SELECTION pcrs = { .count = 0 };
	TPM2B_PUBLIC out_pub = { .size = 0 };
	TPM2B_CREATION_DATA cdata = { .size = 0 };
	TPM2B_DIGEST chash = { .size = 0 };
	TPMT_TK_CREATION ticket = { .tag = 0 };
	TPM2B_NAME name = { .size = 0 };
	TSS2L_SYS_AUTH_RESPONSE rsp_auth;
	TSS2_RC rc;

	if (auth) {
		sens.sensitive.userAuth.size = (uint16_t)strlen(auth);
		memcpy(sens.sensitive.userAuth.buffer, auth, strlen(auth));
	}
	rc = Tss2_Sys_CreatePrimary(c->sys, TPM2_RH_OWNER, &pw_auth, &sens, tmpl, &outside, &pcrs,
				    ret_handle, &out_pub, &cdata, &chash, &ticket, &name,
				    &rsp_auth);
	if (rc == TSS2_RC_SUCCESS && ret_name)
		*ret_name = name;
	return rc;
}

static TSS2_RC create_primary(Client *c, uint32_t unique, TPM2_HANDLE *ret_handle,
			      TPM2B_NAME *ret_name)
{
	TPM2B_PUBLIC tmpl = storage_template(unique);

	return create_primary_from(c, &tmpl, NULL, ret_handle, ret_name);
}

/* CreatePrimary that must succeed and land in the slot of @want_vhandle. */
static void create_primary_at(Client *c, uint32_t unique, TPM2_HANDLE want_vhandle,
			      TPM2B_NAME *ret_name)
{
	TPM2_HANDLE h = 0;

	ck_assert_rc_eq(create_primary(c, unique, &h, ret_name), TPM2_RC_SUCCESS);
	ck_assert_msg(h == want_vhandle, "new object at 0x%08x, expected 0x%08x", h, want_vhandle);
}

static TSS2_RC read_name(Client *c, TPM2_HANDLE h, TPM2B_NAME *ret_name)
{
	TPM2B_PUBLIC pub = { .size = 0 };
	TPM2B_NAME qualified = { .size = 0 };

	ret_name->size = 0;
	return Tss2_Sys_ReadPublic(c->sys, h, NULL, &pub, ret_name, &qualified, NULL);
}

static bool name_eq(const TPM2B_NAME *a, const TPM2B_NAME *b)
{
	return a->size == b->size && memcmp(a->name, b->name, a->size) == 0;
}

/* ReadPublic(@h) in @c succeeds and names the object we expect. */
static void assert_name_at(Client *c, TPM2_HANDLE h, const TPM2B_NAME *want)
{
	TPM2B_NAME name;

	ck_assert_rc_eq(read_name(c, h, &name), TPM2_RC_SUCCESS);
	ck_assert_msg(name_eq(&name, want), "0x%08x names another object", h);
}

/* --- handle lists --- */

static TSS2_RC list_handles(Client *c, TPM2_HANDLE first, uint32_t max, TPML_HANDLE *ret,
			    TPMI_YES_NO *ret_more)
{
	TPMS_CAPABILITY_DATA cap = { .capability = 0 };
	TPMI_YES_NO more = 0;
	TSS2_RC rc;

	rc = Tss2_Sys_GetCapability(c->sys, NULL, TPM2_CAP_HANDLES, first, max, &more, &cap, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	ck_assert_uint_eq(cap.capability, TPM2_CAP_HANDLES);
	*ret = cap.data.handles;
	if (ret_more)
		*ret_more = more;
	return rc;
}

static bool list_has(const TPML_HANDLE *l, TPM2_HANDLE h, uint32_t mask)
{
	for (uint32_t i = 0; i < l->count; i++)
		if ((l->handle[i] & mask) == (h & mask))
			return true;
	return false;
}

static char *list_str(const TPML_HANDLE *l)
{
	GString *s = g_string_new("{");

	for (uint32_t i = 0; i < l->count; i++)
		g_string_append_printf(s, "%s0x%08x", i ? ", " : " ", l->handle[i]);
	g_string_append(s, " }");
	return g_string_free(s, FALSE);
}

/*
 * GetCapability(HANDLES, @first, 64) in @c lists exactly @want (any order).  @mask says
 * which bits must match: saved sessions are listed as 0x02000000 + index whatever their
 * type, so sessions compare by SESSION_INDEX_MASK.
 */
static void assert_listed(Client *c, TPM2_HANDLE first, const TPM2_HANDLE *want, size_t n_want,
			  uint32_t mask)
{
	TPML_HANDLE l = { .count = 0 };
	g_autofree char *got = NULL;
	bool ok;

	ck_assert_rc_eq(list_handles(c, first, 64, &l, NULL), TPM2_RC_SUCCESS);
	ok = l.count == n_want;
	for (size_t i = 0; ok && i < n_want; i++)
		ok = list_has(&l, want[i], mask);
	got = list_str(&l);
	ck_assert_msg(ok, "GetCapability(HANDLES, 0x%08x) %s listed %s, expected %zu handles",
		      first, c->space ? "in the space" : "on the TPM", got, n_want);
}

#define LIST(...)   ((const TPM2_HANDLE[]){ __VA_ARGS__ })
#define N_LIST(...) (sizeof((const TPM2_HANDLE[]){ __VA_ARGS__ }) / sizeof(TPM2_HANDLE))
#define ASSERT_LISTED(c, first, mask, ...) \
	assert_listed((c), (first), LIST(__VA_ARGS__), N_LIST(__VA_ARGS__), (mask))
#define ASSERT_LISTED_NONE(c, first) assert_listed((c), (first), NULL, 0, 0)

/*
 * What must hold after every test once its spaces are freed (A5, I7): the TPM itself holds
 * no transient or persistent object and no loaded session, and its saved sessions are
 * exactly @kept (the ones a client saved itself, I16).
 */
static void assert_tpm_clean(const TPM2_HANDLE *kept, size_t n_kept)
{
	g_autoptr(Client) raw = raw_client_new();

	assert_listed(raw, HT_TRANSIENT, NULL, 0, 0);
	assert_listed(raw, HT_PERSISTENT, NULL, 0, 0);
	assert_listed(raw, HT_HMAC_SESSION, NULL, 0, 0);
	assert_listed(raw, HT_POLICY_SESSION, kept, n_kept, SESSION_INDEX_MASK);
}

/* --- sessions --- */

static TSS2_RC start_session(Client *c, TPM2_SE type, TPM2_HANDLE *ret_handle,
			     TPM2B_NONCE *ret_nonce_tpm)
{
	TPM2B_NONCE caller = { .size = 32 };
	TPM2B_ENCRYPTED_SECRET salt = { .size = 0 };
	TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
	TPM2B_NONCE nonce_tpm = { .size = 0 };
	TSS2_RC rc;

	fill_random(caller.buffer, caller.size);
	rc = Tss2_Sys_StartAuthSession(c->sys, TPM2_RH_NULL, TPM2_RH_NULL, NULL, &caller, &salt,
				       type, &sym, TPM2_ALG_SHA256, ret_handle, &nonce_tpm, NULL);
	if (rc == TSS2_RC_SUCCESS && ret_nonce_tpm)
		*ret_nonce_tpm = nonce_tpm;
	return rc;
}

static TPM2_HANDLE start_policy_session(Client *c)
{
	TPM2_HANDLE s = 0;

	ck_assert_rc_eq(start_session(c, TPM2_SE_POLICY, &s, NULL), TPM2_RC_SUCCESS);
	ck_assert_msg((s & HT_MASK) == HT_POLICY_SESSION, "policy session 0x%08x", s);
	return s;
}

static TPML_PCR_SELECTION pcr_selection(unsigned int pcr)
{
	TPML_PCR_SELECTION sel = { .count = 1 };

	sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel.pcrSelections[0].sizeofSelect = 3;
	sel.pcrSelections[0].pcrSelect[pcr / 8] = (uint8_t)(1u << (pcr % 8));
	return sel;
}

/* PolicyPCR(@s, SHA-256 PCR @pcr) with no expected digest: the TPM takes the PCR as is. */
static TSS2_RC policy_pcr(Client *c, TPM2_HANDLE s, unsigned int pcr)
{
	TPM2B_DIGEST none = { .size = 0 };
	TPML_PCR_SELECTION sel = pcr_selection(pcr);

	return Tss2_Sys_PolicyPCR(c->sys, s, NULL, &none, &sel, NULL);
}

static TSS2_RC policy_digest(Client *c, TPM2_HANDLE s, TPM2B_DIGEST *ret)
{
	ret->size = 0;
	return Tss2_Sys_PolicyGetDigest(c->sys, s, NULL, ret, NULL);
}

/*
 * The digest of a fresh SHA-256 policy after PolicyPCR(@pcr), computed here (TPM 2.0 part 3,
 * PolicyPCR): H(0^32 || TPM_CC_PolicyPCR || TPML_PCR_SELECTION || H(PCR value)).
 */
static void expected_policy_pcr(unsigned int pcr, const uint8_t value[32], uint8_t out[32])
{
	uint8_t zero[32] = { 0 }, cc[4], sel[10], pcr_digest[32];

	store_be32(cc, TPM2_CC_PolicyPCR);
	store_be32(sel, 1);	       /* count */
	sel[4] = TPM2_ALG_SHA256 >> 8; /* hash */
	sel[5] = TPM2_ALG_SHA256 & 0xff;
	sel[6] = 3; /* sizeofSelect */
	memset(&sel[7], 0, 3);
	sel[7 + pcr / 8] = (uint8_t)(1u << (pcr % 8));
	sha256_cat(pcr_digest, value, (size_t)32, NULL);
	sha256_cat(out, zero, sizeof(zero), cc, sizeof(cc), sel, sizeof(sel), pcr_digest,
		   sizeof(pcr_digest), NULL);
}

static void assert_digest(const TPM2B_DIGEST *d, const uint8_t want[32])
{
	ck_assert_uint_eq(d->size, 32);
	ck_assert_mem_eq(d->buffer, want, 32);
}

/*
 * An HMAC session, unbound and unsalted: its session key is empty, so the HMAC key of an
 * authorisation is the entity's authValue alone (TPM 2.0 part 1, 19.6).
 */
typedef struct HmacSession {
	TPM2_HANDLE handle;
	TPM2B_NONCE nonce_tpm; /* the TPM's last nonce: nonceOlder of the next command */
} HmacSession;

static HmacSession start_hmac_session(Client *c)
{
	HmacSession s = { 0 };

	ck_assert_rc_eq(start_session(c, TPM2_SE_HMAC, &s.handle, &s.nonce_tpm), TPM2_RC_SUCCESS);
	ck_assert_msg((s.handle & HT_MASK) == HT_HMAC_SESSION, "HMAC session 0x%08x", s.handle);
	ck_assert_uint_eq(s.nonce_tpm.size, 32);
	return s;
}

static TSS2_RC create_signing_key(Client *c, const char *auth, TPM2_HANDLE *ret_handle,
				  TPM2B_NAME *ret_name)
{
	TPM2B_PUBLIC tmpl = signing_template();

	return create_primary_from(c, &tmpl, auth, ret_handle, ret_name);
}

/*
 * The authorisation of the prepared command in @c through HMAC session @s with @auth:
 * HMAC(auth, cpHash || nonceCaller || nonceTPM || sessionAttributes), where
 * cpHash = H(commandCode || Name(handle) || parameters).  Sets it on the command.
 */
static void set_session_auth(Client *c, const HmacSession *s, const TPM2B_NAME *name,
			     const char *auth, bool continue_session, TPMS_AUTH_COMMAND *ret)
{
	TSS2L_SYS_AUTH_COMMAND cmd_auths = { .count = 1 };
	const uint8_t *cp = NULL;
	size_t cp_len = 0;
	uint8_t cc[4], cp_hash[32];

	ck_assert_rc_eq(Tss2_Sys_GetCpBuffer(c->sys, &cp_len, &cp), 0);
	ck_assert_rc_eq(Tss2_Sys_GetCommandCode(c->sys, cc), 0);
	sha256_cat(cp_hash, cc, sizeof(cc), name->name, (size_t)name->size, cp, cp_len, NULL);
	memset(ret, 0, sizeof(*ret));
	ret->sessionHandle = s->handle;
	ret->nonce.size = 32;
	fill_random(ret->nonce.buffer, ret->nonce.size);
	ret->sessionAttributes = continue_session ? TPMA_SESSION_CONTINUESESSION : 0;
	ret->hmac.size = 32;
	hmac_cat((const uint8_t *)auth, strlen(auth), ret->hmac.buffer, cp_hash, sizeof(cp_hash),
		 ret->nonce.buffer, (size_t)ret->nonce.size, s->nonce_tpm.buffer,
		 (size_t)s->nonce_tpm.size, &ret->sessionAttributes, (size_t)1, NULL);
	cmd_auths.auths[0] = *ret;
	ck_assert_rc_eq(Tss2_Sys_SetCmdAuths(c->sys, &cmd_auths), 0);
}

/*
 * After a successful command: the TPM's HMAC(auth, rpHash || nonceTPM || nonceCaller ||
 * sessionAttributes), rpHash = H(responseCode || commandCode || parameters), must verify.
 * Keeps the TPM's new nonce in @s for the next command.
 */
static void check_session_response(Client *c, HmacSession *s, const char *auth,
				   const TPMS_AUTH_COMMAND *sent)
{
	TSS2L_SYS_AUTH_RESPONSE rsp_auths = { .count = 0 };
	const TPMS_AUTH_RESPONSE *r = &rsp_auths.auths[0];
	const uint8_t *rp = NULL;
	size_t rp_len = 0;
	uint8_t cc[4], zero_rc[4] = { 0 }, rp_hash[32], want[32];

	ck_assert_rc_eq(Tss2_Sys_GetRspAuths(c->sys, &rsp_auths), 0);
	ck_assert_rc_eq(Tss2_Sys_GetRpBuffer(c->sys, &rp_len, &rp), 0);
	ck_assert_rc_eq(Tss2_Sys_GetCommandCode(c->sys, cc), 0);
	ck_assert_uint_eq(rsp_auths.count, 1);
	sha256_cat(rp_hash, zero_rc, sizeof(zero_rc), cc, sizeof(cc), rp, rp_len, NULL);
	hmac_cat((const uint8_t *)auth, strlen(auth), want, rp_hash, sizeof(rp_hash),
		 r->nonce.buffer, (size_t)r->nonce.size, sent->nonce.buffer,
		 (size_t)sent->nonce.size, &r->sessionAttributes, (size_t)1, NULL);
	ck_assert_uint_eq(r->hmac.size, 32);
	ck_assert_msg(memcmp(r->hmac.buffer, want, 32) == 0,
		      "the TPM's response HMAC does not verify");
	s->nonce_tpm = r->nonce;
}

/*
 * TPM2_Sign with @key, authorised through HMAC session @s by @auth, which the client
 * believes is the key's authValue.  On success checks the TPM's response HMAC and keeps
 * its nonce for the next command.  Returns the TPM's rc.
 */
static TSS2_RC sign_with_session(Client *c, HmacSession *s, TPM2_HANDLE key,
				 const TPM2B_NAME *key_name, const char *auth,
				 bool continue_session)
{
	TPM2B_DIGEST digest = { .size = 32 };
	TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_ECDSA };
	TPMT_TK_HASHCHECK validation = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TPMS_AUTH_COMMAND sent;
	TPMT_SIGNATURE sig;
	TSS2_RC rc;

	scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	fill_random(digest.buffer, digest.size);
	ck_assert_rc_eq(Tss2_Sys_Sign_Prepare(c->sys, key, &digest, &scheme, &validation), 0);
	set_session_auth(c, s, key_name, auth, continue_session, &sent);
	rc = Tss2_Sys_Execute(c->sys);
	if (rc != TSS2_RC_SUCCESS)
		return rc;
	check_session_response(c, s, auth, &sent);
	return Tss2_Sys_Sign_Complete(c->sys, &sig);
}

static TSS2_RC context_save(Client *c, TPM2_HANDLE h, TPMS_CONTEXT *ret)
{
	memset(ret, 0, sizeof(*ret));
	return Tss2_Sys_ContextSave(c->sys, h, ret);
}

static TSS2_RC context_load(Client *c, const TPMS_CONTEXT *ctx, TPM2_HANDLE *ret)
{
	*ret = 0;
	return Tss2_Sys_ContextLoad(c->sys, ctx, ret);
}

/* --- SpaceTest (kernel selftests, tpm2_tests.py) --- */

START_TEST(test_selftest_make_two_spaces)
{
	Client *a = client_new(), *b = client_new();

	create_primary_at(a, 1, VH0, NULL);
	create_primary_at(b, 2, VH0, NULL);
	create_primary_at(b, 3, VH1, NULL);
	client_free(a);
	client_free(b);
	assert_tpm_clean(NULL, 0);
}
END_TEST

START_TEST(test_selftest_flush_context_of_vhandle)
{
	Client *a = client_new();

	create_primary_at(a, 1, VH0, NULL);
	ck_assert_rc_eq(Tss2_Sys_FlushContext(a->sys, VH0), TPM2_RC_SUCCESS);
	/* The slot was freed at save time (I8): listing is empty, the vhandle is unknown. */
	ASSERT_LISTED_NONE(a, HT_TRANSIENT);
	ck_assert_rm_errno(a, Tss2_Sys_FlushContext(a->sys, VH0), EINVAL);
	ck_assert_uint_eq(space_stats(a).objects, 0);
	client_free(a);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/*
 * tpm2.py get_cap(): GetCapability(HANDLES, pt, count 1), then pt += 1 while moreData.
 * pt is a physical handle (I5: not translated), so it walks the physical range.
 */
START_TEST(test_selftest_get_handles_stepwise_finds_exactly_two)
{
	Client *a = client_new(), *b = client_new();
	TPML_HANDLE l, all = { .count = 0 };
	TPMI_YES_NO more = 1;
	uint32_t pt = HT_TRANSIENT;

	create_primary_at(a, 1, VH0, NULL);
	create_primary_at(b, 2, VH0, NULL);
	create_primary_at(b, 3, VH1, NULL);
	for (int calls = 0; more; calls++, pt++) {
		ck_assert_int_lt(calls, 16);
		ck_assert_rc_eq(list_handles(b, pt, 1, &l, &more), TPM2_RC_SUCCESS);
		ck_assert_uint_le(l.count, 1);
		for (uint32_t i = 0; i < l.count; i++)
			all.handle[all.count++] = l.handle[i];
	}
	ck_assert_uint_eq(all.count, 2);
	ck_assert(list_has(&all, VH0, ~0u) && list_has(&all, VH1, ~0u));
	/* Starting from a vhandle starts above every physical handle: nothing. */
	ASSERT_LISTED_NONE(b, VH1);
	client_free(a);
	client_free(b);
	assert_tpm_clean(NULL, 0);
}
END_TEST

static const uint8_t cmd_invalid_cc[] = { 0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0x01, 0xfe };
static const uint8_t rsp_invalid_cc[] = { 0x80, 0x01, 0, 0, 0, 0x0a, 0, 0x0b, 0x01, 0x43 };

/*
 * Sends cc 0x1FE (TPM2_CC_FIRST - 1 as the selftests' tpm2.py defines it) in @c: answered
 * by the RM (H3), the TPM never sees it.
 */
static void assert_invalid_cc_synthesised(Client *c)
{
	uint8_t rsp[RM_BUF_MAX];
	size_t len = 0;
	RmStats before = stats_now(), after;

	ck_assert_int_eq(client_raw(c, cmd_invalid_cc, sizeof(cmd_invalid_cc), rsp, &len), 0);
	ck_assert_uint_eq(len, sizeof(rsp_invalid_cc));
	ck_assert_mem_eq(rsp, rsp_invalid_cc, sizeof(rsp_invalid_cc));
	after = stats_now();
	ck_assert_uint_eq(after.backend_commands, before.backend_commands);
	ck_assert_uint_eq(after.synthesized, before.synthesized + 1);
}

START_TEST(test_selftest_invalid_cc_gets_rm_layer_command_code)
{
	Client *a = client_new();

	create_primary_at(a, 1, VH0, NULL);
	assert_invalid_cc_synthesised(a);
	client_free(a);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/* --- close: what a freed space leaves in the TPM (cases 3-5) --- */

START_TEST(test_case3_object_gone_after_space_freed)
{
	Client *a = client_new(), *b;
	g_autoptr(Client) raw = raw_client_new();
	TPM2B_NAME name, scratch;

	create_primary_at(a, 1, VH0, &name);
	/* Between commands the object is only a saved context in the space (I7). */
	ASSERT_LISTED_NONE(raw, HT_TRANSIENT);
	assert_name_at(a, VH0, &name);
	client_free(a);

	b = client_new();
	ASSERT_LISTED_NONE(b, HT_TRANSIENT);
	ck_assert_rm_errno(b, read_name(b, VH0, &scratch), EINVAL);
	client_free(b);
	g_clear_pointer(&raw, client_free);
	assert_tpm_clean(NULL, 0);
}
END_TEST

START_TEST(test_case4_hmac_session_gone_after_space_freed)
{
	Client *a = client_new();
	g_autoptr(Client) raw = raw_client_new();
	HmacSession s = start_hmac_session(a);

	/* While the space lives, the session is saved in the TPM under its own handle. */
	ASSERT_LISTED(raw, HT_POLICY_SESSION, SESSION_INDEX_MASK, s.handle);
	ASSERT_LISTED_NONE(raw, HT_HMAC_SESSION);
	ck_assert_uint_eq(space_stats(a).sessions, 1);
	client_free(a);

	ASSERT_LISTED_NONE(raw, HT_HMAC_SESSION);
	ASSERT_LISTED_NONE(raw, HT_POLICY_SESSION);
	g_clear_pointer(&raw, client_free);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/*
 * I16: a session the client saved itself is forgotten by the RM (its own ContextSave
 * gets REFERENCE_H0), so close does not flush it; another "process" can load and use it.
 */
START_TEST(test_case5_client_saved_session_outlives_space_and_loads_elsewhere)
{
	Client *a = client_new(), *b;
	HmacSession s = start_hmac_session(a);
	TPMS_CONTEXT ctx;
	TPM2_HANDLE loaded = 0, key = 0;
	TPM2B_NAME key_name;
	RmStats before = stats_now();

	ck_assert_rc_eq(context_save(a, s.handle, &ctx), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(ctx.savedHandle, s.handle);
	ck_assert_uint_eq(stats_now().forgotten_sessions, before.forgotten_sessions + 1);
	ck_assert_uint_eq(space_stats(a).sessions, 0);
	client_free(a);
	/* No space is open: the only thing in the TPM is the client's saved session. */
	assert_tpm_clean(&s.handle, 1);

	b = client_new();
	ck_assert_rc_eq(context_load(b, &ctx, &loaded), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(loaded, s.handle); /* sessions are not translated (I4, I17) */
	ck_assert_uint_eq(space_stats(b).sessions, 1);
	ck_assert_rc_eq(create_signing_key(b, "secret", &key, &key_name), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(sign_with_session(b, &s, key, &key_name, "secret", true), 0);
	ck_assert_rc_eq(test_get_random(b->sys, 16, NULL), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(sign_with_session(b, &s, key, &key_name, "secret", true), 0);
	client_free(b); /* B tracks the session, so B's close flushes it */
	assert_tpm_clean(NULL, 0);
}
END_TEST

/* --- transient objects (cases 37-42, 47, 48) --- */

START_TEST(test_case37_three_objects_then_tpm_object_memory)
{
	Client *a = client_new();
	TPM2B_NAME names[3];
	TPM2_HANDLE h = 0;

	create_primary_at(a, 1, VH0, &names[0]);
	create_primary_at(a, 2, VH1, &names[1]);
	create_primary_at(a, 3, VH2, &names[2]);
	/* The RM loads 3 objects; libtpms has 3 slots, so the TPM refuses the 4th (I18a). */
	ck_assert_rc_eq(create_primary(a, 4, &h, NULL), TPM2_RC_OBJECT_MEMORY);
	ck_assert_int_eq(tcti_func_last_errno(a->tcti), 0);
	ASSERT_LISTED(a, HT_TRANSIENT, ~0u, VH0, VH1, VH2);
	assert_name_at(a, VH0, &names[0]);
	assert_name_at(a, VH1, &names[1]);
	assert_name_at(a, VH2, &names[2]);
	ck_assert_uint_eq(space_stats(a).objects, 3);
	client_free(a);
	assert_tpm_clean(NULL, 0);
}
END_TEST

START_TEST(test_case38_flushed_slot_is_reused)
{
	Client *a = client_new();
	TPM2B_NAME n0, n1, n2, n3;

	create_primary_at(a, 1, VH0, &n0);
	create_primary_at(a, 2, VH1, &n1);
	create_primary_at(a, 3, VH2, &n2);
	ck_assert_rc_eq(Tss2_Sys_FlushContext(a->sys, VH1), TPM2_RC_SUCCESS);
	ASSERT_LISTED(a, HT_TRANSIENT, ~0u, VH0, VH2);
	create_primary_at(a, 4, VH1, &n3);
	ck_assert(!name_eq(&n1, &n3));
	assert_name_at(a, VH0, &n0);
	assert_name_at(a, VH1, &n3);
	assert_name_at(a, VH2, &n2);
	client_free(a);
	assert_tpm_clean(NULL, 0);
}
END_TEST

START_TEST(test_case39_flush_of_empty_or_foreign_vhandle_is_einval)
{
	static const uint8_t flush_0x80123456[] = { 0x80, 0x01, 0,    0,    0,	  0x0e, 0,
						    0,	  0x01, 0x65, 0x80, 0x12, 0x34, 0x56 };
	Client *a = client_new();
	uint8_t rsp[RM_BUF_MAX];
	size_t len = 0;
	RmStats before = stats_now(), after;
	TPM2B_NAME name;

	ck_assert_rm_errno(a, Tss2_Sys_FlushContext(a->sys, VH2), EINVAL);
	ck_assert_rm_errno(a, Tss2_Sys_FlushContext(a->sys, HT_TRANSIENT), EINVAL);
	ck_assert_rm_errno(a, Tss2_Sys_FlushContext(a->sys, 0x80FFFFFCu), EINVAL);
	ck_assert_rm_errno(a, Tss2_Sys_FlushContext(a->sys, VH0), EINVAL);
	ck_assert_int_eq(client_raw(a, flush_0x80123456, sizeof(flush_0x80123456), rsp, &len),
			 -EINVAL);
	/* An empty space has nothing to load, so the TPM saw none of these (I2). */
	after = stats_now();
	ck_assert_uint_eq(after.backend_commands, before.backend_commands);
	ck_assert_uint_eq(after.errors[RM_ERR_EINVAL], before.errors[RM_ERR_EINVAL] + 5);

	/* With an object in slot 0, slot 1 is still empty; the object is unharmed. */
	create_primary_at(a, 1, VH0, &name);
	ck_assert_rm_errno(a, Tss2_Sys_FlushContext(a->sys, VH1), EINVAL);
	assert_name_at(a, VH0, &name);
	client_free(a);
	assert_tpm_clean(NULL, 0);
}
END_TEST

START_TEST(test_case40_each_space_sees_its_own_object_at_the_same_vhandle)
{
	Client *a = client_new(), *b = client_new();
	TPM2B_NAME na, nb;

	create_primary_at(a, 1, VH0, &na);
	create_primary_at(b, 2, VH0, &nb);
	ck_assert(!name_eq(&na, &nb));
	ASSERT_LISTED(a, HT_TRANSIENT, ~0u, VH0);
	ASSERT_LISTED(b, HT_TRANSIENT, ~0u, VH0);
	assert_name_at(a, VH0, &na);
	assert_name_at(b, VH0, &nb);
	assert_name_at(a, VH0, &na);
	client_free(a);
	client_free(b);
	assert_tpm_clean(NULL, 0);
}
END_TEST

START_TEST(test_case42_persistent_handle_listed_unmodified)
{
	Client *a = client_new(), *b = client_new();
	TSS2L_SYS_AUTH_RESPONSE rsp_auth;
	TPM2B_NAME name;

	create_primary_at(a, 1, VH0, &name);
	ck_assert_rc_eq(Tss2_Sys_EvictControl(a->sys, TPM2_RH_OWNER, VH0, &pw_auth,
					      PERSISTENT_HANDLE, &rsp_auth),
			TPM2_RC_SUCCESS);
	ASSERT_LISTED(a, HT_PERSISTENT, ~0u, PERSISTENT_HANDLE);
	ASSERT_LISTED(b, HT_PERSISTENT, ~0u, PERSISTENT_HANDLE);
	ASSERT_LISTED(a, HT_TRANSIENT, ~0u, VH0);
	ASSERT_LISTED_NONE(b, HT_TRANSIENT);
	assert_name_at(b, PERSISTENT_HANDLE, &name);

	ck_assert_rc_eq(Tss2_Sys_EvictControl(b->sys, TPM2_RH_OWNER, PERSISTENT_HANDLE, &pw_auth,
					      PERSISTENT_HANDLE, &rsp_auth),
			TPM2_RC_SUCCESS);
	ASSERT_LISTED_NONE(a, HT_PERSISTENT);
	client_free(a);
	client_free(b);
	assert_tpm_clean(NULL, 0);
}
END_TEST

START_TEST(test_case47_context_save_of_vhandle_and_load_as_new_vhandle)
{
	Client *a = client_new();
	TPMS_CONTEXT ctx;
	TPM2_HANDLE loaded = 0;
	TPM2B_NAME name;

	create_primary_at(a, 1, VH0, &name);
	ck_assert_rc_eq(context_save(a, VH0, &ctx), TPM2_RC_SUCCESS);
	/* The body is the TPM's, untouched (I15): libtpms's class value for a normal object. */
	ck_assert_msg(ctx.savedHandle == 0x80000000u, "savedHandle 0x%08x", ctx.savedHandle);
	ck_assert_uint_eq(ctx.hierarchy, TPM2_RH_OWNER);
	ck_assert_uint_eq(space_stats(a).objects, 1); /* the object stays in its slot */

	ck_assert_rc_eq(context_load(a, &ctx, &loaded), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(loaded, VH1);
	ASSERT_LISTED(a, HT_TRANSIENT, ~0u, VH0, VH1);
	assert_name_at(a, VH0, &name);
	assert_name_at(a, VH1, &name);
	ck_assert_rc_eq(Tss2_Sys_FlushContext(a->sys, VH0), TPM2_RC_SUCCESS);
	assert_name_at(a, VH1, &name);
	ASSERT_LISTED(a, HT_TRANSIENT, ~0u, VH1);
	client_free(a);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/*
 * Case 48 says ENOMEM; that needs a TPM with more object slots than the space.  The RM
 * loads the space's 3 objects before the command, and libtpms has exactly 3 slots, so the
 * TPM's own ContextLoad fails first, with TPM_RC_OBJECT_MEMORY, as a response (I18a).
 * The space keeps its 3 objects.
 */
START_TEST(test_case48_context_load_with_three_slots_used_gets_tpm_object_memory)
{
	Client *a = client_new();
	TPMS_CONTEXT ctx;
	TPM2_HANDLE loaded = 0;
	TPM2B_NAME n0, n1, n2;

	create_primary_at(a, 1, VH0, &n0);
	create_primary_at(a, 2, VH1, &n1);
	create_primary_at(a, 3, VH2, &n2);
	ck_assert_rc_eq(context_save(a, VH0, &ctx), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(context_load(a, &ctx, &loaded), TPM2_RC_OBJECT_MEMORY);
	ck_assert_int_eq(tcti_func_last_errno(a->tcti), 0);
	ASSERT_LISTED(a, HT_TRANSIENT, ~0u, VH0, VH1, VH2);
	assert_name_at(a, VH0, &n0);
	assert_name_at(a, VH1, &n1);
	assert_name_at(a, VH2, &n2);

	/* With a slot free the same blob loads there. */
	ck_assert_rc_eq(Tss2_Sys_FlushContext(a->sys, VH1), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(context_load(a, &ctx, &loaded), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(loaded, VH1);
	assert_name_at(a, VH1, &n0);
	client_free(a);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/* Save, flush, load again in the same space and in another one (I15, I17). */
START_TEST(test_object_context_round_trips_within_and_across_spaces)
{
	Client *a = client_new(), *b = client_new();
	TPMS_CONTEXT ctx, again;
	TPM2_HANDLE loaded = 0;
	TPM2B_NAME name, other, scratch;

	create_primary_at(a, 1, VH0, &name);
	create_primary_at(b, 2, VH0, &other);
	ck_assert_rc_eq(context_save(a, VH0, &ctx), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(Tss2_Sys_FlushContext(a->sys, VH0), TPM2_RC_SUCCESS);
	ck_assert_rm_errno(a, read_name(a, VH0, &scratch), EINVAL);

	ck_assert_rc_eq(context_load(a, &ctx, &loaded), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(loaded, VH0);
	assert_name_at(a, VH0, &name);
	ck_assert_rc_eq(context_load(b, &ctx, &loaded), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(loaded, VH1);
	assert_name_at(b, VH0, &other);
	assert_name_at(b, VH1, &name);

	/* Several round trips in a row, interleaved with the other space. */
	for (int i = 0; i < 4; i++) {
		ck_assert_rc_eq(context_save(a, VH0, &again), TPM2_RC_SUCCESS);
		ck_assert_rc_eq(Tss2_Sys_FlushContext(a->sys, VH0), TPM2_RC_SUCCESS);
		assert_name_at(b, VH1, &name);
		ck_assert_rc_eq(context_load(a, &again, &loaded), TPM2_RC_SUCCESS);
		ck_assert_uint_eq(loaded, VH0);
		assert_name_at(a, VH0, &name);
	}
	ASSERT_LISTED(a, HT_TRANSIENT, ~0u, VH0);
	ASSERT_LISTED(b, HT_TRANSIENT, ~0u, VH0, VH1);
	client_free(a);
	client_free(b);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/* --- sessions (cases 43-46, 50) --- */

START_TEST(test_case43_three_sessions_untranslated_then_tpm_session_memory)
{
	Client *a = client_new();
	g_autoptr(Client) raw = raw_client_new();
	HmacSession s1 = start_hmac_session(a);
	TPM2_HANDLE s2 = start_policy_session(a), s3 = start_policy_session(a), s4 = 0;
	TPM2B_DIGEST d;
	TPM2_HANDLE key = 0;
	TPM2B_NAME key_name;

	ck_assert(s1.handle != s2 && s2 != s3 && s1.handle != s3);
	/* The handles are the TPM's own: it holds exactly these three, saved. */
	ASSERT_LISTED(raw, HT_POLICY_SESSION, SESSION_INDEX_MASK, s1.handle, s2, s3);
	ck_assert_uint_eq(space_stats(a).sessions, 3);

	/* The RM loads 3 sessions; libtpms has 3 loaded-session slots (I18a). */
	ck_assert_rc_eq(start_session(a, TPM2_SE_HMAC, &s4, NULL), TPM2_RC_SESSION_MEMORY);
	ck_assert_int_eq(tcti_func_last_errno(a->tcti), 0);

	/* No RM error happened, so the three are intact. */
	ck_assert_uint_eq(space_stats(a).sessions, 3);
	ck_assert_rc_eq(policy_digest(a, s2, &d), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(policy_digest(a, s3, &d), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(create_signing_key(a, "k", &key, &key_name), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(sign_with_session(a, &s1, key, &key_name, "k", true), 0);
	ASSERT_LISTED(raw, HT_POLICY_SESSION, SESSION_INDEX_MASK, s1.handle, s2, s3);
	client_free(a);
	g_clear_pointer(&raw, client_free);
	assert_tpm_clean(NULL, 0);
}
END_TEST

START_TEST(test_case44_policy_session_survives_commands_with_right_digest)
{
	Client *a = client_new(), *b = client_new();
	uint8_t pcr[32], want[32];
	TPM2_HANDLE s, trial = 0;
	TPM2B_DIGEST d, td;

	ck_assert_rc_eq(test_pcr_extend_sha256(a->sys, POLICY_PCR, 0x44), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(test_pcr_read_sha256(a->sys, POLICY_PCR, pcr), TPM2_RC_SUCCESS);
	expected_policy_pcr(POLICY_PCR, pcr, want);

	s = start_policy_session(a);
	ck_assert_rc_eq(policy_pcr(a, s, POLICY_PCR), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(test_get_random(a->sys, 32, NULL), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(test_get_random(b->sys, 32, NULL), TPM2_RC_SUCCESS);
	create_primary_at(b, 1, VH0, NULL);
	ck_assert_rc_eq(test_get_random(a->sys, 32, NULL), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(policy_digest(a, s, &d), TPM2_RC_SUCCESS);
	assert_digest(&d, want);

	/* A trial session in another space computes the same. */
	ck_assert_rc_eq(start_session(b, TPM2_SE_TRIAL, &trial, NULL), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(policy_pcr(b, trial, POLICY_PCR), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(policy_digest(b, trial, &td), TPM2_RC_SUCCESS);
	assert_digest(&td, want);
	client_free(a);
	client_free(b);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/*
 * I12 (kernel quirk, RM_QUIRK_SESSION_LOSS_ON_ERROR): an RM error after swap-in flushes
 * the space's sessions; the objects come back from their saved contexts.
 */
START_TEST(test_case45_bad_vhandle_destroys_the_spaces_sessions)
{
	Client *a = client_new();
	TPM2_HANDLE s;
	TPM2B_DIGEST d;
	TPM2B_NAME name, scratch;
	RmStats before;
	uint32_t rc;

	create_primary_at(a, 1, VH0, &name);
	s = start_policy_session(a);
	ck_assert_rc_eq(policy_pcr(a, s, POLICY_PCR), TPM2_RC_SUCCESS);
	ck_assert_rm_errno(a, read_name(a, VH1, &scratch), EINVAL);

	before = stats_now();
	rc = assert_tpm_error(a, policy_digest(a, s, &d));
	g_debug("case 45: PolicyGetDigest of the lost session: rc 0x%08x", rc);
	ck_assert_uint_eq(stats_now().forgotten_sessions, before.forgotten_sessions + 1);
	ck_assert_uint_eq(space_stats(a).sessions, 0);
	assert_name_at(a, VH0, &name);
	client_free(a);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/* I14 (kernel quirk): FlushContext of a session handle works on any space's session. */
START_TEST(test_case46_other_space_can_flush_a_session)
{
	Client *a = client_new(), *b = client_new();
	TPM2_HANDLE s = start_policy_session(a);
	TPM2B_DIGEST d;
	uint32_t rc;

	ck_assert_rc_eq(policy_digest(a, s, &d), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(Tss2_Sys_FlushContext(b->sys, s), TPM2_RC_SUCCESS);
	rc = assert_tpm_error(a, policy_digest(a, s, &d));
	g_debug("case 46: PolicyGetDigest of the flushed session: rc 0x%08x", rc);
	ck_assert_uint_eq(space_stats(a).sessions, 0);
	client_free(a);
	client_free(b);
	assert_tpm_clean(NULL, 0);
}
END_TEST

START_TEST(test_case50_invalid_cc_does_not_disturb_a_session)
{
	Client *a = client_new();
	TPM2_HANDLE s = start_policy_session(a);
	TPM2B_DIGEST d1, d2;

	ck_assert_rc_eq(policy_pcr(a, s, POLICY_PCR), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(policy_digest(a, s, &d1), TPM2_RC_SUCCESS);
	assert_invalid_cc_synthesised(a);
	ck_assert_rc_eq(policy_digest(a, s, &d2), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(d1.size, d2.size);
	ck_assert_mem_eq(d1.buffer, d2.buffer, d1.size);
	ck_assert_uint_eq(space_stats(a).sessions, 1);
	client_free(a);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/* An unbound HMAC session authorising a noDA key, command after command, across spaces. */
START_TEST(test_hmac_session_authorises_a_key_across_commands)
{
	Client *a = client_new(), *b = client_new();
	TPM2_HANDLE key = 0, other = 0;
	TPM2B_NAME key_name, other_name;
	HmacSession s;
	HmacSession t;

	ck_assert_rc_eq(create_signing_key(a, "secret", &key, &key_name), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(key, VH0);
	s = start_hmac_session(a);
	ck_assert_rc_eq(create_signing_key(b, "other", &other, &other_name), TPM2_RC_SUCCESS);
	t = start_hmac_session(b);
	for (int i = 0; i < 4; i++) {
		ck_assert_rc_eq(sign_with_session(a, &s, key, &key_name, "secret", true), 0);
		ck_assert_rc_eq(test_get_random(a->sys, 8, NULL), TPM2_RC_SUCCESS);
		ck_assert_rc_eq(sign_with_session(b, &t, other, &other_name, "other", true), 0);
	}
	/*
	 * A wrong authValue is the TPM's refusal, a response, so the RM keeps the session
	 * (BAD_AUTH, not AUTH_FAIL: the key is noDA).
	 */
	ck_assert_rc_eq(sign_with_session(a, &s, key, &key_name, "wrong", true),
			TPM2_RC_BAD_AUTH | TPM2_RC_S | TPM2_RC_1);
	ck_assert_uint_eq(space_stats(a).sessions, 1);
	ck_assert_rc_eq(sign_with_session(a, &s, key, &key_name, "secret", true), 0);

	/* continueSession clear: the TPM ends the session; the RM forgets it (I9). */
	ck_assert_rc_eq(sign_with_session(a, &s, key, &key_name, "secret", false), 0);
	ck_assert_uint_eq(space_stats(a).sessions, 0);
	ck_assert_uint_eq(space_stats(b).sessions, 1);
	ck_assert_rc_eq(sign_with_session(b, &t, other, &other_name, "other", true), 0);
	client_free(a);
	client_free(b);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/*
 * Kernel quirk RM_QUIRK_SESSION_RELOAD_OFFSET (tpm2_load_space, I11): when the first
 * session's context fails to reload, the offset into the session buffer is not advanced,
 * so the second session is "reloaded" from the first one's bytes, fails too and is
 * forgotten although it is alive.  Close does not flush what was forgotten, so it stays
 * saved in the TPM.
 */
START_TEST(test_session_after_a_lost_one_is_forgotten_and_left_in_the_tpm)
{
	Client *a = client_new(), *b = client_new();
	g_autoptr(Client) raw = raw_client_new();
	TPM2_HANDLE s1 = start_policy_session(a), s2 = start_policy_session(a);
	RmStats before;

	ck_assert_rc_eq(Tss2_Sys_FlushContext(b->sys, s1), TPM2_RC_SUCCESS);
	before = stats_now();
	ck_assert_rc_eq(test_get_random(a->sys, 8, NULL), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(stats_now().forgotten_sessions, before.forgotten_sessions + 2);
	ck_assert_uint_eq(space_stats(a).sessions, 0);
	ASSERT_LISTED(raw, HT_POLICY_SESSION, SESSION_INDEX_MASK, s2);
	client_free(a);
	client_free(b);
	assert_tpm_clean(&s2, 1);

	/* Only someone who knows the handle can end it. */
	ck_assert_rc_eq(Tss2_Sys_FlushContext(raw->sys, s2), TPM2_RC_SUCCESS);
	g_clear_pointer(&raw, client_free);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/*
 * I11: TPM2_Clear (allowed through any space, H6) changes the owner hierarchy's proof, so
 * a space's saved owner object no longer loads: TPM_RC_INTEGRITY, EINVAL since 6.10.  The
 * context stays in the space, so every command of that space fails the same way (kernel
 * quirk RM_QUIRK_WEDGE_ON_OBJECT_RELOAD).  Other spaces are unaffected.
 */
START_TEST(test_clear_wedges_a_space_holding_an_owner_object)
{
	Client *a = client_new(), *b = client_new();
	g_autoptr(Client) raw = raw_client_new();
	TSS2L_SYS_AUTH_RESPONSE rsp_auth;
	TPMS_CONTEXT ctx;
	TPM2_HANDLE s, loaded = 0;

	create_primary_at(a, 1, VH0, NULL);
	s = start_policy_session(a);
	ck_assert_rc_eq(context_save(a, VH0, &ctx), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(Tss2_Sys_Clear(b->sys, TPM2_RH_LOCKOUT, &pw_auth, &rsp_auth),
			TPM2_RC_SUCCESS);
	ASSERT_LISTED(raw, HT_POLICY_SESSION, SESSION_INDEX_MASK, s);
	/* What the RM's ContextLoad gets, asked of the TPM directly. */
	ck_assert_rc_eq(context_load(raw, &ctx, &loaded),
			TPM2_RC_INTEGRITY | TPM2_RC_P | TPM2_RC_1);
	/*
	 * The failed swap-in flushes the space's sessions as the kernel's tpm2_flush_space()
	 * does, although none was loaded yet: FlushContext ends saved sessions too.
	 */
	ck_assert_rm_errno(a, test_get_random(a->sys, 8, NULL), EINVAL);
	ASSERT_LISTED_NONE(raw, HT_POLICY_SESSION);
	ck_assert_rm_errno(a, test_get_random(a->sys, 8, NULL), EINVAL);
	ck_assert_uint_eq(space_stats(a).objects, 1);
	ck_assert_rc_eq(test_get_random(b->sys, 8, NULL), TPM2_RC_SUCCESS);
	create_primary_at(b, 2, VH0, NULL);
	client_free(a);
	client_free(b);
	g_clear_pointer(&raw, client_free);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/*
 * H5 (kernel quirk RM_QUIRK_NO_HANDLE_AREA_CHECK): a ReadPublic without its handle is
 * forwarded, and the TPM answers it with an error of its own.
 */
START_TEST(test_command_shorter_than_its_handle_area_reaches_the_tpm)
{
	static const uint8_t read_public_no_handle[] = {
		0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0x01, 0x73
	};
	Client *a = client_new();
	uint8_t rsp[RM_BUF_MAX];
	size_t len = 0;
	uint32_t rc = 0;
	RmStats before = stats_now();

	ck_assert_int_eq(
		client_raw(a, read_public_no_handle, sizeof(read_public_no_handle), rsp, &len), 0);
	ck_assert_int_eq(tpm2_wire_response_rc(rsp, len, &rc), 0);
	g_debug("ReadPublic without a handle: rc 0x%08x", rc);
	ck_assert_uint_ne(rc, TPM2_RC_SUCCESS);
	ck_assert_uint_eq(rc & 0xFFFF0000u, 0); /* the TPM's, not the RM's */
	ck_assert_uint_eq(stats_now().backend_commands, before.backend_commands + 1);
	client_free(a);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/* --- sequences --- */

static TSS2_RC sequence_update(Client *c, TPM2_HANDLE seq, const uint8_t *p, uint16_t n)
{
	TPM2B_MAX_BUFFER buf = { .size = n };
	TSS2L_SYS_AUTH_RESPONSE rsp_auth;

	memcpy(buf.buffer, p, n);
	return Tss2_Sys_SequenceUpdate(c->sys, seq, &pw_auth, &buf, &rsp_auth);
}

static TSS2_RC sequence_complete(Client *c, TPM2_HANDLE seq, const uint8_t *p, uint16_t n,
				 TPM2B_DIGEST *ret)
{
	TPM2B_MAX_BUFFER buf = { .size = n };
	TPMT_TK_HASHCHECK ticket;
	TSS2L_SYS_AUTH_RESPONSE rsp_auth;

	memcpy(buf.buffer, p, n);
	ret->size = 0;
	return Tss2_Sys_SequenceComplete(c->sys, seq, &pw_auth, &buf, TPM2_RH_NULL, ret, &ticket,
					 &rsp_auth);
}

START_TEST(test_hash_sequence_across_commands_matches_one_shot_hash)
{
	Client *a = client_new(), *b = client_new();
	TPM2B_AUTH no_auth = { .size = 0 };
	TPM2B_MAX_BUFFER all = { .size = 868 };
	TPM2B_DIGEST one_shot = { .size = 0 }, d0, d1;
	TPMT_TK_HASHCHECK ticket;
	TPMS_CONTEXT ctx;
	TPM2_HANDLE seq = 0, copy = 0;
	uint8_t want[32];

	fill_random(all.buffer, all.size);
	ck_assert_rc_eq(
		Tss2_Sys_HashSequenceStart(a->sys, NULL, &no_auth, TPM2_ALG_SHA256, &seq, NULL),
		TPM2_RC_SUCCESS);
	ck_assert_uint_eq(seq, VH0);
	ck_assert_rc_eq(sequence_update(a, seq, all.buffer, 256), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(test_get_random(a->sys, 8, NULL), TPM2_RC_SUCCESS);
	create_primary_at(b, 1, VH0, NULL);
	ck_assert_rc_eq(sequence_update(a, seq, all.buffer + 256, 256), TPM2_RC_SUCCESS);

	/* A saved sequence has the TPM's sequence class handle (case 47); its copy goes on. */
	ck_assert_rc_eq(context_save(a, seq, &ctx), TPM2_RC_SUCCESS);
	ck_assert_msg(ctx.savedHandle == 0x80000001u, "savedHandle 0x%08x", ctx.savedHandle);
	ck_assert_rc_eq(context_load(a, &ctx, &copy), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(copy, VH1);
	ck_assert_rc_eq(test_get_random(b->sys, 8, NULL), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(sequence_update(a, seq, all.buffer + 512, 256), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(sequence_update(a, copy, all.buffer + 512, 256), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(sequence_complete(a, seq, all.buffer + 768, 100, &d0), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(sequence_complete(a, copy, all.buffer + 768, 100, &d1), TPM2_RC_SUCCESS);

	ck_assert_rc_eq(Tss2_Sys_Hash(b->sys, NULL, &all, TPM2_ALG_SHA256, TPM2_RH_NULL, &one_shot,
				      &ticket, NULL),
			TPM2_RC_SUCCESS);
	sha256_cat(want, all.buffer, (size_t)all.size, NULL);
	assert_digest(&one_shot, want);
	assert_digest(&d0, want);
	assert_digest(&d1, want);
	/* SequenceComplete ended both objects in the TPM: the slots are free again (I8). */
	ASSERT_LISTED_NONE(a, HT_TRANSIENT);
	ck_assert_uint_eq(space_stats(a).objects, 0);
	client_free(a);
	client_free(b);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/* --- several spaces at once --- */

#define N_SPACES 4

typedef struct SpaceState {
	Client *c;
	TPM2B_NAME names[2];
	TPM2_HANDLE session;
	uint8_t policy[32];
} SpaceState;

static void check_space_state(SpaceState *st, bool flushed_first)
{
	TPM2B_DIGEST d;

	if (flushed_first) {
		ASSERT_LISTED(st->c, HT_TRANSIENT, ~0u, VH1);
	} else {
		ASSERT_LISTED(st->c, HT_TRANSIENT, ~0u, VH0, VH1);
		assert_name_at(st->c, VH0, &st->names[0]);
	}
	assert_name_at(st->c, VH1, &st->names[1]);
	/* During its command only this space's session is loaded (I1, I6). */
	ASSERT_LISTED(st->c, HT_HMAC_SESSION, ~0u, st->session);
	ck_assert_rc_eq(policy_digest(st->c, st->session, &d), TPM2_RC_SUCCESS);
	assert_digest(&d, st->policy);
}

START_TEST(test_interleaved_spaces_keep_their_objects_and_sessions)
{
	SpaceState st[N_SPACES];
	uint8_t pcr[32];
	TPM2_HANDLE all_sessions[N_SPACES];

	for (unsigned int i = 0; i < N_SPACES; i++) {
		st[i].c = client_new();
		create_primary_at(st[i].c, 10 * i + 1, VH0, &st[i].names[0]);
		create_primary_at(st[i].c, 10 * i + 2, VH1, &st[i].names[1]);
		st[i].session = start_policy_session(st[i].c);
		all_sessions[i] = st[i].session;
		ck_assert_rc_eq(test_pcr_read_sha256(st[i].c->sys, i, pcr), TPM2_RC_SUCCESS);
		ck_assert_rc_eq(policy_pcr(st[i].c, st[i].session, i), TPM2_RC_SUCCESS);
		expected_policy_pcr(i, pcr, st[i].policy);
	}
	/* Non-transient handles are not filtered (I5): every space's saved session shows. */
	ASSERT_LISTED(st[0].c, HT_POLICY_SESSION, SESSION_INDEX_MASK, all_sessions[1],
		      all_sessions[2], all_sessions[3]);

	for (int round = 0; round < 3; round++) {
		for (unsigned int i = 0; i < N_SPACES; i++) {
			unsigned int j = round % 2 ? N_SPACES - 1 - i : i;

			check_space_state(&st[j], round == 2 && j == 1);
		}
		if (round == 1)
			ck_assert_rc_eq(Tss2_Sys_FlushContext(st[1].c->sys, VH0), TPM2_RC_SUCCESS);
	}
	client_free(st[2].c);
	client_free(st[0].c);
	client_free(st[3].c);
	client_free(st[1].c);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/* --- capabilities --- */

/* Case 49: TPM_CAP_COMMANDS is not filtered: the same bytes as from the TPM itself. */
START_TEST(test_case49_get_capability_commands_unfiltered)
{
	Client *a = client_new();
	g_autoptr(Client) raw = raw_client_new();
	uint32_t property = TPM2_CC_FIRST;
	int pages = 0;
	bool more = true;

	create_primary_at(a, 1, VH0, NULL); /* a non-empty space, so the RM does its work */
	while (more) {
		uint8_t cmd[22], via_rm[RM_BUF_MAX], via_tpm[RM_BUF_MAX];
		size_t cmd_len = 0, rm_len = 0, tpm_len = 0;
		Tpm2CapData cap;

		ck_assert_int_lt(pages++, 8);
		ck_assert_int_eq(tpm2_wire_build_get_capability(cmd, sizeof(cmd), TPM2_CAP_COMMANDS,
								property, TPM2_MAX_CAP_CC,
								&cmd_len),
				 0);
		ck_assert_int_eq(client_raw(a, cmd, cmd_len, via_rm, &rm_len), 0);
		ck_assert_int_eq(client_raw(raw, cmd, cmd_len, via_tpm, &tpm_len), 0);
		ck_assert_uint_eq(rm_len, tpm_len);
		ck_assert_mem_eq(via_rm, via_tpm, tpm_len);
		ck_assert_int_eq(tpm2_wire_parse_cap_rsp(via_tpm, tpm_len, &cap), 0);
		ck_assert_uint_gt(cap.count, 0);
		more = cap.more_data;
		property =
			(tpm2_wire_load_u32(cap.items + (size_t)4 * (cap.count - 1)) & 0xFFFFu) + 1;
	}
	client_free(a);
	g_clear_pointer(&raw, client_free);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/* --- counters --- */

typedef struct Delta {
	uint64_t backend, loads, saves, flushes;
} Delta;

static Delta delta(const RmStats *before, const RmStats *after)
{
	return (Delta){ after->backend_commands - before->backend_commands,
			after->context_loads - before->context_loads,
			after->context_saves - before->context_saves,
			after->flushes - before->flushes };
}

#define ck_assert_delta(d, b, l, s, f)                                                       \
	ck_assert_msg((d).backend == (b) && (d).loads == (l) && (d).saves == (s) &&          \
			      (d).flushes == (f),                                            \
		      "backend/loads/saves/flushes %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT \
		      "/%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT ", expected %d/%d/%d/%d",  \
		      (d).backend, (d).loads, (d).saves, (d).flushes, (b), (l), (s), (f))

/* The kernel's eager cost (I22): every object and session of the space, every command. */
START_TEST(test_stats_count_the_eager_swap)
{
	RmStats s0 = stats_now(), s1;
	Client *a = client_new();
	RmSpaceStats sp0, sp1;

	s1 = stats_now();
	ck_assert_uint_eq(s1.spaces_open, s0.spaces_open + 1);

	/* An empty space: the command alone. */
	s0 = stats_now();
	ck_assert_rc_eq(test_get_random(a->sys, 8, NULL), TPM2_RC_SUCCESS);
	s1 = stats_now();
	ck_assert_delta(delta(&s0, &s1), 1, 0, 0, 0);
	ck_assert_uint_eq(s1.client_commands, s0.client_commands + 1);

	/* A new object: the command, then save and flush it. */
	s0 = stats_now();
	create_primary_at(a, 1, VH0, NULL);
	s1 = stats_now();
	ck_assert_delta(delta(&s0, &s1), 3, 0, 1, 1);

	/* One object: load + command + save + flush. */
	sp0 = space_stats(a);
	s0 = stats_now();
	ck_assert_rc_eq(test_get_random(a->sys, 8, NULL), TPM2_RC_SUCCESS);
	s1 = stats_now();
	sp1 = space_stats(a);
	ck_assert_delta(delta(&s0, &s1), 4, 1, 1, 1);
	ck_assert_uint_eq(sp1.backend_commands, sp0.backend_commands + 4);
	ck_assert_uint_eq(sp1.client_commands, sp0.client_commands + 1);
	ck_assert_uint_eq(sp1.objects, 1);

	/* One object and one session: a saved session is not flushed. */
	start_policy_session(a);
	s0 = stats_now();
	ck_assert_rc_eq(test_get_random(a->sys, 8, NULL), TPM2_RC_SUCCESS);
	s1 = stats_now();
	ck_assert_delta(delta(&s0, &s1), 6, 2, 2, 1);
	ck_assert_uint_eq(space_stats(a).sessions, 1);

	/* An unknown command code costs nothing (H3). */
	assert_invalid_cc_synthesised(a);

	/* Close flushes the one session (A5). */
	s0 = stats_now();
	client_free(a);
	s1 = stats_now();
	ck_assert_delta(delta(&s0, &s1), 1, 0, 0, 1);
	ck_assert_uint_eq(s1.spaces_freed, s0.spaces_freed + 1);
	ck_assert_uint_eq(s1.spaces_open, s0.spaces_open - 1);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/* --- what libtpms does where the spec leaves the TPM open --- */

/*
 * libtpms answers the first DA-protected authorisation after Startup with TPM_RC_RETRY
 * (facts.md).  The kernel retries RETRY itself (I3): the client sees success, and only
 * the command is sent again, not the swap.
 */
START_TEST(test_first_da_authorisation_retry_is_hidden_from_the_client)
{
	Client *a = client_new();
	TPM2B_PUBLIC tmpl = signing_template();
	TSS2L_SYS_AUTH_COMMAND auth = { .count = 1, .auths = { { .sessionHandle = TPM2_RH_PW } } };
	TSS2L_SYS_AUTH_RESPONSE rsp_auth;
	TPM2B_DIGEST digest = { .size = 32 };
	TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_ECDSA };
	TPMT_TK_HASHCHECK validation = { .tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL };
	TPMT_SIGNATURE sig;
	TPM2_HANDLE key = 0;
	RmStats s0, s1;
	gint64 t0;

	tmpl.publicArea.objectAttributes &= ~TPMA_OBJECT_NODA;
	ck_assert_rc_eq(create_primary_from(a, &tmpl, "pw", &key, NULL), TPM2_RC_SUCCESS);
	scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	auth.auths[0].hmac.size = 2;
	memcpy(auth.auths[0].hmac.buffer, "pw", 2);
	for (int i = 0; i < 2; i++) {
		s0 = stats_now();
		t0 = g_get_monotonic_time();
		ck_assert_rc_eq(Tss2_Sys_Sign(a->sys, key, &auth, &digest, &scheme, &validation,
					      &sig, &rsp_auth),
				TPM2_RC_SUCCESS);
		s1 = stats_now();
		/* load, Sign, [20 ms, Sign again,] save, flush */
		if (i == 0) {
			ck_assert_delta(delta(&s0, &s1), 5, 1, 1, 1);
			ck_assert_int_ge(g_get_monotonic_time() - t0, 20000);
		} else {
			ck_assert_delta(delta(&s0, &s1), 4, 1, 1, 1);
		}
	}
	client_free(a);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/*
 * What libtpms answers where the spec leaves the TPM open (section 8, question 3), both
 * straight from the TPM and through the RM.  The RM's forget/free logic depends on these:
 * ContextSave of an absent entity must be REFERENCE_H0 (I8, I9), ContextLoad of a flushed
 * session TPM_RC_HANDLE in some parameter form (I11).
 */
START_TEST(test_libtpms_rcs_for_absent_contexts)
{
	Client *a = client_new();
	g_autoptr(Client) raw = raw_client_new();
	TPMS_CONTEXT ctx, ctx2, octx;
	TPM2_HANDLE s = 0, loaded = 0, obj = 0;
	uint32_t rc;

	/* The TPM alone: a session saved twice, loaded after a flush. */
	ck_assert_rc_eq(start_session(raw, TPM2_SE_HMAC, &s, NULL), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(context_save(raw, s, &ctx), TPM2_RC_SUCCESS);
	rc = context_save(raw, s, &ctx2);
	g_debug("raw ContextSave of a saved session: 0x%08x", rc);
	ck_assert_rc_eq(rc, TPM2_RC_REFERENCE_H0);
	ck_assert_rc_eq(context_load(raw, &ctx, &loaded), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(loaded, s);
	ck_assert_rc_eq(Tss2_Sys_FlushContext(raw->sys, s), TPM2_RC_SUCCESS);
	rc = context_load(raw, &ctx, &loaded);
	g_debug("raw ContextLoad of a flushed session: 0x%08x", rc);
	ck_assert_rc_eq(rc, TPM2_RC_HANDLE | TPM2_RC_P | TPM2_RC_1);

	/* An object flushed, then saved. */
	ck_assert_rc_eq(create_primary(raw, 1, &obj, NULL), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(obj, 0x80000000u);
	ck_assert_rc_eq(context_save(raw, obj, &octx), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(Tss2_Sys_FlushContext(raw->sys, obj), TPM2_RC_SUCCESS);
	rc = context_save(raw, obj, &ctx2);
	g_debug("raw ContextSave of a flushed object: 0x%08x", rc);
	ck_assert_rc_eq(rc, TPM2_RC_REFERENCE_H0);

	/* Through the RM: a client saves its own session twice (section 8, question 3). */
	s = start_policy_session(a);
	ck_assert_rc_eq(context_save(a, s, &ctx), TPM2_RC_SUCCESS);
	rc = context_save(a, s, &ctx2);
	g_debug("ContextSave through the RM of a session the client saved: 0x%08x", rc);
	ck_assert_rc_eq(rc, TPM2_RC_REFERENCE_H0);
	ck_assert_int_eq(tcti_func_last_errno(a->tcti), 0);
	ck_assert_rc_eq(context_load(a, &ctx, &loaded), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(loaded, s);
	client_free(a);
	g_clear_pointer(&raw, client_free);
	assert_tpm_clean(NULL, 0);
}
END_TEST

/* --- the context gap --- */

/*
 * Case 51: the context gap (I19).  A keeps one idle policy session; B starts, uses and
 * flushes sessions, two session saves per round, until the TPM's context counter is
 * TPM_PT_CONTEXT_GAP_MAX (libtpms: 0xFFFF) past A's saved session.  Then the TPM refuses
 * B's session save with TPM_RC_CONTEXT_GAP, and the kernel, which does no ungapping
 * (RM_QUIRK_NO_UNGAPPING), fails B's write with EFAULT (I10).  Only A's next command, which
 * re-saves the stale session, clears the gap.
 */
START_TEST(test_case51_context_gap_fails_the_other_space_with_efault)
{
	Client *a = client_new(), *b = client_new();
	TPM2_HANDLE sa = start_policy_session(a), sb = 0;
	TPM2B_DIGEST d;
	RmStats before = stats_now();
	uint32_t rc = 0;
	int round;

	for (round = 0; round < 40000; round++) {
		rc = start_session(b, TPM2_SE_POLICY, &sb, NULL);
		if (rc == TPM2_RC_SUCCESS)
			rc = test_get_random(b->sys, 8, NULL);
		if (rc == TPM2_RC_SUCCESS)
			rc = Tss2_Sys_FlushContext(b->sys, sb);
		if (rc != TPM2_RC_SUCCESS)
			break;
	}
	g_debug("case 51: B failed in round %d: rc 0x%08x, errno %d", round, rc,
		tcti_func_last_errno(b->tcti));
	ck_assert_rm_errno(b, rc, EFAULT);
	ck_assert_int_ge(round, 0xFFFF / 2 - 8);
	ck_assert_int_le(round, 0xFFFF / 2 + 1);
	/* The gap stays until the oldest saved session moves. */
	ck_assert_rm_errno(b, start_session(b, TPM2_SE_POLICY, &sb, NULL), EFAULT);
	ck_assert_uint_eq(stats_now().errors[RM_ERR_EFAULT], before.errors[RM_ERR_EFAULT] + 2);

	ck_assert_rc_eq(policy_digest(a, sa, &d), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(start_session(b, TPM2_SE_POLICY, &sb, NULL), TPM2_RC_SUCCESS);
	ck_assert_rc_eq(policy_digest(b, sb, &d), TPM2_RC_SUCCESS);
	client_free(a);
	client_free(b);
	assert_tpm_clean(NULL, 0);
}
END_TEST

static Suite *rm_libtpms_suite(void)
{
	Suite *s = suite_create("rm-libtpms");
	TCase *tc;

	tc = tcase_create("selftest-space");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_selftest_make_two_spaces);
	tcase_add_test(tc, test_selftest_flush_context_of_vhandle);
	tcase_add_test(tc, test_selftest_get_handles_stepwise_finds_exactly_two);
	tcase_add_test(tc, test_selftest_invalid_cc_gets_rm_layer_command_code);
	suite_add_tcase(s, tc);

	tc = tcase_create("close");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_case3_object_gone_after_space_freed);
	tcase_add_test(tc, test_case4_hmac_session_gone_after_space_freed);
	tcase_add_test(tc, test_case5_client_saved_session_outlives_space_and_loads_elsewhere);
	suite_add_tcase(s, tc);

	tc = tcase_create("objects");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_case37_three_objects_then_tpm_object_memory);
	tcase_add_test(tc, test_case38_flushed_slot_is_reused);
	tcase_add_test(tc, test_case39_flush_of_empty_or_foreign_vhandle_is_einval);
	tcase_add_test(tc, test_case40_each_space_sees_its_own_object_at_the_same_vhandle);
	tcase_add_test(tc, test_case42_persistent_handle_listed_unmodified);
	tcase_add_test(tc, test_case47_context_save_of_vhandle_and_load_as_new_vhandle);
	tcase_add_test(tc, test_case48_context_load_with_three_slots_used_gets_tpm_object_memory);
	tcase_add_test(tc, test_object_context_round_trips_within_and_across_spaces);
	tcase_add_test(tc, test_case49_get_capability_commands_unfiltered);
	suite_add_tcase(s, tc);

	tc = tcase_create("sessions");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_case43_three_sessions_untranslated_then_tpm_session_memory);
	tcase_add_test(tc, test_case44_policy_session_survives_commands_with_right_digest);
	tcase_add_test(tc, test_case45_bad_vhandle_destroys_the_spaces_sessions);
	tcase_add_test(tc, test_case46_other_space_can_flush_a_session);
	tcase_add_test(tc, test_case50_invalid_cc_does_not_disturb_a_session);
	tcase_add_test(tc, test_hmac_session_authorises_a_key_across_commands);
	tcase_add_test(tc, test_libtpms_rcs_for_absent_contexts);
	tcase_add_test(tc, test_session_after_a_lost_one_is_forgotten_and_left_in_the_tpm);
	tcase_add_test(tc, test_clear_wedges_a_space_holding_an_owner_object);
	tcase_add_test(tc, test_command_shorter_than_its_handle_area_reaches_the_tpm);
	suite_add_tcase(s, tc);

	tc = tcase_create("workloads");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hash_sequence_across_commands_matches_one_shot_hash);
	tcase_add_test(tc, test_interleaved_spaces_keep_their_objects_and_sessions);
	tcase_add_test(tc, test_stats_count_the_eager_swap);
	tcase_add_test(tc, test_first_da_authorisation_retry_is_hidden_from_the_client);
	tcase_add_test(tc, test_case51_context_gap_fails_the_other_space_with_efault);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rm_libtpms_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
