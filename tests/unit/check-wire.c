/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tpm2-wire: builders and parsers, including truncated, oversized and lying input. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tpm2-wire.h"

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ })

/* A TPMS_CONTEXT: sequence 5, savedHandle 0x80000000, hierarchy owner, 3-byte blob. */
static const uint8_t ctx_bytes[] = { 0, 0,    0, 0, 0,	  0, 0, 5,    0x80, 0,	 0,
				     0, 0x40, 0, 0, 0x01, 0, 3, 0xaa, 0xbb, 0xcc };

START_TEST(test_reader_refuses_to_read_past_the_end)
{
	const uint8_t buf[] = { 1, 2, 3, 4, 5, 6, 7 };
	Tpm2Reader r = tpm2_reader_init(buf, sizeof(buf));
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;
	uint8_t v8;

	ck_assert_int_eq(tpm2_wire_get_u64(&r, &v64), -EINVAL);
	ck_assert_uint_eq(r.off, 0);
	ck_assert_int_eq(tpm2_wire_get_u32(&r, &v32), 0);
	ck_assert_uint_eq(v32, 0x01020304);
	ck_assert_int_eq(tpm2_wire_get_u32(&r, &v32), -EINVAL);
	ck_assert_int_eq(tpm2_wire_get_u16(&r, &v16), 0);
	ck_assert_uint_eq(v16, 0x0506);
	ck_assert_int_eq(tpm2_wire_get_u16(&r, &v16), -EINVAL);
	ck_assert_int_eq(tpm2_wire_get_u8(&r, &v8), 0);
	ck_assert_uint_eq(v8, 7);
	ck_assert_int_eq(tpm2_wire_get_u8(&r, &v8), -EINVAL);
	ck_assert_uint_eq(tpm2_reader_left(&r), 0);
}
END_TEST

START_TEST(test_tpm2b_with_lying_size_is_refused_and_cursor_kept)
{
	const uint8_t buf[] = { 0, 4, 'a', 'b', 'c' };
	Tpm2Reader r = tpm2_reader_init(buf, sizeof(buf));
	const uint8_t *p = NULL;
	uint16_t size = 99;

	ck_assert_int_eq(tpm2_wire_get_tpm2b(&r, &p, &size), -EINVAL);
	ck_assert_uint_eq(r.off, 0);
	ck_assert_uint_eq(size, 99);
	r = tpm2_reader_init(buf, 4);
	ck_assert_int_eq(tpm2_wire_get_tpm2b(&r, &p, &size), -EINVAL);
	r = tpm2_reader_init((const uint8_t[]){ 0, 2, 'x', 'y' }, 4);
	ck_assert_int_eq(tpm2_wire_get_tpm2b(&r, &p, &size), 0);
	ck_assert_uint_eq(size, 2);
	ck_assert_mem_eq(p, "xy", 2);
}
END_TEST

START_TEST(test_writer_overflow_is_reported_once_at_finish)
{
	uint8_t buf[12];
	Tpm2Writer w = tpm2_writer_init(buf, sizeof(buf));
	size_t len = 77;

	tpm2_wire_put_header(&w, TPM2_ST_NO_SESSIONS, TPM2_CC_GetRandom);
	tpm2_wire_put_u32(&w, 1); /* does not fit: 14 > 12 */
	tpm2_wire_put_u8(&w, 2);  /* would fit, but the writer is already spent */
	ck_assert(w.overflow);
	ck_assert_uint_eq(w.len, 10);
	ck_assert_int_eq(tpm2_wire_finish(&w, &len), -ENOBUFS);
	ck_assert_uint_eq(len, 77);

	w = tpm2_writer_init(buf, sizeof(buf));
	tpm2_wire_put_u32(&w, 1);
	ck_assert_int_eq(tpm2_wire_finish(&w, &len), -EINVAL); /* no room for a header */
}
END_TEST

START_TEST(test_builders_write_exact_bytes)
{
	uint8_t buf[64];
	size_t len = 0;

	ck_assert_int_eq(tpm2_wire_build_startup(buf, sizeof(buf), TPM2_SU_CLEAR, &len), 0);
	ck_assert_uint_eq(len, 12);
	ck_assert_mem_eq(buf, BYTES(0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0), 12);

	ck_assert_int_eq(tpm2_wire_build_shutdown(buf, sizeof(buf), TPM2_SU_STATE, &len), 0);
	ck_assert_uint_eq(len, 12);
	ck_assert_mem_eq(buf, BYTES(0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x45, 0, 1), 12);

	ck_assert_int_eq(tpm2_wire_build_self_test(buf, sizeof(buf), false, &len), 0);
	ck_assert_uint_eq(len, 11);
	ck_assert_mem_eq(buf, BYTES(0x80, 0x01, 0, 0, 0, 11, 0, 0, 0x01, 0x43, 0), 11);

	ck_assert_int_eq(tpm2_wire_build_get_capability(buf, sizeof(buf), TPM2_CAP_COMMANDS, 0x11f,
							0x80, &len),
			 0);
	ck_assert_uint_eq(len, 22);
	ck_assert_mem_eq(buf,
			 BYTES(0x80, 0x01, 0, 0, 0, 22, 0, 0, 0x01, 0x7a, 0, 0, 0, 2, 0, 0, 0x01,
			       0x1f, 0, 0, 0, 0x80),
			 22);

	ck_assert_int_eq(tpm2_wire_build_context_save(buf, sizeof(buf), 0x80000001, &len), 0);
	ck_assert_uint_eq(len, 14);
	ck_assert_mem_eq(buf, BYTES(0x80, 0x01, 0, 0, 0, 14, 0, 0, 0x01, 0x62, 0x80, 0, 0, 1), 14);

	ck_assert_int_eq(tpm2_wire_build_flush_context(buf, sizeof(buf), 0x02000000, &len), 0);
	ck_assert_uint_eq(len, 14);
	ck_assert_mem_eq(buf, BYTES(0x80, 0x01, 0, 0, 0, 14, 0, 0, 0x01, 0x65, 0x02, 0, 0, 0), 14);

	ck_assert_int_eq(
		tpm2_wire_build_context_load(buf, sizeof(buf), ctx_bytes, sizeof(ctx_bytes), &len),
		0);
	ck_assert_uint_eq(len, 10 + sizeof(ctx_bytes));
	ck_assert_mem_eq(buf, BYTES(0x80, 0x01, 0, 0, 0, 31, 0, 0, 0x01, 0x61), 10);
	ck_assert_mem_eq(buf + 10, ctx_bytes, sizeof(ctx_bytes));
}
END_TEST

START_TEST(test_builders_refuse_small_buffers)
{
	uint8_t buf[64];
	size_t len = 5;

	ck_assert_int_eq(tpm2_wire_build_startup(buf, 11, TPM2_SU_CLEAR, &len), -ENOBUFS);
	ck_assert_int_eq(tpm2_wire_build_get_capability(buf, 21, 1, 2, 3, &len), -ENOBUFS);
	ck_assert_int_eq(tpm2_wire_build_context_save(buf, 13, 1, &len), -ENOBUFS);
	ck_assert_int_eq(tpm2_wire_build_flush_context(buf, 0, 1, &len), -ENOBUFS);
	ck_assert_int_eq(tpm2_wire_build_context_load(buf, 30, ctx_bytes, sizeof(ctx_bytes), &len),
			 -ENOBUFS);
	ck_assert_uint_eq(len, 5);
}
END_TEST

START_TEST(test_context_load_refuses_malformed_contexts)
{
	uint8_t buf[64] = { 0 }, lying[sizeof(ctx_bytes)];
	size_t len;

	/* Truncated, with trailing bytes, and with a blob size that lies. */
	ck_assert_int_eq(tpm2_wire_build_context_load(buf, sizeof(buf), ctx_bytes,
						      sizeof(ctx_bytes) - 1, &len),
			 -EINVAL);
	memcpy(buf + 32, ctx_bytes, sizeof(ctx_bytes));
	ck_assert_int_eq(
		tpm2_wire_build_context_load(buf, 32, buf + 32, sizeof(ctx_bytes) + 1, &len),
		-EINVAL);
	memcpy(lying, ctx_bytes, sizeof(lying));
	lying[17] = 2;
	ck_assert_int_eq(tpm2_wire_build_context_load(buf, sizeof(buf), lying, sizeof(lying), &len),
			 -EINVAL);
	ck_assert_int_eq(tpm2_wire_build_context_load(buf, sizeof(buf), ctx_bytes, 0, &len),
			 -EINVAL);
}
END_TEST

START_TEST(test_header_parse_needs_ten_bytes)
{
	const uint8_t h[] = { 0x80, 0x02, 0, 0, 0x10, 0x00, 0, 0, 0x01, 0x7b };
	Tpm2Header hdr;

	ck_assert_int_eq(tpm2_wire_header_parse(h, 9, &hdr), -EINVAL);
	ck_assert_int_eq(tpm2_wire_header_parse(h, 10, &hdr), 0);
	ck_assert_uint_eq(hdr.tag, 0x8002);
	ck_assert_uint_eq(hdr.size, 0x1000);
	ck_assert_uint_eq(hdr.code, 0x17b);
}
END_TEST

START_TEST(test_response_check_follows_tpm_try_transmit)
{
	uint8_t big[TPM2_WIRE_BUF_MAX + 1] = { 0x80, 0x01 };
	uint32_t rc = 0;

	ck_assert_int_eq(tpm2_wire_response_check(BYTES(0x80, 1, 0, 0, 0, 10, 0, 0, 1, 0x01), 10),
			 0);
	/* Shorter than a header; size field smaller and larger than received. */
	ck_assert_int_eq(tpm2_wire_response_check(BYTES(0x80, 1, 0, 0, 0, 9, 0, 0, 1), 9), -EFAULT);
	ck_assert_int_eq(tpm2_wire_response_check(BYTES(0x80, 1, 0, 0, 0, 10, 0, 0, 0, 0, 7), 11),
			 -EFAULT);
	ck_assert_int_eq(tpm2_wire_response_check(BYTES(0x80, 1, 0, 0, 0, 12, 0, 0, 0, 0), 10),
			 -EFAULT);
	/* Over 4096 bytes, even with an honest size field. */
	tpm2_wire_store_u32(big + 2, sizeof(big));
	ck_assert_int_eq(tpm2_wire_response_check(big, sizeof(big)), -EFAULT);
	tpm2_wire_store_u32(big + 2, TPM2_WIRE_BUF_MAX);
	ck_assert_int_eq(tpm2_wire_response_check(big, TPM2_WIRE_BUF_MAX), 0);

	ck_assert_int_eq(tpm2_wire_response_rc(BYTES(0x80, 1, 0, 0, 0, 10, 0, 0, 9, 0x22), 10, &rc),
			 0);
	ck_assert_uint_eq(rc, TPM2_RC_RETRY);
	ck_assert_int_eq(tpm2_wire_response_rc(BYTES(0x80, 1, 0, 0, 0, 11, 0, 0, 9, 0x22), 10, &rc),
			 -EINVAL);
}
END_TEST

START_TEST(test_context_save_response_parse)
{
	uint8_t rsp[64] = { 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0 };
	const uint8_t *ctx = NULL;
	size_t ctx_len = 0, len = 10 + sizeof(ctx_bytes);
	Tpm2Context c;

	memcpy(rsp + 10, ctx_bytes, sizeof(ctx_bytes));
	tpm2_wire_store_u32(rsp + 2, (uint32_t)len);
	ck_assert_int_eq(tpm2_wire_parse_context_save_rsp(rsp, len, &ctx, &ctx_len), 0);
	ck_assert_ptr_eq(ctx, rsp + 10);
	ck_assert_uint_eq(ctx_len, sizeof(ctx_bytes));
	ck_assert_int_eq(tpm2_wire_context_parse(ctx, ctx_len, &c), 0);
	ck_assert_uint_eq(c.sequence, 5);
	ck_assert_uint_eq(c.saved_handle, 0x80000000);
	ck_assert_uint_eq(c.hierarchy, TPM2_RH_OWNER);
	ck_assert_uint_eq(c.blob_size, 3);

	/* Truncated body (honest header), trailing garbage, and an error response. */
	tpm2_wire_store_u32(rsp + 2, (uint32_t)len - 1);
	ck_assert_int_eq(tpm2_wire_parse_context_save_rsp(rsp, len - 1, &ctx, &ctx_len), -EINVAL);
	tpm2_wire_store_u32(rsp + 2, (uint32_t)len + 1);
	ck_assert_int_eq(tpm2_wire_parse_context_save_rsp(rsp, len + 1, &ctx, &ctx_len), -EINVAL);
	ck_assert_int_eq(tpm2_wire_parse_context_save_rsp(
				 BYTES(0x80, 1, 0, 0, 0, 10, 0, 0, 0x09, 0x10), 10, &ctx, &ctx_len),
			 -EINVAL);
}
END_TEST

START_TEST(test_handle_response_parse)
{
	TPM2_HANDLE h = 0;

	ck_assert_int_eq(tpm2_wire_parse_handle_rsp(
				 BYTES(0x80, 1, 0, 0, 0, 14, 0, 0, 0, 0, 0x80, 0, 0, 2), 14, &h),
			 0);
	ck_assert_uint_eq(h, 0x80000002);
	ck_assert_int_eq(tpm2_wire_parse_handle_rsp(
				 BYTES(0x80, 1, 0, 0, 0, 12, 0, 0, 0, 0, 0x80, 0), 12, &h),
			 -EINVAL);
	ck_assert_int_eq(
		tpm2_wire_parse_handle_rsp(
			BYTES(0x80, 1, 0, 0, 0, 14, 0, 0, 0x01, 0x8b, 0x80, 0, 0, 2), 14, &h),
		-EINVAL);
}
END_TEST

START_TEST(test_capability_response_parse_exact_and_overflow_safe)
{
	uint8_t rsp[64] = { 0x80, 0x01, 0, 0, 0,    27, 0, 0, 0, 0, /* header */
			    1,	  0,	0, 0, 1,		    /* moreData, TPM_CAP_HANDLES */
			    0,	  0,	0, 2,			    /* count */
			    0x80, 0,	0, 0, 0x80, 0,	0, 1 };
	Tpm2CapData d;

	ck_assert_int_eq(tpm2_wire_parse_cap_rsp(rsp, 27, &d), 0);
	ck_assert(d.more_data);
	ck_assert_uint_eq(d.capability, TPM2_CAP_HANDLES);
	ck_assert_uint_eq(d.count, 2);
	ck_assert_uint_eq(d.item_size, 4);
	ck_assert_uint_eq(tpm2_wire_load_u32(d.items + 4), 0x80000001);

	/* count lies: too many, too few, and large enough to overflow count * 4. */
	rsp[18] = 3;
	ck_assert_int_eq(tpm2_wire_parse_cap_rsp(rsp, 27, &d), -EINVAL);
	rsp[18] = 1;
	ck_assert_int_eq(tpm2_wire_parse_cap_rsp(rsp, 27, &d), -EINVAL);
	tpm2_wire_store_u32(rsp + 15, 0x40000002);
	ck_assert_int_eq(tpm2_wire_parse_cap_rsp(rsp, 27, &d), -EINVAL);
	/* Truncated before the count; properties are pairs; algorithms are not a list. */
	rsp[5] = 17;
	ck_assert_int_eq(tpm2_wire_parse_cap_rsp(rsp, 17, &d), -EINVAL);
	rsp[5] = 27;
	tpm2_wire_store_u32(rsp + 15, 1);
	rsp[14] = TPM2_CAP_TPM_PROPERTIES;
	ck_assert_int_eq(tpm2_wire_parse_cap_rsp(rsp, 27, &d), 0);
	ck_assert_uint_eq(d.item_size, 8);
	rsp[14] = TPM2_CAP_ALGS;
	ck_assert_int_eq(tpm2_wire_parse_cap_rsp(rsp, 27, &d), -EOPNOTSUPP);
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *prim = tcase_create("primitives");
	TCase *build = tcase_create("builders");
	TCase *parse = tcase_create("parsers");

	tcase_add_test(prim, test_reader_refuses_to_read_past_the_end);
	tcase_add_test(prim, test_tpm2b_with_lying_size_is_refused_and_cursor_kept);
	tcase_add_test(prim, test_writer_overflow_is_reported_once_at_finish);
	tcase_add_test(build, test_builders_write_exact_bytes);
	tcase_add_test(build, test_builders_refuse_small_buffers);
	tcase_add_test(build, test_context_load_refuses_malformed_contexts);
	tcase_add_test(parse, test_header_parse_needs_ten_bytes);
	tcase_add_test(parse, test_response_check_follows_tpm_try_transmit);
	tcase_add_test(parse, test_context_save_response_parse);
	tcase_add_test(parse, test_handle_response_parse);
	tcase_add_test(parse, test_capability_response_parse_exact_and_overflow_safe);
	suite_add_tcase(s, prim);
	suite_add_tcase(s, build);
	suite_add_tcase(s, parse);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wire_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
