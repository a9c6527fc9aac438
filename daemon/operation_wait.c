/*
 * The pure half of operations: wait predicates over the cluster model and
 * the small choices the machines make from it (which nodes still need a
 * maintenance switch, which Opencast nodes run), plus the backoff of
 * retried restores.  Everything here takes its inputs as arguments, so
 * tests/unit/test_operation_wait.c checks it on hand-built models.
 */
#include "daemon/operation_wait.h"

#include <string.h>

#include "common/utf8.h"

const struct model_member *
op_member(const struct model *md, const char *id)
{
	for (size_t i = 0; i < md->n; i++)
		if (strcmp(md->m[i].inst->id, id) == 0)
			return &md->m[i];
	return NULL;
}

/* Appends text to why without overflowing it, cut at a character. */
static void
why_append(char *why, size_t len, const char *text)
{
	size_t used = strlen(why);

	if (used + 1 < len)
		utf8_snprintf(why + used, len - used, "%s", text);
}

static bool
ids_in_state(const struct model *md, const struct strv *ids,
    enum ec2_state want, char *why, size_t len)
{
	size_t ready = 0;
	char buf[128];

	for (size_t i = 0; i < ids->n; i++) {
		const struct model_member *m = op_member(md, ids->v[i]);

		if (m && m->inst->state == want) {
			ready++;
			continue;
		}
		if (why[0] == '\0')
			utf8_snprintf(why, len, "%s is %s", ids->v[i],
			    m ? ec2_state_name(m->inst->state) : "gone");
	}
	if (ready == ids->n)
		return true;
	utf8_snprintf(buf, sizeof(buf), "; %zu of %zu %s", ready, ids->n,
	    ec2_state_name(want));
	why_append(why, len, buf);
	return false;
}

bool
op_wait_running(const struct model *md, const struct strv *ids, char *why,
    size_t len)
{
	return ids_in_state(md, ids, EC2_STATE_RUNNING, why, len);
}

bool
op_wait_stopped(const struct model *md, const struct strv *ids, char *why,
    size_t len)
{
	return ids_in_state(md, ids, EC2_STATE_STOPPED, why, len);
}

bool
op_wait_ready(const struct model *md, const struct strv *ids, char *why,
    size_t len)
{
	size_t ok = 0;

	for (size_t i = 0; i < ids->n; i++) {
		const struct model_member *m = op_member(md, ids->v[i]);

		if (m && m->host && m->host->online && !m->host->maintenance)
			ok++;
		else if (why[0] == '\0')
			utf8_snprintf(why, len, "%s is %s", ids->v[i],
			    m == NULL ? "gone" : m->host == NULL ?
			    "not registered in Opencast yet" :
			    !m->host->online ? "offline in Opencast" :
			    "still in maintenance");
	}
	return ok == ids->n;
}

bool
op_wait_opencast_ready(const struct model *md, const struct strv *ids,
    char *why, size_t len)
{
	(void)ids;
	if (!md->opencast_known) {
		utf8_snprintf(why, len, "Opencast does not answer yet");
		return false;
	}
	for (size_t i = 0; i < md->n; i++) {
		const struct model_member *m = &md->m[i];

		if (model_role_is_opencast(m->role) &&
		    m->inst->state == EC2_STATE_RUNNING && m->host == NULL) {
			utf8_snprintf(why, len, "%s (%s) is not registered in "
			    "Opencast yet", m->inst->name, m->inst->id);
			return false;
		}
	}
	return true;
}

static bool
ids_in_maintenance(const struct model *md, const struct strv *ids, bool on,
    char *why, size_t len)
{
	for (size_t i = 0; i < ids->n; i++) {
		const struct model_member *m = op_member(md, ids->v[i]);

		if (m && m->host && m->host->maintenance != on) {
			utf8_snprintf(why, len, "%s is still %s maintenance",
			    m->host->base_url, on ? "out of" : "in");
			return false;
		}
	}
	return true;
}

bool
op_wait_maint_on(const struct model *md, const struct strv *ids, char *why,
    size_t len)
{
	return ids_in_maintenance(md, ids, true, why, len);
}

bool
op_wait_maint_off(const struct model *md, const struct strv *ids, char *why,
    size_t len)
{
	return ids_in_maintenance(md, ids, false, why, len);
}

bool
op_wait_workers_idle(const struct model *md, const struct strv *ids,
    char *why, size_t len)
{
	int busy = 0, jobs = 0;

	(void)ids;
	if (!md->opencast_known) {
		utf8_snprintf(why, len, "Opencast cannot be read");
		return false;
	}
	for (size_t i = 0; i < md->n; i++) {
		const struct model_member *m = &md->m[i];

		if (m->role == ROLE_WORKER && m->running_jobs > 0) {
			busy++;
			jobs += m->running_jobs;
		}
	}
	if (busy == 0)
		return true;
	utf8_snprintf(why, len, "%d worker%s still run%s %d job%s", busy,
	    busy == 1 ? "" : "s", busy == 1 ? "s" : "", jobs,
	    jobs == 1 ? "" : "s");
	return false;
}

void
op_pairs_needing(const struct model *md, const struct strv *ids, bool want,
    struct strv *hosts, struct strv *host_ids)
{
	for (size_t i = 0; i < ids->n; i++) {
		const struct model_member *m = op_member(md, ids->v[i]);

		if (m && m->host && m->inst->state == EC2_STATE_RUNNING &&
		    m->host->maintenance != want) {
			strv_add(hosts, m->host->base_url);
			strv_add(host_ids, m->inst->id);
		}
	}
}

void
op_running_opencast(const struct model *md, struct strv *ids)
{
	for (size_t i = 0; i < md->n; i++)
		if (model_role_is_opencast(md->m[i].role) &&
		    md->m[i].inst->state == EC2_STATE_RUNNING)
			strv_add(ids, md->m[i].inst->id);
}

uint64_t
op_backoff_ms(int attempt, uint64_t base_ms, uint64_t cap_ms, double rand01)
{
	uint64_t d = base_ms, half;

	for (int i = 1; i < attempt && d < cap_ms; i++)
		d = d > cap_ms / 2 ? cap_ms : d * 2;
	if (d > cap_ms)
		d = cap_ms;
	if (rand01 < 0 || rand01 >= 1)
		rand01 = 0;
	half = d / 2;
	d = half + (uint64_t)(rand01 * (double)(d - half));
	return d == 0 && base_ms > 0 ? 1 : d;
}
