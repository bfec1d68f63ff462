"""The journeys pages' data: the list with counts, one journey as a flow with per-step counts, the editor.

The flow's layout and counts are the domain's (``journey_flow``); this module reads what they
need from the store and turns rows and columns into the pixel positions the page draws at, so
the drawing needs no script and its JSON carries the same nodes, edges and counts.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson

from loopline.actions.journeys import JourneyNotFound, JourneyRejected, get_journey
from loopline.console.web import ConsoleError, instant_text
from loopline.domain.journey_flow import END, TRIGGER, Counts, Flow, Recorded, counts_of, flow_of
from loopline.domain.journey_templates import JourneyTemplate, templates
from loopline.domain.journeys import JourneyDefinition
from loopline.services import Services
from loopline.store.sql.journeys import JourneyRow, JourneyTally

# The drawing's grid: each node is a box of NODE_WIDTH × NODE_HEIGHT pixels in a cell with gaps around it.
NODE_WIDTH, NODE_HEIGHT, GAP_X, GAP_Y = 230, 118, 30, 56
# The moves a person may make from the page, as do_set_journey_status's statuses.
MOVES = {"active": "Activate", "paused": "Pause", "archived": "Archive"}
ALLOWED_MOVES = {"draft": ("active", "archived"), "active": ("paused", "archived"),
                 "paused": ("active", "archived"), "archived": ()}


def journey_list(services: Services, *, workspace_id: str) -> dict[str, Any]:
    """Return the workspace's journeys, newest first, with status, trigger and enrolment counts."""
    rows = services.journeys.in_workspace(workspace_id=workspace_id)
    tallies = services.journeys.step_tally(workspace_id=workspace_id, journey_ids=[row.id for row in rows])
    names = _segment_names(services, workspace_id)
    items = []
    for row in rows:
        definition = JourneyDefinition.model_validate(row.definition)
        flow = flow_of(definition, segment_names=names)
        trigger = next(node for node in flow.nodes if node.id == TRIGGER)
        totals = counts_of(flow, _recorded(tallies[row.id])).nodes[TRIGGER]
        items.append({
            "id": row.id, "name": row.name, "status": row.status, "version": row.version,
            "trigger": trigger.lines[0], "goal": definition.goal.event if definition.goal else None,
            "enrolled": totals["enrolled"], "active": totals["active"],
            "completed": totals["completed"] + totals["exited"], "converted": totals["converted"],
            "updated_at": instant_text(row.updated_at), "href": f"/console/w/{workspace_id}/journeys/{row.id}",
        })
    return {"workspace_id": workspace_id, "items": items,
            "templates": [{"key": t.key, "name": t.name, "description": t.description} for t in templates({})]}


def journey_view(services: Services, *, workspace_id: str, journey_id: str) -> dict[str, Any]:
    """Return one journey: its flow's nodes (with pixel boxes) and edges, each with its counts."""
    row = journey_row(services, workspace_id, journey_id)
    definition = JourneyDefinition.model_validate(row.definition)
    flow = flow_of(definition, segment_names=_segment_names(services, workspace_id))
    tally = services.journeys.step_tally(workspace_id=workspace_id, journey_ids=[row.id])[row.id]
    counts = counts_of(flow, _recorded(tally))
    data = {
        "id": row.id, "name": row.name, "status": row.status, "version": row.version,
        "goal": definition.goal.event if definition.goal else None,
        "created_at": instant_text(row.created_at), "updated_at": instant_text(row.updated_at),
        "totals": counts.nodes[TRIGGER], "moves": [{"status": status, "label": MOVES[status]}
                                                   for status in ALLOWED_MOVES.get(row.status, ())],
        **_drawing(flow, counts), "definition": row.definition,
    }
    # Through orjson and back: the page's JSON and its template read the same plain values.
    result: dict[str, Any] = orjson.loads(orjson.dumps(data))
    return result


def check_move(status: str, current: str) -> None:
    """Refuse a status the journey cannot move to from where it is, with 409 (or 400 when unknown)."""
    if status not in MOVES:
        raise ConsoleError(400, "invalid_status", f"status is one of {', '.join(MOVES)}")
    if status not in ALLOWED_MOVES.get(current, ()):
        raise ConsoleError(409, "status_not_allowed", f"a journey that is {current} cannot be set to {status}")


def editor_data(services: Services, *, workspace_id: str, journey_id: str | None = None,
                template: str | None = None) -> dict[str, Any]:
    """Return what the editor shows: a journey's name and definition, a template's, or an empty start."""
    choices = {t.key: t for t in templates({})}
    if journey_id is not None:
        row = journey_row(services, workspace_id, journey_id)
        return _editor(workspace_id, row.name, row.definition, journey_id=row.id, version=row.version)
    if template:
        chosen: JourneyTemplate | None = choices.get(template)
        if chosen is None:
            raise ConsoleError(404, "template_not_found", f"no journey template is called {template!r}")
        return _editor(workspace_id, chosen.name, chosen.definition, template=chosen.key)
    return _editor(workspace_id, "", STARTER)


def editor_problems(workspace_id: str, *, name: str, text: str, error: JourneyRejected | None = None,
                    journey: JourneyRow | None = None, message: str = "") -> dict[str, Any]:
    """Return the editor's data again with the person's input as they sent it, and what is wrong with it."""
    data = _editor(workspace_id, name, None, journey_id=journey.id if journey else None,
                   version=journey.version if journey else None)
    data["definition_text"] = text
    if error is not None:
        data["error"] = {"code": error.code, "message": error.message}
        data["problems"] = error.problems
    else:
        data["error"] = {"code": "invalid_json", "message": message}
        data["problems"] = [{"path": "definition", "message": message}]
    return data


def parse_definition_text(text: str) -> tuple[Any, str]:
    """Return the JSON an editor sent (or None) and, when it is not JSON, why not in words."""
    try:
        return orjson.loads(text), ""
    except orjson.JSONDecodeError as error:
        return None, f"the definition is not valid JSON: {error}"


STARTER: dict[str, Any] = {
    "trigger": {"type": "event", "event": "Signed Up"}, "entry": {"rule": "once"},
    "goal": {"event": "Order Completed"},
    "steps": [{"id": "welcome", "type": "send", "channels": ["email"],
               "content": {"email": {"subject": "Welcome!", "body": "<p>Good to have you with us.</p>"}}}],
}


def _editor(workspace_id: str, name: str, definition: dict[str, Any] | None, *, journey_id: str | None = None,
            version: int | None = None, template: str | None = None) -> dict[str, Any]:
    base = f"/console/w/{workspace_id}/journeys"
    text = orjson.dumps(definition, option=orjson.OPT_INDENT_2).decode() if definition is not None else ""
    return {"workspace_id": workspace_id, "journey_id": journey_id, "version": version, "template": template,
            "name": name, "definition_text": text, "error": None, "problems": [],
            "action": f"{base}/{journey_id}/edit" if journey_id else f"{base}/new",
            "back": f"{base}/{journey_id}" if journey_id else base}


def journey_row(services: Services, workspace_id: str, journey_id: str) -> JourneyRow:
    """Return one journey of the workspace, or answer 404."""
    try:
        return get_journey(services, workspace_id=workspace_id, journey_id=journey_id)
    except JourneyNotFound:
        raise ConsoleError(404, "journey_not_found", "this workspace has no such journey") from None


def _segment_names(services: Services, workspace_id: str) -> dict[str, str]:
    return {row.id: row.name for row in services.segments.in_workspace(workspace_id=workspace_id)}


def _recorded(tally: JourneyTally) -> Recorded:
    return Recorded(positions=tally.positions, sends=tally.sends, moves=tally.moves)


def _drawing(flow: Flow, counts: Counts) -> dict[str, Any]:
    """Return the flow's nodes with their boxes in pixels and its edges as paths, each with its counts."""
    boxes = {node.id: (GAP_X / 2 + node.column * (NODE_WIDTH + GAP_X), GAP_Y / 2 + node.row * (NODE_HEIGHT + GAP_Y))
             for node in flow.nodes}
    nodes = [{**asdict(node), "lines": list(node.lines), "x": boxes[node.id][0], "y": boxes[node.id][1],
              "counts": counts.nodes[node.id], "is_end": node.id.startswith(END)} for node in flow.nodes]
    rows = {node.id: node.row for node in flow.nodes}
    edges = []
    for edge in flow.edges:
        way = "down" if rows[edge.target] > rows[edge.source] else "across" if rows[edge.target] == rows[
            edge.source] else "up"
        path, label_at = _path(boxes[edge.source], boxes[edge.target], way=way)
        edges.append({**asdict(edge), "count": counts.edges[(edge.source, edge.target)], "path": path, "way": way,
                      "label_x": label_at[0], "label_y": label_at[1]})
    return {"flow": {"nodes": nodes, "edges": edges, "columns": flow.columns, "rows": flow.rows,
                     "width": flow.columns * (NODE_WIDTH + GAP_X), "height": flow.rows * (NODE_HEIGHT + GAP_Y),
                     "node_width": NODE_WIDTH, "node_height": NODE_HEIGHT}}


def _path(source: tuple[float, float], target: tuple[float, float], *, way: str) -> tuple[str, tuple[float, float]]:
    """Return an SVG path from one box to another, and where its label goes.

    Down the flow, an edge runs from the bottom of its source to the top of its target. Along
    a row it joins the sides that face each other. Back up the flow (a loop) it leaves by the
    source's right side and comes in by the target's, bowing into the gap beside them.
    """
    (sx, sy), (tx, ty) = source, target
    if way == "down":
        x1, y1, x2, y2 = sx + NODE_WIDTH / 2, sy + NODE_HEIGHT, tx + NODE_WIDTH / 2, ty
        middle = (y1 + y2) / 2
        return f"M{x1:g},{y1:g} C{x1:g},{middle:g} {x2:g},{middle:g} {x2:g},{y2:g}", ((x1 + x2) / 2, middle)
    if way == "across":
        rightwards = tx > sx
        x1 = sx + NODE_WIDTH if rightwards else sx
        x2 = tx if rightwards else tx + NODE_WIDTH
        y = sy + NODE_HEIGHT * 0.75  # below the middle, where a box's text rarely reaches
        return f"M{x1:g},{y:g} L{x2:g},{y:g}", ((x1 + x2) / 2, y)
    x1, y1, x2, y2 = sx + NODE_WIDTH, sy + NODE_HEIGHT / 2, tx + NODE_WIDTH, ty + NODE_HEIGHT / 2
    bow = max(x1, x2) + GAP_X / 2
    return f"M{x1:g},{y1:g} C{bow:g},{y1:g} {bow:g},{y2:g} {x2:g},{y2:g}", (bow, (y1 + y2) / 2)
