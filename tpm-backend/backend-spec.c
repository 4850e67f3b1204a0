/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The --backend SPEC syntax: libtpms[:DIR] | device:PATH | swtpm:unix:PATH | swtpm:HOST:PORT */
#include <errno.h>
#include <string.h>

#include "tpm-backend.h"

static const char spec_help[] =
	"expected libtpms, libtpms:DIR, device:PATH, swtpm:unix:PATH or swtpm:HOST:PORT";

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
}
