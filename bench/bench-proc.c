/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Child processes, readiness waits, the tpmrm-cuse control socket and /proc readings.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define WAIT_STEP_US 5000

struct BenchProc {
	char *name;
	char *log_path;
	pid_t pid; /* 0 once reaped */
	int status;
};

double bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void G_GNUC_NORETURN child_exec(const char *const *argv, int log_fd, pid_t parent)
{
	sigset_t none;
	int null_fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
		_exit(127);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

int bench_proc_spawn(const char *name, const char *const *argv, const char *log_path,
		     BenchProc **ret, char **ret_error)
{
	pid_t parent = getpid(), pid;
	BenchProc *p;
	int log_fd;

	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log_fd < 0)
		return tpm_backend_error(ret_error, -errno, "cannot open %s: %s", log_path,
					 g_strerror(errno));
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(log_fd);
		return tpm_backend_error(ret_error, r, "cannot fork for %s: %s", name,
					 g_strerror(-r));
	}
	if (pid == 0)
		child_exec(argv, log_fd, parent);
	close(log_fd);
	p = g_new0(BenchProc, 1);
	p->name = g_strdup(name);
	p->log_path = g_strdup(log_path);
	p->pid = pid;
	*ret = p;
	return 0;
}

pid_t bench_proc_pid(const BenchProc *p)
{
	return p->pid;
}

const char *bench_proc_name(const BenchProc *p)
{
	return p->name;
}

bool bench_proc_alive(BenchProc *p)
{
	if (p->pid > 0 && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
		p->pid = 0;
	return p->pid > 0;
}

char *bench_proc_log_tail(const BenchProc *p)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	guint n;

	if (!g_file_get_contents(p->log_path, &text, NULL, NULL))
		return g_strdup("(no log)");
	lines = g_strsplit(g_strchomp(text), "\n", -1);
	n = g_strv_length(lines);
	return g_strjoinv(" | ", lines + (n > 3 ? n - 3 : 0));
}

int bench_proc_stop(BenchProc *p, unsigned int timeout_ms)
{
	double deadline = bench_now_us() + timeout_ms * 1000.0;

	if (!bench_proc_alive(p))
		return p->status;
	kill(p->pid, SIGTERM);
	while (bench_proc_alive(p)) {
		if (bench_now_us() > deadline) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &p->status, 0);
			p->pid = 0;
			return -1;
		}
		g_usleep(WAIT_STEP_US);
	}
	return p->status;
}

void bench_proc_free(BenchProc *p)
{
	if (!p)
		return;
	bench_proc_stop(p, 10000);
	g_free(p->name);
	g_free(p->log_path);
	g_free(p);
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r = 0;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int bench_wait_connect(const char *path, BenchProc *p, unsigned int timeout_ms)
{
	double deadline = bench_now_us() + timeout_ms * 1000.0;
	int fd;

	while ((fd = unix_connect(path)) < 0) {
		if (p && !bench_proc_alive(p))
			return -ECHILD;
		if (bench_now_us() > deadline)
			return -ETIME;
		g_usleep(WAIT_STEP_US);
	}
	close(fd);
	return 0;
}

int bench_wait_file(const char *path, BenchProc *p, unsigned int timeout_ms)
{
	double deadline = bench_now_us() + timeout_ms * 1000.0;
	struct stat st;

	while (stat(path, &st) < 0 || st.st_size == 0) {
		if (p && !bench_proc_alive(p))
			return -ECHILD;
		if (bench_now_us() > deadline)
			return -ETIME;
		g_usleep(WAIT_STEP_US);
	}
	return 0;
}

/* One request line, the whole reply (the server closes the connection). */
static int ctl_request(const char *sock, const char *line, GString *out)
{
	g_autofree char *req = g_strdup_printf("%s\n", line);
	char buf[1024];
	ssize_t n;
	int fd, r = 0;

	fd = unix_connect(sock);
	if (fd < 0)
		return fd;
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		r = -EIO;
	while (r == 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		else
			g_string_append_len(out, buf, n);
	}
	close(fd);
	return r;
}

static void stats_set(BenchCtlStats *s, const char *name, guint64 v)
{
	if (strcmp(name, "files_open") == 0)
		s->files_open = v;
	else if (strcmp(name, "client_commands") == 0)
		s->client_commands = v;
	else if (strcmp(name, "backend_commands") == 0)
		s->backend_commands = v;
	else if (strcmp(name, "context_loads") == 0)
		s->context_loads = v;
	else if (strcmp(name, "context_saves") == 0)
		s->context_saves = v;
	else if (strcmp(name, "flushes") == 0)
		s->flushes = v;
}

int bench_ctl_stats(const char *sock, BenchCtlStats *ret)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_auto(GStrv) lines = NULL;
	int r;

	r = ctl_request(sock, "stats", out);
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	lines = g_strsplit(out->str, "\n", -1);
	for (char **l = lines; *l; l++) {
		g_auto(GStrv) words = g_strsplit(*l, " ", 2);
		guint64 v;

		if (g_strv_length(words) != 2 ||
		    !g_ascii_string_to_unsigned(words[1], 10, 0, G_MAXUINT64, &v, NULL))
			continue;
		stats_set(ret, words[0], v);
	}
	return 0;
}

void bench_ctl_stats_add_delta(BenchCtlStats *acc, const BenchCtlStats *before,
			       const BenchCtlStats *after)
{
	acc->client_commands += after->client_commands - before->client_commands;
	acc->backend_commands += after->backend_commands - before->backend_commands;
	acc->context_loads += after->context_loads - before->context_loads;
	acc->context_saves += after->context_saves - before->context_saves;
	acc->flushes += after->flushes - before->flushes;
}

int bench_ctl_wait_spaces(const char *sock, unsigned int n, unsigned int ms)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_autofree char *line = g_strdup_printf("wait-spaces %u %u", n, ms);
	int r;

	r = ctl_request(sock, line, out);
	if (r < 0)
		return r;
	if (g_str_has_prefix(out->str, "ok "))
		return 0;
	return g_str_has_prefix(out->str, "timeout ") ? -ETIME : -EPROTO;
}

long bench_vmrss_kib(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
	g_autofree char *text = NULL;
	const char *p;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return -1;
	p = strstr(text, "\nVmRSS:");
	if (!p)
		return -1;
	return strtol(p + strlen("\nVmRSS:"), NULL, 10);
}

#define PCAPNG_EPB	   6u
#define PCAPNG_EPB_HEADER  28u	/* type, length, interface, timestamp (2), lengths (2) */
#define PCAP_TCTI_TPM_PORT 2321 /* where tss2's pcap TCTI sends commands */

/* One captured packet: IPv4, TCP, then TPM bytes.  A command adds to @ret. */
static void pcap_packet(const uint8_t *p, size_t len, BenchCtlStats *ret)
{
	size_t ip_len, tcp_len;
	uint32_t code;

	if (len < 20 || (p[0] >> 4) != 4)
		return;
	ip_len = (size_t)(p[0] & 0x0f) * 4;
	if (len < ip_len + 20)
		return;
	tcp_len = (size_t)(p[ip_len + 12] >> 4) * 4;
	if (tpm2_wire_load_u16(p + ip_len + 2) != PCAP_TCTI_TPM_PORT ||
	    len < ip_len + tcp_len + TPM2_WIRE_HEADER_SIZE)
		return;
	code = tpm2_wire_load_u32(p + ip_len + tcp_len + 6);
	ret->backend_commands++;
	if (code == TPM2_CC_ContextLoad)
		ret->context_loads++;
	else if (code == TPM2_CC_ContextSave)
		ret->context_saves++;
	else if (code == TPM2_CC_FlushContext)
		ret->flushes++;
}

int bench_pcap_count(const char *path, BenchCtlStats *ret)
{
	g_autofree char *text = NULL;
	const uint8_t *b;
	gsize len, off = 0;

	memset(ret, 0, sizeof(*ret));
	if (!g_file_get_contents(path, &text, &len, NULL))
		return -EIO;
	b = (const uint8_t *)text;
	/* Blocks in the writer's byte order: this machine's. */
	while (len - off >= 12) {
		uint32_t type, blen, cap;

		memcpy(&type, b + off, 4);
		memcpy(&blen, b + off + 4, 4);
		if (blen < 12 || blen > len - off)
			break;
		if (type == PCAPNG_EPB && blen >= PCAPNG_EPB_HEADER) {
			memcpy(&cap, b + off + 20, 4);
			if (cap <= blen - PCAPNG_EPB_HEADER)
				pcap_packet(b + off + PCAPNG_EPB_HEADER, cap, ret);
		}
		off += blen;
	}
	return 0;
}
