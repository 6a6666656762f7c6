from medqa.data.cleaning import clean_text, normalise_key


def test_chatdoctor_greeting_removed_without_debris():
    out = clean_text("Hi, Welcome to Chat Doctor, I understand your concern. Your cough may be viral.")
    assert out == "I understand your concern. Your cough may be viral."
    assert "Welcome to" not in out and not out.startswith(",")


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
