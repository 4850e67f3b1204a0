/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The "device" backend: a raw TPM character device such as /dev/tpm0.
 *
 * The fd is opened O_NONBLOCK, as tpm2-tss's tcti-device does, which puts the kernel's
 * tpm-dev-common.c in its async mode (spec F4): write() queues the whole command and
 * returns at once, poll() reports POLLIN when the response is there, and a read() with
 * nothing pending returns 0.  Every wait is bounded by the remaining time of one overall
 * time-out per command.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <unistd.h>

#include "tpm-backend.h"

/* Reads done to empty a freshly opened fd before giving up (see device_drain()). */
#define DEVICE_DRAIN_MAX_READS 16

typedef struct DeviceBackend {
	TpmBackend base;
	char *path;
	unsigned int timeout_ms;
	int fd;	    /* -1 while closed */
	bool stale; /* the device may still hold an answer nobody waits for: reopen first */
} DeviceBackend;

/*
 * O_NOCTTY is not in tcti-device's flags; it changes nothing for a TPM and keeps a tty
 * named by mistake (or a pty test double) from becoming our controlling terminal.
 */
static int device_open(DeviceBackend *dev, char **ret_error)
{
	int fd = open(dev->path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	int r;

	if (fd >= 0) {
		dev->fd = fd;
		return 0;
	}
	r = -errno;
	g_debug("device: cannot open %s: %s", dev->path, g_strerror(-r));
	/* /dev/tpm0 is exclusive: the kernel's tpm_open() fails with EBUSY (spec B2). */
	if (r == -EBUSY)
		return tpm_backend_error(ret_error, r,
					 "%s is held by another process (another TPM client or "
					 "resource manager has it open)",
					 dev->path);
	return tpm_backend_error(ret_error, r, "cannot open TPM device %s: %s", dev->path,
				 g_strerror(-r));
}

static void device_close(DeviceBackend *dev)
{
	/* The kernel's release waits for a command in flight and drops its response. */
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
}

/*
 * Empty what a fresh fd can read at once.  The kernel drops a pending response on close,
 * so this reads 0 there; a device that keeps it across opens (a tty) gives it up here
 * instead of as the next command's answer.
 */
static void device_drain(int fd)
{
	uint8_t buf[TPM2_WIRE_BUF_MAX];
	size_t dropped = 0;
	ssize_t n = 0;

	for (int i = 0; i < DEVICE_DRAIN_MAX_READS; i++) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		dropped += (size_t)n;
	}
	if (dropped)
		g_debug("device: dropped %zu stale bytes", dropped);
}

/* After a time-out or a cut or malformed response: a fresh fd, with nothing left to read. */
static int device_reopen(DeviceBackend *dev)
{
	int r;

	g_debug("device: reopening %s to drop a stale response", dev->path);
	device_close(dev);
	r = device_open(dev, NULL);
	if (r < 0)
		return r;
	device_drain(dev->fd);
	dev->stale = false;
	return 0;
}

/* The whole command in one write(): the kernel takes a command only whole (spec B1). */
static int device_write_all(int fd, const uint8_t *cmd, size_t cmd_len)
{
	ssize_t n;

	do {
		n = write(fd, cmd, cmd_len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != cmd_len) {
		g_debug("device: short write of %zd of %zu bytes", n, cmd_len);
		return -EIO;
	}
	return 0;
}

/* Wait for POLLIN until @deadline (monotonic, microseconds): 0, -ETIME or -errno. */
static int device_wait_readable(int fd, gint64 deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		gint64 left_us = deadline - g_get_monotonic_time();
		int n;

		if (left_us <= 0)
			return -ETIME;
		/* Round up: a wait of 0 ms for the last few microseconds would spin. */
		n = poll(&pfd, 1, (int)MIN((left_us + 999) / 1000, INT_MAX));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		/* A TPM device never reports POLLERR or POLLHUP (spec D3). */
		return (pfd.revents & POLLIN) ? 0 : -EIO;
	}
}

/* The header's size is covered, or there is no room for more. */
static bool device_response_complete(const uint8_t *rsp, size_t len, size_t rsp_cap)
{
	if (len >= rsp_cap)
		return true;
	if (len < TPM2_WIRE_HEADER_SIZE)
		return false;
	return len >= tpm2_wire_load_u32(rsp + 2);
}

/*
 * Read what the device has now.  Returns 0 when the response is complete or a read
 * returned 0 (the kernel's "nothing pending": it hands a response over in one piece),
 * 1 when more is to come (EAGAIN), -errno on an error.
 */
static int device_read_some(int fd, uint8_t *rsp, size_t rsp_cap, size_t *len)
{
	while (!device_response_complete(rsp, *len, rsp_cap)) {
		ssize_t n = read(fd, rsp + *len, rsp_cap - *len);

		if (n > 0)
			*len += (size_t)n;
		else if (n == 0)
			return 0;
		else if (errno == EAGAIN)
			return 1;
		else if (errno != EINTR)
			return -errno; /* an async error of the kernel's worker (spec F2) */
	}
	return 0;
}

/* Poll, then read, until the response is complete or @deadline passes. */
static int device_receive(int fd, uint8_t *rsp, size_t rsp_cap, gint64 deadline, size_t *ret_len)
{
	size_t len = 0;
	int r;

	do {
		r = device_wait_readable(fd, deadline);
		if (r < 0)
			return r;
		r = device_read_some(fd, rsp, rsp_cap, &len);
		if (r < 0)
			return r;
	} while (r > 0);
	*ret_len = len;
	return 0;
}

static int device_transmit(TpmBackend *be, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			   size_t rsp_cap, size_t *ret_rsp_len)
{
	DeviceBackend *dev = (DeviceBackend *)be;
	gint64 deadline = g_get_monotonic_time() + (gint64)dev->timeout_ms * 1000;
	size_t len = 0;
	int r;

	if (dev->stale) {
		r = device_reopen(dev);
		if (r < 0)
			return r;
	}
	r = device_write_all(dev->fd, cmd, cmd_len);
	if (r == 0)
		r = device_receive(dev->fd, rsp, rsp_cap, deadline, &len);
	if (r < 0) {
		dev->stale = true;
		return r;
	}
	/* The bytes go up as they came; tpm_backend_transmit() turns a bad one into -EFAULT. */
	if (tpm2_wire_response_check(rsp, len) < 0)
		dev->stale = true;
	*ret_rsp_len = len;
	return 0;
}

static void device_destroy(TpmBackend *be)
{
	DeviceBackend *dev = (DeviceBackend *)be;

	if (!dev)
		return;
	device_close(dev);
	g_free(dev->path);
	g_free(dev);
}

static const TpmBackendOps device_ops = {
	.name = "device",
	.transmit = device_transmit,
	.cancel = NULL,
	.destroy = device_destroy,
};

int tpm_backend_device_new(const char *path, unsigned int timeout_ms, TpmBackend **ret,
			   char **ret_error)
{
	g_autoptr(TpmBackend) be = NULL;
	DeviceBackend *dev;
	int r;

	g_return_val_if_fail(path && ret, -EINVAL);

	dev = g_new0(DeviceBackend, 1);
	dev->base.ops = &device_ops;
	dev->fd = -1;
	be = &dev->base;
	dev->path = g_strdup(path);
	dev->timeout_ms = timeout_ms ? timeout_ms : TPM_BACKEND_DEFAULT_TIMEOUT_MS;

	r = device_open(dev, ret_error);
	if (r < 0)
		return r;
	g_debug("device: %s open, time-out %u ms", dev->path, dev->timeout_ms);
	*ret = g_steal_pointer(&be);
	return 0;
}
