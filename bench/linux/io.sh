#!/bin/bash
# bench/linux/io.sh — block and network throughput of Debian's stock kernel
# on pvisor (kvm backend, xen-blkfront/xen-netfront, root disk from
# tools/mkrootfs.sh) against the host's own figures on the same file and on
# loopback, in one run, as ratios.  See docs/linux-io.md.
#
#   bench/linux/io.sh [--mib N] [--ops N] [--net-mib N] [--write-docs]
#
#   --mib N       size of the image and of each sequential pass (default 1024)
#   --ops N       4 KiB random reads (default 20000)
#   --net-mib N   MiB per network direction (default 256 host->guest; a
#                 sixteenth of it guest->host, which is much slower)
#   --write-docs  put the table into docs/benchmarks.md (section "Linux I/O")
#                 and docs/linux-io.md (between the bench:linux-io markers)
#
# The same static program (bench/linux/iob.c) runs on the host and in the
# guest: O_DIRECT sequential write (+fdatasync) and read with 1 MiB blocks,
# O_DIRECT 4 KiB random reads at queue depth 1, TCP send/receive.  Exits per
# MiB come from two extra boots with -v -v (the I/O boot minus an idle boot).
# The guest kit's blkbench runs on kvm and proc for comparison.  Report:
# build/bench/linux-io.md (and stdout).
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
MIB=1024 OPS=20000 NET_MIB=256 WRITE_DOCS=0
LIMIT=${IO_LIMIT:-600}
while [ $# -gt 0 ]; do
	case "$1" in
	--mib) MIB=$2; shift 2 ;;
	--ops) OPS=$2; shift 2 ;;
	--net-mib) NET_MIB=$2; shift 2 ;;
	--write-docs) WRITE_DOCS=1; shift ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "io.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done
log() { echo "io.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x build/pvisor ] || die "build/pvisor missing (make pvisor)"
why=$(build/pvisor backends 2>&1 | grep '^kvm:')
case "$why" in "kvm: available"*) ;; *) die "kvm backend unavailable: $why" ;; esac
OUT=build/bench/linux-io
mkdir -p "$OUT"
tools/fetch-kernel.sh --flavour cloud-amd64 >&2 || die "no kernel"
KDIR=build/kernel/cloud-amd64
RELEASE=$(basename "$(readlink -f "$KDIR")")
INITRD=$(tools/mkinitramfs.sh --kernel-dir "$KDIR" | tail -n 1) || die "mkinitramfs failed"
ROOTFS=$(tools/mkrootfs.sh --kernel-dir "$KDIR" | tail -n 1) || die "mkrootfs failed"
gcc -static -O2 -std=gnu11 -Wall -Wextra -Werror -o "$OUT/iob" bench/linux/iob.c || die "building iob failed"
IOB=$OUT/iob

# Guest scripts and iob go into a copy of the root disk.
cp --sparse=always "$ROOTFS" "$OUT/root.img"
cat >"$OUT/blk.sh" <<GUEST
iob seqwrite /dev/xvdb \$1 1048576
iob seqread /dev/xvdb \$1 1048576
[ "\$2" = 0 ] || iob randread /dev/xvdb \$1 \$2
GUEST
cat >"$OUT/net.sh" <<'GUEST'
# $1 host port receiving, $2 host port sending, $3 MiB to send
ip link set eth0 up
udhcpc -i eth0 -n -q -t 5 -T 2 >/dev/null 2>&1
iob send 10.0.2.2 $1 $3
iob recv 10.0.2.2 $2
GUEST
cat >"$OUT/tap.sh" <<'GUEST'
ip addr add 192.0.2.2/24 dev eth0
ip link set eth0 up
sleep 2
iob send 192.0.2.1 $1 $3
iob recv 192.0.2.1 $2
GUEST
debugfs -w -f - "$OUT/root.img" >/dev/null 2>&1 <<DEBUGFS
mkdir /t
write $OUT/blk.sh /t/blk.sh
write $OUT/net.sh /t/net.sh
write $OUT/tap.sh /t/tap.sh
write $IOB /bin/iob
sif /bin/iob mode 0100755
DEBUGFS

pv() {
	timeout -k 10 $((LIMIT + 20)) build/pvisor run ${VV:-} --backend kvm --no-raw --timeout "$LIMIT" \
		--kernel "$KDIR/vmlinuz" --initrd "$INITRD" --mem 512M \
		--cmdline "console=hvc0 quiet" --disk "$OUT/root.img" "$@" </dev/null
}
gcmd() { echo "mount /dev/xvda /mnt && exec chroot /mnt /sbin/init sh /t/$*"; }
# val FILE MODE [KEY]: the KEY (default MB/s) of the "iob MODE" line in FILE.
val() { tr -d '\r' <"$1" | grep -a "^iob $2 " | head -n 1 | sed -n "s|.* ${3:-MB/s}=\([0-9.]*\).*|\1|p"; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }' || echo -; }
exits() { tr -d '\r' <"$1" | sed -n 's/^pvisor: vcpu0: \([0-9]*\) exits:.*/\1/p' | tail -n 1; }
port() { echo $((20000 + RANDOM % 20000)); }

# --- block ---
DISK=$OUT/disk.img
log "host: ${MIB} MiB image $DISK"
rm -f "$DISK"
dd if=/dev/zero of="$DISK" bs=1M count="$MIB" status=none || die "cannot write $DISK"
sync
"$IOB" seqwrite "$DISK" "$MIB" 1048576 >"$OUT/host-blk.out" || die "iob on the host failed"
sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
"$IOB" seqread "$DISK" "$MIB" 1048576 >>"$OUT/host-blk.out"
"$IOB" randread "$DISK" "$MIB" "$OPS" >>"$OUT/host-blk.out"
cat "$OUT/host-blk.out" >&2
log "guest: the same on xvdb"
pv --disk "$DISK" -- "$(gcmd blk.sh "$MIB" "$OPS")" >"$OUT/guest-blk.out" 2>&1
log "guest block run: exit $?"
grep -a '^iob ' "$OUT/guest-blk.out" >&2

# Exits per MiB: an idle boot vs a 256 MiB write + read boot, both -v -v.
VV="-v -v" pv -- true >"$OUT/idle-vv.out" 2>&1
VV="-v -v" pv --disk "$DISK" -- "$(gcmd blk.sh 256 0)" >"$OUT/blk-vv.out" 2>&1
e0=$(exits "$OUT/idle-vv.out") e1=$(exits "$OUT/blk-vv.out")
EXITS_BLK=-
[ -n "$e0" ] && [ -n "$e1" ] && EXITS_BLK=$(awk -v a="$e1" -v b="$e0" 'BEGIN { printf "%.0f", (a - b) / 512 }')

# --- network over slirp ---
SEND_MIB=$((NET_MIB / 16)); [ $SEND_MIB -ge 1 ] || SEND_MIB=1
p1=$(port) p2=$(port)
"$IOB" serve-recv "$p1" >"$OUT/lo-recv.out" & s1=$!
sleep 0.3
"$IOB" send 127.0.0.1 "$p1" "$NET_MIB" >/dev/null; wait $s1
HOST_LO=$(val "$OUT/lo-recv.out" serve-recv)
"$IOB" serve-recv "$p1" >"$OUT/slirp-recv.out" & s1=$!
"$IOB" serve-send "$p2" "$NET_MIB" >"$OUT/slirp-send.out" & s2=$!
sleep 0.3
pv --net user -- "$(gcmd net.sh "$p1" "$p2" "$SEND_MIB")" >"$OUT/guest-net.out" 2>&1
log "guest net run: exit $?"
kill $s1 $s2 2>/dev/null; wait $s1 $s2 2>/dev/null
G2H=$(val "$OUT/slirp-recv.out" serve-recv) H2G=$(val "$OUT/guest-net.out" recv)

# --- network over TAP (root only) ---
TAP_G2H= TAP_H2G= TAP_NOTE="not run: needs root"
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ]; then
	ng=pvio_bg_$$ ns=pvio_bs_$$
	if ip netns add "$ng" && ip netns add "$ns" &&
		ip -n "$ng" link add pvbr0 type bridge && ip -n "$ng" tuntap add pvtap0 mode tap &&
		ip -n "$ng" link add pvveth0 type veth peer name pvveth1 netns "$ns" &&
		ip -n "$ng" link set pvtap0 master pvbr0 && ip -n "$ng" link set pvveth0 master pvbr0 &&
		ip -n "$ng" link set pvbr0 up && ip -n "$ng" link set pvtap0 up &&
		ip -n "$ng" link set pvveth0 up && ip -n "$ns" link set lo up &&
		ip -n "$ns" addr add 192.0.2.1/24 dev pvveth1 && ip -n "$ns" link set pvveth1 up; then
		ip netns exec "$ns" "$IOB" serve-recv "$p1" >"$OUT/tap-recv.out" & s1=$!
		ip netns exec "$ns" "$IOB" serve-send "$p2" "$NET_MIB" >"$OUT/tap-send.out" & s2=$!
		sleep 0.3
		timeout -k 10 $((LIMIT + 20)) ip netns exec "$ng" build/pvisor run --backend kvm --no-raw \
			--timeout "$LIMIT" --kernel "$KDIR/vmlinuz" --initrd "$INITRD" --mem 512M \
			--cmdline "console=hvc0 quiet" --disk "$OUT/root.img" --net tap,ifname=pvtap0 \
			-- "$(gcmd tap.sh "$p1" "$p2" "$SEND_MIB")" </dev/null >"$OUT/guest-tap.out" 2>&1
		log "guest tap run: exit $?"
		kill $s1 $s2 2>/dev/null; wait $s1 $s2 2>/dev/null
		TAP_G2H=$(val "$OUT/tap-recv.out" serve-recv) TAP_H2G=$(val "$OUT/guest-tap.out" recv)
		TAP_NOTE="bridge + veth to a second netns"
	else
		TAP_NOTE="netns setup failed"
	fi
	ip netns del "$ng" 2>/dev/null; ip netns del "$ns" 2>/dev/null
fi

# --- guest kit blkbench, kvm vs proc ---
BB=$OUT/bb.img
truncate -s 256M "$BB"
for be in kvm proc; do
	timeout 300 build/pvisor run --backend "$be" --no-raw --disk "$BB" guest/build/blkbench -- \
		mb=64 ops=4000 </dev/null >"$OUT/blkbench-$be.out" 2>&1
done
bb() { grep -a "^blkbench xvda $2 " "$OUT/blkbench-$1.out" | head -n 1 | sed -n "s|.* $3=\([0-9.]*\).*|\1|p"; }

HW=$(val "$OUT/host-blk.out" seqwrite) HR=$(val "$OUT/host-blk.out" seqread) HI=$(val "$OUT/host-blk.out" randread IOPS)
GW=$(val "$OUT/guest-blk.out" seqwrite) GR=$(val "$OUT/guest-blk.out" seqread) GI=$(val "$OUT/guest-blk.out" randread IOPS)
{
	echo "## Linux I/O"
	echo
	echo "Measured by \`bench/linux/io.sh\` on $(date -u +%Y-%m-%d), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), host Linux $(uname -r); /dev/kvm is kvm-pvm."
	echo "Guest: Debian \`$RELEASE\` (stock), 512 MiB, 1 vCPU, root disk from tools/mkrootfs.sh, xen-blkfront/xen-netfront, kvm backend."
	echo "One static program (bench/linux/iob.c) on the host and in the guest; block I/O is O_DIRECT, queue depth 1, on a ${MIB} MiB raw image (xvdb in the guest, the file itself on the host)."
	echo
	echo "| what | host | guest (pvisor kvm) | guest / host |"
	echo "|---|---|---|---|"
	echo "| sequential write, 1 MiB blocks, + fdatasync (MB/s) | ${HW:--} | ${GW:--} | $(ratio "$GW" "$HW") |"
	echo "| sequential read, 1 MiB blocks (MB/s) | ${HR:--} | ${GR:--} | $(ratio "$GR" "$HR") |"
	echo "| random read 4 KiB, QD 1 (IOPS) | ${HI:--} | ${GI:--} | $(ratio "$GI" "$HI") |"
	echo "| TCP guest → host, slirp (MB/s; host: loopback) | ${HOST_LO:--} | ${G2H:--} | $(ratio "$G2H" "$HOST_LO") |"
	echo "| TCP host → guest, slirp (MB/s; host: loopback) | ${HOST_LO:--} | ${H2G:--} | $(ratio "$H2G" "$HOST_LO") |"
	echo "| TCP guest → host, TAP (MB/s; host: loopback) | ${HOST_LO:--} | ${TAP_G2H:--} | $(ratio "$TAP_G2H" "$HOST_LO") |"
	echo "| TCP host → guest, TAP (MB/s; host: loopback) | ${HOST_LO:--} | ${TAP_H2G:--} | $(ratio "$TAP_H2G" "$HOST_LO") |"
	echo
	echo "Network: guest → host sends $SEND_MIB MiB, host → guest $NET_MIB MiB (TAP: $TAP_NOTE)."
	echo "Exits per MiB of sequential block I/O (256 MiB write + 256 MiB read, \`-v -v\`, minus an idle boot): $EXITS_BLK (idle boot ${e0:-?} exits, I/O boot ${e1:-?})."
	echo
	echo "Guest kit blkbench (64 MiB region, QD 8, page-cache bound), kvm vs proc:"
	echo
	echo "| backend | seq write 64K (MB/s) | seq read 64K (MB/s) | rand write 4K (IOPS) | rand read 4K (IOPS) |"
	echo "|---|---|---|---|---|"
	for be in kvm proc; do
		echo "| $be | $(bb $be seq_write MB/s) | $(bb $be seq_read MB/s) | $(bb $be rand_write IOPS) | $(bb $be rand_read IOPS) |"
	done
	echo
	echo "Reproduce: \`bench/linux/io.sh --write-docs\` (as root for the TAP rows); logs in \`build/bench/linux-io/\`."
} >"$OUT.md"
cat "$OUT.md"
rm -f "$DISK" "$BB"

if [ "$WRITE_DOCS" = 1 ]; then
	f=docs/benchmarks.md
	awk -v sect="$OUT.md" '
		BEGIN { while ((getline l < sect) > 0) s = s l "\n" }
		/^## Linux I\/O *$/ { skip = 1; if (!done) { printf "%s", s; done = 1 }; next }
		skip && /^## / { skip = 0; print "" }
		!skip { print }
		END { if (!done) { if (NR) print ""; printf "%s", s } }
	' "$f" >"$f.tmp.$$" && mv "$f.tmp.$$" "$f"
	f=docs/linux-io.md
	if [ -f "$f" ] && grep -q '<!-- bench:linux-io -->' "$f"; then
		awk -v sect="$OUT.md" '
			/<!-- bench:linux-io -->/ { print; while ((getline l < sect) > 0) if (l !~ /^## /) print l; skip = 1; next }
			/<!-- \/bench:linux-io -->/ { skip = 0 }
			!skip { print }
		' "$f" >"$f.tmp.$$" && mv "$f.tmp.$$" "$f"
	fi
	log "wrote docs/benchmarks.md and docs/linux-io.md"
fi
