/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The --backend SPEC syntax:
 *   libtpms[:DIR] | device:PATH | swtpm:unix:PATH | swtpm:HOST:PORT | fault:RULES:SPEC
 */
#include <errno.h>
#include <string.h>

#include "backend-fault.h"
#include "tpm-backend.h"

static const char spec_help[] = "expected libtpms, libtpms:DIR, device:PATH, swtpm:unix:PATH, "
				"swtpm:HOST:PORT or fault:RULES:SPEC";

/* The wrapper for robustness tests (backend-fault.h). */
static const char fault_help[] =
	"fault:RULES:SPEC wraps the backend SPEC and spoils the responses RULES choose; "
	"RULES is a comma-separated list of KIND[/CC][@WHEN], slow-ms=MS and seed=N, where "
	"KIND is truncate, lie-size, garbage, empty (malformed: the client gets EFAULT), "
	"noise (rc and body random), no-response (ETIME), eio (EIO), slow=MS or "
	"random=PERCENT; CC counts only commands with that code (0x17b); WHEN is N (the N-th "
	"command counted), N-M, N+, %K (every K-th) or * (the default); "
	"e.g. fault:truncate/0x17b@3,eio@%50,slow-ms=20:libtpms";

static bool port_valid(const char *port)
{
	unsigned long v = 0;

	if (!*port || strlen(port) > 5)
		return false;
	for (const char *p = port; *p; p++) {
		if (!g_ascii_isdigit(*p))
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v >= 1 && v <= 65535;
}

/* HOST:PORT, HOST possibly [v6]. */
static int parse_host_port(const char *text, const char *rest, TpmBackendSpec *spec,
			   char **ret_error)
{
	const char *colon;
	g_autofree char *host = NULL;

	if (rest[0] == '[') {
		const char *close = strchr(rest, ']');

		if (!close || close[1] != ':')
			return tpm_backend_error(ret_error, -EINVAL,
						 "bad backend '%s': unterminated [IPv6] host",
						 text);
		host = g_strndup(rest + 1, (gsize)(close - rest - 1));
		colon = close + 1;
	} else {
		colon = strrchr(rest, ':');
		if (!colon)
			return tpm_backend_error(
				ret_error, -EINVAL,
				"bad backend '%s': swtpm needs unix:PATH or HOST:PORT", text);
		host = g_strndup(rest, (gsize)(colon - rest));
	}
	if (!*host || (strchr(host, ':') != NULL && rest[0] != '['))
		return tpm_backend_error(ret_error, -EINVAL, "bad backend '%s': bad host", text);
	if (!port_valid(colon + 1))
		return tpm_backend_error(ret_error, -EINVAL,
					 "bad backend '%s': port must be a number from 1 to 65535",
					 text);
	spec->kind = TPM_BACKEND_SWTPM_TCP;
	spec->host = g_steal_pointer(&host);
	spec->port = g_strdup(colon + 1);
	return 0;
}

static int parse_path(const char *text, const char *path, TpmBackendKind kind, TpmBackendSpec *spec,
		      char **ret_error)
{
	if (!*path)
		return tpm_backend_error(ret_error, -EINVAL, "bad backend '%s': empty path", text);
	spec->kind = kind;
	spec->path = g_strdup(path);
	return 0;
}

/* fault:RULES:SPEC, @rest pointing at RULES; SPEC is any spec, another fault: too. */
static int parse_fault(const char *text, const char *rest, TpmBackendSpec *spec, char **ret_error)
{
	const char *colon = strchr(rest, ':');
	g_autofree char *rules = NULL;
	g_autofree char *why = NULL;
	TpmBackendSpec *inner;
	TpmFaultPlan plan = { 0 };
	int r;

	if (!colon)
		return tpm_backend_error(ret_error, -EINVAL, "bad backend '%s': %s", text,
					 fault_help);
	rules = g_strndup(rest, (gsize)(colon - rest));
	r = tpm_fault_plan_parse(rules, &plan, &why);
	if (r < 0)
		return tpm_backend_error(ret_error, r, "bad backend '%s': %s", text, why);
	tpm_fault_plan_clear(&plan);
	inner = g_new0(TpmBackendSpec, 1);
	r = tpm_backend_spec_parse(colon + 1, inner, &why);
	if (r < 0) {
		g_free(inner);
		return tpm_backend_error(ret_error, r, "bad backend '%s': the wrapped backend: %s",
					 text, why);
	}
	spec->kind = TPM_BACKEND_FAULT;
	spec->faults = g_steal_pointer(&rules);
	spec->inner = inner;
	return 0;
}

int tpm_backend_spec_parse(const char *text, TpmBackendSpec *ret, char **ret_error)
{
	TpmBackendSpec spec = { .timeout_ms = TPM_BACKEND_DEFAULT_TIMEOUT_MS };
	int r;

	if (!text)
		return tpm_backend_error(ret_error, -EINVAL, "no backend given: %s", spec_help);
	if (strcmp(text, "libtpms") == 0) {
		spec.kind = TPM_BACKEND_LIBTPMS;
		r = 0;
	} else if (g_str_has_prefix(text, "libtpms:")) {
		r = parse_path(text, text + 8, TPM_BACKEND_LIBTPMS, &spec, ret_error);
	} else if (g_str_has_prefix(text, "device:")) {
		r = parse_path(text, text + 7, TPM_BACKEND_DEVICE, &spec, ret_error);
	} else if (g_str_has_prefix(text, "swtpm:unix:")) {
		r = parse_path(text, text + 11, TPM_BACKEND_SWTPM_UNIX, &spec, ret_error);
	} else if (g_str_has_prefix(text, "swtpm:")) {
		r = parse_host_port(text, text + 6, &spec, ret_error);
	} else if (g_str_has_prefix(text, "fault:")) {
		r = parse_fault(text, text + 6, &spec, ret_error);
	} else {
		r = tpm_backend_error(ret_error, -EINVAL, "unknown backend '%s': %s", text,
				      spec_help);
	}
	if (r < 0) {
		tpm_backend_spec_clear(&spec);
		return r;
	}
	*ret = spec;
	return 0;
}

void tpm_backend_spec_clear(TpmBackendSpec *spec)
{
	g_clear_pointer(&spec->path, g_free);
	g_clear_pointer(&spec->host, g_free);
	g_clear_pointer(&spec->port, g_free);
	g_clear_pointer(&spec->faults, g_free);
	if (spec->inner) {
		tpm_backend_spec_clear(spec->inner);
		g_clear_pointer(&spec->inner, g_free);
	}
}

const char *tpm_backend_spec_state_dir(const TpmBackendSpec *spec)
{
	while (spec->kind == TPM_BACKEND_FAULT)
		spec = spec->inner;
	return spec->kind == TPM_BACKEND_LIBTPMS ? spec->path : NULL;
}
