/* Strict readers for JSON request bodies (jansson), shared by every API body
 * parser and the config file. Each reader names the bad field in its error:
 * "CTX.FIELD: what is wrong", CTX being the body's place ("machine-config",
 * "drives/rootfs.rate_limiter.bandwidth"). All return 0, or -EINVAL with the
 * message in *e. Strings returned through `char **` are strdup'ed and owned by
 * the caller (an earlier value there is freed). */
#ifndef SKIFF_API_JSON_H
#define SKIFF_API_JSON_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

/* Parse `len` bytes as one JSON object (no trailing data, no duplicate
 * keys, no NUL in strings). `what` names the body in errors. */
int api_json_load(const char *buf, size_t len, const char *what, json_t **out,
		  struct skiff_err *e);

/* `j` must be an object whose keys are all in `allowed` (NULL-terminated). */
int api_json_check_object(const json_t *j, const char *ctx, const char *const *allowed,
			  struct skiff_err *e);

/* Field readers: *present says whether the field was there (may be NULL when
 * `required`, which makes a missing field an error). JSON null counts as
 * absent. Integers must be non-negative and <= max. */
int api_json_str(const json_t *obj, const char *ctx, const char *name, bool required,
		 char **out, bool *present, struct skiff_err *e);
int api_json_bool(const json_t *obj, const char *ctx, const char *name, bool required,
		  bool *out, bool *present, struct skiff_err *e);
int api_json_u64(const json_t *obj, const char *ctx, const char *name, bool required,
		 uint64_t max, uint64_t *out, bool *present, struct skiff_err *e);

/* Replace *dst by a copy of src (NULL allowed); -ENOMEM on failure. */
int api_strset(char **dst, const char *src);

#endif
