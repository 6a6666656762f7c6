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


def test_one_adapter_generates_merged_and_the_base_stays_untouched(tiny_model):
    import torch

    from medqa.config import LoraConfig
    from medqa.modeling.adapters import attach_lora

    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    peft = attach_lora(model, LoraConfig())
    torch.manual_seed(1)
    for name, p in peft.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.5)  # a trained-looking adapter that changes the answers
    peft.eval()
    plain, merged = Generator(peft, tok), Generator(peft, tok, merge=True)
    assert merged.merged and not plain.merged
    weights = {n: p.clone() for n, p in peft.named_parameters()}
    greedy = GenerationConfig(temperature=0.0, max_new_tokens=12)
    msgs = [[{"role": "user", "content": q}] for q in ("What helps a mild cold?", "My knee hurts after running.")]
    tuned = [r["text"] for r in merged.generate_batch(msgs, greedy, "default")]
    assert tuned == [r["text"] for r in plain.generate_batch(msgs, greedy, "default")]
    base = [r["text"] for r in merged.generate_batch(msgs, greedy)]
    assert base == [r["text"] for r in plain.generate_batch(msgs, greedy)] and base != tuned
    assert all(torch.equal(p, weights[n]) for n, p in peft.named_parameters())  # swapped back exactly
    ids = torch.tensor([merged.prompt_ids(msgs[0])])
    with torch.no_grad(), merged.use("default"):
        fused = peft(input_ids=ids).logits
    with torch.no_grad(), plain.use("default"):
        unfused = peft(input_ids=ids).logits
    assert torch.allclose(fused, unfused, atol=1e-4)
