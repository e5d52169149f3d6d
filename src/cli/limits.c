/* `skiff limits`: show or set the host-wide limits on started VMs and their
 * guest memory (DIR/.limits.json, checked when a VM starts). */
#include "cli/cli.h"
#include "cli/client.h"
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void cli_limits_usage(FILE *f)
{
	fprintf(f,
		"usage: skiff limits [--max-vms N] [--max-mem-mib MiB] [--clear]\n"
		"Show or set the host-wide limits: at most N started VMs, at most MiB of\n"
		"guest memory in all (0: no limit). A VM that would exceed one is refused\n"
		"when it starts. --clear removes both. Without options: show them.\n");
}

static int parse_num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *s == '-' || *end || errno || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static void show(const char *dir, const struct rt_limits *l)
{
	struct rt_entry *v;
	size_t n;
	uint32_t vms = 0;
	uint64_t mem = 0;
	if (!rt_scan(dir, &v, &n, NULL, NULL, NULL)) {
		for (size_t i = 0; i < n; i++)
			if (v[i].started && rt_entry_liveness(&v[i]) == RT_ALIVE) {
				vms++;
				mem += v[i].mem_mib;
			}
		free(v);
	}
	if (l->max_vms)
		printf("max-vms      %u (%u started now)\n", l->max_vms, vms);
	else
		printf("max-vms      none (%u started now)\n", vms);
	if (l->max_mem_mib)
		printf("max-mem-mib  %" PRIu64 " (%" PRIu64 " MiB in use)\n", l->max_mem_mib, mem);
	else
		printf("max-mem-mib  none (%" PRIu64 " MiB in use)\n", mem);
}

int cmd_limits(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-vms", required_argument, NULL, 'v' },
		{ "max-mem-mib", required_argument, NULL, 'm' },
		{ "clear", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool set_vms = false, set_mem = false, clear = false;
	uint64_t vms = 0, mem = 0;
	int o;
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (o) {
		case 'v':
			if (parse_num(optarg, UINT32_MAX, &vms))
				goto bad_num;
			set_vms = true;
			break;
		case 'm':
			if (parse_num(optarg, INT64_MAX, &mem))
				goto bad_num;
			set_mem = true;
			break;
		case 'c': clear = true; break;
		case 'h': cli_limits_usage(stdout); return 0;
		case ':':
			fprintf(stderr, "skiff limits: %s needs a value\n", argv[optind - 1]);
			return SKIFF_EXIT_USAGE_CLI;
		default:
			fprintf(stderr, "skiff limits: unknown option '%s' (see skiff help "
				"limits)\n", argv[optind - 1]);
			return SKIFF_EXIT_USAGE_CLI;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "skiff limits: unexpected argument '%s'\n", argv[optind]);
		return SKIFF_EXIT_USAGE_CLI;
	}
	if (clear && (set_vms || set_mem)) {
		fprintf(stderr, "skiff limits: --clear goes alone\n");
		return SKIFF_EXIT_USAGE_CLI;
	}
	char dir[RT_DIR_MAX];
	struct skiff_err e = { { 0 } };
	struct rt_limits l;
	if (rt_dir_open(dir, &e))
		return cli_fail("limits", e.msg);
	if (!clear && !set_vms && !set_mem) {
		if (rt_limits_read(dir, &l, &e))
			return cli_fail("limits", e.msg);
		show(dir, &l);
		return 0;
	}
	/* Read, change, write under the host lock: no update is lost. */
	int lock = rt_lock(dir, &e);
	if (lock < 0)
		return cli_fail("limits", e.msg);
	int r = rt_limits_read(dir, &l, &e);
	if (!r) {
		if (clear)
			memset(&l, 0, sizeof(l));
		if (set_vms)
			l.max_vms = (uint32_t)vms;
		if (set_mem)
			l.max_mem_mib = mem;
		r = rt_limits_write(dir, &l, &e);
	}
	rt_unlock(lock);
	if (r)
		return cli_fail("limits", e.msg);
	show(dir, &l);
	return 0;
bad_num:
	fprintf(stderr, "skiff limits: %s wants a whole number, not '%s'\n", argv[optind - 1],
		optarg);
	return SKIFF_EXIT_USAGE_CLI;
}
