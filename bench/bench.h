/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tpmrm-bench: what a client pays for a TPM behind tpmrm-cuse, against the same TPM work
 * done in-process and behind tpm2-abrmd.  One process issues raw command bytes (no
 * process per command) over several paths to a TPM, interleaved round by round, and
 * prints markdown tables; scripts/bench turns them into docs/benchmarks.md.
 *
 *   bench-conn.c   a connection: in-process libtpms, or any tss2 TCTI
 *   bench-tpm.c    the TPM commands of the mix, built and checked byte by byte
 *   bench-proc.c   child processes (daemons, swtpm, a D-Bus bus) and the control socket
 *   bench-world.c  the paths: which daemons serve them, how to connect
 *   bench-mix.c    the command mix, RSA key generation
 *   bench-scale.c  throughput with N clients, open+close of a space, daemon memory
 *   bench-report.c percentiles, the tables, the data files for the plots
 */
#ifndef TPMRM_BENCH_H
#define TPMRM_BENCH_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "tpm-backend.h"

/* --- connections (bench-conn.c) --------------------------------------------------------- */

/* One client's channel to one TPM: whole commands in, whole responses out. */
typedef struct BenchConn BenchConn;

/* A connection to the in-process libtpms @be (borrowed: it must outlive the connection). */
BenchConn *bench_conn_inproc_new(TpmBackend *be);

/*
 * A connection through the tss2 TCTI that @conf names (Tss2_TctiLdr_Initialize(), e.g.
 * "device:/run/tpmrm0" or "tabrmd:bus_type=session").  Returns 0 and *ret, or -EIO and a
 * message in *ret_error (free with g_free).
 */
int bench_conn_tcti_new(const char *conf, BenchConn **ret, char **ret_error);

/*
 * A connection that open()s @path (O_RDWR) and does what the simplest client of a
 * /dev/tpmrm0 does: one blocking write() of the command, one read() of the response.
 * Returns 0 and *ret, or a negative errno and a message.
 */
int bench_conn_fd_new(const char *path, BenchConn **ret, char **ret_error);

/*
 * Send @cmd and wait for the whole response, into @rsp (room for @rsp_cap bytes).
 * Returns 0 and *ret_len, or a negative errno (the TCTI's response code is kept for
 * bench_conn_error()).
 */
int bench_conn_transmit(BenchConn *c, const uint8_t *cmd, size_t cmd_len, uint8_t *rsp,
			size_t rsp_cap, size_t *ret_len);

/* The tss2 response code of the last failed TCTI call, or 0. */
uint32_t bench_conn_error(const BenchConn *c);

/* Closes the TCTI (for a device node: close() of the file).  NULL-safe. */
void bench_conn_free(BenchConn *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BenchConn, bench_conn_free)

/* --- TPM commands (bench-tpm.c) ---------------------------------------------------------- */

/*
 * A client of one path: a connection, a signing key of its own and buffers.  Every
 * command's response code is checked; TPM_RC_RETRY, TPM_RC_TESTING and TPM_RC_YIELDED are
 * sent again (a kernel or resource manager does that for its clients; the in-process TPM
 * has nobody to do it).  A failed call leaves what failed in @what, @err and @rc.
 */
typedef struct BenchClient {
	BenchConn *conn;
	TPM2_HANDLE key;  /* ECC P-256 signing key, 0 before bench_client_create_key() */
	unsigned int seq; /* varies digests and unique fields from call to call */
	const char *what; /* the command in flight or that failed */
	int err;	  /* negative errno of a failed call */
	uint32_t rc;	  /* the TPM's response code when it was not success */
	size_t rsp_len;
	uint8_t cmd[TPM2_WIRE_BUF_MAX];
	uint8_t rsp[TPM2_WIRE_BUF_MAX];
} BenchClient;

/* Takes ownership of @conn. */
BenchClient *bench_client_new(BenchConn *conn);
/* Flushes the client's key (errors ignored), closes the connection.  NULL-safe. */
void bench_client_free(BenchClient *cl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BenchClient, bench_client_free)

/* "CreatePrimary: TPM rc 0x000009a2", "GetRandom: Input/output error (tss2 rc 0x...)". */
char *bench_client_error(const BenchClient *cl);

/* CreatePrimary of an ECC P-256 ECDSA signing key (noDA) under the owner hierarchy; its
 * template's unique field is @unique, so that clients get different keys. */
int bench_client_create_key(BenchClient *cl, uint32_t unique);

/* One step of the command mix: one or more commands, all checked. */
typedef struct BenchStep {
	const char *name;
	unsigned int commands; /* client commands the step sends */
	int (*run)(BenchClient *cl);
} BenchStep;

/* The fixed command mix, in order (needs bench_client_create_key() first). */
extern const BenchStep bench_mix_steps[];
#define BENCH_MIX_STEPS 9

/* Sign ECDSA P-256 with the client's key: the TPM-bound work of the scale runs. */
int bench_client_sign(BenchClient *cl);
/* GetRandom(8): the cheapest command that touches a space. */
int bench_client_get_random(BenchClient *cl);
/* CreatePrimary RSA-2048 (unique field @unique) and FlushContext. */
int bench_client_rsa_keygen(BenchClient *cl, uint32_t unique);

/* --- processes and the control socket (bench-proc.c) ------------------------------------- */

typedef struct BenchProc BenchProc;

/*
 * Start @argv[0] (a path) with stdout and stderr appended to @log_path, stdin /dev/null,
 * default signal dispositions, and SIGTERM when this process dies.  Returns 0 and *ret,
 * or a negative errno and a message.
 */
int bench_proc_spawn(const char *name, const char *const *argv, const char *log_path,
		     BenchProc **ret, char **ret_error);
pid_t bench_proc_pid(const BenchProc *p);
const char *bench_proc_name(const BenchProc *p);
/* False once the process has ended (it is reaped then). */
bool bench_proc_alive(BenchProc *p);
/* The last lines of the process's log, for messages. */
char *bench_proc_log_tail(const BenchProc *p);
/* SIGTERM, wait up to @timeout_ms, then SIGKILL.  Returns the wait status, or -1. */
int bench_proc_stop(BenchProc *p, unsigned int timeout_ms);
/* Stops the process if it still runs, frees @p.  NULL-safe. */
void bench_proc_free(BenchProc *p);

/* Wait until a unix stream connect to @path succeeds; -ETIME, or -ECHILD if @p ended. */
int bench_wait_connect(const char *path, BenchProc *p, unsigned int timeout_ms);
/* Wait until @path exists and is not empty; -ETIME, or -ECHILD if @p ended. */
int bench_wait_file(const char *path, BenchProc *p, unsigned int timeout_ms);

/* The counters of a tpmrm-cuse control socket (cuse/control.h) that the bench reads. */
typedef struct BenchCtlStats {
	uint64_t files_open;
	uint64_t client_commands;
	uint64_t backend_commands;
	uint64_t context_loads;
	uint64_t context_saves;
	uint64_t flushes;
} BenchCtlStats;

/* "stats" on the control socket @sock.  Returns 0, or a negative errno. */
int bench_ctl_stats(const char *sock, BenchCtlStats *ret);
/* *@acc += @after - @before, counter by counter. */
void bench_ctl_stats_add_delta(BenchCtlStats *acc, const BenchCtlStats *before,
			       const BenchCtlStats *after);
/* "wait-spaces N MS": 0 when at most @n files are open, -ETIME when not, or an errno. */
int bench_ctl_wait_spaces(const char *sock, unsigned int n, unsigned int ms);

/*
 * Count the TPM commands in the pcapng file that tss2's pcap TCTI writes (TCTI_PCAP_FILE):
 * into @ret's backend_commands, context_loads, context_saves and flushes.  0, or -errno.
 */
int bench_pcap_count(const char *path, BenchCtlStats *ret);

/* VmRSS of @pid in KiB, or -1. */
long bench_vmrss_kib(pid_t pid);

/* Monotonic time in microseconds, as a double. */
double bench_now_us(void);

/* --- the paths (bench-world.c) ------------------------------------------------------------- */

typedef enum BenchPathId {
	BENCH_INPROC,	/* libtpms in this process: the floor */
	BENCH_RM,	/* tpmrm-cuse over libtpms, RM on: the product */
	BENCH_RM_RW,	/* the same daemon, a client doing plain write() + read() */
	BENCH_RAW,	/* tpmrm-cuse --raw over libtpms: the transport alone */
	BENCH_SWTPM,	/* swtpm through tss2's swtpm TCTI: no RM */
	BENCH_RM_SWTPM, /* tpmrm-cuse over swtpm */
	BENCH_ABRMD,	/* tpm2-abrmd over swtpm: the incumbent */
	BENCH_NPATHS
} BenchPathId;

typedef struct BenchPath {
	BenchPathId id;
	const char *key;   /* for data files: "inproc", "rm", ... */
	const char *title; /* for tables */
	const char *what;  /* one line for the table of paths */
	bool available;
	char *skip_reason; /* when not available */
	char *tcti_conf;   /* NULL: in-process */
	char *node;	   /* a tpmrm-cuse FUSE file, or NULL */
	char *control;	   /* its control socket, or NULL */
	BenchProc *daemon; /* the process whose memory is measured, or NULL (borrowed) */
	/* tpm2-abrmd: a second, untimed instance whose TPM commands the pcap TCTI records */
	char *count_tcti_conf;
	char *count_pcap;
	char *count_note; /* why there is none */
} BenchPath;

/* Client counts of the scale runs: 1, 4, 16, 64. */
#define BENCH_LEVELS_MAX 4

typedef struct BenchOptions {
	const char *daemon;   /* the tpmrm-cuse executable */
	const char *data_dir; /* data files for the plots, or NULL */
	const char *paths;    /* comma-separated path keys to run, or NULL: all */
	bool quick;
	unsigned int rounds;   /* measured rounds of the mix per path */
	unsigned int warmup;   /* rounds before those, not recorded */
	unsigned int rsa;      /* RSA-2048 key generations per path */
	unsigned int scale_ms; /* per client count, path and pass */
	unsigned int scale_passes;
	unsigned int levels[BENCH_LEVELS_MAX];
	unsigned int nlevels;
	unsigned int opens; /* open+close pairs; TCTI inits are a quarter of it */
	unsigned int rss_files[2];
} BenchOptions;

typedef struct BenchWorld {
	const BenchOptions *opts;
	char *dir; /* temp dir: sockets, nodes, state, logs */
	TpmBackend *libtpms;
	GPtrArray *procs; /* BenchProc, stopped last first */
	BenchPath paths[BENCH_NPATHS];
} BenchWorld;

/*
 * Start every path that this machine can have, in a new temp dir: the in-process libtpms,
 * the daemons and the swtpm instances (each from the same fresh state), a private D-Bus
 * session bus for tpm2-abrmd.  A path that cannot be had is marked unavailable with the
 * reason.  Returns 0, or a negative errno when not even the in-process TPM works.
 */
int bench_world_start(BenchWorld *w, const BenchOptions *opts, char **ret_error);
/* Stop every process, unmount, remove the temp dir (kept when @keep, for the logs). */
void bench_world_stop(BenchWorld *w, bool keep);
/* A new connection to @p (its own open file, its own abrmd connection ...). */
int bench_path_connect(BenchWorld *w, const BenchPath *p, BenchConn **ret, char **ret_error);
/*
 * A client of @p on a new connection; with @with_key, its own signing key (template
 * unique field @unique).  NULL and a message in *ret_error when either fails.
 */
BenchClient *bench_open_client(BenchWorld *w, const BenchPath *p, bool with_key, uint32_t unique,
			       char **ret_error);

/* --- samples and results (bench-report.c) -------------------------------------------------- */

/* A GArray of double; percentiles sort it in place.  NAN when empty. */
double bench_percentile(GArray *samples, double p);

typedef struct BenchMixResult {
	bool done;
	char *failure;			  /* why the path stopped, or NULL */
	GArray *step_us[BENCH_MIX_STEPS]; /* one sample per round */
	GArray *mix_us;			  /* the whole mix per round */
	GArray *rsa_ms;			  /* RSA-2048 key generations */
	bool have_stats;		  /* counted: control socket or pcap */
	char *stats_source;		  /* how */
	BenchCtlStats delta;		  /* control socket: the measured rounds; pcap: its own */
	double step_amplification[BENCH_MIX_STEPS]; /* backend per client command */
} BenchMixResult;

typedef struct BenchScaleResult {
	bool done;
	char *failure;
	GArray *pass_ops[BENCH_LEVELS_MAX];    /* signatures/s of each pass, per client count */
	GArray *lat_us[BENCH_LEVELS_MAX];      /* every Sign's latency, all passes */
	BenchCtlStats delta[BENCH_LEVELS_MAX]; /* RM paths: counters around the runs */
	/* the median over the passes; bench_report() fills it in */
	double ops_per_s[BENCH_LEVELS_MAX];
} BenchScaleResult;

typedef struct BenchOpenResult {
	GArray *open_close_us;	/* open() + close() of the RM node */
	GArray *tcti_device_us; /* Tss2_TctiLdr_Initialize("device:NODE") + finalize */
	GArray *tcti_tabrmd_us; /* the same for tabrmd: a new abrmd connection */
	long rss_kib[5];	/* idle, N1 open, N2 open, N2 used, all closed */
	unsigned int rss_files[2];
	char *failure;
} BenchOpenResult;

typedef struct BenchResults {
	BenchMixResult mix[BENCH_NPATHS];
	BenchScaleResult scale[BENCH_NPATHS];
	BenchOpenResult open;
	double inproc_sign_per_s; /* one client, in-process: the TPM's own rate */
	double seconds;		  /* the whole run */
} BenchResults;

void bench_results_init(BenchResults *res);
void bench_results_clear(BenchResults *res);

/* --- the measurements ----------------------------------------------------------------------- */

/* The mix over every available path, @opts->rounds rounds, order rotated each round. */
void bench_run_mix(BenchWorld *w, BenchResults *res);
/* RSA-2048 key generations, interleaved over the paths. */
void bench_run_rsa(BenchWorld *w, BenchResults *res);
/* Throughput with 1..64 clients, each with its own file and key. */
void bench_run_scale(BenchWorld *w, BenchResults *res);
/* Open+close of a space, and the daemon's memory with many files open. */
void bench_run_open(BenchWorld *w, BenchResults *res);

/* Markdown tables to @out; data files for gnuplot into @w->opts->data_dir if set. */
void bench_report(const BenchWorld *w, BenchResults *res, FILE *out);

#endif
