/*
 * The user store in SQLite: opening (file, directories, schema, WAL),
 * the prepared statements, and the read side the server uses (recipient
 * checks, alias expansion, AUTH secrets). Owns struct userdb and its
 * statements. Runs in every process that opens the store: SMTP workers,
 * delivery, and the CLI (whose writes are in userdb_admin.c).
 */
#include "auth/userdb.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/userdb_priv.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/xmalloc.h"

static const char *const userdb_sql[ST__COUNT] = {
	[ST_RCPT] = "SELECT 1 FROM users WHERE address = ?1 UNION ALL "
	    "SELECT 1 FROM aliases WHERE address = ?1 LIMIT 1",
	[ST_USER_EXISTS] = "SELECT 1 FROM users WHERE address = ?1",
	[ST_ALIAS_TARGETS] = "SELECT target FROM aliases WHERE address = ?1 "
	    "ORDER BY rowid",
	[ST_SECRETS] = "SELECT argon2, scram_salt, scram_iter, "
	    "scram_stored_key, scram_server_key, cram_secret FROM users "
	    "WHERE address = ?1",
	[ST_USER_INSERT] = "INSERT INTO users (address, argon2, scram_salt, "
	    "scram_iter, scram_stored_key, scram_server_key, cram_secret, "
	    "created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_USER_UPDATE] = "UPDATE users SET argon2 = ?2, scram_salt = ?3, "
	    "scram_iter = ?4, scram_stored_key = ?5, scram_server_key = ?6, "
	    "cram_secret = ?7 WHERE address = ?1",
	[ST_USER_DELETE] = "DELETE FROM users WHERE address = ?1",
	[ST_USER_LIST] = "SELECT address, cram_secret IS NOT NULL FROM users "
	    "ORDER BY address",
	[ST_ALIAS_INSERT] = "INSERT OR IGNORE INTO aliases (address, target, "
	    "created) VALUES (?1, ?2, ?3)",
	[ST_ALIAS_DELETE] = "DELETE FROM aliases WHERE address = ?1",
	[ST_ALIAS_DELETE_ONE] = "DELETE FROM aliases WHERE address = ?1 AND "
	    "target = ?2",
	[ST_ALIAS_LIST] = "SELECT address, target FROM aliases "
	    "ORDER BY address, rowid",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
};

/* Version 1. A later version adds a migration step in userdb_schema(). */
static const char userdb_schema_v1[] =
    "CREATE TABLE users ("
    " address TEXT PRIMARY KEY NOT NULL,"
    " argon2 TEXT NOT NULL,"
    " scram_salt BLOB NOT NULL,"
    " scram_iter INTEGER NOT NULL CHECK (scram_iter >= 4096),"
    " scram_stored_key BLOB NOT NULL,"
    " scram_server_key BLOB NOT NULL,"
    " cram_secret TEXT,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE aliases ("
    " address TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " PRIMARY KEY (address, target));"
    "PRAGMA user_version = 1;";

int
userdb_error(struct userdb *db, int rc, const char *what, char *why,
    size_t whysz)
{
	const char *msg = db->h != NULL ? sqlite3_errmsg(db->h) :
	    sqlite3_errstr(rc);
	int err;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		err = EBUSY;
		break;
	case SQLITE_CONSTRAINT:
		err = EEXIST;
		break;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		err = EACCES;
		break;
	case SQLITE_NOMEM:
		err = ENOMEM;
		break;
	default:
		err = EIO;
		break;
	}
	if (why != NULL)
		(void)snprintf(why, whysz, "%s: %s: %s", db->path, what, msg);
	else
		log_warnx("userdb=%s event=error op=%s error=\"%s\"", db->path,
		    what, msg);
	errno = err;
	return -1;
}

int
userdb_run(struct userdb *db, enum userdb_stmt id)
{
	sqlite3_stmt *st = db->st[id];
	int rc;

	rc = sqlite3_step(st);
	(void)sqlite3_reset(st);
	(void)sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

int
userdb_begin(struct userdb *db, char *why, size_t whysz)
{
	int rc = userdb_run(db, ST_BEGIN);

	return rc == SQLITE_DONE ? 0 :
	    userdb_error(db, rc, "begin", why, whysz);
}

int
userdb_commit(struct userdb *db, char *why, size_t whysz)
{
	int rc = userdb_run(db, ST_COMMIT);

	if (rc == SQLITE_DONE)
		return 0;
	(void)userdb_error(db, rc, "commit", why, whysz);
	userdb_rollback(db);
	return -1;
}

void
userdb_rollback(struct userdb *db)
{
	if (!sqlite3_get_autocommit(db->h))
		(void)userdb_run(db, ST_ROLLBACK);
}

/* mkdir -p of path's directory, new ones mode 0700. */
static int
userdb_mkdirs(const char *path, char *why, size_t whysz)
{
	char buf[PATH_MAX];
	char *p;

	if (strlen(path) >= sizeof(buf)) {
		(void)snprintf(why, whysz, "%s: path too long", path);
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, strlen(path) + 1);
	for (p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0700) == -1 && errno != EEXIST) {
			(void)snprintf(why, whysz, "%s: %s", buf,
			    strerror(errno));
			return -1;
		}
		*p = '/';
	}
	return 0;
}

/* Creates the database file, mode 0600, if it is not there. */
static int
userdb_create_file(const char *path, char *why, size_t whysz)
{
	int fd;

	if (userdb_mkdirs(path, why, whysz) == -1)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1 && errno != EEXIST) {
		(void)snprintf(why, whysz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fd != -1)
		(void)close(fd);
	return 0;
}

/* Reads PRAGMA user_version; -1 on error. */
static int
userdb_version(struct userdb *db, char *why, size_t whysz)
{
	sqlite3_stmt *st = NULL;
	int rc, v = -1;

	rc = sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	if (v == -1)
		(void)userdb_error(db, rc, "read schema version", why, whysz);
	sqlite3_finalize(st);
	return v;
}

static int
userdb_exec(struct userdb *db, const char *sql, const char *what, char *why,
    size_t whysz)
{
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : userdb_error(db, rc, what, why, whysz);
}

/* Makes the version-1 schema in one transaction unless someone did. */
static int
userdb_schema_create(struct userdb *db, char *why, size_t whysz)
{
	int v;

	if (userdb_exec(db, "BEGIN IMMEDIATE", "begin", why, whysz) == -1)
		return -1;
	v = userdb_version(db, why, whysz);
	if (v == 0 && userdb_exec(db, userdb_schema_v1, "create schema", why,
	    whysz) == -1)
		v = -1;
	if (v == -1) {
		(void)sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return userdb_exec(db, "COMMIT", "commit schema", why, whysz);
}

static int
userdb_schema(struct userdb *db, int create, char *why, size_t whysz)
{
	int v = userdb_version(db, why, whysz);

	if (v == -1)
		return -1;
	if (v > USERDB_SCHEMA_VERSION) {
		(void)snprintf(why, whysz, "%s: schema version %d is newer "
		    "than this postern's (%d)", db->path, v,
		    USERDB_SCHEMA_VERSION);
		errno = EINVAL;
		return -1;
	}
	if (v == USERDB_SCHEMA_VERSION)
		return 0;
	if (!create) {
		(void)snprintf(why, whysz, "%s: not a user database yet (no "
		    "schema); 'postern user add' creates it", db->path);
		errno = ENOENT;
		return -1;
	}
	return userdb_schema_create(db, why, whysz);
}

static int
userdb_prepare(struct userdb *db, char *why, size_t whysz)
{
	int i, rc;

	for (i = 0; i < ST__COUNT; i++) {
		rc = sqlite3_prepare_v3(db->h, userdb_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &db->st[i], NULL);
		if (rc != SQLITE_OK)
			return userdb_error(db, rc, "prepare", why, whysz);
	}
	return 0;
}

/* Connection settings; warns about a database others can read. */
static int
userdb_settings(struct userdb *db, char *why, size_t whysz)
{
	struct stat sb;

	(void)sqlite3_busy_timeout(db->h, USERDB_BUSY_TIMEOUT_MS);
	(void)sqlite3_db_config(db->h, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	(void)sqlite3_db_config(db->h, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0,
	    NULL);
	if (stat(db->path, &sb) == 0 && (sb.st_mode & (S_IRWXG | S_IRWXO)))
		log_warnx("userdb=%s event=insecure-mode mode=%04o hint=\"it "
		    "holds password hashes: chmod 600\"", db->path,
		    (unsigned)(sb.st_mode & 07777));
	/* Deleted users' secrets are overwritten, not left in free pages. */
	if (userdb_exec(db, "PRAGMA secure_delete = ON", "secure_delete",
	    why, whysz) == -1)
		return -1;
	/* WAL: readers never block the writer. Read-only users keep theirs. */
	if (sqlite3_db_readonly(db->h, "main") == 0)
		return userdb_exec(db, "PRAGMA journal_mode = WAL",
		    "journal_mode", why, whysz);
	return 0;
}

struct userdb *
userdb_open(const char *path, int create, char *why, size_t whysz)
{
	struct userdb *db;
	int rc;

	if (create && userdb_create_file(path, why, whysz) == -1)
		return NULL;
	if (!create && access(path, F_OK) == -1) {
		(void)snprintf(why, whysz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	db = xcalloc(1, sizeof(*db));
	db->path = xstrdup(path);
	if (pthread_mutex_init(&db->mu, NULL) != 0)
		fatalx("userdb: pthread_mutex_init");
	rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		(void)userdb_error(db, rc, "open", why, whysz);
		goto fail;
	}
	if (userdb_settings(db, why, whysz) == -1 ||
	    userdb_schema(db, create, why, whysz) == -1 ||
	    userdb_prepare(db, why, whysz) == -1)
		goto fail;
	return db;
fail:
	rc = errno;
	userdb_close(db);
	errno = rc;
	return NULL;
}

void
userdb_close(struct userdb *db)
{
	int i;

	if (db == NULL)
		return;
	for (i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(db->st[i]);
	sqlite3_close(db->h);
	pthread_mutex_destroy(&db->mu);
	free(db->path);
	free(db);
}

/* Steps a one-key query: 1 if it gives a row, 0 if not, -1 on error. */
static int
userdb_exists(struct userdb *db, enum userdb_stmt id, const char *key,
    char *why, size_t whysz)
{
	sqlite3_stmt *st = db->st[id];
	int rc;

	rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	(void)sqlite3_reset(st);
	(void)sqlite3_clear_bindings(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return userdb_error(db, rc, "lookup", why, whysz);
}

int
userdb_user_exists_locked(struct userdb *db, const char *key, char *why,
    size_t whysz)
{
	return userdb_exists(db, ST_USER_EXISTS, key, why, whysz);
}

int
userdb_alias_exists_locked(struct userdb *db, const char *key, char *why,
    size_t whysz)
{
	return userdb_exists(db, ST_ALIAS_TARGETS, key, why, whysz);
}

/* userdb_exists() under the lock; errors are logged. */
static int
userdb_exists_logged(struct userdb *db, enum userdb_stmt id, const char *key)
{
	int r;

	pthread_mutex_lock(&db->mu);
	r = userdb_exists(db, id, key, NULL, 0);
	pthread_mutex_unlock(&db->mu);
	return r;
}

int
userdb_recipient_exists(struct userdb *db, const char *key)
{
	return userdb_exists_logged(db, ST_RCPT, key);
}

int
userdb_user_exists(struct userdb *db, const char *key)
{
	return userdb_exists_logged(db, ST_USER_EXISTS, key);
}

/* Copies a column of at most max bytes; the exact length if exact. */
static int
userdb_column(sqlite3_stmt *st, int col, void *dst, size_t max, size_t *len,
    int exact)
{
	const void *p = sqlite3_column_blob(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	if ((p == NULL && n > 0) || n > max || (exact && n != max))
		return -1;
	if (n > 0)
		memcpy(dst, p, n);
	*len = n;
	return 0;
}

/* Fills out from the current ST_SECRETS row; -1 if it is malformed. */
static int
userdb_secrets_row(sqlite3_stmt *st, struct userdb_secrets *out)
{
	size_t n;
	sqlite3_int64 iter;

	if (userdb_column(st, 0, out->argon2, sizeof(out->argon2) - 1, &n,
	    0) == -1 || n == 0)
		return -1;
	out->argon2[n] = '\0';
	if (userdb_column(st, 1, out->scram_salt, sizeof(out->scram_salt),
	    &out->scram_salt_len, 0) == -1 || out->scram_salt_len == 0)
		return -1;
	iter = sqlite3_column_int64(st, 2);
	if (iter < 4096 || iter > INT32_MAX)
		return -1;
	out->scram_iter = (unsigned)iter;
	if (userdb_column(st, 3, out->scram_stored_key,
	    sizeof(out->scram_stored_key), &n, 1) == -1 ||
	    userdb_column(st, 4, out->scram_server_key,
	    sizeof(out->scram_server_key), &n, 1) == -1)
		return -1;
	if (sqlite3_column_type(st, 5) == SQLITE_NULL)
		return 0;
	if (userdb_column(st, 5, out->cram_secret,
	    sizeof(out->cram_secret) - 1, &n, 0) == -1)
		return -1;
	out->cram_secret[n] = '\0';
	out->has_cram = 1;
	return 0;
}

int
userdb_get_secrets(struct userdb *db, const char *key,
    struct userdb_secrets *out)
{
	sqlite3_stmt *st = db->st[ST_SECRETS];
	int rc, r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&db->mu);
	(void)sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r = 1;
		if (userdb_secrets_row(st, out) == -1) {
			log_warnx("userdb=%s event=corrupt-secrets user=%s",
			    db->path, key);
			userdb_secrets_clear(out);
			errno = EIO;
			r = -1;
		}
	} else if (rc == SQLITE_DONE)
		r = 0;
	else
		r = userdb_error(db, rc, "read secrets", NULL, 0);
	(void)sqlite3_reset(st);
	(void)sqlite3_clear_bindings(st);
	pthread_mutex_unlock(&db->mu);
	return r;
}

void
userdb_secrets_clear(struct userdb_secrets *s)
{
	sodium_memzero(s, sizeof(*s));
}

/* A growing array of strings: the result and the aliases already seen. */
struct userdb_strv {
	char	**v;
	int	  n;
	int	  cap;
};

static int
userdb_strv_has(const struct userdb_strv *sv, const char *s)
{
	int i;

	for (i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return 1;
	return 0;
}

/* Adds s unless present; past USERDB_EXPAND_MAX drops it with a warning. */
static void
userdb_strv_add(struct userdb_strv *sv, const char *s)
{
	if (userdb_strv_has(sv, s))
		return;
	if (sv->n >= USERDB_EXPAND_MAX) {
		log_warnx("event=alias-expansion-truncated max=%d dropped=%s",
		    USERDB_EXPAND_MAX, s);
		return;
	}
	if (sv->n == sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		sv->v = xreallocarray(sv->v, sv->cap, sizeof(*sv->v));
	}
	sv->v[sv->n++] = xstrdup(s);
}

/* Reads an alias's targets into *out (new strings); the count or -1. */
static int
userdb_alias_targets(struct userdb *db, const char *key,
    struct userdb_strv *out)
{
	sqlite3_stmt *st = db->st[ST_ALIAS_TARGETS];
	const unsigned char *t;
	int rc;

	(void)sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((t = sqlite3_column_text(st, 0)) != NULL)
			userdb_strv_add(out, (const char *)t);
	(void)sqlite3_reset(st);
	(void)sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return userdb_error(db, rc, "read alias", NULL, 0);
	return out->n;
}

struct userdb_expansion {
	struct userdb_strv out;		/* final addresses */
	struct userdb_strv seen;	/* aliases expanded so far */
};

static int userdb_expand_key(struct userdb *, const char *, const char *,
    int, struct userdb_expansion *);

/* One stored target: resolve it by its lookup key, else keep it as is. */
static int
userdb_expand_target(struct userdb *db, const char *target, int depth,
    struct userdb_expansion *ex)
{
	struct addr a;
	char key[ADDR_BUFSZ];

	if (addr_parse_mailbox(&a, target, 1) == -1 ||
	    addr_lookup_key(&a, key, sizeof(key)) == -1) {
		userdb_strv_add(&ex->out, target);
		return 0;
	}
	return userdb_expand_key(db, key, target, depth, ex);
}

/*
 * A user gives itself; an alias its targets, one level deeper; anything
 * else, as_stored (NULL at the top: an unknown key gives nothing).
 */
static int
userdb_expand_key(struct userdb *db, const char *key, const char *as_stored,
    int depth, struct userdb_expansion *ex)
{
	struct userdb_strv targets = { NULL, 0, 0 };
	int i, n, rc = -1;

	if ((n = userdb_user_exists_locked(db, key, NULL, 0)) != 0) {
		if (n == 1)
			userdb_strv_add(&ex->out, key);
		return n == 1 ? 0 : -1;
	}
	if (userdb_strv_has(&ex->seen, key))
		return 0;	/* a loop, or reached by two paths */
	if ((n = userdb_alias_targets(db, key, &targets)) <= 0) {
		if (n == 0 && as_stored != NULL)
			userdb_strv_add(&ex->out, as_stored);
		return n;
	}
	if (depth >= USERDB_EXPAND_DEPTH) {
		log_warnx("event=alias-too-deep alias=%s max_depth=%d", key,
		    USERDB_EXPAND_DEPTH);
		rc = 0;
		goto done;
	}
	userdb_strv_add(&ex->seen, key);
	for (i = 0; i < targets.n; i++)
		if (userdb_expand_target(db, targets.v[i], depth + 1, ex) == -1)
			goto done;
	rc = 0;
done:
	userdb_targets_free(targets.v, targets.n);
	return rc;
}

int
userdb_expand(struct userdb *db, const char *key, char ***targets)
{
	struct userdb_expansion ex;
	int rc;

	memset(&ex, 0, sizeof(ex));
	*targets = NULL;
	pthread_mutex_lock(&db->mu);
	rc = userdb_expand_key(db, key, NULL, 0, &ex);
	pthread_mutex_unlock(&db->mu);
	userdb_targets_free(ex.seen.v, ex.seen.n);
	if (rc == -1) {
		rc = errno;
		userdb_targets_free(ex.out.v, ex.out.n);
		errno = rc;
		return -1;
	}
	if (ex.out.n > 0 && ex.seen.n > 0)
		log_debug("event=alias-expanded alias=%s targets=%d", key,
		    ex.out.n);
	*targets = ex.out.v;
	return ex.out.n;
}

void
userdb_targets_free(char **targets, int n)
{
	int i;

	if (targets == NULL)
		return;
	for (i = 0; i < n; i++)
		free(targets[i]);
	free(targets);
}
