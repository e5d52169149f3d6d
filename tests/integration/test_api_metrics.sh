#!/usr/bin/env bash
# Firecracker's logger and metrics over a real API socket: PUT /logger to a
# FIFO (read by cat) and to a file, PUT /metrics to a file, the blk guest
# reading 16 x 4 KiB from its disk, FlushMetrics while it lingers, and the
# flush at exit. Checks: the log lines' shape (timestamp, instance id,
# level, origin), the metrics lines are JSON with exits by reason, the
# disk's read bytes equal to what the guest read, vCPU time; the refusals
# (bad paths name the field, FlushMetrics without metrics); the CLI flags;
# and FIFOs nobody reads do not stop a VM.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest blk exitcode
command -v curl >/dev/null || it_skip "curl is not installed"
command -v python3 >/dev/null || it_skip "python3 is not installed"

sock=$IT_TMP/api.sock
disk=$IT_TMP/disk.img
truncate -s 1M "$disk"
mkfifo "$IT_TMP/log.fifo"
cat "$IT_TMP/log.fifo" >"$IT_TMP/fifo.out" &
catpid=$!

t0=$EPOCHREALTIME
it_api_launch

flush='{"action_type": "FlushMetrics"}'

# Refusals: bad paths name the field; FlushMetrics needs PUT /metrics.
it_expect_api 400 "not initialized" PUT /actions "$flush"
it_expect_api 400 "logger.log_path" PUT /logger "{\"log_path\": \"$IT_TMP/no/such/dir/log\"}"
it_expect_api 400 "logger.log_path" PUT /logger "{\"log_path\": \"$IT_TMP\"}"
it_expect_api 400 "metrics.metrics_path" PUT /metrics "{\"metrics_path\": \"$IT_TMP/no/such/m\"}"
it_expect_api 400 "metrics.metrics_path" PUT /metrics "{\"metrics_path\": \"$IT_TMP\"}"
it_expect_api 400 "not initialized" PUT /actions "$flush"

# The FIFO first (replaced below: the later PUT wins), then a file.
it_expect_api 204 PUT /logger "{\"log_path\": \"$IT_TMP/log.fifo\", \"level\": \"Info\", \"show_level\": true}"
it_expect_api 204 PUT /logger "{\"log_path\": \"$IT_TMP/log.txt\", \"level\": \"Debug\", \"show_level\": true, \"show_log_origin\": true}"
it_expect_api 204 PUT /metrics "{\"metrics_path\": \"$IT_TMP/metrics.json\"}"
it_expect_api 400 "already initialized" PUT /metrics "{\"metrics_path\": \"$IT_TMP/m2.json\"}"
it_expect_api 204 PUT /actions "$flush"
it_expect_api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/blk.elf\", \"boot_args\": \"bench=seq n=16 bs=4096 linger=3000\"}"
it_expect_api 204 PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$disk\", \"is_root_device\": false, \"is_read_only\": true}"
it_expect_api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
it_expect_api 204 PUT /actions '{"action_type": "InstanceStart"}'
# While the guest lingers after its reads: a flush with them in it.
for _ in $(seq 600); do grep -q '^blkbench: seq ops' "$OUT" && break; sleep 0.1; done
grep -q '^blkbench: seq ops 16 bytes 65536' "$OUT" || it_fail "the blk guest did not report its reads"
it_expect_api 204 PUT /actions "$flush"
cp "$IT_TMP/metrics.json" "$IT_TMP/metrics.mid"
it_expect_api 400 "after starting" PUT /logger "{\"log_path\": \"$IT_TMP/log2.txt\"}"
wait "$pid"
RC=$?
SECS=$(it_secs "$t0" "$EPOCHREALTIME")
it_expect_rc 42 "the blk guest under the API"
kill "$catpid" 2>/dev/null
wait "$catpid" 2>/dev/null

# metrics: JSON lines; the flush during the linger has the guest's 64 KiB;
# the lines' deltas add up (the exit flush adds no reads).
python3 - "$IT_TMP/metrics.json" "$IT_TMP/metrics.mid" <<'PY' || it_fail "metrics check"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
mid = [json.loads(l) for l in open(sys.argv[2])]
def check(cond, what):
    if not cond:
        print("metrics:", what); print(json.dumps(lines, indent=1)[:3000]); sys.exit(1)
check(len(lines) == 3 and len(mid) == 2, f"{len(lines)} lines (pre-boot, mid-run, exit expected)")
ts = [l["utc_timestamp_ms"] for l in lines]
check(ts == sorted(ts) and ts[0] > 1.7e12, f"timestamps {ts}")
check("block_data" not in lines[0] and lines[0]["vcpu"]["cpu_time_us_total"] == 0, "pre-boot flush not empty")
m = mid[1]
check(m["block_data"]["read_bytes"] == 65536, f"read_bytes {m['block_data']['read_bytes']}")
check(m["block_data"]["read_count"] == 16 and m["block_data"]["write_bytes"] == 0, "read_count/write_bytes")
check(m["block"]["read_bytes"] == 65536, "aggregate block")
v = m["vcpu"]
check(v["exit_io_out"] > 0 and v["exit_io_in"] > 0, f"port-I/O exits {v}")
check(v["exit_mmio_write"] > 0 and v["exit_mmio_read"] > 0, f"MMIO exits {v}")
check(v["failures"] == 0, "failures")
check(len(v["cpu_time_us"]) == 1 and v["cpu_time_us"][0] > 0, f"cpu_time_us {v['cpu_time_us']}")
total = sum(l.get("block_data", {}).get("read_bytes", 0) for l in lines)
check(total == 65536, f"read_bytes over all flushes {total}")
check(lines[2]["vcpu"]["exit_io_out"] >= 1, "the exit flush lacks the debug-exit write")
check(lines[2]["logger"]["missed_log_count"] == 0, "missed log lines")
PY

# log: the file has Firecracker's shape with level and origin; the FIFO got
# the lines logged before it was replaced.
re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9} \[anonymous-instance:[^]:]+:(ERROR|WARN|INFO|DEBUG|TRACE):src/[a-z_/]+\.c:[0-9]+\] '
bad=$(grep -cvE "$re" "$IT_TMP/log.txt")
[ "$bad" = 0 ] || it_fail "$bad log line(s) not in Firecracker's format: $(grep -vE "$re" "$IT_TMP/log.txt" | head -3)"
grep -qE ':INFO:src/api/api_vmm.c:[0-9]+\] InstanceStart' "$IT_TMP/log.txt" || it_fail "no InstanceStart line in the log"
grep -qE ':DEBUG:src/dev/debugport.c:[0-9]+\] debug exit' "$IT_TMP/log.txt" || it_fail "no debug line from the vCPU"
grep -qE '\[anonymous-instance:skiff-vcpu0:' "$IT_TMP/log.txt" || it_fail "no line from the vCPU thread"
grep -qE '^[0-9-]{10}T[0-9:.]{18} \[anonymous-instance:[^]:]+:INFO\] Running skiff' "$IT_TMP/fifo.out" ||
	it_fail "the FIFO did not get the first logger's line: $(head -3 "$IT_TMP/fifo.out")"

# Firecracker's CLI flags, with a config file and no API.
cat >"$IT_TMP/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$GUESTS/exitcode.elf", "boot_args": "code=9"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 32}}
JSON
it_run --no-api --config-file "$IT_TMP/vm.json" --id vm-cli --log-path "$IT_TMP/cli.log" \
	--level Info --show-level --metrics-path "$IT_TMP/cli.json"
it_expect_rc 9 "--log-path and --metrics-path"
grep -qE '^[0-9-]{10}T[0-9:.]{18} \[vm-cli:[^]:]+:INFO\] InstanceStart' "$IT_TMP/cli.log" ||
	it_fail "--log-path: $(head -3 "$IT_TMP/cli.log")"
python3 -c 'import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; sys.exit(not (len(l) == 1 and l[0]["vcpu"]["exit_io_out"] >= 1))' \
	"$IT_TMP/cli.json" || it_fail "--metrics-path: $(cat "$IT_TMP/cli.json")"
it_run --no-api --config-file "$IT_TMP/vm.json" --log-path "$IT_TMP"
it_expect_rc 1 "--log-path to a directory"
it_expect_err_re 'logger\.log_path' "--log-path to a directory"

# skiff run --log PATH --metrics PATH.
it_guest exitcode -p "code=9" --log "$IT_TMP/run.log" --metrics "$IT_TMP/run.json"
it_expect_rc 9 "skiff run --log --metrics"
grep -qE '^[0-9-]{10}T[0-9:.]{18} \[anonymous-instance:[^]:]+:DEBUG\] debug exit' "$IT_TMP/run.log" &&
	it_fail "skiff run --log: a debug line at the default level"
python3 -c 'import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; sys.exit(not (len(l) == 1 and l[0]["vcpu"]["exit_io_out"] >= 1))' \
	"$IT_TMP/run.json" || it_fail "skiff run --metrics: $(cat "$IT_TMP/run.json")"
it_guest exitcode -p "code=9" --log-level debug --log "$IT_TMP/run2.log"
grep -qE '^[0-9-]{10}T[0-9:.]{18} \[anonymous-instance:[^]:]+:DEBUG\] debug exit' "$IT_TMP/run2.log" ||
	it_fail "skiff run --log with --log-level debug: $(head -3 "$IT_TMP/run2.log")"

# FIFOs nobody reads: opened at once, a full one loses lines, the VM runs on.
mkfifo "$IT_TMP/nobody.fifo" "$IT_TMP/nobody-m.fifo"
it_run --no-api --config-file "$IT_TMP/vm.json" --log-path "$IT_TMP/nobody.fifo" --level Trace \
	--metrics-path "$IT_TMP/nobody-m.fifo"
it_expect_rc 9 "FIFOs without a reader"
it_done
