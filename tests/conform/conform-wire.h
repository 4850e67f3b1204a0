/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Raw TPM 2.0 commands built byte by byte (no TSS), and bounds-checked parsers for their
 * responses.  Numbers are from TPM 2.0 Part 2 (structures) and Part 3 (commands).
 */
#ifndef TPMRM_CONFORM_WIRE_H
#define TPMRM_CONFORM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conform.h"

#define TPM_HEADER_SIZE 10

#define TPM_ST_NO_SESSIONS 0x8001
#define TPM_ST_SESSIONS	   0x8002

#define TPM_CC_EVICT_CONTROL	  0x00000120
#define TPM_CC_CREATE_PRIMARY	  0x00000131
#define TPM_CC_CONTEXT_LOAD	  0x00000161
#define TPM_CC_CONTEXT_SAVE	  0x00000162
#define TPM_CC_FLUSH_CONTEXT	  0x00000165
#define TPM_CC_READ_PUBLIC	  0x00000173
#define TPM_CC_START_AUTH_SESSION 0x00000176
#define TPM_CC_GET_CAPABILITY	  0x0000017a
#define TPM_CC_GET_RANDOM	  0x0000017b
#define TPM_CC_POLICY_PCR	  0x0000017f
#define TPM_CC_POLICY_GET_DIGEST  0x00000189

#define TPM_CAP_HANDLES	       1
#define TPM_CAP_COMMANDS       2
#define TPM_CAP_TPM_PROPERTIES 6
#define TPM_PT_CONTEXT_GAP_MAX 0x00000114

#define TPM_RH_OWNER 0x40000001
#define TPM_RH_NULL  0x40000007
#define TPM_RS_PW    0x40000009

#define TPM_HT_MASK	      0xff000000u
#define TPM_HT_TRANSIENT      0x80000000u
#define TPM_HT_PERSISTENT     0x81000000u
#define TPM_HT_LOADED_SESSION 0x02000000u /* also the HMAC session range */
#define TPM_HT_SAVED_SESSION  0x03000000u /* also the policy session range */
#define TPM_HT_HMAC_SESSION   0x02000000u
#define TPM_HT_POLICY_SESSION 0x03000000u
#define TPM_HANDLE_INDEX(h)   ((h)&0x00ffffffu)

#define TPM_SE_HMAC   0x00
#define TPM_SE_POLICY 0x01

#define TPM_RC_SUCCESS	      0x000
#define TPM_RC_CONTEXT_GAP    0x901
#define TPM_RC_OBJECT_MEMORY  0x902
#define TPM_RC_SESSION_MEMORY 0x903
#define TPM_RC_RETRY	      0x922
#define RM_RC_COMMAND_CODE    0x000b0143 /* TPM2_RC_COMMAND_CODE | TSS2_RESMGR_TPM_RC_LAYER */

#define TPMA_CC_INDEX(a)    ((a)&0xffffu)
#define TPMA_CC_CHANDLES(a) (((a) >> 25) & 0x7u)
#define TPMA_CC_V	    0x20000000u

/* The virtual handle of object slot @i (spec section 1). */
#define RM_VHANDLE(i) (0x80000000u | (0x00ffffffu - (i)))

/* A command under construction.  Overflow is sticky and checked by the sender. */
typedef struct TpmCmd {
	const char *name; /* for logs and hang reports */
	uint8_t buf[CONFORM_BUF + 16];
	size_t len;
	bool overflow;
} TpmCmd;

typedef struct TpmRsp {
	uint8_t buf[CONFORM_BUF];
	size_t len;
	uint32_t rc;
} TpmRsp;

/* A list of handles, or of TPMA_CC values. */
typedef struct TpmList {
	uint32_t v[256];
	size_t n;
} TpmList;

/* Bounds-checked big-endian reader; errors are sticky. */
typedef struct TpmReader {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool err;
} TpmReader;

/* GetRandom(32): the spec's "GR32", and the first 12 bytes of its normal 44-byte response. */
extern const uint8_t TPM_GR32[12];
#define TPM_GR32_RSP_LEN 44

uint16_t tpm_get_u16(const uint8_t *p);
uint32_t tpm_get_u32(const uint8_t *p);

void tpm_cmd_begin(TpmCmd *cmd, const char *name, uint16_t tag, uint32_t cc);
void tpm_cmd_put_u8(TpmCmd *cmd, uint8_t v);
void tpm_cmd_put_u16(TpmCmd *cmd, uint16_t v);
void tpm_cmd_put_u32(TpmCmd *cmd, uint32_t v);
void tpm_cmd_put_bytes(TpmCmd *cmd, const void *p, size_t n);
/* A TPM2B: u16 size, then @n bytes. */
void tpm_cmd_put_tpm2b(TpmCmd *cmd, const void *p, uint16_t n);
/* authorizationSize and one password session (TPM_RS_PW) with an empty password. */
void tpm_cmd_put_pw_auth(TpmCmd *cmd);
/* Patch the header's size field with the final length. */
void tpm_cmd_end(TpmCmd *cmd);
/* Exactly @len bytes as given (may be malformed on purpose). */
void tpm_cmd_raw(TpmCmd *cmd, const char *name, const uint8_t *bytes, size_t len);

void tpm_cmd_get_random(TpmCmd *cmd, uint16_t n);
/*
 * An ECC NIST P-256 restricted decryption (storage) primary under TPM_RH_OWNER, password
 * session with empty auth, noDA.  @unique goes into unique.x, so different values give
 * different keys (primaries are derived from the template).
 */
void tpm_cmd_create_primary(TpmCmd *cmd, uint32_t unique);
void tpm_cmd_read_public(TpmCmd *cmd, uint32_t handle);
void tpm_cmd_flush_context(TpmCmd *cmd, uint32_t handle);
void tpm_cmd_context_save(TpmCmd *cmd, uint32_t handle);
/* @ctx is a TPMS_CONTEXT as a ContextSave response carries it after the header. */
void tpm_cmd_context_load(TpmCmd *cmd, const uint8_t *ctx, size_t len);
void tpm_cmd_get_capability(TpmCmd *cmd, uint32_t cap, uint32_t property, uint32_t count);
/* Unbound, unsalted, TPM_ALG_NULL symmetric, SHA-256; @type is TPM_SE_HMAC or _POLICY. */
void tpm_cmd_start_auth_session(TpmCmd *cmd, uint8_t type);
void tpm_cmd_policy_get_digest(TpmCmd *cmd, uint32_t session);
/* PolicyPCR over SHA-256 PCR @pcr with an empty pcrDigest (the TPM uses the current value). */
void tpm_cmd_policy_pcr(TpmCmd *cmd, uint32_t session, unsigned int pcr);
/* EvictControl(TPM_RH_OWNER, @object, @persistent) with an empty owner password. */
void tpm_cmd_evict_control(TpmCmd *cmd, uint32_t object, uint32_t persistent);

void tpm_rd_init(TpmReader *rd, const uint8_t *p, size_t len);
uint8_t tpm_rd_u8(TpmReader *rd);
uint16_t tpm_rd_u16(TpmReader *rd);
uint32_t tpm_rd_u32(TpmReader *rd);
/* A TPM2B: returns its body (or NULL) and sets *ret_len. */
const uint8_t *tpm_rd_tpm2b(TpmReader *rd, uint16_t *ret_len);
void tpm_rd_skip(TpmReader *rd, size_t n);

/* Response parsers: 0, or -CONFORM_E_BADRSP when @rsp is too short or inconsistent. */
int tpm_rsp_handle(const TpmRsp *rsp, uint32_t *ret_handle);
/* GetCapability: the u32 list of @cap (handles, or TPMA_CC for commands), appended. */
int tpm_rsp_cap_list(const TpmRsp *rsp, uint32_t cap, TpmList *out, bool *ret_more);
/* GetCapability(TPM_CAP_TPM_PROPERTIES): the value of @property, if listed first. */
int tpm_rsp_cap_property(const TpmRsp *rsp, uint32_t property, uint32_t *ret_value);
/* ContextSave: the TPMS_CONTEXT body and its savedHandle. */
int tpm_rsp_context(const TpmRsp *rsp, const uint8_t **ret_ctx, size_t *ret_len,
		    uint32_t *ret_saved_handle);
/* The TPM2B_PUBLIC of CreatePrimary (after handle and parameterSize) or of ReadPublic. */
int tpm_rsp_public(const TpmRsp *rsp, bool create_primary, const uint8_t **ret_pub,
		   uint16_t *ret_len);
/* PolicyGetDigest: the policy digest. */
int tpm_rsp_digest(const TpmRsp *rsp, const uint8_t **ret_digest, uint16_t *ret_len);

/* True for a GetRandom(32) success response of exactly 44 bytes. */
bool tpm_gr32_ok(const uint8_t *buf, size_t len);
/* True when @rc says the handle or session does not exist (TPM_RC_HANDLE or REFERENCE_Hx/Sx). */
bool tpm_rc_is_handle_error(uint32_t rc);
/* True when @rc is an authorization failure (the owner hierarchy has a password). */
bool tpm_rc_is_auth_error(uint32_t rc);

bool tpm_list_has(const TpmList *l, uint32_t v);
/* Compare the index bits only: TPMs list sessions in either session range. */
bool tpm_list_has_index(const TpmList *l, uint32_t handle);
/* "0x80ffffff 0x80fffffe" into @buf (truncated with "..."). */
void tpm_list_format(const TpmList *l, char *buf, size_t cap);

#endif
