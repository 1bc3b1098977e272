"""The recipes a server offers: the package's built-ins, the packs installed from a catalogue, the
user's own folder and the administrator's folders, a later one overriding an earlier one by id.
Files are re-read when they change (their modification times are checked on each access), and a
broken file is reported with its line while the others keep working."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from traitlets import Float, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

from ..errors import Conflict, Invalid, NotFound
from .format import semver_key
from .inputs import resolve_inputs
from .loader import LoadError, Origin, RecipeFile, load_recipe_file, recipe_files
from .render import DEFAULT_TIMEOUT, render_instructions

if TYPE_CHECKING:
    from ..workers import Workers
    from .catalog import Catalog

T = TypeVar("T")

BUILTIN_FOLDER = Path(__file__).with_name("builtin")
PACKS = "packs"  # the user folder's subfolder of installed catalogue packs


@dataclass(frozen=True)
class PreparedRecipe:
    """A recipe with a generation's inputs: the values (defaults filled in), the rendered
    instructions and their hash, what the generation records."""

    recipe: RecipeFile
    values: dict[str, Any]
    instructions: str
    sha256: str

    def ref(self) -> dict[str, Any]:
        """What a generation records of its recipe (its `recipe` field and provenance)."""
        out: dict[str, Any] = {
            "id": self.recipe.id,
            "version": self.recipe.version,
            "sha256": self.sha256,
            "source": self.recipe.origin.kind,
        }
        if self.recipe.origin.pack:
            out["pack"] = self.recipe.origin.pack
        return out


@dataclass
class Snapshot:
    """The recipes as the files were at one moment."""

    active: dict[str, RecipeFile] = field(default_factory=dict)  # by id, in display order
    versions: dict[str, dict[str, RecipeFile]] = field(default_factory=dict)  # id -> version -> file
    errors: list[LoadError] = field(default_factory=list)


def describe(recipe: RecipeFile, versions: Mapping[str, RecipeFile] | None = None) -> dict[str, Any]:
    """A recipe as GET cookbook/recipes lists it."""
    spec, origin = recipe.spec, recipe.origin
    try:
        shown_file = str(recipe.path.relative_to(origin.folder))
    except ValueError:
        shown_file = recipe.path.name
    return {
        "id": spec.id,
        "version": spec.version,
        "title": spec.title,
        "description": spec.description,
        "order": spec.order,
        "inputs": [input_spec.to_dict(name) for name, input_spec in spec.inputs.items()],
        "source": origin.kind,
        "folder": "(built in)" if origin.kind == "builtin" else str(origin.folder),
        "file": shown_file,
        "pack": origin.pack,
        "versions": sorted(versions or {recipe.version: recipe}, key=semver_key, reverse=True),
    }


class RecipeRegistry(LoggingConfigurable):
    """Finds, reloads, validates and renders recipes; `catalog` installs packs of them."""

    recipe_paths = List(
        Unicode(),
        config=True,
        help="Administrator folders of recipe files (*.yaml). Later folders override earlier ones, "
        "the user's own folder and the built-ins by recipe id.",
    )
    catalog_urls = List(
        Unicode(),
        config=True,
        help='Catalogue indexes (JSON: {"packs": [{id, version, description, recipes, url, sha256}]}) '
        "users may install recipe packs from.",
    )
    allowed_catalogs = List(
        Unicode(),
        config=True,
        help="URL prefixes catalogue indexes and pack downloads must start with (empty: any "
        "http(s) URL the indexes name).",
    )
    max_file_kb = Integer(256, config=True, help="Largest recipe file read, in kB.")
    render_timeout = Float(
        DEFAULT_TIMEOUT, config=True, help="Seconds a recipe's instructions may take to render."
    )
    catalog_timeout = Float(15.0, config=True, help="Seconds a catalogue index or pack download may take.")
    max_pack_mb = Integer(10, config=True, help="Largest pack download, in MB.")

    def __init__(
        self, *, data_dir: Path | str | None = None, workers: Workers | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.workers = workers
        self.user_folder: Path | None = Path(data_dir) / "recipes" if data_dir is not None else None
        self._lock = threading.Lock()
        self._files: dict[Path, tuple[tuple[int, int, int], RecipeFile | LoadError]] = {}
        self._key: tuple[Any, ...] | None = None
        self._snapshot = Snapshot()
        self._catalog: Catalog | None = None

    # -- where recipes come from ------------------------------------------------------------------

    @property
    def packs_folder(self) -> Path | None:
        return self.user_folder / PACKS if self.user_folder is not None else None

    def _sources(self) -> list[tuple[Origin, list[Path]]]:
        """Each folder's origin and recipe files, lowest precedence first."""
        out = [(Origin("builtin", BUILTIN_FOLDER, rank=0), recipe_files(BUILTIN_FOLDER))]
        packs = self.packs_folder
        if packs is not None:
            for pack_dir in recipe_files_dirs(packs):
                out.append(
                    (
                        Origin("pack", pack_dir, pack=pack_dir.name, rank=1),
                        recipe_files(pack_dir, recursive=True),
                    )
                )
        if self.user_folder is not None:
            out.append((Origin("user", self.user_folder, rank=2), recipe_files(self.user_folder)))
        for i, folder in enumerate(self.recipe_paths):
            path = Path(folder).expanduser()
            out.append((Origin("admin", path, rank=3 + i), recipe_files(path)))
        return out

    # -- loading ----------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The recipes now: files added, changed or removed since the last call are taken into
        account (blocking: stats every recipe file; cheap, and nothing is re-read unchanged)."""
        with self._lock:
            sources = self._sources()
            stats: list[tuple[Origin, Path, tuple[int, int, int] | None]] = []
            for origin, paths in sources:
                for path in paths:
                    try:
                        st = path.stat()
                        stats.append((origin, path, (st.st_mtime_ns, st.st_size, st.st_ino)))
                    except OSError:
                        stats.append((origin, path, None))
            key = tuple((str(p), o.rank, o.pack, s) for o, p, s in stats)
            if key == self._key:
                return self._snapshot
            max_bytes = self.max_file_kb * 1024
            files: dict[Path, tuple[tuple[int, int, int], RecipeFile | LoadError]] = {}
            for origin, path, stamp in stats:
                if stamp is None:
                    continue
                cached = self._files.get(path)
                if cached is not None and cached[0] == stamp and _same_origin(cached[1], origin):
                    files[path] = cached
                else:
                    files[path] = (stamp, load_recipe_file(path, origin, max_bytes=max_bytes))
            self._files = files
            self._key = key
            self._snapshot = _build(stats, files)
            for error in self._snapshot.errors:
                self.log.debug("Cookbook recipe %s, line %s: %s", error.file, error.line, error.message)
            return self._snapshot

    def list(self) -> dict[str, Any]:
        """GET cookbook/recipes: every active recipe (display order) and every broken file."""
        snap = self.snapshot()
        return {
            "recipes": [describe(r, snap.versions.get(r.id)) for r in snap.active.values()],
            "errors": [e.to_dict() for e in snap.errors],
        }

    def get(self, recipe_id: str, version: str | None = None) -> RecipeFile:
        """The active recipe `recipe_id`, or that exact `version` while any folder still has it.
        404 for an unknown id (422 when the file that should hold it is broken), 409 naming the
        versions there are when the version is gone."""
        snap = self.snapshot()
        recipe = snap.active.get(recipe_id)
        if recipe is None:
            broken = [e for e in snap.errors if Path(e.file).stem.split("@")[0] == recipe_id]
            if broken:
                error = broken[-1]
                where = f"{error.file}, line {error.line}" if error.line else error.file
                raise Invalid(
                    f"The recipe {recipe_id} cannot be used: its file is broken ({where}: {error.message})",
                    code="recipe_broken",
                    details={"template": recipe_id, **error.to_dict()},
                )
            raise NotFound(
                f"Unknown template {_clip(recipe_id)!r}; choose one of {', '.join(snap.active) or '(none)'}.",
                code="unknown_template",
                details={"template": _clip(recipe_id), "choices": list(snap.active)},
            )
        if version is None or version == recipe.version:
            return recipe
        available = snap.versions.get(recipe_id, {})
        if version in available:
            return available[version]
        listed = sorted(available, key=semver_key, reverse=True)
        raise Conflict(
            f"The recipe {recipe_id} is no longer available at version {version}; this server has "
            f"{', '.join(listed)} (current: {recipe.version}). Run it with the current version, or "
            "put the old recipe file back.",
            code="recipe_version_unavailable",
            details={
                "template": recipe_id,
                "version": version,
                "available": listed,
                "current": recipe.version,
            },
        )

    def prepare(
        self,
        recipe_id: str,
        given: Mapping[str, Any],
        *,
        version: str | None = None,
        confine: Callable[[str, str], Path] | None = None,
    ) -> PreparedRecipe:
        """The recipe with these inputs, validated (422 naming the field) and rendered (422 for a
        template that fails, is forbidden or runs too long). `confine(value, what)` resolves a
        path input under the Jupyter root (403 outside, 404 missing); the instructions see the
        resolved path. Blocking: renders in this thread, with the deadline."""
        recipe = self.get(recipe_id, version)
        values = resolve_inputs(recipe.spec, given)
        rendered = dict(values)
        if confine is not None:
            for name, spec in recipe.spec.inputs.items():
                if spec.type == "path" and values.get(name):
                    rendered[name] = str(confine(values[name], f"inputs.{name}"))
        instructions = render_instructions(
            recipe.template, rendered, recipe=f"{recipe.id} {recipe.version}", timeout=self.render_timeout
        )
        digest = hashlib.sha256(instructions.encode("utf-8")).hexdigest()
        return PreparedRecipe(recipe=recipe, values=values, instructions=instructions, sha256=digest)

    async def off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` (a method of this registry or its catalogue: they block) on a worker thread."""
        if self.workers is not None:
            return await self.workers.run_io(fn, *args)
        return await asyncio.to_thread(fn, *args)

    # -- the catalogue ----------------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            from .catalog import Catalog

            self._catalog = Catalog(self)
        return self._catalog


def recipe_files_dirs(folder: Path) -> list[Path]:
    """The installed packs' folders (one per pack, dot folders are work in progress)."""
    try:
        return sorted(
            Path(e.path)
            for e in os.scandir(folder)
            if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
        )
    except OSError:
        return []


def _same_origin(loaded: RecipeFile | LoadError, origin: Origin) -> bool:
    return not isinstance(loaded, RecipeFile) or loaded.origin == origin


def _build(
    stats: list[tuple[Origin, Path, tuple[int, int, int] | None]],
    files: Mapping[Path, tuple[tuple[int, int, int], RecipeFile | LoadError]],
) -> Snapshot:
    snap = Snapshot()
    by_rank: dict[str, tuple[int, RecipeFile]] = {}
    where: dict[tuple[str, str, int], RecipeFile] = {}
    for origin, path, stamp in stats:
        if stamp is None or path not in files:
            continue
        loaded = files[path][1]
        if isinstance(loaded, LoadError):
            snap.errors.append(loaded)
            continue
        same = where.get((loaded.id, loaded.version, origin.rank))
        if same is not None:
            snap.errors.append(
                LoadError(
                    str(path),
                    None,
                    f"The recipe {loaded.id} {loaded.version} is also in {same.path.name} of the same "
                    "folder; this file is ignored (give it another version or id).",
                )
            )
            continue
        where[(loaded.id, loaded.version, origin.rank)] = loaded
        # Every version stays reachable by its number; a later folder's file with the same
        # version replaces an earlier one's.
        snap.versions.setdefault(loaded.id, {})[loaded.version] = loaded
        current = by_rank.get(loaded.id)
        if (
            current is None
            or origin.rank > current[0]
            or (origin.rank == current[0] and semver_key(loaded.version) > semver_key(current[1].version))
        ):
            by_rank[loaded.id] = (origin.rank, loaded)
    ordered = sorted(by_rank.values(), key=lambda item: (item[1].spec.order, item[1].id))
    snap.active = {recipe.id: recipe for _rank, recipe in ordered}
    return snap


def _clip(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
