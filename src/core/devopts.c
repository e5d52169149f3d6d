/* Device option strings -> struct skiff_*_config (see devopts.h). */
#include "core/devopts.h"
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decimal unsigned number with an optional K/M/G suffix (when `suffix`). */
static int parse_num(const char *s, bool suffix, uint64_t *out)
{
	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	unsigned shift = 0;
	if (suffix && *end) {
		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: return -EINVAL;
		}
		end++;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int devopts_parse_bucket(const char *s, bool bytes, struct skiff_bucket *out)
{
	char buf[96];
	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	char *refill = strchr(buf, ':'), *burst = NULL;
	if (refill) {
		*refill++ = '\0';
		if ((burst = strchr(refill, ':')))
			*burst++ = '\0';
	}
	struct skiff_bucket b = { .refill_time_ms = 1000 };
	if (parse_num(buf, bytes, &b.size) || b.size == 0)
		return -EINVAL;
	if (refill && (parse_num(refill, false, &b.refill_time_ms) || b.refill_time_ms == 0))
		return -EINVAL;
	if (burst && parse_num(burst, bytes, &b.one_time_burst))
		return -EINVAL;
	*out = b;
	return 0;
}

int devopts_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;
	if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			 &tail) != 6 || strlen(s) != 17)
		return -EINVAL;
	if (v[0] & 1)	/* multicast bit: not a station address */
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static int parse_port(const char *s, uint16_t *out)
{
	uint64_t v;
	if (parse_num(s, false, &v) || v == 0 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/* "" -> 0 (any), else a dotted IPv4 address in host byte order. */
static int parse_addr(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (!*s) {
		*out = 0;
		return 0;
	}
	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

int devopts_parse_hostfwd(const char *s, struct skiff_hostfwd *out)
{
	char buf[128];
	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	struct skiff_hostfwd f = { 0 };
	/* [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport */
	char *p = buf, *c = strchr(p, ':');
	if (!c)
		return -EINVAL;
	*c = '\0';
	if (!strcmp(p, "udp"))
		f.udp = true;
	else if (*p && strcmp(p, "tcp"))
		return -EINVAL;
	p = c + 1;
	char *dash = strchr(p, '-');
	if (!dash)
		return -EINVAL;
	*dash = '\0';
	char *guest = dash + 1;
	if (!(c = strchr(p, ':')))
		return -EINVAL;
	*c = '\0';
	if (parse_addr(p, &f.host_addr) || parse_port(c + 1, &f.host_port))
		return -EINVAL;
	if ((c = strchr(guest, ':'))) {
		*c = '\0';
		if (parse_addr(guest, &f.guest_addr) || parse_port(c + 1, &f.guest_port))
			return -EINVAL;
	} else if (parse_port(guest, &f.guest_port)) {
		return -EINVAL;
	}
	*out = f;
	return 0;
}

/* Split "k=v" (v NULL for a bare word). */
static char *next_item(char **cursor, char **val)
{
	char *item = strsep(cursor, ",");
	if (!item)
		return NULL;
	char *eq = strchr(item, '=');
	*val = NULL;
	if (eq) {
		*eq = '\0';
		*val = eq + 1;
	}
	return item;
}

static int bad(struct skiff_err *e, const char *what, const char *key, const char *val)
{
	return skiff_fail(e, EINVAL, "%s: bad %s%s%s", what, key, val ? " value " : "",
			  val ? val : "");
}

int devopts_parse_disk(char *s, struct skiff_disk_config *out, struct skiff_err *e)
{
	struct skiff_disk_config d = { 0 };
	char *cur = s, *key, *val;
	bool first = true;
	while ((key = next_item(&cur, &val))) {
		if (!*key && !val)
			continue;	/* empty item: "a.img,,ro" or "" */
		if (first && !val && strcmp(key, "ro") && strcmp(key, "direct")) {
			d.path = key;	/* bare FILE first */
		} else if (!strcmp(key, "path") && val && *val) {
			d.path = val;
		} else if ((!strcmp(key, "ro") || !strcmp(key, "readonly")) && !val) {
			d.read_only = true;
		} else if (!strcmp(key, "direct") && !val) {
			d.direct = true;
		} else if (!strcmp(key, "id") && val) {
			if (!*val || strlen(val) > SKIFF_DISK_ID_MAX)
				return skiff_fail(e, EINVAL, "--disk: id '%s' must be 1 to %d bytes",
						  val, SKIFF_DISK_ID_MAX);
			d.id = val;
		} else if (!strcmp(key, "engine") && val) {
			if (!strcmp(val, "auto"))
				d.engine = SKIFF_IO_AUTO;
			else if (!strcmp(val, "io_uring") || !strcmp(val, "uring"))
				d.engine = SKIFF_IO_URING;
			else if (!strcmp(val, "sync"))
				d.engine = SKIFF_IO_SYNC;
			else
				return skiff_fail(e, EINVAL, "--disk: engine '%s' is not auto, io_uring or sync", val);
		} else if (!strcmp(key, "bw") && val) {
			if (devopts_parse_bucket(val, true, &d.rl.bandwidth))
				return bad(e, "--disk", "bw", val);
		} else if (!strcmp(key, "ops") && val) {
			if (devopts_parse_bucket(val, false, &d.rl.ops))
				return bad(e, "--disk", "ops", val);
		} else {
			return skiff_fail(e, EINVAL, "--disk: unknown option '%s%s%s'", key,
					  val ? "=" : "", val ? val : "");
		}
		first = false;
	}
	if (!d.path)
		return skiff_fail(e, EINVAL, "--disk: no image path (use --disk path=FILE)");
	*out = d;
	return 0;
}

int devopts_parse_net(char *s, struct skiff_net_config *out, struct skiff_err *e)
{
	struct skiff_net_config n = { 0 };
	char *cur = s, *key, *val;
	while ((key = next_item(&cur, &val))) {
		if (!strcmp(key, "tap") && val && *val) {
			if (n.kind)
				return skiff_fail(e, EINVAL, "--net: give one of tap=NAME or user");
			if (strlen(val) >= 16)
				return skiff_fail(e, EINVAL, "--net: tap name '%s' is longer than 15 bytes", val);
			n.kind = SKIFF_NET_TAP;
			n.tap_name = val;
		} else if (!strcmp(key, "user") && !val) {
			if (n.kind)
				return skiff_fail(e, EINVAL, "--net: give one of tap=NAME or user");
			n.kind = SKIFF_NET_USER;
		} else if (!strcmp(key, "mac") && val) {
			if (devopts_parse_mac(val, n.mac))
				return skiff_fail(e, EINVAL, "--net: mac '%s' is not a unicast aa:bb:cc:dd:ee:ff", val);
			n.has_mac = true;
		} else if (!strcmp(key, "queues") && val) {
			uint64_t q;
			if (parse_num(val, false, &q) || q == 0 || q > 16)
				return bad(e, "--net", "queues", val);
			n.queue_pairs = (uint32_t)q;
		} else if (!strcmp(key, "hostfwd") && val) {
			if (n.nhostfwd >= SKIFF_MAX_HOSTFWD)
				return skiff_fail(e, EINVAL, "--net: more than %d hostfwd rules", SKIFF_MAX_HOSTFWD);
			if (devopts_parse_hostfwd(val, &n.hostfwd[n.nhostfwd]))
				return skiff_fail(e, EINVAL, "--net: hostfwd '%s' is not [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT", val);
			n.nhostfwd++;
		} else if (val && (!strcmp(key, "rx_bw") || !strcmp(key, "tx_bw"))) {
			struct skiff_bucket *b = key[0] == 'r' ? &n.rx.bandwidth : &n.tx.bandwidth;
			if (devopts_parse_bucket(val, true, b))
				return bad(e, "--net", key, val);
		} else if (val && (!strcmp(key, "rx_ops") || !strcmp(key, "tx_ops"))) {
			struct skiff_bucket *b = key[0] == 'r' ? &n.rx.ops : &n.tx.ops;
			if (devopts_parse_bucket(val, false, b))
				return bad(e, "--net", key, val);
		} else {
			return skiff_fail(e, EINVAL, "--net: unknown option '%s%s%s'", key,
					  val ? "=" : "", val ? val : "");
		}
	}
	if (!n.kind)
		return skiff_fail(e, EINVAL, "--net: say tap=NAME or user");
	if (n.nhostfwd && n.kind != SKIFF_NET_USER)
		return skiff_fail(e, EINVAL, "--net: hostfwd needs user networking (--net user,hostfwd=...)");
	*out = n;
	return 0;
}

int devopts_parse_vsock(char *s, struct skiff_vsock_config *out, struct skiff_err *e)
{
	struct skiff_vsock_config v = { 0 };
	bool have_cid = false;
	char *cur = s, *key, *val;
	while ((key = next_item(&cur, &val))) {
		if ((!strcmp(key, "cid") || !strcmp(key, "guest_cid")) && val) {
			uint64_t c;
			if (parse_num(val, false, &c) || c < 3 || c > UINT32_MAX - 1)
				return skiff_fail(e, EINVAL, "--vsock: cid '%s' must be a number from 3 to %u",
						  val, UINT32_MAX - 1);
			v.guest_cid = (uint32_t)c;
			have_cid = true;
		} else if ((!strcmp(key, "uds") || !strcmp(key, "uds_path")) && val && *val) {
			v.uds_path = val;
		} else {
			return skiff_fail(e, EINVAL, "--vsock: unknown option '%s%s%s'", key,
					  val ? "=" : "", val ? val : "");
		}
	}
	if (!have_cid || !v.uds_path)
		return skiff_fail(e, EINVAL, "--vsock: needs cid=N,uds=PATH");
	*out = v;
	return 0;
}
