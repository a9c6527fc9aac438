/*
 * DescribeInstances, streaming: libxml2's SAX callbacks on the same parser
 * with the same options, and no tree.  It reads exactly what the DOM reader
 * of ec2_msg.c reads (the first matching direct child; the text a tree
 * would hold) and fails with the same errors in the same precedence:
 * malformed XML, then an unexpected root, then the first instance without
 * an id.  About a fifth of the DOM reader's CPU (bench/bench_ec2_parse).
 *
 * The callbacks are libxml2's SAX1 ones, which pass element names as
 * written ("p:name") and leave out namespace processing, a tenth of
 * libxml2's pass.  EC2 writes no prefixes.  The tree names an element by
 * its local name where its prefix is bound, so a document with a prefixed
 * name where one is read is read by the DOM reader instead, and so is a
 * malformed one: the DOM reader gives the error (libxml2's last one, which
 * namespace warnings can change).
 *
 * With NOBLANKS, libxml2 drops blank text after looking at the element
 * being built (ctxt->node: has it children, is its first or last child
 * text).  So that it decides as it does for the tree where that is read,
 * in a value, ctxt->node points at a stand-in node whose children and last
 * point at shared stand-ins of the right type; they never move while the
 * parser may hold one.  In any other element the decision changes nothing
 * read (the xml:space state it leaves is per element and not inherited).
 *
 * Most of the answer is not read (network interfaces, block devices, ...):
 * an element no rule matches is skipped with libxml2's start-element and
 * characters callbacks unset, and the rules' names are compared as the
 * dictionary pointers libxml2 passes.  libxml2's own SAX pass is most of
 * what is left (bench/bench_ec2_parse prints it as the floor).
 *
 * A document with a DTD (declared entities, content models) is read by the
 * DOM reader, and so is one whose DTD libxml2 read after an error had
 * stopped the callbacks: it parses entities with a context of its own
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

unsigned long ec2_stream_dom_reads;

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

#define NSRULES (sizeof(srules) / sizeof(*srules))

/*
 * The rules' names by their pointer in the parser's dictionary, which is
 * where the names libxml2 passes to s_start come from: the same name
 * is the same pointer.  Other names seen where one is read join them
 * (with no rules) once they are known to have no prefix.  Open
 * addressing, a name's slot from a hash of its pointer; never more than
 * half full.
 */
#define SNAME_BITS 8
#define SNAME_SLOTS (1u << SNAME_BITS)

struct sname {
	const xmlChar *name;
	uint32_t rules;		/* the srules of that name, a bit each */
};

/*
 * An open element that is read.  An element no rule matches (and all it
 * holds) gets no frame: while it is open, libxml2 has no start-element and
 * no characters callback to call (sstate.skipping), and s_end returns at
 * once until the parser's depth (ctxt->nameNr) is back at that element's.
 * So frames nest at most as deep as the rules do: root, reservationSet,
 * item, instancesSet, item, tagSet, item, value.
 */
#define SFRAMES_MAX 8

struct sframe {
	enum srole role;
	uint32_t seen;		/* the srules already matched once */
};

/* A value's text as the tree would hold it. */
struct svalue {
	struct strbuf sb;	/* its text children, concatenated */
	bool	 text;		/* it has a text child (maybe empty) */
	bool	 other;		/* it has a child that is not text */
};

struct sstate {
	xmlParserCtxt *ctxt;
	struct ec2_instance_list *out;
	struct sframe frames[SFRAMES_MAX];
	size_t	 depth;		/* frames open */
	bool	 skipping;	/* inside an element that is not read */
	int	 skip_depth;	/* ctxt->nameNr when it started */
	struct sname names[SNAME_SLOTS];
	size_t	 nnames;
	uint32_t parent_rules[R_TEXT + 1];	/* the srules of a parent */
	/*
	 * What ctxt->node points at.  Only the open value's text is read,
	 * so only its node tracks its children; any other element's blank
	 * text may be dropped or not, nothing of it is read.
	 */
	xmlNode	 value_node, other_node;
	bool	 dom;		/* read it with the DOM reader instead */
	bool	 saw_root, bad_root, no_id;
	char	*root_name;
	enum sfield field;	/* of the open value */
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

static void
add_child(xmlNode *node, xmlNode *stub)
{
	if (node->children == NULL)
		node->children = stub;
	node->last = stub;
}

/* The open value, if the innermost open element is one. */
static bool
in_value(const struct sstate *s)
{
	return !s->skipping && s->depth &&
	    s->frames[s->depth - 1].role == R_TEXT;
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

	switch (field) {
	case F_ID: in->id = svalue_text(s); break;
	case F_TYPE: in->instance_type = svalue_text(s); break;
	case F_PRIV_IP: in->private_ip = svalue_text(s); break;
	case F_PUB_IP: in->public_ip = svalue_text(s); break;
	case F_PRIV_DNS: in->private_dns = svalue_text(s); break;
	case F_PUB_DNS: in->public_dns = svalue_text(s); break;
	case F_LAUNCH:
		/* The value's lone text child, as svalue_ref() takes it. */
		if (s->val.text && !s->val.other &&
		    time_parse_iso8601(strbuf_str(&s->val.sb),
		    &in->launch_time_ms) != 0)
			in->launch_time_ms = 0;
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

static void s_start(void *, const xmlChar *, const xmlChar **);
static void s_characters(void *, const xmlChar *, int);

/* The document is read by the DOM reader instead, from the start. */
static void
to_dom(struct sstate *s)
{
	s->dom = true;
	xmlStopParser(s->ctxt);
}

/* The element starting is not read, nor anything it holds: libxml2 calls
 * no start-element or characters callback until it ends (s_end). */
static void
skip_start(struct sstate *s)
{
	s->skipping = true;
	/* The depth of its parent: libxml2 counts it in after this
	 * callback, and out after its end callback. */
	s->skip_depth = s->ctxt->nameNr;
	s->ctxt->sax->startElement = NULL;
	s->ctxt->sax->characters = NULL;
	s->ctxt->node = &s->other_node;
}

/* The slot of name in s->names: its own, or the empty one it would take. */
static size_t
sname_slot(const struct sstate *s, const xmlChar *name)
{
	size_t h = (size_t)(((uint64_t)(uintptr_t)name >> 4) *
	    UINT64_C(0x9E3779B97F4A7C15) >> (64 - SNAME_BITS));

	while (s->names[h].name != name && s->names[h].name != NULL)
		h = (h + 1) % SNAME_SLOTS;
	return h;
}

/* The document element, and the rules' names looked up once in the
 * dictionary its names come from. */
static void
s_root(struct sstate *s, const char *name)
{
	s->saw_root = true;
	if (strchr(name, ':')) {
		to_dom(s);
		return;
	}
	free(s->root_name);
	s->root_name = xstrdup(name);
	if (strcmp(s->root_name, "DescribeInstancesResponse") != 0) {
		s->bad_root = true;
		skip_start(s);
		return;
	}
	for (size_t i = 0; i < NSRULES; i++) {
		const xmlChar *n = xmlDictLookup(s->ctxt->dict,
		    (const xmlChar *)srules[i].name, -1);

		if (n == NULL)
			abort();
		size_t slot = sname_slot(s, n);

		if (s->names[slot].name == NULL)
			s->nnames++;
		s->names[slot].name = n;
		s->names[slot].rules |= UINT32_C(1) << i;
		s->parent_rules[srules[i].parent] |= UINT32_C(1) << i;
	}
	s->frames[0].role = R_ROOT;
	s->frames[0].seen = 0;
	s->depth = 1;
}

static void
s_start(void *ctx, const xmlChar *name, const xmlChar **attrs)
{
	xmlParserCtxt *ctxt = ctx;
	struct sstate *s = ctxt->_private;
	struct sframe *parent, *f;
	const struct srule *r = NULL;
	uint32_t rules = 0;
	size_t i, slot;

	(void)attrs;
	if (ctxt != s->ctxt)
		return;		/* an entity's content */
	if (s->skipping)
		return;		/* not called then */
	ctxt->node = &s->other_node;
	if (s->depth == 0) {
		s_root(s, (const char *)name);
		return;
	}
	parent = &s->frames[s->depth - 1];
	if (parent->role == R_TEXT) {
		add_child(&s->value_node, &stub_other);
		s->val.other = true;
		skip_start(s);
		return;
	}
	slot = sname_slot(s, name);
	rules = s->names[slot].rules & s->parent_rules[parent->role];
	if (rules) {		/* one rule per parent and name */
		i = (size_t)__builtin_ctz(rules);
		r = &srules[i];
	} else if (s->names[slot].name != name) {
		/* "p:instanceId" is instanceId where p is bound. */
		if (strchr((const char *)name, ':')) {
			to_dom(s);
			return;
		}
		if (s->nnames < SNAME_SLOTS / 2) {
			s->names[slot].name = name;
			s->nnames++;
		}
	}
	if (r && !r->every) {
		if (parent->seen & (1u << i))
			r = NULL;
		else
			parent->seen |= 1u << i;
	}
	if (r == NULL || (r->role == R_INST && s->no_id)) {
		/* Not read (after an instance without an id, the answer
		 * is refused). */
		skip_start(s);
		return;
	}
	f = &s->frames[s->depth++];
	f->role = r->role;
	f->seen = 0;
	switch (f->role) {
	case R_INST:
		memset(&s->cur, 0, sizeof(s->cur));
		s->ntags = 0;
		s->has_code = s->has_name = false;
		break;
	case R_TAG:
		s->tag.key = s->tag.value = NULL;
		break;
	case R_TEXT:
		s->field = r->field;
		strbuf_reset(&s->val.sb);
		s->val.text = s->val.other = false;
		s->value_node.children = s->value_node.last = NULL;
		ctxt->node = &s->value_node;
		break;
	default:
		break;
	}
}

static void
s_end(void *ctx, const xmlChar *name)
{
	xmlParserCtxt *ctxt = ctx;
	struct sstate *s = ctxt->_private;

	(void)name;
	if (ctxt != s->ctxt)
		return;
	if (s->skipping) {
		if (ctxt->nameNr > s->skip_depth + 1)
			return;		/* an element inside */
		s->skipping = false;
		ctxt->sax->startElement = s_start;
		ctxt->sax->characters = s_characters;
		ctxt->node = in_value(s) ? &s->value_node :
		    s->depth ? &s->other_node : NULL;
		return;
	}
	if (s->depth == 0)
		return;
	switch (s->frames[--s->depth].role) {
	case R_TEXT:
		s_value_end(s, s->field);
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
	/* A value holds no element that is read: its parent is not one. */
	ctxt->node = s->depth ? &s->other_node : NULL;
}

static void
s_characters(void *ctx, const xmlChar *ch, int len)
{
	xmlParserCtxt *ctxt = ctx;
	struct sstate *s = ctxt->_private;

	if (ctxt != s->ctxt || !in_value(s))
		return;
	add_child(&s->value_node, &stub_text);
	s->val.text = true;
	strbuf_append(&s->val.sb, ch, (size_t)len);
}

static void
s_other(xmlParserCtxt *ctxt)
{
	struct sstate *s = ctxt->_private;

	if (ctxt != s->ctxt || !in_value(s))
		return;
	add_child(&s->value_node, &stub_other);
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
	((struct sstate *)ctxt->_private)->dom = true;
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
	sax->initialized = 1;	/* SAX1: names as written, see above */
	sax->startElement = s_start;
	sax->endElement = s_end;
	sax->characters = s_characters;
	sax->comment = s_comment;
	sax->processingInstruction = s_pi;
	sax->internalSubset = s_dtd;
	sax->reference = s_reference;
	ctxt->_private = &s;
	s.ctxt = ctxt;
	s.value_node.type = s.other_node.type = XML_ELEMENT_NODE;
	/* No tree, but libxml2 makes a document to hold declared entities. */
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL,
	    EC2_XML_OPTIONS);
	xmlFreeDoc(doc);
	ctxt->node = NULL;
	if (s.dom || ctxt->intSubName != NULL || !ctxt->wellFormed ||
	    !s.saw_root) {
		ec2_stream_dom_reads++;
		out->n = n0;
		rc = ec2_parse_describe_dom(xml, len, out, next_token, err);
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
