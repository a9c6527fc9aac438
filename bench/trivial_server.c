/*
 * The reference for the status throughput benchmark: a trivial epoll
 * server on a Unix socket that answers every request line with the same
 * reply bytes (a status reply of the daemon, captured by ctl_bench.py).
 * No parsing, no state: what the socket and the kernel cost alone.
 *
 *   trivial_server SOCKET REPLY-FILE      (runs until killed)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev, evs[64];
	static char buf[65536];
	char *reply;
	long rlen;
	FILE *f;
	int lfd, ep;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path))
		return 2;
	if ((f = fopen(argv[2], "rb")) == NULL || fseek(f, 0, SEEK_END) ||
	    (rlen = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) ||
	    (reply = malloc((size_t)rlen)) == NULL ||
	    fread(reply, 1, (size_t)rlen, f) != (size_t)rlen) {
		perror(argv[2]);
		return 1;
	}
	fclose(f);
	memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
	unlink(argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 128) != 0 || (ep = epoll_create1(0)) < 0) {
		perror("listen");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t r;

			if (fd == lfd) {
				int c = accept(lfd, NULL, NULL);

				if (c < 0)
					continue;
				ev.events = EPOLLIN;
				ev.data.fd = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r <= 0) {
				close(fd);
				continue;
			}
			for (char *p = buf; (p = memchr(p, '\n',
			    (size_t)(buf + r - p))) != NULL; p++) {
				if (write_all(fd, reply, (size_t)rlen) != 0) {
					close(fd);
					break;
				}
			}
		}
	}
}
