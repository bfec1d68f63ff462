"""Import customers and prospects from CSV: upsert by identifier, per-row errors, resumable.

Each row becomes an ``identify`` message with a deterministic messageId (file digest and
row number), so re-uploading a file or resuming after a crash never duplicates anything:
the event store deduplicates the message and identity resolution upserts the profile.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ulid import ULID

from loopline.actions.ingest import IngestOutcome, IngestPipeline
from loopline.domain.events import EventRecord
from loopline.domain.identity import normalise_email, normalise_phone
from loopline.services import Services

CHUNK_ROWS = 1_000
ID_COLUMNS = {"user_id": "userId", "userid": "userId", "anonymous_id": "anonymousId",
              "anonymousid": "anonymousId"}


class ImportRejected(ValueError):
    """The file as a whole cannot be imported; nothing was stored."""


@dataclass(slots=True)
class ImportReport:
    """How an import went: rows stored, rows refused with the reason, and whether it resumed."""

    import_id: str
    rows_total: int = 0
    rows_imported: int = 0
    rows_failed: int = 0
    resumed_from: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Return the report as the API and CLI show it."""
        return {"id": self.import_id, "rows_total": self.rows_total,
                "rows_imported": self.rows_imported, "rows_failed": self.rows_failed,
                "resumed_from": self.resumed_from, "errors": self.errors[:1000]}


def decode_csv(data: bytes) -> str:
    """Decode CSV bytes: UTF-8 (with or without BOM), falling back to Latin-1 line by line."""
    text_lines = []
    for line in data.splitlines(keepends=True):
        try:
            text_lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            text_lines.append(line.decode("latin-1"))
    return "".join(text_lines).removeprefix("\ufeff")


def _row_message(row: dict[str, str]) -> tuple[dict[str, Any] | None, str | None]:
    ids: dict[str, str] = {}
    traits: dict[str, Any] = {}
    for column, cell in row.items():
        if column is None or cell is None:
            continue
        name, value = column.strip(), cell.strip()
        if not value:
            continue
        target = ID_COLUMNS.get(name.lower())
        if target:
            ids[target] = value
        else:
            traits[name] = value
    if "email" in traits and normalise_email(traits["email"]) is None:
        return None, f"email {traits['email'][:80]!r} is not a valid address"
    if "phone" in traits:
        phone = normalise_phone(traits["phone"])
        if phone is None:
            return None, f"phone {traits['phone'][:40]!r} is not a phone number in international form"
        traits["phone"] = phone
    if not ids:
        key = normalise_email(traits.get("email")) or traits.get("phone")
        if not key:
            return None, "the row has no user_id, anonymous_id, email or phone"
        # Prospects without an account id are keyed by a stable anonymous id from their email
        # or phone, so a later import or sign-up with the same address lands on the same profile.
        ids["anonymousId"] = "import:" + hashlib.sha256(key.encode()).hexdigest()[:24]
    return {"type": "identify", **ids, "traits": traits}, None


def iter_rows(text: str) -> Iterator[dict[str, str]]:
    """Yield CSV rows as dicts keyed by the header; any line ending (CRLF, LF, bare CR) works."""
    yield from csv.DictReader(io.StringIO(text, newline=""))


def do_import_customers(
    services: Services, pipeline: IngestPipeline, *, workspace_id: str, data: bytes,
    filename: str, progress: Any = None,
) -> ImportReport:
    """Import a CSV of customers; resume from the last stored chunk if the file was seen before."""
    if services.workspaces.get_workspace(workspace_id=workspace_id) is None:
        raise ImportRejected(f"there is no workspace {workspace_id[:60]!r}")
    try:
        # The whole file is read before anything is stored, so a file the reader refuses
        # leaves no trace.
        rows = list(iter_rows(decode_csv(data)))
    except csv.Error as error:
        raise ImportRejected(f"the file is not valid CSV: {error}") from None
    digest = hashlib.sha256(data).hexdigest()
    state = services.privacy.start_import(
        import_id="im_" + str(ULID()).lower(), workspace_id=workspace_id, file_sha256=digest,
        filename=filename[:300], now=services.clock.now(),
    )
    report = ImportReport(state.id, rows_total=len(rows), resumed_from=state.rows_done)
    report.errors = list(state.errors)
    report.rows_failed = state.rows_failed
    for start in range(state.rows_done, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        records: list[EventRecord] = []
        for offset, row in enumerate(chunk):
            number = start + offset + 2  # header is line 1
            message, problem = _row_message(row)
            if message is None:
                report.errors.append({"row": number, "message": problem})
                report.rows_failed += 1
                continue
            message["messageId"] = f"import-{digest[:20]}-{number}"
            prepared, outcome = pipeline.prepare(
                workspace_id=workspace_id, payload=message, kind="identify",
                received_at=services.clock.now(),
            )
            for problem_found in outcome.errors:
                report.errors.append({"row": number, "message": problem_found.message})
                report.rows_failed += 1
            records.extend(prepared)
        pipeline.commit_sync([_as_import(r) for r in records], IngestOutcome())
        services.privacy.advance_import(
            import_id=state.id, rows_done=start + len(chunk), rows_failed=report.rows_failed,
            errors=report.errors[:1000], now=services.clock.now(),
        )
        if progress is not None:
            progress(len(chunk))
    services.privacy.finish_import(import_id=state.id, now=services.clock.now())
    report.rows_imported = report.rows_total - report.rows_failed
    return report


def _as_import(record: EventRecord) -> EventRecord:
    return replace(record, source="import")
