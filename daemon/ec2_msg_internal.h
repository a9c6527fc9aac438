/*
 * What the two DescribeInstances readers share (ec2_msg.c, the DOM one and
 * the rest of the EC2 messages; ec2_msg_stream.c, the streaming one): the
 * parser options, which decide what text a document holds, and the errors.
 */
#ifndef EC2M_EC2_MSG_INTERNAL_H
#define EC2M_EC2_MSG_INTERNAL_H

#include <libxml/parser.h>

#include "daemon/aws.h"
#include "daemon/ec2_msg.h"

#define EC2_XML_OPTIONS	(XML_PARSE_NONET | XML_PARSE_NOBLANKS | \
	XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA | \
	XML_PARSE_COMPACT)

#define EC2_NO_INSTANCE_ID \
	"DescribeInstances answer has an instance without instanceId"

/* How many answers the streaming DescribeInstances reader has passed to the
 * DOM reader (prefixed names, a DTD, malformed XML); for tests. */
extern unsigned long ec2_stream_dom_reads;

/* The error of a document libxml2 could not read (kind AWS_ERR_PARSE). */
void ec2_xml_malformed(xmlParserCtxt *ctxt, const char *what,
    struct aws_error *err);
/* An instance state from its <code> and <name> texts (either NULL). */
enum ec2_state ec2_state_of(const char *code, const char *name);

#endif
