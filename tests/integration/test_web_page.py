"""The chat page at / in headless Chromium (Debian's package, driven by Playwright): ask, watch the answer stream in,
send an emergency and see the red-flag banner; the disclaimer stays visible and the picker lists the adapters.

Needs `chromium` (apt) and `playwright` (pip); skipped with the reason only when the browser cannot start.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from test_server import STROKE, adapter_run, running_server  # noqa: F401 (adapter_run is a fixture)

from medqa.safety import DISCLAIMER, REFERRAL_SENTENCE, triage

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def page_server(tmp_path_factory, tiny_model, adapter_run) -> Iterator[str]:
    log = tmp_path_factory.mktemp("web-log") / "server.log"
    args = ["--adapter", f"demo={adapter_run}", "--base", str(tiny_model),
            "--set", "generation.max_new_tokens=24", "--set", "generation.temperature=0"]
    with running_server(args, log) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    # CI installs the browser (.ci/run), so there a missing one is a failure, never a silent skip
    skip = pytest.fail if os.environ.get("CI") else pytest.skip
    try:
        from playwright import sync_api
    except ImportError:
        skip("pip install playwright")
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        except Exception as err:  # no usable browser on this machine
            skip(f"chromium cannot launch ({str(err).splitlines()[0]}): apt-get install -y chromium")
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, page_server):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    # a request the page aborts itself ("New chat" mid-answer) is not missing
    page.on("requestfailed", lambda req: req.failure == "net::ERR_ABORTED" or errors.append(f"request failed: {req.url}"))
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(page_server + "/")
    page.wait_for_function("document.querySelectorAll('#model option').length > 0")
    yield page
    page.close()
    assert not errors, errors  # no script errors, and nothing the page asked for went missing


# Records every text the answer bubble shows while it is still streaming.
RECORD = """() => {
  window.seen = [];
  new MutationObserver(() => {
    const bubble = document.querySelector('.msg.assistant.streaming .body');
    if (bubble && bubble.textContent) window.seen.push(bubble.textContent);
  }).observe(document.getElementById('messages'), {subtree: true, childList: true, characterData: true});
}"""


def ask(page, text: str) -> str:
    page.evaluate(RECORD)
    page.fill("#input", text)
    page.click("#send")
    page.wait_for_selector(".msg.assistant:not(.streaming) .body:not(:empty)")
    return page.locator(".msg.assistant .body").last.inner_text()


def test_page_streams_an_answer_with_disclaimer_and_picker(page):
    assert page.locator("#model option").all_inner_texts() == ["base", "demo"]
    assert page.locator("#model").input_value() == "demo"
    assert page.locator("#disclaimer").is_visible() and page.locator("#disclaimer").inner_text() == DISCLAIMER
    answer = ask(page, "I have had a mild sore throat since yesterday, what can I do?")
    assert answer.strip() and REFERRAL_SENTENCE in answer
    assert page.evaluate("window.seen.length") >= 1  # text was shown before the stream ended
    assert not page.locator("#banner").is_visible()
    assert page.locator("#disclaimer").is_visible()


def test_emergency_shows_red_flag_banner(page):
    answer = ask(page, STROKE)
    banner = page.locator("#banner")
    assert banner.is_visible()
    assert "emergency" in banner.inner_text().lower()
    assert answer.startswith(page.locator("#banner-text").inner_text().strip())
    seen = page.evaluate("window.seen")
    assert seen and "emergency" in seen[0].lower()  # the urgent message came first, ahead of the model
    page.click("#reset")
    assert not banner.is_visible() and page.locator(".msg").count() == 0


def test_new_chat_ends_the_previous_conversation_for_good(page):
    page.fill("#input", STROKE)
    page.click("#send")
    page.click("#reset")  # before the urgent reply's first chunk has arrived
    answer = ask(page, "I have had a mild sore throat since yesterday, what can I do?")
    assert triage(STROKE).message not in answer  # no chunk of the stroke reply lands in the new bubble
    assert not page.locator("#banner").is_visible()  # the stroke reply's triage never reaches the new chat
    assert page.locator(".msg.user").count() == 1 and "sore throat" in page.locator(".msg.user").inner_text()
