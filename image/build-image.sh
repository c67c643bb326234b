#!/bin/bash
# Build the Rexian appliance disk image (run as root; no docker, no loop
# devices, no mounts: mmdebstrap, mkfs.ext4 -d, mkfs.vfat + mtools, sfdisk, dd).
#
#   image/build-image.sh [--test] [--out DIR] [--app-src DIR] [--version V]
#                        [--reuse-rootfs] [--no-bundle]
#
#   --test          test variant: adds image/test-overlay (rexian-testagent) and
#                   the kernel argument rexian.test=1; default out build/image-test
#   --out DIR       output directory (default build/image)
#   --app-src DIR   appliance source tree to install (default: this repository
#                   as it is now, without tests/ image/ systemd/ docs/ ...;
#                   its rendered build/prompts/demo goes to /opt/rexian/prompts/demo)
#   --version V     image version (default: pyproject version + UTC timestamp)
#   --reuse-rootfs  keep an existing OUT/rootfs (skip mmdebstrap)
#   --no-bundle     do not make OUT/update.raucb
#
# Signing: REXIAN_SIGN_CERT, REXIAN_SIGN_KEY, REXIAN_KEYRING; default is the
# development PKI in build/ca (made by image/ca/mkca.sh when missing).
#
# Outputs in OUT: rootfs/ (tree), rootfs.ext4 (slot image), esp.vfat, data.ext4,
# disk.img (factory flash: GPT esp | rootfs-A | rootfs-B | data), update.raucb,
# manifest.txt (dpkg-query -W + pip freeze), SHA256SUMS, times.txt.
#
# The appliance goes into /opt/rexian/.venv: a venv made with Debian's
# python3.11 in the chroot and `pip install` of the source tree from PyPI
# (the pinned versions in pyproject.toml are newer than bookworm's python3-*
# packages, e.g. gevent>=24.2 vs 22.10). The cffi extension is compiled in the
# chroot against the image's own libraries; the compilers and -dev packages
# (image/build-deps.txt) are purged afterwards.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

test_variant=0 out="" app_src=$repo version="" reuse=0 bundle=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --test) test_variant=1 ;;
        --out) out=$2; shift ;;
        --app-src) app_src=$2; shift ;;
        --version) version=$2; shift ;;
        --reuse-rootfs) reuse=1 ;;
        --no-bundle) bundle=0 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[[ -n $out ]] || { if ((test_variant)); then out=$repo/build/image-test; else out=$repo/build/image; fi; }
app_src=$(cd "$app_src" && pwd)

die() { echo "build-image: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "must run as root (mmdebstrap --mode=root)"
for tool in mmdebstrap mkfs.ext4 mkfs.vfat mmd mcopy sfdisk grub-mkimage grub-editenv rauc openssl; do
    command -v "$tool" >/dev/null || die "missing tool '$tool' (apt-get install mmdebstrap e2fsprogs dosfstools mtools fdisk grub-efi-amd64-bin grub-common rauc squashfs-tools openssl)"
done
[[ -d /usr/lib/grub/x86_64-efi ]] || die "missing /usr/lib/grub/x86_64-efi (apt-get install grub-efi-amd64-bin)"
[[ -f $app_src/pyproject.toml || -f $app_src/setup.py ]] || die "$app_src has no pyproject.toml/setup.py"

if [[ -z $version ]]; then
    base=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$app_src/pyproject.toml" 2>/dev/null | head -1)
    version="${base:-0}+$(date -u +%Y%m%d%H%M%S)"
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
times=$out/times.txt
: > "$times"
t0=$SECONDS
step() { echo "== build-image: $*"; }
took() { echo "$1 $(( SECONDS - $2 ))s" | tee -a "$times"; }

# ---- signing material -------------------------------------------------------
if [[ -z ${REXIAN_KEYRING:-} ]]; then
    "$here/ca/mkca.sh" "$repo/build/ca" >/dev/null
    export REXIAN_KEYRING=$repo/build/ca/ca.cert.pem
    export REXIAN_SIGN_CERT=$repo/build/ca/signer.cert.pem
    export REXIAN_SIGN_KEY=$repo/build/ca/signer.key.pem
fi

# ---- staging tree (copied over the rootfs by mmdebstrap) -------------------
stage=$out/stage
rm -rf "$stage"
mkdir -p "$stage"
cp -a "$here/overlay/." "$stage/"
((test_variant)) && cp -a "$here/test-overlay/." "$stage/"
install -d "$stage/usr/lib/systemd/system" "$stage/usr/lib/sysusers.d" "$stage/usr/lib/tmpfiles.d" "$stage/usr/src/rexian"
install -m 644 "$repo"/systemd/*.service "$repo"/systemd/*.mount "$stage/usr/lib/systemd/system/"
install -m 644 "$repo/systemd/rexian.sysusers" "$stage/usr/lib/sysusers.d/rexian.conf"
install -m 644 "$repo/systemd/rexian.tmpfiles" "$stage/usr/lib/tmpfiles.d/rexian.conf"
install -m 644 "$REXIAN_KEYRING" "$stage/etc/rauc/keyring.pem"
printf 'REXIAN_VERSION=%s\nREXIAN_VARIANT=%s\n' "$version" "$( ((test_variant)) && echo test || echo production)" \
    > "$stage/etc/rexian-release"
# The appliance source as it is now: in a git work tree the tracked and
# untracked-but-not-ignored files (.gitignore applies: no .venv, build/, *.so);
# the platform, test and doc trees are left out. Elsewhere, everything but caches.
if git -C "$app_src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$app_src" && git ls-files -co --exclude-standard -z . \
        | grep -zvE '^(tests|image|systemd|hwtest|bench|docs|\.ci|build)/' \
        | tar --null -T - -cf -) | tar -C "$stage/usr/src/rexian" -xf -
else
    tar -C "$app_src" --exclude=.git --exclude=.venv --exclude=./build --exclude=./var \
        --exclude=__pycache__ --exclude='*.so' --exclude='*.o' --exclude='*.egg-info' -cf - . \
        | tar -C "$stage/usr/src/rexian" -xf -
fi

# Rendered prompt sets (./build.sh prompts makes build/prompts/demo on the host;
# rendering needs espeak-ng and sox, which the image does not carry).
if [[ -f $app_src/build/prompts/demo/manifest.json ]]; then
    install -d "$stage/opt/rexian/prompts"
    cp -a "$app_src/build/prompts/demo" "$stage/opt/rexian/prompts/demo"
else
    echo "build-image: WARNING: no $app_src/build/prompts/demo (run ./build.sh prompts): the image has no prompts" >&2
fi

# ---- root filesystem --------------------------------------------------------
rootfs=$out/rootfs
if ((reuse)) && [[ -x $rootfs/opt/rexian/.venv/bin/rexian ]]; then
    step "reusing $rootfs"
else
    step "rootfs (mmdebstrap bookworm)"
    t=$SECONDS
    rm -rf "$rootfs"
    pkgs=$(grep -hv '^\s*\(#\|$\)' "$here/packages.txt" "$here/build-deps.txt" | tr -s ' \n' ',' | sed 's/,$//')
    # libopenr2-3 -> dahdi -> dahdi-linux needs "dahdi-dkms | dahdi-source";
    # dahdi-dkms would leave dkms and gcc in the image. This local package
    # provides dahdi-dkms instead: the DAHDI kernel modules for real boards are
    # NOT in the image yet (to build them against the image kernel: a known gap).
    kmod=$out/debs/rexian-dahdi-kmod-external
    rm -rf "$out/debs"
    mkdir -p "$kmod/DEBIAN"
    cat > "$kmod/DEBIAN/control" <<CTL
Package: rexian-dahdi-kmod-external
Version: 1.0
Architecture: all
Maintainer: Rexian platform <platform@rexian.invalid>
Provides: dahdi-dkms
Description: stands in for dahdi-dkms in the Rexian image
 The DAHDI kernel modules are provided outside the Debian dkms package,
 so that no compiler ends up on the appliance.
CTL
    dpkg-deb --root-owner-group -Zxz --build "$kmod" "$out/debs/rexian-dahdi-kmod-external.deb" >/dev/null
    mirror=${REXIAN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
    secmirror=${REXIAN_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
    REXIAN_TEST=$test_variant REXIAN_BUILD_DEPS="$(grep -hv '^\s*\(#\|$\)' "$here/build-deps.txt" | tr '\n' ' ')" \
    mmdebstrap --mode=root --variant=minbase --include="$pkgs" \
        --include="$out/debs/rexian-dahdi-kmod-external.deb" \
        --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
        --aptopt='Acquire::Retries "3"' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --customize-hook="sync-in '$stage' /" \
        --customize-hook="'$here/customize-rootfs.sh' \"\$1\"" \
        bookworm "$rootfs" \
        "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
        "deb $secmirror bookworm-security main"
    took rootfs $t
fi
# mmdebstrap leaves /proc mounted if a process in the chroot still held it
# when it tried to unmount; mkfs.ext4 -d would copy it. Unmount or stop.
for _ in 1 2 3 4 5 6 7 8 9 10; do
    mapfile -t left < <(findmnt -rn -o TARGET | grep -F "$rootfs/" | sort -r)
    ((${#left[@]} == 0)) && break
    umount "${left[@]}" 2>/dev/null || sleep 1
done
((${#left[@]} == 0)) || die "still mounted in the rootfs: ${left[*]}"
cp "$rootfs/usr/share/rexian/manifest.txt" "$out/manifest.txt"

# ---- slot image -------------------------------------------------------------
step "rootfs.ext4"
t=$SECONDS
size_mb=$(( $(du -smx "$rootfs" | cut -f1) * 125 / 100 + 64 ))
rm -f "$out/rootfs.ext4"
mkfs.ext4 -q -F -L rootfs -m 0 -E root_owner=0:0 -d "$rootfs" "$out/rootfs.ext4" "${size_mb}M"
took rootfs.ext4 $t

# ---- ESP --------------------------------------------------------------------
step "esp.vfat"
t=$SECONDS
espdir=$out/esp
rm -rf "$espdir" "$out/esp.vfat"
mkdir -p "$espdir"
grub-mkimage -O x86_64-efi -p /EFI/BOOT -o "$espdir/BOOTX64.EFI" \
    part_gpt fat ext2 normal linux echo test loadenv regexp search search_label \
    search_fs_uuid configfile serial terminal cat ls sleep reboot halt gzio
extra=""
((test_variant)) && extra="rexian.test=1"
"$here/mkgrubcfg.sh" "$extra" > "$espdir/grub.cfg"
grub-script-check "$espdir/grub.cfg"
grub-editenv "$espdir/grubenv" create
grub-editenv "$espdir/grubenv" set ORDER="A B" A_OK=1 A_TRY=0 B_OK=1 B_TRY=0
mkfs.vfat -C -n ESP -F 32 "$out/esp.vfat" 131072 >/dev/null
mmd -i "$out/esp.vfat" ::/EFI ::/EFI/BOOT
mcopy -i "$out/esp.vfat" "$espdir/BOOTX64.EFI" "$espdir/grub.cfg" "$espdir/grubenv" ::/EFI/BOOT/
took esp $t

# ---- data partition ---------------------------------------------------------
step "data.ext4"
t=$SECONDS
datadir=$out/datadir
rm -rf "$datadir" "$out/data.ext4"
mkdir -p "$datadir/overlay/var/upper" "$datadir/overlay/var/work" "$datadir/rauc"
chmod 750 "$datadir/rauc"
mkfs.ext4 -q -F -L data -m 1 -E root_owner=0:0 -d "$datadir" "$out/data.ext4" 1024M
took data $t

# ---- disk image -------------------------------------------------------------
step "disk.img"
t=$SECONDS
MiB=$((1024 * 1024))
esp_mb=128 slot_mb=1536 data_mb=1024
(( size_mb <= slot_mb )) || die "rootfs.ext4 (${size_mb}M) does not fit a ${slot_mb}M slot"
esp_off=1 a_off=$((1 + esp_mb)) b_off=$((1 + esp_mb + slot_mb)) d_off=$((1 + esp_mb + 2 * slot_mb))
total_mb=$((d_off + data_mb + 1))
rm -f "$out/disk.img"
truncate -s $((total_mb * MiB)) "$out/disk.img"
uuid_a=$("$here/mkgrubcfg.sh" | sed -n 's/.*root=PARTUUID=\([^ ]*\) rauc.slot=A.*/\1/p')
uuid_b=$("$here/mkgrubcfg.sh" | sed -n 's/.*root=PARTUUID=\([^ ]*\) rauc.slot=B.*/\1/p')
sfdisk -q "$out/disk.img" <<SF
label: gpt
label-id: 6C3A1D52-7A0E-4C1B-9F4E-000000000D15
unit: sectors
first-lba: 2048
start=$((esp_off * 2048)), size=$((esp_mb * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=6C3A1D52-7A0E-4C1B-9F4E-0000000000E5, name=esp
start=$((a_off * 2048)), size=$((slot_mb * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=${uuid_a}, name=rootfs-A
start=$((b_off * 2048)), size=$((slot_mb * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=${uuid_b}, name=rootfs-B
start=$((d_off * 2048)), size=$((data_mb * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=6C3A1D52-7A0E-4C1B-9F4E-0000000000DA, name=data
SF
dd if="$out/esp.vfat" of="$out/disk.img" bs=1M seek=$esp_off conv=notrunc,sparse status=none
dd if="$out/rootfs.ext4" of="$out/disk.img" bs=1M seek=$a_off conv=notrunc,sparse status=none
dd if="$out/rootfs.ext4" of="$out/disk.img" bs=1M seek=$b_off conv=notrunc,sparse status=none
dd if="$out/data.ext4" of="$out/disk.img" bs=1M seek=$d_off conv=notrunc,sparse status=none
took disk $t

# ---- update bundle ----------------------------------------------------------
if ((bundle)); then
    step "update.raucb"
    t=$SECONDS
    "$here/bundle.sh" --version "$version" "$out/rootfs.ext4" "$out/update.raucb"
    took bundle $t
fi

sums=(disk.img rootfs.ext4)
((bundle)) && sums+=(update.raucb)
(cd "$out" && sha256sum "${sums[@]}" > SHA256SUMS)
took total $t0
echo "build-image: version $version -> $out"
