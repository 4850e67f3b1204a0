/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Percentiles, the markdown tables, and the data files that scripts/bench plots.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_percentile(GArray *samples, double p)
{
	double *v = (double *)(void *)samples->data;
	double pos;
	guint lo;

	if (samples->len == 0)
		return NAN;
	qsort(v, samples->len, sizeof(double), cmp_double);
	pos = p * (samples->len - 1);
	lo = (guint)pos;
	if (lo + 1 >= samples->len)
		return v[samples->len - 1];
	return v[lo] + (pos - lo) * (v[lo + 1] - v[lo]);
}

static GArray *samples_new(void)
{
	return g_array_new(FALSE, FALSE, sizeof(double));
}

void bench_results_init(BenchResults *res)
{
	memset(res, 0, sizeof(*res));
	for (int i = 0; i < BENCH_NPATHS; i++) {
		for (int s = 0; s < BENCH_MIX_STEPS; s++)
			res->mix[i].step_us[s] = samples_new();
		res->mix[i].mix_us = samples_new();
		res->mix[i].rsa_ms = samples_new();
	}
	for (int i = 0; i < BENCH_NPATHS; i++) {
		for (int li = 0; li < BENCH_LEVELS_MAX; li++) {
			res->scale[i].pass_ops[li] = samples_new();
			res->scale[i].lat_us[li] = samples_new();
		}
	}
	res->open.open_close_us = samples_new();
	res->open.tcti_device_us = samples_new();
	res->open.tcti_tabrmd_us = samples_new();
}

void bench_results_clear(BenchResults *res)
{
	for (int i = 0; i < BENCH_NPATHS; i++) {
		for (int s = 0; s < BENCH_MIX_STEPS; s++)
			g_array_unref(res->mix[i].step_us[s]);
		g_array_unref(res->mix[i].mix_us);
		g_array_unref(res->mix[i].rsa_ms);
		g_free(res->mix[i].failure);
		g_free(res->mix[i].stats_source);
		g_free(res->scale[i].failure);
		for (int li = 0; li < BENCH_LEVELS_MAX; li++) {
			g_array_unref(res->scale[i].pass_ops[li]);
			g_array_unref(res->scale[i].lat_us[li]);
		}
	}
	g_array_unref(res->open.open_close_us);
	g_array_unref(res->open.tcti_device_us);
	g_array_unref(res->open.tcti_tabrmd_us);
	g_free(res->open.failure);
}

/* The paths that produced mix samples, in table order. */
static bool mix_has_data(const BenchResults *res, int i)
{
	return res->mix[i].done && res->mix[i].mix_us->len > 0;
}

static const char *met(bool ok)
{
	return ok ? "met" : "**not met**";
}

static void print_paths(const BenchWorld *w, const BenchResults *res, FILE *out)
{
	fprintf(out, "### Paths\n\n| path | what | status |\n|---|---|---|\n");
	for (int i = 0; i < BENCH_NPATHS; i++) {
		const BenchPath *p = &w->paths[i];
		const char *status = "measured";

		if (!p->available)
			status = p->skip_reason;
		else if (res->mix[i].failure)
			status = res->mix[i].failure;
		fprintf(out, "| %s | %s | %s%s |\n", p->title, p->what,
			p->available && !res->mix[i].failure ? "" : "skipped: ", status);
	}
	fprintf(out, "\n");
}

static void print_header_row(const BenchWorld *w, const BenchResults *res, FILE *out,
			     const char *first)
{
	fprintf(out, "| %s | cmds |", first);
	for (int i = 0; i < BENCH_NPATHS; i++)
		if (mix_has_data(res, i))
			fprintf(out, " %s |", w->paths[i].title);
	fprintf(out, "\n|---|--:|");
	for (int i = 0; i < BENCH_NPATHS; i++)
		if (mix_has_data(res, i))
			fprintf(out, "--:|");
	fprintf(out, "\n");
}

/* Row @s of the latency tables; @s == BENCH_MIX_STEPS is the whole mix. */
static GArray *row_samples(BenchResults *res, int i, int s)
{
	return s == BENCH_MIX_STEPS ? res->mix[i].mix_us : res->mix[i].step_us[s];
}

static void print_latency(const BenchWorld *w, BenchResults *res, FILE *out, bool spread)
{
	unsigned int total_cmds = 0;

	if (spread)
		fprintf(out, "### The command mix: p10 / p90 latency, µs\n\n");
	else
		fprintf(out, "### The command mix: median latency, µs (ratio to in-process "
			     "libtpms)\n\n");
	print_header_row(w, res, out, "step");
	for (int s = 0; s <= BENCH_MIX_STEPS; s++) {
		bool whole = s == BENCH_MIX_STEPS;
		double floor = bench_percentile(row_samples(res, BENCH_INPROC, s), 0.5);

		if (whole) {
			fprintf(out, "| **whole mix** | %u |", total_cmds);
		} else {
			total_cmds += bench_mix_steps[s].commands;
			fprintf(out, "| %s | %u |", bench_mix_steps[s].name,
				bench_mix_steps[s].commands);
		}
		for (int i = 0; i < BENCH_NPATHS; i++) {
			GArray *v = row_samples(res, i, s);
			double med;

			if (!mix_has_data(res, i))
				continue;
			med = bench_percentile(v, 0.5);
			if (spread)
				fprintf(out, " %.0f / %.0f |", bench_percentile(v, 0.1),
					bench_percentile(v, 0.9));
			else
				fprintf(out, whole ? " **%.0f (%.2f)** |" : " %.0f (%.2f) |", med,
					med / floor);
		}
		fprintf(out, "\n");
	}
	fprintf(out, "\n");
}

static double mix_median(BenchResults *res, BenchPathId id)
{
	return mix_has_data(res, id) ? bench_percentile(res->mix[id].mix_us, 0.5) : NAN;
}

static void print_whole_mix(const BenchWorld *w, BenchResults *res, FILE *out)
{
	double floor = mix_median(res, BENCH_INPROC), swtpm = mix_median(res, BENCH_SWTPM);

	fprintf(out, "### The whole mix, ms per round\n\n"
		     "| path | rounds | median | p10 | p90 | ratio to in-process | ratio to "
		     "swtpm (no RM) |\n|---|--:|--:|--:|--:|--:|--:|\n");
	for (int i = 0; i < BENCH_NPATHS; i++) {
		GArray *v = res->mix[i].mix_us;
		double med;

		if (!mix_has_data(res, i))
			continue;
		med = bench_percentile(v, 0.5);
		fprintf(out, "| %s | %u | %.2f | %.2f | %.2f | %.2f |", w->paths[i].title, v->len,
			med / 1000, bench_percentile(v, 0.1) / 1000,
			bench_percentile(v, 0.9) / 1000, med / floor);
		if (isnan(swtpm) || i < BENCH_SWTPM)
			fprintf(out, " |\n");
		else
			fprintf(out, " %.2f |\n", med / swtpm);
	}
	fprintf(out, "\n");
}

static double amplification(const BenchCtlStats *d)
{
	return d->client_commands ? (double)d->backend_commands / (double)d->client_commands : NAN;
}

static void print_amplification(const BenchWorld *w, BenchResults *res, FILE *out)
{
	fprintf(out, "### Amplification: TPM commands per client command\n\n| path | client "
		     "commands | backend commands | backend per client command | context loads "
		     "| saves | flushes | counted from |\n|---|--:|--:|--:|--:|--:|--:|---|\n");
	for (int i = 0; i < BENCH_NPATHS; i++) {
		const BenchCtlStats *d = &res->mix[i].delta;

		if (!mix_has_data(res, i) || !res->mix[i].have_stats)
			continue;
		fprintf(out,
			"| %s | %" G_GUINT64_FORMAT " | %" G_GUINT64_FORMAT
			" | **%.2f** | %" G_GUINT64_FORMAT " | %" G_GUINT64_FORMAT
			" | %" G_GUINT64_FORMAT " | %s |\n",
			w->paths[i].title, d->client_commands, d->backend_commands,
			amplification(d), d->context_loads, d->context_saves, d->flushes,
			res->mix[i].stats_source);
	}
	fprintf(out, "\ntpmrm-cuse's resource manager runs the kernel profile (rm/README.md): the "
		     "eager swapping of the kernel's tpm2-space.c, which loads every object and "
		     "session of the space before each command and saves and flushes them after "
		     "it. Its rows are therefore also what /dev/tpmrm0 sends to a TPM for the same "
		     "client. tpm2-abrmd loads only the handles a command names, answers "
		     "GetCapability(handles) itself, and saves and flushes after it has answered "
		     "the client.\n");
	if (w->paths[BENCH_ABRMD].count_note)
		fprintf(out, "\n%s: %s.\n", w->paths[BENCH_ABRMD].title,
			w->paths[BENCH_ABRMD].count_note);
	fprintf(out, "\nBackend commands per client command, step by step (one untimed pass):\n\n"
		     "| step | cmds |");
	for (int i = 0; i < BENCH_NPATHS; i++)
		if (mix_has_data(res, i) && res->mix[i].have_stats)
			fprintf(out, " %s |", w->paths[i].title);
	fprintf(out, "\n|---|--:|");
	for (int i = 0; i < BENCH_NPATHS; i++)
		if (mix_has_data(res, i) && res->mix[i].have_stats)
			fprintf(out, "--:|");
	fprintf(out, "\n");
	for (int s = 0; s < BENCH_MIX_STEPS; s++) {
		fprintf(out, "| %s | %u |", bench_mix_steps[s].name, bench_mix_steps[s].commands);
		for (int i = 0; i < BENCH_NPATHS; i++)
			if (mix_has_data(res, i) && res->mix[i].have_stats)
				fprintf(out, " %.2f |", res->mix[i].step_amplification[s]);
		fprintf(out, "\n");
	}
	fprintf(out, "\n");
}

static void print_rsa(const BenchWorld *w, BenchResults *res, FILE *out)
{
	fprintf(out, "### RSA-2048 key generation (CreatePrimary + FlushContext), ms; never in "
		     "ratios\n\n| path | n | median | p10 | p90 |\n|---|--:|--:|--:|--:|\n");
	for (int i = 0; i < BENCH_NPATHS; i++) {
		GArray *v = res->mix[i].rsa_ms;

		if (v->len == 0)
			continue;
		fprintf(out, "| %s | %u | %.0f | %.0f | %.0f |\n", w->paths[i].title, v->len,
			bench_percentile(v, 0.5), bench_percentile(v, 0.1),
			bench_percentile(v, 0.9));
	}
	fprintf(out, "\n");
}

static void print_scale(const BenchWorld *w, BenchResults *res, FILE *out)
{
	const BenchOptions *o = w->opts;

	fprintf(out, "### Throughput: Sign ECDSA P-256 by N clients, each with its own file and "
		     "key; signatures/s (ratio to 1 client), median latency ms\n\n| clients |");
	for (int i = 0; i < BENCH_NPATHS; i++)
		if (res->scale[i].done)
			fprintf(out, " %s | latency |", w->paths[i].title);
	fprintf(out, "\n|--:|");
	for (int i = 0; i < BENCH_NPATHS; i++)
		if (res->scale[i].done)
			fprintf(out, "--:|--:|");
	fprintf(out, "\n");
	for (unsigned int li = 0; li < o->nlevels; li++) {
		fprintf(out, "| %u |", o->levels[li]);
		for (int i = 0; i < BENCH_NPATHS; i++) {
			const BenchScaleResult *s = &res->scale[i];

			if (!s->done)
				continue;
			if (s->ops_per_s[li] > 0)
				fprintf(out, " %.0f (%.2f) | %.2f |", s->ops_per_s[li],
					s->ops_per_s[li] / s->ops_per_s[0],
					bench_percentile(s->lat_us[li], 0.5) / 1000);
			else
				fprintf(out, " - | - |");
		}
		fprintf(out, "\n");
	}
	fprintf(out, "\nIn-process libtpms, one client: %.0f signatures/s.",
		res->inproc_sign_per_s);
	for (int i = 0; i < BENCH_NPATHS; i++) {
		if (!res->scale[i].done || !w->paths[i].control)
			continue;
		fprintf(out, " %s, backend commands per client command:", w->paths[i].title);
		for (unsigned int li = 0; li < o->nlevels; li++)
			fprintf(out, "%s %u clients %.2f", li ? "," : "", o->levels[li],
				amplification(&res->scale[i].delta[li]));
		fprintf(out, ".");
	}
	for (int i = 0; i < BENCH_NPATHS; i++)
		if (res->scale[i].failure)
			fprintf(out, " %s stopped: %s.", w->paths[i].title, res->scale[i].failure);
	fprintf(out, "\n\n");
}

static void print_open_row(FILE *out, const char *what, GArray *v)
{
	if (v->len == 0)
		return;
	fprintf(out, "| %s | %u | %.0f | %.0f | %.0f |\n", what, v->len, bench_percentile(v, 0.5),
		bench_percentile(v, 0.1), bench_percentile(v, 0.9));
}

static void print_open(BenchResults *res, FILE *out)
{
	BenchOpenResult *o = &res->open;
	static const char *const states[5] = { "idle, no file open", "files open", "files open",
					       "files open, one GetRandom on each",
					       "all closed again" };
	unsigned int files[5] = { 0, o->rss_files[0], o->rss_files[1], o->rss_files[1], 0 };

	fprintf(out, "### Opening and closing a space, µs\n\n| what | n | median | p10 | p90 |\n"
		     "|---|--:|--:|--:|--:|\n");
	print_open_row(out, "open() + close() of the tpmrm-cuse node", o->open_close_us);
	print_open_row(out, "Tss2_TctiLdr_Initialize(\"device:NODE\") + finalize (probe included)",
		       o->tcti_device_us);
	print_open_row(out, "the same for tpm2-abrmd (\"tabrmd:bus_type=session\")",
		       o->tcti_tabrmd_us);
	fprintf(out, "\n### Memory of the daemon (tpmrm-cuse over libtpms, VmRSS)\n\n"
		     "| state | files | VmRSS MiB | KiB per open file |\n|---|--:|--:|--:|\n");
	for (int k = 0; k < 5; k++) {
		if (o->rss_kib[k] <= 0)
			continue;
		fprintf(out, "| %s | %u | %.1f |", states[k], files[k],
			(double)o->rss_kib[k] / 1024.0);
		if (files[k] && o->rss_kib[0] > 0)
			fprintf(out, " %.2f |\n",
				(double)(o->rss_kib[k] - o->rss_kib[0]) / files[k]);
		else
			fprintf(out, " |\n");
	}
	if (o->failure)
		fprintf(out, "\nNot measured: %s.\n", o->failure);
	fprintf(out, "\n");
}

/* @measured: the value formatted, or anything when @value is NAN; freed here. */
static void print_target(FILE *out, const char *target, double value, char *measured, bool ok)
{
	if (isnan(value))
		fprintf(out, "| %s | not measured | |\n", target);
	else
		fprintf(out, "| %s | %s | %s |\n", target, measured, met(ok));
	g_free(measured);
}

static void print_targets(const BenchWorld *w, BenchResults *res, FILE *out)
{
	const BenchScaleResult *s = &res->scale[BENCH_RM];
	const BenchOpenResult *o = &res->open;
	unsigned int last = w->opts->nlevels - 1;
	double v;
	g_autofree char *scale_target =
		g_strdup_printf("%u clients within 10%% of 1 client, TPM-bound work (Sign), RM on",
				w->opts->levels[last]);
	g_autofree char *mem_target = g_strdup_printf("%u open spaces in <= 64 MiB (VmRSS, the "
						      "larger of idle and used)",
						      o->rss_files[1]);

	fprintf(out, "### Targets (tracked, not pass criteria)\n\n| target | measured | |\n"
		     "|---|--:|---|\n");
	v = mix_median(res, BENCH_RM) / mix_median(res, BENCH_INPROC);
	print_target(out, "whole mix, RM on, <= 1.6x in-process libtpms", v,
		     g_strdup_printf("%.2fx", v), v <= 1.6);
	v = mix_median(res, BENCH_RM_SWTPM) / mix_median(res, BENCH_ABRMD);
	print_target(out, "whole mix <= 0.3x tpm2-abrmd on the same backend (swtpm)", v,
		     g_strdup_printf("%.2fx", v), v <= 0.3);
	v = mix_has_data(res, BENCH_RM) ? amplification(&res->mix[BENCH_RM].delta) : NAN;
	print_target(out, "one client: backend commands per client command close to 1.0", v,
		     g_strdup_printf("%.2f", v), v <= 1.1);
	v = s->done && s->ops_per_s[0] > 0 && s->ops_per_s[last] > 0
		    ? s->ops_per_s[last] / s->ops_per_s[0]
		    : NAN;
	print_target(out, scale_target, v, g_strdup_printf("%.2fx of 1 client", v), v >= 0.9);
	v = o->rss_kib[2] > 0 ? MAX(o->rss_kib[2], o->rss_kib[3]) / 1024.0 : NAN;
	print_target(out, mem_target, v, g_strdup_printf("%.1f MiB", v), v <= 64);
	fprintf(out, "\n");
}

/* --- data files for gnuplot -------------------------------------------------------------- */

static FILE *data_open(const BenchWorld *w, const char *name)
{
	g_autofree char *path = g_build_filename(w->opts->data_dir, name, NULL);
	FILE *f = fopen(path, "w");

	if (!f)
		g_printerr("tpmrm-bench: cannot write %s: %s\n", path, g_strerror(errno));
	return f;
}

/* mix-KEY.dat: the whole mix per round, sorted, in ms, with its cumulative fraction. */
static void write_mix_cdf(const BenchWorld *w, BenchResults *res, int i)
{
	g_autofree char *name = g_strdup_printf("mix-%s.dat", w->paths[i].key);
	GArray *v = res->mix[i].mix_us;
	FILE *f;

	bench_percentile(v, 0.5); /* sorts */
	f = data_open(w, name);
	if (!f)
		return;
	fprintf(f, "# %s: whole mix, ms; cumulative fraction\n", w->paths[i].title);
	for (guint k = 0; k < v->len; k++)
		fprintf(f, "%.4f %.5f\n", g_array_index(v, double, k) / 1000,
			(double)(k + 1) / v->len);
	fclose(f);
}

/* steps.dat: the median of each step per path (µs), one column per path. */
static void write_steps(const BenchWorld *w, BenchResults *res)
{
	FILE *f = data_open(w, "steps.dat");

	if (!f)
		return;
	fprintf(f, "# step");
	for (int i = 0; i < BENCH_NPATHS; i++)
		if (mix_has_data(res, i))
			fprintf(f, " \"%s\"", w->paths[i].title);
	fprintf(f, "\n");
	for (int s = 0; s < BENCH_MIX_STEPS; s++) {
		g_autofree char *label = g_strdup(bench_mix_steps[s].name);

		g_strdelimit(label, "\"", '\'');
		fprintf(f, "\"%s\"", label);
		for (int i = 0; i < BENCH_NPATHS; i++)
			if (mix_has_data(res, i))
				fprintf(f, " %.1f", bench_percentile(res->mix[i].step_us[s], 0.5));
		fprintf(f, "\n");
	}
	fclose(f);
}

/* throughput.dat: clients, then signatures/s per scaled path. */
static void write_throughput(const BenchWorld *w, BenchResults *res)
{
	FILE *f = data_open(w, "throughput.dat");

	if (!f)
		return;
	fprintf(f, "# clients");
	for (int i = 0; i < BENCH_NPATHS; i++)
		if (res->scale[i].done)
			fprintf(f, " \"%s\"", w->paths[i].title);
	fprintf(f, "\n");
	for (unsigned int li = 0; li < w->opts->nlevels; li++) {
		fprintf(f, "%u", w->opts->levels[li]);
		for (int i = 0; i < BENCH_NPATHS; i++)
			if (res->scale[i].done)
				fprintf(f, " %.1f", res->scale[i].ops_per_s[li]);
		fprintf(f, "\n");
	}
	fclose(f);
}

/* paths.txt, scale-paths.txt: KEY<TAB>TITLE of each path with data, in column order. */
static void write_data(const BenchWorld *w, BenchResults *res)
{
	FILE *f = data_open(w, "paths.txt");

	if (f) {
		for (int i = 0; i < BENCH_NPATHS; i++)
			if (mix_has_data(res, i))
				fprintf(f, "%s\t%s\n", w->paths[i].key, w->paths[i].title);
		fclose(f);
	}
	f = data_open(w, "scale-paths.txt");
	if (f) {
		for (int i = 0; i < BENCH_NPATHS; i++)
			if (res->scale[i].done)
				fprintf(f, "%s\t%s\n", w->paths[i].key, w->paths[i].title);
		fclose(f);
	}
	for (int i = 0; i < BENCH_NPATHS; i++)
		if (mix_has_data(res, i))
			write_mix_cdf(w, res, i);
	write_steps(w, res);
	write_throughput(w, res);
	f = data_open(w, "inproc-sign.txt");
	if (f) {
		fprintf(f, "%.1f\n", res->inproc_sign_per_s);
		fclose(f);
	}
}

void bench_report(const BenchWorld *w, BenchResults *res, FILE *out)
{
	for (int i = 0; i < BENCH_NPATHS; i++)
		for (unsigned int li = 0; li < w->opts->nlevels; li++)
			res->scale[i].ops_per_s[li] =
				res->scale[i].pass_ops[li]->len
					? bench_percentile(res->scale[i].pass_ops[li], 0.5)
					: 0;
	print_paths(w, res, out);
	print_targets(w, res, out);
	print_latency(w, res, out, false);
	print_latency(w, res, out, true);
	print_whole_mix(w, res, out);
	print_amplification(w, res, out);
	print_rsa(w, res, out);
	print_scale(w, res, out);
	print_open(res, out);
	fprintf(out,
		"Run: %u measured rounds after %u warm-up rounds per path, %u RSA key "
		"generations per path, %u passes of %u ms per client count and path; %.0f s "
		"in all.\n",
		w->opts->rounds, w->opts->warmup, w->opts->rsa, w->opts->scale_passes,
		w->opts->scale_ms, res->seconds);
	if (w->opts->data_dir)
		write_data(w, res);
}
