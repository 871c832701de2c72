"""`/certificates`: the TLS certificates that expire within N days, soonest first."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from webmon.core.certificates import DEFAULT_WITHIN_DAYS
from webmon.core.errors import Invalid
from webmon.web.common import core, render, viewer

router = APIRouter(include_in_schema=False)


@router.get("/certificates")
async def certificates_page(request: Request) -> Response:
    who = await viewer(request)
    raw = request.query_params.get("days", str(DEFAULT_WITHIN_DAYS))
    error, days, found = None, DEFAULT_WITHIN_DAYS, []
    try:
        days = int(raw) if raw.isdigit() else -1
        found = await core(request).certificates.expiring(days)
    except Invalid as exc:
        error = f"days: {exc.message}"
    return render(request, "certificates.html", who, active="certificates", days=raw,
                  certificates=found, error=error, status=422 if error else 200)  # fmt: skip
