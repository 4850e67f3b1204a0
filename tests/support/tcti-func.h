/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A tss2 TCTI whose transmit is a C function: lets tests drive a TpmBackend (or later the
 * resource manager) with tss2-sys, so test commands are built by the same marshalling code
 * that real clients use, not by hand.
 */
#ifndef TPMRM_TEST_TCTI_FUNC_H
#define TPMRM_TEST_TCTI_FUNC_H

#include <stddef.h>
#include <stdint.h>
#include <tss2/tss2_sys.h>
#include <tss2/tss2_tcti.h>

#include "tpm-backend.h"

/* One command in, one response out; 0 or a negative errno (no response). */
typedef int (*TctiFuncTransmit)(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
				size_t rsp_cap, size_t *ret_rsp_len);

/* A TCTI calling @fn; free with tcti_func_free().  The last errno is kept for tests. */
TSS2_TCTI_CONTEXT *tcti_func_new(TctiFuncTransmit fn, void *user);
void tcti_func_free(TSS2_TCTI_CONTEXT *tcti);
int tcti_func_last_errno(TSS2_TCTI_CONTEXT *tcti);

/* A TCTI straight onto a backend. */
TSS2_TCTI_CONTEXT *tcti_func_new_backend(TpmBackend *be);

/* A tss2-sys context over @tcti (owned by the caller); aborts the test on failure. */
TSS2_SYS_CONTEXT *test_sys_new(TSS2_TCTI_CONTEXT *tcti);
void test_sys_free(TSS2_SYS_CONTEXT *sys);

#endif
