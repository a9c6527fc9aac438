/*
 * The metrics listener (issue 15): `[daemon] metrics_listen` serves
 * `GET /metrics` in the Prometheus text format 0.0.4 on the daemon's own
 * loop.  HTTP is libmicrohttpd's, run without a thread of its own: its
 * epoll descriptor is watched by a uv_poll and its timeouts by a uv_timer,
 * and each turn calls MHD_run(), which never blocks.  The body is built at
 * scrape time: the gauges from the clusters' current state (what status
 * shows: no call is made, no secret is read) and the registry's counters
 * and histograms (metrics.h).
 */
#ifndef EC2M_METRICSRV_H
#define EC2M_METRICSRV_H

#include <stddef.h>

#include "common/strbuf.h"

struct daemon;
struct metricsrv;

/* Listens on addr (metrics_parse_listen()'s form) on d->loop.  NULL with
 * err when addr is not one or cannot be bound. */
struct metricsrv *metricsrv_start(struct daemon *d, const char *addr,
    char *err, size_t errlen);
/* The address it serves, as configured. */
const char *metricsrv_addr(const struct metricsrv *m);
/* Closes the listener and its connections; the memory goes with the
 * libuv close callbacks (run the loop afterwards).  NULL is a no-op. */
void metricsrv_stop(struct metricsrv *m);

/* Appends the exposition of d now: gauges, then the registry. */
void metricsrv_write(struct daemon *d, struct strbuf *out);

#endif
