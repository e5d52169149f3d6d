/* virtio-blk: a raw disk image as a virtio block device (virtio 1.2 §5.2).
 *
 * One request queue of VIRTIO_BLK_QUEUE_SIZE entries, processed on the VM's
 * I/O thread (evloop) through an I/O engine (blk_io.h: io_uring or sync).
 * Offered features: SEG_MAX, BLK_SIZE, FLUSH, and DISCARD + WRITE_ZEROES on
 * writable disks or RO on read-only ones. Requests: IN, OUT, FLUSH
 * (fdatasync before the request completes), GET_ID, DISCARD, WRITE_ZEROES;
 * anything else gets VIRTIO_BLK_S_UNSUPP, a malformed or out-of-range
 * request VIRTIO_BLK_S_IOERR, a broken descriptor chain DEVICE_NEEDS_RESET.
 * An optional rate limiter (bytes and requests) throttles the queue: a
 * throttled request is put back and the queue waits for the limiter's timer.
 *
 * The device model knows no transport: hand virtio_blk_vdev() to
 * virtio_pci_create(). */
#ifndef SKIFF_VIRTIO_BLK_H
#define SKIFF_VIRTIO_BLK_H
#include <stdbool.h>
#include <stdint.h>
#include "core/devcfg.h"
#include "core/devhost.h"
#include "core/err.h"
#include "virtio/virtio.h"
#include "virtio/virtq.h"

/* Feature bits (§5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX		1
#define VIRTIO_BLK_F_SEG_MAX		2
#define VIRTIO_BLK_F_RO			5
#define VIRTIO_BLK_F_BLK_SIZE		6
#define VIRTIO_BLK_F_FLUSH		9
#define VIRTIO_BLK_F_DISCARD		13
#define VIRTIO_BLK_F_WRITE_ZEROES	14

/* Request types and status values (§5.2.6). */
#define VIRTIO_BLK_T_IN			0
#define VIRTIO_BLK_T_OUT		1
#define VIRTIO_BLK_T_FLUSH		4
#define VIRTIO_BLK_T_GET_ID		8
#define VIRTIO_BLK_T_DISCARD		11
#define VIRTIO_BLK_T_WRITE_ZEROES	13
#define VIRTIO_BLK_S_OK			0
#define VIRTIO_BLK_S_IOERR		1
#define VIRTIO_BLK_S_UNSUPP		2

#define VIRTIO_BLK_HDR_SIZE		16	/* le32 type, le32 reserved, le64 sector */
#define VIRTIO_BLK_DWZ_SEG_SIZE		16	/* struct virtio_blk_discard_write_zeroes */
#define VIRTIO_BLK_DWZ_F_UNMAP		1u

#define VIRTIO_BLK_QUEUE_SIZE		256
#define VIRTIO_BLK_SEG_MAX		(VIRTIO_BLK_QUEUE_SIZE - 2)	/* data segments */
#define VIRTIO_BLK_DWZ_MAX_SEG		32	/* max_discard_seg, max_write_zeroes_seg */
#define VIRTIO_BLK_DWZ_MAX_SECTORS	(1u << 22)	/* per segment: 2 GiB */
#define VIRTIO_BLK_MAX_DATA		(1ULL << 30)	/* bytes per IN/OUT request, at most */
#define VIRTIO_BLK_ID_BYTES		20

/* Device configuration layout (§5.2.4), little-endian, up to the
 * write-zeroes fields (the secure-erase and zoned fields are not offered). */
struct virtio_blk_config {
	uint64_t capacity;		/* 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

/* One discard / write-zeroes segment, host byte order. */
struct blk_seg {
	uint64_t sector;
	uint32_t num_sectors;
	bool unmap;
};

/* A parsed request header (virtio_blk_parse). Data lies in the chain's
 * readable part (OUT, DISCARD, WRITE_ZEROES) or writable part (IN, GET_ID)
 * at [data_off, data_off + data_len); the status byte is the last writable
 * byte and is never part of the data. */
struct blk_req {
	uint32_t type;			/* VIRTIO_BLK_T_* (or anything the guest wrote) */
	uint64_t sector;		/* 512-byte units */
	uint8_t status;			/* VIRTIO_BLK_S_OK: carry it out; else complete with it */
	uint8_t *status_ptr;		/* host address of the status byte; NULL: there is none */
	bool data_in;			/* data is in the writable part */
	uint64_t data_off, data_len;	/* bytes */
	uint32_t nseg;			/* DISCARD / WRITE_ZEROES */
	struct blk_seg seg[VIRTIO_BLK_DWZ_MAX_SEG];
};

/* Parse and check the request in chain c against a disk of `capacity`
 * sectors (read-only if ro). Pure: reads the chain's guest buffers, writes
 * only *out. Returns out->status: VIRTIO_BLK_S_OK, or IOERR for a short
 * header, no status byte, a data length that is not a multiple of 512 (IN,
 * OUT) or of 16 (segments), more than VIRTIO_BLK_DWZ_MAX_SEG segments or
 * VIRTIO_BLK_DWZ_MAX_SECTORS per segment, a range beyond capacity
 * (overflow-safe), a write to a read-only disk; UNSUPP for an unknown type,
 * unknown segment flags or a discard with unmap (§5.2.6.2). */
uint8_t virtio_blk_parse(const struct virtq_chain *c, uint64_t capacity, bool ro, struct blk_req *out);

/* Counters for metrics, updated on the I/O thread (relaxed atomics; read
 * them with virtio_blk_get_stats from any thread). */
struct virtio_blk_stats {
	uint64_t reads, writes, flushes, discards, write_zeroes, get_ids;	/* completed OK */
	uint64_t read_bytes, write_bytes;
	uint64_t errors;		/* requests completed with IOERR */
	uint64_t unsupported;		/* requests completed with UNSUPP */
	uint64_t throttled;		/* times the rate limiter held the queue */
};

struct virtio_blk;	/* opaque */

/* Open c->path (blk_io_open: locking, size and engine checks) and create
 * the device. host must provide log and loop (the I/O thread); the queue's
 * guest memory comes from the transport. c->id longer than 20 bytes or not
 * printable ASCII is refused. Returns 0 and *out, or -errno with *e naming
 * the image and the problem. */
int virtio_blk_create(const struct skiff_disk_config *c, const struct dev_host *host,
		      struct virtio_blk **out, struct skiff_err *e);
/* The transport-independent device, for virtio_pci_create(). Owned by b. */
struct virtio_device *virtio_blk_vdev(struct virtio_blk *b);
/* Quiesce (on the I/O thread: in-flight I/O is drained, fds unregistered),
 * then close the image and free. Destroy the transport first. b may be NULL. */
void virtio_blk_destroy(struct virtio_blk *b);
/* VM pause, on the I/O thread: wait for the requests in flight and return
 * them to the driver (used ring, interrupt); new ones wait in the queue.
 * Resume: process what the driver queued meanwhile. b may be NULL. */
void virtio_blk_pause(struct virtio_blk *b);
void virtio_blk_resume(struct virtio_blk *b);
void virtio_blk_get_stats(const struct virtio_blk *b, struct virtio_blk_stats *out);
/* Capacity in 512-byte sectors; engine name ("io_uring" / "sync"). */
uint64_t virtio_blk_capacity(const struct virtio_blk *b);
const char *virtio_blk_engine(const struct virtio_blk *b);

/* Firecracker's PATCH /drives: change the backing image and/or the rate
 * limiter of a created device, from any thread but the I/O thread's own
 * callbacks (the change runs there, through evloop_call; also while the VM
 * is paused), one update at a time per device (the caller serialises:
 * skiff_vm_update_disk does).
 * path (NULL: keep the image) is opened as at creation: same read-only,
 * O_DIRECT and engine, blk_io_open's checks and flock (an image another
 * process or disk holds is -EBUSY); its O_DIRECT block size must equal the
 * current one. The same file as now (a resized image) is not reopened: its
 * size is read again. The requests in flight finish on the old image; then
 * the capacity in the configuration space changes, config_generation is
 * bumped and the configuration interrupt is sent (virtio 1.2 §2.4.2,
 * §4.1.4.3 ISR bit 1 / §4.1.5.3 MSI-X config vector) when the driver is
 * running (DRIVER_OK), even with the same size, as Firecracker does.
 * rl (NULL: keep) is applied with rl_update. Returns 0, or -errno with the
 * message in *e and the old image still in use. */
int virtio_blk_update(struct virtio_blk *b, const char *path,
		      const struct skiff_rate_limit_update *rl, struct skiff_err *e);
/* The image's device and inode numbers (blk_io_file_id). */
void virtio_blk_file_id(const struct virtio_blk *b, uint64_t *dev, uint64_t *ino);

#endif
