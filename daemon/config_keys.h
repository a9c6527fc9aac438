/*
 * The settings themselves (internal to the configuration loader): the one
 * table of keys with their types, limits and defaults, and the parsing,
 * copying and freeing of one value.  config.c reads the files; this is
 * what the values mean.
 */
#ifndef EC2M_CONFIG_KEYS_H
#define EC2M_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"

enum section {
	SECT_NONE,		/* before the first header of a file */
	SECT_DAEMON,
	SECT_AWS,
	SECT_OPENCAST,
	SECT_ZADARA,
	SECT_DEFAULTS,
	SECT_CLUSTER,		/* keys: [defaults] and [cluster NAME] */
};

enum key_type {
	KT_INT,			/* int */
	KT_DURATION,		/* int64_t milliseconds */
	KT_STRING,		/* char *, any text */
	KT_PATH,		/* char *, an absolute path */
	KT_URL,			/* char *, http(s)://..., maybe "" */
	KT_ADMIN_URL,		/* char *, config_admin_url()'s template */
	KT_LIST,		/* char ** and a size_t count: words */
	KT_JOB_SOURCE,		/* enum job_source */
	KT_BILLING,		/* enum billing */
	KT_POLICY,		/* enum scaling_policy */
	KT_BOOL,		/* bool */
	KT_LOG_LEVEL,		/* int, a syslog level */
	KT_LISTEN,		/* char *, IP:PORT or [IPV6]:PORT; "" = off */
};

/*
 * One row per key.  Keys of SECT_CLUSTER live in struct cluster_config (of
 * [defaults] and of each [cluster NAME]); the others in struct config.  A
 * max of 0 means no upper limit; for KT_PATH, max limits the length, and
 * for KT_URL a min above 0 makes the value required.  The default is
 * written as in the file and goes through the same parser as the file's
 * values.
 */
struct key {
	enum section	 section;
	const char	*name;
	enum key_type	 type;
	size_t		 offset;
	size_t		 count_offset;	/* KT_LIST: of the count */
	int64_t		 min, max;
	const char	*range;		/* why min..max was missed */
	const char	*dflt;
};

/* The sections besides [cluster NAME], by name; NULL-terminated. */
struct config_section_name {
	const char	*name;
	enum section	 section;
};
extern const struct config_section_name config_section_names[];

/* Every key; CONFIG_NKEYS of them: the number of rows in config_keys.c,
 * to be raised by one with each new row (test_config's test_key_table
 * fails on a count that does not match the rows). */
#define CONFIG_NKEYS 33
extern const struct key config_keys[CONFIG_NKEYS];

/* The key called name in section (SECT_CLUSTER for [defaults] and
 * [cluster NAME]), or NULL. */
const struct key *config_key_find(enum section section, const char *name);
/* Parses s as k's value into the struct at base (a struct config or a
 * struct cluster_config); -1 with why when s is not a valid value. */
int config_key_set(const struct key *k, void *base, const char *s,
    char *why, size_t whylen);
/* Copies k's value from the struct at src to the one at dst. */
void config_key_copy(const struct key *k, void *dst, const void *src);
/* Frees k's value in the struct at base. */
void config_key_free(const struct key *k, void *base);
/* The word of the NULL-terminated words that is closest to word, when it
 * is close enough to be a likely misspelling (a small edit distance,
 * adjacent swaps counting as one edit), else NULL. */
const char *config_suggest(const char *word, const char *const *words);
/* The edit distance of a and b (insertions, deletions, substitutions and
 * swaps of adjacent characters, each counting one). */
size_t config_edit_distance(const char *a, const char *b);
/* The Opencast job type that the workflow operation id op (as the old
 * tool's MAJOR_LOAD_OPERATION_TYPES listed them: "compose", "editor", ...)
 * creates its heavy jobs with, or NULL when op is not one. */
const char *config_operation_service(const char *op);
/* The hint after "unknown section [HDR]" (config_hints.c): "; did you
 * mean [daemon]?", or "".  typelen is the length of the header's first
 * word, name the rest of it. */
void config_hint_section(const char *hdr, size_t typelen, const char *name,
    char *buf, size_t len);
/* The hint after "unknown key NAME in SECTION" for a key of section ks:
 * where the key belongs, or the closest key, or "". */
void config_hint_key(enum section ks, const char *name, char *buf,
    size_t len);
/* The error for operation ids in cc's high_load_services, or NULL when
 * there are none.  Free the message. */
char *config_hint_services(const struct cluster_config *cc);
/* The drop-in directory beside path ("DIR/conf.d").  Free it. */
char *config_dropin_dir(const char *path);
/* Lists dir/\*.conf (no hidden files) in byte order; a missing dir has
 * none.  Returns 0, or -1 with err. */
int config_list_dropins(const char *dir, char ***out, size_t *nout,
    char *err, size_t errlen);
/* Frees n words made by the list parser. */
void config_free_list(char **list, size_t n);

#endif
