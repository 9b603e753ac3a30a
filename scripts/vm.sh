#!/bin/bash
# Boot the test kernel once in the two-node QEMU VM (TCG, -cpu max, so the
# guest has SVM with nested paging and /dev/kvm works inside it).
# Node 0 has 6 GiB and node 1 4 GiB: QEMU's layout leaves no free 1 GiB
# aligned block on a 4 GiB node 0 (the PCI hole, the initrd and NODE_DATA
# take them), so node 0 is larger.
#
# usage: vm.sh <bzImage> <initramfs> <log> <kernel args> -- <init args>
#   The serial console is written to <log> (and to stdout with VM_TEE=1).
#   VM_TIMEOUT (seconds, default 1200) bounds the whole boot.
#   VM_NODE0_GB, VM_NODE1_GB (default 6 and 4): the nodes' memory.  The
#   debug kernel of make stress needs a larger node 0: KASAN's shadow is
#   taken from the top of each node before gmem_cma= reserves its areas.
#   VM_SMP (default 2, one CPU per node): 1 gives the VM one CPU, on
#   node 0 (node 1 keeps its memory).  QEMU's multi-threaded TCG corrupts
#   the VM's memory when a nested guest refaults pages whose NPT entries
#   the VM's KVM zapped while its other CPU was busy (README, "Known
#   problems"): the boots that race such zaps against a running nested
#   guest run with one CPU.
set -euo pipefail

kernel=$1
initrd=$2
log=$3
shift 3
kargs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do kargs+=("$1"); shift; done
[ $# -gt 0 ] && shift
iargs=("$@")

append="console=ttyS0,115200 panic=-1 printk.devkmsg=on ${kargs[*]} -- ${iargs[*]}"
node0=${VM_NODE0_GB:-6}
node1=${VM_NODE1_GB:-4}
case ${VM_SMP:-2} in
2) smp=2,sockets=2,cores=1,threads=1; cpus1=,cpus=1 ;;
1) smp=1; cpus1= ;;
*) echo "vm.sh: VM_SMP must be 1 or 2, not '$VM_SMP'" >&2; exit 2 ;;
esac
cmd=(qemu-system-x86_64 -accel "tcg,thread=multi" -cpu max -smp "$smp"
     -m "$((node0 + node1))G"
     -object memory-backend-ram,id=m0,size="${node0}G"
     -object memory-backend-ram,id=m1,size="${node1}G"
     -numa node,nodeid=0,cpus=0,memdev=m0
     -numa "node,nodeid=1$cpus1,memdev=m1"
     -kernel "$kernel" -initrd "$initrd" -append "$append"
     -display none -monitor none -serial stdio -no-reboot)

rc=0
if [ "${VM_TEE:-0}" = 1 ]; then
	timeout "${VM_TIMEOUT:-1200}" "${cmd[@]}" < /dev/null 2>&1 | tee "$log" || rc=$?
else
	timeout "${VM_TIMEOUT:-1200}" "${cmd[@]}" < /dev/null > "$log" 2>&1 || rc=$?
fi
exit $rc
