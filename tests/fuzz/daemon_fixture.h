/*
 * A daemon core for the fuzz targets that send control lines: the real
 * configuration loader, core (daemon/core.c), control socket and command
 * handlers on a private loop, with two clusters whose EC2 and Opencast
 * endpoints are a closed port on 127.0.0.1, so nothing leaves the machine
 * and every upstream call fails at once.  The clusters' EC2 data is set
 * by the target, not read.
 */
#ifndef EC2M_FUZZ_DAEMON_FIXTURE_H
#define EC2M_FUZZ_DAEMON_FIXTURE_H

#include <stddef.h>

struct cluster;

/* Builds the core and starts serving (once per process). */
void fixture_init(void);
/* The cluster called name (dev04 or dev05). */
struct cluster *fixture_cluster(const char *name);
/* Gives c a fresh EC2 view: admin, engage, db and nfs running, and
 * workers named "PREFIX-worker" + each of names[0..n) (raw bytes; the
 * odd ones held, every third one stopped), read just now; error (may be
 * NULL) is the last refresh's failure text, as raw bytes. */
void fixture_set_instances(struct cluster *c, const char *const *names,
    const size_t *lens, size_t n, const char *error, size_t errlen);
/* Sends data on a new connection, closes the sending side and runs the
 * loop until the daemon has answered everything and closed, or a bound
 * is reached.  Checks every line the daemon wrote: valid UTF-8, one JSON
 * object with an integer "id"; when every request line was answered, the
 * final replies carry the requests' ids in order.  Aborts otherwise. */
void fixture_exchange(const char *data, size_t len);

#endif
