"""Tier-1 checks of the platform files (systemd/, image/): fast, no network,
no mounts, no image build. Each tool is required: a missing tool is a failure
that names the Debian package to install (build.sh installs them).

Root is used only for `unshare -n` (nft -c needs CAP_NET_ADMIN in a netns);
without root, `unshare -rn` (user namespace) is tried instead.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEMD = REPO / "systemd"
IMAGE = REPO / "image"
OVERLAY = IMAGE / "overlay"
TEST_OVERLAY = IMAGE / "test-overlay"
UNIT_DIR = "usr/lib/systemd/system"

TOOLS = {  # tool -> Debian package
    "systemd-analyze": "systemd",
    "systemd-sysusers": "systemd",
    "systemd-tmpfiles": "systemd",
    "grub-script-check": "grub-common",
    "nft": "nftables",
    "unshare": "util-linux",
    "shellcheck": "shellcheck",
    "bash": "bash",
}

MAX_EXPOSURE = 2.0


def tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if not path:
        pytest.fail(f"required tool '{name}' is missing: apt-get install {TOOLS.get(name, name)}")
    return path


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)


def our_units() -> list[Path]:
    units = sorted(p for p in SYSTEMD.iterdir() if p.suffix in (".service", ".mount"))
    units += sorted((OVERLAY / UNIT_DIR).glob("*.service"))
    units += sorted((TEST_OVERLAY / UNIT_DIR).glob("*.service"))
    return units


def exec_paths(unit: Path) -> set[str]:
    paths = set()
    for line in unit.read_text().splitlines():
        m = re.match(r"\s*Exec(?:Start|StartPre|StartPost|Stop|StopPost|Reload)\s*=\s*(.*)", line)
        if m and m.group(1):
            arg = m.group(1).lstrip("-@:+!")
            paths.add(arg.split()[0])
    return paths


@pytest.fixture(scope="module")
def vroot(tmp_path_factory) -> Path:
    """A throwaway root: the host's systemd units, ours on top, the overlay's
    own scripts, and stubs for the Debian executables our units run."""
    tool("systemd-analyze")
    root = tmp_path_factory.mktemp("vroot")
    (root / "etc").mkdir()
    unit_dir = root / UNIT_DIR
    shutil.copytree("/usr/lib/systemd/system", unit_dir, symlinks=True)
    for u in our_units():
        shutil.copy(u, unit_dir / u.name)
    for src in (OVERLAY, TEST_OVERLAY):
        for f in src.rglob("*"):
            if f.is_file() and not f.is_symlink():
                dst = root / f.relative_to(src)
                if not dst.exists():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(f, dst)
    for u in our_units():
        for p in exec_paths(u):
            dst = root / p.lstrip("/")
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_text("#!/bin/sh\nexit 0\n")
                dst.chmod(0o755)
    return root


def test_tools_present():
    missing = [f"{t} ({pkg})" for t, pkg in TOOLS.items()
               if not (shutil.which(t) or os.path.exists(f"/usr/sbin/{t}"))]
    assert not missing, "missing tools, apt-get install: " + ", ".join(missing)


def test_units_verify_clean(vroot):
    units = [str(vroot / UNIT_DIR / u.name) for u in our_units()]
    r = run([tool("systemd-analyze"), "verify", f"--root={vroot}", "--man=no", *units])
    # verify returns 0 on parse warnings (unknown keys, bad values): any output is a failure.
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 0 and not out, f"systemd-analyze verify (rc {r.returncode}):\n{out}"


def test_verify_catches_bad_directive(vroot, tmp_path):
    bad = vroot / UNIT_DIR / "rexian-broken-probe.service"
    bad.write_text((SYSTEMD / "rexian.service").read_text().replace(
        "[Service]", "[Service]\nBogusDirective=1\nWatchdogSec=abc", 1))
    try:
        r = run([tool("systemd-analyze"), "verify", f"--root={vroot}", "--man=no", str(bad)])
        assert "BogusDirective" in r.stderr, r.stderr
    finally:
        bad.unlink()


def test_rexian_exposure(vroot):
    r = run([tool("systemd-analyze"), "security", "--offline=yes", f"--root={vroot}",
             "--no-pager", "rexian.service"])
    m = re.search(r"Overall exposure level for rexian\.service:\s*([0-9.]+)", r.stdout)
    assert m, f"no exposure line (rc {r.returncode}):\n{r.stdout}\n{r.stderr}"
    level = float(m.group(1))
    assert level <= MAX_EXPOSURE, f"rexian.service exposure {level} > {MAX_EXPOSURE}:\n{r.stdout}"


def directives(unit: Path) -> dict[str, list[str]]:
    d: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            k, v = line.split("=", 1)
            d.setdefault(k.strip(), []).append(v.strip())
    return d


def test_rexian_service_contract():
    d = directives(SYSTEMD / "rexian.service")
    want = {
        "Type": "notify", "NotifyAccess": "main", "WatchdogSec": "10", "User": "rexian",
        "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "NoNewPrivileges": "yes", "DevicePolicy": "closed", "SystemCallArchitectures": "native",
        "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE", "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
        "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "Restart": "on-failure",
        "StartLimitAction": "reboot", "ReadWritePaths": "/data/rexian",
    }
    for k, v in want.items():
        assert d.get(k, [None])[-1] == v, f"rexian.service: {k}={d.get(k)} (want {v})"
    assert d["ExecStart"][-1].startswith("/opt/rexian/.venv/bin/rexian run --config /etc/rexian/rexian.toml")
    allow = " ".join(d.get("DeviceAllow", []))
    for dev in ("char-ttyS", "char-dahdi", "/dev/dahdi/channel", "char-ttyUSB", "char-alsa"):
        assert dev in allow, f"DeviceAllow lacks {dev}"
    assert "ProcSubset" not in d, "ProcSubset=pid hides /proc/cmdline and /proc/sys (image-probe pitfall)"
    assert "PrivateDevices" not in d, "PrivateDevices hides the boards and serial ports"
    assert "MemoryMax" in d and "StartLimitBurst" in d and "StartLimitIntervalSec" in d


def test_sysusers(tmp_path):
    (tmp_path / "etc").mkdir()
    r = run([tool("systemd-sysusers"), f"--root={tmp_path}", str(SYSTEMD / "rexian.sysusers")])
    assert r.returncode == 0 and "Failed" not in r.stderr, r.stderr
    passwd = (tmp_path / "etc/passwd").read_text()
    assert re.search(r"^rexian:x:\d+:\d+:[^:]*:/data/rexian:/usr/sbin/nologin$", passwd, re.M), passwd
    groups = (tmp_path / "etc/group").read_text()
    for g in ("dialout", "audio"):
        assert re.search(rf"^{g}:x:\d+:.*rexian", groups, re.M), groups


def test_tmpfiles(tmp_path):
    (tmp_path / "etc").mkdir()
    run([tool("systemd-sysusers"), f"--root={tmp_path}", str(SYSTEMD / "rexian.sysusers")])
    factory = tmp_path / "usr/share/rexian"
    factory.mkdir(parents=True)
    shutil.copy(OVERLAY / "usr/share/rexian/rexian.toml", factory)
    r = run([tool("systemd-tmpfiles"), f"--root={tmp_path}", "--create", str(SYSTEMD / "rexian.tmpfiles")])
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    data = tmp_path / "data/rexian"
    assert data.is_dir() and (data.stat().st_mode & 0o777) == 0o750
    assert (tmp_path / "data/etc/rexian/rexian.toml").read_text() == (factory / "rexian.toml").read_text()


def grub_cfg(tmp_path: Path, extra: str = "") -> Path:
    r = run(["bash", str(IMAGE / "mkgrubcfg.sh"), extra])
    assert r.returncode == 0, r.stderr
    p = tmp_path / "grub.cfg"
    p.write_text(r.stdout)
    return p


def test_grub_cfg_valid(tmp_path):
    for extra in ("", "rexian.test=1"):
        cfg = grub_cfg(tmp_path, extra)
        r = run([tool("grub-script-check"), str(cfg)])
        assert r.returncode == 0, f"grub-script-check: {r.stdout}{r.stderr}"
        text = cfg.read_text()
        assert "rauc.slot=A" in text and "rauc.slot=B" in text
        assert "load_env" in text and "save_env" in text and "ORDER" in text


def test_grub_script_check_catches_errors(tmp_path):
    cfg = grub_cfg(tmp_path)
    cfg.write_text(cfg.read_text().rsplit("}", 1)[0])  # drop the last closing brace
    r = run([tool("grub-script-check"), str(cfg)])
    assert r.returncode != 0, "grub-script-check accepted a broken grub.cfg"


def grub_slots_match_rauc():
    conf = configparser.ConfigParser()
    conf.read(OVERLAY / "etc/rauc/system.conf")
    return conf


def test_rauc_system_conf():
    conf = grub_slots_match_rauc()
    assert conf["system"]["bootloader"] == "grub"
    assert conf["system"]["grubenv"] == "/boot/efi/EFI/BOOT/grubenv"
    assert conf["system"]["data-directory"].startswith("/data/")
    assert "-plain" in conf["system"]["bundle-formats"]
    assert conf["slot.rootfs.0"]["bootname"] == "A" and conf["slot.rootfs.1"]["bootname"] == "B"
    bundle = (IMAGE / "bundle.sh").read_text()
    assert f"compatible={conf['system']['compatible']}" in bundle.replace(" ", "")


def test_rauc_dbus_files():
    policy = OVERLAY / "usr/share/dbus-1/system.d/de.pengutronix.rauc.conf"
    root = ET.parse(policy).getroot()
    assert root.tag == "busconfig"
    owns = [a.get("own") for a in root.iter("allow")]
    assert "de.pengutronix.rauc" in owns
    act = configparser.ConfigParser()
    act.read(OVERLAY / "usr/share/dbus-1/system-services/de.pengutronix.rauc.service")
    assert act["D-BUS Service"]["Name"] == "de.pengutronix.rauc"
    assert act["D-BUS Service"]["SystemdService"] == "rauc.service"


def nft_check(path: Path) -> subprocess.CompletedProcess:
    ns = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    tool("unshare")
    return run([*ns, tool("nft"), "-c", "-f", str(path)])


def firewall_apply(*args: str) -> subprocess.CompletedProcess:
    return run(["python3", str(OVERLAY / "usr/lib/rexian/firewall-apply"), *args])


def test_nftables_ruleset(tmp_path):
    base = OVERLAY / "etc/nftables.conf"
    r = nft_check(base)
    assert r.returncode == 0, f"nft -c {base}:\n{r.stderr}"
    text = base.read_text()
    assert re.search(r"hook input priority filter; policy drop;", text)
    assert re.search(r"hook forward priority filter; policy drop;", text)
    # Base ruleset + the site subnets as firewall-apply would load them.
    site = firewall_apply("--print", str(OVERLAY / "etc/rexian/firewall.conf"))
    assert site.returncode == 0, site.stderr
    assert "add element inet rexian web_v4 { 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 }" in site.stdout
    full = tmp_path / "full.nft"
    full.write_text(text + "\n" + site.stdout)
    r = nft_check(full)
    assert r.returncode == 0, f"nft -c base+site:\n{r.stderr}\n{site.stdout}"


def test_firewall_apply_rejects_bad_site_file(tmp_path):
    conf = tmp_path / "firewall.conf"
    conf.write_text("ssh 192.168.10.0/24\nweb 10.0.0.1/8\n")   # host bits set: invalid
    r = firewall_apply("--print", str(conf))
    assert r.returncode == 1 and "10.0.0.1/8" in r.stderr
    conf.write_text("telnet 10.0.0.0/8\n")
    assert firewall_apply("--print", str(conf)).returncode == 1
    conf.write_text("ssh 192.168.10.0/24\nssh 2001:db8::/32\n")
    r = firewall_apply("--print", str(conf))
    assert r.returncode == 0
    assert "add element inet rexian ssh_v4 { 192.168.10.0/24 }" in r.stdout
    assert "add element inet rexian ssh_v6 { 2001:db8::/32 }" in r.stdout
    assert "flush set inet rexian web_v4" in r.stdout   # sets not named are emptied


def shell_scripts() -> list[Path]:
    scripts = [*IMAGE.glob("*.sh"), *IMAGE.glob("ca/*.sh"),
               OVERLAY / "usr/lib/rexian/machine-id-persist",
               TEST_OVERLAY / "usr/lib/rexian/test/agent"]
    return sorted(scripts)


def test_shell_scripts_parse():
    for s in shell_scripts():
        r = run([tool("bash"), "-n", str(s)])
        assert r.returncode == 0, f"bash -n {s}: {r.stderr}"


def test_shellcheck():
    r = run([tool("shellcheck"), "-x", *map(str, shell_scripts())])
    assert r.returncode == 0, r.stdout + r.stderr


def test_guest_script_of_image_test(tmp_path):
    """The in-guest scenario script embedded in image/test-image.sh."""
    text = (IMAGE / "test-image.sh").read_text()
    m = re.search(r"<<'GUEST'\n(.*?)\nGUEST\n", text, re.S)
    assert m, "no GUEST heredoc in image/test-image.sh"
    guest = tmp_path / "run.sh"
    guest.write_text(m.group(1) + "\n")
    r = run([tool("bash"), "-n", str(guest)])
    assert r.returncode == 0, r.stderr
    # SC2016: the sh -c bodies are single-quoted on purpose; SC2015: pass/fail always succeed.
    r = run([tool("shellcheck"), "-s", "bash", "-e", "SC1091,SC2016,SC2015", str(guest)])
    assert r.returncode == 0, r.stdout + r.stderr


def test_scripts_executable():
    for s in [*shell_scripts(), OVERLAY / "usr/lib/rexian/firewall-apply"]:
        assert os.access(s, os.X_OK), f"{s} is not executable"


def test_no_keys_in_repo():
    for p in REPO.joinpath("image").rglob("*"):
        if p.is_file():
            assert "PRIVATE KEY" not in p.read_text(errors="replace"), f"private key material in {p}"
