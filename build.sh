#!/usr/bin/env bash
# build.sh — the one entry point of Rexian (see DESIGN.md, "One entry point").
#
#   ./build.sh run      install what is missing, build, start the appliance on the simulated board
#   ./build.sh test     everything the CI runs
#
# Every verb is idempotent: it does only what changed since the last run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

VENV=.venv
PY=$VENV/bin/python
STAMPS=build/stamps
PROMPTS_OUT=build/prompts
DEMO_TOML=prompts/zh-CN.toml

# Debian packages: toolchain and C libraries of the media engine, prompt rendering, browser tests,
# and the tools of the platform tests (systemd-analyze offline, grub, nft).
APT_PACKAGES=(
    build-essential pkg-config python3-venv python3-dev
    libspandsp-dev libopenr2-dev dahdi-source libasound2-dev
    espeak-ng sox libsox-fmt-all
    chromium
    systemd grub-common nftables util-linux shellcheck
)

# The image pipeline's tools (only for ./build.sh image / image-test).
IMAGE_PACKAGES=(
    mmdebstrap arch-test qemu-system-x86 ovmf rauc squashfs-tools dosfstools mtools e2fsprogs fdisk
    grub-efi-amd64-bin grub-common openssl zstd ca-certificates
)

# What the compiled extension and the installed package depend on.
BUILD_INPUTS=(
    pyproject.toml setup.py
    appliance/drivers/_build.py appliance/drivers/_vb.cdef appliance/drivers/_vb_preamble.c
)

say() { printf '==> %s\n' "$*"; }
die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<'EOF'
usage: ./build.sh VERB [ARGS...]

  run [ARGS]      build, then start the appliance (config: $REXIAN_CONFIG or etc/dev.toml)
  test [ARGS]     build, lint, then the test suite (ARGS go to pytest); what the CI runs
  build           deps + C extension + prompt sets
  deps            Debian packages (only the missing ones), .venv, editable install + C extension
  prompts         prompt sets into build/prompts/{test,demo} (only if missing or changed)
  lint            ruff + mypy
  bench [NAME..]  build, then run bench/bench_*.py, results merged into bench/results.json
  image [ARGS]    build the appliance disk image (image/build-image.sh)
  image-test      test the disk image (image/test-image.sh)
EOF
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

pkg_installed() {
    local status
    status=$(dpkg -s "$1" 2>/dev/null) || return 1
    [[ $status == *"Status: install ok installed"* ]]
}

# sha256 over the named files (a missing file counts as "missing") and every file under dirs.
hash_inputs() {
    local f
    {
        for f in "$@"; do
            if [ -d "$f" ]; then
                find "$f" -type f -print0 | sort -z | xargs -0 -r sha256sum
            elif [ -f "$f" ]; then
                sha256sum "$f"
            else
                printf 'missing  %s\n' "$f"
            fi
        done
    } | sha256sum | cut -d' ' -f1
}

stamp_is() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s\n' "$2" >"$STAMPS/$1"; }

# ---- deps --------------------------------------------------------------------------------------------

apt_deps() {
    command -v dpkg >/dev/null || die "no dpkg: this build needs Debian (bookworm) or a derivative"
    local missing=() p
    for p in "$@"; do
        pkg_installed "$p" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "Debian packages: all $# present"
        return
    fi
    say "Debian packages: installing ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

venv_ok() {
    [ -x "$PY" ] && "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

ensure_venv() {
    if venv_ok; then return; fi
    local python=${PYTHON:-python3}
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "$python is older than 3.11 (set PYTHON=/path/to/python3.11)"
    say "virtualenv: creating $VENV with $("$python" --version)"
    rm -rf "$VENV"
    "$python" -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip
    rm -f "$STAMPS/install"
}

# Exactly one compiled extension in the tree, and it imports. (An in-place build makes
# _vb.cpython-311-*.so, pip makes _vb.abi3.so; Python prefers the first, so a stale one would shadow.)
extension_ok() {
    local so=(appliance/drivers/_vb*.so)
    [ ${#so[@]} -eq 1 ] && [ -f "${so[0]}" ] &&
        "$PY" -c 'import appliance.drivers._vb' 2>/dev/null
}

install_package() {
    [ -f appliance/drivers/_build.py ] || die "appliance/drivers/_build.py is missing: the C extension cannot be built"
    local h
    h=$(hash_inputs "${BUILD_INPUTS[@]}" appliance/drivers/csrc)
    if stamp_is install "$h" && [ -x "$VENV/bin/rexian" ] && extension_ok; then
        say "package: up to date (editable install, appliance/drivers/_vb extension)"
        return
    fi
    say "package: pip install -e '.[dev]' (builds the C extension)"
    rm -f appliance/drivers/_vb*.so
    "$PY" -m pip install -q -e '.[dev]'
    if ! extension_ok; then
        say "package: the editable install left no single importable extension in the tree; compiling in place"
        rm -f appliance/drivers/_vb*.so
        "$PY" appliance/drivers/_build.py
    fi
    extension_ok || die "appliance.drivers._vb is not importable from the source tree after the build"
    stamp_set install "$h"
    say "package: installed; extension $(ls appliance/drivers/_vb*.so)"
}

cmd_deps() {
    apt_deps "${APT_PACKAGES[@]}"
    ensure_venv
    install_package
}

# ---- prompts ----------------------------------------------------------------------------------------------

cmd_prompts() {
    local h
    # the test set is made by the C engine's DTMF writer: rebuild it when the engine changes too
    h=$(hash_inputs appliance/voiceboard/prompts.py "${BUILD_INPUTS[@]}" appliance/drivers/csrc)
    if stamp_is prompts-test "$h" && [ -f "$PROMPTS_OUT/test/manifest.json" ]; then
        say "prompts: test set up to date"
    else
        say "prompts: building the test set (DTMF-coded)"
        "$PY" -m appliance.voiceboard.prompts build-test "$PROMPTS_OUT/test"
        stamp_set prompts-test "$h"
    fi
    h=$(hash_inputs appliance/voiceboard/prompts.py "$DEMO_TOML")
    if stamp_is prompts-demo "$h" && [ -f "$PROMPTS_OUT/demo/manifest.json" ]; then
        say "prompts: demo set up to date"
    else
        say "prompts: rendering the demo set from $DEMO_TOML (espeak-ng, sox)"
        "$PY" -m appliance.voiceboard.prompts build-demo "$DEMO_TOML" "$PROMPTS_OUT/demo"
        stamp_set prompts-demo "$h"
    fi
}

# ---- build, lint, test ----------------------------------------------------------------------------------

cmd_build() {
    cmd_deps
    cmd_prompts
}

cmd_lint() {
    if [ ! -x "$VENV/bin/ruff" ] || [ ! -x "$VENV/bin/mypy" ]; then
        cmd_deps
    fi
    say "lint: ruff check ."
    "$VENV/bin/ruff" check .
    local targets=(appliance tests)
    [ -d bench ] && targets+=(bench)
    say "lint: mypy ${targets[*]}"
    "$VENV/bin/mypy" "${targets[@]}"
}

cmd_test() {
    cmd_build
    cmd_lint
    say "test: pytest (gevent monitor thread on, 20 ms blocking limit)"
    export GEVENT_MONITOR_THREAD_ENABLE=true GEVENT_MAX_BLOCKING_TIME=0.02
    "$VENV/bin/pytest" -q "$@"
}

# ---- run, bench, image ------------------------------------------------------------------------------------

cmd_run() {
    cmd_build
    local config=${REXIAN_CONFIG:-etc/dev.toml}
    say "run: rexian run --config $config"
    exec "$VENV/bin/rexian" run --config "$config" "$@"
}

cmd_bench() {
    cmd_build
    say "bench: python -m bench $*"
    exec "$PY" -m bench "$@"
}

run_image_script() {
    local script=image/$1
    shift
    [ -f "$script" ] || die "$script does not exist (the image tooling is not in this tree yet)"
    cmd_build
    apt_deps "${IMAGE_PACKAGES[@]}"
    say "image: $script $*"
    exec bash "$script" "$@"
}

# ---- main ------------------------------------------------------------------------------------------------------

verb=${1:-}
[ $# -gt 0 ] && shift
case "$verb" in
    deps) cmd_deps ;;
    prompts) cmd_deps; cmd_prompts ;;
    build) cmd_build ;;
    lint) cmd_lint ;;
    test) cmd_test "$@" ;;
    run) cmd_run "$@" ;;
    bench) cmd_bench "$@" ;;
    image) run_image_script build-image.sh "$@" ;;
    image-test) run_image_script test-image.sh "$@" ;;
    -h | --help | help) usage ;;
    "") usage >&2; exit 2 ;;
    *) printf 'build.sh: unknown verb %q\n\n' "$verb" >&2; usage >&2; exit 2 ;;
esac
