/*
 * Status throughput over a control socket: C connections each keep D
 * status requests in flight (D = 1: one at a time) for S seconds, driven
 * by one thread on epoll so that the generator costs little next to the
 * server.  Reports replies per second and the p50/p99 round trip.  The
 * same generator measures the daemon and bench/trivial_server, which
 * answers with the same bytes (ctl_bench.py runs both).
 *
 *   bench_socket SOCKET CLUSTER [CLIENTS [DEPTH [SECONDS]]]
 *
 * The last line is machine-readable:
 *   result replies_per_s=N p50_ms=X p99_ms=Y
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 64

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
	int	 head;
	double	 sent[MAX_DEPTH];	/* send times in flight (FIFO) */
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
	static char buf[1 << 16];
	struct epoll_event *evs;
	struct client *cl;
	char req[256];
	size_t reqlen, nrt = 0, cap = 1 << 22;
	double *rtt, t0, t_end, elapsed;
	unsigned long replies = 0;
	int nc, depth, secs, ep, open_inflight = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_socket SOCKET CLUSTER [CLIENTS "
		    "[DEPTH [SECONDS]]]\n");
		return 2;
	}
	nc = argc > 3 ? atoi(argv[3]) : 32;
	depth = argc > 4 ? atoi(argv[4]) : 1;
	secs = argc > 5 ? atoi(argv[5]) : 5;
	if (nc < 1 || depth < 1 || depth > MAX_DEPTH || secs < 1 ||
	    strlen(argv[1]) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return 2;
	reqlen = (size_t)snprintf(req, sizeof(req), "{\"v\":1,\"id\":1,"
	    "\"cmd\":\"status\",\"cluster\":\"%s\"}\n", argv[2]);
	cl = calloc((size_t)nc, sizeof(*cl));
	evs = calloc((size_t)nc, sizeof(*evs));
	rtt = malloc(cap * sizeof(*rtt));
	ep = epoll_create1(0);
	if (cl == NULL || evs == NULL || rtt == NULL || ep < 0)
		return 1;
	for (int i = 0; i < nc; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		struct epoll_event ev = { .events = EPOLLIN };

		memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
		cl[i].fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(cl[i].fd, (struct sockaddr *)&sa, sizeof(sa))) {
			perror("connect");
			return 1;
		}
		ev.data.ptr = &cl[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev);
	}
	t0 = now_s();
	t_end = t0 + secs;
	for (int i = 0; i < nc; i++) {
		for (; cl[i].inflight < depth; cl[i].inflight++) {
			if (write(cl[i].fd, req, reqlen) != (ssize_t)reqlen)
				return 1;
			cl[i].sent[(cl[i].head + cl[i].inflight) % MAX_DEPTH] =
			    t0;
		}
		open_inflight += depth;
	}
	while (open_inflight > 0) {
		int n = epoll_wait(ep, evs, nc, 10000);

		if (n <= 0) {
			fprintf(stderr, "the server stopped answering\n");
			return 1;
		}
		for (int k = 0; k < n; k++) {
			struct client *c = evs[k].data.ptr;
			ssize_t r = read(c->fd, buf, sizeof(buf));
			double t;
			int done = 0;

			if (r <= 0) {
				fprintf(stderr, "connection closed\n");
				return 1;
			}
			for (char *p = buf; (p = memchr(p, '\n',
			    (size_t)(buf + r - p))) != NULL; p++)
				done++;
			if (done == 0)
				continue;
			t = now_s();
			for (int d = 0; d < done; d++) {
				if (nrt < cap)
					rtt[nrt++] = t - c->sent[c->head];
				c->head = (c->head + 1) % MAX_DEPTH;
				c->inflight--;
				open_inflight--;
				replies++;
			}
			/* Send the next ones until the time is up. */
			for (; t < t_end && c->inflight < depth;
			    c->inflight++, open_inflight++) {
				if (write(c->fd, req, reqlen) !=
				    (ssize_t)reqlen)
					return 1;
				c->sent[(c->head + c->inflight) % MAX_DEPTH] =
				    t;
			}
		}
	}
	elapsed = now_s() - t0;
	qsort(rtt, nrt, sizeof(*rtt), cmp_double);
	printf("socket %s: %d clients x %d in flight, %.1f s: %lu replies, "
	    "%.0f replies/s, round trip p50 %.3f ms, p99 %.3f ms\n", argv[1],
	    nc, depth, elapsed, replies, replies / elapsed,
	    rtt[nrt / 2] * 1e3, rtt[nrt * 99 / 100] * 1e3);
	printf("result replies_per_s=%.0f p50_ms=%.4f p99_ms=%.4f\n",
	    replies / elapsed, rtt[nrt / 2] * 1e3, rtt[nrt * 99 / 100] * 1e3);
	return 0;
}
