/*
 * `postern queue list | show ID | flush [ID] | delete ID [-c FILE]`:
 * inspecting and acting on the mail queue as plain file operations on the
 * spool (docs/queue.md). list and show read spool/queue/ID and
 * spool/state/ID and explain each recipient's last reply from the reply
 * catalogue; flush asks the delivery process (through the wakeup FIFO) to
 * retry at once; delete removes the queue and state files (the delivery
 * process copes with files vanishing).
 *
 * Exit codes: 0 done; 64 usage; 65 no such message (or not an ID);
 * 74 spool unreadable; 75 flush while the delivery process is not
 * running; 77 permission denied; 78 config.
 * Owns the config and what it reads. Runs in the CLI process.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "conf/conf.h"
#include "deliver/dsn.h"
#include "queue/qfile.h"
#include "queue/qstate.h"
#include "queue/queue_id.h"
#include "queue/spool.h"
#include "replies/catalogue.h"
#include "util/log.h"

static void
queue_usage(FILE *out)
{
	fprintf(out,
	    "usage: postern queue list [-c FILE]\n"
	    "       postern queue show ID [-c FILE]\n"
	    "       postern queue flush [ID] [-c FILE]\n"
	    "       postern queue delete ID [-c FILE]\n"
	    "\n"
	    "  list    every queued message: id, age, size, sender, and per\n"
	    "          recipient its status, attempts, next attempt and last\n"
	    "          reply with an explanation\n"
	    "  show    one message: envelope, delivery state and headers\n"
	    "  flush   retry every deferred recipient (or those of ID) now\n"
	    "  delete  remove a message from the queue without delivering "
	    "it\n"
	    "\n"
	    "exit: 0 ok; 64 usage; 65 no such message; 74 spool unreadable;\n"
	    "75 delivery process not running (flush); 77 permission "
	    "denied;\n"
	    "78 config\n");
}

/* "3d4h", "5m12s", "12s". */
static void
queue_age(time_t secs, char *buf, size_t bufsz)
{
	if (secs < 0)
		secs = 0;
	if (secs >= 86400)
		(void)snprintf(buf, bufsz, "%lldd%lldh",
		    (long long)secs / 86400, (long long)secs % 86400 / 3600);
	else if (secs >= 3600)
		(void)snprintf(buf, bufsz, "%lldh%lldm", (long long)secs / 3600,
		    (long long)secs % 3600 / 60);
	else if (secs >= 60)
		(void)snprintf(buf, bufsz, "%lldm%llds", (long long)secs / 60,
		    (long long)secs % 60);
	else
		(void)snprintf(buf, bufsz, "%llds", (long long)secs);
}

/* "2024-11-30 01:50:00 (in 4m48s)" or "now". */
static void
queue_when(time_t t, time_t now, char *buf, size_t bufsz)
{
	char stamp[32], rel[32];
	struct tm tm;

	if (t <= now) {
		(void)snprintf(buf, bufsz, "now");
		return;
	}
	localtime_r(&t, &tm);
	(void)strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	queue_age(t - now, rel, sizeof(rel));
	(void)snprintf(buf, bufsz, "%s (in %s)", stamp, rel);
}

/* One line from the catalogue: the titles of the reply's codes. */
static void
queue_explain(const char *reply, const char *indent)
{
	const struct cat_entry *b, *e = NULL;
	enum cat_lang lang = cat_lang_env();
	struct cat_reply r;

	if (cat_parse_reply(reply, strlen(reply), &r) == -1)
		return;
	b = cat_basic(r.basic);
	if (r.enh_cls != 0)
		e = cat_enhanced(r.enh_subject, r.enh_detail);
	if (b == NULL && e == NULL)
		return;
	printf("%sexplained: ", indent);
	if (b != NULL)
		printf("%d %s", r.basic, b->text[lang].title);
	if (e != NULL)
		printf("%s%d.%d.%d %s", b != NULL ? "; " : "", r.enh_cls,
		    r.enh_subject, r.enh_detail, e->text[lang].title);
	printf(" (%s)\n", cat_action(r.basic / 100));
}

static void
queue_print_rcpt(const char *addr, const struct qstate_rcpt *r,
    time_t now, int details)
{
	char when[96];
	size_t i;

	printf("    <%s>  %s", addr, qstate_status_str(r->status));
	if (r->status == QSTATE_PENDING || r->status == QSTATE_DEFERRED) {
		queue_when(r->next_attempt, now, when, sizeof(when));
		printf("  attempts=%u  next=%s", r->attempts, when);
	} else
		printf("  attempts=%u", r->attempts);
	printf("\n");
	if (details && r->last_attempt != 0) {
		queue_age(now - r->last_attempt, when, sizeof(when));
		printf("        last attempt: %s ago\n", when);
	}
	if (r->reply[0] != '\0') {
		printf("        last reply: %s\n", r->reply);
		queue_explain(r->reply, "        ");
	}
	for (i = 0; details && i < r->ndelivered; i++)
		printf("        delivered to: %s\n", r->delivered[i]);
}

/* Loads a message and its state; an exit code (message on stderr). */
static int
queue_load(const struct conf *conf, const char *id, struct qfile *qf,
    struct qstate *st)
{
	char why[512];

	if (!queue_id_valid(id)) {
		fprintf(stderr, "postern queue: not a queue ID: %.64s\n", id);
		return EX_DATAERR;
	}
	if (qfile_open(conf->spool, id, qf, why, sizeof(why)) == -1) {
		if (errno == ENOENT) {
			fprintf(stderr, "postern queue: no such message: "
			    "%s\n", id);
			return EX_DATAERR;
		}
		fprintf(stderr, "postern queue: %s\n", why);
		return errno == EACCES ? EX_NOPERM : EX_IOERR;
	}
	if (qstate_load(conf->spool, &qf->env, st, why, sizeof(why)) == -1)
		fprintf(stderr, "postern queue: warning: %s: state: %s\n", id,
		    why);
	return EX_OK;
}

static int
queue_list_one(const struct conf *conf, const char *id, time_t now,
    size_t *bytes)
{
	struct qfile qf;
	struct qstate st;
	char age[32];
	size_t i;
	int rc;

	if ((rc = queue_load(conf, id, &qf, &st)) != EX_OK)
		return rc;
	queue_age(now - qf.env.created, age, sizeof(age));
	printf("%-20s %7s %9zu  <%s>\n", id, age, qf.msglen, qf.env.sender);
	for (i = 0; i < qf.env.nrcpts; i++)
		queue_print_rcpt(qf.env.rcpts[i], &st.r[i], now, 0);
	*bytes += qf.msglen;
	qstate_clear(&st);
	qfile_close(&qf);
	return EX_OK;
}

static int
queue_list_error(const char *spool)
{
	fprintf(stderr, "postern queue: %s/queue: %s\n", spool,
	    strerror(errno));
	return errno == EACCES ? EX_NOPERM : EX_IOERR;
}

static int
queue_list(const struct conf *conf)
{
	char (*ids)[QUEUE_ID_MAX] = NULL;
	time_t now = time(NULL);
	size_t bytes = 0, shown = 0;
	ssize_t n, i;

	if ((n = qfile_list(conf->spool, &ids)) == -1 && errno != ENOENT)
		return queue_list_error(conf->spool);
	if (n > 0)
		printf("%-20s %7s %9s  %s\n", "ID", "AGE", "SIZE", "SENDER");
	for (i = 0; i < n; i++) {
		/* A message delivered or deleted since the listing is fine. */
		if (queue_list_one(conf, ids[i], now, &bytes) == EX_OK)
			shown++;
	}
	free(ids);
	if (shown == 0)
		printf("Queue is empty\n");
	else
		printf("-- %zu message%s, %zu bytes\n", shown,
		    shown == 1 ? "" : "s", bytes);
	return EX_OK;
}

static void
queue_show_envelope(const struct qfile *qf, time_t now)
{
	const struct envelope *env = &qf->env;
	char date[64], age[32];

	(void)dsn_date(env->created, date, sizeof(date));
	queue_age(now - env->created, age, sizeof(age));
	printf("id: %s\n", env->id);
	printf("arrived: %s (%s ago)\n", date, age);
	printf("size: %zu bytes\n", qf->msglen);
	printf("sender: <%s>\n", env->sender);
	if (env->client != NULL)
		printf("client: %s\n", env->client);
	if (env->helo != NULL)
		printf("helo: %s\n", env->helo);
	if (env->auth_user != NULL)
		printf("auth: %s\n", env->auth_user);
	printf("body: %s\n", env->body_8bit ? "8BITMIME" : "7BIT");
	printf("smtputf8: %s\n", env->smtputf8 ? "yes" : "no");
}

static int
queue_show(const struct conf *conf, const char *id)
{
	struct qfile qf;
	struct qstate st;
	time_t now = time(NULL);
	size_t i, hlen;
	int rc;

	if ((rc = queue_load(conf, id, &qf, &st)) != EX_OK)
		return rc;
	queue_show_envelope(&qf, now);
	printf("recipients:\n");
	for (i = 0; i < qf.env.nrcpts; i++)
		queue_print_rcpt(qf.env.rcpts[i], &st.r[i], now, 1);
	printf("headers:\n");
	hlen = qfile_header_len(qf.msg, qf.msglen);
	for (i = 0; i < hlen; i++)
		if (qf.msg[i] != '\r' || i + 1 >= hlen || qf.msg[i + 1] != '\n')
			putchar(qf.msg[i]);
	qstate_clear(&st);
	qfile_close(&qf);
	return EX_OK;
}

/* Sends a FIFO command; an exit code. */
static int
queue_notify(const struct conf *conf, const char *cmd, const char *what)
{
	if (spool_notify(conf->spool, cmd) == -1) {
		if (errno == ENXIO || errno == ENOENT) {
			fprintf(stderr, "postern queue: the delivery process "
			    "is not running; %s stays queued and is retried "
			    "when it starts\n", what);
			return EX_TEMPFAIL;
		}
		fprintf(stderr, "postern queue: cannot reach the delivery "
		    "process: %s\n", strerror(errno));
		return errno == EACCES ? EX_NOPERM : EX_TEMPFAIL;
	}
	printf("Delivery of %s requested\n", what);
	return EX_OK;
}

static int
queue_flush(const struct conf *conf, const char *id)
{
	char cmd[QUEUE_ID_MAX + 4], path[4096];

	if (id == NULL)
		return queue_notify(conf, "F\n", "every queued message");
	if (!queue_id_valid(id)) {
		fprintf(stderr, "postern queue: not a queue ID: %.64s\n", id);
		return EX_DATAERR;
	}
	(void)snprintf(path, sizeof(path), "%s/queue/%s", conf->spool, id);
	if (access(path, F_OK) == -1) {
		fprintf(stderr, "postern queue: no such message: %s\n", id);
		return EX_DATAERR;
	}
	(void)snprintf(cmd, sizeof(cmd), "F %s\n", id);
	return queue_notify(conf, cmd, id);
}

static int
queue_delete(const struct conf *conf, const char *id)
{
	char path[4096];

	if (!queue_id_valid(id)) {
		fprintf(stderr, "postern queue: not a queue ID: %.64s\n", id);
		return EX_DATAERR;
	}
	(void)snprintf(path, sizeof(path), "%s/queue/%s", conf->spool, id);
	if (unlink(path) == -1) {
		if (errno == ENOENT) {
			fprintf(stderr, "postern queue: no such message: "
			    "%s\n", id);
			return EX_DATAERR;
		}
		fprintf(stderr, "postern queue: %s: %s\n", path,
		    strerror(errno));
		return errno == EACCES || errno == EPERM ? EX_NOPERM :
		    EX_IOERR;
	}
	if (qstate_remove(conf->spool, id) == -1)
		fprintf(stderr, "postern queue: warning: %s: state file: %s\n",
		    id, strerror(errno));
	/* Lets the delivery process drop it from its index now. */
	(void)spool_notify(conf->spool, "\n");
	printf("Deleted %s\n", id);
	return EX_OK;
}

/* Dispatches the subcommand with its operands; an exit code. */
static int
queue_run(const struct conf *conf, char **ops, int nops)
{
	const char *cmd = ops[0];

	if (strcmp(cmd, "list") == 0 && nops == 1)
		return queue_list(conf);
	if (strcmp(cmd, "show") == 0 && nops == 2)
		return queue_show(conf, ops[1]);
	if (strcmp(cmd, "flush") == 0 && nops <= 2)
		return queue_flush(conf, nops == 2 ? ops[1] : NULL);
	if (strcmp(cmd, "delete") == 0 && nops == 2)
		return queue_delete(conf, ops[1]);
	queue_usage(stderr);
	return EX_USAGE;
}

int
cli_queue(int argc, char **argv)
{
	const char *path = NULL;
	struct conf *conf;
	int rc;

	if ((rc = cli_conf_options(argc, argv, queue_usage, &path)) != 0)
		return rc == -1 ? EX_OK : rc;
	if (optind >= argc) {
		queue_usage(stderr);
		return EX_USAGE;
	}
	if ((conf = cli_load_conf(path)) == NULL)
		return CONF_EXIT;
	log_init("postern-queue", LOG_LEVEL_WARN);
	rc = queue_run(conf, argv + optind, argc - optind);
	conf_free(conf);
	return rc;
}
