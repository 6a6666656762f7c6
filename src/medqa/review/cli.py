"""`medqa review create|serve|report|export|import|labels`: argument parsing over medqa.review's functions.

Kept beside the stage it drives so that `medqa/cli.py` stays a table of commands; nothing heavy is imported until a
command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_create(args: argparse.Namespace) -> int:
    from medqa.review.create import ReviewPlan, answer_folders, create_review

    plan = ReviewPlan(answers=answer_folders(args.answers), raters=args.raters, overlap=args.overlap,
                      limit=args.limit, seed=args.seed, kind=args.kind)
    made = create_review(plan, args.output, f"http://{args.host}:{args.port}")
    for note in made.notes:
        print(f"note: {note}")
    print(f"{made.items} items ({made.overlapping} for two raters, {made.assignments} assignments) from systems "
          f"{', '.join(made.systems)} → {made.folder}")
    print(f"private links for {', '.join(made.tokens)} (the tokens are passwords; readable by you only): "
          f"{made.links}\nthen run: medqa review serve {made.folder} --port {args.port}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from medqa.errors import require_extra

    require_extra("review", "fastapi", "uvicorn")
    from medqa.review.app import run_review_server
    from medqa.review.store import ReviewStore

    return run_review_server(ReviewStore(args.review_dir), args.host, args.port)


def cmd_report(args: argparse.Namespace) -> int:
    from medqa.errors import require_extra

    require_extra("review", "krippendorff", "sklearn")
    from medqa.review.report import write_review_report
    from medqa.review.store import ReviewStore

    store = ReviewStore(args.review_dir)
    report = write_review_report(store, args.output, args.seed)
    out = Path(args.output) if args.output else store.folder / "report"
    print(f"{report['ratings']} ratings of {report['assigned']} assignments, {len(report['harmful'])} answers flagged "
          f"as possibly harmful")
    for p in report["preference"]:
        print(f"  {p['first']} preferred over {p['second']}: {p['first_preferred']:.2f} "
              f"[{p['ci95'][0]:.2f}, {p['ci95'][1]:.2f}] ({p['items']} items)")
    print(f"written: {out / 'report.md'}, {out / 'report.html'}, {out / 'report.json'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from medqa.review.csvio import write_csv
    from medqa.review.store import ReviewStore

    store = ReviewStore(args.review_dir)
    if args.output == "-":
        write_csv(store, sys.stdout, args.rater)
        return 0
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", newline="", encoding="utf-8") as fh:
        rows = write_csv(store, fh, args.rater)
    print(f"{rows} rows → {args.output}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from medqa.review.csvio import import_csv
    from medqa.review.store import ReviewStore

    rated, changed = import_csv(ReviewStore(args.review_dir), Path(args.csv))
    print(f"{rated} rated rows read, {changed} ratings new or changed → {args.review_dir}")
    return 0


def cmd_labels(args: argparse.Namespace) -> int:
    from medqa.review.labels import write_labels
    from medqa.review.store import ReviewStore

    n = write_labels(ReviewStore(args.review_dir), args.output)
    print(f"{n} criterion labels → {args.output} (for `medqa judge calibrate --labels {args.output}`)")
    return 0


def add_review_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("review", help="blinded clinician review of eval answers (create, serve, report)")
    review = p.add_subparsers(dest="review_command", required=True)

    q = review.add_parser("create", help="blinded items and private rater links from `medqa eval` answers")
    q.add_argument("--answers", action="append", required=True, metavar="[LABEL=]EVAL_DIR",
                   help="a `medqa eval --output` folder with free-text or safety answers; repeat to compare runs")
    q.add_argument("--output", required=True, help="new review folder")
    q.add_argument("--raters", type=int, default=2, help="number of raters (default 2)")
    q.add_argument("--overlap", type=float, default=0.2, help="share of items rated by two raters (default 0.2)")
    q.add_argument("--limit", type=int, help="questions to sample (seeded; default all)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--kind", choices=["pairwise", "single", "both"],
                   help="pairwise (default with two systems or more), single answers, or both")
    q.add_argument("--host", default="127.0.0.1", help="host the links in links.txt point to")
    q.add_argument("--port", type=int, default=8010, help="port the links in links.txt point to")
    q.set_defaults(fn=cmd_create)

    q = review.add_parser("serve", help="the rater app: one item at a time, ratings saved as they are given")
    q.add_argument("review_dir")
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--port", type=int, default=8010)
    q.set_defaults(fn=cmd_serve)

    q = review.add_parser("report", help="un-blind: preference with CIs, per-axis ratings, harms, agreement")
    q.add_argument("review_dir")
    q.add_argument("--output", help="report folder (default REVIEW_DIR/report)")
    q.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals")
    q.set_defaults(fn=cmd_report)

    q = review.add_parser("export", help="ratings and items as CSV (blinded), e.g. a sheet for one rater")
    q.add_argument("review_dir")
    q.add_argument("--output", required=True, help="CSV file, or - for stdout")
    q.add_argument("--rater", help="only this rater's rows (e.g. rater-2)")
    q.set_defaults(fn=cmd_export)

    q = review.add_parser("labels", help="ratings as criterion labels for `medqa judge calibrate`")
    q.add_argument("review_dir")
    q.add_argument("--output", required=True, help="labels JSONL")
    q.set_defaults(fn=cmd_labels)

    q = review.add_parser("import", help="ratings from a CSV in the export's shape (all rows or none)")
    q.add_argument("review_dir")
    q.add_argument("csv")
    q.set_defaults(fn=cmd_import)
