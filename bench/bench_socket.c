/*
 * Request throughput of a running ec2-managerd over its control socket:
 * C concurrent connections each keep D requests in flight (pipelined) for
 * S seconds; reports replies per second and the median round trip.
 *
 *   bench_socket SOCKET CLUSTER [CLIENTS [DEPTH [SECONDS]]]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct client {
	int	 fd;
	int	 inflight;
	double	 sent[64];	/* send times of requests in flight (FIFO) */
	int	 head;
	char	 buf[256 * 1024];
	size_t	 len;
};

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	const char *path, *cluster;
	int nc, depth, secs;
	struct client *cl;
	struct pollfd *pfd;
	char req[256];
	size_t reqlen, nrt = 0, cap = 1 << 20;
	double *rtt, t_end, t0;
	unsigned long replies = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_socket SOCKET CLUSTER [CLIENTS "
		    "[DEPTH [SECONDS]]]\n");
		return 2;
	}
	path = argv[1];
	cluster = argv[2];
	nc = argc > 3 ? atoi(argv[3]) : 16;
	depth = argc > 4 ? atoi(argv[4]) : 4;
	secs = argc > 5 ? atoi(argv[5]) : 5;
	if (nc < 1 || depth < 1 || depth > 64 || secs < 1)
		return 2;
	reqlen = (size_t)snprintf(req, sizeof(req), "{\"v\":1,\"id\":1,"
	    "\"cmd\":\"status\",\"cluster\":\"%s\"}\n", cluster);
	cl = calloc((size_t)nc, sizeof(*cl));
	pfd = calloc((size_t)nc, sizeof(*pfd));
	rtt = malloc(cap * sizeof(*rtt));
	for (int i = 0; i < nc; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		cl[i].fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(cl[i].fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			perror("connect");
			return 1;
		}
		pfd[i].fd = cl[i].fd;
		pfd[i].events = POLLIN;
	}
	t0 = now_s();
	t_end = t0 + secs;
	for (;;) {
		double t = now_s();

		for (int i = 0; i < nc && t < t_end; i++) {
			while (cl[i].inflight < depth) {
				if (write(cl[i].fd, req, reqlen) != (ssize_t)reqlen) {
					perror("write");
					return 1;
				}
				cl[i].sent[(cl[i].head + cl[i].inflight) % 64] = t;
				cl[i].inflight++;
			}
		}
		if (t >= t_end) {
			int left = 0;

			for (int i = 0; i < nc; i++)
				left += cl[i].inflight;
			if (left == 0)
				break;
		}
		if (poll(pfd, (nfds_t)nc, 10000) <= 0) {
			fprintf(stderr, "daemon stopped answering\n");
			return 1;
		}
		for (int i = 0; i < nc; i++) {
			struct client *c = &cl[i];
			ssize_t r;
			char *nl;

			if (!(pfd[i].revents & POLLIN))
				continue;
			r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
			if (r <= 0) {
				fprintf(stderr, "connection closed\n");
				return 1;
			}
			c->len += (size_t)r;
			while ((nl = memchr(c->buf, '\n', c->len))) {
				size_t l = (size_t)(nl - c->buf) + 1;
				double done = now_s();

				if (nrt < cap)
					rtt[nrt++] = done - c->sent[c->head];
				c->head = (c->head + 1) % 64;
				c->inflight--;
				replies++;
				memmove(c->buf, c->buf + l, c->len - l);
				c->len -= l;
			}
		}
	}
	qsort(rtt, nrt, sizeof(*rtt), cmp_double);
	printf("socket: %d clients x %d in flight, %d s: %lu replies, %.0f "
	    "replies/s, median round trip %.3f ms\n", nc, depth, secs,
	    replies, replies / (now_s() - t0), rtt[nrt / 2] * 1e3);
	return 0;
}
