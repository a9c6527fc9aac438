/*
 * Control lines: the input is what a client sends on one connection (one
 * or more request lines, or any bytes at all).  It goes through the real
 * socket, framing, request decoding, permission check and dispatch into
 * the command handlers of a daemon core with two clusters
 * (daemon_fixture.c).  Checked: no crash, no leak, every line the daemon
 * writes is valid UTF-8 JSON with an id, and the final replies carry the
 * requests' ids in order.
 */
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/daemon_fixture.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Names that a cut may split: 日 is three bytes. */
	static const char *const names[] = {
		"", "3", "-x\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5",
		"-b", "-\xe6\x97\xa5",
	};
	size_t lens[5];

	(void)argc;
	(void)argv;
	fixture_init();
	for (size_t i = 0; i < 5; i++)
		lens[i] = strlen(names[i]);
	fixture_set_instances(fixture_cluster("dev04"), names, lens, 5, NULL,
	    0);
	fixture_set_instances(fixture_cluster("dev05"), names, lens, 3,
	    "EC2 DescribeInstances failed: HTTP 500", 38);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fixture_exchange((const char *)data, size);
	return 0;
}
