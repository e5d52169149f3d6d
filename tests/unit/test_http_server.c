/* The HTTP/1.1 server (src/api/http_server.h, http_conn.h) over a real Unix
 * socket with an echo handler: keep-alive, pipelining, chunked bodies,
 * 100-continue, the body/head/connection limits, malformed requests, idle
 * timeouts, a client that never reads, answers queued at stop; and the
 * socket-free parser fed the same stream split at every byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "api/http_server.h"

#define MAX_BODY	1024
#define MAX_HEAD	512
#define MAX_CONNS	3
#define IDLE_MS		400
#define BIG		(32 * 1024)	/* GET /big answers this many bytes */
#define DRAIN_MS	3000	/* only for test_drain */

struct fx {
	char dir[64], sock[128];
	struct http_server *srv;
	atomic_int requests;
};

/* Echo: "METHOD PATH LEN:BODY"; errors: "error STATUS MSG". */
static void echo(void *opaque, const struct http_req *q, struct http_resp *r)
{
	struct fx *f = opaque;
	int n;
	atomic_fetch_add(&f->requests, 1);
	r->content_type = "text/plain";
	if (q->error) {
		r->status = q->error;
		n = asprintf(&r->body, "error %u %s", q->error, q->error_msg);
	} else if (!strcmp(q->path, "/big")) {
		r->status = 200;
		r->body = malloc(BIG);
		assert_non_null(r->body);
		memset(r->body, 'x', BIG);
		n = BIG;
	} else {
		r->status = !strcmp(q->path, "/405") ? 405 : 200;
		r->allow = r->status == 405 ? "GET" : NULL;
		n = asprintf(&r->body, "%s %s %zu:%.*s", q->method, q->path, q->body_len,
			     (int)q->body_len, q->body ? q->body : "");
	}
	assert_true(n >= 0);
	r->body_len = (size_t)n;
}

static int listen_at(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%.100s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

static int start(void **state, unsigned drain_ms)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/skiff-http-server.XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	snprintf(f->sock, sizeof(f->sock), "%s/s.sock", f->dir);
	struct http_server_cfg cfg = {
		.fn = echo, .opaque = f,
		.lim = { .max_body = MAX_BODY, .max_head = MAX_HEAD },
		.max_conns = MAX_CONNS, .idle_ms = IDLE_MS, .drain_ms = drain_ms,
	};
	if (http_server_start(listen_at(f->sock), &cfg, &f->srv))
		return -1;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return start(state, 0);
}

static int setup_drain(void **state)
{
	return start(state, DRAIN_MS);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	http_server_stop(f->srv);
	unlink(f->sock);
	rmdir(f->dir);
	free(f);
	return 0;
}

static uint64_t ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A client connection with its unread bytes (for pipelined answers). */
struct cl {
	int fd;
	size_t len;
	char buf[128 * 1024];
};

static struct cl *dial(const struct fx *f)
{
	struct cl *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%.100s", f->sock);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return c;
}

static void hang_up(struct cl *c)
{
	close(c->fd);
	free(c);
}

static void put(struct cl *c, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);
		assert_true(n > 0);
		s += n;
		len -= (size_t)n;
	}
}

static void say(struct cl *c, const char *s)
{
	put(c, s, strlen(s));
}

/* Read one response: its status (-1: the server closed first), headers
 * (NUL-terminated, into head) and body (Content-Length bytes, NUL added;
 * body NULL: none comes, as for HEAD). */
static int answer(struct cl *c, char *head, size_t hcap, char *body, size_t bcap)
{
	char *end;
	while (!(c->buf[c->len] = 0, end = strstr(c->buf, "\r\n\r\n"))) {
		assert_true(c->len < sizeof(c->buf) - 1);
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
	size_t hlen = (size_t)(end - c->buf) + 4, blen = 0;
	int status = 0;
	assert_int_equal(sscanf(c->buf, "HTTP/1.1 %d", &status), 1);
	const char *cl = strcasestr(c->buf, "\r\nContent-Length: ");
	if (cl && cl < end)
		blen = strtoul(cl + 18, NULL, 10);
	assert_true(hlen < hcap);
	memcpy(head, c->buf, hlen);
	head[hlen] = 0;
	if (!body)
		blen = 0;
	else
		assert_true(blen < bcap);
	while (c->len < hlen + blen) {
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
		assert_true(n > 0);
		c->len += (size_t)n;
	}
	if (body) {
		memcpy(body, c->buf + hlen, blen);
		body[blen] = 0;
	}
	c->len -= hlen + blen;
	memmove(c->buf, c->buf + hlen + blen, c->len);
	return status;
}

/* Expect an answer with status and exactly this body. */
static void expect(struct cl *c, int status, const char *want)
{
	char head[1024], body[BIG + 1];
	int st = answer(c, head, sizeof(head), body, sizeof(body));
	if (st != status || (want && strcmp(body, want)))
		fail_msg("expected %d \"%s\", got %d \"%s\"", status, want ? want : "", st, body);
}

/* The server closed the connection (after any answers already read). */
static void expect_closed(struct cl *c)
{
	char b[64];
	assert_int_equal(c->len, 0);
	ssize_t n = recv(c->fd, b, sizeof(b), 0);
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
}

static void test_keep_alive(void **state)
{
	struct cl *c = dial(*state);
	say(c, "GET /a?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
	char head[1024], body[256];
	assert_int_equal(answer(c, head, sizeof(head), body, sizeof(body)), 200);
	assert_string_equal(body, "GET /a 0:");
	assert_non_null(strstr(head, "Content-Type: text/plain\r\n"));
	assert_non_null(strstr(head, "Content-Length: 9\r\n"));
	assert_null(strstr(head, "Connection"));
	say(c, "PUT /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
	expect(c, 200, "PUT /b 2:hi");
	say(c, "GET /405 HTTP/1.1\r\n\r\n");
	assert_int_equal(answer(c, head, sizeof(head), body, sizeof(body)), 405);
	assert_non_null(strstr(head, "\r\nAllow: GET\r\n"));
	/* HEAD: the length of the answer, without it. */
	say(c, "HEAD /h HTTP/1.1\r\nConnection: close\r\n\r\n");
	assert_int_equal(answer(c, head, sizeof(head), NULL, 0), 200);
	assert_non_null(strstr(head, "Content-Length: 10\r\nConnection: close\r\n"));
	expect_closed(c);
	hang_up(c);
}

static void test_pipelined(void **state)
{
	struct cl *c = dial(*state);
	say(c, "GET /1 HTTP/1.1\r\n\r\nPUT /2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy"
	       "PATCH /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
	       "GET /4 HTTP/1.1\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\n\r\n");
	expect(c, 200, "GET /1 0:");
	expect(c, 200, "PUT /2 2:xy");
	expect(c, 200, "PATCH /3 1:z");
	expect(c, 200, "GET /4 0:");
	expect_closed(c);
	hang_up(c);
	/* HTTP/1.0 closes unless it asks for keep-alive. */
	c = dial(*state);
	say(c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
	expect(c, 200, "GET /a 0:");
	expect(c, 200, "GET /b 0:");
	expect_closed(c);
	hang_up(c);
}

static void test_chunked(void **state)
{
	static const char req[] = "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nTrailer: t\r\n\r\n";
	struct cl *c = dial(*state);
	say(c, req);
	expect(c, 200, "PUT /c 7:abcdefg");
	/* The same a byte at a time: the parser's state spans reads. */
	for (size_t i = 0; i < sizeof(req) - 1; i++)
		put(c, req + i, 1);
	expect(c, 200, "PUT /c 7:abcdefg");
	hang_up(c);
}

static void test_body_limit(void **state)
{
	char req[4096], body[MAX_BODY + 2];
	memset(body, 'b', sizeof(body) - 1);
	body[sizeof(body) - 1] = 0;
	/* Exactly the limit is fine. */
	struct cl *c = dial(*state);
	snprintf(req, sizeof(req), "PUT /l HTTP/1.1\r\nContent-Length: %d\r\n\r\n%.*s", MAX_BODY,
		 MAX_BODY, body);
	say(c, req);
	char head[1024], got[BIG + 1];
	assert_int_equal(answer(c, head, sizeof(head), got, sizeof(got)), 200);
	assert_int_equal(strlen(got), strlen("PUT /l 1024:") + MAX_BODY);
	/* Announced over it: refused before the body is sent, then closed. */
	say(c, "PUT /l HTTP/1.1\r\nContent-Length: 1025\r\n\r\n");
	expect(c, 400, "error 400 the request body (1025 bytes) is larger than the limit of "
		       "1024 bytes");
	expect_closed(c);
	hang_up(c);
	/* Chunked over it: refused when the limit is passed. */
	c = dial(*state);
	snprintf(req, sizeof(req), "PUT /l HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		 "200\r\n%.512s\r\n200\r\n%.512s\r\n1\r\nb\r\n0\r\n\r\n", body, body);
	say(c, req);
	expect(c, 400, "error 400 the request body is larger than the limit of 1024 bytes");
	expect_closed(c);
	hang_up(c);
	/* A Content-Length that overflows 64 bits. */
	c = dial(*state);
	say(c, "PUT /l HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n");
	expect(c, 400, NULL);
	expect_closed(c);
	hang_up(c);
}

static void test_head_limit(void **state)
{
	char req[2048];
	char pad[MAX_HEAD + 1];
	memset(pad, 'h', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = 0;
	struct cl *c = dial(*state);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Pad: %.400s\r\n\r\n", pad);
	say(c, req);
	expect(c, 200, "GET / 0:");
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Pad: %.505s\r\n\r\n", pad);
	say(c, req);
	expect(c, 431, "error 431 the request head is larger than the limit of 512 bytes");
	expect_closed(c);
	hang_up(c);
	/* Many small headers count too (4 bytes each besides name and value). */
	c = dial(*state);
	int n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 200; i++)
		n += snprintf(req + n, sizeof(req) - (size_t)n, "a:\r\n");
	snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
	say(c, req);
	expect(c, 431, NULL);
	hang_up(c);
	/* A long target. */
	c = dial(*state);
	snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\n\r\n", pad);
	say(c, req);
	expect(c, 431, NULL);
	hang_up(c);
}

static void test_malformed(void **state)
{
	static const struct { const char *req; int status; } t[] = {
		{ "GARBAGE / HTTP/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/2.0\r\n\r\n", 505 },
		{ "GET / XTTP/1.1\r\n\r\n", 400 },
		{ "GET /\x01 HTTP/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
		{ "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400 },
		{ "CONNECT x:1 HTTP/1.1\r\n\r\n", 400 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cl *c = dial(*state);
		say(c, t[i].req);
		char head[1024], body[256];
		int st = answer(c, head, sizeof(head), body, sizeof(body));
		if (st != t[i].status)
			fail_msg("request %zu: expected %d, got %d (%s)", i, t[i].status, st, body);
		assert_non_null(strstr(head, "Connection: close\r\n"));
		expect_closed(c);
		hang_up(c);
	}
	/* Unknown to us but valid HTTP: the handler's business. */
	struct cl *c = dial(*state);
	say(c, "DELETE /d HTTP/1.1\r\n\r\n");
	expect(c, 200, "DELETE /d 0:");
	hang_up(c);
}

static void test_idle_timeout(void **state)
{
	struct fx *f = *state;
	uint64_t t0 = ms();
	struct cl *c = dial(f);
	expect_closed(c);	/* sent nothing */
	uint64_t took = ms() - t0;
	assert_true(took >= IDLE_MS - 50 && took < 4000);
	hang_up(c);
	/* Half a request, then nothing. */
	c = dial(f);
	say(c, "PUT / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
	expect_closed(c);
	hang_up(c);
	assert_int_equal(atomic_load(&f->requests), 0);
}

static void test_conn_limit(void **state)
{
	struct cl *c[MAX_CONNS + 1];
	for (int i = 0; i < MAX_CONNS; i++) {
		c[i] = dial(*state);
		say(c[i], "GET /k HTTP/1.1\r\n\r\n");
		expect(c[i], 200, "GET /k 0:");
	}
	c[MAX_CONNS] = dial(*state);	/* accepted and closed at once */
	expect_closed(c[MAX_CONNS]);
	hang_up(c[MAX_CONNS]);
	for (int i = 0; i < MAX_CONNS; i++) {
		say(c[i], "GET /k HTTP/1.1\r\n\r\n");
		expect(c[i], 200, "GET /k 0:");
	}
	/* A slot freed is a slot to be had (once the server saw it close). */
	hang_up(c[0]);
	int st = -1;
	for (int tries = 0; tries < 100 && st < 0; tries++) {
		struct cl *n = dial(*state);
		say(n, "GET /k HTTP/1.1\r\n\r\n");
		char head[1024], body[64];
		st = answer(n, head, sizeof(head), body, sizeof(body));
		hang_up(n);
		if (st < 0)
			usleep(10000);
	}
	assert_int_equal(st, 200);
	for (int i = 1; i < MAX_CONNS; i++)
		hang_up(c[i]);
}

/* A client pipelining requests for large answers and reading none: the
 * server stops reading from it, serves others, and still stops at once. */
static void test_slow_reader(void **state)
{
	struct cl *slow = dial(*state);
	static const char req[] = "GET /big HTTP/1.1\r\n\r\n";
	size_t sent = 0;
	for (int i = 0; i < 2000; i++) {
		ssize_t n = send(slow->fd, req, sizeof(req) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			break;
		sent += (size_t)n;
	}
	usleep(100000);
	struct cl *c = dial(*state);
	say(c, "GET /other HTTP/1.1\r\n\r\n");
	expect(c, 200, "GET /other 0:");
	hang_up(c);
	struct fx *f = *state;
	/* It parsed only what fits in its output buffer and socket. */
	assert_true(atomic_load(&f->requests) < 200);
	uint64_t t0 = ms();
	http_server_stop(f->srv);
	f->srv = NULL;
	assert_true(ms() - t0 < 1000);
	hang_up(slow);
	(void)sent;
}

static void *stopper(void *srv)
{
	http_server_stop(srv);
	return NULL;
}

/* Stop with answers queued: they go out whole (for up to drain_ms), then
 * the connection closes; nothing more is parsed. */
static void test_drain(void **state)
{
	struct fx *f = *state;
	struct cl *c = dial(f);
	static char reqs[20 * 32];
	size_t n = 0;
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(reqs + n, sizeof(reqs) - n, "GET /big HTTP/1.1\r\n\r\n");
	put(c, reqs, n);
	usleep(200000);	/* the server fills its output and stops parsing */
	int parsed = atomic_load(&f->requests);
	assert_true(parsed >= 2 && parsed < 20);
	pthread_t t;
	uint64_t t0 = ms();
	assert_int_equal(pthread_create(&t, NULL, stopper, f->srv), 0);
	f->srv = NULL;	/* the stopper's now */
	usleep(100000);	/* stop waits for us to read */
	char head[1024], body[BIG + 1];
	int got = 0;
	while (answer(c, head, sizeof(head), body, sizeof(body)) == 200) {
		assert_int_equal(strlen(body), BIG);
		got++;
	}
	assert_int_equal(c->len, 0);	/* ended between two answers */
	pthread_join(t, NULL);
	assert_true(ms() - t0 < DRAIN_MS);
	assert_int_equal(got, parsed);
	assert_int_equal(atomic_load(&f->requests), parsed);
	hang_up(c);
}

static void test_continue(void **state)
{
	struct cl *c = dial(*state);
	say(c, "PUT /e HTTP/1.1\r\nContent-Length: 5\r\nExpect:  100-Continue \r\n\r\n");
	char head[1024], body[64];
	assert_int_equal(answer(c, head, sizeof(head), body, sizeof(body)), 100);
	assert_string_equal(head, "HTTP/1.1 100 Continue\r\n\r\n");
	say(c, "hello");
	expect(c, 200, "PUT /e 5:hello");
	/* After a header with an empty value (names must not run together). */
	say(c, "PUT /e HTTP/1.1\r\nX-E:\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
	expect(c, 100, "");
	say(c, "!");
	expect(c, 200, "PUT /e 1:!");
	/* Chunked too. */
	say(c, "PUT /e HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
	expect(c, 100, "");
	say(c, "2\r\nok\r\n0\r\n\r\n");
	expect(c, 200, "PUT /e 2:ok");
	/* No body, no 100; a body over the limit: the final answer at once. */
	say(c, "GET /e HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
	expect(c, 200, "GET /e 0:");
	say(c, "PUT /e HTTP/1.1\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
	expect(c, 400, NULL);
	expect_closed(c);
	hang_up(c);
}

/* Socket-free: the same stream split at every point gives the same bytes. */
static void collect(void *opaque, const struct http_req *q, struct http_resp *r)
{
	echo(opaque, q, r);
}

static size_t run_split(const char *in, size_t len, size_t cut, char *out, size_t cap)
{
	struct fx f = { 0 };
	struct http_limits lim = { .max_body = MAX_BODY, .max_head = MAX_HEAD };
	struct http_conn *hc = http_conn_new(&lim, collect, &f);
	assert_non_null(hc);
	size_t got = 0, off = 0;
	const size_t part[2] = { cut, len - cut };
	for (int i = 0; i < 2; i++) {
		size_t used = 0;
		while (used < part[i] && !http_conn_closing(hc)) {
			used += http_conn_feed(hc, in + off + used, part[i] - used);
			size_t n;
			const char *o = http_conn_out(hc, &n);
			assert_true(got + n <= cap);
			memcpy(out + got, o, n);
			got += n;
			http_conn_out_consume(hc, n);
		}
		off += part[i];
	}
	http_conn_free(hc);
	return got;
}

static void test_feed_split(void **state)
{
	static const char in[] =
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
		"PUT /b HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"
		"PATCH /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
		"HEAD /d HTTP/1.1\r\n\r\n"
		"GET /big HTTP/1.1\r\n\r\nGET /big HTTP/1.1\r\n\r\nGET /big HTTP/1.1\r\n\r\n"
		"GET /e HTTP/1.1\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\n\r\n";
	static char whole[256 * 1024], split[256 * 1024];
	size_t n = run_split(in, sizeof(in) - 1, sizeof(in) - 1, whole, sizeof(whole));
	assert_true(n > 3 * BIG);
	assert_non_null(strstr(whole, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
	assert_null(strstr(whole, "/never"));
	for (size_t cut = 0; cut < sizeof(in) - 1; cut++) {
		size_t m = run_split(in, sizeof(in) - 1, cut, split, sizeof(split));
		assert_int_equal(m, n);
		assert_memory_equal(split, whole, n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conn_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain, setup_drain, teardown),
		cmocka_unit_test_setup_teardown(test_continue, setup, teardown),
		cmocka_unit_test(test_feed_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
