"""A naive-Bayes second opinion on BR-5 emergencies, learned from labelled example reports segmented by rjieba."""
from __future__ import annotations

import json
import math
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def segment(text: str) -> list[str]:
    # Imported on first use: the segmenter loads its dictionary (~0.3 s) only where a model is configured.
    import rjieba

    folded = unicodedata.normalize("NFKC", text).casefold()
    return [word for word in rjieba.cut(folded) if word.strip()]


@dataclass(frozen=True)
class HazardModel:
    """Log-odds of "emergency" for a text; words never seen in the examples count for nothing."""
    weights: dict[str, float]   # log P(word|emergency) - log P(word|daily), add-one smoothed
    prior: float                # log P(emergency) - log P(daily)
    threshold: float            # odds above this make the model vote "emergency"
    examples: int

    def odds(self, text: str) -> float:
        weights = self.weights
        return self.prior + sum(weights.get(word, 0.0) for word in segment(text))

    def says_emergency(self, text: str) -> bool:
        return self.odds(text) > self.threshold


def train(examples: list[tuple[str, bool]], threshold: float) -> HazardModel:
    """examples: (text, is_emergency), texts prepared as they will be at classification; both classes present."""
    counts = {True: Counter(), False: Counter()}
    documents = Counter()
    for text, emergency in examples:
        counts[emergency].update(segment(text))
        documents[emergency] += 1
    vocabulary = set(counts[True]) | set(counts[False])
    totals = {label: sum(counter.values()) + len(vocabulary) for label, counter in counts.items()}
    weights = {word: math.log((counts[True][word] + 1) / totals[True])
               - math.log((counts[False][word] + 1) / totals[False]) for word in vocabulary}
    return HazardModel(weights, math.log(documents[True] / documents[False]), threshold, len(examples))


def load_model(path: Path, threshold: float, where: str, prepare: Callable[[str], str] = str) -> HazardModel:
    """Train from a JSON-lines file of {"text": ..., "category": "emergency" | "daily"}; ValueError names problems."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: cannot read examples file {path}: {exc}") from exc
    examples: list[tuple[str, bool]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: {path.name} line {number}: not JSON: {exc}") from exc
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"].strip():
            raise ValueError(f"{where}: {path.name} line {number}: needs a non-empty \"text\"")
        if item.get("category") not in ("emergency", "daily"):
            raise ValueError(f"{where}: {path.name} line {number}: \"category\" must be \"emergency\" or \"daily\"")
        examples.append((prepare(item["text"]), item["category"] == "emergency"))
    if not {True, False} <= {emergency for _, emergency in examples}:
        raise ValueError(f"{where}: {path.name} needs examples of both emergency and daily reports")
    return train(examples, threshold)
