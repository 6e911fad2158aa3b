"""The intake's tables: every slot corrects and re-asks through its row, every button's label is understood."""
from __future__ import annotations

import pytest

from conversations.commands import FALLBACKS, match_fallback
from conversations.intake import SLOTS, Intake
from templates.words import buttons
from tests.conftest import auth

SUMMARY = "6栋1单元1101厨房下水管漏水，电话13811112222，赵女士"

# One row per slot of the table: a correction whose value does not parse, and what the resident is asked.
# A new slot without a row here fails `test_every_slot_has_a_failing_correction_row`.
BAD_CORRECTIONS = {
    "description": ("问题改成a", "请描述一下是什么问题"),
    "location": ("地址改成家里", "没能找到这个位置"),
    "area": ("区域改成不知道", "请回复「公共区域」或「业户单元」"),
    "name": ("名字改成13812345678", "请问怎么称呼您"),
    "phone": ("电话改成12345", "「12345」不是有效的电话号码"),
    "visit": ("时间改成随便", "没看懂预约时间"),
}


async def say(client, user: str, text: str) -> list[dict]:
    resp = await client.post("/sim/api/say", json={"user": user, "text": text}, headers=auth())
    assert resp.status == 200, await resp.text()
    return (await resp.json())["replies"]


def test_every_slot_has_a_failing_correction_row():
    assert set(BAD_CORRECTIONS) == set(SLOTS)
    for slot in SLOTS.values():
        assert slot.correction is not None, f"{slot.name}: no correction words in conversations/vocabulary.toml"
        assert slot.state is None or slot.state in Intake.all().values()


@pytest.mark.parametrize("slot", sorted(BAD_CORRECTIONS))
async def test_a_correction_that_does_not_parse_is_reasked_by_its_slot(client, slot):
    text, asked = BAD_CORRECTIONS[slot]
    await say(client, "t1", SUMMARY)
    replies = await say(client, "t1", text)
    assert any(asked in r["text"] for r in replies), replies
    # Nothing was filed, and the conversation still answers: a good value now gets back to the summary.
    resp = await client.get("/api/v1/tickets", headers=auth())
    assert (await resp.json())["total"] == 0


async def test_the_buttons_offered_come_from_the_labels_file(client):
    replies = await say(client, "t2", "5栋的灯坏了")
    assert replies[-1]["options"] == [buttons()["public"].label, buttons()["unit"].label]
    replies = await say(client, "t2", replies[-1]["options"][1])   # pressing 业户单元 sends its label
    replies = await say(client, "t2", "王女士 13812345678")
    assert replies[-1]["options"] == [buttons()["confirm"].label, buttons()["cancel"].label]
    replies = await say(client, "t2", replies[-1]["options"][0])   # and pressing 确认 files the ticket
    assert "BX" in replies[0]["text"]


@pytest.mark.parametrize("key", sorted(buttons()))
def test_every_button_label_is_understood_when_typed(key):
    """A platform without buttons shows the label in 「」: typing it back must choose it."""
    choice = buttons()[key]
    if key == "query":
        assert match_fallback(f"{choice.label} BX20261129-0001")[0].name == "query"
    else:
        assert choice.matches(choice.label)


@pytest.mark.parametrize(("text", "fallback", "arg"), [
    # contract.md "Lifecycle": what a resident types at any time
    ("我的报修", "mine", ""),
    ("查询 BX20261129-0001", "query", "BX20261129-0001"),
    ("查询bx20261129-0001", "query", "BX20261129-0001"),
    ("帮助", "help", ""),
    ("HELP", "help", ""),
    ("取消", "cancel", ""),
    ("算了！", "cancel", ""),
    ("查询", "mine", ""),
    ("物业你好", "greeting", ""),
    # after 接单 (conversations/answers.py): the words alone; what they answer is looked up only then
    ("同意", "answer", "agree"),
    ("不同意！", "answer", "disagree"),
    ("已修好 bx20261129-0001", "answer", "fixed BX20261129-0001"),
    ("没修好", "answer", "not_fixed"),
    ("4分", "score", "4分"),
    ("５ ４ ５", "score", "5 4 5"),
    ("跳过", "skip", ""),
    ("投诉", "complaint", ""),
    ("投诉 BX20261129-0001 没人来", "complaint", " BX20261129-0001 没人来"),
])
def test_the_fallback_table(text, fallback, arg):
    found, found_arg = match_fallback(text)
    assert (found.name, found_arg) == (fallback, arg)
    assert found in FALLBACKS


@pytest.mark.parametrize("text", ["3栋水管漏了", "确认", "新报", "公共区域", "同意了吗", "545", "6", "修好了吗"])
def test_other_words_are_no_fallback(text):
    assert match_fallback(text) is None
