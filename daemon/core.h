/*
 * The daemon without its process: the upstream clients and the clusters of
 * one configuration, built, reloaded and released in one place.  main.c
 * adds the signals, systemd and the control socket around it; the control
 * line fuzz target (tests/fuzz/fuzz_control.c) builds the same core.
 */
#ifndef EC2M_CORE_H
#define EC2M_CORE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <uv.h>

struct config;
struct daemon;

/* Builds the HTTP, credential, EC2 and Zadara clients and the clusters
 * of cfg on loop.  On success d owns cfg; on failure everything built is
 * released, cfg stays the caller's, and err says why. */
int daemon_core_init(struct daemon *d, uv_loop_t *loop, struct config *cfg,
    char *err, size_t errlen);
/* Refreshes every cluster at once (start-up and reload). */
void daemon_core_refresh_all(struct daemon *d);
/* Applies a new configuration all or nothing: on success d owns nc and
 * the old one is gone; a reload that would remove a cluster with an
 * operation in progress is refused (-1, err says why, nc stays the
 * caller's). */
int daemon_core_reload(struct daemon *d, struct config *nc, char *err,
    size_t errlen);
/* Records the outcome of a reload now: applied (why NULL) or rejected,
 * with every reason in why, one per line (only the first line and the
 * count of the others are kept). */
void daemon_core_note_reload(struct daemon *d, bool ok, const char *why);
/* The last reload for `clusters`: {"at", "ok", "error"}, or null when
 * there was none since start-up. */
json_t *daemon_core_reload_json(const struct daemon *d);
/* Shutdown begins (SIGTERM): no new operation or autoscale action from now
 * on, the evaluations in flight are dropped (their askers answered), and
 * the operations in flight are told to stop at a safe point (the nodes
 * they put in maintenance are taken out again). */
void daemon_core_stop(struct daemon *d);
/* Ends every operation still running now, through its failure path
 * (operation_cancel(): its client answered, what it left in maintenance
 * kept in its crash record for the next start). */
void daemon_core_cancel_operations(struct daemon *d);
/* How many operations are still running. */
size_t daemon_core_busy(const struct daemon *d);
/* Frees the clusters, the clients, the secrets and the configuration, in
 * the order operations (cancelled through their failure path if still
 * running), autoscalers, clusters, clients.  libuv handles close through
 * the loop: run it afterwards. */
void daemon_core_release(struct daemon *d);

#endif
