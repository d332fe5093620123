/* `postern serve [-c FILE]`: runs the server in the foreground. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "proc/supervisor.h"
#include "util/log.h"

static void
serve_usage(FILE *out)
{
	fprintf(out, "usage: postern serve [-c FILE] [-d]\n"
	    "  Runs the server in the foreground, logging to stderr.\n"
	    "  -c FILE  config file (default ./postern.conf if present, "
	    "else built-in defaults)\n"
	    "  -d       debug logging\n"
	    "  Signals: TERM/INT stop cleanly, HUP reloads the config and "
	    "certificates.\n");
}

int
cli_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	struct conf *conf;
	int ch, debug = 0;

	while ((ch = getopt_long(argc, argv, "c:dh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'd': debug = 1; break;
		case 'h': serve_usage(stdout); return 0;
		default: serve_usage(stderr); return EX_USAGE;
		}
	}
	if (optind != argc) {
		serve_usage(stderr);
		return EX_USAGE;
	}
	if (path == NULL)
		path = conf_default_path();
	if ((conf = cli_load_conf(path)) == NULL)
		return CONF_EXIT;
	log_init("postern", debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	return supervisor_run(conf, path);
}
