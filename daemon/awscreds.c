/*
 * The credential chain.  The pure parts (environment, IMDS JSON,
 * freshness) come first; the shared files and the choice of the source are
 * in awscreds_files.c.  The provider below holds the chosen source and,
 * for the instance role, runs the IMDSv2 exchange on the loop:
 * PUT a session token, GET the role name, GET the role's credentials.
 * Callers that ask while a fetch runs wait for it; only one runs at a time.
 */
#include "daemon/awscreds.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <strings.h>

#include <jansson.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/http.h"

#define MIN_MS (60 * 1000)
#define IMDS_TOKEN_TTL_S 21600
#define IMDS_TIMEOUT_MS 2000

void
aws_credentials_clear(struct aws_credentials *c)
{
	free(c->access_key_id);
	free_secret(c->secret_access_key);
	free_secret(c->session_token);
	memset(c, 0, sizeof(*c));
}

bool
aws_credentials_from_env(env_get_fn *env, struct aws_credentials *out)
{
	const char *ak = env("AWS_ACCESS_KEY_ID");
	const char *sk = env("AWS_SECRET_ACCESS_KEY");
	const char *tok = env("AWS_SECURITY_TOKEN");

	if (!ak || !*ak || !sk || !*sk)
		return false;
	if (!tok || !*tok)
		tok = env("AWS_SESSION_TOKEN");
	aws_credentials_clear(out);
	out->access_key_id = xstrdup(ak);
	out->secret_access_key = xstrdup(sk);
	out->session_token = tok && *tok ? xstrdup(tok) : NULL;
	return true;
}

int
aws_imds_parse_credentials(const char *json, size_t len, int64_t now_ms,
    struct aws_credentials *out, char *err, size_t errlen)
{
	const char *code = NULL, *ak = NULL, *sk = NULL, *tok = NULL;
	const char *exp = NULL;
	json_error_t jerr;
	json_t *root;
	int64_t exp_ms;
	int rc = -1;

	root = json_loadb(json, len, 0, &jerr);
	if (root == NULL) {
		utf8_snprintf(err, errlen, "malformed IMDS credentials: %s "
		    "(line %d, column %d)", jerr.text, jerr.line, jerr.column);
		return -1;
	}
	if (json_unpack_ex(root, &jerr, 0, "{s?s, s?s, s?s, s?s, s?s}",
	    "Code", &code, "AccessKeyId", &ak, "SecretAccessKey", &sk,
	    "Token", &tok, "Expiration", &exp) != 0) {
		utf8_snprintf(err, errlen, "malformed IMDS credentials: %s",
		    jerr.text);
		goto out;
	}
	if (code && strcmp(code, "Success") != 0) {
		utf8_snprintf(err, errlen, "IMDS gave no credentials (Code %s)",
		    code);
		goto out;
	}
	if (!ak || !*ak || !sk || !*sk || !tok || !*tok || !exp) {
		utf8_snprintf(err, errlen, "IMDS credentials lack AccessKeyId, "
		    "SecretAccessKey, Token or Expiration");
		goto out;
	}
	if (time_parse_iso8601(exp, &exp_ms) != 0) {
		utf8_snprintf(err, errlen, "IMDS credentials have a bad "
		    "Expiration \"%s\"", exp);
		goto out;
	}
	aws_credentials_clear(out);
	out->access_key_id = xstrdup(ak);
	out->secret_access_key = xstrdup(sk);
	out->session_token = xstrdup(tok);
	out->obtained_ms = now_ms;
	out->expiration_ms = exp_ms;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

enum aws_creds_freshness
aws_creds_freshness(const struct aws_credentials *c, int64_t now_ms)
{
	int64_t life, advisory, mandatory;

	if (c->access_key_id == NULL)
		return AWS_CREDS_EXPIRED;
	if (c->expiration_ms == 0)
		return AWS_CREDS_FRESH;
	if (now_ms >= c->expiration_ms)
		return AWS_CREDS_EXPIRED;
	life = c->expiration_ms - c->obtained_ms;
	if (life < 0)
		life = 0;
	advisory = life / 2 < 15 * MIN_MS ? life / 2 : 15 * MIN_MS;
	mandatory = life / 4 < 10 * MIN_MS ? life / 4 : 10 * MIN_MS;
	if (now_ms >= c->expiration_ms - mandatory)
		return AWS_CREDS_MANDATORY;
	if (now_ms >= c->expiration_ms - advisory)
		return AWS_CREDS_ADVISORY;
	return AWS_CREDS_FRESH;
}

/* The provider. */

enum imds_step { IMDS_IDLE, IMDS_TOKEN, IMDS_ROLE, IMDS_CREDS };

struct aws_creds_wait {
	struct aws_creds_provider *p;
	aws_creds_fn *cb;
	void	*arg;
	unsigned gen;		/* the provider's gen when it began waiting */
	TAILQ_ENTRY(aws_creds_wait) link;
};

struct aws_creds_provider {
	uv_loop_t *loop;
	struct http_client *http;
	const char *source;
	char	*describe;
	char	*profile_region;
	struct aws_credentials creds;

	/* Instance role only. */
	bool	 imds;
	char	*imds_endpoint;
	char	*looked;	/* where keys were looked for before it */
	bool	 fetched;	/* the role gave credentials once */
	char	*imds_token;
	int64_t	 imds_token_expiry_ms;
	char	*role;
	enum imds_step step;
	bool	 token_retried;
	struct http_call *call;
	/* Callers waiting for a fetch, oldest first.  A fetch that ends
	 * answers those of the gen it began with; one that queues meanwhile
	 * waits for the next. */
	TAILQ_HEAD(aws_creds_waits, aws_creds_wait) waiters;
	unsigned gen;
};

struct aws_creds_provider *
aws_creds_provider_new(uv_loop_t *loop, struct http_client *http,
    const struct aws_creds_settings *s, char *err, size_t errlen)
{
	struct aws_creds_provider *p;
	struct aws_resolution res;
	char desc[512];

	if (aws_resolve_credentials(s, &res, err, errlen) != 0) {
		aws_resolution_clear(&res);
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	TAILQ_INIT(&p->waiters);
	p->loop = loop;
	p->http = http;
	p->profile_region = res.region;
	res.region = NULL;
	aws_resolution_describe(&res, desc, sizeof(desc));
	p->describe = xstrdup(desc);
	switch (res.kind) {
	case AWS_CREDS_ENV:
		p->source = "environment";
		break;
	case AWS_CREDS_CREDENTIALS_FILE:
	case AWS_CREDS_CONFIG_FILE:
		p->source = "shared-files";
		break;
	case AWS_CREDS_BOTO:
		p->source = "boto-config";
		break;
	case AWS_CREDS_IMDS:
	case AWS_CREDS_NONE:
		p->source = "instance-role";
		p->imds = true;
		p->imds_endpoint = res.imds_endpoint;
		res.imds_endpoint = NULL;
		p->looked = res.looked;
		res.looked = NULL;
		break;
	}
	p->creds = res.creds;
	memset(&res.creds, 0, sizeof(res.creds));
	aws_resolution_clear(&res);
	return p;
}

const char *
aws_creds_provider_source(const struct aws_creds_provider *p)
{
	return p->source;
}

const char *
aws_creds_provider_describe(const struct aws_creds_provider *p)
{
	return p->describe;
}

const char *
aws_creds_provider_region(const struct aws_creds_provider *p)
{
	return p->profile_region;
}

static void imds_next(struct aws_creds_provider *p);

/* Answers every waiter queued before now, in order; a callback may queue
 * a new waiter, which then waits for the next fetch, or cancel another
 * waiter, which is then not answered. */
static void
waiters_finish(struct aws_creds_provider *p, const char *error)
{
	unsigned gen = p->gen++;
	struct aws_creds_wait *w;

	while ((w = TAILQ_FIRST(&p->waiters)) != NULL && w->gen == gen) {
		TAILQ_REMOVE(&p->waiters, w, link);
		if (error)
			w->cb(w->arg, NULL, error);
		else
			w->cb(w->arg, &p->creds, NULL);
		free(w);
	}
}

static void
imds_fail(struct aws_creds_provider *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
imds_fail(struct aws_creds_provider *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	utf8_vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->step = IMDS_IDLE;
	p->call = NULL;
	/* Static stability: keep serving credentials that have not expired
	 * yet when a refresh fails. */
	if (aws_creds_freshness(&p->creds, time_now_ms()) != AWS_CREDS_EXPIRED) {
		log_warnx("refreshing instance-role credentials failed, "
		    "using the current ones until they expire: %s", msg);
		waiters_finish(p, NULL);
		return;
	}
	if (!p->fetched && p->looked) {
		/* The last resort gave nothing either: say so in those
		 * words, with every place looked at (issue 14). */
		char *all = utf8_asprintf("no AWS credentials found: %s, and "
		    "no instance role: %s", p->looked, msg);

		log_warnx("%s", all);
		waiters_finish(p, all);
		free(all);
		return;
	}
	log_warnx("%s", msg);
	waiters_finish(p, msg);
}

/* Called by the HTTP client when an IMDS call ends. */
static void
on_imds_done(void *arg, const struct http_response *r)
{
	struct aws_creds_provider *p = arg;
	char err[256];

	p->call = NULL;
	if (!r->ok) {
		imds_fail(p, "instance metadata service unreachable at %s: %s",
		    p->imds_endpoint, r->error);
		return;
	}
	if (r->status == 401 && p->step != IMDS_TOKEN && !p->token_retried) {
		/* Token expired or revoked: get a new one, once. */
		p->token_retried = true;
		free(p->imds_token);
		p->imds_token = NULL;
		p->step = IMDS_IDLE;
		imds_next(p);
		return;
	}
	if (r->status != 200) {
		imds_fail(p, "the instance metadata service at %s answered "
		    "HTTP %ld to the %s request", p->imds_endpoint, r->status,
		    p->step == IMDS_TOKEN ?
		    "token" : p->step == IMDS_ROLE ? "role" : "credentials");
		return;
	}
	switch (p->step) {
	case IMDS_TOKEN:
		free(p->imds_token);
		p->imds_token = xstrndup(r->body, r->body_len);
		p->imds_token[strcspn(p->imds_token, "\r\n")] = '\0';
		p->imds_token_expiry_ms = time_now_ms() +
		    (int64_t)(IMDS_TOKEN_TTL_S - 60) * 1000;
		break;
	case IMDS_ROLE:
		free(p->role);
		p->role = xstrndup(r->body, r->body_len);
		p->role[strcspn(p->role, "\r\n")] = '\0';
		if (p->role[0] == '\0') {
			free(p->role);
			p->role = NULL;
			imds_fail(p, "no IAM role is attached to this "
			    "instance");
			return;
		}
		break;
	case IMDS_CREDS:
		if (aws_imds_parse_credentials(r->body, r->body_len,
		    time_now_ms(), &p->creds, err, sizeof(err)) != 0) {
			imds_fail(p, "%s", err);
			return;
		}
		log_info("fetched instance-role credentials for role %s, "
		    "valid until %lld", p->role,
		    (long long)(p->creds.expiration_ms / 1000));
		p->step = IMDS_IDLE;
		p->fetched = true;
		waiters_finish(p, NULL);
		return;
	case IMDS_IDLE:
		return;
	}
	imds_next(p);
}

/* Starts the next IMDS request of the exchange. */
static void
imds_next(struct aws_creds_provider *p)
{
	struct http_request req = { 0 };
	char url[512], hdr[4096];
	const char *headers[2] = { hdr, NULL };

	if (p->imds_token == NULL || time_now_ms() >= p->imds_token_expiry_ms) {
		p->step = IMDS_TOKEN;
		snprintf(url, sizeof(url), "%s/latest/api/token", /* not text */
		    p->imds_endpoint);
		snprintf(hdr, sizeof(hdr), /* not text */
		    "X-aws-ec2-metadata-token-ttl-seconds: %d",
		    IMDS_TOKEN_TTL_S);
		req.method = "PUT";
	} else {
		p->step = p->role ? IMDS_CREDS : IMDS_ROLE;
		snprintf(url, sizeof(url), /* not text */
		    "%s/latest/meta-data/iam/security-credentials/%s",
		    p->imds_endpoint, p->role ? p->role : "");
		/* not text */
		snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s",
		    p->imds_token);
		req.method = "GET";
	}
	req.url = url;
	req.headers = headers;
	req.connect_timeout_ms = IMDS_TIMEOUT_MS;
	req.timeout_ms = IMDS_TIMEOUT_MS;
	req.max_body = 64 * 1024;
	p->call = http_submit(p->http, &req, on_imds_done, p);
	if (p->call == NULL)
		imds_fail(p, "cannot start an instance metadata request");
}

static void
imds_start(struct aws_creds_provider *p)
{
	if (p->step != IMDS_IDLE)
		return;
	p->token_retried = false;
	imds_next(p);
}

struct aws_creds_wait *
aws_creds_get(struct aws_creds_provider *p, aws_creds_fn *cb, void *arg)
{
	struct aws_creds_wait *w;

	if (!p->imds) {
		cb(arg, &p->creds, NULL);
		return NULL;
	}
	switch (aws_creds_freshness(&p->creds, time_now_ms())) {
	case AWS_CREDS_ADVISORY:
		imds_start(p);
		/* FALLTHROUGH */
	case AWS_CREDS_FRESH:
		cb(arg, &p->creds, NULL);
		return NULL;
	case AWS_CREDS_MANDATORY:
	case AWS_CREDS_EXPIRED:
		break;
	}
	w = xcalloc(1, sizeof(*w));
	w->p = p;
	w->cb = cb;
	w->arg = arg;
	w->gen = p->gen;
	TAILQ_INSERT_TAIL(&p->waiters, w, link);
	imds_start(p);
	return w;
}

void
aws_creds_wait_cancel(struct aws_creds_wait *w)
{
	if (w == NULL)
		return;
	TAILQ_REMOVE(&w->p->waiters, w, link);
	free(w);
}

bool
aws_creds_invalidate(struct aws_creds_provider *p)
{
	if (!p->imds)
		return false;
	aws_credentials_clear(&p->creds);
	return true;
}

void
aws_creds_provider_free(struct aws_creds_provider *p)
{
	if (p == NULL)
		return;
	http_cancel(p->call);
	while (!TAILQ_EMPTY(&p->waiters))
		aws_creds_wait_cancel(TAILQ_FIRST(&p->waiters));
	aws_credentials_clear(&p->creds);
	free(p->profile_region);
	free(p->describe);
	free(p->imds_endpoint);
	free(p->looked);
	free_secret(p->imds_token);
	free(p->role);
	free(p);
}
