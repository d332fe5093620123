/*
 * `postern config check [-c FILE]`: validates a config file and prints
 * "FILE: ok" and its listeners, or "FILE:LINE: message" and exits 78.
 * `postern config show [-c FILE]`: prints the effective configuration,
 * defaults included, in the file format. Owns the struct conf it loads.
 * Runs in the CLI process.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "conf/conf.h"

static void
config_usage(FILE *out)
{
	fprintf(out,
	    "usage: postern config check [-c FILE]\n"
	    "       postern config show [-c FILE]\n"
	    "\n"
	    "  check   validate the config; print \"FILE: ok\" and the "
	    "listeners,\n"
	    "          or \"FILE:LINE: message\" and exit 78\n"
	    "  show    print the effective config, defaults included\n"
	    "  -c, --config FILE   the config file (default: ./postern.conf "
	    "if present,\n"
	    "                      else the built-in defaults)\n");
}

/* "mx 0.0.0.0:25 (mx, tls starttls, auth off); ..." on one line. */
static void
config_print_listeners(const struct conf *conf, FILE *out)
{
	const struct conf_listener *l;
	size_t i;

	fprintf(out, "listeners:");
	for (i = 0; i < conf->nlisteners; i++) {
		l = &conf->listeners[i];
		fprintf(out, "%s %s %s (%s, tls %s, auth %s)", i ? ";" : "",
		    l->name, l->address, conf_mode_str(l->mode),
		    conf_tls_str(l->tls), conf_auth_str(l->auth));
	}
	fprintf(out, "\n");
}

static int
config_check(const struct conf *conf)
{
	size_t i;

	for (i = 0; i < conf->warnings.n; i++)
		fprintf(stderr, "%s\n", conf->warnings.v[i]);
	printf("%s: ok\n", conf->path);
	config_print_listeners(conf, stdout);
	return fflush(stdout) == EOF ? EX_IOERR : 0;
}

int
cli_config(int argc, char **argv)
{
	struct conf *conf;
	const char *path = NULL, *cmd;
	int rc;

	if ((rc = cli_conf_options(argc, argv, config_usage, &path)) != 0)
		return rc == -1 ? 0 : rc;
	if (argc - optind != 1 || (strcmp(argv[optind], "check") != 0 &&
	    strcmp(argv[optind], "show") != 0)) {
		config_usage(stderr);
		return EX_USAGE;
	}
	cmd = argv[optind];
	if ((conf = cli_load_conf(path)) == NULL)
		return CONF_EXIT;
	if (strcmp(cmd, "check") == 0)
		rc = config_check(conf);
	else
		rc = conf_dump(conf, stdout) == -1 ? EX_IOERR : 0;
	conf_free(conf);
	return rc;
}
