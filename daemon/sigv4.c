/*
 * SigV4 signing (AWS4-HMAC-SHA256).  Hashing and HMAC come from OpenSSL and
 * percent-encoding from libcurl; this file only arranges the canonical
 * request and the string to sign as the SigV4 specification lays them out.
 * The signed headers are always a subset of content-type, host, x-amz-date
 * and x-amz-security-token, which is what the EC2 Query API needs.
 */
#include "daemon/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "common/xalloc.h"

void
aws_params_add(struct aws_params *p, const char *name, const char *value)
{
	p->v = xgrow(p->v, &p->cap, p->n + 1, sizeof(*p->v));
	p->v[p->n].name = xstrdup(name);
	p->v[p->n].value = xstrdup(value);
	p->n++;
}

void
aws_params_set(struct aws_params *p, const char *name, const char *value)
{
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->v[i].name, name) == 0) {
			free(p->v[i].value);
			p->v[i].value = xstrdup(value);
			return;
		}
	}
	aws_params_add(p, name, value);
}

void
aws_params_free(struct aws_params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].name);
		free(p->v[i].value);
	}
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}

void
aws_uri_encode(struct strbuf *out, const char *s)
{
	/* curl_easy_escape keeps exactly the RFC 3986 unreserved set and
	 * writes upper-case hex, which is the SigV4 rule. */
	char *e = curl_easy_escape(NULL, s, (int)strlen(s));

	if (e == NULL)
		abort();
	strbuf_puts(out, e);
	curl_free(e);
}

struct encoded_pair {
	char	*name;
	char	*value;
};

static int
cmp_pair(const void *a, const void *b)
{
	const struct encoded_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

void
aws_params_encode(const struct aws_params *p, struct strbuf *out)
{
	struct encoded_pair *pairs = xcalloc(p->n, sizeof(*pairs));
	struct strbuf tmp = STRBUF_INIT;

	for (size_t i = 0; i < p->n; i++) {
		strbuf_reset(&tmp);
		aws_uri_encode(&tmp, p->v[i].name);
		pairs[i].name = xstrdup(strbuf_str(&tmp));
		strbuf_reset(&tmp);
		aws_uri_encode(&tmp, p->v[i].value);
		pairs[i].value = xstrdup(strbuf_str(&tmp));
	}
	qsort(pairs, p->n, sizeof(*pairs), cmp_pair);
	for (size_t i = 0; i < p->n; i++) {
		if (i)
			strbuf_putc(out, '&');
		strbuf_printf(out, "%s=%s", pairs[i].name, pairs[i].value);
		free(pairs[i].name);
		free(pairs[i].value);
	}
	free(pairs);
	strbuf_release(&tmp);
}

static void
hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static void
sha256_hex(const void *data, size_t len, char out[SIGV4_HEX_LEN])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
	hex(md, sizeof(md), out);
}

static void
hmac_sha256(const void *key, size_t keylen, const char *msg,
    unsigned char out[SHA256_DIGEST_LENGTH])
{
	unsigned int outlen = SHA256_DIGEST_LENGTH;

	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
	    strlen(msg), out, &outlen);
}

/* Appends "name:value\n" with the value trimmed and inner runs of blanks
 * folded to one space, as the canonical headers block wants. */
static void
canonical_header(struct strbuf *sb, const char *name, const char *value)
{
	bool space = false;

	strbuf_printf(sb, "%s:", name);
	while (*value == ' ' || *value == '\t')
		value++;
	for (; *value; value++) {
		if (*value == ' ' || *value == '\t') {
			space = true;
			continue;
		}
		if (space)
			strbuf_putc(sb, ' ');
		space = false;
		strbuf_putc(sb, *value);
	}
	strbuf_putc(sb, '\n');
}

int
sigv4_sign(const struct sigv4_input *in, struct sigv4_output *out,
    struct strbuf *canonical)
{
	struct strbuf creq = STRBUF_INIT, signed_hdrs = STRBUF_INIT;
	struct strbuf sts = STRBUF_INIT;
	unsigned char k1[SHA256_DIGEST_LENGTH], k2[SHA256_DIGEST_LENGTH];
	unsigned char k3[SHA256_DIGEST_LENGTH], k4[SHA256_DIGEST_LENGTH];
	unsigned char sig[SHA256_DIGEST_LENGTH];
	char creq_hash[SIGV4_HEX_LEN], date[9], *kseed;
	int n, rc = -1;

	if (!in->method || !in->host || !in->path || !in->amz_date ||
	    strlen(in->amz_date) != 16 || !in->region || !in->service ||
	    !in->access_key_id || !in->secret_access_key)
		return -1;
	memcpy(date, in->amz_date, 8);
	date[8] = '\0';

	sha256_hex(in->body ? in->body : "", in->body ? in->body_len : 0,
	    out->payload_hash);

	/* Canonical request: method, URI, query, headers, signed, hash. */
	strbuf_printf(&creq, "%s\n%s\n%s\n", in->method, in->path,
	    in->query ? in->query : "");
	if (in->content_type) {
		canonical_header(&creq, "content-type", in->content_type);
		strbuf_puts(&signed_hdrs, "content-type;");
	}
	canonical_header(&creq, "host", in->host);
	canonical_header(&creq, "x-amz-date", in->amz_date);
	strbuf_puts(&signed_hdrs, "host;x-amz-date");
	if (in->session_token) {
		canonical_header(&creq, "x-amz-security-token",
		    in->session_token);
		strbuf_puts(&signed_hdrs, ";x-amz-security-token");
	}
	strbuf_printf(&creq, "\n%s\n%s", strbuf_str(&signed_hdrs),
	    out->payload_hash);
	if (canonical)
		strbuf_append(canonical, creq.buf, creq.len);
	sha256_hex(creq.buf, creq.len, creq_hash);

	strbuf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
	    in->amz_date, date, in->region, in->service, creq_hash);

	kseed = xasprintf("AWS4%s", in->secret_access_key);
	hmac_sha256(kseed, strlen(kseed), date, k1);
	free_secret(kseed);
	hmac_sha256(k1, sizeof(k1), in->region, k2);
	hmac_sha256(k2, sizeof(k2), in->service, k3);
	hmac_sha256(k3, sizeof(k3), "aws4_request", k4);
	hmac_sha256(k4, sizeof(k4), strbuf_str(&sts), sig);
	hex(sig, sizeof(sig), out->signature);

	/* not text */
	n = snprintf(out->authorization, sizeof(out->authorization),
	    "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
	    "SignedHeaders=%s, Signature=%s", in->access_key_id, date,
	    in->region, in->service, strbuf_str(&signed_hdrs), out->signature);
	if (n > 0 && (size_t)n < sizeof(out->authorization))
		rc = 0;

	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	OPENSSL_cleanse(k3, sizeof(k3));
	OPENSSL_cleanse(k4, sizeof(k4));
	strbuf_release(&creq);
	strbuf_release(&signed_hdrs);
	strbuf_release(&sts);
	return rc;
}
