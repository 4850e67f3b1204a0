/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The paths of the benchmark and everything that serves them, in one temp dir:
 *
 *   inproc    libtpms in this process (libtpms is process-global: this one is ours; each
 *             daemon is a process with its own)
 *   rm, raw   tpmrm-cuse --fuse over its own libtpms, with the RM and with --raw
 *   swtpm     a bare swtpm through tss2's swtpm TCTI
 *   rm-swtpm  tpmrm-cuse --fuse --backend swtpm:unix:...
 *   abrmd     tpm2-abrmd --tcti=swtpm:path=... on a private D-Bus session bus
 *
 * Each swtpm has its own state directory, a copy of one freshly manufactured TPM, so the
 * three swtpm paths run on identical TPMs.  The swtpm TCTI of tss2 3.2.1 also wants the
 * control channel beside the data socket, at PATH.ctrl.
 */
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define START_TIMEOUT_MS  15000
#define STOP_TIMEOUT_MS	  10000
#define SWTPM_PERMALL	  "tpm2-00.permall"
#define TABRMD_CONF_FMT	  "tabrmd:bus_name=%s,bus_type=session"
#define TABRMD_NAME	  "com.intel.tss2.Tabrmd"
#define TABRMD_COUNT_NAME "com.intel.tss2.TabrmdCount"

static const struct {
	const char *key, *title, *what;
} path_names[BENCH_NPATHS] = {
	[BENCH_INPROC] = { "inproc", "in-process libtpms",
			   "tpm_backend_libtpms_new() in the bench process: the floor (1.00)" },
	[BENCH_RM] = { "rm", "tpmrm-cuse (RM)",
		       "tpmrm-cuse --fuse over libtpms, resource manager on: the product" },
	[BENCH_RM_RW] = { "rm-rw", "tpmrm-cuse (RM), write+read",
			  "the same daemon; the client does one write() and one read() per "
			  "command (no tss2, no poll)" },
	[BENCH_RAW] = { "raw", "tpmrm-cuse --raw",
			"tpmrm-cuse --raw --fuse over libtpms: the transport, no RM" },
	[BENCH_SWTPM] = { "swtpm", "swtpm (no RM)",
			  "swtpm through tss2's swtpm TCTI: the swtpm floor, no RM" },
	[BENCH_RM_SWTPM] = { "rm-swtpm", "tpmrm-cuse on swtpm",
			     "tpmrm-cuse --fuse --backend swtpm:unix:..., RM on" },
	[BENCH_ABRMD] = { "abrmd", "tpm2-abrmd on swtpm",
			  "tpm2-abrmd --tcti=swtpm:path=..., tabrmd TCTI: the incumbent" },
};

static void path_skip(BenchPath *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void path_skip(BenchPath *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_free(p->skip_reason);
	p->skip_reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	p->available = false;
	g_printerr("tpmrm-bench: %s: skipped: %s\n", p->title, p->skip_reason);
}

static char *world_file(const BenchWorld *w, const char *name, const char *suffix)
{
	return g_strdup_printf("%s/%s%s", w->dir, name, suffix);
}

/* Spawn, keep in w->procs; NULL and a reason in *ret_error on failure. */
static BenchProc *world_spawn(BenchWorld *w, const char *name, const char *const *argv,
			      char **ret_error)
{
	g_autofree char *log = world_file(w, name, ".log");
	BenchProc *p = NULL;

	if (bench_proc_spawn(name, argv, log, &p, ret_error) < 0)
		return NULL;
	g_ptr_array_add(w->procs, p);
	return p;
}

static char *wait_failure(BenchProc *p, int r, const char *what)
{
	g_autofree char *tail = bench_proc_log_tail(p);

	if (r == -ECHILD)
		return g_strdup_printf("%s exited at start: %s", bench_proc_name(p), tail);
	return g_strdup_printf("%s: %s not ready in %d ms: %s", bench_proc_name(p), what,
			       START_TIMEOUT_MS, tail);
}

/* A tpmrm-cuse on a FUSE file of its own; on success the path's node, socket, daemon. */
static void start_daemon(BenchWorld *w, BenchPath *p, const char *backend, bool raw)
{
	g_autofree char *node = world_file(w, p->key, ".node");
	g_autofree char *sock = world_file(w, p->key, ".sock");
	g_autofree char *pidf = world_file(w, p->key, ".pid");
	g_autofree char *error = NULL;
	const char *argv[] = { w->opts->daemon,	     "--fuse", node,	     "--backend", backend,
			       "--control",	     sock,     "--pid-file", pidf,	  "-f",
			       raw ? "--raw" : NULL, NULL };
	BenchProc *proc;
	int r;

	proc = world_spawn(w, p->key, argv, &error);
	if (!proc) {
		path_skip(p, "%s", error);
		return;
	}
	r = bench_wait_file(pidf, proc, START_TIMEOUT_MS);
	if (r < 0) {
		g_autofree char *why = wait_failure(proc, r, "pid file");

		path_skip(p, "%s", why);
		return;
	}
	p->node = g_steal_pointer(&node);
	p->control = g_steal_pointer(&sock);
	p->tcti_conf = g_strdup_printf("device:%s", p->node);
	p->daemon = proc;
	p->available = true;
}

/* Where the kernel cannot mount FUSE, or no tpmrm-cuse was given: why, else NULL. */
static char *fuse_unavailable(const BenchOptions *o)
{
	if (!o->daemon || access(o->daemon, X_OK) < 0)
		return g_strdup_printf("no tpmrm-cuse executable (--daemon %s)",
				       o->daemon ? o->daemon : "not given");
	if (access("/dev/fuse", R_OK | W_OK) < 0)
		return g_strdup("no usable /dev/fuse: this machine cannot mount FUSE files");
	if (geteuid() != 0 && !g_find_program_in_path("fusermount3"))
		return g_strdup("not root and no fusermount3: cannot mount a FUSE file");
	return NULL;
}

/* One command, so that the TPM is surely manufactured. */
static int template_command(const char *sock, char **ret_error)
{
	g_autofree char *conf = g_strdup_printf("swtpm:path=%s", sock);
	g_autoptr(BenchClient) cl = NULL;
	BenchConn *c = NULL;

	if (bench_conn_tcti_new(conf, &c, ret_error) < 0)
		return -EIO;
	cl = bench_client_new(c);
	if (bench_client_get_random(cl) < 0) {
		*ret_error = bench_client_error(cl);
		return -EIO;
	}
	return 0;
}

/* Manufacture one TPM in a throwaway swtpm; its NV state is the start of every swtpm. */
static int swtpm_template(BenchWorld *w, const char *swtpm, GBytes **ret, char **ret_error)
{
	g_autofree char *state = world_file(w, "template", ".state");
	g_autofree char *server = g_strdup_printf("type=unixio,path=%s/template.sock", w->dir);
	g_autofree char *ctrl = g_strdup_printf("type=unixio,path=%s/template.sock.ctrl", w->dir);
	g_autofree char *dir = g_strdup_printf("dir=%s", state);
	g_autofree char *sock = world_file(w, "template", ".sock");
	g_autofree char *permall = g_build_filename(state, SWTPM_PERMALL, NULL);
	const char *argv[] = { swtpm,
			       "socket",
			       "--tpm2",
			       "--server",
			       server,
			       "--ctrl",
			       ctrl,
			       "--tpmstate",
			       dir,
			       "--flags",
			       "not-need-init,startup-clear",
			       NULL };
	g_autofree char *contents = NULL;
	BenchProc *proc;
	gsize len;
	int r;

	mkdir(state, 0700);
	proc = world_spawn(w, "template-swtpm", argv, ret_error);
	if (!proc)
		return -EIO;
	r = bench_wait_connect(sock, proc, START_TIMEOUT_MS);
	if (r == 0)
		r = template_command(sock, ret_error);
	/* Manufactured by now, but written out when swtpm gets round to it. */
	if (r == 0)
		r = bench_wait_file(permall, proc, START_TIMEOUT_MS);
	if (r < 0) {
		if (!*ret_error)
			*ret_error = wait_failure(proc, r, SWTPM_PERMALL);
		return r;
	}
	bench_proc_stop(proc, STOP_TIMEOUT_MS);
	if (!g_file_get_contents(permall, &contents, &len, NULL)) {
		*ret_error = g_strdup_printf("swtpm left no %s", permall);
		return -EIO;
	}
	*ret = g_bytes_new_take(g_steal_pointer(&contents), len);
	return 0;
}

/* A swtpm named @name on @w->dir/NAME.sock, from @state: its socket, or NULL. */
static char *start_swtpm(BenchWorld *w, const char *name, const char *swtpm, GBytes *state,
			 char **ret_error)
{
	g_autofree char *sock = world_file(w, name, ".sock");
	g_autofree char *state_dir = world_file(w, name, ".state");
	g_autofree char *permall = g_build_filename(state_dir, SWTPM_PERMALL, NULL);
	g_autofree char *server = g_strdup_printf("type=unixio,path=%s", sock);
	g_autofree char *ctrl = g_strdup_printf("type=unixio,path=%s.ctrl", sock);
	g_autofree char *dir = g_strdup_printf("dir=%s", state_dir);
	const char *argv[] = { swtpm,
			       "socket",
			       "--tpm2",
			       "--server",
			       server,
			       "--ctrl",
			       ctrl,
			       "--tpmstate",
			       dir,
			       "--flags",
			       "not-need-init,startup-clear",
			       NULL };
	gsize len;
	const char *bytes = g_bytes_get_data(state, &len);
	BenchProc *proc;
	int r;

	mkdir(state_dir, 0700);
	if (!g_file_set_contents(permall, bytes, (gssize)len, NULL)) {
		*ret_error = g_strdup_printf("cannot write %s", permall);
		return NULL;
	}
	proc = world_spawn(w, name, argv, ret_error);
	if (!proc)
		return NULL;
	r = bench_wait_connect(sock, proc, START_TIMEOUT_MS);
	if (r < 0) {
		*ret_error = wait_failure(proc, r, "socket");
		return NULL;
	}
	return g_steal_pointer(&sock);
}

static void log_nothing(const gchar *domain, GLogLevelFlags level, const gchar *message,
			gpointer user)
{
	(void)domain;
	(void)level;
	(void)message;
	(void)user;
}

/* Try connecting to abrmd (it owns its D-Bus name once it is ready). */
static bool abrmd_answers(const char *conf, BenchConn **ret)
{
	/* The tabrmd TCTI warns through glib about every refused probe. */
	GLogFunc old = g_log_set_default_handler(log_nothing, NULL);
	bool ok = bench_conn_tcti_new(conf, ret, NULL) == 0;

	g_log_set_default_handler(old, NULL);
	return ok;
}

static int wait_abrmd(BenchProc *proc, const char *conf, char **ret_error)
{
	double deadline = bench_now_us() + START_TIMEOUT_MS * 1000.0;
	g_autofree char *error = NULL;
	BenchConn *c = NULL;

	while (!abrmd_answers(conf, &c)) {
		if (!bench_proc_alive(proc) || bench_now_us() > deadline) {
			g_autofree char *tail = bench_proc_log_tail(proc);

			bench_conn_tcti_new(conf, &c, &error);
			*ret_error = g_strdup_printf("tpm2-abrmd not reachable: %s; log: %s",
						     error ? error : "", tail);
			bench_conn_free(c);
			return -ETIME;
		}
		g_usleep(20000);
	}
	bench_conn_free(c);
	return 0;
}

/* A private D-Bus session bus, for this process and its children. */
static int start_bus(BenchWorld *w, char **ret_error)
{
	g_autofree char *dbus = g_find_program_in_path("dbus-daemon");
	g_autofree char *bus = world_file(w, "bus", "");
	g_autofree char *bus_addr = g_strdup_printf("--address=unix:path=%s", bus);
	const char *argv[] = { dbus, "--session", "--nofork", "--nopidfile", bus_addr, NULL };
	BenchProc *proc;
	int r;

	if (!dbus) {
		*ret_error = g_strdup("dbus-daemon is not installed (Debian: dbus-daemon)");
		return -ENOENT;
	}
	proc = world_spawn(w, "dbus-daemon", argv, ret_error);
	if (!proc)
		return -EIO;
	r = bench_wait_connect(bus, proc, START_TIMEOUT_MS);
	if (r < 0) {
		*ret_error = wait_failure(proc, r, "bus");
		return r;
	}
	/* Before any D-Bus use in this process: GDBus reads it once. */
	g_setenv("DBUS_SESSION_BUS_ADDRESS", bus_addr + strlen("--address="), TRUE);
	return 0;
}

/*
 * tpm2-abrmd as D-Bus name @dbus_name over the TCTI @tcti, with @pcap (or NULL) as its
 * TCTI_PCAP_FILE.  The process, ready for clients, or NULL.
 */
static BenchProc *start_abrmd(BenchWorld *w, const char *name, const char *dbus_name,
			      const char *tcti, const char *pcap, char **ret_error)
{
	g_autofree char *abrmd = g_find_program_in_path("tpm2-abrmd");
	g_autofree char *name_opt = g_strdup_printf("--dbus-name=%s", dbus_name);
	g_autofree char *tcti_opt = g_strdup_printf("--tcti=%s", tcti);
	g_autofree char *conf = g_strdup_printf(TABRMD_CONF_FMT, dbus_name);
	const char *argv[] = { abrmd,
			       "--session",
			       name_opt,
			       tcti_opt,
			       "--max-connections=100",
			       "--flush-all",
			       geteuid() == 0 ? "--allow-root" : NULL,
			       NULL };
	BenchProc *proc;

	if (!abrmd) {
		*ret_error = g_strdup(
			"tpm2-abrmd is not installed (Debian: tpm2-abrmd libtss2-tcti-tabrmd0)");
		return NULL;
	}
	/* The child inherits it; nothing in this process reads it. */
	if (pcap)
		g_setenv("TCTI_PCAP_FILE", pcap, TRUE);
	proc = world_spawn(w, name, argv, ret_error);
	g_unsetenv("TCTI_PCAP_FILE");
	if (!proc || wait_abrmd(proc, conf, ret_error) < 0)
		return NULL;
	return proc;
}

/*
 * tpm2-abrmd has no counters.  A second one, on a swtpm of its own, reaches it through
 * tss2's pcap TCTI, which records every command it sends: that instance is never timed,
 * only counted.
 */
static void start_abrmd_counter(BenchWorld *w, BenchPath *p, const char *swtpm, GBytes *state)
{
	g_autofree char *error = NULL;
	g_autofree char *sock = start_swtpm(w, "abrmd-count.swtpm", swtpm, state, &error);
	g_autofree char *pcap = world_file(w, "abrmd-count", ".pcap");
	g_autofree char *tcti = sock ? g_strdup_printf("pcap:swtpm:path=%s", sock) : NULL;

	if (sock && start_abrmd(w, "abrmd-count", TABRMD_COUNT_NAME, tcti, pcap, &error)) {
		p->count_tcti_conf = g_strdup_printf(TABRMD_CONF_FMT, TABRMD_COUNT_NAME);
		p->count_pcap = g_steal_pointer(&pcap);
		return;
	}
	g_printerr("tpmrm-bench: %s: no command counts: %s\n", p->title, error);
	p->count_note = g_strdup_printf("not counted: %s", error);
}

static void start_abrmd_path(BenchWorld *w, BenchPath *p, const char *swtpm, GBytes *state)
{
	g_autofree char *error = NULL;
	g_autofree char *sock = NULL;
	g_autofree char *tcti = NULL;

	if (start_bus(w, &error) < 0) {
		path_skip(p, "%s", error);
		return;
	}
	sock = start_swtpm(w, "abrmd.swtpm", swtpm, state, &error);
	if (!sock) {
		path_skip(p, "%s", error);
		return;
	}
	tcti = g_strdup_printf("swtpm:path=%s", sock);
	p->daemon = start_abrmd(w, "abrmd", TABRMD_NAME, tcti, NULL, &error);
	if (!p->daemon) {
		path_skip(p, "%s", error);
		return;
	}
	p->tcti_conf = g_strdup_printf(TABRMD_CONF_FMT, TABRMD_NAME);
	p->available = true;
	start_abrmd_counter(w, p, swtpm, state);
}

static void start_swtpm_paths(BenchWorld *w)
{
	g_autofree char *swtpm = g_find_program_in_path("swtpm");
	g_autofree char *error = NULL;
	g_autoptr(GBytes) state = NULL;
	BenchPath *direct = &w->paths[BENCH_SWTPM], *rm = &w->paths[BENCH_RM_SWTPM];
	BenchPath *abrmd = &w->paths[BENCH_ABRMD];
	g_autofree char *sock_direct = NULL, *sock_rm = NULL;

	if (direct->skip_reason && rm->skip_reason && abrmd->skip_reason)
		return;
	if (!swtpm || swtpm_template(w, swtpm, &state, &error) < 0) {
		for (int i = BENCH_SWTPM; i <= BENCH_ABRMD; i++)
			if (!w->paths[i].skip_reason)
				path_skip(&w->paths[i], "%s",
					  swtpm ? error : "swtpm is not installed (Debian: swtpm)");
		return;
	}
	if (!direct->skip_reason) {
		sock_direct = start_swtpm(w, "swtpm.swtpm", swtpm, state, &error);
		if (sock_direct) {
			direct->tcti_conf = g_strdup_printf("swtpm:path=%s", sock_direct);
			direct->available = true;
		} else {
			path_skip(direct, "%s", error);
		}
	}
	g_clear_pointer(&error, g_free);
	if (!rm->skip_reason) { /* no FUSE or not selected: no swtpm for it either */
		sock_rm = start_swtpm(w, "rm-swtpm.swtpm", swtpm, state, &error);
		if (sock_rm) {
			g_autofree char *spec = g_strdup_printf("swtpm:unix:%s", sock_rm);

			start_daemon(w, rm, spec, false);
		} else {
			path_skip(rm, "%s", error);
		}
	}
	if (!abrmd->skip_reason)
		start_abrmd_path(w, abrmd, swtpm, state);
}

/* The write+read client uses the RM path's daemon. */
static void share_rm_daemon(BenchWorld *w)
{
	BenchPath *rm = &w->paths[BENCH_RM], *rw = &w->paths[BENCH_RM_RW];

	if (rw->skip_reason)
		return;
	if (!rm->available) {
		path_skip(rw, "it shares the daemon of %s, which is not running", rm->title);
		return;
	}
	rw->node = g_strdup(rm->node);
	rw->control = g_strdup(rm->control);
	rw->daemon = rm->daemon;
	rw->available = true;
}

/* --paths: mark every path not named as skipped, so nothing starts for it. */
static void deselect_paths(BenchWorld *w, const char *list)
{
	g_auto(GStrv) keys = g_strsplit(list, ",", -1);

	for (int i = BENCH_INPROC + 1; i < BENCH_NPATHS; i++)
		if (!g_strv_contains((const char *const *)keys, w->paths[i].key))
			path_skip(&w->paths[i], "not selected (--paths)");
}

int bench_world_start(BenchWorld *w, const BenchOptions *opts, char **ret_error)
{
	g_autofree char *no_fuse = fuse_unavailable(opts);
	int r;

	memset(w, 0, sizeof(*w));
	w->opts = opts;
	w->procs = g_ptr_array_new();
	for (int i = 0; i < BENCH_NPATHS; i++) {
		w->paths[i].id = (BenchPathId)i;
		w->paths[i].key = path_names[i].key;
		w->paths[i].title = path_names[i].title;
		w->paths[i].what = path_names[i].what;
	}
	w->dir = g_dir_make_tmp("tpmrm-bench.XXXXXX", NULL);
	if (!w->dir)
		return tpm_backend_error(ret_error, -EIO, "cannot make a temp dir");
	r = tpm_backend_libtpms_new(NULL, &w->libtpms, ret_error);
	if (r < 0)
		return r;
	w->paths[BENCH_INPROC].available = true;
	if (opts->paths)
		deselect_paths(w, opts->paths);

	if (no_fuse) {
		path_skip(&w->paths[BENCH_RM], "%s", no_fuse);
		path_skip(&w->paths[BENCH_RM_RW], "%s", no_fuse);
		path_skip(&w->paths[BENCH_RAW], "%s", no_fuse);
		path_skip(&w->paths[BENCH_RM_SWTPM], "%s", no_fuse);
	} else {
		if (!w->paths[BENCH_RM].skip_reason)
			start_daemon(w, &w->paths[BENCH_RM], "libtpms", false);
		share_rm_daemon(w);
		if (!w->paths[BENCH_RAW].skip_reason)
			start_daemon(w, &w->paths[BENCH_RAW], "libtpms", true);
	}
	start_swtpm_paths(w);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void path_clear(BenchPath *p)
{
	/* A daemon that had to be killed leaves its mount behind. */
	if (p->node)
		umount2(p->node, MNT_DETACH);
	g_free(p->skip_reason);
	g_free(p->tcti_conf);
	g_free(p->node);
	g_free(p->control);
	g_free(p->count_tcti_conf);
	g_free(p->count_pcap);
	g_free(p->count_note);
	memset(p, 0, sizeof(*p));
}

void bench_world_stop(BenchWorld *w, bool keep)
{
	/* Last started first: daemons before the swtpm or bus they use. */
	for (guint i = w->procs ? w->procs->len : 0; i > 0; i--)
		bench_proc_free(g_ptr_array_index(w->procs, i - 1));
	g_clear_pointer(&w->procs, g_ptr_array_unref);
	for (int i = 0; i < BENCH_NPATHS; i++)
		path_clear(&w->paths[i]);
	g_clear_pointer(&w->libtpms, tpm_backend_free);
	if (w->dir && keep)
		g_printerr("tpmrm-bench: logs kept in %s\n", w->dir);
	else if (w->dir)
		nftw(w->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	g_clear_pointer(&w->dir, g_free);
}

int bench_path_connect(BenchWorld *w, const BenchPath *p, BenchConn **ret, char **ret_error)
{
	if (p->id == BENCH_INPROC) {
		*ret = bench_conn_inproc_new(w->libtpms);
		return 0;
	}
	if (p->id == BENCH_RM_RW)
		return bench_conn_fd_new(p->node, ret, ret_error);
	return bench_conn_tcti_new(p->tcti_conf, ret, ret_error);
}
