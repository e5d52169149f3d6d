/* Admission of a VM into the runtime directory, under the host lock:
 * stale entries out, id clashes and host limits refused (runtime.h). */
#include "host/runtime.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool same_process(const struct rt_entry *a, const struct rt_entry *b)
{
	return a->pid == b->pid && a->start_time == b->start_time;
}

int rt_admit(const char *dir, const struct rt_entry *want,
	     void (*warn)(void *ctx, const char *msg), void *ctx, struct skiff_err *e)
{
	struct rt_limits lim;
	int r = rt_limits_read(dir, &lim, e);
	if (r)
		return r;
	struct rt_entry *v;
	size_t n;
	if ((r = rt_scan(dir, &v, &n, warn, ctx, e)))
		return r;
	uint32_t nvms = 0;
	uint64_t mem = 0;
	for (size_t i = 0; i < n && !r; i++) {
		const struct rt_entry *o = &v[i];
		if (same_process(o, want))
			continue;	/* our own earlier entry (before InstanceStart) */
		enum rt_liveness l = rt_entry_liveness(o);
		if (l != RT_ALIVE) {
			if (warn) {
				char msg[256];
				snprintf(msg, sizeof(msg), "removed the stale entry of VM %s "
					 "(pid %d): %s", o->id, (int)o->pid, rt_liveness_text(l));
				warn(ctx, msg);
			}
			rt_entry_remove(dir, o);
			continue;
		}
		if (!strcmp(o->id, want->id))
			r = skiff_fail(e, EEXIST, "the VM id `%s` is in use by pid %d (skiff list; "
				       "choose another id)", o->id, (int)o->pid);
		if (o->started) {
			nvms++;
			mem += o->mem_mib;
		}
	}
	free(v);
	if (!r && want->started)
		r = rt_limits_check(&lim, nvms, mem, want->mem_mib, e);
	return r;
}

int rt_remove_if_same(const char *dir, const struct rt_entry *seen, struct skiff_err *e)
{
	int fd = rt_lock(dir, e);
	if (fd < 0)
		return fd;
	struct rt_entry now;
	struct skiff_err re = { { 0 } };
	int r = rt_entry_read(dir, seen->id, &now, &re);
	if (r == -ENOENT)
		r = 0;	/* already gone */
	else if (!r && (!same_process(&now, seen) || now.created != seen->created))
		r = skiff_fail(e, ESTALE, "the entry of VM %s changed meanwhile", seen->id);
	else if (!r)
		rt_entry_remove(dir, &now);
	else
		r = skiff_fail(e, -r, "%s", re.msg);
	rt_unlock(fd);
	return r;
}
