/*
 * The write side of the user store and its listings: what `postern user`
 * and `postern alias` do. Each change is one IMMEDIATE transaction, so a
 * CLI writer and the running server (readers, WAL) never see half of it.
 * Owns nothing beyond the call; runs in the CLI process.
 */
#include "auth/userdb.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/userdb_priv.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/xmalloc.h"

/*
 * Binds ?1 key and ?2..?7 the secrets. The secrets are bound SQLITE_STATIC
 * (no copies inside SQLite); userdb_run() clears the bindings after use.
 */
static int
userdb_bind_user(sqlite3_stmt *st, const char *key,
    const struct userdb_secrets *s)
{
	int rc;

	rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, s->argon2, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(st, 3, s->scram_salt,
		    (int)s->scram_salt_len, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 4, s->scram_iter);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(st, 5, s->scram_stored_key,
		    sizeof(s->scram_stored_key), SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(st, 6, s->scram_server_key,
		    sizeof(s->scram_server_key), SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = s->has_cram ? sqlite3_bind_text(st, 7, s->cram_secret, -1,
		    SQLITE_STATIC) : sqlite3_bind_null(st, 7);
	return rc;
}

/* Sets why and errno for a refusal that is not an SQLite error. */
static int userdb_refuse(int, char *, size_t, const char *, ...)
    PRINTFLIKE(4, 5);

static int
userdb_refuse(int err, char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

/*
 * Ends the transaction of a change: rolls back after a failure (r == -1),
 * else commits. Returns r, or -1 if the commit failed.
 */
static int
userdb_end(struct userdb *db, int r, char *why, size_t whysz)
{
	if (r == -1)
		userdb_rollback(db);
	else if (userdb_commit(db, why, whysz) == -1)
		return -1;
	return r;
}

static int
userdb_user_insert(struct userdb *db, const char *key,
    const struct userdb_secrets *s, char *why, size_t whysz)
{
	sqlite3_stmt *st = db->st[ST_USER_INSERT];
	int rc;

	rc = userdb_alias_exists_locked(db, key, why, whysz);
	if (rc == -1)
		return -1;
	if (rc == 1)
		return userdb_refuse(EEXIST, why, whysz, "%s is an alias; "
		    "delete the alias first", key);
	rc = userdb_bind_user(st, key, s);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 8, (sqlite3_int64)time(NULL));
	if (rc != SQLITE_OK) {
		(void)sqlite3_clear_bindings(st);
		return userdb_error(db, rc, "bind", why, whysz);
	}
	rc = userdb_run(db, ST_USER_INSERT);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return userdb_refuse(EEXIST, why, whysz, "user %s exists; "
		    "'postern user passwd' changes its password", key);
	return rc == SQLITE_DONE ? 0 :
	    userdb_error(db, rc, "add user", why, whysz);
}

int
userdb_user_add(struct userdb *db, const char *key,
    const struct userdb_secrets *s, char *why, size_t whysz)
{
	int r = -1;

	pthread_mutex_lock(&db->mu);
	if (userdb_begin(db, why, whysz) == 0)
		r = userdb_end(db, userdb_user_insert(db, key, s, why, whysz),
		    why, whysz);
	pthread_mutex_unlock(&db->mu);
	return r;
}

/* Runs a one-statement change: 1 if it changed a row, 0 if not, -1. */
static int
userdb_change(struct userdb *db, enum userdb_stmt id, char *why,
    size_t whysz)
{
	int rc;

	rc = userdb_run(db, id);
	if (rc != SQLITE_DONE)
		return userdb_error(db, rc, "write", why, whysz);
	return sqlite3_changes(db->h) > 0;
}

/*
 * userdb_change() of a statement that must change a row: 0, or -1 (with
 * ENOENT and "no such WHAT: KEY" if it changed none).
 */
static int
userdb_change_one(struct userdb *db, enum userdb_stmt id, const char *what,
    const char *key, char *why, size_t whysz)
{
	int r = userdb_change(db, id, why, whysz);

	if (r == 0)
		return userdb_refuse(ENOENT, why, whysz, "no such %s: %s", what,
		    key);
	return r == 1 ? 0 : -1;
}

int
userdb_user_passwd(struct userdb *db, const char *key,
    const struct userdb_secrets *s, char *why, size_t whysz)
{
	int r = -1, rc;

	pthread_mutex_lock(&db->mu);
	rc = userdb_bind_user(db->st[ST_USER_UPDATE], key, s);
	if (rc != SQLITE_OK) {
		(void)sqlite3_clear_bindings(db->st[ST_USER_UPDATE]);
		(void)userdb_error(db, rc, "bind", why, whysz);
		goto done;
	}
	r = userdb_change_one(db, ST_USER_UPDATE, "user", key, why, whysz);
done:
	pthread_mutex_unlock(&db->mu);
	return r;
}

int
userdb_user_del(struct userdb *db, const char *key, char *why,
    size_t whysz)
{
	int r;

	pthread_mutex_lock(&db->mu);
	(void)sqlite3_bind_text(db->st[ST_USER_DELETE], 1, key, -1,
	    SQLITE_STATIC);
	r = userdb_change_one(db, ST_USER_DELETE, "user", key, why, whysz);
	pthread_mutex_unlock(&db->mu);
	return r;
}

int
userdb_user_list(struct userdb *db, userdb_user_fn fn, void *arg)
{
	sqlite3_stmt *st = db->st[ST_USER_LIST];
	const unsigned char *addr;
	int rc, r = 0;

	pthread_mutex_lock(&db->mu);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((addr = sqlite3_column_text(st, 0)) != NULL)
			r = fn((const char *)addr, sqlite3_column_int(st, 1),
			    arg);
	if (r == 0 && rc != SQLITE_DONE)
		r = userdb_error(db, rc, "list users", NULL, 0);
	(void)sqlite3_reset(st);
	pthread_mutex_unlock(&db->mu);
	return r;
}

/* Refuses targets that are the alias itself; 0 if all may be stored. */
static int
userdb_alias_check(const char *key, const char *const *targets, size_t n,
    char *why, size_t whysz)
{
	struct addr a;
	char tkey[ADDR_BUFSZ];
	size_t i;

	if (n == 0 || n > USERDB_TARGETS_MAX) {
		(void)snprintf(why, whysz, "an alias takes 1 to %d targets "
		    "at a time", USERDB_TARGETS_MAX);
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (addr_parse_mailbox(&a, targets[i], 1) == -1 ||
		    addr_lookup_key(&a, tkey, sizeof(tkey)) == -1)
			return userdb_refuse(EINVAL, why, whysz,
			    "invalid target address: %s", targets[i]);
		if (strcmp(tkey, key) == 0)
			return userdb_refuse(EINVAL, why, whysz,
			    "%s cannot be a target of itself (%s)", key,
			    targets[i]);
	}
	return 0;
}

/*
 * Inserts the targets inside the caller's transaction unless key is a
 * user; the count added, or -1.
 */
static int
userdb_alias_insert(struct userdb *db, const char *key,
    const char *const *targets, size_t n, char *why, size_t whysz)
{
	sqlite3_stmt *st = db->st[ST_ALIAS_INSERT];
	sqlite3_int64 now = time(NULL);
	int rc, added = 0;
	size_t i;

	rc = userdb_user_exists_locked(db, key, why, whysz);
	if (rc == -1)
		return -1;
	if (rc == 1)
		return userdb_refuse(EEXIST, why, whysz, "%s is a user; an "
		    "alias cannot have the same address", key);
	for (i = 0; i < n; i++) {
		(void)sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		(void)sqlite3_bind_text(st, 2, targets[i], -1, SQLITE_STATIC);
		(void)sqlite3_bind_int64(st, 3, now);
		rc = userdb_run(db, ST_ALIAS_INSERT);
		if (rc != SQLITE_DONE)
			return userdb_error(db, rc, "add alias", why, whysz);
		added += sqlite3_changes(db->h);
	}
	return added;
}

int
userdb_alias_add(struct userdb *db, const char *key,
    const char *const *targets, size_t ntargets, char *why, size_t whysz)
{
	int r = -1;

	if (userdb_alias_check(key, targets, ntargets, why, whysz) == -1)
		return -1;
	pthread_mutex_lock(&db->mu);
	if (userdb_begin(db, why, whysz) == 0)
		r = userdb_end(db, userdb_alias_insert(db, key, targets,
		    ntargets, why, whysz), why, whysz);
	pthread_mutex_unlock(&db->mu);
	return r;
}

/* Deletes each target, all or nothing, inside the caller's transaction. */
static int
userdb_alias_remove(struct userdb *db, const char *key,
    const char *const *targets, size_t n, char *why, size_t whysz)
{
	sqlite3_stmt *st;
	size_t i;
	int r;

	if (n == 0) {
		st = db->st[ST_ALIAS_DELETE];
		(void)sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		return userdb_change_one(db, ST_ALIAS_DELETE, "alias", key, why,
		    whysz);
	}
	st = db->st[ST_ALIAS_DELETE_ONE];
	for (i = 0; i < n; i++) {
		(void)sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		(void)sqlite3_bind_text(st, 2, targets[i], -1, SQLITE_STATIC);
		r = userdb_change(db, ST_ALIAS_DELETE_ONE, why, whysz);
		if (r == -1)
			return -1;
		if (r == 0)
			return userdb_refuse(ENOENT, why, whysz, "%s is not a "
			    "target of %s", targets[i], key);
	}
	return 0;
}

int
userdb_alias_del(struct userdb *db, const char *key,
    const char *const *targets, size_t ntargets, char *why, size_t whysz)
{
	int r = -1;

	if (ntargets > USERDB_TARGETS_MAX) {
		(void)snprintf(why, whysz, "too many targets");
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&db->mu);
	if (userdb_begin(db, why, whysz) == 0)
		r = userdb_end(db, userdb_alias_remove(db, key, targets,
		    ntargets, why, whysz), why, whysz);
	pthread_mutex_unlock(&db->mu);
	return r;
}

/* Groups the rows of one alias and hands them to fn. */
struct userdb_alias_group {
	char	*address;
	char	**v;
	size_t	  n;
	size_t	  cap;
};

static int
userdb_alias_flush(struct userdb_alias_group *g, userdb_alias_fn fn,
    void *arg)
{
	int r = 0;
	size_t i;

	if (g->address != NULL && fn != NULL)
		r = fn(g->address, (const char *const *)g->v, g->n, arg);
	for (i = 0; i < g->n; i++)
		free(g->v[i]);
	free(g->address);
	g->address = NULL;
	g->n = 0;
	return r;
}

static void
userdb_alias_group_add(struct userdb_alias_group *g, const char *address,
    const char *target)
{
	if (g->address == NULL)
		g->address = xstrdup(address);
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 8;
		g->v = xreallocarray(g->v, g->cap, sizeof(*g->v));
	}
	g->v[g->n++] = xstrdup(target);
}

int
userdb_alias_list(struct userdb *db, userdb_alias_fn fn, void *arg)
{
	sqlite3_stmt *st = db->st[ST_ALIAS_LIST];
	struct userdb_alias_group g = { NULL, NULL, 0, 0 };
	const char *a, *t;
	int rc, r = 0;

	pthread_mutex_lock(&db->mu);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		a = (const char *)sqlite3_column_text(st, 0);
		t = (const char *)sqlite3_column_text(st, 1);
		if (a == NULL || t == NULL)
			continue;
		if (g.address != NULL && strcmp(g.address, a) != 0)
			r = userdb_alias_flush(&g, fn, arg);
		if (r == 0)
			userdb_alias_group_add(&g, a, t);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = userdb_error(db, rc, "list aliases", NULL, 0);
	(void)sqlite3_reset(st);
	pthread_mutex_unlock(&db->mu);
	if (r == 0)
		r = userdb_alias_flush(&g, fn, arg);
	else
		(void)userdb_alias_flush(&g, NULL, NULL);
	free(g.v);
	return r;
}
