"""The Messages page's callbacks.

- Filters → one state (`STATE`), mirrored into the URL and the export links; reset and a range dragged on the rate
  plot set the controls.
- The grid uses AG Grid's infinite row model: it asks for blocks of 100 rows and keeps at most four; the browser
  adds the (time, id) of the nearest loaded row above the block (assets/ui/messages_page.js), and the server reads
  that block by keyset (`MessageStore.page`), never by OFFSET. A million rows scroll with 400 in the browser.
- Live mode polls `MessageStore.live` every 2 s; new rows, when followed, reload the cached blocks (the new ones
  flash), otherwise a "N new" badge counts them. Query mode bounds the time and does not poll.
- Status bar (matching rows, a counter per severity, the query time), rate plot, consumer health.
- The inspector, and acknowledgements (one, or all up to the newest counted; `messages.manage`, audited).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dash import ClientsideFunction, Input, Output, ctx, html, no_update
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from auth.actions import UserError, guarded_callback
from auth.shapes import In, St, boolean, clicks, integer, list_of, or_reset, record, text
from callbacks.alarms import push_badge
from callbacks.notify import notify
from components import messages_page as ui
from viewmodels import message_query as mq

log = logging.getLogger("runcontrol.messages")

TEXT = text(mq.TEXT_MAX + 50)
STATE_SHAPE = or_reset(record(max_bytes=20_000))
ANCHOR = record({"index": integer(0), "time": text(64), "id": integer(0)})
REQUEST_SHAPE = record({"start": integer(0, 10**9), "end": integer(0, 10**9), "anchor": ANCHOR, "n": integer()})
LIVE_SHAPE = or_reset(record({"cursor": text(100_000), "top": integer(0), "prev": integer(0), "pending": integer(0)},
                             max_bytes=110_000))
OPEN_SHAPE = or_reset(record({"id": integer(0), "n": integer()}))
MAX_BLOCK = 500
MAX_SKIP = 20_000  # rows a block request may skip when no anchor is loaded (the grid normally gives one)
LIVE_LIMIT = 500
ALARMS = ("ERROR", "FATAL")
_LOUDNESS = {"ok": "text-body-secondary", "warn": "text-warning-emphasis", "error": "text-danger"}


def _now() -> datetime:
    return datetime.now(UTC)


def _filter(state_data):
    """(QueryState, MessageFilter) of the page's state store; the filter is None when the time range is bad."""
    state = mq.state_from_dict(state_data)
    try:
        return state, mq.to_filter(state, _now())
    except ValueError:
        return state, None


def fetch_block(store, flt, start: int, end: int, anchor: dict | None):
    """(messages of rows [start, end), the index of the last row when the end was reached, else None)."""
    size = max(0, min(end - start, MAX_BLOCK))
    before, first = None, 0
    if anchor and anchor.get("index") is not None and anchor["index"] < start and anchor.get("time"):
        try:
            moment = datetime.fromisoformat(anchor["time"])
            before, first = (moment, int(anchor["id"])), anchor["index"] + 1
        except (ValueError, TypeError, KeyError):
            before, first = None, 0
    skip = start - first
    if skip > MAX_SKIP:
        raise UserError("scroll back up: this part of the table is too far from the rows loaded")
    rows = store.page(flt, before=before, limit=size, offset=skip)
    last = start + len(rows) if len(rows) < size else None
    return rows, last


def register(app, services) -> None:
    store, audit = services.messages, services.audit

    # -- filters ⇄ state ⇄ URL -------------------------------------------------------------------------------

    field_inputs = [In(ui.FIELDS[k], "value", TEXT) for k in mq.FIELD_FILTERS]

    @guarded_callback(
        app, audit,
        Output(ui.STATE, "data"),
        Output(ui.URL_SYNC, "data"),
        Output(ui.EXPORT_CSV, "href"),
        Output(ui.EXPORT_JSONL, "href"),
        Output(ui.FILTER_ERROR, "children"),
        Output(ui.RANGE, "disabled"),
        Output(ui.START, "disabled"),
        Output(ui.END, "disabled"),
        In(ui.MODE, "value", text(10, choices=mq.MODES)),
        In(ui.RANGE, "value", text(10, choices=mq.PRESET_LABELS)),
        In(ui.START, "value", text(60)),
        In(ui.END, "value", text(60)),
        In(ui.SEVERITY, "value", list_of(text(16, choices=mq.SEVERITY_CHOICES), 10)),
        In(ui.KIND, "value", list_of(text(16, choices=mq.KINDS), 10)),
        *field_inputs,
        In(ui.TEXT, "value", TEXT),
        In(ui.TEXT_EXCLUDE, "value", TEXT),
        prevent_initial_call=True,
    )
    def filters_changed(mode, rng, start, end, severities, kinds, *rest):
        texts = dict(zip([*mq.FIELD_FILTERS, "text", "text_exclude"], rest, strict=True))
        state = mq.make_state(mode=mode, range=rng, start=start, end=end, severities=severities or [],
                              kinds=kinds or [], **texts)
        query, custom = state.mode == "query", state.range == "custom"
        disabled = (not query, not (query and custom), not (query and custom))
        problems = []
        if severities == []:
            problems.append("No severity ticked: every severity is shown.")
        try:
            mq.to_filter(state, _now())
        except ValueError as exc:
            return (no_update, no_update, no_update, no_update, str(exc), *disabled)
        allowed = current_user.can("messages.manage")
        csv_href = mq.export_href(state, "csv") if allowed else None
        jsonl_href = mq.export_href(state, "jsonl") if allowed else None
        return (mq.state_to_dict(state), mq.query_from_state(state), csv_href, jsonl_href, " ".join(problems),
                *disabled)

    app.clientside_callback(ClientsideFunction("rcMessages", "url"), Output(ui.URL_SYNC, "id"),
                            Input(ui.URL_SYNC, "data"))
    app.clientside_callback(ClientsideFunction("rcMessages", "purge"), Output(ui.GRID, "id"),
                            Input(ui.STATE, "data"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("rcMessages", "refresh"), Output(ui.REFRESH, "id"),
                            Input(ui.REFRESH, "data"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("rcMessages", "request"), Output(ui.REQUEST, "data"),
                            Input(ui.GRID, "getRowsRequest"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("rcMessages", "open"), Output(ui.OPEN, "data"),
                            Input(ui.GRID, "cellDoubleClicked"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("rcMessages", "sound"), Output(ui.SOUND, "id"),
                            Input(ui.SOUND, "value"))

    controls = [
        Output(ui.MODE, "value"), Output(ui.RANGE, "value"), Output(ui.START, "value"), Output(ui.END, "value"),
        Output(ui.SEVERITY, "value"), Output(ui.KIND, "value"),
        *[Output(ui.FIELDS[k], "value") for k in mq.FIELD_FILTERS],
        Output(ui.TEXT, "value"), Output(ui.TEXT_EXCLUDE, "value"),
    ]

    @guarded_callback(
        app, audit,
        *controls,
        In(ui.RESET, "n_clicks", clicks),
        In(ui.PLOT, "relayoutData", or_reset(record(max_bytes=5_000))),
        prevent_initial_call=True,
    )
    def set_controls(_reset, relayout):
        if ctx.triggered_id == ui.RESET:
            d = mq.QueryState()
            return (d.mode, d.range, "", "", list(d.severities), list(mq.KINDS),
                    *["" for _ in mq.FIELD_FILTERS], "", "")
        dragged = mq.range_from_relayout(relayout)
        if dragged is None:
            return (no_update,) * len(controls)
        return ("query", "custom", dragged[0], dragged[1], *(no_update,) * (len(controls) - 4))

    # -- the grid's blocks -------------------------------------------------------------------------------------

    @guarded_callback(
        app, audit,
        Output(ui.GRID, "getRowsResponse"),
        In(ui.REQUEST, "data", or_reset(REQUEST_SHAPE)),
        St(ui.STATE, "data", STATE_SHAPE),
        St(ui.LIVE, "data", LIVE_SHAPE),
        prevent_initial_call=True,
    )
    def rows_block(request, state_data, live):
        if not request or request.get("start") is None or request.get("end") is None:
            return no_update
        state, flt = _filter(state_data)
        if flt is None:
            return {"rowData": [], "rowCount": 0}
        try:
            found, last = fetch_block(store, flt, request["start"], request["end"], request.get("anchor"))
            acked = services.acks.acks_for([m.id for m in found if m.severity in ALARMS]) if found else {}
        except SQLAlchemyError:
            log.warning("messages page: the message store failed", exc_info=True)
            notify("Messages", "The message store is unreachable: rows could not be read.", "danger")
            return {"rowData": [], "rowCount": request["start"]}
        prev = (live or {}).get("prev") if state.mode == "live" and request["start"] == 0 else None
        rows = [mq.grid_row(m, acked=m.id in acked, fresh=prev is not None and m.id > prev) for m in found]
        response = {"rowData": rows}
        if last is not None:
            response["rowCount"] = last
        return response

    # -- live ---------------------------------------------------------------------------------------------------

    @guarded_callback(
        app, audit,
        Output(ui.REFRESH, "data"),
        Output(ui.LIVE, "data"),
        Output(ui.NEW, "children"),
        In(ui.TICK, "n_intervals", clicks),
        In(ui.STATE, "data", STATE_SHAPE),
        In(ui.FOLLOW, "value", boolean),
        St(ui.LIVE, "data", LIVE_SHAPE),
        running=[(Output(ui.TICK, "disabled"), True, False)],
    )
    def live_poll(_ticks, state_data, follow, live):
        state, flt = _filter(state_data)
        if state.mode != "live" or flt is None:
            return no_update, None, ""
        trigger = ctx.triggered_id
        try:
            if live is None or trigger == ui.STATE or "cursor" not in live:
                # the cursor first, then the grid's first block: a row in between comes twice, never zero times
                return no_update, {"cursor": store.live(None, flt, 0)[1], "top": store.latest_id(), "prev": None,
                                   "pending": 0}, ""
            found, cursor = store.live(live["cursor"], flt, LIVE_LIMIT)
        except ValueError:  # a cursor from an older server: start again
            return no_update, None, ""
        except SQLAlchemyError:
            log.warning("messages page: live poll failed", exc_info=True)
            return no_update, no_update, "store unreachable"
        pending = int(live.get("pending") or 0) + len(found)
        top = max([live.get("top") or 0, *(m.id for m in found)])
        if follow is False:
            return no_update, {**live, "cursor": cursor, "pending": pending}, (f"{pending:,} new" if pending else "")
        if pending == 0:
            moved = {**live, "cursor": cursor}
            return no_update, (moved if moved != live else no_update), ""
        signal = {"n": time.time_ns(), "new": pending}
        return signal, {"cursor": cursor, "top": top, "prev": live.get("top"), "pending": 0}, ""

    # -- status bar, plot, consumer health ---------------------------------------------------------------------

    @guarded_callback(
        app, audit,
        Output(ui.STATUS, "children"),
        Output(ui.HEALTH, "children"),
        In(ui.STATE, "data", STATE_SHAPE),
        In(ui.REFRESH, "data", or_reset(record())),
    )
    def status(state_data, _refresh):
        now = _now()
        _state, flt = _filter(state_data)
        health, loudness = mq.consumer_health(_safe_status(services), now)
        health_span = html.Span(health, className=_LOUDNESS[loudness])
        if flt is None:
            return "", health_span
        started = time.perf_counter()
        try:
            counts, exact = store.counters(flt)
        except SQLAlchemyError:
            log.warning("messages page: counters failed", exc_info=True)
            return html.Span("the message store is unreachable", className="text-danger"), health_span
        took = (time.perf_counter() - started) * 1000
        total = sum(counts.values())
        chips = ui.severity_chips(mq.severity_chips(counts))
        # A filter the rollup cannot answer (text, emitter, host...) is counted over the newest rows only.
        matching = " matching · " if exact else " newest matching counted (there are more) · "
        bar = [html.Strong(f"{'' if exact else '≥ '}{total:,}", id=ui.P + "total"), matching, *chips,
               html.Span(f"· query {took:.0f} ms · {now:%H:%M:%S} UTC", className="text-body-secondary")]
        return html.Span(bar), health_span

    @guarded_callback(
        app, audit,
        Output(ui.PLOT, "figure"),
        In(ui.STATE, "data", STATE_SHAPE),
        In(ui.PLOT_TICK, "n_intervals", clicks),
    )
    def plot(state_data, _ticks):
        state, flt = _filter(state_data)
        if flt is None:
            return no_update
        now = _now()
        since, until = flt.since, flt.until
        if since is None:  # live: the last hour
            since = now - timedelta(hours=1)
            flt = replace(flt, since=since)
        secs = mq.bucket_secs(since, until, now)
        try:
            buckets, exact = store.rate_counts(flt, secs)
        except SQLAlchemyError:
            log.warning("messages page: rate plot failed", exc_info=True)
            return no_update
        figure = mq.rate_figure(buckets, secs, since, until or now)
        if not exact:  # the newest rows only: say so rather than draw a drop that is not there
            figure["layout"]["title"] = {"text": "newest matching messages only", "font": {"size": 10}}
            figure["layout"]["margin"]["t"] = 24
        return figure

    # -- inspector and acknowledgements ------------------------------------------------------------------------

    @guarded_callback(
        app, audit,
        Output(ui.INSPECTOR, "is_open"),
        Output(ui.INSPECTOR_BODY, "children"),
        Output(ui.COPY_TEXT, "children"),
        Output(ui.SELECTED, "data"),
        Output(ui.ACK_ONE, "disabled"),
        Output(ui.ACK_INFO, "children"),
        In(ui.OPEN, "data", OPEN_SHAPE),
        prevent_initial_call=True,
    )
    def inspect(opened):
        if not opened or opened.get("id") is None:
            return (no_update,) * 6
        m = store.get(opened["id"])
        if m is None:
            return (True, html.Div("This message is no longer stored (pruned by retention).",
                                   className="text-body-secondary"), "", None, True, "")
        body = ui.inspector_body(mq.inspector_fields(m), m.text, mq.ers_chain(m), _details_text(m))
        copy = json.dumps(mq.message_record(m), ensure_ascii=False, indent=2)
        ack = services.acks.acks_for([m.id]).get(m.id)
        can_ack = m.severity in ALARMS and ack is None and current_user.can("messages.manage")
        return True, body, copy, m.id, not can_ack, _ack_text(m, ack)

    @guarded_callback(
        app, audit,
        Output(ui.ACK_INFO, "children", allow_duplicate=True),
        Output(ui.ACK_ONE, "disabled", allow_duplicate=True),
        Output(ui.REFRESH, "data", allow_duplicate=True),
        In(ui.ACK_ONE, "n_clicks", clicks),
        St(ui.SELECTED, "data", integer(0)),
        permission="messages.manage",
        action="messages.acknowledge",
        describe=lambda _n, selected: (f"message {selected}", None),
        prevent_initial_call=True,
    )
    def acknowledge_one(note, clicks_, selected):
        if not clicks_:
            note.skip = True
            return no_update, no_update, no_update
        if selected is None:  # a click is an attempt: refused (and audited), never silently dropped
            raise UserError("Open a message first: nothing was acknowledged.")
        m = store.get(selected)
        if m is None:
            raise UserError(f"message {selected} is no longer stored")
        if m.severity not in ALARMS:
            raise UserError("only ERROR and FATAL messages are acknowledged")
        note.target = f"message {m.id}"
        note.arguments = {"severity": m.severity, "text": m.text[:200]}
        services.acks.acknowledge([m.id], current_user.name)
        ack = services.acks.acks_for([m.id]).get(m.id)
        push_badge(services)
        notify("Acknowledged", f"message {m.id} ({m.severity})", "success")
        return _ack_text(m, ack), True, {"n": time.time_ns()}

    @guarded_callback(
        app, audit,
        Output(ui.ACK_MODAL, "is_open"),
        Output(ui.ACK_MODAL_TEXT, "children"),
        Output(ui.ACK_UPTO, "data"),
        Output(ui.ACK_YES, "disabled"),
        In(ui.ACK_ALL, "n_clicks", clicks),
        In(ui.ACK_NO, "n_clicks", clicks),
        prevent_initial_call=True,
    )
    def confirm_ack_all(_open, _cancel):
        if ctx.triggered_id == ui.ACK_NO:
            return False, no_update, None, no_update
        # By id (what was stored when the operator was asked), not by message time: times are the senders' clocks
        # (an ERS issue's in ns, a broadcast's Kafka timestamp in ms, hosts' clocks apart), so a time bound could
        # leave a counted alarm unacknowledged or take one that arrived later. On PostgreSQL an id taken before
        # this read can still commit just after it (a window of milliseconds): that alarm is taken too.
        upto = store.latest_id()
        count = services.acks.unacknowledged_count()
        if count == 0:
            return True, "There is no unacknowledged ERROR or FATAL message.", None, True
        word = "message" if count == 1 else "messages"
        return (True, f"Acknowledge {count:,} unacknowledged ERROR and FATAL {word}, up to message {upto}? "
                      "Messages arriving after this are not included.", upto, False)

    @guarded_callback(
        app, audit,
        Output(ui.ACK_MODAL, "is_open", allow_duplicate=True),
        Output(ui.REFRESH, "data", allow_duplicate=True),
        In(ui.ACK_YES, "n_clicks", clicks),
        St(ui.ACK_UPTO, "data", integer(0)),
        permission="messages.manage",
        action="messages.acknowledge_all",
        describe=lambda _n, upto: (f"alarms up to message {upto}", None),
        prevent_initial_call=True,
    )
    def acknowledge_all(note, clicks_, upto):
        if not clicks_:
            note.skip = True
            return no_update, no_update
        if upto is None:  # the confirmation lost what it counted (a stale page): refuse, audited
            raise UserError("Nothing to acknowledge: open the confirmation again.")
        count = services.acks.acknowledge_stored(upto, current_user.name)
        note.target = f"alarms up to message {upto}"
        note.arguments = {"acknowledged": count}
        push_badge(services)
        notify("Acknowledged", f"{count:,} ERROR and FATAL messages acknowledged", "success")
        return False, {"n": time.time_ns()}


def _safe_status(services):
    try:
        return services.messages.status()
    except SQLAlchemyError:
        return None


def _details_text(m) -> str:
    if not m.details:
        return ""
    return json.dumps(m.details, ensure_ascii=False, indent=2, sort_keys=True)[:20_000]


def _ack_text(m, ack) -> str:
    if m.severity not in ALARMS:
        return "not an alarm (only ERROR and FATAL are acknowledged)"
    if ack is None:
        return "not acknowledged"
    who, when = ack
    return f"acknowledged by {who} at {mq.stamp(when)} UTC"

