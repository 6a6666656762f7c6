"""`medqa serve --index DIR` as a real server process over an index of documents this test writes: citations beside
the content (the final chunk when streaming), abstention without asking the model, the urgent message first."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from test_server import STROKE, running_server

from medqa.config import IndexConfig
from medqa.retrieval.grounding import ABSTAIN_MESSAGE
from medqa.retrieval.index import build_index

FLU = ("Influenza is a viral infection of the nose, throat and lungs. Antibiotics do not treat influenza because it is "
       "caused by a virus. Antiviral medicines such as oseltamivir can shorten the illness if started early.")


@pytest.fixture(scope="module")
def grounded(tmp_path_factory, tiny_model) -> Iterator[str]:
    docs = tmp_path_factory.mktemp("docs")
    (docs / "flu.md").write_text(f"# Influenza\n\n{FLU}\n")
    index = tmp_path_factory.mktemp("index") / "idx"
    build_index([docs], index, IndexConfig(), progress=False)
    logs = tmp_path_factory.mktemp("logs")
    with running_server(["--base", str(tiny_model), "--index", str(index), "--set", "generation.temperature=0",
                         "--set", "generation.max_new_tokens=12"], logs / "server.log") as url:
        yield url


def chat(url: str, text: str, **kw) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json={"model": "base", "messages": [
        {"role": "user", "content": text}], **kw}, timeout=120)


def test_off_topic_question_abstains_with_an_empty_citation_list(grounded):
    body = chat(grounded, "How do I change the oil in my car?").json()
    assert body["choices"][0]["message"]["content"].startswith(ABSTAIN_MESSAGE)
    assert body["citations"] == [] and body["usage"]["completion_tokens"] == 0  # the model was not asked


def test_streamed_reply_ends_with_citations_and_equals_the_whole_reply(grounded):
    whole = chat(grounded, "Do antibiotics cure the flu?").json()
    events = []
    with httpx.stream("POST", f"{grounded}/v1/chat/completions", json={"model": "base", "stream": True, "messages": [
            {"role": "user", "content": "Do antibiotics cure the flu?"}]}, timeout=120) as resp:
        for line in resp.iter_lines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                events.append(json.loads(line[5:]))
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in events if c["choices"])
    assert text.strip() == whole["choices"][0]["message"]["content"]
    final = [c for c in events if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(final) == 1 and final[0]["citations"] == whole["citations"]
    assert all("citations" not in c for c in events if c not in final)
    cited = {f"[{c['index']}]" for c in whole["citations"]}
    assert all(n in text for n in cited)  # every listed source is cited in the text


def test_emergency_still_leads_with_the_urgent_message(grounded):
    body = chat(grounded, STROKE).json()
    assert body["triage"]["urgent"] and body["choices"][0]["message"]["content"].startswith(body["triage"]["message"])
