/*
 * The journald backend of the daemon's log: each message goes to journald
 * with sd_journal_sendv() and the fields that log.c built for it, so
 * that `journalctl -u ec2-managerd EC2M_CLUSTER=dev04` shows one cluster.
 * It lives apart from log.c because it links libsystemd, which ec2ctl has
 * no use for; nothing here decides what is logged or how it reads.
 */
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Else sd_journal_sendv() is a macro that adds CODE_FILE, CODE_LINE and
 * CODE_FUNC of this file, and journald would get them twice. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

static log_journal_send_fn *journal_sender = sd_journal_sendv;

void
log_journal_set_sender(log_journal_send_fn *fn)
{
	journal_sender = fn != NULL ? fn : sd_journal_sendv;
}

/* Called by log.c for each message that passed the level filter, with the
 * fields it built: they go to journald as they are. */
static int
journal_send(const struct log_record *r, const struct log_fields *f)
{
	(void)r;
	return journal_sender(f->iov, (int)f->n) < 0 ? -1 : 0;
}

/* True if $JOURNAL_STREAM ("DEVICE:INODE", set by systemd for a service
 * whose stderr is connected to journald) is our stderr.  A child that
 * inherited the variable but not the stream must not take it as a hint. */
static bool
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int used = 0;

	if (e == NULL || sscanf(e, "%llu:%llu%n", &dev, &ino, &used) != 2 ||
	    e[used] != '\0')
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

bool
log_journal_setup(void)
{
	const char *force = getenv("EC2M_LOG_JOURNAL");
	int saved_errno = errno;
	bool use, is_journal = stderr_is_journal();

	if (force != NULL && *force != '\0')
		use = strcmp(force, "1") == 0 ||
		    strcasecmp(force, "yes") == 0 ||
		    strcasecmp(force, "on") == 0;
	else
		use = is_journal;
	log_set_backend(use ? journal_send : NULL);
	log_set_stderr_priority(is_journal);
	errno = saved_errno;
	return use;
}
