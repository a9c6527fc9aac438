#include "common/pool.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/* Chunks double from the first to the largest size, so that a small
 * result (one cluster's hosts, say) costs about what it holds, not 32 KiB:
 * a daemon keeps one of each per cluster. */
#define POOL_CHUNK_FIRST 512
#define POOL_CHUNK_MAX	 (32 * 1024)

struct pool_chunk {
	struct pool_chunk *next;
	size_t	 used;
	size_t	 size;
	alignas(max_align_t) unsigned char data[];
};

void *
pool_alloc(struct pool *p, size_t n)
{
	struct pool_chunk *c = p->head;
	size_t align = alignof(max_align_t);
	size_t need = (n + align - 1) & ~(align - 1);
	void *r;

	if (c == NULL || c->size - c->used < need) {
		size_t size = c == NULL ? POOL_CHUNK_FIRST :
		    c->size >= POOL_CHUNK_MAX / 2 ? POOL_CHUNK_MAX : c->size * 2;

		if (size < need)
			size = need;

		c = xmalloc(sizeof(*c) + size);
		c->used = 0;
		c->size = size;
		c->next = p->head;
		p->head = c;
	}
	r = c->data + c->used;
	c->used += need;
	memset(r, 0, n);
	return r;
}

char *
pool_strndup(struct pool *p, const char *s, size_t n)
{
	char *d = pool_alloc(p, n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *
pool_strdup(struct pool *p, const char *s)
{
	return pool_strndup(p, s, strlen(s));
}

void
pool_release(struct pool *p)
{
	struct pool_chunk *c = p->head, *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	p->head = NULL;
}
