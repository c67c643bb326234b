"""cffi builder of the media engine extension ``appliance.drivers._vb``.

Used by setup.py (``cffi_modules=["appliance/drivers/_build.py:ffibuilder"]``) and
runnable on its own to build the extension in place, next to this file::

    python appliance/drivers/_build.py
"""

import os
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CSRC = HERE / "csrc"


def _make(base: Path, **extra: object) -> FFI:
    """The builder, with its C paths relative to ``base`` (setuptools prefers relative paths)."""

    def rel(p: Path) -> str:
        return os.path.relpath(p, base)

    ffi = FFI()
    ffi.cdef((HERE / "_vb.cdef").read_text())
    ffi.set_source(
        "appliance.drivers._vb",
        (HERE / "_vb_preamble.c").read_text(),
        sources=[rel(p) for p in sorted(CSRC.glob("*.c"))],
        include_dirs=[rel(CSRC)],
        depends=[rel(p) for p in sorted(CSRC.glob("*.h"))],
        libraries=["spandsp", "openr2", "m", "pthread"],
        extra_compile_args=["-O2", "-Wall", "-Werror=implicit-function-declaration"],
        **extra,
    )
    return ffi


ffibuilder = _make(Path.cwd())

if __name__ == "__main__":
    # cffi compiles from inside tmpdir: make the paths relative to it.
    # Same file name as `pip install -e .` gives (cffi builds for the stable ABI there):
    # _vb.abi3.so; a differently named older build would shadow it, so it goes.
    os.chdir(ROOT)
    _make(ROOT, py_limited_api=True).compile(tmpdir=str(ROOT), verbose=True)
    for stale in [*CSRC.glob("*.o"), HERE / "_vb.o", *HERE.glob("_vb.cpython-*.so")]:
        stale.unlink(missing_ok=True)
