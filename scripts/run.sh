#!/bin/bash
# "make run": boot the test kernel in the two-node VM with gmem_cma=0:2G,1:2G
# and print the guest's report of the areas per node and the gmem_vm demo;
# then boot again and run Debian's QEMU 11 on 1 GiB guest_memfd pages.
#
# usage: run.sh <bzImage> <initramfs> <log-dir>
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$3"
log=$3/run.log
args=${GMEM_RUN_ARGS:-gmem_cma=0:2G,1:2G}

echo "run: booting the two-node VM (6 GiB + 4 GiB, TCG) with $args ..."
start=$(date +%s)
"$here/vm.sh" "$1" "$2" "$log" kunit.enable=0 $args -- gmem_test=run || true
sed -n '/GMEM_TEST_BEGIN/,/GMEM_TEST_END/p' "$log" | sed '1d;$d' | tr -d '\r'
echo "run: $(($(date +%s) - start)) s; full console log in $log"
grep -q 'GMEM_TEST_END rc=0' "$log" || exit 1

# Then Debian's QEMU 11 boots Linux nested, on a guest_memfd that the
# "always" policy gives 1 GiB pages.  One CPU: README, "Known problems".
log=$3/run-qemu.log
echo
echo "run: booting it again for QEMU 11 on gmem_cma pages (guest_memfd_enabled: always) ..."
start=$(date +%s)
VM_SMP=1 "$here/vm.sh" "$1" "$2" "$log" kunit.enable=0 $args -- gmem_test=run-qemu || true
sed -n '/GMEM_TEST_BEGIN/,/GMEM_TEST_END/p' "$log" | sed '1d;$d' | tr -d '\r' |
	grep -v '^#   ' || true
echo "run: $(($(date +%s) - start)) s; full console log in $log"
grep -q 'GMEM_TEST_END rc=0' "$log"
