/*
 * Wall-clock helpers.  Times are milliseconds since the Unix epoch (UTC) in
 * an int64_t throughout the project; parsing and formatting are pure.
 */
#ifndef EC2M_TIMEUTIL_H
#define EC2M_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* The current wall-clock time (CLOCK_REALTIME). */
int64_t time_now_ms(void);

/* Parses an ISO 8601 date-time as EC2, IMDS and Opencast write them:
 * "2024-01-15T08:02:11.000Z", "2024-01-15T15:21:07Z",
 * "2024-06-10T08:13:20.123+02:00".  Returns 0, or -1 if s is not one. */
int time_parse_iso8601(const char *s, int64_t *ms);

#define TIME_ISO8601_LEN 25	/* "2026-11-26T05:04:51Z" + NUL, with room */
/* "2026-11-26T05:04:51Z" (seconds precision, UTC). */
void time_format_iso8601(int64_t ms, char buf[TIME_ISO8601_LEN]);

#define TIME_AMZ_LEN 17		/* "20240115T093000Z" + NUL */
void time_format_amz(int64_t ms, char buf[TIME_AMZ_LEN]);

/* Writes a duration the way the configuration spells it: "5m", "50m",
 * "1h30m", "1m30s", "200ms", "0s". */
void time_format_duration(int64_t ms, char *buf, size_t len);

#endif
