"""The prompt library and the voicemail list in real Chromium (Debian's /usr/bin/chromium).

As in test_browser.py, the app runs on a real port on the test's hub and the Playwright script in a
worker thread of gevent's threadpool. The administrator uploads a recording (a 44.1 kHz stereo WAV),
sees it listed and plays it in the page (Chromium decodes the converted 8 kHz A-law file); a renamed
program is refused with the reason on the page and the first version stays. An agent then finds
the message the IVR stored for a caller (as its record node does) and plays it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
from gevent import subprocess
from playwright.sync_api import Page, expect, sync_playwright

from appliance.crm import messages, promptstore, users
from appliance.web import api, ivradmin, pages, tech, voicemail  # noqa: F401  (imported before the hub runs)
from appliance.web.config import WebConfig
from appliance.web.server import WebServer

from .test_browser import CHROMIUM, PASSWORD, login


@pytest.fixture
def server(data_dir: Path) -> Iterator[str]:
    web = WebServer(WebConfig(bind="127.0.0.1", port=0, secure_cookies=False, max_body=64 * 1024))
    url = web.start()
    yield url.rstrip("/")
    web.stop(timeout=1.0)


def played_seconds(page: Page, selector: str) -> float:
    """Load the <audio> element's source and return its duration as Chromium decoded it."""
    return float(page.eval_on_selector(selector, """a => new Promise((ok, fail) => {
        a.addEventListener('loadedmetadata', () => ok(a.duration), {once: true});
        a.addEventListener('error', () => fail('audio error ' + (a.error && a.error.code)), {once: true});
        a.preload = 'auto'; a.load(); })"""))


def test_admin_uploads_a_prompt_and_an_agent_plays_a_message(server: str, tmp_path: Path,
                                                              data_dir: Path) -> None:
    users.create_user("admin", PASSWORD, "admin")
    users.create_user("li.na", PASSWORD, "agent")
    recording = tmp_path / "欢迎词.wav"
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", "-b", "16", str(recording), "synth", "1.5", "sine",
                    "440"], check=True)
    program = tmp_path / "setup.wav"
    program.write_bytes(b"MZ\x90\x00" + b"\x00" * 4096)
    # a message as the IVR's record node leaves it: an A-law WAV under the data dir
    left = data_dir / "voicemail" / "20261202-100000-0-1.wav"
    left.parent.mkdir(parents=True)
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-e", "a-law", str(left), "synth", "3.0",
                    "sine", "300"], check=True)
    messages.add_message("20261202-100000-0-1", "13912345678", "repair", 3000, str(left))
    result: dict[str, float] = {}

    def browse() -> None:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                login(page, server, "admin")
                page.click("nav >> text=语音库")
                expect(page).to_have_url(server + "/admin/prompts")
                page.fill("#up-name", "welcome")
                page.set_input_files("#up-file", str(recording))
                page.click("#up-submit")
                expect(page.locator("p.ok")).to_contain_text("已保存语音 welcome 第1版")
                row = page.locator("#prompt-welcome")
                expect(row).to_contain_text("第1版")
                expect(row).to_contain_text("替换内置语音")
                result["prompt_s"] = played_seconds(page, "#prompt-welcome audio")
                page.fill("#up-name", "welcome")
                page.set_input_files("#up-file", str(program))
                page.click("#up-submit")
                expect(page.locator("#error")).to_contain_text("不是WAV或MP3")
                expect(page.locator("#error")).to_contain_text("原有语音未改变")
                expect(page.locator("#prompt-welcome")).to_contain_text("第1版")
                page.close()
                page = browser.new_page()
                login(page, server, "li.na")
                page.click("nav >> text=留言")
                row = page.locator("#messages tr", has_text="13912345678")
                expect(row).to_contain_text("报修")
                result["message_s"] = played_seconds(page, "#messages tr.pending audio")
                row.locator("button", has_text="标记已处理").click()
                expect(page.locator("p.ok")).to_contain_text("已标记为已处理")
                expect(page.locator("#messages tr", has_text="13912345678")).to_contain_text("已处理")
            finally:
                browser.close()

    gevent.get_hub().threadpool.apply(browse)
    assert abs(result["prompt_s"] - 1.5) < 0.1, result
    assert abs(result["message_s"] - 3.0) < 0.1, result
    assert [v.version for v in promptstore.versions("welcome")] == [1]
    assert messages.list_messages(unheard_only=True) == []
