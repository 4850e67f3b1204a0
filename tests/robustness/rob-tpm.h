/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rob-client: TPM operations over tss2-sys, each checking what came back.  Each returns
 * the tss2 result of the first command that failed (TSS2_RC_SUCCESS when all worked);
 * a successful response with wrong contents (a signature that does not verify, a digest
 * that differs, another client's key) fails the client at once.
 */
#ifndef TPMRM_ROB_TPM_H
#define TPMRM_ROB_TPM_H

#include "rob-client.h"

#define ROB_FIRST_VHANDLE 0x80FFFFFFu
#define ROB_MAX_OBJECTS	  3 /* the kernel's per-space limit, and libtpms's slots */

/* The transient objects a space holds, by slot (0x80FFFFFF - slot); 0 is a free slot. */
typedef struct RobSlots {
	uint32_t handle[ROB_MAX_OBJECTS];
} RobSlots;

/* The vhandle the RM gives the next object: the lowest free slot (I4); 0 when full. */
uint32_t rob_slots_next(const RobSlots *s);
/* A new object came back as @h: it must be the predicted vhandle. */
void rob_slots_add(RobSlots *s, uint32_t h, const char *what);
void rob_slots_remove(RobSlots *s, uint32_t h);
unsigned int rob_slots_count(const RobSlots *s);
bool rob_slots_has(const RobSlots *s, uint32_t h);

/* The empty-password session, for commands that need one authorisation. */
extern const TSS2L_SYS_AUTH_COMMAND rob_pw_auth;

/* GetRandom(@n): exactly @n bytes. */
TSS2_RC rob_get_random(RobConn *c, uint16_t n);
/*
 * An ECC P-256 storage primary (noDA) in the owner hierarchy; @tag makes it unique.
 * @ret_pub (may be NULL) gets its public area.
 */
TSS2_RC rob_create_primary(RobConn *c, RobSlots *s, uint32_t tag, uint32_t *ret_handle,
			   TPM2B_PUBLIC *ret_pub);
/* A noDA ECDSA P-256 signing key under @parent, loaded: *ret_pub is its public area. */
TSS2_RC rob_create_load_signer(RobConn *c, RobSlots *s, uint32_t parent, uint32_t tag,
			       TPM2B_PUBLIC *ret_pub, uint32_t *ret_handle);
/* Sign a random digest with @key and verify the signature with @pub. */
TSS2_RC rob_sign_verify(RobConn *c, uint32_t key, const TPM2B_PUBLIC *pub);
/* A SHA-256 hash sequence of @chunks random chunks; the digest must match. */
TSS2_RC rob_hash_sequence(RobConn *c, RobSlots *s, unsigned int chunks);
/* A policy session: PolicyPCR over PCRs 0-3, checked against the digest computed here. */
TSS2_RC rob_policy_pcr(RobConn *c);
/* GetCapability(TPM_CAP_HANDLES, transient): must list exactly this space's objects (I5). */
TSS2_RC rob_check_transients(RobConn *c, const RobSlots *s);
TSS2_RC rob_flush(RobConn *c, RobSlots *s, uint32_t handle);

/* Random bytes from this process's generator (not the TPM's). */
void rob_random_bytes(uint8_t *p, size_t n);
void rob_seed(uint32_t seed);
uint32_t rob_random_below(uint32_t n);

#endif
