/*
 * `postern user add|passwd|del|list`: mailbox users in the [auth]
 * database. Passwords come from --password-file (mode 0600 or stricter)
 * or the first line of stdin (prompted twice, without echo, on a
 * terminal); never from argv, and they are never printed or logged.
 * The command line and the store handling it shares with `postern alias`
 * are in cli_userdb.c. Owns the userdb handle and the password buffers of
 * one run. Runs in the CLI process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include "auth/password.h"
#include "auth/userdb.h"
#include "cli/cli.h"
#include "cli/cli_userdb.h"
#include "conf/conf.h"
#include "util/addr.h"

#define USER_PWBUF (PASSWORD_MAX + 2)	/* room for the line end */

static void
user_usage(FILE *out)
{
	fprintf(out,
	    "usage: postern user add ADDRESS [--password-file FILE] [-c FILE]\n"
	    "       postern user passwd ADDRESS [--password-file FILE] "
	    "[-c FILE]\n"
	    "       postern user del ADDRESS [-c FILE]\n"
	    "       postern user list [-c FILE]\n"
	    "\n"
	    "  add      create a mailbox user on a [domains] local domain\n"
	    "  passwd   set a new password (every stored secret is replaced)\n"
	    "  del      delete a user\n"
	    "  list     print the users, one per line (\"cram\": has a "
	    "CRAM-MD5 secret)\n"
	    "\n"
	    "  --password-file FILE  read the password from the first line of "
	    "FILE,\n"
	    "                        which must not be readable by group or "
	    "others;\n"
	    "                        default: the first line of stdin (asked "
	    "twice\n"
	    "                        without echo on a terminal)\n"
	    "  -c, --config FILE     the config file (default: ./postern.conf "
	    "if present,\n"
	    "                        else the built-in defaults)\n"
	    "\n"
	    "exit: 0 ok, 64 usage, 65 bad address or password, unknown or "
	    "existing user,\n"
	    "      66 password file unreadable, 74 database error, 75 "
	    "database busy,\n"
	    "      78 config error\n");
}

/* The first line of fd, without its line end, into buf. 0 or exit code. */
static int
user_read_line(int fd, char *buf, size_t bufsz, size_t *len)
{
	size_t n = 0;
	ssize_t r;
	char *nl;

	while (n < bufsz) {
		r = read(fd, buf + n, bufsz - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			fprintf(stderr, "postern: reading the password: %s\n",
			    strerror(errno));
			return EX_IOERR;
		}
		if (r == 0)
			break;
		nl = memchr(buf + n, '\n', (size_t)r);
		n += (size_t)r;
		if (nl != NULL) {
			n = (size_t)(nl - buf);
			break;
		}
	}
	if (n == bufsz) {
		fprintf(stderr, "postern: password longer than %d bytes\n",
		    PASSWORD_MAX);
		return EX_DATAERR;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	*len = n;
	return 0;
}

/* A password file: refused if group or others may read it. */
static int
user_read_pwfile(const char *file, char *buf, size_t bufsz, size_t *len)
{
	struct stat sb;
	int fd, rc;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		fprintf(stderr, "postern: %s: %s\n", file, strerror(errno));
		return EX_NOINPUT;
	}
	rc = EX_DATAERR;
	if (fstat(fd, &sb) == -1) {
		fprintf(stderr, "postern: %s: %s\n", file, strerror(errno));
		rc = EX_IOERR;
	} else if (!S_ISREG(sb.st_mode))
		fprintf(stderr, "postern: %s: not a regular file\n", file);
	else if (sb.st_mode & (S_IRGRP | S_IROTH))
		fprintf(stderr, "postern: %s: password file is readable by "
		    "group or others (mode %04o); chmod 600 it\n", file,
		    (unsigned)(sb.st_mode & 07777));
	else
		rc = user_read_line(fd, buf, bufsz, len);
	(void)close(fd);
	return rc;
}

/* On a terminal: asks twice without echo; the two must match. */
static int
user_read_tty(char *buf, size_t bufsz, size_t *len)
{
	struct termios old, quiet;
	char again[USER_PWBUF];
	size_t len2 = 0;
	int rc;

	if (tcgetattr(STDIN_FILENO, &old) == -1)
		return user_read_line(STDIN_FILENO, buf, bufsz, len);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	fprintf(stderr, "Password: ");
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	rc = user_read_line(STDIN_FILENO, buf, bufsz, len);
	if (rc == 0) {
		fprintf(stderr, "Retype password: ");
		rc = user_read_line(STDIN_FILENO, again, sizeof(again), &len2);
	}
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (rc == 0 && (len2 != *len || sodium_memcmp(buf, again, *len))) {
		fprintf(stderr, "postern: the passwords do not match\n");
		rc = EX_DATAERR;
	}
	sodium_memzero(again, sizeof(again));
	return rc;
}

static int
user_read_password(const char *pwfile, char *buf, size_t bufsz, size_t *len)
{
	if (pwfile != NULL)
		return user_read_pwfile(pwfile, buf, bufsz, len);
	if (isatty(STDIN_FILENO))
		return user_read_tty(buf, bufsz, len);
	return user_read_line(STDIN_FILENO, buf, bufsz, len);
}

static int
user_with_cram(const struct conf *conf)
{
	size_t i;

	for (i = 0; i < conf->auth_mechanisms.n; i++)
		if (strcasecmp(conf->auth_mechanisms.v[i], "CRAM-MD5") == 0)
			return 1;
	return 0;
}

/* Reads the password and makes every secret for it. 0 or exit code. */
static int
user_secrets(const struct conf *conf, const char *pwfile,
    struct userdb_secrets *s)
{
	char pw[USER_PWBUF], why[256];
	size_t len = 0;
	int rc;

	rc = user_read_password(pwfile, pw, sizeof(pw), &len);
	if (rc == 0 && password_make_secrets(pw, len, user_with_cram(conf), s,
	    why, sizeof(why)) == -1) {
		fprintf(stderr, "postern: %s%s\n", why, len == 0 ? " refused" :
		    "");
		rc = errno == EINVAL ? EX_DATAERR : EX_SOFTWARE;
	}
	sodium_memzero(pw, sizeof(pw));
	return rc;
}

/*
 * Before asking for a password: want 1, key must be a user; want 0, key
 * must be free (neither a user nor an alias). 0 or an exit code.
 */
static int
user_precheck(struct userdb *db, const char *key, int want)
{
	int u, any;

	if ((u = db != NULL ? userdb_user_exists(db, key) : 0) == -1)
		return cli_userdb_exit(errno);
	if (want == 1 && u == 0) {
		fprintf(stderr, "postern: no such user: %s\n", key);
		return EX_DATAERR;
	}
	if (want == 1 || db == NULL)
		return 0;
	if (u == 1) {
		fprintf(stderr, "postern: user %s exists; 'postern user "
		    "passwd' changes its password\n", key);
		return EX_DATAERR;
	}
	if ((any = userdb_recipient_exists(db, key)) == -1)
		return cli_userdb_exit(errno);
	if (any == 1) {
		fprintf(stderr, "postern: %s is an alias; 'postern alias del "
		    "%s' first\n", key, key);
		return EX_DATAERR;
	}
	return 0;
}

/* add (a new user) or passwd (an existing one): the store gets secrets. */
static int
user_set(const struct conf *conf, const struct cli_userdb_args *args,
    int add)
{
	struct userdb *db = NULL;
	struct userdb_secrets s;
	char key[ADDR_BUFSZ], why[512];
	int rc;

	memset(&s, 0, sizeof(s));
	if ((rc = cli_userdb_local_key(conf, args->operands[0], "user", key,
	    sizeof(key))) != 0 ||
	    (rc = cli_userdb_open(conf, add, &db)) != 0 ||
	    (rc = user_precheck(db, key, !add)) != 0 ||
	    (rc = user_secrets(conf, args->pwfile, &s)) != 0)
		goto done;
	if ((add ? userdb_user_add(db, key, &s, why, sizeof(why)) :
	    userdb_user_passwd(db, key, &s, why, sizeof(why))) == -1) {
		rc = cli_userdb_fail(why);
		goto done;
	}
	printf(add ? "user %s added%s\n" : "password of %s changed%s\n", key,
	    s.has_cram ? " (with a CRAM-MD5 secret)" : "");
done:
	userdb_secrets_clear(&s);
	userdb_close(db);
	return rc;
}

/* userdb_alias_list() callback: warns about an alias naming arg's key. */
static int
user_alias_warn(const char *address, const char *const *targets, size_t n,
    void *arg)
{
	const char *key = arg;
	struct addr a;
	char tkey[ADDR_BUFSZ];
	size_t i;

	for (i = 0; i < n; i++)
		if (addr_parse_mailbox(&a, targets[i], 1) == 0 &&
		    addr_lookup_key(&a, tkey, sizeof(tkey)) != -1 &&
		    strcmp(tkey, key) == 0)
			fprintf(stderr, "postern: warning: alias %s still has "
			    "target %s\n", address, targets[i]);
	return 0;
}

static int
user_del(const struct conf *conf, const struct cli_userdb_args *args)
{
	struct userdb *db = NULL;
	char key[ADDR_BUFSZ], why[512];
	int rc;

	if ((rc = cli_userdb_local_key(conf, args->operands[0], "user", key,
	    sizeof(key))) != 0 ||
	    (rc = cli_userdb_open(conf, 0, &db)) != 0 ||
	    (rc = user_precheck(db, key, 1)) != 0)
		goto done;
	if (userdb_user_del(db, key, why, sizeof(why)) == -1) {
		rc = cli_userdb_fail(why);
		goto done;
	}
	printf("user %s deleted\n", key);
	(void)userdb_alias_list(db, user_alias_warn, key);
done:
	userdb_close(db);
	return rc;
}

static int
user_print(const char *address, int has_cram, void *arg)
{
	(void)arg;
	printf("%s%s\n", address, has_cram ? " cram" : "");
	return 0;
}

static int
user_list_all(struct userdb *db)
{
	return userdb_user_list(db, user_print, NULL);
}

/* The operand count, then the subcommand, then its options. */
static int
user_check(const struct cli_userdb_args *args)
{
	int want = strcmp(args->sub, "list") == 0 ? 0 : 1;
	int takes_pw = strcmp(args->sub, "add") == 0 ||
	    strcmp(args->sub, "passwd") == 0;

	if (args->noperands != want) {
		fprintf(stderr, "postern user %s: %s\n", args->sub, want ?
		    "one ADDRESS wanted" : "no operands wanted");
		return EX_USAGE;
	}
	if (!takes_pw && strcmp(args->sub, "del") != 0 &&
	    strcmp(args->sub, "list") != 0) {
		fprintf(stderr, "postern user: unknown subcommand '%s'\n",
		    args->sub);
		return EX_USAGE;
	}
	if (args->pwfile != NULL && !takes_pw) {
		fprintf(stderr, "postern user %s: --password-file is for add "
		    "and passwd\n", args->sub);
		return EX_USAGE;
	}
	return 0;
}

static int
user_run(const struct conf *conf, const struct cli_userdb_args *args)
{
	if (strcmp(args->sub, "add") == 0)
		return user_set(conf, args, 1);
	if (strcmp(args->sub, "passwd") == 0)
		return user_set(conf, args, 0);
	if (strcmp(args->sub, "del") == 0)
		return user_del(conf, args);
	return cli_userdb_list(conf, user_list_all);
}

int
cli_user(int argc, char **argv)
{
	static const struct cli_userdb_cmd cmd = {
		"user", "add, passwd, del or list", 1, user_usage, user_check,
		user_run
	};

	return cli_userdb_main(&cmd, argc, argv);
}
