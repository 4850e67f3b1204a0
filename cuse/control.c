/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

/* A reply never waits longer than this, whatever the client asks. */
#define CONTROL_WAIT_MAX_MS 600000u
#define CONTROL_LINE_MAX    256

struct Control {
	Rm *rm;
	CdevDevice *dev;
	char *path;
	int listen_fd;
	int stop_pipe[2];
	GThread *thread;
};

typedef struct HandleQuery {
	uint32_t first;
	GString *out;
} HandleQuery;

/* On the RM's lock: GetCapability(TPM_CAP_HANDLES) from @first, every page. */
static int list_handles(TpmBackend *be, void *user)
{
	HandleQuery *q = user;
	uint32_t property = q->first;
	uint8_t cmd[32], rsp[TPM2_WIRE_BUF_MAX];
	Tpm2CapData cap;
	size_t len;
	uint32_t rc = 0, h = 0, next;
	int r;

	for (;;) {
		r = tpm2_wire_build_get_capability(cmd, sizeof(cmd), TPM2_CAP_HANDLES, property,
						   256, &len);
		if (r == 0)
			r = tpm_backend_call(be, cmd, len, rsp, sizeof(rsp), &len, &rc);
		if (r < 0)
			return r;
		if (rc != TPM2_RC_SUCCESS || tpm2_wire_parse_cap_rsp(rsp, len, &cap) < 0)
			return -EIO;
		for (uint32_t i = 0; i < cap.count; i++) {
			h = tpm2_wire_load_u32(cap.items + (size_t)4 * i);
			g_string_append_printf(q->out, " 0x%08x", h);
		}
		/*
		 * The TPM lists only the type the property names, but may show saved sessions
		 * with a 0x02 type byte (libtpms does): page on the low 24 bits.
		 */
		next = (q->first & 0xFF000000u) | ((h & 0x00FFFFFFu) + 1);
		if (!cap.more_data || cap.count == 0 || next <= property)
			return 0;
		property = next;
	}
}

static void answer_handles(Rm *rm, GString *out)
{
	static const struct {
		const char *name;
		uint32_t first;
	} kinds[] = {
		{ "transient", 0x80000000u },
		{ "loaded-session", 0x02000000u },
		{ "saved-session", 0x03000000u },
	};
	g_autoptr(GString) lines = g_string_new(NULL);

	for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
		HandleQuery q = { kinds[i].first, lines };
		int r;

		g_string_append(lines, kinds[i].name);
		r = rm_with_backend(rm, list_handles, &q);
		if (r < 0) {
			g_string_append_printf(out, "error cannot list %s handles: %s\n",
					       kinds[i].name, g_strerror(-r));
			return;
		}
		g_string_append_c(lines, '\n');
	}
	g_string_append(out, lines->str);
}

static void answer_stats(Rm *rm, CdevDevice *dev, GString *out)
{
	static const char *const errno_names[RM_ERR_COUNT] = { "EINVAL", "ENOMEM",  "EFAULT",
							       "ENOENT", "ENODATA", "ETIME",
							       "EIO",	 "EPIPE",   "other" };
	RmStats s;
	CdevStats c;

	rm_get_stats(rm, &s);
	cdev_device_get_stats(dev, &c);
	g_string_append_printf(out,
			       "files_open %" G_GUINT64_FORMAT "\nfiles_released %" G_GUINT64_FORMAT
			       "\nwrites %" G_GUINT64_FORMAT "\nreads %" G_GUINT64_FORMAT
			       "\nresponse_timeouts %" G_GUINT64_FORMAT "\n",
			       c.files_open, c.files_released, c.writes, c.reads, c.timeouts);
	g_string_append_printf(
		out,
		"client_commands %" G_GUINT64_FORMAT "\nsynthesized %" G_GUINT64_FORMAT
		"\nbackend_commands %" G_GUINT64_FORMAT "\ncontext_loads %" G_GUINT64_FORMAT
		"\ncontext_saves %" G_GUINT64_FORMAT "\nflushes %" G_GUINT64_FORMAT
		"\nforgotten_objects %" G_GUINT64_FORMAT "\nforgotten_sessions %" G_GUINT64_FORMAT
		"\n",
		s.client_commands, s.synthesized, s.backend_commands, s.context_loads,
		s.context_saves, s.flushes, s.forgotten_objects, s.forgotten_sessions);
	for (int i = 0; i < RM_ERR_COUNT; i++)
		g_string_append_printf(out, "errors_%s %" G_GUINT64_FORMAT "\n", errno_names[i],
				       s.errors[i]);
}

static void answer_wait(CdevDevice *dev, const char *args, GString *out)
{
	g_auto(GStrv) words = g_strsplit(args, " ", -1);
	guint64 n, ms;
	unsigned int open;

	if (g_strv_length(words) != 2 ||
	    !g_ascii_string_to_unsigned(words[0], 10, 0, G_MAXUINT, &n, NULL) ||
	    !g_ascii_string_to_unsigned(words[1], 10, 0, G_MAXUINT, &ms, NULL)) {
		g_string_append(out, "error usage: wait-spaces N MS\n");
		return;
	}
	open = cdev_device_wait_open(dev, (unsigned int)n,
				     (unsigned int)MIN(ms, CONTROL_WAIT_MAX_MS));
	g_string_append_printf(out, "%s %u\n", open <= n ? "ok" : "timeout", open);
}

void control_answer(Rm *rm, CdevDevice *dev, const char *line, GString *out)
{
	if (strcmp(line, "handles") == 0)
		answer_handles(rm, out);
	else if (strcmp(line, "stats") == 0)
		answer_stats(rm, dev, out);
	else if (g_str_has_prefix(line, "wait-spaces "))
		answer_wait(dev, line + strlen("wait-spaces "), out);
	else
		g_string_append(out, "error unknown request (handles, stats, wait-spaces N MS)\n");
}

/* One request line, up to a newline or EOF, read with a time limit. */
static bool read_line(int fd, char *line, size_t cap)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;

	while (len < cap - 1) {
		ssize_t n;

		if (poll(&pfd, 1, 5000) <= 0)
			return false;
		n = read(fd, line + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	return len > 0;
}

static void serve_one(Control *c, int fd)
{
	g_autoptr(GString) out = g_string_new(NULL);
	char line[CONTROL_LINE_MAX];
	size_t off = 0;

	if (!read_line(fd, line, sizeof(line)))
		return;
	control_answer(c->rm, c->dev, line, out);
	while (off < out->len) {
		ssize_t n = send(fd, out->str + off, out->len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
}

static gpointer control_thread(gpointer data)
{
	Control *c = data;
	struct pollfd pfd[2] = { { .fd = c->listen_fd, .events = POLLIN },
				 { .fd = c->stop_pipe[0], .events = POLLIN } };

	for (;;) {
		int fd;

		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(c, fd);
		close(fd);
	}
	return NULL;
}

static int listen_unix(const char *path, char **ret_error)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old_umask;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return tpm_backend_error(ret_error, -ENAMETOOLONG,
					 "control socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return tpm_backend_error(ret_error, -errno, "socket: %s", g_strerror(errno));
	unlink(path);		 /* a socket left by a crashed daemon */
	old_umask = umask(0177); /* mode 0600 from the start */
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (r < 0 || listen(fd, 16) < 0) {
		r = -errno;
		close(fd);
		return tpm_backend_error(ret_error, r, "cannot listen on %s: %s", path,
					 g_strerror(-r));
	}
	return fd;
}

int control_start(const char *path, Rm *rm, CdevDevice *dev, Control **ret, char **ret_error)
{
	Control *c;
	int fd = listen_unix(path, ret_error);

	if (fd < 0)
		return fd;
	c = g_new0(Control, 1);
	c->rm = rm;
	c->dev = dev;
	c->path = g_strdup(path);
	c->listen_fd = fd;
	if (pipe2(c->stop_pipe, O_CLOEXEC) < 0) {
		int r = -errno;

		close(fd);
		unlink(path);
		g_free(c->path);
		g_free(c);
		return tpm_backend_error(ret_error, r, "pipe: %s", g_strerror(-r));
	}
	c->thread = g_thread_new("tpmrm-control", control_thread, c);
	*ret = c;
	return 0;
}

void control_stop(Control *c)
{
	if (!c)
		return;
	if (write(c->stop_pipe[1], "x", 1) != 1)
		g_warning("control: cannot wake the control thread");
	g_thread_join(c->thread);
	close(c->stop_pipe[0]);
	close(c->stop_pipe[1]);
	close(c->listen_fd);
	unlink(c->path);
	g_free(c->path);
	g_free(c);
}
