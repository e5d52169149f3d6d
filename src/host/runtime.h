/* The host's runtime directory: one entry per VM, host-wide limits, and the
 * lock that makes "check the limits, then add my entry" atomic between VMs
 * starting together (docs/management.md).
 *
 *   DIR/ID.json     a VM's entry (struct rt_entry), written atomically
 *   DIR/ID.sock     its API socket, when it has no --api-sock of its own
 *   DIR/.limits.json  host-wide limits (struct rt_limits), written atomically
 *   DIR/.lock       flock(2)ed while entries are checked and written
 *
 * Ids are [A-Za-z0-9_-]{1,64}, so they never clash with the dot files.
 * Errors are negative errnos with the problem in *e. */
#ifndef SKIFF_HOST_RUNTIME_H
#define SKIFF_HOST_RUNTIME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "core/err.h"

#define RT_ID_MAX	64	/* bytes of an id, without the NUL */
#define RT_PATH_MAX	108	/* sun_path: a socket path must fit */
#define RT_DIR_MAX	256	/* bytes of the runtime directory path */

/* true when id is 1..RT_ID_MAX characters of [A-Za-z0-9_-]. */
bool rt_id_valid(const char *id);

/* Which runtime directory to use: `skiff_env` ($SKIFF_RUNTIME_DIR) when set
 * and non-empty; /run/skiff for uid 0; `xdg_env`/skiff ($XDG_RUNTIME_DIR)
 * when set; else /tmp/skiff-UID. Pure (no file system access). -ENAMETOOLONG
 * when the result does not fit in len bytes. */
int rt_dir_choose(const char *skiff_env, const char *xdg_env, uid_t uid, char *out,
		  size_t len);

/* rt_dir_choose from the process's environment and effective uid, then
 * create the directory (mode 0700) if missing and check that it is a
 * directory owned by this user and closed to others (-EPERM otherwise).
 * out: RT_DIR_MAX bytes. */
int rt_dir_open(char *out, struct skiff_err *e);

/* Write len bytes as DIR/NAME atomically: a temporary file in DIR, fsync,
 * rename over NAME, fsync of DIR. Mode 0600. */
int rt_write_atomic(const char *dir, const char *name, const void *data, size_t len,
		    struct skiff_err *e);

/* Take the host lock (flock LOCK_EX on DIR/.lock, created if missing).
 * Returns the lock's fd (give it to rt_unlock) or a negative errno. */
int rt_lock(const char *dir, struct skiff_err *e);
void rt_unlock(int fd);

/* ---- entries (rt_entry.c) */

/* One VM's entry. Strings are NUL-terminated in place. */
struct rt_entry {
	char id[RT_ID_MAX + 1];
	pid_t pid;			/* the VMM process */
	uint64_t start_time;		/* its start, clock ticks after boot (/proc/PID/stat
					 * field 22): a reused pid has another */
	char sock[RT_PATH_MAX];		/* the API socket (absolute path) */
	uint32_t vcpus;			/* 0 until the VM is started */
	uint64_t mem_mib;		/* guest RAM, MiB; 0 until started */
	int64_t created;		/* realtime seconds when the entry was first written */
	int64_t started;		/* realtime seconds when the VM started; 0: not yet */
};

/* The start time of process `pid` (field 22 of /proc/PID/stat) into *out.
 * -ESRCH when there is no such process or it is a zombie. */
int rt_proc_start_time(pid_t pid, uint64_t *out);

/* JSON text of an entry (malloc'd, NUL-terminated; NULL when out of memory)
 * and its strict parser (unknown or missing fields, bad ids, relative socket
 * paths are refused: -EINVAL). */
char *rt_entry_format(const struct rt_entry *en);
int rt_entry_parse(const char *buf, size_t len, struct rt_entry *en, struct skiff_err *e);

/* DIR/ID.json: write atomically, read (-ENOENT when absent), remove. */
int rt_entry_write(const char *dir, const struct rt_entry *en, struct skiff_err *e);
int rt_entry_read(const char *dir, const char *id, struct rt_entry *en, struct skiff_err *e);
/* Remove the entry and, when its socket is DIR/ID.sock, that socket too. */
void rt_entry_remove(const char *dir, const struct rt_entry *en);

enum rt_liveness {
	RT_ALIVE,		/* the process that wrote the entry still runs */
	RT_DEAD,		/* no process with that pid (or a zombie) */
	RT_REUSED,		/* the pid now belongs to another process */
};
/* Whether the entry's process still runs (by pid and start time). */
enum rt_liveness rt_entry_liveness(const struct rt_entry *en);
const char *rt_liveness_text(enum rt_liveness l);

/* All readable entries in DIR into a malloc'd array (*out, *n; free()).
 * Unreadable ones are skipped, each reported through warn (may be NULL). */
int rt_scan(const char *dir, struct rt_entry **out, size_t *n,
	    void (*warn)(void *ctx, const char *msg), void *ctx, struct skiff_err *e);

/* ---- limits (rt_limits.c) */

/* Host-wide limits; 0 means none. */
struct rt_limits {
	uint32_t max_vms;	/* started VMs */
	uint64_t max_mem_mib;	/* their guest RAM in all, MiB */
};

char *rt_limits_format(const struct rt_limits *l);	/* malloc'd JSON; NULL: ENOMEM */
int rt_limits_parse(const char *buf, size_t len, struct rt_limits *l, struct skiff_err *e);
/* DIR/.limits.json: read (no file: no limits), write atomically (no limits
 * at all: the file is removed). */
int rt_limits_read(const char *dir, struct rt_limits *l, struct skiff_err *e);
int rt_limits_write(const char *dir, const struct rt_limits *l, struct skiff_err *e);
/* Would a VM of mem_new MiB fit next to nvms started VMs using mem_used MiB?
 * 0, or -EDQUOT with "host limit: ..." in *e. */
int rt_limits_check(const struct rt_limits *l, uint32_t nvms, uint64_t mem_used,
		    uint64_t mem_new, struct skiff_err *e);

/* ---- admission (rt_admit.c) */

/* Call with the host lock held, before writing `want`: removes the entries
 * of dead VMs (reported through warn, may be NULL), refuses want->id when a
 * live VM other than want's process holds it (-EEXIST), and when
 * want->started, checks the limits against the other live started VMs
 * (-EDQUOT). */
int rt_admit(const char *dir, const struct rt_entry *want,
	     void (*warn)(void *ctx, const char *msg), void *ctx, struct skiff_err *e);

/* Remove DIR/ID.json under the host lock if it is still `seen` (same pid,
 * start time and creation time): for an entry found stale without the lock,
 * and for a VM leaving. 0, or -ESTALE when it changed meanwhile. */
int rt_remove_if_same(const char *dir, const struct rt_entry *seen, struct skiff_err *e);

#endif
