/*
 * What `postern user` and `postern alias` share (see cli/cli_userdb.h):
 * their command line (options anywhere, then SUB [OPERANDS]), opening the
 * [auth] database the config names and giving a new one to the [server]
 * user, checking an address on a local domain, and the exit codes of
 * store errors. Owns the struct conf of one run, which it loads and frees
 * around the command's run(). Runs in the CLI process.
 */
#include "cli/cli_userdb.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "cli/cli.h"
#include "conf/conf.h"
#include "util/addr.h"

int
cli_userdb_exit(int err)
{
	switch (err) {
	case EEXIST:
	case ENOENT:
	case EINVAL:
		return EX_DATAERR;
	case EBUSY:
		return EX_TEMPFAIL;
	default:
		return EX_IOERR;
	}
}

int
cli_userdb_fail(const char *why)
{
	int err = errno;

	fprintf(stderr, "postern: %s\n", why);
	return cli_userdb_exit(err);
}

/* Gives a file the store created to the [server] user, when root. */
static void
cli_userdb_give(const struct conf *conf, const char *path, int new_dir)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char buf[PATH_MAX], dir[PATH_MAX];
	struct passwd *pw;
	size_t i;

	if (geteuid() != 0 || conf->user == NULL || *conf->user == '\0')
		return;
	if ((pw = getpwnam(conf->user)) == NULL) {
		fprintf(stderr, "postern: warning: [server] user %s does not "
		    "exist; %s stays owned by root\n", conf->user, path);
		return;
	}
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		if (snprintf(buf, sizeof(buf), "%s%s", path, suffix[i]) >=
		    (int)sizeof(buf))
			return;
		if (chown(buf, pw->pw_uid, pw->pw_gid) == -1 && errno != ENOENT)
			fprintf(stderr, "postern: warning: chown %s: %s\n", buf,
			    strerror(errno));
	}
	(void)snprintf(dir, sizeof(dir), "%s", path);
	if (new_dir && chown(dirname(dir), pw->pw_uid, pw->pw_gid) == -1)
		fprintf(stderr, "postern: warning: chown %s: %s\n", dir,
		    strerror(errno));
}

int
cli_userdb_open(const struct conf *conf, int create, struct userdb **db)
{
	const char *path = conf->auth_database;
	char why[512], dir[PATH_MAX];
	int existed, dir_existed;

	*db = NULL;
	if (path == NULL || *path == '\0') {
		fprintf(stderr, "postern: %s: no [auth] database set\n",
		    conf->path);
		return CONF_EXIT;
	}
	existed = access(path, F_OK) == 0;
	if (!existed && !create)
		return 0;
	(void)snprintf(dir, sizeof(dir), "%s", path);
	dir_existed = access(dirname(dir), F_OK) == 0;
	if ((*db = userdb_open(path, create, why, sizeof(why))) == NULL)
		return cli_userdb_fail(why);
	if (!existed)
		cli_userdb_give(conf, path, !dir_existed);
	return 0;
}

int
cli_userdb_list(const struct conf *conf, int (*list)(struct userdb *))
{
	struct userdb *db = NULL;
	int rc;

	if ((rc = cli_userdb_open(conf, 0, &db)) != 0)
		return rc;
	if (db != NULL && list(db) != 0)
		rc = cli_userdb_exit(errno);
	userdb_close(db);
	if (fflush(stdout) == EOF)
		rc = EX_IOERR;
	return rc;
}

int
cli_userdb_local_key(const struct conf *conf, const char *arg,
    const char *what, char *key, size_t keysz)
{
	struct addr a;
	int is_user = strcmp(what, "user") == 0;

	if (addr_parse_mailbox(&a, arg, 1) == -1) {
		fprintf(stderr, "postern: invalid address: %s (want "
		    "local@domain)\n", arg);
		return EX_DATAERR;
	}
	if (!conf_is_local_domain(conf, a.domain, strlen(a.domain))) {
		fprintf(stderr, "postern: %s is not a local domain (%s "
		    "addresses must be in [domains] local of %s)\n", a.domain,
		    what, conf->path);
		return EX_DATAERR;
	}
	if (strchr(a.local, '+') != NULL) {
		fprintf(stderr, "postern: %s: '+' is the address tag separator "
		    "and cannot be part of a %s address\n", arg, what);
		return EX_DATAERR;
	}
	if (is_user && (a.local[0] == '"' || strchr(a.local, '/') != NULL)) {
		fprintf(stderr, "postern: %s: a user's local part names its "
		    "Maildir: no quotes, no '/'\n", arg);
		return EX_DATAERR;
	}
	if (addr_lookup_key(&a, key, keysz) == -1) {
		fprintf(stderr, "postern: invalid address: %s\n", arg);
		return EX_DATAERR;
	}
	return 0;
}

/* Options, then "SUB [OPERANDS]". 0, or an exit code (-1: --help). */
static int
cli_userdb_parse(const struct cli_userdb_cmd *cmd, int argc, char **argv,
    struct cli_userdb_args *args)
{
	static const struct option with_pwfile[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct option without_pwfile[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct option *longopts = cmd->pwfile ? with_pwfile :
	    without_pwfile;
	int ch;

	memset(args, 0, sizeof(*args));
	optind = 0;	/* full getopt reset; options may follow operands */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			args->conf_path = optarg;
			break;
		case 'p':
			args->pwfile = optarg;
			break;
		case 'h':
			return -1;
		default:
			fprintf(stderr, "postern %s: bad option: %s\n",
			    cmd->name, argv[optind - 1]);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "postern %s: %s?\n", cmd->name, cmd->subs);
		return EX_USAGE;
	}
	args->sub = argv[optind++];
	args->operands = argv + optind;
	args->noperands = argc - optind;
	return 0;
}

int
cli_userdb_main(const struct cli_userdb_cmd *cmd, int argc, char **argv)
{
	struct cli_userdb_args args;
	struct conf *conf;
	int rc;

	rc = cli_userdb_parse(cmd, argc, argv, &args);
	if (rc == -1) {
		cmd->usage(stdout);
		return 0;
	}
	if (rc == 0)
		rc = cmd->check(&args);
	if (rc != 0) {
		fprintf(stderr, "(see 'postern %s --help')\n", cmd->name);
		return rc;
	}
	if ((conf = cli_load_conf(args.conf_path)) == NULL)
		return CONF_EXIT;
	rc = cmd->run(conf, &args);
	conf_free(conf);
	return rc;
}
