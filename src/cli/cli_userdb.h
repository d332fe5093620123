/*
 * What `postern user` and `postern alias` share: opening the store the
 * config names, checking an address on a local domain, and exit codes.
 * Implemented in src/cli/user.c. Functions returning int give 0 or a
 * sysexits.h code after printing the reason to stderr.
 */
#ifndef POSTERN_CLI_USERDB_H
#define POSTERN_CLI_USERDB_H

#include <stddef.h>

struct conf;
struct userdb;

/*
 * Opens conf's [auth] database. create: make it if missing (file mode
 * 0600; run as root with [server] user set, the new file is given to that
 * user so the server can read it after dropping privileges). Without
 * create a missing file is no error: *db is NULL (nothing stored yet).
 */
int cli_userdb_open(const struct conf *conf, int create, struct userdb **db);

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

#endif
