/* Shared memory for cross-worker counters; see shared.h. */
#include "proc/shared.h"

#include <sys/mman.h>

#include "util/log.h"

struct proc_shared *
proc_shared_new(void)
{
	struct proc_shared *sh;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		fatal("mmap shared");
	return sh;
}

unsigned
proc_shared_total(struct proc_shared *sh)
{
	unsigned i, n = 0;

	for (i = 0; i < PROC_MAX_WORKERS; i++)
		n += atomic_load_explicit(&sh->conns[i], memory_order_relaxed);
	return n;
}
