/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rules of the fault-injecting backend (--backend fault:RULES:SPEC): which response
 * of the wrapped TPM to spoil, and how.  Parsed once; the wrapper counts commands against
 * them.
 *
 *   RULES = RULE[,RULE]...
 *   RULE  = KIND[/CC][@WHEN] | slow-ms=MS | seed=N
 *   KIND  = truncate | lie-size | garbage | empty | noise | no-response | eio
 *           | slow=MS | random=PERCENT
 *   CC    = a command code (0x17b or 379): the rule counts only commands with that code
 *   WHEN  = N | N-M | N+ | %K | *   (the N-th counted command, N to M, N on, every K-th,
 *           all; the default is *)
 */
#ifndef TPMRM_BACKEND_FAULT_H
#define TPMRM_BACKEND_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum TpmFaultKind {
	TPM_FAULT_TRUNCATE,    /* half of the response's bytes: -EFAULT */
	TPM_FAULT_LIE_SIZE,    /* header size one more than the bytes sent: -EFAULT */
	TPM_FAULT_GARBAGE,     /* random bytes, header size wrong: -EFAULT */
	TPM_FAULT_EMPTY,       /* no bytes at all: -EFAULT */
	TPM_FAULT_NOISE,       /* tag and size kept, rc and body random: well framed */
	TPM_FAULT_NO_RESPONSE, /* the TPM ran the command, nothing came back: -ETIME */
	TPM_FAULT_EIO,	       /* the command never reached the TPM: -EIO */
	TPM_FAULT_SLOW,	       /* delay the command by arg ms, then run it normally */
	TPM_FAULT_RANDOM,      /* with arg % probability, one of the first seven kinds */
} TpmFaultKind;

#define TPM_FAULT_MALFORMING_KINDS 7 /* TRUNCATE .. EIO: what RANDOM picks from */
#define TPM_FAULT_MAX_RULES	   64
#define TPM_FAULT_MAX_SLOW_MS	   600000u
#define TPM_FAULT_WHEN_NO_END	   UINT64_MAX

typedef struct TpmFaultRule {
	TpmFaultKind kind;
	unsigned int arg; /* SLOW: milliseconds; RANDOM: percent, 1 to 100 */
	bool any_cc;	  /* counts every command; else only those with code @cc */
	uint32_t cc;
	/* The counted commands it applies to, from 1: @first to @last, or every @every-th. */
	uint64_t first;
	uint64_t last;
	uint64_t every;
} TpmFaultRule;

typedef struct TpmFaultPlan {
	TpmFaultRule *rules;
	size_t n_rules;
	uint32_t seed; /* of the random bytes and RANDOM's choices (default 1) */
} TpmFaultPlan;

/*
 * Parse RULES.  0 and *ret (clear it with tpm_fault_plan_clear()), or -EINVAL and a
 * message naming the bad rule in *ret_error (when not NULL; free it with g_free).
 */
int tpm_fault_plan_parse(const char *text, TpmFaultPlan *ret, char **ret_error);
void tpm_fault_plan_clear(TpmFaultPlan *plan);

/* Whether @rule applies to the @n-th command it counted (n >= 1). */
bool tpm_fault_rule_due(const TpmFaultRule *rule, uint64_t n);

/* "truncate", "lie-size", ... */
const char *tpm_fault_kind_name(TpmFaultKind kind);

#endif
