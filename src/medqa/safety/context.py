"""Context detectors: negation, history and informational framing.

Why: keyword lists fire on "no chest pain", "my father had a stroke years
ago" and "what are the signs of a stroke?". These three detectors decide,
for each symptom mention, whether it describes something happening now.
They are deliberately scope-limited (a negation cue only reaches a few words
forward inside its clause; history/informational framing is judged per
clause) so that a real current emergency elsewhere in the same message is
never suppressed: "I have crushing chest pain right now, what are the signs
of a heart attack?" keeps its first clause active.
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------- negation
_NEG_CUE = re.compile(
    r"\b(?:no|never|none|without|deny|denies|denied|denying|neither|nor|"
    r"negative for|free of|absence of|ruled out|"
    r"(?:do|does|did|am|is|are|was|were|have|has|had|been) not|"
    r"not (?:any|having|experiencing|got|getting|feeling|really|had|on))\b"
)
# Phrases that contain a cue word but do not negate what follows.
_PSEUDO_NEG = re.compile(
    r"\b(?:no longer|not sure|not certain|no idea|no one|nobody|not only|"
    r"no matter|not just|no doubt|(?:do|does|did) not know|no way|"
    r"not stop|will not stop|does not stop|not go away)\b"
)
# Words that close a negation scope ("no fever, but ...", "no cough, just ...").
_NEG_TERMINATOR = re.compile(
    r"\b(?:but|however|although|though|yet|except|apart from|other than|just|"
    r"only|now|still|instead|because|since|then|whereas|while)\b|[;:]"
    r"|\band (?=(?:i|he|she|they|it|my|his|her|we|our|their|the|is|was|has|"
    r"have|am|are|now|then|today|suddenly)\b)"
)
_NEG_WINDOW_WORDS = 7


def is_negated(sentence: str, start: int) -> bool:
    """True when a negation cue governs the text starting at ``start``."""
    window = sentence[:start]
    cuts = list(_NEG_TERMINATOR.finditer(window))
    if cuts:
        window = window[cuts[-1].end():]
    window = " ".join(window.split()[-_NEG_WINDOW_WORDS:])
    window = _PSEUDO_NEG.sub(" _ ", window)
    return bool(_NEG_CUE.search(window))


# ----------------------------------------------------------------- history
_HISTORY_TIME = re.compile(
    r"\b(?:(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"a few|few|several|many|some) )?(?:years?|months?|decades?) "
    r"(?:ago|back|before)\b"
    r"|(?<!than )\blast (?:year|month|week|summer|winter|spring|autumn|fall|christmas)\b"
    r"|\b(?:\d+|a few|few|two|three|four|several) weeks ago\b"
    r"|\bin (?:19|20)\d\d\b|\bback in\b|\byears back\b"
    r"|\bas a (?:child|kid|teen|teenager|baby|toddler|student)\b"
    r"|\bwhen (?:i|he|she|they|we) (?:was|were) (?:a |an |in |at |younger|"
    r"little|young|small|pregnant with|\d+)"
    r"|\bhistory of\b|\bused to\b|\bin the past\b|\bpreviously\b|\bonce before\b"
    r"|\b(?:a (?:long )?while|long time) ago\b|\bin (?:high school|college|"
    r"university|uni|my teens|my twenties|childhood)\b|\bgrowing up\b"
)
_RESOLVED = re.compile(
    r"\b(?:doing (?:well|fine|great|ok|okay|better|good)"
    r"|(?:is|am|are|was|were|feel|feels|feeling|been) (?:totally |completely )?"
    r"(?:fine|ok|okay|well|recovered|back to normal)(?: now| since)?"
    r"|fully recovered|recovered|in recovery|turned out (?:to be|it was)"
    r"|(?:doctors?|they|tests?|scans?) (?:said|showed|confirmed|found) it was"
    r"|was (?:diagnosed|treated)|after tests)\b"
)
_CURRENT = re.compile(
    r"\b(?:now|right now|currently|today|tonight|this (?:morning|afternoon|"
    r"evening|week)|just|again|since|still|at the moment|started|getting worse)\b"
)


_PAST_VERB = re.compile(r"\b(?:was|were|had|did|went|got|felt|came|took|needed|lasted|happened)\b")


def continues_history(clause: str) -> bool:
    """A past-tense clause with no present marker, following a historical one in the same sentence
    ("I passed a kidney stone last year, it was the worst pain ever")."""
    return bool(_PAST_VERB.search(clause)) and not _CURRENT.search(clause)


def is_historical(clause: str) -> bool:
    """True when a clause describes a past, resolved episode."""
    if _RESOLVED.search(clause):
        return True
    return bool(_HISTORY_TIME.search(clause)) and not _CURRENT.search(clause)


# ----------------------------------------------------- informational framing
_GENERIC_FRAME = re.compile(
    r"\b(?:signs?|symptoms?|warning signs?|red flags?|risk factors?|"
    r"first aid(?: steps)?|difference between|types of|causes of)\b"
    r"|\bwhat (?:should|do|would|can|must) (?:i|you|we|one|someone|people|a "
    r"person|parents) do (?:if|when|in case)\b"
    r"|\bhow (?:do|can|would|will|should|does) (?:i|you|we|one|people|someone|"
    r"a person|parents|doctors) (?:know|tell|recogni[sz]e|spot|identify|check|"
    r"do|help|treat|prevent|perform|give|use|work|respond|stop|avoid|"
    r"reduce|lower|manage)\b"
    r"|\b(?:any )?tips (?:for|on|to)\b|\bhow to (?:prevent|avoid|stop|reduce)\b"
    r"|\bhow (?:do|does|is|are) (?:an? |the )?[\w ]{1,25} (?:work|treated|"
    r"diagnosed|done|given|used)\b"
    r"|\bwhat happens (?:if|when)\b|\bwhat (?:is|are|does|do) (?:an? |the )?\w+"
    r"|\bis it normal (?:for|to)\b|\bwhen should (?:a|an|you|someone|people|"
    r"one|i|we)\b|\bhow (?:long|much|many|often|likely|common)\b"
    r"|\b(?:can|could|does|do|will|would|is|are) (?:an? |the )?[\w]+(?: \w+){0,2} "
    r"(?:cause|causes|lead to|trigger|give you|make you|be a sign)\b"
    r"|\bwhy do (?:people|some people|we|you|kids|babies)\b"
    r"|\bwhich (?:\w+ ){0,3}?(?:are|is|can|could|cause|should)\b"
    r"|\b(?:in general|generally speaking|hypothetical\w*|in theory)\b"
    # what someone knows or was told, not what is happening: "I know fever is the big one"
    r"|\bi (?:know|have read|read|have heard|heard|was told|have been told)\b"
    r"|\b(?:midwife|doctor|gp|nurse|physio|consultant|leaflet|website|nhs|pharmacist) (?:said|says|told|"
    r"mentioned|explained|warned)\b"
    r"|\b(?:could|might|can) (?:it|this|that) be\b|\b(?:is|was) (?:it|this|that) (?:a|an)\b"
    r"|\bif (?:someone|somebody|a person|a child|a baby|you|people|anyone|one)\b"
    r"|\bin case (?:of|someone)\b"
    r"|\b(?:is it|are they|is that|is this) (?:hereditary|genetic|inherited|"
    r"contagious|common)\b"
    r"|\b(?:is|are) (?:\w+ ){1,4}(?:always|usually|ever|normally|generally) "
    r"(?:serious|dangerous|an emergency|bad|fatal)\b"
)
_PURPOSE_FRAME = re.compile(
    r"\b(?:school|class|college|university|uni) (?:project|assignment|essay|"
    r"presentation|report|homework)\b"
    r"|\bfor (?:a|my|our) (?:project|essay|assignment|presentation|class|course|"
    r"exam|quiz|leaflet|article|blog|story|novel|book|script|lesson)\b"
    r"|\bi am (?:writing|making|preparing|creating|designing|studying)\b"
    r"|\b(?:leaflet|pamphlet|flyer)\b"
    r"|\b(?:writing|doing|preparing) (?:a|an|my|her|his|their|our) (?:essay|"
    r"project|assignment|report|presentation|article|paper|talk)\b"
)
_PERSONAL_PRESENT = re.compile(
    r"\b(?:i am|i have|i feel|i keep|i can not|i took|i think|i just"
    r"|my \w+ (?:is|are|has|have|keeps|feels|looks|went|started|just|can not|"
    r"will not)"
    r"|(?:he|she|they) (?:is|are|has|have|keeps|can not|will not|just)"
    r"|my (?:chest|head|heart|arms?|legs?|face|lips|throat|tongue|stomach|"
    r"belly|tummy|skin|neck|back|eyes?|vision|speech|breathing)"
    r"|right now|at the moment|currently|just now|as we speak|as i type)\b"
)


def message_has_purpose_frame(text: str) -> bool:
    """True when the message says it is for a project, leaflet, essay etc."""
    return bool(_PURPOSE_FRAME.search(text))


def is_hypothetical(clause: str, purpose_frame: bool = False) -> bool:
    """True when a clause asks about a condition rather than reporting one.

    A clause that contains first-person / specific-person present-tense
    language ("my lips are", "he is", "right now") is never hypothetical,
    so informational wording cannot mask a real, current report.
    """
    if _PURPOSE_FRAME.search(clause):
        return True
    if _PERSONAL_PRESENT.search(clause):
        return False
    return purpose_frame or bool(_GENERIC_FRAME.search(clause))
