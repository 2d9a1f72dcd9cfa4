"""Reading level of Spanish texts: the Szigriszt-Pazos perspicuity index (INFLESZ scale).

``P = 206.835 - 62.3 * syllables/words - words/sentences``; INFLESZ reads it as: under 40
very hard, 40-55 somewhat hard, 55-65 normal, 65-80 fairly easy, over 80 very easy. Syllables
are counted by vowel groups, splitting the hiatus of two strong vowels (a, e, o) and of an
accented weak vowel (í, ú) next to a strong one: exact for most words, close enough for a
warning. Computed here in a few lines rather than adding a dependency.
"""

from __future__ import annotations

import re

WORD_RE = re.compile(r"[a-záéíóúüñ]+", re.IGNORECASE)
SENTENCE_END_RE = re.compile(r"[.!?;:]+(?:\s|$)")
VOWELS = "aeiouáéíóúü"
STRONG = set("aeoáéó")
ACCENTED_WEAK = set("íú")
HARD_BELOW = 55.0
MIN_WORDS = 12  # shorter texts give no meaningful score


def syllables(word: str) -> int:
    word = word.lower()
    if word.endswith("y") and len(word) > 1 and word[-2] not in VOWELS:
        word = (
            word[:-1] + "i"
        )  # "muy" counts one, "ley" one; a final "y" after a consonant is a vowel
    count = 0
    previous = ""
    for char in word:
        if char in VOWELS:
            if not previous:
                count += 1
            elif (previous in STRONG and char in STRONG) or (
                {previous, char} & ACCENTED_WEAK and {previous, char} & STRONG
            ):
                count += 1  # hiatus: a new syllable
            previous = char
        else:
            previous = ""
    return max(count, 1)


def szigriszt_pazos(text: str) -> float | None:
    """The index for ``text``, or ``None`` when it is too short to judge."""
    words = WORD_RE.findall(text)
    if len(words) < MIN_WORDS:
        return None
    sentences = max(len(SENTENCE_END_RE.findall(text.strip() + " ")), 1)
    total = sum(syllables(w) for w in words)
    return 206.835 - 62.3 * total / len(words) - len(words) / sentences


def longest_sentence(text: str) -> int:
    """Words in the longest sentence."""
    parts = SENTENCE_END_RE.split(text)
    return max((len(WORD_RE.findall(p)) for p in parts), default=0)
