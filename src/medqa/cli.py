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


def _config(args: argparse.Namespace, defaults: dict[str, Any] | None = None) -> Any:
    """The config file, then `defaults`, then every flag declared with `_to_config` that was given, then `--set`."""
    from medqa.config import load_config

    values = dict(defaults or {})
    for dest, key in getattr(args, "config_keys", {}).items():
        if getattr(args, dest, None) not in (None, []):
            values[key] = getattr(args, dest)
    return load_config(args.config, args.set, values)


def _to_config(p: argparse.ArgumentParser, *flags: str, key: str, **kw: Any) -> None:
    """A flag that sets the config key `key` (typed, as given); absent, the config file or default decides."""
    action = p.add_argument(*flags, default=None, **kw)
    p.set_defaults(config_keys={**(p.get_default("config_keys") or {}), action.dest: key})


def _run_defaults(adapters: list[str]) -> dict[str, Any]:
    """Base model and system prompt of the first medqa run folder among the adapters: an adapter is used the
    way it was trained unless flags say otherwise."""
    import yaml

    for spec in adapters:
        cfg_path = Path(spec) / "config.yaml"
        if (Path(spec) / "run.json").is_file() and cfg_path.is_file():
            run_cfg = yaml.safe_load(cfg_path.read_text()) or {}
            prompt = (run_cfg.get("prompt") or {}).get("system_prompt")
            return {"model.base": run_cfg["model"]["base"], **({} if prompt is None else
                                                                {"prompt.system_prompt": prompt})}
    return {}


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


def _sources(args: argparse.Namespace) -> dict[str, Any]:
    specs = [_source_spec(s) for s in args.source or []]
    if len(specs) == 1 and len(specs[0]) == 1:
        return {"data.source": specs[0]["source"]}
    return {"data.sources": specs} if specs else {}


def cmd_prepare(args: argparse.Namespace) -> int:
    from medqa.data.cleaning import describe_changes
    from medqa.data.prepare import run_prepare
    from medqa.modeling.loading import load_tokenizer, resolve_base

    cfg = _config(args, _sources(args))
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

    cfg = _config(args)
    res = run_training(cfg, args.data, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    print(f"trained {res.steps} steps in {res.train_seconds:.0f}s ({res.tokens_per_second:.0f} tokens/s); "
          f"train loss {res.final_train_loss:.3f}, validation loss {res.val_loss}; adapter in {res.run_dir}/adapter")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from medqa.evaluation.report import build_tables, print_tables
    from medqa.evaluation.runner import run_eval

    cfg = _config(args, _run_defaults(args.adapter))
    metrics = run_eval(cfg, args.data, args.adapter, args.output, progress=not args.quiet)
    print_tables(build_tables(metrics))
    if args.output:
        out = Path(args.output)
        print(f"written: {out / 'metrics.json'}, {out / 'report.md'}, {out / 'report.html'}, {out / 'answers.jsonl'}")
    return 0


def cmd_judge_calibrate(args: argparse.Namespace) -> int:
    from medqa.evaluation.judge.calibration import calibrate
    from medqa.runs import write_json

    cfg = _config(args)
    out = Path(args.output) if args.output else None
    cache = Path(args.cache) if args.cache else (out.with_name(out.stem + ".judgements.jsonl") if out else None)
    result = calibrate(args.labels, cfg.judge, cache, progress=not args.quiet)
    for kind, found in result["kinds"].items():
        print(f"{kind}s: {found['n']} labels, macro F1 {found['macro_f1']:.3f}, Cohen's kappa "
              f"{'–' if found['cohen_kappa'] is None else format(found['cohen_kappa'], '.3f')}, accuracy "
              f"{found['accuracy']:.3f}, {found['unparseable']} unparseable judge replies")
        print(f"  confusion (rows: people {found['confusion']['rows_human']}; columns: judge "
              f"{found['confusion']['columns_judge']}): {found['confusion']['matrix']}")
    if out:
        write_json(out, result)
        print(f"written: {out}")
    return 0


def _session(args: argparse.Namespace) -> Any:
    from medqa.inference.pipeline import AnswerPipeline
    from medqa.inference.session import ChatSession

    if len(args.adapter) > 1:
        raise MedqaError(f"{args.command} answers with one adapter, got {len(args.adapter)}: pass a single --adapter "
                         "(medqa serve takes several, and eval compares them)")
    cfg = _config(args, _run_defaults(args.adapter))
    if cfg.backend.url and args.adapter:
        raise MedqaError("--backend generates with the backend's model: drop --adapter (serve the adapter there)")
    if cfg.backend.url:
        from medqa.inference.backend import connect

        engine: Any = connect(cfg.backend)
        adapter = None
    else:
        from medqa.inference.generator import load_generator

        engine = load_generator(cfg, {"adapter": args.adapter[0]} if args.adapter else {})
        adapter = "adapter" if args.adapter else None
    return ChatSession(engine, cfg.generation, adapter=adapter, pipeline=AnswerPipeline.from_config(cfg))


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
    elif result.overruled:
        print(f"not urgent: {' + '.join(result.signals)} flagged {', '.join(result.categories)}, but the classifier "
              f"ruled it out (P(emergency) {result.classifier.probability:.3f})")
    else:
        print("not urgent: no red flags found")
    return 0


def cmd_triage_train(args: argparse.Namespace) -> int:
    from medqa.retrieval.triage_classifier import (WEIGHTS_FILE, TrainConfig, default_training_files, load_examples,
                                                   train_classifier)

    files = [Path(p) for p in args.data] if args.data else default_training_files()
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise MedqaError(f"training file not found: {', '.join(missing)}")
    examples = load_examples(files, with_bank=not args.no_bank)
    print(f"{len(examples)} examples ({sum(e.urgent for e in examples)} emergencies) from {len(files)} files"
          f"{'' if args.no_bank else ' and the exemplar bank'}")
    cfg = TrainConfig(epochs=args.epochs, seed=args.seed)
    print(f"wrote {train_classifier(examples, args.output or WEIGHTS_FILE, cfg)}")
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
    from medqa.errors import require_extra

    require_extra("serve", "fastapi", "uvicorn")
    from medqa.serving.launch import parse_adapters, run_serve
    from medqa.serving.settings import ServeSettings

    adapters = parse_adapters(args.adapter)
    cfg = _config(args, _run_defaults(list(adapters.values())))
    return run_serve(cfg, adapters, ServeSettings.from_config(cfg, args.api_key))


def cmd_index_build(args: argparse.Namespace) -> int:
    from medqa.retrieval.index import build_index

    cfg = _config(args)
    manifest = build_index(args.sources, args.output, cfg.index, progress=not args.quiet)
    counts = manifest["counts"]
    print(f"indexed {counts['documents']} documents → {counts['chunks']} passages (dropped {counts['dropped_exact']} "
          f"exact and {counts['dropped_near']} near duplicates) in {manifest['build_seconds']} s → {args.output}")
    if manifest["problems"]:
        print(f"skipped {counts['problems']} unreadable files or rows, e.g.:\n  " +
              "\n  ".join(manifest["problems"][:10]) + f"\n(all listed in {Path(args.output) / 'manifest.json'})")
    return 0


def cmd_index_search(args: argparse.Namespace) -> int:
    from medqa.retrieval.index import Index

    cfg = _config(args)
    index = Index.load(args.index_dir, cfg.index)
    for n, hit in enumerate(index.search(args.query, args.k, args.fusion), start=1):
        where = hit.chunk.url or hit.chunk.source
        print(f"[{n}] {hit.chunk.title} (similarity {hit.similarity:.2f}, bm25 {hit.bm25:.1f}) {where}\n    "
              f"{hit.chunk.text[:300]}")
    return 0


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
    print(f"{args.file}: valid (every section: data, model, lora, train, generation, prompt, safety, eval, serve, "
          "backend)")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML config file (see configs/)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.max_steps=20")


def _backend_flags(p: argparse.ArgumentParser, timeouts: bool = False) -> None:
    _to_config(p, "--backend", key="backend.url", metavar="URL", help="generate with an OpenAI-compatible server "
               "(vLLM, Ollama, llama.cpp, another medqa serve), e.g. http://127.0.0.1:8001/v1; triage and the "
               "answer policy still run here")
    _to_config(p, "--backend-model", key="backend.model", metavar="NAME",
               help="the backend's model name (default: its first)")
    _to_config(p, "--backend-api-key-env", key="backend.api_key_env", metavar="VAR",
               help="environment variable with the backend's API key")
    if timeouts:
        _to_config(p, "--backend-connect-timeout", key="backend.connect_timeout_s", type=float, metavar="S",
                   help="seconds to reach the backend")
        _to_config(p, "--backend-read-timeout", key="backend.read_timeout_s", type=float, metavar="S",
                   help="seconds to wait for its next piece")


def _judge_flags(p: argparse.ArgumentParser) -> None:
    _to_config(p, "--judge", key="judge.url", metavar="URL", help="an OpenAI-compatible server whose model grades "
               "answers (vLLM, Ollama, a hosted API), e.g. http://127.0.0.1:8001/v1")
    _to_config(p, "--judge-model", key="judge.model", metavar="NAME", help="the judge's model (default: its first)")
    _to_config(p, "--judge-api-key-env", key="judge.api_key_env", metavar="VAR",
               help="environment variable holding the judge's API key (never a flag, never logged)")
    _to_config(p, "--judge-concurrency", key="judge.concurrency", type=int, help="judge calls in flight (default 8)")


def _index_flag(p: argparse.ArgumentParser) -> None:
    _to_config(p, "--index", key="index.path", metavar="DIR", help="ground answers in this passage index (medqa "
               "index build): passages in the prompt, each sentence checked and cited, sources listed")


def _generation_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--adapter", action="append", default=[], help="run folder, adapter folder or Hub adapter id")
    _to_config(p, "--base", key="model.base",
               help="base model: embedded, Hub id, local folder or .gguf (default: the adapter's)")
    _backend_flags(p)
    _index_flag(p)
    _to_config(p, "--max-new-tokens", key="generation.max_new_tokens", type=int)
    _to_config(p, "--temperature", key="generation.temperature", type=float, help="0 = greedy")
    _to_config(p, "--top-p", key="generation.top_p", type=float)
    _to_config(p, "--seed", key="generation.seed", type=int)
    _to_config(p, "--system", key="prompt.system_prompt", help="system prompt (default: medqa's answer policy)")


def build_parser() -> argparse.ArgumentParser:
    from medqa.config import EVAL_TASKS, MCQ_FORMATS
    from medqa.review.cli import add_review_parser

    parser = argparse.ArgumentParser(prog="medqa", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="clean, deduplicate and split a QA data set")
    _common(p)
    p.add_argument("--source", action="append", metavar="SOURCE[,KEY=VALUE...]",
                   help="'embedded', a Hub dataset id, a .json/.jsonl/.csv/.parquet file or a MedQuAD folder; repeat "
                        "to mix, with options such as weight=2, max_rows=5000, group_field=focus, schema=qa")
    p.add_argument("--output", default="data/prepared")
    _to_config(p, "--schema", key="data.schema", choices=["auto", "instruction", "qa", "messages"])
    _to_config(p, "--question-field", key="data.question_field")
    _to_config(p, "--answer-field", key="data.answer_field")
    _to_config(p, "--group-field", key="data.group_field", help="rows with the same value of this field share a split")
    _to_config(p, "--max-rows", key="data.max_rows", type=int)
    p.add_argument("--eval-file", action="append", default=[], metavar="FILE",
                   help="evaluation file to check the training split against (n-gram overlap); repeatable")
    p.add_argument("--drop-contaminated", action="store_true", help="drop training rows that overlap an eval file")
    p.add_argument("--show-changes", type=int, default=0, metavar="N", help="print N before/after pairs per rule")
    _to_config(p, "--workers", key="data.workers", type=int, help="processes that clean rows (default: by input size)")
    _to_config(p, "--base", key="model.base", help="model whose tokenizer measures lengths (default: embedded)")
    _to_config(p, "--index", key="index.path", metavar="DIR", help="put passages retrieved from this index into the "
               "train and validation prompts, answers cited, so an adapter learns to answer from sources")
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
    _to_config(p, "--output", key="train.output_dir", help="run folder (default train.output_dir)")
    _to_config(p, "--base", key="model.base")
    _to_config(p, "--quantization", key="model.quantization", choices=["none", "nf4"])
    _to_config(p, "--max-steps", key="train.max_steps", type=int)
    p.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace a finished run in --output")
    _to_config(p, "--report-to", key="train.report_to", action="append", choices=["tensorboard", "wandb", "mlflow"],
               help="trackers besides metrics.jsonl (default: tensorboard)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("eval", help="compare the base and each adapter: loss, free-text QA, multiple choice, safety")
    _common(p)
    _to_config(p, "--task", key="eval.tasks", action="append", choices=EVAL_TASKS, help="repeatable (default: loss)")
    p.add_argument("--data", default="data/prepared", help="prepared folder, or a data file for loss/freetext")
    p.add_argument("--adapter", action="append", default=[])
    _to_config(p, "--base", key="model.base")
    _backend_flags(p, timeouts=True)
    _index_flag(p)
    _to_config(p, "--splits", key="eval.splits", nargs="+", help="loss task splits (default: validation test)")
    _to_config(p, "--mcq-file", key="eval.mcq_files", action="append",
               help="benchmark file or MMLU folder (repeatable)")
    _to_config(p, "--mcq-format", key="eval.mcq_formats", action="append", choices=MCQ_FORMATS,
               help="one for all --mcq-file values or one per file (default: detected)")
    _to_config(p, "--limit", key="eval.limit", type=int,
               help="rows per split (loss); seeded stratified sample (freetext, mcq)")
    _to_config(p, "--max-new-tokens", key="eval.max_new_tokens", type=int,
               help="answer length for freetext/safety (default generation's)")
    _to_config(p, "--temperature", key="eval.temperature", type=float, help="0 = greedy (default)")
    _to_config(p, "--batch-size", key="eval.batch_size", type=int,
               help="answers generated together (default 32; requests in flight with --backend)")
    _to_config(p, "--seed", key="eval.seed", type=int, help="seed of --limit sampling and bootstrap CIs (default 0)")
    _to_config(p, "--cache", key="eval.cache", help="generation cache JSONL (default OUTPUT/generations.jsonl)")
    _judge_flags(p)
    _to_config(p, "--judge-file", key="judge.files", action="append", help="items for --task judge: K-QA or "
               "HealthBench JSONL, or rows with statements (repeatable; default: the data's test split)")
    _to_config(p, "--judge-calibration", key="judge.calibration", metavar="FILE",
               help="a `medqa judge calibrate` result, shown beside every judged number")
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

    p = sub.add_parser("triage", help="red-flag triage of a patient message (rules + classifier + exemplars)")
    _common(p)
    p.add_argument("message", nargs="?")
    _to_config(p, "--rules-only", key="safety.semantic", action="store_const", const=False,
               help="skip the classifier and exemplar signals (loads no model; same as --set safety.semantic=false)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--input", help="JSONL file of objects with a 'text' field")
    p.add_argument("--output", help="where --input results go (default: stdout)")
    p.set_defaults(fn=cmd_triage)

    p = sub.add_parser("triage-train", help="fine-tune the triage classifier (MiniLM + LoRA) on labelled messages")
    p.add_argument("--data", nargs="*", help="JSONL files of {text or messages, urgent, category} rows "
                   "(default: the shipped training sets)")
    p.add_argument("--no-bank", action="store_true", help="leave out the exemplar bank")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", help="weights file to write (default: replace the shipped one); use it with "
                   "--set safety.classifier_path=FILE")
    p.set_defaults(fn=cmd_triage_train)

    p = sub.add_parser("serve", help="OpenAI-compatible server and web chat page for the base and adapters")
    _common(p)
    p.add_argument("--adapter", action="append", default=[], metavar="[NAME=]RUN",
                   help="run folder, adapter folder or Hub id, served as model NAME (default: its folder name)")
    _to_config(p, "--base", key="model.base", help="base model (default: the first adapter's)")
    _to_config(p, "--host", key="serve.host", help="default 127.0.0.1 (local only)")
    _to_config(p, "--port", key="serve.port", type=int, help="default 8000")
    p.add_argument("--api-key", help="require 'Authorization: Bearer KEY' (default: $MEDQA_API_KEY, else none)")
    _to_config(p, "--engine", key="serve.engine", choices=["medqa", "vllm"],
               help="vllm: launch vLLM (on --engine-port) with the base and adapters and front it with medqa")
    _to_config(p, "--engine-port", key="serve.engine_port", type=int, help="vLLM's own port (default: --port + 1)")
    _to_config(p, "--max-input-tokens", key="serve.max_input_tokens", type=int)
    _to_config(p, "--max-tokens-cap", key="serve.max_tokens_cap", type=int,
               help="largest max_tokens a request may ask for")
    _to_config(p, "--queue-size", key="serve.queue_size", type=int, help="waiting requests before 429")
    _to_config(p, "--max-batch-size", key="serve.max_batch_size", type=int)
    _to_config(p, "--max-body-bytes", key="serve.max_body_bytes", type=int)
    _to_config(p, "--cors-origin", key="serve.cors_origins", action="append",
               help="allow this browser origin (default: CORS off)")
    _to_config(p, "--enable-completions", key="serve.completions", action="store_const", const=True,
               help="also serve /v1/completions (raw prompts, logprobs, echo) for evaluation harnesses such as "
               "lm-eval; it bypasses triage and the answer policy: for evaluation, never for patients")
    _to_config(p, "--log-messages", key="serve.log_messages", action="store_const", const=True,
               help="log message text (health data; off by default)")
    _backend_flags(p, timeouts=True)
    _index_flag(p)
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("index", help="build or query a passage index for grounded answers (--index DIR)")
    index_sub = p.add_subparsers(dest="index_command", required=True)
    q = index_sub.add_parser("build", help="read, chunk, de-duplicate and index documents (BM25 + dense vectors)")
    _common(q)
    q.add_argument("sources", nargs="+", metavar="SOURCE", help="MedQuAD folder, .jsonl/.json/.csv/.parquet with "
                   "a text field (title, url, source optional), or .md/.html/.txt files and folders of them")
    q.add_argument("--output", required=True, help="index folder (replaced atomically when the build completes)")
    _to_config(q, "--chunk-words", key="index.chunk_words", type=int, help="passage length in words (default 150)")
    q.add_argument("--quiet", action="store_true", help="no progress bars")
    q.set_defaults(fn=cmd_index_build)
    q = index_sub.add_parser("search", help="show the passages a question retrieves")
    _common(q)
    q.add_argument("index_dir")
    q.add_argument("query")
    q.add_argument("-k", type=int, default=5)
    q.add_argument("--fusion", choices=["rrf", "bm25", "dense"], help="default: index.fusion (rrf)")
    q.set_defaults(fn=cmd_index_search)

    add_review_parser(sub)

    p = sub.add_parser("judge", help="check a judge model against people's labels")
    judge_sub = p.add_subparsers(dest="judge_command", required=True)
    q = judge_sub.add_parser("calibrate", help="agreement (macro F1, Cohen's kappa, confusion) with labelled pairs")
    _common(q)
    q.add_argument("--labels", required=True, help="JSONL of (answer, statement, label) or (answer, criterion, met)")
    _judge_flags(q)
    q.add_argument("--output", help="calibration JSON to write (give it to eval as --judge-calibration)")
    q.add_argument("--cache", help="judgement cache JSONL (default: beside --output)")
    q.add_argument("--quiet", action="store_true", help="no progress bars")
    q.set_defaults(fn=cmd_judge_calibrate)

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
