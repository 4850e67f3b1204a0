/* SPDX-License-Identifier: GPL-2.0-or-later */
/* STUB */
#include <errno.h>

#include "tpm-backend.h"

int tpm_backend_libtpms_new(const char *state_dir, TpmBackend **ret, char **ret_error)
{
	(void)state_dir; (void)ret;
	return tpm_backend_error(ret_error, -ENOSYS, "not yet");
}
