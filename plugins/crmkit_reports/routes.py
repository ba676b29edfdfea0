"""The reports plugin's HTTP routes (``crmkit serve``): KPIs as JSON and the HTML report.

Imported only by the ``crmkit_routes`` hook, so FastAPI is needed only where the API is served.
Reports cover every customer, so they need ``reports.read`` (managers and analysts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from crmkit_api.toolkit import Caller, caller, jsonable

router = APIRouter(prefix="/reports", tags=["reports"])
AsOf = Annotated[datetime | None, Query(description="Report as of this time (default: the CRM's)")]


@router.get("/kpis", summary="Every KPI as of a date, with the previous period")
def kpis(c: Caller = Depends(caller), as_of: AsOf = None) -> dict:
    """The report's KPIs as JSON, as of a date."""
    with c.session("reports.read") as crm:
        return jsonable(crm.reports.kpis(as_of=as_of))


@router.get("/html", response_class=HTMLResponse, summary="The whole report as one self-contained HTML page")
def html(c: Caller = Depends(caller), as_of: AsOf = None) -> str:
    """The whole report as one self-contained HTML page."""
    with c.session("reports.read") as crm:
        return crm.reports.build(as_of=as_of).to_html()
