"""What changed between two program documents: pure, on the documents as stored (JSON-ready data).

Campaigns are matched by id, so moving a campaign in the list is no change. For a campaign in both, and
for the settings outside `campaigns` (points, tiers, segments, currency, ...), every field that differs is
one change with its dotted path (`thresholds[0].percent`, `points.max_redeem_percent`) and the value before
and after; `None` stands for a field that is absent on that side (documents leave out unset fields).
A list of mappings (thresholds, tier levels) is compared element by element at its indexes; any other list
(categories, stores, segments) is one value, compared whole: `["shoes"]` → `["shoes", "bags"]` is one change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict


class Change(TypedDict):
    path: str
    before: Any
    after: Any


class CampaignChange(TypedDict):
    id: str
    changes: list[Change]


class ProgramDiff(TypedDict):
    added: list[str]
    removed: list[str]
    changed: list[CampaignChange]
    settings: list[Change]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_record_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, Mapping) for item in value)


def changes(before: Any, after: Any, path: str = "") -> list[Change]:
    """Every difference between two JSON values, as leaf changes under `path`."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        found: list[Change] = []
        for key in [*before, *(key for key in after if key not in before)]:
            found += changes(before.get(key), after.get(key), _join(path, str(key)))
        return found
    if _is_record_list(before) and _is_record_list(after):
        found = []
        for index in range(max(len(before), len(after))):
            found += changes(before[index] if index < len(before) else None,
                             after[index] if index < len(after) else None, f"{path}[{index}]")
        return found
    if _same(before, after):
        return []
    return [{"path": path or "(document)", "before": before, "after": after}]


def _same(before: Any, after: Any) -> bool:
    """Equal as JSON: `true` is not `1`, though Python says so."""
    return type(before) is type(after) and before == after or (
        isinstance(before, int | float) and isinstance(after, int | float)
        and not isinstance(before, bool) and not isinstance(after, bool) and before == after)


def _by_id(document: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(campaign["id"]): campaign for campaign in document.get("campaigns") or []}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> ProgramDiff:
    """From `before` to `after`: campaigns added and removed (ids, in `after`'s and `before`'s order), changed
    ones with their field changes (in `after`'s order), and the changed settings outside `campaigns`."""
    old, new = _by_id(before), _by_id(after)
    changed: list[CampaignChange] = []
    for campaign_id, campaign in new.items():
        if campaign_id in old and (found := changes(old[campaign_id], campaign)):
            changed.append({"id": campaign_id, "changes": found})
    settings = changes({key: value for key, value in before.items() if key != "campaigns"},
                       {key: value for key, value in after.items() if key != "campaigns"})
    return {"added": [campaign_id for campaign_id in new if campaign_id not in old],
            "removed": [campaign_id for campaign_id in old if campaign_id not in new],
            "changed": changed, "settings": settings}
