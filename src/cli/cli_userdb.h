/*
 * What `postern user` and `postern alias` share: their command line and
 * run, opening the store the config names, checking an address on a local
 * domain, and exit codes. Implemented in src/cli/cli_userdb.c. Functions
 * returning int give 0 or a sysexits.h code after printing the reason to
 * stderr.
 */
#ifndef POSTERN_CLI_USERDB_H
#define POSTERN_CLI_USERDB_H

#include <stddef.h>
#include <stdio.h>

struct conf;
struct userdb;

/* A parsed command line: the options, then SUB [OPERANDS]. */
struct cli_userdb_args {
	const char	*conf_path;	/* -c FILE; NULL: the default */
	const char	*pwfile;	/* --password-file FILE, or NULL */
	const char	*sub;		/* the subcommand, not yet checked */
	char		**operands;	/* what follows SUB */
	int		  noperands;
};

/* One command, `postern user` or `postern alias`. */
struct cli_userdb_cmd {
	const char	*name;		/* "user", for messages */
	const char	*subs;		/* "add, del or list", asked when no
					   SUB is given */
	int		 pwfile;	/* takes --password-file */
	void		(*usage)(FILE *out);
	/* Is SUB known, with operands and options it takes? 0 or
	   EX_USAGE after a message. */
	int		(*check)(const struct cli_userdb_args *args);
	/* Runs the checked subcommand; an exit code. */
	int		(*run)(const struct conf *conf,
			    const struct cli_userdb_args *args);
};

/*
 * The whole command: parses options (-c/--config, -h/--help, and
 * --password-file if cmd->pwfile; before or after the operands), SUB and
 * its operands; cmd->check(); loads the config; cmd->run(). Usage errors
 * end with "(see 'postern NAME --help')". Returns the exit code.
 */
int cli_userdb_main(const struct cli_userdb_cmd *cmd, int argc, char **argv);

/*
 * Opens conf's [auth] database. create: make it if missing (file mode
 * 0600; run as root with [server] user set, the new file is given to that
 * user so the server can read it after dropping privileges). Without
 * create a missing file is no error: *db is NULL (nothing stored yet).
 */
int cli_userdb_open(const struct conf *conf, int create, struct userdb **db);

/*
 * Opens the store without creating it and calls list(db), which prints
 * and returns 0, or nonzero with errno set; nothing stored yet prints
 * nothing. Then flushes stdout (EX_IOERR if that fails).
 */
int cli_userdb_list(const struct conf *conf, int (*list)(struct userdb *));

/*
 * Parses arg, the address of a user (what "user") or of an alias (what
 * "alias"), and writes its lookup key. Refuses addresses off the local
 * domains and any with '+' (the tag separator); a user's local part must
 * also be usable as a Maildir name (no quotes, no '/'). 0 or EX_DATAERR.
 */
int cli_userdb_local_key(const struct conf *conf, const char *arg,
    const char *what, char *key, size_t keysz);

/* The exit code for a failed userdb call's errno. */
int cli_userdb_exit(int err);

/*
 * After a failed userdb call: prints "postern: WHY" and returns the exit
 * code for the errno the call left (kept across the printing).
 */
int cli_userdb_fail(const char *why);

#endif
