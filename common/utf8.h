/*
 * The one way text becomes safe to show (SPEC §3, §9).  Instance names,
 * upstream error texts and a client's strings may hold any bytes; every
 * message, reason, name or error that ends up in a reply, an event, status
 * or the log is made valid UTF-8 here, and a text cut to fit a buffer is
 * cut at a character boundary.
 *
 * Invalid sequences (stray continuation bytes, overlong forms, surrogates,
 * code points above U+10FFFF, truncated sequences) and NUL bytes inside a
 * counted text become U+FFFD, one per maximal invalid subpart, as the
 * Unicode standard recommends.
 *
 * Formatting into a fixed buffer goes through utf8_snprintf(); plain
 * snprintf() is allowed only for text that never leaves the process (paths,
 * URLs, numbers): tests/lint checks daemon/ and common/ for that.
 */
#ifndef EC2M_UTF8_H
#define EC2M_UTF8_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The UTF-8 encoding of U+FFFD, the replacement character. */
#define UTF8_REPLACEMENT	"\xEF\xBF\xBD"

/* True when s[0..len) is valid UTF-8 without NUL bytes. */
bool utf8_valid(const char *s, size_t len);

/* The length of the longest prefix of s[0..len) that is at most max bytes
 * and does not end inside a character (s is assumed valid UTF-8; on invalid
 * input the cut still never splits a valid sequence). */
size_t utf8_cut(const char *s, size_t len, size_t max);

/* A new, valid UTF-8 copy of s[0..len) (free() it); never NULL. */
char *utf8_sanitize(const char *s, size_t len);

/* Copies s[0..len) into dst (size dstlen > 0) made valid and cut at a
 * character boundary to fit; always NUL-terminates.  Returns the length
 * written. */
size_t utf8_copy(char *dst, size_t dstlen, const char *s, size_t len);

/* snprintf() whose result is valid UTF-8, cut at a character boundary (with
 * "…") when it does not fit.  Returns the length written (not the length
 * that would have been written). */
size_t utf8_snprintf(char *dst, size_t dstlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t utf8_vsnprintf(char *dst, size_t dstlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* xasprintf() whose result is valid UTF-8 (free() it). */
char *utf8_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *utf8_vasprintf(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

/* A JSON string of s made valid; never NULL (jansson's json_string()
 * refuses invalid UTF-8 and returns NULL, which json_pack() and
 * json_object_set_new() then drop silently).  json_text_or_null(NULL) is
 * JSON null. */
json_t *json_text(const char *s);
json_t *json_text_or_null(const char *s);

#endif
