/*
 * CPU cost of parsing a DescribeInstances answer of N realistic instances
 * (default 1,000) with the daemon's streaming parser and, side by side,
 * with the DOM parser it replaced (daemon/ec2_msg.h).  The answer is built in memory
 * with every block real EC2 sends for an instance (network interfaces,
 * block devices, security groups, placement, tags, ...), so its size per
 * instance is realistic (~5 KB).  Each round parses the whole answer into
 * plain structs and frees them; the CPU time of each round is measured with
 * CLOCK_PROCESS_CPUTIME_ID and the median is reported.  The rounds of the
 * two parsers alternate, so that both see the same machine load.  A third
 * row is the floor: libxml2's SAX pass over the same answer with the
 * same options and callbacks that do nothing (what the streaming parser
 * costs beyond it is its own work).
 *
 *   bench_ec2_parse [--stream-only] [INSTANCES [ROUNDS]]
 *
 * --stream-only runs the streaming parser alone (for a profiler, e.g.
 * valgrind --tool=callgrind), without the other rows.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/strbuf.h"
#include "daemon/ec2_msg.h"
#include "daemon/ec2_msg_internal.h"

static void
instance_xml(struct strbuf *sb, int i)
{
	int a = (i >> 8) & 0xff, b = i & 0xff;
	const char *state = i % 3 ? "running" : "stopped";
	int code = i % 3 ? 16 : 80;

	strbuf_printf(sb,
	    "<item><instanceId>i-0%016x</instanceId>"
	    "<imageId>ami-0123456789abcdef0</imageId>"
	    "<instanceState><code>%d</code><name>%s</name></instanceState>"
	    "<privateDnsName>ip-10-1-%d-%d.eu-west-1.compute.internal</privateDnsName>"
	    "<dnsName>ec2-203-0-%d-%d.eu-west-1.compute.amazonaws.com</dnsName>"
	    "<reason/><keyName>opencast-ops</keyName><amiLaunchIndex>0</amiLaunchIndex>"
	    "<productCodes/><instanceType>c5.2xlarge</instanceType>"
	    "<launchTime>2026-11-26T0%d:%02d:11.000Z</launchTime>"
	    "<placement><availabilityZone>eu-west-1a</availabilityZone>"
	    "<groupName/><tenancy>default</tenancy></placement>"
	    "<monitoring><state>disabled</state></monitoring>"
	    "<subnetId>subnet-0a1b2c3d4e5f60718</subnetId><vpcId>vpc-0a1b2c3d</vpcId>"
	    "<privateIpAddress>10.1.%d.%d</privateIpAddress>"
	    "<ipAddress>203.0.%d.%d</ipAddress>"
	    "<sourceDestCheck>true</sourceDestCheck>"
	    "<groupSet><item><groupId>sg-0123456789abcdef0</groupId>"
	    "<groupName>opencast-workers</groupName></item>"
	    "<item><groupId>sg-0fedcba9876543210</groupId>"
	    "<groupName>ssh-bastion</groupName></item></groupSet>"
	    "<architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType>"
	    "<rootDeviceName>/dev/xvda</rootDeviceName>"
	    "<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName>"
	    "<ebs><volumeId>vol-0%016x</volumeId><status>attached</status>"
	    "<attachTime>2025-03-01T10:00:00.000Z</attachTime>"
	    "<deleteOnTermination>true</deleteOnTermination></ebs></item>"
	    "<item><deviceName>/dev/sdf</deviceName>"
	    "<ebs><volumeId>vol-1%016x</volumeId><status>attached</status>"
	    "<attachTime>2025-03-01T10:00:00.000Z</attachTime>"
	    "<deleteOnTermination>false</deleteOnTermination></ebs></item>"
	    "</blockDeviceMapping>"
	    "<virtualizationType>hvm</virtualizationType>"
	    "<clientToken>opencast-%d</clientToken>"
	    "<tagSet><item><key>Name</key><value>bench-worker</value></item>"
	    "<item><key>cluster</key><value>bench</value></item>"
	    "<item><key>owner</key><value>media-services</value></item>"
	    "<item><key>cost-center</key><value>CC-4711</value></item>"
	    "<item><key>opencast:role</key><value>worker</value></item></tagSet>"
	    "<hypervisor>xen</hypervisor>"
	    "<networkInterfaceSet><item>"
	    "<networkInterfaceId>eni-0%016x</networkInterfaceId>"
	    "<subnetId>subnet-0a1b2c3d4e5f60718</subnetId><vpcId>vpc-0a1b2c3d</vpcId>"
	    "<description/><ownerId>111122223333</ownerId><status>in-use</status>"
	    "<macAddress>0a:1b:2c:%02x:%02x:01</macAddress>"
	    "<privateIpAddress>10.1.%d.%d</privateIpAddress>"
	    "<privateDnsName>ip-10-1-%d-%d.eu-west-1.compute.internal</privateDnsName>"
	    "<sourceDestCheck>true</sourceDestCheck>"
	    "<groupSet><item><groupId>sg-0123456789abcdef0</groupId>"
	    "<groupName>opencast-workers</groupName></item></groupSet>"
	    "<attachment><attachmentId>eni-attach-0%016x</attachmentId>"
	    "<deviceIndex>0</deviceIndex><status>attached</status>"
	    "<attachTime>2025-03-01T10:00:00.000Z</attachTime>"
	    "<deleteOnTermination>true</deleteOnTermination></attachment>"
	    "<association><publicIp>203.0.%d.%d</publicIp>"
	    "<publicDnsName>ec2-203-0-%d-%d.eu-west-1.compute.amazonaws.com</publicDnsName>"
	    "<ipOwnerId>amazon</ipOwnerId></association>"
	    "<privateIpAddressesSet><item><privateIpAddress>10.1.%d.%d</privateIpAddress>"
	    "<primary>true</primary></item></privateIpAddressesSet>"
	    "<ipv6AddressesSet/><interfaceType>interface</interfaceType>"
	    "</item></networkInterfaceSet>"
	    "<ebsOptimized>true</ebsOptimized><enaSupport>true</enaSupport>"
	    "<cpuOptions><coreCount>4</coreCount><threadsPerCore>2</threadsPerCore></cpuOptions>"
	    "<capacityReservationSpecification><capacityReservationPreference>open"
	    "</capacityReservationPreference></capacityReservationSpecification>"
	    "<hibernationOptions><configured>false</configured></hibernationOptions>"
	    "<metadataOptions><state>applied</state><httpTokens>required</httpTokens>"
	    "<httpPutResponseHopLimit>2</httpPutResponseHopLimit>"
	    "<httpEndpoint>enabled</httpEndpoint></metadataOptions>"
	    "<enclaveOptions><enabled>false</enabled></enclaveOptions>"
	    "<platformDetails>Linux/UNIX</platformDetails>"
	    "<usageOperation>RunInstances</usageOperation>"
	    "<privateDnsNameOptions><hostnameType>ip-name</hostnameType>"
	    "</privateDnsNameOptions>"
	    "<maintenanceOptions><autoRecovery>default</autoRecovery></maintenanceOptions>"
	    "<currentInstanceBootMode>legacy-bios</currentInstanceBootMode>"
	    "</item>",
	    i, code, state, a, b, a, b, i % 10, i % 60, a, b, a, b, i, i, i, i,
	    a, b, a, b, a, b, i, a, b, a, b, a, b);
}

static char *
build_answer(int n, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_puts(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/"
	    "2016-11-15/\"><requestId>bench</requestId><reservationSet>");
	for (int i = 0; i < n; i++) {
		/* Workers started together share a reservation of up to 8. */
		if (i % 8 == 0)
			strbuf_printf(&sb, "<item><reservationId>r-0%016x"
			    "</reservationId><ownerId>111122223333</ownerId>"
			    "<groupSet/><instancesSet>", i);
		instance_xml(&sb, i);
		if (i % 8 == 7 || i == n - 1)
			strbuf_puts(&sb, "</instancesSet></item>");
	}
	strbuf_puts(&sb, "</reservationSet></DescribeInstancesResponse>");
	return strbuf_detach(&sb, len);
}

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

typedef int parse_fn(const char *, size_t, struct ec2_instance_list *,
    char **, struct aws_error *);

static void
nop_start(void *ctx, const xmlChar *name, const xmlChar **attrs)
{
	(void)ctx; (void)name; (void)attrs;
}

static void
nop_end(void *ctx, const xmlChar *name)
{
	(void)ctx; (void)name;
}

static void
nop_characters(void *ctx, const xmlChar *ch, int len)
{
	(void)ctx; (void)ch; (void)len;
}

/* The floor: libxml2's SAX1 pass as the streaming parser runs it, with
 * callbacks that do nothing.  No instances; fails on malformed XML. */
static int
parse_sax_floor(const char *xml, size_t len, struct ec2_instance_list *out,
    char **next_token, struct aws_error *err)
{
	xmlParserCtxt *ctxt = xmlNewParserCtxt();
	xmlSAXHandler *sax;
	int ok;

	(void)out;
	*next_token = NULL;
	if (ctxt == NULL)
		abort();
	sax = ctxt->sax;
	memset(sax, 0, sizeof(*sax));
	sax->initialized = 1;
	sax->startElement = nop_start;
	sax->endElement = nop_end;
	sax->characters = nop_characters;
	xmlFreeDoc(xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL,
	    EC2_XML_OPTIONS));
	ok = ctxt->wellFormed;
	if (!ok)
		ec2_xml_malformed(ctxt, "DescribeInstances", err);
	xmlFreeParserCtxt(ctxt);
	return ok ? 0 : -1;
}

static const struct {
	const char *name;
	parse_fn *parse;
	bool	 instances;	/* it returns the instances */
} parsers[] = {
	{ "streaming", ec2_parse_describe_stream, true },
	{ "DOM", ec2_parse_describe_dom, true },
	{ "SAX floor", parse_sax_floor, false },
};
#define NPARSERS (sizeof(parsers) / sizeof(*parsers))

/* One round: the CPU seconds parser p takes for the answer, or -1. */
static double
round_of(size_t p, const char *xml, size_t len, int n)
{
	struct ec2_instance_list *l = ec2_instance_list_new();
	struct aws_error err;
	char *next = NULL;
	double t0, t;

	aws_error_clear(&err);
	t0 = cpu_now();
	if (parsers[p].parse(xml, len, l, &next, &err) != 0 ||
	    l->n != (parsers[p].instances ? (size_t)n : 0)) {
		fprintf(stderr, "%s parse failed: %s\n", parsers[p].name,
		    err.message);
		return -1;
	}
	ec2_instance_list_free(l);
	free(next);
	t = cpu_now() - t0;
	return t;
}

int
main(int argc, char **argv)
{
	bool stream_only = argc > 1 && strcmp(argv[1], "--stream-only") == 0;
	size_t nparsers = stream_only ? 1 : NPARSERS;
	int n, rounds;
	double *t[NPARSERS], med[NPARSERS];
	size_t len;
	char *xml;

	if (stream_only) {
		argc--;
		argv++;
	}
	n = argc > 1 ? atoi(argv[1]) : 1000;
	rounds = argc > 2 ? atoi(argv[2]) : 101;
	if (n < 1 || rounds < 1) {
		fprintf(stderr, "usage: bench_ec2_parse [--stream-only] "
		    "[INSTANCES [ROUNDS]]\n");
		return 2;
	}
	xml = build_answer(n, &len);
	for (size_t p = 0; p < nparsers; p++)
		t[p] = calloc((size_t)rounds, sizeof(double));
	for (int r = -3; r < rounds; r++) {	/* three warm-up rounds */
		for (size_t p = 0; p < nparsers; p++) {
			double s = round_of(p, xml, len, n);

			if (s < 0)
				return 1;
			if (r >= 0)
				t[p][r] = s;
		}
	}
	printf("ec2_parse: %d instances, %.1f KiB answer (%.0f bytes/instance), "
	    "%d rounds\n", n, (double)len / 1024, (double)len / n, rounds);
	for (size_t p = 0; p < nparsers; p++) {
		qsort(t[p], (size_t)rounds, sizeof(double), cmp_double);
		med[p] = t[p][rounds / 2];
		printf("ec2_parse: %-9s median %.3f ms CPU per answer "
		    "(%.3f ms per 1,000 instances), %.0f instances/s, "
		    "%.1f MB/s (min %.3f ms, max %.3f ms)\n", parsers[p].name,
		    med[p] * 1e3, med[p] * 1e6 / n, n / med[p],
		    (double)len / med[p] / 1e6, t[p][0] * 1e3,
		    t[p][rounds - 1] * 1e3);
	}
	if (!stream_only)
		printf("ec2_parse: streaming/DOM %.2f of the CPU, streaming "
		    "beyond the SAX floor %.3f ms per 1,000 instances (target: "
		    "at most 8 ms per 1,000 instances)\n", med[0] / med[1],
		    (med[0] - med[2]) * 1e6 / n);
	for (size_t p = 0; p < nparsers; p++)
		free(t[p]);
	free(xml);
	return 0;
}
