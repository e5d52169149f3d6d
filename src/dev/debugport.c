/* Debug exit, boot timer, POST code and system control port B. See
 * debugport.h. */
#include "dev/debugport.h"
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define SYSCTL_STORED	0x0f	/* gate 2, speaker, parity/IOCHK enables */
#define SYSCTL_TOGGLE	0x30	/* refresh toggle, PIT channel 2 OUT */

/* Plain data for snapshots. */
struct debugport_state {
	uint64_t boot_time_ns;	/* first boot timer mark, 0 if none */
	uint8_t sysctl;		/* port 0x61 bits 0-3 */
	bool sysctl_phase;	/* current value of the toggling bits */
};

struct debugport {
	pthread_mutex_t lock;
	const struct dev_host *host;
	struct debugport_state st;
};

/* Little-endian value of the access bytes, at most 8 of them. */
static uint64_t access_value(const uint8_t *data, uint32_t len)
{
	uint64_t v = 0;
	for (uint32_t i = 0; i < len && i < 8; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

struct debugport *debugport_create(const struct dev_host *h)
{
	struct debugport *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	if (pthread_mutex_init(&d->lock, NULL)) {
		free(d);
		return NULL;
	}
	d->host = h;
	return d;
}

void debugport_destroy(struct debugport *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void debugport_exit_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct debugport *d = opaque;

	if (!is_write || len == 0 || offset >= DEBUGPORT_EXIT_LEN)
		return;
	/* The exit status is the low byte of the value written. */
	int code = data[0];
	skiff_log(d->host->log, LOG_DEBUG, "debug exit: guest wrote 0x%llx, code %d",
		  (unsigned long long)access_value(data, len), code);
	d->host->request_stop(d->host->ctx, VM_STOP_DEBUG_EXIT, code);
}

void debugport_timer_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct debugport *d = opaque;
	struct timespec ts;

	if (!is_write || offset != 0 || access_value(data, len) != DEBUGPORT_TIMER_MAGIC)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	uint64_t since = now > d->host->start_ns ? now - d->host->start_ns : 0;

	pthread_mutex_lock(&d->lock);
	if (!d->st.boot_time_ns)
		d->st.boot_time_ns = since ? since : 1;
	pthread_mutex_unlock(&d->lock);
	/* The monotonic time lets another process (bench/apistart) measure from
	 * its own mark, e.g. from sending InstanceStart. */
	skiff_log(d->host->log, LOG_INFO,
		  "guest boot timer: %llu us since skiff started (monotonic %llu ns)",
		  (unsigned long long)(since / 1000), (unsigned long long)now);
}

void debugport_post_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	/* POST codes are of no use here; reads keep the bus's 0xff. */
	(void)opaque; (void)offset; (void)data; (void)len; (void)is_write;
}

void debugport_sysctl_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct debugport *d = opaque;

	if (offset != 0 || len == 0)
		return;
	pthread_mutex_lock(&d->lock);
	if (is_write) {
		d->st.sysctl = data[0] & SYSCTL_STORED;
	} else {
		d->st.sysctl_phase = !d->st.sysctl_phase;
		data[0] = d->st.sysctl | (d->st.sysctl_phase ? SYSCTL_TOGGLE : 0);
	}
	pthread_mutex_unlock(&d->lock);
}

uint64_t debugport_boot_time_ns(struct debugport *d)
{
	uint64_t t;

	pthread_mutex_lock(&d->lock);
	t = d->st.boot_time_ns;
	pthread_mutex_unlock(&d->lock);
	return t;
}
