/*
 * `postern alias add|del|list`: address aliases on the local domains, in
 * the [auth] database next to the users. An alias maps one local address
 * to one or more targets, local or remote; `postmaster@DOMAIN` is the
 * usual first one. The command line and the store handling it shares with
 * `postern user` are in cli_userdb.c. Owns the userdb handle and the
 * parsed targets of one run. Runs in the CLI process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "auth/userdb.h"
#include "cli/cli.h"
#include "cli/cli_userdb.h"
#include "conf/conf.h"
#include "util/addr.h"
#include "util/xmalloc.h"

/* Targets parsed from the operands, normalised (domain lower-cased). */
struct alias_targets {
	char	 buf[USERDB_TARGETS_MAX][ADDR_BUFSZ];
	char	*v[USERDB_TARGETS_MAX];
	size_t	 n;
};

static void
alias_usage(FILE *out)
{
	fprintf(out,
	    "usage: postern alias add ADDRESS TARGET[,TARGET...] [-c FILE]\n"
	    "       postern alias del ADDRESS [TARGET[,TARGET...]] [-c FILE]\n"
	    "       postern alias list [-c FILE]\n"
	    "\n"
	    "  add    make ADDRESS (on a [domains] local domain) deliver to "
	    "the\n"
	    "         TARGETs, local or remote; adding to an existing alias "
	    "appends\n"
	    "  del    delete the alias, or only the TARGETs given\n"
	    "  list   print \"ADDRESS -> TARGET, TARGET\", one alias per line\n"
	    "\n"
	    "  -c, --config FILE   the config file (default: ./postern.conf "
	    "if present,\n"
	    "                      else the built-in defaults)\n"
	    "\n"
	    "exit: 0 ok, 64 usage, 65 bad address, unknown alias or target, "
	    "address\n"
	    "      is a user, 74 database error, 75 database busy, 78 config "
	    "error\n");
}

/* Adds one target: a mailbox, its domain lower-cased. 0 or EX_DATAERR. */
static int
alias_target_add(struct alias_targets *t, const char *s, size_t len)
{
	struct addr a;
	char tmp[ADDR_BUFSZ];
	char *p;

	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(tmp)) {
		fprintf(stderr, "postern: %s target address\n", len ? "too long"
		    : "empty");
		return EX_DATAERR;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (addr_parse_mailbox(&a, tmp, 1) == -1) {
		fprintf(stderr, "postern: invalid target address: %s\n", tmp);
		return EX_DATAERR;
	}
	if (t->n == USERDB_TARGETS_MAX) {
		fprintf(stderr, "postern: more than %d targets at once\n",
		    USERDB_TARGETS_MAX);
		return EX_DATAERR;
	}
	for (p = a.domain; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (addr_format(&a, t->buf[t->n], sizeof(t->buf[t->n])) == -1) {
		fprintf(stderr, "postern: target too long: %s\n", tmp);
		return EX_DATAERR;
	}
	t->v[t->n] = t->buf[t->n];
	t->n++;
	return 0;
}

/* Every operand is one target or a comma-separated list of them. */
static int
alias_parse_targets(char **ops, int n, struct alias_targets *t)
{
	const char *s, *comma;
	int i, rc;

	t->n = 0;
	for (i = 0; i < n; i++) {
		for (s = ops[i]; ; s = comma + 1) {
			comma = strchr(s, ',');
			rc = alias_target_add(t, s, comma != NULL ?
			    (size_t)(comma - s) : strlen(s));
			if (rc != 0)
				return rc;
			if (comma == NULL)
				break;
		}
	}
	return 0;
}

/* A heads-up for local targets that lead nowhere yet. */
static void
alias_warn_unknown(const struct conf *conf, struct userdb *db,
    const struct alias_targets *t)
{
	struct addr a;
	char key[ADDR_BUFSZ];
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (addr_parse_mailbox(&a, t->v[i], 1) == -1 ||
		    !conf_is_local_domain(conf, a.domain, strlen(a.domain)) ||
		    addr_lookup_key(&a, key, sizeof(key)) == -1)
			continue;
		if (userdb_recipient_exists(db, key) == 0)
			fprintf(stderr, "postern: warning: %s is neither a "
			    "user nor an alias (yet); mail to it will bounce\n",
			    t->v[i]);
	}
}

/*
 * What add and del start with: the alias's key, the TARGETs after it and
 * the store (made if create). key has ADDR_BUFSZ bytes. 0 or an exit code.
 */
static int
alias_begin(const struct conf *conf, const struct cli_userdb_args *args,
    int create, char *key, struct alias_targets *t, struct userdb **db)
{
	int rc;

	if ((rc = cli_userdb_local_key(conf, args->operands[0], "alias", key,
	    ADDR_BUFSZ)) != 0 ||
	    (rc = alias_parse_targets(args->operands + 1,
	    args->noperands - 1, t)) != 0)
		return rc;
	return cli_userdb_open(conf, create, db);
}

static int
alias_add(const struct conf *conf, const struct cli_userdb_args *args)
{
	struct userdb *db = NULL;
	struct alias_targets *t = xcalloc(1, sizeof(*t));
	char key[ADDR_BUFSZ], why[512];
	int rc, added;

	if ((rc = alias_begin(conf, args, 1, key, t, &db)) != 0)
		goto done;
	added = userdb_alias_add(db, key, (const char *const *)t->v, t->n,
	    why, sizeof(why));
	if (added == -1) {
		rc = cli_userdb_fail(why);
		goto done;
	}
	alias_warn_unknown(conf, db, t);
	if (added == 0)
		printf("alias %s: every target was already there\n", key);
	else
		printf("alias %s: %d target%s added\n", key, added,
		    added == 1 ? "" : "s");
done:
	userdb_close(db);
	free(t);
	return rc;
}

static int
alias_del(const struct conf *conf, const struct cli_userdb_args *args)
{
	struct userdb *db = NULL;
	struct alias_targets *t = xcalloc(1, sizeof(*t));
	char key[ADDR_BUFSZ], why[512];
	int rc;

	if ((rc = alias_begin(conf, args, 0, key, t, &db)) != 0)
		goto done;
	if (db == NULL) {
		fprintf(stderr, "postern: no such alias: %s\n", key);
		rc = EX_DATAERR;
	} else if (userdb_alias_del(db, key, (const char *const *)t->v, t->n,
	    why, sizeof(why)) == -1)
		rc = cli_userdb_fail(why);
	else if (t->n == 0)
		printf("alias %s deleted\n", key);
	else
		printf("alias %s: %zu target%s deleted\n", key, t->n,
		    t->n == 1 ? "" : "s");
done:
	userdb_close(db);
	free(t);
	return rc;
}

static int
alias_print(const char *address, const char *const *targets, size_t n,
    void *arg)
{
	size_t i;

	(void)arg;
	printf("%s ->", address);
	for (i = 0; i < n; i++)
		printf("%s %s", i ? "," : "", targets[i]);
	printf("\n");
	return 0;
}

static int
alias_list_all(struct userdb *db)
{
	return userdb_alias_list(db, alias_print, NULL);
}

/* The operand count each subcommand takes. 0 or EX_USAGE. */
static int
alias_check(const struct cli_userdb_args *args)
{
	const char *want = NULL;

	if (strcmp(args->sub, "add") == 0) {
		if (args->noperands < 2)
			want = "ADDRESS TARGET[,TARGET...] wanted";
	} else if (strcmp(args->sub, "del") == 0) {
		if (args->noperands < 1)
			want = "ADDRESS [TARGET...] wanted";
	} else if (strcmp(args->sub, "list") == 0) {
		if (args->noperands != 0)
			want = "no operands wanted";
	} else {
		fprintf(stderr, "postern alias: unknown subcommand '%s'\n",
		    args->sub);
		return EX_USAGE;
	}
	if (want == NULL)
		return 0;
	fprintf(stderr, "postern alias %s: %s\n", args->sub, want);
	return EX_USAGE;
}

static int
alias_run(const struct conf *conf, const struct cli_userdb_args *args)
{
	if (strcmp(args->sub, "add") == 0)
		return alias_add(conf, args);
	if (strcmp(args->sub, "del") == 0)
		return alias_del(conf, args);
	return cli_userdb_list(conf, alias_list_all);
}

int
cli_alias(int argc, char **argv)
{
	static const struct cli_userdb_cmd cmd = {
		"alias", "add, del or list", 0, alias_usage, alias_check,
		alias_run
	};

	return cli_userdb_main(&cmd, argc, argv);
}
