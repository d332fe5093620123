/*
 * postern: one binary, many commands. This file only dispatches; each
 * command lives in src/cli/.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli/cli.h"

struct command {
	const char	*name;
	int		(*run)(int, char **);
	const char	*summary;
};

static const struct command commands[] = {
	{ "serve", cli_serve, "run the server in the foreground" },
	{ "config", cli_config, "config check: validate a config file" },
	{ "user", cli_user, "user add|passwd|del|list: mailbox users" },
	{ "alias", cli_alias, "alias add|del|list: address aliases" },
	{ "queue", cli_queue, "queue list|show|flush|delete: the mail queue" },
	{ "sendmail", cli_sendmail, "queue a message from stdin" },
	{ "send", cli_send, "submit a message to an SMTP server" },
	{ "explain", cli_explain, "explain SMTP reply codes" },
	{ "compare", cli_compare, "compare two SMTP reply codes" },
	{ "mx", cli_mx, "show a domain's MX hosts as delivery uses them" },
	{ "check", cli_check, "diagnose deliverability to an address" },
	{ "version", cli_version, "version and library versions" },
};

static void
usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: postern COMMAND [ARGS...]  (COMMAND --help for "
	    "details)\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
		    commands[i].summary);
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "postern: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EX_USAGE;
}
