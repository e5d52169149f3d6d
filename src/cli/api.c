/* Firecracker-compatible mode: `skiff --api-sock PATH [--config-file PATH]
 * [--no-api]`, with Firecracker's flag spellings. The VM is described by API
 * calls (src/api/api_http.h) or a config file, and started by InstanceStart
 * or at once from the config file. skiff exits when the guest stops, with
 * the same exit status as `skiff run`. */
#include "api/api_http.h"
#include "api/api_vmm.h"
#include "cli/cli.h"
#include "core/log.h"
#include "core/vm.h"
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_API_SOCK "/run/firecracker.socket"	/* Firecracker's default */

void cli_api_usage(FILE *f)
{
	fprintf(f,
		"usage: skiff [--api-sock PATH] [--config-file PATH] [--no-api] [options]\n"
		"Firecracker-compatible mode (docs/api.md):\n"
		"      --api-sock PATH   serve Firecracker's REST API on this Unix socket\n"
		"                        (default " DEFAULT_API_SOCK ")\n"
		"      --config-file PATH  a Firecracker VM config (JSON); the VM starts at once\n"
		"      --no-api          no API socket (needs --config-file)\n"
		"      --id ID           the instance id reported by GET / (default anonymous-instance)\n"
		"      --level L         log level: Error, Warning, Info (default), Debug, Trace, Off\n"
		"      --log-path PATH   log to this file or FIFO in Firecracker's format (PUT /logger)\n"
		"      --show-level, --show-log-origin  add the level, the source file:line to log lines\n"
		"      --module PREFIX   log only lines from source paths starting with PREFIX\n"
		"      --metrics-path PATH  write metrics (JSON lines) to this file or FIFO (PUT /metrics)\n"
		"      --http-api-max-payload-size BYTES  request body limit (default %d)\n"
		"      --no-seccomp, --boot-timer  accepted for compatibility (no effect)\n"
		"  -h, --help            this help\n"
		"The guest's serial console is skiff's stdin/stdout. skiff exits when the guest\n"
		"stops, with the exit status of skiff run (skiff help run).\n", API_MAX_BODY);
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "skiff: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see skiff help api)\n");
	return SKIFF_EXIT_USAGE_CLI;
}

static int parse_level(const char *s, int *out)
{
	static const struct { const char *n; int l; } t[] = {
		{ "error", LOG_ERROR }, { "warning", LOG_WARN }, { "warn", LOG_WARN },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG }, { "trace", LOG_TRACE }, { "off", LOG_OFF },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcasecmp(s, t[i].n)) {
			*out = t[i].l;
			return 0;
		}
	return -EINVAL;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Wait for the guest to stop (or, before it runs, a stop signal). */
static int wait_vm(struct api_vmm *vmm, int sfd)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = api_vmm_stopped_fd(vmm), .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "skiff: error: poll: %s\n", strerror(errno));
			return SKIFF_EXIT_ERROR;
		}
		struct skiff_result res;
		if (api_vmm_result(vmm, &res))
			return cli_report_result(&res);
		if (p[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
				continue;
			enum api_vmm_state st = api_vmm_state(vmm);
			if (st == API_VMM_RUNNING || st == API_VMM_PAUSED) {
				api_vmm_request_stop(vmm, VM_STOP_SIGNAL, (int)si.ssi_signo);
				continue;
			}
			if (api_vmm_result(vmm, &res))
				return cli_report_result(&res);
			fprintf(stderr, "skiff: stopped by signal %u before the VM started\n",
				si.ssi_signo);
			return 128 + (int)si.ssi_signo;
		}
	}
}

/* Firecracker's --log-path/--show-level/--show-log-origin/--module and
 * --metrics-path: the same as PUT /logger and PUT /metrics bodies. */
static int cli_outputs(struct api_vmm *vmm, const char *log_path, const char *level,
		       bool show_level, bool show_origin, const char *module,
		       const char *metrics_path, struct skiff_err *e)
{
	int r = 0;
	if (log_path || show_level || show_origin || module) {
		json_t *j = json_pack("{sbsb}", "show_level", show_level, "show_log_origin",
				      show_origin);
		if (log_path)
			json_object_set_new(j, "log_path", json_string(log_path));
		if (level)
			json_object_set_new(j, "level", json_string(level));
		if (module)
			json_object_set_new(j, "module", json_string(module));
		r = api_vmm_put_logger(vmm, j, e);
		json_decref(j);
	}
	if (!r && metrics_path) {
		json_t *j = json_pack("{ss}", "metrics_path", metrics_path);
		r = api_vmm_put_metrics(vmm, j, e);
		json_decref(j);
	}
	return r;
}

int cmd_api(int argc, char **argv)
{
	uint64_t start = mono_ns();
	enum { O_SOCK = 256, O_CONFIG, O_NO_API, O_ID, O_LEVEL, O_PAYLOAD, O_NOP, O_HELP,
	       O_LOG_PATH, O_SHOW_LEVEL, O_SHOW_ORIGIN, O_MODULE, O_METRICS };
	static const struct option opts[] = {
		{ "api-sock", required_argument, NULL, O_SOCK },
		{ "config-file", required_argument, NULL, O_CONFIG },
		{ "no-api", no_argument, NULL, O_NO_API },
		{ "id", required_argument, NULL, O_ID },
		{ "level", required_argument, NULL, O_LEVEL },
		{ "http-api-max-payload-size", required_argument, NULL, O_PAYLOAD },
		{ "no-seccomp", no_argument, NULL, O_NOP },
		{ "boot-timer", no_argument, NULL, O_NOP },
		{ "log-path", required_argument, NULL, O_LOG_PATH },
		{ "show-level", no_argument, NULL, O_SHOW_LEVEL },
		{ "show-log-origin", no_argument, NULL, O_SHOW_ORIGIN },
		{ "module", required_argument, NULL, O_MODULE },
		{ "metrics-path", required_argument, NULL, O_METRICS },
		{ "help-api", no_argument, NULL, O_HELP },
		{ "help", no_argument, NULL, O_HELP },
		{ 0 },
	};
	const char *sock = DEFAULT_API_SOCK, *config = NULL, *id = NULL;
	const char *level = NULL, *log_path = NULL, *module = NULL, *metrics_path = NULL;
	bool no_api = false, show_level = false, show_origin = false;
	size_t max_body = 0;
	struct skiff_config base;
	skiff_config_default(&base);
	base.start_ns = start;
	base.console_escape = true;
	optind = 1;
	opterr = 0;
	int o;
	while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (o) {
		case O_SOCK: sock = optarg; break;
		case O_CONFIG: config = optarg; break;
		case O_NO_API: no_api = true; break;
		case O_ID: id = optarg; break;
		case O_LEVEL:
			if (parse_level(optarg, &base.log_level))
				return usage_error("unknown log level '%s'", optarg);
			level = optarg;
			break;
		case O_LOG_PATH: log_path = optarg; break;
		case O_SHOW_LEVEL: show_level = true; break;
		case O_SHOW_ORIGIN: show_origin = true; break;
		case O_MODULE: module = optarg; break;
		case O_METRICS: metrics_path = optarg; break;
		case O_PAYLOAD: {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || *end || !v || v > 16 * 1024 * 1024 || *optarg == '-')
				return usage_error("--http-api-max-payload-size wants 1..16777216 "
						   "bytes, not '%s'", optarg);
			max_body = (size_t)v;
			break;
		}
		case O_NOP: break;
		case O_HELP: case 'h': cli_api_usage(stdout); return 0;
		case ':': return usage_error("option %s needs a value", argv[optind - 1]);
		default: return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (no_api && !config)
		return usage_error("%s", "--no-api needs --config-file PATH");

	/* Stop signals arrive on this signalfd, read by wait_vm. */
	int sfd = cli_stop_signal_fd();

	struct api_vmm *vmm;
	struct api_http *http = NULL;
	struct skiff_err err = { { 0 } };
	int status = SKIFF_EXIT_ERROR;
	if (api_vmm_create(&base, id, &vmm)) {
		fprintf(stderr, "skiff: error: out of memory\n");
		return SKIFF_EXIT_ERROR;
	}
	if (cli_outputs(vmm, log_path, level, show_level, show_origin, module, metrics_path, &err))
		goto fail;
	if (config && (api_model_load_config_file(api_vmm_model(vmm), config, &err) ||
		       api_vmm_open_outputs(vmm, &err)))
		goto fail;
	if (!no_api && api_http_start(sock, vmm, max_body, &http, &err))
		goto fail;
	if (config && api_vmm_start(vmm, &err))
		goto fail;
	status = wait_vm(vmm, sfd);
	goto out;
fail:
	fprintf(stderr, "skiff: error: %s\n", err.msg);
out:
	api_http_stop(http);
	api_vmm_destroy(vmm);
	close(sfd);
	return status;
}
