/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test-util.h"

char *test_tmpdir_new(const char *tag)
{
	g_autofree char *tmpl = g_strdup_printf("tpmrm-%s-XXXXXX", tag);
	GError *error = NULL;
	char *dir = g_dir_make_tmp(tmpl, &error);

	if (!dir)
		g_error("cannot make a temporary directory: %s", error->message);
	return dir;
}

static void remove_tree(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *name;

	if (d) {
		while ((name = g_dir_read_name(d))) {
			g_autofree char *child = g_build_filename(path, name, NULL);

			if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
			    !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
				remove_tree(child);
			else
				g_unlink(child);
		}
		g_dir_close(d);
	}
	g_rmdir(path);
}

void test_tmpdir_remove(char *dir)
{
	if (dir)
		remove_tree(dir);
	g_free(dir);
}

int test_waitpid_timeout(pid_t pid, unsigned int timeout_ms)
{
	int status;

	for (unsigned int waited = 0; waited <= timeout_ms; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		g_usleep(10000);
	}
	return -1;
}

static const TSS2L_SYS_AUTH_COMMAND pw_auth = {
	.count = 1,
	.auths = { { .sessionHandle = TPM2_RH_PW } },
};

TSS2_RC test_get_random(TSS2_SYS_CONTEXT *sys, uint16_t n, uint8_t *out)
{
	TPM2B_DIGEST bytes = { .size = 0 };
	TSS2_RC rc = Tss2_Sys_GetRandom(sys, NULL, n, &bytes, NULL);

	if (rc == TSS2_RC_SUCCESS && out)
		memcpy(out, bytes.buffer, bytes.size);
	if (rc == TSS2_RC_SUCCESS && bytes.size != n)
		return TSS2_SYS_RC_MALFORMED_RESPONSE;
	return rc;
}

TSS2_RC test_create_primary_ecc(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE *ret_handle)
{
	TPM2B_SENSITIVE_CREATE sens = { .size = 0 };
	TPM2B_PUBLIC pub = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN |
					    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
					    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
			.parameters.eccDetail = {
				.symmetric = { .algorithm = TPM2_ALG_AES,
					       .keyBits.aes = 128,
					       .mode.aes = TPM2_ALG_CFB },
				.scheme.scheme = TPM2_ALG_NULL,
				.curveID = TPM2_ECC_NIST_P256,
				.kdf.scheme = TPM2_ALG_NULL,
			},
		},
	};
	TPM2B_DATA outside = { .size = 0 };
	TPML_PCR_SELECTION pcrs = { .count = 0 };
	TPM2B_PUBLIC out_pub = { .size = 0 };
	TPM2B_CREATION_DATA cdata = { .size = 0 };
	TPM2B_DIGEST chash = { .size = 0 };
	TPMT_TK_CREATION ticket = { .tag = 0 };
	TPM2B_NAME name = { .size = 0 };
	TSS2L_SYS_AUTH_RESPONSE rsp_auth;

	return Tss2_Sys_CreatePrimary(sys, TPM2_RH_OWNER, &pw_auth, &sens, &pub, &outside, &pcrs,
				      ret_handle, &out_pub, &cdata, &chash, &ticket, &name,
				      &rsp_auth);
}

TSS2_RC test_nv_define(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE index, uint16_t size)
{
	TPM2B_AUTH auth = { .size = 0 };
	TPM2B_NV_PUBLIC pub = {
		.nvPublic = {
			.nvIndex = index,
			.nameAlg = TPM2_ALG_SHA256,
			.attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA,
			.dataSize = size,
		},
	};
	TSS2L_SYS_AUTH_RESPONSE rsp_auth;

	return Tss2_Sys_NV_DefineSpace(sys, TPM2_RH_OWNER, &pw_auth, &auth, &pub, &rsp_auth);
}

TSS2_RC test_nv_write(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE index, const uint8_t *data, uint16_t len)
{
	TPM2B_MAX_NV_BUFFER buf = { .size = len };
	TSS2L_SYS_AUTH_RESPONSE rsp_auth;

	memcpy(buf.buffer, data, len);
	return Tss2_Sys_NV_Write(sys, TPM2_RH_OWNER, index, &pw_auth, &buf, 0, &rsp_auth);
}

TSS2_RC test_nv_read(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE index, uint16_t len, uint8_t *out)
{
	TPM2B_MAX_NV_BUFFER buf = { .size = 0 };
	TSS2L_SYS_AUTH_RESPONSE rsp_auth;
	TSS2_RC rc;

	rc = Tss2_Sys_NV_Read(sys, TPM2_RH_OWNER, index, &pw_auth, len, 0, &buf, &rsp_auth);
	if (rc == TSS2_RC_SUCCESS) {
		if (buf.size != len)
			return TSS2_SYS_RC_MALFORMED_RESPONSE;
		memcpy(out, buf.buffer, len);
	}
	return rc;
}

TSS2_RC test_pcr_extend_sha256(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE pcr, uint8_t fill)
{
	TPML_DIGEST_VALUES digests = { .count = 1 };
	TSS2L_SYS_AUTH_RESPONSE rsp_auth;

	digests.digests[0].hashAlg = TPM2_ALG_SHA256;
	memset(digests.digests[0].digest.sha256, fill, TPM2_SHA256_DIGEST_SIZE);
	return Tss2_Sys_PCR_Extend(sys, pcr, &pw_auth, &digests, &rsp_auth);
}

TSS2_RC test_pcr_read_sha256(TSS2_SYS_CONTEXT *sys, TPM2_HANDLE pcr, uint8_t out[32])
{
	TPML_PCR_SELECTION sel = { .count = 1 };
	UINT32 counter;
	TPML_PCR_SELECTION out_sel;
	TPML_DIGEST values = { .count = 0 };
	TSS2_RC rc;

	sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel.pcrSelections[0].sizeofSelect = 3;
	sel.pcrSelections[0].pcrSelect[pcr / 8] = (uint8_t)(1u << (pcr % 8));
	rc = Tss2_Sys_PCR_Read(sys, NULL, &sel, &counter, &out_sel, &values, NULL);
	if (rc == TSS2_RC_SUCCESS) {
		if (values.count != 1 || values.digests[0].size != 32)
			return TSS2_SYS_RC_MALFORMED_RESPONSE;
		memcpy(out, values.digests[0].buffer, 32);
	}
	return rc;
}
