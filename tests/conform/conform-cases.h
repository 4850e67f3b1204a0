/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The conformance cases of tpmrm-uapi.md section 5, one function per case. */
#ifndef TPMRM_CONFORM_CASES_H
#define TPMRM_CONFORM_CASES_H

#include "conform.h"

/* Open and close (conform-cases-io.c; 3-5 in conform-cases-rm.c) */
Result case_open_many(Conform *c, CaseResult *res);
Result case_tpm0_exclusive(Conform *c, CaseResult *res);
Result case_close_flushes_objects(Conform *c, CaseResult *res);
Result case_close_flushes_sessions(Conform *c, CaseResult *res);
Result case_client_saved_session(Conform *c, CaseResult *res);

/* write() */
Result case_write_too_short(Conform *c, CaseResult *res);
Result case_write_too_big(Conform *c, CaseResult *res);
Result case_write_header_exceeds(Conform *c, CaseResult *res);
Result case_write_trailing_bytes(Conform *c, CaseResult *res);
Result case_write_size_zero(Conform *c, CaseResult *res);
Result case_write_busy(Conform *c, CaseResult *res);
Result case_write_after_partial_read(Conform *c, CaseResult *res);
Result case_invalid_cc(Conform *c, CaseResult *res);
Result case_vendor_cc(Conform *c, CaseResult *res);
Result case_tpm_error_is_response(Conform *c, CaseResult *res);

/* read() */
Result case_read_idle(Conform *c, CaseResult *res);
Result case_read_whole(Conform *c, CaseResult *res);
Result case_read_header_then_rest(Conform *c, CaseResult *res);
Result case_read_byte_by_byte(Conform *c, CaseResult *res);
Result case_read_zero_length(Conform *c, CaseResult *res);
Result case_response_timeout(Conform *c, CaseResult *res);
Result case_timeout_after_partial_read(Conform *c, CaseResult *res);

/* Other syscalls */
Result case_lseek(Conform *c, CaseResult *res);
Result case_pread(Conform *c, CaseResult *res);
Result case_pwrite(Conform *c, CaseResult *res);
Result case_ioctl(Conform *c, CaseResult *res);

/* poll() */
Result case_poll_idle(Conform *c, CaseResult *res);
Result case_poll_response(Conform *c, CaseResult *res);
Result case_poll_partial(Conform *c, CaseResult *res);
Result case_poll_consumed(Conform *c, CaseResult *res);
Result case_poll_no_err_hup(Conform *c, CaseResult *res);

/* O_NONBLOCK */
Result case_nonblock_write(Conform *c, CaseResult *res);
Result case_nonblock_busy(Conform *c, CaseResult *res);
Result case_nonblock_async_error(Conform *c, CaseResult *res);
Result case_nonblock_sync_einval(Conform *c, CaseResult *res);
Result case_nonblock_toggle(Conform *c, CaseResult *res);

/* Resource manager (conform-cases-rm.c) */
Result case_object_slots(Conform *c, CaseResult *res);
Result case_object_slot_reuse(Conform *c, CaseResult *res);
Result case_flush_bad_vhandle(Conform *c, CaseResult *res);
Result case_spaces_isolated(Conform *c, CaseResult *res);
Result case_get_handles_stepwise(Conform *c, CaseResult *res);
Result case_persistent_unmodified(Conform *c, CaseResult *res);
Result case_session_slots(Conform *c, CaseResult *res);
Result case_session_survives(Conform *c, CaseResult *res);
Result case_session_loss_on_error(Conform *c, CaseResult *res);
Result case_cross_fd_session_flush(Conform *c, CaseResult *res);
Result case_context_save_load(Conform *c, CaseResult *res);
Result case_context_load_full(Conform *c, CaseResult *res);
Result case_commands_unfiltered(Conform *c, CaseResult *res);
Result case_invalid_cc_keeps_sessions(Conform *c, CaseResult *res);
Result case_context_gap(Conform *c, CaseResult *res);

/* The /dev/tpm0 counterparts of cases 3, 4, 34 and 37 (conform-cases-tpm0.c) */
Result case_tpm0_close_keeps_objects(Conform *c, CaseResult *res);
Result case_tpm0_close_keeps_sessions(Conform *c, CaseResult *res);
Result case_tpm0_nonblock_tpm_error(Conform *c, CaseResult *res);
Result case_tpm0_handles_physical(Conform *c, CaseResult *res);

#endif
