/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libtpms backend: a TPM 2.0 in this process.
 *
 * libtpms keeps one TPM per process (the TPMLIB_* calls take no handle), so at most one
 * such backend exists at a time, and its NV callbacks reach it through the one static
 * pointer below.  Its NV state goes through TPMLIB_RegisterCallbacks, never to ./NVChip:
 * into memory, or into files in a state directory.  A file is replaced atomically
 * (temporary file, fsync, rename, fsync of the directory), so a crash at any instant leaves
 * either the old or the new state, never a torn one; an flock on DIR/lock keeps a second
 * process off the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <libtpms/tpm_error.h>
#include <libtpms/tpm_library.h>
#include <libtpms/tpm_nvfilename.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "tpm-backend.h"

typedef struct LibtpmsBackend {
	TpmBackend base;
	char *state_dir;     /* NULL: NV state lives in @mem */
	GHashTable *mem;     /* name -> GBytes, when there is no state directory */
	int lock_fd;	     /* flock'ed DIR/lock, or -1 */
	bool initialised;    /* TPMLIB_MainInit succeeded: TPMLIB_Terminate owed */
	bool started;	     /* TPM2_Startup succeeded: TPM2_Shutdown owed */
	unsigned char *rbuf; /* libtpms's response buffer, grown by TPMLIB_Process */
	uint32_t rbuf_size;
	uint8_t cbuf[TPM2_WIRE_BUF_MAX];
} LibtpmsBackend;

/* The libtpms in use in this process, if any: libtpms itself is process-global. */
static LibtpmsBackend *libtpms_active;

static char *state_path(const LibtpmsBackend *lb, const char *name, const char *suffix)
{
	return g_strdup_printf("%s/tpm2-%s%s", lb->state_dir, name, suffix);
}

static TPM_RESULT cb_nvram_init(void)
{
	return TPM_SUCCESS;
}

static TPM_RESULT cb_nvram_loaddata(unsigned char **data, uint32_t *length, uint32_t tpm_number,
				    const char *name)
{
	LibtpmsBackend *lb = libtpms_active;
	g_autofree char *path = NULL;
	g_autofree char *contents = NULL;
	GBytes *bytes;
	gsize len;

	(void)tpm_number;
	if (!lb->state_dir) {
		bytes = g_hash_table_lookup(lb->mem, name);
		if (!bytes)
			return TPM_RETRY; /* absent: libtpms manufactures a new TPM */
		len = g_bytes_get_size(bytes);
		contents = g_memdup2(g_bytes_get_data(bytes, NULL), len);
	} else {
		path = state_path(lb, name, "");
		if (!g_file_get_contents(path, &contents, &len, NULL))
			return g_file_test(path, G_FILE_TEST_EXISTS) ? TPM_FAIL : TPM_RETRY;
	}
	if (len > UINT32_MAX)
		return TPM_FAIL;
	/* libtpms frees this with free(). */
	*data = malloc(len ? len : 1);
	if (!*data)
		return TPM_FAIL;
	memcpy(*data, contents, len);
	*length = (uint32_t)len;
	return TPM_SUCCESS;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Replace DIR/tpm2-NAME by @data: old or new content at every instant, never a mix. */
static int store_file(const LibtpmsBackend *lb, const char *name, const unsigned char *data,
		      uint32_t length)
{
	g_autofree char *tmp = state_path(lb, name, ".tmp");
	g_autofree char *path = state_path(lb, name, "");
	int fd, r;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, data, length);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	return fsync_dir(lb->state_dir);
}

static TPM_RESULT cb_nvram_storedata(const unsigned char *data, uint32_t length,
				     uint32_t tpm_number, const char *name)
{
	LibtpmsBackend *lb = libtpms_active;
	int r;

	(void)tpm_number;
	if (!lb->state_dir) {
		g_hash_table_replace(lb->mem, g_strdup(name), g_bytes_new(data, length));
		return TPM_SUCCESS;
	}
	r = store_file(lb, name, data, length);
	if (r < 0) {
		g_debug("libtpms: cannot store %s in %s: %s", name, lb->state_dir, g_strerror(-r));
		return TPM_FAIL;
	}
	return TPM_SUCCESS;
}

static TPM_RESULT cb_nvram_deletename(uint32_t tpm_number, const char *name, TPM_BOOL must_exist)
{
	LibtpmsBackend *lb = libtpms_active;
	g_autofree char *path = NULL;
	bool existed;

	(void)tpm_number;
	if (!lb->state_dir) {
		existed = g_hash_table_remove(lb->mem, name);
	} else {
		path = state_path(lb, name, "");
		existed = unlink(path) == 0;
		if (existed)
			fsync_dir(lb->state_dir);
	}
	return existed || !must_exist ? TPM_SUCCESS : TPM_FAIL;
}

static TPM_RESULT cb_io_init(void)
{
	return TPM_SUCCESS;
}

static TPM_RESULT cb_io_getlocality(TPM_MODIFIER_INDICATOR *locality, uint32_t tpm_number)
{
	(void)tpm_number;
	*locality = 0; /* the kernel sends user commands at locality 0 */
	return TPM_SUCCESS;
}

static TPM_RESULT cb_io_getphysicalpresence(TPM_BOOL *pp, uint32_t tpm_number)
{
	(void)tpm_number;
	*pp = FALSE;
	return TPM_SUCCESS;
}

static struct libtpms_callbacks libtpms_cbs = {
	.sizeOfStruct = sizeof(struct libtpms_callbacks),
	.tpm_nvram_init = cb_nvram_init,
	.tpm_nvram_loaddata = cb_nvram_loaddata,
	.tpm_nvram_storedata = cb_nvram_storedata,
	.tpm_nvram_deletename = cb_nvram_deletename,
	.tpm_io_init = cb_io_init,
	.tpm_io_getlocality = cb_io_getlocality,
	.tpm_io_getphysicalpresence = cb_io_getphysicalpresence,
};

static int libtpms_transmit(TpmBackend *be, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			    size_t rsp_cap, size_t *ret_rsp_len)
{
	LibtpmsBackend *lb = (LibtpmsBackend *)be;
	uint32_t rlen = 0;
	TPM_RESULT res;

	if (cmd_len > sizeof(lb->cbuf))
		return -EINVAL;
	/* TPMLIB_Process takes a mutable buffer; never hand it the caller's. */
	memcpy(lb->cbuf, cmd, cmd_len);
	res = TPMLIB_Process(&lb->rbuf, &rlen, &lb->rbuf_size, lb->cbuf, (uint32_t)cmd_len);
	if (res != TPM_SUCCESS) {
		g_debug("libtpms: TPMLIB_Process failed with 0x%08x", res);
		return -EIO;
	}
	if (rlen > rsp_cap)
		return -EFAULT;
	memcpy(rsp, lb->rbuf, rlen);
	*ret_rsp_len = rlen;
	return 0;
}

static int startup_rc(LibtpmsBackend *lb, bool shutdown, TPM2_SU type, uint32_t *ret_rc)
{
	uint8_t cmd[16], rsp[TPM2_WIRE_BUF_MAX];
	size_t len;
	int r;

	r = shutdown ? tpm2_wire_build_shutdown(cmd, sizeof(cmd), type, &len)
		     : tpm2_wire_build_startup(cmd, sizeof(cmd), type, &len);
	if (r == 0)
		r = tpm_backend_call(&lb->base, cmd, len, rsp, sizeof(rsp), &len, ret_rc);
	return r;
}

static void libtpms_destroy(TpmBackend *be)
{
	LibtpmsBackend *lb = (LibtpmsBackend *)be;
	uint32_t rc = 0;

	if (lb->started) {
		/* Orderly stop: libtpms writes the saved state to NV as part of this. */
		if (startup_rc(lb, true, TPM2_SU_STATE, &rc) < 0 || rc != TPM2_RC_SUCCESS)
			g_debug("libtpms: TPM2_Shutdown(STATE) failed (rc 0x%08x)", rc);
	}
	if (lb->initialised)
		TPMLIB_Terminate();
	if (libtpms_active == lb)
		libtpms_active = NULL;
	free(lb->rbuf);
	if (lb->mem)
		g_hash_table_unref(lb->mem);
	if (lb->lock_fd >= 0)
		close(lb->lock_fd); /* releases the flock */
	g_free(lb->state_dir);
	g_free(lb);
}

static const TpmBackendOps libtpms_ops = {
	.name = "libtpms",
	.transmit = libtpms_transmit,
	.cancel = NULL,
	.destroy = libtpms_destroy,
};

/* Create @dir if needed and take DIR/lock; -EBUSY (with the holder's pid) if held. */
static int lock_state_dir(LibtpmsBackend *lb, char **ret_error)
{
	g_autofree char *lock = g_build_filename(lb->state_dir, "lock", NULL);
	char pid[32] = "";
	ssize_t n;

	if (g_mkdir_with_parents(lb->state_dir, 0700) < 0)
		return tpm_backend_error(ret_error, -errno, "cannot create state directory %s: %s",
					 lb->state_dir, g_strerror(errno));
	lb->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lb->lock_fd < 0)
		return tpm_backend_error(ret_error, -errno, "cannot open lock file %s: %s", lock,
					 g_strerror(errno));
	if (flock(lb->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		n = pread(lb->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		g_strchomp(pid);
		if (e == EWOULDBLOCK)
			return tpm_backend_error(ret_error, -EBUSY,
						 "state directory %s is in use by another process "
						 "(pid %s holds %s)",
						 lb->state_dir, *pid ? pid : "unknown", lock);
		return tpm_backend_error(ret_error, -e, "cannot lock %s: %s", lock, g_strerror(e));
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(lb->lock_fd, 0) < 0 || pwrite(lb->lock_fd, pid, (size_t)n, 0) != n)
		g_debug("libtpms: cannot record pid in %s", lock);
	return 0;
}

/*
 * TPM2_Startup: STATE resumes what an orderly TPM2_Shutdown(STATE) saved; without such a
 * state the TPM refuses it, and CLEAR starts afresh.
 */
static int libtpms_startup(LibtpmsBackend *lb, char **ret_error)
{
	uint32_t rc = 0;
	int r;

	if (lb->state_dir) {
		r = startup_rc(lb, false, TPM2_SU_STATE, &rc);
		if (r == 0 && rc == TPM2_RC_SUCCESS) {
			g_debug("libtpms: resumed saved state from %s", lb->state_dir);
			return 0;
		}
	}
	r = startup_rc(lb, false, TPM2_SU_CLEAR, &rc);
	if (r < 0 || rc != TPM2_RC_SUCCESS)
		return tpm_backend_error(ret_error, r < 0 ? r : -EIO,
					 "libtpms: TPM2_Startup(CLEAR) failed (%s, rc 0x%08x)",
					 r < 0 ? g_strerror(-r) : "TPM error", rc);
	return 0;
}

static int libtpms_init(LibtpmsBackend *lb, char **ret_error)
{
	TPM_RESULT res;
	int r;

	if (lb->state_dir) {
		r = lock_state_dir(lb, ret_error);
		if (r < 0)
			return r;
	} else {
		lb->mem = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						(GDestroyNotify)g_bytes_unref);
	}
	res = TPMLIB_ChooseTPMVersion(TPMLIB_TPM_VERSION_2);
	if (res == TPM_SUCCESS)
		res = TPMLIB_RegisterCallbacks(&libtpms_cbs);
	if (res == TPM_SUCCESS)
		res = TPMLIB_MainInit();
	if (res != TPM_SUCCESS)
		return tpm_backend_error(
			ret_error, -EIO, "libtpms: cannot initialise the TPM%s%s (0x%08x)",
			lb->state_dir ? " from " : "", lb->state_dir ? lb->state_dir : "", res);
	lb->initialised = true;
	r = libtpms_startup(lb, ret_error);
	if (r < 0)
		return r;
	lb->started = true;
	return 0;
}

int tpm_backend_libtpms_new(const char *state_dir, TpmBackend **ret, char **ret_error)
{
	LibtpmsBackend *lb;
	int r;

	if (libtpms_active)
		return tpm_backend_error(ret_error, -EBUSY,
					 "libtpms is already in use in this process (one TPM per "
					 "process)");
	lb = g_new0(LibtpmsBackend, 1);
	lb->base.ops = &libtpms_ops;
	lb->lock_fd = -1;
	lb->state_dir = g_strdup(state_dir);
	libtpms_active = lb;

	r = libtpms_init(lb, ret_error);
	if (r < 0) {
		libtpms_destroy(&lb->base);
		return r;
	}
	*ret = &lb->base;
	return 0;
}
