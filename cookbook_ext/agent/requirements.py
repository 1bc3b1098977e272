"""Which of a repository's declared packages a notebook's code needs: the modules its cells import,
mapped to the distributions that provide them.

A distribution's import names come from the installed packages' metadata where the server has
them (`importlib.metadata.packages_distributions`), else from a small table of the well-known
names that differ (scikit-learn gives `sklearn`), else from the name itself.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
from collections.abc import Iterable

__all__ = ["KNOWN_MODULES", "distribution_for", "import_check", "imported_modules", "modules_of", "normalise"]

# pip distribution name -> the modules it provides, where they differ (normalised keys).
KNOWN_MODULES: dict[str, tuple[str, ...]] = {
    "scikit-learn": ("sklearn",),
    "pillow": ("PIL",),
    "opencv-python": ("cv2",),
    "opencv-python-headless": ("cv2",),
    "opencv-contrib-python": ("cv2",),
    "pyyaml": ("yaml",),
    "beautifulsoup4": ("bs4",),
    "protobuf": ("google.protobuf",),
    "python-dateutil": ("dateutil",),
    "python-dotenv": ("dotenv",),
    "huggingface-hub": ("huggingface_hub",),
    "sentence-transformers": ("sentence_transformers",),
    "faiss-cpu": ("faiss",),
    "faiss-gpu": ("faiss",),
    "pytorch-lightning": ("pytorch_lightning",),
    "scikit-image": ("skimage",),
    "tensorflow-cpu": ("tensorflow",),
    "attrs": ("attr", "attrs"),
    "pymupdf": ("fitz", "pymupdf"),
    "llama-cpp-python": ("llama_cpp",),
    "torch": ("torch",),
    "pytorch": ("torch",),
    "typing-extensions": ("typing_extensions",),
    "msgpack-python": ("msgpack",),
    "google-generativeai": ("google.generativeai",),
    "ruamel.yaml": ("ruamel",),
    "jax": ("jax",),
    "jaxlib": ("jaxlib",),
}

_IMPORT_LINE = re.compile(r"^\s*(?:from\s+([A-Za-z_][\w.]*)\s+import\b|import\s+([A-Za-z_][\w., \t]*))", re.M)
_MAGIC = re.compile(r"^\s*[%!]")


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them: lower case, runs of -_. as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules(code: str) -> set[str]:
    """The top-level modules `code` imports (absolute imports only): `import a.b` and `from a.b
    import c` give "a". IPython magics and shell lines are skipped; code that does not parse is
    read line by line."""
    python = "\n".join("" if _MAGIC.match(line) else line for line in code.splitlines())
    found: set[str] = set()
    try:
        tree = ast.parse(python)
    except (SyntaxError, ValueError):
        for match in _IMPORT_LINE.finditer(python):
            if match.group(1):
                found.add(match.group(1).split(".")[0])
            else:
                for part in match.group(2).split(","):
                    name = part.strip().split(" ")[0]
                    if name:
                        found.add(name.split(".")[0])
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@functools.lru_cache(maxsize=1)
def _installed() -> dict[str, frozenset[str]]:
    """Normalised distribution name -> the top-level modules it installs, for this environment."""
    by_dist: dict[str, set[str]] = {}
    try:
        mapping = importlib.metadata.packages_distributions()
    except Exception:  # a broken distribution's metadata must not stop a generation
        return {}
    for module, dists in mapping.items():
        if module.startswith("_") or not module.isidentifier():
            continue
        for dist in dists:
            by_dist.setdefault(normalise(dist), set()).add(module)
    return {dist: frozenset(modules) for dist, modules in by_dist.items()}


def modules_of(distribution: str) -> frozenset[str]:
    """The top-level modules a distribution provides (its installed metadata, else the table,
    else its own name with '-' and '.' as '_')."""
    key = normalise(distribution)
    installed = _installed().get(key)
    if installed:
        return installed
    known = KNOWN_MODULES.get(key)
    if known:
        return frozenset(m.split(".")[0] for m in known)
    return frozenset({re.sub(r"[-.]", "_", distribution.strip())})


def import_check(distribution: str) -> str:
    """The module to try importing to see whether a distribution is there (`PIL` for pillow)."""
    key = normalise(distribution)
    known = KNOWN_MODULES.get(key)
    if known:
        return known[0]
    installed = _installed().get(key)
    if installed:
        plain = re.sub(r"[-.]", "_", distribution.strip())
        return plain if plain in installed else sorted(installed)[0]
    return re.sub(r"[-.]", "_", distribution.strip())


def distribution_for(module: str, candidates: Iterable[str] = ()) -> str | None:
    """The distribution that provides top-level `module`: one of `candidates` (declared names)
    if any provides it, else an installed one, else a known one; None when nothing says."""
    top = module.split(".")[0]
    for name in candidates:
        if top in modules_of(name):
            return name
    for dist, modules in sorted(_installed().items()):
        if top in modules:
            return dist
    for dist, known in KNOWN_MODULES.items():
        if any(m.split(".")[0] == top for m in known):
            return dist
    return None
