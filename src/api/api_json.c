/* Strict JSON field readers for API bodies (see api_json.h). */
#include "api/api_json.h"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int api_strset(char **dst, const char *src)
{
	char *c = NULL;
	if (src && !(c = strdup(src)))
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

int api_json_load(const char *buf, size_t len, const char *what, json_t **out,
		  struct skiff_err *e)
{
	json_error_t je;
	*out = NULL;
	if (!buf || len == 0)
		return skiff_fail(e, EINVAL, "%s: the request needs a JSON body", what);
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return skiff_fail(e, EINVAL, "%s: invalid JSON at line %d column %d: %s",
				  what, je.line, je.column, je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return skiff_fail(e, EINVAL, "%s: the body must be a JSON object", what);
	}
	*out = j;
	return 0;
}

int api_json_check_object(const json_t *j, const char *ctx, const char *const *allowed,
			  struct skiff_err *e)
{
	if (!json_is_object(j))
		return skiff_fail(e, EINVAL, "%s: expected a JSON object", ctx);
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)j, key, v) {
		bool ok = false;
		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = strcmp(key, allowed[i]) == 0;
		if (ok)
			continue;
		char list[256] = "";
		size_t n = 0;
		for (size_t i = 0; allowed[i] && n < sizeof(list); i++)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
					      allowed[i]);
		return skiff_fail(e, EINVAL, "%s: unknown field `%.64s` (expected one of: %s)",
				  ctx, key, list);
	}
	return 0;
}

/* The field, or NULL when absent or null; a missing required field fails. */
static int field(const json_t *obj, const char *ctx, const char *name, bool required,
		 bool *present, json_t **out, struct skiff_err *e)
{
	json_t *v = json_object_get(obj, name);
	if (v && json_is_null(v))
		v = NULL;
	if (present)
		*present = v != NULL;
	*out = v;
	if (!v && required)
		return skiff_fail(e, EINVAL, "%s: missing required field `%s`", ctx, name);
	return 0;
}

int api_json_str(const json_t *obj, const char *ctx, const char *name, bool required,
		 char **out, bool *present, struct skiff_err *e)
{
	json_t *v;
	int r = field(obj, ctx, name, required, present, &v, e);
	if (r || !v)
		return r;
	if (!json_is_string(v))
		return skiff_fail(e, EINVAL, "%s.%s: expected a string", ctx, name);
	if (api_strset(out, json_string_value(v)))
		return skiff_fail(e, ENOMEM, "%s.%s: out of memory", ctx, name);
	return 0;
}

int api_json_bool(const json_t *obj, const char *ctx, const char *name, bool required,
		  bool *out, bool *present, struct skiff_err *e)
{
	json_t *v;
	int r = field(obj, ctx, name, required, present, &v, e);
	if (r || !v)
		return r;
	if (!json_is_boolean(v))
		return skiff_fail(e, EINVAL, "%s.%s: expected true or false", ctx, name);
	*out = json_is_true(v);
	return 0;
}

int api_json_u64(const json_t *obj, const char *ctx, const char *name, bool required,
		 uint64_t max, uint64_t *out, bool *present, struct skiff_err *e)
{
	json_t *v;
	int r = field(obj, ctx, name, required, present, &v, e);
	if (r || !v)
		return r;
	if (!json_is_integer(v))
		return skiff_fail(e, EINVAL, "%s.%s: expected an integer", ctx, name);
	json_int_t n = json_integer_value(v);
	if (n < 0 || (uint64_t)n > max)
		return skiff_fail(e, EINVAL, "%s.%s: %" JSON_INTEGER_FORMAT
				  " is out of range (0..%" PRIu64 ")", ctx, name, n, max);
	*out = (uint64_t)n;
	return 0;
}
