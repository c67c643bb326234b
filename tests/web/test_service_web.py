"""The service starts the web server on the configured port and prints its URL; a taken port does
not stop the box from answering calls."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import gevent
import gevent.socket
import pytest

from appliance.service import ConfigError, Service, load_config
from appliance.voiceboard.prompts import build_test_set


def write_config(tmp: Path, web: str) -> Path:
    prompts = tmp / "prompts"
    build_test_set(prompts)
    cfg = tmp / "rexian.toml"
    cfg.write_text(
        f'[board]\nbackend = "sim"\nspec = "fxo:1,fxs:1"\nfar = "none"\nsocket = "{tmp}/run/board.sock"\n'
        f'[data]\ndir = "{tmp}/data"\n[prompts]\ndir = "{prompts}"\n[web]\n{web}\n', encoding="utf-8")
    return cfg


def fetch(url: str) -> tuple[int, str]:
    def get() -> tuple[int, str]:
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(url, timeout=5) as res:
                return int(res.status), str(res.headers.get("Location", ""))
        except urllib.error.HTTPError as exc:
            return int(exc.code), str(exc.headers.get("Location", ""))

    return gevent.get_hub().threadpool.apply(get)


def test_service_serves_the_web_ui(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    svc = Service(load_config(write_config(tmp_path, 'bind = "127.0.0.1"\nport = 0\nsecure_cookies = false')))
    svc.start()
    try:
        assert svc.web is not None and svc.web_url.startswith("http://127.0.0.1:")
        assert f"web UI at {svc.web_url}" in capsys.readouterr().out
        assert fetch(svc.web_url) == (303, "/setup")
    finally:
        svc.stop()


def test_taken_port_leaves_the_service_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = gevent.socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        svc = Service(load_config(write_config(tmp_path, f'bind = "127.0.0.1"\nport = {port}')))
        svc.start()
        try:
            assert svc.web is None
            assert "web UI NOT started" in capsys.readouterr().out
        finally:
            svc.stop()
    finally:
        taken.close()


@pytest.mark.parametrize(("web", "needle"), [
    ("port = 70000", "web.port"), ('allow = ["not-a-net"]', "web.allow"), ('secure_cookies = "no"', "secure"),
])
def test_bad_web_config_is_a_clear_error(tmp_path: Path, web: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_config(write_config(tmp_path, web))
