/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tpmrm-bench [--quick] [--daemon TPMRM_CUSE] [--data DIR] [--rounds N] [--rsa N]
 *             [--scale-ms MS] [--opens N] [--files N] [--paths LIST] [--keep]
 *
 * Starts every path it can (see bench-world.c), measures, stops everything, and prints
 * markdown tables on stdout; progress goes to stderr.  Exit status 1 when the in-process
 * TPM or one of tpmrm-cuse's own paths failed a command, else 0 (a path that cannot run
 * on this machine is skipped with the reason, not a failure).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifndef TPMRM_BENCH_DAEMON
#define TPMRM_BENCH_DAEMON NULL
#endif

typedef struct Args {
	gboolean quick, keep;
	char *daemon, *data_dir, *paths;
	int rounds, rsa, scale_ms, opens, files;
} Args;

static void options_init(BenchOptions *o, const Args *a)
{
	static const unsigned int levels[] = { 1, 4, 16, 64 };

	memset(o, 0, sizeof(*o));
	o->daemon = a->daemon ? a->daemon : TPMRM_BENCH_DAEMON;
	o->paths = a->paths;
	o->data_dir = a->data_dir;
	o->quick = a->quick;
	o->rounds = a->quick ? 5 : 600;
	o->warmup = a->quick ? 1 : 20;
	o->rsa = a->quick ? 0 : 10;
	o->scale_ms = a->quick ? 200 : 1500;
	o->scale_passes = a->quick ? 1 : 3;
	o->nlevels = a->quick ? 2 : G_N_ELEMENTS(levels);
	memcpy(o->levels, levels, sizeof(levels));
	o->opens = a->quick ? 20 : 1000;
	o->rss_files[0] = a->quick ? 100 : 1000;
	o->rss_files[1] = a->quick ? 1000 : 10000;
	if (a->rounds > 0)
		o->rounds = (unsigned int)a->rounds;
	if (a->rsa >= 0)
		o->rsa = (unsigned int)a->rsa;
	if (a->scale_ms > 0)
		o->scale_ms = (unsigned int)a->scale_ms;
	if (a->opens > 0)
		o->opens = (unsigned int)a->opens;
	if (a->files > 0) {
		o->rss_files[1] = (unsigned int)a->files;
		o->rss_files[0] = MIN(o->rss_files[0], o->rss_files[1] / 10);
	}
}

static int parse_args(int argc, char **argv, Args *a)
{
	const GOptionEntry entries[] = {
		{ "quick", 'q', 0, G_OPTION_ARG_NONE, &a->quick,
		  "A smoke test of a few seconds: few rounds, short scale runs", NULL },
		{ "daemon", 'd', 0, G_OPTION_ARG_FILENAME, &a->daemon,
		  "The tpmrm-cuse executable (default: the one built beside this tool)", "PATH" },
		{ "data", 0, 0, G_OPTION_ARG_FILENAME, &a->data_dir,
		  "Write data files for the plots into DIR", "DIR" },
		{ "rounds", 0, 0, G_OPTION_ARG_INT, &a->rounds, "Measured rounds of the mix", "N" },
		{ "rsa", 0, 0, G_OPTION_ARG_INT, &a->rsa, "RSA-2048 key generations per path",
		  "N" },
		{ "scale-ms", 0, 0, G_OPTION_ARG_INT, &a->scale_ms,
		  "Duration of each throughput run", "MS" },
		{ "opens", 0, 0, G_OPTION_ARG_INT, &a->opens, "open+close pairs timed", "N" },
		{ "files", 0, 0, G_OPTION_ARG_INT, &a->files,
		  "Open files for the memory measurement", "N" },
		{ "paths", 'p', 0, G_OPTION_ARG_STRING, &a->paths,
		  "Only these paths (comma-separated: inproc,rm,rm-rw,raw,swtpm,rm-swtpm,abrmd; "
		  "inproc is always run: it is the floor)",
		  "LIST" },
		{ "keep", 'k', 0, G_OPTION_ARG_NONE, &a->keep,
		  "Keep the temp dir (daemon logs) at the end", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- benchmark tpmrm-cuse");
	g_autoptr(GError) error = NULL;

	a->rsa = -1;
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		g_printerr("tpmrm-bench: %s\n", error->message);
		return -1;
	}
	if (argc > 1) {
		g_printerr("tpmrm-bench: unexpected argument '%s'\n", argv[1]);
		return -1;
	}
	return 0;
}

/* Our own paths must not fail; tpm2-abrmd's troubles are its own and only reported. */
static bool own_path_failed(const BenchResults *res)
{
	static const BenchPathId own[] = { BENCH_INPROC, BENCH_RM, BENCH_RM_RW, BENCH_RAW,
					   BENCH_RM_SWTPM };

	for (size_t i = 0; i < G_N_ELEMENTS(own); i++)
		if (res->mix[own[i]].failure || res->scale[own[i]].failure)
			return true;
	return res->open.failure && res->open.rss_kib[0] > 0;
}

int main(int argc, char **argv)
{
	Args a = { 0 };
	BenchOptions o;
	BenchWorld w;
	BenchResults res;
	g_autofree char *error = NULL;
	double t0 = bench_now_us();
	bool failed;

	if (parse_args(argc, argv, &a) < 0)
		return 2;
	options_init(&o, &a);
	signal(SIGPIPE, SIG_IGN);
	/* tss2 logs every failed probe of tpm2-abrmd at start-up; failures are reported here. */
	g_setenv("TSS2_LOG", "all+none", FALSE);
	if (o.data_dir)
		g_mkdir_with_parents(o.data_dir, 0755);
	if (bench_world_start(&w, &o, &error) < 0) {
		g_printerr("tpmrm-bench: %s\n", error);
		bench_world_stop(&w, a.keep);
		return 1;
	}
	bench_results_init(&res);
	bench_run_mix(&w, &res);
	bench_run_rsa(&w, &res);
	bench_run_scale(&w, &res);
	bench_run_open(&w, &res);
	res.seconds = (bench_now_us() - t0) / 1e6;
	bench_report(&w, &res, stdout);
	failed = own_path_failed(&res);
	bench_world_stop(&w, a.keep || failed);
	bench_results_clear(&res);
	g_free(a.daemon);
	g_free(a.data_dir);
	g_free(a.paths);
	return failed ? 1 : 0;
}
