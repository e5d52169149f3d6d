/* A VM's entry in the runtime directory: JSON text, files, liveness. */
#include "host/runtime.h"
#include "api/api_json.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RT_FILE_MAX	4096	/* bytes of an entry or limits file */

int rt_proc_start_time(pid_t pid, uint64_t *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	/* "pid (comm) state ppid ...": comm may hold spaces and ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EINVAL;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return -ESRCH;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
		p++;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || end == p)
		return -EINVAL;
	*out = v;
	return 0;
}

char *rt_entry_format(const struct rt_entry *en)
{
	json_t *j = json_pack("{ss sI sI ss sI sI sI sI}", "id", en->id,
			      "pid", (json_int_t)en->pid,
			      "start_time", (json_int_t)en->start_time,
			      "socket", en->sock,
			      "vcpus", (json_int_t)en->vcpus,
			      "mem_mib", (json_int_t)en->mem_mib,
			      "created", (json_int_t)en->created,
			      "started", (json_int_t)en->started);
	if (!j)
		return NULL;
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

int rt_entry_parse(const char *buf, size_t len, struct rt_entry *en, struct skiff_err *e)
{
	static const char *const fields[] = { "id", "pid", "start_time", "socket", "vcpus",
					      "mem_mib", "created", "started", NULL };
	json_t *j;
	char *id = NULL, *sock = NULL;
	uint64_t pid, st, vcpus, mem, created, started;
	int r = api_json_load(buf, len, "entry", &j, e);
	if (r)
		return r;
	if ((r = api_json_check_object(j, "entry", fields, e)) ||
	    (r = api_json_str(j, "entry", "id", true, &id, NULL, e)) ||
	    (r = api_json_u64(j, "entry", "pid", true, INT32_MAX, &pid, NULL, e)) ||
	    (r = api_json_u64(j, "entry", "start_time", true, UINT64_MAX, &st, NULL, e)) ||
	    (r = api_json_str(j, "entry", "socket", true, &sock, NULL, e)) ||
	    (r = api_json_u64(j, "entry", "vcpus", true, UINT32_MAX, &vcpus, NULL, e)) ||
	    (r = api_json_u64(j, "entry", "mem_mib", true, UINT64_MAX, &mem, NULL, e)) ||
	    (r = api_json_u64(j, "entry", "created", true, INT64_MAX, &created, NULL, e)) ||
	    (r = api_json_u64(j, "entry", "started", true, INT64_MAX, &started, NULL, e)))
		goto out;
	if (!rt_id_valid(id)) {
		r = skiff_fail(e, EINVAL, "entry.id: `%.80s` is not 1..%d of [A-Za-z0-9_-]", id,
			       RT_ID_MAX);
		goto out;
	}
	if (sock[0] != '/' || strlen(sock) >= RT_PATH_MAX || pid == 0) {
		r = skiff_fail(e, EINVAL, "entry: bad socket path or pid");
		goto out;
	}
	memset(en, 0, sizeof(*en));
	strcpy(en->id, id);
	strcpy(en->sock, sock);
	en->pid = (pid_t)pid;
	en->start_time = st;
	en->vcpus = (uint32_t)vcpus;
	en->mem_mib = mem;
	en->created = (int64_t)created;
	en->started = (int64_t)started;
out:
	free(id);
	free(sock);
	json_decref(j);
	return r;
}

int rt_entry_write(const char *dir, const struct rt_entry *en, struct skiff_err *e)
{
	char name[RT_ID_MAX + 8];
	snprintf(name, sizeof(name), "%s.json", en->id);
	char *text = rt_entry_format(en);
	if (!text)
		return skiff_fail(e, ENOMEM, "runtime entry: out of memory");
	int r = rt_write_atomic(dir, name, text, strlen(text), e);
	free(text);
	return r;
}

/* Read a small file whole; -ENOENT when absent, -EFBIG over RT_FILE_MAX. */
static int read_small(const char *path, char *buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, RT_FILE_MAX + 1);
	int err = errno;
	close(fd);
	if (n < 0)
		return -err;
	if (n > RT_FILE_MAX)
		return -EFBIG;
	*len = (size_t)n;
	return 0;
}

int rt_entry_read(const char *dir, const char *id, struct rt_entry *en, struct skiff_err *e)
{
	char path[RT_DIR_MAX + RT_ID_MAX + 8], buf[RT_FILE_MAX + 1];
	size_t len = 0;
	if (!rt_id_valid(id))
		return skiff_fail(e, EINVAL, "`%.80s` is not a VM id (1..%d of [A-Za-z0-9_-])",
				  id, RT_ID_MAX);
	snprintf(path, sizeof(path), "%s/%s.json", dir, id);
	int r = read_small(path, buf, &len);
	if (r)
		return skiff_fail(e, -r, "%s: %s", path, strerror(-r));
	struct skiff_err pe = { { 0 } };
	if ((r = rt_entry_parse(buf, len, en, &pe)))
		return skiff_fail(e, -r, "%s: %s", path, pe.msg);
	if (strcmp(en->id, id))
		return skiff_fail(e, EINVAL, "%s: holds the id `%s`", path, en->id);
	return 0;
}

void rt_entry_remove(const char *dir, const struct rt_entry *en)
{
	char path[RT_DIR_MAX + RT_ID_MAX + 8];
	snprintf(path, sizeof(path), "%s/%s.sock", dir, en->id);
	if (!strcmp(path, en->sock))
		unlink(path);
	snprintf(path, sizeof(path), "%s/%s.json", dir, en->id);
	unlink(path);
}

enum rt_liveness rt_entry_liveness(const struct rt_entry *en)
{
	uint64_t st;
	if (rt_proc_start_time(en->pid, &st))
		return RT_DEAD;
	return st == en->start_time ? RT_ALIVE : RT_REUSED;
}

const char *rt_liveness_text(enum rt_liveness l)
{
	switch (l) {
	case RT_ALIVE: return "running";
	case RT_DEAD: return "its process is gone";
	default: return "its pid now belongs to another process";
	}
}

int rt_scan(const char *dir, struct rt_entry **out, size_t *n,
	    void (*warn)(void *ctx, const char *msg), void *ctx, struct skiff_err *e)
{
	DIR *d = opendir(dir);
	if (!d)
		return skiff_fail(e, errno, "runtime directory %s: %s", dir, strerror(errno));
	struct rt_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char id[RT_ID_MAX + 1];
		if (len <= 5 || len - 5 > RT_ID_MAX || strcmp(de->d_name + len - 5, ".json"))
			continue;
		memcpy(id, de->d_name, len - 5);
		id[len - 5] = 0;
		if (!rt_id_valid(id))
			continue;
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct rt_entry *nv = realloc(v, nc * sizeof(*v));
			if (!nv) {
				r = skiff_fail(e, ENOMEM, "runtime directory: out of memory");
				break;
			}
			v = nv;
			cap = nc;
		}
		struct skiff_err re = { { 0 } };
		int rr = rt_entry_read(dir, id, &v[cnt], &re);
		if (!rr)
			cnt++;
		else if (rr != -ENOENT && warn)	/* ENOENT: removed meanwhile */
			warn(ctx, re.msg);
	}
	closedir(d);
	if (r) {
		free(v);
		return r;
	}
	*out = v;
	*n = cnt;
	return 0;
}
