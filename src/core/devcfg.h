/* What the user asks for in devices: the parts of struct skiff_config that
 * describe disks, network interfaces, vsock and entropy. The CLI, the config
 * file and the API all fill these (names follow Firecracker's API where it
 * has one: swagger Drive, NetworkInterface, Vsock, RateLimiter). */
#ifndef SKIFF_DEVCFG_H
#define SKIFF_DEVCFG_H
#include <stdbool.h>
#include <stdint.h>

#define SKIFF_MAX_DISKS		16
#define SKIFF_MAX_NETS		8
#define SKIFF_MAX_HOSTFWD	16
#define SKIFF_DISK_ID_MAX	20	/* virtio-blk GET_ID: 20 bytes (virtio 1.2 §5.2.6) */

/* Firecracker's TokenBucket: `size` tokens (bytes or operations), refilled
 * in full every `refill_time_ms`; `one_time_burst` extra tokens usable once.
 * size == 0 or refill_time_ms == 0: no limit. */
struct skiff_bucket {
	uint64_t size;
	uint64_t one_time_burst;
	uint64_t refill_time_ms;
};

/* Firecracker's RateLimiter: bandwidth in bytes, ops in requests/frames. */
struct skiff_rate_limit {
	struct skiff_bucket bandwidth;
	struct skiff_bucket ops;
};

/* A run-time change of a RateLimiter (Firecracker's BucketUpdate, one per
 * bucket): a bucket not `set_*` stays as it is, tokens included; a set one
 * is replaced by a new, full bucket built from cfg (size or refill_time_ms
 * 0: that bucket no longer limits). */
struct skiff_rate_limit_update {
	bool set_bandwidth, set_ops;
	struct skiff_rate_limit cfg;
};

enum skiff_io_engine {
	SKIFF_IO_AUTO = 0,	/* io_uring when the kernel allows it, else sync */
	SKIFF_IO_URING,		/* liburing; an error if unavailable */
	SKIFF_IO_SYNC,		/* preadv/pwritev on the I/O thread */
};

struct skiff_disk_config {
	const char *path;		/* raw image file; required */
	const char *id;			/* serial for VIRTIO_BLK_T_GET_ID; NULL: derived */
	bool read_only;			/* VIRTIO_BLK_F_RO; image opened O_RDONLY */
	bool direct;			/* O_DIRECT */
	enum skiff_io_engine engine;
	struct skiff_rate_limit rl;
	const char *name;		/* for skiff_vm_update_disk (API drive_id); NULL: id */
};

enum skiff_net_kind {
	SKIFF_NET_TAP = 1,		/* an existing or new tap device by name */
	SKIFF_NET_USER,			/* user-mode networking (libslirp), no root */
};

/* user networking: forward host_addr:host_port to guest_addr:guest_port
 * (addresses in host byte order; 0 = any / the guest's DHCP address). */
struct skiff_hostfwd {
	bool udp;
	uint32_t host_addr;
	uint16_t host_port;
	uint32_t guest_addr;
	uint16_t guest_port;
};

struct skiff_net_config {
	enum skiff_net_kind kind;
	const char *tap_name;		/* SKIFF_NET_TAP: interface name */
	bool has_mac;
	uint8_t mac[6];			/* guest MAC; derived when !has_mac */
	uint32_t queue_pairs;		/* tap multi-queue; 0 or 1: single queue */
	struct skiff_hostfwd hostfwd[SKIFF_MAX_HOSTFWD];
	uint32_t nhostfwd;
	struct skiff_rate_limit rx, tx;
	const char *name;		/* for skiff_vm_update_net (API iface_id); NULL: none */
};

struct skiff_vsock_config {
	uint32_t guest_cid;		/* >= 3 */
	const char *uds_path;		/* host AF_UNIX socket path (Firecracker's uds_path) */
};

#endif
