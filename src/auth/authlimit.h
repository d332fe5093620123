/*
 * Failed-AUTH rate limit per client address, shared by every smtp worker:
 * a fixed-size table in anonymous shared memory, created by the parent
 * before fork and guarded by a process-shared robust mutex. Memory is
 * bounded (AUTHLIMIT_SLOTS entries); when a bucket is full the entry idle
 * longest is evicted. IPv4 clients are keyed by address, IPv6 clients by
 * their /64 (one host usually owns a whole /64); IPv4-mapped IPv6
 * addresses count as IPv4.
 *
 * An entry counts the failures of one client; it ages out (the count
 * returns to 0) once `window` seconds pass without a failure. After the
 * n-th failure the session waits authlimit_delay() before it answers:
 * 1 s, 2 s, 4 s ... capped at AUTHLIMIT_DELAY_MAX_MS. When the count
 * reaches max_failures the client gets "421 4.7.0" and is disconnected,
 * and authlimit_blocked() stays 1 for it until the entry ages out.
 * A successful AUTH clears the entry.
 */
#ifndef POSTERN_AUTHLIMIT_H
#define POSTERN_AUTHLIMIT_H

#include <stdint.h>
#include <sys/socket.h>

#define AUTHLIMIT_SLOTS 8192		/* table entries (~320 KiB shared) */
#define AUTHLIMIT_BUCKET 16		/* slots probed per address */
#define AUTHLIMIT_DELAY_FIRST_MS 1000
#define AUTHLIMIT_DELAY_MAX_MS 30000

struct authlimit;

/* A monotonic clock in milliseconds, the same in every process. */
typedef uint64_t (*authlimit_clock_fn)(void);

/*
 * Maps the shared table. max_failures: failures before 421 and close
 * (0: never close, only delay). window: seconds without a failure after
 * which a client's count is forgotten. Call before fork. NULL with errno
 * set if the mapping or the mutex cannot be created.
 */
struct authlimit *authlimit_new(unsigned max_failures, unsigned window);

/* Unmaps the table (in the last process that uses it). NULL ok. */
void authlimit_free(struct authlimit *tbl);

/* Replaces the clock (tests); NULL restores CLOCK_MONOTONIC. */
void authlimit_set_clock(struct authlimit *tbl, authlimit_clock_fn now);

/*
 * Milliseconds to wait before answering a failed AUTH: 0 with no recent
 * failure, else 1000 << (failures - 1), at most AUTHLIMIT_DELAY_MAX_MS.
 * Unknown address families (AF_UNIX): 0.
 */
unsigned authlimit_delay(struct authlimit *tbl, const struct sockaddr *sa);

/*
 * Records a failed AUTH. Returns 1 when the client has now reached
 * max_failures and must get "421 4.7.0" and be disconnected, else 0.
 */
int authlimit_failure(struct authlimit *tbl, const struct sockaddr *sa);

/* A successful AUTH: forgets the client's failures. */
void authlimit_success(struct authlimit *tbl, const struct sockaddr *sa);

/*
 * 1 if the client is at its limit (check it when AUTH starts and answer
 * "421 4.7.0" at once), else 0.
 */
int authlimit_blocked(struct authlimit *tbl, const struct sockaddr *sa);

/* The client's current failure count (0 once aged out); for logs, tests. */
unsigned authlimit_failures(struct authlimit *tbl, const struct sockaddr *sa);

#endif
