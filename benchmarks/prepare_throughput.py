"""`medqa prepare` throughput on 100,000 HealthCareMagic-style noisy rows, tokenizer statistics included.

    MEDQA_HOME=/tmp/mh python benchmarks/prepare_throughput.py [--rows 100000] [--no-token-stats] [--keep DIR]

The input is built from the embedded set (src/medqa/data/embedded/*.jsonl): every row mixes sentences of
several embedded questions and answers of one topic, with ages, durations and a few typos varied, so that
rows are distinct and the vocabulary is not tiny. Then HealthCareMagic's noise is injected: greetings and
"Chat Doctor" openings, closings and signatures, URLs, e-mails, phone numbers, mojibake, lost apostrophes,
HTML entities, control characters, AI disclaimers, invented "Patient:" turns, non-English rows, short rows,
malformed lines, exact duplicates and near duplicates. Goal: 100,000 rows in 60 s or less on 2 cores.
The last line reports rows/s and peak memory (RSS of this process, tokenizer included).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

from medqa.data.sources import embedded_paths

INSTRUCTION = "If you are a doctor, please answer the medical questions based on the patient's description."
GREETINGS = ["Hi,", "Hello,", "Hi, Welcome to Chat Doctor.", "Thanks for your query.", "Hello dear,",
             "Hi, thanks for asking on Chat Doctor.", "I have gone through your query and understand your concern.",
             "Dear Sir, Thank you for posting your question here.", "Hello, Welcome to Chat Doctor forum."]
CLOSINGS = ["Hope this helps. Take care.", "Regards, Dr. {name}", "Wish you good health.", "Thanks & Regards Chat Doctor.",
            "Feel free to ask any further queries. Regards, Dr. {name}, MBBS, MD", "Take care. Chat Doctor.",
            "Hope I have answered your query. Let me know if I can assist you further."]
NAMES = ["Ravi Kumar", "Sarah Jones", "Ahmed Khan", "Maria Lopez", "John Smith", "Priya Sharma"]
FOREIGN = ["Hola doctor, tengo dolor de cabeza desde hace tres días y no sé qué hacer con esto.",
           "Guten Tag, ich habe seit einer Woche starke Rückenschmerzen und kann kaum schlafen.",
           "Bonjour docteur, mon enfant a de la fièvre depuis hier soir, que dois-je faire?"]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def load_pools() -> dict[str, tuple[list[str], list[str]]]:
    pools: dict[str, tuple[list[str], list[str]]] = {}
    for path in embedded_paths():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            qs, ans = pools.setdefault(row["topic"], ([], []))
            qs += _sentences(row["question"])
            ans += _sentences(row["answer"])
    return pools


def _typos(text: str, rng: random.Random, rate: float = 0.02) -> str:
    words = text.split(" ")
    for i, w in enumerate(words):
        if len(w) > 4 and rng.random() < rate:
            j = rng.randrange(1, len(w) - 2)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def base_row(pools: dict[str, tuple[list[str], list[str]]], rng: random.Random) -> tuple[str, str]:
    qs, ans = pools[rng.choice(sorted(pools))]
    question = f"I am {rng.randint(18, 85)} years old. " + " ".join(rng.sample(qs, min(len(qs), rng.randint(2, 3))))
    question += f" It has been {rng.randint(2, 30)} days."
    answer = " ".join(rng.sample(ans, min(len(ans), rng.randint(4, 7))))
    return _typos(question, rng), _typos(answer, rng)


def add_noise(question: str, answer: str, rng: random.Random) -> tuple[str, str]:
    """HealthCareMagic's noise, each kind with its own probability."""
    r = rng.random
    if r() < 0.6:
        answer = f"{rng.choice(GREETINGS)} {answer}"
    if r() < 0.5:
        answer = f"{answer} {rng.choice(CLOSINGS).format(name=rng.choice(NAMES))}"
    if r() < 0.05:
        answer += f" Read more at www.health-{rng.randint(1, 999)}.com/info."
    if r() < 0.03:
        answer += f" Mail me at dr.{rng.randint(1, 999)}@example.com."
    if r() < 0.03:
        answer += f" Call +1 (555) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}."
    if r() < 0.03:
        answer = answer.replace("'", "\u00e2\u20ac\u2122")
    if r() < 0.02:
        question = question.replace("I've", "I??e").replace("don't", "don??t").replace("I'm", "I??")
    if r() < 0.02:
        answer = answer.replace(" and ", " &amp; ", 1) + " It&#39;s common."
    if r() < 0.01:
        answer = answer.replace(" ", "\x07 ", 1)
    if r() < 0.01:
        answer += " As an AI language model, I cannot examine you."
    if r() < 0.02:
        answer += " Patient: Thank you doctor, what about my diet?"
    return question, answer


def write_rows(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    pools = load_pools()
    recent: list[dict[str, str]] = []
    with path.open("w", encoding="utf-8") as fh:
        for _ in range(n):
            kind = rng.random()
            if kind < 0.005:
                fh.write('{"instruction": "broken row", "input": \n')
                continue
            if kind < 0.045 and recent:
                row = dict(rng.choice(recent))  # exact duplicate
            elif kind < 0.085 and recent:
                row = dict(rng.choice(recent))  # near duplicate: another greeting, one more word
                row["output"] = f"{rng.choice(GREETINGS)} {row['output'].replace(' the ', ' the usual ', 1)}"
            elif kind < 0.09:
                row = {"instruction": INSTRUCTION, "input": rng.choice(FOREIGN), "output": rng.choice(FOREIGN) * 3}
            elif kind < 0.1:
                row = {"instruction": INSTRUCTION, "input": "Is this fever serious for my son?", "output": "Ok."}
            else:
                question, answer = add_noise(*base_row(pools, rng), rng)
                row = {"instruction": INSTRUCTION, "input": question, "output": answer}
            recent = (recent + [row])[-500:]
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _peak_rss_mib() -> float:
    """Peak resident memory of this process: since the last reset where Linux allows it, else since start."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


class ChildMemory:
    """Samples the resident memory of this process's children (the cleaning workers) in a thread (needs psutil)."""

    def __init__(self) -> None:
        self.peak_mib = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        me = psutil.Process()
        while not self.stop.wait(0.5):
            for child in me.children(recursive=True):
                try:
                    self.peak_mib = max(self.peak_mib, child.memory_info().rss / 2**20)
                except psutil.Error:
                    pass


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-token-stats", action="store_true")
    parser.add_argument("--keep", help="write the prepared folder here instead of a temporary one")
    args = parser.parse_args()

    from medqa.config import ModelConfig, build_config
    from medqa.data.prepare import run_prepare
    from medqa.data.rows import auto_workers
    from medqa.modeling.loading import load_tokenizer, resolve_base

    work = Path(tempfile.mkdtemp(prefix="medqa-bench-"))
    src = work / "hcm_noisy.jsonl"
    t = time.perf_counter()
    write_rows(src, args.rows)
    print(f"built {args.rows} noisy rows ({src.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    tok = None if args.no_token_stats else load_tokenizer(resolve_base("embedded"), ModelConfig())
    print(f"tokenizer loaded in {time.perf_counter() - t:.1f} s")
    rss_before = _peak_rss_mib()
    reset = _reset_peak_rss()
    cfg = build_config({}, [f"data.source={src}"])
    children = ChildMemory()
    children.thread.start()
    load, cpu, t = os.getloadavg()[0], _cpu_seconds(), time.perf_counter()
    res = run_prepare(cfg, Path(args.keep) if args.keep else work / "prepared", tokenizer=tok)
    seconds, cpu = time.perf_counter() - t, _cpu_seconds() - cpu
    children.stop.set()
    peak = _peak_rss_mib() if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows in {res.rows_in}, out {res.rows_out}, dropped {dict(res.dropped)}")
    print(f"changed by rule {res.changed}")
    print(f"lengths: {res.stats['lengths']['method']} ({res.stats['lengths']['unit']}), "
          f"cleaning workers: {auto_workers(cfg.data)}")
    print(f"CPU time of prepare (this process and its workers): {cpu:.1f} s; load average before: {load:.1f}, "
          f"after: {os.getloadavg()[0]:.1f}, on {os.cpu_count()} cores; largest worker RSS {children.peak_mib:.0f} MiB")
    print(f"prepare_throughput: {res.rows_in} rows in {seconds:.1f} s = {res.rows_in / seconds:.0f} rows/s "
          f"({'with' if tok else 'without'} tokenizer statistics on all rows); peak RSS {peak:.0f} MiB "
          f"(main process, {rss_before:.0f} MiB with the tokenizer loaded before prepare); goal 100000 rows in <= 60 s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
