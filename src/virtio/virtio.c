/* virtio device core (virtio 1.2 §2, §3): status machine, feature
 * negotiation, reset, NEEDS_RESET, configuration generation, queue
 * interrupts. Transport-independent; see virtio.h.
 *
 * Threads: status, broken and config_generation are accessed with atomics
 * so that virtio_device_error() and virtio_config_changed() work from any
 * thread, with or without vd->lock held. Everything that changes the
 * queues' walker state or runs device callbacks (activate, reset, queue
 * enable, kicks) runs on the I/O thread (evloop_call), so a device's queue
 * processing never races with them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/evloop.h"
#include "virtio/virtio.h"

#define VIRTIO_CONFIG_MAX	4096	/* bytes of device configuration we expose */

/* Feature bits every device gets from the core and walker. */
#define VIRTIO_CORE_FEATURES \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_INDIRECT_DESC) | (1ULL << VIRTIO_F_EVENT_IDX))

static uint8_t load_status(const struct virtio_device *vd)
{
	return __atomic_load_n(&vd->status, __ATOMIC_ACQUIRE);
}

static bool is_broken(const struct virtio_device *vd)
{
	return __atomic_load_n(&vd->broken, __ATOMIC_ACQUIRE);
}

/* Run fn on the VM's I/O thread and wait (inline without a loop: tests). */
static void on_io_thread(struct virtio_device *vd, void (*fn)(void *), void *arg)
{
	if (vd->host && vd->host->loop)
		evloop_call(vd->host->loop, fn, arg);
	else
		fn(arg);
}

int virtio_device_init(struct virtio_device *vd, const struct virtio_ops *ops, void *priv,
		       const struct dev_host *host, uint8_t *config, uint32_t config_len)
{
	if (!vd || !ops || !host)
		return -EINVAL;
	if (!ops->num_queues || ops->num_queues > VIRTIO_MAX_QUEUES)
		return -EINVAL;
	if (!ops->queue_max || (ops->queue_max & (ops->queue_max - 1)) ||
	    ops->queue_max > VIRTQ_MAX_SIZE)
		return -EINVAL;
	if (config_len > VIRTIO_CONFIG_MAX || (config_len && !config))
		return -EINVAL;
	memset(vd, 0, sizeof(*vd));
	vd->ops = ops;
	vd->priv = priv;
	vd->host = host;
	vd->config = config;
	vd->config_len = config_len;
	if (pthread_mutex_init(&vd->lock, NULL))
		return -EINVAL;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		vd->vq[i].mem = host->mem;
		vd->vq[i].size = ops->queue_max;
	}
	vd->host_features = (ops->features ? ops->features(vd) : 0) | VIRTIO_CORE_FEATURES;
	return 0;
}

void virtio_device_destroy(struct virtio_device *vd)
{
	if (vd && vd->ops)
		pthread_mutex_destroy(&vd->lock);
}

static void interrupt(struct virtio_device *vd, uint16_t q)
{
	if (vd->tops && vd->tops->interrupt)
		vd->tops->interrupt(vd, q);
}

void virtio_queue_interrupt(struct virtio_device *vd, uint16_t q)
{
	if (q >= vd->ops->num_queues || is_broken(vd))
		return;
	if (virtq_should_notify(&vd->vq[q]))
		interrupt(vd, q);
}

void virtio_device_error(struct virtio_device *vd, const char *fmt, ...)
{
	if (__atomic_exchange_n(&vd->broken, true, __ATOMIC_ACQ_REL))
		return;		/* already reported: once until reset */
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	skiff_log(vd->host ? vd->host->log : NULL, LOG_WARN, "%s: %s; device needs reset",
		  vd->ops->name ? vd->ops->name : "virtio", why);
	uint8_t old = __atomic_fetch_or(&vd->status, VIRTIO_STATUS_NEEDS_RESET, __ATOMIC_ACQ_REL);
	/* §2.1.2: with DRIVER_OK, tell the driver by a configuration change */
	if (old & VIRTIO_STATUS_DRIVER_OK)
		interrupt(vd, 0xffff);
}

void virtio_config_changed(struct virtio_device *vd)
{
	__atomic_fetch_add(&vd->config_generation, 1, __ATOMIC_ACQ_REL);
	if (load_status(vd) & VIRTIO_STATUS_DRIVER_OK)
		interrupt(vd, 0xffff);
}

/* §3.1.1 step 5 / §6: the driver accepted only what we offered, and the
 * modern interface (VERSION_1, §6.1: we offer no legacy interface). */
static bool features_ok(const struct virtio_device *vd)
{
	return !(vd->driver_features & ~vd->host_features) &&
	       virtio_has_feature(vd, VIRTIO_F_VERSION_1);
}

static void apply_queue_features(struct virtio_device *vd)
{
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		vd->vq[i].event_idx = virtio_has_feature(vd, VIRTIO_F_EVENT_IDX);
		vd->vq[i].indirect = virtio_has_feature(vd, VIRTIO_F_INDIRECT_DESC);
	}
}

/* I/O thread. */
static void activate_on_loop(void *arg)
{
	struct virtio_device *vd = arg;
	if (is_broken(vd) || vd->active)
		return;
	int r = vd->ops->activate ? vd->ops->activate(vd) : 0;
	if (r < 0) {
		virtio_device_error(vd, "activation failed: %s", strerror(-r));
		return;
	}
	vd->active = true;
	for (uint16_t q = 0; q < vd->ops->num_queues; q++)
		virtio_queue_kick(vd, q);
}

void virtio_set_status(struct virtio_device *vd, uint8_t val)
{
	if (!val) {
		virtio_device_reset(vd);
		return;
	}
	uint8_t old = load_status(vd);
	/* Bits are sticky until reset (§2.1.2: the driver MUST NOT clear
	 * them); NEEDS_RESET belongs to the device. */
	uint8_t st = (uint8_t)((val & ~VIRTIO_STATUS_NEEDS_RESET) | old);
	uint8_t set = st & ~old;
	if (set & VIRTIO_STATUS_FEATURES_OK) {
		if (features_ok(vd))
			apply_queue_features(vd);
		else
			st &= ~VIRTIO_STATUS_FEATURES_OK;	/* §3.1.1 step 6: re-read shows it */
	}
	/* keep a NEEDS_RESET raised meanwhile on another thread */
	__atomic_fetch_or(&vd->status, st, __ATOMIC_ACQ_REL);
	if (set & VIRTIO_STATUS_DRIVER_OK) {
		if (!(st & VIRTIO_STATUS_FEATURES_OK))
			virtio_device_error(vd, "DRIVER_OK without FEATURES_OK");
		else
			on_io_thread(vd, activate_on_loop, vd);
	}
}

/* I/O thread (or no I/O thread at all). */
static void reset_on_loop(void *arg)
{
	struct virtio_device *vd = arg;
	if (vd->ops->reset)
		vd->ops->reset(vd);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct virtq *q = &vd->vq[i];
		memset(q, 0, sizeof(*q));
		q->mem = vd->host->mem;
		q->size = vd->ops->queue_max;
	}
	vd->driver_features = 0;
	vd->active = false;
	__atomic_store_n(&vd->status, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&vd->broken, false, __ATOMIC_RELEASE);
}

void virtio_device_reset(struct virtio_device *vd)
{
	on_io_thread(vd, reset_on_loop, vd);
}

struct enable_args {
	struct virtio_device *vd;
	uint16_t q;
	int ret;
};

static void enable_on_loop(void *arg)
{
	struct enable_args *a = arg;
	struct virtq *q = &a->vd->vq[a->q];
	q->event_idx = virtio_has_feature(a->vd, VIRTIO_F_EVENT_IDX);
	q->indirect = virtio_has_feature(a->vd, VIRTIO_F_INDIRECT_DESC);
	a->ret = virtq_activate(q);
	if (!a->ret)
		q->ready = true;
}

int virtio_queue_enable(struct virtio_device *vd, uint16_t q)
{
	if (q >= vd->ops->num_queues)
		return -EINVAL;
	struct enable_args a = { .vd = vd, .q = q, .ret = 0 };
	on_io_thread(vd, enable_on_loop, &a);
	if (a.ret)
		virtio_device_error(vd, "queue %u: bad size or rings outside RAM/misaligned "
				    "(size %u desc 0x%llx driver 0x%llx device 0x%llx)",
				    q, vd->vq[q].size, (unsigned long long)vd->vq[q].desc_gpa,
				    (unsigned long long)vd->vq[q].avail_gpa,
				    (unsigned long long)vd->vq[q].used_gpa);
	return a.ret;
}

void virtio_queue_kick(struct virtio_device *vd, uint16_t q)
{
	if (q >= vd->ops->num_queues || !vd->active || is_broken(vd) || !vd->vq[q].ready)
		return;
	if (vd->ops->queue_notify)
		vd->ops->queue_notify(vd, q);
}
