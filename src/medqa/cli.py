"""The `medqa` command: parse arguments, build the config, call one stage function.

Heavy imports (torch, transformers) happen inside the commands so that `medqa --help` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from medqa.errors import MedqaError


def _config(args: argparse.Namespace, extra: list[str] | None = None) -> Any:
    from medqa.config import load_config

    return load_config(args.config, [*(extra or []), *args.set])


def _opt(key: str, value: Any) -> list[str]:
    return [] if value is None else [f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]


def _run_defaults(adapters: list[str]) -> list[str]:
    """Base model and system prompt of the first medqa run folder among the adapters: an adapter is used the
    way it was trained unless flags say otherwise."""
    import yaml

    for spec in adapters:
        cfg_path = Path(spec) / "config.yaml"
        if (Path(spec) / "run.json").is_file() and cfg_path.is_file():
            run_cfg = yaml.safe_load(cfg_path.read_text()) or {}
            prompt = (run_cfg.get("prompt") or {}).get("system_prompt")
            return _opt("model.base", run_cfg["model"]["base"]) + ([] if prompt is None else [
                "prompt.system_prompt=" + json.dumps(prompt)])
    return []


def _source_spec(spec: str) -> dict[str, Any]:
    """'PATH' or 'PATH,weight=2,group_field=focus' → a data.sources entry."""
    import yaml

    source, *options = spec.split(",")
    entry: dict[str, Any] = {"source": source}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep:
            raise MedqaError(f"--source {spec!r}: write options as key=value, e.g. {source},weight=2 or "
                             f"{source},max_rows=5000")
        entry[key.strip()] = yaml.safe_load(value) if value else ""
    return entry


def _prepare_overrides(args: argparse.Namespace) -> list[str]:
    specs = [_source_spec(s) for s in args.source or []]
    if len(specs) == 1 and len(specs[0]) == 1:
        sources = _opt("data.source", specs[0]["source"])
    else:
        sources = [f"data.sources={json.dumps(specs)}"] if specs else []
    return (sources + _opt("data.schema", args.schema) + _opt("data.question_field", args.question_field)
            + _opt("data.answer_field", args.answer_field) + _opt("data.group_field", args.group_field)
            + _opt("data.max_rows", args.max_rows) + _opt("data.workers", args.workers) + _opt("model.base", args.base))


def cmd_prepare(args: argparse.Namespace) -> int:
    from medqa.data.cleaning import describe_changes
    from medqa.data.prepare import run_prepare
    from medqa.modeling.loading import load_tokenizer, resolve_base

    cfg = _config(args, _prepare_overrides(args))
    if args.eval_file or args.drop_contaminated:
        cont = cfg.data.contamination
        cfg.data.contamination = cont.model_copy(update={"eval_files": [*cont.eval_files, *args.eval_file],
                                                         "drop": cont.drop or args.drop_contaminated})
    tok = None if args.no_token_stats else load_tokenizer(resolve_base(cfg.model.base), cfg.model)
    res = run_prepare(cfg, args.output, tokenizer=tok, keep_changes=max(3, args.show_changes))
    if args.show_changes:
        print(describe_changes(res.changes, args.show_changes))
    print(f"prepared {res.rows_in} rows → {res.rows_out} (dropped: {dict(res.dropped) or 'none'}) in {res.output_dir}; "
          f"see {res.output_dir / 'DATA_CARD.md'}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from medqa.data.inspection import inspect_prepared

    color = sys.stdout.isatty() and not args.no_color
    try:
        print(inspect_prepared(args.prepared_dir, args.n, args.split, args.base, color), flush=True)
    except BrokenPipeError:  # `medqa inspect ... | head` closed the pipe: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from medqa.training.trainer import run_training

    cfg = _config(args, _opt("train.output_dir", args.output) + _opt("model.base", args.base)
                  + _opt("model.quantization", args.quantization) + _opt("train.max_steps", args.max_steps)
                  + (_opt("train.report_to", args.report_to) if args.report_to else []))
    res = run_training(cfg, args.data, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    print(f"trained {res.steps} steps in {res.train_seconds:.0f}s ({res.tokens_per_second:.0f} tokens/s); "
          f"train loss {res.final_train_loss:.3f}, validation loss {res.val_loss}; adapter in {res.run_dir}/adapter")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from medqa.evaluation.report import build_tables, print_tables
    from medqa.evaluation.runner import EvalSettings, run_eval

    cfg = _config(args, _run_defaults(args.adapter) + _opt("model.base", args.base))
    settings = EvalSettings(tasks=tuple(dict.fromkeys(args.task or ["loss"])), mcq_files=args.mcq_file,
                            mcq_formats=args.mcq_format, max_new_tokens=args.max_new_tokens,
                            temperature=args.temperature, batch_size=args.batch_size, seed=args.seed,
                            cache=args.cache, progress=not args.quiet)
    metrics = run_eval(cfg, args.data, args.adapter, tuple(args.splits), args.output, args.limit, settings)
    print_tables(build_tables(metrics))
    if args.output:
        out = Path(args.output)
        print(f"written: {out / 'metrics.json'}, {out / 'report.md'}, {out / 'report.html'}, {out / 'answers.jsonl'}")
    return 0


def _generation_overrides(args: argparse.Namespace) -> list[str]:
    return (_opt("generation.max_new_tokens", args.max_new_tokens) + _opt("generation.temperature", args.temperature)
            + _opt("generation.top_p", args.top_p) + _opt("generation.seed", args.seed)
            + _run_defaults(args.adapter) + _opt("model.base", args.base) + _opt("prompt.system_prompt", args.system))


def _session(args: argparse.Namespace) -> Any:
    from medqa.data.formatting import system_prompt
    from medqa.inference.session import ChatSession
    from medqa.retrieval.exemplars import semantic_signal

    if len(args.adapter) > 1:
        raise MedqaError(f"{args.command} answers with one adapter, got {len(args.adapter)}: pass a single --adapter "
                         "(medqa serve takes several, and eval compares them)")
    if args.backend and args.adapter:
        raise MedqaError("--backend generates with the backend's model: drop --adapter (serve the adapter there)")
    cfg = _config(args, _generation_overrides(args))
    if args.backend:
        from medqa.inference.backend import connect

        engine: Any = connect(args.backend, args.backend_model, args.backend_api_key_env)
        adapter = None
    else:
        from medqa.inference.generator import load_generator

        engine = load_generator(cfg, {"adapter": args.adapter[0]} if args.adapter else {})
        adapter = "adapter" if args.adapter else None
    return ChatSession(engine, cfg.generation, system_prompt(cfg.prompt.system_prompt), adapter,
                       semantic=semantic_signal(cfg.safety))


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


def _triage_signal(args: argparse.Namespace) -> Any:
    if args.rules_only:
        return None
    from medqa.retrieval.exemplars import semantic_signal

    return semantic_signal(_config(args).safety)


def cmd_triage(args: argparse.Namespace) -> int:
    from medqa.safety import triage

    if args.input:
        return _triage_file(Path(args.input), args.output, _triage_signal(args))
    if not args.message:
        raise MedqaError("give a message to triage, or --input FILE.jsonl")
    result = triage(args.message, _triage_signal(args))
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    elif result.urgent:
        print(f"URGENT ({result.category}, by {' + '.join(result.signals)}): {result.message}")
    else:
        print("not urgent: no red flags found")
    return 0


def _triage_file(path: Path, output: str | None, semantic: Any) -> int:
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
            out.write(json.dumps({**obj, **triage(text, semantic).to_dict()}, ensure_ascii=False) + "\n")
    finally:
        if output:
            out.close()
    return 1 if bad else 0


def cmd_serve(args: argparse.Namespace) -> int:
    from medqa.serving.launch import parse_adapters, run_serve
    from medqa.serving.settings import ServeSettings

    adapters = parse_adapters(args.adapter)
    cfg = _config(args, _run_defaults(list(adapters.values())) + _opt("model.base", args.base))
    settings = ServeSettings.build(host=args.host, port=args.port, api_key=args.api_key, cors_origins=args.cors_origin,
                                   max_input_tokens=args.max_input_tokens, max_tokens_cap=args.max_tokens_cap,
                                   queue_size=args.queue_size, max_batch_size=args.max_batch_size,
                                   max_body_bytes=args.max_body_bytes, log_messages=args.log_messages,
                                   backend_url=args.backend, backend_model=args.backend_model,
                                   backend_api_key_env=args.backend_api_key_env,
                                   backend_connect_timeout_s=args.backend_connect_timeout,
                                   backend_read_timeout_s=args.backend_read_timeout)
    return run_serve(cfg, adapters, settings, engine=args.engine)


def cmd_merge(args: argparse.Namespace) -> int:
    from medqa.artifacts.merge import run_merge

    rep = run_merge(args.run_dir, args.output, args.tolerance, args.dtype, args.precision)
    print(f"merged into {rep['output']} ({rep['saved_dtype']}): max |logit difference| vs base + adapter "
          f"{rep['max_abs_logit_diff']:.2e} <= {rep['tolerance']:g} over {rep['probe_tokens']} probe tokens; "
          f"report {Path(rep['output']) / 'merge_report.json'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from medqa.artifacts.export_gguf import EXPORT_REPORT, run_export

    rep = run_export(args.run_dir, args.format, args.quant, args.output, verify=not args.no_verify)
    folder = Path(rep["file"]).parent
    print(f"wrote {rep['file']} ({rep['bytes'] / 2**20:.1f} MiB, {args.quant}) and {folder / 'Modelfile'}")
    if "all_positions_agreement" in rep:
        print(f"verified: next-token agreement with the merged model {rep['all_positions_agreement']:.1%} of "
              f"{rep['positions']} positions ({rep['last_token_agreement']:.0%} of prompt ends), max |logit "
              f"difference| {rep['max_abs_logit_diff']:.3g}, tokenizer match {rep['tokenizer_ids_match']}; "
              f"report {folder / EXPORT_REPORT}")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    import yaml

    from medqa.artifacts.push import run_push

    rep = run_push(args.run_dir, args.repo_id, args.private, args.dry_run, args.allow_pickle)
    verb = "would upload" if rep["dry_run"] else "uploaded"
    print(f"{verb} {len(rep['files'])} files ({rep['total_bytes'] / 2**20:.2f} MiB) from {rep['folder']} to "
          f"{rep['repo_id']} ({'private' if rep['private'] else 'public'}):")
    for f in rep["files"]:
        print(f"  {f['bytes']:>12,}  {f['path']}")
    print("model card metadata:\n" + yaml.safe_dump(rep["card_metadata"], sort_keys=False).rstrip())
    if not rep["dry_run"]:
        print(f"done: {rep['url']}")
    return 0


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
    p.add_argument("--backend", metavar="URL", help="generate with an OpenAI-compatible server instead of a local "
                   "model (e.g. http://127.0.0.1:8001/v1); triage and the answer policy still run here")
    p.add_argument("--backend-model", metavar="NAME", help="the backend's model name (default: its first)")
    p.add_argument("--backend-api-key-env", metavar="VAR", help="environment variable with the backend's API key")
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
    p.add_argument("--source", action="append", metavar="SOURCE[,KEY=VALUE...]",
                   help="'embedded', a Hub dataset id, a .json/.jsonl/.csv/.parquet file or a MedQuAD folder; repeat "
                        "to mix, with options such as weight=2, max_rows=5000, group_field=focus, schema=qa")
    p.add_argument("--output", default="data/prepared")
    p.add_argument("--schema", choices=["auto", "instruction", "qa", "messages"])
    p.add_argument("--question-field")
    p.add_argument("--answer-field")
    p.add_argument("--group-field", help="rows with the same value of this field share a split")
    p.add_argument("--max-rows", type=int)
    p.add_argument("--eval-file", action="append", default=[], metavar="FILE",
                   help="evaluation file to check the training split against (n-gram overlap); repeatable")
    p.add_argument("--drop-contaminated", action="store_true", help="drop training rows that overlap an eval file")
    p.add_argument("--show-changes", type=int, default=0, metavar="N", help="print N before/after pairs per rule")
    p.add_argument("--workers", type=int, help="processes that clean rows (default: by input size)")
    p.add_argument("--base", help="model whose tokenizer measures lengths (default: embedded)")
    p.add_argument("--no-token-stats", action="store_true")
    p.set_defaults(fn=cmd_prepare)

    p = sub.add_parser("inspect", help="show prepared training examples exactly as the model sees them")
    p.add_argument("prepared_dir")
    p.add_argument("-n", type=int, default=3, help="number of examples")
    p.add_argument("--split", default="train", choices=["train", "validation", "test"])
    p.add_argument("--base", help="tokenizer to use (default: the folder's model.base)")
    p.add_argument("--no-color", action="store_true")
    p.set_defaults(fn=cmd_inspect)

    p = sub.add_parser("train", help="fine-tune a LoRA adapter on a prepared folder")
    _common(p)
    p.add_argument("--data", default="data/prepared")
    p.add_argument("--output", help="run folder (default train.output_dir)")
    p.add_argument("--base")
    p.add_argument("--quantization", choices=["none", "nf4"])
    p.add_argument("--max-steps", type=int)
    p.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace a finished run in --output")
    p.add_argument("--report-to", action="append", choices=["tensorboard", "wandb", "mlflow"],
                   help="trackers besides metrics.jsonl (default: tensorboard)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("eval", help="compare the base and each adapter: loss, free-text QA, multiple choice, safety")
    _common(p)
    p.add_argument("--task", action="append", choices=["loss", "freetext", "mcq", "safety"],
                   help="repeatable (default: loss)")
    p.add_argument("--data", default="data/prepared", help="prepared folder, or a data file for loss/freetext")
    p.add_argument("--adapter", action="append", default=[])
    p.add_argument("--base")
    p.add_argument("--splits", nargs="+", default=["validation", "test"], help="loss task splits")
    p.add_argument("--mcq-file", action="append", default=[], help="benchmark file or MMLU folder (repeatable)")
    p.add_argument("--mcq-format", action="append", default=[], choices=["pubmedqa", "medmcqa", "mmlu", "medqa"],
                   help="one for all --mcq-file values or one per file (default: detected)")
    p.add_argument("--limit", type=int, help="rows per split (loss); seeded stratified sample (freetext, mcq)")
    p.add_argument("--max-new-tokens", type=int, help="answer length for freetext/safety (default generation's)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--batch-size", type=int, default=32, help="answers generated together")
    p.add_argument("--seed", type=int, default=0, help="seed of --limit sampling and bootstrap CIs")
    p.add_argument("--cache", help="generation cache JSONL (default OUTPUT/generations.jsonl)")
    p.add_argument("--output", help="folder for metrics.json, report.md, report.html, answers.jsonl")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
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

    p = sub.add_parser("triage", help="red-flag triage of a patient message (rules + semantic exemplar signal)")
    _common(p)
    p.add_argument("message", nargs="?")
    p.add_argument("--rules-only", action="store_true",
                   help="skip the semantic signal (loads no model; same as --set safety.semantic=false)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--input", help="JSONL file of objects with a 'text' field")
    p.add_argument("--output", help="where --input results go (default: stdout)")
    p.set_defaults(fn=cmd_triage)

    p = sub.add_parser("serve", help="OpenAI-compatible server and web chat page for the base and adapters")
    _common(p)
    p.add_argument("--adapter", action="append", default=[], metavar="[NAME=]RUN",
                   help="run folder, adapter folder or Hub id, served as model NAME (default: its folder name)")
    p.add_argument("--base", help="base model (default: the first adapter's)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", help="require 'Authorization: Bearer KEY' (default: $MEDQA_API_KEY, else none)")
    p.add_argument("--engine", choices=["medqa", "vllm"], default="medqa",
                   help="vllm: run (or print) the equivalent `vllm serve --enable-lora` command")
    p.add_argument("--max-input-tokens", type=int)
    p.add_argument("--max-tokens-cap", type=int, help="largest max_tokens a request may ask for")
    p.add_argument("--queue-size", type=int, help="waiting requests before 429")
    p.add_argument("--max-batch-size", type=int)
    p.add_argument("--max-body-bytes", type=int)
    p.add_argument("--cors-origin", action="append", help="allow this browser origin (default: CORS off)")
    p.add_argument("--log-messages", action="store_true", help="log message text (health data; off by default)")
    p.add_argument("--backend", metavar="URL", help="generate with this OpenAI-compatible server (vLLM, Ollama, "
                   "llama.cpp, another medqa serve), e.g. http://127.0.0.1:8001/v1; medqa keeps triage and policy")
    p.add_argument("--backend-model", metavar="NAME", help="the backend's model name (default: its first)")
    p.add_argument("--backend-api-key-env", metavar="VAR", help="environment variable with the backend's API key")
    p.add_argument("--backend-connect-timeout", type=float, metavar="S", help="seconds to reach the backend")
    p.add_argument("--backend-read-timeout", type=float, metavar="S", help="seconds to wait for its next piece")
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("merge", help="merge a run's adapter into its base and save safetensors (verified)")
    p.add_argument("run_dir", help="a finished `medqa train` run folder")
    p.add_argument("--output", help="folder for the merged model (default RUN_DIR/merged)")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed |logit difference|")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32",
                   help="dtype of the saved weights")
    p.add_argument("--precision", choices=["float64", "float32"], default="float64",
                   help="merge and verify in this precision (float32: half the memory, rounding near 1e-4)")
    p.set_defaults(fn=cmd_merge)

    p = sub.add_parser("export", help="export the merged model as GGUF (llama.cpp, Ollama) with a Modelfile")
    p.add_argument("run_dir", help="a finished `medqa train` run folder (merged first if needed)")
    p.add_argument("--format", default="gguf", help="gguf (the only format so far)")
    p.add_argument("--quant", default="f16", help="f16 or q8_0")
    p.add_argument("--output", help=".gguf file (default RUN_DIR/export-QUANT/model.gguf)")
    p.add_argument("--no-verify", action="store_true", help="skip loading the GGUF back to compare predictions")
    p.set_defaults(fn=cmd_export)

    p = sub.add_parser("push", help="upload a run's adapter and model card to the Hugging Face Hub")
    p.add_argument("run_dir", help="a finished `medqa train` run folder")
    p.add_argument("repo_id", help="user-or-org/name on the Hub")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--dry-run", action="store_true", help="list files, sizes and card metadata; no network")
    p.add_argument("--allow-pickle", action="store_true", help="upload .bin/.pt/.pkl files too (unsafe to load)")
    p.set_defaults(fn=cmd_push)

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
