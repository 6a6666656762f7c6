"""Lay-language patterns for babies/children and pregnancy.

Why: the same words mean different things by age and pregnancy status: a
fever of 38.3 is routine in a toddler but an emergency under 3 months;
"the baby hasn't moved" is an emergency at 34 weeks of pregnancy. These
terms therefore mostly provide *context* (child, young infant, pregnant,
preterm) that ``rules.py`` combines with symptoms; validators in
``terms.py`` judge ages, temperatures and gestations numerically.
"""

from __future__ import annotations

from .terms import (NUM, Term, is_fever_value, is_preterm_weeks,
                    is_young_infant_age, near, term)

CHILD: tuple[Term, ...] = (
    term("child_context",
         r"\b(?:baby|babies|babys|infant|newborn|toddler|child|children|kid|"
         r"kids|son|daughter|boy|girl|little one|grandson|granddaughter|"
         r"niece|nephew|neonate)\b",
         rf"\b{NUM} (?:year|yr|month|mo|week|wk|day)s? olds?\b",
         rf"\b(?:he|she|son|daughter) is {NUM}\b"),
    term("young_infant_age",
         rf"\b{NUM} ?(?:days?|weeks?|wks?|months?|mths?|mos?) olds?\b",
         rf"\b(?:baby|babys|son|daughter|he|she|newborn|who) (?:is |was )?"
         rf"(?:only |just )?{NUM} (?:days?|weeks?|wks?)\b",
         validator=is_young_infant_age),
    term("newborn", r"\bnewborn|\bneonate|\bnew baby\b|\bjust born\b"
         r"|\bborn (?:\d+|a few|two|three|yesterday) (?:days? ago)?"),
    term("floppy",
         r"\b(?:floppy|limp|lifeless|listless|lethargic|unresponsive|"
         r"not responding|not waking)\b",
         r"\b(?:will not|can not|hard to|difficult to|struggling to|would not|"
         r"could not) (?:wake|rouse|stay awake)",
         r"\b(?:very|really|extremely|unusually|so) (?:drowsy|sleepy|"
         r"lethargic)\b",
         r"\btoo (?:sleepy|tired|weak|floppy|drowsy) to (?:feed|drink|eat|cry|"
         r"wake|suck)",
         unless=r"\b(?:in the mornings?|for school|for work|after a late night|at weekends)\b"),
    term("not_feeding",
         r"\b(?:has not|have not|had not|not) (?:fed|eaten|drunk|had (?:a |any )?"
         r"(?:feeds?|milk|bottles?))\b",
         r"\bnot (?:feeding|eating|drinking|taking (?:any )?(?:milk|feeds?|"
         r"bottles?|the breast))|\brefus\w* (?:to )?(?:feed\w*|feeds|bottles?|"
         r"milk|drink\w*)|\b(?:will not|would not) (?:feed|drink)",
         r"\btoo (?:sleepy|tired|weak) to (?:feed|drink|eat|suck)"),
    term("grunting", r"\bgrunt\w*"),
    term("gagging",
         r"\bgagging\b|\b(?:stuck|lodged) in (?:my|his|her|their|the) "
         r"(?:throat|windpipe|airway)"),
    term("silent_airway",
         r"\b(?:can not|could not|unable to|is not|not) (?:make (?:a|any) "
         r"(?:sound|noise)|making (?:a|any) (?:sound|noise)|cry|crying|cough|"
         r"coughing|breathe|breathing|speak|talk)\b"),
    term("no_urine",
         r"\b(?:no|not had a|not had any|has not had a|have not had a|has not "
         r"had any|has not done a|not done a|dry) (?:wet )?(?:nappy|nappies|"
         r"diaper|diapers)\b",
         r"\b(?:has not|have not|not|did not|had not) (?:peed|weed|urinated|"
         r"passed (?:any )?urine)",
         r"\b(?:soft spot|fontanelle|eyes) (?:\w+ )?(?:sunken|sunk|dipped)"
         r"|\bsunken (?:soft spot|fontanelle|eyes)"),
    term("nonblanching_rash",
         r"\b(?:rash|spots|marks|dots|blotches) (?:\S+ ){0,6}?(?:does not|do "
         r"not|did not|will not|not|would not) (?:fade|go away|disappear|"
         r"blanch|go white)",
         r"\bnon ?blanching\b|\bglass test\b|\bpetechia\w*|\bpurpura\b",
         r"\b(?:purple|purplish|dark red|blood) (?:\w+ )?(?:spots|rash|dots|"
         r"blotches|specks)"),
    term("fever",
         r"\bfever\w*|\bfebrile\b|\bhigh temp\w*|\b(?:burning|boiling|"
         r"roasting) (?:hot|up)\b|\bhot to (?:the )?touch\b|\brunning a temp",
         r"\b(?:feels?|felt|feeling) (?:very |really |so |quite )?(?:hot|"
         r"warm)\b"),
    term("fever_value",
         r"\b(?:temp\w*|temperature|fever|thermometer) (?:\w+ ){0,2}?"
         r"\d{2,3}(?:\.\d+)?",
         r"\b\d{2,3}(?:\.\d+)? ?(?:degrees|deg|c|f)?(?: \w+)? (?:fever|temp)",
         r"\b(?:is|was|at|of|reading|reads|says|said|showed|shows|hit|hits|"
         r"reached|showing|now) (?:3[89]|4[0-2])(?:\.\d)?\b(?! ?(?:weeks?|"
         r"wks?|years?|yrs?|days?|months?|kg|lbs?|pounds|minutes|mins|hours|"
         r"hrs|%|cm|mm|times))",
         validator=is_fever_value),
)

PREGNANCY: tuple[Term, ...] = (
    term("pregnancy_context",
         r"\bpregnan\w*|\b\d+ ?(?:weeks|wks) (?:pregnant|along|gestation)"
         r"|\bi am (?:only |about |nearly |almost |just )?\d+ ?(?:weeks|wks)\b"
         r"|^(?:at |only |about )?\d{1,2} ?(?:weeks|wks)\b(?! ago)"
         r"|\b\d{1,2} ?(?:weeks|wks) (?:gone|along|pregnant)"
         r"|\b(?:first|second|third) trimester|\bexpecting (?:a baby|twins)"
         r"|\bmy (?:midwife|bump)\b"),
    term("reduced_fetal_movement",
         r"\b(?:have not|has not|did not|not|no longer|can not) (?:felt|feel|"
         r"feeling) (?:the |my )?(?:baby|babies|bump) (?:move|moving|kick\w*)",
         r"\b(?:baby|babies|babys|bump) (?:is not|has not|has|have|not|"
         r"stopped|is|has been) (?:been )?(?:moving|kicking) (?:as much|less|"
         r"much)",
         r"\b(?:baby|babies|babys) (?:has |have )?(?:stopped|stop) (?:moving|"
         r"kicking)",
         r"\b(?:kicks|movements?) (?:have |has |are )?(?:slowed|stopped|"
         r"reduced|decreased|gone quiet|less|fewer)",
         r"\b(?:fewer|less|reduced|decreased|no) (?:fetal |foetal |baby |"
         r"babys )?(?:kicks|movements?)\b",
         r"\b(?:baby|bump) (?:is |has been |has gone |went |gone )?(?:very |"
         r"really )?(?:quiet|still)\b"),
    term("baby_not_moved",
         r"\b(?:baby|babies|babys|bump) (?:has not|have not|did not|is not|not|"
         r"has stopped|stopped) (?:moved|kicked|been moving|been kicking|"
         r"moving|kicking)\b"),
    term("waters",
         r"\bwaters? (?:has |have )?(?:just )?(?:broke|broken|break|breaking|"
         r"gone|went)|\bgush of (?:fluid|water)|\bmembranes? (?:have )?"
         r"ruptured",
         near(r"fluid|water|liquid", r"leak\w*|gush\w*|trickl\w*|pouring", 2)),
    term("contractions",
         near(r"contractions?|tightenings?|labou?r pains?|cramps",
              r"regular|every (?:\d+|few|couple of) (?:minutes|mins)|minutes "
              r"apart|closer together|getting (?:stronger|closer|worse)", 4),
         r"\b(?:i am|i think i am|think i am|going) in(?:to)? labou?r\b",
         unless=r"\bbraxton\b"),
    term("preterm",
         r"\b\d{1,2} ?(?:weeks|wks)\b", validator=is_preterm_weeks),
    term("preterm_word",
         r"\b(?:early|premature|preterm|too (?:early|soon))\b"),
    term("severe_abdo",
         r"\b(?:severe|terrible|awful|bad|sharp|intense|unbearable|"
         r"excruciating|agoni\w*|really bad|stabbing|horrible|constant) "
         r"(?:\w+ ){0,3}?(?:pain|cramps?|ache)s? (?:\w+ ){0,6}?(?:belly|stomach|"
         r"tummy|abdomen|abdominal|pelvis|pelvic|lower back|groin)",
         r"\b(?:belly|stomach|tummy|abdomen|abdominal|pelvic) (?:pain|cramps?|"
         r"ache) (?:is |are )?(?:severe|terrible|unbearable|excruciating|"
         r"really bad|awful|agoni\w*)"),
    term("headache", r"\bheadaches?\b|\bhead (?:hurts|is pounding|aches|pain)"
         r"|\bmigraine\b"),
    term("vision_change",
         r"\bflashing lights?\b|\bflashes\b|\bseeing (?:spots|stars|flashing|"
         r"sparkl\w*|double|zig ?zags?|lights)|\bblurr\w*|\bvision (?:is )?"
         r"(?:blurr\w*|funny|strange|changes?|going)|\bspots in (?:my )?vision"
         r"|\bhalos?\b|\bsparkl\w* lights|\bzig ?zag",
         mild_name="mild_vision_change"),
)

FAMILY_TERMS: tuple[Term, ...] = CHILD + PREGNANCY
