#!/bin/bash
# "make stress": the debug lane, not part of CI.  The debug kernel
# (configs/debug.config on top of the other fragments: KASAN, kmemleak,
# lockdep, DEBUG_VM, DEBUG_LIST, KVM_PROVE_MMU, hung-task and soft-lockup
# panics, failslab and fail_page_alloc), built in its own tree by "make
# debug-kernel", runs every boot of "make check" (scripts/check.py, its
# timeouts scaled: KASAN under TCG is several times slower), then one more
# boot: gmem_cma_stress for STRESS_S seconds between two kmemleak scans
# (scripts/guest/stress.sh), with in-place conversion on (so the stress
# converts ranges of its private files), judged by scripts/stress-judge.py.  Prints a
# summary to paste into the README (also in <log-dir>/stress-summary.txt).
#
# usage: stress.sh <tree> <debug-tree> <initramfs> <log-dir>
#   STRESS_S         seconds of randomized stress (default 600)
#   STRESS_SEED      replay a run (default: random, printed)
#   STRESS_JOBS      worker processes (default 4)
#   STRESS_POISON    memory failures to inject in all (default 2: each one
#                    retires a 1 GiB page of the 6 the areas hold)
#   STRESS_KMEMLEAK  "any" (default): any leak after the stress fails it;
#                    "ours": only leaks naming gmem_cma, KVM, ... fail it
#   STRESS_CHECK=0   skip the boots of make check; ONLY=... restricts them
#   STRESS_TIMEOUT_SCALE  factor for make check's timeouts (default 4)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tree=$1
debug=$(cd "$2" && pwd)
initrd=$3
mkdir -p "$4"
logs=$(cd "$4" && pwd)
kernel=$debug/arch/x86/boot/bzImage
[ -f "$kernel" ] || { echo "stress: no $kernel (make debug-kernel)" >&2; exit 1; }
summary=$logs/stress-summary.txt
secs=${STRESS_S:-600}
seed=${STRESS_SEED:-0x$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')}
jobs=${STRESS_JOBS:-4}
poison=${STRESS_POISON:-2}
scale=${STRESS_TIMEOUT_SCALE:-4}
# Every KASAN report, not only the first one.  no5lvl: with LA57, an
# interrupt while identify_cpu() re-reads the boot CPU's features makes
# KASAN take every direct-map address for a wild one (README, "Known
# problems").
kargs="kasan_multi_shot no5lvl"

# The judge's own test first: each of its detectors must fail.
"$here/stress-judge.py" --self-test > "$logs/stress-judge-self-test.txt" ||
	{ cat "$logs/stress-judge-self-test.txt"; exit 1; }

start=$(date +%s)
check_rc=0
check_result="skipped (STRESS_CHECK=0)"
if [ "${STRESS_CHECK:-1}" != 0 ]; then
	echo "stress: every boot of make check on the debug kernel (timeouts x$scale)${ONLY:+, only '$ONLY'} ..."
	# KASAN's shadow takes ~1 GiB of node 0 before gmem_cma= reserves:
	# 7 GiB leave it the free 1 GiB blocks a 6 GiB node has normally.
	VM_NODE0_GB=7 "$here/check.py" --tree "$tree" --kernel "$kernel" --initrd "$initrd" \
		--logs "$logs" --kargs "$kargs" --timeout-scale "$scale" \
		${ONLY:+--only "$ONLY"} | tee "$logs/check.txt" || check_rc=$?
	check_result="$(tail -1 "$logs/check.txt") in $((($(date +%s) - start) / 60)) min"
fi

echo "stress: booting for $secs s of gmem_cma_stress (seed $seed, $jobs workers, $poison memory failures) ..."
log=$logs/stress.log
stress_start=$(date +%s)
# The boot, the two kmemleak scans and the end of the stress's last
# operations come on top of STRESS_S.
# Room for 3 GiB areas on both nodes, next to KASAN's shadow.
VM_NODE0_GB=9 VM_NODE1_GB=7 VM_TIMEOUT=$((secs + 2400)) "$here/vm.sh" "$kernel" "$initrd" "$log" \
	kunit.enable=0 gmem_cma=0:3G,1:3G kvm.gmem_in_place_conversion=1 $kargs -- gmem_test=stress \
	"gmem_stress_s=$secs" "gmem_stress_seed=$seed" "gmem_stress_jobs=$jobs" \
	"gmem_stress_poison=$poison" || true
stress_rc=0
"$here/stress-judge.py" --kmemleak "${STRESS_KMEMLEAK:-any}" "$log" > "$logs/stress-judge.txt" ||
	stress_rc=$?
stress_s=$(($(date +%s) - stress_start))
echo "stress: the stress boot $([ "$stress_rc" = 0 ] && echo passed || echo FAILED) in $stress_s s ($logs/stress-judge.txt)"

ops=$(sed -n 's/^gmem_cma_stress: \([0-9]* operations.*\)/\1/p' "$logs/stress-judge.txt")
{
	echo "make stress, $(date -u +%Y-%m-%d), $(cat "$debug/include/config/kernel.release" 2>/dev/null || echo "?") with configs/debug.config, total $((($(date +%s) - start) / 60)) min"
	echo "  make check on the debug kernel: $check_result"
	echo "  stress boot: $stress_s s, gmem_cma_stress -s $secs -S $seed -j $jobs -P $poison: ${ops:-no result}"
	grep '^gmem_cma_stress: ' "$logs/stress-judge.txt" | grep -v 'operations,\|: seed ' |
		sed 's/^gmem_cma_stress: /    /' || true
	sed -n 's/^FAIL /  FAIL /p' "$logs/stress-judge.txt"
	if [ "$check_rc" = 0 ] && [ "$stress_rc" = 0 ]; then
		echo "  result: PASS"
	else
		echo "  result: FAIL (make check rc=$check_rc, stress rc=$stress_rc; logs in $logs)"
	fi
} | tee "$summary"
[ "$check_rc" = 0 ] && [ "$stress_rc" = 0 ]
