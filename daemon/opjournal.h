/*
 * The crash record of an operation (SPEC §8, "Crash safety"): before the
 * daemon puts a node into maintenance or stops an instance, it writes down
 * what it is about to do in state_dir, one file per cluster,
 * STATE_DIR/op-CLUSTER.json, replaced atomically (temporary file, fsync,
 * rename, fsync of the directory).  The record is brought up to date as
 * nodes are taken out of maintenance again, and removed when the operation
 * ends cleanly; a record found at start-up therefore means the previous
 * daemon ended in the middle of an operation, and tells the next one which
 * nodes to take out of maintenance.  The record, one line of JSON:
 *
 *   {"version": 1, "cluster": "dev04", "operation": "stop",
 *    "initiator": "uid 0 pid 42", "started_at": "2026-12-04T17:06:00Z",
 *    "started_ms": 1796403960000, "pid": 4242,
 *    "maintenance": [{"host": "http://10.0.1.11:8080",
 *                     "instance": "i-0123456789abcdef0"}],
 *    "stopping": ["i-0123456789abcdef0"]}
 *
 * "maintenance" lists the Opencast hosts the operation may have put into
 * maintenance and has neither taken out again nor stopped; "stopping" the
 * instances it was about to stop (or stopped).  Unknown keys are ignored;
 * another version is refused.
 *
 * This header has two halves: the record as data, its text and the plan of
 * a recovery are pure (opjournal.c); reading and writing the file is
 * opjournal_file.c.
 */
#ifndef EC2M_OPJOURNAL_H
#define EC2M_OPJOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strv.h"
#include "daemon/model.h"

#define OPJOURNAL_VERSION	1
/* Limits of what a record may hold (a cluster has tens of nodes). */
#define OPJOURNAL_MAX_NODES	4096
#define OPJOURNAL_MAX_TEXT	1024	/* bytes in one string */
#define OPJOURNAL_MAX_FILE	(1u << 20)

struct opjournal {
	char	*cluster;	/* owned; the strings below too */
	char	*operation;	/* "stop", "scale down 2" */
	char	*initiator;	/* "uid 0 pid 42", "autoscaler"; may be NULL */
	int64_t	 started_ms;
	long	 pid;		/* the daemon that wrote it */
	struct strv hosts;	/* hosts put in maintenance, with ... */
	struct strv ids;	/* ... their instances (parallel lists) */
	struct strv stopping;	/* instances it was about to stop */
};

/* An empty record (every field zero). */
void opjournal_init(struct opjournal *j);
void opjournal_release(struct opjournal *j);
/* Sets a string field (copied; NULL clears). */
void opjournal_set(char **field, const char *value);
/* Adds host (of instance id) unless the host is listed already. */
void opjournal_add_node(struct opjournal *j, const char *host,
    const char *id);
/* Removes host; returns true if it was listed. */
bool opjournal_remove_host(struct opjournal *j, const char *host);
/* Removes every host of instance id; returns true if one was listed. */
bool opjournal_remove_instance(struct opjournal *j, const char *id);

/* The record as one line of JSON ending in "\n" (free() it). */
char *opjournal_dump(const struct opjournal *j);
/* Reads a record from text[0..len).  Returns 0 with *out filled (release
 * it), or -1 with err set to a reason (valid UTF-8) and *out empty. */
int opjournal_parse(const char *text, size_t len, struct opjournal *out,
    char *err, size_t errlen);

/*
 * What a recovery does with a record, given the cluster as the first
 * refresh after start-up read it: take out of maintenance the recorded
 * nodes that still run and that Opencast does not already show out of
 * maintenance (when Opencast could not be read, every running one: the
 * switch is idempotent); leave the others, each with a note why.  Stops
 * are never repeated: the recorded "stopping" instances are only reported.
 */
struct opjournal_plan {
	struct strv hosts;	/* to take out of maintenance, with ... */
	struct strv ids;	/* ... their instances */
	struct strv notes;	/* "i-0a1 is stopped: left as it is" */
};

void opjournal_plan(const struct opjournal *j, const struct model *md,
    struct opjournal_plan *p);
void opjournal_plan_release(struct opjournal_plan *p);

/* File side (opjournal_file.c). */

/* "DIR/op-CLUSTER.json" (free() it). */
char *opjournal_path(const char *dir, const char *cluster);
/* Writes j as DIR/op-CLUSTER.json (j->cluster), atomically and synced.
 * Returns 0, or -1 with err. */
int opjournal_save(const char *dir, const struct opjournal *j, char *err,
    size_t errlen);
/* Reads DIR/op-CLUSTER.json: 1 with *j filled (release it), 0 when there
 * is no record, -1 with err when there is one that cannot be read. */
int opjournal_load(const char *dir, const char *cluster, struct opjournal *j,
    char *err, size_t errlen);
/* True when DIR/op-CLUSTER.json exists. */
bool opjournal_exists(const char *dir, const char *cluster);
/* Removes the record (none is fine), synced.  Returns 0, or -1 with err. */
int opjournal_remove(const char *dir, const char *cluster, char *err,
    size_t errlen);
/* Renames an unreadable record to DIR/op-CLUSTER.json.bad, so that it is
 * kept for people but not read again.  Returns 0, or -1 with err. */
int opjournal_set_aside(const char *dir, const char *cluster, char *err,
    size_t errlen);

#endif
