/*
 * The command line of ec2ctl (SPEC §4): global options, then a cluster, then
 * one or more commands with their arguments.  The commands themselves come
 * from common/commands.def; this file adds only their argument grammar, one
 * table row per command, so a command added to the protocol is accepted
 * here at once (without arguments until it gets a row).  Parsing is pure:
 * argv in, a list of requests or a message out, nothing printed or sent.
 */
#include "ctl/ec2ctl.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/utf8.h"
#include "common/xalloc.h"

/* What an argument of a command looks like. */
enum arg_type {
	ARG_NONE,		/* no argument: ends a list */
	ARG_FLAG,		/* an option without a value, which sets true */
	ARG_COUNT,		/* a whole number in [min, max] */
	ARG_WORD,		/* one of words[] */
};

/* Where the value of an argument goes. */
enum arg_dest {
	DEST_ARGS,		/* the member key of the request's "args" */
	DEST_FORMAT,		/* struct ctl_request's format */
	DEST_WATCH,		/* struct ctl_request's watch */
	DEST_ALL,		/* struct ctl_request's all */
	DEST_FOLLOW,		/* struct ctl_request's follow, and the key */
};

struct arg_spec {
	enum arg_type type;
	char	 short_name;	/* an option's -x; 0: none */
	const char *long_name;	/* an option's --name; NULL: a positional */
	enum arg_dest dest;
	const char *key;	/* DEST_ARGS */
	const char *const *words;	/* ARG_WORD */
	long	 min;		/* ARG_COUNT */
	long	 max;
	bool	 required;	/* positionals only */
	bool	 has_default;	/* set key to the default when absent */
	long	 def_count;	/* ARG_COUNT and ARG_FLAG (0 or 1) */
	const char *def_word;	/* ARG_WORD */
	const char *help;	/* for "ec2ctl help COMMAND" */
};

#define CMD_MAX_OPTIONS	5

struct cmd_syntax {
	const char *synopsis;		/* the arguments, for --help */
	const char *notes;		/* more for "ec2ctl help COMMAND" */
	struct arg_spec positional;	/* ARG_NONE: takes none */
	struct arg_spec options[CMD_MAX_OPTIONS + 1];	/* ends with ARG_NONE */
};

static const char *const format_words[] = { "json", "table", NULL };
static const char *const direction_words[] = { "up", "down", NULL };
static const char *const mode_words[] = { "on", "off", NULL };
static const char *const action_words[] = { "pause", "resume", NULL };

/*
 * The argument grammar of each command.  A command without a row takes no
 * arguments and is sent with "args":{}.  The keys are what the daemon
 * expects in "args"; defaults that the daemon should not have to guess are
 * filled in here.
 */
static const struct cmd_syntax syntaxes[PROTO_CMD_COUNT] = {
	[PROTO_CMD_STATUS] = {
		.synopsis = "[--refresh] [--watch] [--all]",
		.notes = "The status object's keys are described in "
		    "ec2ctl(1); a value that is not\nknown is null.",
		.options = {
			{ .type = ARG_FLAG, .long_name = "refresh",
			  .key = "refresh", .has_default = true,
			  .def_count = 0, .help = "read EC2 and Opencast "
			  "first\n(exit 1 if that fails)" },
			{ .type = ARG_FLAG, .long_name = "watch",
			  .dest = DEST_WATCH, .help = "ask again every 2 s "
			  "until Ctrl-C\n(must be the last command)" },
			/* The table lists every instance even of a large
			 * cluster. */
			{ .type = ARG_FLAG, .long_name = "all",
			  .dest = DEST_ALL, .help = "list every instance of "
			  "a large cluster" },
		},
	},
	[PROTO_CMD_START] = {
		.synopsis = "[-w N]",
		.notes = "Starts the support nodes, then the Opencast nodes "
		    "and workers, waits until\nOpencast answers and takes "
		    "the nodes out of maintenance.",
		.options = {
			{ .type = ARG_COUNT, .short_name = 'w',
			  .long_name = "workers", .key = "workers", .min = 0,
			  .max = PROTO_MAX_WORKERS, .help = "workers to have "
			  "running (default: min_workers)" },
		},
	},
	[PROTO_CMD_SCALE] = {
		.synopsis = "up|down [-w N]",
		.notes = "scale down stops idle workers only, longest "
		    "uptime first, and never a held\none; with --force "
		    "busy workers too.",
		.positional = { .type = ARG_WORD, .key = "direction",
		    .words = direction_words, .required = true },
		.options = {
			{ .type = ARG_COUNT, .short_name = 'w',
			  .long_name = "workers", .key = "workers", .min = 1,
			  .max = PROTO_MAX_WORKERS, .has_default = true,
			  .def_count = 1, .help = "how many workers to start "
			  "or stop (default 1)" },
		},
	},
	[PROTO_CMD_SCALE_TO] = {
		.synopsis = "N",
		.notes = "N equal to the running workers is success with "
		    "nothing to do; \"scale-to\"\nis another name for it.",
		.positional = { .type = ARG_COUNT, .key = "workers", .min = 0,
		    .max = PROTO_MAX_WORKERS, .required = true },
	},
	[PROTO_CMD_MAINTENANCE] = {
		.synopsis = "on|off",
		.notes = "Sets every running Opencast node and waits until "
		    "Opencast reports it.",
		.positional = { .type = ARG_WORD, .key = "mode",
		    .words = mode_words, .required = true },
	},
	[PROTO_CMD_AUTOSCALE] = {
		.synopsis = "[pause|resume]",
		.notes = "Without an argument: one evaluation now, as a "
		    "timer tick does it; pause and\nresume switch "
		    "autoscaling of the cluster off and on (kept across "
		    "restarts).",
		.positional = { .type = ARG_WORD, .key = "action",
		    .words = action_words, .has_default = true,
		    .def_word = "evaluate" },
	},
	[PROTO_CMD_EVENTS] = {
		.synopsis = "[-n N] [--follow]",
		.notes = "Decisions of the autoscaler, operations and their "
		    "outcomes, refresh failures\nand reloads, oldest "
		    "first.",
		.options = {
			{ .type = ARG_COUNT, .short_name = 'n',
			  .long_name = "count", .key = "n", .min = 1,
			  .max = PROTO_MAX_EVENTS, .has_default = true,
			  .def_count = 20, .help = "how many of the newest "
			  "(1 to 500, default 20)" },
			{ .type = ARG_FLAG, .long_name = "follow",
			  .key = "follow", .dest = DEST_FOLLOW,
			  .help = "then new events as they happen, until\n"
			  "Ctrl-C (must be the last command)" },
		},
	},
};

/* Options that every command takes, after its own. */
static const struct arg_spec common_options[] = {
	{ .type = ARG_WORD, .short_name = 'f', .long_name = "format",
	  .dest = DEST_FORMAT, .words = format_words,
	  .help = "json: JSON lines; table: for people\n(default: table "
	  "on a terminal, else json)" },
	/* "status --json" as people type it: -f json. */
	{ .type = ARG_FLAG, .short_name = 'j', .long_name = "json",
	  .dest = DEST_FORMAT, .help = "the same as -f json" },
	{ .type = ARG_NONE },
};

/* Other names a command may be typed as. */
static const struct {
	const char *name;
	enum proto_cmd cmd;
} aliases[] = {
	{ "scale-to", PROTO_CMD_SCALE_TO },
};

/* The global options; the letters must match optstring in ctl_parse(). */
enum {
	OPT_NO_WAIT = 256,
};

static const struct option global_options[] = {
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "debug", no_argument, NULL, 'd' },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "force", no_argument, NULL, 'f' },
	{ "json", no_argument, NULL, 'j' },
	{ "socket", required_argument, NULL, 's' },
	{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct {
	const char *opts;
	const char *help;
} global_help[] = {
	{ "-v, --verbose", "show the daemon's log events (the default)" },
	{ "-q, --quiet", "show only warnings and errors" },
	{ "-d, --debug", "show debug events too" },
	{ "-n, --dry-run", "check every rule, change nothing" },
	{ "-f, --force", "override the limits that allow it" },
	{ "-j, --json", "JSON lines on stdout even on a terminal, and no\n"
	    "events for people on stderr" },
	{ "-s, --socket PATH", "the daemon's socket (default: $"
	    PROTO_SOCKET_ENV ",\nelse " PROTO_DEFAULT_SOCKET ")" },
	{ "    --no-wait", "return once the operation is accepted" },
	{ "    --version", "show ec2ctl's and the daemon's versions" },
	{ "-h, --help", "show this help" },
};

static const struct proto_cmd_info *
find_command(const char *name)
{
	const struct proto_cmd_info *info = proto_cmd_find(name);

	if (info != NULL)
		return info;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(*aliases); i++)
		if (strcmp(aliases[i].name, name) == 0)
			return &proto_cmds[aliases[i].cmd];
	return NULL;
}

/* True if s is one of the global options, so that a message can say it
 * belongs before the cluster. */
static bool
is_global_option(const char *s)
{
	size_t n;

	if (s[0] != '-')
		return false;
	if (s[1] != '-')
		return s[1] != '\0' && s[2] == '\0' &&
		    strchr("vqdnfjsh", s[1]) != NULL;
	n = strcspn(s + 2, "=");
	for (const struct option *o = global_options; o->name; o++)
		if (strlen(o->name) == n && strncmp(o->name, s + 2, n) == 0)
			return true;
	return false;
}

/* "up|down". */
static void
words_text(const char *const *words, char *buf, size_t len)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; words[i]; i++) {
		if (i > 0)
			strbuf_putc(&sb, '|');
		strbuf_puts(&sb, words[i]);
	}
	snprintf(buf, len, "%s", strbuf_str(&sb));
	strbuf_release(&sb);
}

static bool
word_in(const char *const *words, const char *s)
{
	for (size_t i = 0; words[i]; i++)
		if (strcmp(words[i], s) == 0)
			return true;
	return false;
}

/* Reads a whole number made of digits only (no sign, no spaces).  Returns
 * false when s is not one or is out of [min, max]. */
static bool
parse_count(const char *s, long min, long max, long *out)
{
	size_t n = strlen(s);
	long v = 0;

	if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
		return false;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* How an argument is named in messages: "-w", "--refresh", or, for a
 * positional, what it should be. */
static void
arg_name(const struct arg_spec *a, char *buf, size_t len)
{
	if (a->long_name == NULL) {
		if (a->type == ARG_WORD)
			words_text(a->words, buf, len);
		else
			snprintf(buf, len, "N");
	} else if (a->short_name)
		snprintf(buf, len, "-%c", a->short_name);
	else
		snprintf(buf, len, "--%s", a->long_name);
}

/* Stores the value of argument a, given as text in value (NULL for a
 * flag).  Returns -1 with a message in err if the value is not valid. */
static int
set_arg(const struct arg_spec *a, const char *cmd, const char *value,
    struct ctl_request *r, char *err, size_t errlen)
{
	char name[64];
	long n;

	arg_name(a, name, sizeof(name));
	switch (a->type) {
	case ARG_FLAG:
		if (a->dest == DEST_WATCH)
			r->watch = true;
		else if (a->dest == DEST_ALL)
			r->all = true;
		else if (a->dest == DEST_FOLLOW) {
			r->follow = true;
			json_object_set_new(r->args, a->key, json_true());
		}
		else if (a->dest == DEST_FORMAT)
			r->format = CTL_FORMAT_JSON;
		else
			json_object_set_new(r->args, a->key, json_true());
		return 0;
	case ARG_COUNT:
		if (!parse_count(value, a->min, a->max, &n)) {
			if (a->long_name == NULL)
				snprintf(err, errlen, "%s: the number of "
				    "workers must be a number from %ld to "
				    "%ld, not \"%s\"", cmd, a->min, a->max,
				    value);
			else
				snprintf(err, errlen, "%s: %s must be a "
				    "number from %ld to %ld, not \"%s\"", cmd,
				    name, a->min, a->max, value);
			return -1;
		}
		json_object_set_new(r->args, a->key, json_integer(n));
		return 0;
	case ARG_WORD:
		if (!word_in(a->words, value)) {
			char words[64];

			words_text(a->words, words, sizeof(words));
			if (a->long_name == NULL)
				snprintf(err, errlen, "%s: expected %s, not "
				    "\"%s\"", cmd, words, value);
			else
				snprintf(err, errlen, "%s: %s must be %s, not "
				    "\"%s\"", cmd, name, words, value);
			return -1;
		}
		if (a->dest == DEST_FORMAT)
			r->format = strcmp(value, "json") == 0 ?
			    CTL_FORMAT_JSON : CTL_FORMAT_TABLE;
		else
			json_object_set_new(r->args, a->key,
			    json_text(value));
		return 0;
	case ARG_NONE:
		break;
	}
	return 0;
}

/* Finds the option of syntax s that tok ("-w", "-w3", "--workers",
 * "--workers=3") names; *inline_value points at a value given in tok. */
static const struct arg_spec *
find_option_in(const struct arg_spec *opts, const char *tok,
    const char **inline_value)
{
	*inline_value = NULL;
	for (const struct arg_spec *a = opts; a->type != ARG_NONE; a++) {
		if (tok[1] == '-') {
			size_t n = strcspn(tok + 2, "=");

			if (strlen(a->long_name) != n ||
			    strncmp(a->long_name, tok + 2, n) != 0)
				continue;
			if (tok[2 + n] == '=')
				*inline_value = tok + 3 + n;
			return a;
		}
		if (a->short_name != 0 && tok[1] == a->short_name) {
			if (tok[2] != '\0')
				*inline_value = tok + 2;
			return a;
		}
	}
	return NULL;
}

static const struct arg_spec *
find_option(const struct cmd_syntax *s, const char *tok,
    const char **inline_value)
{
	const struct arg_spec *a = find_option_in(s->options, tok,
	    inline_value);

	return a ? a : find_option_in(common_options, tok, inline_value);
}

/* Parses the arguments of one command, starting at argv[*i], up to the
 * next command.  Returns -1 with a message in err on a usage error. */
static int
parse_command_args(const struct cmd_syntax *s, const char *cmd, int argc,
    char *argv[], int *i, struct ctl_request *r, bool *help, char *err,
    size_t errlen)
{
	const struct arg_spec *pos = &s->positional;
	bool have_pos = false;

	while (*i < argc) {
		const char *tok = argv[*i], *value;
		const struct arg_spec *a;

		/* A negative number is a bad count, not an option. */
		if (tok[0] == '-' && tok[1] != '\0' &&
		    !(pos->type == ARG_COUNT && !have_pos &&
		    strspn(tok + 1, "0123456789") == strlen(tok + 1))) {
			/* Help wins over whatever else is wrong. */
			if (strcmp(tok, "-h") == 0 ||
			    strcmp(tok, "--help") == 0) {
				*help = true;
				return 0;
			}
			a = find_option(s, tok, &value);
			if (a == NULL) {
				if (is_global_option(tok))
					snprintf(err, errlen, "%s: %s is a "
					    "global option; give it before "
					    "the cluster", cmd, tok);
				else
					snprintf(err, errlen, "%s: unknown "
					    "option \"%s\"", cmd, tok);
				return -1;
			}
			if (a->type == ARG_FLAG && value != NULL) {
				snprintf(err, errlen, "%s: --%s takes no "
				    "value", cmd, a->long_name);
				return -1;
			}
			if (a->type != ARG_FLAG && value == NULL) {
				if (*i + 1 >= argc) {
					char name[64];

					arg_name(a, name, sizeof(name));
					snprintf(err, errlen, "%s: %s needs a "
					    "value%s", cmd, name,
					    a->dest == DEST_FORMAT ? " (after "
					    "a command, -f is its format; "
					    "--force goes before the cluster)"
					    : "");
					return -1;
				}
				value = argv[++(*i)];
			}
			if (set_arg(a, cmd, value, r, err, errlen) != 0)
				return -1;
			(*i)++;
			continue;
		}
		if (pos->type == ARG_NONE || have_pos)
			break;
		/* An optional word that does not fit starts the next
		 * command: "autoscale stop" is two commands. */
		if (pos->type == ARG_WORD && !pos->required &&
		    !word_in(pos->words, tok))
			break;
		if (set_arg(pos, cmd, tok, r, err, errlen) != 0)
			return -1;
		have_pos = true;
		(*i)++;
	}
	if (pos->type != ARG_NONE && pos->required && !have_pos) {
		char name[64];

		arg_name(pos, name, sizeof(name));
		if (pos->type == ARG_COUNT)
			snprintf(err, errlen, "%s: missing the number of "
			    "workers", cmd);
		else
			snprintf(err, errlen, "%s: missing %s", cmd, name);
		return -1;
	}
	return 0;
}

/* Fills in the default of argument a when it was not given. */
static void
apply_default(const struct arg_spec *a, struct ctl_request *r)
{
	if (a->type == ARG_NONE || !a->has_default || a->dest != DEST_ARGS ||
	    json_object_get(r->args, a->key) != NULL)
		return;
	if (a->type == ARG_WORD)
		json_object_set_new(r->args, a->key, json_text(a->def_word));
	else if (a->type == ARG_FLAG)
		json_object_set_new(r->args, a->key,
		    json_boolean(a->def_count));
	else
		json_object_set_new(r->args, a->key,
		    json_integer(a->def_count));
}

static void
apply_defaults(const struct cmd_syntax *s, struct ctl_request *r)
{
	apply_default(&s->positional, r);
	for (const struct arg_spec *a = s->options; a->type != ARG_NONE; a++)
		apply_default(a, r);
}

/* True if -h or --help is among the arguments of the command before
 * argv[from] (up to the next command). */
static bool
argv_has_help(int argc, char *argv[], int from)
{
	for (int k = from; k < argc; k++) {
		if (find_command(argv[k]) != NULL)
			return false;
		if (strcmp(argv[k], "-h") == 0 ||
		    strcmp(argv[k], "--help") == 0)
			return true;
	}
	return false;
}

/* Parses the commands from argv[i] on.  Whether inv->cluster is set
 * decides which commands may follow. */
static int
parse_commands(struct ctl_invocation *inv, int argc, char *argv[], int i,
    char *err, size_t errlen)
{
	size_t cap = 0;

	while (i < argc) {
		const char *tok = argv[i];
		const struct proto_cmd_info *info;
		struct ctl_request *r;

		if (tok[0] == '-' && tok[1] != '\0') {
			if (is_global_option(tok))
				snprintf(err, errlen, "%s is a global option; "
				    "give it before the cluster", tok);
			else
				snprintf(err, errlen, "expected a command, "
				    "not the option \"%s\"", tok);
			return -1;
		}
		info = find_command(tok);
		if (info == NULL) {
			snprintf(err, errlen, "unknown command \"%s\"", tok);
			return -1;
		}
		/* "ec2ctl CLUSTER stop --help" is about stop, whatever
		 * else is wrong. */
		if (argv_has_help(argc, argv, i + 1)) {
			inv->help = true;
			inv->help_cmd = info;
			return 0;
		}
		if (inv->cluster != NULL && (info->flags & CMD_F_NO_CLUSTER)) {
			snprintf(err, errlen, "%s takes no cluster: use "
			    "\"ec2ctl %s\"", info->name, info->name);
			return -1;
		}
		if (inv->cluster == NULL &&
		    !(info->flags & CMD_F_NO_CLUSTER)) {
			snprintf(err, errlen, "%s needs a cluster: use "
			    "\"ec2ctl CLUSTER %s\"", info->name, info->name);
			return -1;
		}
		inv->reqs = xgrow(inv->reqs, &cap, inv->nreqs + 1,
		    sizeof(*inv->reqs));
		r = &inv->reqs[inv->nreqs++];
		memset(r, 0, sizeof(*r));
		r->cmd = info;
		r->args = json_object();
		r->format = CTL_FORMAT_AUTO;
		i++;
		if (parse_command_args(&syntaxes[info->cmd], tok, argc, argv,
		    &i, r, &inv->help, err, errlen) != 0)
			return -1;
		if (inv->help)
			return 0;
		apply_defaults(&syntaxes[info->cmd], r);
	}
	return 0;
}

int
ctl_parse(int argc, char *argv[], struct ctl_invocation *inv, char *err,
    size_t errlen)
{
	const struct proto_cmd_info *first;
	int c;

	memset(inv, 0, sizeof(*inv));
	inv->level = PROTO_LEVEL_INFO;
	inv->wait = true;
	err[0] = '\0';

	/* "+": stop at the cluster, the options after it are the
	 * commands'.  ":": report a missing value apart from an unknown
	 * option.  optind = 0 starts getopt afresh on every call. */
	optind = 0;
	opterr = 0;
	for (;;) {
		/* The element getopt is about to read, for messages. */
		int at = optind > 0 ? optind : 1;

		c = getopt_long(argc, argv, "+:vqdnfjs:h", global_options,
		    NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'v':
			inv->level = PROTO_LEVEL_INFO;
			break;
		case 'q':
			inv->level = PROTO_LEVEL_WARNING;
			break;
		case 'd':
			inv->level = PROTO_LEVEL_DEBUG;
			break;
		case 'n':
			inv->dry_run = true;
			break;
		case 'f':
			inv->force = true;
			break;
		case 'j':
			inv->json = true;
			break;
		case 's':
			if (optarg[0] == '\0') {
				snprintf(err, errlen, "--socket needs a path");
				return -1;
			}
			inv->socket = optarg;
			break;
		case OPT_NO_WAIT:
			inv->wait = false;
			break;
		case 'V':
			inv->version = true;
			break;
		case 'h':
			inv->help = true;
			break;
		case ':':
			snprintf(err, errlen, "option %s needs a value",
			    argv[at]);
			return -1;
		default:
			if (strncmp(argv[at], "--", 2) == 0 &&
			    is_global_option(argv[at]))
				snprintf(err, errlen, "option %.*s takes no "
				    "value", (int)strcspn(argv[at], "="),
				    argv[at]);
			else if (strncmp(argv[at], "--", 2) == 0)
				snprintf(err, errlen, "unknown option %s",
				    argv[at]);
			else
				snprintf(err, errlen, "unknown option -%c",
				    optopt);
			return -1;
		}
	}
	if (inv->help || inv->version)
		return 0;
	if (optind >= argc) {
		snprintf(err, errlen, "missing cluster and command");
		return -1;
	}
	/* "ec2ctl help [COMMAND]": offline, like --help. */
	if (strcmp(argv[optind], "help") == 0) {
		inv->help = true;
		if (optind + 1 >= argc)
			return 0;
		inv->help_cmd = find_command(argv[optind + 1]);
		if (inv->help_cmd == NULL) {
			snprintf(err, errlen, "help: unknown command \"%s\"",
			    argv[optind + 1]);
			return -1;
		}
		if (optind + 2 < argc) {
			snprintf(err, errlen, "help takes one command, not "
			    "\"%s\"", argv[optind + 2]);
			return -1;
		}
		return 0;
	}
	first = find_command(argv[optind]);
	/* "ec2ctl status --help": help without a cluster. */
	if (first != NULL && argv_has_help(argc, argv, optind + 1)) {
		inv->help = true;
		inv->help_cmd = first;
		return 0;
	}
	if (first != NULL && (first->flags & CMD_F_NO_CLUSTER))
		return parse_commands(inv, argc, argv, optind, err, errlen);
	if (first != NULL && optind + 1 == argc) {
		snprintf(err, errlen, "missing cluster before \"%s\"",
		    argv[optind]);
		return -1;
	}
	if (!proto_cluster_name_valid(argv[optind])) {
		snprintf(err, errlen, "invalid cluster name \"%.80s\" "
		    "(letters, digits, '-', '_' and '.', at most %d)",
		    argv[optind], PROTO_MAX_CLUSTER_NAME);
		return -1;
	}
	inv->cluster = argv[optind];
	if (optind + 1 >= argc) {
		snprintf(err, errlen, "missing command after \"%s\"",
		    inv->cluster);
		return -1;
	}
	if (parse_commands(inv, argc, argv, optind + 1, err, errlen) != 0)
		return -1;
	if (inv->help)
		return 0;
	for (size_t i = 0; i < inv->nreqs; i++) {
		struct ctl_request *r = &inv->reqs[i];

		if (r->watch && i + 1 < inv->nreqs) {
			snprintf(err, errlen, "status --watch must be the "
			    "last command");
			return -1;
		}
		if (r->follow && i + 1 < inv->nreqs) {
			snprintf(err, errlen, "events --follow must be the "
			    "last command");
			return -1;
		}
	}
	return 0;
}

void
ctl_invocation_release(struct ctl_invocation *inv)
{
	for (size_t i = 0; i < inv->nreqs; i++)
		json_decref(inv->reqs[i].args);
	free(inv->reqs);
	inv->reqs = NULL;
	inv->nreqs = 0;
}

char *
ctl_request_line(const struct ctl_invocation *inv, size_t i, int64_t id)
{
	const struct ctl_request *r = &inv->reqs[i];

	return proto_request_encode(id, r->cmd->name, inv->cluster, r->args,
	    inv->dry_run, inv->force, inv->wait, inv->level);
}

void
ctl_usage_short(FILE *fp)
{
	fprintf(fp, "usage: ec2ctl [OPTIONS] CLUSTER COMMAND [ARGS]... "
	    "[COMMAND [ARGS]...]...\n"
	    "       ec2ctl [OPTIONS] clusters|ping|version\n"
	    "Try \"ec2ctl --help\" for more.\n");
}

static void exit_status_help(FILE *fp);

void
ctl_usage(FILE *fp)
{
	fprintf(fp, "usage: ec2ctl [OPTIONS] CLUSTER COMMAND [ARGS]... "
	    "[COMMAND [ARGS]...]...\n"
	    "       ec2ctl [OPTIONS] COMMAND\n"
	    "       ec2ctl help [COMMAND]\n\n"
	    "Talks to ec2-managerd, which keeps Opencast clusters on EC2 at "
	    "the right size.\nChained commands run in order and stop at the "
	    "first failure.\n\nOptions (before the cluster):\n");
	for (size_t i = 0; i < sizeof(global_help) / sizeof(*global_help);
	    i++) {
		const char *h = global_help[i].help;
		size_t n = strcspn(h, "\n");

		/* A second line of help lines up with the first. */
		fprintf(fp, "  %-19s %.*s\n", global_help[i].opts, (int)n, h);
		if (h[n] == '\n')
			fprintf(fp, "  %-19s %s\n", "", h + n + 1);
	}
	fprintf(fp, "\nCommands without a cluster:\n");
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			fprintf(fp, "\nCommands on a cluster:\n");
		for (int k = 0; k < PROTO_CMD_COUNT; k++) {
			const struct proto_cmd_info *info = &proto_cmds[k];
			const char *syn = syntaxes[k].synopsis;
			char head[80];

			if ((pass == 0) != !!(info->flags & CMD_F_NO_CLUSTER))
				continue;
			snprintf(head, sizeof(head), "%s%s%s", info->name,
			    syn ? " " : "", syn ? syn : "");
			if (strlen(head) > 19)
				fprintf(fp, "  %s\n  %-19s %s\n", head, "",
				    info->summary);
			else
				fprintf(fp, "  %-19s %s\n", head,
				    info->summary);
		}
	}
	fprintf(fp, "\nEvery command also takes -f json|table (-j is -f json). "
	    "Output is for people\n(tables, text) on a terminal and JSON "
	    "lines otherwise: each line one message\nof the daemon, its "
	    "events and then its reply {\"id\",\"ok\",\"result\"|"
	    "\"error\"}.\nColours only on a terminal, never with NO_COLOR "
	    "set.  \"scale-to\" is another\nname for \"scale_to\".  "
	    "\"ec2ctl help COMMAND\" describes one command.\n\n");
	exit_status_help(fp);
}

static void
exit_status_help(FILE *fp)
{
	fprintf(fp, "Exit status: 0 success, 1 refused or failed, 2 usage error, "
	    "69 daemon\nunreachable, 77 permission denied.\n");
}

/* One option line of a command's help: "  -w, --workers N   text". */
static void
option_help(FILE *fp, const struct arg_spec *a)
{
	char head[160], words[64];
	const char *value = "";

	if (a->type == ARG_COUNT)
		value = " N";
	if (a->type == ARG_WORD) {
		words_text(a->words, words + 1, sizeof(words) - 1);
		words[0] = ' ';
		value = words;
	}
	if (a->short_name)
		snprintf(head, sizeof(head), "-%c, --%s%s", a->short_name,
		    a->long_name, value);
	else
		snprintf(head, sizeof(head), "    --%s%s", a->long_name, value);
	if (strlen(head) > 22) {
		fprintf(fp, "  %s\n", head);
		head[0] = '\0';
	}
	/* A help of several lines: each lines up with the first. */
	for (const char *h = a->help ? a->help : ""; ; ) {
		size_t n = strcspn(h, "\n");

		fprintf(fp, "  %-22s %.*s\n", head, (int)n, h);
		if (h[n] == '\0')
			break;
		h += n + 1;
		head[0] = '\0';
	}
}

void
ctl_usage_command(FILE *fp, const struct proto_cmd_info *info)
{
	const struct cmd_syntax *s = &syntaxes[info->cmd];
	bool bare = info->flags & CMD_F_NO_CLUSTER;

	fprintf(fp, "usage: ec2ctl [OPTIONS] %s%s%s%s\n\n", bare ? "" :
	    "CLUSTER ", info->name, s->synopsis ? " " : "",
	    s->synopsis ? s->synopsis : "");
	/* The summary of commands.def, as a sentence. */
	fprintf(fp, "%c%s.\n", info->summary[0] >= 'a' &&
	    info->summary[0] <= 'z' ? info->summary[0] - 'a' + 'A' :
	    info->summary[0], info->summary + 1);
	if (s->notes != NULL)
		fprintf(fp, "%s\n", s->notes);
	fprintf(fp, "\nOptions of %s:\n", info->name);
	for (const struct arg_spec *a = s->options; a->type != ARG_NONE; a++)
		option_help(fp, a);
	for (const struct arg_spec *a = common_options; a->type != ARG_NONE;
	    a++)
		option_help(fp, a);
	fprintf(fp, "\n%s\n", info->flags & CMD_F_READONLY ?
	    "Read-only: anyone who may connect to the socket may run it." :
	    "Changes the cluster: root, the daemon's user or a member of "
	    "socket_group only.\nGlobal options (-n, -f, --no-wait, ...) "
	    "go before the cluster.");
	fputc('\n', fp);
	exit_status_help(fp);
}

bool
ctl_request_json(const struct ctl_invocation *inv,
    const struct ctl_request *r, bool out_tty)
{
	if (inv->json || r->format == CTL_FORMAT_JSON)
		return true;
	return r->format == CTL_FORMAT_AUTO && !out_tty;
}
