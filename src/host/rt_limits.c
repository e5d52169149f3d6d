/* Host-wide limits on started VMs and their guest memory (runtime.h). */
#include "host/runtime.h"
#include "api/api_json.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LIMITS_NAME	".limits.json"
#define LIMITS_FILE_MAX	4096

char *rt_limits_format(const struct rt_limits *l)
{
	json_t *j = json_pack("{sIsI}", "max_vms", (json_int_t)l->max_vms, "max_mem_mib",
			      (json_int_t)l->max_mem_mib);
	if (!j)
		return NULL;
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

int rt_limits_parse(const char *buf, size_t len, struct rt_limits *l, struct skiff_err *e)
{
	static const char *const fields[] = { "max_vms", "max_mem_mib", NULL };
	json_t *j;
	uint64_t vms = 0, mem = 0;
	int r = api_json_load(buf, len, "limits", &j, e);
	if (r)
		return r;
	if (!(r = api_json_check_object(j, "limits", fields, e)) &&
	    !(r = api_json_u64(j, "limits", "max_vms", false, UINT32_MAX, &vms, NULL, e)) &&
	    !(r = api_json_u64(j, "limits", "max_mem_mib", false, INT64_MAX, &mem, NULL, e))) {
		l->max_vms = (uint32_t)vms;
		l->max_mem_mib = mem;
	}
	json_decref(j);
	return r;
}

int rt_limits_read(const char *dir, struct rt_limits *l, struct skiff_err *e)
{
	char path[RT_DIR_MAX + 16], buf[LIMITS_FILE_MAX + 1];
	snprintf(path, sizeof(path), "%s/" LIMITS_NAME, dir);
	memset(l, 0, sizeof(*l));
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return skiff_fail(e, errno, "%s: %s", path, strerror(errno));
	}
	ssize_t n = read(fd, buf, sizeof(buf));
	int err = errno;
	close(fd);
	if (n < 0)
		return skiff_fail(e, err, "%s: %s", path, strerror(err));
	if (n > LIMITS_FILE_MAX)
		return skiff_fail(e, EFBIG, "%s: larger than %d bytes", path, LIMITS_FILE_MAX);
	struct skiff_err pe = { { 0 } };
	int r = rt_limits_parse(buf, (size_t)n, l, &pe);
	if (r)
		return skiff_fail(e, -r, "%s: %s", path, pe.msg);
	return 0;
}

int rt_limits_write(const char *dir, const struct rt_limits *l, struct skiff_err *e)
{
	if (!l->max_vms && !l->max_mem_mib) {
		char path[RT_DIR_MAX + 16];
		snprintf(path, sizeof(path), "%s/" LIMITS_NAME, dir);
		if (unlink(path) && errno != ENOENT)
			return skiff_fail(e, errno, "%s: %s", path, strerror(errno));
		return 0;
	}
	char *text = rt_limits_format(l);
	if (!text)
		return skiff_fail(e, ENOMEM, "limits: out of memory");
	int r = rt_write_atomic(dir, LIMITS_NAME, text, strlen(text), e);
	free(text);
	return r;
}

int rt_limits_check(const struct rt_limits *l, uint32_t nvms, uint64_t mem_used,
		    uint64_t mem_new, struct skiff_err *e)
{
	if (l->max_vms && nvms >= l->max_vms)
		return skiff_fail(e, EDQUOT, "host limit: %u VM%s running, --max-vms is %u "
				  "(skiff limits)", nvms, nvms == 1 ? "" : "s", l->max_vms);
	if (l->max_mem_mib && (mem_new > l->max_mem_mib || mem_used > l->max_mem_mib - mem_new))
		return skiff_fail(e, EDQUOT, "host limit: %u VM%s use %" PRIu64 " MiB of guest "
				  "memory, this one wants %" PRIu64 " MiB, --max-mem-mib is %"
				  PRIu64 " (skiff limits)", nvms, nvms == 1 ? "" : "s", mem_used,
				  mem_new, l->max_mem_mib);
	return 0;
}
