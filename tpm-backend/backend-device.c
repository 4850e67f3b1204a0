/* SPDX-License-Identifier: GPL-2.0-or-later */
/* STUB: to be replaced by the real device backend. */
#include <errno.h>

#include "tpm-backend.h"

int tpm_backend_device_new(const char *path, unsigned int timeout_ms, TpmBackend **ret,
			   char **ret_error)
{
	(void)path; (void)timeout_ms; (void)ret;
	return tpm_backend_error(ret_error, -ENOSYS, "not yet");
}
