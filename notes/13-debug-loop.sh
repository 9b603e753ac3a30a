#!/bin/sh
# ad hoc: loop cases of the debug split test until the race breaks
arg() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" /proc/cmdline; }
n=$(arg gmem_loops); n=${n:-5}
for e in $(arg gmem_env | tr ',' ' '); do export $e=1; done
export DBG=1
args=""
for c in $(arg gmem_cases | tr ',' ' '); do args="$args -r $c"; done
cd /kselftest/kvm || exit 1
echo "ENV $(env | grep -E '^(DBG|NO_)' | tr '\n' ' ')"
i=0
while [ $i -lt $n ]; do
	i=$((i+1))
	./guest_memfd_split_test $args > /tmp/out 2>&1
	r=$?
	echo "LOOP $i rc=$r up=$(cut -d' ' -f1 /proc/uptime) $(grep -E '^# +[0-9]+ (punches|conv|host)' /tmp/out | tr '\n' ' ')"
	if grep -q "conversions_faults_punches_race" /tmp/out && ! grep -q "DBG race done" /tmp/out; then cat /tmp/out; echo "LOOP RACEFAIL"; exit 1; fi
	if dmesg | grep -q -E "BUG:|Oops|WARNING:|general protection"; then echo "LOOP dmesg trouble"; dmesg | tail -80; exit 1; fi
done
echo "LOOP ALLPASS"
exit 0
