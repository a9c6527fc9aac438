/*
 * The daemon's files in state_dir: small JSON documents replaced whole.
 * A new version is written to a temporary file, synced, renamed over the
 * old one and the directory synced, so that after a crash or a power loss
 * the file holds one whole version or the other, never a mix, and a
 * rename or removal that returned has reached the disk.  Plain POSIX
 * calls, from the loop (a few hundred bytes, rarely).  Errors name the
 * path and the reason, as valid UTF-8.
 */
#ifndef EC2M_STATEFILE_H
#define EC2M_STATEFILE_H

#include <stddef.h>

/* Replaces dir/name with data[0..len) (mode 0640).  Returns 0 or -1. */
int statefile_write(const char *dir, const char *name, const char *data,
    size_t len, char *err, size_t errlen);
/* Reads dir/name, a regular file of at most max bytes, into *out
 * (NUL-terminated, free() it) and *len.  Returns 1, 0 when the file does
 * not exist (*out NULL), or -1. */
int statefile_read(const char *dir, const char *name, size_t max,
    char **out, size_t *len, char *err, size_t errlen);
/* Removes dir/name durably; a missing file is fine.  Returns 0 or -1. */
int statefile_remove(const char *dir, const char *name, char *err,
    size_t errlen);
/* Renames dir/name to dir/name.bad durably (an unreadable file is kept
 * for the operator, out of the way).  Returns 0 or -1. */
int statefile_set_aside(const char *dir, const char *name, char *err,
    size_t errlen);

#endif
