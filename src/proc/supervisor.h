/*
 * The parent of `postern serve`: binds every listener, prepares the spool,
 * forks the smtp workers and the delivery process, restarts a child that
 * dies, reloads on SIGHUP and stops everything on SIGTERM/SIGINT.
 */
#ifndef POSTERN_PROC_SUPERVISOR_H
#define POSTERN_PROC_SUPERVISOR_H

struct conf;

/*
 * Runs until SIGTERM/SIGINT; returns the exit code. conf_path is what
 * SIGHUP reloads (NULL: built-in defaults, nothing to reload). Takes
 * ownership of conf.
 */
int supervisor_run(struct conf *conf, const char *conf_path);

#endif
