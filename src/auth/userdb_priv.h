/*
 * Inside the user store: the handle and its prepared statements, shared by
 * userdb.c (open, schema, look-ups, expansion) and userdb_admin.c (the
 * writes and listings of `postern user` and `postern alias`). Not for use
 * outside src/auth/userdb*.c.
 */
#ifndef POSTERN_USERDB_PRIV_H
#define POSTERN_USERDB_PRIV_H

#include <pthread.h>
#include <stddef.h>

#include <sqlite3.h>

enum userdb_stmt {
	ST_RCPT,		/* ?1 key -> 1 row if user or alias */
	ST_USER_EXISTS,		/* ?1 key -> 1 row if user */
	ST_ALIAS_TARGETS,	/* ?1 key -> target rows, in order added */
	ST_SECRETS,		/* ?1 key -> the secrets row */
	ST_USER_INSERT,		/* ?1 key, ?2..?7 secrets, ?8 time */
	ST_USER_UPDATE,		/* ?1 key, ?2..?7 secrets */
	ST_USER_DELETE,		/* ?1 key */
	ST_USER_LIST,		/* address, has cram */
	ST_ALIAS_INSERT,	/* ?1 key, ?2 target, ?3 time; ignores dups */
	ST_ALIAS_DELETE,	/* ?1 key */
	ST_ALIAS_DELETE_ONE,	/* ?1 key, ?2 target */
	ST_ALIAS_LIST,		/* address, target; by address, order added */
	ST_BEGIN,		/* BEGIN IMMEDIATE */
	ST_COMMIT,
	ST_ROLLBACK,
	ST__COUNT
};

/* The handle; owns the connection and every statement. */
struct userdb {
	sqlite3		*h;
	char		*path;
	pthread_mutex_t	 mu;		/* serialises every call */
	sqlite3_stmt	*st[ST__COUNT];
};

/*
 * Turns an SQLite result code into errno (EBUSY, EEXIST, EIO ...) and
 * "what: message" in why (why may be NULL: the message is logged).
 * Returns -1.
 */
int userdb_error(struct userdb *db, int rc, const char *what, char *why,
    size_t whysz);

/* Steps a statement that returns no rows and resets it; an SQLite code. */
int userdb_run(struct userdb *db, enum userdb_stmt id);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK; begin and commit return 0 or -1. */
int userdb_begin(struct userdb *db, char *why, size_t whysz);
int userdb_commit(struct userdb *db, char *why, size_t whysz);
void userdb_rollback(struct userdb *db);

/*
 * Look-ups with the mutex held: 1 yes, 0 no, -1 error (in why, or logged
 * when why is NULL).
 */
int userdb_user_exists_locked(struct userdb *db, const char *key, char *why,
    size_t whysz);
int userdb_alias_exists_locked(struct userdb *db, const char *key, char *why,
    size_t whysz);

#endif
