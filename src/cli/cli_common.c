/*
 * Helpers shared by the subcommands: loading the config the way every
 * command does (-c FILE, else ./postern.conf, else the built-in defaults).
 * Owns nothing; the struct conf returned belongs to the caller. Runs in
 * the CLI process.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "conf/conf.h"

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
