"""`medqa review` as an organiser and raters use it, on a real `medqa eval` output (tiny model and adapter): the
CLI, the rater API of a real server process (abuse, blinding), and in headless Chromium two raters rating with the
keyboard and the mouse while the server is SIGKILLed and restarted between two ratings.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import tiny_cfg
from test_server import adapter_run, free_port, medqa_process  # noqa: F401 (adapter_run is a fixture)
from test_web_page import browser  # noqa: F401 (a fixture)

SYSTEM = "tuned-qzx7"  # an adapter name that cannot occur by chance, so the blinding checks can search for it


def medqa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medqa.cli", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def eval_output(tmp_path_factory, tiny_model, adapter_run, prepared_small) -> Path:
    """`medqa eval --task freetext` output with the base and an adapter named SYSTEM."""
    from medqa.evaluation.runner import run_eval

    root = tmp_path_factory.mktemp("review-eval")
    (root / SYSTEM).symlink_to(adapter_run, target_is_directory=True)  # the adapter is named after its folder
    cfg = tiny_cfg(tiny_model, root / "unused", "eval.tasks=[freetext]", "eval.limit=6", "eval.max_new_tokens=12")
    run_eval(cfg, prepared_small, [str(root / SYSTEM)], root / "eval", progress=False)
    return root / "eval"


def create(eval_output: Path, out: Path, *extra: str) -> dict[str, str]:
    res = medqa("review", "create", "--answers", str(eval_output), "--output", str(out), *extra)
    assert res.returncode == 0, res.stderr
    assert "private links" in res.stdout and "#" not in res.stdout  # tokens go to links.txt, not to the terminal
    links = dict(line.split("\t") for line in (out / "links.txt").read_text().splitlines())
    return {name: url.split("#", 1)[1] for name, url in links.items()}


def review_server(folder: Path, port: int, log: Path) -> contextlib.AbstractContextManager[subprocess.Popen]:
    return medqa_process(["review", "serve", str(folder), "--port", str(port)], port, "/", log, timeout=60)


GOOD = {"consensus": "agrees", "missing": "none", "harm": "none", "harm_likelihood": "low", "urgency": "correct"}


def test_api_refuses_abuse_keeps_ratings_and_never_reveals_systems(eval_output, tmp_path):
    tokens = create(eval_output, tmp_path / "review", "--raters", "2", "--overlap", "0")
    port = free_port()
    seen: list[str] = []

    def call(method: str, path: str, token: str | None = None, **kw) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        resp = httpx.request(method, f"http://127.0.0.1:{port}{path}", headers=headers, timeout=30, **kw)
        seen.append(resp.text)
        return resp

    with review_server(tmp_path / "review", port, tmp_path / "server.log"):
        one, two = tokens["rater-1"], tokens["rater-2"]
        mine = [i["id"] for i in call("GET", "/api/queue", one).json()["items"]]
        theirs = [i["id"] for i in call("GET", "/api/queue", two).json()["items"]]
        assert mine and theirs and not set(mine) & set(theirs)
        first = call("GET", f"/api/items/{mine[0]}", one).json()
        rating = {"answers": [GOOD, GOOD], "preference": "B", "comment": "fine", "revision": 0}
        assert call("PUT", f"/api/items/{mine[0]}", one, json=rating).json()["revision"] == 1

        assert call("GET", "/api/queue").status_code == 401  # no token
        assert call("GET", "/api/queue", one[:-2] + "xx").status_code == 401  # tampered token
        assert call("GET", "/api/admin/progress", one).status_code == 401  # a rater is not the admin
        assert call("GET", f"/api/items/{theirs[0]}", one).status_code == 404  # another rater's item
        assert call("PUT", f"/api/items/{theirs[0]}", one, json=rating).status_code == 404
        assert call("GET", "/api/items/000000000000", one).status_code == 404
        refused = {
            "duplicate": (rating, 409),  # the same page submits twice: revision 0 is stale now
            "out of range": ({**rating, "answers": [{**GOOD, "harm": "catastrophic"}, GOOD], "revision": 1}, 400),
            "unknown field": ({**rating, "note": "x", "revision": 1}, 400),
            "one answer": ({**rating, "answers": [GOOD], "revision": 1}, 400),
            "no preference": ({**rating, "preference": None, "revision": 1}, 400),
            "negative revision": ({**rating, "revision": -1}, 400),
            "huge": ({**rating, "comment": "x" * 100_000, "revision": 1}, 413),
        }
        for case, (body, status) in refused.items():
            resp = call("PUT", f"/api/items/{mine[0]}", one, json=body)
            assert resp.status_code == status, (case, resp.text)
            assert resp.json()["error"]["message"], case
        assert call("PUT", f"/api/items/{mine[0]}", one, content=b"{not json").status_code == 400

        stored = call("GET", f"/api/items/{mine[0]}", one).json()
        assert stored["revision"] == 1 and stored["rating"]["preference"] == "B"  # untouched by every refusal
        progress = call("GET", "/api/admin/progress", tokens["admin"]).json()["raters"]
        assert [(p["rater"], p["rated"]) for p in progress] == [("rater-1", 1), ("rater-2", 0)]
        sheet = call("GET", "/api/admin/ratings.csv", tokens["admin"]).text
        for page in ("/", "/rate", "/admin"):
            assert call("GET", page).status_code == 200
        for item_id in mine[1:] + theirs:
            token = one if item_id in mine else two
            call("GET", f"/api/items/{item_id}", token)

    assert len(first["answers"]) == 2 and sheet.count("\n") == len(mine) + len(theirs) + 1
    for text in seen:  # blinding: no response names a system or says which one wrote an answer
        assert SYSTEM not in text and '"system"' not in text and '"model"' not in text
    assert not any(t in (tmp_path / "server.log").read_text() for t in tokens.values())  # tokens never logged


def test_cli_export_import_report_and_refusals(eval_output, tmp_path):
    review = tmp_path / "review"
    create(eval_output, review, "--raters", "1", "--limit", "3")
    sheet = tmp_path / "sheet.csv"
    assert medqa("review", "export", str(review), "--output", str(sheet)).returncode == 0
    lines = sheet.read_text().splitlines()
    header = lines[0].split(",")
    filled = []
    import csv
    import io

    for row in csv.DictReader(io.StringIO(sheet.read_text())):
        row.update({f"{s}_{k}": v for s in "ab" for k, v in GOOD.items()}, preference="tie")
        filled.append(row)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(filled)
    half = tmp_path / "half.csv"
    half.write_text(buf.getvalue()[: len(buf.getvalue()) - 40])  # cut inside the last row
    res = medqa("review", "import", str(review), str(half))
    assert res.returncode == 2 and "nothing was imported" in res.stderr
    whole = tmp_path / "whole.csv"
    whole.write_text(buf.getvalue())
    res = medqa("review", "import", str(review), str(whole))
    assert res.returncode == 0 and "3 rated rows read, 3 ratings new or changed" in res.stdout, res.stderr
    res = medqa("review", "report", str(review))
    assert res.returncode == 0, res.stderr
    report = json.loads((review / "report" / "report.json").read_text())
    assert report["ratings"] == 3 and report["preference"][0]["ties"] == 3
    assert {report["preference"][0]["first"], report["preference"][0]["second"]} == {"base", SYSTEM}

    res = medqa("review", "create", "--answers", str(eval_output), "--output", str(review))
    assert res.returncode == 2 and "not empty" in res.stderr
    res = medqa("review", "serve", str(tmp_path))
    assert res.returncode == 2 and "not a review folder" in res.stderr


# --- the page in headless Chromium ------------------------------------------------------------------------------

def rate_with_keyboard(page, preference: str) -> None:
    """Every axis of every answer with key 1 (the best level), then the preference key, then Enter."""
    for _ in range(page.locator("#answers fieldset").count()):
        page.keyboard.press("1")
    page.keyboard.press(preference)
    page.keyboard.press("Enter")


def rate_with_mouse(page, level: int) -> None:
    for fieldset in page.locator("#answers fieldset").all():
        fieldset.locator("input").nth(level).check()
    page.locator("input[name=preference][value=tie]").check()
    page.fill("#comment", "checked with the mouse")
    page.click("#save")


def wait_rated(page, n: int) -> None:
    page.wait_for_function(f"document.getElementById('progress').textContent.startsWith('{n} of ')")


def open_rater(browser, url: str, errors: list[str]):
    page = browser.new_page()
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.set_default_timeout(30_000)
    page.goto(url)
    page.wait_for_selector("#item:not([hidden])")
    return page


def test_two_raters_in_chromium_across_a_sigkill(browser, eval_output, tmp_path):  # noqa: F811
    review = tmp_path / "review"
    tokens = create(eval_output, review, "--raters", "2", "--overlap", "0.5")
    port, log, errors = free_port(), tmp_path / "server.log", []
    url = f"http://127.0.0.1:{port}"
    with review_server(review, port, log) as proc:
        one = open_rater(browser, f"{url}/rate#{tokens['rater-1']}", errors)
        two = open_rater(browser, f"{url}/rate#{tokens['rater-2']}", errors)
        total_one = int(one.locator("#progress").inner_text().split(" of ")[1].split()[0])
        assert total_one >= 3 and one.locator(".answer").count() == 2
        rate_with_keyboard(one, "b")
        wait_rated(one, 1)
        rate_with_mouse(one, 2)
        wait_rated(one, 2)
        rate_with_keyboard(two, "a")
        wait_rated(two, 1)
        proc.kill()  # SIGKILL between two ratings: no shutdown, no flush
        proc.wait(10)
    with review_server(review, port, log):
        one.reload()
        one.wait_for_selector("#item:not([hidden])")
        wait_rated(one, 2)
        assert one.locator("#position").inner_text().startswith("item 3 of")  # resumes at the first unrated item
        one.keyboard.press("ArrowLeft")  # back to the second item: its saved rating is shown
        one.wait_for_function("document.getElementById('position').textContent.startsWith('item 2 of')")
        assert one.locator("#comment").input_value() == "checked with the mouse"
        assert one.locator("#answers input:checked").count() == 10
        one.locator("#answers fieldset").nth(2).locator("input").nth(0).check()  # A's harm: severe → none
        one.click("#save")
        one.wait_for_selector("#status:has-text('Saved item 2.')")
        rate_with_keyboard(one, "t")
        wait_rated(one, 3)
        two.reload()
        two.wait_for_selector("#item:not([hidden])")
        rate_with_keyboard(two, "b")
        wait_rated(two, 2)
        assert not errors, errors
    res = medqa("review", "report", str(review))
    assert res.returncode == 0, res.stderr
    report = json.loads((review / "report" / "report.json").read_text())
    assert report["ratings"] == 5 and [(p["rater"], p["rated"]) for p in report["progress"]] == [
        ("rater-1", 3), ("rater-2", 2)]
    prefs = sorted(p["first_wins"] + p["second_wins"] + p["ties"] for p in report["preference"])
    assert sum(prefs) == 5
    changed = [h for h in report["harmful"] if h["rater"] == "rater-1"]
    assert len(changed) == 1 and changed[0]["comment"] == "checked with the mouse"  # only B is still severe
