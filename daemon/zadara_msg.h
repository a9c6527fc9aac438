/*
 * Zadara provisioning portal answers read into plain C structs: one VPSA
 * (GET /api/vpsas/ID.json), the answer to hibernate and restore, and the
 * message in an error body.  Pure (no I/O, no clock).  The VPSA's status is
 * kept as the portal's text and classified with zadara_state_of(), so an
 * unknown status is reported as it was sent rather than guessed at.
 */
#ifndef EC2M_ZADARA_MSG_H
#define EC2M_ZADARA_MSG_H

#include <stdbool.h>
#include <stddef.h>

enum zadara_err_kind {
	ZADARA_ERR_NONE = 0,
	ZADARA_ERR_AUTH,	/* 401/403: the account token was rejected */
	ZADARA_ERR_UNREACHABLE,	/* no answer: refused, reset, timeout */
	ZADARA_ERR_HTTP,	/* an unexpected HTTP status (5xx...) */
	ZADARA_ERR_PARSE,	/* an answer we cannot read */
	ZADARA_ERR_NOT_FOUND,	/* 404: no such VPSA */
	ZADARA_ERR_REFUSED,	/* 4xx: the portal refused the action */
	ZADARA_ERR_FAILED,	/* the VPSA is in state `failed` */
	ZADARA_ERR_TIMEOUT,	/* gave up waiting for a state */
	ZADARA_ERR_CONFIG,	/* no usable token or VPSA id */
	ZADARA_ERR_CANCELLED,	/* the daemon tore down with the call in flight */
};

struct zadara_error {
	enum zadara_err_kind kind;
	long	 http_status;	/* 0 when there was no answer */
	int	 attempts;
	char	 message[512];
};

void zadara_error_set(struct zadara_error *e, enum zadara_err_kind kind,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *zadara_err_kind_name(enum zadara_err_kind kind);

/* What a status means for the daemon (reference §6). */
enum zadara_state {
	ZADARA_UP,		/* created */
	ZADARA_DOWN,		/* hibernated */
	ZADARA_TRANSITIONAL,	/* hibernate_offlining, hibernating,
				   launching, booting, restoring */
	ZADARA_FAILED,		/* failed */
	ZADARA_UNKNOWN,		/* anything else, or no status */
};

enum zadara_state zadara_state_of(const char *status);
/* "up", "down", "transitional", "failed", "unknown". */
const char *zadara_state_name(enum zadara_state state);

struct zadara_vpsa {
	char	 id[64];	/* as text: 1234 and "1234" alike */
	char	 name[128];	/* "" when the portal did not send one;
				   truncated when longer */
	char	 status[64];
	enum zadara_state state;
};

/* Reads {"vpsa": {...}} (a bare VPSA object is accepted too).  The status
 * is required; a missing id or name is left empty.  Returns 0, or -1 with
 * err (kind ZADARA_ERR_PARSE, saying where). */
int zadara_parse_vpsa(const char *json, size_t len, struct zadara_vpsa *out,
    struct zadara_error *err);

/* Reads the answer to a hibernate or restore POST:
 * {"response": "VPSA restoring."}, or the VPSA API's
 * {"response": {"status": 0, "message": "..."}} where a status other than
 * 0 is a refusal (ZADARA_ERR_REFUSED).  The text (possibly "") goes into
 * msg.  Returns 0, or -1 with err. */
int zadara_parse_action(const char *json, size_t len, char *msg,
    size_t msglen, struct zadara_error *err);

/* Finds the human-readable message in an error answer: {"error": "..."},
 * {"error": {"message": "..."}}, {"errors": ["...", ...]} (joined with
 * "; "), {"message": "..."} or {"response": {"message": "..."}}.  Control
 * characters become spaces and long texts are cut.  Returns true when a
 * message was found. */
bool zadara_error_body(const char *json, size_t len, char *buf,
    size_t buflen);

#endif
