/*
 * What the configuration loader says besides "wrong": the closest key or
 * section for a misspelt one, the section a key belongs in, the job types
 * that the old tool's operation ids stand for; and which files are the
 * drop-ins (config_keys.h).  Pure but for reading a directory.
 */
#include "daemon/config_keys.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/strbuf.h"
#include "common/utf8.h"
#include "common/xalloc.h"

/*
 * Suggestions and the old tool's operation ids.
 */

size_t
config_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d, best;
	size_t *prev2, *prev, *cur, *t;

	prev2 = xcalloc(lb + 1, sizeof(*prev2));
	prev = xcalloc(lb + 1, sizeof(*prev));
	cur = xcalloc(lb + 1, sizeof(*cur));
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			d = a[i - 1] == b[j - 1] ? 0 : 1;
			best = prev[j - 1] + d;
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	d = prev[lb];
	free(prev2);
	free(prev);
	free(cur);
	return d;
}

const char *
config_suggest(const char *word, const char *const *words)
{
	const char *best = NULL;
	size_t i, d, bestd = SIZE_MAX, limit;

	/* One edit in a short word, up to a third of a long one: enough for
	 * a typo, not so much that any word is "close". */
	limit = strlen(word) / 3;
	if (limit < 1)
		limit = 1;
	for (i = 0; words[i] != NULL; i++) {
		/* A difference of case alone is always a likely typo. */
		if (strcmp(word, words[i]) == 0)
			d = 0;
		else if (strcasecmp(word, words[i]) == 0)
			d = 1;
		else
			d = config_edit_distance(word, words[i]);
		if (d < bestd) {
			bestd = d;
			best = words[i];
		}
	}
	return bestd <= limit && bestd > 0 ? best : NULL;
}

/*
 * Opencast's workflow operations that create the heavy jobs, by id, with
 * the job type of the service that runs those jobs (the JOB_TYPE of
 * ComposerService, VideoEditorService, MediaInspectionService,
 * VideoSegmenterService, SilenceDetectionService, WaveformService,
 * SoxService and TextAnalyzerService).
 */
static const struct {
	const char	*op;
	const char	*type;
} operation_services[] = {
	{ "compose", "org.opencastproject.composer" },
	{ "encode", "org.opencastproject.composer" },
	{ "multiencode", "org.opencastproject.composer" },
	{ "image", "org.opencastproject.composer" },
	{ "image-to-video", "org.opencastproject.composer" },
	{ "prepare-av", "org.opencastproject.composer" },
	{ "concat", "org.opencastproject.composer" },
	{ "composite", "org.opencastproject.composer" },
	{ "demux", "org.opencastproject.composer" },
	{ "process-smil", "org.opencastproject.composer" },
	{ "editor", "org.opencastproject.videoeditor" },
	{ "inspect", "org.opencastproject.inspection" },
	{ "video-segment", "org.opencastproject.videosegmenter" },
	{ "segment-video", "org.opencastproject.videosegmenter" },
	{ "silence", "org.opencastproject.silencedetection" },
	{ "waveform", "org.opencastproject.waveform" },
	{ "analyze-audio", "org.opencastproject.sox" },
	{ "normalize-audio", "org.opencastproject.sox" },
	{ "extract-text", "org.opencastproject.textanalyzer" },
};

const char *
config_operation_service(const char *op)
{
	size_t i;

	for (i = 0; i < sizeof(operation_services) /
	    sizeof(operation_services[0]); i++)
		if (strcmp(op, operation_services[i].op) == 0)
			return operation_services[i].type;
	return NULL;
}

/* The section names for a suggestion, "cluster" among them. */
static const char *const *
section_words(void)
{
	static const char *words[16];
	size_t i;

	if (words[0] == NULL) {
		for (i = 0; config_section_names[i].name != NULL &&
		    i + 2 < sizeof(words) / sizeof(words[0]); i++)
			words[i] = config_section_names[i].name;
		words[i] = "cluster";
	}
	return words;
}

/* "in [daemon]" for a key of another section, or "" for none. */
static void
other_section(enum section ks, const char *name, char *buf, size_t len)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (config_keys[i].section == ks ||
		    strcmp(config_keys[i].name, name) != 0)
			continue;
		if (config_keys[i].section == SECT_CLUSTER) {
			utf8_snprintf(buf, len, "; it belongs in [defaults] "
			    "or [cluster NAME]");
			return;
		}
		for (size_t j = 0; config_section_names[j].name; j++)
			if (config_section_names[j].section ==
			    config_keys[i].section)
				utf8_snprintf(buf, len, "; it belongs in [%s]",
				    config_section_names[j].name);
		return;
	}
}


void
config_hint_section(const char *hdr, size_t typelen, const char *name,
    char *buf, size_t len)
{
	const char *hint;
	char type[32];

	utf8_snprintf(type, sizeof(type), "%.*s", (int)typelen, hdr);
	hint = config_suggest(type, section_words());
	if (hint != NULL && strcmp(hint, "cluster") == 0)
		utf8_snprintf(buf, len, "; did you mean [cluster %s]?",
		    *name ? name : "NAME");
	else if (hint != NULL)
		utf8_snprintf(buf, len, "; did you mean [%s]?", hint);
	else
		buf[0] = '\0';
}

void
config_hint_key(enum section ks, const char *name, char *buf, size_t len)
{
	const char *words[CONFIG_NKEYS + 1], *hint;
	size_t i, n = 0;

	other_section(ks, name, buf, len);
	if (buf[0] != '\0')
		return;
	for (i = 0; i < CONFIG_NKEYS; i++)
		if (config_keys[i].section == ks)
			words[n++] = config_keys[i].name;
	words[n] = NULL;
	hint = config_suggest(name, words);
	if (hint != NULL)
		utf8_snprintf(buf, len, "; did you mean %s?", hint);
}

/*
 * Workflow operation ids in high_load_services: the tool this replaces
 * took them (MAJOR_LOAD_OPERATION_TYPES), this one wants the job types
 * that Opencast's services report.  No job ever has an operation id as its
 * type, so such a list would never let the autoscaler scale up: an error,
 * with the list as it should be.
 */
char *
config_hint_services(const struct cluster_config *cc)
{
	struct strbuf ids = STRBUF_INIT, fixed = STRBUF_INIT;
	const char *type;
	char *msg = NULL;
	size_t i, j;

	for (i = 0; i < cc->n_high_load_services; i++) {
		const char *w = cc->high_load_services[i];

		type = config_operation_service(w);
		if (type != NULL)
			strbuf_printf(&ids, "%s%s means %s", ids.len ? ", " :
			    "", w, type);
		else
			type = w;
		/* Each type once in the suggestion. */
		for (j = 0; j < i; j++) {
			const char *p = cc->high_load_services[j];
			const char *t = config_operation_service(p);

			if (strcmp(t ? t : p, type) == 0)
				break;
		}
		if (j == i)
			strbuf_printf(&fixed, " %s", type);
	}
	if (ids.len > 0)
		msg = utf8_asprintf("high_load_services lists workflow "
		    "operation ids (the old MAJOR_LOAD_OPERATION_TYPES), not "
		    "job types: %s; write high_load_services =%s",
		    strbuf_str(&ids), strbuf_str(&fixed));
	strbuf_release(&ids);
	strbuf_release(&fixed);
	return msg;
}

/*
 * The drop-ins.
 */

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
int
config_list_dropins(const char *dir, char ***out, size_t *nout, char *err,
    size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int saved;

	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		utf8_snprintf(err, errlen, "cannot open: %s", strerror(errno));
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
		utf8_snprintf(err, errlen, "cannot read: %s", strerror(saved));
		config_free_list(names, n);
		return -1;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_strings);
	*out = names;
	*nout = n;
	return 0;
}

char *
config_dropin_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup("conf.d");
	if (slash == path)
		return xstrdup("/conf.d");
	return xasprintf("%.*s/conf.d", (int)(slash - path), path);
}
