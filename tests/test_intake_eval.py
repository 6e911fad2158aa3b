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


# What the held-out part reached when the classifier was last changed: it may only get better. The issue's
# own targets for it (recall 100 %, every slot >= 97 %) are test_held_out_part_meets_the_issue_targets below.
# Measured on 1,235 held-out reports: the first 123; 71 drawn at random from 353 written before the rules were tuned
# on the other 282; 70 written afresh and added unread; and part of each of twenty-eight later probes (p-y, a-d, i,
# j, l, o, z, aa-aj), drawn at random before the probe was first scored and never read since (of ai and aj only
# that part is in the set).
HELD_OUT_FLOOR = {"recall": 526 / 550, "precision": 0.9, "location": 1151 / 1235, "area": 1208 / 1235,
                  "phone": 1225 / 1235, "name": 1212 / 1235, "category": 1154 / 1235, "trade": 1142 / 1235}


def _figures(rows: list[tuple[dict, dict[str, bool], str | None]]) -> dict[str, float]:
    """rows: (case, slot scores, category filed or None when no ticket)."""
    figures = {slot: sum(score[slot] for _, score, _ in rows) / len(rows) for slot in SLOTS}
    hits = sum(case["category"] == "emergency" and filed == "emergency" for case, _, filed in rows)
    flagged = sum(filed == "emergency" for _, _, filed in rows)
    figures["recall"] = hits / sum(case["category"] == "emergency" for case, _, _ in rows)
    figures["precision"] = hits / flagged if flagged else 0.0
    return figures


def _line(split: str, rows: list, figures: dict[str, float]) -> str:
    hits = sum(case["category"] == "emergency" and filed == "emergency" for case, _, filed in rows)
    return (f"{split:8} n={len(rows):3}  " + "  ".join(f"{slot}={figures[slot]:.1%}" for slot in SLOTS)
            + f"  emergency recall={hits}/{sum(c['category'] == 'emergency' for c, _, _ in rows)}"
            f" precision={hits}/{sum(filed == 'emergency' for _, _, filed in rows)}")


async def test_eval_set_through_the_simulator(sim, backend, capsys):
    """Every report played as a resident (BR-2 slots, BR-5 category, BR-8 trade). The public part meets the issue's
    targets (emergency recall 100 %, precision >= 90 %, every slot >= 97 %); the held-out part stays at its floor."""
    if backend.name != "embedded":
        pytest.skip("extraction and classification do not depend on the backend; one run is enough")
    results: dict[str, list] = {split: [] for split in SPLITS}
    for case in EVAL:
        ticket = await _play(sim, case)
        results[case["split"]].append((case, _score(case, ticket), ticket["category"] if ticket else None))

    report, failures = [], []
    public = _figures(results["public"])
    held_out = _figures(results["heldout"])
    report.append(_line("public", results["public"], public))
    for case, score, _ in results["public"]:
        wrong = [slot for slot in SLOTS if not score[slot]]
        if wrong:                       # held-out misses stay unprinted so nobody tunes on them
            report.append(f"  {case['id']} {wrong} {case['text']}")
    report.append(_line("heldout", results["heldout"], held_out))
    with capsys.disabled():
        print("\nintake evaluation set\n" + "\n".join(report))
    targets = {"recall": 1.0, "precision": 0.9, **dict.fromkeys(SLOTS, 0.97)}
    failures += [f"public {key} {public[key]:.1%} < {floor:.0%}" for key, floor in targets.items() if public[key] < floor]
    failures += [f"heldout {key} {held_out[key]:.1%} fell below {floor:.1%}"
                 for key, floor in HELD_OUT_FLOOR.items() if held_out[key] < floor - 1e-9]
    assert not failures, failures


@pytest.mark.xfail(strict=True, reason="issue 12 target not met yet on the held-out part: emergency recall 526/550, "
                                       "location 93.2 %, category 93.4 %, trade 92.5 %; remove this mark once it passes")
def test_held_out_part_meets_the_issue_targets():
    """The issue's targets on the held-out part: emergency recall 100 %, precision >= 90 %, every slot >= 97 %
    (extraction and classification as the engine runs them, without the dialogue)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from conversations.classify import classify, load_rules
    from conversations.extract import extract, infer_area

    now, rules, rows = datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), load_rules(), []
    for case in (case for case in EVAL if case["split"] == "heldout"):
        got = extract(case["text"], now)
        result = classify(got.description or "", rules, got.location or "")
        ticket = None if not got.location else {
            "location": got.location, "area": got.area or infer_area(got.location, got.description or "")
            or case["area"], "phone": got.phone or FILLER_PHONE, "reporter_name": got.name or FILLER_NAME,
            "category": result.category, "trade": result.trade}
        rows.append((case, _score(case, ticket), ticket["category"] if ticket else None))
    figures = _figures(rows)
    assert figures["recall"] == 1.0 and figures["precision"] >= 0.9
    assert all(figures[slot] >= 0.97 for slot in SLOTS), figures


def test_the_model_never_learned_a_held_out_report():
    """conversations/hazard_examples.jsonl is built from the public part only; the held-out figures stay honest."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from conversations.extract import extract

    now = datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    examples_file = Path(__file__).parent.parent / "conversations" / "hazard_examples.jsonl"
    learned = {json.loads(line)["text"] for line in examples_file.read_text(encoding="utf-8").splitlines() if line}
    for case in EVAL:
        if case["split"] == "heldout":
            got = extract(case["text"], now)
            assert " ".join(p for p in (got.description, got.location) if p) not in learned, case["id"]
            assert case["text"] not in learned
