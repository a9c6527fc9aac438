#include "common/strv.h"

#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/xalloc.h"

void
strv_add(struct strv *s, const char *str)
{
	s->v = xgrow(s->v, &s->cap, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = xstrdup(str);
}

bool
strv_has(const struct strv *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], str) == 0)
			return true;
	return false;
}

bool
strv_remove(struct strv *s, const char *str)
{
	/* str may be one of the list's own strings, freed on the way. */
	char *key = xstrdup(str);
	size_t j = 0;
	bool found = false;

	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i], key) == 0) {
			free(s->v[i]);
			found = true;
		} else {
			s->v[j++] = s->v[i];
		}
	}
	s->n = j;
	free(key);
	return found;
}

void
strv_remove_at(struct strv *s, size_t i)
{
	if (i >= s->n)
		return;
	free(s->v[i]);
	memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

void
strv_clear(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

char *
strv_join(const struct strv *s, const char *sep)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < s->n; i++) {
		if (i)
			strbuf_puts(&sb, sep);
		strbuf_puts(&sb, s->v[i]);
	}
	return strbuf_detach(&sb, NULL);
}
