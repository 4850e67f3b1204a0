/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scale: throughput of N concurrent clients (threads, each with its own connection and
 * its own key) signing as fast as they can; the cost of opening and closing a space; the
 * daemon's memory with thousands of files open.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

#define RELEASE_WAIT_MS 60000

typedef struct ScaleShared {
	GMutex lock;
	GCond cond;
	bool go;
	double deadline_us;
} ScaleShared;

typedef struct ScaleThread {
	ScaleShared *sh;
	BenchClient *cl;
	GThread *thread;
	GArray *lat_us;
	double end_us;
	char *failure;
} ScaleThread;

static gpointer scale_thread_main(gpointer data)
{
	ScaleThread *t = data;
	double t0, deadline;

	g_mutex_lock(&t->sh->lock);
	while (!t->sh->go)
		g_cond_wait(&t->sh->cond, &t->sh->lock);
	deadline = t->sh->deadline_us;
	g_mutex_unlock(&t->sh->lock);

	while ((t0 = bench_now_us()) < deadline) {
		double us;

		if (bench_client_sign(t->cl) < 0) {
			t->failure = bench_client_error(t->cl);
			break;
		}
		us = bench_now_us() - t0;
		g_array_append_val(t->lat_us, us);
	}
	t->end_us = bench_now_us();
	return NULL;
}

/* Start the threads together, wait for all; total signatures per second. */
static double scale_go(ScaleThread *th, unsigned int n, unsigned int ms, GArray *lat,
		       char **ret_failure)
{
	ScaleShared sh = { .go = false };
	double start, end = 0;
	guint64 ops = 0;

	g_mutex_init(&sh.lock);
	g_cond_init(&sh.cond);
	for (unsigned int j = 0; j < n; j++) {
		th[j].sh = &sh;
		th[j].thread = g_thread_new("bench-client", scale_thread_main, &th[j]);
	}
	g_mutex_lock(&sh.lock);
	start = bench_now_us();
	sh.deadline_us = start + ms * 1000.0;
	sh.go = true;
	g_cond_broadcast(&sh.cond);
	g_mutex_unlock(&sh.lock);
	for (unsigned int j = 0; j < n; j++) {
		g_thread_join(th[j].thread);
		end = MAX(end, th[j].end_us);
		ops += th[j].lat_us->len;
		g_array_append_vals(lat, th[j].lat_us->data, th[j].lat_us->len);
		if (th[j].failure && !*ret_failure)
			*ret_failure = g_strdup(th[j].failure);
	}
	g_cond_clear(&sh.cond);
	g_mutex_clear(&sh.lock);
	return (double)ops / ((end - start) / 1e6);
}

static void scale_threads_free(ScaleThread *th, unsigned int n)
{
	for (unsigned int j = 0; j < n; j++) {
		bench_client_free(th[j].cl);
		if (th[j].lat_us)
			g_array_unref(th[j].lat_us);
		g_free(th[j].failure);
	}
	g_free(th);
}

/* @n clients on @p for scale_ms: one pass of level @li of @s.  False on failure. */
static bool scale_level(BenchWorld *w, const BenchPath *p, BenchScaleResult *s, unsigned int li)
{
	unsigned int n = w->opts->levels[li];
	ScaleThread *th = g_new0(ScaleThread, n);
	BenchCtlStats before, after;
	bool stats;
	char *failure = NULL;
	double ops;

	for (unsigned int j = 0; j < n && !failure; j++) {
		th[j].lat_us = g_array_new(FALSE, FALSE, sizeof(double));
		th[j].cl = bench_open_client(w, p, true, 1000 + j, &failure);
	}
	stats = p->control && bench_ctl_stats(p->control, &before) == 0;
	if (!failure) {
		ops = scale_go(th, n, w->opts->scale_ms, s->lat_us[li], &failure);
		g_array_append_val(s->pass_ops[li], ops);
	}
	if (stats && bench_ctl_stats(p->control, &after) == 0)
		bench_ctl_stats_add_delta(&s->delta[li], &before, &after);
	scale_threads_free(th, n);
	if (p->control)
		bench_ctl_wait_spaces(p->control, 0, RELEASE_WAIT_MS);
	if (failure) {
		g_printerr("tpmrm-bench: %s: %u clients: %s\n", p->title, n, failure);
		s->failure = g_strdup_printf("%u clients: %s", n, failure);
		g_free(failure);
		return false;
	}
	return true;
}

static bool scale_path(const BenchWorld *w, const BenchResults *res, BenchPathId id)
{
	if (!w->paths[id].available || res->mix[id].failure)
		return false;
	/* --raw admits one open file, a bare swtpm one connection: nothing to scale. */
	return id == BENCH_RM || id == BENCH_RM_SWTPM || id == BENCH_ABRMD;
}

/* The in-process TPM's own signing rate: what the paths compete for. */
static void inproc_rate(BenchWorld *w, BenchResults *res)
{
	g_autoptr(BenchClient) cl = NULL;
	g_autofree char *error = NULL;
	double start, deadline;
	guint64 ops = 0;

	cl = bench_open_client(w, &w->paths[BENCH_INPROC], true, 999, &error);
	if (!cl)
		return;
	start = bench_now_us();
	deadline = start + w->opts->scale_ms * 1000.0;
	while (bench_now_us() < deadline && bench_client_sign(cl) == 0)
		ops++;
	res->inproc_sign_per_s = (double)ops / ((bench_now_us() - start) / 1e6);
}

/*
 * Every pass visits every client count and path, the order turning each time, and the
 * median pass counts: load from elsewhere on the machine hits all counts alike.
 */
void bench_run_scale(BenchWorld *w, BenchResults *res)
{
	const BenchOptions *o = w->opts;
	unsigned int cells = o->nlevels * BENCH_NPATHS;

	inproc_rate(w, res);
	for (unsigned int pass = 0; pass < o->scale_passes; pass++) {
		g_printerr("tpmrm-bench: scale: pass %u of %u\n", pass + 1, o->scale_passes);
		for (unsigned int c = 0; c < cells; c++) {
			unsigned int cell = (c + pass * (BENCH_NPATHS + 1)) % cells;
			unsigned int li = cell / BENCH_NPATHS;
			BenchPathId id = (BenchPathId)(cell % BENCH_NPATHS);
			BenchScaleResult *s = &res->scale[id];

			if (!scale_path(w, res, id) || s->failure)
				continue;
			s->done = true;
			scale_level(w, &w->paths[id], s, li);
		}
	}
}

/* --- open and close ---------------------------------------------------------------------- */

static void time_open_close(const char *node, unsigned int n, GArray *out)
{
	for (unsigned int i = 0; i < n; i++) {
		double t0 = bench_now_us(), us;
		int fd = open(node, O_RDWR | O_CLOEXEC);

		if (fd < 0)
			return;
		close(fd);
		us = bench_now_us() - t0;
		g_array_append_val(out, us);
	}
}

static void time_tcti_init(const char *conf, unsigned int n, GArray *out)
{
	for (unsigned int i = 0; i < n; i++) {
		double t0 = bench_now_us(), us;
		BenchConn *c = NULL;

		if (bench_conn_tcti_new(conf, &c, NULL) < 0)
			return;
		bench_conn_free(c);
		us = bench_now_us() - t0;
		g_array_append_val(out, us);
	}
}

/* Room for @want more descriptors; returns how many there is room for. */
static unsigned int raise_nofile(unsigned int want)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur < need) {
		struct rlimit up = { need, MAX(need, rl.rlim_max) };

		if (setrlimit(RLIMIT_NOFILE, &up) < 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur > 256 ? (unsigned int)MIN(rl.rlim_cur - 256, want) : 0;
}

static int get_random_raw(int fd)
{
	static const uint8_t cmd[] = { 0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 8 };
	uint8_t rsp[64];

	if (write(fd, cmd, sizeof(cmd)) != (ssize_t)sizeof(cmd))
		return -EIO;
	return read(fd, rsp, sizeof(rsp)) >= 10 ? 0 : -EIO;
}

/* The daemon's VmRSS idle, with N1 and N2 files open, after a command on each, closed. */
static void measure_rss(const BenchPath *p, BenchOpenResult *o, unsigned int n1, unsigned int n2)
{
	pid_t pid = bench_proc_pid(p->daemon);
	g_autofree int *fds = g_new(int, n2);
	unsigned int opened = 0;

	bench_ctl_wait_spaces(p->control, 0, RELEASE_WAIT_MS);
	o->rss_kib[0] = bench_vmrss_kib(pid);
	for (; opened < n2; opened++) {
		fds[opened] = open(p->node, O_RDWR | O_CLOEXEC);
		if (fds[opened] < 0) {
			o->failure = g_strdup_printf("open() of file %u failed: %s", opened + 1,
						     g_strerror(errno));
			break;
		}
		if (opened + 1 == n1)
			o->rss_kib[1] = bench_vmrss_kib(pid);
	}
	if (opened == n2) {
		o->rss_kib[2] = bench_vmrss_kib(pid);
		for (unsigned int i = 0; i < n2; i++)
			if (get_random_raw(fds[i]) < 0 && !o->failure)
				o->failure = g_strdup_printf("GetRandom on file %u failed", i + 1);
		o->rss_kib[3] = bench_vmrss_kib(pid);
	}
	for (unsigned int i = 0; i < opened; i++)
		close(fds[i]);
	bench_ctl_wait_spaces(p->control, 0, RELEASE_WAIT_MS);
	o->rss_kib[4] = bench_vmrss_kib(pid);
}

void bench_run_open(BenchWorld *w, BenchResults *res)
{
	const BenchPath *rm = &w->paths[BENCH_RM], *abrmd = &w->paths[BENCH_ABRMD];
	BenchOpenResult *o = &res->open;
	unsigned int n2;

	if (!rm->available) {
		o->failure = g_strdup("tpmrm-cuse over libtpms is not available");
		return;
	}
	g_printerr("tpmrm-bench: open and close\n");
	time_open_close(rm->node, w->opts->opens, o->open_close_us);
	bench_ctl_wait_spaces(rm->control, 0, RELEASE_WAIT_MS);
	time_tcti_init(rm->tcti_conf, MAX(w->opts->opens / 4, 1), o->tcti_device_us);
	bench_ctl_wait_spaces(rm->control, 0, RELEASE_WAIT_MS);
	if (abrmd->available)
		time_tcti_init(abrmd->tcti_conf, MAX(w->opts->opens / 4, 1), o->tcti_tabrmd_us);

	n2 = raise_nofile(w->opts->rss_files[1]);
	o->rss_files[0] = MIN(w->opts->rss_files[0], n2);
	o->rss_files[1] = n2;
	g_printerr("tpmrm-bench: memory with %u and %u open files\n", o->rss_files[0], n2);
	if (n2 > 0)
		measure_rss(rm, o, o->rss_files[0], n2);
}
