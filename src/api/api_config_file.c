/* Firecracker's --config-file (FullVmConfiguration JSON) into the API model,
 * through the same body parsers as the API calls (see api_model.h). */
#include "api/api_model.h"
#include "api/api_json.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define API_MAX_CONFIG_FILE (1024 * 1024)	/* bytes */

typedef int (*put_fn)(struct api_model *, const json_t *, struct skiff_err *);

/* One object-valued key (null or absent: skipped). */
static int load_one(struct api_model *m, const json_t *root, const char *key, put_fn fn,
		    struct skiff_err *e)
{
	json_t *v = json_object_get(root, key);
	if (!v || json_is_null(v))
		return 0;
	return fn(m, v, e);
}

/* An array of Drive or NetworkInterface objects. */
static int load_list(struct api_model *m, const json_t *root, const char *key, bool drives,
		     struct skiff_err *e)
{
	json_t *a = json_object_get(root, key);
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return skiff_fail(e, EINVAL, "%s: expected an array", key);
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) {
		int r = drives ? api_model_put_drive(m, NULL, v, e) : api_model_put_net(m, NULL, v, e);
		if (r) {
			char msg[sizeof(e->msg)];
			snprintf(msg, sizeof(msg), "%s", e->msg);
			return skiff_fail(e, -r, "%s[%zu]: %s", key, i, msg);
		}
	}
	return 0;
}

int api_model_load_config(struct api_model *m, const char *buf, size_t len, struct skiff_err *e)
{
	static const char *const keys[] = { "boot-source", "drives", "machine-config",
					    "network-interfaces", "vsock", "logger", "metrics",
					    "entropy", "balloon", "cpu-config", "mmds-config",
					    "memory-hotplug", "pmem", NULL };
	static const char *const unsupported[] = { "balloon", "cpu-config", "mmds-config",
						   "memory-hotplug", "pmem" };
	json_t *root;
	int r = api_json_load(buf, len, "config file", &root, e);
	if (r)
		return r;
	if ((r = api_json_check_object(root, "config file", keys, e)))
		goto out;
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		json_t *v = json_object_get(root, unsupported[i]);
		if (v && !json_is_null(v)) {
			r = skiff_fail(e, EINVAL, "%s: not supported by skiff yet", unsupported[i]);
			goto out;
		}
	}
	if ((r = load_one(m, root, "logger", api_model_put_logger, e)) ||
	    (r = load_one(m, root, "metrics", api_model_put_metrics, e)) ||
	    (r = load_one(m, root, "machine-config", api_model_put_machine_config, e)) ||
	    (r = load_one(m, root, "boot-source", api_model_put_boot_source, e)) ||
	    (r = load_list(m, root, "drives", true, e)) ||
	    (r = load_list(m, root, "network-interfaces", false, e)) ||
	    (r = load_one(m, root, "vsock", api_model_put_vsock, e)) ||
	    (r = load_one(m, root, "entropy", api_model_put_entropy, e)))
		goto out;
out:
	json_decref(root);
	return r;
}

int api_model_load_config_file(struct api_model *m, const char *path, struct skiff_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return skiff_fail(e, errno, "config file %s: %s", path, strerror(errno));
	struct stat st;
	char *buf = NULL;
	int r;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > API_MAX_CONFIG_FILE) {
		r = skiff_fail(e, EINVAL, "config file %s: not a regular file of at most %d bytes",
			       path, API_MAX_CONFIG_FILE);
		goto out;
	}
	size_t len = (size_t)st.st_size, got = 0;
	if (!(buf = malloc(len + 1))) {
		r = skiff_fail(e, ENOMEM, "config file %s: out of memory", path);
		goto out;
	}
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0) {
			r = skiff_fail(e, n ? errno : EIO, "config file %s: read error", path);
			goto out;
		}
		got += (size_t)n;
	}
	r = api_model_load_config(m, buf, len, e);
out:
	free(buf);
	close(fd);
	return r;
}
