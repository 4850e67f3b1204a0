/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon-ctl SOCKET REQUEST: send one request line to a tpmrm-cuse control socket
 * (cuse/control.h) and copy the reply to stdout.  Exit 0 when a reply came, 1 otherwise.
 * The tests' stand-in for `socat - UNIX-CONNECT:SOCKET`, which this machine lacks.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* wait-spaces is capped at 600 s by the daemon; a reply never takes longer. */
#define CTL_REPLY_TIMEOUT_MS 610000

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd;

	if (len >= sizeof(sa.sun_path)) {
		fprintf(stderr, "daemon-ctl: socket path too long: %s\n", path);
		return -1;
	}
	memcpy(sa.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "daemon-ctl: cannot connect to %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct pollfd pfd = { .events = POLLIN };
	char line[512], buf[4096];
	size_t got = 0;
	int len;

	if (argc != 3) {
		fprintf(stderr, "usage: daemon-ctl SOCKET REQUEST\n");
		return 2;
	}
	len = snprintf(line, sizeof(line), "%s\n", argv[2]);
	if (len < 0 || (size_t)len >= sizeof(line))
		return 2;
	pfd.fd = connect_unix(argv[1]);
	if (pfd.fd < 0)
		return 1;
	if (send(pfd.fd, line, (size_t)len, MSG_NOSIGNAL) != len) {
		fprintf(stderr, "daemon-ctl: send: %s\n", strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n;
		int p = poll(&pfd, 1, CTL_REPLY_TIMEOUT_MS);

		if (p < 0 && errno == EINTR)
			continue;
		if (p <= 0) {
			fprintf(stderr, "daemon-ctl: no reply to '%s'\n", argv[2]);
			return 1;
		}
		n = read(pfd.fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "daemon-ctl: read: %s\n", strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		fwrite(buf, 1, (size_t)n, stdout);
		got += (size_t)n;
	}
	close(pfd.fd);
	if (got == 0) {
		fprintf(stderr, "daemon-ctl: empty reply to '%s'\n", argv[2]);
		return 1;
	}
	return 0;
}
