"""Lay-language patterns for mental-health crisis and poisoning/overdose.

Why: these messages are the most indirect ("I don't want to be here
anymore", "I've got the pills lined up", "she got into grandma's pill box")
and a miss is the most costly. Suicidal-ideation, self-harm and lethality
phrasings are marked ``immune``: an informational or rhetorical question
form ("what's the point of living?") never hides them. Bare nouns such as
"suicide" or "overdose" stay subject to context checks so that "the
suicide hotline number for a school project" is not escalated.
"""

from __future__ import annotations

from .terms import NUM, Term, is_overdose_count, near, term

_THEM = r"(?:himself|herself|themselves|themself)"
_MEDS = (r"(?:pills?|tablets?|meds|medications?|medicines?|capsules?|caps|"
         r"paracetamol|acetaminophen|tylenol|panadol|ibuprofen|aspirin|"
         r"painkillers|sleeping pills|antidepressants|insulin|co codamol|"
         r"codeine|tramadol|oxycodone|morphine|diazepam|valium|zopiclone|"
         r"sertraline|citalopram|fluoxetine|amitriptyline|quetiapine|lithium|"
         r"propranolol|metformin|opioids|benzos?|xanax|iron tablets)")
_CHEMICALS = (r"(?:bleach|detergent|dishwasher|laundry|washing (?:up )?liquid|"
              r"(?:liquid )?(?:pods?|capsules|tabs)|cleaner|cleaning (?:product|"
              r"fluid|spray)s?|chemicals?|poison|poisonous|antifreeze|"
              r"pesticide|weed ?killer|rat poison|slug pellets|(?:button |coin )"
              r"?batter(?:y|ies)|magnets?|vape|e liquid|nicotine|lamp oil|"
              r"paraffin|kerosene|petrol|gasoline|essential oils?|drain "
              r"(?:cleaner|unblocker)|oven cleaner|toilet (?:cleaner|duck)|"
              r"white spirit|methanol|caustic)")
_END = r"end(?:ing)? (?:it|it all|my life|things|everything)"

SELF_HARM: tuple[Term, ...] = (
    term("suicidal_ideation",
         r"\b(?:want|wanted|going|plan\w*|thinking (?:about|of)|thought "
         r"(?:about|of)|ready|tempted|decided|urge) (?:to )?(?:kill\w* "
         rf"(?:myself|my self)|{_END}|die\b|take my (?:own )?life|commit\w* "
         r"suicide|not (?:be )?(?:here|alive))",
         r"\bkill(?:ing)? (?:myself|my self)\b"
         r"|\bend(?:ing)? (?:it all|everything|my (?:own )?life)\b",
         r"\b(?:finally|just|going to|gonna) end (?:it|things|everything)\b",
         r"\b(?:nobody|no one|noone|none of them) (?:would|will) (?:even )?"
         r"(?:miss|care about|notice|care if) (?:me|i)\b"
         r"|\bif i (?:was|were) (?:gone|dead|not here|not around)\b"
         r"|\b(?:i am|i feel like|feel like) (?:such |just )?a burden\b",
         r"\b(?:do not|never|not) (?:want|wanting|wish) to (?:be here|be alive|"
         r"live|exist|wake up|go on|carry on)",
         r"\b(?:go to sleep|sleep|fall asleep) and (?:not|never) wake up",
         r"\b(?:better off|be better) without me\b",
         r"\b(?:no|what is the|there is no) (?:point|reason) (?:in |of |to |for "
         r"me to |for me in )?(?:living|going on|being alive|life|carrying on|"
         r"existing|being here|stick around|sticking around|stay|staying|be "
         r"here|live|keep going)",
         r"\b(?:i am|i feel|feeling|been|getting|im) (?:really |very |quite )?"
         r"suicidal|\bsuicidal (?:thoughts|feelings|urges)",
         r"\bwish i (?:was|were) dead|\bwish i (?:could )?(?:die|disappear)"
         r"|\bwish i had never been born",
         near(r"pills|tablets|meds|medication|rope|gun|razors?|blades?",
              r"lined up|ready|counted out|saved up|saving up|stockpil\w*|"
              r"hoard\w*|collected|set aside", 3),
         r"\b(?:wrote|written|writing|left) (?:\w+ ){0,2}?(?:suicide |goodbye )?"
         r"(?:notes?|letters?) (?:to|for) (?:my|everyone|all)",
         r"\b(?:wrote|written|writing|left) (?:a |my )?(?:suicide|goodbye) "
         r"(?:notes?|letters?)",
         r"\bcan not (?:go on|do this|keep going) (?:any ?more|living)",
         r"\b(?:can not|do not|not) see (?:a|any|the) (?:way (?:forward|out)|"
         r"future|point)|\bno way out\b",
         r"\b(?:going|plan\w*|decided|want|ready) to (?:take|swallow) (?:all|"
         r"every one|the lot|everything) (?:of )?(?:my |the |these )?\w*",
         r"\b(?:thinking (?:about|of)|thoughts (?:about|of)|want to|going to|"
         r"plan\w* to|urge to) (?:\w+ )?(?:jump\w* (?:off|from|in front of)|"
         r"hang\w* (?:myself|my self)|drown\w* (?:myself|my self)|step\w* in "
         r"front of|throw\w* (?:myself|my self)|overdos\w*|slit\w*|gas\w* "
         r"(?:myself|my self))",
         r"\b(?:going|plan\w*|decided) to do it (?:tonight|today|tomorrow|"
         r"this weekend|soon|now)|\btonight is the night\b",
         r"\b(?:disappear\w*|vanish\w*|be gone|go away|sleep) (?:for good|"
         r"forever|permanently)",
         r"\b(?:everyone|everybody|they|people|my family|the world) would be "
         r"(?:\w+ )?(?:happier|better|better off|relieved) (?:if i|without me)",
         r"\b(?:know|decided|worked out|picked|chosen|planned) (?:where|how|"
         r"when) (?:i am going to|i will|i would|to|i am gonna) (?:do it|end "
         r"it|kill myself)",
         r"\b(?:would|had|d) rather be dead|\bbetter off dead|\bwant to be "
         r"dead|\bwant (?:it all|everything) to (?:end|stop)\b"
         r"|\bwant it to (?:end|stop) (?:for good|forever)",
         r"\b(?:wants|going|threaten\w*|talking about|talks about|said) (?:to )?"
         rf"(?:kill|hurt|harm|end) {_THEM}|\b(?:end|ending) (?:his|her|their) "
         r"life",
         immune=True),
    term("self_harm_act",
         r"\b(?:cutting|burning|harming|harmed|harm|scratching|hitting|"
         r"starving|punish\w*|hurting) (?:myself|my self)\b",
         r"\b(?:cut|burnt|burned|hurt|hit) (?:myself|my self) (?:on purpose|"
         r"deliberately|again|to cope|to feel|so i)",
         r"\b(?:cut|cutting|slit|slashed) (?:my|his|her) wrists?",
         immune=True),
    term("harm_others",
         r"\bi (?:\w+ ){0,4}?(?:want|going|thinking about|thinking of|urges?|"
         r"planning|plan|could|might|will|feel like) (?:to )?(?:really )?"
         r"(?:hurt|kill|harm|stab|attack|strangle|shoot)\w* (?:someone|"
         r"somebody|people|him|her|them|my \w+|a \w+|the \w+)",
         r"\bvoices? (?:\w+ ){0,4}?(?:telling|tell|told|tells|ordering|want) "
         r"(?:me )?to (?:hurt|kill|harm|stab|attack|jump|die|end)",
         immune=True),
    term("lethality_question",
         r"\bhow (?:many|much) (?:\w+ ){0,4}?(?:would|will|does|do|to|it) "
         r"(?:\w+ ){0,3}?(?:die|kill (?:myself|me|a person|someone|you)|"
         r"be fatal|be lethal|end it)",
         r"\b(?:lethal|fatal|deadly) (?:dose|amount|overdose)",
         r"\b(?:painless\w*|best|easiest|quickest|surest) way to (?:die|kill "
         r"myself|end it|end my life)",
         immune=True),
    term("suicide_word", r"\bsuicid\w*|\bself harm\w*"),
)

POISONING: tuple[Term, ...] = (
    term("overdose_amount",
         r"\b(?:took|taken|take|swallowed|ate|have had|had|downed|necked) "
         r"(?:\w+ ){0,2}?(?:whole|entire|full) (?:bottle|packet|pack|box|strip|"
         r"blister|tub|jar|months supply)",
         r"\b(?:took|taken|swallowed|ate|downed|had) (?:all|half) (?:of )?"
         rf"(?:my|his|her|the|their|\w+s) (?:\w+ )?{_MEDS}"),
    term("overdose_count",
         r"\b(?:took|taken|swallowed|ate|downed|had|necked) (?:about |around |"
         r"like |over |maybe |nearly |almost |at least )?(?:" + NUM +
         r"|a handful of|handfuls of|loads of|a load of|lots of|a lot of|too "
         r"many|a bunch of|heaps of|a pile of|a fistful of|most of|a whole lot"
         rf" of) (?:of )?(?:my |his |her |the |\w+ )?{_MEDS}",
         r"\b(?:took|taken|swallowed|downed|necked) (?:about |around |over |"
         rf"maybe |nearly |almost |at least )?{NUM} of (?:my|his|her|their|the) "
         r"\w+",
         validator=is_overdose_count),
    term("empty_packets",
         near(r"empty|emptied|half empty",
              r"bottles?|packets?|packs?|blisters?|boxes|pill|pills|tablets|"
              r"medicine|strips?", 3)),
    term("overdose_word", r"\boverdos\w*|\bod ?d\b|\bod on\b"),
    term("double_dose",
         r"\b(?:double|doubled|twice) (?:my|his|her|the|their|a)\b(?! (?:day|week|month|year|night)\b)"
         r"|\b(?:two|extra|second) doses?\b"
         rf"|\btoo (?:much|many) (?:of )?(?:my |his |her |the )?{_MEDS}"
         r"|\bwrong (?:medications?|medicines?|pills|tablets|meds)\b"
         r"|\bsomeone elses (?:pills|tablets|medication|meds)\b"),
    term("chemical_ingest",
         r"\b(?:swallowed|swallow|swallows|ate|eaten|eating|drank|drunk|"
         r"drinking|drink|got into|chewed|chewing|bit into|licked|sucked on|"
         rf"took|taken|put)\b (?:\S+ ){{0,6}}?{_CHEMICALS}",
         rf"\b{_CHEMICALS} (?:in|into) (?:my|his|her|their|the) (?:eyes?|mouth)"),
    term("med_ingest",
         r"\b(?:swallowed|swallow|swallows|ate|eaten|eating|drank|drunk|got "
         r"into|got hold of|got at|chewed|chewing|licked|sucked on|found with|"
         r"helped (?:himself|herself|themselves) to)\b "
         rf"(?:\S+ ){{0,6}}?(?:{_MEDS}|pill ?box|medicine cabinet|vitamins|"
         r"iron|alcohol|vodka|gin|wine|cannabis|edibles|gummies|mushrooms?|"
         r"berries|cigarettes?)"),
    term("gas_exposure",
         r"\bcarbon monoxide\b|\bco (?:alarm|detector)\b|\b(?:gas|fumes|"
         r"smoke) (?:leak|inhal\w*|poison\w*)|\b(?:inhaled|breathed in) "
         r"(?:\w+ ){0,2}(?:fumes|gas|smoke|chemicals)"),
    term("alarm_or_symptoms",
         r"\balarm (?:went|is going|has gone|going) off\b|\bheadaches?\b"
         r"|\bdrowsy\b|\bwhole (?:family|house)\b"),
    term("poisoned_named",
         r"\b(?:been|was|got|am|is|were) poisoned\b"),
)

CRISIS_TERMS: tuple[Term, ...] = SELF_HARM + POISONING
