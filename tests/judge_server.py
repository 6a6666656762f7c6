"""A small OpenAI-compatible judge server for the judge tests, run as its own process:

    python tests/judge_server.py PORT [--die-after N]

It answers `POST /v1/chat/completions` like a judge model whose behaviour the `model` field picks:
- `rules`: a deterministic grader. A statement or criterion holding a 'quoted phrase' is entailed / met when the
  answer contains that phrase, contradicted when it contains "not PHRASE" (statements), else not addressed / unmet;
- `fenced`: the same verdicts wrapped in ```json fences and a sentence;
- `garbage` (prose, no JSON), `empty` (an empty message), `badlabel` (JSON with an unknown label);
- `flaky`: HTTP 500 on every other request, the `rules` verdict otherwise;
- `slow`: waits 3 s before answering.
`GET /stats` reports requests seen and the most in flight at once; `--die-after N` exits the process after N
answered requests, as a judge that goes down part-way.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"requests": 0, "answered": 0, "in_flight": 0, "max_in_flight": 0}
LOCK = threading.Lock()
DIE_AFTER = int(sys.argv[sys.argv.index("--die-after") + 1]) if "--die-after" in sys.argv else None
BLOCK = re.compile(r"<<<\n(.*?)\n>>>", re.S)


def rules_verdict(prompt: str) -> dict:
    blocks = BLOCK.findall(prompt)
    answer, target = blocks[1].lower(), blocks[-1]
    quoted = re.search(r"'([^']+)'", target)
    phrase = quoted.group(1).lower() if quoted else None
    if "criteria_met" in prompt:
        return {"criteria_met": bool(phrase and phrase in answer), "explanation": "phrase check"}
    if phrase and f"not {phrase}" in answer:
        return {"label": "contradicted", "reason": "negated"}
    return {"label": "entailed" if phrase and phrase in answer else "not_addressed", "reason": "phrase check"}


def content_for(model: str, prompt: str) -> str:
    if model == "garbage":
        return "I think the answer is mostly fine, overall."
    if model == "empty":
        return ""
    if model == "badlabel":
        return json.dumps({"label": "probably", "criteria_met": "maybe"})
    verdict = json.dumps(rules_verdict(prompt))
    return f"Here is my grade:\n```json\n{verdict}\n```" if model == "fenced" else verdict


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "rules", "object": "model"}]})
        elif self.path == "/stats":
            with LOCK:
                self._send(200, dict(STATE))
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        with LOCK:
            STATE["requests"] += 1
            STATE["in_flight"] += 1
            STATE["max_in_flight"] = max(STATE["max_in_flight"], STATE["in_flight"])
            n = STATE["requests"]
        try:
            time.sleep(0.05)  # long enough for concurrent calls to overlap
            model = body.get("model", "rules")
            if model == "flaky" and n % 2:
                self._send(500, {"error": {"message": "overloaded"}})
                return
            if model == "slow":
                time.sleep(3)
            prompt = body["messages"][-1]["content"]
            content = content_for(model, prompt)
            self._send(200, {"id": f"c{n}", "object": "chat.completion", "model": model,
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(content) // 4,
                                       "total_tokens": (len(prompt) + len(content)) // 4}})
        finally:
            with LOCK:
                STATE["in_flight"] -= 1
                STATE["answered"] += 1
                if DIE_AFTER is not None and STATE["answered"] >= DIE_AFTER:
                    os._exit(1)  # the judge goes down part-way, without a goodbye


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
