"""REST handlers: authenticate, parse and validate, call a service, answer JSON.

All logic lives in `services.py`; one helper here maps domain errors to status codes with a
`{code, message}` body. No response ever carries a traceback.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError
from tornado import web

from .api_models import ApprovalAnswer, GenerationCreate, RepoCreate, SecretPut
from .errors import BadRequest, CookbookError, Invalid, TooLarge
from .services import Services, repo_summary

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 1_000_000
AUTH_RESOURCE = "cookbook"
ID = r"[0-9a-f]{32}"


class CookbookHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def services(self) -> Services:
        return self.settings["cookbook"]

    @property
    def owner(self) -> str:
        # A Jupyter server belongs to one person (on a hub, one server per user); its request
        # identities can be per-browser anonymous names, so data is keyed by the server's owner.
        return self.services.owner

    def body(self, model: type[M]) -> M:
        raw = self.request.body or b""
        if len(raw) > MAX_BODY_BYTES:
            raise TooLarge(f"The request body is larger than {MAX_BODY_BYTES // 1000} kB.")
        try:
            data = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError) as err:
            raise BadRequest("The request body is not valid JSON.") from err
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        try:
            return model.model_validate(data)
        except ValidationError as err:
            problems = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors()]
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

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        self.set_header("Content-Type", "application/json")
        if isinstance(exc, CookbookError):
            self.set_status(exc.status)
            body = exc.to_dict()
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
        self.reply(await self.services.status(self.owner))


class ReposHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply({"repos": await self.services.list_repos()})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body(RepoCreate)
        repo = await self.services.ingest(self.owner, body.source, body.ref)
        self.reply(repo_summary(repo), 201)


class RepoHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, repo_id: str) -> None:
        self.reply(repo_summary(await self.services.get_repo(repo_id)))


class RepoFileHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, repo_id: str) -> None:
        path = self.query("path")
        if not path:
            raise BadRequest("Give the file's path inside the repository as ?path=.")
        self.reply(await self.services.repo_file(repo_id, path))


class RepoContextHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, repo_id: str) -> None:
        repo = await self.services.get_repo(repo_id)
        self.reply(repo.get("context") or {})


class ModelsHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        search = self.query("search", "", max_len=200) or ""
        task = self.query("task", None, max_len=64) or None
        limit = self.int_query("limit", 20, 1, 100)
        self.reply({"models": await self.services.search_models(self.owner, search, task, limit)})


class ModelHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, model_id: str) -> None:
        self.reply(await self.services.model_info(self.owner, model_id))


class RecipesHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        from .recipes import list_recipes

        self.reply({"recipes": list_recipes()})


class GenerationsHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply({"generations": await self.services.list_generations()})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body(GenerationCreate)
        record = await self.services.start_generation(self.owner, body)
        self.reply({"id": record["id"], "status": record["status"]}, 202)


class GenerationHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, gen_id: str) -> None:
        self.reply(await self.services.get_generation(gen_id))


class EventsHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, gen_id: str) -> None:
        after = self.int_query("after", 0, 0, 2**31)
        timeout = self.int_query("timeout", 25, 0, 60)
        self.reply(await self.services.wait_events(gen_id, after, float(timeout)))


class CancelHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def post(self, gen_id: str) -> None:
        self.reply(await self.services.cancel_generation(gen_id), 202)


class ApprovalHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def post(self, gen_id: str, approval_id: str) -> None:
        body = self.body(ApprovalAnswer)
        self.reply(await self.services.answer_approval(gen_id, approval_id, body.approved))


class NotebookHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self, gen_id: str) -> None:
        name, data = await self.services.notebook(gen_id)
        self.set_header("Content-Type", "application/x-ipynb+json")
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.finish(data)


class SecretsHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply({"secrets": await self.services.list_secrets(self.owner)})


class SecretHandler(CookbookHandler):
    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        body = self.body(SecretPut)
        self.reply(await self.services.put_secret(self.owner, name, body.value))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.services.delete_secret(self.owner, name)
        self.set_status(204)
        self.finish()


def make_handlers() -> list[tuple[str, type[CookbookHandler]]]:
    """URL patterns relative to the server's base URL (the extension app prefixes it)."""
    return [
        (r"/cookbook/status", StatusHandler),
        (r"/cookbook/repos", ReposHandler),
        (rf"/cookbook/repos/({ID})", RepoHandler),
        (rf"/cookbook/repos/({ID})/files", RepoFileHandler),
        (rf"/cookbook/repos/({ID})/context", RepoContextHandler),
        (r"/cookbook/models", ModelsHandler),
        (r"/cookbook/models/([^/?#]+(?:/[^/?#]+)?)", ModelHandler),
        (r"/cookbook/recipes", RecipesHandler),
        (r"/cookbook/generations", GenerationsHandler),
        (rf"/cookbook/generations/({ID})", GenerationHandler),
        (rf"/cookbook/generations/({ID})/events", EventsHandler),
        (rf"/cookbook/generations/({ID})/cancel", CancelHandler),
        (rf"/cookbook/generations/({ID})/notebook", NotebookHandler),
        (rf"/cookbook/generations/({ID})/approvals/({ID})", ApprovalHandler),
        (r"/cookbook/secrets", SecretsHandler),
        (r"/cookbook/secrets/([^/]+)", SecretHandler),
    ]
