/*
 * A bump allocator for many small objects that die together, such as the
 * strings and tag arrays of one DescribeInstances result.  One free releases
 * everything.
 */
#ifndef EC2M_POOL_H
#define EC2M_POOL_H

#include <stddef.h>

struct pool_chunk;

struct pool {
	struct pool_chunk *head;	/* owned */
};

#define POOL_INIT { NULL }

/* Returns n zeroed bytes aligned for any object; never NULL. */
void *pool_alloc(struct pool *p, size_t n);
char *pool_strndup(struct pool *p, const char *s, size_t n);
char *pool_strdup(struct pool *p, const char *s);
void pool_release(struct pool *p);

#endif
