import pytest

from medqa.config import CleaningConfig
from medqa.data.cleaning import (
    RULE_NAMES, RULES, CleaningLog, change_excerpt, clean_example, clean_text, describe_changes, enabled_rules,
    normalise_key,
)
from medqa.data.schema import Example


def test_chatdoctor_greeting_removed_without_debris():
    out = clean_text("Hi, Welcome to Chat Doctor, I understand your concern. Your cough may be viral.")
    assert out == "I understand your concern. Your cough may be viral."


def test_thanks_on_chatdoctor_and_signoff_removed():
    out = clean_text("Thanks for asking on ChatDoctor. Rest and fluids help. Regards, Chat Doctor.")
    assert out == "Rest and fluids help."


def test_mid_sentence_mention_becomes_a_doctor():
    assert clean_text("Please consult a Chat Doctor if it persists.") == "Please consult a doctor if it persists."


def test_urls_and_emails_removed_numbers_kept():
    out = clean_text("Take 500 mg (see https://x.org/a?b=1) or mail me at a.b@mail.example.com. BP 120/80 at 3.30 pm.")
    assert "http" not in out and "@" not in out
    assert "500 mg" in out and "120/80" in out and "3.30 pm" in out


def test_whitespace_normalised():
    assert clean_text("  too   many\t spaces \n\n\n\nnew para  ") == "too many spaces\n\nnew para"


def test_changed_counter_counts_rules():
    changed: dict[str, int] = {}
    clean_text("Welcome to Chat Doctor. See www.example.com now.", changed=changed)
    assert changed["chatdoctor"] == 1 and changed["urls"] == 1
    assert "emails" not in changed


def test_normalise_key_ignores_case_and_punctuation():
    assert normalise_key("What is  Asthma?") == normalise_key("what is asthma")


# --- the named rules of issue 3 -------------------------------------------------------------------------------------


def _rule(name):
    return next(r for r in RULES if r.name == name).fn


@pytest.mark.parametrize("text, expected", [
    ("Hi, Thanks for your query. I have gone through your query in detail. Your cough is viral.", "Your cough is viral."),
    ("Hello dear, thanks for your question, your child is fine.", "Your child is fine."),
    ("Dear Sir, Welcome to the forum. Rest helps.", "Rest helps."),
    ("Hi there! Good morning. Thank you. Drink water.", "Drink water."),
    ("Hello is a word that starts this sentence.", "Hello is a word that starts this sentence."),
    ("I have gone through your reports and your hemoglobin is low.",
     "I have gone through your reports and your hemoglobin is low."),
])
def test_greetings_only_at_the_start_and_only_whole_clauses(text, expected):
    assert _rule("greetings")(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Rest well. Hope this helps. Take care.", "Rest well."),
    ("Rest well.\nRegards,\nDr. Ravi Kumar, MBBS, MD (Medicine)", "Rest well."),
    ("Avoid dairy. Wish you good health. Feel free to ask further queries. Thanks & Regards Dr. A. Rao", "Avoid dairy."),
    ("Take care not to lift heavy things.", "Take care not to lift heavy things."),
    ("Keep monitoring. With regards to your BP, keep a diary.", "Keep monitoring. With regards to your BP, keep a diary."),
    ("Hope this helps you understand why we test. It is routine.", "Hope this helps you understand why we test. It is routine."),
])
def test_closings_only_at_the_end(text, expected):
    assert _rule("closings")(text) == expected


def test_greeting_words_mid_answer_are_kept():
    text = "Your child is fine. Say hello to the nurse and thanks for the update, take care of the cast."
    assert clean_text(text) == text


@pytest.mark.parametrize("text, expected", [
    ("Mail me at dr.rao@clinic.example.com today.", "Mail me at [email] today."),
    ("See https://x.org/a?b=1 or www.health.com/info.", "See [url] or [url]."),
    ("Call +1 (555) 123-4567 or 98765 43210.", "Call [phone] or [phone]."),
    ("Dr. Ravi Kumar and Mrs. A. Jones agreed with Dr. M.M. Cohen.", "Dr. [name] and Mrs. [name] agreed with Dr. [name]."),
])
def test_personal_data_becomes_placeholders(text, expected):
    assert clean_text(text) == expected


def test_clinical_numbers_are_kept():
    text = ("I am 34 years old, BP 120/80, pulse 72, HbA1c 6.5%, TSH 4.5, platelets 250000, took 500 mg twice a day "
            "for 3 days from 12-03-2019, at 3.30 pm; values 10 20 30 40 50.")
    assert clean_text(text) == text


@pytest.mark.parametrize("rule, text, expected", [
    ("mojibake", "Itâ€™s fine, cafÃ© au lait, â€œquotedâ€ text", "It\u2019s fine, café au lait, \u201cquoted\u201d text"),
    ("apostrophes", "I??e been ill, don?? worry, I?? going, you??e experiencing it, It?? possible",
     "I've been ill, don't worry, I'm going, you're experiencing it, It's possible"),
    ("apostrophes", "Is it serious?? I am scared", "Is it serious?? I am scared"),
    ("html", "salt &amp; water<br/>it&#39;s fine, BP <120", "salt & water\nit's fine, BP <120"),
    ("control_chars", "a\x00b\u200bc\x92d\ufffd", "abc\u2019d"),
])
def test_text_repair(rule, text, expected):
    assert _rule(rule)(text) == expected


def test_generation_artefacts_are_cut():
    answer = ("It may be reflux.Note: As a language model AI, I must say this is fictional. Take antacids. "
              "Patient: Thanks doctor, what else? Doctor: Nothing.")
    assert clean_text(answer) == "It may be reflux. Take antacids."
    echoed = "It is amyloidosis.??169,Amyloidosis,['Nailbiting'],Please generate a dialogue between a doctor and a patient."
    assert clean_text(echoed) == "It is amyloidosis."


def test_answer_scope_rules_leave_the_question_alone():
    ex = Example(question="Hi doctor, Patient: my son has a cough. Thanks.", answer="Hi, rest well. Take care.")
    out = clean_example(ex)
    assert out.question == ex.question and out.answer == "Rest well."


def test_rules_follow_the_config_and_are_logged():
    assert tuple(CleaningConfig.model_fields) == RULE_NAMES
    rules = enabled_rules(CleaningConfig(urls=False, greetings=False))
    assert "urls" not in [r.name for r in rules] and "greetings" not in [r.name for r in rules]
    log = CleaningLog(keep=1)
    assert clean_text("Hi, see www.a.com now.", rules, log=log) == "Hi, see www.a.com now."
    clean_text("Hi, see www.b.com now.", RULES, log=log)
    assert log.changed == {"greetings": 1, "urls": 1} and len(log.samples["urls"]) == 1
    text = describe_changes(log.samples, 1)
    assert "== urls ==" in text and "[url]" in text


def test_change_excerpt_shows_the_changed_region():
    before, after = change_excerpt("x" * 200 + " call 555-123-4567 now " + "y" * 200, "x" * 200 + " call [phone] now "
                                   + "y" * 200, context=10)
    assert before.startswith("…") and "555-123-4567" in before and "[phone]" in after and len(after) < 60
