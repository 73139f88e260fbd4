#!/bin/bash
# Debian's stock kernel (cloud-amd64) on the kvm backend with a root disk
# (tools/mkrootfs.sh) and a network: block devices and their sizes, data
# written and synced in the guest is on the host image (e2fsck clean,
# debugfs shows it), nothing lost by a power-off right after fsync, a
# read-only disk refuses writes, DHCP and HTTP both ways through slirp, and
# (as root) a guest on a TAP in a network namespace reaching a server in
# another.  Skips with the reason when kvm, the kernel or a tool is missing.
# See docs/linux-io.md.
source "$(dirname "$0")/lib.sh"

FLAVOUR=${LINUX_IO_FLAVOUR:-cloud-amd64}
MEM=256
TIMEOUT=180		# per boot; a boot takes ~10 s here
TESTS=(sizes "e2fsck clean" "file content on host" "8 MiB file checksum on host"
	"power-off after fsync" "read-only mount" "read-only write refused"
	"read-only image unchanged" "dhcp" "wget from host" "hostfwd to guest httpd"
	"tap in netns")

skip_all() {
	local t
	for t in "${TESTS[@]}"; do skip "linux io: $t" "$1"; done
	exit 0
}

[ -z "$KVM_WHY" ] || skip_all "kvm unavailable: $KVM_WHY"
for t in mkfs.ext4 debugfs e2fsck python3 curl md5sum; do
	command -v "$t" >/dev/null 2>&1 || skip_all "$t not installed"
done
"$ROOT/tools/fetch-kernel.sh" --flavour "$FLAVOUR" >"$TMP/fetch.log" 2>&1 ||
	skip_all "no kernel: $(tail -n 1 "$TMP/fetch.log")"
KDIR=$ROOT/build/kernel/$FLAVOUR
INITRD=$("$ROOT/tools/mkinitramfs.sh" --kernel-dir "$KDIR" 2>"$TMP/mk.log" | tail -n 1) ||
	skip_all "mkinitramfs failed: $(tail -n 1 "$TMP/mk.log")"
ROOTFS=$("$ROOT/tools/mkrootfs.sh" --kernel-dir "$KDIR" 2>"$TMP/mk.log" | tail -n 1) ||
	skip_all "mkrootfs failed: $(tail -n 1 "$TMP/mk.log")"
export PVISOR_TEST_TAG=t_linux_io.$$

# The guest's scripts go into a copy of the root image, under /t.
cp --sparse=always "$ROOTFS" "$TMP/root.img"
mkdir -p "$TMP/t"
cat >"$TMP/t/disk.sh" <<'GUEST'
# xvda root, xvdb data (rw ext4), xvdc (ro ext4)
for d in xvda xvdb xvdc; do echo "R size $d $(cat /sys/block/$d/size)"; done
echo "R ro xvdc $(cat /sys/block/xvdc/ro)"
mkdir -p /data /ro
mount -t ext4 /dev/xvdb /data || echo "R mount-data failed"
echo "$1" >/data/hello.txt
dd if=/dev/urandom of=/data/big.bin bs=1M count=8 2>/dev/null
sync
echo "R md5 $(md5sum </data/big.bin | cut -d' ' -f1)"
umount /data || echo "R umount-data failed"
if mount -t ext4 -o rw /dev/xvdc /ro 2>/dev/null; then
	grep -q ' /ro ext4 ro[,]' /proc/mounts && echo "R rw-mount became-ro" || echo "R rw-mount rw"
	umount /ro
else
	echo "R rw-mount refused"
fi
mount -t ext4 -o ro,noload /dev/xvdc /ro && echo "R ro-mount ok $(cat /ro/keep.txt)"
echo x 2>/dev/null >/ro/new.txt && echo "R ro-file-write succeeded" || echo "R ro-file-write refused"
umount /ro
dd if=/dev/zero of=/dev/xvdc bs=4096 count=1 oflag=direct 2>/dev/null &&
	echo "R ro-dev-write succeeded" || echo "R ro-dev-write refused"
exit 0
GUEST
cat >"$TMP/t/crash.sh" <<'GUEST'
# Write, fsync, power off at once: no umount, no sync.
mkdir -p /data
mount -t ext4 /dev/xvdb /data || exit 1
dd if=/dev/urandom of=/tmp/src bs=1M count=4 2>/dev/null
echo "R md5 $(md5sum </tmp/src | cut -d' ' -f1)"
dd if=/tmp/src of=/data/crash.bin bs=1M conv=fsync 2>/dev/null || exit 2
pvisor-exit -n 0
poweroff -f -n
GUEST
cat >"$TMP/t/net.sh" <<'GUEST'
# $1: the host's HTTP port (at 10.0.2.2).  Then serves /srv/www on port 80
# until the host fetches /cgi-bin/stop (90 s at most).
udhcpc -i eth0 -n -q -t 5 -T 2 >/dev/null 2>&1
echo "R ip $(ip -4 -o addr show eth0 | sed -n 's/.* inet \([0-9.]*\).*/\1/p')"
wget -q -O /tmp/blob "http://10.0.2.2:$1/blob" && echo "R wget-md5 $(md5sum </tmp/blob | cut -d' ' -f1)"
mkdir -p /srv/www/cgi-bin
dd if=/dev/urandom of=/srv/www/gblob bs=1M count=2 2>/dev/null
printf '#!/bin/sh\ntouch /tmp/stop\nprintf "Content-Type: text/plain\\r\\n\\r\\nbye\\n"\n' >/srv/www/cgi-bin/stop
chmod 755 /srv/www/cgi-bin/stop
echo "R gblob-md5 $(md5sum </srv/www/gblob | cut -d' ' -f1)"
httpd -p 80 -h /srv/www && echo "R httpd-ready"
i=0
while [ ! -e /tmp/stop ] && [ $i -lt 90 ]; do sleep 1; i=$((i + 1)); done
exit 0
GUEST
cat >"$TMP/t/tap.sh" <<'GUEST'
# A static address on the test network; the server is 192.0.2.1:8080.
ip addr add 192.0.2.2/24 dev eth0
ip link set eth0 up
i=0
until wget -q -O /tmp/blob http://192.0.2.1:8080/blob 2>/dev/null || [ $i -ge 10 ]; do sleep 1; i=$((i + 1)); done
echo "R tap-md5 $(md5sum </tmp/blob | cut -d' ' -f1)"
GUEST
{ echo "mkdir /t"; for f in "$TMP"/t/*.sh; do echo "write $f /t/$(basename "$f")"; done; } >"$TMP/debugfs.cmd"
debugfs -w -f "$TMP/debugfs.cmd" "$TMP/root.img" >/dev/null 2>&1

# linux OUT ARGS... -- GUEST-SCRIPT ARGS: boots on kvm with the root disk
# first, chroots into it and runs /t/SCRIPT; returns pvisor's status.
linux() {
	local out=$1
	shift
	timeout -k 10 $((TIMEOUT + 30)) "$PVISOR" run --backend kvm --no-raw \
		--timeout "$TIMEOUT" --kernel "$KDIR/vmlinuz" --initrd "$INITRD" \
		--mem "$MEM" --cmdline "console=hvc0 quiet" --disk "$TMP/root.img" "$@" \
		</dev/null >"$out" 2>&1
}
guest_cmd() { echo "mount /dev/xvda /mnt && exec chroot /mnt /sbin/init sh /t/$*"; }
# r FILE KEY: the guest's "R KEY value" line's value.
r() { tr -d '\r' <"$1" | sed -n "s/^R $2 //p" | head -n 1; }
tailof() { tr -d '\r' <"$1" | grep -av '^$' | tail -n 4 | tr '\n' '|' | head -c 500; }
port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		ss -ltn "sport = :$p" 2>/dev/null | grep -q LISTEN || { echo $p; return; }
	done
}

# --- block: sizes, data on the host, read-only ---
truncate -s 64M "$TMP/data.img"
mkfs.ext4 -q -F "$TMP/data.img"
mkdir -p "$TMP/rotree"
echo "keep me" >"$TMP/rotree/keep.txt"
truncate -s 32M "$TMP/ro.img"
mkfs.ext4 -q -F -d "$TMP/rotree" "$TMP/ro.img"
ro_sum=$(sha256sum <"$TMP/ro.img")
word="pvisor-io-$$-$RANDOM"
o=$TMP/disk.out
linux "$o" --disk "$TMP/data.img" --disk "$TMP/ro.img,ro" -- "$(guest_cmd disk.sh "$word")"
rc=$?
s="$(r "$o" "size xvda")/$(r "$o" "size xvdb")/$(r "$o" "size xvdc")"
want="$(($(stat -c %s "$TMP/root.img") / 512))/131072/65536"
if [ $rc -eq 0 ] && [ "$s" = "$want" ]; then
	ok "linux io: sizes: xvda/xvdb/xvdc $s sectors"
else
	not_ok "linux io: sizes: got '$s', want '$want' (exit $rc): $(tailof "$o")"
fi
if e2fsck -fn "$TMP/data.img" >"$TMP/fsck.out" 2>&1; then ok "linux io: e2fsck clean: e2fsck -fn of the data image after the guest wrote it"
else not_ok "linux io: e2fsck clean: $(tail -n 3 "$TMP/fsck.out" | tr '\n' '|')"; fi
v=$(debugfs -R 'cat /hello.txt' "$TMP/data.img" 2>/dev/null)
check "linux io: file content on host: debugfs cat /hello.txt = '$v'" test "$v" = "$word"
v=$(debugfs -R 'cat /big.bin' "$TMP/data.img" 2>/dev/null | md5sum | cut -d' ' -f1)
check "linux io: 8 MiB file checksum on host ($v) = guest's ($(r "$o" md5))" test "$v" = "$(r "$o" md5)"

# --- power-off right after fsync ---
truncate -s 64M "$TMP/crash.img"
mkfs.ext4 -q -F "$TMP/crash.img"
o=$TMP/crash.out
linux "$o" --disk "$TMP/crash.img" -- "$(guest_cmd crash.sh)"
rc=$?
cp --sparse=always "$TMP/crash.img" "$TMP/crash2.img"
e2fsck -fy "$TMP/crash2.img" >"$TMP/fsck2.out" 2>&1	# replays the journal
fsck_rc=0
e2fsck -fn "$TMP/crash2.img" >>"$TMP/fsck2.out" 2>&1 || fsck_rc=$?
v=$(debugfs -R 'cat /crash.bin' "$TMP/crash2.img" 2>/dev/null | md5sum | cut -d' ' -f1)
if [ $rc -eq 0 ] && [ -n "$(r "$o" md5)" ] && [ "$v" = "$(r "$o" md5)" ] && [ $fsck_rc -eq 0 ]; then
	ok "linux io: power-off after fsync: 4 MiB file intact after journal replay ($v), e2fsck clean"
else
	not_ok "linux io: power-off after fsync (exit $rc, fsck $fsck_rc): host $v, guest $(r "$o" md5): $(tailof "$o")"
fi

# --- read-only disk ---
v=$(r "$TMP/disk.out" rw-mount)
check "linux io: read-only mount: rw mount of the ro disk is '$v' (sysfs ro=$(r "$TMP/disk.out" "ro xvdc"))" \
	test "$v" = refused -o "$v" = became-ro
v="$(r "$TMP/disk.out" ro-file-write)/$(r "$TMP/disk.out" ro-dev-write)"
check "linux io: read-only write refused: file/device writes '$v'" test "$v" = refused/refused
check "linux io: read-only image unchanged (and readable: '$(r "$TMP/disk.out" "ro-mount ok")')" \
	test "$(sha256sum <"$TMP/ro.img")" = "$ro_sum" -a "$(r "$TMP/disk.out" "ro-mount ok")" = "keep me"

# --- slirp: DHCP, guest -> host HTTP, host -> guest through hostfwd ---
mkdir -p "$TMP/www"
head -c 8M /dev/urandom >"$TMP/www/blob"
blob_md5=$(md5sum <"$TMP/www/blob" | cut -d' ' -f1)
wp=$(port)
python3 -m http.server --bind 127.0.0.1 --directory "$TMP/www" "$wp" >"$TMP/http.log" 2>&1 &
http_pid=$!
hp=$(port)
o=$TMP/net.out
linux "$o" --net "user,hostfwd=tcp:127.0.0.1:$hp-:80" -- "$(guest_cmd net.sh "$wp")" &
pv_pid=$!
got= stop=
for ((i = 0; i < TIMEOUT; i++)); do
	if grep -aq '^R httpd-ready' "$o" 2>/dev/null; then
		got=$(curl -s --max-time 30 "http://127.0.0.1:$hp/gblob" | md5sum | cut -d' ' -f1)
		stop=$(curl -s --max-time 10 "http://127.0.0.1:$hp/cgi-bin/stop")
		break
	fi
	kill -0 $pv_pid 2>/dev/null || break
	sleep 1
done
wait $pv_pid
rc=$?
kill $http_pid 2>/dev/null
wait $http_pid 2>/dev/null
v=$(r "$o" ip)
check "linux io: dhcp: udhcpc got '$v' from slirp" test "$v" = 10.0.2.15
v=$(r "$o" wget-md5)
check "linux io: wget from host: 8 MiB from 10.0.2.2:$wp, md5 '$v'" test "$v" = "$blob_md5"
if [ -n "$got" ] && [ "$got" = "$(r "$o" gblob-md5)" ] && [ "$stop" = bye ] && [ $rc -eq 0 ]; then
	ok "linux io: hostfwd to guest httpd: 2 MiB through 127.0.0.1:$hp, md5 $got"
else
	not_ok "linux io: hostfwd to guest httpd (exit $rc): host md5 '$got', guest '$(r "$o" gblob-md5)', stop '$stop': $(tailof "$o")"
fi

# --- TAP in a network namespace; the server in another ---
tap_why=
[ "$(id -u)" = 0 ] || tap_why="needs root (ip netns)"
[ -n "$tap_why" ] || { tap_why=$(host_lacks tap) && [ -z "$tap_why" ]; } ||
	tap_why="no TAP here (pvisor host --query tap): $tap_why"
[ -n "$tap_why" ] || command -v ip >/dev/null 2>&1 || tap_why="no ip(8)"
if [ -n "$tap_why" ]; then
	skip "linux io: tap in netns" "$tap_why"
else
	ng=pvio_g_$$ ns=pvio_s_$$
	netns_cleanup() { ip netns del "$ng" 2>/dev/null; ip netns del "$ns" 2>/dev/null; }
	trap 'netns_cleanup; rm -rf "$TMP"' EXIT
	if ip netns add "$ng" && ip netns add "$ns" &&
		ip -n "$ng" link add pvbr0 type bridge &&
		ip -n "$ng" tuntap add pvtap0 mode tap &&
		ip -n "$ng" link add pvveth0 type veth peer name pvveth1 netns "$ns" &&
		ip -n "$ng" link set pvtap0 master pvbr0 &&
		ip -n "$ng" link set pvveth0 master pvbr0 &&
		ip -n "$ng" link set pvbr0 up && ip -n "$ng" link set pvtap0 up &&
		ip -n "$ng" link set pvveth0 up && ip -n "$ns" link set lo up &&
		ip -n "$ns" addr add 192.0.2.1/24 dev pvveth1 && ip -n "$ns" link set pvveth1 up; then
		ip netns exec "$ns" python3 -m http.server --bind 192.0.2.1 --directory "$TMP/www" 8080 \
			>"$TMP/http2.log" 2>&1 &
		http_pid=$!
		o=$TMP/tap.out
		timeout -k 10 $((TIMEOUT + 30)) ip netns exec "$ng" "$PVISOR" run --backend kvm --no-raw \
			--timeout "$TIMEOUT" --kernel "$KDIR/vmlinuz" --initrd "$INITRD" \
			--mem "$MEM" --cmdline "console=hvc0 quiet" --disk "$TMP/root.img" \
			--net tap,ifname=pvtap0 -- "$(guest_cmd tap.sh)" </dev/null >"$o" 2>&1
		rc=$?
		kill $http_pid 2>/dev/null
		wait $http_pid 2>/dev/null
		v=$(r "$o" tap-md5)
		if [ $rc -eq 0 ] && [ "$v" = "$blob_md5" ]; then
			ok "linux io: tap in netns: guest 192.0.2.2 on a TAP in $ng fetched 8 MiB from 192.0.2.1 in $ns, md5 ok"
		else
			not_ok "linux io: tap in netns (exit $rc): md5 '$v': $(tailof "$o")"
		fi
	else
		not_ok "linux io: tap in netns: could not set up the namespaces"
	fi
	netns_cleanup
fi
