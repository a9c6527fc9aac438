#include "common/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t
time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly n digits; returns -1 if any is not a digit. */
static int
digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return v;
}

static int
expect(const char **p, char c)
{
	if (**p != c)
		return -1;
	(*p)++;
	return 0;
}

int
time_parse_iso8601(const char *s, int64_t *ms)
{
	const char *p = s;
	struct tm tm = { 0 };
	int year, mon, day, hour, min, sec, frac_ms = 0, off_min = 0;
	time_t t;

	if (s == NULL)
		return -1;
	if ((year = digits(&p, 4)) < 0 || expect(&p, '-') ||
	    (mon = digits(&p, 2)) < 1 || mon > 12 || expect(&p, '-') ||
	    (day = digits(&p, 2)) < 1 || day > 31 ||
	    (*p != 'T' && *p != 't' && *p != ' '))
		return -1;
	p++;
	if ((hour = digits(&p, 2)) < 0 || hour > 23 || expect(&p, ':') ||
	    (min = digits(&p, 2)) < 0 || min > 59 || expect(&p, ':') ||
	    (sec = digits(&p, 2)) < 0 || sec > 60)
		return -1;
	if (*p == '.') {
		int scale = 100, n = 0;

		p++;
		while (isdigit((unsigned char)*p)) {
			frac_ms += (*p - '0') * scale;
			scale /= 10;
			p++;
			n++;
		}
		if (n == 0)
			return -1;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;

		p++;
		if ((oh = digits(&p, 2)) < 0 || oh > 23)
			return -1;
		if (*p == ':')
			p++;
		if ((om = digits(&p, 2)) < 0 || om > 59)
			return -1;
		off_min = sign * (oh * 60 + om);
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 && !(year == 1969))
		return -1;
	*ms = ((int64_t)t - (int64_t)off_min * 60) * 1000 + frac_ms;
	return 0;
}

static void format_tm(int64_t ms, const char *fmt, char *buf, size_t len)
    __attribute__((format(strftime, 2, 0)));

static void
format_tm(int64_t ms, const char *fmt, char *buf, size_t len)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, fmt, &tm);
}

void
time_format_iso8601(int64_t ms, char buf[TIME_ISO8601_LEN])
{
	format_tm(ms, "%Y-%m-%dT%H:%M:%SZ", buf, TIME_ISO8601_LEN);
}

void
time_format_amz(int64_t ms, char buf[TIME_AMZ_LEN])
{
	format_tm(ms, "%Y%m%dT%H%M%SZ", buf, TIME_AMZ_LEN);
}

/* Writes a duration the way the configuration spells it: "5m", "50m",
 * "1h30m", "1m30s", "0s"; milliseconds only when there are any. */
void
time_format_duration(int64_t ms, char *buf, size_t len)
{
	static const struct {
		int64_t ms;
		const char *unit;
	} units[] = {
		{ 3600000, "h" }, { 60000, "m" }, { 1000, "s" }, { 1, "ms" },
	};
	size_t off = 0;

	buf[0] = '\0';
	if (ms <= 0) {
		snprintf(buf, len, "0s"); /* not text */
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++) {
		int64_t n = ms / units[i].ms;
		int w;

		if (n == 0)
			continue;
		ms -= n * units[i].ms;
		/* not text */
		w = snprintf(buf + off, len - off, "%lld%s", (long long)n,
		    units[i].unit);
		if (w < 0 || (size_t)w >= len - off)
			return;
		off += (size_t)w;
	}
}
