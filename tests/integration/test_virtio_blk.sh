#!/usr/bin/env bash
# virtio-blk end to end (tests/guest/blk.c drives the device from CPL3):
# the host fills a raw image with a known pattern (seed 1); the guest reads
# sectors 0-7 and checks them, writes sectors 8-71 with its own pattern
# (seed 100) in requests of varied shapes (1-16 sectors, 1 or 3 data
# segments, direct and indirect descriptors), FLUSHes, reads them back; a
# read at or across the capacity gets IOERR, an unknown type UNSUPP;
# GET_ID returns the id= given. After skiff exits, the image file holds
# exactly the guest's sectors amid the host's. With both I/O engines, the
# default engine and O_DIRECT; a read-only disk (the write fails with
# IOERR, the file is unchanged); two disks at once (slots 1 and 2, ids kept
# apart); an image that is not a multiple of 4 KiB; configuration through
# 0xCF8; without EVENT_IDX.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest blk

sectors=2048	# a 1 MiB image
orig=$IT_TMP/orig.img
it_blk_pattern 0 $sectors 1 >"$orig"
it_need_virtio virtio-blk --disk "path=$orig,ro"
expected=$IT_TMP/expected.img
{
	it_blk_pattern 0 8 1
	it_blk_pattern 8 64 100
	it_blk_pattern 72 $((sectors - 72)) 1
} >"$expected"

# check_rw WHAT IMAGE SLOT [DISK]: the guest's lines for a read-write disk
# and the file afterwards.
check_rw() {
	local what=$1 image=$2 slot=$3 d=${4:-0}
	it_expect_out "blk$d: 00:$slot.0 capacity $sectors sectors"
	it_expect_out "blk$d: host pattern ok"
	it_expect_out "blk$d: pattern ok (64 sectors)"
	it_expect_out "blk$d: flush OK"
	it_expect_out "blk$d: ok"
	if ! cmp -s "$expected" "$image"; then
		it_fail "$what: the image differs from the expected pattern: $(cmp "$expected" "$image" 2>&1 | head -1)"
	fi
}

# the two engines, the default one, O_DIRECT (in build/, not on a tmpfs)
direct_img=
trap 'rm -rf "$IT_TMP" ${direct_img:+"$direct_img"}' EXIT
for engine in io_uring sync auto direct; do
	img=$IT_TMP/disk.img
	spec="path=$img,id=skiff-$engine"
	case $engine in
	auto) ;;
	direct)
		img=$(mktemp "$IT_TOP/build/blk-direct.XXXXXX.img")
		direct_img=$img
		spec="path=$img,id=skiff-$engine,direct" ;;
	*) spec="$spec,engine=$engine" ;;
	esac
	cp "$orig" "$img"
	it_guest blk --disk "$spec"
	if [ "$engine" = direct ] && [ "$RC" != 42 ] && grep -qiE 'direct|EINVAL|Invalid argument' "$ERR"; then
		echo "direct: O_DIRECT not usable here: $(grep -i error "$ERR" | head -1)"
		rm -f "$img"
		continue
	fi
	it_expect_rc 42 "engine $engine"
	it_expect_out "blk0: id skiff-$engine"
	it_expect_out "blk: 1 disk(s), all ok"
	check_rw "engine $engine" "$img" 01
	grep -q "FAIL" "$OUT" && it_fail "engine $engine: the guest reported failures"
	echo "engine $engine: ${SECS}s ($(grep -o 'image .*engine' "$ERR" | head -1))"
	[ "$engine" = direct ] && rm -f "$img"
done

# read-only: the write fails, the file stays as it was
ro=$IT_TMP/ro.img
cp "$orig" "$ro"
it_guest blk --disk "path=$ro,ro"
it_expect_rc 42 "read-only disk"
it_expect_out "blk0: 00:01.0 capacity $sectors sectors read-only"
it_expect_out "blk0: host pattern ok"
it_expect_out "blk0: read-only write IOERR"
it_expect_out "blk0: ok"
cmp -s "$orig" "$ro" || it_fail "the read-only image changed"
grep -q '^blk0: id .' "$OUT" || it_fail "read-only disk: no default GET_ID string"

# two disks: slots in command-line order, each with its own id
a=$IT_TMP/a.img b=$IT_TMP/b.img
cp "$orig" "$a"
cp "$orig" "$b"
it_guest blk --disk "$a,id=first-disk" --disk "path=$b,ro,id=second-disk" -p disks=2
it_expect_rc 42 "two disks"
it_expect_out "blk0: id first-disk"
it_expect_out "blk1: id second-disk"
it_expect_out "blk1: 00:02.0 capacity $sectors sectors read-only"
it_expect_out "blk1: read-only write IOERR"
it_expect_out "blk: 2 disk(s), all ok"
check_rw "two disks, the first" "$a" 01 0
cmp -s "$orig" "$b" || it_fail "two disks: the read-only second image changed"

# an image of 1000 sectors (not a multiple of 4 KiB); 0xCF8; no EVENT_IDX
odd=$IT_TMP/odd.img
it_blk_pattern 0 1000 1 >"$odd"
it_guest blk --disk "$odd" -p "pci=cf8 sync"
it_expect_rc 42 "1000-sector image, pci=cf8, no EVENT_IDX"
it_expect_out "blk0: 00:01.0 capacity 1000 sectors"
it_expect_out "blk0: pattern ok (64 sectors)"
{
	it_blk_pattern 0 8 1
	it_blk_pattern 8 64 100
	it_blk_pattern 72 928 1
} | cmp -s - "$odd" || it_fail "1000-sector image: contents differ from the expected pattern"
it_done
