/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command mix over every path, interleaved: each round runs the whole mix once on
 * each path, and the order of the paths turns by one each round, so that a burst of load
 * from elsewhere on the machine lands on every path alike.  The control socket's
 * counters are read around each path's turn, outside the timed part.
 */
#include <errno.h>
#include <math.h>

#include "bench.h"

BenchClient *bench_open_client(BenchWorld *w, const BenchPath *p, bool with_key, uint32_t unique,
			       char **ret_error)
{
	g_autoptr(BenchClient) cl = NULL;
	BenchConn *conn = NULL;

	if (bench_path_connect(w, p, &conn, ret_error) < 0)
		return NULL;
	cl = bench_client_new(conn);
	if (with_key && bench_client_create_key(cl, unique) < 0) {
		*ret_error = bench_client_error(cl);
		return NULL;
	}
	return g_steal_pointer(&cl);
}

static void mix_fail(BenchMixResult *m, const BenchPath *p, BenchClient **cl, char *why)
{
	g_printerr("tpmrm-bench: %s: the mix stopped: %s\n", p->title, why);
	if (!m->failure)
		m->failure = why;
	else
		g_free(why);
	g_clear_pointer(cl, bench_client_free);
}

/* One whole mix; each step's time into @step_us, the total into *ret_mix_us. */
static int mix_once(BenchClient *cl, double *step_us, double *ret_mix_us)
{
	double t0 = bench_now_us(), t = t0, now;
	int r;

	for (int i = 0; i < BENCH_MIX_STEPS; i++) {
		r = bench_mix_steps[i].run(cl);
		if (r < 0)
			return r;
		now = bench_now_us();
		step_us[i] = now - t;
		t = now;
	}
	*ret_mix_us = t - t0;
	return 0;
}

static void mix_turn(const BenchPath *p, BenchMixResult *m, BenchClient **cl, bool record)
{
	BenchCtlStats before, after;
	double step_us[BENCH_MIX_STEPS], mix_us;
	bool stats = p->control && bench_ctl_stats(p->control, &before) == 0;

	if (mix_once(*cl, step_us, &mix_us) < 0) {
		mix_fail(m, p, cl, bench_client_error(*cl));
		return;
	}
	if (!record)
		return;
	if (stats && bench_ctl_stats(p->control, &after) == 0)
		bench_ctl_stats_add_delta(&m->delta, &before, &after);
	for (int i = 0; i < BENCH_MIX_STEPS; i++)
		g_array_append_val(m->step_us[i], step_us[i]);
	g_array_append_val(m->mix_us, mix_us);
}

/*
 * tpm2-abrmd answers its client before it saves and flushes what the command loaded, so
 * its count is read once it has stopped growing for a while.
 */
static int pcap_count_settled(const char *pcap, BenchCtlStats *ret)
{
	BenchCtlStats again;
	int r;

	r = bench_pcap_count(pcap, ret);
	for (int i = 0; r == 0 && i < 100; i++) {
		g_usleep(20000);
		r = bench_pcap_count(pcap, &again);
		if (r == 0 && again.backend_commands == ret->backend_commands)
			break;
		*ret = again;
	}
	return r;
}

static int count_commands(const BenchPath *p, BenchCtlStats *ret)
{
	return p->control ? bench_ctl_stats(p->control, ret)
			  : pcap_count_settled(p->count_pcap, ret);
}

/* Untimed: the counters around each step, for the backend commands each one costs. */
static void step_amplification(const BenchPath *p, BenchMixResult *m, BenchClient *cl)
{
	BenchCtlStats before, after;

	for (int i = 0; i < BENCH_MIX_STEPS; i++) {
		BenchCtlStats d = { 0 };

		m->step_amplification[i] = NAN;
		if (count_commands(p, &before) < 0 || bench_mix_steps[i].run(cl) < 0 ||
		    count_commands(p, &after) < 0)
			return;
		bench_ctl_stats_add_delta(&d, &before, &after);
		m->step_amplification[i] =
			(double)d.backend_commands / (double)bench_mix_steps[i].commands;
	}
}

/*
 * tpm2-abrmd has no counters: whole rounds of the mix on its second, counted instance,
 * untimed; the pcap file gives its backend commands.
 */
static void abrmd_amplification(BenchWorld *w, const BenchPath *p, BenchMixResult *m)
{
	unsigned int rounds = w->opts->quick ? 2 : 20, per_round = 0;
	g_autoptr(BenchClient) cl = NULL;
	g_autofree char *error = NULL;
	BenchCtlStats before, after;
	BenchConn *conn = NULL;

	if (!p->count_tcti_conf || bench_conn_tcti_new(p->count_tcti_conf, &conn, &error) < 0)
		return;
	cl = bench_client_new(conn);
	if (bench_client_create_key(cl, 1) < 0 || pcap_count_settled(p->count_pcap, &before) < 0)
		return;
	for (unsigned int r = 0; r < rounds; r++) {
		for (int i = 0; i < BENCH_MIX_STEPS; i++) {
			if (bench_mix_steps[i].run(cl) < 0)
				return;
			per_round += r == 0 ? bench_mix_steps[i].commands : 0;
		}
	}
	if (pcap_count_settled(p->count_pcap, &after) < 0)
		return;
	bench_ctl_stats_add_delta(&m->delta, &before, &after);
	m->delta.client_commands = (uint64_t)rounds * per_round;
	m->have_stats = true;
	m->stats_source =
		g_strdup_printf("pcap TCTI, %u untimed rounds on a second instance", rounds);
	step_amplification(p, m, cl);
}

void bench_run_mix(BenchWorld *w, BenchResults *res)
{
	const BenchOptions *o = w->opts;
	BenchClient *cl[BENCH_NPATHS] = { NULL };
	unsigned int total = o->warmup + o->rounds;

	for (int i = 0; i < BENCH_NPATHS; i++) {
		BenchPath *p = &w->paths[i];
		BenchMixResult *m = &res->mix[i];
		char *error = NULL;

		if (!p->available)
			continue;
		m->done = true;
		if (p->control) {
			m->have_stats = true;
			m->stats_source = g_strdup("control socket, measured rounds");
		}
		cl[i] = bench_open_client(w, p, true, 1, &error);
		if (!cl[i])
			mix_fail(m, p, &cl[i], error);
	}
	for (unsigned int round = 0; round < total; round++) {
		if (round % 50 == 0)
			g_printerr("tpmrm-bench: mix: round %u of %u\n", round, total);
		for (unsigned int k = 0; k < BENCH_NPATHS; k++) {
			unsigned int i = (round + k) % BENCH_NPATHS;

			if (cl[i])
				mix_turn(&w->paths[i], &res->mix[i], &cl[i], round >= o->warmup);
		}
	}
	for (int i = 0; i < BENCH_NPATHS; i++) {
		if (cl[i] && w->paths[i].control)
			step_amplification(&w->paths[i], &res->mix[i], cl[i]);
		g_clear_pointer(&cl[i], bench_client_free);
	}
	if (res->mix[BENCH_ABRMD].done && !res->mix[BENCH_ABRMD].failure)
		abrmd_amplification(w, &w->paths[BENCH_ABRMD], &res->mix[BENCH_ABRMD]);
}

void bench_run_rsa(BenchWorld *w, BenchResults *res)
{
	BenchClient *cl[BENCH_NPATHS] = { NULL };

	for (int i = 0; i < BENCH_NPATHS; i++) {
		char *error = NULL;

		if (!w->paths[i].available || res->mix[i].failure)
			continue;
		cl[i] = bench_open_client(w, &w->paths[i], false, 0, &error);
		if (!cl[i])
			mix_fail(&res->mix[i], &w->paths[i], &cl[i], error);
	}
	for (unsigned int n = 0; n < w->opts->rsa; n++) {
		g_printerr("tpmrm-bench: RSA-2048 key generation %u of %u\n", n + 1, w->opts->rsa);
		for (unsigned int k = 0; k < BENCH_NPATHS; k++) {
			unsigned int i = (n + k) % BENCH_NPATHS;
			double t0 = bench_now_us(), ms;

			if (!cl[i])
				continue;
			/* The same templates on every path: the swtpm paths share one seed, so
			 * they search for the very same primes. */
			if (bench_client_rsa_keygen(cl[i], 0x52534100u + n) < 0) {
				mix_fail(&res->mix[i], &w->paths[i], &cl[i],
					 bench_client_error(cl[i]));
				continue;
			}
			ms = (bench_now_us() - t0) / 1000.0;
			g_array_append_val(res->mix[i].rsa_ms, ms);
		}
	}
	for (int i = 0; i < BENCH_NPATHS; i++)
		g_clear_pointer(&cl[i], bench_client_free);
}
