"""The `medqa` command: parse arguments, build the config, call one stage function.

Heavy imports (torch, transformers) happen inside the commands so that `medqa --help` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from medqa.errors import MedqaError


def _config(args: argparse.Namespace, extra: list[str] | None = None) -> Any:
    from medqa.config import load_config

    return load_config(args.config, [*(extra or []), *args.set])


def _opt(key: str, value: Any) -> list[str]:
    return [] if value is None else [f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]


def _run_base(adapters: list[str]) -> str | None:
    """The base recorded by the first medqa run folder among the adapters, if any."""
    for spec in adapters:
        meta = Path(spec) / "run.json"
        if meta.is_file():
            return json.loads(meta.read_text()).get("base")
    return None


def cmd_prepare(args: argparse.Namespace) -> int:
    from medqa.data.prepare import run_prepare
    from medqa.modeling.loading import load_tokenizer, resolve_base

    cfg = _config(args, _opt("data.source", args.source) + _opt("data.schema", args.schema)
                  + _opt("data.question_field", args.question_field) + _opt("data.answer_field", args.answer_field)
                  + _opt("data.max_rows", args.max_rows) + _opt("model.base", args.base))
    tok = None if args.no_token_stats else load_tokenizer(resolve_base(cfg.model.base), cfg.model)
    res = run_prepare(cfg, args.output, tokenizer=tok)
    print(f"prepared {res.rows_in} rows → {res.rows_out} (dropped: {dict(res.dropped) or 'none'}) in {res.output_dir}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from medqa.training.trainer import run_training

    cfg = _config(args, _opt("train.output_dir", args.output) + _opt("model.base", args.base)
                  + _opt("model.quantization", args.quantization) + _opt("train.max_steps", args.max_steps))
    res = run_training(cfg, args.data, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    print(f"trained {res.steps} steps in {res.train_seconds:.0f}s ({res.tokens_per_second:.0f} tokens/s); "
          f"train loss {res.final_train_loss:.3f}, validation loss {res.val_loss}; adapter in {res.run_dir}/adapter")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from medqa.evaluation.report import print_loss_table
    from medqa.evaluation.runner import run_eval

    cfg = _config(args, _opt("model.base", args.base or _run_base(args.adapter)))
    metrics = run_eval(cfg, args.data, args.adapter, tuple(args.splits), args.output, args.limit)
    print_loss_table(metrics["losses"])
    if args.output:
        print(f"metrics written to {Path(args.output) / 'metrics.json'}")
    return 0


def _generation_overrides(args: argparse.Namespace) -> list[str]:
    return (_opt("generation.max_new_tokens", args.max_new_tokens) + _opt("generation.temperature", args.temperature)
            + _opt("generation.top_p", args.top_p) + _opt("generation.seed", args.seed)
            + _opt("model.base", args.base or _run_base(args.adapter)) + _opt("prompt.system_prompt", args.system))


def _session(args: argparse.Namespace) -> Any:
    from medqa.data.formatting import system_prompt
    from medqa.inference.generator import load_generator
    from medqa.inference.session import ChatSession

    cfg = _config(args, _generation_overrides(args))
    adapters = {"adapter": args.adapter[0]} if args.adapter else {}
    gen = load_generator(cfg, adapters)
    return ChatSession(gen, cfg.generation, system_prompt(cfg.prompt.system_prompt), "adapter" if adapters else None)


def cmd_ask(args: argparse.Namespace) -> int:
    session = _session(args)
    for piece in session.send(args.question):
        print(piece, end="", flush=True)
    print()
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from medqa.safety import DISCLAIMER

    session = _session(args)
    print(f"{DISCLAIMER}\nType your question; an empty line or Ctrl-D ends the chat, /reset starts over.")
    while True:
        try:
            text = input("\nyou> ").strip()
        except EOFError:
            break
        if not text:
            break
        if text == "/reset":
            session.history.clear()
            continue
        print("medqa> ", end="", flush=True)
        for piece in session.send(text):
            print(piece, end="", flush=True)
        print()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from medqa.demo import run_demo

    run_demo(args.output, _config(args), steps=args.steps)
    return 0


def cmd_triage(args: argparse.Namespace) -> int:
    from medqa.safety import triage

    if args.input:
        return _triage_file(Path(args.input), args.output)
    if not args.message:
        raise MedqaError("give a message to triage, or --input FILE.jsonl")
    result = triage(args.message)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(f"URGENT ({result.category}): {result.message}" if result.urgent else "not urgent: no red flags found")
    return 0


def _triage_file(path: Path, output: str | None) -> int:
    """One JSON object per input line; other fields (such as id) are copied through."""
    from medqa.safety import triage

    if not path.is_file():
        raise MedqaError(f"{path} does not exist: pass a JSONL file of objects with a 'text' field")
    out = open(output, "w", encoding="utf-8") if output else sys.stdout
    bad = 0
    try:
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                text = obj["text"]
                if not isinstance(text, str):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                bad += 1
                print(f"line {n}: skipped, not a JSON object with a 'text' string", file=sys.stderr)
                continue
            out.write(json.dumps({**obj, **triage(text).to_dict()}, ensure_ascii=False) + "\n")
    finally:
        if output:
            out.close()
    return 1 if bad else 0


def cmd_validate(args: argparse.Namespace) -> int:
    from medqa.config import load_config

    load_config(args.file, args.set)
    print(f"{args.file}: valid")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML config file (see configs/)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.max_steps=20")


def _generation_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--adapter", action="append", default=[], help="run folder, adapter folder or Hub adapter id")
    p.add_argument("--base", help="base model: embedded, Hub id, local folder or .gguf (default: the adapter's)")
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--temperature", type=float, help="0 = greedy")
    p.add_argument("--top-p", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--system", help="system prompt (default: medqa's answer policy)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medqa", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="clean, deduplicate and split a QA data set")
    _common(p)
    p.add_argument("--source", help="'embedded', a Hub dataset id or a .json/.jsonl/.csv/.parquet file")
    p.add_argument("--output", default="data/prepared")
    p.add_argument("--schema", choices=["auto", "instruction", "qa", "messages"])
    p.add_argument("--question-field")
    p.add_argument("--answer-field")
    p.add_argument("--max-rows", type=int)
    p.add_argument("--base", help="model whose tokenizer measures lengths (default: embedded)")
    p.add_argument("--no-token-stats", action="store_true")
    p.set_defaults(fn=cmd_prepare)

    p = sub.add_parser("train", help="fine-tune a LoRA adapter on a prepared folder")
    _common(p)
    p.add_argument("--data", default="data/prepared")
    p.add_argument("--output", help="run folder (default train.output_dir)")
    p.add_argument("--base")
    p.add_argument("--quantization", choices=["none", "nf4"])
    p.add_argument("--max-steps", type=int)
    p.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace a finished run in --output")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("eval", help="loss and perplexity of the base and each adapter")
    _common(p)
    p.add_argument("--data", default="data/prepared")
    p.add_argument("--adapter", action="append", default=[])
    p.add_argument("--base")
    p.add_argument("--splits", nargs="+", default=["validation", "test"])
    p.add_argument("--limit", type=int, help="rows per split")
    p.add_argument("--output", help="folder for metrics.json")
    p.set_defaults(fn=cmd_eval)

    p = sub.add_parser("ask", help="answer one question (streamed)")
    _common(p)
    p.add_argument("question")
    _generation_flags(p)
    p.set_defaults(fn=cmd_ask)

    p = sub.add_parser("chat", help="interactive multi-turn chat")
    _common(p)
    _generation_flags(p)
    p.set_defaults(fn=cmd_chat)

    p = sub.add_parser("demo", help="prepare → train → evaluate → answer, on the embedded model and data")
    _common(p)
    p.add_argument("--output", default="runs/demo")
    p.add_argument("--steps", type=int, help="training steps (default: the demo's budget)")
    p.set_defaults(fn=cmd_demo)

    p = sub.add_parser("triage", help="red-flag triage of a patient message")
    p.add_argument("message", nargs="?")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--input", help="JSONL file of objects with a 'text' field")
    p.add_argument("--output", help="where --input results go (default: stdout)")
    p.set_defaults(fn=cmd_triage)

    p = sub.add_parser("validate-config", help="check a YAML config and report every problem")
    p.add_argument("file")
    p.add_argument("--set", action="append", default=[])
    p.set_defaults(fn=cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except MedqaError as err:
        print(f"medqa {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
