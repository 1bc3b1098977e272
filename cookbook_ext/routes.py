"""REST handlers: authenticate, parse and validate, call the one collaborator a route needs, answer
JSON. One helper here maps domain errors to status codes with a `{code, message}` body. No
response ever carries a traceback.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError
from tornado import web

from .api_models import (
    ApprovalAnswer,
    ApprovalResult,
    CancelResult,
    CatalogState,
    ComparisonCreate,
    ComparisonDetail,
    ComparisonList,
    ComparisonStarted,
    ContextPack,
    EventsPage,
    GenerationCreate,
    GenerationDetail,
    GenerationList,
    GenerationStarted,
    ModelList,
    ModelSummary,
    PackChange,
    RecipeList,
    RepoCreate,
    RepoFile,
    RepoList,
    RepoSummary,
    RepoTrustPut,
    SecretInfo,
    SecretList,
    SecretPut,
    StatusResponse,
)
from .errors import BadRequest, CookbookError, Invalid, TooLarge
from .repositories import repo_summary

if TYPE_CHECKING:
    from .agent.providers.registry import ProviderRegistry
    from .comparisons import ComparisonRunner
    from .event_log import EventLog
    from .hf_models import ModelMetadata
    from .recipes import RecipeRegistry
    from .repositories import RepositoryManager
    from .runner import GenerationRunner
    from .secrets import SecretsManager

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 1_000_000
AUTH_RESOURCE = "cookbook"
ID = r"[0-9a-f]{32}"
PACK = r"[^/]+"  # checked by the catalogue (400 for a name that is not a pack id)


# Bodies past this are cut off by tornado itself (a bare 400 and a closed connection) instead of
# being read through to answer 413: only a chunked body without a Content-Length gets that far.
MAX_STREAMED_BYTES = 4 * MAX_BODY_BYTES
XSRF_MESSAGE = (
    "The request was refused by the XSRF check: reload the page (the page's XSRF token is missing "
    "or out of date), or send the Jupyter token in an Authorization header."
)


def _too_large() -> TooLarge:
    return TooLarge(f"The request body is larger than {MAX_BODY_BYTES // 1000} kB.")


def _is_xsrf_failure(exc: web.HTTPError) -> bool:
    # tornado's check_xsrf_cookie: "'_xsrf' argument missing from POST", "XSRF cookie does not
    # match POST argument", "'_xsrf' argument has invalid format".
    return "xsrf" in (exc.log_message or "").lower()


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@web.stream_request_body
class CookbookHandler(APIHandler):
    """Bodies are streamed in (see data_received) so an oversized one is refused from its
    Content-Length before it is read, and one without a length stops being kept past the limit."""

    auth_resource = AUTH_RESOURCE
    _chunks: list[bytes]
    _received = 0

    async def prepare(self) -> None:  # type: ignore[override]
        self._chunks = []
        self._received = 0
        length = self.request.headers.get("Content-Length")
        if length is not None:
            try:
                too_large = int(length) > MAX_BODY_BYTES
            except ValueError:  # tornado refuses these before any handler runs
                too_large = False
            if too_large:
                raise _too_large()
        connection = self.request.connection
        if connection is not None and hasattr(connection, "set_max_body_size"):
            connection.set_max_body_size(MAX_STREAMED_BYTES)
        await super().prepare()

    def data_received(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received <= MAX_BODY_BYTES:
            self._chunks.append(chunk)
        else:
            self._chunks = []  # keep nothing of an oversized body; body() answers 413

    # Each handler takes the collaborator it needs from `settings` (see CookbookApp.settings_for).

    @property
    def runner(self) -> GenerationRunner:
        return self.settings["cookbook_runner"]

    @property
    def repositories(self) -> RepositoryManager:
        return self.settings["cookbook_repositories"]

    @property
    def models(self) -> ModelMetadata:
        return self.settings["cookbook_models"]

    @property
    def secrets(self) -> SecretsManager:
        return self.settings["cookbook_secrets"]

    @property
    def providers(self) -> ProviderRegistry:
        return self.settings["cookbook_providers"]

    @property
    def events(self) -> EventLog:
        return self.settings["cookbook_events"]

    @property
    def recipes(self) -> RecipeRegistry:
        return self.settings["cookbook_recipes"]

    @property
    def comparisons(self) -> ComparisonRunner:
        return self.settings["cookbook_comparisons"]

    def body(self, model: type[M]) -> M:
        if self._received > MAX_BODY_BYTES:
            raise _too_large()
        raw = b"".join(getattr(self, "_chunks", ())) or self.request.body or b""
        if len(raw) > MAX_BODY_BYTES:
            raise _too_large()
        try:
            data = json.loads(raw or b"{}")
        except RecursionError as err:
            raise BadRequest("The request body is nested too deeply.") from err
        except (ValueError, UnicodeDecodeError) as err:
            raise BadRequest("The request body is not valid JSON.") from err
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        try:
            return model.model_validate(data)
        except RecursionError as err:
            raise BadRequest("The request body is nested too deeply.") from err
        except ValidationError as err:
            # Field names come from the client: shown clipped, and only the first few problems.
            problems = [
                f"{_clip('.'.join(str(p) for p in e['loc'])) or 'body'}: {_clip(e['msg'], 200)}"
                for e in err.errors()[:10]
            ]
            raise Invalid("Invalid request: " + "; ".join(problems), details={"errors": problems}) from err

    def query(self, name: str, default: str | None = None, *, max_len: int = 2048) -> str | None:
        value = self.get_query_argument(name, default)
        if value is not None and len(value) > max_len:
            raise BadRequest(f"The query parameter {name!r} is longer than {max_len} characters.")
        return value

    def int_query(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.query(name, None, max_len=20)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError as err:
            raise BadRequest(f"The query parameter {name!r} must be a whole number.") from err
        if not lo <= value <= hi:
            raise BadRequest(f"The query parameter {name!r} must be between {lo} and {hi}.")
        return value

    def reply(self, model: type[BaseModel], data: Any, status: int = 200) -> None:
        """Answer `data` as `model` (api_models.py): validated on the way out, so a broken answer
        is a logged 500, never a malformed body. Fields the data did not have are not added."""
        answer = model.model_validate(data)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(answer.model_dump(mode="json", exclude_unset=True), default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json")
        if isinstance(exc, CookbookError):
            self.set_status(exc.status)
            body = exc.to_dict()
        elif isinstance(exc, web.HTTPError) and status_code == 403 and _is_xsrf_failure(exc):
            body = {"code": "xsrf_failed", "message": XSRF_MESSAGE}
        elif isinstance(exc, web.HTTPError) and status_code in (401, 403):
            body = {
                "code": "not_authorized",
                "message": "Not signed in to this Jupyter server, or the session expired: reload the page.",
            }
        elif isinstance(exc, web.HTTPError):
            body = {"code": "http_error", "message": exc.log_message or exc.reason or "Request failed."}
        else:
            body = {
                "code": "internal_error",
                "message": "Cookbook hit an internal error; see the server log.",
            }
        self.finish(json.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, CookbookError):
            self.log.info(
                "cookbook %s %s -> %s: %s",
                self.request.method,
                self.request.path,
                value.status,
                value.message,
            )
        else:
            super().log_exception(typ, value, tb)


class StatusHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(StatusResponse, await self.runner.status())


class ReposHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(RepoList, {"repos": await self.repositories.list()})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body(RepoCreate)
        repo = await self.repositories.ingest(body.source, body.ref, trust=body.trust)
        self.reply(RepoSummary, repo_summary(repo), 201)


class RepoHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, repo_id: str) -> None:
        self.reply(RepoSummary, repo_summary(await self.repositories.get(repo_id)))


class RepoTrustHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def put(self, repo_id: str) -> None:
        body = self.body(RepoTrustPut)
        self.reply(RepoSummary, repo_summary(await self.repositories.set_trust(repo_id, body.trusted)))


class RepoFileHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, repo_id: str) -> None:
        path = self.query("path")
        if not path:
            raise BadRequest("Give the file's path inside the repository as ?path=.")
        self.reply(RepoFile, await self.repositories.read_file(repo_id, path))


class RepoContextHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, repo_id: str) -> None:
        repo = await self.repositories.get(repo_id)
        self.reply(ContextPack, repo.get("context") or {})


class ModelsHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        search = self.query("search", "", max_len=200) or ""
        task = self.query("task", None, max_len=64) or None
        limit = self.int_query("limit", 20, 1, 100)
        self.reply(ModelList, {"models": await self.models.search(search, task, limit)})


class ModelHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, model_id: str) -> None:
        self.reply(ModelSummary, await self.models.info(model_id))


class RecipesHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(RecipeList, await self.recipes.off_loop(self.recipes.list))


class CatalogHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(CatalogState, await self.recipes.off_loop(self.recipes.catalog.state))


class PackHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def delete(self, pack_id: str) -> None:
        await self.recipes.off_loop(self.recipes.catalog.remove, pack_id)
        self.set_status(204)
        self.finish()


class PackInstallHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def post(self, pack_id: str) -> None:
        self.reply(PackChange, await self.recipes.off_loop(self.recipes.catalog.install, pack_id), 201)


class PackUpdateHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def post(self, pack_id: str) -> None:
        self.reply(PackChange, await self.recipes.off_loop(self.recipes.catalog.update, pack_id))


class ComparisonsHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(ComparisonList, {"comparisons": await self.comparisons.list()})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body(ComparisonCreate)
        self.reply(ComparisonStarted, await self.comparisons.start(body), 202)


class ComparisonHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, comparison_id: str) -> None:
        self.reply(ComparisonDetail, await self.comparisons.get(comparison_id))


class GenerationsHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(GenerationList, {"generations": await self.runner.list()})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body(GenerationCreate)
        record = await self.runner.start(body)
        self.reply(GenerationStarted, {"id": record["id"], "status": record["status"]}, 202)


class GenerationHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, gen_id: str) -> None:
        self.reply(GenerationDetail, await self.runner.get(gen_id))


class EventsHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, gen_id: str) -> None:
        after = self.int_query("after", 0, 0, 2**31)
        timeout = self.int_query("timeout", 25, 0, 60)
        self.reply(EventsPage, await self.events.wait(gen_id, after, float(timeout)))


class CancelHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def post(self, gen_id: str) -> None:
        self.reply(CancelResult, await self.runner.cancel(gen_id), 202)


class ApprovalHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def post(self, gen_id: str, approval_id: str) -> None:
        body = self.body(ApprovalAnswer)
        self.reply(
            ApprovalResult,
            await self.runner.answer_approval(gen_id, approval_id, body.approved, trust=body.trust),
        )


class NotebookHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, gen_id: str) -> None:
        outputs = self.query("outputs", "keep", max_len=16) or "keep"
        if outputs not in ("keep", "clear"):
            raise BadRequest("The query parameter 'outputs' must be keep or clear.")
        name, data = await self.runner.notebook(gen_id, outputs=outputs)
        self.set_header("Content-Type", "application/x-ipynb+json")
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.finish(data)


class SecretsHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        secrets = await self.secrets.list()
        problem = await self.secrets.problem()
        self.reply(SecretList, {"secrets": secrets, **({"problem": problem} if problem else {})})


class SecretHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        body = self.body(SecretPut)
        self.reply(SecretInfo, await self.secrets.put(name, body.value))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.secrets.delete(name)
        self.set_status(204)
        self.finish()


def make_handlers() -> list[tuple[str, type[CookbookHandler]]]:
    """URL patterns relative to the server's base URL (the extension app prefixes it)."""
    return [
        (r"/cookbook/status", StatusHandler),
        (r"/cookbook/repos", ReposHandler),
        (rf"/cookbook/repos/({ID})", RepoHandler),
        (rf"/cookbook/repos/({ID})/files", RepoFileHandler),
        (rf"/cookbook/repos/({ID})/trust", RepoTrustHandler),
        (rf"/cookbook/repos/({ID})/context", RepoContextHandler),
        (r"/cookbook/models", ModelsHandler),
        (r"/cookbook/models/([^/?#]+(?:/[^/?#]+)?)", ModelHandler),
        (r"/cookbook/recipes", RecipesHandler),
        (r"/cookbook/catalog", CatalogHandler),
        (rf"/cookbook/catalog/({PACK})", PackHandler),
        (rf"/cookbook/catalog/({PACK})/install", PackInstallHandler),
        (rf"/cookbook/catalog/({PACK})/update", PackUpdateHandler),
        (r"/cookbook/comparisons", ComparisonsHandler),
        (rf"/cookbook/comparisons/({ID})", ComparisonHandler),
        (r"/cookbook/generations", GenerationsHandler),
        (rf"/cookbook/generations/({ID})", GenerationHandler),
        (rf"/cookbook/generations/({ID})/events", EventsHandler),
        (rf"/cookbook/generations/({ID})/cancel", CancelHandler),
        (rf"/cookbook/generations/({ID})/notebook", NotebookHandler),
        (rf"/cookbook/generations/({ID})/approvals/({ID})", ApprovalHandler),
        (r"/cookbook/secrets", SecretsHandler),
        (r"/cookbook/secrets/([^/]+)", SecretHandler),
    ]
