"""The readable (rich) view of a system profile, printed by ``doohickey discover`` without ``--json``."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from doohickey.discover.profile import EntityProfile, Evidence, SystemProfile


def _conf(value: float) -> Text:
    style = "green" if value >= 0.8 else "yellow" if value >= 0.5 else "red"
    return Text(f"{value:.2f}", style=style)


def _evidence(items: list[Evidence], limit: int = 2) -> str:
    return "; ".join(f"{e.where}" + (f" ({e.detail})" if e.detail else "") for e in items[:limit])


def entity_table(ent: EntityProfile) -> Table:
    """One entity: its operations and how to read it incrementally."""
    table = Table(title=f"{ent.name}  (confidence {ent.confidence:.2f})", title_justify="left", show_lines=False,
                  expand=False)
    table.add_column("what")
    table.add_column("found")
    table.add_column("conf", justify="right")
    table.add_column("evidence", overflow="fold", max_width=60)
    for kind in ("list", "get", "create", "update", "delete"):
        op = ent.operations.get(kind)
        if op is None:
            table.add_row(kind, Text("-", style="dim"), "", "")
            continue
        label = f"{op.method} {op.path}" + (" [list body]" if op.batch else "")
        table.add_row(kind, label, _conf(op.confidence), op.operation_id)
    table.add_row("id field", ent.id_field, _conf(ent.id_confidence), "")
    if ent.poll:
        table.add_row("poll on", f"?{ent.poll.param}= -> {ent.poll.field or '?'}", _conf(ent.poll.confidence),
                      _evidence(ent.poll.evidence))
    else:
        table.add_row("poll on", Text("no updated-since filter: full reads only", style="yellow"), "", "")
    pag = ent.pagination
    if pag.style != "none":
        detail = ", ".join(x for x in (pag.page_param and f"page={pag.page_param}",
                                       pag.size_param and f"size={pag.size_param}",
                                       pag.offset_param and f"offset={pag.offset_param}",
                                       pag.cursor_param and f"cursor={pag.cursor_param}",
                                       pag.max_size and f"max {pag.max_size}") if x)
        table.add_row("pagination", f"{pag.style} ({detail})" + (f" also {', '.join(pag.also)}" if pag.also else ""),
                      _conf(pag.confidence), _evidence(pag.evidence, 1))
    else:
        table.add_row("pagination", Text("none found", style="yellow"), "", "")
    if ent.records_path:
        table.add_row("records at", ent.records_path, "", "")
    table.add_row("fields", f"{len(ent.fields)} read, {len(ent.write_fields)} write"
                  + (f" ({ent.write_schema})" if ent.write_schema else ""), "", "")
    for hint in ent.enums[:3]:
        table.add_row("enum", f"{hint.field}: {', '.join(map(str, hint.values[:8]))}", "", "")
    return table


def render(profile: SystemProfile, console: Console | None = None) -> None:
    """Print the profile for a person: summary, entities, auth, webhooks, limits, warnings."""
    console = console or Console()
    stats = profile.stats
    head = Text.assemble((profile.title or "API", "bold"), f"  {profile.spec_format}",
                         f"  {stats.paths} paths, {stats.operations} operations, {stats.schemas} schemas,"
                         f" {stats.files} file(s), read in {stats.seconds:.2f} s")
    servers = ", ".join(s.url for s in profile.servers) or "none declared (give the connection's url)"
    console.print(Panel(Group(head, Text(f"servers: {servers}"), Text("sources: " + ", ".join(profile.sources)))))
    if not profile.entities:
        console.print(Text("No business entities recognised.", style="yellow"))
    for ent in sorted(profile.entities.values(), key=lambda e: -e.confidence):
        console.print(entity_table(ent))
    if profile.other_resources:
        console.print(f"[dim]other resources:[/dim] {', '.join(profile.other_resources[:40])}")
    _auth(profile, console)
    _webhooks(profile, console)
    if profile.rate_limits:
        console.print("[bold]rate limits[/bold]")
        for hint in profile.rate_limits[:8]:
            console.print(f"  {hint.kind}: {hint.detail}" + (f"  (x{hint.count})" if hint.count > 1 else "")
                          + f"  [dim]{_evidence(hint.evidence, 1)}[/dim]")
    else:
        console.print("[bold]rate limits[/bold]: none declared (check the vendor's docs)")
    for warning in profile.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


def _auth(profile: SystemProfile, console: Console) -> None:
    console.print("[bold]auth[/bold]" + ("" if profile.auth else ": none declared"))
    for scheme in profile.auth:
        where = {"apiKey": f"API key in {scheme.location} {scheme.param_name}",
                 "http": f"HTTP {scheme.scheme}", "oauth2": "OAuth2 " + ", ".join(f.kind for f in scheme.flows),
                 "openIdConnect": f"OpenID Connect {scheme.openid_url}"}.get(scheme.type, scheme.type)
        console.print(f"  {scheme.name}: {where}" + (" [required]" if scheme.required else "")
                      + f"  conf {scheme.confidence:.2f}")
        scopes = sorted({s for f in scheme.flows for s in f.scopes} | {h.scope for h in scheme.scope_hints})
        if scopes:
            console.print(f"    scopes: {', '.join(scopes[:20])}" + (" ..." if len(scopes) > 20 else ""))


def _webhooks(profile: SystemProfile, console: Console) -> None:
    hooks = profile.webhooks
    if not hooks.topics and not hooks.subscribe:
        console.print("[bold]webhooks[/bold]: none declared (poll on the updated-since filters)")
        return
    line = "[bold]webhooks[/bold]:"
    if hooks.subscribe:
        line += f" subscribe with {hooks.subscribe.method} {hooks.subscribe.path}"
        line += f" (topic field {hooks.topic_field})" if hooks.topic_field else ""
    console.print(line)
    topics = [t.topic for t in hooks.topics]
    if topics:
        console.print(f"  {len(topics)} topics: {', '.join(topics[:15])}" + (" ..." if len(topics) > 15 else ""))
