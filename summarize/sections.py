"""The seven digest sections: their headings in each language, their retrieval queries, and the cue
words a sentence must carry to count as being about the section's topic."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """One retrieval target of a section (the setup section has three, one per label)."""

    queries: tuple[str, ...]
    cue: re.Pattern[str]  # a sentence must match this to be about the topic
    label: str | None = None
    needs_number: bool = False
    # The cue words say what the authors think of their work (a problem, a contribution, a limitation, a plan), not
    # what it is about; where one is a word of the paper's title ("Failure" in a paper on failure attribution), it
    # names the subject and does not count (summarize.extractive.cue_hits).
    stance: bool = False
    # Words that, just before a cue, make it what a method does rather than what falls short: "to avoid biases",
    # "prevents model instability", "we filter out problems that cannot be solved", "pass/fail status". A cue
    # they stand before (up to five words before it, in one clause, the verb not negated: "does not prevent
    # hallucination" is a limitation) does not count (summarize.extractive.cue_hits).
    unless: re.Pattern[str] | None = None
    # A run-in heading that titles a paragraph on the topic ("Limitations.", "Limitations and future directions."):
    # the paragraph is the paper's own statement of it, searched for by the digest before anything else
    # (summarize.extractive.titled_paragraph). Without one, a run-in heading with a cue word counts
    # ("Node-Limited Routing." has "limited", and is no limitation: hence a heading of its own for stance topics).
    heading: re.Pattern[str] | None = None
    # The topic is who or what the paper measures itself against: a sentence that names other systems ("against
    # several strong baselines, including DeepSeek-V3, Claude-Sonnet-3.5-1022, GPT-4o-0513") states it better
    # than one that only says "compared" (summarize.extractive.other_names).
    names_others: bool = False
    # A question may state the topic: the problem the paper poses ("How can we design ...?"), an open limitation or a
    # question left for future work. Elsewhere a question states no contribution, setting, baseline or result.
    questions: bool = False


@dataclass(frozen=True)
class SectionSpec:
    key: str
    title_ko: str
    title_en: str
    topics: tuple[Topic, ...]
    prefer_kinds: tuple[str, ...]  # section kinds whose passages get a small boost

    def title(self, lang: str) -> str:
        return self.title_ko if lang == "ko" else self.title_en


def _cue(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec(
        "motivation",
        "핵심 동기와 문제 정의",
        "Motivation and problem definition",
        (
            Topic(
                (
                    "the problem this paper addresses and why existing approaches fall short",
                    "challenge limitation of prior work motivates",
                ),
                _cue(
                    r"\b(challeng|problem|limit|lack|struggl|difficult|remain|however|bottleneck|costly|gap|"
                    r"unclear|question|motivat|hinder|expensive|insufficient|fail)"
                ),
                stance=True,
                questions=True,
            ),
        ),
        ("abstract", "introduction"),
    ),
    SectionSpec(
        "contributions",
        "주요 기여 및 참신성",
        "Main contributions and novelty",
        (
            Topic(
                (
                    "our main contributions: we propose introduce present a novel method",
                    "in summary we make the following contributions",
                ),
                _cue(
                    r"\b(we (propose|introduce|present|develop|release|open-source|build|design|construct|show|"
                    r"demonstrate)|contribution|novel|first)"
                ),
                stance=True,
            ),
        ),
        ("abstract", "introduction", "conclusion"),
    ),
    SectionSpec(
        "architecture",
        "모델 아키텍처 및 학습 설정",
        "Model architecture and training setup",
        (
            Topic(
                (
                    "model architecture layers parameters attention experts hidden size",
                    "training setup optimizer learning rate batch size training steps stages",
                ),
                _cue(
                    r"\b(architecture|layer|parameter|attention|transformer|expert|encoder|decoder|hidden|"
                    r"learning rate|batch|optimi[sz]er|train|fine-tun|pre-train|stage|token|backbone|"
                    r"initiali[sz]|GPU|steps?|epoch)"
                ),
            ),
        ),
        ("method",),
    ),
    SectionSpec(
        "setup",
        "실험 설정 (사용된 데이터셋 / 마스킹 방식 / 비교 대상)",
        "Experimental setup (datasets / masking / baselines)",
        (
            Topic(
                ("datasets and benchmarks used for training and evaluation",),
                _cue(r"\b(dataset|benchmark|corpus|data set|training data|evaluat\w* on|test set|split)"),
                label="datasets",
            ),
            Topic(("masking strategy masked tokens mask ratio loss masking",), _cue(r"\bmask"), label="masking"),
            Topic(
                ("baselines we compare against compared with other models",),
                # Not "comparable", "comparison between" or "robust against noise": a baseline is compared with
                # or against, by name, or as "the baseline", "prior methods", "state-of-the-art models".
                _cue(
                    r"\b(baselines?\b|compar(?:e|ed|es|ing|isons?)\b(?!\s+(?:between|among|across)\b)|versus|"
                    r"vs\.?|outperform|relative to|against\s+(?:(?-i:[A-Z0-9])|(?:several|strong|other|all|existing|"
                    r"prior|previous|state|leading|competing|the (?:baseline|original|standard|previous|prior|"
                    r"best|strong))))"
                ),
                label="baselines",
                names_others=True,
            ),
        ),
        ("experiments", "results"),
    ),
    SectionSpec(
        "results",
        "정량적 결과",
        "Quantitative results",
        (
            Topic(
                (
                    "main results accuracy score achieves outperforms improvement on benchmark",
                    "results show performance compared to baseline table",
                ),
                _cue(
                    r"\b(achiev|outperform|improv|accuracy|score|pass@|surpass|reach|result|gain|higher|lower|"
                    r"reduc|faster|speed)"
                ),
                needs_number=True,
            ),
        ),
        ("results", "experiments", "abstract"),
    ),
    SectionSpec(
        "limitations",
        "한계점 및 잠재적 실패 요인",
        "Limitations and potential failure modes",
        (
            Topic(
                (
                    "limitations of our approach and failure cases",
                    "does not work well remains challenging drawback weakness",
                ),
                _cue(
                    r"\b(limitation|limited|fail|drawback|weakness|cannot|unable|not (yet )?(able|capable|suitable)|"
                    r"struggle|remains? (challenging|difficult|unclear)|suboptimal|bias|risk|unstable|instabilit|"
                    r"hallucinat|error-prone|costly|sensitive)"
                ),
                stance=True,
                unless=_cue(
                    r"(?:(?<!\bnot\s)(?<!n't\s)(?<!\bno\s)(?<!\bcannot\s)(?<!\bfail\sto\s)(?<!\bfails\sto\s)"
                    r"(?<!\bfailed\sto\s)\b(?:avoid|prevent|mitigat|alleviat|overcom|eliminat|exclud|remov|ensur|"
                    r"discard|filter(?:s|ed|ing)? out)\w*(?:[\s/-]+\w+){0,5}[\s/-]*|pass/)$"
                ),
                heading=_cue(
                    r"\b(?:limitations?|weakness(?:es)?|shortcomings?|failure (?:cases|modes))\b"
                    r"(?!\s+of\s+(?:the\s+)?(?:prior|previous|existing|current|earlier|related))"
                ),
                questions=True,
            ),
        ),
        ("limitations", "conclusion", "results"),
    ),
    SectionSpec(
        "future_work",
        "후속 연구 아이디어 또는 확장 방향",
        "Future work and extensions",
        (
            Topic(
                ("future work directions we plan to extend explore further",),
                _cue(
                    r"\b(future (work|research|direction|goal|plan|stud|version|iteration|investigat|explor|effort|"
                    r"release|improvement|development|advance|model)|(in|for|into) the (near |foreseeable )?future|"
                    r"further (work|research|explor|investigat|stud)|plan to|will (explore|investigate|"
                    r"extend|study|continue)|next step|extend(ing)? (this|our)|open question|promising direction)"
                ),
                stance=True,
                heading=_cue(
                    r"\bfuture (?:works?|directions?|research)\b|\boutlook\b|\bnext steps?\b|"
                    r"\bopen (?:questions|problems)\b"
                ),
                questions=True,
            ),
        ),
        ("conclusion", "limitations"),
    ),
)

SECTION_KEYS = tuple(s.key for s in SECTIONS)

NOT_STATED = {"ko": "논문에 명시되지 않음", "en": "Not stated in the paper"}

LABEL_TITLES = {
    "ko": {"datasets": "사용된 데이터셋", "masking": "마스킹 방식", "baselines": "비교 대상"},
    "en": {"datasets": "Datasets", "masking": "Masking", "baselines": "Baselines"},
}
