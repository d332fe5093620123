/*
 * The user store: mailbox users and address aliases in SQLite (the
 * [auth] database file). Keys are addr_lookup_key() forms: local part
 * lower-cased, "+tag" removed, domain lower-cased.
 *
 * Every process opens its own handle: the SMTP workers and the delivery
 * process read, the `postern user`/`alias` commands write while they run
 * (WAL journal, 5 s busy timeout). A handle may be shared by threads: its
 * calls are serialised by a mutex.
 *
 * Functions returning int report errors as -1 with errno set (EEXIST,
 * ENOENT, EINVAL for refused input, EBUSY when the database stayed locked
 * past the busy timeout, EIO otherwise) and, where they take one, a
 * message in `why`.
 */
#ifndef POSTERN_USERDB_H
#define POSTERN_USERDB_H

#include <stddef.h>

#include <sodium.h>

#define USERDB_SCHEMA_VERSION 1		/* PRAGMA user_version */
#define USERDB_BUSY_TIMEOUT_MS 5000
#define USERDB_EXPAND_DEPTH 10		/* aliases of aliases, at most */
#define USERDB_EXPAND_MAX 1000		/* addresses one expansion yields */
#define USERDB_TARGETS_MAX 100		/* targets one alias add takes */

struct userdb;

/*
 * Opens the store at path. create: make missing parent directories
 * (mode 0700), the file (mode 0600) and the schema. Without create a
 * missing file or schema is an error. A schema newer than this build
 * refuses to open. NULL on error, with the reason in why.
 */
struct userdb *userdb_open(const char *path, int create, char *why,
    size_t whysz);
void userdb_close(struct userdb *db);	/* NULL ok */

/*
 * For RCPT checks on local domains: 1 if a user or an alias with this
 * key exists, 0 if not, -1 on error. One indexed SELECT, prepared once.
 */
int userdb_recipient_exists(struct userdb *db, const char *key);

/*
 * For delivery: resolves key to final addresses. A user gives itself (its
 * key); an alias gives its targets, recursively (aliases of aliases, at
 * most USERDB_EXPAND_DEPTH deep), de-duplicated, loop-safe; targets that
 * are neither users nor aliases (remote addresses, unknown local ones)
 * are kept as stored. *targets is a new array of new strings owned by the
 * caller (userdb_targets_free). Returns the count (0: unknown key, or an
 * alias that expands to nothing) or -1 on error.
 */
int userdb_expand(struct userdb *db, const char *key, char ***targets);
void userdb_targets_free(char **targets, int n);

/*
 * A user's stored secrets, for AUTH. cram_secret is the password itself
 * (CRAM-MD5 needs it) and is set only when has_cram. Clear a filled struct
 * with userdb_secrets_clear() when done.
 */
struct userdb_secrets {
	char		argon2[crypto_pwhash_STRBYTES];
	unsigned char	scram_salt[16];
	size_t		scram_salt_len;
	unsigned	scram_iter;
	unsigned char	scram_stored_key[32];
	unsigned char	scram_server_key[32];
	char		cram_secret[256];
	int		has_cram;
};

/* 1 if a user (not an alias) with this key exists, 0 if not, -1 error. */
int userdb_user_exists(struct userdb *db, const char *key);

/* 1 found (out filled), 0 no such user, -1 error. */
int userdb_get_secrets(struct userdb *db, const char *key,
    struct userdb_secrets *out);
void userdb_secrets_clear(struct userdb_secrets *s);	/* sodium_memzero */

/*
 * Users. key: lookup-key form. s: from password_make_secrets().
 * add: EEXIST if the user exists or an alias has that address.
 * passwd: rewrites every secret; ENOENT if no such user.
 * del: ENOENT if no such user.
 */
int userdb_user_add(struct userdb *db, const char *key,
    const struct userdb_secrets *s, char *why, size_t whysz);
int userdb_user_passwd(struct userdb *db, const char *key,
    const struct userdb_secrets *s, char *why, size_t whysz);
int userdb_user_del(struct userdb *db, const char *key, char *why,
    size_t whysz);

/*
 * Calls fn for each user in address order; a nonzero return from fn stops
 * the walk and is returned. -1 on a store error.
 */
typedef int (*userdb_user_fn)(const char *address, int has_cram, void *arg);
int userdb_user_list(struct userdb *db, userdb_user_fn fn, void *arg);

/*
 * Aliases. key: lookup-key form of the alias address. targets: mailbox
 * addresses, stored as given; adding to an existing alias appends the new
 * targets (those already there are skipped). Returns the number of targets
 * added (0 if all were present), -1 with EEXIST if a user has that
 * address, EINVAL if a target is the alias itself or n is out of range.
 * del with ntargets 0 deletes the whole alias, else only those targets
 * (ENOENT if the alias or one of them is not there; nothing changes).
 */
int userdb_alias_add(struct userdb *db, const char *key,
    const char *const *targets, size_t ntargets, char *why, size_t whysz);
int userdb_alias_del(struct userdb *db, const char *key,
    const char *const *targets, size_t ntargets, char *why, size_t whysz);

/* Calls fn once per alias, address order, targets in the order added. */
typedef int (*userdb_alias_fn)(const char *address,
    const char *const *targets, size_t ntargets, void *arg);
int userdb_alias_list(struct userdb *db, userdb_alias_fn fn, void *arg);

#endif
