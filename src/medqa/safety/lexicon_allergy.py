"""Lay-language patterns for allergic reactions, bleeding and general signs.

Why: anaphylaxis and major bleeding are described by what people see
("my face blew up", "the tea towel is drenched"), not by diagnoses. As in
``lexicon_cardio``, core concepts use ``near()`` so new word orders still
match; the general features here (fainting, vomiting) are only ever used
inside combination rules, never as red flags on their own.
"""

from __future__ import annotations

from .terms import Term, near, term

_SWELL = (r"swell\w*|swollen|puff\w* up|puffy|puffing|puffed|blew up|blown up|"
          r"ballooned|ballooning|huge|doubled in size")

ALLERGY: tuple[Term, ...] = (
    term("throat_swelling",
         near(r"throat|airway|windpipe",
              r"tight\w*|closing|clos\w* up|swell\w*|swollen|closed|thick\w*|"
              r"narrow\w*|blocked", 5),
         near(r"tongue|uvula", _SWELL + r"|thick\w*|too big|fat", 3)),
    term("voice_change",
         near(r"voice|cry|crying", r"hoarse|croaky|raspy|muffled|strange|"
              r"changed|weird|squeaky", 3)),
    term("lip_face_swelling",
         near(r"lips?|face|eyes|mouth|eyelids?", _SWELL, 3),
         mild_name="mild_swelling"),
    term("hands_face_swelling",
         near(r"hands|fingers|face|feet|ankles|legs", _SWELL, 4)),
    term("allergen_trigger",
         r"\bafter (?:eating|taking|starting|being stung|a sting|a bite|the "
         r"sting|he ate|she ate|i ate|having (?:some|a|the))\b",
         r"\b(?:stung|sting|stings)\b|\ballerg\w*",
         r"\b(?:injection|jab|vaccine|vaccination|infusion|contrast|dye|"
         r"antibiotic\w*|penicillin|amoxicillin|new (?:medication|medicine|"
         r"drug|tablets?|pills?|cream))\b",
         r"\b(?:peanuts?|tree nuts?|nuts|cashews?|shellfish|shrimps?|prawns?|"
         r"crab|lobster|sesame|latex|bee|wasp|hornet|fish|egg)\b"),
    term("hives",
         r"\b(?:hives|welts|urticaria)\b|\b(?:rash|itch\w*|blotches|bumps|"
         r"spots) (?:all over|everywhere)\b"),
    term("anaphylaxis_named",
         r"\b(?:going into|having|in) (?:anaphyla\w+|an anaphylactic)",
         r"\banaphylactic (?:reaction|shock)\b(?! (?:as|when|in|years))",
         r"\bused (?:my|his|her|the|an|their) (?:epipen|epi pen|adrenaline|"
         r"epinephrine|auto injector)"),
    term("faint",
         r"\bfaint\w*|\bpass(?:ed|ing)? out\b|\bblack(?:ed|ing)? out\b"
         r"|\blight ?headed\b|\bdizzy\b|\bdizziness\b|\bgoing to pass out\b"
         r"|\bkeel\w* over\b|\bgoing to collapse\b"),
    term("nausea",
         r"\bnause\w*|\bfeel(?:ing|s)? sick\b|\bvomit\w*|\bthrow\w* up\b"
         r"|\bthrew up\b|\bbeing sick\b|\bpuk\w*|\b(?:been|was|is) sick\b"
         r"(?! of)|\bsick (?:\d+|two|three|four|several|a few) times\b"),
)

BLEEDING: tuple[Term, ...] = (
    term("bleeding_severe",
         near(r"blood|it|wound|cut|bleeding",
              r"spurt\w*|pump\w*|gush\w*|pour\w*|squirt\w*|pulsing|everywhere|"
              r"soak\w* through|pooling|will not stop|does not stop|not "
              r"stopping|is not stopping|has not stopped|keeps coming", 2),
         r"\bbleeding (?:very |really |so )?(?:heavily|badly|a lot|profusely|"
         r"like crazy|non ?stop|so much|really bad)",
         r"\b(?:heavy|severe|massive|uncontroll\w*|a lot of|lots of) "
         r"(?:bleeding|blood loss)",
         r"\b(?:will|does|has|can|would) not stop bleeding",
         r"\b(?:can not|unable to|could not) (?:stop|control) (?:the )?"
         r"bleeding", r"\bsoak\w* (?:through|right through)\b",
         r"\blost (?:a lot of|lots of) blood",
         near(r"towels?|tea towels?|cloths?|bandages?|dressings?|shirt|pads?",
              r"drenched|soaked|soaking|through (?:\d+|two|three|four|several)",
              3),
         r"\bgone through (?:\d+|two|three|four|several) (?:towels|pads|"
         r"bandages|dressings|cloths)"),
    term("blood_vomit_cough",
         r"\b(?:vomit\w*|throw\w* up|threw up|cough\w* up|coughed up|"
         r"bringing up|sick(?:ing)? up|puk\w*) (?:\w+ ){0,5}?blood",
         r"\bblood in (?:my|his|her|the) (?:vomit|sick)",
         r"\bcoffee grounds?\b",
         r"\bpassing (?:a lot of |lots of )?blood"),
    term("black_stool",
         near(r"stools?|poos?|poops?|bowel movements?|motions",
              r"black|tarry|tar like|like tar", 3),
         unless=r"\b(?:iron|ferrous|bismuth|pepto|charcoal|liquorice|licorice|"
         r"blueberr\w*|beetroot)\b"),
    term("nosebleed",
         r"\bnose ?bleed\w*|\bbleed\w* from (?:my|his|her|the) nose"
         r"|\bnose (?:is |keeps )?bleeding"),
    term("blood_thinner",
         r"\b(?:blood thinners?|anticoagula\w+|warfarin|coumadin|apixaban|"
         r"eliquis|rivaroxaban|xarelto|dabigatran|pradaxa|edoxaban|heparin|"
         r"clopidogrel)\b"),
    term("bleeding_any",
         r"\bbleed\w*|\bbled\b|\bhaemorrhag\w*|\bhemorrhag\w*"
         r"|\b(?:bright red|fresh|a lot of|lots of|pure) blood|\bpassing "
         r"blood|\bblood (?:clots|loss|coming|from|everywhere|in my "
         r"(?:pants|underwear|knickers|pad))",
         near(r"pee\w*|urin\w*|wee\w*|stools?|poo\w*", r"blood|bloody", 4),
         r"\bblood (?:\w+ ){0,2}?clots\b"),
)

ALLERGY_BLEEDING_TERMS: tuple[Term, ...] = ALLERGY + BLEEDING
