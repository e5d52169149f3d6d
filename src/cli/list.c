/* `skiff list`: every VM on the host (like lkvm list), from the runtime
 * directory and each VM's API; stale entries are reported and removed. */
#include "cli/cli.h"
#include "cli/client.h"
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIST_TIMEOUT_MS 2000	/* per VM */

void cli_list_usage(FILE *f)
{
	fprintf(f,
		"usage: skiff list [--json]\n"
		"Every VM on this host: ID, STATE, VCPUS, MEM(MiB), UPTIME, PID, SOCKET.\n"
		"Entries of VMs whose process is gone (or whose pid was reused, or whose\n"
		"API socket is dead) are reported on stderr and removed.\n"
		"      --json            one JSON array instead of the table\n"
		"The runtime directory is $SKIFF_RUNTIME_DIR, else /run/skiff (root),\n"
		"$XDG_RUNTIME_DIR/skiff or /tmp/skiff-UID (docs/management.md).\n");
}

struct row {
	struct rt_entry en;
	char state[32];
};

static void warn(void *ctx, const char *msg)
{
	fprintf(stderr, "skiff list: warning: %s\n", msg);
}

static void drop(const char *dir, const struct rt_entry *en, const char *why)
{
	struct skiff_err e = { { 0 } };
	if (rt_remove_if_same(dir, en, &e) == 0)
		fprintf(stderr, "skiff list: VM %s (pid %d): stale entry removed: %s\n", en->id,
			(int)en->pid, why);
}

/* The VM's state from GET /; false when the entry is stale (removed). */
static bool probe(const char *dir, struct row *row)
{
	enum rt_liveness l = rt_entry_liveness(&row->en);
	if (l != RT_ALIVE) {
		drop(dir, &row->en, rt_liveness_text(l));
		return false;
	}
	struct cli_reply rep;
	struct skiff_err e = { { 0 } };
	int r = cli_http(row->en.sock, "GET", "/", NULL, LIST_TIMEOUT_MS, &rep, &e);
	if (r == -ECONNREFUSED || r == -ENOENT) {
		drop(dir, &row->en, "its API socket is dead");
		return false;
	}
	if (r) {
		fprintf(stderr, "skiff list: VM %s: %s\n", row->en.id, e.msg);
		snprintf(row->state, sizeof(row->state), "%s",
			 r == -EACCES ? "?(denied)" : r == -ETIMEDOUT ? "?(no answer)" : "?");
		return true;
	}
	json_t *j = json_loadb(rep.body, rep.len, 0, NULL);
	const char *st = json_string_value(json_object_get(j, "state"));
	snprintf(row->state, sizeof(row->state), "%s", st ? st : "?");
	json_decref(j);
	free(rep.body);
	return true;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->en.id, ((const struct row *)b)->en.id);
}

static void fmt_uptime(int64_t secs, char *buf, size_t len)
{
	if (secs < 0)
		snprintf(buf, len, "-");
	else if (secs < 3600)
		snprintf(buf, len, "%" PRId64 ":%02" PRId64, secs / 60, secs % 60);
	else if (secs < 86400)
		snprintf(buf, len, "%" PRId64 ":%02" PRId64 ":%02" PRId64, secs / 3600,
			 secs / 60 % 60, secs % 60);
	else
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", secs / 86400, secs / 3600 % 24);
}

static int print_json(const struct row *rows, size_t n, int64_t now)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		const struct rt_entry *en = &rows[i].en;
		json_array_append_new(a, json_pack("{ss ss sI sI sI sI ss}", "id", en->id,
				      "state", rows[i].state, "vcpus", (json_int_t)en->vcpus,
				      "mem_mib", (json_int_t)en->mem_mib, "uptime_s",
				      (json_int_t)(en->started ? now - en->started : -1),
				      "pid", (json_int_t)en->pid, "socket", en->sock));
	}
	char *s = a ? json_dumps(a, JSON_INDENT(2)) : NULL;
	json_decref(a);
	if (!s)
		return cli_fail("list", "out of memory");
	printf("%s\n", s);
	free(s);
	return 0;
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool as_json = false;
	int o;
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (o == 'j')
			as_json = true;
		else if (o == 'h')
			return cli_list_usage(stdout), 0;
		else
			return fprintf(stderr, "skiff list: unknown option '%s' (see skiff help "
				       "list)\n", argv[optind - 1]), SKIFF_EXIT_USAGE_CLI;
	}
	if (optind < argc)
		return fprintf(stderr, "skiff list: unexpected argument '%s'\n", argv[optind]),
		       SKIFF_EXIT_USAGE_CLI;
	char dir[RT_DIR_MAX];
	struct skiff_err e = { { 0 } };
	struct rt_entry *ents;
	size_t n;
	if (rt_dir_open(dir, &e) || rt_scan(dir, &ents, &n, warn, NULL, &e))
		return cli_fail("list", e.msg);
	struct row *rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows) {
		free(ents);
		return cli_fail("list", "out of memory");
	}
	size_t live = 0;
	for (size_t i = 0; i < n; i++) {
		rows[live].en = ents[i];
		if (probe(dir, &rows[live]))
			live++;
	}
	free(ents);
	qsort(rows, live, sizeof(*rows), by_id);
	int64_t now = time(NULL);
	int status = 0;
	if (as_json) {
		status = print_json(rows, live, now);
	} else {
		printf("%-20s %-12s %5s %9s %9s %8s  %s\n", "ID", "STATE", "VCPUS", "MEM(MiB)",
		       "UPTIME", "PID", "SOCKET");
		for (size_t i = 0; i < live; i++) {
			const struct rt_entry *en = &rows[i].en;
			char up[32], vc[16], mem[24];
			fmt_uptime(en->started ? now - en->started : -1, up, sizeof(up));
			snprintf(vc, sizeof(vc), "%u", en->vcpus);
			snprintf(mem, sizeof(mem), "%" PRIu64, en->mem_mib);
			if (!en->started)
				strcpy(vc, "-"), strcpy(mem, "-");
			printf("%-20s %-12s %5s %9s %9s %8d  %s\n", en->id, rows[i].state, vc, mem,
			       up, (int)en->pid, en->sock);
		}
	}
	free(rows);
	return status;
}
