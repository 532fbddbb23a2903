"""The words :mod:`rag.followup` reads a follow-up question by: pointing words,
verbs that need an object, organisation and place words, opposites, dates, the
shapes of bare and who-said questions, and the names a text gives.

General English and world geography, not fitted to any corpus or question set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .bridge import names as capitalised_names
from .hints import outlet_mentions

WH = frozenset("who whom whose what which when where why how".split())
AUX = frozenset("is are was were be been do does did has have had will would can could "
                 "should may might must shall".split())
CONNECTIVE = re.compile(r"^(?:(?:and|but|so|also|ok|okay|well|then|now|or|plus)\b[,]?\s+)+",
                         re.IGNORECASE)
PERSON_PRONOUNS = frozenset("he she him his her hers himself herself".split())
THING_PRONOUNS = frozenset("it its they them their theirs itself themselves".split())
DEMONSTRATIVES = frozenset("that this these those".split())
#: Words that point back at the previous turn wherever they stand.
POINTING = frozenset("else there then afterwards afterward".split())
#: Words that point back when they end the question ("What happened next?").
POINTING_LAST = frozenset("next later after before earlier instead too also again".split())
#: Verbs that need what they are about, when nothing follows them.
BARE_VERBS = frozenset(
    "react reacted reacting respond responded responding reply replied comment commented "
    "say said think thought feel felt answer answered mean meant decide decided happen "
    "happened happens".split())
SAY_VERBS = frozenset("said say says stated claimed told wrote commented remarked quoted "
                       "made gave did".split())
#: Capitalised words that make a name an organisation, not a person.
ORG_WORDS = frozenset(
    "affairs agency administration association bank board bureau center centre commission "
    "committee company corp corporation council court department embassy foundation fund "
    "government group inc institute institution ltd ministry news office organization "
    "organisation party police post press service society times union university daily "
    "journal congress parliament senate army navy force forces league club team".split())
COUNTRIES = (
    "afghanistan albania algeria argentina armenia australia austria azerbaijan bahrain "
    "bangladesh belarus belgium bolivia bosnia brazil britain bulgaria cambodia cameroon "
    "canada chile china colombia congo croatia cuba cyprus czechia denmark ecuador egypt "
    "england estonia ethiopia finland france georgia germany ghana greece guatemala haiti "
    "hungary iceland india indonesia iran iraq ireland israel italy japan jordan kazakhstan "
    "kenya korea kosovo kuwait laos latvia lebanon libya lithuania malaysia mali mexico "
    "moldova mongolia morocco myanmar nepal netherlands nigeria norway oman pakistan "
    "palestine panama peru philippines poland portugal qatar romania russia rwanda scotland "
    "senegal serbia singapore slovakia somalia spain sudan sweden switzerland syria taiwan "
    "tanzania thailand tunisia turkey uganda ukraine uruguay uzbekistan venezuela vietnam "
    "wales yemen zambia zimbabwe america europe asia africa"
).split()
DEMONYMS = (
    "afghan albanian algerian argentine armenian australian austrian bangladeshi belgian "
    "brazilian british bulgarian cambodian canadian chilean chinese colombian cuban czech "
    "danish dutch egyptian english estonian ethiopian european finnish french georgian "
    "german greek hungarian indian indonesian iranian iraqi irish israeli italian japanese "
    "jordanian kenyan korean kuwaiti lebanese libyan malaysian mexican mongolian moroccan "
    "nigerian norwegian pakistani palestinian peruvian philippine polish portuguese qatari "
    "romanian russian saudi scottish serbian singaporean spanish swedish swiss syrian "
    "taiwanese thai tunisian turkish ugandan ukrainian venezuelan vietnamese welsh yemeni "
    "american african asian"
).split()
#: Nouns for people: "Which analyst said …?" asks for a person, and "he" after
#: "the spokesman" has that to refer to.
PERSON_NOUNS = frozenset(
    "analyst analysts official officials spokesman spokeswoman spokesperson minister leader "
    "leaders expert experts president premier chancellor secretary ambassador diplomat envoy "
    "ceo founder chairman chairwoman chair executive director manager coach player players "
    "author writer reporter journalist professor fellow researcher scientist economist lawyer "
    "judge attorney senator governor mayor king queen prince commander officer soldier actor "
    "actress singer star person man woman boy girl fan fans critic critics owner boss".split())
CITIES = (
    "beijing shanghai pyongyang seoul tokyo moscow washington london paris berlin rome "
    "madrid kyiv kiev delhi mumbai tehran baghdad kabul cairo jerusalem gaza ankara istanbul "
    "brussels geneva vienna warsaw hanoi bangkok manila jakarta sydney ottawa toronto "
    "york chicago boston dubai riyadh doha taipei singapore"
).split()
PLACE_WORDS = frozenset((*COUNTRIES, *DEMONYMS, *CITIES, "north", "south", "east",
                          "west", "u.s", "us", "uk", "eu", "un", "united", "states",
                          "kingdom", "gulf", "peninsula", "sea", "island", "islands"))
#: The demonym of a country, where it is not the country's name plus -n.
DEMONYM_OF = {
    "china": "Chinese", "japan": "Japanese", "russia": "Russian", "korea": "Korean",
    "france": "French", "germany": "German", "britain": "British", "india": "Indian",
    "ukraine": "Ukrainian", "vietnam": "Vietnamese", "taiwan": "Taiwanese",
    "america": "American", "iran": "Iranian", "israel": "Israeli", "turkey": "Turkish",
}
DEMONYM_SET = frozenset(DEMONYMS)
#: Words with an opposite that a follow-up asks about instead ("What about imports?").
OPPOSITES = dict(pair for a, b in (
    ("exports", "imports"), ("export", "import"), ("exported", "imported"),
    ("rise", "fall"), ("rose", "fell"), ("increase", "decrease"), ("increased", "decreased"),
    ("buy", "sell"), ("bought", "sold"), ("buyers", "sellers"), ("profit", "loss"),
    ("profits", "losses"), ("win", "lose"), ("won", "lost"), ("before", "after"),
    ("first", "last"), ("highest", "lowest"), ("largest", "smallest"), ("biggest", "smallest"),
    ("most", "least"), ("more", "less"), ("up", "down"), ("north", "south"),
    ("east", "west"), ("open", "close"), ("opened", "closed"), ("start", "end"),
    ("started", "ended"), ("arrive", "leave"), ("arrived", "left"), ("supporters", "critics"),
) for pair in ((a, b), (b, a)))

MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
YEAR = r"(?:19|20)\d\d"
WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
DATE_CORE = (
    rf"(?:{MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+{YEAR})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH}(?:,?\s+{YEAR})?"
    rf"|{YEAR}-\d\d-\d\d"
    rf"|(?:early\s+|late\s+|mid-?)?{MONTH}(?:\s+{YEAR})?"
    rf"|(?:the\s+)?(?:first|second|third|fourth)\s+quarter(?:\s+of\s+{YEAR})?"
    rf"|(?:the\s+)?{YEAR}s?"
    rf"|(?:last|this|next|the\s+previous|the\s+following)\s+(?:year|month|week|quarter)"
    rf"|yesterday|today|tomorrow|{WEEKDAY})"
)
DATE_PREP = r"(?:in|on|during|since|by|from|until|before|after|of|for|through)"
DATE = re.compile(rf"\b(?:(?P<prep>{DATE_PREP})\s+)?(?P<date>{DATE_CORE})(?![\w-])",
                   re.IGNORECASE)
RELATIVE_DATE = re.compile(r"^(?:last|this|next|the|yesterday|today|tomorrow)\b", re.I)


def dates(text: str) -> list[re.Match[str]]:
    """Date phrases of ``text`` ("in September", "2023", "on May 4"); a lower-case
    "may" is the verb, not the month."""
    return [m for m in DATE.finditer(text)
            if not (m.group("date").lower().startswith("may") and m.group("date")[0] == "m")
            and not (m.group("date").lower() in ("march", "mar") and m.group("date")[0] == "m")]


def date_prep(date: str) -> str:
    if RELATIVE_DATE.match(date):
        return ""
    return "on" if re.search(r"\d{1,2}(?:st|nd|rd|th)?\b(?!\d)|day\b", date.split()[0] + " "
                             + date, re.I) and not re.fullmatch(rf"(?:the\s+)?{YEAR}s?",
                                                                date, re.I) else "in"


WH_LEAD = re.compile(
    r"^(?:(?:by|in|on|at|to|from|for|with|since|during|of)\s+)?"
    r"(?P<wh>who|whom|whose|what|which|when|where|why|how)\b"
    r"(?:\s+(?P<how>much|many|long|often|far|old|big|large|high|soon|come))?", re.IGNORECASE)
#: A bare wh-question: "Why?", "When was that?", "Where did it happen?", "How come?".
BARE_WH = re.compile(
    r"^(?P<wh>(?:by\s+)?how(?:\s+(?:much|many|long|often|far|soon|come|so))?|why(?:\s+not)?|"
    r"when|where|since\s+when|(?:in\s+)?(?:what|which)\s+(?:year|month|day|date|city|country|"
    r"place))(?:\s+exactly)?"
    r"(?:\s+(?:was|is|were|are|did|does|do|has|had|will|would))?"
    r"(?:\s+(?:that|this|it|they|he|she|them))?"
    r"(?:\s+(?:happen|happened|occur|occurred|take\s+place|took\s+place|start|started|begin|"
    r"began|end|ended|be|so|come\s+about))?(?:\s+(?:exactly|then|again))?$", re.IGNORECASE)
WHO_SAID = re.compile(
    r"^(?:(?:who|whom)\b.*\b(?:" + "|".join(sorted(SAY_VERBS)) + r")\b"
    r"|says\s+who|according\s+to\s+whom|whose\s+(?:words|quote|statement|claim|comment|"
    r"remark|view|assessment)|who\s+(?:is|was)\s+(?:quoted|speaking|talking))", re.IGNORECASE)
VERB_LIKE = re.compile(r"^(?:\w+ed|is|are|was|were|has|have|had|went|met|led|said|made|took|"
                        r"gave|rose|fell|came|left|saw|told|sent|sold|bought|held|won|lost|"
                        r"became|began|visited|arrived)$", re.IGNORECASE)


def name_kind(name: str) -> str:
    """"place", "org" or "person" for a capitalised name, by its words."""
    written = [w.strip(".") for w in re.split(r"[\s-]+", name)]
    parts = [w.lower() for w in written]
    if any(p in ORG_WORDS for p in parts) or (name.isupper() and len(name) > 1
                                              and parts[0] not in PLACE_WORDS):
        return "org"  # an acronym (KCNA, AI) is no person
    # "US", "UK", "UN" are places only as acronyms: "Un" in "Kim Jong Un" is not.
    if any(p in PLACE_WORDS and (len(p) > 3 or w.isupper()) for p, w in zip(parts, written,
                                                                          strict=True)):
        return "place"
    return "person"


def demonym(name: str) -> str | None:
    """"Russian" for "Russia", "North Korean" for "North Korea"; None if unknown."""
    head, _, last = name.rpartition(" ")
    form = DEMONYM_OF.get(last.lower())
    if form is None and (last.lower() + "n") in DEMONYM_SET:
        form = last + "n"
    return f"{head} {form}".strip() if form else None


def names_in(text: str, outlets: Sequence[str]) -> list[str]:
    """Capitalised names of ``text`` in order, once each, outlet names left out."""
    taken = [(s, e) for s, e, _ in outlet_mentions(text, list(outlets))]
    found: list[str] = []
    for name in [part for run in capitalised_names(text) for part in _split_place(run)]:
        at = text.find(name)
        if any(s <= at < e for s, e in taken) or name in found:
            continue
        if name.lower() in ("i", "who", "what"):
            continue
        found.append(name)
    return found


def speakers_first(names: list[str], quote: str) -> list[str]:
    """``names`` with those the quote attributes words to ("…, said Duyeon Kim")
    first: a quote's speaker is who a who-question asked for."""
    def speaks(name: str) -> bool:
        n = re.escape(name)
        return bool(re.search(rf"\b(?:said|says|told|according to)\s+(?:[\w.-]+\s+){{0,4}}?{n}"
                              rf"|{n}\s+(?:said|says|told|added|wrote)\b", quote))
    return sorted(names, key=lambda n: not speaks(n))


def _split_place(run: str) -> list[str]:
    """A run of capitalised words split after a leading place: "North Korea Wang
    Yajun" (from "Ambassador to North Korea Wang Yajun") is a place and a person."""
    words = run.split()
    lead = 0
    while lead < len(words) and name_kind(re.sub(r"['’]s$", "", words[lead])) == "place":
        lead += 1
    rest = " ".join(words[lead:])
    if 0 < lead < len(words) - 1 and name_kind(rest) == "person":
        return [" ".join(words[:lead]), rest]
    return [run]
