/* The runtime directory itself: where it is, creating and checking it,
 * atomic file writes and the host lock (see runtime.h). */
#include "host/runtime.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

bool rt_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > RT_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

int rt_dir_choose(const char *skiff_env, const char *xdg_env, uid_t uid, char *out,
		  size_t len)
{
	int n;
	if (skiff_env && *skiff_env)
		n = snprintf(out, len, "%s", skiff_env);
	else if (uid == 0)
		n = snprintf(out, len, "/run/skiff");
	else if (xdg_env && *xdg_env)
		n = snprintf(out, len, "%s/skiff", xdg_env);
	else
		n = snprintf(out, len, "/tmp/skiff-%u", (unsigned)uid);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int rt_dir_open(char *out, struct skiff_err *e)
{
	uid_t uid = geteuid();
	if (rt_dir_choose(getenv("SKIFF_RUNTIME_DIR"), getenv("XDG_RUNTIME_DIR"), uid, out,
			  RT_DIR_MAX))
		return skiff_fail(e, ENAMETOOLONG, "runtime directory: the path is longer "
				  "than %d bytes", RT_DIR_MAX - 1);
	if (out[0] != '/')
		return skiff_fail(e, EINVAL, "runtime directory `%s`: must be an absolute path",
				  out);
	if (mkdir(out, 0700) && errno != EEXIST)
		return skiff_fail(e, errno, "runtime directory %s: cannot create it: %s", out,
				  strerror(errno));
	struct stat st;
	if (lstat(out, &st))
		return skiff_fail(e, errno, "runtime directory %s: %s", out, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return skiff_fail(e, ENOTDIR, "runtime directory %s: not a directory", out);
	if (st.st_uid != uid)
		return skiff_fail(e, EPERM, "runtime directory %s: owned by uid %u, not by you "
				  "(uid %u); set SKIFF_RUNTIME_DIR", out, (unsigned)st.st_uid,
				  (unsigned)uid);
	if (st.st_mode & 077)
		return skiff_fail(e, EPERM, "runtime directory %s: mode %03o lets others in "
				  "(chmod 700 it)", out, (unsigned)(st.st_mode & 0777));
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int rt_write_atomic(const char *dir, const char *name, const void *data, size_t len,
		    struct skiff_err *e)
{
	char tmp[RT_DIR_MAX + RT_ID_MAX + 64], dst[RT_DIR_MAX + RT_ID_MAX + 32];
	int n1 = snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%d", dir, name, (int)getpid());
	int n2 = snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(tmp) || (size_t)n2 >= sizeof(dst))
		return skiff_fail(e, ENAMETOOLONG, "%s/%s: path too long", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return skiff_fail(e, errno, "%s: %s", tmp, strerror(errno));
	int r = write_all(fd, data, len);
	if (!r && fsync(fd))
		r = -errno;
	if (close(fd) && !r)
		r = -errno;
	if (!r && rename(tmp, dst))
		r = -errno;
	if (r) {
		unlink(tmp);
		return skiff_fail(e, -r, "%s: cannot write it: %s", dst, strerror(-r));
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);	/* the rename itself durable; best effort */
		close(dfd);
	}
	return 0;
}

int rt_lock(const char *dir, struct skiff_err *e)
{
	char path[RT_DIR_MAX + 16];
	snprintf(path, sizeof(path), "%s/.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return skiff_fail(e, errno, "%s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX)) {
		if (errno == EINTR)
			continue;
		int err = errno;
		close(fd);
		return skiff_fail(e, err, "%s: flock: %s", path, strerror(err));
	}
	return fd;
}

void rt_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* releases the flock */
}
