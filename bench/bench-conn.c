/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Connections.  The in-process one calls the project's own libtpms backend
 * (tpm_backend_transmit(): the same code the daemon runs behind its resource manager);
 * every other one goes through a tss2 TCTI, as real clients do: the device TCTI on a
 * tpmrm-cuse node (write, poll, read 10, poll, read the rest), the tabrmd TCTI to
 * tpm2-abrmd, the swtpm TCTI to a bare swtpm.
 */
#include <errno.h>
#include <fcntl.h>
#include <tss2/tss2_tcti.h>
#include <tss2/tss2_tctildr.h>

#include <unistd.h>

#include "bench.h"

struct BenchConn {
	TpmBackend *be;		 /* in-process, borrowed */
	TSS2_TCTI_CONTEXT *tcti; /* or a TCTI, owned */
	int fd;			 /* or a file, owned; -1 otherwise */
	uint32_t tss_rc;
};

BenchConn *bench_conn_inproc_new(TpmBackend *be)
{
	BenchConn *c = g_new0(BenchConn, 1);

	c->be = be;
	c->fd = -1;
	return c;
}

int bench_conn_tcti_new(const char *conf, BenchConn **ret, char **ret_error)
{
	TSS2_TCTI_CONTEXT *tcti = NULL;
	TSS2_RC rc;

	rc = Tss2_TctiLdr_Initialize(conf, &tcti);
	if (rc != TSS2_RC_SUCCESS) {
		if (ret_error)
			*ret_error = g_strdup_printf("cannot open TCTI \"%s\": tss2 rc 0x%08x",
						     conf, rc);
		return -EIO;
	}
	*ret = g_new0(BenchConn, 1);
	(*ret)->tcti = tcti;
	(*ret)->fd = -1;
	return 0;
}

int bench_conn_fd_new(const char *path, BenchConn **ret, char **ret_error)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return tpm_backend_error(ret_error, -errno, "cannot open %s: %s", path,
					 g_strerror(errno));
	*ret = g_new0(BenchConn, 1);
	(*ret)->fd = fd;
	return 0;
}

/* A whole command written at once, a whole response read at once, as on /dev/tpmrm0. */
static int fd_transmit(int fd, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t rsp_cap,
		       size_t *ret_len)
{
	ssize_t n;

	n = write(fd, cmd, cmd_len);
	if (n != (ssize_t)cmd_len)
		return n < 0 ? -errno : -EIO;
	n = read(fd, rsp, rsp_cap);
	if (n < 0)
		return -errno;
	*ret_len = (size_t)n;
	return tpm2_wire_response_check(rsp, (size_t)n) == 0 ? 0 : -EFAULT;
}

int bench_conn_transmit(BenchConn *c, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			size_t rsp_cap, size_t *ret_len)
{
	size_t size = rsp_cap;
	TSS2_RC rc;

	if (c->be)
		return tpm_backend_transmit(c->be, cmd, cmd_len, rsp, rsp_cap, ret_len);
	if (c->fd >= 0)
		return fd_transmit(c->fd, cmd, cmd_len, rsp, rsp_cap, ret_len);

	rc = Tss2_Tcti_Transmit(c->tcti, cmd_len, cmd);
	if (rc == TSS2_RC_SUCCESS)
		rc = Tss2_Tcti_Receive(c->tcti, &size, rsp, TSS2_TCTI_TIMEOUT_BLOCK);
	if (rc != TSS2_RC_SUCCESS) {
		c->tss_rc = rc;
		return -EIO;
	}
	*ret_len = size;
	return 0;
}

uint32_t bench_conn_error(const BenchConn *c)
{
	return c->tss_rc;
}

void bench_conn_free(BenchConn *c)
{
	if (!c)
		return;
	if (c->tcti)
		Tss2_TctiLdr_Finalize(&c->tcti);
	if (c->fd >= 0)
		close(c->fd);
	g_free(c);
}
