"""Lay-language patterns for heart, stroke and breathing red flags.

Why: patients rarely write "myocardial infarction"; they write "feels like
an elephant on my chest" or "my chest is in a vice". Each Term names one
clinical feature. The core symptom concepts use ``near()`` (a body-part
word and a descriptor word within a few non-negation words, either order)
rather than fixed phrases, because fixed phrases failed on new wordings in
held-out testing. Terms are *features*; urgency is decided in ``rules.py``.
Patterns run on ``normalize.normalize`` output ("can't" -> "can not").
"""

from __future__ import annotations

from .terms import POSS, Term, near, term

_PERSON = r"(?:my|his|her|their|the)"
_LIMB = r"(?:arms?|legs?|hands?|foot|feet|fingers|grip|side)"

_CHEST = r"chest(?! (?:infection|cold|x ray|xray|hair|drain))|breastbone|sternum"
_CHEST_DESC = (r"pains?|pressure|tight\w*|heav\w*|squeez\w*|crush\w*|vice|vise|"
               r"ache|aching|hurt\w*|burning|weight|band|elephant|discomfort|"
               r"sore|agony|stabbing|killing me|on fire|clamp\w*|gripping")

CARDIAC: tuple[Term, ...] = (
    term("chest_pain", near(_CHEST, _CHEST_DESC, 6),
         rf"\bclutching (?:at )?{_PERSON} chest"),
    term("crushing",
         r"\bcrush(?:ing|ed)\b|\belephant\b|\bvice\b|\bvise\b|\bsqueez\w*"
         r"|\bheavy weight\b|\bweight on\b|\bclamp\w*|\bgripping\b"),
    term("radiation",
         rf"\b(?:spread\w*|radiat\w*|going|moving|shooting|travel\w*|goes|"
         rf"moves|down|up) (?:down |up |into |to |through to |through |in )+"
         rf"(?:{POSS} )?(?:left |right )?(?:arm|arms|jaw|neck|back|shoulder)"),
    term("arm_symptom",
         near(r"(?:left )?arm|jaw",
              r"numb\w*|heavy|tingl\w*|aching|hurts?|painful|sore|killing me|"
              r"dead|pins and needles", 3)),
    term("sweating",
         r"\bsweat\w*|\bclammy\b|\bdrenched\b|\bdiaphore\w*|\bsoaked in sweat"),
    term("pale_grey",
         r"\b(?:is|looks|went|gone|turned|turning|looking|very|really|he is|"
         r"she is|gone a bit) (?:grey|gray|ashen|pale|white as a sheet)\b"
         r"|\b(?:grey|gray|ashen) and\b|\bgrey colour|\bgray color"),
    term("palpitations",
         near(r"heart|pulse",
              r"racing|pounding|thumping|beating (?:really |very |so )?(?:fast|"
              r"hard|irregular\w*|weird\w*)|fluttering|skipping|going crazy|"
              r"going mad|all over the place|2\d\d|1[5-9]\d", 2),
         r"\bpalpitations?\b"),
    term("tearing", r"\b(?:tearing|ripping)\b"),
    term("persistent",
         r"\b(?:has|have|is|does|did) not (?:gone|go|going|eased|settled) "
         r"(?:away|off|down)?",
         r"\bfor (?:over |more than |about |almost |nearly |the (?:last|past) )?"
         r"(?:\d+|an|half an|one|two|ten|fifteen|twenty|thirty|forty) "
         r"(?:minutes|mins|hours?|hrs?)\b",
         r"\b(?:over|more than) (?:an|\d+|half an) (?:hours?|minutes|mins)\b",
         r"\bsince (?:dinner|lunch|breakfast|this morning|last night|i woke)"),
    term("reported_heart_attack",
         r"\b(?:think|thinks|worried|scared|afraid|sure|feel like|feels like) "
         r"(?:that )?(?:i am|he is|she is|they are|i might be|i may be|"
         rf"{_PERSON} \w+ is|its) (?:having|going into) (?:a |an )?"
         r"(?:heart attack|cardiac arrest)",
         r"\b(?:i am|he is|she is) having a heart attack"),
)

STROKE: tuple[Term, ...] = (
    term("face_droop",
         near(r"face|mouth|smile|lips?|eyelids?|cheek",
              r"droop\w*|sagg\w*|crooked|lopsided|twisted|uneven|fallen|"
              r"dropped|slipped|paralys\w*|frozen|not moving|is not moving",
              3),
         r"\bdroop\w* (?:on |down )?(?:one|the left|the right|left|right) side"),
    term("speech_problem",
         r"\bslurr\w+",
         near(r"speech|speaking|talking|voice",
              r"slurred|garbled|jumbled|strange|weird|funny|wrong|off|gone|"
              r"muddled|drunk|nonsense|gibberish", 3),
         r"\bwords (?:\w+ ){0,2}?(?:come|coming|came|comes) out (?:all )?"
         r"(?:wrong|jumbled|garbled|muddled|strange|weird|mixed up)",
         r"\b(?:can not|could not|unable to|struggling to|trouble|keeps trying "
         r"to) (?:find|get|say|form) (?:out )?(?:my|his|her|their) words",
         r"\b(?:can not|could not|unable to) get (?:her|his|my|their) words out",
         r"\b(?:can not|could not|unable to) (?:speak|talk) (?:properly|clearly|"
         r"normally|right)",
         r"\bmumbl\w* (?:\w+ ){0,3}?(?:make|makes|made) (?:no|any) sense",
         r"\b(?:words|sentences) (?:that )?(?:do not|does not|dont) make (?:any )?"
         r"sense",
         r"\bcan not understand what (?:people|anyone|you|others|he|she|they|"
         r"we|i) (?:are|is|am) (?:saying|telling)"),
    term("cannot_lift",
         r"\b(?:can not|could not|unable to|can barely) (?:lift|raise|move|grip"
         rf"(?: with)?) (?:my|his|her|their) (?:left |right )?{_LIMB}",
         rf"\b{_LIMB} (?:is |has |went |feels )?(?:suddenly )?paraly[sz]ed"),
    term("limb_weak",
         near(_LIMB,
              r"weak\w*|numb\w*|heavy|heaviness|useless|dead|limp|clumsy|"
              r"paralys\w*|dragging|giving way|gave way|buckl\w*|floppy|"
              r"not working|will not work|does not work", 3),
         rf"\b{_LIMB} (?:\w+ ){{0,2}}?(?:will not|does not|is not|can not) "
         r"(?:work|move|do what|respond|obey|cooperate|hold)",
         r"\b(?:keep|keeps|kept) dropping (?:things|stuff|my|his|her|cups)"
         r"|\b(?:can not|could not) (?:hold|grip) (?:anything|things|a cup|my "
         r"cup|a pen)"),
    term("face_numb",
         near(r"face|lips?|cheek|tongue",
              r"numb\w*|tingl\w*|dead|pins and needles|no feeling", 3)),
    term("sudden_neuro",
         r"\bsudden(?:ly)? (?:\w+ ){0,3}?(?:numb\w*|weak\w*|can not|confus\w*|"
         r"vision|blind|los\w* (?:my |his |her )?balance|dizz\w*|collaps\w*|"
         r"dropp\w*|fell)",
         r"\b(?:started|came on|began) (?:\d+|a few|about \d+|an|half an) "
         r"(?:minutes?|mins|hours?) ago"),
    term("vision_one_eye",
         r"\b(?:can not|could not|unable to) see (?:\w+ ){0,3}?(?:out of|in|"
         r"with|from) (?:one|my|his|her|the) (?:left |right )?eye",
         r"\b(?:lost|losing|loss of|no) (?:the )?(?:vision|sight) in (?:one|my|"
         r"his|her) (?:left |right )?eye",
         r"\b(?:vision|sight) in (?:one|my|his|her) (?:left |right )?eye "
         r"(?:\w+ ){0,2}?(?:went|is|has gone|gone|turned|going) (?:black|dark|"
         r"blank|blurry|dim|grey|gray|out)",
         r"\bcurtain (?:\w+ )?(?:down|over|across) (?:my|his|her)? ?"
         r"(?:vision|eye)", r"\bdouble vision\b"),
    term("sudden_vision_loss",
         r"\bsudden(?:ly)? (?:lost|loss of|lose|losing|went blind|gone blind|"
         r"blind|can not see)",
         r"\b(?:went|gone|going) blind\b"),
    term("reported_stroke",
         r"\b(?:think|thinks|worried|scared|afraid|sure|feel like) (?:that )?"
         rf"(?:i am|he is|she is|they are|i might be|{_PERSON} \w+ is|its) "
         r"having a stroke",
         r"\b(?:i am|he is|she is) having a stroke"),
)

BREATHING: tuple[Term, ...] = (
    term("breathing_severe",
         r"\b(?:can not|could not|can barely|unable to|not able to) (?:catch "
         r"(?:my|his|her|their) )?breath(?:e|ing)?\b(?! through)",
         r"\b(?:can not|could not|can barely|unable to|not able to) get "
         r"(?:enough |any )?(?:air|breath|oxygen)",
         r"\b(?:struggling|fighting|gasping|straining|battling) (?:to breathe|"
         r"for (?:breath|air))", r"\bgasping\b|\bair hunger\b",
         r"\b(?:difficulty|trouble|problems?|hard time|struggle) (?:with )?"
         r"breathing\b", r"\b(?:hard|difficult|impossible) to breathe\b",
         r"\b(?:can only|only able to|can barely) (?:say|speak|get out) "
         r"(?:a few|one or two|two|three|single|a couple of) words",
         r"\btoo (?:breathless|out of breath|short of breath) to (?:speak|"
         r"talk|walk|finish)",
         near(r"chest|ribs|neck|skin|tummy|belly|throat",
              r"suck\w* in|pull\w* in|cav\w* in|draw\w* in|suck\w* under|"
              r"pull\w* under", 2),
         near(r"inhalers?|puffers?|nebuli[sz]ers?|ventolin|salbutamol|"
              r"albuterol|reliever",
              r"not (?:helping|working|doing anything|making a difference)|"
              r"no (?:help|use|effect|difference)|useless|(?:[6-9]|\d\d|ten|twenty) "
              r"(?:times|puffs)(?! (?:a|per|each) (?:day|week))|every (?:\d+|few|couple of) minutes", 5),
         r"\bsevere (?:asthma|wheez\w*)",
         r"\bwheez\w* (?:badly|really badly|a lot|terribly|severely)",
         r"\bsuffocat\w*|\bcan not get (?:any )?air\b",
         r"\b(?:every|each) breath (?:is|feels like) (?:a|an) (?:fight|struggle|"
         r"battle|effort)",
         r"\b(?:ribs|chest|belly|tummy|shoulders) (?:are |is )?heaving",
         mild_name="breathless"),
    term("cannot_speak",
         r"\b(?:can barely|can not|could not|unable to|struggling to|too \w+ "
         r"to) (?:talk|speak|finish (?:a|my|his|her) sentences?)"),
    term("asthma_copd", r"\basthma\w*|\bcopd\b|\bemphysema\b|\bcroup\b"),
    term("breathless",
         r"\bshort(?:ness)? of breath\b|\bbreathless\w*|\bout of breath\b"
         r"|\bshort winded\b|\bwinded\b|\bpanting\b|\bpuffing\b"),
    term("noisy_breathing",
         near(r"breathing|breaths?", r"noisy|rattl\w*|whistl\w*|laboured|"
              r"labored|raspy|squeak\w*|crackl\w*", 3), r"\bstridor\b"),
    term("rest_marker",
         r"\b(?:at rest|sitting still|sitting down|while resting|even (?:when "
         r"|while )?(?:sitting|resting|lying|talking)|can not lie (?:down|flat)"
         r"|lying (?:down|flat)|getting worse|worse and worse|really bad|severe"
         r"|all of a sudden|bolt upright)\b"),
    term("blue_lips",
         near(r"lips?|face|skin|fingers|fingertips|tongue|mouth|nails",
              r"blue|bluish|blueish|purple|dusky|grey|gray", 3),
         r"\bturning blue\b|\bblue lips\b|\bgone blue\b",
         # Raynaud's: fingers that change colour in the cold and recover
         unless=r"\braynaud\w*|\bwhen (?:i am |im |it is |its )?(?:cold|outside)\b|\bin the cold\b|\bfreezer\b"),
    term("choking",
         r"\bchoking\b(?! (?:feeling|sensation))",
         r"\bchoked (?:on )?\w+ (?:and|now) (?:can not|is not|not)"),
    term("breathing_fast",
         near(r"breathing|breaths?", r"fast|quick\w*|rapid\w*|hard|heav\w*|"
              r"shallow", 2),
         r"\brapid breathing|\bfast breathing|\bpanting\b"),
    term("wheeze", r"\bwheez\w*"),
    term("cough", r"\bcough\w*"),
)

CARDIO_TERMS: tuple[Term, ...] = CARDIAC + STROKE + BREATHING
