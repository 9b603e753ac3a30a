#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# QEMU on gmem_cma pages: boot a Linux guest under QEMU with its RAM in a
# shared guest_memfd file created without GUEST_MEMFD_FLAG_HUGE_PAGES, so
# that only the guest_memfd_enabled policy can give it 1 GiB pages.  The
# nested guest (gmem_cma_nested_init) writes and verifies all of its free
# memory; from outside, the test checks the file's line in gmem_cma/files,
# the pools' counters, KVM's pages_1g, and the return to the baseline.  Then
# the same boot with empty pools: 4 KiB pages and one counted fallback.
#
# With "demo" as argument (make run) it boots once and prints what the guest
# ran on.  With "bench" it prints, instead, one line per backing
# (1 GiB guest_memfd, 4 KiB guest_memfd, hugetlbfs 1 GiB memfd):
#   BENCH qemu <backing> wall_ms=<QEMU's life> boot_ms=<guest uptime at
#   /init> mib=<written> write_ms=... verify_ms=... touch_ms=...
#
# QEMU_DIR (default /opt/qemu): a QEMU tree as scripts/fetch-qemu.sh builds
# it.  NESTED_KERNEL (default /boot/bzImage): the guest's kernel.  QEMU
# gets its guest_memfd from libgmem_cma_qemu.so (see its header) where it
# has no x-guest-memfd option of its own.

. "$(dirname "$0")/../kselftest/ktap_helpers.sh"

here=$(cd "$(dirname "$0")" && pwd)
sysfs=/sys/kernel/mm/gmem_cma
files=/sys/kernel/debug/gmem_cma/files
qemu_dir=${QEMU_DIR:-/opt/qemu}
kernel=${NESTED_KERNEL:-/boot/bzImage}
preload=$here/libgmem_cma_qemu.so
work=$(mktemp -d)
mem_gb=2
stop_after=

ok() {	# <description> <condition...>: one KTAP result
	desc=$1
	shift
	if "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
}

ms() {	# milliseconds since boot, from /proc/uptime's centiseconds
	awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

sum() {	# <file name>: the sum over the nodes' pools
	cat $sysfs/node*/"$1" | awk '{ s += $1 } END { print s + 0 }'
}

settle() {	# wait up to 10 s for the pools to lend nothing: a closed
		# file's pages go back from a worker
	i=0
	while [ $(($(sum resv_pages) + $(sum used_pages))) != 0 ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

for f in "$qemu_dir/qemu-system-x86_64" "$kernel" "$preload" "$here/gmem_cma_nested_init"; do
	[ -e "$f" ] || { echo "# missing $f"; exit "$KSFT_SKIP"; }
done
[ -e /dev/kvm ] || { echo "# no /dev/kvm"; exit "$KSFT_SKIP"; }
[ -e $sysfs/guest_memfd_enabled ] || { echo "# no $sysfs/guest_memfd_enabled"; exit "$KSFT_SKIP"; }

# The nested guest's initramfs: its /init and a console, nothing else.
mkdir -p "$work/nested/dev" "$work/nested/proc"
cp "$here/gmem_cma_nested_init" "$work/nested/init"
mknod -m 600 "$work/nested/dev/console" c 5 1
(cd "$work/nested" && find . | cpio -o -H newc -R 0:0 2>/dev/null) > "$work/nested.cpio"

# run_qemu <name> <backend options> <preload: yes|no> [<kernel args>]: boot
# the nested guest (for at most $stop_after seconds if set: then QEMU gets
# SIGTERM and $stopped says so)
# in the background, watch it from outside until QEMU exits.  Leaves
# QEMU's console in $work/<name>.log and the watch in the variables
# seen_line (its gmem_cma/files line), max_1g, max_4k, held (pool pages
# reserved or used while it ran, at most), wall_ms.
run_qemu() {
	name=$1
	backend=$2
	log=$work/$name.log
	seen_line=
	max_1g=0
	max_4k=0
	held=0
	base_held=$(($(sum resv_pages) + $(sum used_pages)))
	start=$(ms)
	if [ "$3" = yes ]; then
		export LD_PRELOAD=$preload
	fi
	"$qemu_dir/qemu-system-x86_64" -accel kvm -cpu qemu64 -smp 1 -m ${mem_gb}G \
		-machine pc,smm=off,memory-backend=ram0 \
		-object "memory-backend-memfd,id=ram0,size=${mem_gb}G,$backend" \
		-nodefaults -nographic -vga none -nic none -serial stdio -no-reboot \
		-kernel "$kernel" -initrd "$work/nested.cpio" \
		-append "console=ttyS0 panic=-1 kunit.enable=0 quiet $4" \
		< /dev/null > "$log" 2>&1 &
	pid=$!
	unset LD_PRELOAD
	stopped=no
	while kill -0 $pid 2>/dev/null; do
		if [ -n "$stop_after" ] && [ $(($(ms) - start)) -gt $((stop_after * 1000)) ] &&
		   [ $stopped = no ]; then
			kill -TERM $pid
			stopped=yes
		fi
		# Keep the line with the most pages in use.
		line=$(awk -v pid=$pid '$2 == pid' $files)
		if [ -n "$line" ] && [ "$(echo "$line" | cut -d' ' -f6)" -ge \
			"$(echo "${seen_line:-0 0 0 0 0 0}" | cut -d' ' -f6)" ]; then
			seen_line=$line
		fi
		for d in /sys/kernel/debug/kvm/$pid-*; do
			[ -r "$d/pages_1g" ] || continue
			v=$(cat "$d/pages_1g")
			[ "$v" -gt "$max_1g" ] && max_1g=$v
			v=$(cat "$d/pages_4k")
			[ "$v" -gt "$max_4k" ] && max_4k=$v
		done
		v=$(($(sum resv_pages) + $(sum used_pages) - base_held))
		[ "$v" -gt "$held" ] && held=$v
		sleep 1
	done
	wait $pid
	qemu_rc=$?
	wall_ms=$(($(ms) - start))
	sed 's/^/#   /' "$log" | grep -v '^#   \[' | tail -n 8
}

passed() {	# <name>: the nested guest wrote and read back its memory
	grep -q '^gmem_nested: PASS ' "$work/$1.log"
}

bench_line() {	# <name>: the BENCH line of a run
	r=$(sed -n 's/^gmem_nested: PASS uptime_ms=\([0-9]*\) \(.*\)/boot_ms=\1 \2/p' \
		"$work/$1.log" | tr -d '\r')
	[ -n "$r" ] || return 1
	echo "BENCH qemu $1 wall_ms=$wall_ms $r"
}

saved_policy=$(sed 's/.*\[\(.*\)\].*/\1/' $sysfs/guest_memfd_enabled)
saved_pools=$(for d in $sysfs/node*; do echo "$d $(cat "$d/nr_pages")"; done)
restore() {
	settle
	echo "$saved_policy" > $sysfs/guest_memfd_enabled
	echo "$saved_pools" | while read -r d n; do echo "$n" > "$d/nr_pages"; done
	rm -rf "$work"
}
trap restore EXIT
# Each pool as large as the guest, or as its area if that is smaller.
fill_pools() {
	for d in $sysfs/node*; do
		n=$(cat "$d/capacity_pages")
		[ "$n" -gt $mem_gb ] && n=$mem_gb
		echo "$n" > "$d/nr_pages" || ktap_exit_fail_msg "cannot size $d to $n pages"
	done
}
fill_pools
[ "$(sum free_pages)" -ge $mem_gb ] ||
	{ echo "# the areas hold fewer than $mem_gb 1 GiB pages"; exit "$KSFT_SKIP"; }
# The upstream version of the package's: 1:11.1.3+ds-1 -> 11.1.3.
version=$(sed 's/^[0-9]*://; s/[+~-].*//' "$qemu_dir/VERSION" 2>/dev/null)

if [ "$1" = demo ]; then
	# make run: one boot under the "always" policy, and what it got.
	echo always > $sysfs/guest_memfd_enabled
	run_qemu demo "share=on,seal=off" yes
	passed demo || { echo "QEMU $version: the nested guest did not pass"; exit 1; }
	pages=$(echo "${seen_line:-0 0 0 0}" | cut -d' ' -f4)
	mib=$(sed -n 's/^gmem_nested: PASS .* mib=\([0-9]*\) .*/\1/p' "$work/demo.log")
	echo "QEMU $version booted Linux on $pages x 1 GiB pages (KVM pages_1g $max_1g);" \
		"its guest wrote and verified $mib MiB in $((wall_ms / 1000)) s"
	[ "$pages" = $mem_gb ] && [ "$max_1g" -ge 1 ]
	exit
fi

if [ "$1" = bench ]; then
	# Each backing once, side by side in this boot; hugetlb's 1 GiB pages
	# come from hugetlb_cma= on the kernel command line.
	huge=/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
	# Each guest writes 256 MiB: on 4 KiB pages every first touch is a
	# nested page fault, which takes milliseconds under TCG.
	bench_mib=gmem_nested_mib=256
	echo always > $sysfs/guest_memfd_enabled
	run_qemu gmem-1g "share=on,seal=off" yes "$bench_mib"
	bench_line gmem-1g || exit 1
	echo advise > $sysfs/guest_memfd_enabled
	run_qemu gmem-4k "share=on,seal=off" yes "$bench_mib"
	bench_line gmem-4k || exit 1
	echo $mem_gb > $huge
	[ "$(cat $huge)" = $mem_gb ] || { echo "# no $mem_gb 1 GiB hugetlb pages"; exit 1; }
	run_qemu hugetlb-1g "share=on,hugetlb=on,hugetlbsize=1G" no "$bench_mib"
	echo 0 > $huge
	bench_line hugetlb-1g || exit 1
	exit 0
fi

ktap_print_header
ktap_set_plan 11
ktap_print_msg "QEMU $version, nested guest of ${mem_gb} GiB"

ok "policy: the boot's gmem_cma_guest_memfd=always took" \
	[ "$saved_policy" = always ]
echo always > $sysfs/guest_memfd_enabled
free0=$(sum free_pages)
fallback0=$(cat $sysfs/guest_memfd_fallback)
run_qemu gmem-1g "share=on,seal=off" yes
ok "1g: QEMU exited 0 and the nested guest verified its memory" \
	eval '[ $qemu_rc = 0 ] && passed gmem-1g'
ktap_print_msg "QEMU's file: ${seen_line:-not listed}; pages_1g up to $max_1g"
# "<ino> <pid> <comm> <pages> <resv> <used> ...": 2 pages, all in use.
ok "1g: QEMU's guest_memfd held $mem_gb 1 GiB pages" \
	eval 'echo "$seen_line" | awk -v n=$mem_gb "{ exit !(\$4 == n && \$5 + \$6 == n) }"'
ok "1g: the pools lent exactly $mem_gb pages" [ "$held" = $mem_gb ]
ok "1g: KVM mapped the guest with 1 GiB pages (pages_1g $max_1g)" [ "$max_1g" -ge 1 ]
settle
ok "1g: pools back to the baseline, no fallback" \
	eval '[ $(sum free_pages) = $free0 ] && [ $(sum resv_pages) = 0 ] &&
	      [ $(sum used_pages) = 0 ] && [ $(cat $sysfs/guest_memfd_fallback) = $fallback0 ]'
bench_line gmem-1g | sed 's/^/# /'

# Empty pools: the same boot on 4 KiB pages, counted once.  It runs for
# 90 s and is stopped: on 4 KiB pages every first touch of the nested guest
# is a nested page fault, and under TCG its boot alone takes over ten
# minutes (make bench times it).
for d in $sysfs/node*; do echo 0 > "$d/nr_pages"; done
stop_after=90
run_qemu fallback "share=on,seal=off" yes
stop_after=
ok "fallback: the nested guest ran for 90 s, then QEMU quit on SIGTERM" \
	eval '[ $stopped = yes ] && grep -q "terminating on signal 15" "$work/fallback.log"'
ok "fallback: no gmem_cma file, no pool page" \
	eval '[ -z "$seen_line" ] && [ $held = 0 ]'
ok "fallback: KVM mapped 4 KiB pages only (pages_1g $max_1g, pages_4k $max_4k)" \
	eval '[ $max_1g = 0 ] && [ $max_4k -gt 1000 ]'
ok "fallback: guest_memfd_fallback counted it once" \
	[ "$(cat $sysfs/guest_memfd_fallback)" = $((fallback0 + 1)) ]
fill_pools
ok "fallback: pools back to the baseline" \
	eval '[ $(sum free_pages) = $free0 ] && [ $(sum resv_pages) = 0 ] &&
	      [ $(sum used_pages) = 0 ]'
ktap_finished
