"""Rendering `consent-pipeline explain` for a terminal: short lines that stay readable when they wrap."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape


def _t(value: Any) -> str:
    if value is None:
        return "-"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _allowed(value: Any) -> str:
    if value is None:
        return ""
    return "[green]allowed[/green]" if value else "[red]not allowed[/red]"


def render(data: dict[str, Any], console: Console | None = None) -> None:
    c = console or Console(highlight=False)
    c.print(f"[bold]{escape(data['contact_point'])}[/bold]")
    if not data["known"]:
        c.print("not found in the warehouse")
        return
    owner = data.get("owner")
    if owner:
        household = f", household {owner['household_id']}" if owner.get("household_id") else ""
        c.print(
            f"owner: {owner['party_id']} ({owner.get('party_type') or '?'}, region {owner.get('region') or '?'}"
            f"{household}), by rule [bold]{owner['rule']}[/bold]"
        )
    others = [p for p in data.get("associated_parties", []) if not owner or p != owner["party_id"]]
    if others:
        c.print(f"also associated with {', '.join(others)}: their opt-outs apply here, their opt-ins do not")
    c.print()
    c.print("[bold]Keys[/bold] (channel / purpose / brand): state, since, source -> permission")
    for k in data["keys"]:
        reason = f" ({k['reason']})" if k.get("reason") else ""
        c.print(
            f"  {k['channel']} / {k['purpose']} / {k['brand']}: {k['status']} ({k['basis']}), "
            f"since {_t(k['event_ts'])}, {k['source']} -> {_allowed(k.get('allowed'))}{reason}"
        )
    for k in data.get("permissions_without_state", []):
        c.print(
            f"  {k['channel']} / {k['purpose']} / {k['brand']}: no state -> {_allowed(k['allowed'])} ({k['reason']})"
        )
    c.print()
    c.print("[bold]Events[/bold], oldest first (event time, received, source file:record, scope as given)")
    for e in data["events"]:
        scope = f"{e['scope_channel']} / {e['scope_purpose']} / {e['scope_brand']}"
        who = f", party {e['party_id']}" if e["party_level"] else ""
        # The source gave no usable time: the event took effect when its delivery was received.
        when = (
            f"{_t(e['event_ts'])} (estimated: no usable source time)"
            if e.get("event_ts_estimated")
            else _t(e["event_ts"])
        )
        c.print(
            f"  {when}  {e['status']} ({e['basis']}) {scope}{who}\n"
            f"      received {_t(e['received_ts'])} from {escape(str(e['source_file']))}:{e['source_record']}; "
            f"took effect on {e['keys_decided']} of {e['keys']} keys, decides {e['keys_current']} now"
        )
