"""Notebooks that run on another machine: where a generated notebook finds its repository and the
user's data (paths relative to the notebook's folder, a GitHub source cloned beside the notebook
at the pinned commit), the setup cell that gets them there, and model-card snippets pinned to the
model's revision. No path of the server's machine goes into a notebook.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "RepoLocation",
    "locate_repo",
    "notebook_folder",
    "notebook_links",
    "pin_revision",
    "relative_to_notebook",
    "setup_code",
    "unpin_revision",
]

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_FOLDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
# The variable a private GitHub repository's clone takes its token from (the secrets store's name).
GITHUB_TOKEN_ENV = "GITHUB_TOKEN"  # noqa: S105 - a variable's name


@dataclass(frozen=True)
class RepoLocation:
    """Where a notebook finds its repository.

    `path` is the folder the examples run from, relative to the notebook's folder (POSIX
    separators): "tiny-model", "../repos/st", "st-0123abc/examples". For a GitHub source the
    setup cell makes `clone_dir` (the clone's own folder, beside the notebook) from `clone_url`
    at `commit` when it is not there yet. `token_env` (a private repository) names the environment
    variable the setup cell takes a token from for that clone: the notebook holds the name only,
    the kernel has the value when the user grants it.
    """

    path: str
    clone_url: str | None = None
    commit: str | None = None
    clone_dir: str | None = None
    token_env: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RepoLocation:
        return cls(
            path=str(data["path"]),
            clone_url=data.get("clone_url"),
            commit=data.get("commit"),
            clone_dir=data.get("clone_dir"),
            token_env=data.get("token_env") if _ENV_NAME.match(str(data.get("token_env") or "")) else None,
        )


def notebook_folder(root_dir: Path, notebook_path: str | None) -> Path:
    """The notebook's folder on the server: the folder of `notebook_path` (the notebook's API
    path under the Jupyter root, "work/demo.ipynb"), or the root when it is not given or would
    leave the root."""
    root = Path(root_dir).resolve()
    if not notebook_path:
        return root
    parent = PurePosixPath(notebook_path.replace("\\", "/").strip("/")).parent
    folder = (root / parent).resolve()
    return folder if folder == root or root in folder.parents else root


def relative_to_notebook(path: str | Path, *, root_dir: Path, notebook_path: str | None) -> str:
    """`path` (on the server) relative to the notebook's folder, with POSIX separators."""
    folder = notebook_folder(root_dir, notebook_path)
    return PurePosixPath(Path(os.path.relpath(Path(path).resolve(), folder))).as_posix()


def locate_repo(
    repo: dict[str, Any], *, root_dir: Path, notebook_path: str | None, github_url: str
) -> RepoLocation | None:
    """Where a notebook saved at `notebook_path` finds the ingested `repo`.

    A local folder is a path relative to the notebook's folder. A GitHub repository is cloned
    beside the notebook into "<name>-<commit[:7]>" from `github_url` (the server's own git
    address for GitHub) at the ingested commit, and the ingested folder of it (a /tree/REF/DIR
    source) is `path`. None when the record says neither (no checkout, no commit).
    """
    checkout = repo.get("checkout")
    if repo.get("kind") == "github":
        owner, name, commit = repo.get("owner"), repo.get("repo"), repo.get("commit")
        if not (owner and name and isinstance(commit, str) and _FULL_SHA.match(commit)):
            return None
        folder = f"{name}-{commit[:7]}" if _FOLDER_NAME.match(str(name)) else f"repository-{commit[:7]}"
        subdir = _inside_clone(Path(checkout)) if checkout else ""
        return RepoLocation(
            path=f"{folder}/{subdir}" if subdir else folder,
            clone_url=f"{github_url.rstrip('/')}/{owner}/{name}.git",
            commit=commit,
            clone_dir=folder,
            token_env=GITHUB_TOKEN_ENV if (repo.get("metadata") or {}).get("private") else None,
        )
    if checkout:
        return RepoLocation(
            path=relative_to_notebook(checkout, root_dir=root_dir, notebook_path=notebook_path)
        )
    return None


def notebook_links(
    location: dict[str, Any] | None, paths: Iterable[str], *, root_dir: Path, notebook_path: str | None
) -> dict[str, Path]:
    """What the notebook reaches by relative paths, for a scratch copy of its folder (the
    fresh-kernel check): each path relative to the notebook's folder -> the server's path. The
    repository's location (a GitHub clone's own folder), and `paths` (the user's data)."""
    folder = notebook_folder(root_dir, notebook_path)
    wanted = list(paths)
    if location:
        wanted.append(str(location.get("clone_dir") or location["path"]))
    out: dict[str, Path] = {}
    for relative in wanted:
        if relative and not os.path.isabs(relative):
            out[relative] = Path(os.path.normpath(folder / relative))
    return out


def notebook_clones(location: dict[str, Any] | None) -> dict[str, str]:
    """A GitHub repository's clone beside the notebook (relative to its folder) -> the commit the
    setup cell pins: what the fresh-kernel check checks out anew."""
    if location and location.get("clone_url") and location.get("commit") and location.get("clone_dir"):
        return {str(location["clone_dir"]): str(location["commit"])}
    return {}


def _inside_clone(checkout: Path) -> str:
    """The checkout's folder inside its clone ("" for the clone itself): the path below the
    nearest folder holding `.git`, or below the clone cache's own folder ("clones/<key>")."""
    current = checkout
    for _ in range(64):
        if (current / ".git").exists() or current.parent.name == "clones":
            inside = checkout.relative_to(current)
            return "" if inside == Path(".") else PurePosixPath(inside).as_posix()
        if current.parent == current:
            break
        current = current.parent
    return ""


# -- the setup cell --------------------------------------------------------------------------------

_NOTEBOOK_DIR = """\
# Paths are relative to this notebook's folder (where Jupyter starts its kernel), so the notebook
# runs on any machine. NOTEBOOK_DIR is kept when this cell runs again after the chdir below.
NOTEBOOK_DIR = Path(globals().get("NOTEBOOK_DIR") or Path.cwd())
"""

_WORK_FROM_REPO = """\
# The repository's examples import its modules and open files relative to its root.
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))
os.chdir(REPO_DIR)
print("Working in", os.path.relpath(REPO_DIR, NOTEBOOK_DIR))
"""

_WORK_FROM_FOLDER = """\
# The examples import the repository's modules (from its top and this folder) and open files
# relative to this folder.
for folder in (CLONE_DIR, REPO_DIR):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
os.chdir(REPO_DIR)
print("Working in", os.path.relpath(REPO_DIR, NOTEBOOK_DIR))
"""


def setup_code(location: RepoLocation) -> str:
    """The notebook's first code cell: defines NOTEBOOK_DIR and REPO_DIR (getting a GitHub
    repository at the pinned commit beside the notebook when it is not there yet), makes the
    repository importable and works from its folder."""
    if location.clone_url and location.commit and location.clone_dir:
        inside = location.path[len(location.clone_dir) :].strip("/")
        repo_dir = f"CLONE_DIR / {_literal(inside)}" if inside else "CLONE_DIR"
        return (
            "import os\nimport subprocess\nimport sys\nfrom pathlib import Path\n\n"
            f"REPO_URL = {_literal(location.clone_url)}\n"
            f"REPO_COMMIT = {_literal(location.commit)}\n"
            + _NOTEBOOK_DIR
            + f"CLONE_DIR = NOTEBOOK_DIR / {_literal(location.clone_dir)}\n\n\n"
            + _clone_code(location.token_env)
            + f"REPO_DIR = {repo_dir}\n"
            + (_WORK_FROM_FOLDER if inside else _WORK_FROM_REPO)
        )
    return (
        "import os\nimport sys\nfrom pathlib import Path\n\n"
        + _NOTEBOOK_DIR
        + f"REPO_DIR = (NOTEBOOK_DIR / {_literal(location.path)}).resolve()\n"
        + _REPO_MISSING
        + _WORK_FROM_REPO
    )


def _literal(value: str) -> str:
    """A Python string literal for `value`, in double quotes like the rest of the cell."""
    quoted = json.dumps(value, ensure_ascii=False)
    return quoted if ast.literal_eval(quoted) == value else repr(value)


_REPO_MISSING = """\
if not REPO_DIR.is_dir():
    where = os.path.relpath(REPO_DIR, NOTEBOOK_DIR)
    raise FileNotFoundError(f"The repository is not at {where} (relative to this notebook); put it there.")
"""

_CLONE = """\
def _checked(done):
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(done.args[:4])} failed: {done.stderr.strip()}")


# Cloned already when the folder holds more than git's own data (a failed fetch leaves only that).
if not (CLONE_DIR.is_dir() and any(p.name != ".git" for p in CLONE_DIR.iterdir())):
    # A shallow clone of exactly the commit this notebook was made from, beside the notebook.
    quiet = {"capture_output": True, "text": True, "env": {**os.environ, "GIT_TERMINAL_PROMPT": "0"}}
    _checked(subprocess.run(["git", "init", "-q", str(CLONE_DIR)], **quiet))
    fetched = subprocess.run(
        ["git", "-C", str(CLONE_DIR), "fetch", "-q", "--depth", "1", REPO_URL, REPO_COMMIT], **quiet
    )
    if fetched.returncode != 0:  # a server that serves its branches only: the default one, whole
        _checked(subprocess.run(["git", "-C", str(CLONE_DIR), "fetch", "-q", REPO_URL], **quiet))
    _checked(
        subprocess.run(["git", "-C", str(CLONE_DIR), "checkout", "-q", "--detach", REPO_COMMIT], **quiet)
    )
"""


_TOKEN = """\
    # A private repository: git asks this helper for a token, and it answers with the kernel's
    # environment variable when git runs it. The notebook names the variable, never its value.
    n = int(os.environ.get("GIT_CONFIG_COUNT") or 0)  # after any the environment sets already
    quiet["env"].update({{
        "GIT_CONFIG_COUNT": str(n + 1),
        f"GIT_CONFIG_KEY_{{n}}": f"credential.{{REPO_URL}}.helper",
        f"GIT_CONFIG_VALUE_{{n}}": '!f() {{ test "$1" = get && echo username=x-access-token && '
        'echo "password=${name}"; }}; f',
    }})
"""  # noqa: S105 - code that names the variable a token is read from


def _clone_code(token_env: str | None) -> str:
    """The clone step, taking a private repository's token from `token_env` when it is set."""
    if not token_env:
        return _CLONE
    marker = _CLONE[: _CLONE.index('    _checked(subprocess.run(["git", "init"')]
    return marker + _TOKEN.format(name=token_env) + _CLONE[len(marker) :]


# -- model revisions -------------------------------------------------------------------------------

# Calls that load a Hub model and take a `revision=`: transformers' and most libraries'
# from_pretrained, pipeline, huggingface_hub's downloads, sentence-transformers' classes.
_REVISION_CALLS = frozenset(
    {
        "from_pretrained",
        "pipeline",
        "hf_hub_download",
        "snapshot_download",
        "SentenceTransformer",
        "CrossEncoder",
        "SparseEncoder",
    }
)
_ID_KEYWORDS = frozenset(
    {"pretrained_model_name_or_path", "model", "model_id", "model_name", "model_name_or_path", "repo_id"}
)


def pin_revision(code: str, model_id: str | None, revision: str | None) -> str:
    """`code` with `revision="<sha>"` added to each call that loads `model_id` by its literal id
    (from_pretrained, pipeline, hf_hub_download, snapshot_download, SentenceTransformer, ...)
    and names no revision yet. Unchanged when the revision is not a full commit hash, or the
    code does not parse."""
    if not model_id or not revision or not _FULL_SHA.match(revision) or model_id not in code:
        return code
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    data = code.encode("utf-8")
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    inserts: list[int] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not _loads(node, model_id):
            continue
        parts: list[ast.expr | ast.keyword] = [*node.args, *node.keywords]
        last = max(parts, key=lambda n: (n.end_lineno or 0, n.end_col_offset or 0))
        if last.end_lineno is None or last.end_col_offset is None:
            continue
        inserts.append(starts[last.end_lineno - 1] + last.end_col_offset)
    if not inserts:
        return code
    addition = f', revision="{revision}"'.encode()
    for offset in sorted(inserts, reverse=True):
        data = data[:offset] + addition + data[offset:]
    pinned = data.decode("utf-8")
    try:
        ast.parse(pinned)
    except (SyntaxError, ValueError):
        return code
    return pinned


def unpin_revision(code: str, revision: str | None) -> str:
    """`code` without what `pin_revision` added for `revision` (to swap in another model)."""
    return code.replace(f', revision="{revision}"', "") if revision else code


def _loads(call: ast.Call, model_id: str) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name not in _REVISION_CALLS:
        return False
    if any(k.arg == "revision" or k.arg is None for k in call.keywords):  # named, or maybe in **kwargs
        return False

    def is_id(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and node.value == model_id

    return any(is_id(a) for a in call.args[:2]) or any(
        k.arg in _ID_KEYWORDS and is_id(k.value) for k in call.keywords
    )
