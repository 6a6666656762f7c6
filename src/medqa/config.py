"""Typed, validated configuration for every medqa stage.

One `MedqaConfig` holds the data, model, LoRA, training, generation, safety, evaluation, serving and backend
settings. It is built from
defaults, an optional YAML file and `--set key=value` overrides, validated once (unknown keys are
rejected and every problem is reported together), and stays typed down to the stage functions.
Exercised by `medqa validate-config configs/embedded-cpu.yaml`.
"""

from __future__ import annotations

import copy

from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from medqa.errors import ConfigError

EMBEDDED = "embedded"


class StrictModel(BaseModel):
    """Base for config sections: typos fail loudly instead of silently becoming defaults."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CleaningConfig(StrictModel):
    """Text rules in the order they run (see medqa.data.cleaning); set one to false to switch it off."""

    mojibake: bool = Field(True, description="repair UTF-8 read as Windows-1252 ('â€™' → '’')")
    apostrophes: bool = Field(True, description="restore apostrophes lost as '??' ('I??e been' → \"I've been\")")
    html: bool = Field(True, description="decode HTML entities and drop simple tags (<br>, <p>)")
    control_chars: bool = Field(True, description="drop control, zero-width and replacement characters")
    chatdoctor: bool = Field(True, description="'Chat Doctor' greetings, sign-offs and mentions")
    invented_turn: bool = Field(True, description="cut an answer where it runs on into an invented 'Patient:' turn")
    prompt_echo: bool = Field(True, description="generation prompts echoed in an answer ('Please generate a dialogue …')")
    ai_disclaimer: bool = Field(True, description="'As an AI language model …' sentences in answers")
    greetings: bool = Field(True, description="greetings/thanks at the start of an answer")
    closings: bool = Field(True, description="closings and signatures at the end of an answer")
    emails: bool = Field(True, description="e-mail addresses → [email]")
    urls: bool = Field(True, description="links and bare domains → [url]")
    phones: bool = Field(True, description="phone numbers (9+ digits) → [phone]; doses, dates, BP kept")
    names: bool = Field(True, description="names after Dr./Mr./Mrs./Ms./Prof. → 'Dr. [name]'")
    punctuation: bool = Field(True, description="mend debris left by removals (orphan commas, empty brackets)")
    whitespace: bool = Field(True, description="collapse spaces and blank lines")


class LengthFilterConfig(StrictModel):
    """Row length limits in tokens of the chosen tokenizer (words when prepare runs without one)."""

    enabled: bool = True
    min_question_tokens: int | None = Field(None, ge=0)
    max_question_tokens: int | None = Field(512, gt=0, description="question plus earlier turns")
    min_answer_tokens: int | None = Field(None, ge=0)
    max_answer_tokens: int | None = Field(1024, gt=0)


class LanguageConfig(StrictModel):
    """Drop rows not in `language`: a cheap English check (share of ASCII letters and of common stopwords)."""

    enabled: bool = True
    language: Literal["en"] = "en"
    min_ascii_letter_share: float = Field(0.9, ge=0.0, le=1.0, description="of all letters")
    min_stopword_share: float = Field(0.1, ge=0.0, le=1.0, description="of all words")
    min_words: int = Field(6, ge=1, description="shorter texts are too short to judge and are kept")


class NearDupConfig(StrictModel):
    """MinHash/LSH over word shingles of question + answer; later rows this similar to a kept row are dropped."""

    enabled: bool = True
    threshold: float = Field(0.8, gt=0.0, le=1.0, description="estimated Jaccard similarity")
    shingle_words: int = Field(3, ge=1, le=10)
    num_perm: int = Field(64, ge=8, le=512)
    seed: int = 1


class ContaminationConfig(StrictModel):
    """Word n-gram overlap of training rows with evaluation files (any format medqa reads, or CSV/JSON)."""

    eval_files: list[str] = Field(default_factory=list)
    ngram: int = Field(13, ge=3, le=50)
    drop: bool = Field(False, description="drop overlapping training rows instead of only reporting them")


class SourceConfig(StrictModel):
    """One source of a mix: a weight (share of the mix) or a row cap, and its own schema mapping."""

    source: str
    weight: float | None = Field(None, gt=0.0)
    max_rows: int | None = Field(None, gt=0)
    schema_: Literal["auto", "instruction", "qa", "messages"] = Field("auto", alias="schema")
    question_field: str | None = None
    answer_field: str | None = None
    group_field: str | None = None
    hub_split: str = "train"
    license: str | None = Field(None, description="recorded in the data card; known sources are filled in")

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    @model_validator(mode="after")
    def _weight_or_cap(self) -> SourceConfig:
        if self.weight is not None and self.max_rows is not None:
            raise ValueError(f"source {self.source!r}: give weight or max_rows, not both")
        return self


class DataConfig(StrictModel):
    source: str = Field(EMBEDDED, description="'embedded', a Hub dataset id, a local .json/.jsonl/.csv/.parquet "
                        "file or a MedQuAD folder")
    sources: list[SourceConfig] = Field(default_factory=list, description="a mix; when given, replaces `source`")
    hub_split: str = "train"
    schema_: Literal["auto", "instruction", "qa", "messages"] = Field("auto", alias="schema")
    question_field: str | None = None
    answer_field: str | None = None
    group_field: str | None = Field(None, description="rows sharing this field's value share a split")
    max_rows: int | None = Field(None, gt=0, description="rows read (with weighted sources: size of the mix)")
    min_question_words: int = Field(3, ge=0)
    min_answer_words: int = Field(5, ge=0)
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    test_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    split_salt: str = "medqa"
    max_bad_fraction: float = Field(0.5, ge=0.0, le=1.0, description="fail when more rows than this are malformed")
    workers: int | None = Field(None, ge=0, le=32, description="processes that clean rows; None: 0 for inputs "
                                "under 8 MB, else one per spare core (at most 3)")
    cleaning: CleaningConfig = CleaningConfig()
    length: LengthFilterConfig = LengthFilterConfig()
    language: LanguageConfig = LanguageConfig()
    near_dup: NearDupConfig = NearDupConfig()
    contamination: ContaminationConfig = ContaminationConfig()

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    @model_validator(mode="after")
    def _fractions(self) -> DataConfig:
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("val_fraction + test_fraction must be below 1 so that rows remain for training")
        weighted = [s.weight is not None for s in self.sources]
        if any(weighted) and not all(weighted):
            raise ValueError("data.sources: give every source a weight, or none (use max_rows caps instead)")
        return self

    def source_list(self) -> list[SourceConfig]:
        """The sources of this run: `sources` when given, else the single `source` with the top-level mapping."""
        if self.sources:
            return list(self.sources)
        return [SourceConfig(source=self.source, schema=self.schema_, question_field=self.question_field,
                             answer_field=self.answer_field, group_field=self.group_field, hub_split=self.hub_split)]


class ModelConfig(StrictModel):
    base: str = Field(EMBEDDED, description="'embedded', a Hub model id, a local transformers folder, or a .gguf file")
    revision: str | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    quantization: Literal["none", "nf4"] = "none"
    attn_implementation: Literal["sdpa", "eager"] | None = None
    trust_remote_code: bool = Field(False, description="run Python code shipped with a Hub model; only for code "
                                    "you have read")
    allow_pickle: bool = Field(False, description="load pickle files (.bin/.pt/.pth/.pkl/.ckpt) found in adapters "
                               "and checkpoints; unpickling can run arbitrary code, so only for files you trust")


class LoraConfig(StrictModel):
    r: int = Field(16, gt=0)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="0 lets peft skip a dropout pass per adapted layer "
                           "(about 15% of a CPU step); the reference recipe uses 0.05")
    target_modules: list[str] | Literal["all-linear"] = "all-linear"
    use_dora: bool = False
    use_rslora: bool = False


class TrainConfig(StrictModel):
    output_dir: Path = Path("runs/latest")
    max_seq_len: int = Field(512, ge=16)
    batch_size: int = Field(4, gt=0)
    grad_accum: int = Field(1, gt=0)
    learning_rate: float = Field(2e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(10, ge=0)
    scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    max_steps: int | None = Field(None, gt=0)
    epochs: float = Field(1.0, gt=0)
    optimizer: Literal["auto", "adamw", "paged_adamw_32bit", "paged_adamw_8bit"] = "auto"
    max_grad_norm: float = Field(1.0, gt=0)
    eval_every: int = Field(50, gt=0)
    eval_rows: int | None = Field(64, gt=0, description="validation rows used for the periodic loss")
    save_every: int = Field(100, gt=0)
    keep_checkpoints: int = Field(2, gt=0)
    gradient_checkpointing: bool | Literal["selective"] = Field(
        "selective", description="recompute activations in backward: 'selective' keeps matmul and attention outputs "
                                 "(about 15% less memory, ~3% slower), true recomputes whole layers (about 30% less, "
                                 "~10% slower), false keeps everything (see medqa.training.checkpointing)")
    distributed: Literal["auto", "ddp", "fsdp"] = Field(
        "auto", description="with several processes: ddp copies the base to each, fsdp shards it (auto: what the "
                            "accelerate config asks for; FSDP and DeepSpeed ZeRO-3 configs mean fsdp)")
    probe_questions: int = Field(0, ge=0, description="at each validation, answer this many safety probes (half "
                                 "emergencies) and log answer behaviour and escalation rates next to the loss; 0: off")
    early_stopping_patience: int | None = Field(None, gt=0, description="stop after this many evaluations without "
                                                "a better validation loss")
    report_to: list[Literal["tensorboard", "wandb", "mlflow"]] = ["tensorboard"]
    seed: int = 42


class GenerationConfig(StrictModel):
    max_new_tokens: int = Field(256, gt=0)
    temperature: float = Field(0.7, ge=0.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.1, gt=0.0)
    seed: int | None = None
    merge_adapter: bool = Field(True, description="with a single LoRA adapter loaded, generate with its weights merged "
                                                  "into a copy of the adapted layers (faster; costs that copy's memory)")
    int8_head: bool = Field(True, description="greedy decoding on an x86 CPU ranks the vocabulary with an int8 copy "
                                              "of the LM head and re-scores the top 64 tokens in fp32 (about 5x "
                                              "faster head; costs ~4 s once and a quarter of the head's memory)")


class PromptConfig(StrictModel):
    system_prompt: str | None = Field(
        None, description="None uses medqa's answer policy (medqa.safety.DEFAULT_SYSTEM_PROMPT); '' disables it"
    )


class SafetyConfig(StrictModel):
    """Triage before every answer: the rules always run; the semantic signals (a fine-tuned classifier and the
    exemplar bank) are a second opinion."""

    semantic: bool = Field(True, description="also run the MiniLM signals: the triage classifier and the emergency "
                           "exemplar bank (tens of ms a message); false = rules alone")
    classifier: bool = Field(True, description="use the fine-tuned triage classifier (with semantic: true); false = "
                             "rules and exemplars, either escalating alone")
    classifier_path: str | None = Field(None, description="weights written by `medqa triage-train --output`; "
                                        "None = the shipped classifier")
    classifier_threshold: float = Field(0.3, ge=0.0, le=1.0, description="P(emergency) at which the classifier "
                                        "escalates alone")
    classifier_floor: float = Field(0.03, ge=0.0, le=1.0, description="below this P(emergency) the classifier "
                                    "overrules the rules and exemplars; 0 = never overrule")
    semantic_min_score: float = Field(0.55, ge=0.0, le=1.0, description="cosine similarity an emergency "
                                      "exemplar must reach")
    semantic_margin: float = Field(0.08, ge=0.0, le=1.0, description="how far it must beat the nearest routine "
                                   "exemplar; lower catches more and alarms more")


EvalTask = Literal["loss", "freetext", "mcq", "safety", "judge"]
McqFormat = Literal["pubmedqa", "medmcqa", "mmlu", "medqa"]
EVAL_TASKS, MCQ_FORMATS = get_args(EvalTask), get_args(McqFormat)  # the CLI's choices


class EvalConfig(StrictModel):
    """What `medqa eval` runs: tasks, benchmark files and the answer settings (saved with the metrics)."""

    tasks: list[EvalTask] = Field(["loss"], min_length=1)
    splits: list[Literal["train", "validation", "test"]] = Field(["validation", "test"], min_length=1,
                                                                 description="splits the loss task scores")
    mcq_files: list[str] = Field([], description="benchmark files or MMLU folders for the mcq task")
    mcq_formats: list[McqFormat] = Field(
        [], description="one for all mcq_files, one per file, or none (detected)")
    limit: int | None = Field(None, gt=0, description="rows per split (loss); seeded stratified sample (freetext, mcq)")
    max_new_tokens: int | None = Field(None, gt=0, description="answer length (None: generation.max_new_tokens)")
    temperature: float = Field(0.0, ge=0.0, description="0 = greedy, so cached answers are what a rerun would give")
    batch_size: int = Field(32, gt=0, description="answers generated together (requests in flight on a backend)")
    seed: int = Field(0, description="seed of limit sampling and bootstrap intervals")
    cache: str | None = Field(None, description="generation cache JSONL (None: OUTPUT/generations.jsonl)")

    @field_validator("tasks")
    @classmethod
    def _once(cls, tasks: list[str]) -> list[str]:
        return list(dict.fromkeys(tasks))  # a task named twice runs once

    @model_validator(mode="after")
    def _consistent(self) -> EvalConfig:
        if self.mcq_formats and len(self.mcq_formats) not in (1, len(self.mcq_files)):
            raise ValueError("give one mcq_formats value for all mcq_files, or one per file")
        return self


class BackendConfig(StrictModel):
    """An OpenAI-compatible server that generates instead of a local model (`--backend`); triage and the answer
    policy still run in medqa. The key is read from the environment variable named here, never from the file."""

    url: str | None = Field(None, pattern=r"^https?://", description="base URL, e.g. http://127.0.0.1:8001/v1")
    model: str | None = Field(None, description="the backend's model name (None: the first it lists)")
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                    description="environment variable holding the backend's API key")
    connect_timeout_s: float = Field(5.0, gt=0, description="seconds to reach the backend before it counts as down")
    read_timeout_s: float = Field(120.0, gt=0, description="longest wait for the next piece of a reply")


class JudgeConfig(StrictModel):
    """A strong model behind any OpenAI-compatible `/v1/chat/completions` that grades answers (`--task judge`):
    statement by statement (K-QA) and criterion by criterion (HealthBench). Calls run at temperature 0 and are
    cached by prompt version, judge model and input. The key is read from the environment variable named here."""

    url: str | None = Field(None, pattern=r"^https?://", description="base URL, e.g. http://127.0.0.1:8001/v1")
    model: str | None = Field(None, description="the judge's model name (None: the first it lists)")
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                    description="environment variable holding the judge's API key")
    files: list[str] = Field([], description="graded items: K-QA JSONL (Must_have / Nice_to_have), HealthBench "
                             "JSONL (prompt + rubrics), or rows with statements; none: the data's test split")
    concurrency: int = Field(8, ge=1, le=256, description="judge calls in flight at once")
    timeout_s: float = Field(120.0, gt=0, description="longest wait for one judge reply")
    retries: int = Field(4, ge=0, le=20, description="retries of a call that failed with 429, 5xx or a timeout")
    backoff_s: float = Field(1.0, ge=0, description="first retry delay; doubles each retry")
    max_tokens: int = Field(400, ge=16, description="longest judge reply")
    calibration: str | None = Field(None, description="a `medqa judge calibrate` result; its agreement with "
                                    "people is shown beside every judged number")
    cache: str | None = Field(None, description="judgement cache JSONL (None: OUTPUT/judgements.jsonl)")


class IndexConfig(StrictModel):
    """Grounded answers (`--index DIR`): hybrid retrieval over a passage index, citations checked per sentence."""

    path: str | None = Field(None, description="an index folder from `medqa index build`; None: answer ungrounded")
    k: int = Field(4, ge=1, le=20, description="passages put in the prompt")
    candidates: int = Field(50, ge=1, description="candidates each retriever contributes to the fusion")
    fusion: Literal["rrf", "bm25", "dense"] = Field("rrf", description="reciprocal rank fusion of BM25 and dense "
                                                   "retrieval, or one of them alone")
    rrf_k: int = Field(60, ge=1, description="reciprocal rank fusion constant: score = sum of 1 / (rrf_k + rank)")
    chunk_words: int = Field(150, ge=20, le=400, description="passage length in words (build time)")
    chunk_overlap: int = Field(1, ge=0, le=5, description="sentences a passage repeats from the previous one")
    near_duplicate_threshold: float = Field(0.9, gt=0.0, le=1.0, description="passages this similar (MinHash "
                                            "Jaccard of word 3-grams) to a kept one are dropped at build time")
    min_relevance: float = Field(0.53, ge=0.0, le=1.0, description="cosine similarity the best passage must reach; "
                                 "below it the assistant says it found nothing instead of answering (0.53: calibrated for MiniLM on MedQuAD "
                                 "by benchmarks/grounding_abstention.py; recalibrate for another corpus)")
    support_threshold: float = Field(0.55, ge=0.0, le=1.0, description="how well a passage must support an answer "
                                     "sentence (see medqa.retrieval.grounding) for the sentence to be shown as cited")
    train_passages: int = Field(2, ge=1, le=10, description="passages `prepare --index` puts in each training prompt "
                                "(raise train.max_seq_len to fit them)")
    train_distractor_share: float = Field(0.2, ge=0.0, le=1.0, description="share of training rows that get only "
                                          "irrelevant passages, so the model learns passages are not always answers")
    unsupported: Literal["drop", "mark"] = Field("drop", description="answer sentences no passage supports: drop "
                                                 "them (safe) or keep them marked as unsupported")


# The server's limits; the Assistant takes the same numbers as its defaults.
QUEUE_SIZE = 64  # requests waiting for the model; one more is refused (HTTP 429)
MAX_BATCH_SIZE = 8  # rows in one generate() call
BATCH_WAIT_S = 0.01  # a forming batch closes once no request has arrived for this long...
MAX_BATCH_DELAY_S = 0.1  # ...or once its first request has waited this long
MAX_INPUT_TOKENS = 2048  # prompt tokens, system prompt included


class ServeConfig(StrictModel):
    """Where `medqa serve` listens and the limits it enforces. The API key is not a setting: it comes from
    `--api-key` or $MEDQA_API_KEY so that it never lands in a config file, run folder or log."""

    host: str = Field("127.0.0.1", description="local only unless asked: the server speaks about health")
    port: int = Field(8000, ge=0, le=65535)
    engine: Literal["medqa", "vllm"] = Field("medqa", description="vllm: launch vLLM and front it with medqa's "
                                             "triage, policy, limits and page")
    engine_port: int | None = Field(None, ge=1, le=65535, description="vLLM's own port (None: port + 1)")
    max_input_tokens: int = Field(MAX_INPUT_TOKENS, gt=0)
    max_tokens_cap: int = Field(1024, gt=0, description="the largest max_tokens a request may ask for")
    queue_size: int = Field(QUEUE_SIZE, gt=0, description="waiting requests before 429")
    max_batch_size: int = Field(MAX_BATCH_SIZE, gt=0)
    batch_wait_s: float = Field(BATCH_WAIT_S, ge=0, le=MAX_BATCH_DELAY_S)
    max_body_bytes: int = Field(256 * 1024, gt=0, description="larger request bodies get 413")
    cors_origins: list[str] = Field([], description="empty: no CORS headers (browsers same-origin)")
    log_messages: bool = Field(False, description="log message text; off by default because it is health data")
    completions: bool = Field(False, description="serve /v1/completions: raw prompts with logprobs for evaluation "
                              "harnesses (lm-eval); it bypasses triage and the answer policy, so never for patients")


class MedqaConfig(StrictModel):
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    lora: LoraConfig = LoraConfig()
    train: TrainConfig = TrainConfig()
    generation: GenerationConfig = GenerationConfig()
    prompt: PromptConfig = PromptConfig()
    safety: SafetyConfig = SafetyConfig()
    eval: EvalConfig = EvalConfig()
    serve: ServeConfig = ServeConfig()
    backend: BackendConfig = BackendConfig()
    index: IndexConfig = IndexConfig()
    judge: JudgeConfig = JudgeConfig()


def _parse_scalar(text: str) -> Any:
    """Read an override value with YAML rules, so `--set train.max_steps=10` gives an int."""
    return yaml.safe_load(text) if text != "" else ""


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `section.key=value` overrides (any depth: `data.near_dup.threshold=0.7`); returns a new dict."""
    values, problems = {}, []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or len(key.strip().split(".")) < 2 or not all(key.strip().split(".")):
            problems.append(f"override {item!r}: write it as section.key=value, e.g. train.max_steps=20")
        else:
            values[key.strip()] = _parse_scalar(value.strip())
    if problems:
        raise ConfigError("\n".join(problems))
    return apply_values(raw, values)


def apply_values(raw: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Set typed values by dotted key (`{"eval.tasks": ["loss"]}`), as command-line flags do; returns a new dict."""
    out = copy.deepcopy(raw)
    problems = []
    for key, value in values.items():
        path, node = key.split("."), out
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                problems.append(f"{key}: {part!r} is not a section")
                break
        else:
            node[path[-1]] = value
    if problems:
        raise ConfigError("\n".join(problems))
    return out


def format_validation_error(err: ValidationError) -> str:
    lines = [f"{len(err.errors())} problem(s) in the configuration:"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            fix = "unknown key: remove it or check its spelling (see `medqa validate-config --help`)"
        else:
            fix = e["msg"]
        lines.append(f"  - {key}: {fix} (got {e.get('input')!r})")
    return "\n".join(lines)


def build_config(raw: dict[str, Any] | None = None, overrides: list[str] | None = None,
                 values: dict[str, Any] | None = None) -> MedqaConfig:
    """Validate a raw dict, then typed `values` (flags), then `--set` overrides into a MedqaConfig, reporting every
    problem at once."""
    merged = apply_overrides(apply_values(raw or {}, values or {}), overrides or [])
    try:
        return MedqaConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err)) from None


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                values: dict[str, Any] | None = None) -> MedqaConfig:
    raw: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist: pass an existing YAML file (see configs/)")
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {p} is not valid YAML: {err}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {p} must hold a mapping of sections (data, model, lora, train, ...)")
    return build_config(raw, overrides, values)


def config_to_dict(cfg: MedqaConfig) -> dict[str, Any]:
    return cfg.model_dump(mode="json", by_alias=True)
