/* `skiff pause|resume|info|stop ID`: act on one VM through its API socket
 * (like lkvm pause/resume/stop). */
#include "cli/cli.h"
#include "cli/client.h"
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CTL_TIMEOUT_MS	10000	/* one API request (a pause drains block I/O) */
#define STOP_WAIT_S	10	/* after skiff_stop or SIGTERM */

void cli_control_usage(FILE *f)
{
	fprintf(f,
		"usage: skiff pause ID       pause the VM (PATCH /vm Paused)\n"
		"       skiff resume ID      resume it (PATCH /vm Resumed)\n"
		"       skiff info ID        its runtime entry, GET / and GET /vm/config as JSON\n"
		"       skiff stop [--force] [--timeout SECONDS] ID\n"
		"                            press its ACPI power button (action\n"
		"                            skiff_power_button; a paused VM is resumed first),\n"
		"                            wait up to SECONDS (default 30)\n"
		"                            for it to exit, then stop it at once (skiff_stop);\n"
		"                            --force: stop it at once. A VM not started yet\n"
		"                            (Firecracker mode) gets SIGTERM.\n"
		"Exit status 0, or 1 with a message (unknown id, VM not responding, permission\n"
		"denied), 2 for a usage error.\n");
}

static int usage(const char *cmd, const char *msg)
{
	fprintf(stderr, "skiff %s: %s (see skiff help %s)\n", cmd, msg, cmd);
	return SKIFF_EXIT_USAGE_CLI;
}

/* One request; 0 when the status is `want`, else 1 with a message. */
static int request(const char *cmd, const struct rt_entry *en, const char *method,
		   const char *path, const char *body, long want, struct cli_reply *rep)
{
	struct skiff_err e = { { 0 } };
	char msg[700], fm[600];
	if (cli_http(en->sock, method, path, body, CTL_TIMEOUT_MS, rep, &e)) {
		snprintf(msg, sizeof(msg), "VM %s: %s", en->id, e.msg);
		return cli_fail(cmd, msg);
	}
	if (rep->status == want)
		return 0;
	snprintf(msg, sizeof(msg), "VM %s: %s", en->id, cli_reply_fault(rep, fm, sizeof(fm)));
	free(rep->body);
	rep->body = NULL;
	return cli_fail(cmd, msg);
}

/* The one ID argument after the options. */
static int one_id(const char *cmd, int argc, char **argv, char *dir, struct rt_entry *en,
		  int *status)
{
	if (optind >= argc) {
		*status = usage(cmd, "which VM? give its ID (skiff list)");
		return -1;
	}
	if (optind + 1 < argc) {
		*status = usage(cmd, "give one VM ID");
		return -1;
	}
	struct skiff_err e = { { 0 } };
	if (cli_find_vm(argv[optind], dir, en, &e)) {
		*status = cli_fail(cmd, e.msg);
		return -1;
	}
	return 0;
}

static int simple_opts(const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	int o;
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (o == 'h') {
			cli_control_usage(stdout);
			return 0;
		}
		return usage(cmd, "unknown option");
	}
	return -1;
}

static int set_paused(const char *cmd, int argc, char **argv, bool paused)
{
	int status = simple_opts(cmd, argc, argv);
	char dir[RT_DIR_MAX];
	struct rt_entry en;
	struct cli_reply rep;
	if (status >= 0 || one_id(cmd, argc, argv, dir, &en, &status))
		return status;
	if (request(cmd, &en, "PATCH", "/vm", paused ? "{\"state\": \"Paused\"}"
					       : "{\"state\": \"Resumed\"}", 204, &rep))
		return 1;
	free(rep.body);
	return 0;
}

int cmd_pause(int argc, char **argv)
{
	return set_paused("pause", argc, argv, true);
}

int cmd_resume(int argc, char **argv)
{
	return set_paused("resume", argc, argv, false);
}

int cmd_info(int argc, char **argv)
{
	int status = simple_opts("info", argc, argv);
	char dir[RT_DIR_MAX];
	struct rt_entry en;
	struct cli_reply a, b;
	if (status >= 0 || one_id("info", argc, argv, dir, &en, &status))
		return status;
	if (request("info", &en, "GET", "/", NULL, 200, &a))
		return 1;
	if (request("info", &en, "GET", "/vm/config", NULL, 200, &b)) {
		free(a.body);
		return 1;
	}
	json_t *j = json_pack("{ss sI ss sI so* so*}", "id", en.id, "pid", (json_int_t)en.pid,
			      "socket", en.sock, "uptime_s",
			      (json_int_t)(en.started ? time(NULL) - en.started : -1),
			      "instance", json_loadb(a.body, a.len, 0, NULL),
			      "config", json_loadb(b.body, b.len, 0, NULL));
	free(a.body);
	free(b.body);
	char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	if (!s)
		return cli_fail("info", "the VM's answer is not JSON");
	printf("%s\n", s);
	free(s);
	return 0;
}

/* Wait up to secs for the entry's process to end. */
static bool wait_exit(const struct rt_entry *en, double secs)
{
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	for (double t = 0; t < secs; t += 0.05) {
		if (rt_entry_liveness(en) != RT_ALIVE)
			return true;
		nanosleep(&nap, NULL);
	}
	return rt_entry_liveness(en) != RT_ALIVE;
}

int cmd_stop(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool force = false;
	double timeout = 30;
	int o, status;
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":ft:h", opts, NULL)) != -1) {
		char *end;
		switch (o) {
		case 'f': force = true; break;
		case 't':
			timeout = strtod(optarg, &end);
			if (*end || end == optarg || !(timeout >= 0 && timeout <= 86400))
				return usage("stop", "--timeout wants 0..86400 seconds");
			break;
		case 'h': cli_control_usage(stdout); return 0;
		case ':': return usage("stop", "--timeout needs a value");
		default: return usage("stop", "unknown option");
		}
	}
	char dir[RT_DIR_MAX];
	struct rt_entry en;
	struct cli_reply rep;
	if (one_id("stop", argc, argv, dir, &en, &status))
		return status;
	if (!force) {
		struct skiff_err e = { { 0 } };
		char fm[600];
		/* A paused guest cannot react to the button: resume it first (a
		 * running VM answers 204 too; before InstanceStart 400: ignored). */
		if (!cli_http(en.sock, "PATCH", "/vm", "{\"state\": \"Resumed\"}", CTL_TIMEOUT_MS,
			      &rep, &e))
			free(rep.body);
		int r = cli_http(en.sock, "PUT", "/actions",
				 "{\"action_type\": \"skiff_power_button\"}", CTL_TIMEOUT_MS,
				 &rep, &e);
		if (r == -ECONNRESET && wait_exit(&en, timeout))
			goto stopped;	/* powered off before the answer was out */
		if (r) {
			fprintf(stderr, "skiff stop: VM %s: %s\n", en.id, e.msg);
			return 1;
		}
		if (rep.status == 204) {
			free(rep.body);
			rep.body = NULL;
			if (wait_exit(&en, timeout))
				goto stopped;
			fprintf(stderr, "skiff stop: VM %s did not power off within %g s; stopping "
				"it now\n", en.id, timeout);
		} else {
			fprintf(stderr, "skiff stop: VM %s: power button refused (%s); stopping it "
				"now\n", en.id, cli_reply_fault(&rep, fm, sizeof(fm)));
		}
		free(rep.body);
	}
	struct skiff_err e = { { 0 } };
	int r = cli_http(en.sock, "PUT", "/actions", "{\"action_type\": \"skiff_stop\"}",
			 CTL_TIMEOUT_MS, &rep, &e);
	/* The VMM may exit before its answer is out: then its process is gone. */
	bool gone = (r == -ECONNRESET || r == -ECONNREFUSED || r == -ENOENT) &&
		    wait_exit(&en, STOP_WAIT_S);
	if (gone)
		goto stopped;
	if (r)
		return fprintf(stderr, "skiff stop: VM %s: %s\n", en.id, e.msg), 1;
	if (rep.status != 204) {
		/* Not started yet (Firecracker mode): its process ends on SIGTERM. */
		free(rep.body);
		if (rt_entry_liveness(&en) == RT_ALIVE && kill(en.pid, SIGTERM))
			return fprintf(stderr, "skiff stop: VM %s: kill: %s\n", en.id,
				       strerror(errno)), 1;
	} else {
		free(rep.body);
	}
	if (!wait_exit(&en, STOP_WAIT_S))
		return fprintf(stderr, "skiff stop: VM %s (pid %d) has not exited after %d s\n",
			       en.id, (int)en.pid, STOP_WAIT_S), 1;
stopped:
	fprintf(stderr, "skiff stop: VM %s stopped\n", en.id);
	return 0;
}
