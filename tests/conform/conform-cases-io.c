/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Cases 1-2 and 6-36: open, write, read, other syscalls, poll and O_NONBLOCK
 * (tpmrm-uapi.md sections 2.A-2.G, cases in section 5).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conform-back.h"
#include "conform-cases.h"
#include "conform-check.h"

#define POLL_IDLE    (POLLOUT | POLLWRNORM)
#define POLL_PENDING (POLLIN | POLLRDNORM)

/* Case 8's command: FlushContext(0xDEADBEEF), 14 bytes, header says 15. */
static const uint8_t short_cmd[14] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x00,
				       0x00, 0x01, 0x65, 0xde, 0xad, 0xbe, 0xef };
/* Case 34's command: FlushContext(0x80123456), a vhandle no space has. */
static const uint8_t bad_flush[14] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0e, 0x00,
				       0x00, 0x01, 0x65, 0x80, 0x12, 0x34, 0x56 };
/* Case 10's command: GR32 with header size 0. */
static const uint8_t size0_cmd[12] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x00,
				       0x00, 0x00, 0x01, 0x7b, 0x00, 0x20 };
/* Case 13's command, the RM's synthesised answer (H3) and a TPM's own answer (J2). */
static const uint8_t invalid_cc[10] = {
	0x80, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0xfe
};
static const uint8_t rm_rc_rsp[10] = { 0x80, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x0b, 0x01, 0x43 };
static const uint8_t tpm_rc_rsp[10] = {
	0x80, 0x01, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x43
};

/*
 * A command the node accepts in write and then fails with an errno (from write when
 * blocking, from read when O_NONBLOCK): on tpmrm FlushContext(0x80123456), EINVAL from
 * the RM (I2); on tpm0, which sends that to the TPM (J1), header size 0, ENODATA from the
 * transmit layer (B9).
 */
typedef struct ErrnoCmd {
	const uint8_t *bytes;
	size_t len;
	int err;
	const char *name;
} ErrnoCmd;

static ErrnoCmd errno_cmd(const Conform *c)
{
	if (c->tpm0)
		return (ErrnoCmd){ size0_cmd, sizeof(size0_cmd), ENODATA,
				   "GR32 with header size 0" };
	return (ErrnoCmd){ bad_flush, sizeof(bad_flush), EINVAL, "FlushContext(0x80123456)" };
}

/* Open in a child process; returns 0 or the child's -errno. */
static int open_in_child(Conform *c)
{
	int status;
	pid_t pid;

	conform_step(c, "open(%s) in a child process", c->path);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(c->path, O_RDWR | O_CLOEXEC);

		_exit(fd < 0 ? errno : 0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status))
		return -ECHILD;
	return -WEXITSTATUS(status);
}

Result case_open_many(Conform *c, CaseResult *res)
{
	int fd1, fd2, r;

	fd1 = open_or_fail(c, res, O_RDWR);
	if (fd1 < 0)
		return res->result;
	fd2 = node_open(c, O_RDWR);
	if (fd2 < 0) {
		node_close(c, fd1);
		return case_fail(res, "second open: saw %s, spec expects success (A1)",
				 errno_str(-fd2).s);
	}
	r = open_in_child(c);
	node_close(c, fd2);
	node_close(c, fd1);
	if (r < 0)
		return case_fail(res,
				 "open in another process: saw %s, spec expects success "
				 "(A1)",
				 errno_str(-r).s);
	return case_pass(res, "two opens in this process and one in another, all at once");
}

/* "success" or the errno name of an open's result. */
static Str open_str(int r)
{
	Str out = { .s = "success" };

	return r >= 0 ? out : errno_str(-r);
}

/*
 * --tpm0 (A2): a second open, in this process and in another, gives EBUSY; once the first
 * file is closed (tpm_release clears the bit: A6) the node opens again.
 */
static Result tpm0_exclusive(Conform *c, CaseResult *res)
{
	int64_t waited = 0;
	int fd1, fd2, r = 0;

	fd1 = open_or_fail(c, res, O_RDWR);
	if (fd1 < 0)
		return res->result;
	fd2 = node_open(c, O_RDWR);
	if (fd2 == -EBUSY)
		r = open_in_child(c);
	node_close(c, fd2);
	node_close(c, fd1);
	if (fd2 != -EBUSY)
		return case_fail(res,
				 "second open while one is open: saw %s, spec expects EBUSY (A2)",
				 open_str(fd2).s);
	if (r != -EBUSY)
		return case_fail(res,
				 "open in another process while this one holds the node: saw "
				 "%s, spec expects EBUSY (A2)",
				 open_str(r).s);
	fd1 = node_open_released(c, O_RDWR, &waited);
	node_close(c, fd1);
	if (fd1 < 0)
		return case_fail(res,
				 "open after the first file was closed: saw %s for %lld ms, spec "
				 "expects success (A6: close clears the exclusivity bit)",
				 open_str(fd1).s, (long long)waited);
	return case_pass_as(res, "ebusy",
			    "second open EBUSY, in this process and in another (A2); after the "
			    "close the node opened again (%lld ms later%s)",
			    (long long)waited,
			    waited && c->control ? ", after wait-spaces for the release" : "");
}

Result case_tpm0_exclusive(Conform *c, CaseResult *res)
{
	int fd1, fd2;

	if (c->tpm0)
		return tpm0_exclusive(c, res);
	fd1 = open_or_fail(c, res, O_RDWR);
	if (fd1 < 0)
		return res->result;
	fd2 = node_open(c, O_RDWR);
	node_close(c, fd2);
	node_close(c, fd1);
	if (fd2 >= 0)
		return case_skip(res, "not-exclusive",
				 "tpm0 personality only: a second open succeeded, so this "
				 "is a tpmrm node (A1)");
	if (fd2 == -EBUSY)
		return case_pass_as(res, "ebusy",
				    "tpm0 personality: the second open gave EBUSY (A2)");
	return case_fail(res,
			 "second open: saw %s, spec expects success (tpmrm) or EBUSY "
			 "(tpm0)",
			 errno_str(-fd2).s);
}

/* Write @len bytes of @buf on a fresh fd and expect @want. */
static Result write_expect(Conform *c, CaseResult *res, const uint8_t *buf, size_t len,
			   ssize_t want, const char *what)
{
	int fd = open_or_fail(c, res, O_RDWR);
	ssize_t r;

	if (fd < 0)
		return res->result;
	r = node_write(c, fd, buf, len);
	node_close(c, fd);
	if (!expect_ret(res, what, r, want))
		return res->result;
	return case_pass(res, "%s gave %s", what, ret_str(r).s);
}

Result case_write_too_short(Conform *c, CaseResult *res)
{
	static const uint8_t five[5] = { 0x80, 0x01, 0x00, 0x00, 0x00 };

	return write_expect(c, res, five, sizeof(five), -EINVAL, "write of 5 bytes");
}

Result case_write_too_big(Conform *c, CaseResult *res)
{
	uint8_t big[CONFORM_BUF + 1];
	int fd;

	memset(big, 0, sizeof(big));
	memcpy(big, TPM_GR32, sizeof(TPM_GR32));
	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (expect_ret(res, "write of 4097 bytes", node_write(c, fd, big, sizeof(big)), -E2BIG) &&
	    send_gr32(c, res, fd) &&
	    expect_ret(res, "write of 4097 bytes with a response pending",
		       node_write(c, fd, big, sizeof(big)), -E2BIG) &&
	    read_gr32(c, res, fd, "read after the rejected write"))
		case_pass(res, "E2BIG on a fresh fd and with a response pending (B1); the "
			       "response was kept");
	node_close(c, fd);
	return res->result;
}

Result case_write_header_exceeds(Conform *c, CaseResult *res)
{
	return write_expect(c, res, short_cmd, sizeof(short_cmd), -EINVAL,
			    "write of 14 bytes whose header says 15");
}

Result case_write_trailing_bytes(Conform *c, CaseResult *res)
{
	uint8_t cmd[16] = { 0 };
	int fd;

	memcpy(cmd, TPM_GR32, sizeof(TPM_GR32));
	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (expect_ret(res, "write of GR32 plus 4 bytes", node_write(c, fd, cmd, sizeof(cmd)),
		       sizeof(cmd)) &&
	    read_gr32(c, res, fd, "read"))
		case_pass(res, "write returned 16 and the response is the normal 44 bytes (B4)");
	node_close(c, fd);
	return res->result;
}

Result case_write_size_zero(Conform *c, CaseResult *res)
{
	return write_expect(c, res, size0_cmd, sizeof(size0_cmd), -ENODATA,
			    "write of GR32 with header size 0");
}

Result case_write_busy(Conform *c, CaseResult *res)
{
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (send_gr32(c, res, fd) &&
	    expect_ret(res, "second write without a read",
		       node_write(c, fd, TPM_GR32, sizeof(TPM_GR32)), -EBUSY) &&
	    read_gr32(c, res, fd, "read after EBUSY"))
		case_pass(res, "second write EBUSY; the first response was then read whole (B2)");
	node_close(c, fd);
	return res->result;
}

Result case_write_after_partial_read(Conform *c, CaseResult *res)
{
	uint8_t one;
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (send_gr32(c, res, fd) && expect_ret(res, "read(1)", node_read(c, fd, &one, 1), 1) &&
	    expect_ret(res, "write after a partial read",
		       node_write(c, fd, TPM_GR32, sizeof(TPM_GR32)), sizeof(TPM_GR32)) &&
	    read_gr32(c, res, fd, "read after the second write") &&
	    read_nothing(c, res, fd, "read after the response"))
		case_pass(res, "write accepted after read(1); a full fresh 44-byte response "
			       "followed (B2)");
	node_close(c, fd);
	return res->result;
}

/*
 * Write @cmd (10 bytes) with a command code the TPM does not list, and expect exactly the
 * RM's 10-byte 0x000B0143 response (H3), or on tpm0 the TPM's own 0x143 (J2).
 */
static bool expect_cc_rc(Conform *c, CaseResult *res, int fd, const uint8_t *cmd, const char *what)
{
	const uint8_t *want = c->tpm0 ? tpm_rc_rsp : rm_rc_rsp;
	uint8_t buf[CONFORM_BUF];
	ssize_t r;

	if (!expect_ret(res, what, node_write(c, fd, cmd, 10), 10))
		return false;
	r = node_read(c, fd, buf, sizeof(buf));
	if (!expect_ret(res, "read", r, 10))
		return false;
	if (memcmp(buf, want, 10) != 0) {
		case_fail(res, "%s: saw a response with rc 0x%08x, spec expects exactly %s", what,
			  tpm_get_u32(buf + 6),
			  c->tpm0 ? "the TPM's 80 01 00 00 00 0a 00 00 01 43 (J2)"
			  : memcmp(buf, tpm_rc_rsp, 10) == 0
				  ? "80 01 00 00 00 0a 00 0b 01 43 (H3): the node sent the "
				    "command to the TPM"
				  : "80 01 00 00 00 0a 00 0b 01 43 (H3)");
		return false;
	}
	return read_nothing(c, res, fd, "read after the response");
}

Result case_invalid_cc(Conform *c, CaseResult *res)
{
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (expect_cc_rc(c, res, fd, invalid_cc, "write of cc 0x1fe"))
		case_pass(res, "%s",
			  c->tpm0 ? "cc 0x1fe went to the TPM, which answered 0x00000143 (J2)"
				  : "cc 0x1fe answered with the synthesised 0x000b0143 (H3)");
	node_close(c, fd);
	return res->result;
}

/* The number of vendor commands the TPM lists, and whether @cc is among them. */
static int vendor_commands(Conform *c, int fd, uint32_t cc, bool *ret_listed)
{
	TpmList cmds = { .n = 0 };
	uint32_t rc = 0;
	size_t i;
	int r, n = 0;

	r = tpm_get_commands(c, fd, &cmds, &rc);
	if (r < 0 || rc != 0)
		return r < 0 ? r : -EPROTO;
	*ret_listed = false;
	for (i = 0; i < cmds.n; i++) {
		if (!(cmds.v[i] & TPMA_CC_V))
			continue;
		n++;
		if ((cmds.v[i] & (0xffffu | TPMA_CC_V)) == cc)
			*ret_listed = true;
	}
	return n;
}

Result case_vendor_cc(Conform *c, CaseResult *res)
{
	uint8_t cmd[10];
	bool listed = false;
	int fd, nvendor;

	memcpy(cmd, invalid_cc, sizeof(cmd));
	cmd[6] = 0x20; /* the V bit: cc 0x200001fe */
	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	nvendor = vendor_commands(c, fd, 0x200001feu, &listed);
	if (listed)
		case_skip(res, "vendor-listed",
			  "the TPM lists vendor cc 0x200001fe; not sending it");
	else if (!expect_cc_rc(c, res, fd, cmd, "write of vendor cc 0x200001fe"))
		;
	else if (c->tpm0)
		case_pass_as(res, "vendor-unlisted-forwarded",
			     "unlisted vendor cc 0x200001fe went to the TPM, which answered "
			     "0x00000143 (J2)");
	else
		case_pass_as(res, "vendor-unlisted-synthesised",
			     "unlisted vendor cc 0x200001fe answered with 0x000b0143 (H2, H3); "
			     "%s",
			     nvendor < 0    ? "the command list could not be read"
			     : nvendor == 0 ? "the TPM lists no vendor commands, so forwarding "
					      "was not tried"
					    : "listed vendor commands were not sent (their "
					      "semantics are unknown)");
	node_close(c, fd);
	return res->result;
}

Result case_tpm_error_is_response(Conform *c, CaseResult *res)
{
	TpmCmd cmd;
	TpmRsp rsp;
	int fd, r;

	tpm_cmd_read_public(&cmd, 0x81ffffff);
	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	r = tpm_call(c, fd, &cmd, &rsp);
	node_close(c, fd);
	if (r < 0)
		return case_fail(res,
				 "ReadPublic(0x81ffffff): saw %s, spec expects write to "
				 "return 14 and a response",
				 ret_str(r).s);
	if (rsp.rc == 0)
		return case_skip(res, "handle-exists",
				 "persistent handle 0x81ffffff exists on this TPM");
	if (!tpm_rc_is_handle_error(rsp.rc))
		return case_fail(res,
				 "ReadPublic(0x81ffffff): saw rc 0x%08x, spec expects the "
				 "TPM's handle error",
				 rsp.rc);
	return case_pass(res, "write returned 14; the response carries the TPM's rc 0x%08x (B7)",
			 rsp.rc);
}

Result case_read_idle(Conform *c, CaseResult *res)
{
	uint8_t buf[CONFORM_BUF];
	int64_t t0;
	int fd, fdn;
	ssize_t r;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	t0 = now_ms();
	r = node_read(c, fd, buf, sizeof(buf));
	node_close(c, fd);
	if (!expect_ret(res, "read on a fresh fd", r, 0))
		return res->result;
	if (now_ms() - t0 > 1000)
		return case_fail(res,
				 "read on a fresh fd blocked for %lld ms, spec expects an "
				 "immediate 0 (C1)",
				 (long long)(now_ms() - t0));
	fdn = open_or_fail(c, res, O_RDWR | O_NONBLOCK);
	if (fdn < 0)
		return res->result;
	r = node_read(c, fdn, buf, sizeof(buf));
	node_close(c, fdn);
	if (!expect_ret(res, "O_NONBLOCK read on a fresh fd", r, 0))
		return res->result;
	return case_pass(res, "read returned 0 at once, blocking and O_NONBLOCK (C1)");
}

Result case_read_whole(Conform *c, CaseResult *res)
{
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (send_gr32(c, res, fd) && read_gr32(c, res, fd, "read(4096)") &&
	    read_nothing(c, res, fd, "read after the response"))
		case_pass(res, "read(4096) gave 44 bytes, then 0 (C2, C3)");
	node_close(c, fd);
	return res->result;
}

/* read(10) must give a header whose size field says 44. */
static bool read_gr32_header(Conform *c, CaseResult *res, int fd)
{
	uint8_t hdr[10];
	ssize_t r = node_read(c, fd, hdr, sizeof(hdr));

	if (!expect_ret(res, "read(10)", r, 10))
		return false;
	if (tpm_get_u32(hdr + 2) != TPM_GR32_RSP_LEN || tpm_get_u32(hdr + 6) != 0) {
		case_fail(res, "read(10): saw size %u rc 0x%08x, spec expects size 44 rc 0",
			  tpm_get_u32(hdr + 2), tpm_get_u32(hdr + 6));
		return false;
	}
	return true;
}

Result case_read_header_then_rest(Conform *c, CaseResult *res)
{
	uint8_t buf[CONFORM_BUF];
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (send_gr32(c, res, fd) && read_gr32_header(c, res, fd) &&
	    expect_ret(res, "read(4096) after the header", node_read(c, fd, buf, sizeof(buf)),
		       34) &&
	    read_nothing(c, res, fd, "read after the response"))
		case_pass(res, "read(10) gave the header (size 44), read(4096) the other 34, "
			       "then 0 (C2)");
	node_close(c, fd);
	return res->result;
}

Result case_read_byte_by_byte(Conform *c, CaseResult *res)
{
	uint8_t rsp[TPM_GR32_RSP_LEN];
	int fd, i;

	fd = open_or_fail(c, res, O_RDWR);
	if (fd < 0)
		return res->result;
	if (!send_gr32(c, res, fd))
		goto out;
	for (i = 0; i < TPM_GR32_RSP_LEN; i++)
		if (!expect_ret(res, "one-byte read", node_read(c, fd, rsp + i, 1), 1))
			goto out;
	if (!tpm_gr32_ok(rsp, sizeof(rsp))) {
		case_fail(res, "44 one-byte reads: the bytes are not a GetRandom(32) response");
		goto out;
	}
	if (read_nothing(c, res, fd, "45th read"))
		case_pass(res, "44 one-byte reads reassembled the response; the 45th gave 0");
out:
	node_close(c, fd);
	return res->result;
}

Result case_read_zero_length(Conform *c, CaseResult *res)
{
	uint8_t buf[CONFORM_BUF];
	ssize_t r;
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (!send_gr32(c, res, fd) ||
	    !expect_ret(res, "read(fd, buf, 0)", node_read(c, fd, buf, 0), 0))
		goto out;
	r = node_read(c, fd, buf, sizeof(buf));
	if (r == TPM_GR32_RSP_LEN && tpm_gr32_ok(buf, (size_t)r))
		case_pass_as(res, "zero-read-keeps",
			     "fixed behaviour: the zero-length read kept the response (C6)");
	else if (r == 0)
		case_pass_as(res, "zero-read-discards",
			     "old kernel behaviour: the zero-length read discarded the "
			     "response (C6, KV)");
	else
		case_fail(res, "read after read(0): saw %s, spec expects 44 (or 0 on old kernels)",
			  ret_str(r).s);
out:
	node_close(c, fd);
	return res->result;
}

/*
 * Waits the node's response timeout plus one second.  A kernel timer may fire late: the
 * timer wheel rounds a 120 s expiry up to its level's granularity (512 jiffies, ~2 s at
 * HZ=250; ~4 s at HZ=1000), at most 1/8 of the timeout.  So while the response is still
 * pending, watch with poll for that much longer (the discard wakes pollers: D4).  Returns
 * the milliseconds waited.
 */
static int64_t wait_timeout(Conform *c, int fd)
{
	int64_t t0 = now_ms();
	int r;

	conform_step(c, "waiting %u s for the response timeout", c->timeout_s + 1);
	sleep_ms((c->timeout_s + 1) * 1000);
	r = node_poll(c, fd, POLLOUT, 0);
	if (r >= 0 && !(r & POLLOUT))
		node_poll(c, fd, POLLOUT, (int)timeout_slack_ms(c->timeout_s));
	return now_ms() - t0;
}

/* After wait_timeout(): the response is gone, the fd idle, and a new write works. */
static bool gone_after_timeout(Conform *c, CaseResult *res, int fd, int64_t waited)
{
	char what[64];

	snprintf(what, sizeof(what), "read %lld.%03lld s after the write", (long long)waited / 1000,
		 (long long)waited % 1000);
	return read_nothing(c, res, fd, what) &&
	       expect_poll(c, res, fd, "after the timeout", POLL_IDLE) && send_gr32(c, res, fd) &&
	       read_gr32(c, res, fd, "read after the next write");
}

Result case_response_timeout(Conform *c, CaseResult *res)
{
	int64_t waited;
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (!send_gr32(c, res, fd))
		goto out;
	waited = wait_timeout(c, fd);
	if (gone_after_timeout(c, res, fd, waited))
		case_pass(res,
			  "the response was gone by %lld.%03lld s after the write: read 0, "
			  "POLLOUT, write accepted (E1)",
			  (long long)waited / 1000, (long long)waited % 1000);
out:
	node_close(c, fd);
	return res->result;
}

Result case_timeout_after_partial_read(Conform *c, CaseResult *res)
{
	uint8_t hdr[10];
	int64_t waited;
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (!send_gr32(c, res, fd) ||
	    !expect_ret(res, "read(10)", node_read(c, fd, hdr, sizeof(hdr)), 10))
		goto out;
	waited = wait_timeout(c, fd);
	if (gone_after_timeout(c, res, fd, waited))
		case_pass(res,
			  "a partial read did not stop the timer: the rest was gone by "
			  "%lld.%03lld s after the write (E2)",
			  (long long)waited / 1000, (long long)waited % 1000);
out:
	node_close(c, fd);
	return res->result;
}

Result case_lseek(Conform *c, CaseResult *res)
{
	off_t r;
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	r = node_lseek(c, fd, 0, SEEK_SET);
	node_close(c, fd);
	if (r == -ESPIPE)
		return case_pass_as(res, "espipe", "ESPIPE (A4)");
	if (r >= 0 && c->kind == NODE_CDEV)
		return case_pass_as(res, "seek-ignored",
				    "CUSE transport behaviour: lseek returned %lld "
				    "(noop_llseek)",
				    (long long)r);
	return case_fail(res, "lseek: saw %s, spec expects ESPIPE%s", ret_str(r).s,
			 c->kind == NODE_CDEV ? " (or success on CUSE)" : "");
}

/* The rest of a response after @have bytes went through pread: must complete it. */
static bool read_rest(Conform *c, CaseResult *res, int fd, ssize_t want, const char *what)
{
	uint8_t buf[CONFORM_BUF];

	return expect_ret(res, what, node_read(c, fd, buf, sizeof(buf)), want) &&
	       read_nothing(c, res, fd, "read after the response");
}

/*
 * The kernel before 7.2 read (and zeroed!) memory outside its buffer for a pread at a large
 * offset, so on a kernel node a harmless offset 0 goes first, and 0x1400 only if that gave
 * ESPIPE.
 */
static Result pread_kernel(Conform *c, CaseResult *res, int fd)
{
	uint8_t buf[16];
	ssize_t r = node_pread(c, fd, buf, sizeof(buf), 0);

	if (r == (ssize_t)sizeof(buf) && tpm_get_u32(buf + 2) == TPM_GR32_RSP_LEN) {
		if (read_rest(c, res, fd, TPM_GR32_RSP_LEN - 16, "read after pread"))
			case_pass_as(res, "pre-7.2",
				     "old kernel behaviour (before 7.2, KV): pread at offset 0 "
				     "read 16 bytes; offset 0x1400 not tried (out of bounds "
				     "there)");
		return res->result;
	}
	if (!expect_ret(res, "pread(16, offset 0)", r, -ESPIPE) ||
	    !expect_ret(res, "pread(16, offset 0x1400)",
			node_pread(c, fd, buf, sizeof(buf), 0x1400), -ESPIPE) ||
	    !read_gr32(c, res, fd, "read after pread"))
		return res->result;
	return case_pass_as(res, "espipe",
			    "ESPIPE at offsets 0 and 0x1400; the response stayed intact (A4)");
}

static Result pread_other(Conform *c, CaseResult *res, int fd)
{
	uint8_t buf[16];
	ssize_t r = node_pread(c, fd, buf, sizeof(buf), 0x1400);

	if (r == -ESPIPE) {
		if (read_gr32(c, res, fd, "read after pread"))
			case_pass_as(res, "espipe", "ESPIPE; the response stayed intact (A4)");
		return res->result;
	}
	if (c->kind == NODE_CDEV && r == (ssize_t)sizeof(buf) &&
	    tpm_get_u32(buf + 2) == TPM_GR32_RSP_LEN) {
		if (read_rest(c, res, fd, TPM_GR32_RSP_LEN - 16, "read after pread"))
			case_pass_as(res, "seek-ignored",
				     "CUSE transport behaviour: pread acted as read (16 bytes, "
				     "then read gave the other 28)");
		return res->result;
	}
	return case_fail(res, "pread(16, offset 0x1400): saw %s, spec expects ESPIPE%s",
			 ret_str(r).s, c->kind == NODE_CDEV ? " (or a read on CUSE)" : "");
}

Result case_pread(Conform *c, CaseResult *res)
{
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (send_gr32(c, res, fd)) {
		if (c->kind == NODE_KERNEL)
			pread_kernel(c, res, fd);
		else
			pread_other(c, res, fd);
	}
	node_close(c, fd);
	return res->result;
}

Result case_pwrite(Conform *c, CaseResult *res)
{
	ssize_t r;
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	r = node_pwrite(c, fd, TPM_GR32, sizeof(TPM_GR32), 0);
	if (r == -ESPIPE) {
		if (read_nothing(c, res, fd, "read after the rejected pwrite"))
			case_pass_as(res, "espipe", "ESPIPE; nothing was sent (A4)");
	} else if (r == (ssize_t)sizeof(TPM_GR32) &&
		   (c->kind == NODE_KERNEL || c->kind == NODE_CDEV)) {
		if (read_gr32(c, res, fd, "read after pwrite"))
			case_pass_as(res, c->kind == NODE_KERNEL ? "pre-7.2" : "seek-ignored",
				     "%s: pwrite acted as write",
				     c->kind == NODE_KERNEL
					     ? "old kernel behaviour (before 7.2, KV)"
					     : "CUSE transport behaviour");
	} else {
		case_fail(res, "pwrite(GR32, offset 0): saw %s, spec expects ESPIPE%s",
			  ret_str(r).s,
			  c->kind == NODE_FILE ? "" : " (or a write on old kernels and CUSE)");
	}
	node_close(c, fd);
	return res->result;
}

Result case_ioctl(Conform *c, CaseResult *res)
{
	int r, fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	r = node_ioctl(c, fd, 0xa200);
	node_close(c, fd);
	if (!expect_ret(res, "ioctl(0xa200)", r, -ENOTTY))
		return res->result;
	return case_pass(res, "ENOTTY (G1)");
}

Result case_poll_idle(Conform *c, CaseResult *res)
{
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (expect_poll(c, res, fd, "fresh fd", POLL_IDLE))
		case_pass(res, "fresh fd: POLLOUT|POLLWRNORM only (D2)");
	node_close(c, fd);
	return res->result;
}

Result case_poll_response(Conform *c, CaseResult *res)
{
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (send_gr32(c, res, fd) &&
	    expect_poll(c, res, fd, "after a blocking GR32 write", POLL_PENDING))
		case_pass(res, "response pending: POLLIN|POLLRDNORM, no POLLOUT (D1)");
	node_close(c, fd);
	return res->result;
}

Result case_poll_partial(Conform *c, CaseResult *res)
{
	uint8_t hdr[10];
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (send_gr32(c, res, fd) &&
	    expect_ret(res, "read(10)", node_read(c, fd, hdr, sizeof(hdr)), 10) &&
	    expect_poll(c, res, fd, "after read(10)", POLL_PENDING))
		case_pass(res, "after a partial read: still POLLIN|POLLRDNORM only (D1)");
	node_close(c, fd);
	return res->result;
}

Result case_poll_consumed(Conform *c, CaseResult *res)
{
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (send_gr32(c, res, fd) && read_gr32(c, res, fd, "read(4096)") &&
	    expect_poll(c, res, fd, "after full consumption", POLL_IDLE))
		case_pass(res, "after full consumption: POLLOUT|POLLWRNORM (D2)");
	node_close(c, fd);
	return res->result;
}

/* poll in the current state must report neither POLLERR nor POLLHUP (D3). */
static bool no_err_hup(Conform *c, CaseResult *res, int fd, const char *when)
{
	const int bad = POLLERR | POLLHUP | POLLNVAL | POLLPRI | POLLRDHUP;
	int r = node_poll(c, fd, POLL_ALL_EVENTS, 0);

	if (r >= 0 && !(r & bad))
		return true;
	if (r < 0)
		case_fail(res, "%s: poll failed with %s", when, errno_str(-r).s);
	else
		case_fail(res, "%s: poll saw %s, spec expects no POLLERR/POLLHUP/POLLPRI (D3)",
			  when, poll_str(r).s);
	return false;
}

/* Blocking-mode states: fresh, pending, partial, busy, rejected writes, consumed, H3. */
static bool err_hup_blocking(Conform *c, CaseResult *res, int fd)
{
	uint8_t buf[CONFORM_BUF + 1];

	memset(buf, 0, sizeof(buf));
	return no_err_hup(c, res, fd, "fresh fd") && send_gr32(c, res, fd) &&
	       no_err_hup(c, res, fd, "response pending") &&
	       expect_ret(res, "write while busy", node_write(c, fd, TPM_GR32, 12), -EBUSY) &&
	       no_err_hup(c, res, fd, "after EBUSY") &&
	       expect_ret(res, "read(10)", node_read(c, fd, buf, 10), 10) &&
	       no_err_hup(c, res, fd, "after a partial read") &&
	       expect_ret(res, "read rest", node_read(c, fd, buf, sizeof(buf)), 34) &&
	       no_err_hup(c, res, fd, "after full consumption") &&
	       expect_ret(res, "write of 4097 bytes", node_write(c, fd, buf, CONFORM_BUF + 1),
			  -E2BIG) &&
	       no_err_hup(c, res, fd, "after E2BIG") &&
	       expect_ret(res, "write of 5 bytes", node_write(c, fd, buf, 5), -EINVAL) &&
	       no_err_hup(c, res, fd, "after EINVAL") &&
	       expect_ret(res, "write of cc 0x1fe", node_write(c, fd, invalid_cc, 10), 10) &&
	       no_err_hup(c, res, fd, "cc 0x1fe's 10-byte response pending") &&
	       expect_ret(res, "read", node_read(c, fd, buf, sizeof(buf)), 10);
}

/* O_NONBLOCK: an async error pending (POLLIN only), then read, then idle again. */
static bool err_hup_async(Conform *c, CaseResult *res, int fd)
{
	const ErrnoCmd e = errno_cmd(c);
	uint8_t buf[CONFORM_BUF];
	char what[96];

	snprintf(what, sizeof(what), "O_NONBLOCK write of %s", e.name);
	return set_nonblock(c, res, fd, true) &&
	       expect_ret(res, what, node_write(c, fd, e.bytes, e.len), (ssize_t)e.len) &&
	       wait_pollin(c, res, fd, "async error") &&
	       expect_poll(c, res, fd, "async error pending", POLL_PENDING) &&
	       expect_ret(res, "read of the async error", node_read(c, fd, buf, sizeof(buf)),
			  -e.err) &&
	       no_err_hup(c, res, fd, "after the async error was read") &&
	       expect_poll(c, res, fd, "after the async error was read", POLL_IDLE);
}

Result case_poll_no_err_hup(Conform *c, CaseResult *res)
{
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (err_hup_blocking(c, res, fd) && err_hup_async(c, res, fd))
		case_pass(res, "10 states, async error included: never POLLERR or POLLHUP (D3); "
			       "a failing backend was not simulated");
	node_close(c, fd);
	return res->result;
}

Result case_nonblock_write(Conform *c, CaseResult *res)
{
	int64_t t0;
	ssize_t r;
	int fd = open_or_fail(c, res, O_RDWR | O_NONBLOCK);

	if (fd < 0)
		return res->result;
	t0 = now_ms();
	r = node_write(c, fd, TPM_GR32, sizeof(TPM_GR32));
	if (expect_ret(res, "O_NONBLOCK write GR32", r, sizeof(TPM_GR32)) &&
	    wait_pollin(c, res, fd, "after the write") && read_gr32(c, res, fd, "read"))
		case_pass(res, "write returned 12 in %lld ms; POLLIN came; read gave 44 (B6)",
			  (long long)(now_ms() - t0));
	node_close(c, fd);
	return res->result;
}

Result case_nonblock_busy(Conform *c, CaseResult *res)
{
	int fd = open_or_fail(c, res, O_RDWR | O_NONBLOCK);

	if (fd < 0)
		return res->result;
	if (expect_ret(res, "O_NONBLOCK write GR32", node_write(c, fd, TPM_GR32, 12), 12) &&
	    expect_ret(res, "immediate second write", node_write(c, fd, TPM_GR32, 12), -EBUSY) &&
	    wait_pollin(c, res, fd, "after the writes") && read_gr32(c, res, fd, "read"))
		case_pass(res, "second O_NONBLOCK write EBUSY (B2, F3); the first response "
			       "arrived whole");
	node_close(c, fd);
	return res->result;
}

Result case_nonblock_async_error(Conform *c, CaseResult *res)
{
	uint8_t buf[CONFORM_BUF];
	int fd = open_or_fail(c, res, O_RDWR | O_NONBLOCK);

	if (fd < 0)
		return res->result;
	if (expect_ret(res, "O_NONBLOCK write of FlushContext(0x80123456)",
		       node_write(c, fd, bad_flush, sizeof(bad_flush)), sizeof(bad_flush)) &&
	    wait_pollin(c, res, fd, "after the write") &&
	    expect_ret(res, "read", node_read(c, fd, buf, sizeof(buf)), -EINVAL) &&
	    read_nothing(c, res, fd, "read after the error") &&
	    expect_ret(res, "next write", node_write(c, fd, TPM_GR32, 12), 12) &&
	    wait_pollin(c, res, fd, "after the next write") &&
	    read_gr32(c, res, fd, "read after the next write"))
		case_pass(res, "write 14, POLLIN, read EINVAL once, then 0; next write accepted "
			       "(F6, I2)");
	node_close(c, fd);
	return res->result;
}

Result case_nonblock_sync_einval(Conform *c, CaseResult *res)
{
	int fd = open_or_fail(c, res, O_RDWR | O_NONBLOCK);

	if (fd < 0)
		return res->result;
	if (expect_ret(res, "O_NONBLOCK write of 14 bytes whose header says 15",
		       node_write(c, fd, short_cmd, sizeof(short_cmd)), -EINVAL) &&
	    read_nothing(c, res, fd, "read after the rejected write") &&
	    expect_poll(c, res, fd, "after the rejected write", POLL_IDLE))
		case_pass(res, "EINVAL from write itself; nothing queued (B6, F5)");
	node_close(c, fd);
	return res->result;
}

/* errno_cmd() shows the mode: a blocking write fails with the errno, an async read does. */
static bool bad_flush_sync(Conform *c, CaseResult *res, int fd, const char *when)
{
	const ErrnoCmd e = errno_cmd(c);
	char what[128];

	snprintf(what, sizeof(what), "%s: blocking write of %s", when, e.name);
	return expect_ret(res, what, node_write(c, fd, e.bytes, e.len), -e.err);
}

static bool bad_flush_async(Conform *c, CaseResult *res, int fd, const char *when)
{
	const ErrnoCmd e = errno_cmd(c);
	uint8_t buf[CONFORM_BUF];
	char what[128];

	snprintf(what, sizeof(what), "%s: O_NONBLOCK write of %s", when, e.name);
	return expect_ret(res, what, node_write(c, fd, e.bytes, e.len), (ssize_t)e.len) &&
	       wait_pollin(c, res, fd, what) &&
	       expect_ret(res, "read of the async error", node_read(c, fd, buf, sizeof(buf)),
			  -e.err);
}

Result case_nonblock_toggle(Conform *c, CaseResult *res)
{
	int fd = open_or_fail(c, res, O_RDWR);

	if (fd < 0)
		return res->result;
	if (bad_flush_sync(c, res, fd, "opened blocking") && set_nonblock(c, res, fd, true) &&
	    bad_flush_async(c, res, fd, "after F_SETFL O_NONBLOCK") &&
	    set_nonblock(c, res, fd, false) &&
	    bad_flush_sync(c, res, fd, "after clearing O_NONBLOCK") &&
	    set_nonblock(c, res, fd, true) &&
	    bad_flush_async(c, res, fd, "after setting O_NONBLOCK again"))
		case_pass(res,
			  "blocking, O_NONBLOCK, blocking, O_NONBLOCK: each fcntl took "
			  "effect on the next write (B6): %s failed in write or in read (%s)",
			  errno_cmd(c).name, errno_str(errno_cmd(c).err).s);
	node_close(c, fd);
	return res->result;
}
