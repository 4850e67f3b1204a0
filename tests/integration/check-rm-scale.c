/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What an open file costs: 10,000 spaces, each holding one saved object, fit in tens of
 * MiB (the contexts live in buffers sized to what they hold, not at their 16 KiB cap).
 */
#include <check.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm.h"
#include "tcti-func.h"
#include "test-util.h"

#define NR_SPACES 10000

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

typedef struct Client {
	Rm *rm;
	RmSpace *space;
} Client;

static int client_transmit(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			   size_t rsp_cap, size_t *ret_rsp_len)
{
	Client *c = user;

	return rm_process(c->rm, c->space, cmd, cmd_len, rsp, rsp_cap, ret_rsp_len);
}

START_TEST(test_ten_thousand_spaces_with_an_object_each_fit_in_tens_of_mib)
{
	g_autoptr(TpmBackend) be = NULL;
	g_autoptr(Rm) rm = NULL;
	g_autoptr(RmSpace) first = NULL;
	TPMS_CONTEXT ctx = { .sequence = 0 };
	RmSpace **spaces = g_new0(RmSpace *, NR_SPACES);
	TSS2_TCTI_CONTEXT *tcti;
	TSS2_SYS_CONTEXT *sys;
	Client c;
	TPM2_HANDLE h = 0;
	size_t before, idle, loaded;
	RmSpaceStats st;

	ck_assert_int_eq(tpm_backend_libtpms_new(NULL, &be, NULL), 0);
	ck_assert_int_eq(rm_new(be, NULL, &rm), 0);
	c.rm = rm;
	first = rm_space_new(rm, NULL);
	c.space = first;
	tcti = tcti_func_new(client_transmit, &c);
	sys = test_sys_new(tcti);
	ck_assert_uint_eq(test_create_primary_ecc(sys, &h), TPM2_RC_SUCCESS);
	ck_assert_uint_eq(h, 0x80FFFFFF);
	ck_assert_uint_eq(Tss2_Sys_ContextSave(sys, h, &ctx), TPM2_RC_SUCCESS);

	before = heap_in_use();
	for (int i = 0; i < NR_SPACES; i++)
		spaces[i] = rm_space_new(rm, NULL);
	idle = heap_in_use() - before;

	for (int i = 0; i < NR_SPACES; i++) {
		c.space = spaces[i];
		ck_assert_uint_eq(Tss2_Sys_ContextLoad(sys, &ctx, &h), TPM2_RC_SUCCESS);
		ck_assert_uint_eq(h, 0x80FFFFFF);
	}
	loaded = heap_in_use() - before;
	rm_space_get_stats(spaces[NR_SPACES - 1], &st);
	ck_assert_uint_eq(st.objects, 1);

	g_message("%d idle spaces: %zu bytes (%zu each); with one object each: %zu bytes "
		  "(%zu each)",
		  NR_SPACES, idle, idle / NR_SPACES, loaded, loaded / NR_SPACES);
	ck_assert_uint_lt(idle, (size_t)4 * 1024 * 1024);
	ck_assert_uint_lt(loaded, (size_t)32 * 1024 * 1024);

	for (int i = 0; i < NR_SPACES; i++)
		rm_space_free(spaces[i]);
	g_free(spaces);
	test_sys_free(sys);
	tcti_func_free(tcti);
}
END_TEST

static Suite *scale_suite(void)
{
	Suite *s = suite_create("rm-scale");
	TCase *tc = tcase_create("memory");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ten_thousand_spaces_with_an_object_each_fit_in_tens_of_mib);
	suite_add_tcase(s, tc);
	return s;
}

/* ASan's allocator keeps its own books: mallinfo2() says nothing there. */
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_MEASURABLE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_MEASURABLE 0
#endif
#endif
#ifndef HEAP_MEASURABLE
#define HEAP_MEASURABLE 1
#endif

int main(void)
{
	SRunner *sr;
	int failed;

	if (!HEAP_MEASURABLE) {
		printf("SKIP: heap use cannot be measured under AddressSanitizer's allocator; "
		       "the ordinary build measures it\n");
		return 77;
	}
	sr = srunner_create(scale_suite());

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
