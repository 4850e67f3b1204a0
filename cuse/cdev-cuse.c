/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The CUSE transport: the kernel creates /dev/NAME (dynamic major) once the INIT
 * handshake on /dev/cuse is done.  CUSE has no mount and no udev promise, so the mode and
 * owner are applied here once the node appears.  CUSE passes offset 0 and uses
 * noop_llseek: lseek succeeds and pread/pwrite act as read/write (a transport difference
 * the spec lists).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdev-cuse.h"
#include "fuse-ops.h"

#include <cuse_lowlevel.h>

struct CuseDev {
	FuseOpsContext ctx;
	CuseDevOptions opts;
	char *devname;	/* /dev/NAME */
	char *dev_info; /* DEVNAME=NAME */
	int fd;
};

/* The node appears when the kernel has handled our INIT reply; give it a moment. */
static int wait_for_node(const char *path)
{
	struct stat st;

	for (int i = 0; i < 200; i++) {
		if (stat(path, &st) == 0 && S_ISCHR(st.st_mode))
			return 0;
		g_usleep(10000);
	}
	return -ENOENT;
}

static void cd_init_done(void *userdata)
{
	CuseDev *cd = userdata;
	int r;

	r = wait_for_node(cd->devname);
	if (r == 0 && (chown(cd->devname, cd->opts.uid, cd->opts.gid) < 0 ||
		       chmod(cd->devname, cd->opts.mode) < 0))
		r = -errno;
	if (r < 0)
		g_critical("%s: cannot set the mode and owner of the node: %s", cd->devname,
			   g_strerror(-r));
	if (cd->opts.ready)
		cd->opts.ready(cd->opts.user, r);
	if (r < 0)
		fuse_session_exit(cd->ctx.se);
}

static void cd_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)off;
	fuse_ops_read(req, size, fi);
}

static void cd_write(fuse_req_t req, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)off;
	fuse_ops_write(req, buf, size, fi);
}

/* NOLINTNEXTLINE(readability-function-size): libfuse fixes the parameter list. */
static void cd_ioctl(fuse_req_t req, int cmd, void *arg, struct fuse_file_info *fi,
		     unsigned int flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	(void)cmd, (void)arg, (void)fi, (void)flags, (void)in_buf, (void)in_bufsz;
	(void)out_bufsz;
	fuse_ops_ioctl(req);
}

static const struct cuse_lowlevel_ops cd_ops = {
	.init_done = cd_init_done,
	.open = fuse_ops_open,
	.read = cd_read,
	.write = cd_write,
	.flush = fuse_ops_flush,
	.release = fuse_ops_release,
	.ioctl = cd_ioctl,
	.poll = fuse_ops_poll,
};

static int open_cuse(char **ret_error)
{
	int fd = open("/dev/cuse", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENODEV)
		return tpm_backend_error(ret_error, -ENODEV,
					 "/dev/cuse does not exist: this kernel has no CUSE "
					 "loaded (try 'modprobe cuse'), or serve a FUSE file "
					 "instead with --fuse PATH");
	return tpm_backend_error(ret_error, -errno,
				 "cannot open /dev/cuse: %s (CUSE needs root, or write access "
				 "to /dev/cuse); or serve a FUSE file instead with --fuse PATH",
				 g_strerror(errno));
}

int cuse_dev_start(CdevDevice *dev, const CuseDevOptions *o, CuseDev **ret, char **ret_error)
{
	char *argv[] = { (char *)"tpmrm-cuse", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	const char *dev_info_argv[1];
	struct cuse_info ci = { 0 };
	g_autofree char *fdpath = NULL;
	CuseDev *cd;
	int fd;

	fd = open_cuse(ret_error);
	if (fd < 0)
		return fd;
	cd = g_new0(CuseDev, 1);
	cd->opts = *o;
	cd->fd = fd;
	cd->devname = g_strdup_printf("/dev/%s", o->name);
	cd->dev_info = g_strdup_printf("DEVNAME=%s", o->name);
	cd->ctx.dev = dev;
	cd->ctx.node = cd->devname;
	dev_info_argv[0] = cd->dev_info;
	ci.dev_info_argc = 1;
	ci.dev_info_argv = dev_info_argv;

	cd->ctx.se = cuse_lowlevel_new(&args, &ci, &cd_ops, cd);
	fuse_opt_free_args(&args);
	/* An already open /dev/cuse is handed over as /dev/fd/N. */
	fdpath = g_strdup_printf("/dev/fd/%d", fd);
	if (!cd->ctx.se || fuse_session_mount(cd->ctx.se, fdpath) != 0) {
		cuse_dev_free(cd);
		return tpm_backend_error(ret_error, -EIO, "cannot start the CUSE device %s",
					 o->name);
	}
	cd->fd = -1; /* the session owns it now */
	*ret = cd;
	return 0;
}

int cuse_dev_run(CuseDev *cd)
{
	return fuse_ops_serve(cd->ctx.se);
}

void cuse_dev_free(CuseDev *cd)
{
	if (!cd)
		return;
	if (cd->ctx.se)
		fuse_session_destroy(cd->ctx.se); /* closes /dev/cuse: the node goes away */
	if (cd->fd >= 0)
		close(cd->fd);
	g_free(cd->devname);
	g_free(cd->dev_info);
	g_free(cd);
}
