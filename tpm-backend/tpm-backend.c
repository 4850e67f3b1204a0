/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>

#include "tpm-backend.h"

int tpm_backend_error(char **ret_error, int r, const char *fmt, ...)
{
	va_list ap;

	if (ret_error) {
		va_start(ap, fmt);
		*ret_error = g_strdup_vprintf(fmt, ap);
		va_end(ap);
	}
	return r;
}

int tpm_backend_transmit(TpmBackend *be, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			 size_t rsp_cap, size_t *ret_rsp_len)
{
	size_t len = 0;
	int r;

	g_return_val_if_fail(be && cmd && rsp && ret_rsp_len, -EINVAL);
	/*
	 * Shorter than a header is allowed: the kernel sends the TPM as many bytes as the
	 * header's size field says, even 6, and the TPM answers with an error.  (The swtpm
	 * backend refuses such commands with -EINVAL: swtpm waits for 10 bytes.)
	 */
	if (cmd_len == 0 || cmd_len > TPM2_WIRE_BUF_MAX)
		return -EINVAL;

	r = be->ops->transmit(be, cmd, cmd_len, rsp, rsp_cap, &len);
	if (r < 0) {
		g_debug("%s: transmit of %zu bytes failed: %s", be->ops->name, cmd_len,
			g_strerror(-r));
		return r;
	}
	/* TPM bytes are untrusted: the kernel's tpm_try_transmit() checks the same. */
	if (len > rsp_cap || tpm2_wire_response_check(rsp, len) < 0) {
		g_debug("%s: malformed response of %zu bytes", be->ops->name, len);
		return -EFAULT;
	}
	*ret_rsp_len = len;
	return 0;
}

int tpm_backend_call(TpmBackend *be, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
		     size_t rsp_cap, size_t *ret_rsp_len, uint32_t *ret_rc)
{
	size_t len;
	int r;

	r = tpm_backend_transmit(be, cmd, cmd_len, rsp, rsp_cap, &len);
	if (r < 0)
		return r;
	*ret_rc = tpm2_wire_load_u32(rsp + 6);
	*ret_rsp_len = len;
	return 0;
}

/* Send a command built into @cmd and return the response code. */
static int call_rc(TpmBackend *be, const uint8_t *cmd, size_t cmd_len, uint32_t *ret_rc)
{
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
	size_t len;

	return tpm_backend_call(be, cmd, cmd_len, rsp, sizeof(rsp), &len, ret_rc);
}

int tpm_backend_auto_startup(TpmBackend *be)
{
	uint8_t cmd[64];
	size_t len;
	uint32_t rc = 0;
	int r;

	r = tpm2_wire_build_self_test(cmd, sizeof(cmd), false, &len);
	if (r == 0)
		r = call_rc(be, cmd, len, &rc);
	if (r < 0 || rc != TPM2_RC_INITIALIZE)
		return r;

	g_debug("%s: TPM not started, sending TPM2_Startup(CLEAR)", be->ops->name);
	r = tpm2_wire_build_startup(cmd, sizeof(cmd), TPM2_SU_CLEAR, &len);
	if (r == 0)
		r = call_rc(be, cmd, len, &rc);
	if (r == 0 && rc != TPM2_RC_SUCCESS)
		g_debug("%s: TPM2_Startup(CLEAR) answered 0x%08x", be->ops->name, rc);
	return r;
}

/* fault:RULES:SPEC: the wrapped backend first, started as on its own. */
static int open_fault(const TpmBackendSpec *spec, TpmBackend **ret, char **ret_error)
{
	TpmBackend *inner = NULL;
	int r;

	r = tpm_backend_open(spec->inner, &inner, ret_error);
	if (r < 0)
		return r;
	r = tpm_backend_fault_new(spec->faults, inner, ret, ret_error);
	if (r < 0)
		tpm_backend_free(inner);
	return r;
}

int tpm_backend_open(const TpmBackendSpec *spec, TpmBackend **ret, char **ret_error)
{
	TpmBackend *be = NULL;
	int r;

	switch (spec->kind) {
	case TPM_BACKEND_LIBTPMS:
		return tpm_backend_libtpms_new(spec->path, ret, ret_error);
	case TPM_BACKEND_FAULT:
		return open_fault(spec, ret, ret_error);
	case TPM_BACKEND_DEVICE:
		r = tpm_backend_device_new(spec->path, spec->timeout_ms, &be, ret_error);
		break;
	case TPM_BACKEND_SWTPM_UNIX:
		r = tpm_backend_swtpm_new(spec->path, NULL, spec->timeout_ms, &be, ret_error);
		break;
	case TPM_BACKEND_SWTPM_TCP:
		r = tpm_backend_swtpm_new(spec->host, spec->port, spec->timeout_ms, &be, ret_error);
		break;
	default:
		return tpm_backend_error(ret_error, -EINVAL, "unknown backend kind %d",
					 (int)spec->kind);
	}
	if (r < 0)
		return r;

	r = tpm_backend_auto_startup(be);
	if (r < 0) {
		tpm_backend_free(be);
		return tpm_backend_error(
			ret_error, r, "the TPM behind the %s backend does not answer: %s",
			spec->kind == TPM_BACKEND_DEVICE ? "device" : "swtpm", g_strerror(-r));
	}
	*ret = be;
	return 0;
}

int tpm_backend_open_spec(const char *text, TpmBackend **ret, char **ret_error)
{
	TpmBackendSpec spec;
	int r;

	r = tpm_backend_spec_parse(text, &spec, ret_error);
	if (r < 0)
		return r;
	r = tpm_backend_open(&spec, ret, ret_error);
	tpm_backend_spec_clear(&spec);
	return r;
}
