"""Grounding in the answer pipeline, on a small index this test builds: support per sentence, citations kept,
added and corrected, unsupported sentences dropped or marked, abstention, sources, the urgent message first."""

from __future__ import annotations

import pytest

from medqa.config import GenerationConfig, IndexConfig
from medqa.inference.assistant import Assistant
from medqa.inference.generator import Generator
from medqa.inference.pipeline import AnswerPipeline
from medqa.modeling.loading import load_base
from medqa.config import ModelConfig
from medqa.retrieval.grounding import ABSTAIN_MESSAGE, UNSUPPORTED_MARK, check_answer
from medqa.retrieval.index import Index, build_index
from medqa.safety import REFERRAL_SENTENCE

FLU = ("Influenza is a viral infection of the nose, throat and lungs. Antibiotics do not treat influenza because it is "
       "caused by a virus. Antiviral medicines such as oseltamivir can shorten the illness if started early.")
ASTHMA = ("Asthma is a long-term condition of the airways that causes wheezing and shortness of breath. Reliever "
          "inhalers open the airways within minutes.")
FLU_Q = [{"role": "user", "content": "Can antibiotics cure my flu?"}]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> AnswerPipeline:
    docs = tmp_path_factory.mktemp("docs")
    (docs / "flu.md").write_text(f"# Influenza\n\n{FLU}\n")
    (docs / "asthma.md").write_text(f"# Asthma\n\n{ASTHMA}\n")
    out = tmp_path_factory.mktemp("index") / "idx"
    cfg = IndexConfig(k=2)
    build_index([docs], out, cfg, progress=False)
    return AnswerPipeline(None, None, Index.load(out, cfg), cfg)


def test_supported_sentences_are_cited_and_wrong_facts_dropped(pipeline):
    prepared = pipeline.prepare(FLU_Q)
    assert not prepared.abstains and prepared.grounding.hits[0].chunk.title == "Influenza"
    assert "[1] Influenza: Influenza is a viral infection" in prepared.prompt[0]["content"]  # numbered in the prompt
    answer = ("Influenza can be treated with antibiotics. Antibiotics do not work on the flu because it is a virus. "
              "Oseltamivir can shorten the illness if you start it early [2]. My cousin swears by garlic.")
    shown = pipeline.finish(answer, pipeline.triage(prepared.conversation), prepared.grounding)
    assert "treated with antibiotics" not in shown and "garlic" not in shown  # contradicted, unsupported
    assert "because it is a virus [1]." in shown
    assert "early [1]." in shown and "[2]" not in shown.split("Sources:")[0]  # the wrong citation is corrected
    assert shown.endswith("Sources:\n[1] Influenza — " + str(pipeline.index.chunks[0].source)) or \
        "Sources:\n[1] Influenza" in shown
    assert REFERRAL_SENTENCE in shown
    assert [c["title"] for c in prepared.grounding.citations()] == ["Influenza"]


def test_marking_instead_of_dropping_and_the_eval_counts(pipeline):
    marking = AnswerPipeline(None, None, pipeline.index, pipeline.index_cfg.model_copy(update={"unsupported": "mark"}))
    prepared = marking.prepare(FLU_Q)
    text, stats = check_answer("My cousin swears by garlic. Antibiotics do not treat the flu, which is a virus [2].",
                               prepared.grounding, marking.index.encoder, marking.index_cfg)
    assert text.startswith("My cousin swears by garlic." + UNSUPPORTED_MARK) and "virus [1]." in text
    citations = stats.pop("citations")
    assert stats == {"abstained": False, "sentences": 2, "supported": 1, "model_citations": 1,
                     "model_citations_supported": 0, "cited": 1}
    assert [c["index"] for c in citations] == [1] and "virus" in text  # the cited passage, for the review page
    nothing, stats = check_answer("Garlic and onions.", prepared.grounding, pipeline.index.encoder,
                                  pipeline.index_cfg)
    assert nothing == ABSTAIN_MESSAGE and stats["supported"] == 0


def test_abstains_without_asking_the_model_and_still_leads_with_the_urgent_message(pipeline, tiny_model):
    off_topic = pipeline.prepare([{"role": "user", "content": "How do I change the oil in my car?"}])
    assert off_topic.abstains and off_topic.prompt == off_topic.conversation  # no passages offered
    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    greedy = GenerationConfig(temperature=0.0, max_new_tokens=6)
    with Assistant(Generator(model, tok), defaults=greedy, pipeline=pipeline) as assistant:
        reply = assistant.complete([{"role": "user", "content": "How do I change the oil in my car?"}])
        assert reply.completion_tokens == 0 and reply.text.startswith(ABSTAIN_MESSAGE) and reply.citations == []
        assert assistant.stats()["completed"] == 0  # the model was not asked
        stroke = [{"role": "user", "content": "my face droops on one side and my words come out wrong"}]
        urgent = assistant.complete(stroke)
        assert urgent.triage.urgent and urgent.text.startswith(urgent.triage.message)
        streamed = "".join(assistant.stream(FLU_Q))
        assert streamed == assistant.complete(FLU_Q).text  # streaming and whole replies are the same
