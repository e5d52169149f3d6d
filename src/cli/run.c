/* `skiff run`: boot a kernel with the terminal as its serial console. */
#include "api/api_metrics.h"
#include "api/api_http.h"
#include "api/api_vmm.h"
#include "cli/cli.h"
#include "cli/vmreg.h"
#include "core/console.h"
#include "core/devopts.h"
#include "core/vm.h"
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cli_run_usage(FILE *f)
{
	fprintf(f,
		"usage: skiff run --kernel PATH [options]\n"
		"  -k, --kernel PATH     bzImage or ELF vmlinux to boot (required)\n"
		"  -i, --initrd PATH     initial ramdisk\n"
		"  -p, --cmdline STR     kernel command line (default: \"console=ttyS0 reboot=k panic=1\")\n"
		"  -c, --cpus N          number of vCPUs (default 1, at most %d)\n"
		"  -m, --memory MiB      guest RAM in MiB (default 256, at least %d)\n"
		"      --disk SPEC       a virtio-blk disk (repeatable):\n"
		"                        [path=]FILE[,ro][,id=ID][,engine=auto|io_uring|sync][,direct]\n"
		"                        [,bw=BYTES[:REFILL_MS[:BURST]]][,ops=N[:REFILL_MS[:BURST]]]\n"
		"      --net SPEC        a virtio-net interface (repeatable): tap=NAME or user,\n"
		"                        then [,mac=MAC][,hostfwd=tcp::HOSTPORT-:GUESTPORT]...\n"
		"                        [,rx_bw=..][,rx_ops=..][,tx_bw=..][,tx_ops=..]\n"
		"      --vsock cid=N,uds=PATH  a virtio-vsock device (Firecracker's host convention)\n"
		"      --rng             a virtio-rng device (entropy from getrandom)\n"
		"      --no-pvm-params   on a KVM PVM host, do not add its kernel parameters\n"
		"      --log-level L     error, warn, info (default), debug or trace\n"
		"      --log PATH        log to this file or FIFO, Firecracker's line format\n"
		"      --metrics PATH    metrics as JSON lines to this file or FIFO (every 60 s, at exit)\n"
		"  -n, --name ID         the VM's id for skiff list/pause/stop ([A-Za-z0-9_-]{1,64};\n"
		"                        default skiff-PID); its API socket is in the runtime\n"
		"                        directory (docs/management.md)\n"
		"  -h, --help            this help\n"
		"\n"
		"The terminal is the guest's serial console (COM1). Ctrl-A x quits;\n"
		"Ctrl-A Ctrl-A sends a Ctrl-A.\n"
		"\n"
		"Exit status: 0 guest powered off (or Ctrl-A x), 1 VMM error,\n"
		"2 usage error, 3 guest reset, 4 guest triple fault,\n"
		"v when the guest writes v to I/O port 0xf4 (isa-debug-exit),\n"
		"128+n when skiff is stopped by signal n (SIGINT, SIGTERM, SIGHUP).\n",
		SKIFF_MAX_VCPUS, SKIFF_MIN_MEM_MIB);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return -EINVAL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "skiff run: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see skiff help run)\n");
	return SKIFF_EXIT_USAGE_CLI;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Wait until the VM's thread has stopped it. */
static void wait_stopped(struct api_vmm *vmm)
{
	struct pollfd p = { .fd = api_vmm_stopped_fd(vmm), .events = POLLIN };
	struct skiff_result res;
	while (!api_vmm_result(vmm, &res))
		poll(&p, 1, -1);
}

/* The VM runs on api_vmm's thread (stop signals reach it through
 * cfg->stop_signal_fd), served on its runtime-directory socket so that
 * skiff pause/resume/info/stop act on it; the terminal is its console. */
static int run_vm(const struct skiff_config *cfg, const char *name)
{
	struct api_vmm *vmm = NULL;
	struct api_http *http = NULL;
	struct cli_reg reg = { .active = false };
	struct skiff_err err = { { 0 } };
	int status = SKIFF_EXIT_ERROR;
	char gen[32];
	if (!name) {	/* GET / and the runtime entry show the same id */
		snprintf(gen, sizeof(gen), "skiff-%d", (int)getpid());
		name = gen;
	}
	if (api_vmm_create(cfg, name, &vmm) || api_vmm_use_config(vmm, cfg)) {
		api_vmm_destroy(vmm);
		fprintf(stderr, "skiff: error: out of memory\n");
		return SKIFF_EXIT_ERROR;
	}
	if (cli_reg_begin(&reg, name, NULL, cfg, vmm, 0, &http, &err) ||
	    api_vmm_start(vmm, &err)) {
		fprintf(stderr, "skiff: error: %s\n", err.msg);
		goto out;
	}
	struct console_tty tty;
	console_tty_raw(&tty, cfg->console_in);
	wait_stopped(vmm);
	console_tty_restore(&tty);
	struct skiff_result res;
	api_vmm_result(vmm, &res);
	status = cli_report_result(&res);
out:
	api_http_stop(http);
	cli_reg_end(&reg);
	api_vmm_destroy(vmm);
	return status;
}

int cmd_run(int argc, char **argv)
{
	uint64_t start = mono_ns();
	struct skiff_config cfg;
	skiff_config_default(&cfg);
	cfg.start_ns = start;
	enum { OPT_NO_PVM = 256, OPT_LOG, OPT_DISK, OPT_NET, OPT_VSOCK, OPT_RNG, OPT_LOG_PATH,
	       OPT_METRICS };
	const char *log_path = NULL, *metrics_path = NULL;
	const char *name = NULL;
	static struct skiff_disk_config disks[SKIFF_MAX_DISKS];
	static struct skiff_net_config nets[SKIFF_MAX_NETS];
	static struct skiff_vsock_config vsock;
	struct skiff_err perr = { { 0 } };
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'p' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "no-pvm-params", no_argument, NULL, OPT_NO_PVM },
		{ "log-level", required_argument, NULL, OPT_LOG },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "net", required_argument, NULL, OPT_NET },
		{ "vsock", required_argument, NULL, OPT_VSOCK },
		{ "rng", no_argument, NULL, OPT_RNG },
		{ "log", required_argument, NULL, OPT_LOG_PATH },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	optind = 1;
	opterr = 0;
	int o;
	uint64_t v;
	while ((o = getopt_long(argc, argv, ":k:i:p:c:m:n:h", opts, NULL)) != -1) {
		switch (o) {
		case 'k': cfg.kernel_path = optarg; break;
		case 'i': cfg.initrd_path = optarg; break;
		case 'p': cfg.cmdline = optarg; break;
		case 'c':
			if (parse_u64(optarg, &v) || v > UINT32_MAX)
				return usage_error("--cpus wants a number, not '%s'", optarg);
			cfg.cpus = (uint32_t)v;
			break;
		case 'm':
			if (parse_u64(optarg, &v))
				return usage_error("--memory wants a size in MiB, not '%s'", optarg);
			cfg.mem_mib = v;
			break;
		case OPT_NO_PVM: cfg.no_pvm_params = true; break;
		case OPT_LOG:
			if (skiff_log_parse_level(optarg, &cfg.log_level))
				return usage_error("unknown log level '%s'", optarg);
			break;
		case OPT_DISK:
			if (cfg.ndisks >= SKIFF_MAX_DISKS)
				return usage_error("more than %s disks", "16");
			if (devopts_parse_disk(optarg, &disks[cfg.ndisks], &perr))
				return usage_error("%s", perr.msg);
			cfg.disks = disks;
			cfg.ndisks++;
			break;
		case OPT_NET:
			if (cfg.nnets >= SKIFF_MAX_NETS)
				return usage_error("more than %s network interfaces", "8");
			if (devopts_parse_net(optarg, &nets[cfg.nnets], &perr))
				return usage_error("%s", perr.msg);
			cfg.nets = nets;
			cfg.nnets++;
			break;
		case OPT_VSOCK:
			if (cfg.vsock)
				return usage_error("%s", "only one --vsock device");
			if (devopts_parse_vsock(optarg, &vsock, &perr))
				return usage_error("%s", perr.msg);
			cfg.vsock = &vsock;
			break;
		case OPT_RNG: cfg.rng = true; break;
		case OPT_LOG_PATH: log_path = optarg; break;
		case OPT_METRICS: metrics_path = optarg; break;
		case 'n':
			if (!rt_id_valid(optarg))
				return usage_error("--name wants 1..64 characters of [A-Za-z0-9_-], "
						   "not '%s'", optarg);
			name = optarg;
			break;
		case 'h': cli_run_usage(stdout); return 0;
		case ':': return usage_error("option %s needs a value", argv[optind - 1]);
		default: return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!cfg.kernel_path)
		return usage_error("%s", "no kernel given: use --kernel PATH");

	cfg.stop_signal_fd = cli_stop_signal_fd();

	struct skiff_err err = { { 0 } };
	struct skiff_log_sink *sink = NULL;
	struct api_metrics *metrics = NULL;
	if ((log_path && skiff_log_sink_open(log_path, "--log", NULL, true, false, NULL, &sink,
					     &err)) ||
	    (metrics_path && api_metrics_open(metrics_path, "--metrics", &metrics, &err))) {
		fprintf(stderr, "skiff: error: %s\n", err.msg);
		skiff_log_sink_close(sink);
		return SKIFF_EXIT_ERROR;
	}
	cfg.log_sink = sink;
	if (metrics) {
		api_metrics_set_log_sink(metrics, sink);
		cfg.metrics_fn = api_metrics_vm_hook;
		cfg.metrics_ctx = metrics;
	}
	int status = run_vm(&cfg, name);
	api_metrics_destroy(metrics);
	skiff_log_sink_close(sink);
	return status;
}
