"""The theory pages carry each topic the research module promises, each with its citation, and the two proof
sketches (identifiability, CKA invariance); formulas are balanced for KaTeX."""

from __future__ import annotations

import re

import pytest

from unireps.app import content

TOPICS = {
    "THEORY_WHY": [("manifold hypothesis", "Bengio, Courville & Vincent 2013"), ("optimisation landscape", "Garipov"),
                   ("Git Re-Basin", "Ainsworth, Hayase & Srinivasa (2023"),
                   ("information bottleneck", "Tishby, Pereira & Bialek 1999")],
    "THEORY_WHEN": [("Lottery tickets", "Frankle & Carbin (2019"),
                    ("Data set size", "Nguyen, Raghu & Kornblith (2021")],
    "THEORY_NEURO": [("V1 → V2 → V4 → IT", "Felleman & Van Essen (1991"), ("Efficient coding", "Barlow (1961"),
                     ("Energy constraints", "Laughlin"), ("Energy constraints", "Lennie (2003")],
    "THEORY_MATH": [("Proof sketch: identifiability", "Zimmermann et al. 2021"),
                    ("Proof sketch: what linear CKA is invariant to", "Kornblith et al. 2019")],
}


@pytest.mark.parametrize("section, topic, citation", [(s, t, c) for s, items in TOPICS.items() for t, c in items])
def test_topic_present_with_its_citation(section, topic, citation):
    text = getattr(content, section)
    assert topic in text
    # the citation sits in the same paragraph (or bullet) as the topic
    para = next(p for p in re.split(r"\n\s*\n|\n\* ", text) if topic in p)
    assert citation in para, (topic, citation)


@pytest.mark.parametrize("section", list(TOPICS))
def test_math_delimiters_balanced(section):
    text = getattr(content, section).replace("$$", "")
    assert text.count("$") % 2 == 0
    assert "\x08" not in text  # a "\b" eaten by a non-raw string
