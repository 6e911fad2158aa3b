"""BR-5 category and BR-8 trade classification from the rules table, and loading of that table."""
from __future__ import annotations

import json

import pytest

from conversations.classify import TRADES, Classification, classify, load_rules


@pytest.fixture(scope="module")
def rules():
    return load_rules()


@pytest.mark.parametrize("description", [
    "厨房水管爆了", "爆管了", "卫生间漏水严重", "整栋楼停电了", "家里没电了", "突然断电", "电梯困人", "有人被困在电梯里",
    "配电箱冒烟", "楼道着火了", "地下车库起火", "闻到很浓的煤气味", "燃气味很重", "燃气管漏气", "电梯井进水",
    "水箱溢水", "车库水淹了", "楼上跑水", "插座有烧焦的味道", "插座漏电", "电线短路",
])
def test_br5_emergency_keywords(description, rules):
    assert classify(description, rules).category == "emergency"


@pytest.mark.parametrize("description", [
    "燃气热水器打不着火了",   # 打不着火 is an ignition fault, not a fire
    "烟感灯一直闪",           # the smoke detector's LED, not smoke
    "厨房水龙头漏水",         # plain leaks are daily
    "墙面渗水",
    "马桶进水阀坏了",
    "门禁卡没电了",
    "卧室门锁坏了",
    "",
])
def test_br5_daily_despite_similar_words(description, rules):
    assert classify(description, rules).category == "daily"


@pytest.mark.parametrize("description, trade", [
    ("电梯按钮失灵", "elevator"),          # 电梯 before 电
    ("有人被困在里面", "elevator"),
    ("单元门门禁刷卡没反应", "weak_current"),  # 门禁 before 门
    ("烟感灯一直闪", "fire"),               # 烟感 before 灯
    ("消火栓箱门关不上", "fire"),
    ("监控摄像头黑屏", "weak_current"),
    ("空调外机声音很响", "hvac"),
    ("地暖不热", "hvac"),
    ("客厅的灯不亮", "electrical"),
    ("插座没电", "electrical"),
    ("电梯厅的灯不亮", "electrical"),        # the elevator rule excludes 电梯厅
    ("下水管堵了", "plumbing"),
    ("洗手盆下面的软管渗水", "plumbing"),
    ("燃气热水器打不着火了", "plumbing"),
    ("窗户玻璃裂了", "doors_windows"),      # 窗 before civil's 裂
    ("入户门锁坏了", "doors_windows"),
    ("卫生间吊顶掉了一块", "civil"),
    ("外墙瓷砖脱落", "civil"),
    ("不知道什么东西一直响", "other"),
    ("", "other"),
])
def test_br8_trade_first_matching_rule_wins(description, trade, rules):
    assert classify(description, rules).trade == trade


def test_classification_is_frozen_and_trades_known(rules):
    result = classify("水管爆了", rules)
    assert result == Classification("emergency", "plumbing")
    with pytest.raises(AttributeError):
        result.trade = "other"  # type: ignore[misc]
    assert {rule.trade for rule in rules.trades} <= set(TRADES)


def test_matching_ignores_width_and_case(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[category]\nemergency = ["UPS"]\n[[trade]]\nname = "weak_current"\nkeywords = ["wifi"]\n',
                    encoding="utf-8")
    rules = load_rules(path)
    assert classify("机房ｕｐｓ报警，WiFi断了", rules) == Classification("emergency", "weak_current")


def test_operator_file_replaces_packaged_rules(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(
        '[category]\nemergency = ["漏水"]\nemergency_exclusions = []\n'
        '[[trade]]\nname = "civil"\nkeywords = ["漏水"]\n',
        encoding="utf-8",
    )
    assert classify("厨房漏水", load_rules(str(path))) == Classification("emergency", "civil")


@pytest.mark.parametrize("content, problem", [
    ("[category\nemergency = [", "not valid TOML"),
    ('[[trade]]\nname = "civil"\nkeywords = ["墙"]\n', "[category]"),
    ('[category]\nemergency = ["爆"]\n', "[[trade]]"),
    ('[category]\nemergency = "爆"\n[[trade]]\nname = "civil"\nkeywords = ["墙"]\n', "'emergency'"),
    ('[category]\nemergency = ["爆", ""]\n[[trade]]\nname = "civil"\nkeywords = ["墙"]\n', "non-empty"),
    ('[category]\nemergency = ["爆"]\n[[trade]]\nname = "carpentry"\nkeywords = ["木"]\n', "carpentry"),
    ('[category]\nemergency = ["爆"]\n[[trade]]\nname = "civil"\n', "'keywords'"),
    ('[category]\nemergency = ["爆"]\n[[trade]]\nname = "civil"\nkeywords = ["墙"]\nkeyword = ["x"]\n', "keyword"),
])
def test_bad_rules_file_raises_value_error_naming_problem(tmp_path, content, problem):
    path = tmp_path / "rules.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as excinfo:
        load_rules(path)
    assert problem in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_missing_rules_file_raises_value_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        load_rules(tmp_path / "absent.toml")


def test_overflowing_water_is_an_emergency():
    """BR-5 flooding: 水漫出来了 seen in the simulator demo was filed as daily."""
    from conversations.classify import classify, load_rules
    assert classify("马桶堵了，水漫出来了", load_rules(None)).category == "emergency"


# --- issue 12: emergencies as hazards, not words ---

@pytest.mark.parametrize("description, location", [
    ("卫生间水从天花板往下灌", "7栋1801"),
    ("配电箱滋滋响还有焦糊味", "12-2-601"),
    ("外墙瓷砖掉下来差点砸到人", "5号楼"),
    ("电梯卡在两层之间里面有小孩", "3栋"),
    ("积水没过脚踝了", "地库"),
    ("楼道里报警器一直响", "8号楼"),
    ("阳台玻璃裂了随时会掉下去", "9栋1203"),
    ("进水了 地上好几公分", "配电房"),
    ("门锁坏了 老人反锁在里面出不来", "8栋1002"),
    ("燃气灶关了还有嘶嘶声", "5-2-1302"),
])
def test_br5_hazard_worded_without_any_emergency_keyword(description, location, rules):
    assert classify(description, rules, location).category == "emergency"


@pytest.mark.parametrize("description", [
    "客厅灯一闪一闪的", "卫生间墙角有点渗水", "走廊烟感灯在闪红灯", "燃气热水器打不着火", "下水有点慢",
    "厨房有一个插座没电 其他都正常", "家里的烟感一直在叫 没有烟 应该是电池没电了", "电梯停在一楼不动了 门开着 没有人",
    "墙上瓷砖掉了两块", "天花板有一小块水印 没在滴", "喷泉不喷水了", "卫生间吊顶掉了一块",
    "暖气片放气的小阀门一直滋滋冒气", "插座面板烧黑了一块 现在不用了", "家里跳闸了 推上去就好了",
])
def test_br5_false_alarm_guards(description, rules):
    assert classify(description, rules).category == "daily"


def test_br5_location_names_the_hazards_object(rules):
    """Water in the electrical room is an emergency; the same words in a kitchen are not."""
    assert classify("进水了", rules, "3栋配电房").category == "emergency"
    assert classify("进水了", rules, "3栋1502厨房").category == "daily"


def test_br5_downgrade_lowers_all_but_firm_hazards(rules):
    assert classify("水龙头关不掉 一直在喷", rules).category == "emergency"
    assert classify("水龙头关不掉 一直在喷 不急 周末来", rules).category == "daily"
    assert classify("不急 但是闻到煤气味", rules).category == "emergency"  # gas is firm


HAZARD_FILE = """
[category]
emergency_exclusions = ["没有人"]
downgrade = ["不急"]
[[hazard]]
name = "trapped"
hazard = ["出不来"]
object = ["电梯"]
firm = true
[[hazard]]
name = "ceiling"
hazard = ["滴水"]
object = ["天花板"]
extent = ["一直", "哗哗"]
unless = ["水印"]
[[trade]]
name = "plumbing"
keywords = ["水"]
"""


def test_operator_hazard_groups(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(HAZARD_FILE, encoding="utf-8")
    rules = load_rules(path)
    assert [hazard.name for hazard in rules.hazards] == ["trapped", "ceiling"]
    assert classify("电梯里有人出不来 不急", rules).category == "emergency"          # firm
    assert classify("天花板一直滴水", rules) == Classification("emergency", "plumbing")
    assert classify("天花板滴水", rules).category == "daily"                        # no extent
    assert classify("天花板一直滴水 不急", rules).category == "daily"               # downgraded
    assert classify("天花板水印一直滴水", rules).category == "daily"                # unless
    assert classify("电梯出不来", rules, "").category == "emergency"
    assert classify("出不来", rules).category == "daily"                           # no object


@pytest.mark.parametrize("extra, problem", [
    ('[[hazard]]\nhazard = ["x"]\n', "missing 'name'"),
    ('[[hazard]]\nname = "a"\n', "(a): missing 'hazard'"),
    ('[[hazard]]\nname = "a"\nhazard = []\n', "'hazard' is empty"),
    ('[[hazard]]\nname = "a"\nhazard = ["x"]\nobjects = ["y"]\n', "unknown keys ['objects']"),
    ('[[hazard]]\nname = "a"\nhazard = ["x"]\nfirm = "yes"\n', "'firm' must be true or false"),
    ('[[hazard]]\nname = "a"\nhazard = ["x"]\nextent = "y"\n', "'extent' must be a list"),
    ('[[hazard]]\nname = "a"\nhazard = ["x"]\n[[hazard]]\nname = "a"\nhazard = ["y"]\n', "names used twice"),
    ('[hazard]\nname = "a"\n', "array of tables"),
    ('[hazards]\nname = "a"\n', "unknown tables ['hazards']"),
])
def test_bad_hazard_groups_are_named(tmp_path, extra, problem):
    path = tmp_path / "rules.toml"
    path.write_text('[category]\nemergency = ["爆"]\n[[trade]]\nname = "civil"\nkeywords = ["墙"]\n' + extra,
                    encoding="utf-8")
    with pytest.raises(ValueError) as excinfo:
        load_rules(path)
    assert problem in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_a_file_without_emergency_phrases_needs_hazard_groups(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[category]\ndowngrade = ["不急"]\n[[trade]]\nname = "civil"\nkeywords = ["墙"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="missing 'emergency'"):
        load_rules(path)


def test_classify_is_cheap(rules):
    """The intake step's p99 budget is 5 ms; classification must stay far below it (precompiled phrase lists)."""
    import time
    text = "你好我是3栋1502的业主 卫生间天花板一直往下滴水 插座里都有水了 麻烦赶紧派人过来 不急的话明天也行"
    start = time.perf_counter()
    for number in range(200):
        classify(f"{text}{number}", rules, "3栋2单元1502卫生间")   # distinct texts: no memo hits
    assert (time.perf_counter() - start) / 200 < 0.001


def test_the_same_draft_is_classified_once(rules):
    first = classify("卫生间天花板往下灌水", rules, "7栋1801")
    assert rules.memo[("卫生间天花板往下灌水", "7栋1801")] is first
    assert classify("卫生间天花板往下灌水", rules, "7栋1801") is first


# --- the learned second opinion ([model]) ---

def _model_rules(tmp_path, examples: list[dict], model: str = 'examples = "examples.jsonl"\nthreshold = 0.5\n'):
    (tmp_path / "examples.jsonl").write_text("\n".join(json.dumps(e, ensure_ascii=False) for e in examples),
                                             encoding="utf-8")
    path = tmp_path / "rules.toml"
    path.write_text('[category]\nemergency = ["爆管"]\ndowngrade = ["不急"]\nemergency_exclusions = ["没有人"]\n'
                    '[[trade]]\nname = "plumbing"\nkeywords = ["水"]\n[model]\n' + model, encoding="utf-8")
    return load_rules(path)


MODEL_EXAMPLES = [
    {"text": "卧室里水漫到床脚了", "category": "emergency"},
    {"text": "客厅地上水漫过来了 很深", "category": "emergency"},
    {"text": "厨房水漫到门口", "category": "emergency"},
    {"text": "卧室灯不亮", "category": "daily"},
    {"text": "客厅插座松了", "category": "daily"},
    {"text": "厨房水龙头滴水", "category": "daily"},
]


def test_model_votes_for_an_emergency_no_phrase_names(tmp_path):
    rules = _model_rules(tmp_path, MODEL_EXAMPLES)
    assert rules.model is not None and rules.model.examples == 6
    assert classify("书房水漫到书柜了", rules).category == "emergency"
    assert classify("书房灯不亮", rules).category == "daily"
    assert classify("书房水漫到书柜了 不急", rules).category == "daily"   # downgrade applies to its vote


def test_packaged_rules_carry_the_model():
    rules = load_rules()
    assert rules.model is not None and rules.model.examples >= 300


@pytest.mark.parametrize("examples, model, problem", [
    (MODEL_EXAMPLES, 'examples = "absent.jsonl"\n', "cannot read examples file"),
    (MODEL_EXAMPLES, 'threshold = 1.0\n', "'examples' must name"),
    (MODEL_EXAMPLES, 'examples = "examples.jsonl"\nthreshold = "high"\n', "'threshold' must be a number"),
    (MODEL_EXAMPLES, 'examples = "examples.jsonl"\nlimit = 3\n', "unknown keys ['limit']"),
    ([{"text": "水漫了", "category": "urgent"}], 'examples = "examples.jsonl"\n', "line 1: \"category\""),
    ([{"text": "", "category": "daily"}], 'examples = "examples.jsonl"\n', "line 1: needs a non-empty"),
    ([{"text": "灯不亮", "category": "daily"}], 'examples = "examples.jsonl"\n', "both emergency and daily"),
])
def test_bad_model_configuration_is_named(tmp_path, examples, model, problem):
    with pytest.raises(ValueError) as excinfo:
        _model_rules(tmp_path, examples, model)
    assert problem in str(excinfo.value)
    assert "[model]" in str(excinfo.value)
