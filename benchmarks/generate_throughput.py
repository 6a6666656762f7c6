"""Generation throughput: the same prompts answered (a) one at a time by `model.generate` with the adapter
attached, as a typical script does, and (b) by medqa's `Assistant` serving 8 concurrent requests. Greedy.

    python benchmarks/generate_throughput.py [--adapter RUN] [--max-new-tokens 64] [--clients 8]

medqa runs twice on the same loaded model: in the baseline's numerics (fp32 here unless --dtype says otherwise,
int8 head off), where the answers must equal the baseline's token for token (exit 1 otherwise), and with its
defaults (int8 LM head for greedy decoding on x86 CPUs), where the matching answers are counted. Without
--adapter a 2-step adapter is trained first on the embedded model. Prints the matmul ceiling and the FLOP/s
the decoding achieved. Last line: `generate ratio=R` (medqa defaults over the baseline).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

QUESTIONS = [
    "I have had a dry cough for two weeks and feel tired. What could cause it?",
    "My ankle is swollen after I twisted it yesterday. What should I do?",
    "I get heartburn after most evening meals. How can I ease it?",
    "My 4 year old has had a runny nose and mild fever for two days. When should I worry?",
    "I often feel dizzy when I stand up quickly. Is that dangerous?",
    "My knees ache after running. Should I stop exercising?",
    "I have itchy, dry skin on my hands every winter. What helps?",
    "How can I tell if my headache is a migraine or a tension headache?",
]


def quick_adapter(work: Path) -> str:
    from medqa.config import build_config
    from medqa.data.prepare import run_prepare
    from medqa.training.trainer import run_training

    cfg = build_config({}, [f"train.output_dir={work / 'run'}", "train.max_steps=2", "train.batch_size=2",
                            "train.eval_rows=2", "data.max_rows=40", "train.report_to=[]"])
    run_prepare(cfg, work / "data")
    run_training(cfg, work / "data", progress=False)
    return str(work / "run")


def baseline(model, tok, prompts: list[list[int]], max_new: int, stop_ids: list[int]) -> tuple[list[list[int]], float]:
    import torch

    outs, t0 = [], time.perf_counter()
    for p in prompts:
        ids = torch.tensor([p])
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new,
                                 do_sample=False, eos_token_id=stop_ids, pad_token_id=tok.pad_token_id)
        row = out[0, len(p):].tolist()
        outs.append(row[: min([row.index(s) for s in stop_ids if s in row], default=len(row))])
    return outs, time.perf_counter() - t0


def served(assistant, n_clients: int, max_new: int) -> tuple[list[str], int, float]:
    def ask(q: str):
        return assistant.submit([{"role": "user", "content": q}], "tuned", max_tokens=max_new,
                                temperature=0.0).done.result()

    with ThreadPoolExecutor(n_clients) as pool:
        t0 = time.perf_counter()
        results = list(pool.map(ask, QUESTIONS[:n_clients]))
        elapsed = time.perf_counter() - t0
    return [r.text for r in results], sum(r.tokens for r in results), elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapter")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, e.g. safety.semantic=false to time the rules-only triage")
    args = ap.parse_args()

    from medqa.config import build_config
    from medqa.inference.assistant import Assistant
    from train_throughput import matmul_ceiling

    ceiling = matmul_ceiling()
    print(f"matmul ceiling: fp32 {ceiling['fp32']:.0f} GFLOP/s, bf16 {ceiling['bf16']:.0f} GFLOP/s", flush=True)
    adapter = args.adapter or quick_adapter(Path(tempfile.mkdtemp(prefix="medqa-gen-")))
    cfg = build_config({}, [f"model.dtype={args.dtype}", "generation.repetition_penalty=1.0", *args.set])
    assistant = Assistant.from_config(cfg, {"tuned": adapter}).start()
    gen = assistant.generator
    system = assistant.system
    convs = [([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": q}]
             for q in QUESTIONS[: args.clients]]
    prompts = [gen.prompt_ids(c) for c in convs]
    gen.model.set_adapter("tuned")
    # Warm-up, both sides (medqa's below): first-call costs (page faults, allocator, the Assistant's cached
    # system-prompt KV, which a server computes once per adapter) are not throughput.
    baseline(gen.model, gen.tokenizer, prompts[:1], 4, gen.stop_ids)
    base_rows, base_s = baseline(gen.model, gen.tokenizer, prompts, args.max_new_tokens, gen.stop_ids)
    base_tokens = sum(map(len, base_rows))
    base_texts = [gen.tokenizer.decode(r, skip_special_tokens=True).strip() for r in base_rows]
    c = gen.model.config
    per_token = 2 * (sum(p.numel() for p in gen.model.parameters()) - c.vocab_size * c.hidden_size) \
        + 2 * c.vocab_size * c.hidden_size
    b_tps = base_tokens / base_s
    print(f"baseline: {base_tokens} tokens in {base_s:.1f}s = {b_tps:.1f} tokens/s "
          f"({b_tps * per_token / 1e9:.1f} GFLOP/s)")
    runs = {}
    for label, int8 in (("baseline numerics", False), ("medqa defaults", gen.int8_head)):
        gen.int8_head = int8
        served(assistant, args.clients, 4)  # warm-up: the int8 head is packed on first use
        texts, tokens, seconds = served(assistant, args.clients, args.max_new_tokens)
        same = sum(a.strip() == b for a, b in zip(texts, base_texts))
        runs[label] = tokens / seconds
        print(f"medqa, {label} (int8 head {'on' if int8 else 'off'}): {tokens} tokens in {seconds:.1f}s = "
              f"{tokens / seconds:.1f} tokens/s ({tokens / seconds * per_token / 1e9:.1f} GFLOP/s), "
              f"{args.clients} concurrent requests; answers identical to the baseline's: {same}/{len(texts)}")
        if label == "baseline numerics" and same != len(texts):
            sys.exit("medqa's answers in the baseline's numerics differ from the baseline's: a bug")
    print(f"medqa batches (rows: calls): {dict(assistant.batch_sizes)}")
    assistant.close()
    print(f"generate ratio={runs['medqa defaults'] / b_tps:.2f}")


if __name__ == "__main__":
    main()
