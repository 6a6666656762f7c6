"""The data card written into every prepared folder: DATA_CARD.md plus length histograms (PNG).

    medqa prepare --source ../shared/data/medquad --output data/medquad && less data/medquad/DATA_CARD.md

It states what went in and what came out: sources and their licenses, row counts per split, what each
cleaning rule changed and each filter dropped, length percentiles and histograms, the top topics (or the
most frequent question keywords when rows carry no topic), duplicate and contamination settings and
findings, and a few training examples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medqa.data.splits import SPLITS

KNOWN_LICENSES = (  # (text in the source name, license)
    ("healthcaremagic", "Apache-2.0 (ChatDoctor; its README limits use to research)"),
    ("genmedgpt", "Apache-2.0 (ChatDoctor; its README limits use to research)"),
    ("chatdoctor", "Apache-2.0 (ChatDoctor; its README limits use to research)"),
    ("medquad", "CC BY 4.0 (cite Ben Abacha & Demner-Fushman, BMC Bioinformatics 2019)"),
)
UNKNOWN_LICENSE = "unknown, check the source"
EXAMPLE_CHARS = 400


def license_for(source: str, override: str | None = None) -> str:
    """The license of a source: the configured one, a known one, or a LICENSE file beside a local file."""
    if override:
        return override
    if source == "embedded":
        return "Apache-2.0 (medqa's own data set)"
    low = source.lower()
    for needle, text in KNOWN_LICENSES:
        if needle in low:
            return text
    path = Path(source)
    folder = path if path.is_dir() else path.parent
    for name in ("LICENSE", "LICENSE.md", "LICENSE.txt"):
        if path.exists() and (folder / name).is_file():
            first = (folder / name).read_text(encoding="utf-8", errors="replace").strip().splitlines()[:1]
            return f"see {folder / name}" + (f" ({first[0].strip()[:60]})" if first else "")
    return UNKNOWN_LICENSE


def _histograms(out: Path, state: Any, unit: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    overhead = state.counter.prompt_overhead
    names = []
    for part in ("question", "answer"):
        values = []
        for s in SPLITS:
            stats = state.lengths[s]
            values += [p - overhead for p in stats.prompt] if part == "question" else list(stats.answer)
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.hist(values or [0], bins=50, color="#4c72b0")
        ax.set_xlabel(f"{part} length ({unit})")
        ax.set_ylabel("rows")
        ax.set_title(f"{part} lengths, {len(values)} rows")
        fig.tight_layout()
        name = f"{part}_lengths.png"
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        names.append(name)
    return names


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines if rows else ["(none)"]


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + " …"


def _sources_section(stats: dict[str, Any]) -> list[str]:
    rows = [(s["source"], s["license"], s["rows_in"], s["rows_out"],
             ", ".join(f"{k} {v}" for k, v in sorted(s["dropped"].items())) or "none") for s in stats["sources"]]
    return ["## Sources", "", *_table(("source", "license", "rows read", "rows kept", "dropped"), rows)]


def _counts_section(stats: dict[str, Any]) -> list[str]:
    lines = ["## Counts", "", f"- rows read: {stats['rows_in']}, kept: {stats['rows_out']} "
             f"({', '.join(f'{k} {v}' for k, v in stats['splits'].items())}), dropped: {stats['dropped_total']}",
             f"- quarantined (malformed): {stats['quarantined']} (see `quarantine.jsonl`)", ""]
    lines += ["### Dropped, by reason", "", *_table(("reason", "rows"), sorted(stats["dropped"].items()))]
    lines += ["", "### Changed, by cleaning rule", "",
              *_table(("rule", "texts changed"), sorted(stats["changed_by_rule"].items()))]
    if stats["rules_off"]:
        lines.append(f"\nRules switched off: {', '.join(stats['rules_off'])}")
    return lines


def _lengths_section(stats: dict[str, Any], images: list[str]) -> list[str]:
    lengths = stats["lengths"]
    lines = ["## Lengths", "", f"Unit: {lengths['unit']} (method: {lengths['method']}). Length filter: "
             + ", ".join(f"{k}={v}" for k, v in lengths["filter"].items()), ""]
    tokens = stats.get("tokens")
    if tokens:
        rows = [(s, t["rows"], t["sequence_tokens"]["p50"], t["sequence_tokens"]["p95"], t["sequence_tokens"]["p100"],
                 t["answer_tokens"]["p50"], t["truncated_rows"]) for s, t in tokens.items()]
        lines += _table(("split", "rows", "sequence p50", "p95", "max", "answer p50", "rows over max_seq_len"), rows)
        lines.append("")
    lines += [f"![{name}]({name})" for name in images]
    return lines


def _topics_section(state: Any) -> list[str]:
    if state.topics:
        title, top = f"## Top topics ({sum(state.topics.values())} rows carry one)", state.topics.most_common(15)
    else:
        title, top = "## Top question keywords (rows carry no topic)", state.keywords.most_common(15)
    return [title, "", *_table(("topic", "rows"), top)]


def _checks_section(stats: dict[str, Any]) -> list[str]:
    lines = ["## Duplicates, groups and contamination", ""]
    near = stats.get("near_duplicates")
    lines.append(f"- near duplicates: MinHash over {near['shingle_words']}-word shingles, {near['num_perm']} "
                 f"permutations, {near['bands']} bands x {near['rows_per_band']} rows, Jaccard >= {near['threshold']}"
                 if near else "- near-duplicate removal: off")
    groups = "; ".join(f"{src}: {by or 'none, split by question'}" for src, by in stats["group_by"].items())
    lines.append(f"- rows split by group rather than by question: {stats['rows_split_by_group']} (group by: {groups})")
    cont = stats.get("contamination")
    if cont:
        lines.append(f"- contamination: {cont['train_rows_overlapping']} training rows share a {cont['ngram']}-gram "
                     f"with {sum(cont['eval_items'].values())} evaluation items ({'dropped' if cont['dropped'] else 'kept, reported only'})")
        lines += [f"  - \"{c['question']}\" ↔ {c['eval_file']} #{c['eval_item']}" for c in cont["examples"][:5]]
    else:
        lines.append("- contamination check: no evaluation files given (`--eval-file`)")
    return lines


def _examples_section(state: Any) -> list[str]:
    lines = ["## Examples (first training rows of each source)", ""]
    for i, ex in enumerate(state.examples, start=1):
        origin = f" ({ex.source})" if ex.source else ""
        lines += [f"**{i}. Question{origin}:** {_short(ex.question)}", "", f"**Answer:** {_short(ex.answer)}", ""]
    return lines


def write_data_card(out: Path, stats: dict[str, Any], state: Any) -> None:
    """Write DATA_CARD.md and its histograms into the prepared folder `out`."""
    images = _histograms(out, state, stats["lengths"]["unit"])
    parts = [
        ["# Data card", "", "Written by `medqa prepare`; the numbers are also in `stats.json`, the settings in "
         "`config.yaml`. Not medical advice: check sources and licenses before any use beyond research.", ""],
        _sources_section(stats), _counts_section(stats), _lengths_section(stats, images), _topics_section(state),
        _checks_section(stats), _examples_section(state),
        ["## Language check", "", "Rows are kept when they look English: at least a set share of their letters are "
         "ASCII and of their first 80 words are common English function words; texts under a few words are not "
         "judged (see `medqa.data.filters`)."],
    ]
    text = "\n\n".join("\n".join(p) for p in parts) + "\n"
    (out / "DATA_CARD.md").write_text(text, encoding="utf-8")
