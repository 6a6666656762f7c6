"""lm-eval task files over a local multiple-choice set, in the same prompt format as `medqa eval --task mcq`, so a
served model can be scored by lm-eval through `medqa serve --enable-completions` and compared with medqa's own
number (lm-eval's built-in tasks download their data at run time; these read a file the project writes).

    python -c "from medqa.evaluation.lm_eval_task import write_lm_eval_tasks; ..."
    lm_eval --model local-completions --tasks medqa_mcq --include_path DIR \
        --model_args base_url=http://127.0.0.1:8000/v1/completions,model=base,tokenizer=PATH,tokenized_requests=True

Two tasks: `medqa_mcq` (log-likelihood of each "B. option" after the rendered chat prompt, the tokens medqa's mcq
task scores; `target_delimiter` is empty because the prompt already ends where the answer starts) and
`medqa_mcq_chat` (generation through `local-chat-completions`: the user turn alone, the server applies the chat
template and the safety layer, the first letter of the reply is compared with the gold letter).

One difference is lm-eval's by design: it moves a context's trailing whitespace into the continuation, so the
newline that ends the chat prompt ("<start_of_turn>model\n") is scored as part of every option. Its log-probability
is the same for all options of an item, so `acc` matches medqa's exactly; the summed log-likelihoods are lower by
that one token, and `acc_norm` (divided by the continuation's length in characters, one more here) can differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medqa.data.formatting import render_prompt, to_messages
from medqa.data.schema import Example
from medqa.evaluation.readers import MCQItem
from medqa.evaluation.tasks.mcq import continuation, format_prompt

LOGLIK_TASK = "medqa_mcq"
CHAT_TASK = "medqa_mcq_chat"


def lm_eval_docs(items: list[MCQItem], tokenizer: Any, system: str | None) -> list[dict[str, Any]]:
    """One document per item: the rendered prompt and the continuations medqa scores, the user turn, the gold."""
    return [{"id": item.id, "prompt": render_prompt(tokenizer, to_messages(Example(question=format_prompt(item), answer=""), system)),
             "question": format_prompt(item), "choices": [continuation(item, j) for j in range(len(item.options))],
             "gold": item.gold, "gold_letter": item.gold_letter} for item in items]


def write_lm_eval_tasks(items: list[MCQItem], tokenizer: Any, cfg: Any, folder: str | Path) -> Path:
    """docs.jsonl and the two task YAMLs in `folder` (give it to lm-eval as --include_path), with the system prompt
    `medqa eval` and `serve` use under `cfg`."""
    from medqa.data.formatting import system_prompt

    system = system_prompt(cfg.prompt.system_prompt)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    docs = folder / "docs.jsonl"
    docs.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in lm_eval_docs(items, tokenizer, system)),
                    encoding="utf-8")
    data = f"dataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {json.dumps(str(docs.resolve()))}\n" \
           "test_split: test\n"
    (folder / f"{LOGLIK_TASK}.yaml").write_text(
        f"task: {LOGLIK_TASK}\n{data}output_type: multiple_choice\ndoc_to_text: prompt\ndoc_to_choice: choices\n"
        "doc_to_target: gold\ntarget_delimiter: \"\"\nmetric_list:\n  - metric: acc\n  - metric: acc_norm\n",
        encoding="utf-8")
    (folder / f"{CHAT_TASK}.yaml").write_text(
        f"task: {CHAT_TASK}\n{data}output_type: generate_until\ndoc_to_text: question\ndoc_to_target: gold_letter\n"
        "target_delimiter: \"\"\ngeneration_kwargs:\n  until: []\n  max_gen_toks: 8\n  temperature: 0\n"
        "  do_sample: false\nfilter_list:\n  - name: letter\n    filter:\n      - function: regex\n"
        "        regex_pattern: \"([A-J])\"\n      - function: take_first\nmetric_list:\n  - metric: exact_match\n",
        encoding="utf-8")
    return folder
