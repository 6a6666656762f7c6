from medqa.config import GenerationConfig, ModelConfig
from medqa.inference.generator import Generator
from medqa.inference.session import ChatSession, policy_stream
from medqa.modeling.loading import load_base


def test_generation_decodes_only_new_tokens_and_respects_limits(tiny_model):
    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    gen = Generator(model, tok)
    msgs = [{"role": "user", "content": "My ankle is swollen after a fall."}]
    out = gen.generate_batch([msgs, msgs + [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]],
                             GenerationConfig(temperature=0.0, max_new_tokens=8))
    assert len(out) == 2
    for r in out:
        assert r["tokens"] <= 8
        assert "My ankle" not in r["text"]  # the prompt is not echoed back
    single = gen.generate_batch([msgs], GenerationConfig(temperature=0.0, max_new_tokens=8))[0]
    assert single["text"] == out[0]["text"]  # left padding does not change a greedy answer
    streamed = "".join(gen.stream(msgs, GenerationConfig(temperature=0.0, max_new_tokens=8)))
    assert streamed.strip() == single["text"]


def test_policy_stream_drops_forbidden_sentences():
    pieces = iter(["You have a cold. ", "There is no need to see a doctor. ", "Rest well."])
    out = "".join(policy_stream(pieces, urgent=False))
    assert "no need to see a doctor" not in out and "You have a cold." in out and "Rest well." in out


def test_session_leads_with_urgent_message_and_adds_referral(tiny_model):
    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    session = ChatSession(Generator(model, tok), GenerationConfig(temperature=0.0, max_new_tokens=6))
    reply = session.ask("I have crushing chest pain spreading to my left arm and I am sweating")
    assert session.last_triage.urgent
    assert reply.startswith(session.last_triage.message)
    assert "emergency" in reply.lower()
    reply2 = session.ask("Thanks. Also, what helps a mild sore throat?")
    assert not session.last_triage.urgent
    assert "doctor" in reply2.lower() or "clinician" in reply2.lower()
    assert len(session.history) == 4
