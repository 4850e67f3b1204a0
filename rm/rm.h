/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The resource manager: turns one client command in one space into backend traffic and
 * one response, or one negative errno, with the behaviour of the Linux kernel's
 * tpm2-space.c (../shared/spec/tpmrm-uapi.md sections H and I, and A5 for close).
 *
 * A pure library: no FUSE, no file descriptors, no threads of its own.  Every call on
 * one Rm is serialised by its own lock, so front-ends may call from any thread.
 */
#ifndef TPMRM_RM_H
#define TPMRM_RM_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tpm-backend.h"

/* The kernel's TPM_BUFSIZE: the largest command and response. */
#define RM_BUF_MAX TPM2_WIRE_BUF_MAX

/* The kernel's per-space limits and context buffer size (TPM2_SPACE_BUFFER_SIZE). */
#define RM_KERNEL_MAX_OBJECTS	3
#define RM_KERNEL_MAX_SESSIONS	3
#define RM_KERNEL_CONTEXT_BYTES 16384
/* Slots are numbered down from 0x80FFFFFF; more than this would be silly. */
#define RM_SLOTS_LIMIT 64

/*
 * Kernel behaviours that a client can observe and that a better resource manager might
 * not copy.  The kernel profile has all of them on; each is a switch so that a later
 * profile can turn them off one by one.  rm/README.md lists them with their spec ids.
 */
typedef enum RmQuirk {
	/* I12: an RM error after swap-in (or a failed transmit) flushes the space's sessions. */
	RM_QUIRK_SESSION_LOSS_ON_ERROR = 1u << 0,
	/* I11: an object that cannot be reloaded stays in the space: every command fails. */
	RM_QUIRK_WEDGE_ON_OBJECT_RELOAD = 1u << 1,
	/* I14: FlushContext of a session handle passes through, whoever owns the session. */
	RM_QUIRK_CROSS_SPACE_SESSION_FLUSH = 1u << 2,
	/* H5: a command shorter than its handle area is forwarded (missing handles read 0). */
	RM_QUIRK_NO_HANDLE_AREA_CHECK = 1u << 3,
	/* I5: GetCapability(HANDLES)'s start handle is passed to the TPM untranslated. */
	RM_QUIRK_GETCAP_START_UNTRANSLATED = 1u << 4,
	/* I11: after a session fails to reload, the next sessions are read from the failed
	 * one's place in the buffer (the kernel does not advance its offset), so they fail
	 * and are forgotten too, and stay saved in the TPM. */
	RM_QUIRK_SESSION_RELOAD_OFFSET = 1u << 5,
	/* I19: no ungapping: TPM_RC_CONTEXT_GAP on a session save fails the command. */
	RM_QUIRK_NO_UNGAPPING = 1u << 6,
} RmQuirk;

#define RM_QUIRKS_KERNEL 0x7fu
/* The quirks whose fix exists today; rm_new() refuses to turn off any other. */
#define RM_QUIRKS_FIXABLE (RM_QUIRK_NO_HANDLE_AREA_CHECK)

typedef enum RmProfile {
	RM_PROFILE_KERNEL, /* the kernel, quirks included (the default) */
} RmProfile;

typedef struct RmOptions {
	RmProfile profile;
	uint32_t quirks;	   /* RmQuirk bits */
	unsigned int max_objects;  /* transient objects per space (1..RM_SLOTS_LIMIT) */
	unsigned int max_sessions; /* sessions per space (1..RM_SLOTS_LIMIT) */
	size_t context_bytes;	   /* cap of each context buffer of a space */
	/* Sleep between TPM_RC_RETRY/TESTING retries; NULL: g_usleep.  For tests. */
	void (*sleep_ms)(unsigned int ms);
} RmOptions;

/* The defaults of @profile: the kernel's limits and its quirks. */
void rm_options_init(RmOptions *opts, RmProfile profile);

/* Who opened a space: kept with it for logs, policy and metrics. */
typedef struct RmCaller {
	uid_t uid;
	gid_t gid;
	pid_t pid;
} RmCaller;

typedef struct Rm Rm;
typedef struct RmSpace RmSpace;

/*
 * Create a resource manager over @backend (borrowed: it must outlive the Rm).  Reads
 * the TPM's command table with GetCapability(TPM_CAP_COMMANDS) (H1).  @opts NULL means
 * the kernel profile.  Returns 0 and *ret, -EINVAL for bad options, -EOPNOTSUPP for a
 * quirk that cannot be turned off yet, or the errno of a TPM that cannot answer (-EIO
 * when it answers with an error).
 */
int rm_new(TpmBackend *backend, const RmOptions *opts, Rm **ret);
void rm_free(Rm *rm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Rm, rm_free)

/*
 * A space per open file.  Never fails: its buffers grow on demand.  @caller may be NULL.
 * rm_space_free() flushes the space's sessions from the TPM as the kernel's close does
 * (A5); sessions the RM forgot (I9, I16) stay.  NULL-safe.
 */
RmSpace *rm_space_new(Rm *rm, const RmCaller *caller);
void rm_space_free(RmSpace *space);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RmSpace, rm_space_free)

uint64_t rm_space_id(const RmSpace *space);
const RmCaller *rm_space_caller(const RmSpace *space);

/*
 * Run one client command through the resource manager.  @cmd is what the client wrote
 * (@cmd_len bytes, already checked by the front-end as write() does: 6..RM_BUF_MAX bytes
 * and at least the header's size).  Returns 0 when @rsp holds something for the client,
 * possibly a TPM error, including the one the RM makes up (0x000B0143, H3).  Returns a
 * negative errno when there is nothing to give; the front-end turns it into the write()
 * error (or the async read() error), as /dev/tpmrm0 does.  @rsp_cap must be at least
 * RM_BUF_MAX.  @cmd is never modified.
 */
int rm_process(Rm *rm, RmSpace *space, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
	       size_t rsp_cap, size_t *ret_rsp_len);

/*
 * The /dev/tpm0 path (spec J): no space, no command validation, no handle translation;
 * only the kernel's transmit rules (ENODATA for a header size of 0, TPM_RC_RETRY and
 * TPM_RC_TESTING retried).  Unknown command codes reach the TPM, which answers them.
 * Same return convention as rm_process().
 */
int rm_process_raw(Rm *rm, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t rsp_cap,
		   size_t *ret_rsp_len);

/* Errno values counted one by one; anything else counts as "other". */
typedef enum RmErrnoIndex {
	RM_ERR_EINVAL,
	RM_ERR_ENOMEM,
	RM_ERR_EFAULT,
	RM_ERR_ENOENT,
	RM_ERR_ENODATA,
	RM_ERR_ETIME,
	RM_ERR_EIO,
	RM_ERR_EPIPE,
	RM_ERR_OTHER,
	RM_ERR_COUNT
} RmErrnoIndex;

typedef struct RmStats {
	uint64_t spaces_open;
	uint64_t spaces_freed;
	uint64_t client_commands;  /* rm_process() calls */
	uint64_t synthesized;	   /* answered by the RM itself (H3) */
	uint64_t backend_commands; /* everything sent to the TPM, retries included */
	uint64_t context_loads;	   /* swap-in */
	uint64_t context_saves;	   /* swap-out */
	uint64_t flushes;	   /* FlushContext sent by the RM */
	uint64_t forgotten_objects;
	uint64_t forgotten_sessions;
	uint64_t errors[RM_ERR_COUNT];
} RmStats;

typedef struct RmSpaceStats {
	uint64_t client_commands;
	uint64_t backend_commands;
	unsigned int objects;  /* slots in use */
	unsigned int sessions; /* sessions tracked */
} RmSpaceStats;

void rm_get_stats(Rm *rm, RmStats *ret);
void rm_space_get_stats(RmSpace *space, RmSpaceStats *ret);
/* The counter index of @err (a positive errno). */
RmErrnoIndex rm_errno_index(int err);

/*
 * Run @fn with the backend between two client commands (for the daemon's introspection:
 * a raw GetCapability sees a consistent TPM).  Returns what @fn returns.
 */
int rm_with_backend(Rm *rm, int (*fn)(TpmBackend *be, void *user), void *user);

#endif
