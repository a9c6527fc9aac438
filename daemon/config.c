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
 * buffer, or one that is not UTF-8 text, is an error here and reaches
 * libinih as a blank line.
 *
 * Before every line that starts with "[" comes a made-up header, RESET,
 * and after it a probe line, PROBE: a key line that ini_key_cb()
 * recognises by the probing flag, not by its name, so that no file can
 * fake one.  libinih reports the probe with the section it is in: the
 * header's when the line was a header, RESET's when libinih refused it.
 * So a header is seen even when no key follows it, and libinih alone
 * decides what a header is.  Any other line that is not blank or a
 * comment must reach the handler as a key; when it does not, libinih
 * found no "=" in it and the line is a syntax error.  Every error is
 * recorded and loading goes on, so that one run reports them all.
 */
#define PROBE "\001=\n"
#define RESET "[\002]\n"
#define RESET_NAME "\002"

/* Where the next line goes. */
enum pending {
	PENDING_NONE,
	PENDING_KEY,		/* a key line, not yet seen by the handler */
	PENDING_RESET,		/* RESET sent; the real header comes next */
};

struct loader {
	struct config	*c;
	struct origin	 globals;	/* keys outside [defaults]/[cluster] */
	struct origin	 defaults;
	struct origin	*origins;	/* one per c->clusters */
	struct loc	*headers;	/* the latest header of each cluster */
	size_t		 ccap, ocap, hcap;	/* of c->clusters, origins,
						   headers */
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
	enum pending	 pending;
	bool		 probe_next;
	bool		 probing;
	bool		 got_key;	/* the handler saw the pending key */
	bool		 skip;		/* in a section that was refused */
	enum section	 section;
	size_t		 cluster;	/* with SECT_CLUSTER */
	size_t		 file_errors;	/* errors in the file being read */

	/* Every error, one "FILE:LINE: reason" per line. */
	struct strbuf	 errs;
	size_t		 nerrs;
};

static void fail(struct loader *, int, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_path(struct loader *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Records an error as "PATH:LINE: message", or "PATH: message" for line 0,
 * after the ones before it.
 */
static void
vfail(struct loader *ld, const char *path, int line, const char *fmt,
    va_list ap)
{
	char msg[1024];

	utf8_vsnprintf(msg, sizeof(msg), fmt, ap);
	if (ld->nerrs > 0)
		strbuf_putc(&ld->errs, '\n');
	if (line > 0)
		strbuf_printf(&ld->errs, "%s:%d: %s", path, line, msg);
	else
		strbuf_printf(&ld->errs, "%s: %s", path, msg);
	ld->nerrs++;
	ld->file_errors++;
}

/* Records an error at a line of ld->files[file]. */
static void
fail(struct loader *ld, int file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(ld, ld->files[file], line, fmt, ap);
	va_end(ap);
}

/* Records an error about a path that is not a file read. */
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
	if (c->key_at != NULL)
		for (i = 0; i < CONFIG_NKEYS; i++)
			free(c->key_at[i]);
	free(c->key_at);
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
 * yet) if it is new.  A cluster has one section per file: a drop-in may
 * open it again to override keys, the same file may not. */
static size_t
find_or_add_cluster(struct loader *ld, const char *name)
{
	struct config *c = ld->c;
	size_t i, n = c->nclusters;
	struct loc here = { cur_file(ld), ld->line };

	for (i = 0; i < n; i++) {
		if (strcmp(c->clusters[i].name, name) != 0)
			continue;
		if (ld->headers[i].file == here.file)
			fail(ld, here.file, here.line, "[cluster %s] again: "
			    "it was opened at line %d of this file; give each "
			    "cluster one section per file", name,
			    ld->headers[i].line);
		ld->headers[i] = here;
		return i;
	}
	c->clusters = xgrow(c->clusters, &ld->ccap, n + 1,
	    sizeof(*c->clusters));
	ld->origins = xgrow(ld->origins, &ld->ocap, n + 1,
	    sizeof(*ld->origins));
	ld->headers = xgrow(ld->headers, &ld->hcap, n + 1,
	    sizeof(*ld->headers));
	memset(&c->clusters[n], 0, sizeof(c->clusters[n]));
	memset(&ld->origins[n], 0, sizeof(ld->origins[n]));
	c->clusters[n].name = xstrdup(name);
	ld->origins[n].section = here;
	ld->headers[n] = here;
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
	char msg[128];
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
	for (i = 0; config_section_names[i].name != NULL; i++) {
		if (strlen(config_section_names[i].name) != typelen ||
		    strncmp(hdr, config_section_names[i].name, typelen) != 0)
			continue;
		if (*name == '\0') {
			ld->section = config_section_names[i].section;
			return 0;
		}
		fail(ld, cur_file(ld), ld->line, "unknown section [%s]: "
		    "[%s] takes no name", hdr, config_section_names[i].name);
		return -1;
	}
	config_hint_section(hdr, typelen, name, msg, sizeof(msg));
	fail(ld, cur_file(ld), ld->line, "unknown section [%s]%s", hdr, msg);
	return -1;
}

/*
 * Called for the probe after a line starting with "[", with libinih's
 * section: RESET_NAME when libinih did not take the line as a header.
 * libinih keeps at most 49 bytes of a section name, so the full header is
 * taken from the line itself, up to its first "]" (where libinih's ends).
 */
static void
on_probe(struct loader *ld, const char *section)
{
	const char *body = ld->text + 1, *end;
	char *hdr;

	ld->skip = true;
	ld->section = SECT_NONE;
	end = strchr(body, ']');
	if (strcmp(section, RESET_NAME) == 0 || end == NULL) {
		if (end == NULL)
			fail(ld, cur_file(ld), ld->line, "unclosed section "
			    "header \"%s\": the \"]\" is missing", ld->text);
		else
			fail(ld, cur_file(ld), ld->line, "syntax error in "
			    "section header \"%s\" (a comment must not start "
			    "inside the brackets)", ld->text);
		return;
	}
	hdr = xstrndup(body, end - body);
	if (open_section(ld, hdr) == 0)
		ld->skip = false;
	free(hdr);
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

static void
unknown_key(struct loader *ld, enum section ks, const char *name)
{
	char label[CLUSTER_NAME_MAX + 16], hint[128];

	section_label(ld, label, sizeof(label));
	config_hint_key(ks, name, hint, sizeof(hint));
	fail(ld, cur_file(ld), ld->line, "unknown key \"%s\" in %s%s", name,
	    label, hint);
}

/* The old tool's operation ids in high_load_services
 * (config_hint_services()). */
static void
check_services(struct loader *ld, const struct cluster_config *cc)
{
	char *msg = config_hint_services(cc);

	if (msg != NULL)
		fail(ld, cur_file(ld), ld->line, "%s", msg);
	free(msg);
}

static void
on_key(struct loader *ld, const char *name, const char *value)
{
	const struct key *k;
	enum section ks = ld->section;
	struct origin *o = &ld->globals;
	void *base = ld->c;
	char why[256];

	if (ld->skip)
		return;
	if (ld->section == SECT_NONE) {
		fail(ld, cur_file(ld), ld->line,
		    "key \"%s\" outside of a section", name);
		return;
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
		unknown_key(ld, ks, name);
		return;
	}
	if (config_key_set(k, base, value, why, sizeof(why)) == -1) {
		fail(ld, cur_file(ld), ld->line,
		    "invalid value \"%s\" for %s: %s", value, name, why);
		return;
	}
	if (k->type == KT_LIST && k->offset == offsetof(struct cluster_config,
	    high_load_services))
		check_services(ld, base);
	o->keys[k - config_keys] = (struct loc){ cur_file(ld), ld->line };
}

/* Called by libinih for each key, and for each probe.  Errors are
 * recorded here, not returned: libinih's own are found by the reader. */
static int
ini_key_cb(void *user, const char *section, const char *name,
    const char *value)
{
	struct loader *ld = user;

	if (ld->probing) {
		on_probe(ld, section);
		return 1;
	}
	/* A libinih built to report each header calls with no name; the
	 * probes see headers already. */
	if (name == NULL)
		return 1;
	ld->got_key = true;
	/* A libinih built to allow keys without "=" calls with no value. */
	if (value == NULL) {
		fail(ld, cur_file(ld), ld->line, "syntax error");
		return 1;
	}
	on_key(ld, name, value);
	return 1;
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

/* The key line handed to libinih last never reached the handler: libinih
 * found no "=" or ":" in it. */
static void
check_pending(struct loader *ld)
{
	if (ld->pending == PENDING_KEY && !ld->got_key)
		fail(ld, cur_file(ld), ld->line, "syntax error: \"%s\" is not "
		    "\"key = value\", a [section] or a comment", ld->text);
	ld->pending = PENDING_NONE;
}

/* Hands libinih a line of our own. */
static char *
give(struct loader *ld, char *str, const char *line)
{
	memcpy(str, line, strlen(line) + 1);
	map_line(ld);
	return str;
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
	if (num < (int)sizeof(RESET)) {
		fail(ld, cur_file(ld), 0, "libinih's line buffer is too small");
		return NULL;
	}
	if (ld->pending == PENDING_RESET) {
		/* The header itself, after RESET. */
		ld->pending = PENDING_NONE;
		ld->probe_next = true;
		len = strlen(ld->text);
		memcpy(str, ld->text, len);
		memcpy(str + len, "\n", 2);
		map_line(ld);
		return str;
	}
	check_pending(ld);
	if (ld->probe_next) {
		ld->probe_next = false;
		ld->probing = true;
		return give(ld, str, PROBE);
	}
	n = getline(&ld->buf, &ld->bufcap, ld->f);
	if (n == -1) {
		if (ferror(ld->f))
			fail(ld, cur_file(ld), 0, "read error: %s",
			    strerror(errno));
		return NULL;
	}
	ld->line++;
	ld->text = "";
	if (n > 0 && ld->buf[n - 1] == '\n')
		ld->buf[--n] = '\0';
	if (memchr(ld->buf, '\0', n) != NULL) {
		fail(ld, cur_file(ld), ld->line, "syntax error: NUL byte");
		return give(ld, str, "\n");
	}
	/* Values end up in status, events and the log: text only. */
	if (!utf8_valid(ld->buf, (size_t)n)) {
		fail(ld, cur_file(ld), ld->line, "not valid UTF-8 (the file "
		    "must be UTF-8 text)");
		return give(ld, str, "\n");
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
		return give(ld, str, "\n");
	}
	ld->text = s;
	if (s[0] == '[') {
		/* RESET first; the header comes on the next call. */
		ld->pending = PENDING_RESET;
		return give(ld, str, RESET);
	}
	if (s[0] != '\0' && s[0] != ';' && s[0] != '#') {
		ld->pending = PENDING_KEY;
		ld->got_key = false;
	}
	memcpy(str, s, len);
	memcpy(str + len, "\n", 2);
	map_line(ld);
	return str;
}

/* libinih's options, set once for the process before its first parse
 * (Debian's libinih has them as globals; see
 * ../shared/reference/debian-libinih.md): "#" and ";" after a blank start a
 * comment at the end of a line, as in most INI dialects. */
static void
ini_options(void)
{
	static char inline_prefixes[] = ";#";
	static bool done;

	if (done)
		return;
	done = true;
	ini_allow_inline_comments = true;
	ini_inline_comment_prefixes = inline_prefixes;
}

/* Reads one file; false when it cannot be opened. */
static bool
load_file(struct loader *ld, const char *path)
{
	int rc;

	ld->files = xgrow(ld->files, &ld->filescap, ld->nfiles + 1,
	    sizeof(*ld->files));
	ld->files[ld->nfiles++] = xstrdup(path);
	ld->file_errors = 0;
	ld->f = fopen(path, "re");
	if (ld->f == NULL) {
		fail(ld, cur_file(ld), 0, "cannot open: %s", strerror(errno));
		return false;
	}
	ld->line = 0;
	ld->iniline = 0;
	ld->text = "";
	ld->pending = PENDING_NONE;
	ld->probe_next = ld->probing = ld->skip = false;
	ld->section = SECT_NONE;
	rc = ini_parse_stream(ini_read_cb, ld, ini_key_cb, ld);
	check_pending(ld);
	/* libinih returns the first line it refused; the reader has
	 * reported each of them already, so this only guards against a
	 * libinih that refuses more than it does today. */
	if (rc > 0 && ld->file_errors == 0)
		fail(ld, cur_file(ld), ld->linemap[rc], "syntax error");
	else if (rc < 0)
		fail(ld, cur_file(ld), 0, "cannot parse (libinih error %d)",
		    rc);
	fclose(ld->f);
	ld->f = NULL;
	return true;
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
static void
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
		return;
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
}

static void
finish(struct loader *ld)
{
	struct config *c = ld->c;
	struct loc at;
	size_t i, k;

	for (i = 0; i < c->nclusters; i++) {
		for (k = 0; k < CONFIG_NKEYS; k++)
			if (config_keys[k].section == SECT_CLUSTER &&
			    ld->origins[i].keys[k].line == 0)
				config_key_copy(&config_keys[k],
				    &c->clusters[i], &c->defaults);
		check_cluster(ld, i);
	}
	c->key_at = xcalloc(CONFIG_NKEYS, sizeof(*c->key_at));
	for (k = 0; k < CONFIG_NKEYS; k++) {
		at = ld->globals.keys[k];
		if (at.line > 0)
			c->key_at[k] = utf8_asprintf("%s:%d",
			    ld->files[at.file], at.line);
	}
}

int
config_load_partial(const char *path, struct config **out, char *err,
    size_t errlen)
{
	struct loader ld = { .errs = STRBUF_INIT };
	char *dir = NULL, **dropins = NULL, why[512];
	size_t ndropins = 0, i;
	int rc = -1;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	ini_options();
	ld.c = config_new(path);
	*out = NULL;
	if (!load_file(&ld, path))
		goto out;
	dir = config_dropin_dir(path);
	if (config_list_dropins(dir, &dropins, &ndropins, why,
	    sizeof(why)) == -1)
		fail_path(&ld, dir, "%s", why);
	else
		for (i = 0; i < ndropins; i++)
			load_file(&ld, dropins[i]);
	finish(&ld);
	*out = ld.c;
	ld.c = NULL;
	rc = ld.nerrs > 0 ? -1 : 0;
out:
	if (ld.nerrs > 0 && err != NULL && errlen > 0)
		utf8_snprintf(err, errlen, "%s", strbuf_str(&ld.errs));
	config_free(ld.c);
	config_free_list(dropins, ndropins);
	free(dir);
	config_free_list(ld.files, ld.nfiles);
	free(ld.origins);
	free(ld.headers);
	free(ld.linemap);
	free(ld.buf);
	strbuf_release(&ld.errs);
	return rc;
}

const char *
config_where(const struct config *c, const char *key)
{
	size_t i;

	if (c->key_at == NULL)
		return NULL;
	for (i = 0; i < CONFIG_NKEYS; i++)
		if (config_keys[i].section != SECT_CLUSTER &&
		    strcmp(config_keys[i].name, key) == 0)
			return c->key_at[i];
	return NULL;
}

int
config_load(const char *path, struct config **out, char *err,
    size_t errlen)
{
	struct config *c;

	if (config_load_partial(path, &c, err, errlen) != 0) {
		config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}
