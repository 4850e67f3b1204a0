/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tpmrm-cuse: serve a TPM 2.0 resource-manager node with the semantics of the kernel's
 * /dev/tpmrm0, backed by libtpms in this process, a raw TPM device, or a swtpm socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "cdev-cuse.h"
#include "cdev-fuse.h"
#include "control.h"
#include "fuse-ops.h"

typedef struct Options {
	char *cuse;
	char *fuse;
	char *backend;
	char *mode;
	char *owner;
	char *user;
	char *control;
	char *pid_file;
	int response_timeout_s;
	gboolean raw;
	gboolean allow_other;
	gboolean foreground;
	gboolean verbose;
	gboolean version;
} Options;

static bool log_verbose;
static bool log_syslog; /* detached: stderr is gone */

static void log_handler(const gchar *domain, GLogLevelFlags level, const gchar *message,
			gpointer user)
{
	const char *what = "";

	(void)domain;
	(void)user;
	if ((level & G_LOG_LEVEL_DEBUG) && !log_verbose)
		return;
	if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		what = "error: ";
	else if (level & G_LOG_LEVEL_WARNING)
		what = "warning: ";
	else if (level & G_LOG_LEVEL_DEBUG)
		what = "debug: ";
	if (log_syslog)
		syslog(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL) ? LOG_ERR
		       : level & G_LOG_LEVEL_WARNING			  ? LOG_WARNING
		       : level & G_LOG_LEVEL_DEBUG			  ? LOG_DEBUG
									  : LOG_INFO,
		       "%s%s", what, message);
	else
		fprintf(stderr, "tpmrm-cuse[%d]: %s%s\n", (int)getpid(), what, message);
}

static void options_clear(Options *o)
{
	g_free(o->cuse);
	g_free(o->fuse);
	g_free(o->backend);
	g_free(o->mode);
	g_free(o->owner);
	g_free(o->user);
	g_free(o->control);
	g_free(o->pid_file);
}

static int parse_options(int *argc, char ***argv, Options *o)
{
	const GOptionEntry entries[] = {
		{ "cuse", 0, 0, G_OPTION_ARG_STRING, &o->cuse,
		  "Create /dev/NAME through CUSE (default: tpmrm-cuse)", "NAME" },
		{ "fuse", 0, 0, G_OPTION_ARG_FILENAME, &o->fuse,
		  "Serve the node as the regular file PATH through a one-file FUSE mount", "PATH" },
		{ "backend", 0, 0, G_OPTION_ARG_STRING, &o->backend,
		  "libtpms (default), libtpms:DIR, device:PATH, swtpm:unix:PATH, swtpm:HOST:PORT "
		  "(fault:RULES:SPEC for robustness tests)",
		  "SPEC" },
		{ "mode", 0, 0, G_OPTION_ARG_STRING, &o->mode,
		  "Permissions of the node (default 0600)", "OCTAL" },
		{ "owner", 0, 0, G_OPTION_ARG_STRING, &o->owner,
		  "Owner of the node (default: the user running the daemon)", "USER[:GROUP]" },
		{ "user", 0, 0, G_OPTION_ARG_STRING, &o->user,
		  "CUSE, as root: drop root for USER once the node exists (with libtpms:DIR, "
		  "USER must own DIR)",
		  "USER" },
		{ "allow-other", 0, 0, G_OPTION_ARG_NONE, &o->allow_other,
		  "FUSE, not root: let other users open the node as --mode says (needs "
		  "user_allow_other in /etc/fuse.conf; root always does)",
		  NULL },
		{ "raw", 0, 0, G_OPTION_ARG_NONE, &o->raw,
		  "Serve /dev/tpm0 semantics (exclusive, no resource manager)", NULL },
		{ "control", 0, 0, G_OPTION_ARG_FILENAME, &o->control,
		  "Unix socket for introspection (counters, TPM handles)", "PATH" },
		{ "pid-file", 0, 0, G_OPTION_ARG_FILENAME, &o->pid_file,
		  "Write the daemon's pid to PATH once the node is ready", "PATH" },
		{ "response-timeout", 0, 0, G_OPTION_ARG_INT, &o->response_timeout_s,
		  "Discard an unread response after SECONDS (default 120, as the kernel)",
		  "SECONDS" },
		{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &o->foreground, "Stay in the foreground",
		  NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose, "Log debug messages", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &o->version, "Print the version", NULL },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- a TPM 2.0 resource-manager node");
	g_autoptr(GError) error = NULL;

	g_option_context_set_summary(ctx, "Serves a node with the semantics of the Linux kernel's "
					  "/dev/tpmrm0: each open is a private\nspace with "
					  "virtualised transient handles, cleaned up at close.");
	g_option_context_set_description(
		ctx, "Examples:\n"
		     "  tpmrm-cuse --fuse /run/tpmrm0 -f\n"
		     "  tpmrm-cuse --fuse /run/tpmrm0 --backend libtpms:/var/lib/tpmrm-cuse\n"
		     "  tpmrm-cuse --fuse \"$XDG_RUNTIME_DIR/tpmrm0\" --backend "
		     "libtpms:\"$HOME/.tpmrm\"   (an ordinary user)\n"
		     "  TPM2TOOLS_TCTI=device:/run/tpmrm0 tpm2_getrandom 8 --hex\n\n"
		     "See tpmrm-cuse(8).\n");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, argc, argv, &error)) {
		fprintf(stderr, "tpmrm-cuse: %s (see --help)\n", error->message);
		return -EINVAL;
	}
	if (*argc > 1) {
		fprintf(stderr, "tpmrm-cuse: unexpected argument '%s' (see --help)\n", (*argv)[1]);
		return -EINVAL;
	}
	return 0;
}

static int parse_mode(const char *text, mode_t *ret)
{
	char *end;
	unsigned long v;

	if (!text)
		return 0;
	errno = 0;
	v = strtoul(text, &end, 8);
	if (errno || end == text || *end || v > 07777) {
		fprintf(stderr,
			"tpmrm-cuse: bad --mode '%s': expected an octal mode such as 0660\n", text);
		return -EINVAL;
	}
	*ret = (mode_t)v;
	return 0;
}

static int parse_owner(const char *text, uid_t *ret_uid, gid_t *ret_gid)
{
	g_auto(GStrv) parts = NULL;
	struct passwd *pw;
	struct group *gr;

	if (!text)
		return 0;
	parts = g_strsplit(text, ":", 2);
	pw = parts[0] && *parts[0] ? getpwnam(parts[0]) : NULL;
	if (!pw) {
		fprintf(stderr, "tpmrm-cuse: bad --owner '%s': no user '%s'\n", text,
			parts[0] ? parts[0] : "");
		return -EINVAL;
	}
	*ret_uid = pw->pw_uid;
	*ret_gid = pw->pw_gid;
	if (parts[1]) {
		gr = getgrnam(parts[1]);
		if (!gr) {
			fprintf(stderr, "tpmrm-cuse: bad --owner '%s': no group '%s'\n", text,
				parts[1]);
			return -EINVAL;
		}
		*ret_gid = gr->gr_gid;
	}
	return 0;
}

/*
 * Who may open a FUSE node.  Root mounts with allow_other, so the node's mode decides, as
 * for a device node.  An ordinary user's mount (through fusermount3) admits that user alone,
 * not even root, unless --allow-other, which fusermount3 grants only when /etc/fuse.conf
 * says user_allow_other: say so before trying.
 */
static int check_access(const Options *o, FuseFileOptions *fo)
{
	g_autofree char *error = NULL;
	int r;

	if (o->allow_other && !o->fuse) {
		fprintf(stderr, "tpmrm-cuse: --allow-other is for --fuse: the mode of a CUSE "
				"node alone decides who may open it\n");
		return -EINVAL;
	}
	fo->allow_other = geteuid() == 0 || o->allow_other;
	if (geteuid() == 0 || !o->fuse)
		return 0;
	if (o->allow_other) {
		r = fuse_file_check_user_allow_other(&error);
		if (r == -EPERM) {
			fprintf(stderr, "tpmrm-cuse: %s\n", error);
			return r;
		}
		if (r < 0)
			g_warning("%s; trying anyway", error);
		return 0;
	}
	if (fo->uid != geteuid()) {
		fprintf(stderr,
			"tpmrm-cuse: bad --owner '%s': without --allow-other only the user "
			"running the daemon can open the node, so it must own it\n",
			o->owner);
		return -EINVAL;
	}
	if (fo->mode & 077)
		g_warning("--mode %04o: without --allow-other no other user can open the node",
			  (unsigned int)fo->mode);
	return 0;
}

/*
 * Without -f: fork now, before any thread exists; the parent waits until the child says
 * the node is ready (or failed) and exits with that status.  Returns the pipe end the
 * child reports on, or -1 in the foreground.
 */
static int detach(void)
{
	int p[2];
	char status = 1;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		fprintf(stderr, "tpmrm-cuse: cannot detach: %s\n", g_strerror(errno));
		exit(EXIT_FAILURE);
	}
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(p[0]);
	setsid();
	return p[1];
}

/*
 * Tell the waiting parent how the start went.  Once ready, a detached daemon lets go of
 * the caller's terminal or pipe (else `out=$(tpmrm-cuse ...)` would wait for its exit)
 * and logs to syslog from then on.
 */
static void report_ready(int fd, char status)
{
	int null;

	if (fd < 0)
		return;
	if (status == 0) {
		openlog("tpmrm-cuse", LOG_PID, LOG_DAEMON);
		log_syslog = true;
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			if (null > STDERR_FILENO)
				close(null);
		}
	}
	if (write(fd, &status, 1) != 1)
		g_warning("cannot tell the parent process that the node is ready");
	close(fd);
}

static int write_pid_file(const char *path)
{
	g_autofree char *text = g_strdup_printf("%d\n", (int)getpid());
	g_autoptr(GError) error = NULL;

	if (path && !g_file_set_contents(path, text, -1, &error)) {
		g_critical("cannot write pid file: %s", error->message);
		return -EIO;
	}
	return 0;
}

/* Threads of our own must leave SIGINT/SIGTERM/SIGHUP to libfuse's loop. */
static void block_exit_signals(bool block, sigset_t *old)
{
	sigset_t set;

	if (!block) {
		pthread_sigmask(SIG_SETMASK, old, NULL);
		return;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

typedef struct Daemon {
	const Options *o;
	TpmBackend *backend;
	Rm *rm;
	CdevDevice *dev;
	Control *control;
	FuseFile *fuse;
	CuseDev *cuse;
	const char *node;
	int ready_fd; /* the parent waiting for readiness, or -1 */
	int failed;   /* a failure once serving (--user could not drop root): -errno */
} Daemon;

/* Everything in the order a clean stop needs: spaces flushed, TPM shut down, unmounted. */
static void daemon_stop(Daemon *d)
{
	control_stop(d->control);
	cdev_device_free(d->dev); /* finishes the command in flight, frees every space */
	rm_free(d->rm);
	tpm_backend_free(d->backend); /* libtpms: TPM2_Shutdown(STATE), state written */
	fuse_file_free(d->fuse);      /* unmount */
	cuse_dev_free(d->cuse);	      /* the CUSE node goes away */
}

/*
 * --user: once the node exists with its mode and owner nothing needs root: /dev/cuse, the
 * backend and the control socket are open.  Groups, then group, then user (process-wide:
 * glibc applies each to every thread); root must then be out of reach.  The libtpms state
 * directory must stay writable: state files are replaced there after every change.
 */
static int drop_privileges(const Options *o)
{
	struct passwd *pw = getpwnam(o->user);
	TpmBackendSpec spec;
	const char *dir;
	int r = 0;

	if (!pw || initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		r = pw ? -errno : -ENOENT;
		g_critical("--user %s: cannot drop root: %s", o->user, g_strerror(-r));
		return r;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		g_critical("--user %s: root could be regained", o->user);
		return -EPERM;
	}
	if (tpm_backend_spec_parse(o->backend ? o->backend : "libtpms", &spec, NULL) < 0)
		return -EINVAL;
	dir = tpm_backend_spec_state_dir(&spec);
	if (dir && access(dir, W_OK | X_OK) < 0) {
		r = -errno;
		g_critical("--user %s cannot write the state directory %s (%s): chown it to %s",
			   o->user, dir, g_strerror(-r), o->user);
	}
	tpm_backend_spec_clear(&spec);
	if (r == 0)
		g_message("serving as user %s (uid %u, gid %u)", o->user, (unsigned int)pw->pw_uid,
			  (unsigned int)pw->pw_gid);
	return r;
}

/* The node exists with its mode: write the pid file and let a waiting parent go. */
static void daemon_ready(void *user, int status)
{
	Daemon *d = user;

	if (status == 0)
		status = write_pid_file(d->o->pid_file);
	if (status == 0 && d->o->user) {
		status = drop_privileges(d->o);
		d->failed = status;
		if (status < 0) /* never serve on as root: stop as SIGTERM does */
			kill(getpid(), SIGTERM);
	}
	if (status == 0)
		g_message("serving %s%s with the %s backend%s%s", d->o->raw ? "raw (tpm0) " : "",
			  d->node, tpm_backend_name(d->backend),
			  d->o->control ? ", control socket " : "",
			  d->o->control ? d->o->control : "");
	report_ready(d->ready_fd, status == 0 ? 0 : 1);
	d->ready_fd = -1;
}

static int start_transport(Daemon *d, const FuseFileOptions *fo)
{
	g_autofree char *error = NULL;
	int r;

	if (d->o->fuse) {
		r = fuse_file_mount(d->dev, fo, &d->fuse, &error);
		if (r == 0)
			daemon_ready(d, 0);
	} else {
		CuseDevOptions co = { .name = d->o->cuse,
				      .mode = fo->mode,
				      .uid = fo->uid,
				      .gid = fo->gid,
				      .ready = daemon_ready,
				      .user = d };

		r = cuse_dev_start(d->dev, &co, &d->cuse, &error);
	}
	if (r < 0)
		g_critical("%s", error);
	return r;
}

static int daemon_start(Daemon *d, const FuseFileOptions *fo)
{
	const Options *o = d->o;
	const char *spec = o->backend ? o->backend : "libtpms";
	CdevConfig cc = { .response_timeout_ms = (unsigned int)o->response_timeout_s * 1000,
			  .raw = o->raw };
	g_autofree char *error = NULL;
	sigset_t old;
	int r;

	r = tpm_backend_open_spec(spec, &d->backend, &error);
	if (r < 0) {
		g_critical("backend %s: %s", spec, error);
		return r;
	}
	r = rm_new(d->backend, NULL, &d->rm);
	if (r < 0) {
		g_critical("backend %s: the TPM does not give its command table: %s", spec,
			   g_strerror(-r));
		return r;
	}
	block_exit_signals(true, &old);
	d->dev = cdev_device_new(d->rm, &cc, &fuse_ops_wakeups);
	if (o->control)
		r = control_start(o->control, d->rm, d->dev, &d->control, &error);
	block_exit_signals(false, &old);
	if (r < 0) {
		g_critical("control socket: %s", error);
		return r;
	}
	return start_transport(d, fo);
}

static int run(const Options *o, const FuseFileOptions *fo, int ready_fd)
{
	g_autofree char *devname = o->fuse ? NULL : g_strdup_printf("/dev/%s", o->cuse);
	Daemon d = { .o = o, .ready_fd = ready_fd, .node = o->fuse ? o->fuse : devname };
	int r;

	r = daemon_start(&d, fo);
	if (r == 0) {
		r = d.fuse ? fuse_file_run(d.fuse) : cuse_dev_run(d.cuse);
		g_message("stopping: finishing the command in flight and freeing every space");
		if (r == 0)
			r = d.failed;
	}
	if (d.ready_fd >= 0) /* never became ready */
		report_ready(d.ready_fd, 1);
	daemon_stop(&d);
	if (o->pid_file)
		unlink(o->pid_file);
	return r;
}

/*
 * --user: CUSE only.  A FUSE file is unmounted at stop, which the user who mounted it must
 * do: an ordinary user runs the daemon with --fuse directly instead.
 */
static int check_user(const Options *o)
{
	if (!o->user)
		return 0;
	if (o->fuse) {
		fprintf(stderr, "tpmrm-cuse: --user is for --cuse: a FUSE file must be unmounted "
				"by whoever mounted it; run the daemon as that user instead\n");
		return -EINVAL;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "tpmrm-cuse: --user needs root (it drops root once the node "
				"exists)\n");
		return -EINVAL;
	}
	if (!getpwnam(o->user)) {
		fprintf(stderr, "tpmrm-cuse: bad --user '%s': no such user\n", o->user);
		return -EINVAL;
	}
	return 0;
}

/* The options' consistency, then the node's mode, owner and access (errors on stderr). */
static int check_options(Options *o, FuseFileOptions *fo)
{
	if (o->response_timeout_s < 1 || o->response_timeout_s > 24 * 3600) {
		fprintf(stderr, "tpmrm-cuse: --response-timeout must be 1 to 86400 seconds\n");
		return -EINVAL;
	}
	if (o->cuse && o->fuse) {
		fprintf(stderr, "tpmrm-cuse: --cuse and --fuse exclude each other\n");
		return -EINVAL;
	}
	if (!o->fuse && !o->cuse)
		o->cuse = g_strdup("tpmrm-cuse");
	if (o->cuse && (!*o->cuse || strchr(o->cuse, '/'))) {
		fprintf(stderr, "tpmrm-cuse: bad --cuse '%s': a device name such as tpmrm-cuse\n",
			o->cuse);
		return -EINVAL;
	}
	if (parse_mode(o->mode, &fo->mode) < 0 || parse_owner(o->owner, &fo->uid, &fo->gid) < 0)
		return -EINVAL;
	fo->path = o->fuse;
	if (check_user(o) < 0)
		return -EINVAL;
	return check_access(o, fo);
}

int main(int argc, char **argv)
{
	Options o = { .response_timeout_s = 120 };
	FuseFileOptions fo = { .mode = 0600, .uid = geteuid(), .gid = getegid() };
	int ready_fd = -1, r;

	g_log_set_default_handler(log_handler, NULL);
	r = parse_options(&argc, &argv, &o);
	if (r == 0 && o.version) {
		printf("tpmrm-cuse %s\n", TPMRM_VERSION);
		options_clear(&o);
		return 0;
	}
	log_verbose = o.verbose;
	if (r == 0)
		r = check_options(&o, &fo);
	if (r < 0) {
		options_clear(&o);
		return 2;
	}

	if (!o.foreground)
		ready_fd = detach();
	r = run(&o, &fo, ready_fd);
	options_clear(&o);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
