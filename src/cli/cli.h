/*
 * Subcommand entry points, one file each under src/cli/. Each takes the
 * arguments after the command name (argv[0] is the command name) and
 * returns a sysexits.h exit code.
 */
#ifndef POSTERN_CLI_H
#define POSTERN_CLI_H

#include <sysexits.h>

int cli_serve(int argc, char **argv);
int cli_config(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_alias(int argc, char **argv);
int cli_queue(int argc, char **argv);
int cli_sendmail(int argc, char **argv);
int cli_send(int argc, char **argv);
int cli_explain(int argc, char **argv);
int cli_compare(int argc, char **argv);
int cli_mx(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_version(int argc, char **argv);

/*
 * Loads the config named by path (NULL: conf_default_path(), then the
 * built-in defaults). On error prints "FILE:LINE: message" to stderr and
 * returns NULL; the caller exits CONF_EXIT.
 */
struct conf;
struct conf *cli_load_conf(const char *path);

#endif
