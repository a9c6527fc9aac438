/*
 * UTF-8 validation, repair and cutting (see utf8.h).  The decoder follows
 * the well-formed byte sequences of the Unicode standard (table 3-7), so it
 * accepts exactly what jansson accepts.
 */
#include "common/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/xalloc.h"

#define ELLIPSIS	"\xE2\x80\xA6"	/* U+2026 */

/* The length of the well-formed sequence at s[0..len), or 0 when it is
 * not one; *bad then says how many bytes form the maximal invalid subpart
 * (at least 1) to replace with one U+FFFD. */
static size_t
seq_len(const unsigned char *s, size_t len, size_t *bad)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t n, i;

	*bad = 1;
	if (c >= 0x01 && c <= 0x7F)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;	/* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;	/* nothing above U+10FFFF */
	} else
		return 0;	/* NUL, a continuation byte, C0, C1, F5..FF */
	for (i = 1; i < n; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	return n;
}

bool
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, bad;

	while (i < len) {
		if (p[i] >= 0x01 && p[i] <= 0x7F) {
			i++;
			continue;
		}
		if ((n = seq_len(p + i, len - i, &bad)) == 0)
			return false;
		i += n;
	}
	return true;
}

size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (len <= max)
		return len;
	/* Step back over continuation bytes to the start of the character
	 * that max falls into (at most three), and cut before it. */
	n = max;
	while (n > 0 && max - n < 3 && (p[n] & 0xC0) == 0x80)
		n--;
	if ((p[n] & 0xC0) == 0x80)
		return max;	/* no boundary near: invalid input */
	return n;
}

/* Appends the valid form of s[0..len) to sb. */
static void
sanitize_into(struct strbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0, n, bad;

	while (i < len) {
		if (p[i] >= 0x01 && p[i] <= 0x7F) {
			i++;
			continue;
		}
		if ((n = seq_len(p + i, len - i, &bad)) > 0) {
			i += n;
			continue;
		}
		strbuf_append(sb, s + start, i - start);
		strbuf_append(sb, UTF8_REPLACEMENT, 3);
		i += bad;
		start = i;
	}
	strbuf_append(sb, s + start, len - start);
}

char *
utf8_sanitize(const char *s, size_t len)
{
	struct strbuf sb = STRBUF_INIT;

	if (utf8_valid(s, len))
		return xstrndup(s, len);
	sanitize_into(&sb, s, len);
	return strbuf_detach(&sb, NULL);
}

/* utf8_copy(), with "…" at the end of a text that was cut when asked and
 * there is room for it. */
static size_t
copy_cut(char *dst, size_t dstlen, const char *s, size_t len, bool ellipsis)
{
	struct strbuf sb = STRBUF_INIT;
	const char *v = s;
	size_t vlen = len, n;

	if (dstlen == 0)
		return 0;
	if (!utf8_valid(s, len)) {
		sanitize_into(&sb, s, len);
		v = strbuf_str(&sb);
		vlen = sb.len;
	}
	if (vlen < dstlen) {
		memcpy(dst, v, vlen);
		n = vlen;
	} else if (ellipsis && dstlen > 2 * sizeof(ELLIPSIS)) {
		n = utf8_cut(v, vlen, dstlen - sizeof(ELLIPSIS));
		memcpy(dst, v, n);
		memcpy(dst + n, ELLIPSIS, sizeof(ELLIPSIS) - 1);
		n += sizeof(ELLIPSIS) - 1;
	} else {
		n = utf8_cut(v, vlen, dstlen - 1);
		memcpy(dst, v, n);
	}
	dst[n] = '\0';
	strbuf_release(&sb);
	return n;
}

size_t
utf8_copy(char *dst, size_t dstlen, const char *s, size_t len)
{
	return copy_cut(dst, dstlen, s, len, false);
}

size_t
utf8_vsnprintf(char *dst, size_t dstlen, const char *fmt, va_list ap)
{
	char small[512], *big = NULL;
	const char *s = small;
	va_list ap2;
	size_t n;
	int r;

	va_copy(ap2, ap);
	r = vsnprintf(small, sizeof(small), fmt, ap);
	if (r < 0) {
		va_end(ap2);
		return copy_cut(dst, dstlen, "", 0, false);
	}
	if ((size_t)r >= sizeof(small)) {
		big = xmalloc((size_t)r + 1);
		vsnprintf(big, (size_t)r + 1, fmt, ap2);
		s = big;
	}
	va_end(ap2);
	n = copy_cut(dst, dstlen, s, (size_t)r, true);
	free(big);
	return n;
}

size_t
utf8_snprintf(char *dst, size_t dstlen, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = utf8_vsnprintf(dst, dstlen, fmt, ap);
	va_end(ap);
	return n;
}

char *
utf8_vasprintf(const char *fmt, va_list ap)
{
	char *s = NULL, *v;
	int r = vasprintf(&s, fmt, ap);

	if (r < 0)
		return xstrdup("");
	if (utf8_valid(s, (size_t)r))
		return s;
	v = utf8_sanitize(s, (size_t)r);
	free(s);
	return v;
}

char *
utf8_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = utf8_vasprintf(fmt, ap);
	va_end(ap);
	return s;
}

json_t *
json_text(const char *s)
{
	size_t len;
	json_t *j;
	char *v;

	if (s == NULL)
		s = "";
	len = strlen(s);
	if (utf8_valid(s, len))
		j = json_stringn_nocheck(s, len);
	else {
		v = utf8_sanitize(s, len);
		j = json_string_nocheck(v);
		free(v);
	}
	if (j == NULL)
		abort();	/* out of memory, as xmalloc does */
	return j;
}

json_t *
json_text_or_null(const char *s)
{
	return s ? json_text(s) : json_null();
}
