/*
 * The daemon core of the control-line fuzz targets (daemon_fixture.h).
 */
#include "tests/fuzz/daemon_fixture.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <uv.h>

#include "common/log.h"
#include "common/protocol.h"
#include "common/strbuf.h"
#include "common/timeutil.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "daemon/commands.h"
#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/core.h"
#include "daemon/cluster.h"
#include "daemon/daemon.h"
#include "daemon/ec2_msg.h"
#include "tests/fuzz/fuzz.h"

/* How long one exchange may run the loop: an operation that waits on
 * timers goes on in the background, and its client is gone. */
#define EXCHANGE_MAX_MS	200

static uv_loop_t loop;
static struct daemon d;
static char *sock_path;

static void
write_config(const char *path, const char *dir)
{
	FILE *f = fopen(path, "w");

	FUZZ_CHECK(f != NULL, "cannot write %s", path);
	fprintf(f,
	    "[daemon]\nsocket = %s/ctl.sock\nstate_dir = %s/state\n"
	    "log_level = err\n"
	    "[aws]\nregion = eu-west-1\nendpoint = http://127.0.0.1:1\n"
	    "[opencast]\ntimeout = 1s\n"
	    "[defaults]\nadmin_url = http://127.0.0.1:1\n"
	    "refresh_interval = 1h\nautoscale_interval = 1h\n"
	    "wait_interval = 1s\nwait_retries = 1\nmin_workers = 1\n"
	    "autoscale = on\n"
	    "[cluster dev04]\n"
	    "[cluster dev05]\nbilling = per-second\nmax_queued_jobs = 2\n",
	    dir, dir);
	FUZZ_CHECK(fclose(f) == 0, "cannot write %s", path);
}

void
fixture_init(void)
{
	const char *dir = fuzz_tmpdir();
	char *conf = fuzz_path("ec2-manager.conf"), *state = fuzz_path("state");
	struct config *cfg = NULL;
	char err[1024];

	if (sock_path != NULL)
		return;
	signal(SIGPIPE, SIG_IGN);
	log_init("fuzz", LOG_CRIT);
	setenv("AWS_ACCESS_KEY_ID", "AKIDFUZZ", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "fuzz-secret", 1);
	setenv("AWS_MAX_ATTEMPTS", "1", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("OPENCAST_USER", "admin", 1);
	setenv("OPENCAST_PASSWORD", "opencast", 1);
	unsetenv("ZADARA_ACCOUNT_TOKEN");
	mkdir(state, 0700);
	write_config(conf, dir);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	xmlInitParser();
	uv_loop_init(&loop);
	FUZZ_CHECK(config_load(conf, &cfg, err, sizeof(err)) == 0, "%s", err);
	FUZZ_CHECK(daemon_core_init(&d, &loop, cfg, err, sizeof(err)) == 0,
	    "%s", err);
	d.control = control_new(&loop, commands_dispatch, &d);
	sock_path = xasprintf("%s/ctl.sock", dir);
	FUZZ_CHECK(control_listen_path(d.control, sock_path, "", err,
	    sizeof(err)) == 0, "%s", err);
	free(conf);
	free(state);
}

struct cluster *
fixture_cluster(const char *name)
{
	struct cluster *c = cluster_find(&d, name);

	FUZZ_CHECK(c != NULL, "no cluster %s", name);
	return c;
}

static void
add(struct ec2_instance_list *l, const char *id, const char *name,
    size_t namelen, enum ec2_state state, bool held)
{
	struct ec2_instance *i;
	static unsigned ip;

	l->v = xgrow(l->v, &l->cap, l->n + 1, sizeof(*l->v));
	i = &l->v[l->n++];
	memset(i, 0, sizeof(*i));
	i->id = pool_strdup(&l->pool, id);
	i->name = pool_strndup(&l->pool, name, namelen);
	i->state = state;
	i->launch_time_ms = time_now_ms() - 3600 * 1000;
	if (state == EC2_STATE_RUNNING) {
		char addr[32];

		snprintf(addr, sizeof(addr), "10.0.%u.%u", (ip >> 8) & 255,
		    ip & 255);
		ip++;
		i->private_ip = pool_strdup(&l->pool, addr);
	}
	if (held) {
		i->tags = pool_alloc(&l->pool, sizeof(*i->tags));
		i->tags[0].key = "hold";
		i->tags[0].value = "fuzz";
		i->ntags = 1;
	}
}

void
fixture_set_instances(struct cluster *c, const char *const *names,
    const size_t *lens, size_t n, const char *error, size_t errlen)
{
	static const char *const support[] = { "admin", "engage", "db", "nfs" };
	struct ec2_instance_list *l = ec2_instance_list_new();
	struct strbuf sb = STRBUF_INIT;
	char id[32];

	for (size_t k = 0; k < 4; k++) {
		strbuf_reset(&sb);
		strbuf_printf(&sb, "%s-%s", c->name, support[k]);
		snprintf(id, sizeof(id), "i-%s%zu", support[k], k);
		add(l, id, strbuf_str(&sb), sb.len, EC2_STATE_RUNNING, false);
	}
	for (size_t k = 0; k < n; k++) {
		strbuf_reset(&sb);
		strbuf_printf(&sb, "%s-worker", c->name);
		strbuf_append(&sb, names[k], lens[k]);
		snprintf(id, sizeof(id), "i-w%zu", k);
		add(l, id, sb.buf, sb.len, k % 3 == 2 ? EC2_STATE_STOPPED :
		    EC2_STATE_RUNNING, k % 2 == 1);
	}
	strbuf_release(&sb);
	ec2_instance_list_free(c->instances);
	c->instances = l;
	c->ec2_at_ms = c->updated_ms = time_now_ms();
	free(c->ec2_error);
	c->ec2_error = error ? xstrndup(error, errlen) : NULL;
	c->ec2_ok = error == NULL;
}

/* Checks one line the daemon wrote; returns the id of a final reply, or
 * -1 for an event. */
static int64_t
check_line(const char *line, size_t len, bool *final)
{
	json_error_t jerr;
	json_t *o, *id;
	int64_t v;

	FUZZ_CHECK(utf8_valid(line, len), "a reply line is not valid UTF-8");
	o = json_loadb(line, len, 0, &jerr);
	FUZZ_CHECK(o != NULL, "a reply line is not JSON: %s: %.*s", jerr.text,
	    (int)(len > 200 ? 200 : len), line);
	FUZZ_CHECK(json_is_object(o), "a reply line is not an object");
	id = json_object_get(o, "id");
	FUZZ_CHECK(json_is_integer(id), "a reply line without an id");
	*final = json_object_get(o, "ok") != NULL;
	if (*final)
		FUZZ_CHECK(json_is_boolean(json_object_get(o, "ok")),
		    "\"ok\" is not a boolean");
	v = json_integer_value(id);
	json_decref(o);
	return v;
}

/* The id a request line should be answered with: its integer "id" when
 * it is a JSON object that has one, else 0.  A NUL byte is part of the
 * line and makes it malformed, whether the line waited in the queue or
 * not. */
static int64_t
expected_id(const char *line, size_t len)
{
	json_t *o, *id;
	int64_t v = 0;

	if (memchr(line, '\0', len) != NULL)
		return 0;
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	id = json_is_object(o) ? json_object_get(o, "id") : NULL;
	if (json_is_integer(id))
		v = json_integer_value(id);
	json_decref(o);
	return v;
}

void
fixture_exchange(const char *data, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct strbuf in = STRBUF_INIT;
	int64_t *want = NULL, got_ids[256];
	size_t nwant = 0, wantcap = 0, ngot = 0, sent = 0, start;
	uint64_t deadline = uv_now(&loop) + EXCHANGE_MAX_MS;
	bool closed = false;
	int fd;

	/* The request lines the daemon will read (blank ones are skipped;
	 * a line with no newline at the end still counts). */
	start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && data[i] != '\n')
			continue;
		if (i > start) {
			want = xgrow(want, &wantcap, nwant + 1, sizeof(*want));
			want[nwant++] = expected_id(data + start, i - start);
		}
		start = i + 1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(fd >= 0, "socket: %s", strerror(errno));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	FUZZ_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
	    "connect: %s", strerror(errno));
	while (!closed) {
		char buf[65536];
		ssize_t n;

		if (sent < len) {
			n = send(fd, data + sent, len - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				sent = len;	/* the daemon closed */
			if (sent == len)
				shutdown(fd, SHUT_WR);
		}
		uv_run(&loop, UV_RUN_NOWAIT);
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
			strbuf_append(&in, buf, (size_t)n);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			closed = true;
		if (!closed && uv_now(&loop) > deadline)
			break;
		if (!closed) {
			/* Sleep until the daemon's loop or the client's end
			 * has something to do. */
			struct pollfd pfd[2] = {
				{ .fd = fd, .events = POLLIN },
				{ .fd = uv_backend_fd(&loop),
				  .events = POLLIN },
			};
			int t = uv_backend_timeout(&loop);

			poll(pfd, 2, t < 0 || t > 5 ? 5 : t);
		}
		uv_update_time(&loop);
	}
	close(fd);
	/* Every line written is valid; finals come in request order. */
	start = 0;
	for (size_t i = 0; i < in.len; i++) {
		bool final;
		int64_t id;

		if (in.buf[i] != '\n')
			continue;
		id = check_line(in.buf + start, i - start, &final);
		if (final && ngot < sizeof(got_ids) / sizeof(got_ids[0]))
			got_ids[ngot++] = id;
		start = i + 1;
	}
	FUZZ_CHECK(start == in.len, "the daemon wrote a line without a "
	    "newline");
	if (closed && ngot == nwant && nwant <= sizeof(got_ids) /
	    sizeof(got_ids[0]) && len <= PROTO_MAX_LINE)
		for (size_t i = 0; i < nwant; i++)
			FUZZ_CHECK(got_ids[i] == want[i], "reply %zu has id "
			    "%lld, not %lld", i, (long long)got_ids[i],
			    (long long)want[i]);
	free(want);
	strbuf_release(&in);
}
