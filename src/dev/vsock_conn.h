/* virtio-vsock internals shared by the device (virtio_vsock.c: queues,
 * packet dispatch, set-up) and its connections (vsock_conn.c: the table,
 * credit, host sockets, the listener, timeouts). Not a public interface.
 *
 * Everything here is touched only on the VM's I/O thread. */
#ifndef SKIFF_DEV_VSOCK_CONN_H
#define SKIFF_DEV_VSOCK_CONN_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>
#include "dev/virtio_vsock.h"
#include "dev/vsock_hdr.h"

#define RST_RING	64			/* pending RSTs for no connection */
#define LINE_MAX_LEN	32			/* "CONNECT 4294967295\r\n" fits */
#define HOST_PORT_BASE	(1u << 30)		/* first local port for host-initiated */
#define CREDIT_UPDATE_STEP (VSOCK_CONN_BUF / 4)	/* fwd_cnt progress worth an update */
#define NS_PER_MS	1000000ull

enum conn_state {
	CS_LINE,	/* host client accepted, reading "CONNECT <port>\n" */
	CS_CONNECTING,	/* REQUEST to the guest queued or sent, awaiting RESPONSE */
	CS_OPEN,	/* established: bytes flow */
	CS_DEAD,	/* socket closed; an RST to the guest is all that is left */
};

/* Control packets waiting for an RX buffer. */
enum {
	PEND_REQUEST = 1u << 0,
	PEND_RESPONSE = 1u << 1,
	PEND_RST = 1u << 2,
	PEND_SHUTDOWN = 1u << 3,
	PEND_CREDIT_UPDATE = 1u << 4,
	PEND_CREDIT_REQUEST = 1u << 5,
};

struct virtio_vsock;

struct vconn {
	struct virtio_vsock *vs;
	uint32_t local_port;		/* host side: src_port of our packets */
	uint32_t peer_port;		/* guest side */
	int fd;				/* host AF_UNIX stream socket, -1 once closed */
	enum conn_state state;
	bool host_init;			/* the host connected (through uds_path) */
	bool registered;		/* fd is on the loop */
	uint32_t watched;		/* epoll events asked for */
	uint32_t pend;			/* PEND_* */
	uint32_t shut_flags;		/* flags of the pending SHUTDOWN */
	bool readable;			/* the socket may have data (EPOLLIN seen, or hung up) */
	bool host_eof;			/* read returned 0: we sent or queued SHUTDOWN */
	bool hup;			/* peer gone (EPOLLHUP): fd off the loop */
	bool shut_wr_done;		/* shutdown(SHUT_WR) done after the guest's SHUTDOWN(SEND) */
	uint32_t peer_shut;		/* SHUTDOWN flags the guest sent */
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC; 0: none */
	/* Credit (§5.10.6.3), all counters free-running mod 2^32. */
	uint32_t peer_buf_alloc, peer_fwd_cnt;	/* the guest's, from its last packet */
	uint32_t tx_cnt;		/* payload bytes sent to the guest */
	uint32_t recv_cnt;		/* payload bytes taken from the guest */
	uint32_t fwd_cnt;		/* of those, written to the host socket */
	uint32_t last_fwd_sent;		/* fwd_cnt in our last packet to the guest */
	bool credit_req_sent;		/* CREDIT_REQUEST sent, no credit since */
	/* Guest -> host bytes the socket has not taken yet: a ring of
	 * VSOCK_CONN_BUF bytes (allocated on first need), after `ok`. */
	uint8_t *buf;
	uint32_t buf_head, buf_len;
	char ok[24];			/* "OK <port>\n" to the host client */
	uint8_t ok_len, ok_off;
	char line[LINE_MAX_LEN];	/* CONNECT line being read */
	uint8_t line_len;
	/* rxq links */
	struct vconn *rx_next, *rx_prev;
	bool in_rxq;
};

struct rst_req {
	uint32_t local_port, peer_port;
};

struct virtio_vsock {
	struct virtio_device vd;
	const struct dev_host *host;	/* not owned */
	struct evloop *loop;		/* host->loop */
	uint8_t config[8];		/* struct virtio_vsock_config: le64 guest_cid */
	uint64_t cid;
	char *uds_path;			/* owned copy */
	int listen_fd;
	bool listen_paused;		/* accept hit EMFILE: listener off until a close */
	bool listen_watched;
	int timer_fd;			/* timeouts (timerfd) */
	bool timer_watched;
	uint64_t timer_at;		/* deadline the timer is armed for; 0: disarmed */
	bool active;			/* DRIVER_OK seen, no reset or error since */
	bool tx_stalled;		/* TX stopped: the RST ring is full */
	struct vconn *conns[VSOCK_MAX_CONNS];
	unsigned nconns;
	struct vconn *rxq_head, *rxq_tail;
	struct rst_req rst[RST_RING];
	unsigned rst_head, rst_len;
	uint32_t next_port;		/* next local port for host-initiated */
	struct virtio_vsock_counters cnt;
	struct virtq_chain chain;	/* scratch: the chain being handled */
	struct iovec iov[VIRTQ_MAX_SEGS]; /* scratch: a slice of it */
};

static inline uint64_t vsock_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define vsock_log(vs, lvl, ...) skiff_log((vs)->host->log, (lvl), "virtio-vsock: " __VA_ARGS__)


/* ---- vsock_conn.c ---- */

/* Connection keyed (local, peer), or NULL (host clients still sending their
 * CONNECT line have no key yet). */
struct vconn *vsock_conn_find(struct virtio_vsock *vs, uint32_t local, uint32_t peer);
/* A new connection on host socket fd (owned from now on) in state st; NULL
 * when VSOCK_MAX_CONNS are open or out of memory (fd then not owned). */
struct vconn *vsock_conn_new(struct virtio_vsock *vs, int fd, enum conn_state st);
/* Watch c's socket on the loop; false (c reset) if that failed. */
bool vsock_conn_register(struct virtio_vsock *vs, struct vconn *c, uint32_t events);
/* Close and forget c (no packet to the guest). */
void vsock_conn_free(struct virtio_vsock *vs, struct vconn *c);
/* End c: RST to the guest if it knows the connection, else just free. */
void vsock_conn_reset(struct virtio_vsock *vs, struct vconn *c);
/* Free every connection and pending RST (device reset, error, teardown). */
void vsock_drop_all(struct virtio_vsock *vs);
/* After a change to c: queue it for RX when it has something for the
 * guest, bring its epoll interest up to date. */
void vsock_conn_sched(struct virtio_vsock *vs, struct vconn *c);
void vsock_rxq_remove(struct virtio_vsock *vs, struct vconn *c);
/* Write what waits for c's host socket. 0, or -errno: broken, reset c. */
int vsock_conn_flush(struct virtio_vsock *vs, struct vconn *c);
/* Guest closed both ways and all its bytes are out: RST c. true if so. */
bool vsock_close_if_done(struct virtio_vsock *vs, struct vconn *c);
/* RW payload of len bytes (credit-checked here) at VSOCK_HDR_LEN in vs->chain. */
void vsock_conn_from_guest(struct virtio_vsock *vs, struct vconn *c, uint32_t len);
/* A header from the host to the guest (src CID 2, type STREAM). */
void vsock_fill_hdr(struct virtio_vsock *vs, struct vsock_hdr *h, uint32_t local, uint32_t peer,
		    uint16_t op);
/* c's next packet into vs->chain's writable part (>= VSOCK_HDR_LEN bytes):
 * bytes written, or 0 when there is nothing it can send in this buffer. */
uint32_t vsock_conn_emit(struct virtio_vsock *vs, struct vconn *c);
/* Arm the timeout timer for the earliest connection deadline. */
void vsock_arm_timer(struct virtio_vsock *vs);
/* evloop callbacks (opaque: the struct virtio_vsock; for
 * vsock_conn_event the struct vconn). Exported for tests/fuzz. */
void vsock_timer_event(void *opaque, uint32_t events);
void vsock_listen_event(void *opaque, uint32_t events);
void vsock_conn_event(void *opaque, uint32_t events);

/* ---- virtio_vsock.c ---- */

/* Run the TX and RX queues until neither can make progress. */
void vsock_kick(struct virtio_vsock *vs);

#endif
