/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <check.h>
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "tcti-func.h"

#define TCTI_FUNC_MAGIC 0x7470726d66756e63ULL /* "tprmfunc" */

typedef struct TctiFunc {
	TSS2_TCTI_CONTEXT_COMMON_V2 common;
	TctiFuncTransmit fn;
	void *user;
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t rsp_len;
	bool have_rsp;
	int last_errno;
} TctiFunc;

static TctiFunc *tcti_func_of(TSS2_TCTI_CONTEXT *ctx)
{
	return (TctiFunc *)ctx;
}

static TSS2_RC tcti_func_transmit(TSS2_TCTI_CONTEXT *ctx, size_t size, const uint8_t *cmd)
{
	TctiFunc *t = tcti_func_of(ctx);
	int r;

	t->have_rsp = false;
	r = t->fn(t->user, cmd, size, t->rsp, sizeof(t->rsp), &t->rsp_len);
	t->last_errno = r < 0 ? -r : 0;
	if (r < 0)
		return TSS2_TCTI_RC_IO_ERROR;
	t->have_rsp = true;
	return TSS2_RC_SUCCESS;
}

static TSS2_RC tcti_func_receive(TSS2_TCTI_CONTEXT *ctx, size_t *size, uint8_t *rsp,
				 int32_t timeout)
{
	TctiFunc *t = tcti_func_of(ctx);

	(void)timeout;
	if (!t->have_rsp)
		return TSS2_TCTI_RC_BAD_SEQUENCE;
	if (!rsp) {
		*size = t->rsp_len;
		return TSS2_RC_SUCCESS;
	}
	if (*size < t->rsp_len)
		return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
	memcpy(rsp, t->rsp, t->rsp_len);
	*size = t->rsp_len;
	t->have_rsp = false;
	return TSS2_RC_SUCCESS;
}

static void tcti_func_finalize(TSS2_TCTI_CONTEXT *ctx)
{
	(void)ctx;
}

TSS2_TCTI_CONTEXT *tcti_func_new(TctiFuncTransmit fn, void *user)
{
	TctiFunc *t = g_new0(TctiFunc, 1);

	t->common.v1.magic = TCTI_FUNC_MAGIC;
	t->common.v1.version = 2;
	t->common.v1.transmit = tcti_func_transmit;
	t->common.v1.receive = tcti_func_receive;
	t->common.v1.finalize = tcti_func_finalize;
	t->fn = fn;
	t->user = user;
	return (TSS2_TCTI_CONTEXT *)t;
}

void tcti_func_free(TSS2_TCTI_CONTEXT *tcti)
{
	g_free(tcti);
}

int tcti_func_last_errno(TSS2_TCTI_CONTEXT *tcti)
{
	return tcti_func_of(tcti)->last_errno;
}

static int backend_fn(void *user, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t rsp_cap,
		      size_t *ret_rsp_len)
{
	return tpm_backend_transmit(user, cmd, cmd_len, rsp, rsp_cap, ret_rsp_len);
}

TSS2_TCTI_CONTEXT *tcti_func_new_backend(TpmBackend *be)
{
	return tcti_func_new(backend_fn, be);
}

TSS2_SYS_CONTEXT *test_sys_new(TSS2_TCTI_CONTEXT *tcti)
{
	TSS2_ABI_VERSION abi = TSS2_ABI_VERSION_CURRENT;
	size_t size = Tss2_Sys_GetContextSize(0);
	TSS2_SYS_CONTEXT *sys = g_malloc0(size);

	ck_assert_uint_eq(Tss2_Sys_Initialize(sys, size, tcti, &abi), TSS2_RC_SUCCESS);
	return sys;
}

void test_sys_free(TSS2_SYS_CONTEXT *sys)
{
	if (sys) {
		Tss2_Sys_Finalize(sys);
		g_free(sys);
	}
}
