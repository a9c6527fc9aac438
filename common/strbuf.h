/*
 * A growable byte buffer that is always NUL-terminated, for building request
 * bodies and signing strings and for collecting response bodies.
 */
#ifndef EC2M_STRBUF_H
#define EC2M_STRBUF_H

#include <stddef.h>

struct strbuf {
	char	*buf;	/* owned; NULL until the first append */
	size_t	 len;
	size_t	 cap;
};

#define STRBUF_INIT { NULL, 0, 0 }

void strbuf_append(struct strbuf *sb, const void *data, size_t len);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_putc(struct strbuf *sb, char c);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strbuf_reset(struct strbuf *sb);
/* The contents as a C string; "" for an empty buffer.  Borrowed. */
const char *strbuf_str(const struct strbuf *sb);
/* Hands the contents over to the caller (free() it) and empties sb. */
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_release(struct strbuf *sb);

#endif
