/*
 * Allocators that never return NULL: on out-of-memory they log and abort,
 * so call sites need no checks.  Everything allocated here is released with
 * free().
 */
#ifndef EC2M_XALLOC_H
#define EC2M_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Grows an array of *cap elements of size `size` so it holds at least
 * `need`; returns the (possibly moved) array. */
void *xgrow(void *p, size_t *cap, size_t need, size_t size);
char *xstrdup(const char *s);
/* xstrdup(NULL) is NULL. */
char *xstrdup_or_null(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Overwrites a secret before freeing it; NULL is a no-op. */
void free_secret(char *s);

#endif
