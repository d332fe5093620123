/*
 * Helpers shared by the subcommands: loading the config the way every
 * command does (-c FILE, else ./postern.conf, else the built-in defaults)
 * and the option parsers several commands share (cli/cli_common.h).
 * Owns nothing; the struct conf returned belongs to the caller. Runs in
 * the CLI process.
 */
#include "cli/cli_common.h"

#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "replies/cat_out.h"

/*
 * Loads path, or conf_default_path() when NULL, or the built-in defaults
 * when there is no default file. Returns the config (free it with
 * conf_free()), or NULL after printing "FILE:LINE: message" to stderr.
 */
struct conf *
cli_load_conf(const char *path)
{
	struct conf *conf;
	char why[CONF_WHY_MAX];

	if (path == NULL)
		path = conf_default_path();
	if ((conf = conf_load(path, why, sizeof(why))) == NULL)
		fprintf(stderr, "%s\n", why);
	return conf;
}

int
cli_conf_options(int argc, char **argv, void (*usage)(FILE *),
    const char **path)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	optind = 0;	/* full getopt reset; options may follow operands */
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			*path = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	return 0;
}

int
cli_cat_options(int argc, char **argv, void (*usage)(FILE *),
    struct cat_out *o)
{
	static const struct option longopts[] = {
		{ "lang", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	optind = 0;	/* full getopt reset; options may follow operands */
	while ((ch = getopt_long(argc, argv, "l:jh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (cat_lang_parse(optarg, &o->lang) == -1) {
				fprintf(stderr, "postern %s: unknown language "
				    "'%s' (en or ja)\n", o->cmd, optarg);
				return EX_USAGE;
			}
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	return 0;
}
