"""Lay-language patterns: sepsis, head injury, seizures, collapse, severe
pain and serious injury.

Why: these emergencies are usually described by a combination of ordinary
words ("hit her head ... been sick three times ... just wants to sleep").
The single features here are mostly weak on their own; ``rules.py``
combines them (head injury + vomiting, infection + confusion, fever + stiff
neck). Seizure and collapse descriptions are strong on their own.
"""

from __future__ import annotations

from .terms import POSS, Term, near, term

ACUTE: tuple[Term, ...] = (
    term("confusion",
         r"\bconfus\w*|\bdisorient\w*|\bmuddled\b|\bnot making (?:any )?sense"
         r"|\btalking nonsense|\bdoes not know where (?:he|she|i) (?:is|am)"
         r"|\bcan not remember\b|\bmemory loss\b|\bnot (?:himself|herself|"
         r"themselves)\b|\b(?:asking|asks|repeating) the same (?:questions?|"
         r"things?)|\bdoes not (?:recogni[sz]e|know) (?:me|us|anyone)"),
    term("infection",
         r"\b(?:infection|uti|urine infection|water infection|kidney infection|"
         r"pneumonia|cellulitis|infected|shiver\w*|chills|rigors?|"
         r"shaking with (?:cold|chills)|shaking uncontrollably)\b"),
    term("mottled", r"\b(?:mottled|mottling|marbled)\b"),
    term("skin_blotchy",
         near(r"skin|legs|knees|arms|body|hands|feet",
              r"blotchy|patchy|cold|blue|grey|gray|blotches", 3)),
    term("stiff_neck",
         r"\bstiff neck|\bneck (?:is |feels )?(?:very |really |so )?stiff"
         r"|\bcan not (?:bend|move|touch) (?:my |his |her )?(?:neck|chin)"),
    term("photophobia",
         r"\b(?:can not stand|can not bear|hurt\w* by|sensitive to|hate|"
         r"hurts to look at) (?:the )?(?:light|bright lights?)|\blight "
         r"(?:hurts|is hurting) (?:my |his |her )?eyes|\bphotophobi\w*"),
    term("doom",
         r"\bfeel(?:s|ing)? like (?:i am|he is|she is|i am going to|i) "
         r"(?:going to |gonna |about to )?(?:die|dying)\b"
         r"|\b(?:something|this) is (?:really |terribly |seriously )?"
         r"(?:very )?wrong\b|\bsense of doom\b|\bworst i have ever felt\b"
         r"|\b(?:i am|i think i am) dying\b"),
    term("named_sepsis",
         r"\b(?:think|worried|scared|afraid|could be|might be|might have|may "
         r"have) (?:\w+ ){0,3}?(?:sepsis|septic|meningitis)\b"),
    term("head_injury",
         r"\b(?:hit|hitting|banged|banging|bang|bumped|bumping|bump|knocked|"
         r"knocking|smacked|smacking|whacked|struck|cracked|hurt|injured|"
         rf"injuring) (?:\w+ ){{0,2}}?{POSS} head\b",
         r"\bhead (?:injury|injuries|trauma|knock|wound|bump)\b",
         r"\b(?:fell|landed|fallen|dropped) (?:\w+ ){0,5}?(?:on|onto|hitting|"
         rf"and hit|and banged|and bumped) {POSS} head", r"\bconcuss\w*",
         rf"\b(?:knock|blow|bang|bump|hit) (?:to|on) {POSS} head"),
    term("loss_of_consciousness",
         r"\bknocked (?:out|unconscious)|\b(?:lost|lose|losing|loss of) "
         r"consciousness\b|\bblack(?:ed|s)? out\b|\bpassed out\b"
         r"|\bunconscious\b|\bout cold\b|\bwas out for\b"),
    term("csf_leak",
         r"\b(?:clear |watery )?(?:fluid|liquid) (?:\w+ ){0,3}?(?:from|out of) "
         r"(?:my|his|her|the|their) (?:nose|ear|ears)"),
    term("drowsy",
         r"\b(?:very |really |unusually )?(?:drowsy|hard to wake|can not stay "
         r"awake|keeps falling asleep)|\b(?:just )?wants to (?:sleep|lie down "
         r"and sleep)\b|\b(?:very|really|so) sleepy\b"),
    term("seizure",
         r"\bseizures?\b(?! free)|\bconvuls\w*|\bseizing\b|\bfitting\b"
         r"|\b(?:having|had|has|have|in) (?:an? )?fits?\b",
         r"\b(?:jerking|shaking|twitching|thrashing) (?:all over|"
         r"uncontrollably|violently)",
         r"\beyes (?:have |had |are |were )?(?:rolled|rolling) (?:back|up)"
         r"|\bfoaming at the mouth",
         near(r"jerking|twitching|thrashing|shaking|stiff|rigid",
              r"on the floor|on the ground|unresponsive|not responding|eyes", 4)),
    term("unresponsive",
         r"\b(?:unconscious|unresponsive|not responding|no response|not "
         r"responsive|non ?responsive|out cold)\b",
         r"\b(?:can not|could not|unable to|will not) (?:wake|rouse) (?:him|"
         r"her|them|\w+ up|up)\b",
         r"\b(?:will not|does not|is not|not|can not) (?:respond|react|"
         r"answer|open (?:his|her|their) eyes)\w*",
         unless=r"\b(?:deep sleeper|in the mornings?|when the alarm|for school|for work)\b"),
    term("not_breathing",
         r"\b(?:not|stopped|barely|no longer|is not) breathing\b(?! (?:fast|"
         r"properly through|through))|\bno pulse\b|\bheart (?:has )?stopped"),
    term("collapsed", r"\bcollaps(?:ed|ing)\b|\bkeeled over\b",
         r"\bfound (?:\w+ ){0,3}?(?:on the (?:floor|ground)|lying (?:on|in)|"
         r"slumped|passed out|unconscious|unresponsive|collapsed)"),
    term("thunderclap",
         r"\bworst headache\b|\bthunderclap\b|\bsudden(?:ly)? (?:\w+ ){0,2}?"
         r"(?:severe|excruciating|splitting|agoni\w*|explosive|blinding|"
         r"horrendous) headache|\bheadache (?:\w+ ){0,4}?(?:came on|started|"
         r"hit|struck) (?:me )?(?:suddenly|out of nowhere|like a)"),
    term("testicular",
         r"\b(?:testicles?|testicular|testes|scrotum|scrotal|ball sack|"
         r"(?:my|his) balls)\b"),
    term("acute_marker",
         r"\b(?:sudden\w*|severe|excruciating|agoni\w*|unbearable|really bad|"
         r"terrible|intense|extreme\w*|worst|out of nowhere|screaming|"
         r"woke (?:up|him up|her up|me up) (?:with|in))\b"),
    term("rigid_abdomen",
         near(r"stomach|belly|abdomen|tummy",
              r"rock hard|rigid|hard as (?:a )?(?:board|rock)|board like", 2)),
    term("unbearable_pain",
         r"\b(?:unbearable|excruciating|agoni[sz]ing|agony|10 out of 10|ten "
         r"out of ten|screaming in pain|writhing)\b|\bworst pain\b"),
    term("limb_cold",
         near(r"legs?|arms?|foot|feet|hands?", r"cold|pale|white|blue", 3)),
    term("pain_any", r"\bpain\w*|\bhurts?\b|\bhurting\b|\baching\b|\bache\b"),
    term("eye_pain",
         near(r"eyes?", r"pain\w*|hurts?|hurting|ache|aching|agony", 3)),
    term("trauma_mechanism",
         r"\b(?:fell|fallen|falling|fall|thrown|came off) (?:\w+ ){0,3}?(?:off|"
         r"from|down) (?:a |an |the |my |his |her )?(?:\w+ )?(?:ladder|roof|"
         r"horse|bike|motorbike|motorcycle|stairs|scaffold\w*|balcony|wall|"
         r"tree|height|trampoline|window)",
         r"\b(?:car|road|traffic|motorbike|motorcycle|bike|cycling|diving) "
         r"(?:crash|accident|collision)|\bhit by a (?:car|bus|truck|van|bike)"
         r"|\bdived (?:\w+ ){0,2}?into (?:a |the )?(?:shallow|pool)"),
    term("limb_loss",
         r"\b(?:can not|could not|unable to) (?:feel|move) (?:my|his|her|their) "
         r"(?:legs|arms|feet|body|toes|hands|lower body)|\bnumb from the "
         r"(?:waist|chest|neck) down"),
    term("spine_pain",
         near(r"back|neck|spine", r"hurts?|pain\w*|agony|killing", 2)),
    term("open_fracture",
         r"\bbone (?:\w+ ){0,2}?(?:sticking|poking|coming) (?:out|through)"
         r"|\b(?:leg|arm|wrist|ankle) (?:is )?(?:bent|pointing) the wrong way"),
    term("abdominal_trauma",
         r"\b(?:fell|fallen|landed|dropped) (?:\w+ ){0,5}?(?:on|onto) (?:my|"
         r"her|the) (?:bump|tummy|belly|stomach|abdomen)",
         r"\b(?:hit|kicked|punched|struck|elbowed|blow|knock) (?:\w+ ){0,2}?"
         r"(?:in|to|on) (?:my|her|the) (?:bump|tummy|belly|stomach|abdomen)"),
    term("swelling_any", r"\bswell\w*|\bswollen\b"),
    term("unable_to_move",
         r"\b(?:can not|could not|unable to) (?:walk|move|stand|straighten)"),
)
