/*
 * A delivery attempt, first half (see deliver/djob.h): load the queue file
 * and its state, pick the due recipients, resolve the local ones through
 * the user store and write them into their Maildirs (one copy per mailbox
 * per message, loops refused), and collect the remote addresses for
 * remote_deliver(). The second half, recording results, is ddjob_finish.c.
 * Owns struct djob and everything hanging off it. Runs in the delivery
 * process, in pool threads (djob_run) and on the loop (djob_new/djob_free).
 */
#include "deliver/djob.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "conf/conf.h"
#include "deliver/local.h"
#include "deliver/maildir.h"
#include "queue/queue_id.h"
#include "util/addr.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define DJOB_DB_RETRY 30		/* seconds between user store opens */
#define DJOB_IO_RETRY 60		/* queue file unreadable: try again */

struct djob *
djob_new(struct djob_ctx *ctx, const char *id, int force)
{
	struct djob *j = xcalloc(1, sizeof(*j));

	j->ctx = ctx;
	(void)snprintf(j->id, sizeof(j->id), "%s", id);
	j->force = force;
	return j;
}

void
djob_free(struct djob *j)
{
	size_t i;

	if (j == NULL)
		return;
	if (j->qf_open)
		qfile_close(&j->qf);
	qstate_clear(&j->st);
	for (i = 0; i < j->nremote; i++)
		free(j->remote[i].addr);
	free(j->remote);
	for (i = 0; i < j->nmailboxes; i++)
		free(j->mailboxes[i]);
	free(j->mailboxes);
	free(j->rcpt);
	free(j);
}

unsigned
djob_retry_delay(const struct conf *conf, unsigned attempts)
{
	size_t i;

	if (conf->nretry == 0)
		return 300;
	i = attempts == 0 ? 0 : attempts - 1;
	if (i >= conf->nretry)
		i = conf->nretry - 1;
	return conf->retry[i];
}

/* The user store, opened on first use and after failures (rate-limited). */
static struct userdb *
djob_db(struct djob_ctx *ctx, time_t now)
{
	struct userdb *db;
	char why[256];

	pthread_mutex_lock(&ctx->db_mu);
	if (ctx->db == NULL && now >= ctx->db_retry) {
		ctx->db = userdb_open(ctx->conf->auth_database, 0, why,
		    sizeof(why));
		if (ctx->db == NULL) {
			log_warnx("deliver userdb=%s event=open-failed "
			    "reason=\"%s\"", ctx->conf->auth_database, why);
			ctx->db_retry = now + DJOB_DB_RETRY;
		}
	}
	db = ctx->db;
	pthread_mutex_unlock(&ctx->db_mu);
	return db;
}

void
djob_fail(struct djob *j, size_t i, int perm, const char *reply,
    const char *relay)
{
	struct djob_rcpt *r = &j->rcpt[i];

	if (perm && r->nperm++ == 0)
		(void)snprintf(r->perm, sizeof(r->perm), "%s", reply);
	if (!perm && r->ntemp++ == 0)
		(void)snprintf(r->temp, sizeof(r->temp), "%s", reply);
	if (r->relay[0] == '\0')
		(void)snprintf(r->relay, sizeof(r->relay), "%s", relay);
}

static void
djob_add_remote(struct djob *j, size_t i, const char *addr)
{
	struct remote_rcpt *r;

	j->remote = xreallocarray(j->remote, j->nremote + 1,
	    sizeof(*j->remote));
	r = &j->remote[j->nremote++];
	memset(r, 0, sizeof(*r));
	r->index = i;
	r->addr = xstrdup(addr);
}

/* 1 if this message already went to mailbox `path` or address `addr`. */
static int
djob_is_duplicate(const struct djob *j, const char *path, const char *addr)
{
	size_t i;

	for (i = 0; i < j->nmailboxes; i++)
		if (strcmp(j->mailboxes[i], path) == 0)
			return 1;
	for (i = 0; i < j->st.n; i++)
		if (qstate_is_delivered(&j->st.r[i], addr))
			return 1;
	return 0;
}

void
djob_log(const struct djob *j, const char *rcpt, const char *to,
    const char *status, const char *relay, const char *tls,
    const char *reply)
{
	char safe[LOG_SAFE_BUFSZ], tlsf[48] = "";

	log_safe(safe, sizeof(safe), reply, strlen(reply));
	if (tls != NULL && tls[0] != '\0')
		(void)snprintf(tlsf, sizeof(tlsf), " tls=%s", tls);
	if (strcmp(rcpt, to) == 0)
		log_info("id=%s to=<%s> status=%s relay=%s delay=%llds%s "
		    "reply=\"%s\"", j->id, to, status, relay,
		    (long long)(j->now - j->qf.env.created), tlsf, safe);
	else
		log_info("id=%s to=<%s> orig_to=<%s> status=%s relay=%s "
		    "delay=%llds%s reply=\"%s\"", j->id, to, rcpt, status,
		    relay, (long long)(j->now - j->qf.env.created), tlsf, safe);
}

/* The reply recorded for a failed Maildir write. */
static void
djob_io_reply(int err, char *buf, size_t bufsz)
{
	if (err == ENOSPC)
		(void)snprintf(buf, bufsz, "452 4.3.1 Insufficient system "
		    "storage");
	else if (err == EDQUOT)
		(void)snprintf(buf, bufsz, "452 4.2.2 Mailbox full");
	else
		(void)snprintf(buf, bufsz, "451 4.3.0 Local delivery failed: "
		    "%s", strerror(err));
}

/* Delivers recipient i's final address t into its Maildir. */
static void
djob_mailbox(struct djob *j, size_t i, const struct local_target *t)
{
	const struct conf *conf = j->ctx->conf;
	const char *rcpt = j->qf.env.rcpts[i];
	char path[PATH_MAX], why[PATH_MAX + 128], name[512];
	char reply[QSTATE_REPLY_MAX + 64];
	int unsafe, rc;

	if (maildir_path(conf->maildir, t->user, t->domain, path,
	    sizeof(path), why, sizeof(why)) == -1) {
		unsafe = errno == EINVAL;
		log_warnx("id=%s to=<%s> event=maildir-refused reason=\"%s\"",
		    j->id, t->addr, why);
		djob_fail(j, i, unsafe, unsafe ? "550 5.1.3 Address not "
		    "usable as a mailbox name" : "451 4.3.0 Mailbox path too "
		    "long", "local");
		return;
	}
	if (djob_is_duplicate(j, path, t->addr)) {
		qstate_add_delivered(&j->st.r[i], t->addr);
		djob_log(j, rcpt, t->addr, "sent", "local", NULL,
		    "250 2.0.0 Ok: duplicate, one copy delivered");
		return;
	}
	if (local_is_loop(j->qf.msg, qfile_header_len(j->qf.msg,
	    j->qf.msglen), t->addr)) {
		djob_fail(j, i, 1, LOCAL_REPLY_LOOP, "local");
		return;
	}
	if ((rc = maildir_deliver(path, conf->hostname, &j->uniq,
	    j->qf.env.sender, t->addr, j->qf.msg, j->qf.msglen, name,
	    sizeof(name), why, sizeof(why))) == -1) {
		djob_io_reply(errno, reply, sizeof(reply));
		log_warnx("id=%s to=<%s> event=maildir-failed reason=\"%s\"",
		    j->id, t->addr, why);
		djob_fail(j, i, 0, reply, "local");
		return;
	}
	qstate_add_delivered(&j->st.r[i], t->addr);
	j->mailboxes = xreallocarray(j->mailboxes, j->nmailboxes + 1,
	    sizeof(*j->mailboxes));
	j->mailboxes[j->nmailboxes++] = xstrdup(path);
	(void)snprintf(reply, sizeof(reply), "250 2.0.0 Ok: %s as %s",
	    rc == 1 ? "already delivered" : "delivered", name);
	djob_log(j, rcpt, t->addr, "sent", "local", NULL, reply);
}

/* Resolves local recipient a (index i) and delivers each final address. */
static void
djob_local(struct djob *j, size_t i, const struct addr *a)
{
	struct local_target *t = NULL;
	char reply[QSTATE_REPLY_MAX];
	int n, k;

	n = local_resolve(j->ctx->conf, djob_db(j->ctx, j->now), a, &t, reply,
	    sizeof(reply));
	if (n <= 0) {
		djob_fail(j, i, n == 0, reply, "local");
		return;
	}
	for (k = 0; k < n; k++) {
		if (qstate_is_delivered(&j->st.r[i], t[k].addr))
			continue;
		switch (t[k].kind) {
		case LOCAL_MAILBOX:
			djob_mailbox(j, i, &t[k]);
			break;
		case LOCAL_REMOTE:
			djob_add_remote(j, i, t[k].addr);
			break;
		case LOCAL_UNKNOWN:
			log_info("id=%s to=<%s> orig_to=<%s> event=alias-"
			    "target-unknown", j->id, t[k].addr,
			    j->qf.env.rcpts[i]);
			local_unknown_reply(reply, sizeof(reply));
			djob_fail(j, i, 1, reply, "local");
			break;
		case LOCAL_INVALID:
			djob_fail(j, i, 1, LOCAL_REPLY_BAD_TARGET, "local");
			break;
		}
	}
	free(t);
}

/* Routes recipient i: local domain, remote domain, or unusable. */
static void
djob_recipient(struct djob *j, size_t i)
{
	const char *rcpt = j->qf.env.rcpts[i];
	struct addr a;

	if (addr_parse_mailbox(&a, rcpt, 1) == -1) {
		djob_fail(j, i, 1, "550 5.1.3 Bad recipient address syntax",
		    "none");
		return;
	}
	if (conf_is_local_domain(j->ctx->conf, a.domain, strlen(a.domain)))
		djob_local(j, i, &a);
	else
		djob_add_remote(j, i, rcpt);
}

/* Moves a damaged queue file aside so that it is kept but not retried. */
static void
djob_quarantine(struct djob *j, const char *why)
{
	const char *spool = j->ctx->conf->spool;
	char from[PATH_MAX], to[PATH_MAX];

	(void)snprintf(from, sizeof(from), "%s/queue/%s", spool, j->id);
	(void)snprintf(to, sizeof(to), "%s/corrupt", spool);
	/* Made here, as the delivery user, the first time it is needed. */
	if (mkdir(to, 0700) == -1 && errno != EEXIST)
		log_warn("id=%s event=mkdir-failed path=%s", j->id, to);
	(void)snprintf(to, sizeof(to), "%s/corrupt/%s", spool, j->id);
	if (rename(from, to) == -1)
		log_warn("id=%s event=quarantine-failed", j->id);
	else
		log_err("id=%s event=queue-file-damaged reason=\"%s\" "
		    "moved_to=%s", j->id, why, to);
	(void)qstate_remove(spool, j->id);
	j->outcome = DJOB_CORRUPT;
}

/*
 * The Maildir name of this message: the parts of its queue ID, so that a
 * delivery repeated after a crash finds its earlier copy (see maildir.h).
 */
static void
djob_uniq(struct djob *j)
{
	struct queue_id_parts p;

	if (queue_id_parts(j->id, &p) == -1)
		fatalx("djob: invalid queue id %s", j->id);
	j->uniq.ts.tv_sec = p.sec;
	j->uniq.ts.tv_nsec = p.usec * 1000;
	j->uniq.pid = p.pid;
	j->uniq.q = p.counter;
}

/* Opens the queue file and its state; 0, or -1 with j->outcome set. */
static int
djob_load(struct djob *j)
{
	const char *spool = j->ctx->conf->spool;
	char why[512];

	if (qfile_open(spool, j->id, &j->qf, why, sizeof(why)) == -1) {
		if (errno == ENOENT) {
			(void)qstate_remove(spool, j->id);
			j->outcome = DJOB_GONE;
		} else if (errno == EINVAL)
			djob_quarantine(j, why);
		else {
			log_warnx("id=%s event=queue-file-unreadable "
			    "reason=\"%s\"", j->id, why);
			j->outcome = DJOB_DEFERRED;
			j->next = j->now + DJOB_IO_RETRY;
		}
		return -1;
	}
	j->qf_open = 1;
	djob_uniq(j);
	switch (qstate_load(spool, &j->qf.env, &j->st, why, sizeof(why))) {
	case 1:
		j->had_state = 1;
		break;
	case -1:
		j->had_state = 1;
		log_warnx("id=%s event=state-damaged reason=\"%s\" "
		    "action=start-over", j->id, why);
		break;
	}
	j->rcpt = xcalloc(j->qf.env.nrcpts, sizeof(*j->rcpt));
	return 0;
}

/* Marks the recipients due now; the count. */
static size_t
djob_pick_due(struct djob *j)
{
	const struct qstate_rcpt *r;
	size_t i, n = 0;

	for (i = 0; i < j->st.n; i++) {
		r = &j->st.r[i];
		if (r->status == QSTATE_DONE || r->status == QSTATE_FAILED)
			continue;
		if (j->force || r->next_attempt <= j->now) {
			j->rcpt[i].due = 1;
			n++;
		}
	}
	return n;
}

void
djob_run(void *arg)
{
	struct djob *j = arg;
	size_t i;

	j->now = time(NULL);
	if (djob_load(j) == -1)
		return;
	if (djob_pick_due(j) == 0) {
		if (qstate_finished(&j->st)) {
			/* A finished state was saved but the unlink lost. */
			djob_finish(j);
			return;
		}
		j->outcome = DJOB_NOT_DUE;
		j->next = qstate_next_attempt(&j->st);
		return;
	}
	for (i = 0; i < j->st.n; i++)
		if (j->rcpt[i].due)
			djob_recipient(j, i);
	if (j->nremote > 0) {
		j->outcome = DJOB_REMOTE;
		return;
	}
	djob_finish(j);
}
