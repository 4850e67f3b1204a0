/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The swtpm backend: the data channel of `swtpm socket --tpm2 --server ...`, a unix or TCP
 * stream socket carrying raw TPM 2.0 command and response bytes, nothing else.
 *
 * swtpm serves one data connection at a time, so the backend holds one connection for its
 * whole life.  When swtpm went away (restarted, crashed) the next command reconnects once
 * and is sent again, as long as no byte of its response had arrived; after that the
 * command fails with -EIO.  Every wait is bounded by the backend's timeout (-ETIME), and
 * every failure drops the connection, so a stream that lost its framing is never read
 * again: the next command starts on a fresh connection.
 *
 * The backend never sends TPM2_Startup: tpm_backend_open() runs tpm_backend_auto_startup()
 * after construction, as the kernel does for a TPM that firmware did not start.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tpm-backend.h"

typedef struct SwtpmBackend {
	TpmBackend base;
	char *path;		/* unix socket, or NULL for TCP */
	char *host;		/* TCP */
	char *port;		/* TCP, decimal */
	char *peer;		/* for messages: the socket path, HOST:PORT or [HOST]:PORT */
	struct addrinfo *addrs; /* TCP: resolved once, so no reconnect waits on DNS */
	unsigned int timeout_ms;
	int fd; /* -1: no connection; the next transmit makes one */
} SwtpmBackend;

/* glib 2.74 has no g_autofd (2.76). */
static void fd_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define autofd __attribute__((cleanup(fd_closep))) int

static int fd_steal(int *fd)
{
	int ret = *fd;

	*fd = -1;
	return ret;
}

static gint64 deadline_after(unsigned int timeout_ms)
{
	return g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
}

/* Wait until @fd is ready for @events or @deadline (monotonic) passes: 0, -ETIME, -errno. */
static int wait_fd(int fd, short events, gint64 deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	gint64 left;
	int n;

	do {
		left = deadline - g_get_monotonic_time();
		if (left <= 0)
			return -ETIME;
		/* Round up, or the last poll would spin with a time-out of 0. */
		n = poll(&pfd, 1, (int)MIN((left + 999) / 1000, G_MAXINT));
	} while (n == 0 || (n < 0 && errno == EINTR));
	return n < 0 ? -errno : 0;
}

/* A non-blocking connect to one address, bounded by @deadline. */
static int connect_addr(const struct sockaddr *sa, socklen_t sa_len, gint64 deadline, int *ret_fd)
{
	autofd fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int err = 0;
	socklen_t err_len = sizeof(err);
	int r;

	if (fd < 0)
		return -errno;
	if (connect(fd, sa, sa_len) < 0) {
		/* A unix socket either connects at once or fails (EAGAIN: backlog full). */
		if (errno != EINPROGRESS)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return r;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) < 0)
			return -errno;
		if (err != 0)
			return -err;
	}
	*ret_fd = fd_steal(&fd);
	return 0;
}

static int connect_unix(SwtpmBackend *s, gint64 deadline, char **ret_error)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(s->path);
	int r;

	if (len >= sizeof(sun.sun_path))
		return tpm_backend_error(ret_error, -ENAMETOOLONG,
					 "cannot connect to swtpm at %s: path too long", s->peer);
	memcpy(sun.sun_path, s->path, len + 1);
	r = connect_addr((struct sockaddr *)&sun, sizeof(sun), deadline, &s->fd);
	if (r < 0)
		return tpm_backend_error(ret_error, r, "cannot connect to swtpm at %s: %s", s->peer,
					 g_strerror(-r));
	return 0;
}

/* Resolve HOST:PORT once, at construction: getaddrinfo() has no time-out of ours. */
static int swtpm_resolve(SwtpmBackend *s, char **ret_error)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV,
	};
	int gai;
	int r;

	gai = getaddrinfo(s->host, s->port, &hints, &s->addrs);
	if (gai == 0)
		return 0;
	s->addrs = NULL;
	r = gai == EAI_SYSTEM && errno > 0 ? -errno : -EHOSTUNREACH;
	return tpm_backend_error(ret_error, r, "cannot resolve swtpm host %s: %s", s->host,
				 gai_strerror(gai));
}

/* Try every address of HOST:PORT in getaddrinfo()'s order until one connects. */
static int connect_tcp(SwtpmBackend *s, gint64 deadline, char **ret_error)
{
	int r = -EHOSTUNREACH;

	for (const struct addrinfo *ai = s->addrs; ai; ai = ai->ai_next) {
		r = connect_addr(ai->ai_addr, ai->ai_addrlen, deadline, &s->fd);
		if (r == 0 || r == -ETIME)
			break;
	}
	if (r < 0)
		return tpm_backend_error(ret_error, r, "cannot connect to swtpm at %s: %s", s->peer,
					 g_strerror(-r));
	return 0;
}

static int swtpm_connect(SwtpmBackend *s, gint64 deadline, char **ret_error)
{
	return s->path ? connect_unix(s, deadline, ret_error) : connect_tcp(s, deadline, ret_error);
}

static void swtpm_drop(SwtpmBackend *s)
{
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
}

/*
 * Between commands nothing may be readable: bytes would be a stray response (the stream
 * is out of sync), and EOF or an error means swtpm went away.  Either way, start afresh.
 */
static bool swtpm_idle(const SwtpmBackend *s)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };

	return s->fd >= 0 && poll(&pfd, 1, 0) == 0;
}

/*
 * Drop the connection and make a new one.  Returns 0, -ETIME, or -ECONNRESET for any
 * other failure: the caller turns that into -EIO.
 */
static int swtpm_reconnect(SwtpmBackend *s, gint64 deadline)
{
	g_autofree char *why = NULL;
	int r;

	swtpm_drop(s);
	r = swtpm_connect(s, deadline, &why);
	if (r < 0) {
		g_debug("swtpm: reconnect failed: %s", why);
		return r == -ETIME ? r : -ECONNRESET;
	}
	g_debug("swtpm: reconnected to %s", s->peer);
	return 0;
}

/*
 * Send all @len bytes.  Returns 0, -ETIME, or -ECONNRESET when the connection is gone
 * (EPIPE, ECONNRESET, ...): the command did not get through and may be sent again.
 */
static int send_all(int fd, const uint8_t *buf, size_t len, gint64 deadline)
{
	size_t off = 0;
	ssize_t n;
	int r;

	while (off < len) {
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			g_debug("swtpm: send failed: %s", g_strerror(errno));
			return -ECONNRESET;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Receive exactly @len bytes, adding each one received to *got.  Returns 0, -ETIME, or
 * -ECONNRESET when the peer closed or reset the connection first.
 */
static int recv_all(int fd, uint8_t *buf, size_t len, size_t *got, gint64 deadline)
{
	size_t off = 0;
	ssize_t n;
	int r;

	while (off < len) {
		n = recv(fd, buf + off, len - off, 0);
		if (n > 0) {
			off += (size_t)n;
			*got += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			g_debug("swtpm: connection closed: %s", n == 0 ? "EOF" : g_strerror(errno));
			return -ECONNRESET;
		}
		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * One command and its response on the current connection.  -ECONNRESET means the
 * connection dropped before any response byte: the command may be sent again.  A drop
 * after that is -EIO; a header size no TPM sends means the stream is out of sync: -EFAULT.
 */
static int swtpm_exchange(SwtpmBackend *s, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			  size_t rsp_cap, size_t *ret_rsp_len, gint64 deadline)
{
	uint8_t buf[TPM2_WIRE_HEADER_SIZE];
	Tpm2Header hdr;
	size_t got = 0;
	int r;

	r = send_all(s->fd, cmd, cmd_len, deadline);
	if (r == 0)
		r = recv_all(s->fd, buf, sizeof(buf), &got, deadline);
	if (r < 0)
		return r == -ECONNRESET && got > 0 ? -EIO : r;

	r = tpm2_wire_header_parse(buf, sizeof(buf), &hdr);
	if (r < 0 || hdr.size < TPM2_WIRE_HEADER_SIZE || hdr.size > TPM2_WIRE_BUF_MAX ||
	    hdr.size > rsp_cap) {
		g_debug("swtpm: response size %u from %s (room for %zu): stream out of sync",
			hdr.size, s->peer, rsp_cap);
		return -EFAULT;
	}
	memcpy(rsp, buf, sizeof(buf));
	r = recv_all(s->fd, rsp + sizeof(buf), hdr.size - sizeof(buf), &got, deadline);
	if (r < 0)
		return r == -ECONNRESET ? -EIO : r;
	*ret_rsp_len = hdr.size;
	return 0;
}

static int swtpm_transmit(TpmBackend *be, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			  size_t rsp_cap, size_t *ret_rsp_len)
{
	SwtpmBackend *s = (SwtpmBackend *)be;
	gint64 deadline = deadline_after(s->timeout_ms);
	bool fresh = false;
	int r = 0;

	/*
	 * swtpm reads until it holds a whole header (swtpm_io.c), so a shorter command would
	 * stall it until the time-out and then be glued to the next one.  The kernel would
	 * send it (spec B4); over this channel it cannot be sent at all.
	 */
	if (cmd_len < TPM2_WIRE_HEADER_SIZE) {
		g_debug("swtpm: cannot send a %zu-byte command, shorter than a header", cmd_len);
		return -EINVAL;
	}
	if (!swtpm_idle(s)) {
		r = swtpm_reconnect(s, deadline);
		fresh = true;
	}
	if (r == 0)
		r = swtpm_exchange(s, cmd, cmd_len, rsp, rsp_cap, ret_rsp_len, deadline);
	if (r == -ECONNRESET && !fresh) {
		/* swtpm went away between commands: one reconnect, one resend. */
		g_debug("swtpm: connection to %s dropped, sending the command again", s->peer);
		r = swtpm_reconnect(s, deadline);
		if (r == 0)
			r = swtpm_exchange(s, cmd, cmd_len, rsp, rsp_cap, ret_rsp_len, deadline);
	}
	if (r < 0)
		swtpm_drop(s);
	if (r == -ETIME)
		g_debug("swtpm: no response from %s within %u ms", s->peer, s->timeout_ms);
	return r == -ECONNRESET ? -EIO : r;
}

static void swtpm_destroy(TpmBackend *be)
{
	SwtpmBackend *s = (SwtpmBackend *)be;

	swtpm_drop(s);
	g_free(s->path);
	g_free(s->host);
	g_free(s->port);
	g_free(s->peer);
	if (s->addrs)
		freeaddrinfo(s->addrs);
	g_free(s);
}

static const TpmBackendOps swtpm_ops = {
	.name = "swtpm",
	.transmit = swtpm_transmit,
	.cancel = NULL, /* swtpm cancels through its control channel, which we do not hold */
	.destroy = swtpm_destroy,
};

int tpm_backend_swtpm_new(const char *path_or_host, const char *port, unsigned int timeout_ms,
			  TpmBackend **ret, char **ret_error)
{
	SwtpmBackend *s;
	g_autoptr(TpmBackend) be = NULL;
	int r;

	g_return_val_if_fail(path_or_host && ret, -EINVAL);

	s = g_new0(SwtpmBackend, 1);
	s->base.ops = &swtpm_ops;
	s->fd = -1;
	be = &s->base;
	s->timeout_ms = timeout_ms ? timeout_ms : TPM_BACKEND_DEFAULT_TIMEOUT_MS;
	if (port) {
		s->host = g_strdup(path_or_host);
		s->port = g_strdup(port);
		s->peer = g_strdup_printf(strchr(s->host, ':') ? "[%s]:%s" : "%s:%s", s->host,
					  s->port);
		r = swtpm_resolve(s, ret_error);
		if (r < 0)
			return r;
	} else {
		s->path = g_strdup(path_or_host);
		s->peer = g_strdup(path_or_host);
	}

	r = swtpm_connect(s, deadline_after(s->timeout_ms), ret_error);
	if (r < 0)
		return r;
	g_debug("swtpm: connected to %s", s->peer);
	*ret = g_steal_pointer(&be);
	return 0;
}
