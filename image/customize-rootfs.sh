#!/bin/bash
# mmdebstrap customize hook of image/build-image.sh: runs on the host with the
# finished rootfs in $1 (image/overlay and the units are already synced in).
# Env: REXIAN_TEST (1 = test variant), REXIAN_BUILD_DEPS (packages to purge).
set -euo pipefail
R=$1
in_root() {
    chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive "$@"
}

echo "customize: users (sysusers.d; the root is read-only at run time)"
in_root systemd-sysusers

echo "customize: appliance -> /opt/rexian/.venv (pip, from /usr/src/rexian)"
# pip needs name resolution inside the chroot.
if [[ ! -s $R/etc/resolv.conf ]]; then
    rm -f "$R/etc/resolv.conf"
    cp /etc/resolv.conf "$R/etc/resolv.conf"
    added_resolv=1
fi
# TLS to the package index is checked against the HOST's CA bundle (it may
# hold a site proxy's CA that the image's ca-certificates lacks); the copy is
# removed again below and never ends up in the image.
host_ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
cp "$host_ca" "$R/root/.build-ca.pem"
in_root python3 -m venv /opt/rexian/.venv
in_root PIP_CERT=/root/.build-ca.pem PIP_INDEX_URL="${PIP_INDEX_URL:-https://pypi.org/simple}" \
    /opt/rexian/.venv/bin/pip install --no-cache-dir --disable-pip-version-check \
    --progress-bar off /usr/src/rexian
rm -f "$R/root/.build-ca.pem"
in_root /opt/rexian/.venv/bin/pip freeze --disable-pip-version-check > "$R/usr/share/rexian/python-manifest.txt"
rm -rf "$R/usr/src/rexian"
[[ ${added_resolv:-0} == 1 ]] && rm -f "$R/etc/resolv.conf"

echo "customize: purge build dependencies"
# shellcheck disable=SC2086  # word splitting of the package list is intended
# Recommends/Suggests of what stays must not keep the compilers alive.
in_root apt-get purge -y -q --auto-remove \
    -o APT::AutoRemove::RecommendsImportant=false -o APT::AutoRemove::SuggestsImportant=false \
    ${REXIAN_BUILD_DEPS:-} >/dev/null
in_root apt-get autoremove --purge -y -q \
    -o APT::AutoRemove::RecommendsImportant=false -o APT::AutoRemove::SuggestsImportant=false >/dev/null
for cc in gcc cc c++ make; do
    if in_root sh -c "command -v $cc" >/dev/null; then
        echo "customize: $cc is still in the image after the purge" >&2
        exit 1
    fi
done
in_root apt-get clean

echo "customize: the installed appliance loads without the build dependencies"
in_root /opt/rexian/.venv/bin/python -c '
from importlib.metadata import entry_points
(ep,) = [e for e in entry_points(group="console_scripts") if e.name == "rexian"]
ep.load()
print("entry point", ep.value, "loads")'
test -x "$R/opt/rexian/.venv/bin/rexian"

echo "customize: units"
units="rexian.service rexian-mark-good.service data.mount var.mount boot-efi.mount
       rexian-machine-id.service rexian-ssh-keygen.service rexian-firewall.service
       nftables.service systemd-networkd.service systemd-timesyncd.service"
[[ ${REXIAN_TEST:-0} == 1 ]] && units="$units rexian-testagent.service"
# shellcheck disable=SC2086
in_root systemctl enable $units
in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer systemd-networkd-wait-online.service \
    e2scrub_all.timer e2scrub_reap.service fstrim.timer 2>/dev/null || true

echo "customize: accounts, identity, host keys"
in_root passwd -l root >/dev/null
rm -f "$R"/etc/ssh/ssh_host_*
: > "$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id"
echo rexian > "$R/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\trexian\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"
mkdir -p "$R/data" "$R/boot/efi"

echo "customize: strip kernel modules an appliance never loads, rebuild initramfs"
for d in "$R"/lib/modules/*/kernel; do
    rm -rf "$d/drivers/gpu" "$d/drivers/media" "$d/drivers/net/wireless" "$d/net/wireless" \
        "$d/net/mac80211" "$d/drivers/infiniband" "$d/drivers/bluetooth" "$d/net/bluetooth" \
        "$d/drivers/staging"
done
for k in "$R"/lib/modules/*; do
    in_root depmod -a "$(basename "$k")"
done
in_root update-initramfs -u -k all >/dev/null 2>&1

echo "customize: manifest"
in_root dpkg-query -W > "$R/usr/share/rexian/manifest.txt"
{ echo "# python (/opt/rexian/.venv)"; cat "$R/usr/share/rexian/python-manifest.txt"; } >> "$R/usr/share/rexian/manifest.txt"
