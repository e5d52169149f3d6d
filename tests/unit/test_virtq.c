/* The split virtqueue walker (virtio 1.2 §2.7) on rings built in real guest
 * RAM: well-formed chains, indirect tables, notification suppression with
 * and without EVENT_IDX, and a hostile driver's every trick, each of which
 * must give -EIO (or 0), never a crash or an access outside RAM. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/guest_mem.h"
#include "virtio/virtq.h"

#define RAM	(1u << 20)
#define DESC	0x1000
#define AVAIL	0x2000
#define USED	0x3000
#define IND	0x4000		/* an indirect table */
#define BUF	0x10000		/* data buffers */
#define QSZ	8

struct fx {
	struct guest_mem gm;
	struct virtq q;
	struct virtq_chain c;	/* big: keep it off the stack */
	uint16_t avail_idx;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(gm_init(&f->gm, RAM), 0);
	f->q.size = QSZ;
	f->q.desc_gpa = DESC;
	f->q.avail_gpa = AVAIL;
	f->q.used_gpa = USED;
	f->q.mem = &f->gm;
	f->q.indirect = true;
	assert_int_equal(virtq_activate(&f->q), 0);
	f->q.ready = true;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	gm_destroy(&f->gm);
	free(f);
	return 0;
}

static void put_desc(struct fx *f, uint64_t table, uint32_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t d[16];
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	assert_int_equal(gm_write(&f->gm, table + 16ULL * i, d, 16), 0);
}

static void put16(struct fx *f, uint64_t gpa, uint16_t v)
{
	assert_int_equal(gm_write(&f->gm, gpa, &v, 2), 0);
}

static uint16_t get16(struct fx *f, uint64_t gpa)
{
	uint16_t v;
	assert_int_equal(gm_read(&f->gm, gpa, &v, 2), 0);
	return v;
}

static uint32_t get32(struct fx *f, uint64_t gpa)
{
	uint32_t v;
	assert_int_equal(gm_read(&f->gm, gpa, &v, 4), 0);
	return v;
}

/* Make head available to the device. */
static void offer(struct fx *f, uint16_t head)
{
	put16(f, AVAIL + 4 + 2 * (f->avail_idx % QSZ), head);
	f->avail_idx++;
	put16(f, AVAIL + 2, f->avail_idx);
}

static void set_used_event(struct fx *f, uint16_t v) { put16(f, AVAIL + 4 + 2 * QSZ, v); }
static uint16_t avail_event(struct fx *f) { return get16(f, USED + 4 + 8 * QSZ); }

static void test_pop_push(void **state)
{
	struct fx *f = *state;
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);	/* empty */
	assert_int_equal(gm_write(&f->gm, BUF, "hello, device", 13), 0);
	put_desc(f, DESC, 3, BUF, 13, VIRTQ_DESC_F_NEXT, 5);
	put_desc(f, DESC, 5, BUF + 0x100, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 6);
	put_desc(f, DESC, 6, BUF + 0x200, 24, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 3);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.head, 3);
	assert_int_equal(f->c.nout, 1);
	assert_int_equal(f->c.nin, 2);
	assert_int_equal(f->c.out_len, 13);
	assert_int_equal(f->c.in_len, 32);
	assert_ptr_equal(f->c.iov[0].iov_base, gm_ptr(&f->gm, BUF, 1));
	char buf[64] = { 0 };
	assert_int_equal(virtq_chain_read(&f->c, 7, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "device");
	assert_int_equal(virtq_chain_read(&f->c, 13, buf, 4), 0);
	/* a write straddling both writable buffers */
	assert_int_equal(virtq_chain_write(&f->c, 4, "0123456789", 10), 10);
	assert_int_equal(virtq_chain_write(&f->c, 30, "abcdef", 6), 2);
	assert_int_equal(virtq_chain_write(&f->c, 32, "x", 1), 0);
	assert_int_equal(gm_read(&f->gm, BUF + 0x104, buf, 4), 0);
	assert_memory_equal(buf, "0123", 4);
	assert_int_equal(gm_read(&f->gm, BUF + 0x200, buf, 6), 0);
	assert_memory_equal(buf, "456789", 6);
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);
	assert_int_equal(virtq_push(&f->q, 3, 14), 0);
	assert_int_equal(get16(f, USED + 2), 1);
	assert_int_equal(get32(f, USED + 4), 3);
	assert_int_equal(get32(f, USED + 8), 14);
	assert_int_equal(virtq_push(&f->q, QSZ, 0), -EIO);	/* not a head */
	/* wrap the 16-bit indices around a few times */
	for (int i = 0; i < 70000; i++) {
		offer(f, 6);
		assert_int_equal(virtq_pop(&f->q, &f->c), 1);
		assert_int_equal(f->c.head, 6);
		assert_int_equal(virtq_push(&f->q, 6, 1), 0);
	}
	assert_int_equal(get16(f, USED + 2), (uint16_t)70001);
}

/* virtq_push_n publishes a batch with one index update, or nothing. */
static void test_push_n(void **state)
{
	struct fx *f = *state;
	struct virtq_used e[3] = { { 4, 100 }, { 7, 0 }, { 1, 2048 } };
	assert_int_equal(virtq_push_n(&f->q, e, 3), 0);
	assert_int_equal(get16(f, USED + 2), 3);
	assert_int_equal(get32(f, USED + 4), 4);
	assert_int_equal(get32(f, USED + 8), 100);
	assert_int_equal(get32(f, USED + 12), 7);
	assert_int_equal(get32(f, USED + 20), 1);
	assert_int_equal(get32(f, USED + 24), 2048);
	/* a bad head anywhere: -EIO and the index does not move */
	struct virtq_used bad[2] = { { 2, 1 }, { QSZ, 1 } };
	assert_int_equal(virtq_push_n(&f->q, bad, 2), -EIO);
	assert_int_equal(get16(f, USED + 2), 3);
	assert_int_equal(virtq_push_n(&f->q, e, QSZ + 1), -EIO);
	assert_int_equal(virtq_push_n(&f->q, e, 0), 0);
	assert_int_equal(get16(f, USED + 2), 3);
}

static void test_unpop(void **state)
{
	struct fx *f = *state;
	put_desc(f, DESC, 0, BUF, 4, 0, 0);
	put_desc(f, DESC, 1, BUF, 4, 0, 0);
	offer(f, 0);
	offer(f, 1);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.head, 0);
	virtq_unpop(&f->q);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.head, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.head, 1);
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);
}

static void test_indirect(void **state)
{
	struct fx *f = *state;
	put_desc(f, IND, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	put_desc(f, IND, 2, BUF + 16, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, IND, 1, BUF + 32, 100, VIRTQ_DESC_F_WRITE, 0);
	/* WRITE on the indirect descriptor itself is ignored (§2.7.5.3.2) */
	put_desc(f, DESC, 2, IND, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	offer(f, 2);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.head, 2);
	assert_int_equal(f->c.nout, 2);
	assert_int_equal(f->c.nin, 1);
	assert_int_equal(f->c.out_len, 32);
	assert_int_equal(f->c.in_len, 100);
	/* a direct descriptor chained to an indirect one */
	put_desc(f, DESC, 4, BUF, 8, VIRTQ_DESC_F_NEXT, 2);
	offer(f, 4);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.nout, 3);
	assert_int_equal(f->c.nin, 1);
	/* the largest indirect table we take: VIRTQ_MAX_SEGS entries */
	for (uint32_t i = 0; i < VIRTQ_MAX_SEGS; i++)
		put_desc(f, 0x20000, i, BUF, 1,
			 i + 1 < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	put_desc(f, DESC, 7, 0x20000, 16 * VIRTQ_MAX_SEGS, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 7);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.nout, VIRTQ_MAX_SEGS);
	/* one more segment before it: too many */
	put_desc(f, DESC, 4, BUF, 8, VIRTQ_DESC_F_NEXT, 7);
	offer(f, 4);
	assert_int_equal(virtq_pop(&f->q, &f->c), -EIO);
}

static void expect_eio(struct fx *f, uint16_t head)
{
	offer(f, head);
	uint16_t last = f->q.last_avail;
	assert_int_equal(virtq_pop(&f->q, &f->c), -EIO);
	assert_int_equal(f->q.last_avail, last);	/* nothing consumed */
	/* skip the bad entry so the next case starts clean */
	f->q.last_avail++;
}

static void test_indirect_hostile(void **state)
{
	struct fx *f = *state;
	put_desc(f, IND, 0, BUF, 16, 0, 0);
	/* zero-length table */
	put_desc(f, DESC, 0, IND, 0, VIRTQ_DESC_F_INDIRECT, 0);
	expect_eio(f, 0);
	/* not a multiple of 16 */
	put_desc(f, DESC, 0, IND, 17, VIRTQ_DESC_F_INDIRECT, 0);
	expect_eio(f, 0);
	/* too large */
	put_desc(f, DESC, 0, IND, 16 * (VIRTQ_MAX_SEGS + 1), VIRTQ_DESC_F_INDIRECT, 0);
	expect_eio(f, 0);
	/* INDIRECT with NEXT */
	put_desc(f, DESC, 0, IND, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, DESC, 1, BUF, 16, 0, 0);
	expect_eio(f, 0);
	/* nested */
	put_desc(f, IND, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, IND, 1, IND, 32, VIRTQ_DESC_F_INDIRECT, 0);
	put_desc(f, DESC, 0, IND, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_eio(f, 0);
	/* table outside RAM, wrapping, straddling the end */
	put_desc(f, DESC, 0, RAM, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_eio(f, 0);
	put_desc(f, DESC, 0, UINT64_MAX - 15, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_eio(f, 0);
	put_desc(f, DESC, 0, RAM - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_eio(f, 0);
	/* loop inside the table; next beyond its end */
	put_desc(f, IND, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, IND, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	put_desc(f, DESC, 0, IND, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_eio(f, 0);
	put_desc(f, IND, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	expect_eio(f, 0);
	/* not negotiated */
	put_desc(f, IND, 1, BUF, 16, 0, 0);
	f->q.indirect = false;
	expect_eio(f, 0);
	f->q.indirect = true;
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
}

static void test_loops_and_lengths(void **state)
{
	struct fx *f = *state;
	/* self loop, two-cycle, chain through every descriptor into a loop */
	put_desc(f, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	expect_eio(f, 0);
	put_desc(f, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, DESC, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	expect_eio(f, 0);
	for (uint16_t i = 0; i < QSZ; i++)
		put_desc(f, DESC, i, BUF, 16, VIRTQ_DESC_F_NEXT, (uint16_t)((i + 1) % QSZ));
	expect_eio(f, 3);
	/* a chain using every descriptor exactly once is fine */
	put_desc(f, DESC, 2, BUF, 16, 0, 0);
	offer(f, 3);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.nout, QSZ);
	/* next out of range */
	put_desc(f, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT, QSZ);
	expect_eio(f, 0);
	put_desc(f, DESC, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 0xffff);
	expect_eio(f, 0);
	/* buffers outside RAM, wrapping, huge */
	put_desc(f, DESC, 0, RAM, 1, 0, 0);
	expect_eio(f, 0);
	put_desc(f, DESC, 0, RAM - 4, 8, VIRTQ_DESC_F_WRITE, 0);
	expect_eio(f, 0);
	put_desc(f, DESC, 0, UINT64_MAX - 3, 16, 0, 0);
	expect_eio(f, 0);
	put_desc(f, DESC, 0, UINT64_MAX, 1, VIRTQ_DESC_F_WRITE, 0);
	expect_eio(f, 0);
	put_desc(f, DESC, 0, 0, UINT32_MAX, 0, 0);
	expect_eio(f, 0);
	/* zero length: no iovec, even with a bogus address */
	put_desc(f, DESC, 0, UINT64_MAX, 0, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, DESC, 1, BUF, 4, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.nout, 0);
	assert_int_equal(f->c.nin, 1);
	/* a readable buffer after a writable one */
	put_desc(f, DESC, 0, BUF, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, DESC, 1, BUF, 4, 0, 0);
	expect_eio(f, 0);
	/* a head beyond the table */
	expect_eio(f, QSZ);
	expect_eio(f, 0xffff);
}

static void test_bogus_avail_idx(void **state)
{
	struct fx *f = *state;
	put_desc(f, DESC, 0, BUF, 16, 0, 0);
	for (int i = 0; i < QSZ; i++)
		put16(f, AVAIL + 4 + 2 * i, 0);
	put16(f, AVAIL + 2, QSZ + 1);	/* more entries than the ring holds */
	assert_int_equal(virtq_pop(&f->q, &f->c), -EIO);
	put16(f, AVAIL + 2, 0xffff);	/* "behind" the device: also a jump */
	assert_int_equal(virtq_pop(&f->q, &f->c), -EIO);
	put16(f, AVAIL + 2, QSZ);	/* a full ring is fine */
	for (int i = 0; i < QSZ; i++)
		assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);
}

static void test_activate_checks(void **state)
{
	struct fx *f = *state;
	struct virtq q = { .size = QSZ, .desc_gpa = DESC, .avail_gpa = AVAIL, .used_gpa = USED,
			   .mem = &f->gm };
	assert_int_equal(virtq_activate(&q), 0);
	q.size = 6;
	assert_int_equal(virtq_activate(&q), -EINVAL);
	q.size = 0;
	assert_int_equal(virtq_activate(&q), -EINVAL);
	q.size = 0xffff;
	assert_int_equal(virtq_activate(&q), -EINVAL);
	q.size = QSZ;
	q.desc_gpa = DESC + 8;
	assert_int_equal(virtq_activate(&q), -EINVAL);
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL + 1;
	assert_int_equal(virtq_activate(&q), -EINVAL);
	q.avail_gpa = AVAIL;
	q.used_gpa = USED + 2;
	assert_int_equal(virtq_activate(&q), -EINVAL);
	q.used_gpa = RAM - 8;	/* runs off the end of RAM */
	assert_int_equal(virtq_activate(&q), -EINVAL);
	q.used_gpa = UINT64_MAX - 3;
	assert_int_equal(virtq_activate(&q), -EINVAL);
	q.used_gpa = USED;
	q.desc_gpa = RAM - 16;
	assert_int_equal(virtq_activate(&q), -EINVAL);
	q.desc_gpa = DESC;
	q.mem = NULL;
	assert_int_equal(virtq_activate(&q), -EINVAL);
	/* the largest queue */
	q.mem = &f->gm;
	q.size = VIRTQ_MAX_SIZE;
	q.desc_gpa = 0x80000;
	q.avail_gpa = 0x20000;
	q.used_gpa = 0x30000;
	assert_int_equal(virtq_activate(&q), 0);
	/* not ready: nothing to pop, nothing to push */
	struct virtq off = { .size = QSZ, .mem = &f->gm };
	assert_int_equal(virtq_pop(&off, &f->c), 0);
	assert_int_equal(virtq_push(&off, 0, 0), -EIO);
	assert_false(virtq_should_notify(&off));
	assert_false(virtq_set_notify(&off, true));
}

static void test_flags_no_event_idx(void **state)
{
	struct fx *f = *state;
	put_desc(f, DESC, 0, BUF, 16, 0, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(virtq_push(&f->q, 0, 0), 0);
	assert_true(virtq_should_notify(&f->q));
	put16(f, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_false(virtq_should_notify(&f->q));
	put16(f, AVAIL, 0);
	/* device-side suppression */
	assert_false(virtq_set_notify(&f->q, false));
	assert_int_equal(get16(f, USED), VIRTQ_USED_F_NO_NOTIFY);
	assert_false(virtq_set_notify(&f->q, true));
	assert_int_equal(get16(f, USED), 0);
	virtq_set_notify(&f->q, false);
	offer(f, 0);
	assert_true(virtq_set_notify(&f->q, true));	/* arrived meanwhile */
	assert_int_equal(avail_event(f), 0);		/* untouched without EVENT_IDX */
}

static void test_event_idx(void **state)
{
	struct fx *f = *state;
	f->q.event_idx = true;
	put_desc(f, DESC, 0, BUF, 16, 0, 0);
	for (int i = 0; i < 3; i++)
		offer(f, 0);
	/* pop keeps avail_event at last_avail */
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(avail_event(f), 1);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(avail_event(f), 3);
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);
	assert_int_equal(avail_event(f), 3);
	/* the first interrupt is always sent */
	assert_int_equal(virtq_push(&f->q, 0, 0), 0);
	set_used_event(f, 5);
	assert_true(virtq_should_notify(&f->q));
	/* nothing new pushed: no interrupt */
	assert_false(virtq_should_notify(&f->q));
	/* the driver wants one when used idx passes 5 (i.e. reaches 6) */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(virtq_push(&f->q, 0, 0), 0);	/* used idx 2..5 */
		assert_false(virtq_should_notify(&f->q));
	}
	assert_int_equal(virtq_push(&f->q, 0, 0), 0);		/* 6 */
	assert_true(virtq_should_notify(&f->q));
	/* several pushes in one batch crossing used_event */
	set_used_event(f, 7);
	for (int i = 0; i < 3; i++)
		assert_int_equal(virtq_push(&f->q, 0, 0), 0);	/* 7, 8, 9 */
	assert_true(virtq_should_notify(&f->q));
	/* suppression leaves avail_event behind; enable re-arms it */
	assert_false(virtq_set_notify(&f->q, false));
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(avail_event(f), 3);
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);
	assert_int_equal(avail_event(f), 3);
	assert_false(virtq_set_notify(&f->q, true));
	assert_int_equal(avail_event(f), 4);
	/* NO_INTERRUPT is ignored with EVENT_IDX (§2.7.10) */
	put16(f, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	set_used_event(f, 9);
	assert_int_equal(virtq_push(&f->q, 0, 0), 0);	/* 10 */
	assert_true(virtq_should_notify(&f->q));
}

/* A chain of more than 2^32 bytes in total (§2.7.5) is refused. */
static void test_chain_over_4g(void **state)
{
	(void)state;
	struct guest_mem gm;
	if (gm_init(&gm, 3ULL << 30) != 0) {
		skip();
		return;
	}
	struct virtq q = { .size = 4, .desc_gpa = DESC, .avail_gpa = AVAIL, .used_gpa = USED,
			   .mem = &gm };
	assert_int_equal(virtq_activate(&q), 0);
	q.ready = true;
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->gm = gm;	/* for the helpers; same mapping */
	put_desc(f, DESC, 0, 0, 0x80000000u, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, DESC, 1, 0, 0x80000000u, 0, 0);
	put16(f, AVAIL + 4, 0);
	put16(f, AVAIL + 2, 1);
	assert_int_equal(virtq_pop(&q, &f->c), -EIO);
	put_desc(f, DESC, 1, 0, 0x7fffffffu, 0, 0);
	assert_int_equal(virtq_pop(&q, &f->c), 1);
	assert_int_equal(f->c.out_len, UINT32_MAX);
	free(f);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pop_push, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unpop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_push_n, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loops_and_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bogus_avail_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags_no_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
		cmocka_unit_test(test_chain_over_4g),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
