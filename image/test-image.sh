#!/bin/bash
# Tier-2 image test: build (or reuse) the TEST variant of the image, boot it in
# QEMU (KVM if it really works, else TCG) and drive an A/B update scenario
# from a second disk. Needs root, qemu-system-x86, ovmf and the build tools.
#
#   image/test-image.sh [--reuse] [--app-src DIR] [--timeout SEC] [--keep]
#
#   --reuse        reuse build/image-test if it has a disk.img (else build it)
#   --app-src DIR  appliance source tree for the build (default: this repo)
#   --timeout SEC  limit for the whole QEMU run (default 1500)
#   --keep         keep the run directory's disk copies (default: deleted)
#   --log-only     do not boot: judge the serial log of the last run again
#
# Scenario (one QEMU run, four boots; serial console -> run/serial.log):
#   boot 1, slot A (factory image): rexian.service READY, / read-only, /var
#          overlay, firewall loaded, slot marked good; a rogue-signed bundle
#          and a tampered bundle are refused; a BROKEN bundle (rexian.service
#          fails) is installed into B; reboot
#   boot 2, slot B (broken): rexian crash-loops, StartLimitAction=reboot
#   boot 3, slot A again (GRUB fallback): RAUC reports B bad; the GOOD update
#          bundle (version test-2) is installed into B; reboot
#   boot 4, slot B: version test-2, rexian READY, slot B marked good; the
#          service is frozen (SIGSTOP) and the watchdog must restart it; poweroff
# Host side first: `rauc info` accepts the good bundle and refuses the rogue
# one; `rauc extract` refuses the tampered one.
# Prints "image-test: N passed, N failed"; exit 1 on any failure.
# ok()/bad() always succeed, so "cond && ok || bad" is a safe if/else here.
# shellcheck disable=SC2015
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
reuse=0 app_src=$repo limit=1500 keep=0 log_only=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --reuse) reuse=1 ;;
        --log-only) log_only=1 ;;
        --app-src) app_src=$2; shift ;;
        --timeout) limit=$2; shift ;;
        --keep) keep=1 ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) echo "test-image: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
die() { echo "test-image: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "must run as root"
for t in qemu-system-x86_64 rauc mkfs.ext4 python3; do
    command -v "$t" >/dev/null || die "missing tool '$t' (apt-get install qemu-system-x86 ovmf rauc e2fsprogs)"
done
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd
[[ -f $ovmf_code ]] || die "missing $ovmf_code (apt-get install ovmf)"

img=$repo/build/image-test
run=$img/run
passed=0 failed=0
ok()   { echo "PASS: $*"; passed=$((passed + 1)); }
bad()  { echo "FAIL: $*"; failed=$((failed + 1)); }
t0=$SECONDS

# ---- verdict from the serial log ---------------------------------------------------
verdict() {
    log=$run/serial.log
    while IFS= read -r l; do ok "guest ${l#*PASS }"; done < <(grep -a 'REXTEST PASS ' "$log" | sed 's/^ *[0-9.]* //')
    while IFS= read -r l; do bad "guest ${l#*FAIL }"; done < <(grep -a 'REXTEST FAIL ' "$log" | sed 's/^ *[0-9.]* //')
    for p in 1 2 3 4; do
        grep -aq "REXTEST PHASE $p " "$log" && ok "phase $p ran" || bad "phase $p did not run"
    done
    grep -aq 'REXTEST DONE' "$log" && ok "scenario finished" || bad "scenario did not finish"
    grep -aq "Failed to start.*[Rr]exian\|rexian.service: Start request repeated too quickly" "$log" \
        && ok "broken release: start limit hit (serial log)" || bad "broken release: no start-limit failure seen"

    # Timings (host clock): boot n starts at QEMU start or after the previous reboot.
    python3 - "$log" <<'PY' | tee "$run/timings.txt"
import re, sys
boots, cur = [], None
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.match(r"\s*([0-9.]+) (.*)", line)
    if not m:
        continue
    t, text = float(m.group(1)), m.group(2)
    if cur is None or re.search(r"reboot: Restarting system", text):
        cur = {"start": t if cur is not None else 0.0}
        boots.append(cur)
    for key, pat in (("grub", r"Rexian slot [AB]"), ("kernel", r"Linux version"),
                     ("ready", r"Started rexian\.service|Started .*Rexian call-center"),
                     ("multiuser", r"(?i)Reached target .*multi-user"),
                     ("phase", r"REXTEST PHASE \d")):
        if key not in cur and re.search(pat, text):
            cur[key] = t
    m2 = re.search(r"FACT install (\S+) rc=(\d+) in (\d+)s", text)
    if m2:
        cur.setdefault("installs", []).append(f"{m2.group(1)} rc={m2.group(2)} {m2.group(3)}s")
for i, b in enumerate(boots, 1):
    rel = {k: round(v - b["start"], 1) for k, v in b.items() if isinstance(v, float) and k != "start"}
    print(f"boot {i}: start {b['start']:.1f}s; since boot start: {rel}; installs: {b.get('installs', [])}")
PY
}

if ((log_only)); then
    verdict
    echo "image-test: $passed passed, $failed failed"
    ((failed == 0))
    exit
fi

# ---- image ------------------------------------------------------------------
if ((reuse)) && [[ -f $img/disk.img && -f $img/update.raucb ]]; then
    echo "== test-image: reusing $img"
else
    "$here/build-image.sh" --test --app-src "$app_src" --version test-1
fi
ca=$repo/build/ca
export REXIAN_KEYRING=$ca/ca.cert.pem REXIAN_SIGN_CERT=$ca/signer.cert.pem REXIAN_SIGN_KEY=$ca/signer.key.pem
rm -rf "$run"
mkdir -p "$run/testdisk"

# ---- test bundles -------------------------------------------------------------
# Variants of the test rootfs share its files by hard links; only new files differ.
variant() {  # name version [broken]
    local d=$run/rootfs-$1
    cp -al "$img/rootfs" "$d"
    rm -f "$d/etc/rexian-release"
    printf 'REXIAN_VERSION=%s\nREXIAN_VARIANT=test\n' "$2" > "$d/etc/rexian-release"
    if [[ ${3:-} == broken ]]; then
        mkdir -p "$d/etc/systemd/system/rexian.service.d"
        printf '[Service]\nExecStart=\nExecStart=/bin/false\n' > "$d/etc/systemd/system/rexian.service.d/broken.conf"
    fi
    local mb=$(( $(du -sm "$d" | cut -f1) * 125 / 100 + 64 ))
    mkfs.ext4 -q -F -L rootfs -m 0 -E root_owner=0:0 -d "$d" "$run/$1.ext4" "${mb}M"
    rm -rf "$d"
    "$here/bundle.sh" --level 3 --version "$2" "$run/$1.ext4" "$run/testdisk/$1.raucb"
    rm -f "$run/$1.ext4"
}
t=$SECONDS
variant good test-2
variant broken test-broken broken
# Rogue: the good bundle re-signed by a signer the device does not trust.
rauc resign --no-verify --keyring="$REXIAN_KEYRING" --signing-keyring="$ca/rogue.cert.pem" \
    --cert="$ca/rogue.cert.pem" --key="$ca/rogue.key.pem" \
    "$run/testdisk/good.raucb" "$run/testdisk/rogue.raucb" >/dev/null 2>&1 \
    || die "rauc resign failed"
# Tampered: one payload byte flipped in the middle of the good bundle.
cp "$run/testdisk/good.raucb" "$run/testdisk/tampered.raucb"
python3 - "$run/testdisk/tampered.raucb" <<'PY'
import os, sys
p = sys.argv[1]
off = os.path.getsize(p) // 2
with open(p, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0xFF]))
PY
echo "bundles $((SECONDS - t))s"

# ---- host-side bundle checks ----------------------------------------------------
if rauc info --keyring="$REXIAN_KEYRING" "$run/testdisk/good.raucb" >/dev/null 2>&1; then
    ok "host: rauc info accepts the good bundle"; else bad "host: rauc info refuses the good bundle"; fi
if rauc info --keyring="$REXIAN_KEYRING" "$run/testdisk/rogue.raucb" >"$run/rogue-info.log" 2>&1; then
    bad "host: rauc info accepts the rogue-signed bundle"
else ok "host: rogue-signed bundle refused ($(grep -o 'signature verification failed.*' "$run/rogue-info.log" | head -1))"; fi
if rauc extract --keyring="$REXIAN_KEYRING" "$run/testdisk/tampered.raucb" "$run/extract" >"$run/tampered-extract.log" 2>&1; then
    bad "host: rauc extract accepts the tampered bundle"
else ok "host: tampered bundle refused ($(grep -o 'bundle payload is corrupted\|Verification failed[^:]*' "$run/tampered-extract.log" | head -1))"; fi
rm -rf "$run/extract"

# ---- the in-guest scenario --------------------------------------------------------
cat > "$run/testdisk/run.sh" <<'GUEST'
#!/bin/bash
# Runs in the guest (rexian-testagent.service), once per boot.
set -u
T=/run/rexian-test
state=/data/rexian-test
mkdir -p "$state"
phase=$(cat "$state/phase" 2>/dev/null || echo 1)
echo $((phase + 1)) > "$state/phase"; sync
[[ -s /data/rexian-test/machine-id ]] || cat /etc/machine-id > /data/rexian-test/machine-id
say()  { echo "REXTEST $*"; }
pass() { say "PASS phase$phase: $*"; }
fail() { say "FAIL phase$phase: $*"; }
check() {  # description, then the command
    local d=$1; shift
    if "$@" >/dev/null 2>&1; then pass "$d"; else fail "$d"; fi
}
slot=$(sed -n 's/.*rauc\.slot=\([AB]\).*/\1/p' /proc/cmdline)
. /etc/rexian-release
say "PHASE $phase slot=$slot version=$REXIAN_VERSION"
# Let rexian.service settle: active (READY=1 received) or failed, up to 120 s.
for _ in $(seq 1 120); do
    st=$(systemctl is-active rexian)
    [[ $st == active || $st == failed ]] && break
    sleep 1
done
facts() {
    say "FACT root: $(findmnt -no SOURCE,FSTYPE,OPTIONS /)"
    say "FACT var: $(findmnt -no FSTYPE /var)"
    say "FACT rexian: $(systemctl show rexian -p ActiveState -p SubState -p NRestarts | tr '\n' ' ')"
    say "FACT mark-good: $(systemctl is-active rexian-mark-good)"
    say "FACT grubenv: $(grub-editenv /boot/efi/EFI/BOOT/grubenv list | tr '\n' ' ')"
    say "FACT machine-id: $(cat /etc/machine-id)"
    say "FACT startup: $(systemd-analyze time 2>/dev/null | head -1)"
    local ready
    ready=$(systemctl show rexian -p ActiveEnterTimestampMonotonic --value)
    say "FACT rexian READY at ${ready:-?} us monotonic (guest)"
    rauc status 2>&1 | sed 's/^/REXTEST RAUC /'
    journalctl -b -u rexian --no-pager -o cat 2>&1 | tail -8 | sed 's/^/REXTEST LOG /'
    say "FACT security: $(systemd-analyze security --no-pager rexian.service 2>&1 | grep -a 'Overall exposure')"
}
expect_good_boot() {  # slot version
    check "booted slot $1" test "$slot" = "$1"
    check "version $2" test "$REXIAN_VERSION" = "$2"
    check "rexian.service active (READY received)" systemctl is-active rexian
    check "/ is mounted read-only" sh -c 'findmnt -no OPTIONS / | grep -qE "(^|,)ro(,|$)"'
    check "writing / fails" sh -c '! touch /rexian-rw-probe 2>/dev/null'
    check "/var is the overlay on /data" sh -c 'test "$(findmnt -no FSTYPE /var)" = overlay'
    check "/data is writable" touch /data/rexian-test/w
    check "nftables default-deny loaded" sh -c 'nft list chain inet rexian input | grep -q "policy drop"'
    check "site subnets loaded into the firewall" sh -c 'nft list set inet rexian web_v4 | grep -q 192.168.0.0/16'
    check "rexian-mark-good ran" systemctl is-active rexian-mark-good
    check "root account locked" sh -c 'passwd -S root | grep -q " L "'
    check "per-device SSH host key on /data" test -s /data/ssh/ssh_host_ed25519_key
    check "MACHINE_ID stored in grubenv" sh -c 'grub-editenv /boot/efi/EFI/BOOT/grubenv list | grep -q "^MACHINE_ID=$(cat /etc/machine-id)$"'
    check "service runs as user rexian" sh -c 'test "$(ps -o user= -p "$(systemctl show rexian -p MainPID --value)")" = rexian'
}
install_expect() {  # bundle, expect ok|fail
    local b=$1 want=$2 out rc
    say "installing $b (expect $want)"
    local t=$SECONDS
    out=$(rauc install "$T/$b" 2>&1); rc=$?
    echo "$out" | tail -5 | sed 's/^/REXTEST RAUC /'
    say "FACT install $b rc=$rc in $((SECONDS - t))s"
    if [[ $want == ok ]]; then
        [[ $rc == 0 ]] && pass "install $b succeeds" || fail "install $b succeeds"
    else
        [[ $rc != 0 ]] && pass "install $b refused" || fail "install $b refused"
    fi
}
case $phase in
1)
    facts
    expect_good_boot A test-1
    check "rexian-mark-good set A good (A_TRY=0)" sh -c 'grub-editenv /boot/efi/EFI/BOOT/grubenv list | grep -q "^A_TRY=0$"'
    install_expect rogue.raucb fail
    install_expect tampered.raucb fail
    install_expect broken.raucb ok
    check "rexian kept running through the installs (watchdog pings, no restart)" \
        sh -c 'test "$(systemctl show rexian -p NRestarts --value)" = 0 && systemctl is-active rexian'
    say "FACT grubenv after install: $(grub-editenv /boot/efi/EFI/BOOT/grubenv list | tr '\n' ' ')"
    say "REBOOT into the broken slot"
    systemctl reboot
    ;;
2)
    # The broken release: rexian.service fails; StartLimitAction=reboot must
    # reboot the box by itself. Give it 240 s.
    say "FACT rexian: $(systemctl show rexian -p ActiveState -p Result -p NRestarts | tr '\n' ' ')"
    check "booted the newly installed slot B" test "$slot" = B
    check "version test-broken" test "$REXIAN_VERSION" = test-broken
    sleep 240
    fail "no reboot by StartLimitAction within 240 s"
    systemctl poweroff
    ;;
3)
    facts
    expect_good_boot A test-1
    check "RAUC reports slot B bad" sh -c 'rauc status --detailed 2>/dev/null | sed "s/\x1b\[[0-9;]*m//g" | grep -A3 "\[rootfs.1\]" | grep -q "boot status: bad"'
    check "grubenv B_TRY=1 (B never confirmed)" sh -c 'grub-editenv /boot/efi/EFI/BOOT/grubenv list | grep -q "^B_TRY=1$"'
    check "machine-id stable across boots" test "$(cat /etc/machine-id)" = "$(cat /data/rexian-test/machine-id)"
    install_expect good.raucb ok
    say "REBOOT into the update"
    systemctl reboot
    ;;
4)
    facts
    expect_good_boot B test-2
    check "machine-id stable across slots" test "$(cat /etc/machine-id)" = "$(cat /data/rexian-test/machine-id)"
    check "ORDER starts with B" sh -c 'grub-editenv /boot/efi/EFI/BOOT/grubenv list | grep -q "^ORDER=B A$"'
    # Watchdog: freeze the service; systemd must kill and restart it (WatchdogSec=10).
    pid=$(systemctl show rexian -p MainPID --value)
    say "freezing rexian (pid $pid) to trigger the watchdog"
    kill -STOP "$pid"
    for _ in $(seq 1 90); do
        [[ $(systemctl show rexian -p NRestarts --value) -ge 1 && $(systemctl is-active rexian) == active ]] && break
        sleep 1
    done
    say "FACT rexian after freeze: $(systemctl show rexian -p NRestarts -p ActiveState -p MainPID | tr '\n' ' ')"
    check "watchdog restarted the frozen service" sh -c 'test "$(systemctl show rexian -p NRestarts --value)" -ge 1 && systemctl is-active rexian'
    check "journal shows the watchdog timeout" sh -c 'journalctl -b -u rexian --no-pager | grep -q "Watchdog timeout"'
    say "DONE"
    systemctl poweroff
    ;;
*)
    say "DONE (phase $phase: nothing to do)"
    systemctl poweroff
    ;;
esac
GUEST
chmod 755 "$run/testdisk/run.sh"
t=$SECONDS
tsz=$(( $(du -sm "$run/testdisk" | cut -f1) + 64 ))
mkfs.ext4 -q -F -L REXTEST -m 0 -d "$run/testdisk" "$run/testdisk.ext4" "${tsz}M"
rm -rf "$run/testdisk"
cp --sparse=always "$img/disk.img" "$run/disk.img"
cp "$ovmf_vars" "$run/vars.fd"
echo "test disks $((SECONDS - t))s"

# ---- accelerator: KVM only if a guest really runs under it --------------------
accel=tcg
if [[ -w /dev/kvm ]] && grep -qE '\b(vmx|svm)\b' /proc/cpuinfo; then
    kerns=("$img"/rootfs/boot/vmlinuz-*)
    kern=${kerns[0]}
    if timeout 20 qemu-system-x86_64 -accel kvm -m 256 -display none -nic none -no-reboot \
        -serial stdio -kernel "$kern" -append "console=ttyS0 panic=-1" </dev/null 2>/dev/null \
        | grep -q -m1 "Linux version"; then
        accel=kvm
    fi
fi
echo "accelerator: $accel"
# shellcheck disable=SC2054  # "tcg,thread=multi" is one qemu argument
if [[ $accel == kvm ]]; then accel_args=(-accel kvm -cpu host); else accel_args=(-accel tcg,thread=multi -cpu max); fi

# ---- boot -----------------------------------------------------------------------
echo "== test-image: QEMU ($accel), serial log $run/serial.log (limit ${limit}s)"
t=$SECONDS
set +e
timeout "$limit" qemu-system-x86_64 -machine q35 "${accel_args[@]}" -smp 2 -m 2048 \
    -display none -nic none -no-user-config \
    -serial mon:stdio -serial "file:$run/ttyS1.log" \
    -drive if=pflash,format=raw,unit=0,readonly=on,file="$ovmf_code" \
    -drive if=pflash,format=raw,unit=1,file="$run/vars.fd" \
    -drive file="$run/disk.img",if=virtio,format=raw,cache=unsafe \
    -drive file="$run/testdisk.ext4",if=virtio,format=raw,cache=unsafe,readonly=on \
    </dev/null 2>"$run/qemu.err" | python3 -u -c '
import sys, time
t0 = time.monotonic()
for line in sys.stdin.buffer:
    sys.stdout.write("%8.2f %s" % (time.monotonic() - t0, line.decode("utf-8", "replace").replace("\r", "")))
    sys.stdout.flush()
' > "$run/serial.log"
qrc=${PIPESTATUS[0]}
set -e
echo "qemu exit $qrc after $((SECONDS - t))s"
[[ $qrc == 0 ]] && ok "qemu powered off by itself" || bad "qemu did not power off by itself (rc $qrc)"
verdict

if ((keep == 0)); then rm -f "$run/disk.img" "$run/testdisk.ext4"; fi
echo "image-test: total $((SECONDS - t0))s"
echo "image-test: $passed passed, $failed failed"
((failed == 0))
