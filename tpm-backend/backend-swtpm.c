/* SPDX-License-Identifier: GPL-2.0-or-later */
/* STUB: to be replaced by the real swtpm backend. */
#include <errno.h>

#include "tpm-backend.h"

int tpm_backend_swtpm_new(const char *path_or_host, const char *port, unsigned int timeout_ms,
			  TpmBackend **ret, char **ret_error)
{
	(void)path_or_host; (void)port; (void)timeout_ms; (void)ret;
	return tpm_backend_error(ret_error, -ENOSYS, "not yet");
}
