/*
 * What policy.c (seed) and policy_demand.c (demand) share: the wording of
 * a decision's reason, whether an evaluation may run (switches, fresh
 * data), the billing threshold.
 * Pure, like both policies.
 */
#ifndef EC2M_POLICY_INTERNAL_H
#define EC2M_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/policy.h"

/* Appends to the decision's reason; what does not fit is cut off (at a
 * character boundary). */
void policy_reason_add(struct policy_decision *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *policy_plural(int64_t n, const char *one, const char *many);
/* Whether the evaluation can run at all (SPEC §5: switched on, the admin
 * running, Opencast reachable, fresh data, the queued jobs known); if so
 * sets d->ran, else writes why into the reason.  With no fresh data the
 * autoscaler does nothing. */
bool policy_may_run(const struct policy_settings *s,
    const struct policy_input *in, bool queued_known,
    struct policy_decision *d);
/* Sorts candidate indices v[0..n) into w by uptime, longest first; equal
 * uptimes keep their order. */
void policy_sort_by_uptime(const struct policy_worker *w, size_t *v,
    size_t n);
/* Whether stopping a running worker now wastes nothing already paid for
 * (SPEC §5 billing rule); an unknown uptime never is. */
bool policy_past_billing(const struct policy_settings *s,
    const struct policy_worker *w);

#endif
