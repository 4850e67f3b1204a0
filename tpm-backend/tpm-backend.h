/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A TpmBackend moves whole TPM 2.0 command and response buffers to and from one TPM.
 * It knows nothing about handles, spaces or clients.  It is not thread-safe: the
 * resource manager serialises every call.
 *
 * Three kinds exist: libtpms in this process (the default, no TPM needed), a raw TPM
 * character device such as /dev/tpm0, and the data channel of a swtpm socket.
 */
#ifndef TPMRM_TPM_BACKEND_H
#define TPMRM_TPM_BACKEND_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "tpm2-wire.h"

typedef struct TpmBackend TpmBackend;

typedef struct TpmBackendOps {
	const char *name; /* "libtpms", "device", "swtpm", "fake", ... */

	/*
	 * Send @cmd (exactly @cmd_len bytes) and wait for the reply, written to @rsp (room
	 * for @rsp_cap bytes).  On success sets *ret_rsp_len and returns 0.  A TPM error
	 * code is a successful transmit: it travels inside the response.  Returns a
	 * negative errno only when no response exists (-EIO, -ETIME, -EFAULT, ...).
	 */
	int (*transmit)(TpmBackend *be, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			size_t rsp_cap, size_t *ret_rsp_len);

	/* Ask the TPM to abandon the command in flight; may be NULL. */
	int (*cancel)(TpmBackend *be);

	/* Release @be and everything it owns, shutting the TPM down in order where that
	 * means something (libtpms: TPM2_Shutdown(STATE) and a final state write). */
	void (*destroy)(TpmBackend *be);
} TpmBackendOps;

/* Every backend embeds this as its first member. */
struct TpmBackend {
	const TpmBackendOps *ops;
};

/*
 * Transmit one command through @be and check the response before anyone reads it: at
 * least 10 bytes, at most TPM2_WIRE_BUF_MAX, header size equal to the bytes received.
 * A response that fails the check gives -EFAULT, as in the kernel's tpm_try_transmit().
 * @cmd_len must be 1 to TPM2_WIRE_BUF_MAX (-EINVAL otherwise).
 */
int tpm_backend_transmit(TpmBackend *be, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			 size_t rsp_cap, size_t *ret_rsp_len);

/*
 * Transmit a command the caller built and return the TPM's response code in *ret_rc,
 * the response itself in @rsp.  For the RM's and the daemon's own commands.
 */
int tpm_backend_call(TpmBackend *be, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
		     size_t rsp_cap, size_t *ret_rsp_len, uint32_t *ret_rc);

/* NULL-safe, like free(). */
static inline void tpm_backend_free(TpmBackend *be)
{
	if (be)
		be->ops->destroy(be);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TpmBackend, tpm_backend_free)

static inline const char *tpm_backend_name(const TpmBackend *be)
{
	return be->ops->name;
}

/* --- which backend: the --backend SPEC of the command line --- */

typedef enum TpmBackendKind {
	TPM_BACKEND_LIBTPMS,
	TPM_BACKEND_DEVICE,
	TPM_BACKEND_SWTPM_UNIX,
	TPM_BACKEND_SWTPM_TCP,
	TPM_BACKEND_FAULT,
} TpmBackendKind;

typedef struct TpmBackendSpec {
	TpmBackendKind kind;
	char *path; /* libtpms: state directory or NULL (volatile); device; swtpm unix */
	char *host; /* swtpm tcp */
	char *port; /* swtpm tcp, decimal 1-65535 */
	unsigned int timeout_ms;      /* device and swtpm: longest wait for one response */
	char *faults;		      /* fault: the RULES (backend-fault.h) */
	struct TpmBackendSpec *inner; /* fault: the backend it wraps */
} TpmBackendSpec;

/* The default for TpmBackendSpec.timeout_ms: longer than any TPM command takes. */
#define TPM_BACKEND_DEFAULT_TIMEOUT_MS 120000u

/*
 * Parse a backend spec:
 *   libtpms | libtpms:DIR | device:PATH | swtpm:unix:PATH | swtpm:HOST:PORT | fault:RULES:SPEC
 * (HOST may be an IPv6 address in brackets; fault: wraps the backend SPEC and spoils the
 * responses RULES choose, see backend-fault.h).  On error returns -EINVAL and, if
 * @ret_error is not NULL, a message for the user in *ret_error (free it with g_free).
 */
int tpm_backend_spec_parse(const char *text, TpmBackendSpec *ret, char **ret_error);
void tpm_backend_spec_clear(TpmBackendSpec *spec);

/* The libtpms state directory @spec names (through fault: wrappers), or NULL. */
const char *tpm_backend_spec_state_dir(const TpmBackendSpec *spec);

/*
 * Open the backend @spec describes.  On error returns a negative errno and, if
 * @ret_error is not NULL, a message naming what failed (the busy state directory, the
 * device that another process holds, the socket that refused ...).
 */
int tpm_backend_open(const TpmBackendSpec *spec, TpmBackend **ret, char **ret_error);

/* The same, from the text of a spec. */
int tpm_backend_open_spec(const char *text, TpmBackend **ret, char **ret_error);

/*
 * The constructors behind tpm_backend_open().  0 and *ret set, or a negative errno,
 * *ret untouched and a message in *ret_error (when not NULL).
 *
 * libtpms: @state_dir NULL keeps the TPM's NV state in memory (gone at destroy);
 * otherwise it lives in files in @state_dir, written atomically and locked against a
 * second process (-EBUSY).  Only one libtpms backend may exist in a process (-EBUSY).
 * The TPM is started (TPM2_Startup) before this returns.
 */
int tpm_backend_libtpms_new(const char *state_dir, TpmBackend **ret, char **ret_error);
int tpm_backend_device_new(const char *path, unsigned int timeout_ms, TpmBackend **ret,
			   char **ret_error);
/* @port NULL: @path_or_host is a unix socket path; otherwise a TCP host and port. */
int tpm_backend_swtpm_new(const char *path_or_host, const char *port, unsigned int timeout_ms,
			  TpmBackend **ret, char **ret_error);

/*
 * A backend that passes every command to @inner and spoils the responses @rules choose
 * (backend-fault.h), for robustness tests.  On success it owns @inner; on failure (-EINVAL,
 * bad rules) @inner is left to the caller.
 */
int tpm_backend_fault_new(const char *rules, TpmBackend *inner, TpmBackend **ret, char **ret_error);

/*
 * The kernel's tpm2_auto_startup(), for TPMs that something else powers on (a device, a
 * swtpm): a SelfTest, and when the TPM answers TPM_RC_INITIALIZE, TPM2_Startup(CLEAR)
 * first.  Returns 0, or a negative errno when the TPM cannot be reached.
 */
int tpm_backend_auto_startup(TpmBackend *be);

/* Set a message in *ret_error when @ret_error is not NULL; returns @r. */
int tpm_backend_error(char **ret_error, int r, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

#endif
