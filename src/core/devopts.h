/* Parsers for kvmtool/QEMU-style device option strings, shared by the CLI and
 * (later) other front ends:
 *   disk:  [path=]FILE[,ro][,id=ID][,engine=auto|io_uring|sync][,direct]
 *          [,bw=BYTES[:REFILL_MS[:BURST]]][,ops=N[:REFILL_MS[:BURST]]]
 *   net:   tap=NAME | user, then [,mac=52:54:00:12:34:56][,queues=N]
 *          [,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...
 *          [,rx_bw=..][,rx_ops=..][,tx_bw=..][,tx_ops=..]
 *   vsock: cid=N,uds=PATH
 * BYTES takes K, M, G suffixes (powers of 1024); REFILL_MS defaults to 1000.
 *
 * The parsers write NULs into `s` and leave string fields pointing into it,
 * so `s` must outlive the result. On error they return -EINVAL and put a
 * message naming the bad part in *e. */
#ifndef SKIFF_DEVOPTS_H
#define SKIFF_DEVOPTS_H
#include "core/devcfg.h"
#include "core/err.h"

int devopts_parse_disk(char *s, struct skiff_disk_config *out, struct skiff_err *e);
int devopts_parse_net(char *s, struct skiff_net_config *out, struct skiff_err *e);
int devopts_parse_vsock(char *s, struct skiff_vsock_config *out, struct skiff_err *e);
/* "size[:refill_ms[:burst]]" into a bucket; `bytes` allows K/M/G suffixes. */
int devopts_parse_bucket(const char *s, bool bytes, struct skiff_bucket *out);
/* "aa:bb:cc:dd:ee:ff" (unicast only). */
int devopts_parse_mac(const char *s, uint8_t mac[6]);
/* QEMU's hostfwd syntax. */
int devopts_parse_hostfwd(const char *s, struct skiff_hostfwd *out);

#endif
