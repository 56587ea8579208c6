"""The console's pages: pure HTML from plain data, on the report page's layout, style and formatters.

Everything that comes from data is escaped. The pages run no script: each action is a plain form, and every
form that changes something POSTs with the CSRF token of the key that loaded it (`csrf.FIELD`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from app.core.text import amount, count
from app.reports import page
from app.reports.page import moment

from .csrf import FIELD

Data = Mapping[str, Any]
Errors = Sequence[Mapping[str, str]]

_NAV = (("/console", "Campaigns"), ("/console/templates", "New from a template"), ("/console/history", "History"),
        ("/console/simulations", "Simulations"), ("/reports", "Reports"))
_STYLE = """<style>
nav.console{display:flex;gap:20px;border-bottom:1px solid var(--line);padding-bottom:10px;margin-bottom:8px}
nav.console a{color:#1d4ed8;text-decoration:none;font-weight:600}
nav.console a[aria-current]{color:var(--ink)}
.editor+h2,section+h2{margin-top:28px}
form.console label{display:block;font-weight:600;margin-top:12px}
form.console .hint{display:block;font-size:12px;color:var(--muted);font-weight:400}
form.console input[type=text],form.console input[type=number]{width:420px;padding:4px 6px;font:inherit}
form.console input[type=number]{width:160px}
form.console button{display:block}
form.console .actions{display:flex;gap:12px}
form.console .actions button{display:inline-block}
fieldset.simulate{margin-top:14px;border:1px solid var(--line);border-radius:8px;display:flex;gap:16px;flex-wrap:wrap}
fieldset.simulate legend{font-weight:600;padding:0 4px}
fieldset.simulate label{margin-top:0}
form.console fieldset.simulate input[type=text]{width:120px}
form.console input[type=date]{padding:3px 6px;font:inherit}
textarea{width:100%;font:13px/1.4 ui-monospace,Menlo,Consolas,monospace;padding:8px}
button{margin-top:14px;padding:6px 16px;font:inherit;font-weight:600}
.errors{color:#b91c1c;background:#fef2f2;border:1px solid #fecaca;border-radius:8px;padding:8px 14px}
.errors code{font-weight:700}
.editor{display:grid;grid-template-columns:2fr 1fr;gap:24px;align-items:start}
.wide th.left,.wide td.left,.wide thead th.left{text-align:left;white-space:normal}
th .hint{font-weight:400;color:var(--muted);font-size:12px}
.status-active{color:#15803d;font-weight:600}.status-scheduled{color:#b45309}.status-ended{color:var(--muted)}
pre{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px;overflow-x:auto}
.notice{background:#f0fdf4;border:1px solid #bbf7d0;border-radius:8px;padding:8px 14px}
dl.facts{margin-bottom:16px}
progress{width:420px;height:14px}
.draft h3{margin:16px 0 4px}
</style>"""


def layout(title: str, body: str, current: str = "", head: str = "") -> str:
    """A console page: its navigation, its title and `body`; `head` goes into the document's head."""
    links = "".join(f'<a href="{href}"{" aria-current=page" if href == current else ""}>{escape(label)}</a>'
                    for href, label in _NAV)
    return page.document(f"{title} · console", f'{_STYLE}<nav class="console">{links}</nav>'
                                                f"<h1>{escape(title)}</h1>{body}", head)


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


def post_form(action: str, token: str, content: str, button: str, name: str, simulate: str = "") -> str:
    """A form that POSTs with the key's CSRF token; with `simulate`, a second button beside the first sends the
    same fields there instead (`formaction`: no script)."""
    buttons = f'<button type="submit">{escape(button)}</button>'
    if simulate:
        buttons = (f'<div class="actions">{buttons}<button type="submit" formaction="{escape(simulate)}" '
                   'data-action="simulate">Simulate</button></div>')
    return (f'<form class="console" method="post" action="{escape(action)}" data-form="{name}">'
            f"{_hidden(FIELD, token)}{content}{buttons}</form>")


def simulate_fields(values: Mapping[str, str], prefix: str = "") -> str:
    """The period and the baseline a draft is simulated over (app/console/simulations.py reads them)."""
    inputs = "".join(
        f'<div><label for="{prefix}{name}">{label}<span class="hint">{hint}</span></label>'
        f'<input id="{prefix}{name}" name="{name}" type="{kind}" value="{escape(values.get(name, ""))}"></div>'
        for name, label, kind, hint in (
            ("period_from", "From", "date", "the first day, included"),
            ("period_to", "To", "date", "the last day, included"),
            ("baseline", "Against", "text", "active, or a program version number")))
    return (f'<fieldset class="simulate"><legend>Simulate on the stored receipts of</legend>{inputs}'
            "</fieldset>")


def errors_list(errors: Errors) -> str:
    if not errors:
        return ""
    items = "".join(f'<li data-error-path="{escape(e.get("path", ""))}"><code>{escape(e.get("path", ""))}</code>: '
                    f'{escape(e.get("message", ""))}</li>' for e in errors)
    return (f'<div class="errors" role="alert"><p>Nothing was published or simulated: fix these.</p><ul>{items}</ul>'
            "</div>")


def message(title: str, text: str, status_mark: str) -> str:
    """A page that only says something: a refusal (`data-refused`) or a problem."""
    return layout(title, f'<p class="errors" data-refused="{escape(status_mark)}">{escape(text)}</p>')


# --- campaigns --------------------------------------------------------------------------------------

_CAMPAIGN_COLUMNS = ("Campaign", "Type", "Priority", "Status", "From", "To", "Receipts", "Discount", "Points",
                     "Coupon uses", "Revenue")


def campaigns(rows: Sequence[Data], version: int, period: Data) -> str:
    """Each campaign of the active program with its status and its results over the report period."""
    head = "".join(f'<th scope="col" class="{"left" if i < 4 else ""}">{name}</th>'
                   for i, name in enumerate(_CAMPAIGN_COLUMNS))
    body = "".join(_campaign_row(row) for row in rows) or (
        f'<tr><td colspan="{len(_CAMPAIGN_COLUMNS)}" class="left">No campaigns yet.</td></tr>')
    caption = (f"Program version {version}. Results from {page.long_day(period['from'])} to "
               f"{page.long_day(period['to'])}.")
    return layout("Campaigns", f'<div class="scroll"><table class="wide"><caption>{escape(caption)}</caption>'
                               f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>", "/console")


def _campaign_row(row: Data) -> str:
    results = row["results"]
    cells = (count(results["receipts"]), amount(results["discount"]), amount(results["points"]),
             count(results["coupon_uses"]), amount(results["revenue"]))
    when = [page.long_day(row[side]) if row.get(side) else "—" for side in ("from", "to")]  # days as written
    return (f'<tr data-campaign="{escape(row["id"])}"><th scope="row"><a href="/console/campaigns/'
            f'{escape(row["id"])}">{escape(row["name"])}</a><span class="hint"> {escape(row["id"])}</span></th>'
            f'<td class="left">{escape(row["type"])}</td><td>{row["priority"]}</td>'
            f'<td class="left status-{row["status"]}" data-status>{row["status"]}</td>'
            f"{''.join(f'<td>{escape(w)}</td>' for w in when)}{''.join(f'<td>{c}</td>' for c in cells)}</tr>")


# --- templates --------------------------------------------------------------------------------------


def templates(listing: Sequence[Data]) -> str:
    items = "".join(f'<li data-template="{escape(t["id"])}"><a href="/console/templates/{escape(t["id"])}">'
                    f'{escape(t["name"])}</a> <em>to {escape(t["aim_text"])}</em><br>{escape(t["description"])}</li>'
                    for t in listing)
    return layout("New campaign from a template", f"<ul>{items}</ul>", "/console/templates")


def template_form(template: Data, values: Mapping[str, str], token: str, errors: Errors = ()) -> str:
    """A field for each parameter, filled with what was sent or the default; errors beside the form."""
    fields = "".join(_parameter_field(p, values) for p in template["parameters"])
    form = post_form(f"/console/templates/{template['id']}", token, fields, "Make the campaign", "template")
    intro = f'<p><em>To {escape(template["aim_text"])}.</em> {escape(template["description"])}</p>'
    return layout(template["name"], intro + errors_list(errors) + form, "/console/templates")


def _limits(parameter: Data) -> str:
    said = []
    for key, word in (("minimum", "at least"), ("maximum", "at most"), ("minLength", "characters from"),
                      ("maxLength", "characters up to"), ("minItems", "items from"), ("maxItems", "items up to")):
        if key in parameter:
            said.append(f"{word} {parameter[key]}")
    return ", ".join(said)


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _parameter_field(parameter: Data, values: Mapping[str, str]) -> str:
    name = parameter["name"]
    value = values.get(name, _shown(parameter.get("default")))
    kind = parameter["type"]
    hint = " · ".join(part for part in (
        kind + (" list, comma-separated" if kind == "array" else ""),
        "required" if parameter["required"] else "", _limits(parameter), parameter.get("description", "")) if part)
    attributes = ""
    if kind == "integer":
        attributes = "".join(f' {html}="{parameter[key]}"' for key, html in (("minimum", "min"), ("maximum", "max"))
                             if key in parameter)
    return (f'<label for="p-{escape(name)}">{escape(name)}<span class="hint">{escape(hint)}</span></label>'
            f'<input id="p-{escape(name)}" name="{escape(name)}" type="{"number" if kind == "integer" else "text"}"'
            f'{attributes} value="{escape(value)}">')


# --- the editor -------------------------------------------------------------------------------------


MAIN_FIELDS = (("name", "Name", "text", "shown in reports"),
               ("priority", "Priority", "number", "lower runs first"),
               ("from", "Active from", "text", "ISO date and time with its offset, e.g. 2026-12-20T00:00:00+03:00; "
                                               "blank: from now"),
               ("to", "Active until", "text", "the same; blank: no end"))


def fields_form(campaign_id: str, values: Mapping[str, str], token: str, errors: Errors = ()) -> str:
    """The campaign's main fields as a form; the rest of it is kept as it is. Errors with their paths. Simulate
    sends the same fields, with the period's (`values` holds both)."""
    inputs = "".join(f'<label for="f-{name}">{escape(label)}<span class="hint">{escape(hint)}</span></label>'
                     f'<input id="f-{name}" name="{name}" type="{kind}" value="{escape(values.get(name, ""))}">'
                     for name, label, kind, hint in MAIN_FIELDS)
    inputs += ('<label for="f-note">Note<span class="hint">why: shown in the history</span></label>'
               f'<input id="f-note" name="note" type="text" maxlength="500" value="{escape(values.get("note", ""))}">')
    form = post_form(f"/console/campaigns/{campaign_id}", token, inputs + simulate_fields(values, "f-"),
                      "Publish these fields", "fields", simulate=f"/console/campaigns/{campaign_id}/simulate")
    return f'<div class="editor"><div>{form}</div><div>{errors_list(errors)}</div></div>'


def campaign(campaign_id: str, text: str, values: Mapping[str, str], token: str, period: Mapping[str, str],
             errors: Errors = (), yaml_errors: Errors = ()) -> str:
    """An existing campaign: its main fields as a form (`values`, with the period's fields), and the whole of it
    as YAML below (simulated over `period`); `errors` beside the fields, `yaml_errors` beside the text."""
    return editor(f"Campaign {campaign_id}", text, token, period, yaml_errors,
                  before=page.section("Main fields", fields_form(campaign_id, values, token, errors))
                  + "<h2>All of it as YAML</h2>")


def editor(title: str, text: str, token: str, period: Mapping[str, str], errors: Errors = (), note: str = "",
           before: str = "", notice: str = "") -> str:
    """A campaign as YAML to edit and publish with a note, or to simulate over `period` first; errors with their
    paths beside the text."""
    content = (f'<label for="yaml">Campaign (YAML)</label><textarea id="yaml" name="yaml" rows="24" '
               f'spellcheck="false">{escape(text)}</textarea>'
               f'<label for="note">Note<span class="hint">why: shown in the history</span></label>'
               f'<input id="note" name="note" type="text" maxlength="500" value="{escape(note)}">'
               f"{simulate_fields(period)}")
    form = post_form("/console/publish", token, content, "Publish", "publish", simulate="/console/simulate")
    side = errors_list(errors) or ('<p class="hint">Publishing saves the program with this campaign added, or '
                                   "replacing the campaign of the same id, as a new version. Simulating replays the "
                                   "stored receipts of the period under the program with this campaign, and compares "
                                   "it with the baseline; nothing is published.</p>")
    shown = f'<p class="notice" data-notice>{escape(notice)}</p>' if notice else ""
    return layout(title, f'{shown}{before}<div class="editor"><div>{form}</div><div>{side}</div></div>')


# --- history ----------------------------------------------------------------------------------------

_HISTORY_COLUMNS = ("Version", "Published", "Author", "Note", "Campaigns", "")


def history(listing: Data, notice: str = "") -> str:
    head = "".join(f'<th scope="col" class="left">{name}</th>' for name in _HISTORY_COLUMNS)
    rows = "".join(_version_row(v) for v in listing["versions"])
    more = (f'<p><a href="/console/history?cursor={escape(listing["next_cursor"])}">Older versions</a></p>'
            if listing["next_cursor"] else "")
    compare = ('<form class="console" method="get" action="/console/diff" data-form="compare">'
               '<label for="version">Compare version</label><input id="version" name="version" type="number" min="1">'
               '<label for="against">against version</label><input id="against" name="against" type="number" min="1">'
               '<button type="submit">Compare</button></form>')
    shown = f'<p class="notice" data-notice>{escape(notice)}</p>' if notice else ""
    return layout("Program history", f'{shown}<table class="wide"><thead><tr>{head}</tr></thead><tbody>{rows}'
                                     f"</tbody></table>{more}{compare}", "/console/history")


def _version_row(v: Data) -> str:
    version = v["version"]
    links = f'<a href="/console/history/{version}">view</a>'
    if version > 1:
        links += f' · <a href="/console/diff?version={version}&amp;against={version - 1}">changes</a>'
    active = " (active)" if v["active"] else ""
    return (f'<tr data-version="{version}"><td class="left">{version}{active}</td>'
            f'<td class="left">{escape(moment(v["created_at"]))}</td><td class="left">{escape(v["author"] or "—")}</td>'
            f'<td class="left" data-note>{escape(v["note"] or "")}</td><td class="left">{v["campaigns"]}</td>'
            f'<td class="left">{links}</td></tr>')


def version(number: int, text: str, token: str) -> str:
    content = (f'{_hidden("version", str(number))}<label for="note">Note<span class="hint">why you roll back'
               f'</span></label><input id="note" name="note" type="text" maxlength="500" value="">')
    form = post_form("/console/rollback", token, content, f"Roll back to version {number}", "rollback")
    return layout(f"Program version {number}", f"{form}<h2>Document</h2><pre>{escape(text)}</pre>", "/console/history")


def difference(number: int, against: int, found: Data) -> str:
    """What changed from `against` to `number`: campaigns added, removed, changed by field, and settings."""
    parts = [f'<p>From version {against} to version {number}. <a href="/console/history/{against}">'
             f"Version {against}</a> can be restored from its page.</p>"]
    for key, label in (("added", "Campaigns added"), ("removed", "Campaigns removed")):
        ids = "".join(f"<li>{escape(campaign_id)}</li>" for campaign_id in found[key])
        parts.append(page.section(label, f'<ul data-diff="{key}">{ids}</ul>' if ids else "<p>None.</p>"))
    changed = "".join(f'<h3>{escape(c["id"])}</h3>{_changes(c["changes"])}' for c in found["changed"])
    parts.append(page.section("Campaigns changed", f'<div data-diff="changed">{changed}</div>' if changed
                              else "<p>None.</p>"))
    parts.append(page.section("Settings changed", _changes(found["settings"]) if found["settings"] else "<p>None.</p>"))
    return layout(f"Changes in version {number}", "".join(parts), "/console/history")


def _changes(changes: Sequence[Data]) -> str:
    rows = "".join(f'<tr data-path="{escape(c["path"])}"><th scope="row">{escape(c["path"])}</th>'
                   f'<td class="left">{escape(_json(c["before"]))}</td><td class="left">{escape(_json(c["after"]))}'
                   "</td></tr>" for c in changes)
    return ('<table class="wide"><thead><tr><th class="left">Field</th><th class="left">Before</th>'
            f'<th class="left">After</th></tr></thead><tbody>{rows}</tbody></table>')


def _json(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, ensure_ascii=False)
