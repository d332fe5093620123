/*
 * The supervisor (parent process of `postern serve`). Owns the config,
 * the listening sockets, the shared counters and the table of children.
 * Signals are taken synchronously with sigtimedwait(), so no handler runs
 * code and children start with a clean signal state.
 */
#include "proc/supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/authlimit.h"
#include "auth/userdb.h"
#include "conf/conf.h"
#include "deliver/deliver.h"
#include "proc/listen.h"
#include "proc/shared.h"
#include "queue/spool.h"
#include "smtp/server.h"
#include "tls/tls.h"
#include "util/log.h"

#define SUP_MAX_CHILDREN 256
#define SUP_STOP_SECONDS 20	/* after SIGTERM, then SIGKILL */
#define SUP_CRASH_SECONDS 2	/* a child dying sooner is restarted late */

enum child_kind { CHILD_SMTP, CHILD_DELIVERY };

struct supervisor;
static int supervisor_tls(struct supervisor *sup, char *why, size_t whysz);

static const char *
child_kind_str(enum child_kind k)
{
	return k == CHILD_SMTP ? "smtp" : "delivery";
}

struct child {
	pid_t		 pid;		/* 0: slot free or waiting to restart */
	enum child_kind	 kind;
	unsigned	 slot;		/* shared->conns index (smtp) */
	int		 stopping;	/* sent SIGTERM; do not restart */
	int		 in_use;
	time_t		 started;
	time_t		 restart_at;	/* pid == 0: when to start again */
};

struct supervisor {
	struct conf		*conf;
	const char		*path;
	int			 fds[CONF_MAX_LISTENERS];
	struct smtp_worker_env	 env;		/* shared, tls, authlimit */
	struct child		 children[SUP_MAX_CHILDREN];
	int			 delivery_pending;	/* start when old one exits */
};

static int
drop_privileges(const struct conf *conf)
{
	struct passwd *pw;

	if (conf->user == NULL || conf->user[0] == '\0' || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(conf->user)) == NULL) {
		log_warnx("event=no-such-user user=%s", conf->user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		log_warn("event=drop-privileges-failed user=%s", conf->user);
		return -1;
	}
	return 0;
}

static void
child_main(struct supervisor *sup, struct child *c)
{
	sigset_t none;
	int rc = 1;

	sigemptyset(&none);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	log_set_proc(child_kind_str(c->kind));
	if (drop_privileges(sup->conf) == 0) {
		if (c->kind == CHILD_SMTP)
			rc = smtp_worker_run(sup->conf, sup->fds, c->slot,
			    &sup->env);
		else
			rc = deliver_process_run(sup->conf);
	}
	exit(rc);
}

static unsigned
free_slot(struct supervisor *sup)
{
	unsigned slot, i;

	for (slot = 0; slot < PROC_MAX_WORKERS; slot++) {
		for (i = 0; i < SUP_MAX_CHILDREN; i++)
			if (sup->children[i].in_use &&
			    sup->children[i].kind == CHILD_SMTP &&
			    sup->children[i].slot == slot)
				break;
		if (i == SUP_MAX_CHILDREN)
			return slot;
	}
	fatalx("no free worker slot");
}

static void
child_start(struct supervisor *sup, struct child *c)
{
	pid_t pid;

	if (c->kind == CHILD_SMTP)
		atomic_store(&sup->env.shared->conns[c->slot], 0);
	if ((pid = fork()) == -1) {
		log_warn("event=fork-failed kind=%s", child_kind_str(c->kind));
		c->restart_at = time(NULL) + 1;
		return;
	}
	if (pid == 0)
		child_main(sup, c);
	c->pid = pid;
	c->started = time(NULL);
	log_info("event=child-started kind=%s pid=%d", child_kind_str(c->kind),
	    (int)pid);
}

static void
child_add(struct supervisor *sup, enum child_kind kind)
{
	struct child *c = NULL;
	unsigned i;

	for (i = 0; i < SUP_MAX_CHILDREN && c == NULL; i++)
		if (!sup->children[i].in_use)
			c = &sup->children[i];
	if (c == NULL)
		fatalx("too many children");
	memset(c, 0, sizeof(*c));
	c->in_use = 1;
	c->kind = kind;
	if (kind == CHILD_SMTP)
		c->slot = free_slot(sup);
	child_start(sup, c);
}

static unsigned
worker_count(const struct conf *conf)
{
	long n = conf->workers ? (long)conf->workers :
	    sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	if (n > PROC_MAX_WORKERS / 2)
		n = PROC_MAX_WORKERS / 2;
	return (unsigned)n;
}

static void
start_generation(struct supervisor *sup)
{
	unsigned i, n = worker_count(sup->conf);

	for (i = 0; i < n; i++)
		child_add(sup, CHILD_SMTP);
	/* One delivery process at a time: wait for an old one to leave. */
	for (i = 0; i < SUP_MAX_CHILDREN; i++)
		if (sup->children[i].in_use &&
		    sup->children[i].kind == CHILD_DELIVERY) {
			sup->delivery_pending = 1;
			return;
		}
	child_add(sup, CHILD_DELIVERY);
}

/*
 * Asks the current children to leave. reload: smtp workers get SIGUSR1
 * and finish their sessions however long they last (no session is cut by
 * a reload); otherwise every child gets SIGTERM.
 */
static void
stop_generation(struct supervisor *sup, int reload)
{
	unsigned i;

	for (i = 0; i < SUP_MAX_CHILDREN; i++) {
		struct child *c = &sup->children[i];
		if (!c->in_use || c->stopping)
			continue;
		c->stopping = 1;
		if (c->pid > 0)
			kill(c->pid, reload && c->kind == CHILD_SMTP ? SIGUSR1 :
			    SIGTERM);
		else
			c->in_use = 0;	/* was waiting to restart */
	}
}

static struct child *
child_by_pid(struct supervisor *sup, pid_t pid)
{
	unsigned i;

	for (i = 0; i < SUP_MAX_CHILDREN; i++)
		if (sup->children[i].in_use && sup->children[i].pid == pid)
			return &sup->children[i];
	return NULL;
}

static void
child_exited(struct supervisor *sup, struct child *c, int status)
{
	time_t now = time(NULL);

	if (c->kind == CHILD_SMTP)
		atomic_store(&sup->env.shared->conns[c->slot], 0);
	c->pid = 0;
	if (c->stopping) {
		log_info("event=child-stopped kind=%s",
		    child_kind_str(c->kind));
		c->in_use = 0;
		if (c->kind == CHILD_DELIVERY && sup->delivery_pending) {
			sup->delivery_pending = 0;
			child_add(sup, CHILD_DELIVERY);
		}
		return;
	}
	if (WIFSIGNALED(status))
		log_warnx("event=child-died kind=%s signal=%d",
		    child_kind_str(c->kind), WTERMSIG(status));
	else
		log_warnx("event=child-exited kind=%s status=%d",
		    child_kind_str(c->kind), WEXITSTATUS(status));
	/* Restart at once, unless it keeps dying right after start. */
	c->restart_at = now - c->started < SUP_CRASH_SECONDS ? now + 1 : now;
}

static void
reap_children(struct supervisor *sup)
{
	struct child *c;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if ((c = child_by_pid(sup, pid)) != NULL)
			child_exited(sup, c, status);
}

static void
restart_due(struct supervisor *sup)
{
	time_t now = time(NULL);
	unsigned i;

	for (i = 0; i < SUP_MAX_CHILDREN; i++) {
		struct child *c = &sup->children[i];
		if (c->in_use && !c->stopping && c->pid == 0 &&
		    c->restart_at <= now)
			child_start(sup, c);
	}
}

static int
children_alive(struct supervisor *sup)
{
	unsigned i, n = 0;

	for (i = 0; i < SUP_MAX_CHILDREN; i++)
		if (sup->children[i].in_use && sup->children[i].pid > 0)
			n++;
	return n;
}

/* SIGTERM to everyone, wait, then SIGKILL what is left. */
static void
stop_all(struct supervisor *sup, const sigset_t *set)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	time_t deadline = time(NULL) + SUP_STOP_SECONDS;
	unsigned i;

	sup->delivery_pending = 0;
	stop_generation(sup, 0);
	/* Workers of an earlier generation may be finishing sessions. */
	for (i = 0; i < SUP_MAX_CHILDREN; i++)
		if (sup->children[i].in_use && sup->children[i].pid > 0)
			kill(sup->children[i].pid, SIGTERM);
	while (children_alive(sup) > 0 && time(NULL) < deadline) {
		(void)sigtimedwait(set, NULL, &tick);
		reap_children(sup);
	}
	for (i = 0; i < SUP_MAX_CHILDREN; i++)
		if (sup->children[i].in_use && sup->children[i].pid > 0) {
			log_warnx("event=child-killed kind=%s pid=%d",
			    child_kind_str(sup->children[i].kind),
			    (int)sup->children[i].pid);
			kill(sup->children[i].pid, SIGKILL);
		}
	while (children_alive(sup) > 0 && waitpid(-1, NULL, 0) > 0)
		reap_children(sup);
}

static void
close_unused_fds(const struct conf *old, const int *oldfds, const int *fds,
    size_t nfds)
{
	size_t i, j;

	for (i = 0; i < old->nlisteners; i++) {
		for (j = 0; j < nfds; j++)
			if (fds[j] == oldfds[i])
				break;
		if (j == nfds)
			close(oldfds[i]);
	}
}

/*
 * New [auth] rate-limit settings take a new table for the new workers (the
 * old workers keep theirs until they leave; counts start afresh).
 */
static void
supervisor_authlimit(struct supervisor *sup, unsigned old_failures,
    unsigned old_window)
{
	struct authlimit *tbl;

	if (sup->conf->auth_max_failures == old_failures &&
	    sup->conf->auth_failure_window == old_window)
		return;
	if ((tbl = authlimit_new(sup->conf->auth_max_failures,
	    sup->conf->auth_failure_window)) == NULL) {
		log_warn("event=authlimit-reload-failed");
		return;
	}
	authlimit_free(sup->env.authlimit);
	sup->env.authlimit = tbl;
}

/* SIGHUP: a new config means a new generation of children. */
static void
reload(struct supervisor *sup)
{
	char why[CONF_WHY_MAX];
	int fds[CONF_MAX_LISTENERS];
	unsigned old_failures, old_window;
	struct conf *conf;

	if (sup->path == NULL) {
		log_info("event=reload-skipped reason=\"built-in defaults\"");
		return;
	}
	if ((conf = conf_load(sup->path, why, sizeof(why))) == NULL) {
		log_warnx("event=reload-failed reason=\"%s\"", why);
		return;
	}
	if (listen_all(conf, sup->conf, sup->fds, fds, why, sizeof(why))
	    == -1) {
		log_warnx("event=reload-failed reason=\"%s\"", why);
		conf_free(conf);
		return;
	}
	stop_generation(sup, 1);
	close_unused_fds(sup->conf, sup->fds, fds, conf->nlisteners);
	old_failures = sup->conf->auth_max_failures;
	old_window = sup->conf->auth_failure_window;
	conf_free(sup->conf);
	sup->conf = conf;
	if (supervisor_tls(sup, why, sizeof(why)) == -1)
		log_warnx("event=tls-reload-failed reason=\"%s\"", why);
	supervisor_authlimit(sup, old_failures, old_window);
	memcpy(sup->fds, fds, sizeof(fds));
	start_generation(sup);
	log_info("event=reloaded config=%s", sup->path);
}

/*
 * SQLite keeps its -wal and -shm files beside the database, so the
 * children, running as `user`, must be able to create files in its
 * directory. The directory is the admin's (it may be shared), so it is
 * checked, not changed.
 */
static int
db_dir_writable_by(const char *db, const struct passwd *pw)
{
	char dir[4096], *slash;
	struct stat st;
	mode_t bit;

	(void)snprintf(dir, sizeof(dir), "%s", db);
	if ((slash = strrchr(dir, '/')) == NULL)
		(void)snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) == -1)
		return -1;
	if (st.st_uid == pw->pw_uid)
		bit = S_IWUSR;
	else if (st.st_gid == pw->pw_gid)
		bit = S_IWGRP;
	else
		bit = S_IWOTH;
	if (st.st_mode & bit)
		return 0;
	log_warnx("event=startup-check-failed reason=\"the directory %s of "
	    "[auth] database must be writable by user %s: SQLite creates its "
	    "-wal and -shm files there\"", dir, pw->pw_name);
	return -1;
}

/* Gives the spool and the user store to the unprivileged user. */
static int
chown_state(const struct conf *conf)
{
	static const char *sub[] = { "", "/tmp", "/queue", "/state",
	    "/wakeup" };
	static const char *db_ext[] = { "", "-wal", "-shm" };
	char path[4096];
	struct passwd *pw;
	size_t i;

	if (conf->user == NULL || conf->user[0] == '\0' || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(conf->user)) == NULL) {
		log_warnx("event=no-such-user user=%s", conf->user);
		return -1;
	}
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s%s", conf->spool, sub[i]);
		if (chown(path, pw->pw_uid, pw->pw_gid) == -1 &&
		    errno != ENOENT) {
			log_warn("event=chown-failed path=%s", path);
			return -1;
		}
	}
	for (i = 0; i < sizeof(db_ext) / sizeof(db_ext[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s%s", conf->auth_database,
		    db_ext[i]);
		(void)chown(path, pw->pw_uid, pw->pw_gid);
	}
	return db_dir_writable_by(conf->auth_database, pw);
}

static void
print_banner(const struct conf *conf)
{
	size_t i;

	for (i = 0; i < conf->warnings.n; i++)
		log_warnx("event=config-warning %s", conf->warnings.v[i]);
	for (i = 0; i < conf->nlisteners; i++)
		log_info("event=listening listener=%s address=%s mode=%s",
		    conf->listeners[i].name, conf->listeners[i].address,
		    conf->listeners[i].mode == LISTENER_MX ? "mx" :
		    "submission");
	if (strcmp(conf->path, "(defaults)") != 0)
		return;
	fprintf(stderr,
	    "\nPostern is running with its built-in defaults (state in ./var).\n"
	    "  Add a user:    postern user add you@localhost   "
	    "(password on stdin)\n"
	    "  Send a message: echo 'Subject: hi' | postern sendmail "
	    "you@localhost\n"
	    "  Or over SMTP:  swaks --server 127.0.0.1:2525 --to "
	    "you@localhost\n"
	    "  Read it in:    ./var/mail/localhost/you/new/\n\n");
}

/*
 * Removes spool/tmp files left by a crash (never queued: nobody got a 250
 * for them). Files touched in the last minute may belong to a running
 * `postern sendmail` and are left alone.
 */
static void
clean_spool_tmp(const char *spool)
{
	char dir[4096], path[4096 + 256];
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	unsigned n = 0;
	DIR *d;

	(void)snprintf(dir, sizeof(dir), "%s/tmp", spool);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    now - st.st_mtime > 60 && unlink(path) == 0)
			n++;
	}
	closedir(d);
	if (n > 0)
		log_info("event=spool-tmp-cleaned files=%u", n);
}

/* Spool and user store exist before any child needs them. */
static int
supervisor_prepare(const struct conf *conf, char *why, size_t whysz)
{
	struct userdb *db;

	if (spool_init(conf->spool, why, whysz) == -1)
		return -1;
	clean_spool_tmp(conf->spool);
	if ((db = userdb_open(conf->auth_database, 1, why, whysz)) == NULL)
		return -1;
	userdb_close(db);
	return 0;
}

/* 1 if some listener speaks TLS. */
static int
conf_wants_tls(const struct conf *conf)
{
	size_t i;

	for (i = 0; i < conf->nlisteners; i++)
		if (conf->listeners[i].tls != LISTENER_TLS_NONE)
			return 1;
	return 0;
}

/*
 * Loads (or, the first time, generates) the certificate as root before
 * fork, so workers never need to read the key themselves. On reload an
 * existing context is refreshed; a failed refresh keeps the old one.
 */
static int
supervisor_tls(struct supervisor *sup, char *why, size_t whysz)
{
	if (!conf_wants_tls(sup->conf))
		return 0;
	if (sup->env.tls != NULL)
		return tls_server_reload(sup->env.tls, sup->conf, why, whysz);
	sup->env.tls = tls_server_new(sup->conf, why, whysz);
	return sup->env.tls == NULL ? -1 : 0;
}

int
supervisor_run(struct conf *conf, const char *conf_path)
{
	static struct supervisor sup;
	struct timespec tick = { 0, 250 * 1000 * 1000 };
	char why[CONF_WHY_MAX];
	sigset_t set;
	int sig;

	sup.conf = conf;
	sup.path = conf_path;
	/* Signals wait in the mask from the start: a SIGHUP or SIGTERM that
	 * comes while listeners are being bound is taken by the loop below,
	 * not by the default action. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (supervisor_prepare(conf, why, sizeof(why)) == -1 ||
	    listen_all(conf, NULL, NULL, sup.fds, why, sizeof(why)) == -1 ||
	    (chown_state(conf) == -1 && snprintf(why, sizeof(why),
	    "cannot give the spool and the user store to user %s",
	    conf->user) > 0) ||
	    supervisor_tls(&sup, why, sizeof(why)) == -1) {
		log_warnx("event=startup-failed reason=\"%s\"", why);
		conf_free(conf);
		return 1;
	}
	sup.env.shared = proc_shared_new();
	if ((sup.env.authlimit = authlimit_new(conf->auth_max_failures,
	    conf->auth_failure_window)) == NULL)
		fatal("authlimit_new");
	print_banner(conf);
	start_generation(&sup);
	for (;;) {
		sig = sigtimedwait(&set, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP)
			reload(&sup);
		reap_children(&sup);
		restart_due(&sup);
	}
	log_info("event=stopping signal=%d", sig);
	stop_all(&sup, &set);
	log_info("event=stopped");
	tls_server_free(sup.env.tls);
	authlimit_free(sup.env.authlimit);
	conf_free(sup.conf);
	return 0;
}
