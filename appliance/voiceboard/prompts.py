"""Prompt sets: the recorded voice files the IVR plays, and the test set that tests can hear.

Two sets share one list of prompt names (``TEST_PROMPTS``):

- the *demo* set: Chinese prompts spoken by espeak-ng (``prompts/zh-CN.toml``), converted to the
  line format, 8 kHz mono A-law WAV;
- the *test* set: each prompt is a unique DTMF string ``A<nn>B`` (nn = the prompt's index in
  ``TEST_PROMPTS``, two decimal digits). A far-end channel in a test detects DTMF with its own
  detector, and ``decode_heard`` turns what it heard back into prompt names.

A built set is a directory of WAV files plus ``manifest.json``; ``PromptSet`` loads one.

Command line (``build.sh prompts`` runs these)::

    python -m appliance.voiceboard.prompts build-test DIR
    python -m appliance.voiceboard.prompts build-demo MANIFEST_TOML DIR
    python -m appliance.voiceboard.prompts check DIR
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1

# The code of a prompt is its index here: APPEND ONLY, never reorder or remove (the codes of recorded
# test expectations and of any built set would shift). At most 100 names (two decimal digits).
TEST_PROMPTS: tuple[str, ...] = (
    "welcome",
    "menu",
    "invalid",
    "timeout",
    "goodbye",
    "transfer",
    "record_notice",
    "leave_message",
    "after_hours",
    "hold",
    *(f"digit_{d}" for d in range(10)),
    "ten",
    "hundred",
    "thousand",
    "ten_thousand",
    "hundred_million",
    "liang",
    "point",
    "yuan",
    "jiao",
    "fen",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "hao",
    "enter_account",
    "balance_is",
    "repair_accepted",
    "ticket_number_is",
    "survey",
    "thanks",
    "beep_then_speak",
    # ACD (appliance/acd): what a queued caller hears
    "music_on_hold",
    "queue_position",
    "queue_callers",
    "queue_full",
    "callback_accepted",
    # the IVR (appliance/ivr): default flow and say-number fragments
    "main_menu",
    "enter_pin",
    "pin_wrong",
    "pin_locked",
    "enter_serial",
    "workorder_not_found",
    "wo_accepted",
    "wo_dispatched",
    "wo_in_progress",
    "wo_done",
    "wo_other",
    "emergency",
    "after_hours_menu",
    "message_saved",
    "service_unavailable",
    "all_busy",
    "zheng",
    "negative",
    "oclock",
    # ACD: the estimated wait ("预计还需等待" <number> "分钟")
    "queue_wait",
    "wait_minutes",
)

# DTMF timing of the test set: 60 ms tone, 60 ms gap, 100 ms of silence first.
TEST_ON_MS = 60
TEST_OFF_MS = 60
TEST_LEAD_MS = 100

_CODE_RE = re.compile(r"A(\d\d)B")
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")

WAVE_FORMAT_ALAW = 6
WAVE_FORMAT_EXTENSIBLE = 0xFFFE


class PromptError(Exception):
    """A prompt set could not be built or loaded."""


# ---- codes of the test set ---------------------------------------------------------------------------


def code_for(name: str) -> str:
    """The DTMF string of a test prompt: ``"A07B"`` for the 8th name of ``TEST_PROMPTS``."""
    try:
        index = TEST_PROMPTS.index(name)
    except ValueError:
        raise KeyError(f"unknown prompt {name!r}") from None
    return f"A{index:02d}B"


def decode_heard(digits: str) -> list[str]:
    """Prompt names, in order, from a DTMF stream a far-end channel detected.

    Digits outside an ``A<nn>B`` code (a caller's own key presses, noise) are ignored, and so
    are codes of no known prompt.
    """
    names = []
    for m in _CODE_RE.finditer(digits.upper()):
        index = int(m.group(1))
        if index < len(TEST_PROMPTS):
            names.append(TEST_PROMPTS[index])
        else:
            log.debug("heard code %s of no known prompt", m.group(0))
    return names


# ---- WAV check -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WavInfo:
    format_tag: int  # 6 = A-law
    channels: int
    rate: int
    bits: int
    data_bytes: int

    @property
    def duration_ms(self) -> int:
        bytes_per_second = self.rate * self.channels * max(1, self.bits // 8)
        return self.data_bytes * 1000 // bytes_per_second if bytes_per_second else 0

    @property
    def is_line_format(self) -> bool:
        """8 kHz mono 8-bit A-law: what the media engine plays without conversion."""
        return (self.format_tag, self.channels, self.rate, self.bits) == (WAVE_FORMAT_ALAW, 1, 8000, 8)


def wav_info(path: str | os.PathLike[str]) -> WavInfo:
    """Read the header of a RIFF/WAVE file. Raises PromptError if it is not one."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise PromptError(f"{p}: {e.strerror}") from e
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise PromptError(f"{p}: not a RIFF/WAVE file")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    data_bytes: int | None = None
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise PromptError(f"{p}: short fmt chunk")
            tag, channels, rate, _byte_rate, _align, bits = struct.unpack_from("<HHIIHH", body)
            if tag == WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                (tag,) = struct.unpack_from("<H", body, 24)  # first two bytes of the sub-format GUID
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            data_bytes = min(size, len(data) - pos - 8)
            if fmt is not None:
                break
        pos += 8 + size + (size & 1)
    if fmt is None or data_bytes is None:
        raise PromptError(f"{p}: no fmt or data chunk")
    return WavInfo(fmt[0], fmt[1], fmt[2], fmt[3], data_bytes)


def check_line_wav(path: str | os.PathLike[str]) -> WavInfo:
    """wav_info, and raise PromptError unless the file is non-empty 8 kHz mono A-law."""
    info = wav_info(path)
    if not info.is_line_format:
        raise PromptError(
            f"{path}: not 8 kHz mono A-law (format {info.format_tag}, {info.channels} ch, "
            f"{info.rate} Hz, {info.bits} bit)"
        )
    if info.data_bytes == 0:
        raise PromptError(f"{path}: no audio")
    return info


# ---- loading a built set --------------------------------------------------------------------------------


class PromptSet:
    """A built prompt set: a directory of WAV files and its manifest.json."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).resolve()
        manifest_path = self.directory / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise PromptError(f"{manifest_path}: {e}") from e
        if manifest.get("version") != MANIFEST_VERSION:
            raise PromptError(f"{manifest_path}: manifest version {manifest.get('version')!r}")
        self.kind: str = manifest.get("set", "")
        self._prompts: dict[str, dict[str, Any]] = manifest.get("prompts", {})

    def __contains__(self, name: object) -> bool:
        return name in self._prompts

    def __len__(self) -> int:
        return len(self._prompts)

    @property
    def names(self) -> list[str]:
        return list(self._prompts)

    def path(self, name: str) -> str | None:
        """Absolute path of a prompt's file, or None (logged) if the set lacks it."""
        entry = self._prompts.get(name)
        if entry is None:
            log.warning("prompt %r is not in the %s set at %s", name, self.kind or "?", self.directory)
            return None
        path = self.directory / entry["file"]
        if not path.is_file():
            log.warning("prompt %r: file %s is missing", name, path)
            return None
        return str(path)

    def require(self, name: str) -> str:
        """Absolute path of a prompt's file; PromptError if the set lacks it (for flows and tests
        that cannot go on without it)."""
        path = self.path(name)
        if path is None:
            raise PromptError(f"prompt {name!r} is not in the set at {self.directory}")
        return path

    def text(self, name: str) -> str | None:
        """What the prompt says (demo set), or its DTMF code (test set)."""
        entry = self._prompts.get(name)
        if entry is None:
            return None
        value = entry.get("text", entry.get("code"))
        return str(value) if value is not None else None

    def duration_ms(self, name: str) -> int | None:
        entry = self._prompts.get(name)
        return int(entry["ms"]) if entry is not None else None


class LayeredPrompts(PromptSet):
    """A built set with a layer of replacements on top: the administrator's uploaded prompts.

    ``path(name)`` gives the replacement's file when there is one (and it is still on disk), else the
    built-in set's file; a name in neither is logged and None, as with PromptSet (the interpreter and
    the ACD skip a missing prompt, the call goes on). The layer is a plain mapping name -> absolute
    path, replaced as a whole by ``set_layer`` (the IVR's prompt library keeps it in step with the
    database); lookups never touch the database.
    """

    def __init__(self, base: PromptSet, layer: Mapping[str, str] | None = None) -> None:
        # no PromptSet.__init__: the built-in set is already loaded
        self.base = base
        self.directory = base.directory
        self.kind = base.kind
        self._prompts = base._prompts
        self._layer: dict[str, str] = dict(layer or {})

    def set_layer(self, layer: Mapping[str, str]) -> None:
        self._layer = dict(layer)

    @property
    def layer(self) -> dict[str, str]:
        return dict(self._layer)

    def __contains__(self, name: object) -> bool:
        return name in self._layer or name in self._prompts

    def __len__(self) -> int:
        return len(set(self._prompts) | set(self._layer))

    @property
    def names(self) -> list[str]:
        return list(self._prompts) + [n for n in self._layer if n not in self._prompts]

    def path(self, name: str) -> str | None:
        replacement = self._layer.get(name)
        if replacement is not None:
            if os.path.isfile(replacement):
                return replacement
            log.warning("prompt %r: uploaded file %s is missing; using the built-in set", name, replacement)
        return self.base.path(name)

    def text(self, name: str) -> str | None:
        return None if name in self._layer else self.base.text(name)

    def duration_ms(self, name: str) -> int | None:
        return None if name in self._layer else self.base.duration_ms(name)


# ---- building -----------------------------------------------------------------------------------------


def _build_into(directory: Path, fill: Callable[[Path], dict[str, Any]]) -> None:
    """Build a set in a fresh sibling directory, then put it in place of `directory` at once."""
    directory = directory.resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        manifest = fill(work)
        (work / MANIFEST).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"  # prompts in order
        )
        work.chmod(0o755)
        old = None
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
            directory.rename(old)
        work.rename(directory)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _manifest(kind: str, prompts: dict[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "version": MANIFEST_VERSION,
        "set": kind,
        "encoding": "alaw",
        "rate": 8000,
        **extra,
        "prompts": prompts,
    }


def build_test_set(directory: str | os.PathLike[str]) -> Path:
    """Write the test set (one DTMF-coded WAV per name of TEST_PROMPTS) and its manifest."""
    from appliance.drivers._binding import lib  # the C extension: imported only when building

    def fill(work: Path) -> dict[str, Any]:
        prompts: dict[str, dict[str, Any]] = {}
        for name in TEST_PROMPTS:
            code = code_for(name)
            path = work / f"{name}.wav"
            rc = lib.vb_util_dtmf_wav(os.fsencode(path), code.encode("ascii"), TEST_ON_MS, TEST_OFF_MS,
                                      TEST_LEAD_MS)
            if rc < 0:
                raise PromptError(f"vb_util_dtmf_wav({path}, {code}) failed: {rc}")
            info = check_line_wav(path)
            prompts[name] = {"file": path.name, "code": code, "ms": info.duration_ms}
        return _manifest("test", prompts, on_ms=TEST_ON_MS, off_ms=TEST_OFF_MS, lead_ms=TEST_LEAD_MS)

    out = Path(directory)
    _build_into(out, fill)
    return out


@dataclass(frozen=True)
class DemoSpec:
    voice: str
    speed: int
    gain_db: float
    prompts: dict[str, str]


def load_demo_spec(path: str | os.PathLike[str]) -> DemoSpec:
    """Read a demo prompt manifest (TOML: voice, speed, gain_db, [prompts] id = text)."""
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise PromptError(f"{path}: {e}") from e
    prompts = raw.get("prompts")
    if not isinstance(prompts, dict) or not prompts:
        raise PromptError(f"{path}: no [prompts] table")
    for name, text in prompts.items():
        if not _NAME_RE.fullmatch(name):
            raise PromptError(f"{path}: bad prompt id {name!r} (want [a-z][a-z0-9_]*)")
        if not isinstance(text, str) or not text.strip():
            raise PromptError(f"{path}: prompt {name!r} has no text")
    return DemoSpec(
        voice=str(raw.get("voice", "cmn")),
        speed=int(raw.get("speed", 160)),
        gain_db=float(raw.get("gain_db", -6.0)),
        prompts=dict(prompts),
    )


def _run(argv: Sequence[str]) -> None:
    try:
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    except FileNotFoundError as e:
        raise PromptError(f"{argv[0]} is not installed (./build.sh deps installs it)") from e
    except subprocess.CalledProcessError as e:
        err = e.stderr.decode(errors="replace").strip()
        raise PromptError(f"{' '.join(argv[:2])}... failed ({e.returncode}): {err}") from e


def render_demo_prompt(text: str, out: Path, spec: DemoSpec) -> WavInfo:
    """Speak `text` with espeak-ng, then convert with sox to 8 kHz mono A-law at `out`."""
    raw = out.with_suffix(".espeak.wav")
    try:
        _run(["espeak-ng", "-v", spec.voice, "-s", str(spec.speed), "-w", str(raw), "--", text])
        # Trim espeak's leading and trailing silence (fragments are joined to say numbers), normalise,
        # and keep a short pad at each end.
        _run(["sox", str(raw), "-r", "8000", "-c", "1", "-e", "a-law", "-b", "8", str(out),
              "silence", "1", "0.01", "-45d", "reverse", "silence", "1", "0.01", "-45d", "reverse",
              "gain", "-n", str(spec.gain_db), "pad", "0.02", "0.04"])
    finally:
        raw.unlink(missing_ok=True)
    return check_line_wav(out)


def build_demo_set(manifest_toml: str | os.PathLike[str], directory: str | os.PathLike[str]) -> Path:
    """Render every prompt of a demo manifest into `directory`, with manifest.json."""
    spec = load_demo_spec(manifest_toml)
    missing = [n for n in TEST_PROMPTS if n not in spec.prompts]
    if missing:
        log.warning("%s lacks prompts of TEST_PROMPTS: %s", manifest_toml, ", ".join(missing))

    def fill(work: Path) -> dict[str, Any]:
        def one(item: tuple[str, str]) -> tuple[str, dict[str, Any]]:
            name, text = item
            info = render_demo_prompt(text, work / f"{name}.wav", spec)
            return name, {"file": f"{name}.wav", "text": text, "ms": info.duration_ms}

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            prompts = dict(pool.map(one, spec.prompts.items()))
        return _manifest("demo", prompts, voice=spec.voice, source=Path(manifest_toml).name)

    out = Path(directory)
    _build_into(out, fill)
    return out


def check_set(directory: str | os.PathLike[str], names: Iterable[str] = ()) -> PromptSet:
    """Load a built set and check every file is line-format audio (and `names` are all there)."""
    ps = PromptSet(directory)
    for name in ps.names:
        path = ps.path(name)
        if path is None:
            raise PromptError(f"{directory}: prompt {name!r} has no file")
        check_line_wav(path)
    lacking = [n for n in names if n not in ps]
    if lacking:
        raise PromptError(f"{directory}: lacks {', '.join(lacking)}")
    return ps


# ---- command line ----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m appliance.voiceboard.prompts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("build-test", help="build the DTMF-coded test set")
    p.add_argument("dir")
    p = sub.add_parser("build-demo", help="build the spoken demo set from a TOML manifest")
    p.add_argument("manifest")
    p.add_argument("dir")
    p = sub.add_parser("check", help="check a built set")
    p.add_argument("dir")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        if args.cmd == "build-test":
            build_test_set(args.dir)
            ps = check_set(args.dir, TEST_PROMPTS)
        elif args.cmd == "build-demo":
            build_demo_set(args.manifest, args.dir)
            ps = check_set(args.dir)
        else:
            ps = check_set(args.dir)
    except PromptError as e:
        print(f"prompts: {e}", file=sys.stderr)
        return 1
    print(f"prompts: {ps.kind} set, {len(ps)} prompts, 8 kHz A-law, in {ps.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
