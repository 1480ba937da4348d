"""What a teacher's free text obviously means: «забыла пароль», «не приходит смс», «позовите…».

A small keyword matcher, not a language model. Each intent is a few *patterns*; a pattern is a set
of concepts (word stems) that must all appear in the text, each in a different word, in any order.
Words are compared with the stems by Levenshtein distance on the word's prefix (rapidfuzz), so
endings («забыла», «забыли») and typos («пороль», «забвла») still match, while short words must
match exactly. Texts of a few words also get a whole-phrase fuzzy comparison, which catches words
run together («забылапароль»).

Ordinary answers (a phone number, a date, a code, a name, «да», «нет») never match: texts made of
digits are rejected up front, and every pattern needs words no such answer contains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein


class Intent(StrEnum):
    WANTS_HUMAN = "wants_human"
    FORGOT_PASSWORD = "forgot_password"
    CODE_NOT_ARRIVING = "code_not_arriving"
    WRONG_NUMBER = "wrong_number"
    VPN = "vpn"
    EXISTING_PROFILE = "existing_profile"
    BROWSER = "browser"
    RESTART = "restart"
    HELP = "help"


# The one "too long" limit: longer messages are letters to a person, not answers or commands —
# every window answers «слишком длинное», the fallback too, and the matcher does not read them.
MAX_TEXT_LENGTH = 300
_PHRASE_MAX_WORDS = 4
_PHRASE_MIN_SCORE = 88.0

_WORD = re.compile(r"[a-zа-я0-9]+")


@dataclass(frozen=True)
class _Pattern:
    concepts: tuple[frozenset[str], ...]
    max_words: int | None = None  # single weak words count only in short messages


def _concept(*stems: str) -> frozenset[str]:
    """Word stems; a trailing `$` means the whole word must be the stem (no ending)."""
    return frozenset(stems)


# --- vocabulary -----------------------------------------------------------------------------
_NOT = _concept(
    "не$", "нет$", "нету$", "ни$", "no$", "not$", "dont$", "didnt$", "doesnt$", "havent$",
    "hasnt$", "cant$", "cannot$", "never$", "isnt$", "wont$",
)  # fmt: skip
_PASSWORD = _concept("парол", "password", "pwd$")
_FORGET = _concept("забы", "забыла", "забыли", "позабы", "forgot", "forget", "lost")
_REMEMBER = _concept("помн", "вспомн", "remember", "recall")
_RECOVER = _concept(
    "восстанов", "сброс", "сбить", "поменя", "смени", "сменя", "reset", "recover", "restore",
    "change",
)  # fmt: skip
_WRONG = _concept("неправил", "неверн", "ошиб", "wrong", "incorrect", "invalid")
_SET = _concept("установ", "задава", "задал", "задан", "созда", "set$")
_CODE = _concept(
    "код", "смс", "sms", "смск", "эсэмэс", "сообщени", "звон", "code", "call", "text$", "texts$",
    "message", "otp$",
)  # fmt: skip
_ARRIVE = _concept(
    "приход", "пришл", "пришел", "поступ", "доход", "дошл", "дошел", "получ", "присыла",
    "прислал", "звонят", "звонит", "arriv", "receiv", "get$", "got$", "getting", "come$", "came$",
    "coming",
)  # fmt: skip
_NUMBER = _concept("номер", "телефон", "number", "phone")
_MISTAKE = _concept("ошиб", "опечат", "неправил", "неверн", "wrong", "mistake", "typo", "incorrect")
_CHANGE = _concept(
    "измен", "смени", "сменя", "поменя", "друго", "другим", "нов", "change", "another", "different",
    "new$",
)  # fmt: skip
_THAT = _concept("тот$", "та$", "тем$", "той$")
_VPN = _concept("vpn", "впн", "вепеэн", "випиэн", "прокси$", "proxy$")
_HUMAN = _concept(
    "оператор", "специалист", "консультант", "поддержк", "техподдерж", "живо", "человек",
    "сотрудник", "менеджер", "operator", "human", "person$", "people$", "specialist", "agent",
    "support", "someone", "somebody",
)  # fmt: skip
_CALL_FOR = _concept(
    "позов", "позва", "зови", "свяж", "связа", "соедин", "нуж", "хочу", "дайте", "talk", "speak",
    "connect", "need", "want", "call$", "get$", "contact",
)  # fmt: skip
_ALREADY = _concept("уже$", "already", "существ", "exist")
_HAVE = _concept("есть$", "have$", "has$", "имеет", "registered", "зарегистр")
_PROFILE = _concept("профил", "аккаунт", "учетн", "profile", "account")
_BROWSER = _concept(
    "браузер", "browser", "хром", "chrome", "яндекс", "yandex", "сафари", "safari", "firefox",
    "edge$",
)  # fmt: skip
_START = _concept("начат", "начни", "начне", "start", "begin", "go$", "пройти", "пройд")
_AGAIN = _concept("заново", "сначала", "снова", "again", "over$", "beginning", "scratch")
_RESTART = _concept("restart", "рестарт", "перезапус", "startover", "заново", "сначала")
_HELP = _concept("помог", "помощ", "help", "stuck", "застрял")
_FAIL = _concept("получа", "выход", "работа", "понима", "work", "understand")
_KNOW = _concept("зна", "понима", "know", "understand", "sure$")
_DO = _concept("делат", "сделат", "дальше", "do$", "next$")
_WHAT = _concept("что$", "чего$", "what$")
_CONFUSED = _concept("запута", "растерял", "confus", "lost$")


def _p(*concepts: frozenset[str], max_words: int | None = None) -> _Pattern:
    return _Pattern(concepts, max_words)


# Order is priority: a teacher who asks for a person gets one even if she also names the problem.
_PATTERNS: tuple[tuple[Intent, tuple[_Pattern, ...]], ...] = (
    (Intent.WANTS_HUMAN, (_p(_CALL_FOR, _HUMAN), _p(_HUMAN, max_words=3))),
    (
        Intent.FORGOT_PASSWORD,
        (
            _p(_FORGET, _PASSWORD),
            _p(_NOT, _REMEMBER, _PASSWORD),
            _p(_RECOVER, _PASSWORD),
            _p(_WRONG, _PASSWORD),
            _p(_NOT, _SET, _PASSWORD),
            _p(_NOT, _PASSWORD, max_words=4),
        ),
    ),
    (
        Intent.CODE_NOT_ARRIVING,
        (
            _p(_CODE, _NOT, _ARRIVE),
            _p(_NOT, _CODE, max_words=3),
        ),
    ),
    (
        Intent.WRONG_NUMBER,
        (
            _p(_MISTAKE, _NUMBER),
            _p(_CHANGE, _NUMBER),
            _p(_NOT, _THAT, _NUMBER),
        ),
    ),
    (Intent.VPN, (_p(_VPN),)),
    (Intent.EXISTING_PROFILE, (_p(_ALREADY, _PROFILE), _p(_HAVE, _PROFILE, max_words=5))),
    (Intent.BROWSER, (_p(_BROWSER),)),
    (Intent.RESTART, (_p(_START, _AGAIN), _p(_RESTART, max_words=3))),
    (
        Intent.HELP,
        (
            _p(_HELP),
            _p(_NOT, _FAIL, max_words=4),
            _p(_NOT, _KNOW, _DO),  # «не знаю, что делать», «I don't know what to do next»
            _p(_WHAT, _DO, max_words=4),  # «что делать?», «что дальше», «what next»
            _p(_CONFUSED, max_words=5),  # «я запуталась»
        ),
    ),
)

# Whole phrases for the run-together and heavily misspelt short messages.
_PHRASES: dict[str, Intent] = {
    "забыла пароль": Intent.FORGOT_PASSWORD,
    "забыл пароль": Intent.FORGOT_PASSWORD,
    "не помню пароль": Intent.FORGOT_PASSWORD,
    "forgot password": Intent.FORGOT_PASSWORD,
    "не приходит смс": Intent.CODE_NOT_ARRIVING,
    "не приходит код": Intent.CODE_NOT_ARRIVING,
    "код не пришел": Intent.CODE_NOT_ARRIVING,
    "смс не пришло": Intent.CODE_NOT_ARRIVING,
    "звонок не поступает": Intent.CODE_NOT_ARRIVING,
    "no sms": Intent.CODE_NOT_ARRIVING,
    "ошиблась номером": Intent.WRONG_NUMBER,
    "ошибся номером": Intent.WRONG_NUMBER,
    "wrong number": Intent.WRONG_NUMBER,
    "позовите оператора": Intent.WANTS_HUMAN,
    "позовите человека": Intent.WANTS_HUMAN,
    "talk to a human": Intent.WANTS_HUMAN,
    "начать сначала": Intent.RESTART,
    "начать заново": Intent.RESTART,
    "start over": Intent.RESTART,
    "не знаю что делать": Intent.HELP,
    "что делать": Intent.HELP,
    "что дальше": Intent.HELP,
}
_SQUASHED_PHRASES: dict[str, Intent] = {
    phrase.replace(" ", ""): intent for phrase, intent in _PHRASES.items()
}


def normalize(text: str) -> list[str]:
    """Lower-cased words, «ё» as «е», apostrophes dropped («didn't» → «didnt»)."""
    text = text.lower().replace("ё", "е").replace("'", "").replace("’", "").replace("`", "")
    return _WORD.findall(text)


def _allowed_edits(stem: str) -> int:
    if len(stem) <= 4:
        return 0
    if len(stem) <= 8:
        return 1
    return 2


def _word_matches(word: str, stem: str) -> bool:
    whole = stem.endswith("$")
    stem = stem.rstrip("$")
    edits = _allowed_edits(stem)
    if whole:
        return Levenshtein.distance(word, stem, score_cutoff=edits) <= edits
    if word.startswith(stem):
        return True
    if edits == 0:
        return False
    # Compare the stem with the word's beginning; a typo may make that beginning a letter longer
    # or shorter than the stem.
    for length in range(len(stem) - edits, len(stem) + edits + 1):
        if length > len(word) or length < 1:
            continue
        if Levenshtein.distance(word[:length], stem, score_cutoff=edits) <= edits:
            return True
    return False


class _ConceptIndex:
    """Which words of one text match which concept, each concept looked up once per text."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self._found: dict[frozenset[str], frozenset[int]] = {}

    def positions(self, concept: frozenset[str]) -> frozenset[int]:
        if concept not in self._found:
            self._found[concept] = frozenset(
                i
                for i, word in enumerate(self.words)
                if any(_word_matches(word, s) for s in concept)
            )
        return self._found[concept]


def _pattern_matches(index: _ConceptIndex, pattern: _Pattern) -> bool:
    if pattern.max_words is not None and len(index.words) > pattern.max_words:
        return False
    candidates = [index.positions(concept) for concept in pattern.concepts]

    # Each concept needs its own word; patterns have at most three concepts, so plain search.
    def assign(index: int, used: frozenset[int]) -> bool:
        if index == len(candidates):
            return True
        return any(assign(index + 1, used | {w}) for w in candidates[index] - used)

    return assign(0, frozenset())


def _looks_like_an_answer(text: str, words: list[str]) -> bool:
    """Phones, dates and codes: mostly digits and separators."""
    letters = sum(ch.isalpha() for ch in text)
    digits = sum(ch.isdigit() for ch in text)
    return not words or letters == 0 or digits > letters


def detect_intent(text: str) -> Intent | None:
    """The intent `text` obviously expresses, or None when it is not clearly one of them."""
    if not text or len(text) > MAX_TEXT_LENGTH:
        return None
    words = normalize(text)
    if _looks_like_an_answer(text, words):
        return None
    index = _ConceptIndex(words)
    for intent, patterns in _PATTERNS:
        if any(_pattern_matches(index, pattern) for pattern in patterns):
            return intent
    if len(words) <= _PHRASE_MAX_WORDS:
        found = process.extractOne(
            "".join(words), _SQUASHED_PHRASES.keys(), scorer=fuzz.ratio,
            score_cutoff=_PHRASE_MIN_SCORE,
        )  # fmt: skip
        if found is not None:
            return _SQUASHED_PHRASES[found[0]]
    return None


# Words a request has and a full name never has: on the name step a three-word request
# («позовите специалиста пожалуйста», «начать заново») would otherwise pass as a name.
_NEVER_IN_A_NAME = frozenset(
    {
        "начать", "заново", "сначала", "снова", "позовите", "позвать", "позови", "оператор",
        "оператора", "человек", "человека", "специалист", "специалиста", "помогите", "помощь",
        "не", "нет", "что", "как", "где", "почему", "делать", "забыла", "забыл", "пароль",
        "код", "смс", "номер", "хочу", "нужно", "нужен", "пожалуйста",
    }
)  # fmt: skip


def request_not_a_name(text: str) -> Intent | None:
    """The intent of `text` when it is clearly a request and not someone's full name."""
    words = normalize(text)
    if not _NEVER_IN_A_NAME.intersection(words):
        return None
    return detect_intent(text)
