/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers shared by the check tests: temporary directories and TPM workflows. */
#ifndef TPMRM_TEST_UTIL_H
#define TPMRM_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <tss2/tss2_sys.h>

/* A fresh directory under $TMPDIR (or /tmp); remove it with test_tmpdir_remove(). */
char *test_tmpdir_new(const char *tag);
/* Remove @dir and everything below it, then g_free() it.  NULL-safe. */
void test_tmpdir_remove(char *dir);

/* Wait up to @timeout_ms for @pid; returns its wait status, or -1 on a time-out. */
int test_waitpid_timeout(pid_t pid, unsigned int timeout_ms);

/* TPM helpers over tss2-sys.  Each returns the TPM's response code (or a TSS2 rc). */
TSS2_RC test_get_random(TSS2_SYS_CONTEXT *sys, uint16_t n, uint8_t *out);
/* An ECC P-256 restricted decryption (storage) primary in the owner hierarchy. */
TSS2_RC test_create_primary_ecc(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE *ret_handle);
/* An ordinary NV index with owner read/write, no DA: reboots never count against it. */
TSS2_RC test_nv_define(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE index, uint16_t size);
TSS2_RC test_nv_write(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE index, const uint8_t *data, uint16_t len);
TSS2_RC test_nv_read(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE index, uint16_t len, uint8_t *out);
TSS2_RC test_pcr_extend_sha256(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE pcr, uint8_t fill);
TSS2_RC test_pcr_read_sha256(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE pcr, uint8_t out[32]);

#endif
