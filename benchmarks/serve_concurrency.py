"""Throughput of the Assistant's dynamic batching: N concurrent clients against the same N requests one at a time.

    MEDQA_HOME=/tmp/mh python benchmarks/serve_concurrency.py [--base embedded] [--clients 8] [--max-tokens 64]
        [--repeats 2] [--threads N]

Runs in-process (no HTTP): one Assistant, greedy decoding, the same N questions both ways, so both modes generate
the same tokens. Sequential mode waits for each answer before sending the next; concurrent mode sends all N at once
from N threads and the batcher groups them. Both modes are measured in this run, alternating `--repeats` times, and
the best of each is kept (the machine is shared). On an oversubscribed machine `--threads 1` gives steadier
figures: torch's worker threads spin-wait on each other when other processes hold the cores.
The last line prints tokens/s both ways and their ratio.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from medqa.config import build_config
from medqa.inference.assistant import Assistant
from medqa.inference.rows import Generated

QUESTIONS = [
    "I have had a dry cough for two weeks. What could cause it?",
    "What can I do about a mild sore throat at home?",
    "Is it normal to feel dizzy when I stand up quickly?",
    "My ankle is swollen after I twisted it yesterday. Should I rest it?",
    "How much water should an adult drink in a day?",
    "What are common causes of a headache behind the eyes?",
    "Can seasonal allergies cause tiredness?",
    "How long does a common cold usually last?",
    "Why do my knees ache after running?",
    "What helps with mild heartburn after meals?",
    "Is a low-grade fever after a vaccine normal?",
    "How can I sleep better when I have a stuffy nose?",
    "What is the difference between a cold and the flu?",
    "Should I worry about a small mole that has not changed?",
    "How do I treat a minor burn from a hot pan?",
    "What causes dry, itchy skin in winter?",
]


def _ask(assistant: Assistant, i: int, max_tokens: int) -> Generated:
    ticket = assistant.submit([{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}], max_tokens=max_tokens)
    return ticket.done.result()


def sequential(assistant: Assistant, n: int, max_tokens: int) -> tuple[int, float]:
    t0 = time.perf_counter()
    tokens = sum(_ask(assistant, i, max_tokens).tokens for i in range(n))
    return tokens, time.perf_counter() - t0


def concurrent(assistant: Assistant, n: int, max_tokens: int) -> tuple[int, float]:
    with ThreadPoolExecutor(n) as pool:
        t0 = time.perf_counter()
        results = list(pool.map(lambda i: _ask(assistant, i, max_tokens), range(n)))
        return sum(r.tokens for r in results), time.perf_counter() - t0


def measure(args: argparse.Namespace) -> dict[str, Any]:
    cfg = build_config({}, [f"model.base={args.base}", "generation.temperature=0"])
    t0 = time.perf_counter()
    assistant = Assistant.from_config(cfg, max_batch_size=args.clients, queue_size=max(64, args.clients))
    print(f"loaded {args.base} in {time.perf_counter() - t0:.1f}s")
    best: dict[str, tuple[int, float]] = {}
    with assistant:
        _ask(assistant, 0, 4)  # warm-up
        for r in range(args.repeats):
            for name, fn in (("one at a time", sequential), (f"{args.clients} concurrent", concurrent)):
                tokens, secs = fn(assistant, args.clients, args.max_tokens)
                print(f"round {r + 1} {name:>14}: {tokens} tokens in {secs:.2f}s = {tokens / secs:.1f} tokens/s")
                if name not in best or tokens / secs > best[name][0] / best[name][1]:
                    best[name] = (tokens, secs)
        print(f"batch sizes run: {assistant.stats()['batch_sizes']}")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="embedded", help="'embedded' or a model folder")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    best = measure(args)
    (seq_tok, seq_s), (con_tok, con_s) = best.values()
    seq, con = seq_tok / seq_s, con_tok / con_s
    print(f"{args.base}, max_tokens {args.max_tokens}: one at a time {seq:.1f} tokens/s, "
          f"{args.clients} concurrent {con:.1f} tokens/s, ratio {con / seq:.2f}x")


if __name__ == "__main__":
    main()
