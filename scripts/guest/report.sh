#!/bin/sh
# The "make run" report: the gmem_cma areas of every node, the pools before
# and after sizing them with gmemctl, then the VMM demo: a VM whose memory
# is a guest_memfd of 1 GiB pages on node 1, with two vCPUs that gmem_vm
# places on the CPUs of node 1 (hwloc) and splits the guest's work between.
cmdline=$(cat /proc/cmdline)
echo
echo "== gmem_cma on $(uname -r) =="
echo "command line: ${cmdline%% -- *}"
echo
printf '%-6s %-10s %-14s %-14s %s\n' node memory area capacity_1G "cma free (4K pages)"
for d in /sys/kernel/mm/gmem_cma/node*; do
	nid=${d##*node}
	mem=$(awk '/MemTotal/ {printf "%d MiB", $4 / 1024}' /sys/devices/system/node/node$nid/meminfo)
	area=-
	free=-
	if [ -d /sys/kernel/mm/cma/gmem$nid ]; then
		area=gmem$nid
		free=$(cat /sys/kernel/mm/cma/gmem$nid/available_pages)
	fi
	printf '%-6s %-10s %-14s %-14s %s\n' "$nid" "$mem" "$area" "$(cat $d/capacity_pages)" "$free"
done
echo "total capacity: $(cat /sys/kernel/mm/gmem_cma/capacity_pages) x 1 GiB"
grep -E '^Cma(Total|Free):' /proc/meminfo
echo
echo "memory ranges (debugfs gmem_cma/areas):"
cat /sys/kernel/debug/gmem_cma/areas
echo
echo "== pools (gmemctl) =="
gmemctl show
echo
echo "# gmemctl set 0:1,1:2"
gmemctl set 0:1,1:2
echo
grep -E '^GmemCma' /proc/meminfo
echo
echo "== VMM demo: a VM on 1 GiB pages of node 1, its vCPUs on node 1's CPUs =="
echo "# gmem_vm -n 1 -g 1 --vcpus 2"
gmem_vm -n 1 -g 1 --vcpus 2
vm_rc=$?
echo
echo "# gmemctl set 0"
gmemctl set 0
echo
dmesg | grep 'gmem_cma:' || true
exit $vm_rc
