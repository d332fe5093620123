/*
 * Option parsing that several subcommands share (cli_common.c). Each
 * parser takes the command's usage printer, accepts options before or
 * after the operands (GNU getopt permutation, fully reset on each call)
 * and returns 0 with optind at the first operand; -1 after --help (usage
 * printed to stdout: the command exits 0); or EX_USAGE after printing
 * what was wrong to stderr.
 */
#ifndef POSTERN_CLI_COMMON_H
#define POSTERN_CLI_COMMON_H

#include <stdio.h>

struct cat_out;

/*
 * -c/--config FILE (into *path; left alone when not given) and -h/--help;
 * a bad option: getopt's message, then usage on stderr.
 */
int cli_conf_options(int argc, char **argv, void (*usage)(FILE *),
    const char **path);

/*
 * postern explain and compare: -l/--lang en|ja and -j/--json into o (set
 * up by cat_out_init(), whose cmd names the command in messages) and
 * -h/--help. An unknown language is reported without the usage.
 */
int cli_cat_options(int argc, char **argv, void (*usage)(FILE *),
    struct cat_out *o);

/* The usage lines of the options cli_cat_options() takes. */
#define CLI_CAT_OPTIONS_HELP \
	"  -l, --lang en|ja  language (default: from LC_ALL, LC_MESSAGES, " \
	"LANG)\n" \
	"  -j, --json        JSON output (fields: docs/explain.md)\n" \
	"  -h, --help        this help\n"

#endif
