/* libFuzzer target: the Firecracker API's JSON bodies and config file
 * (src/api/api_json.c, api_model.c, api_config_file.c, api_convert.c,
 * api_export.c) — everything a client controls below the HTTP layer.
 *
 * Input: one selector byte (which endpoint's parser; with bit 7 set, the
 * rest is spliced into a good body for that endpoint at an offset given by
 * the second byte, replacing up to 7 bytes chosen by the third, so the
 * search starts inside valid JSON), then the body. A model
 * with a boot source, a drive and an interface is set up first. Checked: a
 * refused body leaves the model unchanged (its GET /vm/config JSON is the
 * same), every error has a message, and after an accepted body the model
 * converts to a skiff_config and its GET /vm/config JSON loads back as a
 * config file into an equal model.
 *
 * Build: make fuzz-build (clang); run: build/fuzz/fuzz_api_request -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "api/api_json.h"
#include "api/api_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A good body per selector (sel 13: actions). */
static const char *const good[14] = {
	"{\"kernel_image_path\": \"/dev/null\", \"initrd_path\": \"/dev/null\", \"boot_args\": \"a pci=off\"}",
	"{\"vcpu_count\": 2, \"mem_size_mib\": 64, \"smt\": true, \"cpu_template\": \"None\"}",
	"{\"mem_size_mib\": 64, \"track_dirty_pages\": false, \"huge_pages\": \"None\"}",
	"{\"drive_id\": \"rootfs\", \"path_on_host\": \"/dev/null\", \"is_root_device\": true, "
		"\"partuuid\": \"1-2\", \"io_engine\": \"Sync\", \"cache_type\": \"Unsafe\"}",
	"{\"drive_id\": \"data_1\", \"path_on_host\": \"/dev/null\", \"is_root_device\": false, "
		"\"rate_limiter\": {\"bandwidth\": {\"size\": 1, \"refill_time\": 2, \"one_time_burst\": 3}}}",
	"{\"drive_id\": \"rootfs\", \"path_on_host\": \"/dev/null\", \"rate_limiter\": "
		"{\"ops\": {\"size\": 1, \"refill_time\": 2}}}",
	"{\"iface_id\": \"eth1\", \"skiff_user_net\": true, \"skiff_hostfwd\": [\"tcp::80-:8080\"], "
		"\"guest_mac\": \"06:00:00:00:00:02\", \"rx_rate_limiter\": {}}",
	"{\"iface_id\": \"eth0\", \"tx_rate_limiter\": {\"ops\": {\"size\": 1, \"refill_time\": 2}}}",
	"{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\", \"vsock_id\": \"v\"}",
	"{\"rate_limiter\": null}",
	"{\"level\": \"Debug\", \"log_path\": \"/tmp/l\", \"show_level\": true, \"module\": \"m\"}",
	"{\"metrics_path\": \"/tmp/m\"}",
	"{\"boot-source\": {\"kernel_image_path\": \"/dev/null\"}, \"drives\": [{\"drive_id\": \"a\", "
		"\"path_on_host\": \"/dev/null\", \"is_root_device\": true, \"is_read_only\": true}], "
		"\"network-interfaces\": [{\"iface_id\": \"e\", \"host_dev_name\": \"t\"}], "
		"\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 32}, \"entropy\": {}}",
	"{\"action_type\": \"InstanceStart\"}",
};

static void seed(struct api_model *m)
{
	static const char seed0[] = "{\"kernel_image_path\": \"/dev/null\", \"boot_args\": \"x\"}";
	static const char seed1[] = "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/dev/null\", "
				    "\"is_root_device\": true, \"is_read_only\": true}";
	static const char seed2[] = "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
				    "\"guest_mac\": \"06:00:00:00:00:01\"}";
	static const char *const bodies[] = { seed0, seed1, seed2 };
	struct skiff_err e;
	for (int i = 0; i < 3; i++) {
		json_t *j;
		if (api_json_load(bodies[i], strlen(bodies[i]), "seed", &j, &e))
			abort();
		int r = i == 0 ? api_model_put_boot_source(m, j, &e)
			: i == 1 ? api_model_put_drive(m, "rootfs", j, &e)
			: api_model_put_net(m, "eth0", j, &e);
		json_decref(j);
		if (r)
			abort();
	}
}

static char *dump(const struct api_model *m)
{
	json_t *j = api_model_full_json(m);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!s)
		abort();
	return s;
}

static int apply(struct api_model *m, unsigned sel, const char *body, size_t len,
		 struct skiff_err *e)
{
	if (sel == 12)
		return api_model_load_config(m, body, len, e);
	json_t *j;
	int r = api_json_load(body, len, "fuzz", &j, e);
	if (r)
		return r;
	enum api_action a;
	switch (sel) {
	case 0: r = api_model_put_boot_source(m, j, e); break;
	case 1: r = api_model_put_machine_config(m, j, e); break;
	case 2: r = api_model_patch_machine_config(m, j, e); break;
	case 3: r = api_model_put_drive(m, "rootfs", j, e); break;
	case 4: r = api_model_put_drive(m, "data_1", j, e); break;
	case 5: r = api_model_patch_drive(m, "rootfs", j, true, e); break;
	case 6: r = api_model_put_net(m, "eth1", j, e); break;
	case 7: r = api_model_patch_net(m, "eth0", j, true, e); break;
	case 8: r = api_model_put_vsock(m, j, e); break;
	case 9: r = api_model_put_entropy(m, j, e); break;
	case 10: r = api_model_put_logger(m, j, e); break;
	default: r = sel == 11 ? api_model_put_metrics(m, j, e) : api_parse_action(j, &a, e); break;
	}
	json_decref(j);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	unsigned sel = (data[0] & 0x7f) % 14;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	char *spliced = NULL;
	if ((data[0] & 0x80) && size >= 3) {
		const char *g = good[sel];
		size_t glen = strlen(g), at = data[1] % (glen + 1), cut = data[2] % 8;
		if (at + cut > glen)
			cut = glen - at;
		len = glen - cut + (size - 3);
		if (!(spliced = malloc(len)))
			return 0;
		memcpy(spliced, g, at);
		memcpy(spliced + at, data + 3, size - 3);
		memcpy(spliced + at + (size - 3), g + at + cut, glen - at - cut);
		body = spliced;
	}
	struct api_model m;
	struct skiff_err e = { { 0 } };
	api_model_init(&m);
	if (sel != 12)
		seed(&m);
	char *before = dump(&m);
	int r = apply(&m, sel, body, len, &e);
	char *after = dump(&m);
	if (r) {
		if (!e.msg[0] || (sel != 12 && strcmp(before, after)))
			abort();	/* silent error, or a refused body changed the model */
	} else if (sel != 13) {
		struct skiff_config base;
		struct api_vm_config vc;
		skiff_config_default(&base);
		if (m.has_boot_source && api_model_to_config(&m, &base, &vc, &e) &&
		    !strstr(e.msg, "longer than"))
			abort();
		struct api_model m2;
		api_model_init(&m2);
		if (api_model_load_config(&m2, after, strlen(after), &e))
			abort();	/* GET /vm/config must load back */
		char *again = dump(&m2);
		if (strcmp(after, again))
			abort();
		free(again);
		api_model_free(&m2);
	}
	free(before);
	free(after);
	free(spliced);
	api_model_free(&m);
	return 0;
}
