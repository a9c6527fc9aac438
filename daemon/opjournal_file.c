/*
 * The crash record's file, STATE_DIR/op-CLUSTER.json, replaced whole and
 * durably through statefile.h.
 */
#include "daemon/opjournal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/statefile.h"

/* The file's name in the state directory. */
static char *
file_name(const char *cluster)
{
	return xasprintf("op-%s.json", cluster);
}

char *
opjournal_path(const char *dir, const char *cluster)
{
	return xasprintf("%s/op-%s.json", dir, cluster);
}

int
opjournal_save(const char *dir, const struct opjournal *j, char *err,
    size_t errlen)
{
	char *name = file_name(j->cluster), *text = opjournal_dump(j);
	int rc = statefile_write(dir, name, text, strlen(text), err, errlen);

	free(text);
	free(name);
	return rc;
}

int
opjournal_load(const char *dir, const char *cluster, struct opjournal *j,
    char *err, size_t errlen)
{
	char *name = file_name(cluster), *buf = NULL, why[512];
	size_t len;
	int rc;

	opjournal_init(j);
	rc = statefile_read(dir, name, OPJOURNAL_MAX_FILE, &buf, &len, err,
	    errlen);
	if (rc == 1 && opjournal_parse(buf, len, j, why, sizeof(why)) != 0) {
		utf8_snprintf(err, errlen, "%s/%s: %s", dir, name, why);
		rc = -1;
	} else if (rc == 1 && strcmp(j->cluster, cluster) != 0) {
		utf8_snprintf(err, errlen, "%s/%s is the record of cluster %s",
		    dir, name, j->cluster);
		opjournal_release(j);
		rc = -1;
	}
	free(buf);
	free(name);
	return rc;
}

bool
opjournal_exists(const char *dir, const char *cluster)
{
	char *path = opjournal_path(dir, cluster);
	bool yes = access(path, F_OK) == 0;

	free(path);
	return yes;
}

int
opjournal_remove(const char *dir, const char *cluster, char *err,
    size_t errlen)
{
	char *name = file_name(cluster);
	int rc = statefile_remove(dir, name, err, errlen);

	free(name);
	return rc;
}

int
opjournal_set_aside(const char *dir, const char *cluster, char *err,
    size_t errlen)
{
	char *name = file_name(cluster);
	int rc = statefile_set_aside(dir, name, err, errlen);

	free(name);
	return rc;
}
