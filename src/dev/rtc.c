/* CMOS RTC: MC146818A registers over the host's UTC clock. See rtc.h. */
#include "dev/rtc.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Register indexes (MC146818A datasheet, Figure 3 "Address Map"). */
enum {
	IDX_SEC = 0x00,
	IDX_MIN = 0x02,
	IDX_HOUR = 0x04,
	IDX_WDAY = 0x06,
	IDX_MDAY = 0x07,
	IDX_MON = 0x08,
	IDX_YEAR = 0x09,
	IDX_A = 0x0a,
	IDX_B = 0x0b,
	IDX_C = 0x0c,
	IDX_D = 0x0d,
};

#define A_UIP		0x80
#define B_SET		0x80
#define B_UIE		0x10
#define B_DM_BINARY	0x04
#define B_24H		0x02
#define D_VRT		0x80
#define INDEX_MASK	0x7f	/* bit 7 of the index port is the NMI mask */

/* Plain data for snapshots. ram[] holds A, B, C, the alarm registers and
 * RAM; the time registers' slots in it are unused. */
struct rtc_state {
	uint8_t index;
	uint8_t ram[128];
	int64_t offset_s;	/* guest time minus host UTC, seconds */
	struct tm frozen;	/* the clock while register B's SET is on */
};

struct rtc {
	pthread_mutex_t lock;
	const struct dev_host *host;
	struct rtc_state st;
};

static int64_t host_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

/* The guest's current broken-down UTC time. */
static void guest_tm(const struct rtc_state *st, struct tm *tm)
{
	if (st->ram[IDX_B] & B_SET) {
		*tm = st->frozen;
		return;
	}
	time_t t = (time_t)(host_now() + st->offset_s);
	if (!gmtime_r(&t, tm)) {
		memset(tm, 0, sizeof(*tm));
		tm->tm_mday = 1;
		tm->tm_year = 70;
	}
}

static bool binary_mode(const struct rtc_state *st)
{
	return st->ram[IDX_B] & B_DM_BINARY;
}

static uint8_t encode(const struct rtc_state *st, int v)
{
	if (v < 0)
		v = 0;
	v %= 100;
	return binary_mode(st) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

/* Inverse of encode() for any byte, even a malformed BCD one (timegm()
 * normalises whatever comes out). */
static int decode(const struct rtc_state *st, uint8_t v)
{
	return binary_mode(st) ? v : (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t hour_reg(const struct rtc_state *st, int h)
{
	if (st->ram[IDX_B] & B_24H)
		return encode(st, h);
	int h12 = h % 12 ? h % 12 : 12;
	return encode(st, h12) | (h >= 12 ? 0x80 : 0);
}

static int hour_from_reg(const struct rtc_state *st, uint8_t v)
{
	if (st->ram[IDX_B] & B_24H)
		return decode(st, v);
	int h = decode(st, v & 0x7f) % 12;	/* 12 AM is hour 0 */
	return h + (v & 0x80 ? 12 : 0);
}

static uint8_t time_read(const struct rtc_state *st, unsigned idx)
{
	struct tm tm;
	guest_tm(st, &tm);
	switch (idx) {
	case IDX_SEC:
		return encode(st, tm.tm_sec);
	case IDX_MIN:
		return encode(st, tm.tm_min);
	case IDX_HOUR:
		return hour_reg(st, tm.tm_hour);
	case IDX_WDAY:
		return encode(st, tm.tm_wday + 1);	/* Sunday = 1 */
	case IDX_MDAY:
		return encode(st, tm.tm_mday);
	case IDX_MON:
		return encode(st, tm.tm_mon + 1);
	case IDX_YEAR:
		return encode(st, (tm.tm_year + 1900) % 100);
	default:
		return encode(st, (tm.tm_year + 1900) / 100);
	}
}

/* Set one field of the guest's clock. While SET is on the change goes to
 * the frozen time; otherwise it takes effect at once as a new offset. */
static void time_write(struct rtc_state *st, unsigned idx, uint8_t v)
{
	struct tm tm;
	int year;

	guest_tm(st, &tm);
	year = tm.tm_year + 1900;
	switch (idx) {
	case IDX_SEC:
		tm.tm_sec = decode(st, v);
		break;
	case IDX_MIN:
		tm.tm_min = decode(st, v);
		break;
	case IDX_HOUR:
		tm.tm_hour = hour_from_reg(st, v);
		break;
	case IDX_WDAY:
		return;		/* computed from the date */
	case IDX_MDAY:
		tm.tm_mday = decode(st, v);
		break;
	case IDX_MON:
		tm.tm_mon = decode(st, v) - 1;
		break;
	case IDX_YEAR:
		tm.tm_year = year / 100 * 100 + decode(st, v) - 1900;
		break;
	default:
		tm.tm_year = decode(st, v) * 100 + year % 100 - 1900;
		break;
	}
	tm.tm_isdst = 0;
	time_t t = timegm(&tm);		/* normalises out-of-range fields */
	if (st->ram[IDX_B] & B_SET) {
		if (!gmtime_r(&t, &st->frozen))
			return;
	} else {
		st->offset_s = (int64_t)t - host_now();
	}
}

static bool is_time_reg(unsigned idx)
{
	return idx == IDX_SEC || idx == IDX_MIN || idx == IDX_HOUR ||
	       (idx >= IDX_WDAY && idx <= IDX_YEAR) || idx == RTC_CENTURY_INDEX;
}

static uint8_t data_read(struct rtc_state *st)
{
	unsigned idx = st->index;
	uint8_t v;

	if (is_time_reg(idx))
		return time_read(st, idx);
	switch (idx) {
	case IDX_A:
		return st->ram[IDX_A] & ~A_UIP;
	case IDX_C:
		v = st->ram[IDX_C];
		st->ram[IDX_C] = 0;	/* reading C clears its flags */
		return v;
	case IDX_D:
		return D_VRT;
	default:
		return st->ram[idx];
	}
}

static void reg_b_write(struct rtc_state *st, uint8_t v)
{
	uint8_t old = st->ram[IDX_B];

	if (v & B_SET && !(old & B_SET)) {
		guest_tm(st, &st->frozen);	/* stop the clock */
		v &= ~B_UIE;			/* SET clears UIE (datasheet) */
	}
	if (!(v & B_SET) && old & B_SET) {
		struct tm tm = st->frozen;
		st->offset_s = (int64_t)timegm(&tm) - host_now();
	}
	st->ram[IDX_B] = v;
}

static void data_write(struct rtc_state *st, uint8_t v)
{
	unsigned idx = st->index;

	if (is_time_reg(idx)) {
		time_write(st, idx, v);
		return;
	}
	switch (idx) {
	case IDX_A:
		st->ram[IDX_A] = v & ~A_UIP;	/* UIP is read-only */
		break;
	case IDX_B:
		reg_b_write(st, v);
		break;
	case IDX_C:
	case IDX_D:
		break;				/* read-only */
	default:
		st->ram[idx] = v;
		break;
	}
}

struct rtc *rtc_create(const struct dev_host *h)
{
	struct rtc *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (pthread_mutex_init(&r->lock, NULL)) {
		free(r);
		return NULL;
	}
	r->host = h;
	r->st.ram[IDX_A] = 0x26;	/* 32.768 kHz time base, 1024 Hz rate */
	r->st.ram[IDX_B] = B_24H;	/* 24-hour, BCD, no interrupts */
	skiff_log(h->log, LOG_DEBUG, "rtc: CMOS clock at UTC");
	return r;
}

void rtc_destroy(struct rtc *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void rtc_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct rtc *r = opaque;

	pthread_mutex_lock(&r->lock);
	for (uint32_t i = 0; i < len; i++) {
		if (offset >= RTC_PORT_LEN || i >= RTC_PORT_LEN - offset)
			break;
		bool data_port = offset + i == 1;
		if (is_write && data_port)
			data_write(&r->st, data[i]);
		else if (is_write)
			r->st.index = data[i] & INDEX_MASK;
		else if (data_port)
			data[i] = data_read(&r->st);
		/* reading the index port: write-only, stays 0xff */
	}
	pthread_mutex_unlock(&r->lock);
}
