/*
 * The configuration loader: reads the main file and its conf.d drop-ins
 * with libinih into a struct config, applies the defaults and checks every
 * value, so that the rest of the daemon never sees a bad setting.  The key
 * table below is the one list of keys with their types, limits and
 * defaults.  Nothing here acts on the settings; the only I/O is reading the
 * files.
 */
#include "daemon/config.h"
#include "daemon/config_keys.h"

#include <sys/un.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "common/log.h"
#include "common/protocol.h"
#include "common/strbuf.h"
#include "common/utf8.h"
#include "common/xalloc.h"

#define CLUSTER_NAME_MAX PROTO_MAX_CLUSTER_NAME
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1)

/* Where a key or a section header was seen: a file (an index into
 * loader.files) and a line.  Line 0 means nowhere. */
struct loc {
	int	file;
	int	line;
};

/* Where the keys of [defaults] or of one cluster were last set, which
 * decides what a cluster inherits and where a cross-key error is shown. */
struct origin {
	struct loc	 section;	/* the first [cluster NAME] header */
	struct loc	 keys[CONFIG_NKEYS];
};

/*
 * How lines reach libinih.  Debian builds libinih without line numbers in
 * the handler (INI_HANDLER_LINENO) and without a call for a section that
 * has no keys, so ini_read_cb() hands the file to ini_parse_stream() one
 * line per call and counts the lines itself; the handler runs while its
 * line is the last one read, so that count is the line of every key.
 *
 * Two things are done to each line before libinih sees it.  Leading
 * blanks (and a UTF-8 byte order mark) are removed, so indentation never
 * matters: libinih would otherwise take an indented line after a key as a
 * continuation of that key's value, and a block of indented keys would
 * silently turn into one odd value.  And a line longer than libinih's
 * buffer is an error here, where libinih would cut it in two.
 *
 * After every line that starts with "[" comes a probe line, PROBE: a key
 * line that ini_read_cb() makes up and ini_key_cb() recognises by the
 * probing flag, not by its name, so that no file can fake one.  libinih
 * reports the probe with the section it is in, so a header is seen even
 * when no key follows it, and libinih decides whether the line was a
 * header: when it was not, its section is not what the brackets hold, and
 * the syntax error comes back from ini_parse_stream().  That return value
 * is the first line that failed, a syntax error or one the handler
 * rejected; since probes shift libinih's line numbers, linemap turns them
 * back into ours.
 */
#define PROBE "\001=\n"

struct loader {
	struct config	*c;
	struct origin	 defaults;
	struct origin	*origins;	/* one per c->clusters */
	size_t		 ccap, ocap;	/* of c->clusters, origins */
	char		**files;	/* every file opened */
	size_t		 nfiles, filescap;

	/* The file being read. */
	FILE		*f;
	char		*buf;		/* its current line */
	size_t		 bufcap;
	const char	*text;		/* that line for libinih */
	int		 line;		/* its number */
	int		*linemap;	/* libinih's line numbers to ours */
	size_t		 linemapcap;
	int		 iniline;	/* lines handed to libinih */
	bool		 probe_next;
	bool		 probing;
	enum section	 section;
	size_t		 cluster;	/* with SECT_CLUSTER */

	/* The first error. */
	char		*err;
	size_t		 errlen;
	bool		 failed;
	int		 err_iniline;
};

static void fail(struct loader *, int, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_path(struct loader *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Records the first error as "PATH:LINE: message", or "PATH: message" for
 * line 0.  Later errors are dropped: the first one is what stops loading.
 */
static void
vfail(struct loader *ld, const char *path, int line, const char *fmt,
    va_list ap)
{
	int n;

	if (ld->failed)
		return;
	ld->failed = true;
	ld->err_iniline = line > 0 ? ld->iniline : INT_MAX;
	if (ld->err == NULL || ld->errlen == 0)
		return;
	if (line > 0)
		n = utf8_snprintf(ld->err, ld->errlen, "%s:%d: ", path, line);
	else
		n = utf8_snprintf(ld->err, ld->errlen, "%s: ", path);
	if (n >= 0 && (size_t)n < ld->errlen)
		utf8_vsnprintf(ld->err + n, ld->errlen - n, fmt, ap);
}

/* Records the first error, at a line of ld->files[file]. */
static void
fail(struct loader *ld, int file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(ld, ld->files[file], line, fmt, ap);
	va_end(ap);
}

/* Records the first error, about a path that is not a file read. */
static void
fail_path(struct loader *ld, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(ld, path, 0, fmt, ap);
	va_end(ap);
}

static int
cur_file(const struct loader *ld)
{
	return (int)ld->nfiles - 1;
}

/*
 * The config and its clusters.
 */

static struct config *
config_new(const char *path)
{
	struct config *c = xcalloc(1, sizeof(*c));
	void *base;
	char why[128];
	size_t i;

	c->path = xstrdup(path);
	for (i = 0; i < CONFIG_NKEYS; i++) {
		base = config_keys[i].section == SECT_CLUSTER ?
		    (void *)&c->defaults : (void *)c;
		/* The table's defaults are constants; one that does not
		 * parse is a bug that no configuration can work around. */
		if (config_key_set(&config_keys[i], base,
		    config_keys[i].dflt, why,
		    sizeof(why)) == -1)
			abort();
	}
	return c;
}

static void
cluster_clear(struct cluster_config *cc)
{
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++)
		if (config_keys[i].section == SECT_CLUSTER)
			config_key_free(&config_keys[i], cc);
	free(cc->name);
	cc->name = NULL;
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < CONFIG_NKEYS; i++)
		if (config_keys[i].section != SECT_CLUSTER)
			config_key_free(&config_keys[i], c);
	cluster_clear(&c->defaults);
	for (i = 0; i < c->nclusters; i++)
		cluster_clear(&c->clusters[i]);
	free(c->clusters);
	free(c->path);
	free(c);
}

const struct cluster_config *
config_cluster(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nclusters; i++)
		if (strcmp(c->clusters[i].name, name) == 0)
			return &c->clusters[i];
	return NULL;
}

/* The index of the cluster called name, which is added (with nothing set
 * yet) if it is new. */
static size_t
find_or_add_cluster(struct loader *ld, const char *name)
{
	struct config *c = ld->c;
	size_t i, n = c->nclusters;

	for (i = 0; i < n; i++)
		if (strcmp(c->clusters[i].name, name) == 0)
			return i;
	c->clusters = xgrow(c->clusters, &ld->ccap, n + 1,
	    sizeof(*c->clusters));
	ld->origins = xgrow(ld->origins, &ld->ocap, n + 1,
	    sizeof(*ld->origins));
	memset(&c->clusters[n], 0, sizeof(c->clusters[n]));
	memset(&ld->origins[n], 0, sizeof(ld->origins[n]));
	c->clusters[n].name = xstrdup(name);
	ld->origins[n].section = (struct loc){ cur_file(ld), ld->line };
	c->nclusters++;
	return n;
}

/*
 * Parsing, driven by libinih.
 */

/* Takes the section header hdr, the text between the brackets, which it
 * may change. */
static int
open_section(struct loader *ld, char *hdr)
{
	const char *name;
	size_t typelen, i, n;

	while (isspace((unsigned char)*hdr))
		hdr++;
	n = strlen(hdr);
	while (n > 0 && isspace((unsigned char)hdr[n - 1]))
		hdr[--n] = '\0';
	for (typelen = 0; hdr[typelen] != '\0'; typelen++)
		if (isspace((unsigned char)hdr[typelen]))
			break;
	name = hdr + typelen;
	while (isspace((unsigned char)*name))
		name++;
	if (typelen == 7 && strncmp(hdr, "cluster", 7) == 0) {
		if (*name == '\0') {
			fail(ld, cur_file(ld), ld->line,
			    "[cluster] needs a name, as in [cluster dev04]");
			return -1;
		}
		if (!proto_cluster_name_valid(name)) {
			fail(ld, cur_file(ld), ld->line,
			    "invalid cluster name \"%s\": it takes 1 to %d "
			    "letters, digits, '.', '_' or '-'", name,
			    CLUSTER_NAME_MAX);
			return -1;
		}
		ld->cluster = find_or_add_cluster(ld, name);
		ld->section = SECT_CLUSTER;
		return 0;
	}
	for (i = 0; *name == '\0' && config_section_names[i].name != NULL;
	    i++) {
		if (strlen(config_section_names[i].name) == typelen &&
		    strncmp(hdr, config_section_names[i].name, typelen) == 0) {
			ld->section = config_section_names[i].section;
			return 0;
		}
	}
	fail(ld, cur_file(ld), ld->line, "unknown section [%s]", hdr);
	return -1;
}

/*
 * Called for the probe after a line starting with "[", with libinih's
 * section.  libinih keeps at most 49 bytes of a section name, so the full
 * header is taken from the line itself, after checking that libinih's
 * section starts it.  If it does not, the line was no header and libinih
 * reports the syntax error.
 */
static int
on_probe(struct loader *ld, const char *section)
{
	const char *body = ld->text + 1, *end;
	size_t n = strlen(section);
	char *hdr;
	int rc;

	if (strncmp(body, section, n) != 0)
		return 0;
	end = strchr(body + n, ']');
	if (end == NULL)
		return 0;
	hdr = xstrndup(body, end - body);
	rc = open_section(ld, hdr);
	free(hdr);
	return rc;
}

static void
section_label(const struct loader *ld, char *buf, size_t len)
{
	size_t i;

	if (ld->section == SECT_CLUSTER) {
		utf8_snprintf(buf, len, "[cluster %s]",
		    ld->c->clusters[ld->cluster].name);
		return;
	}
	for (i = 0; config_section_names[i].name != NULL; i++)
		if (config_section_names[i].section == ld->section)
			utf8_snprintf(buf, len, "[%s]",
			    config_section_names[i].name);
}

static int
on_key(struct loader *ld, const char *name, const char *value)
{
	const struct key *k;
	enum section ks = ld->section;
	struct origin *o = NULL;
	void *base = ld->c;
	char why[128], label[CLUSTER_NAME_MAX + 16];

	if (ld->section == SECT_NONE) {
		fail(ld, cur_file(ld), ld->line,
		    "key \"%s\" outside of a section", name);
		return -1;
	}
	if (ld->section == SECT_DEFAULTS) {
		ks = SECT_CLUSTER;
		base = &ld->c->defaults;
		o = &ld->defaults;
	} else if (ld->section == SECT_CLUSTER) {
		base = &ld->c->clusters[ld->cluster];
		o = &ld->origins[ld->cluster];
	}
	k = config_key_find(ks, name);
	if (k == NULL) {
		section_label(ld, label, sizeof(label));
		fail(ld, cur_file(ld), ld->line, "unknown key \"%s\" in %s",
		    name, label);
		return -1;
	}
	if (config_key_set(k, base, value, why, sizeof(why)) == -1) {
		fail(ld, cur_file(ld), ld->line,
		    "invalid value \"%s\" for %s: %s", value, name, why);
		return -1;
	}
	if (o != NULL)
		o->keys[k - config_keys] = (struct loc){ cur_file(ld),
		    ld->line };
	return 0;
}

/* Called by libinih for each key, and for each probe. */
static int
ini_key_cb(void *user, const char *section, const char *name,
    const char *value)
{
	struct loader *ld = user;

	if (ld->failed)
		return 0;
	if (ld->probing)
		return on_probe(ld, section) == 0;
	/* A libinih built to report each header calls with no name; the
	 * probes see headers already. */
	if (name == NULL)
		return 1;
	/* A libinih built to allow keys without "=" calls with no value. */
	if (value == NULL) {
		fail(ld, cur_file(ld), ld->line, "syntax error");
		return 0;
	}
	return on_key(ld, name, value) == 0;
}

/* Notes that libinih's next line number stands for our line. */
static void
map_line(struct loader *ld)
{
	ld->iniline++;
	ld->linemap = xgrow(ld->linemap, &ld->linemapcap,
	    (size_t)ld->iniline + 1, sizeof(*ld->linemap));
	ld->linemap[ld->iniline] = ld->line;
}

/* Called by libinih for its next line, fgets() style: num is the size of
 * its buffer str. */
static char *
ini_read_cb(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	const char *s;
	ssize_t n;
	size_t len;

	ld->probing = false;
	if (ld->failed)
		return NULL;
	if (num < (int)sizeof(PROBE)) {
		fail(ld, cur_file(ld), 0, "libinih's line buffer is too small");
		return NULL;
	}
	if (ld->probe_next) {
		ld->probe_next = false;
		ld->probing = true;
		memcpy(str, PROBE, sizeof(PROBE));
		map_line(ld);
		return str;
	}
	n = getline(&ld->buf, &ld->bufcap, ld->f);
	if (n == -1) {
		if (ferror(ld->f))
			fail(ld, cur_file(ld), 0, "read error: %s",
			    strerror(errno));
		return NULL;
	}
	ld->line++;
	map_line(ld);
	if (n > 0 && ld->buf[n - 1] == '\n')
		ld->buf[--n] = '\0';
	if (memchr(ld->buf, '\0', n) != NULL) {
		fail(ld, cur_file(ld), ld->line, "syntax error: NUL byte");
		return NULL;
	}
	/* Values end up in status, events and the log: text only. */
	if (!utf8_valid(ld->buf, (size_t)n)) {
		fail(ld, cur_file(ld), ld->line, "not valid UTF-8 (the file "
		    "must be UTF-8 text)");
		return NULL;
	}
	s = ld->buf;
	if (ld->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	/* The line, a newline and a NUL must fit. */
	if (len + 2 > (size_t)num) {
		fail(ld, cur_file(ld), ld->line,
		    "line too long (more than %d characters)", num - 2);
		return NULL;
	}
	memcpy(str, s, len);
	memcpy(str + len, "\n", 2);
	ld->text = s;
	ld->probe_next = s[0] == '[';
	return str;
}

static int
load_file(struct loader *ld, const char *path)
{
	int rc;

	ld->files = xgrow(ld->files, &ld->filescap, ld->nfiles + 1,
	    sizeof(*ld->files));
	ld->files[ld->nfiles++] = xstrdup(path);
	ld->f = fopen(path, "re");
	if (ld->f == NULL) {
		fail(ld, cur_file(ld), 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	ld->line = 0;
	ld->iniline = 0;
	ld->text = "";
	ld->probe_next = ld->probing = false;
	ld->section = SECT_NONE;
	rc = ini_parse_stream(ini_read_cb, ld, ini_key_cb, ld);
	/* libinih returns the first line that failed, ours or its own; one
	 * before ours is a syntax error. */
	if (rc > 0 && (!ld->failed || rc < ld->err_iniline)) {
		ld->failed = false;
		fail(ld, cur_file(ld), ld->linemap[rc], "syntax error");
	} else if (rc < 0)
		fail(ld, cur_file(ld), 0, "cannot parse (libinih error %d)",
		    rc);
	fclose(ld->f);
	ld->f = NULL;
	return ld->failed ? -1 : 0;
}

static bool
is_dropin(const char *name)
{
	size_t n = strlen(name);

	/* Hidden files are left alone: editors and package managers use
	 * them for temporary copies. */
	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

static int
cmp_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists dir/\*.conf in byte order; a missing dir has none. */
static int
list_dropins(struct loader *ld, const char *dir, char ***out, size_t *nout)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int saved;

	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		fail_path(ld, dir, "cannot open: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		if (!is_dropin(de->d_name))
			continue;
		names = xgrow(names, &cap, n + 1, sizeof(*names));
		names[n++] = xasprintf("%s/%s", dir, de->d_name);
	}
	saved = errno;
	closedir(d);
	if (saved != 0) {
		fail_path(ld, dir, "cannot read: %s", strerror(saved));
		config_free_list(names, n);
		return -1;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_strings);
	*out = names;
	*nout = n;
	return 0;
}

/* The drop-in directory beside path. */
static char *
dropin_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup("conf.d");
	if (slash == path)
		return xstrdup("/conf.d");
	return xasprintf("%.*s/conf.d", (int)(slash - path), path);
}

/*
 * After every file: inheritance and the checks that involve two keys.
 */

/* The later of two places, or the one that is set. */
static struct loc
later(struct loc a, struct loc b)
{
	if (a.line == 0)
		return b;
	if (b.line == 0)
		return a;
	if (a.file != b.file)
		return a.file > b.file ? a : b;
	return a.line > b.line ? a : b;
}

/* Says where a cluster's value of key i came from, unless the cluster set
 * it.  Returns a new string. */
static char *
origin_note(const struct loader *ld, size_t cluster, size_t i)
{
	struct loc d = ld->defaults.keys[i];

	if (ld->origins[cluster].keys[i].line > 0)
		return xstrdup("");
	if (d.line > 0)
		return xasprintf(", from [defaults] at %s:%d",
		    ld->files[d.file], d.line);
	return xstrdup(", the built-in default");
}

/*
 * Checks the keys of one cluster that limit each other.  The error is shown
 * where the cluster set the later of the keys involved, or at its first
 * header if it set neither (both came from [defaults] or the built-in
 * defaults): always inside the cluster's own section, which is what has to
 * change or override.
 */
static int
check_cluster(struct loader *ld, size_t i)
{
	const struct cluster_config *cc = &ld->c->clusters[i];
	const struct origin *o = &ld->origins[i];
	size_t kmin = config_key_find(SECT_CLUSTER, "min_workers") -
	    config_keys;
	size_t kmax = config_key_find(SECT_CLUSTER, "max_workers") -
	    config_keys;
	struct loc at;
	char *nmin, *nmax;

	if (cc->min_workers <= cc->max_workers)
		return 0;
	at = later(o->keys[kmin], o->keys[kmax]);
	if (at.line == 0)
		at = o->section;
	nmin = origin_note(ld, i, kmin);
	nmax = origin_note(ld, i, kmax);
	fail(ld, at.file, at.line, "min_workers (%d%s) is greater than "
	    "max_workers (%d%s) in [cluster %s]", cc->min_workers, nmin,
	    cc->max_workers, nmax, cc->name);
	free(nmin);
	free(nmax);
	return -1;
}

static int
finish(struct loader *ld)
{
	struct config *c = ld->c;
	size_t i, k;

	for (i = 0; i < c->nclusters; i++) {
		for (k = 0; k < CONFIG_NKEYS; k++)
			if (config_keys[k].section == SECT_CLUSTER &&
			    ld->origins[i].keys[k].line == 0)
				config_key_copy(&config_keys[k],
				    &c->clusters[i], &c->defaults);
		if (check_cluster(ld, i) == -1)
			return -1;
	}
	return 0;
}

int
config_load(const char *path, struct config **out, char *err,
    size_t errlen)
{
	struct loader ld = { .err = err, .errlen = errlen };
	char *dir = NULL, **dropins = NULL;
	size_t ndropins = 0, i;
	int rc = -1;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	ld.c = config_new(path);
	if (load_file(&ld, path) == -1)
		goto out;
	dir = dropin_dir(path);
	if (list_dropins(&ld, dir, &dropins, &ndropins) == -1)
		goto out;
	for (i = 0; i < ndropins; i++)
		if (load_file(&ld, dropins[i]) == -1)
			goto out;
	if (finish(&ld) == -1)
		goto out;
	*out = ld.c;
	ld.c = NULL;
	rc = 0;
out:
	config_free(ld.c);
	config_free_list(dropins, ndropins);
	free(dir);
	config_free_list(ld.files, ld.nfiles);
	free(ld.origins);
	free(ld.linemap);
	free(ld.buf);
	return rc;
}
