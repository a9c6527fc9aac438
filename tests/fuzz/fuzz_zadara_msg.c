/*
 * Zadara portal answers (daemon/zadara_msg.c).  Every input is read the
 * three ways the Zadara client reads a body: as a VPSA, as the answer to
 * hibernate or restore, and as an error body.
 *
 * Checked: no crash, no leak; what a successful parse returns keeps the
 * promises of zadara_msg.h; every text that reaches status or a reply (the
 * VPSA's id, name and status, the portal's message, every error) is valid
 * UTF-8, at the daemon's buffer sizes and at a small one that cuts it.
 */
#include <string.h>

#include "daemon/zadara_msg.h"
#include "tests/fuzz/fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
check_error(const char *what, const struct zadara_error *err)
{
	FUZZ_CHECK(err->kind != ZADARA_ERR_NONE, "%s failed without a kind",
	    what);
	FUZZ_CHECK(err->message[0] != '\0', "%s failed without a message",
	    what);
	fuzz_check_utf8("Zadara error", err->message);
}

static void
fuzz_vpsa(const char *json, size_t len)
{
	struct zadara_vpsa vpsa;
	struct zadara_error err = { 0 };

	if (zadara_parse_vpsa(json, len, &vpsa, &err) != 0) {
		FUZZ_CHECK(err.kind == ZADARA_ERR_PARSE, "VPSA answer failed "
		    "with kind %d", (int)err.kind);
		check_error("VPSA answer", &err);
		return;
	}
	FUZZ_CHECK(vpsa.status[0] != '\0', "a VPSA without a status");
	FUZZ_CHECK(vpsa.state == zadara_state_of(vpsa.status),
	    "state %d for status %s", (int)vpsa.state, vpsa.status);
	fuzz_check_utf8("VPSA id", vpsa.id);
	fuzz_check_utf8("VPSA name", vpsa.name);
	fuzz_check_utf8("VPSA status", vpsa.status);
}

static void
fuzz_action(const char *json, size_t len)
{
	char msg[160], small[23];	/* 160 as in zadara.c */
	struct zadara_error err = { 0 };

	if (zadara_parse_action(json, len, msg, sizeof(msg), &err) != 0) {
		FUZZ_CHECK(err.kind == ZADARA_ERR_PARSE ||
		    err.kind == ZADARA_ERR_REFUSED, "action answer failed "
		    "with kind %d", (int)err.kind);
		check_error("action answer", &err);
	}
	fuzz_check_utf8("action message", msg);

	memset(&err, 0, sizeof(err));
	if (zadara_parse_action(json, len, small, sizeof(small), &err) != 0)
		check_error("action answer (small buffer)", &err);
	fuzz_check_utf8("action message (small buffer)", small);
}

static void
fuzz_error_body(const char *json, size_t len)
{
	char buf[256], small[23];	/* 256 as in zadara.c */

	if (zadara_error_body(json, len, buf, sizeof(buf)))
		FUZZ_CHECK(buf[0] != '\0', "an error message found empty");
	fuzz_check_utf8("error body", buf);
	zadara_error_body(json, len, small, sizeof(small));
	fuzz_check_utf8("error body (small buffer)", small);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *json = (const char *)data;

	fuzz_vpsa(json, size);
	fuzz_action(json, size);
	fuzz_error_body(json, size);
	return 0;
}
