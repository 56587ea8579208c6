"""The console's simulation pages: one simulation (its progress, then its results or its error, and its draft
to publish or edit again) and the list of recent ones. Pure HTML from the job as `GET /v1/simulations/{id}`
answers it (app/simulations/report.py says what each figure is).

Money and points arrive in minor units and are shown with the report page's formatters (integer arithmetic);
the chart is inline SVG from app/reports/charts.py: nothing is loaded and nothing runs, so the pages hold
under the console's `default-src 'none'`. A page of a job still queued or running reloads itself with
`<meta http-equiv="refresh">`, which is navigation, not a script or a fetch: no CSP directive governs it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from app.core.text import amount, count
from app.reports import charts, page
from app.reports.charts import BLUE, GREY, Part, Row
from app.reports.page import moment

from .pages import Data, layout, post_form

REFRESH_S = 2  # how often a page of an unfinished simulation reloads itself
_DASH = "—"


def _signed(minor: int | None) -> str:
    """A difference in major units with its sign: +173.50, -2.00, 0.00."""
    return _DASH if minor is None else ("+" if minor > 0 else "") + amount(minor)


def _signed_count(value: int | None) -> str:
    return _DASH if value is None else ("+" if value > 0 else "") + count(value)


def _period(job: Data) -> str:
    return f"{page.long_day(job['from'])} – {page.long_day(job['to'])}"


def _baseline(job: Data) -> str:
    return f"version {job['baseline_version']}"


def _facts(job: Data) -> str:
    facts = [("Status", job["status"]), ("Period", _period(job)), ("Against", _baseline(job)),
             ("By", job["author"] or _DASH), ("Submitted", moment(job["created_at"]))]
    if job["finished_at"]:
        facts.append(("Finished", moment(job["finished_at"])))
    items = "".join(f'<div><dt>{escape(name)}</dt><dd{" data-status" if name == "Status" else ""}>'
                    f"{escape(str(value))}</dd></div>" for name, value in facts)
    return f'<dl class="facts">{items}</dl>'


def percent_done(progress: Data) -> int | None:
    """Receipts done as a whole percent of the total, rounded down; None until the job has counted them."""
    total = progress["receipts_total"]
    if total is None:
        return None
    return 100 if total == 0 else progress["receipts_done"] * 100 // total


def _progress(job: Data) -> str:
    progress = job["progress"]
    percent = percent_done(progress)
    if job["status"] == "queued":
        said = "Waiting for a worker to start it."
    elif percent is None:
        said = "Counting the receipts of the period."
    else:
        said = (f"{count(progress['receipts_done'])} of {count(progress['receipts_total'])} receipts replayed "
                f"({percent}%).")
    bar = f'<progress max="100" value="{percent}">{percent}%</progress>' if percent is not None else ""
    return (f'<div class="notice" data-progress="{percent if percent is not None else ""}"><p>{escape(said)}</p>'
            f"{bar}<p class=\"hint\">This page reloads itself every {REFRESH_S} seconds until it is done.</p></div>")


# --- results ----------------------------------------------------------------------------------------

# (figure, label, whether it is money or points in minor units rather than a count)
_TOTALS = (("receipts", "Receipts replayed", False), ("revenue", "Revenue", True), ("discount", "Discount", True),
           ("points_granted", "Points granted", True), ("points_redeemed", "Points redeemed", True),
           ("coupon_uses", "Coupon uses", False), ("cost", "Cost: discount and points granted", True),
           ("revenue_per_receipt", "Revenue per receipt", True))


def _totals(totals: Data) -> str:
    """Each figure for the draft, the baseline and their difference (a dash where either is null)."""
    base = totals["baseline"]
    rows = []
    for key, label, minor in _TOTALS:
        mine, theirs = totals[key], base[key]
        difference = mine - theirs if mine is not None and theirs is not None else None
        shown, change = (amount, _signed(difference)) if minor else (count, _signed_count(difference))
        rows.append(f'<tr data-total="{key}"><th scope="row" class="left">{escape(label)}</th>'
                    f'<td data-side="draft">{shown(mine)}</td><td data-side="baseline">{shown(theirs)}</td>'
                    f'<td data-side="difference">{change}</td></tr>')
    head = "".join(f'<th scope="col"{" class=left" if i == 0 else ""}>{name}</th>'
                   for i, name in enumerate(("", "Draft", "Baseline", "Draft − baseline")))
    return (f'<table class="wide" data-table="totals"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table>")


_CAMPAIGN_COLUMNS = (("receipts", "Receipts touched", count), ("discount", "Discount", amount),
                     ("points", "Points granted", amount), ("coupon_uses", "Coupon uses", count),
                     ("cost", "Cost", amount))
_REVENUE_COLUMNS = (("revenue_per_receipt_touched", "Revenue per receipt touched"),
                    ("revenue_per_receipt_untouched", "untouched"))


def _campaign_row(c: Data) -> str:
    where = "" if c["in_draft"] and c["in_baseline"] else (" · new in the draft" if c["in_draft"]
                                                           else " · not in the draft")
    cells = [f'<td data-figure="{key}">{shown(c[key])}</td>' for key, _, shown in _CAMPAIGN_COLUMNS]
    cells.append(f'<td data-figure="baseline_cost">{amount(c["baseline"]["cost"])}</td>')
    cells.append(f'<td data-figure="cost_difference">{_signed(c["cost_difference"])}</td>')
    cells += [f'<td data-figure="{key}">{amount(c[key])}</td>' for key, _ in _REVENUE_COLUMNS]
    return (f'<tr data-campaign="{escape(c["id"])}"><th scope="row" class="left">{escape(c["name"])}'
            f'<span class="hint"> {escape(c["id"] + where)}</span></th>{"".join(cells)}</tr>')


def _campaigns(campaigns: Sequence[Data]) -> str:
    if not campaigns:
        return '<p class="empty">Neither program has a campaign.</p>'
    names = ["Campaign", *(label for _, label, _ in _CAMPAIGN_COLUMNS), "Baseline cost", "Cost against baseline",
             *(label for _, label in _REVENUE_COLUMNS)]
    head = "".join(f'<th scope="col"{" class=left" if i == 0 else ""}>{name}</th>' for i, name in enumerate(names))
    caption = ("Each campaign's own discount and points under the draft; its cost under the baseline, and the "
               "difference. Revenue per receipt: the amount paid on the receipts the campaign touched, and on "
               "those it did not.")
    return (f'<div class="scroll"><table class="wide" data-table="campaigns"><caption>{escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(_campaign_row(c) for c in campaigns)}</tbody>"
            "</table></div>")


def cost_chart(campaigns: Sequence[Data]) -> str:
    """Horizontal bars of each campaign's cost, the draft's above the baseline's, on one scale."""
    costly = [c for c in campaigns if c["cost"] or c["baseline"]["cost"]]
    if not costly:
        return '<p class="empty">No campaign gave a discount or points, under either program.</p>'
    rows = []
    for c in costly:
        for side, cost, color in (("draft", c["cost"], BLUE), ("baseline", c["baseline"]["cost"], GREY)):
            rows.append(Row(f"{c['name']} · {side}", [Part(cost, color, f"{c['name']}, {side}: cost {amount(cost)}")],
                            amount(cost)))
    legend = (f'<p class="legend"><span class="swatch" style="background:{BLUE}"></span>draft '
              f'<span class="swatch" style="background:{GREY}"></span>baseline</p>')
    return legend + charts.bars("Cost per campaign: the draft against the baseline", rows, label_width=340)


def _results(result: Data) -> str:
    seen = result["receipts"]
    note = (f"Amounts in {result['currency']}, major units. {count(seen['replayed'])} receipts replayed; "
            f"{count(seen['unreadable'])} unreadable and {count(seen['not_replayable'])} confirmed before their "
            "bodies were stored are left out.")
    return (f'<p class="hint" data-receipts>{escape(note)}</p>'
            + page.section("In total", _totals(result["totals"]))
            + page.section("Cost per campaign", cost_chart(result["campaigns"]))
            + page.section("Per campaign", _campaigns(result["campaigns"])))


# --- the draft --------------------------------------------------------------------------------------


def _draft_campaign(job_id: int, campaign: Data, text: str, token: str) -> str:
    campaign_id = str(campaign.get("id", ""))
    content = (f'<input type="hidden" name="yaml" value="{escape(text)}">'
               f'<label for="note-{escape(campaign_id)}">Note<span class="hint">why: shown in the history</span>'
               f'</label><input id="note-{escape(campaign_id)}" name="note" type="text" maxlength="500" value="">')
    publish = post_form("/console/publish", token, content, "Publish this draft", "publish-draft")
    back = (f'<a href="/console/simulations/{job_id}/campaigns/{escape(campaign_id)}" data-link="editor">'
            "Back to the editor</a> with this draft")
    return (f'<div class="draft" data-draft="{escape(campaign_id)}"><h3>{escape(str(campaign.get("name", "")))} '
            f'<span class="hint">{escape(campaign_id)}</span></h3><details><summary>The draft as YAML</summary>'
            f"<pre>{escape(text)}</pre></details>{publish}<p>{back}</p></div>")


Drafted = Sequence[tuple[Data, str]]  # each campaign the draft adds or changes, and its YAML


def _draft(job_id: int, changed: Drafted, removed: Sequence[str], token: str) -> str:
    if not changed and not removed:
        return "<p>The draft is the baseline: it changes no campaign.</p>"
    parts = [_draft_campaign(job_id, campaign, text, token) for campaign, text in changed]
    if removed:
        parts.append(f'<p data-removed>The draft leaves out {escape(", ".join(removed))}: remove a campaign with '
                     "DELETE /v1/campaigns/{id}.</p>")
    return "".join(parts)


def simulation(job: Data, changed: Drafted, removed: Sequence[str], token: str) -> str:
    """One simulation: while it runs its progress (and the page reloads itself), when done its results, when
    failed its error; then the campaigns its draft changes, each to publish or to edit again."""
    status = job["status"]
    head = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if status in ("queued", "running") else ""
    if status == "done":
        body = _results(job["result"])
    elif status == "failed":
        body = f'<p class="errors" data-failed>The simulation failed: {escape(job.get("error") or "")}</p>'
    else:
        body = _progress(job)
    draft = page.section("The draft", _draft(job["id"], changed, removed, token))
    return layout(f"Simulation {job['id']}", _facts(job) + body + draft, "/console/simulations", head)


# --- the list ---------------------------------------------------------------------------------------

_LIST_COLUMNS = ("Simulation", "Status", "Period", "Against", "Progress", "By", "Submitted")


def _listed(job: Data) -> str:
    percent = percent_done(job["progress"])
    progress = (f"{count(job['progress']['receipts_done'])} of {count(job['progress']['receipts_total'])}"
                f" ({percent}%)" if percent is not None else _DASH)
    cells = (job["status"], _period(job), _baseline(job), progress, job["author"] or _DASH, moment(job["created_at"]))
    return (f'<tr data-simulation="{job["id"]}"><td class="left"><a href="/console/simulations/{job["id"]}">'
            f"{job['id']}</a></td>{''.join(f'<td class=left>{escape(str(c))}</td>' for c in cells)}</tr>")


def simulations(listing: Mapping[str, Any]) -> str:
    head = "".join(f'<th scope="col" class="left">{name}</th>' for name in _LIST_COLUMNS)
    rows = "".join(_listed(job) for job in listing["simulations"]) or (
        f'<tr><td colspan="{len(_LIST_COLUMNS)}" class="left">No simulations yet: simulate a draft from a '
        "campaign's editor.</td></tr>")
    more = (f'<p><a href="/console/simulations?cursor={escape(listing["next_cursor"])}">Older simulations</a></p>'
            if listing["next_cursor"] else "")
    return layout("Simulations", f'<table class="wide"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
                                 f"{more}", "/console/simulations")
