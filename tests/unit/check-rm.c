/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The resource manager over the fake TPM: for each rule of ../shared/spec/tpmrm-uapi.md
 * (sections H and I, A5 for close, B4/B9 for what write() and transmit check) the exact
 * commands the TPM receives, and the exact bytes or errno the client gets.  Where the
 * spec does not say how many commands a rule costs, the kernel's tpm2-space.c does.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fake-tpm.h"
#include "rm.h"

/* Virtual handle of slot @i (spec section 1). */
#define VH(i) (0x80FFFFFFu - (i))

#define PH0	   0x80000000u /* the fake's first physical transient handle */
#define HMAC0	   0x02000000u
#define POLICY0	   0x03000000u
#define PERSISTENT 0x81000001u /* the one persistent handle of the fake */

#define RC_RETRY	0x922u
#define RC_TESTING	0x90au
#define RC_CONTEXT_GAP	0x901u
#define RC_REFERENCE_H0 0x910u
#define RC_FAILURE	0x101u

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ })

/* The response exactly equals the bytes given. */
#define assert_rsp(...)                                        \
	do {                                                   \
		static const uint8_t exp_[] = { __VA_ARGS__ }; \
		ck_assert_uint_eq(rsp_len, sizeof(exp_));      \
		ck_assert_mem_eq(rsp, exp_, sizeof(exp_));     \
	} while (0)

/* H3: the only response the RM makes up. */
#define RSP_RM_COMMAND_CODE 0x80, 0x01, 0, 0, 0, 0x0a, 0x00, 0x0b, 0x01, 0x43

static FakeTpm *fake;
static Rm *rm;
static RmSpace *space;

static uint8_t rsp[RM_BUF_MAX];
static size_t rsp_len;

static unsigned int sleeps[16];
static size_t n_sleeps;

static void record_sleep(unsigned int ms)
{
	if (n_sleeps < G_N_ELEMENTS(sleeps))
		sleeps[n_sleeps] = ms;
	n_sleeps++;
}

static void assert_sleeps(const unsigned int *expected, size_t n)
{
	ck_assert_uint_eq(n_sleeps, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(sleeps[i], expected[i]);
}

/* The kernel profile, with a sleep that only records. */
static void kernel_options(RmOptions *opts)
{
	rm_options_init(opts, RM_PROFILE_KERNEL);
	opts->sleep_ms = record_sleep;
}

/* A new Rm over the fake with @opts, and one space; the log starts after. */
static void start_rm(const RmOptions *opts)
{
	g_clear_pointer(&space, rm_space_free);
	g_clear_pointer(&rm, rm_free);
	ck_assert_int_eq(rm_new(fake_tpm_backend(fake), opts, &rm), 0);
	space = rm_space_new(rm, NULL);
	fake_tpm_log_reset(fake);
}

static void setup_fake(void)
{
	fake = fake_tpm_new();
	n_sleeps = 0;
}

static void setup(void)
{
	RmOptions opts;

	setup_fake();
	kernel_options(&opts);
	start_rm(&opts);
}

static void teardown(void)
{
	g_clear_pointer(&space, rm_space_free);
	g_clear_pointer(&rm, rm_free);
	tpm_backend_free(fake_tpm_backend(fake));
	fake = NULL;
}

/* --- commands --- */

static size_t build(uint8_t *buf, uint32_t cc, const uint32_t *handles, unsigned int nr_handles,
		    const uint8_t *params, size_t params_len)
{
	Tpm2Writer w = tpm2_writer_init(buf, RM_BUF_MAX);
	size_t len = 0;

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, cc);
	for (unsigned int i = 0; i < nr_handles; i++)
		tpm2_wire_put_u32(&w, handles[i]);
	if (params_len)
		tpm2_wire_put_bytes(&w, params, params_len);
	ck_assert_int_eq(tpm2_wire_finish(&w, &len), 0);
	return len;
}

/*
 * Run @cmd in @sp.  The RM gets a heap copy of exactly @len bytes, so that reading past
 * the client's bytes shows under valgrind and ASan; it must not modify it, and must not
 * set the response length when it fails.
 */
static int run_in(RmSpace *sp, const uint8_t *cmd, size_t len)
{
	g_autofree uint8_t *copy = g_memdup2(cmd, len);
	int r;

	memset(rsp, 0xee, sizeof(rsp));
	rsp_len = 0xdead;
	r = rm_process(rm, sp, copy, len, rsp, sizeof(rsp), &rsp_len);
	ck_assert_mem_eq(copy, cmd, len);
	if (r < 0)
		ck_assert_uint_eq(rsp_len, 0xdead);
	else
		ck_assert_uint_le(rsp_len, RM_BUF_MAX);
	return r;
}

static int cmd_in(RmSpace *sp, uint32_t cc, const uint32_t *handles, unsigned int nr_handles,
		  const uint8_t *params, size_t params_len)
{
	uint8_t buf[RM_BUF_MAX];

	return run_in(sp, buf, build(buf, cc, handles, nr_handles, params, params_len));
}

static uint32_t rsp_rc(void)
{
	ck_assert_uint_ge(rsp_len, 10);
	return tpm2_wire_load_u32(rsp + 6);
}

static uint32_t rsp_u32(size_t off)
{
	ck_assert_uint_ge(rsp_len, off + 4);
	return tpm2_wire_load_u32(rsp + off);
}

static int create_primary_in(RmSpace *sp)
{
	const uint32_t h = TPM2_RH_OWNER;

	return cmd_in(sp, TPM2_CC_CreatePrimary, &h, 1, NULL, 0);
}

static int create_primary(void)
{
	return create_primary_in(space);
}

/* A new object in @sp: its vhandle. */
static uint32_t new_object_in(RmSpace *sp)
{
	ck_assert_int_eq(create_primary_in(sp), 0);
	ck_assert_uint_eq(rsp_rc(), 0);
	ck_assert_uint_eq(rsp_len, 16);
	return rsp_u32(10);
}

static uint32_t new_object(void)
{
	return new_object_in(space);
}

static int start_auth_session_in(RmSpace *sp, uint32_t key, uint32_t bind, uint8_t type)
{
	const uint32_t h[] = { key, bind };
	/* nonceCaller, encryptedSalt, sessionType, symmetric TPM_ALG_NULL, authHash SHA256 */
	const uint8_t params[] = { 0, 0, 0, 0, type, 0x00, 0x10, 0x00, 0x0b };

	return cmd_in(sp, TPM2_CC_StartAuthSession, h, 2, params, sizeof(params));
}

/* A new unbound, unsalted session of @type in @sp: its handle. */
static uint32_t new_session_in(RmSpace *sp, uint8_t type)
{
	ck_assert_int_eq(start_auth_session_in(sp, TPM2_RH_NULL, TPM2_RH_NULL, type), 0);
	ck_assert_uint_eq(rsp_rc(), 0);
	ck_assert_uint_eq(rsp_len, 32);
	return rsp_u32(10);
}

static uint32_t new_session(uint8_t type)
{
	return new_session_in(space, type);
}

static int handle_cmd_in(RmSpace *sp, uint32_t cc, uint32_t handle)
{
	return cmd_in(sp, cc, &handle, 1, NULL, 0);
}

static int read_public(uint32_t handle)
{
	return handle_cmd_in(space, TPM2_CC_ReadPublic, handle);
}

static int flush_context_in(RmSpace *sp, uint32_t handle)
{
	return handle_cmd_in(sp, TPM2_CC_FlushContext, handle);
}

static int context_save(uint32_t handle)
{
	return handle_cmd_in(space, TPM2_CC_ContextSave, handle);
}

static int get_random_in(RmSpace *sp, uint16_t n)
{
	const uint8_t params[] = { (uint8_t)(n >> 8), (uint8_t)n };

	return cmd_in(sp, TPM2_CC_GetRandom, NULL, 0, params, sizeof(params));
}

static int get_random(uint16_t n)
{
	return get_random_in(space, n);
}

static int get_capability(uint32_t cap, uint32_t prop, uint32_t count)
{
	uint8_t params[12];

	tpm2_wire_store_u32(params, cap);
	tpm2_wire_store_u32(params + 4, prop);
	tpm2_wire_store_u32(params + 8, count);
	return cmd_in(space, TPM2_CC_GetCapability, NULL, 0, params, sizeof(params));
}

static int header_only(uint32_t cc)
{
	return cmd_in(space, cc, NULL, 0, NULL, 0);
}

/* GetRandom(4) as the fake answers it. */
#define RSP_RANDOM4 0x80, 0x01, 0, 0, 0, 0x10, 0, 0, 0, 0, 0x00, 0x04, 0xa0, 0xa1, 0xa2, 0xa3

/* ReadPublic as the fake answers it: outPublic names object number @n. */
#define RSP_READ_PUBLIC(n) 0x80, 0x01, 0, 0, 0, 0x14, 0, 0, 0, 0, 0, 4, 0, 0, 0, n, 0, 0, 0, 0

/* A command straight to the TPM, past the RM (as through /dev/tpm0). */
static uint32_t direct_create_primary(void)
{
	uint8_t cmd[RM_BUF_MAX], out[RM_BUF_MAX];
	const uint32_t h = TPM2_RH_OWNER;
	size_t len = build(cmd, TPM2_CC_CreatePrimary, &h, 1, NULL, 0);

	ck_assert_int_eq(
		tpm_backend_transmit(fake_tpm_backend(fake), cmd, len, out, sizeof(out), &len), 0);
	ck_assert_uint_eq(tpm2_wire_load_u32(out + 6), 0);
	return tpm2_wire_load_u32(out + 10);
}

static void assert_log_v(const char *const *expected)
{
	const char *msg = fake_tpm_log_checkv(fake, expected);

	ck_assert_msg(msg == NULL, "%s", msg);
}

static RmSpaceStats space_stats(RmSpace *sp)
{
	RmSpaceStats st;

	rm_space_get_stats(sp, &st);
	return st;
}

/* --- H1: the command table --- */

START_TEST(test_command_table_is_read_page_by_page)
{
	RmOptions opts;
	RmStats st;

	fake->cc_page = 4;
	kernel_options(&opts);
	g_clear_pointer(&space, rm_space_free);
	g_clear_pointer(&rm, rm_free);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(rm_new(fake_tpm_backend(fake), &opts, &rm), 0);
	fake_tpm_assert_log(
		fake, "GetCapability COMMANDS 0x0000011f", "GetCapability COMMANDS 0x0000015d",
		"GetCapability COMMANDS 0x00000174", "GetCapability COMMANDS 0x00000187", NULL);
	rm_get_stats(rm, &st);
	ck_assert_uint_eq(st.backend_commands, 4);

	/* The first and the last entries of the table are both known. */
	space = rm_space_new(rm, NULL);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(handle_cmd_in(space, TPM2_CC_PolicyGetDigest, POLICY0), 0);
	ck_assert_int_eq(create_primary(), 0);
	ck_assert_int_eq(header_only(FAKE_TPM_VENDOR_CC), 0);
	fake_tpm_assert_log(fake, "PolicyGetDigest 0x03000000 -> rc 0x910",
			    "CreatePrimary 0x40000001 -> 0x80000000", "ContextSave 0x80000000",
			    "FlushContext 0x80000000", "ContextLoad obj#1 -> 0x80000000",
			    "Vendor 0x20000001", "ContextSave 0x80000000",
			    "FlushContext 0x80000000", NULL);
}
END_TEST

START_TEST(test_flush_context_handle_is_translated_though_the_table_gives_it_none)
{
	uint32_t vh;

	vh = new_object();
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(flush_context_in(space, vh), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0, 0);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000", "FlushContext 0x80000000",
			    "ContextSave 0x80000000 -> rc 0x910", NULL);
}
END_TEST

START_TEST(test_context_save_handle_is_translated_though_the_table_gives_it_none)
{
	RmOptions opts;

	fake_tpm_set_command(fake, TPM2_CC_ContextSave); /* cHandles 0 */
	kernel_options(&opts);
	start_rm(&opts);
	new_object();
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(context_save(VH(0)), 0);
	ck_assert_uint_eq(rsp_rc(), 0);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000", "ContextSave 0x80000000",
			    "ContextSave 0x80000000", "FlushContext 0x80000000", NULL);
}
END_TEST

START_TEST(test_command_removed_from_the_table_is_unknown)
{
	RmOptions opts;

	fake_tpm_remove_command(fake, TPM2_CC_GetRandom);
	kernel_options(&opts);
	start_rm(&opts);
	ck_assert_int_eq(get_random(4), 0);
	assert_rsp(RSP_RM_COMMAND_CODE);
	fake_tpm_assert_log(fake, NULL);
}
END_TEST

/* A successful GetCapability response: @more, @cap, @count (true or not), then @n items. */
static size_t cap_rsp(uint8_t *buf, uint8_t more, uint32_t cap, uint32_t count,
		      const uint32_t *items, size_t n)
{
	Tpm2Writer w = tpm2_writer_init(buf, RM_BUF_MAX);
	size_t len = 0;

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, 0);
	tpm2_wire_put_u8(&w, more);
	tpm2_wire_put_u32(&w, cap);
	tpm2_wire_put_u32(&w, count);
	for (size_t i = 0; i < n; i++)
		tpm2_wire_put_u32(&w, items[i]);
	ck_assert_int_eq(tpm2_wire_finish(&w, &len), 0);
	return len;
}

typedef enum BadTable {
	BAD_TABLE_RC,
	BAD_TABLE_ERRNO,
	BAD_TABLE_SHORT,
	BAD_TABLE_LYING_COUNT,
	BAD_TABLE_OTHER_CAP,
	BAD_TABLE_NO_PROGRESS,
	BAD_TABLE_EMPTY,
	BAD_TABLE_SIZE_FIELD,
	BAD_TABLE_COUNT
} BadTable;

static const struct {
	int err;
	const char *log[3];
} bad_tables[BAD_TABLE_COUNT] = {
	[BAD_TABLE_RC] = { -EIO, { "GetCapability COMMANDS 0x0000011f -> rc 0x101" } },
	[BAD_TABLE_ERRNO] = { -ENODEV, { "GetCapability COMMANDS 0x0000011f -> errno 19" } },
	[BAD_TABLE_SHORT] = { -EFAULT, { "GetCapability COMMANDS 0x0000011f -> raw" } },
	[BAD_TABLE_LYING_COUNT] = { -EFAULT, { "GetCapability COMMANDS 0x0000011f -> raw" } },
	[BAD_TABLE_OTHER_CAP] = { -EFAULT, { "GetCapability COMMANDS 0x0000011f -> raw" } },
	[BAD_TABLE_NO_PROGRESS] = { -EFAULT,
				    { "GetCapability COMMANDS 0x0000011f -> raw",
				      "GetCapability COMMANDS 0x00000132 -> raw" } },
	[BAD_TABLE_EMPTY] = { -EIO, { "GetCapability COMMANDS 0x0000011f" } },
	[BAD_TABLE_SIZE_FIELD] = { -EFAULT, { "GetCapability COMMANDS 0x0000011f -> raw" } },
};

/* A TPM that answers the command table badly: rm_new fails cleanly, *ret untouched. */
START_TEST(test_bad_command_table_fails_rm_new_cleanly)
{
	const uint32_t create = 0x12000131u, get_random_attrs = 0x0000017bu;
	uint8_t buf[RM_BUF_MAX];
	size_t len;
	RmOptions opts;
	Rm *other = NULL;

	switch ((BadTable)_i) {
	case BAD_TABLE_RC:
		fake_tpm_inject_rc(fake, TPM2_CC_GetCapability, 0, RC_FAILURE, 1);
		break;
	case BAD_TABLE_ERRNO:
		fake_tpm_inject_errno(fake, TPM2_CC_GetCapability, 0, ENODEV, 1);
		break;
	case BAD_TABLE_SHORT: /* success, and not even the capability */
		fake_tpm_inject_response(fake, 0, 0, BYTES(0x80, 1, 0, 0, 0, 0x0b, 0, 0, 0, 0, 0),
					 11, 1);
		break;
	case BAD_TABLE_LYING_COUNT:
		len = cap_rsp(buf, 0, TPM2_CAP_COMMANDS, 2, &create, 1);
		fake_tpm_inject_response(fake, 0, 0, buf, len, 1);
		break;
	case BAD_TABLE_OTHER_CAP:
		len = cap_rsp(buf, 0, TPM2_CAP_PP_COMMANDS, 1, &get_random_attrs, 1);
		fake_tpm_inject_response(fake, 0, 0, buf, len, 1);
		break;
	case BAD_TABLE_NO_PROGRESS: /* moreData, and the same page again */
		len = cap_rsp(buf, 1, TPM2_CAP_COMMANDS, 1, &create, 1);
		fake_tpm_inject_response(fake, 0, 0, buf, len, -1);
		break;
	case BAD_TABLE_EMPTY:
		fake->n_cc = 0;
		break;
	case BAD_TABLE_SIZE_FIELD: /* the header claims more than was received */
		len = cap_rsp(buf, 0, TPM2_CAP_COMMANDS, 1, &create, 1);
		tpm2_wire_store_u32(buf + 2, (uint32_t)len + 4);
		fake_tpm_inject_response(fake, 0, 0, buf, len, 1);
		break;
	default:
		ck_abort();
	}
	kernel_options(&opts);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(rm_new(fake_tpm_backend(fake), &opts, &other), bad_tables[_i].err);
	ck_assert_ptr_null(other);
	assert_log_v(bad_tables[_i].log);
}
END_TEST

/* --- H2-H5: which commands reach the TPM --- */

START_TEST(test_unknown_command_codes_are_answered_by_the_rm_alone)
{
	/* Startup (not in the table), below TPM_CC_FIRST, an unknown vendor code, the V bit
	 * on a standard index, a reserved bit on a standard index. */
	static const uint32_t codes[] = { TPM2_CC_Startup, 0x0000011eu, 0x20000002u, 0x20000131u,
					  0x40000131u };
	RmStats before, after;
	uint32_t sess;

	new_object();
	sess = new_session(TPM2_SE_HMAC);
	rm_get_stats(rm, &before);
	fake_tpm_log_reset(fake);
	for (size_t i = 0; i < G_N_ELEMENTS(codes); i++) {
		ck_assert_int_eq(header_only(codes[i]), 0);
		assert_rsp(RSP_RM_COMMAND_CODE);
	}
	fake_tpm_assert_log(fake, NULL); /* not even swap-in */
	rm_get_stats(rm, &after);
	ck_assert_uint_eq(after.synthesized - before.synthesized, G_N_ELEMENTS(codes));
	ck_assert_uint_eq(after.backend_commands, before.backend_commands);

	/* No I12 either: the session survives. */
	ck_assert_int_eq(get_random(4), 0);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> 0x02000000", "GetRandom",
			    "ContextSave 0x80000000", "FlushContext 0x80000000",
			    "ContextSave 0x02000000", NULL);
	ck_assert_uint_eq(sess, HMAC0);
}
END_TEST

START_TEST(test_listed_vendor_command_is_forwarded)
{
	ck_assert_int_eq(header_only(FAKE_TPM_VENDOR_CC), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0, 0);
	fake_tpm_assert_log(fake, "Vendor 0x20000001", NULL);
}
END_TEST

START_TEST(test_rm_process_checks_what_write_checks)
{
	g_autofree uint8_t *big = g_malloc0(RM_BUF_MAX + 1);
	uint8_t cmd[RM_BUF_MAX];
	size_t len = build(cmd, TPM2_CC_GetRandom, NULL, 0, BYTES(0, 4), 2);
	RmStats st;

	/* B1: more than 4096 bytes, whatever the header says. */
	memcpy(big, cmd, len);
	ck_assert_int_eq(run_in(space, big, RM_BUF_MAX + 1), -E2BIG);
	/* B4: fewer than 6 bytes; fewer than the header's size. */
	ck_assert_int_eq(run_in(space, cmd, 5), -EINVAL);
	ck_assert_int_eq(run_in(space, cmd, len - 1), -EINVAL);
	tpm2_wire_store_u32(cmd + 2, 9);
	ck_assert_int_eq(run_in(space, cmd, 8), -EINVAL);
	fake_tpm_assert_log(fake, NULL);
	rm_get_stats(rm, &st);
	ck_assert_uint_eq(st.errors[RM_ERR_EINVAL], 3);
	ck_assert_uint_eq(st.errors[RM_ERR_OTHER], 1);
	ck_assert_uint_eq(st.client_commands, 4);
}
END_TEST

START_TEST(test_only_the_header_size_is_sent)
{
	uint8_t cmd[RM_BUF_MAX];
	size_t len = build(cmd, TPM2_CC_GetRandom, NULL, 0, BYTES(0, 4, 0xde, 0xad, 0xbe, 0xef), 6);
	const uint8_t *sent;
	size_t sent_len;

	tpm2_wire_store_u32(cmd + 2, (uint32_t)len - 4); /* B4: size < count is accepted */
	ck_assert_int_eq(run_in(space, cmd, len), 0);
	assert_rsp(RSP_RANDOM4);
	fake_tpm_assert_log(fake, "GetRandom", NULL);
	sent = fake_tpm_log_command(fake, 0, &sent_len);
	ck_assert_uint_eq(sent_len, len - 4);
	ck_assert_mem_eq(sent, cmd, sent_len);
}
END_TEST

START_TEST(test_header_size_zero_is_enodata_after_swap_in)
{
	uint8_t cmd[RM_BUF_MAX];
	size_t len;
	uint32_t vh;

	vh = new_object();
	new_session(TPM2_SE_HMAC);
	len = build(cmd, TPM2_CC_ReadPublic, &vh, 1, NULL, 0);
	tpm2_wire_store_u32(cmd + 2, 0);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(run_in(space, cmd, len), -ENODATA);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> 0x02000000", "FlushContext 0x80000000",
			    "FlushContext 0x02000000", NULL);
}
END_TEST

/* H5 (RM_QUIRK_NO_HANDLE_AREA_CHECK on): the missing handle bytes read as zero. */
START_TEST(test_short_handle_area_is_forwarded_with_missing_bytes_as_zero)
{
	uint8_t cmd[RM_BUF_MAX];
	const uint8_t *sent;
	size_t len, sent_len;
	uint32_t vh;

	vh = new_object();
	/* A translated handle now sits where the next command's handle would be. */
	ck_assert_int_eq(read_public(vh), 0);
	len = build(cmd, TPM2_CC_ReadPublic, NULL, 0, NULL, 0);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(run_in(space, cmd, len), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0, 0x9a); /* the TPM's TPM_RC_INSUFFICIENT */
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ReadPublic (short) -> rc 0x09a", "ContextSave 0x80000000",
			    "FlushContext 0x80000000", NULL);
	sent = fake_tpm_log_command(fake, 1, &sent_len);
	ck_assert_uint_eq(sent_len, len);
	ck_assert_mem_eq(sent, cmd, len);

	/* Two client bytes 0x80 0xff, then zeros: 0x80ff0000, no slot of this space. */
	len = build(cmd, TPM2_CC_ReadPublic, NULL, 0, BYTES(0x80, 0xff), 2);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(run_in(space, cmd, len), -EINVAL);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000", "FlushContext 0x80000000",
			    NULL);
}
END_TEST

START_TEST(test_short_handle_area_is_einval_without_the_quirk)
{
	uint8_t cmd[RM_BUF_MAX];
	RmOptions opts;
	size_t len;
	uint32_t vh;

	kernel_options(&opts);
	opts.quirks &= ~(uint32_t)RM_QUIRK_NO_HANDLE_AREA_CHECK;
	start_rm(&opts);
	vh = new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_log_reset(fake);
	len = build(cmd, TPM2_CC_ReadPublic, &vh, 1, NULL, 0);
	for (size_t cut = 1; cut <= 4; cut += 3) {
		tpm2_wire_store_u32(cmd + 2, (uint32_t)(len - cut));
		ck_assert_int_eq(run_in(space, cmd, len - cut), -EINVAL);
	}
	fake_tpm_assert_log(fake, NULL);

	/* Nothing was lost: caught before swap-in. */
	tpm2_wire_store_u32(cmd + 2, (uint32_t)len);
	ck_assert_int_eq(run_in(space, cmd, len), 0);
	assert_rsp(RSP_READ_PUBLIC(1));
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> 0x02000000", "ReadPublic 0x80000000",
			    "ContextSave 0x80000000", "FlushContext 0x80000000",
			    "ContextSave 0x02000000", NULL);
}
END_TEST

/* --- I2: command handle translation --- */

START_TEST(test_vhandles_become_the_phandles_the_tpm_knows)
{
	uint32_t a, b;

	a = new_object();
	b = new_object();
	ck_assert_uint_eq(a, VH(0));
	ck_assert_uint_eq(b, VH(1));
	ck_assert_uint_eq(direct_create_primary(), PH0); /* obj#3, someone else's */
	fake_tpm_log_reset(fake);

	ck_assert_int_eq(read_public(b), 0);
	assert_rsp(RSP_READ_PUBLIC(2));
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000001",
			    "ContextLoad obj#2 -> 0x80000002", "ReadPublic 0x80000002",
			    "ContextSave 0x80000001", "FlushContext 0x80000001",
			    "ContextSave 0x80000002", "FlushContext 0x80000002", NULL);

	/* Every handle of the handle area. */
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(start_auth_session_in(space, b, a, TPM2_SE_POLICY), 0);
	ck_assert_uint_eq(rsp_rc(), 0);
	ck_assert_str_eq(fake_tpm_log_text(fake, 2),
			 "StartAuthSession 0x80000002 0x80000001 -> 0x03000000");
}
END_TEST

START_TEST(test_other_handles_pass_untranslated)
{
	const uint8_t params[] = { 0, 0, 0, 1, 0x80, 0xff, 0xff, 0xff, 0, 0, 0, 8 };
	uint32_t sess;

	new_object();
	sess = new_session(TPM2_SE_POLICY);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(read_public(PERSISTENT), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x14, 0, 0, 0, 0, 0, 4, 0x81, 0, 0, 1, 0, 0, 0, 0);
	ck_assert_int_eq(read_public(0x01500000u), 0); /* NV: the TPM's own error */
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0x01, 0x8b);
	ck_assert_int_eq(handle_cmd_in(space, TPM2_CC_PolicyGetDigest, sess), 0);
	ck_assert_uint_eq(rsp_rc(), 0);
	/* A handle in the parameters: GetCapability's start handle (I5). */
	ck_assert_int_eq(cmd_in(space, TPM2_CC_GetCapability, NULL, 0, params, sizeof(params)), 0);
	ck_assert_uint_eq(rsp_rc(), 0);
	fake_tpm_assert_log(
		fake,
		/* ReadPublic(persistent) */
		"ContextLoad obj#1 -> 0x80000000", "ContextLoad 0x03000000 -> 0x03000000",
		"ReadPublic 0x81000001", "ContextSave 0x80000000", "FlushContext 0x80000000",
		"ContextSave 0x03000000",
		/* ReadPublic(NV index) */
		"ContextLoad obj#1 -> 0x80000000", "ContextLoad 0x03000000 -> 0x03000000",
		"ReadPublic 0x01500000 -> rc 0x18b", "ContextSave 0x80000000",
		"FlushContext 0x80000000", "ContextSave 0x03000000",
		/* PolicyGetDigest(session) */
		"ContextLoad obj#1 -> 0x80000000", "ContextLoad 0x03000000 -> 0x03000000",
		"PolicyGetDigest 0x03000000", "ContextSave 0x80000000", "FlushContext 0x80000000",
		"ContextSave 0x03000000",
		/* GetCapability(HANDLES, 0x80ffffff) */
		"ContextLoad obj#1 -> 0x80000000", "ContextLoad 0x03000000 -> 0x03000000",
		"GetCapability HANDLES 0x80ffffff", "ContextSave 0x80000000",
		"FlushContext 0x80000000", "ContextSave 0x03000000", NULL);
}
END_TEST

/* A bad vhandle: EINVAL once swap-in is done; the space's sessions are flushed (I12). */
START_TEST(test_bad_vhandles_are_einval_after_swap_in)
{
	static const uint32_t bad[] = { PH0, VH(1), VH(3) }; /* phandle, empty slot, index 3 */

	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(read_public(bad[0]), -EINVAL);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> 0x02000000", "FlushContext 0x80000000",
			    "FlushContext 0x02000000", NULL);
	ck_assert_int_eq(fake_tpm_session_state(fake, HMAC0), FAKE_SESSION_NONE);

	/* Nothing is committed after a failure: the space still lists the dead session, which
	 * fails to reload and is forgotten in the work copy only. */
	for (size_t i = 1; i < G_N_ELEMENTS(bad); i++) {
		fake_tpm_log_reset(fake);
		ck_assert_int_eq(read_public(bad[i]), -EINVAL);
		fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
				    "ContextLoad 0x02000000 -> rc 0x1cb", "FlushContext 0x80000000",
				    NULL);
		ck_assert_uint_eq(space_stats(space).sessions, 1);
	}
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(read_public(VH(0)), 0);
	assert_rsp(RSP_READ_PUBLIC(1));
	ck_assert_uint_eq(space_stats(space).sessions, 0);
}
END_TEST

START_TEST(test_vhandle_of_another_space_is_einval)
{
	g_autoptr(RmSpace) other = rm_space_new(rm, NULL);

	new_object();
	new_object();
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(handle_cmd_in(other, TPM2_CC_ReadPublic, VH(1)), -EINVAL);
	fake_tpm_assert_log(fake, NULL); /* the other space has nothing to load or flush */
	ck_assert_int_eq(read_public(VH(1)), 0);
	assert_rsp(RSP_READ_PUBLIC(2));
}
END_TEST

/* --- I4, I8, I13, I18: object slots --- */

START_TEST(test_new_object_takes_the_lowest_free_slot)
{
	ck_assert_uint_eq(new_object(), VH(0));
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x10, 0, 0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0, 0);
	ck_assert_uint_eq(new_object(), VH(1));
	fake_tpm_log_reset(fake);
	ck_assert_uint_eq(new_object(), VH(2));
	fake_tpm_assert_log(
		fake, "ContextLoad obj#1 -> 0x80000000", "ContextLoad obj#2 -> 0x80000001",
		"CreatePrimary 0x40000001 -> 0x80000002", "ContextSave 0x80000000",
		"FlushContext 0x80000000", "ContextSave 0x80000001", "FlushContext 0x80000001",
		"ContextSave 0x80000002", "FlushContext 0x80000002", NULL);
	ck_assert_uint_eq(fake_tpm_loaded_objects(fake), 0); /* I7 */
	ck_assert_uint_eq(space_stats(space).objects, 3);
}
END_TEST

START_TEST(test_flushed_object_frees_its_slot_at_save_time_for_reuse)
{
	new_object();
	new_object();
	new_object();
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(flush_context_in(space, VH(1)), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0, 0);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad obj#2 -> 0x80000001", "ContextLoad obj#3 -> 0x80000002",
			    "FlushContext 0x80000001", "ContextSave 0x80000000",
			    "FlushContext 0x80000000", "ContextSave 0x80000001 -> rc 0x910",
			    "ContextSave 0x80000002", "FlushContext 0x80000002", NULL);
	ck_assert_uint_eq(space_stats(space).objects, 2);

	fake_tpm_log_reset(fake);
	ck_assert_uint_eq(new_object(), VH(1));
	fake_tpm_assert_log(
		fake, "ContextLoad obj#1 -> 0x80000000", "ContextLoad obj#3 -> 0x80000001",
		"CreatePrimary 0x40000001 -> 0x80000002", "ContextSave 0x80000000",
		"FlushContext 0x80000000", "ContextSave 0x80000002", "FlushContext 0x80000002",
		"ContextSave 0x80000001", "FlushContext 0x80000001", NULL);
	ck_assert_int_eq(read_public(VH(1)), 0);
	assert_rsp(RSP_READ_PUBLIC(4));
	ck_assert_int_eq(read_public(VH(2)), 0);
	assert_rsp(RSP_READ_PUBLIC(3));
}
END_TEST

START_TEST(test_fourth_object_is_flushed_with_enomem_and_the_sessions_go)
{
	new_object();
	new_object();
	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(create_primary(), -ENOMEM);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad obj#2 -> 0x80000001", "ContextLoad obj#3 -> 0x80000002",
			    "ContextLoad 0x02000000 -> 0x02000000",
			    "CreatePrimary 0x40000001 -> 0x80000003", "FlushContext 0x80000003",
			    "FlushContext 0x80000000", "FlushContext 0x80000001",
			    "FlushContext 0x80000002", "FlushContext 0x02000000", NULL);
	ck_assert_uint_eq(fake_tpm_loaded_objects(fake), 0);
	ck_assert_int_eq(fake_tpm_session_state(fake, HMAC0), FAKE_SESSION_NONE);

	/* The objects are as before; the session is forgotten at the next command. */
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(read_public(VH(2)), 0);
	assert_rsp(RSP_READ_PUBLIC(3));
	ck_assert_str_eq(fake_tpm_log_text(fake, 3), "ContextLoad 0x02000000 -> rc 0x1cb");
	ck_assert_uint_eq(space_stats(space).objects, 3);
	ck_assert_uint_eq(space_stats(space).sessions, 0);
}
END_TEST

START_TEST(test_full_tpm_answers_the_fourth_object_itself)
{
	fake->max_loaded = 3; /* I18a: libtpms has as many slots as a space */
	new_object();
	new_object();
	new_object();
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(create_primary(), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0x09, 0x02);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad obj#2 -> 0x80000001", "ContextLoad obj#3 -> 0x80000002",
			    "CreatePrimary 0x40000001 -> rc 0x902", "ContextSave 0x80000000",
			    "FlushContext 0x80000000", "ContextSave 0x80000001",
			    "FlushContext 0x80000001", "ContextSave 0x80000002",
			    "FlushContext 0x80000002", NULL);
}
END_TEST

START_TEST(test_client_context_save_of_an_object_returns_the_tpm_context)
{
	new_object();
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(context_save(VH(0)), 0);
	ck_assert_uint_eq(rsp_len, 10 + FAKE_TPM_CONTEXT_SIZE);
	ck_assert_uint_eq(rsp_rc(), 0);
	ck_assert_uint_eq(rsp_u32(18), PH0); /* I15: savedHandle unmodified */
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000", "ContextSave 0x80000000",
			    "ContextSave 0x80000000", "FlushContext 0x80000000", NULL);
	ck_assert_uint_eq(space_stats(space).objects, 1);
}
END_TEST

START_TEST(test_max_objects_option_sets_the_slot_count)
{
	RmOptions opts;

	kernel_options(&opts);
	opts.max_objects = 1;
	start_rm(&opts);
	ck_assert_uint_eq(new_object(), VH(0));
	ck_assert_int_eq(read_public(VH(1)), -EINVAL);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(create_primary(), -ENOMEM);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "CreatePrimary 0x40000001 -> 0x80000001", "FlushContext 0x80000001",
			    "FlushContext 0x80000000", NULL);
}
END_TEST

/* --- I4, I9, I14, I16, I18, A5: sessions --- */

START_TEST(test_sessions_are_recorded_untranslated_and_a_fourth_is_enomem)
{
	ck_assert_uint_eq(new_session(TPM2_SE_POLICY), POLICY0);
	ck_assert_uint_eq(new_session(TPM2_SE_HMAC), HMAC0 + 1);
	fake_tpm_log_reset(fake);
	ck_assert_uint_eq(new_session(TPM2_SE_POLICY), POLICY0 + 2);
	fake_tpm_assert_log(fake, "ContextLoad 0x03000000 -> 0x03000000",
			    "ContextLoad 0x02000001 -> 0x02000001",
			    "StartAuthSession 0x40000007 0x40000007 -> 0x03000002",
			    "ContextSave 0x03000000", "ContextSave 0x02000001",
			    "ContextSave 0x03000002", NULL);
	ck_assert_uint_eq(fake_tpm_loaded_sessions(fake), 0);

	fake_tpm_log_reset(fake);
	ck_assert_int_eq(start_auth_session_in(space, TPM2_RH_NULL, TPM2_RH_NULL, TPM2_SE_HMAC),
			 -ENOMEM);
	fake_tpm_assert_log(fake, "ContextLoad 0x03000000 -> 0x03000000",
			    "ContextLoad 0x02000001 -> 0x02000001",
			    "ContextLoad 0x03000002 -> 0x03000002",
			    "StartAuthSession 0x40000007 0x40000007 -> 0x02000003",
			    "FlushContext 0x02000003", "FlushContext 0x03000000",
			    "FlushContext 0x02000001", "FlushContext 0x03000002", NULL);
	for (uint32_t h = 0; h < 4; h++)
		ck_assert_int_eq(fake_tpm_session_state(fake, (h & 1 ? HMAC0 : POLICY0) + h),
				 FAKE_SESSION_NONE);
}
END_TEST

START_TEST(test_tracked_session_is_flushed_at_close)
{
	new_object();
	new_session(TPM2_SE_HMAC);
	ck_assert_int_eq(fake_tpm_session_state(fake, HMAC0), FAKE_SESSION_SAVED);
	fake_tpm_log_reset(fake);
	g_clear_pointer(&space, rm_space_free);
	fake_tpm_assert_log(fake, "FlushContext 0x02000000", NULL); /* objects need nothing */
	ck_assert_int_eq(fake_tpm_session_state(fake, HMAC0), FAKE_SESSION_NONE);
}
END_TEST

START_TEST(test_client_saved_session_is_forgotten_and_not_flushed_at_close)
{
	RmStats st;

	new_session(TPM2_SE_HMAC);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(context_save(HMAC0), 0);
	ck_assert_uint_eq(rsp_len, 10 + FAKE_TPM_CONTEXT_SIZE);
	fake_tpm_assert_log(fake, "ContextLoad 0x02000000 -> 0x02000000", "ContextSave 0x02000000",
			    "ContextSave 0x02000000 -> rc 0x910", NULL);
	ck_assert_uint_eq(space_stats(space).sessions, 0);
	rm_get_stats(rm, &st);
	ck_assert_uint_eq(st.forgotten_sessions, 1);
	ck_assert_uint_eq(st.context_saves, 2); /* the RM's, not the client's */

	fake_tpm_log_reset(fake);
	g_clear_pointer(&space, rm_space_free);
	fake_tpm_assert_log(fake, NULL);
	ck_assert_int_eq(fake_tpm_session_state(fake, HMAC0), FAKE_SESSION_SAVED);
}
END_TEST

START_TEST(test_session_flushed_by_its_client_is_forgotten)
{
	new_session(TPM2_SE_POLICY);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(flush_context_in(space, POLICY0), 0);
	fake_tpm_assert_log(fake, "ContextLoad 0x03000000 -> 0x03000000", "FlushContext 0x03000000",
			    "ContextSave 0x03000000 -> rc 0x910", NULL);
	ck_assert_uint_eq(space_stats(space).sessions, 0);
	fake_tpm_log_reset(fake);
	g_clear_pointer(&space, rm_space_free);
	fake_tpm_assert_log(fake, NULL);
}
END_TEST

START_TEST(test_session_flush_from_another_space_passes_through)
{
	g_autoptr(RmSpace) other = rm_space_new(rm, NULL);

	new_session(TPM2_SE_HMAC);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(flush_context_in(other, HMAC0), 0); /* I14 */
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0, 0);
	fake_tpm_assert_log(fake, "FlushContext 0x02000000", NULL);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), 0);
	fake_tpm_assert_log(fake, "ContextLoad 0x02000000 -> rc 0x1cb", "GetRandom", NULL);
}
END_TEST

START_TEST(test_session_that_cannot_be_reloaded_is_forgotten_and_the_command_runs)
{
	RmStats st;

	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_flush_session(fake, HMAC0);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), 0);
	assert_rsp(RSP_RANDOM4);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> rc 0x1cb", "GetRandom",
			    "ContextSave 0x80000000", "FlushContext 0x80000000", NULL);
	ck_assert_uint_eq(space_stats(space).sessions, 0);
	rm_get_stats(rm, &st);
	ck_assert_uint_eq(st.forgotten_sessions, 1);
	fake_tpm_log_reset(fake);
	g_clear_pointer(&space, rm_space_free);
	fake_tpm_assert_log(fake, NULL);
}
END_TEST

/* RM_QUIRK_SESSION_RELOAD_OFFSET: the second session is loaded from the first one's bytes. */
START_TEST(test_failed_session_reload_takes_the_next_session_with_it)
{
	new_session(TPM2_SE_HMAC);
	new_session(TPM2_SE_HMAC);
	fake_tpm_flush_session(fake, HMAC0);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), 0);
	assert_rsp(RSP_RANDOM4);
	fake_tpm_assert_log(fake, "ContextLoad 0x02000000 -> rc 0x1cb",
			    "ContextLoad 0x02000000 -> rc 0x1cb", "GetRandom", NULL);
	ck_assert_uint_eq(space_stats(space).sessions, 0);
	fake_tpm_log_reset(fake);
	g_clear_pointer(&space, rm_space_free);
	fake_tpm_assert_log(fake, NULL);
	ck_assert_int_eq(fake_tpm_session_state(fake, HMAC0 + 1), FAKE_SESSION_SAVED);
}
END_TEST

/*
 * I11: a session that comes back at another handle is EFAULT.  The kernel's
 * tpm2_load_space() flushes the space and returns, and tpm2_prepare_space() flushes it
 * again.
 */
START_TEST(test_session_reloaded_at_another_handle_is_efault)
{
	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_inject_response(fake, TPM2_CC_ContextLoad, 1,
				 BYTES(0x80, 0x01, 0, 0, 0, 0x0e, 0, 0, 0, 0, 0x02, 0, 0, 0x07), 14,
				 1);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), -EFAULT);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> raw", "FlushContext 0x80000000",
			    "FlushContext 0x02000000", "FlushContext 0x80000000",
			    "FlushContext 0x02000000", NULL);
}
END_TEST

/* I11: other session reload errors fail the command, with the same double flush. */
START_TEST(test_session_reload_error_fails_the_command)
{
	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_fail_context_load(fake, HMAC0, FAKE_RC_INTEGRITY_P1, 1);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), -EINVAL);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> rc 0x1df", "FlushContext 0x80000000",
			    "FlushContext 0x02000000", "FlushContext 0x80000000",
			    "FlushContext 0x02000000", NULL);
}
END_TEST

/* --- I1, I6, I7, I22: eager swapping --- */

START_TEST(test_swap_loads_objects_in_slot_order_then_sessions_and_saves_them_back)
{
	new_object();
	new_object();
	new_object();
	ck_assert_int_eq(flush_context_in(space, VH(0)), 0);
	ck_assert_uint_eq(new_object(), VH(0)); /* obj#4, in slot 0 */
	new_session(TPM2_SE_HMAC);
	new_session(TPM2_SE_POLICY);
	new_session(TPM2_SE_HMAC);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), 0);
	assert_rsp(RSP_RANDOM4);
	/* I22: 15 extra commands. */
	fake_tpm_assert_log(
		fake, "ContextLoad obj#4 -> 0x80000000", "ContextLoad obj#2 -> 0x80000001",
		"ContextLoad obj#3 -> 0x80000002", "ContextLoad 0x02000000 -> 0x02000000",
		"ContextLoad 0x03000001 -> 0x03000001", "ContextLoad 0x02000002 -> 0x02000002",
		"GetRandom", "ContextSave 0x80000000", "FlushContext 0x80000000",
		"ContextSave 0x80000001", "FlushContext 0x80000001", "ContextSave 0x80000002",
		"FlushContext 0x80000002", "ContextSave 0x02000000", "ContextSave 0x03000001",
		"ContextSave 0x02000002", NULL);
	ck_assert_uint_eq(fake_tpm_loaded_objects(fake), 0); /* I7 */
	ck_assert_uint_eq(fake_tpm_loaded_sessions(fake), 0);
}
END_TEST

/* --- I10: save failures --- */

START_TEST(test_context_gap_on_a_session_save_is_efault)
{
	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_fail_context_save(fake, HMAC0, RC_CONTEXT_GAP, 1);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), -EFAULT);
	/* tpm2_save_space() flushes, then tpm2_commit_space() again. */
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> 0x02000000", "GetRandom",
			    "ContextSave 0x80000000", "FlushContext 0x80000000",
			    "ContextSave 0x02000000 -> rc 0x901", "FlushContext 0x02000000",
			    "FlushContext 0x02000000", NULL);

	/* Nothing committed: the object reloads from its older context, the session is gone. */
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), 0);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> rc 0x1cb", "GetRandom",
			    "ContextSave 0x80000000", "FlushContext 0x80000000", NULL);
}
END_TEST

START_TEST(test_object_save_failure_is_efault)
{
	new_object();
	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_fail_context_save(fake, FAKE_TPM_OBJ(2), RC_FAILURE, 1);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), -EFAULT);
	fake_tpm_assert_log(
		fake, "ContextLoad obj#1 -> 0x80000000", "ContextLoad obj#2 -> 0x80000001",
		"ContextLoad 0x02000000 -> 0x02000000", "GetRandom", "ContextSave 0x80000000",
		"FlushContext 0x80000000", "ContextSave 0x80000001 -> rc 0x101",
		"FlushContext 0x80000001", "FlushContext 0x02000000", NULL);

	/* A system error is EFAULT too. */
	fake_tpm_inject_errno(fake, TPM2_CC_ContextSave, 0, EIO, 1);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), -EFAULT);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad obj#2 -> 0x80000001", "ContextLoad 0x02000000 -> rc 0x1cb",
			    "GetRandom", "ContextSave 0x80000000 -> errno 5",
			    "FlushContext 0x80000000", "FlushContext 0x80000001", NULL);
	ck_assert_uint_eq(space_stats(space).objects, 2);
}
END_TEST

START_TEST(test_object_buffer_over_context_bytes_is_enomem)
{
	RmOptions opts;

	kernel_options(&opts);
	opts.context_bytes = (size_t)2 * FAKE_TPM_CONTEXT_SIZE;
	start_rm(&opts);
	new_object();
	new_object();
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(create_primary(), -ENOMEM);
	fake_tpm_assert_log(
		fake, "ContextLoad obj#1 -> 0x80000000", "ContextLoad obj#2 -> 0x80000001",
		"CreatePrimary 0x40000001 -> 0x80000002", "ContextSave 0x80000000",
		"FlushContext 0x80000000", "ContextSave 0x80000001", "FlushContext 0x80000001",
		"ContextSave 0x80000002", "FlushContext 0x80000002", NULL);
	ck_assert_uint_eq(space_stats(space).objects, 2);
	ck_assert_uint_eq(fake_tpm_loaded_objects(fake), 0);
}
END_TEST

START_TEST(test_session_buffer_over_context_bytes_is_enomem)
{
	RmOptions opts;

	kernel_options(&opts);
	opts.context_bytes = FAKE_TPM_CONTEXT_SIZE;
	start_rm(&opts);
	new_session(TPM2_SE_HMAC);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(start_auth_session_in(space, TPM2_RH_NULL, TPM2_RH_NULL, TPM2_SE_HMAC),
			 -ENOMEM);
	fake_tpm_assert_log(fake, "ContextLoad 0x02000000 -> 0x02000000",
			    "StartAuthSession 0x40000007 0x40000007 -> 0x02000001",
			    "ContextSave 0x02000000", "ContextSave 0x02000001",
			    "FlushContext 0x02000000", "FlushContext 0x02000001",
			    "FlushContext 0x02000000", "FlushContext 0x02000001", NULL);
}
END_TEST

typedef enum BadSave {
	BAD_SAVE_HEADER_ONLY,
	BAD_SAVE_TRUNCATED,
	BAD_SAVE_LYING_BLOB_SIZE,
	BAD_SAVE_TRAILING,
	BAD_SAVE_COUNT
} BadSave;

/* TPM bytes are untrusted: a ContextSave response that is not one TPMS_CONTEXT. */
START_TEST(test_malformed_context_save_response_is_efault)
{
	uint8_t buf[10 + FAKE_TPM_CONTEXT_SIZE + 4] = { 0x80, 0x01 };
	size_t len = 10 + FAKE_TPM_CONTEXT_SIZE;

	/* A well-formed context: savedHandle, hierarchy, blob size 48. */
	tpm2_wire_store_u32(buf + 18, PH0);
	tpm2_wire_store_u32(buf + 22, TPM2_RH_OWNER);
	buf[27] = FAKE_TPM_BLOB_SIZE;
	switch ((BadSave)_i) {
	case BAD_SAVE_HEADER_ONLY:
		len = 10;
		break;
	case BAD_SAVE_TRUNCATED:
		len = 10 + 16;
		break;
	case BAD_SAVE_LYING_BLOB_SIZE:
		buf[26] = 0x01; /* 0x130 bytes */
		break;
	case BAD_SAVE_TRAILING:
		len += 4;
		break;
	default:
		ck_abort();
	}
	tpm2_wire_store_u32(buf + 2, (uint32_t)len);

	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_inject_response(fake, TPM2_CC_ContextSave, 0, buf, len, 1);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), -EFAULT);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> 0x02000000", "GetRandom",
			    "ContextSave 0x80000000 -> raw", "FlushContext 0x80000000",
			    "FlushContext 0x02000000", NULL);
	ck_assert_uint_eq(space_stats(space).objects, 1);
}
END_TEST

/* --- I11: object reload failures wedge the space --- */

static const struct {
	uint32_t rc;
	int err;
	const char *line;
} reload_failures[] = {
	{ FAKE_RC_HANDLE_P1, -ENOENT, "ContextLoad obj#2 -> rc 0x1cb" },
	{ 0x18bu, -ENOENT, "ContextLoad obj#2 -> rc 0x18b" },
	{ 0x08bu, -ENOENT, "ContextLoad obj#2 -> rc 0x08b" },
	{ RC_REFERENCE_H0, -ENOENT, "ContextLoad obj#2 -> rc 0x910" },
	{ FAKE_RC_INTEGRITY_P1, -EINVAL, "ContextLoad obj#2 -> rc 0x1df" },
	{ 0x902u, -EFAULT, "ContextLoad obj#2 -> rc 0x902" },
	{ 0x1d5u, -EFAULT, "ContextLoad obj#2 -> rc 0x1d5" }, /* TPM_RC_SIZE + P + 1 */
};

START_TEST(test_object_reload_failure_wedges_the_space)
{
	new_object();
	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_fail_context_load(fake, FAKE_TPM_OBJ(2), reload_failures[_i].rc, -1);
	for (int round = 0; round < 2; round++) {
		fake_tpm_log_reset(fake);
		ck_assert_int_eq(get_random(4), reload_failures[_i].err);
		fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
				    reload_failures[_i].line, "FlushContext 0x80000000",
				    "FlushContext 0x02000000", NULL);
	}
	ck_assert_uint_eq(space_stats(space).objects, 2);
	ck_assert_uint_eq(fake_tpm_loaded_objects(fake), 0);
}
END_TEST

START_TEST(test_object_reload_system_error_is_efault)
{
	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_inject_errno(fake, TPM2_CC_ContextLoad, 0, EIO, 1);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), -EFAULT);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> errno 5", "FlushContext 0x02000000", NULL);
}
END_TEST

START_TEST(test_context_load_success_without_a_handle_is_efault)
{
	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_inject_response(fake, TPM2_CC_ContextLoad, 0,
				 BYTES(0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0, 0), 10, 1);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), -EFAULT);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> raw", "FlushContext 0x02000000", NULL);
}
END_TEST

/* --- I3: retries --- */

START_TEST(test_retry_is_retried_until_it_succeeds)
{
	static const unsigned int expected[] = { 20, 40 };

	fake_tpm_inject_rc(fake, TPM2_CC_GetRandom, 0, RC_RETRY, 2);
	ck_assert_int_eq(get_random(4), 0);
	assert_rsp(RSP_RANDOM4);
	fake_tpm_assert_log(fake, "GetRandom -> rc 0x922", "GetRandom -> rc 0x922", "GetRandom",
			    NULL);
	assert_sleeps(expected, G_N_ELEMENTS(expected));
}
END_TEST

START_TEST(test_retry_gives_up_after_the_kernel_delays)
{
	static const unsigned int expected[] = { 20, 40, 80, 160, 320, 640, 1280 };
	RmStats st;

	fake_tpm_inject_rc(fake, TPM2_CC_GetRandom, 0, RC_RETRY, -1);
	ck_assert_int_eq(get_random(4), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0x09, 0x22);
	fake_tpm_assert_log(fake, "GetRandom -> rc 0x922", "GetRandom -> rc 0x922",
			    "GetRandom -> rc 0x922", "GetRandom -> rc 0x922",
			    "GetRandom -> rc 0x922", "GetRandom -> rc 0x922",
			    "GetRandom -> rc 0x922", "GetRandom -> rc 0x922", NULL);
	assert_sleeps(expected, G_N_ELEMENTS(expected));
	rm_get_stats(rm, &st);
	ck_assert_uint_eq(st.backend_commands, 1 + 8);
}
END_TEST

START_TEST(test_testing_is_retried_except_for_self_test)
{
	static const unsigned int expected[] = { 20 };

	fake_tpm_inject_rc(fake, 0, 0, RC_TESTING, 1);
	ck_assert_int_eq(cmd_in(space, TPM2_CC_SelfTest, NULL, 0, BYTES(0), 1), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 0x09, 0x0a);
	assert_sleeps(NULL, 0);

	fake_tpm_inject_rc(fake, 0, 0, RC_TESTING, 1);
	ck_assert_int_eq(get_random(4), 0);
	assert_rsp(RSP_RANDOM4);
	fake_tpm_assert_log(fake, "SelfTest -> rc 0x90a", "GetRandom -> rc 0x90a", "GetRandom",
			    NULL);
	assert_sleeps(expected, G_N_ELEMENTS(expected));
}
END_TEST

START_TEST(test_rm_own_commands_are_retried)
{
	static const unsigned int expected[] = { 20, 20, 20 };

	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_inject_rc(fake, TPM2_CC_ContextLoad, 0, RC_RETRY, 1);
	fake_tpm_inject_rc(fake, TPM2_CC_ContextSave, 0, RC_RETRY, 1);
	fake_tpm_inject_rc(fake, TPM2_CC_FlushContext, 0, RC_TESTING, 1);
	n_sleeps = 0;
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), 0);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> rc 0x922",
			    "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> 0x02000000", "GetRandom",
			    "ContextSave 0x80000000 -> rc 0x922", "ContextSave 0x80000000",
			    "FlushContext 0x80000000 -> rc 0x90a", "FlushContext 0x80000000",
			    "ContextSave 0x02000000", NULL);
	assert_sleeps(expected, G_N_ELEMENTS(expected));
}
END_TEST

/* --- B9, I12: transmit failures --- */

START_TEST(test_transmit_errno_is_returned_and_the_space_flushed)
{
	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_inject_errno(fake, TPM2_CC_GetRandom, 0, ETIME, 1);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), -ETIME);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> 0x02000000", "GetRandom -> errno 62",
			    "FlushContext 0x80000000", "FlushContext 0x02000000", NULL);
	ck_assert_uint_eq(space_stats(space).objects, 1);
}
END_TEST

START_TEST(test_malformed_response_is_efault_and_the_space_flushed)
{
	new_object();
	fake_tpm_inject_response(fake, TPM2_CC_GetRandom, 0,
				 BYTES(0x80, 0x01, 0, 0, 0, 0x0c, 0, 0, 0, 0, 0), 11, 1);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_random(4), -EFAULT);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000", "GetRandom -> raw",
			    "FlushContext 0x80000000", NULL);
}
END_TEST

START_TEST(test_short_success_to_a_command_with_rhandle_is_efault)
{
	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_inject_response(fake, TPM2_CC_CreatePrimary, 0,
				 BYTES(0x80, 0x01, 0, 0, 0, 0x0d, 0, 0, 0, 0, 0x80, 0, 0), 13, 1);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(create_primary(), -EFAULT);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> 0x02000000",
			    "CreatePrimary 0x40000001 -> raw", "FlushContext 0x80000000",
			    "FlushContext 0x02000000", NULL);
	ck_assert_uint_eq(space_stats(space).objects, 1);
}
END_TEST

/* --- I5: GetCapability(TPM_CAP_HANDLES) --- */

START_TEST(test_handle_listing_shows_own_objects_as_vhandles_only)
{
	new_object();
	new_object();
	ck_assert_uint_eq(direct_create_primary(), PH0);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_capability(TPM2_CAP_HANDLES, PH0, 16), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x1b, 0, 0, 0, 0, /* */
		   0, 0, 0, 0, 1, 0, 0, 0, 2, 0x80, 0xff, 0xff, 0xff, 0x80, 0xff, 0xff, 0xfe);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000001",
			    "ContextLoad obj#2 -> 0x80000002", "GetCapability HANDLES 0x80000000",
			    "ContextSave 0x80000001", "FlushContext 0x80000001",
			    "ContextSave 0x80000002", "FlushContext 0x80000002", NULL);

	/* One handle asked for: the TPM lists the foreign one, with moreData. */
	ck_assert_int_eq(get_capability(TPM2_CAP_HANDLES, PH0, 1), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x13, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0);
}
END_TEST

START_TEST(test_handle_listing_keeps_every_non_transient_handle)
{
	static const uint32_t listed[] = { PH0, HMAC0, PERSISTENT, 0x80000007u, 0x01500000u };
	g_autoptr(RmSpace) other = rm_space_new(rm, NULL);
	uint8_t buf[RM_BUF_MAX];
	size_t len;

	new_object();
	len = cap_rsp(buf, 1, TPM2_CAP_HANDLES, G_N_ELEMENTS(listed), listed, G_N_ELEMENTS(listed));
	fake_tpm_inject_response(fake, TPM2_CC_GetCapability, 0, buf, len, 1);
	ck_assert_int_eq(get_capability(TPM2_CAP_HANDLES, PH0, 16), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x23, 0, 0, 0, 0,			     /* */
		   1, 0, 0, 0, 1, 0, 0, 0, 4, 0x80, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, /* */
		   0x81, 0, 0, 1, 0x01, 0x50, 0, 0);

	/* What the fake lists itself: another space's saved session, the persistent key. */
	new_session_in(other, TPM2_SE_HMAC);
	ck_assert_int_eq(get_capability(TPM2_CAP_HANDLES, POLICY0, 16), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x17, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0x02, 0, 0,
		   0x00);
	ck_assert_int_eq(get_capability(TPM2_CAP_HANDLES, 0x81000000u, 16), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x17, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0x81, 0, 0,
		   0x01);
}
END_TEST

START_TEST(test_handle_listing_start_handle_is_not_translated)
{
	new_object();
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_capability(TPM2_CAP_HANDLES, VH(0), 16), 0);
	assert_rsp(0x80, 0x01, 0, 0, 0, 0x13, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0);
	ck_assert_str_eq(fake_tpm_log_text(fake, 1), "GetCapability HANDLES 0x80ffffff");
}
END_TEST

START_TEST(test_other_capabilities_pass_unchanged)
{
	const uint8_t *tpm_rsp;
	size_t tpm_len;

	new_object();
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_capability(TPM2_CAP_COMMANDS, TPM2_CC_FIRST, 2), 0);
	tpm_rsp = fake_tpm_log_response(fake, 1, &tpm_len);
	ck_assert_uint_eq(rsp_len, tpm_len);
	ck_assert_mem_eq(rsp, tpm_rsp, tpm_len);
	ck_assert_uint_eq(rsp_len, 10 + 9 + 8);
}
END_TEST

typedef enum BadList {
	BAD_LIST_COUNT_HIGH,
	BAD_LIST_COUNT_LOW,
	BAD_LIST_OVERFLOW,
	BAD_LIST_SHORT,
	BAD_LIST_COUNT
} BadList;

START_TEST(test_handle_listing_with_a_lying_count_is_efault)
{
	static const uint32_t listed[] = { PH0, PERSISTENT };
	uint8_t buf[RM_BUF_MAX];
	size_t len = 0;

	switch ((BadList)_i) {
	case BAD_LIST_COUNT_HIGH:
		len = cap_rsp(buf, 0, TPM2_CAP_HANDLES, 3, listed, 2);
		break;
	case BAD_LIST_COUNT_LOW:
		len = cap_rsp(buf, 0, TPM2_CAP_HANDLES, 1, listed, 2);
		break;
	case BAD_LIST_OVERFLOW: /* 10 + 9 + 4 * count wraps to 19 in 32 bits */
		len = cap_rsp(buf, 0, TPM2_CAP_HANDLES, 0x40000000u, NULL, 0);
		break;
	case BAD_LIST_SHORT: /* moreData and half a capability */
		len = cap_rsp(buf, 0, TPM2_CAP_HANDLES, 0, NULL, 0) - 6;
		tpm2_wire_store_u32(buf + 2, (uint32_t)len);
		break;
	default:
		ck_abort();
	}
	new_object();
	new_session(TPM2_SE_HMAC);
	fake_tpm_inject_response(fake, TPM2_CC_GetCapability, 0, buf, len, 1);
	fake_tpm_log_reset(fake);
	ck_assert_int_eq(get_capability(TPM2_CAP_HANDLES, PH0, 16), -EFAULT);
	fake_tpm_assert_log(fake, "ContextLoad obj#1 -> 0x80000000",
			    "ContextLoad 0x02000000 -> 0x02000000",
			    "GetCapability HANDLES 0x80000000 -> raw", "FlushContext 0x80000000",
			    "FlushContext 0x02000000", NULL);
}
END_TEST

/* --- counters --- */

START_TEST(test_counters_count_commands_and_their_cost)
{
	RmSpaceStats sp;
	RmStats st;

	new_object();					   /* 3 backend commands */
	new_session(TPM2_SE_HMAC);			   /* 5 */
	ck_assert_int_eq(header_only(TPM2_CC_Startup), 0); /* 0, synthesized */
	ck_assert_int_eq(read_public(PH0), -EINVAL);	   /* 4: load, load, flush, flush */
	ck_assert_int_eq(get_random(4), 0);		   /* 5: the session is forgotten */
	ck_assert_int_eq(run_in(space, BYTES(0x80, 1, 0, 0, 0), 5), -EINVAL); /* 0 */
	ck_assert_int_eq(flush_context_in(space, VH(0)), 0); /* 3: the object is forgotten */
	fake_tpm_inject_errno(fake, TPM2_CC_GetRandom, 0, ETIME, 1);
	ck_assert_int_eq(get_random(4), -ETIME); /* 1 */
	fake_tpm_inject_rc(fake, TPM2_CC_GetRandom, 0, RC_RETRY, 1);
	ck_assert_int_eq(get_random(4), 0); /* 2 */
	new_session(TPM2_SE_POLICY);	    /* 2 */

	rm_space_get_stats(space, &sp);
	ck_assert_uint_eq(sp.client_commands, 10);
	ck_assert_uint_eq(sp.backend_commands, 25);
	ck_assert_uint_eq(sp.objects, 0);
	ck_assert_uint_eq(sp.sessions, 1);

	g_clear_pointer(&space, rm_space_free); /* 1: FlushContext of the session */
	rm_get_stats(rm, &st);
	ck_assert_uint_eq(st.spaces_open, 0);
	ck_assert_uint_eq(st.spaces_freed, 1);
	ck_assert_uint_eq(st.client_commands, 10);
	ck_assert_uint_eq(st.synthesized, 1);
	ck_assert_uint_eq(st.backend_commands, 1 + 25 + 1);
	ck_assert_uint_eq(st.context_loads, 6);
	ck_assert_uint_eq(st.context_saves, 6);
	ck_assert_uint_eq(st.flushes, 6);
	ck_assert_uint_eq(st.forgotten_objects, 1);
	ck_assert_uint_eq(st.forgotten_sessions, 1);
	ck_assert_uint_eq(st.errors[RM_ERR_EINVAL], 2);
	ck_assert_uint_eq(st.errors[RM_ERR_ETIME], 1);
	for (int i = 0; i < RM_ERR_COUNT; i++)
		if (i != RM_ERR_EINVAL && i != RM_ERR_ETIME)
			ck_assert_uint_eq(st.errors[i], 0);
}
END_TEST

START_TEST(test_errors_are_counted_by_errno)
{
	static const struct {
		int err;
		RmErrnoIndex index;
	} map[] = {
		{ EINVAL, RM_ERR_EINVAL }, { ENOMEM, RM_ERR_ENOMEM },	{ EFAULT, RM_ERR_EFAULT },
		{ ENOENT, RM_ERR_ENOENT }, { ENODATA, RM_ERR_ENODATA }, { ETIME, RM_ERR_ETIME },
		{ EIO, RM_ERR_EIO },	   { EPIPE, RM_ERR_EPIPE },	{ E2BIG, RM_ERR_OTHER },
		{ EBUSY, RM_ERR_OTHER },
	};
	RmStats st;

	for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
		ck_assert_int_eq(rm_errno_index(map[i].err), map[i].index);

	/* ENOMEM, ENOENT, ENODATA, EPIPE as rm_process() returns them. */
	new_object();
	new_object();
	new_object();
	ck_assert_int_eq(create_primary(), -ENOMEM);
	fake_tpm_fail_context_load(fake, FAKE_TPM_OBJ(1), RC_REFERENCE_H0, 1);
	ck_assert_int_eq(get_random(4), -ENOENT);
	ck_assert_int_eq(run_in(space, BYTES(0x80, 1, 0, 0, 0, 0, 0, 0, 0x01, 0x7b, 0, 4), 12),
			 -ENODATA);
	fake_tpm_inject_errno(fake, TPM2_CC_GetRandom, 0, EPIPE, 1);
	ck_assert_int_eq(get_random(4), -EPIPE);
	rm_get_stats(rm, &st);
	ck_assert_uint_eq(st.errors[RM_ERR_ENOMEM], 1);
	ck_assert_uint_eq(st.errors[RM_ERR_ENOENT], 1);
	ck_assert_uint_eq(st.errors[RM_ERR_ENODATA], 1);
	ck_assert_uint_eq(st.errors[RM_ERR_EPIPE], 1);
	ck_assert_uint_eq(st.errors[RM_ERR_EFAULT], 0);
	ck_assert_uint_eq(st.client_commands, 7);
}
END_TEST

/* --- options --- */

START_TEST(test_options_init_gives_the_kernel_profile)
{
	RmOptions opts;

	memset(&opts, 0xa5, sizeof(opts));
	rm_options_init(&opts, RM_PROFILE_KERNEL);
	ck_assert_int_eq(opts.profile, RM_PROFILE_KERNEL);
	ck_assert_uint_eq(opts.max_objects, 3);
	ck_assert_uint_eq(opts.max_sessions, 3);
	ck_assert_uint_eq(opts.context_bytes, 16384);
	ck_assert_uint_eq(opts.quirks, RM_QUIRKS_KERNEL);
	ck_assert_ptr_null(opts.sleep_ms);
}
END_TEST

static const struct {
	const char *what;
	size_t context_bytes;
	RmProfile profile;
	unsigned int max_objects, max_sessions;
	uint32_t quirks;
} bad_options[] = {
	{ .what = "profile", .profile = (RmProfile)1 },
	{ .what = "no objects", .max_objects = 0, .max_sessions = 3 },
	{ .what = "too many objects", .max_objects = RM_SLOTS_LIMIT + 1, .max_sessions = 3 },
	{ .what = "no sessions", .max_objects = 3, .max_sessions = 0 },
	{ .what = "too many sessions", .max_objects = 3, .max_sessions = RM_SLOTS_LIMIT + 1 },
	{ .what = "tiny buffers", .context_bytes = 63 },
	{ .what = "huge buffers", .context_bytes = (size_t)16 * 1024 * 1024 + 1 },
	{ .what = "unknown quirk", .quirks = 0x80u },
};

START_TEST(test_bad_options_are_einval_before_the_tpm_is_asked)
{
	RmOptions opts;
	Rm *other = NULL;

	/* The kernel profile, but for the one field the entry sets. */
	kernel_options(&opts);
	if (bad_options[_i].profile)
		opts.profile = bad_options[_i].profile;
	if (bad_options[_i].max_objects || bad_options[_i].max_sessions) {
		opts.max_objects = bad_options[_i].max_objects;
		opts.max_sessions = bad_options[_i].max_sessions;
	}
	if (bad_options[_i].context_bytes)
		opts.context_bytes = bad_options[_i].context_bytes;
	opts.quirks |= bad_options[_i].quirks;
	ck_assert_msg(rm_new(fake_tpm_backend(fake), &opts, &other) == -EINVAL, "%s",
		      bad_options[_i].what);
	ck_assert_ptr_null(other);
	fake_tpm_assert_log(fake, NULL);
}
END_TEST

START_TEST(test_limits_at_the_edges_are_accepted)
{
	RmOptions opts;

	kernel_options(&opts);
	opts.max_objects = RM_SLOTS_LIMIT;
	opts.max_sessions = 1;
	opts.context_bytes = 64;
	start_rm(&opts);
	opts.max_objects = 1;
	opts.max_sessions = RM_SLOTS_LIMIT;
	opts.context_bytes = (size_t)16 * 1024 * 1024;
	start_rm(&opts);
}
END_TEST

START_TEST(test_only_fixable_quirks_can_be_turned_off)
{
	RmOptions opts;
	Rm *other = NULL;

	for (uint32_t bit = 1; bit & RM_QUIRKS_KERNEL; bit <<= 1) {
		kernel_options(&opts);
		opts.quirks &= ~bit;
		if (bit & RM_QUIRKS_FIXABLE) {
			ck_assert_int_eq(rm_new(fake_tpm_backend(fake), &opts, &other), 0);
			g_clear_pointer(&other, rm_free);
		} else {
			ck_assert_msg(rm_new(fake_tpm_backend(fake), &opts, &other) == -EOPNOTSUPP,
				      "quirk 0x%x", bit);
			ck_assert_ptr_null(other);
		}
	}
	ck_assert_uint_eq(RM_QUIRKS_FIXABLE, RM_QUIRK_NO_HANDLE_AREA_CHECK);
	fake_tpm_assert_log(fake, "GetCapability COMMANDS 0x0000011f", NULL);
}
END_TEST

START_TEST(test_null_options_are_the_kernel_profile)
{
	g_clear_pointer(&space, rm_space_free);
	g_clear_pointer(&rm, rm_free);
	ck_assert_int_eq(rm_new(fake_tpm_backend(fake), NULL, &rm), 0);
	space = rm_space_new(rm, NULL);
	new_object();
	new_object();
	new_object();
	ck_assert_int_eq(create_primary(), -ENOMEM);
	ck_assert_int_eq(read_public(VH(3)), -EINVAL);
}
END_TEST

/* --- the suite --- */

static TCase *tcase(Suite *s, const char *name, void (*set_up)(void))
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, set_up, teardown);
	suite_add_tcase(s, tc);
	return tc;
}

static void add_command_tcases(Suite *s)
{
	TCase *tc;

	tc = tcase(s, "command table (H1)", setup);
	tcase_add_test(tc, test_command_table_is_read_page_by_page);
	tcase_add_test(tc, test_flush_context_handle_is_translated_though_the_table_gives_it_none);
	tcase_add_test(tc, test_context_save_handle_is_translated_though_the_table_gives_it_none);
	tcase_add_test(tc, test_command_removed_from_the_table_is_unknown);
	tcase_add_loop_test(tc, test_bad_command_table_fails_rm_new_cleanly, 0, BAD_TABLE_COUNT);

	tc = tcase(s, "validation (H2-H5, B1, B4, B9)", setup);
	tcase_add_test(tc, test_unknown_command_codes_are_answered_by_the_rm_alone);
	tcase_add_test(tc, test_listed_vendor_command_is_forwarded);
	tcase_add_test(tc, test_rm_process_checks_what_write_checks);
	tcase_add_test(tc, test_only_the_header_size_is_sent);
	tcase_add_test(tc, test_header_size_zero_is_enodata_after_swap_in);
	tcase_add_test(tc, test_short_handle_area_is_forwarded_with_missing_bytes_as_zero);
	tcase_add_test(tc, test_short_handle_area_is_einval_without_the_quirk);

	tc = tcase(s, "handle translation (I2)", setup);
	tcase_add_test(tc, test_vhandles_become_the_phandles_the_tpm_knows);
	tcase_add_test(tc, test_other_handles_pass_untranslated);
	tcase_add_test(tc, test_bad_vhandles_are_einval_after_swap_in);
	tcase_add_test(tc, test_vhandle_of_another_space_is_einval);
}

static void add_entity_tcases(Suite *s)
{
	TCase *tc;

	tc = tcase(s, "object slots (I4, I8, I13, I15, I18)", setup);
	tcase_add_test(tc, test_new_object_takes_the_lowest_free_slot);
	tcase_add_test(tc, test_flushed_object_frees_its_slot_at_save_time_for_reuse);
	tcase_add_test(tc, test_fourth_object_is_flushed_with_enomem_and_the_sessions_go);
	tcase_add_test(tc, test_full_tpm_answers_the_fourth_object_itself);
	tcase_add_test(tc, test_client_context_save_of_an_object_returns_the_tpm_context);
	tcase_add_test(tc, test_max_objects_option_sets_the_slot_count);

	tc = tcase(s, "sessions (I4, I9, I11, I14, I16, I18, A5)", setup);
	tcase_add_test(tc, test_sessions_are_recorded_untranslated_and_a_fourth_is_enomem);
	tcase_add_test(tc, test_tracked_session_is_flushed_at_close);
	tcase_add_test(tc, test_client_saved_session_is_forgotten_and_not_flushed_at_close);
	tcase_add_test(tc, test_session_flushed_by_its_client_is_forgotten);
	tcase_add_test(tc, test_session_flush_from_another_space_passes_through);
	tcase_add_test(tc, test_session_that_cannot_be_reloaded_is_forgotten_and_the_command_runs);
	tcase_add_test(tc, test_failed_session_reload_takes_the_next_session_with_it);
	tcase_add_test(tc, test_session_reloaded_at_another_handle_is_efault);
	tcase_add_test(tc, test_session_reload_error_fails_the_command);

	tc = tcase(s, "swapping (I1, I6, I7, I22)", setup);
	tcase_add_test(tc, test_swap_loads_objects_in_slot_order_then_sessions_and_saves_them_back);
}

static void add_failure_tcases(Suite *s)
{
	TCase *tc;

	tc = tcase(s, "save failures (I10)", setup);
	tcase_add_test(tc, test_context_gap_on_a_session_save_is_efault);
	tcase_add_test(tc, test_object_save_failure_is_efault);
	tcase_add_test(tc, test_object_buffer_over_context_bytes_is_enomem);
	tcase_add_test(tc, test_session_buffer_over_context_bytes_is_enomem);
	tcase_add_loop_test(tc, test_malformed_context_save_response_is_efault, 0, BAD_SAVE_COUNT);

	tc = tcase(s, "reload failures (I11)", setup);
	tcase_add_loop_test(tc, test_object_reload_failure_wedges_the_space, 0,
			    G_N_ELEMENTS(reload_failures));
	tcase_add_test(tc, test_object_reload_system_error_is_efault);
	tcase_add_test(tc, test_context_load_success_without_a_handle_is_efault);

	tc = tcase(s, "retries (I3)", setup);
	tcase_add_test(tc, test_retry_is_retried_until_it_succeeds);
	tcase_add_test(tc, test_retry_gives_up_after_the_kernel_delays);
	tcase_add_test(tc, test_testing_is_retried_except_for_self_test);
	tcase_add_test(tc, test_rm_own_commands_are_retried);

	tc = tcase(s, "transmit failures (B9, I12)", setup);
	tcase_add_test(tc, test_transmit_errno_is_returned_and_the_space_flushed);
	tcase_add_test(tc, test_malformed_response_is_efault_and_the_space_flushed);
	tcase_add_test(tc, test_short_success_to_a_command_with_rhandle_is_efault);
}

static void add_listing_stats_and_option_tcases(Suite *s)
{
	TCase *tc;

	tc = tcase(s, "handle listing (I5)", setup);
	tcase_add_test(tc, test_handle_listing_shows_own_objects_as_vhandles_only);
	tcase_add_test(tc, test_handle_listing_keeps_every_non_transient_handle);
	tcase_add_test(tc, test_handle_listing_start_handle_is_not_translated);
	tcase_add_test(tc, test_other_capabilities_pass_unchanged);
	tcase_add_loop_test(tc, test_handle_listing_with_a_lying_count_is_efault, 0,
			    BAD_LIST_COUNT);

	tc = tcase(s, "counters", setup);
	tcase_add_test(tc, test_counters_count_commands_and_their_cost);
	tcase_add_test(tc, test_errors_are_counted_by_errno);

	tc = tcase(s, "options and profiles", setup_fake);
	tcase_add_test(tc, test_options_init_gives_the_kernel_profile);
	tcase_add_loop_test(tc, test_bad_options_are_einval_before_the_tpm_is_asked, 0,
			    G_N_ELEMENTS(bad_options));
	tcase_add_test(tc, test_limits_at_the_edges_are_accepted);
	tcase_add_test(tc, test_only_fixable_quirks_can_be_turned_off);
	tcase_add_test(tc, test_null_options_are_the_kernel_profile);
}

static Suite *rm_suite(void)
{
	Suite *s = suite_create("rm");

	add_command_tcases(s);
	add_entity_tcases(s);
	add_failure_tcases(s);
	add_listing_stats_and_option_tcases(s);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rm_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
