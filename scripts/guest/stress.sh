#!/bin/sh
# The stress boot of "make stress", in the guest: gmem_cma_stress for
# gmem_stress_s= seconds (gmem_stress_seed=, gmem_stress_jobs= and
# gmem_stress_poison= give its -S, -j and -P) between two kmemleak scans.
# The first scan shows what was leaked before (the boot), then clears it,
# so that the second one shows only what leaked since.  The reports go to
# the console between KMEMLEAK_BEGIN and KMEMLEAK_END lines, for
# scripts/stress-judge.py.
arg() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" /proc/cmdline; }
kml=/sys/kernel/debug/kmemleak

# Scan twice, some seconds apart: a pointer that was only in flight (a
# register, an RCU callback) is not reported.
scan() {
	sleep 5
	echo scan > $kml && sleep 5 && echo scan > $kml
}

report() {
	echo "KMEMLEAK_BEGIN $1"
	cat $kml
	echo "KMEMLEAK_END $1"
}

if [ ! -w $kml ]; then
	echo "stress: no $kml (CONFIG_DEBUG_KMEMLEAK), or kmemleak turned itself off"
	exit 1
fi
scan || exit 1
report before
echo clear > $kml

secs=$(arg gmem_stress_s)
seed=$(arg gmem_stress_seed)
/kselftest/gmem_cma/gmem_cma_stress -s "${secs:-600}" ${seed:+-S "$seed"} \
	-j "$(arg gmem_stress_jobs | grep . || echo 4)" \
	-P "$(arg gmem_stress_poison | grep . || echo 2)"
rc=$?

scan || exit 1
report after
exit $rc
