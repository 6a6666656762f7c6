from conftest import nonzero_lora_b

from medqa.config import GenerationConfig, ModelConfig
from medqa.inference.generator import Generator
from medqa.inference.session import ChatSession
from medqa.safety import has_referral, policy_stream, triage
from medqa.modeling.loading import load_base


def plain_greedy(gen: Generator, messages: list[dict[str, str]], max_new_tokens: int) -> str:
    """The reference answer: the unpatched model's own generate(), one prompt, from scratch, greedy."""
    import torch

    ids = torch.tensor([gen.prompt_ids(messages)])
    with torch.no_grad():
        out = gen.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                 do_sample=False, eos_token_id=gen.stop_ids, pad_token_id=gen.tokenizer.pad_token_id)
    row = out[0, ids.shape[1]:].tolist()
    row = row[: min([row.index(s) for s in gen.stop_ids if s in row], default=len(row))]
    return gen.tokenizer.decode(row, skip_special_tokens=True).strip()


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
    out = "".join(policy_stream(pieces, triage("I have a cold")))
    assert "no need to see a doctor" not in out and "You have a cold." in out and "Rest well." in out


def test_session_leads_with_urgent_message_and_adds_referral(tiny_model):
    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    session = ChatSession(Generator(model, tok), GenerationConfig(temperature=0.0, max_new_tokens=6))
    reply = session.ask("I have crushing chest pain spreading to my left arm and I am sweating")
    urgent = session.last_triage.message
    assert session.last_triage.urgent and reply.startswith(urgent)
    reply2 = session.ask("Thanks. Also, what helps a mild sore throat?")
    assert not session.last_triage.urgent and urgent not in reply2
    assert has_referral(reply2)
    # the history keeps each reply as the user saw it (urgent message and referral included), not the raw model text
    assert [m["content"] for m in session.history[1::2]] == [reply.strip(), reply2.strip()]
    assert len(session.history) == 4


def test_one_adapter_generates_merged_and_the_base_stays_untouched(tiny_model):
    import torch

    from medqa.config import LoraConfig
    from medqa.modeling.adapters import attach_lora

    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    peft = attach_lora(model, LoraConfig())
    torch.manual_seed(1)
    nonzero_lora_b(peft, std=0.5)  # a trained-looking adapter
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


def test_decoding_head_scores_few_rows_row_major_with_the_same_logits(tiny_model):
    """Inside `use()`, a CPU head scores up to SKINNY_ROWS rows as (W @ h.T).T: same logits, same greedy answers
    as the plain model's generate(), and the head's own forward is back afterwards."""
    import torch

    from medqa.inference.head import SKINNY_ROWS

    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    model.eval()
    gen, head = Generator(model, tok), model.get_output_embeddings()
    msgs = [[{"role": "user", "content": q}] for q in ("What helps a mild cold?", "My knee hurts after running.")]
    calls = []
    hook = head.register_forward_hook(lambda m, args, out: calls.append((args[0].shape, "forward" in vars(m))))
    greedy = GenerationConfig(temperature=0.0, max_new_tokens=10, repetition_penalty=1.0)
    ours = [r["text"] for r in gen.generate_batch(msgs, greedy)]
    hook.remove()
    assert calls and all(replaced for _, replaced in calls)  # every call went through the row-major forward
    assert "forward" not in vars(head)
    for rows in (1, 3, SKINNY_ROWS, SKINNY_ROWS + 1):
        h = torch.randn(1, rows, model.config.hidden_size)
        with gen.use(None):
            fast = head(h)
        assert fast.shape == (1, rows, model.config.vocab_size)
        assert torch.allclose(fast, torch.nn.functional.linear(h, head.weight), atol=1e-5)
    assert ours == [plain_greedy(gen, m, 10) for m in msgs]  # the unpatched model, one prompt at a time


def test_int8_head_rescores_its_top_tokens_exactly_and_keeps_greedy_answers(tiny_model):
    """Greedy decoding with int8_head ranks with int8 weights and writes fp32 logits over each row's top RESCORE:
    those are F.linear's values, the rest are estimates, and the greedy answers equal the fp32 model's own.
    Sampling and scoring never use it; the packed head is built once and rebuilt when the weight changes."""
    import pytest
    import torch

    from medqa.inference.head import RESCORE, Int8Head, int8_supported

    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    model.eval()
    head = model.get_output_embeddings()
    if not int8_supported(head):
        pytest.skip(f"quantized engine {torch.backends.quantized.engine!r} is not fbgemm")
    torch.manual_seed(0)
    x = torch.randn(8, model.config.hidden_size)
    int8 = Int8Head(head.weight)
    estimate, logits, exact = int8.estimate(x), int8(x), x @ head.weight.T
    top = estimate.topk(RESCORE, dim=-1).indices
    assert torch.allclose(logits.gather(1, top), exact.gather(1, top), atol=1e-5)
    rest = torch.ones_like(logits, dtype=torch.bool).scatter_(1, top, False)
    assert torch.equal(logits[rest], estimate[rest])
    error = (estimate - exact).abs().max()
    assert 0 < error < 0.05 * exact.abs().max()  # int8 estimates: close, not exact
    assert torch.equal(logits.argmax(-1), exact.argmax(-1))

    gen = Generator(model, tok, int8_head=True)
    msgs = [[{"role": "user", "content": q}] for q in ("What helps a mild cold?", "My knee hurts after running.")]
    sampled = GenerationConfig(temperature=0.7, max_new_tokens=4, seed=0)
    gen.generate_batch(msgs, sampled)
    assert gen._int8 is None  # sampling needs every logit exact
    greedy = GenerationConfig(temperature=0.0, max_new_tokens=10, repetition_penalty=1.0)
    assert [r["text"] for r in gen.generate_batch(msgs, greedy)] == [plain_greedy(gen, m, 10) for m in msgs]
    packed = gen._int8
    assert packed is not None
    gen.generate_batch(msgs[:1], greedy)
    assert gen._int8 is packed
    with gen.use(None):  # scoring: row-major fp32, not int8
        assert torch.allclose(head(x[None]), exact[None], atol=1e-5)
    with torch.no_grad():
        head.weight.mul_(1.5)
    gen.generate_batch(msgs[:1], greedy)
    assert gen._int8 is not packed


def test_shared_system_prompt_is_prefilled_once_and_answers_do_not_change(tiny_model):
    """Rows sharing a long prefix reuse its cached KV (prefix, padding, own suffix); the greedy answers equal each
    prompt generated alone from scratch, and later batches, one row or many, reuse the cached prefix. Where the
    batch would not fit the sliding attention window, nothing is cached and plain left padding runs."""
    import torch

    from medqa.inference.generator import PREFIX_MIN_TOKENS

    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    model.eval()
    gen = Generator(model, tok)
    system = "You answer health questions carefully, in plain words, and always say when to see a clinician. " * 3
    questions = ["What helps a mild cold?", "My knee hurts after running for an hour every morning.", "Why?"]
    convs = [[{"role": "system", "content": system}, {"role": "user", "content": q}] for q in questions]
    greedy = GenerationConfig(temperature=0.0, max_new_tokens=10, repetition_penalty=1.0)

    def alone() -> list[str]:
        return [plain_greedy(gen, c, 10) for c in convs]

    assert len(gen.prompt_ids(convs[1])) + 10 > model.config.sliding_window  # the tiny model's window: 64
    assert [r["text"] for r in gen.generate_batch(convs, greedy)] == alone() and not gen._prefixes
    model.config.sliding_window = 1024
    batched = [r["text"] for r in gen.generate_batch(convs, greedy)]
    assert len(gen._prefixes) == 1
    (_, prefix), = gen._prefixes
    assert len(prefix) >= PREFIX_MIN_TOKENS and all(gen.prompt_ids(c)[:len(prefix)] == list(prefix) for c in convs)
    with gen.use(None), torch.inference_mode():
        inputs = gen.batch_inputs([gen.prompt_ids(c) for c in convs], None, 10)
    assert inputs["attention_mask"][:, :len(prefix)].all()  # the prefix first, then each row's padding
    expected = alone()
    assert batched == expected
    assert gen.generate_batch(convs[1:2], greedy)[0]["text"] == expected[1]  # one row, cached prefix reused
    assert list(gen._prefixes) == [("base", prefix)]


def test_a_chat_keeps_its_kv_between_turns_and_answers_as_from_scratch(tiny_model):
    """stream() remembers the conversation's KV; the next turn extends it (past the tiny model's 64-token sliding
    window too) and only the latest turn stays cached. Greedy answers equal generate() from scratch."""
    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    model.eval()
    gen = Generator(model, tok)
    greedy = GenerationConfig(temperature=0.0, max_new_tokens=12, repetition_penalty=1.0)

    messages = [{"role": "system", "content": "Answer carefully and say when to see a clinician. " * 2},
                {"role": "user", "content": "I have had a dry cough for two weeks. What could it be?"}]
    decoder = model.get_decoder()
    widths: list[int] = []  # tokens per decoder call
    hook = decoder.register_forward_pre_hook(lambda m, a, kw: widths.append(kw["input_ids"].shape[1]), with_kwargs=True)
    cached = 0
    for follow_up in ("It gets worse at night.", "Should I worry about the colour of the phlegm?", None):
        widths.clear()
        answer = "".join(gen.stream(messages, greedy)).strip()
        prompt = gen.prompt_ids(messages)
        assert max(widths) == len(prompt) - 1 - cached  # only what this turn added is prefilled
        assert len(gen._prefixes) == 1 and list(next(iter(gen._prefixes))[1]) == prompt[:-1]  # the latest turn
        cached = len(prompt) - 1
        assert answer == plain_greedy(gen, messages, 12)
        if follow_up:
            messages += [{"role": "assistant", "content": answer or "..."}, {"role": "user", "content": follow_up}]
    hook.remove()
    assert cached > model.config.sliding_window
