/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checks shared by the cases.  Each returns true when the node did what the spec says;
 * otherwise it fails (or, for a TPM that refuses our owner authorization, skips) the case
 * with a "saw X, spec expects Y" detail and returns false.
 */
#ifndef TPMRM_CONFORM_CHECK_H
#define TPMRM_CONFORM_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conform-io.h"
#include "conform.h"

/* Open the node: the fd, or a negative value with the case failed. */
int open_or_fail(Conform *c, CaseResult *res, int flags);

/* @what returned @r (a count or -errno); the spec expects @want (a count or -errno). */
bool expect_ret(CaseResult *res, const char *what, ssize_t r, ssize_t want);
/* A TPM transaction (@r from tpm_call) gave a response with rc 0. */
bool expect_rc0(CaseResult *res, const char *what, int r, uint32_t rc);
/* A TPM transaction gave a response whose rc says "no such handle or session". */
bool expect_handle_error(CaseResult *res, const char *what, int r, uint32_t rc);
/*
 * poll with every event bit and no wait gives exactly @want, and poll(POLLIN|POLLOUT)
 * gives @want's POLLIN/POLLOUT bits.  @when names the state for the detail.
 */
bool expect_poll(Conform *c, CaseResult *res, int fd, const char *when, short want);

/* "POLLIN|POLLRDNORM" */
Str poll_str(int mask);

/* Blocking write of GR32 that must return 12. */
bool send_gr32(Conform *c, CaseResult *res, int fd);
/* read(4096) that must return the whole 44-byte GR32 response. */
bool read_gr32(Conform *c, CaseResult *res, int fd, const char *what);
/* A read that must return 0 (nothing pending). */
bool read_nothing(Conform *c, CaseResult *res, int fd, const char *what);
/* fcntl O_NONBLOCK on or off, which must work. */
bool set_nonblock(Conform *c, CaseResult *res, int fd, bool on);
/* On an O_NONBLOCK fd: poll for POLLIN (up to CONFORM_OP_MS), which must come. */
bool wait_pollin(Conform *c, CaseResult *res, int fd, const char *what);

/*
 * CreatePrimary (storage key, @unique) that must succeed, with the response handle @want
 * unless @want is 0.  Skips the case when the owner hierarchy refuses the empty password.
 */
bool create_primary(Conform *c, CaseResult *res, int fd, uint32_t unique, uint32_t want,
		    uint32_t *ret_handle);
/* StartAuthSession of @type that must succeed with a session handle, returned untranslated. */
bool start_session(Conform *c, CaseResult *res, int fd, uint8_t type, uint32_t *ret_handle);

#endif
