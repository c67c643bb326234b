"""The serial device, non-blocking, driven by the gevent loop.

pyserial opens and configures the port (raw mode, baud rate, exclusive lock) with ``O_NONBLOCK``;
reads and writes then go straight to the file descriptor: a read waits in ``gevent.socket.wait_read``
(the hub keeps running), a write that would block waits in ``wait_write``. Nothing here blocks the hub.

A device that goes away -- a USB adapter unplugged, a pty whose other side closed -- shows as EOF or an
error on read or write: both raise DeviceGone, and the console closes it and reopens it later.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import termios
import time
from pathlib import Path

import gevent
import serial
from gevent.socket import wait_read, wait_write

WRITE_TIMEOUT = 5.0     # seconds a write may wait for room before the pending output is dropped
DRAIN_TIMEOUT = 0.5     # seconds drain() waits for queued output to leave
DRAIN_POLL = 0.01
READ_CHUNK = 4096


class DeviceGone(Exception):
    """The serial device disappeared or hung up."""


class _Timeout(Exception):
    pass


_TIMEOUT = _Timeout()


class SerialDevice:
    """One open serial port (or pty slave)."""

    def __init__(self, path: Path, baudrate: int = 115200) -> None:
        self.path = Path(path)
        self.baudrate = baudrate
        self._serial: serial.Serial | None = None
        self._fd = -1

    @property
    def is_open(self) -> bool:
        return self._fd >= 0

    def open(self) -> None:
        """Open and configure the port; raises OSError (including serial.SerialException)."""
        port = serial.Serial(
            port=str(self.path), baudrate=self.baudrate, bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE, timeout=0, write_timeout=0, xonxoff=False, rtscts=False,
            dsrdtr=False, exclusive=True,
        )
        fd = port.fileno()
        os.set_blocking(fd, False)
        self._serial = port
        self._fd = fd

    def _queued(self) -> int:
        """Bytes written and not sent yet (TIOCOUTQ; always 0 on a pty)."""
        try:
            return int(struct.unpack("i", fcntl.ioctl(self._fd, termios.TIOCOUTQ, b"\0\0\0\0"))[0])
        except OSError:
            return 0

    def drain(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Wait (polling, in the gevent loop) up to ``timeout`` for queued output to be sent."""
        deadline = time.monotonic() + timeout
        while self._fd >= 0 and time.monotonic() < deadline and self._queued() > 0:
            gevent.sleep(DRAIN_POLL)

    def close(self) -> None:
        """Close at once: output still queued is dropped first (a UART's close() would otherwise
        wait, in the kernel, for it to drain at the baud rate). drain() before lets it go out."""
        if self._fd >= 0 and self._queued() > 0:
            self._drop_output()
        port, self._serial, self._fd = self._serial, None, -1
        if port is not None:
            try:
                port.close()
            except (OSError, serial.SerialException):
                pass

    def fileno(self) -> int:
        if self._fd < 0:
            raise DeviceGone(f"{self.path} is not open")
        return self._fd

    def read(self, timeout: float | None) -> bytes:
        """What arrived, waiting at most ``timeout`` seconds: b"" when nothing came in time."""
        fd = self.fileno()
        try:
            wait_read(fd, timeout=timeout, timeout_exc=_TIMEOUT)
        except _Timeout:
            return b""
        try:
            data = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise DeviceGone(f"{self.path}: {exc.strerror or exc}") from None
        if not data:
            raise DeviceGone(f"{self.path}: hung up")
        return data

    def write(self, data: bytes) -> None:
        """Write everything, waiting for room; after WRITE_TIMEOUT with no room, drop the output
        still queued in the driver (no one is reading: a cable with no terminal on it)."""
        fd = self.fileno()
        view = memoryview(data)
        deadline = time.monotonic() + WRITE_TIMEOUT
        while view:
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                n = 0
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise DeviceGone(f"{self.path}: {exc.strerror or exc}") from None
            view = view[n:]
            if not view:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._drop_output()
                return
            try:
                wait_write(fd, timeout=remaining, timeout_exc=_TIMEOUT)
            except _Timeout:
                self._drop_output()
                return

    def discard_input(self) -> None:
        """Forget everything received and not read yet."""
        try:
            termios.tcflush(self.fileno(), termios.TCIFLUSH)
        except termios.error:
            pass

    def _drop_output(self) -> None:
        try:
            termios.tcflush(self.fileno(), termios.TCOFLUSH)
        except termios.error:
            pass
