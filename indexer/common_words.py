"""The words frequent enough that pairs of them are indexed whole (see `store.py`, field `common_pairs`).

A phrase of two rare words, or of a rare and a common one, is cheap to count from
positions: the rare word leaves few pages to look at. Two common words ("de la",
"of the", "und die") hold each other's pages by the ten thousand, so their pairs
are indexed as terms, like Solr's CommonGrams. Indexing every pair instead made a
book's index 2.5 times bigger and its ingest 20% slower.

The set is part of the index format: an index holds the pairs of *this* list, so a
change to it must come with a new field name in `store.py`.
"""

from __future__ import annotations

#: Function words of the languages the demo and Tesseract models cover (English, French,
#: German, Latin) and of Spanish and Italian, folded like index tokens (ocr.text.tokens).
#: Every token of one or two characters counts as common too (elisions, articles, numbers).
COMMON_WORDS: frozenset[str] = frozenset(
    """
    the and for are was his her him she they them their there then than that this these those
    with from have has had not but all any can who what when where which will would could should
    been were one two its our out into upon over such only also more most some very may must
    your you about after before other each many said made like time now

    les des une que qui par pour sur aux est son ses sont dans elle mais comme avec tout tous
    toute cette ces mme meme sans lui nous vous ils leur leurs ont avait etait ete fut pas plus
    bien fait peu deux dont entre encore apres avant ainsi car donc quand sous tres

    der die das und den von mit sich des auf fur ist dem nicht ein eine einer eines einem
    als auch hat aus bei nach wie wird werden oder noch war sind vor zur zum durch uber
    sie ich wir ihr ihm ihn ihre sein seine dass dieser diese dieses wenn nur man

    est non cum quod quae qui quam sed per esse sunt enim etiam hoc nec vel aut sit erat
    ipse ille haec eius atque autem inter sub pro

    los las del con por para una uno como pero sus mas muy fue
    che per non con della delle dei degli nel nella sono una uno come
    """.split()
)


def is_common(token: str) -> bool:
    """Whether pairs of this token with another common one are indexed whole."""
    return len(token) <= 2 or token in COMMON_WORDS
