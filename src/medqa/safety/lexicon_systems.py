"""Lay-language patterns for the taxonomy's organ-system and environmental
categories: heat, cold, smoke, water, electricity, venom, burns, eyes,
urology, spine, vessels, early pregnancy and after birth, diabetes and
steroids, swallowed objects, psychosis and penetrating injury.

Why: each category in ``taxonomy.json`` needs at least one rule, and these
emergencies are described by an exposure or context ("pulled him out of the
pool", "she's on chemo", "I'm type 1") plus an ordinary symptom. The
context terms here are weak alone; ``rules.py`` pairs them with the shared
symptom terms (confusion, drowsy, nausea, breathless...).
"""

from __future__ import annotations

from .terms import Term, first_number, near, term


def is_high_sugar(text: str) -> bool:
    """A glucose reading of 15+ mmol/L or 270+ mg/dL, or a worded one ("really high", "meter says hi")."""
    value = first_number(text)
    return value is None or 15 <= value <= 60 or value >= 270


def is_low_sugar(text: str) -> bool:
    """A glucose reading under 4 mmol/L or under 70 mg/dL, or a worded 'low'."""
    value = first_number(text)
    return value is None or value < 4 or 10 <= value < 70


_READING = r"(?:blood )?(?:sugars?|glucose|bm|bgl?|reading|levels?|meter|monitor)"

ENVIRONMENT: tuple[Term, ...] = (
    term("heat_exposure",
         r"\b(?:heat ?wave|heat ?stroke|sun ?stroke|heat exhaustion|hot (?:day|weather|sun|car|room|"
         r"kitchen|afternoon)|in the (?:sun|heat)|sauna|hot yoga|marathon|half marathon|festival|"
         r"(?:working|playing|running|hiking|football|training) (?:\w+ ){0,3}?(?:outside|in the "
         r"(?:sun|heat))|(?:\d\d|forty|thirty) ?(?:degrees|c|f)? (?:outside|heat|today))\b"),
    term("no_sweat", r"\b(?:stopped|not|is not|has stopped) sweating\b|\bskin (?:is |feels )?"
         r"(?:\w+ )?(?:dry and hot|hot and dry|burning hot)"),
    term("cold_exposure",
         r"\b(?:hypotherm\w*|in the (?:snow|cold|freezing)|out (?:in the cold|all night)|outside all "
         r"night|(?:lying|lay|was) on the (?:floor|ground) (?:all night|for hours|overnight)|freezing "
         r"cold|ice cold|icy (?:water|river|lake|sea)|frostbit\w*|frost ?nip|snow ?storm|blizzard|"
         r"fell (?:\w+ ){0,2}?(?:through the ice|in the icy))\b"),
    term("stopped_shivering", r"\b(?:stopped|no longer|not even) shivering\b|\bshivering (?:has )?stopped\b"),
    term("frostbite_severe",
         near(r"fingers?|toes?|nose|ears?|feet|hands?",
              r"black|blackened|waxy|hard|blistered|blisters|white and hard|grey", 3)),
    term("co_source",
         r"\b(?:boiler|gas (?:fire|heater|stove|cooker|leak)|heater|generator|car (?:was )?running|"
         r"exhaust|charcoal|barbecue (?:indoors|inside)|bbq (?:indoors|inside)|flue|chimney|"
         r"paraffin|log burner|wood burner|camping stove|fumes)\b"),
    term("co_alarm",
         r"\b(?:co|carbon monoxide|gas) (?:alarm|detector)|\balarm (?:\w+ )?(?:went|is going|going|"
         r"has gone|keeps going) off|\bcarbon monoxide\b"),
    term("several_ill",
         r"\b(?:we are all|we all|all of us|everyone in (?:the|our) (?:house|flat|home)|the whole "
         r"(?:family|house|household)|both of us|me and (?:my|the) \w+ (?:both|all|have|are)|the "
         r"(?:kids|children) and (?:i|me)|(?:my|the) (?:dog|cat) (?:too|as well|is also))\b"),
    term("fire_smoke",
         r"\b(?:house|kitchen|flat|apartment|building|bedroom|car|chip pan|garage) fire\b|\bfire in "
         r"(?:the|our|my|his|her)\b|\b(?:thick|black|heavy) smoke|\bsmoke (?:inhalation|filled)"
         r"|\b(?:trapped|stuck) (?:\w+ ){0,3}?(?:smoke|fire)|\bbreathed in (?:\w+ ){0,2}?smoke"
         r"|\binhaled (?:\w+ ){0,2}?smoke|\bfirefighters?\b"),
    term("soot",
         r"\bsoot\w*|\bsinged (?:\w+ )?(?:nose|nostril|hair|eyebrows)|\b(?:coughing|spitting) "
         r"(?:up )?(?:black|grey)|\bblack (?:spit|phlegm|mucus|snot)"),
    term("water_incident",
         r"\b(?:nearly|almost|near|half) drown\w*|\bdrown\w*"
         r"|\bpulled (?:\w+ ){0,2}?(?:out of|from) (?:the |a )?(?:water|pool|sea|lake|river|bath|"
         r"canal|pond|surf)|\b(?:went|was|been|stayed) under (?:the )?water|\bunder ?water for"
         r"|\bface down in (?:the |a )?(?:pool|bath|water|pond)|\b(?:swallowed|inhaled|breathed in) "
         r"(?:\w+ ){0,3}?(?:pool|sea|lake|bath|river)? ?water\b|\bfell (?:\w+ ){0,2}?into (?:the |a )?"
         r"(?:pool|pond|river|lake|canal|sea|water)"),
    term("electric_shock",
         r"\belectr\w* shock|\belectrocut\w*|\bshocked by (?:\w+ ){0,2}?(?:socket|wire|cable|plug|"
         r"fence|power|mains|outlet|appliance|kettle|toaster)|\b(?:touched|grabbed) (?:a |the )?"
         r"(?:live|bare|exposed) (?:wire|cable)|\b(?:got|gotten|get) (?:a |an )?(?:\w+ )?shock "
         r"(?:from|off) (?:the |a )?\w+|\bzapped\b"),
    term("high_voltage",
         r"\b(?:struck by|hit by) lightning\b|\blightning (?:\w+ ){0,2}?(?:hit|struck|strike)"
         r"|\bhigh voltage\b|\b(?:power|pylon|overhead|railway|train) (?:line|cable)s?\b"
         r"|\b(?:third|live) rail\b"),
    term("snake_bite",
         r"\bsnake ?bit\w*|\b(?:snake|adder|viper|rattler|rattlesnake|cobra|copperhead|"
         r"cottonmouth|mamba|taipan) (?:\w+ ){0,2}?(?:bit|bitten|bite|struck)"
         r"|\bbitten by (?:a |an )?(?:\w+ )?(?:snake|adder|viper|rattlesnake|rattler|cobra)"),
    term("venomous_sting",
         r"\b(?:black widow|brown recluse|funnel ?web|redback|recluse|scorpion|stonefish|stone fish|"
         r"box jellyfish|irukandji|lionfish|stingray|sting ray|blue ringed octopus|cone snail|"
         r"portuguese man|weever fish|weaver fish)\b"),
    term("burn",
         r"\b(?:burn|burns|burned|burnt|burning (?:him|her|my)self|scald\w*)\b(?! out)",
         unless=r"\b(?:sun ?burn\w*|heart ?burn|razor burn|burning (?:pain|sensation|when|feeling)"
                r"|carpet burn|rope burn)\b"),
    term("burn_serious",
         r"\b(?:whole|entire|most of (?:his|her|my|the)) (?:arm|leg|back|chest|side|body|face|hand)"
         r"|\bbigger than (?:his|her|my|their|a) (?:hand|palm)|\blarge (?:area|patch|burn)"
         r"|\b(?:white|charred|black|leathery|waxy) (?:\w+ )?(?:skin|patch|area|burn)"
         r"|\b(?:looks?|looking|is|gone|went|turned) (?:\w+ )?(?:white|charred|leathery|waxy)\b"
         r"|\bskin (?:\w+ ){0,2}?(?:peel\w* off|came off|melted|is white|looks white|charred)"
         r"|\b(?:does not|doesnt|did not) (?:even )?hurt\b|\bno (?:pain|feeling) (?:in|at) (?:the|it)"
         r"|\bon (?:his|her|my|their|the) (?:face|neck|genitals|groin|private parts)"
         r"|\b(?:acid|bleach|caustic|lye|drain cleaner|oven cleaner|chemical|cement|lime)\b"),
)

ORGANS: tuple[Term, ...] = (
    term("eye_chemical",
         near(r"eyes?", r"bleach|chemicals?|acid|alkali|cement|lime|oven cleaner|drain cleaner|"
              r"ammonia|caustic|detergent|dishwasher tablet|liquitab|pepper spray|battery acid|"
              r"solvent|glue", 5)),
    term("eye_penetrating",
         near(r"eyes?|eyeball",
              r"pierced|stabbed|poked|stuck in|embedded|sticking out|went into|flew into|metal|"
              r"glass|shard|splinter|wire|nail|fish ?hook|dart|pencil|stick|firework|bb|pellet", 4),
         unless=r"\b(?:eyelash|dust|sand|grit|make ?up|mascara|contact lens|speck|hair)\b"),
    term("eye_curtain",
         r"\b(?:curtain|shadow|veil|dark (?:shade|patch)|black (?:shade|curtain)) (?:\w+ ){0,4}?"
         r"(?:coming|came|moving|across|over|down|up|in|from)"
         r"|\b(?:shower|burst|lots|loads|sudden\w*|new) (?:\w+ ){0,2}?(?:of )?(?:new )?floaters"
         r"(?! for)|\bfloaters (?:and|with) (?:\w+ )?flash\w*|\bflash\w* (?:and|with) (?:\w+ )?floaters"),
    term("halos", r"\bhalos?\b|\brainbow (?:rings|circles)|\brings (?:around|round) (?:the )?lights"),
    term("red_eye", near(r"eyes?", r"red|bloodshot|rock hard|hard", 2)),
    term("urinary_retention",
         r"\b(?:can not|could not|unable to|have not been able to|not able to) (?:pee|wee|urinate|"
         r"pass (?:any )?(?:urine|water)|go to the toilet|empty (?:my|his|her) bladder)"
         r"|\b(?:have not|has not|had not) (?:peed|weed|urinated|passed (?:any )?(?:urine|water))"
         r"|\bbladder (?:\w+ )?(?:bursting|about to burst|full|swollen|distended)"),
    term("priapism",
         r"\bpriapism\b|\berection (?:\w+ ){0,4}?(?:will not|wont|does not|has not|not) (?:go|gone|"
         r"going) (?:down|away)|\berection (?:\w+ ){0,2}?(?:for|lasting|over) (?:\d|three|four|five|"
         r"six|several)"),
    term("saddle_numb",
         near(r"numb\w*|no feeling|can not feel|tingl\w*|pins and needles|dead",
              r"bottom|bum|buttocks?|backside|genitals?|groin|private(?: parts?)?|inner thighs?|"
              r"saddle|vagina|penis|anus|between (?:my|his|her) legs|down below", 4)),
    term("bladder_loss",
         r"\b(?:wet|peed|weed|soiled|pooped|messed) (?:my|him|her|them)sel(?:f|ves)\b"
         r"|\b(?:lost|losing|no) control (?:of|over) (?:my |his |her )?(?:bladder|bowels?|pee|wee)"
         r"|\b(?:can not|could not) (?:feel|tell|control) (?:when )?(?:i need to |i am )?"
         r"(?:my )?(?:pee|wee|bladder|bowels?|peeing|pooing)|\bincontinen\w*|\bleaking (?:urine|pee)"),
    term("back_pain", near(r"back|spine|sciatica", r"pain\w*|hurts?|agony|ache\w*|killing|bad", 3),
         r"\bsciatica\b"),
    term("both_legs",
         r"\bboth (?:of )?(?:my |his |her )?(?:legs|feet)\b|\b(?:legs|feet) (?:are |both |keep )?"
         r"(?:going |gone |feel )?(?:weak|numb|giving way|dead|heavy)"),
    term("aneurysm", r"\baneurysm\b|\baaa\b|\baortic\b|\baorta\b"),
    term("shoulder_blades",
         r"\b(?:between|through) (?:my |his |her |the )?shoulder ?blades\b|\bthrough to (?:my|his|"
         r"her|the) back\b|\bgoing (?:into|through) (?:my|his|her|the) back"),
    term("calf_swelling",
         near(r"calf|calves|leg", r"swollen|swelling|tender|red|hot|warm|puffy|bigger|tight", 3)),
    term("clot_risk",
         r"\b(?:after|since) (?:my |his |her |the )?(?:operation|surgery|op|c ?section|hip|knee)"
         r"|\b(?:just|recently) had (?:\w+ ){0,2}?(?:surgery|an operation|a baby|a c ?section)"
         r"|\blong (?:haul )?(?:flight|drive|journey|bus|car) ?(?:ride|trip)?|\bon the pill\b"
         r"|\b(?:contracepti\w*|hrt)\b|\bbed ?(?:bound|rest)|\bdvt\b|\bblood clots?\b|\bplaster cast"
         r"|\bleg (?:in a )?cast\b"),
    term("pleuritic",
         r"\b(?:hurts|pain\w*|stab\w*|sharp) (?:\w+ ){0,3}?(?:when|to|if) (?:i |he |she )?(?:breathe"
         r"|breathing|take a (?:deep )?breath|breath in|inhale)|\bsharp (?:pain|stab\w*) (?:\w+ ){0,4}?"
         r"(?:every|each|with) (?:\w+ )?breath"),
    term("green_vomit",
         r"\bgreen (?:\w+ )?(?:vomit|sick|bile)|\b(?:vomit\w*|throwing up|sick|puk\w*) "
         r"(?:\w+ ){0,3}?(?:green|bile|poo|faeces|feces)\b|\bbilious\b"),
    term("no_stool_wind",
         r"\b(?:have not|has not|had not|not|can not|could not) (?:\w+ )?(?:pooed|pooped|done a poo|"
         r"had a poo|poo|passed (?:any )?(?:wind|gas|stool)|farted|fart|pass (?:wind|gas)|opened "
         r"(?:my|his|her) bowels)|\bno (?:poo|bowel movement|wind|farts?|stool)s? (?:for|since|in)"),
    term("distended",
         near(r"belly|stomach|tummy|abdomen", r"swollen|bloated|distended|huge|tight as a drum|"
              r"blown up|massive", 3)),
)

CONTEXTS: tuple[Term, ...] = (
    term("early_pregnancy",
         r"\b(?:\d|four|five|six|seven|eight|nine|ten|eleven) ?(?:weeks|wks) (?:pregnant|along)"
         r"|\bpositive (?:pregnancy )?test\b|\bmissed (?:my |a |her )?period|\bperiod is (?:\w+ )?late"
         r"|\blate period|\bearly pregnancy|\bjust found out (?:i am|she is) pregnant"),
    term("one_sided_pain",
         r"\b(?:left|right|one) (?:side|sided)\b(?: (?:of )?(?:my |her )?(?:belly|tummy|stomach|"
         r"pelvis|abdomen|groin))?|\blow (?:down )?on (?:the )?(?:left|right)"),
    term("shoulder_tip", r"\bshoulder (?:tip )?(?:pain|ache|hurts)|\bpain (?:in|at) (?:the tip of )?"
         r"(?:my|her|the) shoulder"),
    term("postpartum_context",
         r"\b(?:gave birth|given birth|had (?:my|a|the|our|her) baby|after (?:the |my |her )?"
         r"(?:birth|delivery|c ?section|caesarean|labou?r)|since (?:the |my |her )?(?:birth|delivery"
         r"|c ?section)|postpartum|post ?natal|post ?partum|delivered (?:\w+ ){0,3}?(?:ago|last)"
         r"|(?:c ?section|caesarean) (?:\w+ ){0,3}?ago|new mum|new mom|\d+ (?:days|weeks) after "
         r"(?:giving birth|delivery|birth))\b"),
    term("clots_soaking",
         r"\bclots? (?:\w+ ){0,3}?(?:size of|big as|bigger than|like)|\bsoak\w* (?:\w+ ){0,3}?"
         r"(?:pads?|towels?|sheets?|bed)|\b(?:pad|pads) (?:every|each|an|in an) (?:hour|half hour|1 hour|one hour)|\bgushing\b"),
    term("foul_discharge",
         r"\b(?:smell\w*|foul|offensive|stinking|stinky) (?:\w+ ){0,2}?discharge|\bdischarge "
         r"(?:\w+ ){0,2}?(?:smells|stinks|foul)|\bwound (?:\w+ ){0,3}?(?:pus|oozing|smells)"),
    term("psychosis",
         r"\bhear\w* voices|\bvoices (?:\w+ ){0,3}?(?:tell|telling|told|saying)|\bhallucinat\w*"
         r"|\bseeing things (?:that )?(?:are|were|is) not there|\bparanoi\w*|\bpsychotic\b|\bpsychosis"
         r"|\bmanic\b|\bmania\b|\blost touch with reality|\b(?:thinks|believes|convinced|sure) "
         r"(?:\w+ ){0,4}?(?:poison\w*|spying|watching (?:him|her|me)|following (?:him|her|me)|"
         r"possessed|the devil|controlling|microchip|not (?:my|her|his) (?:real )?baby)"
         r"|\b(?:has not|had not|have not|not) slept (?:\w+ ){0,2}?(?:days|\d+ nights)"),
    term("commanding_voices",
         r"\bvoices (?:\w+ ){0,4}?(?:tell|telling|told|saying|say) (?:\w+ ){0,2}?(?:to )?(?:hurt|"
         r"kill|harm|jump|stab|die|attack|punish|drown|cut)"),
    term("harm_baby",
         r"\b(?:harm\w*|hurt\w*|smother\w*|shak\w*|drown\w*|kill\w*) (?:the|my|her|our) baby\b"
         r"|\bbaby (?:\w+ ){0,3}?better off without (?:me|her)"),
    term("weapon_threat",
         r"\b(?:knife|gun|weapon|axe|machete|hammer) (?:\w+ ){0,4}?(?:threaten\w*|waving|pointing)"
         r"|\bthreaten\w* (?:\w+ ){0,3}?(?:kill|hurt|stab|with a)|\b(?:smashing|smashed|breaking) "
         r"(?:up )?(?:the )?(?:house|things|furniture|windows)"),
    term("diabetes_context",
         r"\bdiabet\w*|\binsulin\b|\btype (?:1|one|2|two)\b|\bt1d?\b|\bmetformin\b|\bgliclazide\b"
         r"|\b(?:blood )?(?:sugars?|glucose) (?:levels?|readings?|monitor|meter)\b|\bhypo\b"
         r"|\b(?:freestyle )?libre\b|\bdexcom\b|\binsulin pump\b"),
    term("low_sugar",
         rf"\b{_READING} (?:\w+ ){{0,3}}?(?:low|crashed|dropped|dropping|\d+(?:\.\d+)?)\b"
         r"|\bhypo(?:glyc\w*|ing|s)?\b|\blow (?:blood )?sugar",
         validator=is_low_sugar),
    term("high_sugar",
         rf"\b{_READING} (?:\w+ ){{0,3}}?(?:high|hi|over|above|through the roof|\d+(?:\.\d+)?)\b"
         r"|\bketo\w*|\bdka\b|\bhigh (?:blood )?(?:sugars?|glucose)",
         validator=is_high_sugar),
    term("fruity_breath",
         r"\b(?:fruity|pear drops?|nail polish|acetone|sweet) (?:\w+ )?(?:smell\w* )?(?:breath|smell)"
         r"|\bbreath (?:\w+ ){0,2}?(?:smells|smelling) (?:\w+ )?(?:fruity|sweet|like pear|like nail)"),
    term("deep_breathing",
         r"\b(?:deep|heavy|big|sighing) (?:\w+ )?(?:breaths|breathing)|\bbreathing (?:\w+ )?(?:deep|"
         r"heavily|really deep|deeply)|\bkussmaul"),
    term("thirst_wee",
         r"\b(?:very|really|so|constantly|always|extremely) thirsty\b|\bdrinking (?:\w+ )?(?:loads|so "
         r"much|constantly|all the time|gallons)|\b(?:weeing|peeing|urinating) (?:\w+ )?(?:loads|a lot|"
         r"constantly|all the time|every)|\bwetting the bed again"),
    term("steroid_dependent",
         r"\baddison\w*|\badrenal (?:insufficiency|crisis|failure)|\bhydrocortisone\b|\b(?:long term|"
         r"daily) (?:\w+ )?steroids?|\bon (?:\w+ ){0,2}?(?:prednisolone|prednisone|steroids|"
         r"dexamethasone)\b|\bsteroid (?:emergency )?card|\bhypopituitar\w*|\bcongenital adrenal"),
    term("very_weak",
         r"\b(?:very|extremely|so|really|too) weak\b|\bcan barely (?:stand|walk|lift)|\btoo weak to"
         r"|\bweak as a kitten|\bcan not get (?:up|out of bed)"),
    term("chemo",
         r"\bchemo\w*|\bimmunotherapy\b|\bneutropeni\w*|\blow (?:white|neutrophil) (?:\w+ )?(?:count|"
         r"cells)|\bon (?:\w+ ){0,2}?(?:cancer|leukaemia|leukemia|lymphoma|myeloma) (?:treatment|"
         r"drugs|tablets)|\b(?:bone marrow|stem cell) transplant|\bimmuno ?(?:suppress\w*|"
         r"compromised)|\bno spleen\b|\bspleen removed\b"),
    term("swallow_hazard",
         r"\b(?:swallowed|ate|eaten|ingested|put in (?:his|her) mouth) (?:\w+ ){0,4}?(?:button|coin|"
         r"watch|lithium|hearing aid|remote|key ?fob|disc) (?:\w+ )?batter(?:y|ies)"
         r"|\bbatter(?:y|ies) (?:\w+ ){0,4}?(?:swallowed|missing|in (?:his|her) (?:mouth|tummy))"
         r"|\b(?:swallowed|ate|eaten) (?:\w+ ){0,3}?magnets?\b|\bmagnets? (?:\w+ ){0,3}?swallowed"
         r"|\bswallowed (?:a |an |some |the )?(?:\w+ )?(?:pin|needle|razor|blade|nail|glass|tack|"
         r"screw|toothpick|fish bone|chicken bone)"),
    term("penetrating_injury",
         r"\bstabbed\b|\bstab wound|\bknife wound|\bbeen shot\b|\bshot (?:in|with|by)\b|\bgunshot"
         r"|\bimpaled\b|\bnail gun\b|\bglassed\b"),
    term("limb_severed",
         r"\b(?:cut|chopped|sliced|severed|ripped|torn|came) (?:\w+ )?off (?:his|her|my|their|the) "
         r"(?:finger|thumb|hand|toe|arm|leg|foot)|\b(?:finger|thumb|toe|hand) (?:\w+ ){0,3}?(?:cut|"
         r"chopped|sliced|severed|ripped|came) (?:clean )?off|\bamputat\w*|\bdegloving"
         r"|\b(?:crushed|trapped|pinned) (?:\w+ ){0,2}?(?:under|by|beneath|between)"),
    term("alcohol_heavy",
         r"\b(?:drank|drunk|downed|had) (?:\w+ ){0,3}?(?:whole|entire|full|half a) bottle"
         r"|\balcohol poisoning|\b(?:too drunk|paralytic|blackout drunk|passed out drunk)"),
)

SYSTEMS_TERMS: tuple[Term, ...] = ENVIRONMENT + ORGANS + CONTEXTS


