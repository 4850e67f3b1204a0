/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inside the resource manager.  The data model is the kernel's (tpm2-space.c): each space
 * keeps a table of object slots and one of session handles, plus two buffers of packed
 * TPMS_CONTEXT bodies; each command runs on a work copy of them that is committed back
 * only when the whole command succeeded.
 */
#ifndef TPMRM_RM_INTERNAL_H
#define TPMRM_RM_INTERNAL_H

#include "rm.h"

/* Object slot markers (spec section 1): free, and saved but not loaded. */
#define RM_SLOT_FREE  0u
#define RM_SLOT_SAVED 0xFFFFFFFFu

#define RM_HT_MASK	0xFF000000u
#define RM_HT_TRANSIENT 0x80000000u
#define RM_HT_HMAC	0x02000000u
#define RM_HT_POLICY	0x03000000u

/* TPMA_CC fields the RM uses (spec section 1). */
#define RM_CC_CHANDLES_SHIFT 25
#define RM_CC_CHANDLES_MASK  0x7u
#define RM_CC_RHANDLE	     (1u << 28)
#define RM_CC_VENDOR	     (1u << 29)
#define RM_CC_INDEX_MASK     0xFFFFu

/* Packed context bodies; grows on demand up to the Rm's context_bytes. */
typedef struct RmBuf {
	uint8_t *data;
	size_t len; /* bytes in use: the end of the last body written */
	size_t cap; /* bytes allocated */
} RmBuf;

typedef struct RmTables {
	uint32_t *context_tbl; /* max_objects slots: RM_SLOT_FREE, RM_SLOT_SAVED or a phandle */
	uint32_t *session_tbl; /* max_sessions session handles, 0 when unused */
	RmBuf context_buf;
	RmBuf session_buf;
} RmTables;

/*
 * How a space's entities are made resident around a command.  The eager strategy is the
 * kernel's: everything in before (I1), everything out after (I6).  A lazy strategy can
 * replace it without touching the command path.
 */
typedef struct RmSwapOps {
	const char *name;
	/* I1: load the work copy's objects and sessions; on failure the work copy has been
	 * flushed from the TPM as the kernel does, and the errno is returned. */
	int (*swap_in)(Rm *rm, RmTables *work);
	/* I6: save what is resident and evict the objects; on failure, as swap_in. */
	int (*swap_out)(Rm *rm, RmTables *work);
	/* I12: after a failure, flush every resident object and every session. */
	void (*flush)(Rm *rm, RmTables *work);
} RmSwapOps;

extern const RmSwapOps rm_swap_eager;

struct RmSpace {
	Rm *rm;
	uint64_t id;
	RmCaller caller;
	RmTables tables;
	uint64_t client_commands;
	uint64_t backend_commands;
};

struct Rm {
	GMutex lock; /* every public call on this Rm, whole commands included */
	TpmBackend *backend;
	RmOptions opts;
	const RmSwapOps *swap;

	uint32_t *cc_attrs; /* H1: TPMA_CC of each command the TPM implements */
	size_t nr_commands;

	RmTables work;	  /* the command's work copy (the kernel's chip->work_space) */
	RmSpace *current; /* the space whose command runs, for its counters */
	/* Space bookkeeping has its own lock: an open must not wait for a TPM command (A1). */
	GMutex space_lock; /* @next_space_id, @stats.spaces_open, @stats.spaces_freed */
	uint64_t next_space_id;
	RmStats stats;

	uint8_t cmd[RM_BUF_MAX];     /* the client command being translated */
	uint8_t own_rsp[RM_BUF_MAX]; /* responses to the RM's own commands */
};

/* rm-cc.c */
int rm_cc_table_load(Rm *rm);
/* H2: the TPMA_CC of @cc, or false when the TPM does not implement it. */
bool rm_cc_find(const Rm *rm, uint32_t cc, uint32_t *ret_attrs);

/* rm-context.c: one TPM command each, as the kernel's tpm-interface.c and tpm2-space.c */
int rm_transmit(Rm *rm, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t rsp_cap,
		size_t *ret_rsp_len);
int rm_context_load(Rm *rm, RmBuf *buf, size_t *offset, uint32_t *ret_handle);
int rm_context_save(Rm *rm, uint32_t handle, RmBuf *buf, size_t *offset);
void rm_context_flush(Rm *rm, uint32_t handle);
uint32_t rm_rc_value(uint32_t rc);

/* rm-space.c */
void rm_tables_init(RmTables *t, const RmOptions *opts, bool full);
void rm_tables_clear(RmTables *t);
void rm_tables_copy(RmTables *dst, const RmTables *src, const RmOptions *opts);
int rm_map_command(Rm *rm, uint32_t attrs, uint8_t *cmd);
int rm_map_response_header(Rm *rm, uint32_t attrs, uint8_t *rsp, size_t len);
int rm_map_response_body(Rm *rm, uint32_t cc, uint8_t *rsp, size_t *len);
void rm_count_errno(Rm *rm, int r);

#endif
