/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The case table: tpmrm-uapi.md section 5, numbers and order as there.  With --tpm0
 * (spec 2.J) the CASE_TPM0 cases run as they are (some adapt to c->tpm0), four cases
 * check the tpm0 counterpart of their RM fact instead, and the rest are tpmrm only.
 */
#include "conform-cases.h"

const CaseDef conform_cases[CONFORM_NCASES] = {
	{ 1, 0, "open-many", case_open_many },
	{ 2, CASE_TPM0, "tpm0-exclusive", case_tpm0_exclusive },
	{ 3, 0, "close-flushes-objects", case_close_flushes_objects },
	{ 4, 0, "close-flushes-sessions", case_close_flushes_sessions },
	{ 5, 0, "client-saved-session", case_client_saved_session },
	{ 6, CASE_TPM0, "write-too-short", case_write_too_short },
	{ 7, CASE_TPM0, "write-too-big", case_write_too_big },
	{ 8, CASE_TPM0, "write-header-exceeds", case_write_header_exceeds },
	{ 9, CASE_TPM0, "write-trailing-bytes", case_write_trailing_bytes },
	{ 10, CASE_TPM0, "write-size-zero", case_write_size_zero },
	{ 11, CASE_TPM0, "write-busy", case_write_busy },
	{ 12, CASE_TPM0, "write-after-partial-read", case_write_after_partial_read },
	{ 13, CASE_TPM0, "invalid-cc", case_invalid_cc },
	{ 14, CASE_TPM0, "vendor-cc", case_vendor_cc },
	{ 15, CASE_TPM0, "tpm-error-is-response", case_tpm_error_is_response },
	{ 16, CASE_TPM0, "read-idle", case_read_idle },
	{ 17, CASE_TPM0, "read-whole", case_read_whole },
	{ 18, CASE_TPM0, "read-header-then-rest", case_read_header_then_rest },
	{ 19, CASE_TPM0, "read-byte-by-byte", case_read_byte_by_byte },
	{ 20, CASE_TPM0, "read-zero-length", case_read_zero_length },
	{ 21, CASE_SLOW | CASE_WAITS_TIMEOUT | CASE_TPM0, "response-timeout",
	  case_response_timeout },
	{ 22, CASE_SLOW | CASE_WAITS_TIMEOUT | CASE_TPM0, "timeout-after-partial-read",
	  case_timeout_after_partial_read },
	{ 23, CASE_TPM0, "lseek", case_lseek },
	{ 24, CASE_TPM0, "pread", case_pread },
	{ 25, CASE_TPM0, "pwrite", case_pwrite },
	{ 26, CASE_TPM0, "ioctl", case_ioctl },
	{ 27, CASE_TPM0, "poll-idle", case_poll_idle },
	{ 28, CASE_TPM0, "poll-response", case_poll_response },
	{ 29, CASE_TPM0, "poll-partial", case_poll_partial },
	{ 30, CASE_TPM0, "poll-consumed", case_poll_consumed },
	{ 31, CASE_TPM0, "poll-no-err-hup", case_poll_no_err_hup },
	{ 32, CASE_TPM0, "nonblock-write", case_nonblock_write },
	{ 33, CASE_TPM0, "nonblock-busy", case_nonblock_busy },
	{ 34, 0, "nonblock-async-error", case_nonblock_async_error },
	{ 35, CASE_TPM0, "nonblock-sync-einval", case_nonblock_sync_einval },
	{ 36, CASE_TPM0, "nonblock-toggle", case_nonblock_toggle },
	{ 37, 0, "object-slots", case_object_slots },
	{ 38, 0, "object-slot-reuse", case_object_slot_reuse },
	{ 39, 0, "flush-bad-vhandle", case_flush_bad_vhandle },
	{ 40, 0, "spaces-isolated", case_spaces_isolated },
	{ 41, 0, "get-handles-stepwise", case_get_handles_stepwise },
	{ 42, 0, "persistent-unmodified", case_persistent_unmodified },
	{ 43, 0, "session-slots", case_session_slots },
	{ 44, 0, "session-survives", case_session_survives },
	{ 45, 0, "session-loss-on-error", case_session_loss_on_error },
	{ 46, 0, "cross-fd-session-flush", case_cross_fd_session_flush },
	{ 47, 0, "context-save-load", case_context_save_load },
	{ 48, 0, "context-load-full", case_context_load_full },
	{ 49, 0, "commands-unfiltered", case_commands_unfiltered },
	{ 50, 0, "invalid-cc-keeps-sessions", case_invalid_cc_keeps_sessions },
	{ 51, CASE_SLOW | CASE_LONG, "context-gap", case_context_gap },
};

/* The tpm0 counterparts (conform-cases-tpm0.c): same numbers, other names. */
static const CaseDef tpm0_variants[] = {
	{ 3, 0, "close-keeps-objects", case_tpm0_close_keeps_objects },
	{ 4, 0, "close-keeps-sessions", case_tpm0_close_keeps_sessions },
	{ 34, 0, "nonblock-tpm-error", case_tpm0_nonblock_tpm_error },
	{ 37, 0, "handles-physical", case_tpm0_handles_physical },
};

const CaseDef *conform_case_for(const Conform *c, const CaseDef *def)
{
	size_t i;

	if (!c->tpm0 || (def->flags & CASE_TPM0))
		return def;
	for (i = 0; i < sizeof(tpm0_variants) / sizeof(tpm0_variants[0]); i++)
		if (tpm0_variants[i].no == def->no)
			return &tpm0_variants[i];
	return NULL;
}
