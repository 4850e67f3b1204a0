/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The FUSE-file transport.  The FUSE kernel accepts a regular file as the root of a mount
 * placed on a regular file, so the node can sit at any path, even /dev/tpmrm0 in a
 * container.  Opens are served with direct_io (else the page cache answers reads) and
 * nonseekable (lseek, pread and pwrite give ESPIPE, A4).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cdev-fuse.h"
#include "fuse-ops.h"

/* fusermount3's configuration (libfuse's FUSE_CONF). */
#define FUSE_CONF "/etc/fuse.conf"

struct FuseFile {
	FuseOpsContext ctx;
	char *path;
	GMutex lock; /* @attr */
	struct stat attr;
	bool mounted;
};

static FuseFile *fuse_file_of(fuse_req_t req)
{
	return fuse_req_userdata(req); /* ctx is the first member */
}

static void ff_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	FuseFile *ff = fuse_file_of(req);
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	g_mutex_lock(&ff->lock);
	st = ff->attr;
	g_mutex_unlock(&ff->lock);
	fuse_reply_attr(req, &st, 1.0);
}

/* chmod and chown of the node work as on a device node; truncation means nothing. */
static void ff_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	FuseFile *ff = fuse_file_of(req);
	struct stat st;

	(void)fi;
	(void)ino;
	g_mutex_lock(&ff->lock);
	if (to_set & FUSE_SET_ATTR_MODE)
		ff->attr.st_mode = S_IFREG | (attr->st_mode & 07777);
	if (to_set & FUSE_SET_ATTR_UID)
		ff->attr.st_uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		ff->attr.st_gid = attr->st_gid;
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		clock_gettime(CLOCK_REALTIME, &ff->attr.st_ctim);
	st = ff->attr;
	g_mutex_unlock(&ff->lock);
	fuse_reply_attr(req, &st, 1.0);
}

static void ff_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fuse_ops_open(req, fi);
}

static void ff_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	(void)off; /* the read cursor is the CdevFile's */
	fuse_ops_read(req, size, fi);
}

static void ff_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)ino;
	(void)off;
	fuse_ops_write(req, buf, size, fi);
}

static void ff_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fuse_ops_flush(req, fi);
}

static void ff_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fuse_ops_release(req, fi);
}

static void ff_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	(void)ino;
	fuse_ops_poll(req, fi, ph);
}

/* NOLINTNEXTLINE(readability-function-size): libfuse fixes the parameter list. */
static void ff_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned flags, const void *in_buf, size_t in_bufsz,
		     size_t out_bufsz)
{
	(void)ino, (void)cmd, (void)arg, (void)fi, (void)flags, (void)in_buf;
	(void)in_bufsz, (void)out_bufsz;
	fuse_ops_ioctl(req);
}

static const struct fuse_lowlevel_ops ff_ops = {
	.getattr = ff_getattr,
	.setattr = ff_setattr,
	.open = ff_open,
	.read = ff_read,
	.write = ff_write,
	.flush = ff_flush,
	.release = ff_release,
	.poll = ff_poll,
	.ioctl = ff_ioctl,
};

/* The node must be a regular file; a crashed daemon's mount answers ENOTCONN. */
static int prepare_path(const char *path, char **ret_error)
{
	struct stat st;
	int fd;

	if (stat(path, &st) < 0 && errno == ENOTCONN) {
		g_message("%s: recovering a stale mount left by a previous daemon", path);
		if (umount2(path, MNT_DETACH) < 0) {
			/* Not root: the setuid helper may unmount what this user mounted. */
			const char *argv[] = { "fusermount3", "-u", "-z", "--", path, NULL };

			g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
				     NULL, NULL, NULL, NULL);
		}
		/* Ask again: a second stale layer, or an unmount we may not do. */
		if (stat(path, &st) < 0 && errno == ENOTCONN)
			return tpm_backend_error(ret_error, -EBUSY,
						 "%s is a stale FUSE mount that cannot be "
						 "unmounted: run fusermount3 -u -z %s",
						 path, path);
	}
	if (stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return tpm_backend_error(ret_error, -EINVAL,
						 "%s exists and is not a regular file", path);
		return 0;
	}
	if (errno != ENOENT)
		return tpm_backend_error(ret_error, -errno, "cannot use %s: %s", path,
					 g_strerror(errno));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		return tpm_backend_error(ret_error, -errno, "cannot create %s: %s", path,
					 g_strerror(errno));
	if (fd >= 0)
		close(fd);
	return 0;
}

static void init_attr(FuseFile *ff, const FuseFileOptions *o)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	ff->attr.st_ino = FUSE_ROOT_ID;
	ff->attr.st_mode = S_IFREG | (o->mode & 07777);
	ff->attr.st_nlink = 1;
	ff->attr.st_uid = o->uid;
	ff->attr.st_gid = o->gid;
	ff->attr.st_blksize = RM_BUF_MAX;
	ff->attr.st_atim = ff->attr.st_mtim = ff->attr.st_ctim = now;
}

static struct fuse_session *new_session(FuseFile *ff, bool allow_other)
{
	g_autofree char *opts = g_strdup_printf("fsname=tpmrm-cuse,subtype=tpmrm,"
						"default_permissions%s",
						allow_other ? ",allow_other" : "");
	char *argv[] = { (char *)"tpmrm-cuse", (char *)"-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_session *se;

	se = fuse_session_new(&args, &ff_ops, sizeof(ff_ops), &ff->ctx);
	fuse_opt_free_args(&args);
	return se;
}

int fuse_file_mount(CdevDevice *dev, const FuseFileOptions *o, FuseFile **ret, char **ret_error)
{
	FuseFile *ff;
	int r;

	r = prepare_path(o->path, ret_error);
	if (r < 0)
		return r;
	ff = g_new0(FuseFile, 1);
	g_mutex_init(&ff->lock);
	ff->path = g_strdup(o->path);
	ff->ctx.dev = dev;
	ff->ctx.node = ff->path;
	init_attr(ff, o);

	ff->ctx.se = new_session(ff, o->allow_other);
	if (!ff->ctx.se) {
		fuse_file_free(ff);
		return tpm_backend_error(ret_error, -EIO, "cannot start a FUSE session for %s",
					 o->path);
	}
	if (fuse_session_mount(ff->ctx.se, o->path) != 0) {
		fuse_file_free(ff);
		return tpm_backend_error(ret_error, -EIO,
					 "cannot mount the FUSE file %s (is /dev/fuse usable?)",
					 o->path);
	}
	ff->mounted = true;
	*ret = ff;
	return 0;
}

/* fusermount3's reading of a line: '#' starts a comment, blanks around are ignored. */
static bool conf_line_is(char *line, const char *word)
{
	char *hash = strchr(line, '#');

	if (hash)
		*hash = '\0';
	return strcmp(g_strstrip(line), word) == 0;
}

int fuse_file_check_user_allow_other(char **ret_error)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	g_autoptr(GError) error = NULL;

	if (!g_file_get_contents(FUSE_CONF, &text, NULL, &error)) {
		if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return tpm_backend_error(ret_error, -EPERM,
						 "--allow-other: there is no " FUSE_CONF
						 ", so fusermount3 refuses allow_other to users "
						 "other than root; as root, put the line "
						 "user_allow_other in it");
		return tpm_backend_error(ret_error, -EACCES,
					 "--allow-other: cannot tell whether " FUSE_CONF
					 " has user_allow_other: %s",
					 error->message);
	}
	lines = g_strsplit(text, "\n", -1);
	for (char **line = lines; *line; line++) {
		if (conf_line_is(*line, "user_allow_other"))
			return 0;
	}
	return tpm_backend_error(ret_error, -EPERM,
				 "--allow-other: " FUSE_CONF " lacks the line user_allow_other, "
				 "so fusermount3 refuses allow_other to users other than root; "
				 "as root, add that line (or run without --allow-other)");
}

int fuse_file_run(FuseFile *ff)
{
	return fuse_ops_serve(ff->ctx.se);
}

void fuse_file_free(FuseFile *ff)
{
	if (!ff)
		return;
	if (ff->ctx.se) {
		if (ff->mounted)
			fuse_session_unmount(ff->ctx.se);
		fuse_session_destroy(ff->ctx.se);
	}
	g_mutex_clear(&ff->lock);
	g_free(ff->path);
	g_free(ff);
}
