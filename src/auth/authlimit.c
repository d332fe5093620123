/*
 * The failed-AUTH rate limiter (see authlimit.h): a hash table of client
 * address keys in MAP_SHARED anonymous memory, so that every smtp worker
 * forked from the parent sees and updates the same counts. Buckets are
 * chosen with a keyed SipHash (libsodium crypto_shorthash, key drawn at
 * creation) so that clients cannot aim their addresses at one bucket.
 *
 * Owns: the shared mapping (struct authlimit_shm) and the per-process
 * handle. Process: created in the parent before fork; used by smtp
 * workers on their loop threads. The mutex is robust: a worker that dies
 * holding it does not wedge the others.
 */
#include "auth/authlimit.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <sodium.h>

#include "util/log.h"
#include "util/xmalloc.h"

#define AUTHLIMIT_KEY_LEN 17	/* family tag + 16 address bytes */
#define AUTHLIMIT_NBUCKETS (AUTHLIMIT_SLOTS / AUTHLIMIT_BUCKET)

struct authlimit_entry {
	unsigned char	key[AUTHLIMIT_KEY_LEN];
	unsigned char	used;
	uint32_t	failures;
	uint64_t	last_ms;	/* time of the latest failure */
};

struct authlimit_shm {
	pthread_mutex_t		lock;
	unsigned char		hashkey[crypto_shorthash_KEYBYTES];
	unsigned		max_failures;
	uint64_t		window_ms;
	struct authlimit_entry	slots[AUTHLIMIT_SLOTS];
};

struct authlimit {
	struct authlimit_shm	*shm;	/* owned mapping, shared after fork */
	authlimit_clock_fn	 now;
};

_Static_assert(AUTHLIMIT_SLOTS % AUTHLIMIT_BUCKET == 0,
    "whole buckets only");

static uint64_t
authlimit_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The table key for a client: IPv4 as is, IPv6 as its /64. 0 or -1. */
static int
authlimit_key(const struct sockaddr *sa, unsigned char *key)
{
	const struct sockaddr_in6 *sin6;
	const struct sockaddr_in *sin;

	memset(key, 0, AUTHLIMIT_KEY_LEN);
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		key[0] = 4;
		memcpy(key + 1, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	sin6 = (const struct sockaddr_in6 *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		key[0] = 4;
		memcpy(key + 1, sin6->sin6_addr.s6_addr + 12, 4);
	} else {
		key[0] = 6;
		memcpy(key + 1, sin6->sin6_addr.s6_addr, 8);
	}
	return 0;
}

struct authlimit *
authlimit_new(unsigned max_failures, unsigned window)
{
	pthread_mutexattr_t attr;
	struct authlimit *tbl;
	struct authlimit_shm *shm;
	int rc;

	if (sodium_init() == -1) {
		errno = EIO;
		return NULL;
	}
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		return NULL;
	if ((rc = pthread_mutexattr_init(&attr)) == 0) {
		if ((rc = pthread_mutexattr_setpshared(&attr,
		    PTHREAD_PROCESS_SHARED)) == 0 &&
		    (rc = pthread_mutexattr_setrobust(&attr,
		    PTHREAD_MUTEX_ROBUST)) == 0)
			rc = pthread_mutex_init(&shm->lock, &attr);
		(void)pthread_mutexattr_destroy(&attr);
	}
	if (rc != 0) {
		(void)munmap(shm, sizeof(*shm));
		errno = rc;
		return NULL;
	}
	crypto_shorthash_keygen(shm->hashkey);
	shm->max_failures = max_failures;
	shm->window_ms = (uint64_t)window * 1000;
	tbl = xcalloc(1, sizeof(*tbl));
	tbl->shm = shm;
	tbl->now = authlimit_monotonic_ms;
	return tbl;
}

void
authlimit_free(struct authlimit *tbl)
{
	if (tbl == NULL)
		return;
	(void)munmap(tbl->shm, sizeof(*tbl->shm));
	free(tbl);
}

void
authlimit_set_clock(struct authlimit *tbl, authlimit_clock_fn now)
{
	tbl->now = now != NULL ? now : authlimit_monotonic_ms;
}

static void
authlimit_lock(struct authlimit_shm *shm)
{
	int rc = pthread_mutex_lock(&shm->lock);

	if (rc == EOWNERDEAD) {
		/* A worker died inside; entries are independent, carry on. */
		log_warnx("event=authlimit-lock-recovered");
		rc = pthread_mutex_consistent(&shm->lock);
	}
	if (rc != 0)
		fatalx("authlimit: mutex lock failed: %s", strerror(rc));
}

static void
authlimit_unlock(struct authlimit_shm *shm)
{
	(void)pthread_mutex_unlock(&shm->lock);
}

/* 1 if the entry still counts at time now. */
static int
authlimit_live(const struct authlimit_shm *shm,
    const struct authlimit_entry *e, uint64_t now)
{
	return e->used &&
	    (now < e->last_ms || now - e->last_ms < shm->window_ms);
}

/* The first slot of the bucket key hashes to. */
static struct authlimit_entry *
authlimit_bucket(struct authlimit_shm *shm, const unsigned char *key)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, key, AUTHLIMIT_KEY_LEN, shm->hashkey);
	memcpy(&v, h, sizeof(v));
	return &shm->slots[(v % AUTHLIMIT_NBUCKETS) * AUTHLIMIT_BUCKET];
}

/* The live entry for key, or NULL. Lock held. */
static struct authlimit_entry *
authlimit_find(struct authlimit_shm *shm, const unsigned char *key,
    uint64_t now)
{
	struct authlimit_entry *b = authlimit_bucket(shm, key);
	size_t i;

	for (i = 0; i < AUTHLIMIT_BUCKET; i++)
		if (authlimit_live(shm, &b[i], now) &&
		    memcmp(b[i].key, key, AUTHLIMIT_KEY_LEN) == 0)
			return &b[i];
	return NULL;
}

/*
 * A slot for a new entry: a free or aged-out one, else the one whose last
 * failure is oldest. Lock held.
 */
static struct authlimit_entry *
authlimit_claim(struct authlimit_shm *shm, const unsigned char *key,
    uint64_t now)
{
	struct authlimit_entry *b = authlimit_bucket(shm, key), *victim = b;
	size_t i;

	for (i = 0; i < AUTHLIMIT_BUCKET; i++) {
		if (!authlimit_live(shm, &b[i], now)) {
			victim = &b[i];
			break;
		}
		if (b[i].last_ms < victim->last_ms)
			victim = &b[i];
	}
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->key, key, AUTHLIMIT_KEY_LEN);
	victim->used = 1;
	return victim;
}

/* The live failure count of a client. */
static unsigned
authlimit_count(struct authlimit *tbl, const struct sockaddr *sa)
{
	unsigned char key[AUTHLIMIT_KEY_LEN];
	struct authlimit_entry *e;
	unsigned n = 0;

	if (authlimit_key(sa, key) == -1)
		return 0;
	authlimit_lock(tbl->shm);
	if ((e = authlimit_find(tbl->shm, key, tbl->now())) != NULL)
		n = e->failures;
	authlimit_unlock(tbl->shm);
	return n;
}

unsigned
authlimit_failures(struct authlimit *tbl, const struct sockaddr *sa)
{
	return authlimit_count(tbl, sa);
}

unsigned
authlimit_delay(struct authlimit *tbl, const struct sockaddr *sa)
{
	unsigned n = authlimit_count(tbl, sa);
	uint64_t ms;

	if (n == 0)
		return 0;
	if (n > 16)
		n = 16;		/* far past the cap; keeps the shift small */
	ms = (uint64_t)AUTHLIMIT_DELAY_FIRST_MS << (n - 1);
	return ms > AUTHLIMIT_DELAY_MAX_MS ? AUTHLIMIT_DELAY_MAX_MS :
	    (unsigned)ms;
}

int
authlimit_failure(struct authlimit *tbl, const struct sockaddr *sa)
{
	unsigned char key[AUTHLIMIT_KEY_LEN];
	struct authlimit_shm *shm = tbl->shm;
	struct authlimit_entry *e;
	uint64_t now;
	int over;

	if (authlimit_key(sa, key) == -1)
		return 0;
	authlimit_lock(shm);
	now = tbl->now();
	if ((e = authlimit_find(shm, key, now)) == NULL)
		e = authlimit_claim(shm, key, now);
	if (e->failures < UINT32_MAX)
		e->failures++;
	e->last_ms = now;
	over = shm->max_failures > 0 && e->failures >= shm->max_failures;
	authlimit_unlock(shm);
	return over;
}

void
authlimit_success(struct authlimit *tbl, const struct sockaddr *sa)
{
	unsigned char key[AUTHLIMIT_KEY_LEN];
	struct authlimit_entry *e;

	if (authlimit_key(sa, key) == -1)
		return;
	authlimit_lock(tbl->shm);
	if ((e = authlimit_find(tbl->shm, key, tbl->now())) != NULL)
		memset(e, 0, sizeof(*e));
	authlimit_unlock(tbl->shm);
}

int
authlimit_blocked(struct authlimit *tbl, const struct sockaddr *sa)
{
	unsigned max = tbl->shm->max_failures;

	return max > 0 && authlimit_count(tbl, sa) >= max;
}
