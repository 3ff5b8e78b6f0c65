"""``themeflow review``: the local review page (FastAPI, served by uvicorn; both come with Prefect).

Security, because the page holds research data and changes the research record:
- it binds to 127.0.0.1 unless told otherwise, and refuses any Host header that is not local
  (or listed with ``--allow-host``), which defeats DNS-rebinding;
- every state-changing request is a JSON POST carrying the page's CSRF token in a header, and a
  foreign Origin is refused; a cross-site form cannot send either;
- the page has a strict Content-Security-Policy (no external assets at all, inline script and
  style only with a per-response nonce); data is embedded as escaped JSON and inserted with
  ``textContent``, so a transcript containing ``<script>`` is shown, never run;
- only the run's redacted tables are served.

Usage::

    app = create_app(Path("my-study"))
    uvicorn.run(app, host="127.0.0.1", port=8765)
"""

from __future__ import annotations

import hmac
import json
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
)
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.middleware.trustedhost import TrustedHostMiddleware

from pipeline.errors import ThemeflowError
from pipeline.report import TEMPLATES
from pipeline.review.learner import ReviewLearner
from pipeline.review.workspace import Workspace

LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]"]  # IPv6 literals keep their brackets
ACCESS_COOKIE = "themeflow_access"
MAX_BODY = 256 * 1024  # a decision is a few hundred bytes; a 4,000-character note fits easily


def create_app(study_root: Path, run_dir: Path | None = None,
               allowed_hosts: list[str] | None = None, access: str | None = None) -> FastAPI:
    """The review app for one study. The workspace is re-read on each page load, so a rerun of
    the flow shows up on reload without restarting the server. ``access``: a secret every
    request must carry, first as ``?access=`` in the link ``themeflow review`` prints (the
    browser then keeps it in a cookie), so that other accounts on a shared machine, which can
    reach 127.0.0.1 too, can neither read the quotes nor post decisions."""
    token = secrets.token_urlsafe(32)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    app = FastAPI(title="themeflow review", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=LOCAL_HOSTS + (allowed_hosts or []))

    loaded: dict[Path, Workspace] = {}
    learners: dict[Path, ReviewLearner] = {}

    def workspace() -> Workspace:
        """The latest run's workspace; its tables are read once per run, and a new run of the
        flow is picked up on the next request (with a learner of its own)."""
        try:
            run = Workspace.latest_run(study_root, run_dir)
            if run not in loaded:
                loaded.clear()
                learners.clear()
                loaded[run] = Workspace.open(study_root, run)
                learners[run] = ReviewLearner(loaded[run])
            return loaded[run]
        except ThemeflowError as exc:
            raise HTTPException(status_code=409, detail=exc.reason) from exc

    def learner() -> ReviewLearner:
        return learners[workspace().run_dir]

    app.state.learner = learner

    async def guarded_json(request: Request) -> dict[str, Any]:
        """The CSRF guard of every POST: a JSON body, the page's token, no foreign Origin (scheme
        and host), a body of at most ``MAX_BODY`` bytes (never buffered beyond it)."""
        sent = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise HTTPException(status_code=403, detail="missing or wrong CSRF token; reload")
        origin = request.headers.get("origin")
        if origin and origin != f"{request.url.scheme}://{request.headers.get('host')}":
            raise HTTPException(status_code=403, detail="cross-origin request refused")
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise HTTPException(status_code=415, detail="JSON body expected")
        body = await _read_capped(request)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise HTTPException(status_code=400, detail="the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise HTTPException(status_code=400, detail="JSON object expected")
        return data

    @app.middleware("http")
    async def access_guard(request: Request, call_next):  # noqa: ANN001,ANN202
        if access is None:
            return await call_next(request)
        given = request.query_params.get("access")
        if given is not None and hmac.compare_digest(given.encode(), access.encode()):
            answer = RedirectResponse(request.url.path, status_code=303)  # the link, once
            answer.set_cookie(ACCESS_COOKIE, access, httponly=True, samesite="strict")
            return answer
        if hmac.compare_digest(request.cookies.get(ACCESS_COOKIE, "").encode(), access.encode()):
            return await call_next(request)
        return PlainTextResponse("This review page opens only from the link `themeflow review` "
                                 "printed.", status_code=401)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # noqa: ANN001,ANN202
        request.state.nonce = secrets.token_urlsafe(16)
        response = await call_next(request)
        n = request.state.nonce
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'nonce-{n}'; style-src 'nonce-{n}'; "
            "connect-src 'self'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> HTMLResponse:
        ws = workspace()
        html = env.get_template("review.html.j2").render(
            study=ws.study.root.name, data=ws.page_data(), csrf=token, nonce=request.state.nonce)
        return HTMLResponse(html)

    @app.get("/api/data")
    def data() -> JSONResponse:
        return JSONResponse(workspace().page_data())

    @app.post("/api/decisions")
    async def decide(request: Request) -> JSONResponse:
        body = await guarded_json(request)
        ws = workspace()
        try:
            decision = ws.decide(body)
        except ThemeflowError as exc:
            raise _refused(exc) from exc
        learner().request()
        return JSONResponse({"decision": {
            "passage_id": decision.passage_id, "element": decision.element,
            "reviewer": decision.reviewer, "status": decision.status, "label": decision.label,
            "trim_start": decision.trim_start, "trim_end": decision.trim_end,
            "note": decision.note}})

    @app.post("/api/finals")
    async def finals(request: Request) -> JSONResponse:
        """The team's final decision on a quote (an adjudicator adopts one reviewer's decision,
        rejects the quote, or takes the final back)."""
        body = await guarded_json(request)
        try:
            final = workspace().adjudicate(body)
        except ThemeflowError as exc:
            raise _refused(exc) from exc
        learner().request()  # the final decision is what learning takes for this quote
        return JSONResponse({"final": {"passage_id": final.passage_id, "element": final.element,
                                       "adjudicator": final.reviewer, "status": final.status,
                                       "label": final.label}})

    @app.post("/api/codings")
    async def code(request: Request) -> JSONResponse:
        """A "code next" answer: the elements a passage carries, or ``["none"]``."""
        body = await guarded_json(request)
        try:
            coding = workspace().code(body)
        except ThemeflowError as exc:
            raise _refused(exc) from exc
        learner().request()
        return JSONResponse({"coding": {"passage_id": coding.passage_id,
                                        "reviewer": coding.reviewer,
                                        "elements": list(coding.elements)}})

    @app.get("/api/learner")
    def learner_state() -> JSONResponse:
        """The learner's version (it changes after each refit), label counts, estimated
        agreement and the "code next" queue; the page polls it."""
        return JSONResponse(learner().snapshot())

    @app.get("/api/agreement")
    def agreement() -> JSONResponse:
        pairs, disagreements = workspace().agreement()
        return JSONResponse({"pairs": _records(pairs), "disagreements": _records(disagreements)})

    @app.post("/api/export/{fmt}")
    async def export_(fmt: str, request: Request) -> JSONResponse:
        from pipeline.review.exports import export

        await guarded_json(request)
        try:
            path = export(workspace(), fmt)
        except ThemeflowError as exc:
            raise _refused(exc) from exc
        return JSONResponse({"file": path.name, "url": f"/exports/{path.name}"})

    @app.get("/exports/{name}")
    def download(name: str) -> FileResponse:
        folder = workspace().study.exports_dir.resolve()
        if "\x00" in name or name.startswith("."):
            raise HTTPException(status_code=404)
        path = (folder / name).resolve()
        if path.parent != folder or not path.is_file():
            raise HTTPException(status_code=404)
        return FileResponse(path, filename=name)

    return app


def _refused(exc: ThemeflowError) -> HTTPException:
    """A refusal as the page shows it: the error's status (400; 429 once too many notes were
    refused) and its reason, never a traceback."""
    return HTTPException(status_code=getattr(exc, "http_status", 400), detail=exc.reason)


def _records(frame: Any) -> list[dict[str, Any]]:
    """Rows as JSON-able dicts: a missing figure (NaN) is null, which JSON allows."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


async def _read_capped(request: Request) -> bytes:
    """The request body, refused with 413 once it passes ``MAX_BODY`` (by its declared length,
    or while it streams in without one)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(status_code=413, detail=f"the body is over {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(status_code=413, detail=f"the body is over {MAX_BODY} bytes")
    return bytes(body)
