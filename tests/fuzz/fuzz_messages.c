/*
 * The message builders, fed random instance names and random upstream
 * error texts: the input is split at "%%" lines (fuzz.h) into up to four
 * worker name suffixes and, last, the text of the last refresh's failure,
 * all raw bytes.  Then every command that builds text from them runs
 * against the cluster (status, clusters, events, and dry runs of every
 * operation and of an autoscale evaluation, whose refusals and plans name
 * the workers).  Checked as in fuzz_control: every line valid UTF-8 JSON
 * with the request's id, however the names and the text are cut.
 */
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/daemon_fixture.h"
#include "tests/fuzz/fuzz.h"

static const char script[] =
    "{\"v\":1,\"id\":1,\"cmd\":\"status\",\"cluster\":\"dev04\"}\n"
    "{\"v\":1,\"id\":2,\"cmd\":\"clusters\"}\n"
    "{\"v\":1,\"id\":3,\"cmd\":\"stop\",\"cluster\":\"dev04\","
    "\"dry_run\":true}\n"
    "{\"v\":1,\"id\":4,\"cmd\":\"start\",\"cluster\":\"dev04\","
    "\"args\":{\"workers\":2},\"dry_run\":true}\n"
    "{\"v\":1,\"id\":5,\"cmd\":\"scale\",\"cluster\":\"dev04\","
    "\"args\":{\"direction\":\"down\",\"workers\":1},\"dry_run\":true,"
    "\"force\":true}\n"
    "{\"v\":1,\"id\":6,\"cmd\":\"scale\",\"cluster\":\"dev04\","
    "\"args\":{\"direction\":\"up\",\"workers\":1},\"dry_run\":true}\n"
    "{\"v\":1,\"id\":7,\"cmd\":\"scale_to\",\"cluster\":\"dev04\","
    "\"args\":{\"workers\":3},\"dry_run\":true,\"force\":true}\n"
    "{\"v\":1,\"id\":8,\"cmd\":\"maintenance\",\"cluster\":\"dev04\","
    "\"args\":{\"mode\":\"on\"},\"dry_run\":true}\n"
    "{\"v\":1,\"id\":9,\"cmd\":\"autoscale\",\"cluster\":\"dev04\","
    "\"dry_run\":true,\"level\":\"debug\"}\n"
    "{\"v\":1,\"id\":10,\"cmd\":\"events\",\"cluster\":\"dev04\","
    "\"args\":{\"n\":50}}\n"
    "{\"v\":1,\"id\":11,\"cmd\":\"explain\",\"cluster\":\"dev04\"}\n"
    "{\"v\":1,\"id\":12,\"cmd\":\"status\",\"cluster\":\"dev04\"}\n";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fixture_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_part parts[5];
	const char *names[4];
	size_t lens[4], n = fuzz_split(data, size, parts, 5), nnames;

	/* One part: a name and no error; more: the last is the error. */
	nnames = n == 1 ? 1 : n - 1;
	for (size_t i = 0; i < nnames; i++) {
		names[i] = (const char *)parts[i].data;
		lens[i] = parts[i].len;
	}
	fixture_set_instances(fixture_cluster("dev04"), names, lens, nnames,
	    n == 1 ? NULL : (const char *)parts[n - 1].data,
	    n == 1 ? 0 : parts[n - 1].len);
	fixture_exchange(script, sizeof(script) - 1);
	return 0;
}
