/*
 * The delivery process: scans spool/queue at start and whenever the wakeup
 * FIFO or the retry timer fires, delivers each recipient, records each
 * result durably in spool/state/ID, removes finished messages.
 */
#ifndef POSTERN_DELIVER_H
#define POSTERN_DELIVER_H

struct conf;

/*
 * Runs the delivery loop in this process until SIGTERM/SIGINT (finishing
 * the deliveries in progress) and returns 0; reloads on SIGHUP is the
 * parent's job (it restarts this process). Called in a forked child after
 * privileges are dropped.
 */
int deliver_process_run(struct conf *conf);

#endif
