"""Build conversations/hazard_examples.jsonl from the public reports only, and cross-validate its threshold.

    python scripts/hazard_examples.py            # rewrite the examples file
    python scripts/hazard_examples.py --check    # exit 1 when the file differs from what would be built
    python scripts/hazard_examples.py --cv 1 1.5 2 2.5 3   # 5-fold cross-validation of thresholds

The examples are the public part of tests/data/intake_eval.jsonl and tests/data/intake_corpus.jsonl, each as
the extractor leaves it (the fault, then the place), with its labelled category. Held-out reports are never
read: they are how the owners see whether the rules and the model generalise.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from conversations.classify import classify, load_rules  # noqa: E402
from conversations.extract import extract  # noqa: E402
from conversations.hazard_model import train  # noqa: E402

SOURCES = (ROOT / "tests" / "data" / "intake_eval.jsonl", ROOT / "tests" / "data" / "intake_corpus.jsonl")
TARGET = ROOT / "conversations" / "hazard_examples.jsonl"
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
FOLDS = 5


def public_reports() -> list[dict]:
    reports = []
    for source in SOURCES:
        for line in source.read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                if case.get("split", "public") == "public":
                    reports.append(case)
    return reports


def example_of(case: dict) -> dict:
    got = extract(case["text"], NOW)
    return {"text": " ".join(p for p in (got.description, got.location) if p), "category": case["category"]}


def build() -> str:
    return "".join(json.dumps(example_of(case), ensure_ascii=False) + "\n" for case in public_reports())


def cross_validate(thresholds: list[float]) -> None:
    """Each fifth of the public reports classified by the rules and a model trained on the other four fifths."""
    rules = load_rules()
    cases = public_reports()
    extracted = [(case, extract(case["text"], NOW)) for case in cases]
    def prepare(text: str) -> str:
        return rules.emergency_exclusions.blank(rules.prepare(text))
    print("threshold  recall (rules+model)  precision  | model alone: recall  precision")
    for threshold in thresholds:
        hits = flagged = emergencies = alone_hits = alone_flagged = 0
        for fold in range(FOLDS):
            learn = [(prepare(" ".join(p for p in (got.description, got.location) if p)),
                      case["category"] == "emergency")
                     for number, (case, got) in enumerate(extracted) if number % FOLDS != fold]
            fold_rules = dataclasses.replace(rules, model=train(learn, threshold))
            fold_rules.memo.clear()
            for number, (case, got) in enumerate(extracted):
                if number % FOLDS != fold:
                    continue
                truth = case["category"] == "emergency"
                said = classify(got.description or "", fold_rules, got.location or "").category == "emergency"
                text = prepare(f"{got.description or ''} {got.location or ''}")
                alone = fold_rules.model.says_emergency(text)
                emergencies += truth
                hits += truth and said
                flagged += said
                alone_hits += truth and alone
                alone_flagged += alone
        print(f"{threshold:9.2f}  {hits}/{emergencies} = {hits / emergencies:6.1%}  {hits / max(flagged, 1):9.1%}  | "
              f"{alone_hits / emergencies:6.1%}  {alone_hits / max(alone_flagged, 1):6.1%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare the file with what would be built")
    parser.add_argument("--cv", nargs="+", type=float, metavar="THRESHOLD", help="cross-validate these thresholds")
    args = parser.parse_args()
    if args.cv:
        cross_validate(args.cv)
        return 0
    text = build()
    if args.check:
        same = TARGET.read_text(encoding="utf-8") == text
        print(f"{TARGET.relative_to(ROOT)} is {'up to date' if same else 'out of date'}")
        return 0 if same else 1
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10))} examples to {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
