/* The delivery process's queue index: due order, requeue, flush, scans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deliver/sched.h"

static void
make_id(char *buf, unsigned n)
{
	(void)snprintf(buf, QUEUE_ID_MAX, "0TPAKQT2C5700%06u", n);
}

static void
test_due_order(void **state)
{
	static const struct {
		unsigned	id;
		time_t		next;
	} adds[] = { { 5, 100 }, { 3, 0 }, { 9, 50 }, { 1, 100 }, { 7, 0 },
	    { 2, 200 } };
	static const unsigned want[] = { 3, 7, 9, 1, 5 };
	struct sched *s = sched_new();
	struct sched_msg *m;
	char id[QUEUE_ID_MAX];
	size_t i;

	for (i = 0; i < sizeof(adds) / sizeof(adds[0]); i++) {
		make_id(id, adds[i].id);
		sched_add(s, id, adds[i].next);
	}
	assert_int_equal(sched_count(s), 6);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_non_null(m = sched_take_due(s, 150));
		make_id(id, want[i]);
		assert_string_equal(m->id, id);
		assert_true(m->running);
		assert_int_equal(m->heap_idx, SCHED_NOT_QUEUED);
	}
	assert_null(sched_take_due(s, 150));	/* id 2 waits until 200 */
	make_id(id, 2);
	assert_string_equal(sched_peek(s)->id, id);
	assert_int_equal(sched_count(s), 6);	/* running ones stay known */
	sched_free(s);
	sched_free(NULL);
}

static void
test_requeue_and_flush(void **state)
{
	struct sched *s = sched_new();
	struct sched_msg *a, *b;
	char id[QUEUE_ID_MAX];

	make_id(id, 1);
	a = sched_add(s, id, 0);
	make_id(id, 2);
	b = sched_add(s, id, 500);
	assert_ptr_equal(sched_take_due(s, 10), a);
	sched_requeue(s, a, 1000);
	assert_ptr_equal(sched_peek(s), b);
	assert_null(sched_take_due(s, 10));
	/* Flushing one makes it due at once. */
	sched_flush(s, a);
	assert_ptr_equal(sched_take_due(s, 10), a);
	assert_true(a->force);
	/* Flushed while running: due again as soon as it is requeued. */
	sched_flush(s, a);
	assert_true(a->again);
	sched_requeue(s, a, 5000);
	assert_int_equal((long long)a->next, 0);
	assert_false(a->again);
	assert_ptr_equal(sched_take_due(s, 10), a);
	sched_requeue(s, a, 5000);
	sched_flush_all(s);
	assert_non_null(sched_take_due(s, 10));
	assert_non_null(sched_take_due(s, 10));
	assert_true(a->force && b->force);
	sched_remove(s, a);
	assert_int_equal(sched_count(s), 1);
	make_id(id, 2);
	assert_ptr_equal(sched_find(s, id), b);
	make_id(id, 1);
	assert_null(sched_find(s, id));
	sched_free(s);
}

static void
test_scan(void **state)
{
	struct sched *s = sched_new();
	struct sched_msg *m;
	char id[QUEUE_ID_MAX];
	unsigned i;

	/* Enough IDs to rehash a few times. */
	sched_scan_begin(s);
	for (i = 0; i < 1000; i++) {
		make_id(id, i);
		sched_scan_seen(s, id);
	}
	assert_int_equal(sched_scan_end(s), 1000);
	assert_int_equal(sched_count(s), 1000);
	make_id(id, 10);
	assert_non_null(m = sched_find(s, id));
	assert_ptr_equal(sched_take_due(s, 0), sched_find(s,
	    "0TPAKQT2C5700000000"));
	/* Second scan: only the even ones are still there; a running one
	 * (id 0) is kept even though it was not seen. */
	sched_scan_begin(s);
	for (i = 2; i < 1000; i += 2) {
		make_id(id, i);
		sched_scan_seen(s, id);
	}
	make_id(id, 1001);
	sched_scan_seen(s, id);
	assert_int_equal(sched_scan_end(s), 1);
	assert_int_equal(sched_count(s), 501);
	assert_non_null(sched_find(s, "0TPAKQT2C5700000000"));
	make_id(id, 11);
	assert_null(sched_find(s, id));
	/* The heap still hands them out in order. */
	make_id(id, 2);
	assert_string_equal(sched_take_due(s, 0)->id, id);
	make_id(id, 4);
	assert_string_equal(sched_take_due(s, 0)->id, id);
	sched_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due_order),
		cmocka_unit_test(test_requeue_and_flush),
		cmocka_unit_test(test_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
