/*
 * EC2 request parameters and XML answers.  Elements are matched by local
 * name (EC2 puts them all in its versioned namespace) walking direct
 * children only, because <item> occurs at many depths.  Nothing libxml2
 * allocates outlives a parse function.
 */
#include "daemon/ec2_msg.h"
#include "daemon/ec2_msg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "common/strbuf.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"

static const struct {
	enum ec2_state state;
	const char *name;
} state_names[] = {
	{ EC2_STATE_PENDING, "pending" },
	{ EC2_STATE_RUNNING, "running" },
	{ EC2_STATE_SHUTTING_DOWN, "shutting-down" },
	{ EC2_STATE_TERMINATED, "terminated" },
	{ EC2_STATE_STOPPING, "stopping" },
	{ EC2_STATE_STOPPED, "stopped" },
};

const char *
ec2_state_name(enum ec2_state s)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(*state_names); i++)
		if (state_names[i].state == s)
			return state_names[i].name;
	return "unknown";
}

enum ec2_state
ec2_state_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(*state_names); i++)
		if (strcmp(state_names[i].name, name) == 0)
			return state_names[i].state;
	return EC2_STATE_UNKNOWN;
}

struct ec2_instance_list *
ec2_instance_list_new(void)
{
	return xcalloc(1, sizeof(struct ec2_instance_list));
}

void
ec2_instance_list_free(struct ec2_instance_list *l)
{
	if (l == NULL)
		return;
	free(l->v);
	pool_release(&l->pool);
	free(l);
}

const char *
ec2_instance_tag(const struct ec2_instance *i, const char *key)
{
	for (size_t t = 0; t < i->ntags; t++)
		if (strcmp(i->tags[t].key, key) == 0)
			return i->tags[t].value;
	return NULL;
}

struct ec2_state_changes *
ec2_state_changes_new(void)
{
	return xcalloc(1, sizeof(struct ec2_state_changes));
}

void
ec2_state_changes_free(struct ec2_state_changes *c)
{
	if (c == NULL)
		return;
	free(c->v);
	pool_release(&c->pool);
	free(c);
}

/* Request building. */

static void
add_indexed(struct aws_params *p, const char *fmt, size_t i, const char *v)
{
	char name[64];

	snprintf(name, sizeof(name), fmt, i); /* not text */
	aws_params_add(p, name, v);
}

void
ec2_build_describe(struct aws_params *p, const char *prefix, int max_results,
    const char *next_token)
{
	struct strbuf pattern = STRBUF_INIT;
	char num[16];

	/* Filter values treat * ? and \ as wildcards and escape. */
	for (const char *c = prefix; *c; c++) {
		if (*c == '*' || *c == '?' || *c == '\\')
			strbuf_putc(&pattern, '\\');
		strbuf_putc(&pattern, *c);
	}
	strbuf_puts(&pattern, "-*");
	aws_params_add(p, "Action", "DescribeInstances");
	aws_params_add(p, "Version", EC2_API_VERSION);
	aws_params_add(p, "Filter.1.Name", "tag:Name");
	aws_params_add(p, "Filter.1.Value.1", strbuf_str(&pattern));
	snprintf(num, sizeof(num), "%d", max_results); /* not text */
	aws_params_add(p, "MaxResults", num);
	if (next_token)
		aws_params_add(p, "NextToken", next_token);
	strbuf_release(&pattern);
}

void
ec2_build_start_stop(struct aws_params *p, bool start,
    const char *const *ids, size_t n, bool dry_run)
{
	aws_params_add(p, "Action", start ? "StartInstances" : "StopInstances");
	aws_params_add(p, "Version", EC2_API_VERSION);
	for (size_t i = 0; i < n; i++)
		add_indexed(p, "InstanceId.%zu", i + 1, ids[i]);
	if (dry_run)
		aws_params_add(p, "DryRun", "true");
}

/* XML walking. */


static bool
is_elem(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE &&
	    strcmp((const char *)n->name, name) == 0;
}

static xmlNode *
child(const xmlNode *parent, const char *name)
{
	if (parent == NULL)
		return NULL;
	for (xmlNode *n = parent->children; n; n = n->next)
		if (is_elem(n, name))
			return n;
	return NULL;
}

/* The text of an element, copied into pool; NULL if the element is missing
 * or empty. */
static const char *
text(struct pool *pool, const xmlNode *e)
{
	struct strbuf sb = STRBUF_INIT;
	const char *r;

	if (e == NULL || e->children == NULL)
		return NULL;
	if (e->children->next == NULL && e->children->type == XML_TEXT_NODE) {
		const char *s = (const char *)e->children->content;

		return s && *s ? pool_strdup(pool, s) : NULL;
	}
	for (xmlNode *n = e->children; n; n = n->next)
		if ((n->type == XML_TEXT_NODE ||
		    n->type == XML_CDATA_SECTION_NODE) && n->content)
			strbuf_puts(&sb, (const char *)n->content);
	r = sb.len ? pool_strndup(pool, sb.buf, sb.len) : NULL;
	strbuf_release(&sb);
	return r;
}

/* The text of a direct child without copying (valid while doc lives). */
static const char *
child_text_ref(const xmlNode *parent, const char *name)
{
	xmlNode *e = child(parent, name);

	if (e && e->children && e->children->type == XML_TEXT_NODE &&
	    e->children->next == NULL)
		return (const char *)e->children->content;
	return NULL;
}

void
ec2_xml_malformed(xmlParserCtxt *ctxt, const char *what, struct aws_error *err)
{
	const xmlError *xe = xmlCtxtGetLastError(ctxt);
	char msg[256];

	utf8_snprintf(msg, sizeof(msg), "%s", xe && xe->message ?
	    xe->message : "empty document");
	msg[strcspn(msg, "\n")] = '\0';
	aws_error_set(err, AWS_ERR_PARSE, NULL,
	    "malformed XML in %s answer: %s (line %d)", what, msg,
	    xe ? xe->line : 0);
}

static xmlDoc *
parse_doc(const char *xml, size_t len, const char *what, struct aws_error *err)
{
	xmlParserCtxt *ctxt;
	xmlDoc *doc;

	if (len > (size_t)INT32_MAX) {
		aws_error_set(err, AWS_ERR_PARSE, NULL, "%s answer too large",
		    what);
		return NULL;
	}
	ctxt = xmlNewParserCtxt();
	if (ctxt == NULL)
		abort();
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL,
	    EC2_XML_OPTIONS);
	if (doc == NULL || xmlDocGetRootElement(doc) == NULL) {
		ec2_xml_malformed(ctxt, what, err);
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	return doc;
}

enum ec2_state
ec2_state_of(const char *code, const char *name)
{
	if (code) {
		char *end;
		long c = strtol(code, &end, 10);

		/* The high byte is internal to EC2. */
		if (*end == '\0' && end != code) {
			switch (c & 0xff) {
			case 0: case 16: case 32: case 48: case 64: case 80:
				return (enum ec2_state)(c & 0xff);
			}
		}
	}
	return name ? ec2_state_from_name(name) : EC2_STATE_UNKNOWN;
}

static enum ec2_state
parse_state(const xmlNode *state_elem)
{
	return ec2_state_of(child_text_ref(state_elem, "code"),
	    child_text_ref(state_elem, "name"));
}

static int
parse_instance(struct ec2_instance_list *out, const xmlNode *item,
    struct aws_error *err)
{
	struct pool *pool = &out->pool;
	struct ec2_instance *in;
	const xmlNode *tagset;
	const char *launch;
	size_t ntags = 0;

	out->v = xgrow(out->v, &out->cap, out->n + 1, sizeof(*out->v));
	in = &out->v[out->n];
	memset(in, 0, sizeof(*in));
	in->id = text(pool, child(item, "instanceId"));
	if (in->id == NULL) {
		aws_error_set(err, AWS_ERR_PARSE, NULL,
		    EC2_NO_INSTANCE_ID);
		return -1;
	}
	in->state = parse_state(child(item, "instanceState"));
	if (in->state == EC2_STATE_TERMINATED)
		return 0;	/* not a member of any cluster any more */
	in->instance_type = text(pool, child(item, "instanceType"));
	in->private_ip = text(pool, child(item, "privateIpAddress"));
	in->public_ip = text(pool, child(item, "ipAddress"));
	in->private_dns = text(pool, child(item, "privateDnsName"));
	in->public_dns = text(pool, child(item, "dnsName"));
	launch = child_text_ref(item, "launchTime");
	if (launch && time_parse_iso8601(launch, &in->launch_time_ms) != 0)
		in->launch_time_ms = 0;

	tagset = child(item, "tagSet");
	if (tagset) {
		for (xmlNode *t = tagset->children; t; t = t->next)
			if (is_elem(t, "item"))
				ntags++;
	}
	if (ntags) {
		size_t k = 0;

		in->tags = pool_alloc(pool, ntags * sizeof(*in->tags));
		for (xmlNode *t = tagset->children; t; t = t->next) {
			if (!is_elem(t, "item"))
				continue;
			in->tags[k].key = text(pool, child(t, "key"));
			in->tags[k].value = text(pool, child(t, "value"));
			if (in->tags[k].key == NULL)
				continue;
			if (in->tags[k].value == NULL)
				in->tags[k].value = "";
			if (strcmp(in->tags[k].key, "Name") == 0)
				in->name = in->tags[k].value;
			k++;
		}
		in->ntags = k;
	}
	if (in->name == NULL)
		in->name = "";
	out->n++;
	return 0;
}

static bool
root_is(const xmlDoc *doc, const char *name)
{
	return is_elem(xmlDocGetRootElement((xmlDoc *)doc), name);
}

int
ec2_parse_describe_dom(const char *xml, size_t len,
    struct ec2_instance_list *out, char **next_token, struct aws_error *err)
{
	xmlDoc *doc;
	xmlNode *root;
	const char *token;
	int rc = -1;

	*next_token = NULL;
	doc = parse_doc(xml, len, "DescribeInstances", err);
	if (doc == NULL)
		return -1;
	root = xmlDocGetRootElement(doc);
	if (!root_is(doc, "DescribeInstancesResponse")) {
		aws_error_set(err, AWS_ERR_PARSE, NULL,
		    "unexpected <%s> in DescribeInstances answer",
		    (const char *)root->name);
		goto out;
	}
	for (xmlNode *r = child(root, "reservationSet") ?
	    child(root, "reservationSet")->children : NULL; r; r = r->next) {
		xmlNode *set;

		if (!is_elem(r, "item"))
			continue;
		if ((set = child(r, "instancesSet")) == NULL)
			continue;
		for (xmlNode *i = set->children; i; i = i->next)
			if (is_elem(i, "item") &&
			    parse_instance(out, i, err) != 0)
				goto out;
	}
	token = child_text_ref(root, "nextToken");
	if (token && *token)
		*next_token = xstrdup(token);
	rc = 0;
out:
	xmlFreeDoc(doc);
	return rc;
}

int
ec2_parse_state_changes(const char *xml, size_t len,
    struct ec2_state_changes *out, struct aws_error *err)
{
	xmlDoc *doc;
	xmlNode *root, *set;
	int rc = -1;

	doc = parse_doc(xml, len, "StartInstances/StopInstances", err);
	if (doc == NULL)
		return -1;
	root = xmlDocGetRootElement(doc);
	if (!root_is(doc, "StartInstancesResponse") &&
	    !root_is(doc, "StopInstancesResponse")) {
		aws_error_set(err, AWS_ERR_PARSE, NULL,
		    "unexpected <%s> in a start/stop answer",
		    (const char *)root->name);
		goto out;
	}
	set = child(root, "instancesSet");
	for (xmlNode *i = set ? set->children : NULL; i; i = i->next) {
		struct ec2_state_change *c;
		const char *id;

		if (!is_elem(i, "item"))
			continue;
		if ((id = text(&out->pool, child(i, "instanceId"))) == NULL) {
			aws_error_set(err, AWS_ERR_PARSE, NULL,
			    "start/stop answer has an item without "
			    "instanceId");
			goto out;
		}
		out->v = xgrow(out->v, &out->cap, out->n + 1, sizeof(*out->v));
		c = &out->v[out->n++];
		c->id = id;
		c->previous = parse_state(child(i, "previousState"));
		c->current = parse_state(child(i, "currentState"));
	}
	rc = 0;
out:
	xmlFreeDoc(doc);
	return rc;
}

void
ec2_parse_error(const char *xml, size_t len, long http_status,
    struct aws_error *err)
{
	struct aws_error perr;
	xmlDoc *doc = NULL;
	xmlNode *root, *e;
	const char *code, *msg, *rid;

	err->kind = AWS_ERR_SERVICE;
	err->http_status = http_status;
	err->code[0] = err->request_id[0] = '\0';
	utf8_snprintf(err->message, sizeof(err->message),
	    "HTTP %ld without an EC2 error document", http_status);
	if (len == 0)
		return;
	aws_error_clear(&perr);
	doc = parse_doc(xml, len, "error", &perr);
	if (doc == NULL)
		return;
	root = xmlDocGetRootElement(doc);
	/* <Response><Errors><Error><Code/><Message/></Error></Errors>
	 * <RequestID/></Response>; some services use <ErrorResponse>. */
	e = child(child(root, "Errors"), "Error");
	if (e == NULL)
		e = child(root, "Error");
	if (e) {
		if ((code = child_text_ref(e, "Code")))
			utf8_snprintf(err->code, sizeof(err->code), "%s", code);
		if ((msg = child_text_ref(e, "Message")))
			utf8_snprintf(err->message, sizeof(err->message),
			    "%s", msg);
	}
	if ((rid = child_text_ref(root, "RequestID")) ||
	    (rid = child_text_ref(root, "RequestId")) ||
	    (rid = child_text_ref(root, "requestId")))
		utf8_snprintf(err->request_id, sizeof(err->request_id),
		    "%s", rid);
	xmlFreeDoc(doc);
}
