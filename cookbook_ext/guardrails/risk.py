"""What a cell does that a user may want to approve before it runs.

`assess_risk` says what a cell does that a user may want to approve before it runs (installs,
shell commands and other processes, deleting or writing files outside the working folder, network
calls other than to the Hugging Face Hub, code built at run time, native code, ...) and names it
for the approval card; `classify_risk` is its reasons alone and `needs_approval` applies the
user's approval setting to them.

It reads the code, not its spelling. The cell is first turned into the Python IPython will really
run (`!ls` is `get_ipython().system('ls')`), then parsed, and every name is followed through
imports, aliases, assignments, containers, function arguments and returns to a qualified name:
`o.system` after `import os as o`, `getattr(__import__("os"), "system")` and `f = os.system` are
all `os.system`. Qualified names are looked up in tables of what calling them does. What cannot be
read (a computed module name, exec of anything, a cell that does not parse) counts as risky.

It is a guardrail, not a sandbox: it sees one cell at a time (a name an earlier cell bound to
something unusual is not known here, though the usual module names are assumed to be those
modules), and code that runs somewhere it cannot see (a file, a package, data) is only noticed
where the cell visibly asks for it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

# -- what a cell does that a user may want to approve first -----------------------------------------

_HUB_HOSTS = ("huggingface.co", "hf.co", "cdn-lfs.huggingface.co", "cdn-lfs.hf.co")

_INSTALLS = "installs packages"
_SHELL = "runs shell commands"
_DELETES = "deletes files outside the working folder"
_NETWORK = "calls the network"
_WRITES = "writes files outside the working folder"
_DYNAMIC = "runs dynamically built code"
_HIDDEN = "runs code that is not shown"
_NATIVE = "uses native code (ctypes)"
_BROWSER = "runs code in the browser"
_UNPARSED = "could not be parsed"
# The first four are the original reasons (other code and the front end know them); new ones follow.
RISK_ORDER = (
    _INSTALLS,
    _SHELL,
    _DELETES,
    _NETWORK,
    _WRITES,
    _DYNAMIC,
    _HIDDEN,
    _NATIVE,
    _BROWSER,
    _UNPARSED,
)


@dataclass
class RiskReport:
    """What a cell does that needs approval: `reasons` (RISK_ORDER strings) and `details` that name it
    (`installs torch==2.1, transformers`, `runs: ls -la`, `calls example.com`, `deletes /tmp/x`)."""

    reasons: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


# -- the tables: qualified names and what calling them does -----------------------------------------
# Names are what a value resolves to after imports and aliases: `o.system` after `import os as o` is
# `os.system`; a call's result gets `()` (`requests.Session().post`). In patterns `*` matches within one
# name and `**` across dots and calls, so `subprocess.*` is every subprocess function but not a method
# of the process it returns.

# Starting another process. The command is the call's first argument (or `args=`/`cmd=`/`command=`).
_PROCESS_CALLS = (
    "os.system",
    "os.popen",
    "os.exec*",
    "os.spawn*",
    "os.posix_spawn*",
    "os.fork",
    "os.forkpty",
    "os.startfile",
    "subprocess.*",
    "_posixsubprocess.*",
    "_winapi.CreateProcess",
    "pty.spawn",
    "pty.fork",
    "platform.popen",
    "multiprocessing.**Process",
    "multiprocessing.**Pool",
    "multiprocessing.**Manager",
    "concurrent.futures.**ProcessPoolExecutor",
    "asyncio.create_subprocess_*",
    "asyncio.subprocess.*",
    "asyncio.**.subprocess_exec",
    "asyncio.**.subprocess_shell",
    "pexpect.**",
    "sh.**",
    "plumbum.**",
    "IPython.utils.process.*",
    "get_ipython().system",
    "get_ipython().system_raw",
    "get_ipython().system_piped",
    "get_ipython().getoutput",
)

# Of those, the calls whose first argument is the command, and those whose arguments together are.
_COMMAND_IN_FIRST_ARG = (
    "os.system",
    "os.popen",
    "subprocess.*",
    "pty.spawn",
    "platform.popen",
    "asyncio.create_subprocess_shell",
    "pexpect.*",
    "IPython.utils.process.*",
    "get_ipython().*",
)
_COMMAND_IN_ALL_ARGS = ("os.exec*", "os.spawn*", "os.posix_spawn*", "asyncio.create_subprocess_exec")

# Installing packages from Python rather than through a shell.
_INSTALL_CALLS = ("pip.main", "pip._internal.**main", "ensurepip.*", "conda.cli.**")

# Running code given as a string: the string is read too when it is a literal, but running built code
# is always worth a look.
_DYNAMIC_CALLS = (
    "builtins.exec",
    "builtins.eval",
    "builtins.compile",
    "get_ipython().run_cell",
    "get_ipython().run_cell_async",
    "get_ipython().ex",
    "get_ipython().ev",
    "get_ipython().run_code",
    "get_ipython().run_ast_nodes",
    "get_ipython().runcode",
    "timeit.timeit",
    "timeit.repeat",
    "timeit.Timer",
    "code.**",
    "codeop.**",
    "types.FunctionType",
    "types.CodeType",
    "marshal.loads",
    # Unpickling bytes runs whatever callables they name (pickle.loads(b"cos\nsystem\n...")).
    "pickle.loads",
    "_pickle.loads",
    "dill.loads",
    "cloudpickle.loads",
    # A magic looked up rather than run by name: get_ipython().find_line_magic("system")("ls").
    "get_ipython().find_*magic()",
    "get_ipython().magics_manager.**",
)
# Importers: a literal module name is followed like an import; a computed one is dynamic code.
_IMPORTERS = ("builtins.__import__", "importlib.import_module", "importlib.__import__")

# Running code from a file or a module the cell does not show.
_HIDDEN_CALLS = (
    "runpy.*",
    "torch.hub.load",
    "get_ipython().safe_execfile",
    "get_ipython().safe_execfile_ipy",
    "get_ipython().safe_run_module",
)

# Deleting (or moving away) the path in an argument: qualified name -> (position, keyword).
_DELETE_CALLS: dict[str, tuple[int, str]] = {
    "os.remove": (0, "path"),
    "os.unlink": (0, "path"),
    "os.rmdir": (0, "path"),
    "os.removedirs": (0, "name"),
    "os.rename": (0, "src"),
    "os.renames": (0, "old"),
    "os.replace": (0, "src"),
    "shutil.rmtree": (0, "path"),
    "shutil.move": (0, "src"),
    "send2trash.send2trash": (0, "paths"),
}
# Writing (creating, replacing, changing) the path in an argument.
_WRITE_CALLS: dict[str, tuple[int, str]] = {
    "os.rename": (1, "dst"),
    "os.renames": (1, "new"),
    "os.replace": (1, "dst"),
    "os.mkdir": (0, "path"),
    "os.makedirs": (0, "name"),
    "os.symlink": (1, "dst"),
    "os.link": (1, "dst"),
    "os.truncate": (0, "path"),
    "os.chmod": (0, "path"),
    "os.chown": (0, "path"),
    "shutil.move": (1, "dst"),
    "shutil.copy": (1, "dst"),
    "shutil.copy2": (1, "dst"),
    "shutil.copyfile": (1, "dst"),
    "shutil.copytree": (1, "dst"),
    "shutil.copymode": (1, "dst"),
    "shutil.copystat": (1, "dst"),
    "shutil.chown": (0, "path"),
    "shutil.unpack_archive": (1, "extract_dir"),
    "urllib.request.urlretrieve": (1, "filename"),
}
# Opening a file: qualified name -> (path position, path keyword, mode position, mode keyword).
_OPEN_CALLS: dict[str, tuple[int, str, int, str]] = {
    "builtins.open": (0, "file", 1, "mode"),
    "io.open": (0, "file", 1, "mode"),
    "io.FileIO": (0, "file", 1, "mode"),
    "codecs.open": (0, "filename", 1, "mode"),
    "gzip.open": (0, "filename", 1, "mode"),
    "bz2.open": (0, "filename", 1, "mode"),
    "lzma.open": (0, "filename", 1, "mode"),
    "tarfile.open": (0, "name", 1, "mode"),
    "zipfile.ZipFile": (0, "file", 1, "mode"),
    "os.open": (0, "path", 1, "flags"),
}
# Methods that save to a path given as an argument, whatever object they belong to (`df.to_csv(...)`,
# `plt.savefig(...)`, `torch.save(obj, path)`): flagged only for a path plainly outside the folder.
_SAVE_METHODS = frozenset(
    "to_csv to_json to_parquet to_excel to_pickle to_feather to_hdf to_orc to_stata to_xml to_file "
    "save savez savez_compressed savetxt savefig save_pretrained save_model".split()
)
# pathlib methods, by what they do to the path they are called on.
_PATH_DELETES = frozenset({"unlink", "rmdir", "rename", "replace"})
_PATH_WRITES = frozenset(
    {"write_text", "write_bytes", "touch", "mkdir", "symlink_to", "hardlink_to", "chmod"}
)
_PATH_TARGETS = frozenset({"rename", "replace", "copy", "move", "copy_into", "move_into"})  # arg 0 written
_PATH_SAME = frozenset({"expanduser", "resolve", "absolute", "with_name", "with_suffix", "with_stem"})
_PATH_LISTINGS = frozenset({"glob", "rglob", "iterdir", "walk"})
# Calls that return a path, and where it points.
_PATH_MAKERS = (
    "pathlib.*Path",
    "os.path.join",
    "os.path.abspath",
    "os.path.realpath",
    "os.path.normpath",
    "os.path.expanduser",
    "os.fspath",
)

_HTTP_VERBS = ("get", "post", "put", "patch", "delete", "head", "options")
# Network calls that take a URL, and its position: these are allowed for a literal URL on an allowed host.
_URL_CALLS: tuple[tuple[str, int], ...] = (
    *((f"{lib}.{verb}", 0) for lib in ("requests", "requests.api", "httpx") for verb in _HTTP_VERBS),
    *((f"{lib}.**().{verb}", 0) for lib in ("requests", "httpx", "aiohttp") for verb in _HTTP_VERBS),
    ("requests.request", 1),
    ("requests.api.request", 1),
    ("httpx.request", 1),
    ("httpx.stream", 1),
    ("aiohttp.request", 1),
    ("requests.**().request", 1),
    ("httpx.**().request", 1),
    ("httpx.**().stream", 1),
    ("aiohttp.**().request", 1),
    ("aiohttp.**().ws_connect", 0),
    ("urllib.request.urlopen", 0),
    ("urllib.request.urlretrieve", 0),
    ("urllib.request.**().open", 0),
    ("urllib.request.**().retrieve", 0),
    ("urllib3.request", 1),
    ("urllib3.**().request", 1),
    ("urllib3.**().urlopen", 1),
)
# Readers that also accept a URL (`pd.read_csv("https://...")`): flagged only for what is plainly a URL.
_URL_READERS: tuple[tuple[str, int], ...] = (("pandas.read_*", 0),)
# Parts of network libraries that do not reach the network themselves (clients, settings, errors).
_NETWORK_SAFE = (
    "requests.Session",
    "requests.session",
    "requests.Request",
    "requests.**exceptions**",
    "requests.adapters.**",
    "requests.auth.**",
    "requests.utils.**",
    "requests.structures.**",
    "requests.codes**",
    "requests.**().close",
    "requests.**().mount",
    "requests.**().headers.**",
    "requests.**().cookies.**",
    "requests.**().params.**",
    "httpx.Client",
    "httpx.AsyncClient",
    "httpx.Timeout",
    "httpx.Limits",
    "httpx.URL",
    "httpx.Headers",
    "httpx.**().close",
    "httpx.**().aclose",
    "httpx.**().headers.**",
    "aiohttp.ClientSession",
    "aiohttp.ClientTimeout",
    "aiohttp.TCPConnector",
    "aiohttp.FormData",
    "aiohttp.**().close",
    "urllib.request.Request",
    "urllib.request.build_opener",
    "urllib.request.install_opener",
    "urllib.request.*Handler",
    "urllib.request.pathname2url",
    "urllib.request.url2pathname",
    "urllib3.PoolManager",
    "urllib3.disable_warnings",
    "urllib3.util.**",
    "urllib3.exceptions.**",
    "urllib3.Timeout",
    "urllib3.Retry",
    "socket.gethostname",
    "socket.setdefaulttimeout",
)
# Everything else these modules are called for reaches the network (sockets always count).
_NETWORK_CALLS = (
    "socket.**",
    "ssl.**wrap_socket",
    "http.client.**",
    "http.server.**",
    "socketserver.**",
    "ftplib.**",
    "smtplib.**",
    "telnetlib.**",
    "poplib.**",
    "imaplib.**",
    "nntplib.**",
    "xmlrpc.client.**",
    "websockets.**",
    "websocket.**",
    "aiohttp.**",
    "httpx.**",
    "requests.**",
    "urllib3.**",
    "urllib.request.**",
    "paramiko.**",
    "pycurl.**",
    "dns.**",
    "asyncio.open_connection",
    "asyncio.open_unix_connection",
    "asyncio.start_server",
    "asyncio.**().create_connection",
    "asyncio.**().create_server",
    "asyncio.**().create_datagram_endpoint",
)
_NATIVE_MODULES = ("ctypes", "_ctypes", "cffi")
# Output that runs JavaScript in the notebook page, which holds the user's Jupyter session.
_SCRIPT_DISPLAYS = (
    "IPython.display.Javascript",
    "IPython.core.display.Javascript",
    "IPython.display.display_javascript",
)
_MARKUP_DISPLAYS = (
    "IPython.display.HTML",
    "IPython.core.display.HTML",
    "IPython.display.SVG",
    "IPython.display.Markdown",
)
_SCRIPTY = re.compile(r"<\s*script|\bon[a-z]+\s*=|javascript:", re.I)

# Module names that mean the same module.
_MODULE_ALIASES = {
    "posix": "os",
    "nt": "os",
    "posixpath": "os.path",
    "ntpath": "os.path",
    "_socket": "socket",
    "__builtin__": "builtins",
    "_io": "io",
}
# A name the cell uses without binding it at its top level: a builtin, or most likely a module an
# earlier cell imported (cells share one namespace).
_BUILTIN_NAMES = frozenset(
    "exec eval compile __import__ getattr setattr open vars globals locals map filter staticmethod "
    "classmethod str".split()
)
_ASSUMED_NAMES = {
    **{
        m: m
        for m in "os sys subprocess shutil socket requests httpx aiohttp urllib urllib3 pty multiprocessing "
        "ctypes cffi importlib builtins runpy pathlib IPython pexpect ftplib smtplib telnetlib".split()
    },
    "Path": "pathlib.Path",
    "__builtins__": "builtins",
    "get_ipython": "IPython.get_ipython",
}
_IPYTHON_GETTERS = (
    "IPython.get_ipython",
    "IPython.core.getipython.get_ipython",
    "**InteractiveShell.instance",
)
_PASS_THROUGH = (
    "functools.partial",
    "builtins.staticmethod",
    "builtins.classmethod",
    "builtins.str",
    "os.fspath",
    "importlib.reload",
)
_MAPPING_GETS = frozenset({"get", "__getitem__", "pop", "setdefault"})
_USER_NAMESPACES = frozenset({"get_ipython().user_ns", "get_ipython().user_global_ns"})

# -- IPython magics, by what they do -----------------------------------------------------------------
_SAFE_MAGICS = frozenset(
    "matplotlib load_ext reload_ext unload_ext autoreload aimport config env set_env who whos who_ls pwd "
    "precision pprint xmode pdb lsmagic magic recall reset reset_selective doctest_mode colors "
    "page pinfo pinfo2 psearch pdef pdoc pfile psource tb automagic autocall autoawait gui killbgscripts "
    "dirs dhist popd bookmark quickref alias_magic macro unalias latex cd pushd".split()
)  # %cd and %pushd change where relative paths point (followed while reading); %history -f writes
# Magics that run a Python statement (line) or body (cell): option letters that take a value.
_STATEMENT_MAGICS = {"time": "", "timeit": "nrp", "prun": "DlsT", "debug": "b", "capture": ""}
# IPython's default shell aliases on POSIX are magics too (`%rm -rf x`).
_SHELL_ALIASES = frozenset("cat cp ls mkdir mv rm rmdir ldir lf lk ll lx clear less man more".split())
_SHELL_LINE_MAGICS = frozenset({"system", "sx", "sc", "alias", "rehashx", "edit", "ed", "tensorboard"})
_SHELL_CELL_MAGICS = frozenset(
    "bash sh zsh script system sx ! perl ruby python python2 python3 pypy cmd powershell pwsh".split()
)
_INSTALL_MAGICS = frozenset({"pip", "conda", "mamba", "micromamba", "uv"})
_READONLY_SUBCOMMANDS = frozenset(
    "list show freeze check help inspect info search debug --version -V --help -h".split()
)
_RUN_MAGICS = frozenset({"run", "rerun"})
_FETCH_MAGICS = frozenset({"load", "loadpy", "pycat"})
_BROWSER_MAGICS = frozenset({"javascript", "js"})
_MARKUP_MAGICS = frozenset({"html", "svg", "markdown"})

# Package managers and the subcommands that change what is installed.
_INSTALLER = re.compile(
    r"(?:^|[\s/\\])(?:pip[\d.]*|conda|mamba|micromamba|uv|apt|apt-get|yum|dnf|apk|brew|npm|yarn|pipx|poetry)"
    r"(?:\s+pip)?(?:\s+-{1,2}[\w-]+)*\s+(?P<verb>install|uninstall|add|remove|sync|upgrade|update|create)\b"
    r"(?P<args>.*)",
    re.S,
)
_VALUE_OPTIONS = frozenset(
    "-r --requirement -e --editable -c --constraint --channel -i --index-url --extra-index-url -f "
    "--find-links -t --target --prefix -n --name -p --python".split()
)

INSIDE, RELATIVE, UNKNOWN, OUTSIDE = "inside", "relative", "unknown", "outside"  # where a path points
_WORST = {INSIDE: 0, RELATIVE: 1, UNKNOWN: 2, OUTSIDE: 3}


def _glob(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + r"[^.()]*", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


class _Names:
    """A table of qualified-name patterns, matched as a whole."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        self._compiled = [_glob(p) for p in self.patterns]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(p.match(name) for p in self._compiled)


def _indexed(table: Iterable[tuple[str, int]]) -> list[tuple[re.Pattern[str], int]]:
    return [(_glob(p), i) for p, i in table]


_PROCESS = _Names(_PROCESS_CALLS)
_COMMAND_IN_FIRST = _Names(_COMMAND_IN_FIRST_ARG)
_COMMAND_IN_ALL = _Names(_COMMAND_IN_ALL_ARGS)
_INSTALL_PY = _Names(_INSTALL_CALLS)
_DYNAMIC_NAMES = _Names(_DYNAMIC_CALLS)
_HIDDEN_NAMES = _Names(_HIDDEN_CALLS)
_PATH_MAKER_NAMES = _Names(_PATH_MAKERS)
_NET_SAFE = _Names(_NETWORK_SAFE)
_NET_ANY = _Names(_NETWORK_CALLS)
_NET_URL = _indexed(_URL_CALLS)
_NET_READERS = _indexed(_URL_READERS)
_IPYTHON = _Names(_IPYTHON_GETTERS)
_PASS = _Names(_PASS_THROUGH)
_ESCAPING = _Names((*_PROCESS_CALLS, *_DYNAMIC_CALLS, *_IMPORTERS, *_NETWORK_CALLS, *_DELETE_CALLS))


def _prefixes(patterns: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for pattern in patterns:
        literal = re.split(r"[*(]", pattern, maxsplit=1)[0].rstrip(".")
        parts = literal.split(".")
        out.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    return frozenset(out)


# Modules (and namespaces) where an attribute picked by a computed name could be anything dangerous.
_DANGEROUS = _prefixes(
    (
        *_PROCESS_CALLS,
        *_DYNAMIC_CALLS,
        *_IMPORTERS,
        *_HIDDEN_CALLS,
        *_NETWORK_CALLS,
        *_DELETE_CALLS,
        *_WRITE_CALLS,
        *_NATIVE_MODULES,
        "sys.modules",
        "globals()",
        "get_ipython()",
    )
) - {"code", "types", "timeit", "marshal", "codeop"}


# -- the values a name can hold, as far as the reader follows them -----------------------------------


@dataclass(frozen=True)
class _Ref:
    """A module, or anything reached from one by attributes and calls, by qualified name."""

    name: str


@dataclass(frozen=True)
class _Text:
    """A string: all of it (`exact`), or only how it starts (an f-string or a concatenation)."""

    value: str
    exact: bool = True


@dataclass(frozen=True)
class _PathValue:
    where: str


@dataclass(frozen=True)
class _PathMethod:
    where: str
    method: str


@dataclass(frozen=True)
class _Function:
    index: int  # into _Reader.functions


@dataclass(frozen=True)
class _Items:
    """A container; subscripting or iterating it gives any of `values`."""

    values: frozenset[_Value]


@dataclass(frozen=True)
class _Getter:
    """operator.attrgetter(attr) (`calls` False) or operator.methodcaller(attr) (True)."""

    attr: str
    calls: bool


@dataclass(frozen=True)
class _Opaque:
    """Something the reader cannot follow (a parameter, an unknown object's attribute). Kept, not
    dropped, so `p = "a.txt"; p = args.path` still counts as a path computed at run time."""


_OPAQUE = _Opaque()
_Value = _Ref | _Text | _PathValue | _PathMethod | _Function | _Items | _Getter | _Opaque
_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
# Limits on following a cell. Real cells stay far below them; reaching one makes the cell unreadable
# (risky) rather than quietly dropping what lay beyond it.
_ROUNDS = 12  # passes until what names hold stops growing; real cells settle in two or three
_MAX_VALUES = 256  # values one name (or container) holds
_MAX_EXTRA = 64  # pieces of code found in strings (exec, magics, `{...}` in shell lines)


def _canonical(name: str) -> str:
    head, dot, rest = name.partition(".")
    return _MODULE_ALIASES.get(head, head) + dot + rest if head in _MODULE_ALIASES else name


def _literal_where(path: str) -> str:
    if path.startswith(("/", "~", "\\")) or re.match(r"[A-Za-z]:", path) or ".." in re.split(r"[\\/]", path):
        return OUTSIDE
    return RELATIVE


def _worst(*wheres: str) -> str:
    return max(wheres, key=_WORST.__getitem__) if wheres else UNKNOWN


def _short(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _source(node: ast.AST) -> str:
    try:
        return _short(ast.unparse(node), 80)
    except (ValueError, TypeError, AttributeError, RecursionError):
        return "…"


def _const_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _arg(call: ast.Call, position: int, keyword: str | None = None) -> ast.expr | None:
    for kw in call.keywords:
        if keyword and kw.arg == keyword:
            return kw.value
    if position < len(call.args) and not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
        return call.args[position]
    return None


def _host_allowed(url: str, hosts: tuple[str, ...]) -> tuple[bool, str]:
    """Whether a literal URL is on an allowed host (on a dot boundary), and the host to name."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return False, _short(url, 60)
    # What urllib.parse and the HTTP libraries read differently (backslashes, spaces, non-ASCII) is refused.
    if not host or parts.scheme.lower() not in ("http", "https", "ws", "wss"):
        return False, _short(url, 60)
    if not re.fullmatch(r"[a-z0-9.\-]+", host) or re.search(r"[\\\s]|[^\x21-\x7e]", parts.netloc):
        return False, _short(url, 60)  # the whole address: which host it reaches depends on the reader
    return any(host == h or host.endswith("." + h) for h in hosts), host


def _shell_segments(command: str) -> tuple[list[str], bool]:
    """A shell command split at `;`, `&&`, `||`, `|`, `&` and newlines outside quotes, and whether it
    substitutes commands (`$(...)`, backticks, `<(...)`), which run wherever they appear."""
    segments, current, quote, i = [], "", "", 0
    while i < len(command):
        c = command[i]
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"':
                current += command[i : i + 2]
                i += 2
                continue
            current += c
        elif c in "'\"":
            quote = c
            current += c
        elif c in ";&|\n":
            segments.append(current)
            current = ""
            while i + 1 < len(command) and command[i + 1] in "&|":
                i += 1
        else:
            current += c
        i += 1
    segments.append(current)
    substitutes = any(marker in command for marker in ("$(", "`", "<(", ">("))
    return [s.strip() for s in segments if s.strip()], substitutes


def _install_detail(verb: str, args: str) -> str:
    words = args.split()
    names, extra, i = [], [], 0
    while i < len(words):
        word = words[i].strip("'\"")
        if word.startswith("-"):
            option, _, value = word.partition("=")
            if option in _VALUE_OPTIONS and not value and i + 1 < len(words):
                i += 1
                value = words[i]
            if option in ("-r", "--requirement"):
                names.append(f"the packages in {value}")
            elif option in ("-e", "--editable"):
                names.append(value)
            elif option in ("-i", "--index-url", "--extra-index-url", "-f", "--find-links"):
                extra.append(f"from {value}")
        elif "{" in word or "$" in word:  # IPython expands {name} / $name when the cell runs
            names.append(f"the packages in {word} (chosen when the cell runs)")
        else:
            names.append(word)
        i += 1
    what = ", ".join(names) or "packages"
    action = {"uninstall": "uninstalls", "remove": "removes", "create": "creates an environment with"}.get(
        verb, "installs"
    )
    return _short(" ".join([action, what, *extra]), 120)


def _strip_options(line: str, with_values: str) -> str:
    """`-n 10 -r 3 stmt` -> `stmt`: what a %timeit-like magic runs, without its options."""
    rest = line.strip()
    while rest.startswith("-"):
        parts = rest.split(None, 1)
        token, after = parts[0], parts[1] if len(parts) > 1 else ""
        if token == "--":  # noqa: S105 - an option, not a password
            return after.strip()
        if len(token) == 2 and token[1] in with_values:  # `-n 10`: the value is the next word
            value_and_rest = after.split(None, 1)
            after = value_and_rest[1] if len(value_and_rest) > 1 else ""
        rest = after.strip()
    return rest


def _expansions(line: str) -> list[str]:
    # IPython expands `{expression}` in shell commands and magic lines: that is Python that runs.
    return [m.group(1) for m in re.finditer(r"(?<!\{)\{([^{}]+)\}(?!\})", line)]


@lru_cache(maxsize=1)
def _ipython_transformer() -> Callable[[str], str] | None:
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # IPython comes with ipykernel; without it IPython syntax is simply unreadable
        return None
    return TransformerManager().transform_cell


def _to_python(code: str) -> str:
    """The Python IPython itself runs for a cell: `!ls` -> `get_ipython().system('ls')`, and so on.

    The kernel's own transformation is used rather than a copy of its rules so that every escape it knows
    (`!`, `!!`, `%`, `%%`, `x = !cmd`, `?`, `/f x`, `,f x`, `;f x`) is read the way it will run.
    """
    transform = _ipython_transformer()
    if transform is None:
        return code
    try:
        return transform(code)
    except Exception:  # whatever IPython cannot transform will not parse below either
        return code


def _parse(code: str, mode: str = "exec") -> ast.AST:
    # Top-level `await`/`async with` are valid in a notebook cell (IPython's autoawait).
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree: ast.AST = compile(code, "<cell>", mode, flags=flags, dont_inherit=True)
    return tree


def _try_parse(code: str) -> ast.AST | None:
    try:
        return _parse(code)
    except (SyntaxError, ValueError):
        return None


def _module_level_names(tree: ast.AST) -> set[str]:
    """Names the cell binds in its own top level (these shadow what earlier cells left behind)."""
    names: set[str] = set()
    todo = list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            todo.extend(node.decorator_list)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        todo.extend(ast.iter_child_nodes(node))
    return names


class _Reader:
    """Reads one cell: follows what its names hold, then records what its calls do.

    Names are followed flow-insensitively and across scopes (a name holds everything it is ever bound
    to, wherever), which over-approximates: a cell is never less risky for being rearranged.
    """

    def __init__(self, hosts: tuple[str, ...]) -> None:
        self.hosts = hosts
        self.env: dict[str, set[_Value]] = {}
        self.functions: list[_FunctionNode] = []
        self.function_ids: dict[int, int] = {}
        self.trees: list[list[ast.AST]] = []  # the cell, then code found in its strings, as node lists
        self.parents: dict[int, ast.AST] = {}
        self.read_strings: set[int] = set()  # calls whose code-in-a-string has been parsed
        self.top_bound: set[str] = set()
        self.star_modules: set[str] = set()
        self.cwd = INSIDE  # where relative paths point: somewhere else once the cell changes directory
        self.findings: list[tuple[str, str]] = []
        self.changed = False
        self.evaluating: set[int] = set()
        self.overflow = False  # a limit was reached: what lies beyond it was not read

    # -- reading ---------------------------------------------------------------------------------

    def read(self, code: str) -> None:
        python = _to_python(code)
        try:
            tree = _parse(python)
        except (SyntaxError, ValueError) as error:
            line = getattr(error, "lineno", None)
            where = f" (line {line}: {getattr(error, 'msg', error)})" if line else ""
            self.add(_UNPARSED, f"the cell is not valid Python{where}")
            # Still name what the lines that do read on their own would do.
            for raw in code.splitlines():
                line_tree = _try_parse(_to_python(raw.strip()))
                if line_tree is not None:
                    self.add_tree(line_tree)
        else:
            self.add_tree(tree)
            self.top_bound = _module_level_names(tree)
        for _ in range(_ROUNDS):
            self.changed = False
            for node in self.nodes():
                self.bind(node)
            if not self.changed:
                break
        if self.changed or self.overflow:
            self.add(_UNPARSED, "the cell is too intricate to follow")
        for node in self.nodes():
            self.check(node)

    def add_tree(self, tree: ast.AST) -> None:
        nodes = list(ast.walk(tree))  # walked once; every round reads the same nodes
        self.trees.append(nodes)
        for parent in nodes:
            for child in ast.iter_child_nodes(parent):
                self.parents[id(child)] = parent

    def nodes(self) -> Iterator[ast.AST]:
        index = 0
        while index < len(self.trees):  # trees found in strings while reading are read too
            yield from self.trees[index]
            index += 1

    def add(self, reason: str, detail: str) -> None:
        if (reason, detail) not in self.findings:
            self.findings.append((reason, detail))

    def read_string(self, call: ast.Call, source: str, *, ipython: bool, mode: str = "exec") -> None:
        """Parse code found in a string literal (exec, %%capture, %timeit, `{...}` in `!cmd`) and read
        it with the rest of the cell, so names resolve as they will when it runs."""
        if len(self.trees) >= _MAX_EXTRA:
            self.overflow = True
            return
        try:
            self.add_tree(_parse(_to_python(source) if ipython else source, mode))
        except (SyntaxError, ValueError):
            if mode == "exec":
                self.add(_UNPARSED, f"code in {_source(call.func)}(...) is not valid Python")

    # -- what names hold -------------------------------------------------------------------------

    def hold(self, name: str, values: Iterable[_Value]) -> None:
        held = self.env.setdefault(name, set())
        for value in values:
            if value not in held:
                if len(held) >= _MAX_VALUES:
                    self.overflow = True
                    return
                held.add(value)
                self.changed = True

    def lookup(self, name: str) -> set[_Value]:
        values = set(self.env.get(name, ()))
        if name not in self.top_bound:
            if name in _ASSUMED_NAMES:
                values.add(_Ref(_ASSUMED_NAMES[name]))
            elif name in _BUILTIN_NAMES:
                values.add(_Ref(f"builtins.{name}"))
            values.update(_Ref(f"{module}.{name}") for module in self.star_modules)
        return values

    def function(self, node: _FunctionNode) -> _Function:
        if id(node) not in self.function_ids:
            self.function_ids[id(node)] = len(self.functions)
            self.functions.append(node)
        return _Function(self.function_ids[id(node)])

    def texts(self, node: ast.AST | None, *, exact: bool = True) -> list[str]:
        if node is None:
            return []
        return [v.value for v in self.eval(node) if isinstance(v, _Text) and (v.exact or not exact)]

    def eval(self, node: ast.AST) -> set[_Value]:
        """What an expression may be; {_OPAQUE} when nothing is known about it."""
        return self.eval_known(node) or {_OPAQUE}

    def eval_known(self, node: ast.AST) -> set[_Value]:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return {_Text(node.value)}
            if isinstance(node.value, bytes):
                return {_Text(node.value.decode("utf-8", "replace"))}
            return set()
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            out = {a for v in self.eval(node.value) for a in self.attribute(v, node.attr)}
            return out | self.env.get("." + node.attr, set())
        if isinstance(node, ast.Call):
            return self.call_result(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(self.eval(node.value), node.slice)
        if isinstance(node, (ast.Await, ast.Starred, ast.NamedExpr)):
            return self.eval(node.value)
        if isinstance(node, ast.IfExp):
            return self.eval(node.body) | self.eval(node.orelse)
        if isinstance(node, ast.BoolOp):
            return {v for value in node.values for v in self.eval(value)}
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return {self.items(v for e in node.elts for v in self.eval(e))}
        if isinstance(node, ast.Dict):
            return {self.items(v for e in node.values for v in self.eval(e))}
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            return {self.items(self.eval(node.elt))}
        if isinstance(node, ast.DictComp):
            return {self.items(self.eval(node.value))}
        if isinstance(node, ast.Lambda):
            return {self.function(node)}
        if isinstance(node, ast.JoinedStr):
            head = node.values[0] if node.values else None
            start = head.value if isinstance(head, ast.Constant) and isinstance(head.value, str) else ""
            exact = all(isinstance(v, ast.Constant) for v in node.values)
            return {_Text(start, exact)}
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        return set()

    def items(self, values: Iterable[_Value]) -> _Items:
        # Containers are kept one level deep; what nests deeper is flattened into them.
        flat: set[_Value] = set()
        for value in values:
            flat.update(value.values if isinstance(value, _Items) else (value,))
        if len(flat) > _MAX_VALUES:
            self.overflow = True
        return _Items(frozenset(list(flat)[:_MAX_VALUES]))

    def binop(self, node: ast.BinOp) -> set[_Value]:
        left, right = self.eval(node.left), self.eval(node.right)
        out: set[_Value] = set()
        if isinstance(node.op, ast.Div):  # pathlib: Path("a") / "b"
            for a in left:
                if isinstance(a, _PathValue):
                    out.add(
                        _PathValue(_worst(a.where, *(self.where_of(v) for v in right)) if right else UNKNOWN)
                    )
        if isinstance(node.op, (ast.Add, ast.Mod)):
            for a in left:
                if isinstance(a, _Text):
                    exact = [b.value for b in right if isinstance(b, _Text) and b.exact] if a.exact else []
                    out.update(_Text((a.value + b)[:1000]) for b in exact)
                    if len(exact) < len(right) or isinstance(node.op, ast.Mod):
                        out.add(_Text(a.value, exact=False))  # known only as far as its start
        return out

    def attribute(self, value: _Value, attr: str) -> set[_Value]:
        if attr == "__call__":  # os.system.__call__ is os.system
            return {value}
        if isinstance(value, _Ref):
            name = _canonical(f"{value.name}.{attr}")
            return {_Ref("globals()" if name in _USER_NAMESPACES else name)}
        if isinstance(value, _PathValue):
            if attr in ("parent", "parents"):
                return {_PathValue(OUTSIDE if value.where == OUTSIDE else UNKNOWN)}
            return {_PathMethod(value.where, attr)}
        if isinstance(value, _Items) and attr in _MAPPING_GETS | {"values", "items", "copy"}:
            return {value}  # calling d.get(...) gives what d holds
        return set()

    def subscript(self, bases: set[_Value], key_node: ast.AST) -> set[_Value]:
        out: set[_Value] = set()
        keys = self.texts(key_node)
        for base in bases:
            if isinstance(base, _Items):
                out |= set(base.values) | {base}
            elif isinstance(base, _Ref):
                for key in keys:
                    out |= self.namespace_item(base.name, key)
        return out

    def namespace_item(self, namespace: str, key: str) -> set[_Value]:
        """`sys.modules["os"]`, `vars(os)["system"]`, `globals()["os"]`, `__builtins__["exec"]`."""
        if namespace == "globals()":
            return self.lookup(key)
        if namespace == "sys.modules":
            return {_Ref(_canonical(key))}
        if namespace.endswith(".__dict__"):
            return {_Ref(_canonical(f"{namespace[: -len('.__dict__')]}.{key}"))}
        if namespace == "builtins":
            return {_Ref(f"builtins.{key}")}
        return set()

    def call_result(self, node: ast.Call) -> set[_Value]:
        out: set[_Value] = set()
        for callee in self.eval(node.func):
            if isinstance(callee, _Ref):
                out |= self.ref_result(callee.name, node)
            elif isinstance(callee, _Function) and callee.index not in self.evaluating:
                self.evaluating.add(callee.index)
                try:
                    out |= self.returns(self.functions[callee.index])
                finally:
                    self.evaluating.discard(callee.index)
            elif isinstance(callee, _PathMethod):
                if callee.method in _PATH_SAME:
                    out.add(_PathValue(callee.where))
                elif callee.method == "joinpath":
                    out.add(_PathValue(_worst(callee.where, *(self.where(a) for a in node.args))))
                elif callee.method in _PATH_LISTINGS:
                    out.add(_Items(frozenset({_PathValue(callee.where)})))
            elif isinstance(callee, _Items):
                out |= set(callee.values)
            elif isinstance(callee, _Getter) and not callee.calls and node.args:
                out |= {a for v in self.eval(node.args[0]) for a in self.attribute(v, callee.attr)}
        if isinstance(node.func, ast.Attribute) and node.func.attr in _MAPPING_GETS and node.args:
            for base in self.eval(node.func.value):
                if isinstance(base, _Ref):
                    for key in self.texts(node.args[0]):
                        out |= self.namespace_item(base.name, key)
            if node.func.attr in ("__getitem__",):
                out |= self.subscript(self.eval(node.func.value), node.args[0])
        return out

    def ref_result(self, name: str, node: ast.Call) -> set[_Value]:
        first = node.args[0] if node.args else None
        if name in _IMPORTERS:
            out: set[_Value] = set()
            for module in self.texts(_arg(node, 0, "name")):
                out |= {_Ref(_canonical(module)), _Ref(_canonical(module.split(".")[0]))}
            return out
        if name in ("builtins.getattr", "builtins.object.__getattribute__") and len(node.args) >= 2:
            return {
                a
                for v in self.eval(node.args[0])
                for attr in self.texts(node.args[1])
                for a in self.attribute(v, attr) | self.env.get("." + attr, set())
            }
        if name.endswith((".__getattribute__", ".__getattr__")) and first is not None:
            owner = _Ref(name.rsplit(".", 1)[0])
            return {a for attr in self.texts(first) for a in self.attribute(owner, attr)}
        if name in _IPYTHON:
            return {_Ref("get_ipython()")}
        if name in ("builtins.globals", "builtins.locals") or (name == "builtins.vars" and not node.args):
            return {_Ref("globals()")}
        if name == "builtins.vars" and first is not None:
            return {_Ref(f"{v.name}.__dict__") for v in self.eval(first) if isinstance(v, _Ref)}
        if name in _PASS and first is not None:
            return self.eval(first)
        if name in ("operator.attrgetter", "operator.methodcaller"):
            return {_Getter(t, name.endswith("methodcaller")) for t in self.texts(first)}
        if name in _PATH_MAKER_NAMES:
            return {_PathValue(_worst(*(self.where(a) for a in node.args)) if node.args else RELATIVE)}
        if name in ("pathlib.Path.home", "pathlib.Path.home()"):
            return {_PathValue(OUTSIDE)}
        if name in ("os.getcwd", "pathlib.Path.cwd"):
            return {_PathValue(INSIDE)}
        if name in ("tempfile.gettempdir", "tempfile.mkdtemp"):
            return {_PathValue(OUTSIDE)}
        if name in ("os.path.dirname", "os.path.split"):
            return {_PathValue(OUTSIDE if self.where(first) == OUTSIDE else UNKNOWN)}
        if any(p.match(name) for p, _ in _NET_URL):
            return set()  # a response: what it does next is not the network's
        return {_Ref(name + "()")}

    def returns(self, function: _FunctionNode) -> set[_Value]:
        if isinstance(function, ast.Lambda):
            return self.eval(function.body)
        out: set[_Value] = set()
        todo: list[ast.AST] = list(function.body)
        while todo:
            node = todo.pop()
            if isinstance(node, ast.Return) and node.value is not None:
                out |= self.eval(node.value)
            elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                todo.extend(ast.iter_child_nodes(node))
        return out

    def where(self, node: ast.AST | None) -> str:
        """Where a path argument points: INSIDE/RELATIVE (fine), OUTSIDE, or UNKNOWN (computed)."""
        if node is None:
            return UNKNOWN
        if isinstance(node, ast.JoinedStr):
            literal = [
                v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
            ]
            if any(".." in re.split(r"[\\/]", part) for part in literal):
                return OUTSIDE
        values = self.eval(node)
        return _worst(*(self.where_of(v) for v in values)) if values else UNKNOWN

    def where_of(self, value: _Value) -> str:
        if isinstance(value, _Text):
            where = _literal_where(value.value)
            return where if value.exact or where == OUTSIDE else UNKNOWN
        if isinstance(value, _PathValue):
            return value.where
        return UNKNOWN

    def resolved(self, where: str) -> str:
        return self.cwd if where == RELATIVE else where

    # -- binding ---------------------------------------------------------------------------------

    def bind(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.hold(alias.asname, {_Ref(_canonical(alias.name))})
                else:
                    top = alias.name.split(".")[0]
                    self.hold(top, {_Ref(_canonical(top))})
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            module = _canonical(node.module)
            for alias in node.names:
                if alias.name == "*":
                    if module not in self.star_modules:
                        self.star_modules.add(module)
                        self.changed = True
                else:
                    self.hold(alias.asname or alias.name, {_Ref(_canonical(f"{module}.{alias.name}"))})
        elif isinstance(node, ast.Assign):
            values = self.eval(node.value)
            for target in node.targets:
                self.assign(target, values, node.value)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            value: ast.expr = node.value
            if isinstance(node, ast.AugAssign):
                value = ast.BinOp(left=node.target, op=node.op, right=node.value)
            self.assign(node.target, self.eval(value), value)
        elif isinstance(node, ast.NamedExpr):
            self.assign(node.target, self.eval(node.value))
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            self.assign(node.target, self.contents(self.eval(node.iter)))
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, self.eval(item.context_expr))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            self.bind_function(node)
        elif isinstance(node, ast.ClassDef):
            # A class is what it derives from, for what calling it does: class P(subprocess.Popen).
            self.hold(node.name, {v for base in node.bases for v in self.eval(base) if isinstance(v, _Ref)})
        elif isinstance(node, ast.Call):
            self.bind_call(node)

    def bind_function(self, node: _FunctionNode) -> None:
        function = self.function(node)
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        # Parameters also hold whatever a later cell will pass.
        for param in (*positional, *args.kwonlyargs, args.vararg, args.kwarg):
            if param is not None:
                self.hold(param.arg, {_OPAQUE})
        for param, default in zip(
            positional[len(positional) - len(args.defaults) :], args.defaults, strict=True
        ):
            self.hold(param.arg, self.eval(default))
        for param, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            if kw_default is not None:
                self.hold(param.arg, self.eval(kw_default))
        if isinstance(node, ast.Lambda):
            return
        self.hold(node.name, {function})
        if isinstance(self.parents.get(id(node)), ast.ClassDef):
            self.hold("." + node.name, {function})
        for decorator in node.decorator_list:  # @d def f: f is what d(f) returns
            for callee in self.eval(decorator):
                if isinstance(callee, _Function):
                    self.bind_arguments(self.functions[callee.index], [{function}], {})
                    self.hold(node.name, self.returns(self.functions[callee.index]))

    def assign(self, target: ast.AST, values: set[_Value], value: ast.AST | None = None) -> None:
        if isinstance(target, ast.Name):
            self.hold(target.id, values)
            if isinstance(self.parents.get(id(self.parents.get(id(target)))), ast.ClassDef):
                self.hold("." + target.id, values)  # a class attribute: reached as A.name or self.name
        elif isinstance(target, (ast.Tuple, ast.List)):
            pairs = isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts)
            if pairs and isinstance(value, (ast.Tuple, ast.List)):
                for t, v in zip(target.elts, value.elts, strict=True):
                    self.assign(t, self.eval(v), v)
            else:
                spread = values | self.contents(values)
                for t in target.elts:
                    self.assign(t, spread)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, values | {self.items(values)})
        elif isinstance(target, ast.Attribute):
            self.hold("." + target.attr, values)
        elif isinstance(target, ast.Subscript):
            for base in self.eval(target.value):
                if isinstance(base, _Ref) and base.name == "globals()":
                    for key in self.texts(target.slice):
                        self.hold(key, values)
            if isinstance(target.value, ast.Name) and values:
                self.hold(target.value.id, {self.items(values)})

    def contents(self, values: set[_Value]) -> set[_Value]:
        """What iterating or unpacking any of `values` gives (unknown for what is not a container)."""
        out = {v for c in values if isinstance(c, _Items) for v in c.values}
        if not out or not all(isinstance(c, _Items) for c in values):
            out.add(_OPAQUE)
        return out

    def bind_call(self, node: ast.Call) -> None:
        callees = self.eval(node.func)
        positional = [self.eval(a) for a in node.args]
        keywords = {kw.arg: self.eval(kw.value) for kw in node.keywords if kw.arg}
        for callee in callees:
            if isinstance(callee, _Function):
                self.bind_arguments(self.functions[callee.index], positional, keywords)
            elif isinstance(callee, _Ref):
                self.bind_ref_call(callee.name, node, positional)
        self.find_code_in_strings(node, callees)

    def bind_ref_call(self, name: str, node: ast.Call, positional: list[set[_Value]]) -> None:
        if name in ("builtins.map", "builtins.filter") and positional:
            # map(f, xs) calls f with each x.
            elements = [self.contents(p) for p in positional[1:]]
            for callee in positional[0]:
                if isinstance(callee, _Function):
                    self.bind_arguments(self.functions[callee.index], elements, {})
        elif name == "builtins.setattr" and len(node.args) >= 3:
            for attr in self.texts(node.args[1]):
                self.hold("." + attr, self.eval(node.args[2]))
        elif name in ("os.chdir", "os.fchdir"):
            self.change_directory(self.where(_arg(node, 0, "path")))
        elif name == "get_ipython().run_line_magic":
            magic, line = self.texts(_arg(node, 0, "magic_name")), self.texts(_arg(node, 1, "line"))
            if {m.lstrip("%") for m in magic} & {"cd", "pushd"}:
                for text in line or ["{…}"]:
                    self.change_directory(self.magic_cd(text))

    def magic_cd(self, line: str) -> str:
        target = re.sub(r"^(-[qb]\s+)+", "", line.strip())
        if not target or target.startswith("~"):
            return OUTSIDE  # `%cd` alone goes home
        if target.startswith("-") or "{" in target or "$" in target:
            return UNKNOWN
        return _literal_where(target.strip("'\""))

    def change_directory(self, where: str) -> None:
        where = INSIDE if where == RELATIVE else where  # a folder inside this one is still inside
        if _WORST[where] > _WORST[self.cwd]:
            self.cwd = where
            self.changed = True

    def bind_arguments(
        self, function: _FunctionNode, positional: list[set[_Value]], keywords: dict[str, set[_Value]]
    ) -> None:
        args = function.args
        params = [p.arg for p in (*args.posonlyargs, *args.args)]
        method = isinstance(self.parents.get(id(function)), ast.ClassDef)
        for index, values in enumerate(positional):
            # A method called on an instance gets `self` first: bind both ways rather than guess.
            for shift in (0, 1) if method else (0,):
                if index + shift < len(params):
                    self.hold(params[index + shift], values | self.contents(values))
                elif args.vararg is not None:
                    self.hold(args.vararg.arg, {self.items(values)})
        named = {*params, *(p.arg for p in args.kwonlyargs)}
        for key, values in keywords.items():
            if key in named:
                self.hold(key, values)
            elif args.kwarg is not None:
                self.hold(args.kwarg.arg, {self.items(values)})

    def find_code_in_strings(self, node: ast.Call, callees: set[_Value]) -> None:
        """Strings that are code (exec's argument, a %timeit statement, `{...}` in `!cmd`) are parsed
        once and read with the cell."""
        if id(node) in self.read_strings:
            return
        found: list[tuple[str, bool, str]] = []  # (source, IPython syntax?, parse mode)
        for callee in callees:
            name = callee.name if isinstance(callee, _Ref) else ""
            if name in ("builtins.exec", "builtins.eval", "builtins.compile"):
                found += [(t, False, "exec") for t in self.texts(_arg(node, 0, "source"))]
            elif name.startswith("timeit."):
                for i, kw in ((0, "stmt"), (1, "setup")):
                    found += [(t, False, "exec") for t in self.texts(_arg(node, i, kw))]
            elif name in ("get_ipython().run_cell", "get_ipython().run_cell_async", "get_ipython().ex"):
                found += [(t, True, "exec") for t in self.texts(_arg(node, 0, "raw_cell"))]
            elif name == "get_ipython().ev":
                found += [(t, False, "exec") for t in self.texts(_arg(node, 0, "expr"))]
            elif name in _PROCESS and name.startswith("get_ipython()"):
                found += [
                    (e, False, "eval") for t in self.texts(_arg(node, 0, "cmd")) for e in _expansions(t)
                ]
            elif name in (
                "get_ipython().run_line_magic",
                "get_ipython().run_cell_magic",
                "get_ipython().magic",
            ):
                found += self.magic_code(node, name)
        if found:
            self.read_strings.add(id(node))
            self.changed = True
            for source, ipython, mode in found:
                self.read_string(node, source, ipython=ipython, mode=mode)

    def magic_code(self, node: ast.Call, name: str) -> list[tuple[str, bool, str]]:
        found: list[tuple[str, bool, str]] = []
        for magic, line, body, _cell in self.magic_calls(node, name):
            if magic is None or line is None:
                continue
            found += [(e, False, "eval") for e in _expansions(line)]
            if magic in _STATEMENT_MAGICS:
                statement = _strip_options(line, _STATEMENT_MAGICS[magic])
                if statement and magic != "capture":
                    found.append((statement, False, "exec"))
                if body is not None:
                    found.append((body, True, "exec"))
        return found

    def magic_calls(self, node: ast.Call, name: str) -> list[tuple[str | None, str | None, str | None, bool]]:
        """(magic, line, cell body, is a cell magic) for each way a magic call's arguments read; None
        stands for an argument computed at run time."""
        if name == "get_ipython().magic":  # the old spelling: magic("pip install x")
            texts = self.texts(_arg(node, 0, "arg_s"))
            if not texts:
                return [(None, None, None, False)]
            out: list[tuple[str | None, str | None, str | None, bool]] = []
            for text in texts:
                magic, _, line = text.lstrip("%").partition(" ")
                out.append((magic, line, None, False))
            return out
        cell = name.endswith("run_cell_magic")
        magics: list[str | None] = [m.lstrip("%") for m in self.texts(_arg(node, 0, "magic_name"))]
        lines: list[str | None] = list(self.texts(_arg(node, 1, "line")))
        bodies: list[str | None] = list(self.texts(_arg(node, 2, "cell"))) if cell else [None]
        return [
            (magic, line, body, cell)
            for magic in magics or [None]
            for line in lines or [None]
            for body in bodies or [None]
        ]

    # -- checking --------------------------------------------------------------------------------

    def check(self, node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in _NATIVE_MODULES:
                    self.add(_NATIVE, f"uses {module}")
        elif isinstance(node, ast.Call):
            self.check_call(node)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if not self.texts(node.slice):
                for base in self.eval(node.value):
                    if isinstance(base, _Ref) and self.is_namespace(base.name):
                        self.add(_DYNAMIC, f"looks up a name computed at run time in {base.name}")
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
            self.check_reference(node)

    def is_namespace(self, name: str) -> bool:
        return name in ("globals()", "sys.modules", "builtins") or (
            name.endswith(".__dict__") and name[: -len(".__dict__")] in _DANGEROUS
        )

    def check_reference(self, node: ast.Name | ast.Attribute) -> None:
        """A dangerous function handed to other code (`map(os.system, cmds)`, `Thread(target=...)`,
        a decorator, a dict of callbacks) is as good as called."""
        parent = self.parents.get(id(node))
        handed_on = (
            (isinstance(parent, ast.Call) and node in parent.args)
            or isinstance(parent, (ast.keyword, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.Starred))
            or isinstance(parent, (ast.Return, ast.Yield, ast.YieldFrom, ast.Lambda))
            or (
                isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and node in parent.decorator_list
            )
            or (
                isinstance(parent, (ast.Assign, ast.AnnAssign))
                and not all(
                    isinstance(t, ast.Name)
                    for t in (parent.targets if isinstance(parent, ast.Assign) else [parent.target])
                )
            )
        )
        if not handed_on or (
            isinstance(parent, ast.Call) and _source(parent.func) in ("isinstance", "issubclass")
        ):
            return  # isinstance(x, requests.Response) hands on a type, not a function
        for value in self.eval(node):
            if isinstance(value, _Ref) and value.name in _ESCAPING:
                last = value.name.rsplit(".", 1)[-1]
                if last.isupper() or last.endswith(("Error", "Exception", "Warning", "Expired")):
                    continue  # subprocess.PIPE, requests.HTTPError: not something that runs
                self.check_ref_call(value.name, None)

    def check_call(self, node: ast.Call) -> None:
        callees = self.eval(node.func)
        by_getter = False
        for getter in [c for c in callees if isinstance(c, _Getter) and c.calls]:
            # methodcaller("system", "ls")(os) calls os.system, with arguments given elsewhere.
            by_getter = True
            if node.args:
                callees |= {a for v in self.eval(node.args[0]) for a in self.attribute(v, getter.attr)}
        for callee in callees:
            if isinstance(callee, _Ref):
                self.check_ref_call(callee.name, None if by_getter else node)
            elif isinstance(callee, _PathMethod):
                self.check_path_method(callee, node)
        for kw in node.keywords:
            # Any library pointed at another server (HfApi(endpoint=...), OpenAI(base_url=...)).
            if kw.arg in ("endpoint", "endpoint_url", "base_url") and not _is_none(kw.value):
                self.check_url(kw.value, soft=False)
            if kw.arg == "trust_remote_code" and not (
                isinstance(kw.value, ast.Constant) and kw.value.value in (False, None)
            ):
                self.add(_HIDDEN, "runs the model repository's own code (trust_remote_code)")
        if isinstance(node.func, ast.Attribute):
            attr = node.func.attr
            if attr in _SAVE_METHODS:
                for arg in [*node.args, *(kw.value for kw in node.keywords)]:
                    if self.resolved(self.where(arg)) == OUTSIDE:
                        self.add(_WRITES, f"writes {self.path_text(arg)}")
            if attr in ("unlink", "rmdir") and not any(isinstance(c, (_PathMethod, _Ref)) for c in callees):
                self.add(_DELETES, f"deletes {_source(node.func.value)} (a path computed at run time)")

    def check_ref_call(self, name: str, node: ast.Call | None) -> None:
        """What calling `name` does; `node` is None when the function is handed on (arguments unknown)."""
        first = node.args[0] if node is not None and node.args else None
        if name in _PROCESS:
            self.check_process(name, node)
        if name in _INSTALL_PY:
            args = self.command_text(first) if first is not None else ""
            self.add(_INSTALLS, _install_detail("install", re.sub(r"^\s*install\b", "", args)))
        elif name == "runpy.run_module" and node is not None and "pip" in self.texts(first):
            self.add(_INSTALLS, f"runs pip as a module: {self.call_text(name, node)}")
        elif name in _HIDDEN_NAMES:
            self.add(_HIDDEN, f"runs {self.call_text(name, node)}")
        if name.startswith("get_ipython().") and name.rsplit(".", 1)[1] in (
            "run_line_magic",
            "run_cell_magic",
            "magic",
        ):
            if node is None:
                self.add(_DYNAMIC, "runs magics chosen at run time")
            else:
                for magic, line, body, cell in self.magic_calls(node, name):
                    self.check_magic(magic, line, body, cell)
        if name in _DYNAMIC_NAMES:
            self.add(_DYNAMIC, f"runs code built at run time: {self.call_text(name, node)}")
        if name in _IMPORTERS and (node is None or _const_str(_arg(node, 0, "name")) is None):
            self.add(_DYNAMIC, f"imports a module named at run time: {self.call_text(name, node)}")
        if name in ("builtins.getattr", "builtins.object.__getattribute__") and node is not None:
            if len(node.args) >= 2 and _const_str(node.args[1]) is None:
                owners = [
                    v.name for v in self.eval(node.args[0]) if isinstance(v, _Ref) and v.name in _DANGEROUS
                ]
                if owners:
                    self.add(_DYNAMIC, f"picks a function of {owners[0]} by a computed name: {_source(node)}")
        if name in _DELETE_CALLS:
            position, keyword = _DELETE_CALLS[name]
            target = _arg(node, position, keyword) if node is not None else None
            if self.resolved(self.where(target)) != INSIDE:
                self.add(_DELETES, f"deletes {self.path_text(target)}")
        if name in _WRITE_CALLS and node is not None:
            position, keyword = _WRITE_CALLS[name]
            target = _arg(node, position, keyword)
            if self.resolved(self.where(target)) == OUTSIDE:
                self.add(_WRITES, f"writes {self.path_text(target)}")
        if name in _OPEN_CALLS and node is not None:
            self.check_open(name, node)
        self.check_network(name, node)
        if name.split(".")[0] in _NATIVE_MODULES:
            self.add(_NATIVE, f"uses {name.split('.')[0]}")
        if name in _SCRIPT_DISPLAYS:
            self.add(_BROWSER, "runs JavaScript in the notebook page")
        if name in _MARKUP_DISPLAYS and node is not None:
            if any(_SCRIPTY.search(t) for t in self.texts(first, exact=False)):
                self.add(_BROWSER, "shows markup with scripts in the notebook page")

    def check_network(self, name: str, node: ast.Call | None) -> None:
        if name in _NET_SAFE:
            return
        for pattern, position in _NET_URL:
            if pattern.match(name):
                self.check_url(_arg(node, position, "url") if node is not None else None, soft=False)
                for kw in node.keywords if node is not None else []:
                    if kw.arg in ("proxies", "proxy") and not _is_none(kw.value):
                        self.add(_NETWORK, f"calls through a proxy: {_source(kw.value)}")
                return
        for pattern, position in _NET_READERS:
            if pattern.match(name) and node is not None:
                self.check_url(
                    _arg(node, position, "filepath_or_buffer") or _arg(node, position, "path"), soft=True
                )
                return
        if name in _NET_ANY:
            self.add(_NETWORK, f"opens a network connection: {self.call_text(name, node)}")

    def check_url(self, node: ast.AST | None, *, soft: bool) -> None:
        """A network call is fine only for a literal URL on an allowed host. `soft` (readers that take
        paths or URLs) flags only what is plainly a URL."""
        if isinstance(node, ast.Call):  # urlopen(Request(url)): the URL is the request's
            names = {v.name for v in self.eval(node.func) if isinstance(v, _Ref)}
            if "urllib.request.Request" in names:
                node = _arg(node, 0, "url")
            elif "requests.Request" in names:
                node = _arg(node, 1, "url")
        literal = _const_str(node)
        if literal is not None:
            if soft and not re.match(r"[A-Za-z][\w+.-]*://", literal.strip()):
                return
            allowed, host = _host_allowed(literal, self.hosts)
            if not allowed:
                self.add(_NETWORK, f"calls {host}")
            return
        if soft:
            starts = self.texts(node, exact=False) if node is not None else []
            if not any(re.match(r"[A-Za-z][\w+.-]*://", s) for s in starts):
                return
        shown = _source(node) if node is not None else "an address it is given"
        self.add(_NETWORK, f"calls a URL computed at run time: {shown}")

    def check_open(self, name: str, node: ast.Call) -> None:
        path_pos, path_kw, mode_pos, mode_kw = _OPEN_CALLS[name]
        mode = _arg(node, mode_pos, mode_kw)
        if name == "os.open":
            writes = not (mode is not None and _source(mode).endswith("O_RDONLY"))
        else:
            text = "r" if mode is None else _const_str(mode)
            writes = text is None or any(c in text for c in "wax+")
        target = _arg(node, path_pos, path_kw)
        if writes and self.resolved(self.where(target)) == OUTSIDE:
            self.add(_WRITES, f"writes {self.path_text(target)}")

    def check_path_method(self, method: _PathMethod, node: ast.Call) -> None:
        where = self.resolved(method.where)
        shown = _source(node.func.value) if isinstance(node.func, ast.Attribute) else "a path"
        if method.method in _PATH_DELETES and where != INSIDE:
            self.add(_DELETES, f"deletes {shown}")
        if method.method in _PATH_WRITES and where == OUTSIDE:
            self.add(_WRITES, f"writes {shown}")
        if method.method == "open" and where == OUTSIDE:
            mode_node = _arg(node, 0, "mode")
            mode = "r" if mode_node is None else _const_str(mode_node)
            if mode is None or any(c in mode for c in "wax+"):
                self.add(_WRITES, f"writes {shown}")
        if method.method in _PATH_TARGETS:
            target = _arg(node, 0, "target")
            if self.resolved(self.where(target)) == OUTSIDE:
                self.add(_WRITES, f"writes {self.path_text(target)}")

    def check_process(self, name: str, node: ast.Call | None) -> None:
        """A call that starts a process: name the command when the call carries one."""
        command: str | None = None
        if node is not None and name in _COMMAND_IN_ALL:
            command = " ".join(self.command_text(a) for a in node.args) or None
        elif node is not None and name in _COMMAND_IN_FIRST:
            first = _arg(node, 0, "args") or _arg(node, 0, "cmd") or _arg(node, 0, "command")
            command = self.command_text(first) if first is not None else None
        elif node is not None and name.startswith("sh."):  # sh.ls("-la") runs `ls -la`
            command = " ".join([name[3:].replace("()", ""), *(self.command_text(a) for a in node.args)])
        if node is None:
            self.add(_SHELL, f"hands {name} to other code to call")
        elif command is None:
            self.add(_SHELL, f"starts a process: {name}")
        else:
            self.check_shell(command)

    def check_shell(self, command: str) -> None:
        """A shell command line: package installs are named as such, anything else is a shell command."""
        segments, substitutes = _shell_segments(command)
        other = substitutes
        for segment in segments:
            install = _INSTALLER.search(segment)
            if install:
                self.add(_INSTALLS, _install_detail(install.group("verb"), install.group("args")))
            else:
                other = True
        if other or not segments:
            self.add(_SHELL, f"runs: {_short(command) or '(an empty command)'}")

    def command_text(self, node: ast.AST) -> str:
        """A command as the shell would see it, with computed parts shown as {code}."""
        if isinstance(node, (ast.List, ast.Tuple)):
            return " ".join(self.command_text(e) for e in node.elts)
        literal = _const_str(node)
        if literal is not None:
            return literal
        if isinstance(node, ast.JoinedStr):
            return "".join(
                str(v.value) if isinstance(v, ast.Constant) else "{" + _source(getattr(v, "value", v)) + "}"
                for v in node.values
            )
        return "{" + _source(node) + "}"

    def call_text(self, name: str, node: ast.Call | None) -> str:
        name = name.removeprefix("builtins.")
        if node is None:
            return f"{name} (handed to other code)"
        args = ", ".join(_source(a) for a in [*node.args, *(kw.value for kw in node.keywords)])
        return _short(f"{name}({args})", 100)

    def path_text(self, node: ast.AST | None) -> str:
        if node is None:
            return "a path it is given"
        literal = _const_str(node)
        return literal if literal is not None else f"{_source(node)} (computed at run time)"

    def check_magic(self, magic: str | None, line: str | None, body: str | None, cell: bool) -> None:
        """A magic, by what it does: `%pip` installs, `%%bash` is a shell, `%timeit` runs its statement
        (read separately), `%matplotlib` is harmless, one Cookbook does not know runs code not shown."""
        if magic is None:
            self.add(_DYNAMIC, "runs a magic chosen at run time")
            return
        shown = _short(f"%{magic} {line or ''}".strip())
        if magic in _SAFE_MAGICS or magic in _STATEMENT_MAGICS:
            if magic in _STATEMENT_MAGICS and (line is None or (cell and body is None)):
                self.add(_DYNAMIC, f"runs a statement computed at run time: %{magic}")
        elif magic in _INSTALL_MAGICS:
            self.check_install_magic(magic, line)
        elif magic in _SHELL_LINE_MAGICS or magic in _SHELL_ALIASES:
            if line is None:
                self.add(_SHELL, f"runs: %{magic} (a command computed at run time)")
            elif magic in ("system", "sx", "sc"):
                self.check_shell(re.sub(r"^(-[lv]\s+)+", "", line) if magic == "sc" else line)
            elif magic in _SHELL_ALIASES:
                self.check_shell(f"{magic} {line}")
            else:
                self.add(_SHELL, f"runs: {shown}")
        elif magic in _SHELL_CELL_MAGICS:
            words = (line or "").split()
            interpreter = words[0].rsplit("/", 1)[-1] if magic == "script" and words else magic
            if body is not None and interpreter in ("bash", "sh", "zsh", "!", "system", "sx"):
                self.check_shell(body)  # a shell script: its installs are named as such
            else:
                self.add(_SHELL, f"runs a {interpreter} script: {_short(body or '(computed at run time)')}")
        elif magic in ("writefile", "file") or magic in ("save", "logstart", "notebook", "store"):
            self.check_magic_write(magic, line)
        elif magic in ("history", "hist"):
            written = re.search(r"(?:^|\s)-f\s+(\S+)", line or "")
            if written and self.resolved(_literal_where(written.group(1).strip("'\""))) == OUTSIDE:
                self.add(_WRITES, f"writes {written.group(1)}")
        elif magic in _RUN_MAGICS:
            self.add(_HIDDEN, f"runs {shown}")
        elif magic in _FETCH_MAGICS:
            target = (line or "").split()[-1:] or [""]
            if re.match(r"[A-Za-z][\w+.-]*://", target[0]):
                allowed, host = _host_allowed(target[0], self.hosts)
                if not allowed:
                    self.add(_NETWORK, f"calls {host}")
        elif magic in _BROWSER_MAGICS:
            self.add(_BROWSER, "runs JavaScript in the notebook page")
        elif magic in _MARKUP_MAGICS:
            if body is None or _SCRIPTY.search(body):
                self.add(_BROWSER, f"shows %%{magic} with scripts in the notebook page")
        else:
            self.add(_HIDDEN, f"runs the magic {shown}, which Cookbook cannot check")

    def check_install_magic(self, magic: str, line: str | None) -> None:
        if line is None:
            self.add(_INSTALLS, f"{magic} with arguments computed at run time")
            return
        # %pip and %conda hand their line to a shell: what follows `;` or `&&` is a shell command.
        segments, substitutes = _shell_segments(line)
        if not segments:
            return
        words = segments[0].split()
        if words and words[0] in ("pip",) and magic == "uv":
            words = words[1:]
        if words and words[0] not in _READONLY_SUBCOMMANDS:
            self.add(_INSTALLS, _install_detail(words[0], " ".join(words[1:])))
        if substitutes or len(segments) > 1:
            self.add(_SHELL, f"runs: %{magic} {_short(line)}")

    def check_magic_write(self, magic: str, line: str | None) -> None:
        text = line or ""
        if magic == "store":
            if ">" not in text:
                return
            text = text.split(">")[-1]
        words = [w for w in text.split() if not w.startswith("-")]
        if magic == "save":
            words = words[:1]
        for word in words[:1]:
            path = word.strip("'\"")
            if self.resolved(_literal_where(path)) == OUTSIDE:
                self.add(_WRITES, f"writes {path}")

    # -- the answer ------------------------------------------------------------------------------

    def report(self) -> RiskReport:
        found = sorted(enumerate(self.findings), key=lambda f: (RISK_ORDER.index(f[1][0]), f[0]))
        reasons = [r for r in RISK_ORDER if any(reason == r for reason, _ in self.findings)]
        return RiskReport(reasons=reasons, details=list(dict.fromkeys(detail for _, (_, detail) in found)))


def _hosts(allowed_hosts: Iterable[str] | None) -> tuple[str, ...]:
    if allowed_hosts is None:
        return _HUB_HOSTS
    return tuple(h.strip().lower().rstrip(".") for h in allowed_hosts if h and h.strip())


def assess_risk(code: str, allowed_hosts: Iterable[str] | None = None) -> RiskReport:
    """What a cell does that a user may want to approve first, with details naming it.

    `allowed_hosts` are hosts (and their subdomains) a literal URL may call without asking; the Hugging
    Face Hub by default.
    """
    reader = _Reader(_hosts(allowed_hosts))
    try:
        reader.read(code)
    except RecursionError:  # expressions nested deeper than Python can walk: not readable, so risky
        reader.add(_UNPARSED, "the cell is nested too deeply to read")
    return reader.report()


def classify_risk(code: str, allowed_hosts: Iterable[str] | None = None) -> list[str]:
    """Reasons a cell is risky (empty when it is not), in RISK_ORDER."""
    return assess_risk(code, allowed_hosts).reasons
