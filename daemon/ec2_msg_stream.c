/*
 * DescribeInstances, streaming: libxml2's SAX2 callbacks on the same parser
 * with the same options, and no tree.  It reads exactly what the DOM reader
 * of ec2_msg.c reads (the first matching direct child; the text a tree
 * would hold) and fails with the same errors in the same precedence:
 * malformed XML, then an unexpected root, then the first instance without
 * an id.  About a third of the DOM reader's CPU (bench/bench_ec2_parse).
 *
 * With NOBLANKS, libxml2 drops blank text after looking at the element
 * being built (ctxt->node: has it children, is its first or last child
 * text).  So that it decides as it does for the tree, ctxt->node points at
 * a stand-in node per open element whose children and last point at shared
 * stand-ins of the right type; they never move while the parser may hold
 * one.  A document with a DTD (declared entities, content models) is read
 * by the DOM reader, and so is one whose DTD libxml2 read after an error
 * had stopped the callbacks: it parses entities with a context of its own
 * (whose callbacks are ignored here) and reports errors accordingly.
 */
#include "daemon/ec2_msg.h"

#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "common/strbuf.h"
#include "common/timeutil.h"
#include "common/xalloc.h"
#include "daemon/ec2_msg_internal.h"

enum srole {
	R_SKIP,		/* nothing under it is read */
	R_ROOT,
	R_RESSET,	/* root/reservationSet, the first */
	R_RES,		/* reservationSet/item */
	R_INSTSET,	/* item/instancesSet, the first */
	R_INST,		/* instancesSet/item */
	R_STATE,	/* instance/instanceState, the first */
	R_TAGSET,	/* instance/tagSet, the first */
	R_TAG,		/* tagSet/item */
	R_TEXT,		/* a value: its text is collected */
};

enum sfield {
	F_ID, F_TYPE, F_PRIV_IP, F_PUB_IP, F_PRIV_DNS, F_PUB_DNS, F_LAUNCH,
	F_CODE, F_NAME, F_KEY, F_VALUE, F_TOKEN,
};

struct srule {
	enum srole parent;
	const char *name;
	enum srole role;
	enum sfield field;
	bool every;	/* every such child, not only the first */
};

static const struct srule srules[] = {
	{ R_ROOT, "reservationSet", R_RESSET, 0, false },
	{ R_ROOT, "nextToken", R_TEXT, F_TOKEN, false },
	{ R_RESSET, "item", R_RES, 0, true },
	{ R_RES, "instancesSet", R_INSTSET, 0, false },
	{ R_INSTSET, "item", R_INST, 0, true },
	{ R_INST, "instanceId", R_TEXT, F_ID, false },
	{ R_INST, "instanceState", R_STATE, 0, false },
	{ R_INST, "instanceType", R_TEXT, F_TYPE, false },
	{ R_INST, "privateIpAddress", R_TEXT, F_PRIV_IP, false },
	{ R_INST, "ipAddress", R_TEXT, F_PUB_IP, false },
	{ R_INST, "privateDnsName", R_TEXT, F_PRIV_DNS, false },
	{ R_INST, "dnsName", R_TEXT, F_PUB_DNS, false },
	{ R_INST, "launchTime", R_TEXT, F_LAUNCH, false },
	{ R_INST, "tagSet", R_TAGSET, 0, false },
	{ R_STATE, "code", R_TEXT, F_CODE, false },
	{ R_STATE, "name", R_TEXT, F_NAME, false },
	{ R_TAGSET, "item", R_TAG, 0, true },
	{ R_TAG, "key", R_TEXT, F_KEY, false },
	{ R_TAG, "value", R_TEXT, F_VALUE, false },
};

/* Where each parent's rules start in srules (they are grouped). */
static const unsigned char srule_first[] = {
	[R_ROOT] = 0, [R_RESSET] = 2, [R_RES] = 3, [R_INSTSET] = 4,
	[R_INST] = 5, [R_STATE] = 14, [R_TAGSET] = 16, [R_TAG] = 17,
};

struct sframe {
	xmlNode	 node;		/* what ctxt->node points at */
	enum srole role;
	enum sfield field;
	uint32_t seen;		/* the srules already matched once */
};

/* A value's text as the tree would hold it. */
struct svalue {
	struct strbuf sb;	/* its text children, concatenated */
	bool	 text;		/* it has a text child (maybe empty) */
	bool	 other;		/* it has a child that is not text */
};

#define SFRAMES_PER_CHUNK 32

struct sstate {
	xmlParserCtxt *ctxt;
	struct ec2_instance_list *out;
	struct sframe **chunks;	/* open elements, SFRAMES_PER_CHUNK a chunk */
	size_t	 depth, nchunks, chunks_cap;
	bool	 dtd;		/* read it with the DOM reader instead */
	bool	 saw_root, bad_root, no_id;
	char	*root_name;
	struct svalue val;
	/* The instance being read. */
	struct ec2_instance cur;
	struct ec2_tag *tags;
	size_t	 ntags, tags_cap;
	struct ec2_tag tag;
	struct strbuf code, name, token;
	bool	 has_code, has_name, has_token;
};

static xmlNode stub_text = { .type = XML_TEXT_NODE };
static xmlNode stub_other = { .type = XML_ELEMENT_NODE };

static struct sframe *
sframe_at(struct sstate *s, size_t i)
{
	return &s->chunks[i / SFRAMES_PER_CHUNK][i % SFRAMES_PER_CHUNK];
}

static struct sframe *
sframe_push(struct sstate *s)
{
	if (s->depth == s->nchunks * SFRAMES_PER_CHUNK) {
		s->chunks = xgrow(s->chunks, &s->chunks_cap, s->nchunks + 1,
		    sizeof(*s->chunks));
		s->chunks[s->nchunks++] = xcalloc(SFRAMES_PER_CHUNK,
		    sizeof(struct sframe));
	}
	return sframe_at(s, s->depth++);
}

static void
add_child(struct sframe *f, xmlNode *stub)
{
	if (f->node.children == NULL)
		f->node.children = stub;
	f->node.last = stub;
}

/* text(): NULL when empty; child_text_ref(): only a lone text child. */
static const char *
svalue_text(struct sstate *s)
{
	return s->val.sb.len ? pool_strndup(&s->out->pool, s->val.sb.buf,
	    s->val.sb.len) : NULL;
}

static void
svalue_ref(struct sstate *s, struct strbuf *to, bool *has)
{
	*has = s->val.text && !s->val.other;
	strbuf_reset(to);
	if (*has)
		strbuf_append(to, s->val.sb.buf ? s->val.sb.buf : "",
		    s->val.sb.len);
}

static void
s_value_end(struct sstate *s, enum sfield field)
{
	struct ec2_instance *in = &s->cur;
	struct strbuf launch = STRBUF_INIT;
	bool has;

	switch (field) {
	case F_ID: in->id = svalue_text(s); break;
	case F_TYPE: in->instance_type = svalue_text(s); break;
	case F_PRIV_IP: in->private_ip = svalue_text(s); break;
	case F_PUB_IP: in->public_ip = svalue_text(s); break;
	case F_PRIV_DNS: in->private_dns = svalue_text(s); break;
	case F_PUB_DNS: in->public_dns = svalue_text(s); break;
	case F_LAUNCH:
		svalue_ref(s, &launch, &has);
		if (has && time_parse_iso8601(strbuf_str(&launch),
		    &in->launch_time_ms) != 0)
			in->launch_time_ms = 0;
		strbuf_release(&launch);
		break;
	case F_CODE: svalue_ref(s, &s->code, &s->has_code); break;
	case F_NAME: svalue_ref(s, &s->name, &s->has_name); break;
	case F_KEY: s->tag.key = svalue_text(s); break;
	case F_VALUE: s->tag.value = svalue_text(s); break;
	case F_TOKEN: svalue_ref(s, &s->token, &s->has_token); break;
	}
}

static void
s_instance_end(struct sstate *s)
{
	struct ec2_instance_list *out = s->out;
	struct ec2_instance *in;

	if (s->cur.id == NULL) {
		s->no_id = true;
		return;
	}
	s->cur.state = ec2_state_of(s->has_code ? strbuf_str(&s->code) : NULL,
	    s->has_name ? strbuf_str(&s->name) : NULL);
	if (s->cur.state == EC2_STATE_TERMINATED)
		return;
	out->v = xgrow(out->v, &out->cap, out->n + 1, sizeof(*out->v));
	in = &out->v[out->n++];
	*in = s->cur;
	if (s->ntags) {
		in->tags = pool_alloc(&out->pool, s->ntags * sizeof(*in->tags));
		memcpy(in->tags, s->tags, s->ntags * sizeof(*in->tags));
		in->ntags = s->ntags;
		for (size_t t = 0; t < s->ntags; t++)
			if (strcmp(in->tags[t].key, "Name") == 0)
				in->name = in->tags[t].value;
	}
	if (in->name == NULL)
		in->name = "";
}

static void
s_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri, int nb_ns, const xmlChar **ns, int nb_attr,
    int nb_defaulted, const xmlChar **attrs)
{
	xmlParserCtxt *ctxt = ctx;
	struct sstate *s = ctxt->_private;
	const char *name = (const char *)localname;
	struct sframe *parent, *f;

	(void)nb_ns; (void)ns; (void)nb_attr; (void)nb_defaulted; (void)attrs;
	if (ctxt != s->ctxt)
		return;		/* an entity's content */
	parent = s->depth ? sframe_at(s, s->depth - 1) : NULL;
	f = sframe_push(s);
	/* All that libxml2 looks at in a node being built. */
	f->node.type = XML_ELEMENT_NODE;
	f->node.children = f->node.last = NULL;
	f->role = R_SKIP;
	f->seen = 0;
	ctxt->node = &f->node;
	if (parent == NULL) {
		s->saw_root = true;
		/* The tree names an element of an unbound prefix "p:name". */
		free(s->root_name);
		if (prefix && uri == NULL) {
			struct strbuf sb = STRBUF_INIT;

			strbuf_printf(&sb, "%s:%s", (const char *)prefix, name);
			s->root_name = strbuf_detach(&sb, NULL);
		} else {
			s->root_name = xstrdup(name);
		}
		if (strcmp(s->root_name, "DescribeInstancesResponse") == 0)
			f->role = R_ROOT;
		else
			s->bad_root = true;
		return;
	}
	add_child(parent, &stub_other);
	if (parent->role == R_TEXT)
		s->val.other = true;
	if (parent->role == R_SKIP || parent->role == R_TEXT ||
	    (prefix && uri == NULL))
		return;
	for (size_t i = srule_first[parent->role];
	    i < sizeof(srules) / sizeof(*srules) &&
	    srules[i].parent == parent->role; i++) {
		const struct srule *r = &srules[i];

		if (r->name[0] != name[0] || strcmp(r->name, name) != 0)
			continue;
		if (!r->every) {
			if (parent->seen & (1u << i))
				return;
			parent->seen |= 1u << i;
		}
		f->role = r->role;
		f->field = r->field;
		break;
	}
	switch (f->role) {
	case R_INST:
		if (s->no_id) {
			f->role = R_SKIP;	/* the answer is refused */
			break;
		}
		memset(&s->cur, 0, sizeof(s->cur));
		s->ntags = 0;
		s->has_code = s->has_name = false;
		break;
	case R_TAG:
		s->tag.key = s->tag.value = NULL;
		break;
	case R_TEXT:
		strbuf_reset(&s->val.sb);
		s->val.text = s->val.other = false;
		break;
	default:
		break;
	}
}

static void
s_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri)
{
	xmlParserCtxt *ctxt = ctx;
	struct sstate *s = ctxt->_private;
	struct sframe *f;

	(void)localname; (void)prefix; (void)uri;
	if (ctxt != s->ctxt || s->depth == 0)
		return;
	f = sframe_at(s, --s->depth);
	switch (f->role) {
	case R_TEXT:
		s_value_end(s, f->field);
		break;
	case R_TAG:
		if (s->tag.key == NULL)
			break;
		if (s->tag.value == NULL)
			s->tag.value = "";
		s->tags = xgrow(s->tags, &s->tags_cap, s->ntags + 1,
		    sizeof(*s->tags));
		s->tags[s->ntags++] = s->tag;
		break;
	case R_INST:
		s_instance_end(s);
		break;
	default:
		break;
	}
	ctxt->node = s->depth ? &sframe_at(s, s->depth - 1)->node : NULL;
}

static void
s_characters(void *ctx, const xmlChar *ch, int len)
{
	xmlParserCtxt *ctxt = ctx;
	struct sstate *s = ctxt->_private;
	struct sframe *f;

	if (ctxt != s->ctxt || s->depth == 0)
		return;
	f = sframe_at(s, s->depth - 1);
	add_child(f, &stub_text);
	if (f->role == R_TEXT) {
		s->val.text = true;
		strbuf_append(&s->val.sb, ch, (size_t)len);
	}
}

static void
s_other(xmlParserCtxt *ctxt)
{
	struct sstate *s = ctxt->_private;
	struct sframe *f;

	if (ctxt != s->ctxt || s->depth == 0)
		return;
	f = sframe_at(s, s->depth - 1);
	add_child(f, &stub_other);
	if (f->role == R_TEXT)
		s->val.other = true;
}

static void
s_comment(void *ctx, const xmlChar *value)
{
	(void)value;
	s_other(ctx);
}

static void
s_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
	(void)target;
	(void)data;
	s_other(ctx);
}

static void
s_dtd(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
	xmlParserCtxt *ctxt = ctx;

	(void)name; (void)ext; (void)sys;
	((struct sstate *)ctxt->_private)->dtd = true;
	xmlStopParser(ctxt);
}

static void
s_reference(void *ctx, const xmlChar *name)
{
	s_dtd(ctx, name, NULL, NULL);
}

int
ec2_parse_describe_stream(const char *xml, size_t len,
    struct ec2_instance_list *out, char **next_token, struct aws_error *err)
{
	struct sstate s = { .out = out };
	size_t n0 = out->n;
	xmlParserCtxt *ctxt;
	xmlSAXHandler *sax;
	xmlDoc *doc;
	int rc = -1;

	*next_token = NULL;
	if (len > (size_t)INT32_MAX) {
		aws_error_set(err, AWS_ERR_PARSE, NULL, "%s answer too large",
		    "DescribeInstances");
		return -1;
	}
	if ((ctxt = xmlNewParserCtxt()) == NULL)
		abort();
	sax = ctxt->sax;
	memset(sax, 0, sizeof(*sax));
	sax->initialized = XML_SAX2_MAGIC;
	sax->startElementNs = s_start;
	sax->endElementNs = s_end;
	sax->characters = s_characters;
	sax->comment = s_comment;
	sax->processingInstruction = s_pi;
	sax->internalSubset = s_dtd;
	sax->reference = s_reference;
	ctxt->_private = &s;
	s.ctxt = ctxt;
	/* No tree, but libxml2 makes a document to hold declared entities. */
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL,
	    EC2_XML_OPTIONS);
	xmlFreeDoc(doc);
	ctxt->node = NULL;
	if (s.dtd || ctxt->intSubName != NULL) {
		out->n = n0;
		rc = ec2_parse_describe_dom(xml, len, out, next_token, err);
	} else if (!ctxt->wellFormed || !s.saw_root) {
		out->n = n0;
		ec2_xml_malformed(ctxt, "DescribeInstances", err);
	} else if (s.bad_root) {
		aws_error_set(err, AWS_ERR_PARSE, NULL,
		    "unexpected <%s> in DescribeInstances answer",
		    s.root_name);
	} else if (s.no_id) {
		aws_error_set(err, AWS_ERR_PARSE, NULL, EC2_NO_INSTANCE_ID);
	} else {
		if (s.has_token && s.token.len)
			*next_token = xstrdup(strbuf_str(&s.token));
		rc = 0;
	}
	xmlFreeParserCtxt(ctxt);
	for (size_t i = 0; i < s.nchunks; i++)
		free(s.chunks[i]);
	free(s.chunks);
	free(s.root_name);
	free(s.tags);
	strbuf_release(&s.val.sb);
	strbuf_release(&s.code);
	strbuf_release(&s.name);
	strbuf_release(&s.token);
	return rc;
}

int
ec2_parse_describe(const char *xml, size_t len, struct ec2_instance_list *out,
    char **next_token, struct aws_error *err)
{
	return ec2_parse_describe_stream(xml, len, out, next_token, err);
}
