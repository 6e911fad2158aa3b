"""The public intake evaluation set played through the simulator: per-slot accuracy, BR-5 emergency recall/precision."""
from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

EVAL = [json.loads(line) for line in
        (Path(__file__).parent / "data" / "intake_eval.jsonl").read_text(encoding="utf-8").splitlines() if line]
SPLITS = ("public", "heldout")
SLOTS = ("location", "area", "phone", "name", "category", "trade")
FILLER_NAME, FILLER_PHONE = "测试员", "13700000000"
TRADES = {"plumbing", "electrical", "hvac", "elevator", "civil", "doors_windows", "weak_current", "fire", "other"}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def test_eval_set_is_broad_and_a_fifth_is_held_out():
    """Issue 12 item 1: >= 300 reports, every trade, both areas, emergencies and daily work, a held-out fifth."""
    assert len(EVAL) >= 300
    assert len({case["id"] for case in EVAL}) == len(EVAL)
    splits = Counter(case["split"] for case in EVAL)
    assert set(splits) == set(SPLITS)
    assert 0.15 <= splits["heldout"] / len(EVAL) <= 0.25
    for split in SPLITS:
        cases = [case for case in EVAL if case["split"] == split]
        assert {case["area"] for case in cases} == {"public", "unit"}
        assert {trade for case in cases for trade in case["trade_in"]} == TRADES
        share = sum(case["category"] == "emergency" for case in cases) / len(cases)
        assert 0.3 <= share <= 0.5, (split, share)
    for case in EVAL:
        assert case["location_has"] and set(case["trade_in"]) <= TRADES
        assert case["category"] in {"emergency", "daily"}


async def _play(sim, case: dict) -> dict | None:
    """One resident, answering what the bot asks as the project owners' scorer does; the ticket or None."""
    user = f"eval-{case['id']}"
    replies = await sim.say(user, case["text"])
    for _ in range(4):
        last = replies[-1]
        if "请核对" in last:
            break
        if "新报" in last:          # BR-4 found an earlier report of this set at the same place and trade
            replies = await sim.say(user, "新报")
        elif "公共区域" in last and "业户单元" in last:
            replies = await sim.say(user, "公共区域" if case["area"] == "public" else "业户单元")
        elif "姓名" in last:
            replies = await sim.say(user, f"{FILLER_NAME} {FILLER_PHONE}")
        elif "称呼" in last:
            replies = await sim.say(user, FILLER_NAME)
        elif "电话" in last:
            replies = await sim.say(user, FILLER_PHONE)
        else:
            return None             # the location (or the fault) was not understood: no ticket
    if "请核对" not in replies[-1]:
        return None
    number = re.search(r"BX\d{8}-\d{4}", (await sim.say(user, "确认"))[0])
    return await sim.ticket(number.group()) if number else None


def _score(case: dict, ticket: dict | None) -> dict[str, bool]:
    if ticket is None:
        return dict.fromkeys(SLOTS, False)
    return {
        "location": all(_fold(part) in _fold(ticket["location"]) for part in case["location_has"]),
        "area": ticket["area"] == case["area"],
        "phone": ticket["phone"] == case.get("phone", FILLER_PHONE),
        "name": ticket["reporter_name"] == case.get("name", FILLER_NAME),
        "category": ticket["category"] == case["category"],
        "trade": ticket["trade"] in case["trade_in"],
    }


async def test_eval_set_through_the_simulator(sim, backend, capsys):
    """Issue 12 targets (BR-2 slots, BR-5 category, BR-8 trade): emergency recall 100 % and precision >= 90 % on both
    parts, every slot >= 97 % on the held-out part."""
    if backend.name != "embedded":
        pytest.skip("extraction and classification do not depend on the backend; one run is enough")
    results: dict[str, list[tuple[dict, dict[str, bool], dict | None]]] = {split: [] for split in SPLITS}
    for case in EVAL:
        ticket = await _play(sim, case)
        results[case["split"]].append((case, _score(case, ticket), ticket))

    report, failures = [], []
    for split in SPLITS:
        rows = results[split]
        accuracy = {slot: sum(score[slot] for _, score, _ in rows) / len(rows) for slot in SLOTS}
        emergencies = [(case, ticket) for case, _, ticket in rows if case["category"] == "emergency"]
        flagged = [(case, ticket) for case, _, ticket in rows if ticket and ticket["category"] == "emergency"]
        hits = sum(bool(ticket) and ticket["category"] == "emergency" for _, ticket in emergencies)
        recall = hits / len(emergencies)
        precision = hits / len(flagged) if flagged else 0.0
        report.append(f"{split:8} n={len(rows):3}  " + "  ".join(f"{slot}={accuracy[slot]:.1%}" for slot in SLOTS)
                      + f"  emergency recall={hits}/{len(emergencies)} precision={hits}/{len(flagged)}")
        if recall < 1.0:
            failures.append(f"{split}: emergency recall {recall:.1%}")
        if precision < 0.9:
            failures.append(f"{split}: emergency precision {precision:.1%}")
        if split == "heldout":
            failures += [f"{split}: {slot} {value:.1%} < 97 %" for slot, value in accuracy.items() if value < 0.97]
        for case, score, ticket in rows:
            wrong = [slot for slot in SLOTS if not score[slot]]
            if wrong and split == "public":   # held-out misses stay unprinted so nobody tunes on them
                got = {k: ticket[k] for k in ("location", "area", "category", "trade")} if ticket else None
                report.append(f"  {case['id']} {wrong} {case['text']} -> {got}")
    with capsys.disabled():
        print("\nintake evaluation set\n" + "\n".join(report))
    assert not failures, failures
