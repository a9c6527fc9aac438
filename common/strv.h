/*
 * A growable list of owned strings (instance ids, host URLs).
 */
#ifndef EC2M_STRV_H
#define EC2M_STRV_H

#include <stdbool.h>
#include <stddef.h>

struct strv {
	char	**v;	/* owned, with the strings */
	size_t	 n;
	size_t	 cap;
};

void strv_add(struct strv *s, const char *str);
bool strv_has(const struct strv *s, const char *str);
/* Removes every copy of str (which may be one of the list's own
 * strings); returns true if there was one. */
bool strv_remove(struct strv *s, const char *str);
/* Removes the string at index i (no-op past the end). */
void strv_remove_at(struct strv *s, size_t i);
void strv_clear(struct strv *s);
/* "a, b, c" into a new string. */
char *strv_join(const struct strv *s, const char *sep);

#endif
