#!/bin/bash
# Make a signed RAUC update bundle (verity format) from a root slot image.
#
#   image/bundle.sh [--version V] [--compatible C] [--level N] [--check-payload]
#                   ROOTFS_EXT4 OUT.raucb
#
#   --version V       bundle version (default: REXIAN_VERSION in the image, else date)
#   --compatible C    must equal [system] compatible of the device (default rexian-ipc)
#   --level N         zstd level of the squashfs payload (default 15; 3 is ~2x faster)
#   --check-payload   also run `rauc extract` (verifies every payload block)
#
# Signing: REXIAN_SIGN_CERT / REXIAN_SIGN_KEY (a PKCS#11 URL works for the key)
# and REXIAN_KEYRING for the self-check; default is the development PKI in
# build/ca (image/ca/mkca.sh). Release keys never live in the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

version="" compatible=rexian-ipc level=15 check_payload=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --version) version=$2; shift ;;
        --compatible) compatible=$2; shift ;;
        --level) level=$2; shift ;;
        --check-payload) check_payload=1 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        -*) echo "bundle: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
    shift
done
[[ $# == 2 ]] || { echo "usage: bundle.sh [options] ROOTFS_EXT4 OUT.raucb" >&2; exit 2; }
img=$1 outb=$2
[[ -f $img ]] || { echo "bundle: no such image $img" >&2; exit 1; }

if [[ -z ${REXIAN_SIGN_KEY:-} ]]; then
    "$here/ca/mkca.sh" "$repo/build/ca" >/dev/null
    REXIAN_SIGN_CERT=$repo/build/ca/signer.cert.pem
    REXIAN_SIGN_KEY=$repo/build/ca/signer.key.pem
    REXIAN_KEYRING=$repo/build/ca/ca.cert.pem
fi
[[ -n $version ]] || version=$(date -u +%Y%m%d%H%M%S)

work=$(mktemp -d "$(dirname "$outb")/.bundle.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/content"
# Hard link when possible (same filesystem), else copy.
ln "$img" "$work/content/rootfs.ext4" 2>/dev/null || cp --sparse=always "$img" "$work/content/rootfs.ext4"
cat > "$work/content/manifest.raucm" <<MF
[update]
compatible=$compatible
version=$version

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
MF
rm -f "$outb"
rauc bundle --mksquashfs-args="-comp zstd -Xcompression-level $level -b 256K -no-progress -quiet" \
    --cert="$REXIAN_SIGN_CERT" --key="$REXIAN_SIGN_KEY" --keyring="${REXIAN_KEYRING:-}" \
    "$work/content" "$outb" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
if [[ -n ${REXIAN_KEYRING:-} ]]; then
    rauc info --keyring="$REXIAN_KEYRING" "$outb" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
    if ((check_payload)); then
        rauc extract --keyring="$REXIAN_KEYRING" "$outb" "$work/extract" >"$work/log" 2>&1 \
            || { cat "$work/log" >&2; exit 1; }
    fi
fi
echo "bundle: $outb ($(du -h "$outb" | cut -f1), version $version, compatible $compatible)"
