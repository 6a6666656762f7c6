"""Fixed, pre-written safety text: urgent-care messages, disclaimer, prompt.

Why: when a message is triaged as urgent, what the user reads first must not
depend on a small fine-tuned model getting it right. These strings are
written once, reviewed like code, and inserted verbatim by
``policy.apply_policy``. First steps follow widely published first-aid and
emergency-service guidance (e.g. NHS, Red Cross, AHA); they are deliberately
short and always lead with "call your emergency number / go to the
emergency department now".
"""

from __future__ import annotations

EMERGENCY_CALL = (
    "This could be a medical emergency. Call your local emergency number now "
    "(for example 911 in the US and Canada, 112 in the EU, 999 in the UK, "
    "000 in Australia) or go to the nearest emergency department. Do not "
    "wait to see if it gets better, and do not drive yourself if you feel "
    "unwell."
)

CRISIS_LINES = (
    "If you are thinking about suicide or harming yourself or someone else, "
    "please reach out now: call or text 988 in the US, call 116 123 "
    "(Samaritans) in the UK and Ireland, or contact your local crisis line. "
    "If you are in immediate danger, call your local emergency number "
    "(911 / 112 / 999)."
)

_STEPS: dict[str, str] = {
    "cardiac": (
        "These can be signs of a heart attack. Stop and sit or lie down while "
        "you wait for help. If you are not allergic to aspirin and have not "
        "been told to avoid it, the call-handler may advise chewing one "
        "adult aspirin. If the person collapses and is not breathing "
        "normally, start CPR and ask someone to fetch a defibrillator (AED)."
    ),
    "stroke": (
        "These can be signs of a stroke (FAST: Face drooping, Arm weakness, "
        "Speech difficulty, Time to call). Note the time the symptoms "
        "started, or when the person was last seen well - doctors need it "
        "to choose treatment. Do not give food, drink or medicines by mouth."
    ),
    "breathing": (
        "Sit upright and stay as calm as possible. If you have a prescribed "
        "reliever inhaler, use it as instructed while you wait. If someone "
        "is choking and cannot breathe, cough or speak, give back blows and "
        "abdominal thrusts."
    ),
    "anaphylaxis": (
        "This may be a severe allergic reaction (anaphylaxis). If an "
        "adrenaline (epinephrine) auto-injector such as an EpiPen is "
        "prescribed, use it now in the outer thigh, then call emergency "
        "services even if symptoms improve. Lie down with legs raised, or sit "
        "up if breathing is difficult. A second dose can be given after 5 "
        "minutes if there is no improvement."
    ),
    "bleeding": (
        "Press firmly on any wound with a clean cloth or dressing and keep "
        "pressing; if blood soaks through, add more on top rather than "
        "removing it. Raise the injured part if you can. If you are vomiting "
        "or coughing up blood or passing black stools, do not eat or drink."
    ),
    "self_harm": (
        "I'm really sorry you're going through this, and you don't have to "
        "face it alone. " + CRISIS_LINES + " If you have already hurt "
        "yourself or taken anything, call your emergency number now. If you "
        "can, stay with someone you trust and move away from anything you "
        "could use to hurt yourself or others."
    ),
    "poisoning": (
        "Contact emergency services or your poison control centre now (in "
        "the US: Poison Help 1-800-222-1222). Do not try to make the person "
        "vomit unless a professional tells you to. Keep the container, "
        "packet or label and bring it with you. If the person is drowsy, "
        "unresponsive or struggling to breathe, call your emergency number "
        "immediately. If this was intentional, crisis support is also "
        "available: call or text 988 (US) or 116 123 (UK and Ireland)."
    ),
    "infant": (
        "Babies and young children can become seriously ill very quickly, and "
        "a fever in a baby under 3 months always needs urgent medical "
        "assessment. If a child is choking, give back blows and chest thrusts "
        "(infant under 1) or abdominal thrusts (older child). If the child "
        "is not breathing, start CPR while someone calls for help."
    ),
    "pregnancy": (
        "Call emergency services or go to your hospital's maternity or "
        "labour unit now - do not wait for your next appointment. Bring your "
        "maternity notes if you have them. If you are bleeding heavily, lie "
        "down on your left side while you wait."
    ),
    "sepsis": (
        "These can be signs of sepsis or meningitis, which can get worse "
        "within hours. Tell the call-handler or emergency staff that you are "
        "worried about sepsis or meningitis."
    ),
    "head_injury": (
        "After a head injury, symptoms like these need an urgent scan or "
        "assessment. Do not drive. Keep the person still and make sure "
        "someone stays with them. Tell the emergency team about any blood "
        "thinners."
    ),
    "trauma": (
        "This may be a serious injury. Do not move the person unless they "
        "are in danger - if a neck or back injury is possible, keep the head "
        "and neck still until help arrives. Press on any bleeding wound and "
        "cover exposed bone with a clean dressing."
    ),
    "seizure": (
        "Move dangerous objects away and cushion the person's head; do not "
        "hold them down or put anything in their mouth. Time the seizure. "
        "When it stops, roll them onto their side (recovery position). Call "
        "your emergency number if it lasts more than 5 minutes, it is a first "
        "seizure, they are injured, or they do not wake up."
    ),
    "unconscious": (
        "Check whether the person is breathing. If they are not breathing "
        "normally, start CPR (push hard and fast in the centre of the chest) "
        "and send someone for a defibrillator (AED). If they are breathing, "
        "put them on their side in the recovery position and stay with them."
    ),
    "severe_pain": (
        "Sudden or severe pain like this needs urgent assessment. Do not eat "
        "or drink until you have been seen, in case you need treatment or "
        "surgery."
    ),
}


def _build_messages() -> dict[str, str]:
    messages = {}
    for category, steps in _STEPS.items():
        if category == "self_harm":
            messages[category] = steps
        else:
            messages[category] = f"{EMERGENCY_CALL} {steps}"
    return messages


URGENT_MESSAGES: dict[str, str] = _build_messages()

DISCLAIMER = (
    "This information is for general education only and is not a substitute "
    "for advice, diagnosis or treatment from a qualified clinician."
)

REFERRAL_SENTENCE = (
    "Please discuss your symptoms with a doctor or another qualified "
    "healthcare professional, who can examine you and give advice specific "
    "to you."
)

# Kept short on purpose: it precedes every training row and every prompt, and a small model learns the
# structure from the answers themselves. Longer policies cost tokens without changing what a 270M model does.
DEFAULT_SYSTEM_PROMPT = (
    "You are a careful medical information assistant, not a doctor, and you never replace one. "
    "If there are emergency warning signs, first tell the user to call their local emergency number or go "
    "to emergency care now. Then explain the likely causes without a definitive diagnosis, what to do now, "
    "what a doctor may check, and when to seek care. Be cautious and recommend evaluation by a clinician."
)
