"""The policy file: the shipped default, schema + semantic problems with their locations, compile, reload."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.adapters.policy_file import read_policy
from service.adapters.policy_store import PolicyStore
from service.bootstrap import policy_schema_check
from service.core.policy import DEFAULT_POLICY, DEFAULT_POLICY_PATH, PolicyError, load_policy
from service.core.policy.semantics import check_policy

CHECK = policy_schema_check()


def test_the_shipped_default_is_valid_without_warnings() -> None:
    loaded = read_policy(DEFAULT_POLICY_PATH, CHECK)
    assert loaded.problems == ()
    assert loaded.policy is not None and loaded.policy.version == "default-2026.12.2"
    assert [s.id for s in loaded.policy.screens] == [
        "product_in_store", "in_store", "product", "inspiration", "web_home_outfit", "home_omnichannel", "street",
        "home"]
    assert loaded.policy.placements == {"app.product", "app.home", "app.store", "web.home"}
    assert [i.id for i in loaded.policy.incentives] == [
        "exclusive_preview", "event_invitation", "free_alteration", "cart_discount", "loyalty_bonus"]
    assert loaded.policy.situations.min_dwell_ms == 120_000


def edited(path: str, value: Any) -> dict[str, Any]:
    """The default document with one value replaced or (value None) removed; path like screens/0/when."""
    doc = copy.deepcopy(DEFAULT_POLICY)
    *parents, last = path.split("/")
    node: Any = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    key: Any = int(last) if isinstance(node, list) else last
    if value is None:
        del node[key]
    else:
        node[key] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "problems"),
    [
        (edited("screens/0/blocks", ["product_details", "reviews"]),
         [("error", "/screens/0/blocks/1", "unknown block 'reviews'; declared: back_in_stock, bestsellers, goes_with, "
           "goes_with_in_store, last_seen, nearby_availability, new_arrivals_for_you, other_colours_sizes, "
           "outfit_for_order, product_details, recently_scanned, resume_session, scan_prompt, store_mode_picks, "
           "store_recommendation, themes, wishlist")]),
        (edited("screens/1/when", {"placement": "app.home", "instore": True}),
         [("error", "/screens/1/when/instore", "unknown situation 'instore'; did you mean 'in_store'?")]),
        (edited("screens/1/when", {"weather": "drizzle"}),
         [("error", "/screens/1/when/weather",
           "weather 'drizzle' is not one of clear, clouds, rain, snow, fog, storm, unknown")]),
        (edited("screens/1/when", {"in_store": "yes"}),
         [("error", "/screens/1/when/in_store", "in_store is true or false")]),
        (edited("triggers/1/when", {"days_since_order": {"min": 5, "max": 2}}),
         [("error", "/triggers/1/when/days_since_order", "days_since_order: min 5 is above max 2: it never matches")]),
        (edited("blocks/themes/variants/0/themes", ["sunny"]),
         [("error", "/blocks/themes/variants/0/themes/0", "unknown theme 'sunny'")]),
        (edited("incentives/1/id", "exclusive_preview"),
         [("error", "/incentives/1/id", "id 'exclusive_preview' is already used by a incentive")]),
        (edited("triggers/0/dedup_key", "{trigger}:{sku}"),
         [("error", "/triggers/0/dedup_key", "unknown placeholder {sku} for wishlist_item_near_store")]),
        (edited("texts/en/block.last_seen", None),
         [("error", "/blocks/last_seen/title", "text 'block.last_seen' is missing in the default locale 'en'")]),
        (edited("texts/de/block.last_seen", None),
         [("warning", "/blocks/last_seen/title", "text 'block.last_seen' is missing in 'de' (falls back)")]),
        (edited("texts/en/trigger.back_in_stock.body", "{product_name} in {colour}"),
         [("error", "/texts/en/trigger.back_in_stock.body", "unknown placeholder {colour}")]),
        # a catch-all before the end shadows every later screen
        (edited("screens/3/when", {}),
         [("warning", f"/screens/{i}", f"screen {sid!r} can never be chosen: screen 'inspiration' before it matches "
           "whenever it would (always)") for i, sid in
          ((4, "web_home_outfit"), (5, "home_omnichannel"), (6, "street"), (7, "home"))]),
        (edited("screens/7/when", {"device": "phone"}),
         [("warning", "/screens/7/when", "the last screen has conditions: requests matching no screen get the "
           "built-in fallback (bestsellers)")]),
    ],
)
def test_semantic_problems_with_their_pointers(doc: dict[str, Any], problems: list[tuple[str, str, str]]) -> None:
    assert [(p.severity, p.pointer, p.message) for p in check_policy(doc)] == problems
    if any(sev == "error" for sev, _, _ in problems):
        with pytest.raises(PolicyError, match="invalid policy"):
            load_policy(doc)


def test_a_later_screen_narrower_than_an_earlier_one_is_unreachable() -> None:
    doc = edited("screens/5/when", {"placement": "app.home", "in_store": True, "device": "phone"})
    warnings = [(p.pointer, p.message) for p in check_policy(doc)]
    assert warnings == [("/screens/5", "screen 'home_omnichannel' can never be chosen: screen 'in_store' before it "
                         "matches whenever it would (in_store=true, placement in ['app.home', 'app.store'])")]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BAD_YAML = """version: broken-1
blocks:
  last_seen: {source: last_seen, limit: 500}
  feed: {source: magic}
screens:
  - id: home
    when: {daypart: brunch}
    blocks: [last_seen, feed, nope]
texts:
  en: {}
"""


def test_every_error_with_its_file_line_and_pointer(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", BAD_YAML)
    loaded = read_policy(path, CHECK)
    assert loaded.policy is None
    # the schema errors come first; semantic checks run once the schema is satisfied
    assert [str(p) for p in loaded.problems] == [
        f"{path}:3: error: /blocks/last_seen/limit: limit must be between 1 and 50",
        f"{path}:4: error: /blocks/feed/source: source must be one of back_in_stock, bestsellers, goes_with, "
        "goes_with_in_store, last_seen, nearby_availability, new_arrivals_for_you, other_colours_sizes, "
        "outfit_for_order, product_details, recently_scanned, resume_session, scan_prompt, store_mode_picks, "
        "store_recommendation, themes, wishlist",
    ]
    fixed = BAD_YAML.replace("limit: 500", "limit: 5").replace("source: magic", "source: wishlist")
    loaded = read_policy(write(tmp_path, "semantic.yaml", fixed), CHECK)
    assert [(p.line, p.pointer, p.message) for p in loaded.problems] == [
        (7, "/screens/0/when/daypart", "daypart 'brunch' is not one of night, morning, lunch, afternoon, evening"),
        (8, "/screens/0/blocks/2", "unknown block 'nope'; declared: feed, last_seen"),
    ]


def test_a_json_policy_is_read_too_and_duplicate_yaml_keys_are_errors(tmp_path: Path) -> None:
    import json

    doc = {"version": "j-1", "blocks": {"b": {"source": "bestsellers"}}, "screens": [{"id": "home", "blocks": ["b"]}],
           "texts": {"en": {}}}
    loaded = read_policy(write(tmp_path, "p.json", json.dumps(doc)), CHECK)
    assert loaded.policy is not None and loaded.policy.version == "j-1"
    dup = ("version: a\nversion: b\nblocks: {b: {source: bestsellers}}\n"
           "screens: [{id: home, blocks: [b]}]\ntexts: {en: {}}\n")
    loaded = read_policy(write(tmp_path, "dup.yaml", dup), CHECK)
    assert [str(p) for p in loaded.problems] == [
        f"{tmp_path / 'dup.yaml'}:2: error: /version: this key appears twice; the last one wins — remove one"]


@pytest.mark.parametrize(("text", "message"), [
    ("version: [unclosed\n", "not valid YAML"), ("", "policy must be an object"), ("- a\n- b\n", "must be an object")])
def test_unreadable_documents_are_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    loaded = read_policy(write(tmp_path, "x.yaml", text), CHECK)
    assert loaded.policy is None and len(loaded.errors) >= 1 and message in str(loaded.errors[0])


def test_reload_keeps_the_previous_policy_when_the_file_is_bad(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    text = DEFAULT_POLICY_PATH.read_text()
    path = write(tmp_path, "policy.yaml", text)
    first = read_policy(path, CHECK)
    assert first.policy is not None
    results: list[tuple[str, str]] = []
    store = PolicyStore(path, first.policy, first.digest, lambda p: read_policy(p, CHECK),
                        lambda result, policy: results.append((result, policy.version)))
    assert store.reload() == "unchanged"
    write(tmp_path, "policy.yaml", text.replace("version: default-2026.12.2", "version: v2-broken").replace(
        "blocks: [scan_prompt, store_mode_picks]", "blocks: [scan_prompt, store_picks]"))
    with caplog.at_level(logging.ERROR, logger="kairos.policy"):
        assert store.reload() == "rejected"
    assert store.current.version == "default-2026.12.2"
    assert f"policy rejected: {path}:" in caplog.text and "unknown block 'store_picks'" in caplog.text
    write(tmp_path, "policy.yaml", text.replace("version: default-2026.12.2", "version: v3"))
    assert store.file_changed() is True
    assert store.reload("file_watch") == "ok"
    assert store.current.version == "v3"
    assert results == [("unchanged", "default-2026.12.2"), ("rejected", "default-2026.12.2"), ("ok", "v3")]


def test_the_default_policy_document_round_trips_through_yaml() -> None:
    assert yaml.safe_load(DEFAULT_POLICY_PATH.read_text()) == DEFAULT_POLICY
