"""A repository's license as an SPDX-style id, from GitHub's metadata or the LICENSE file's wording."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .scan import FileEntry, TextReader

__all__ = ["detect_license"]

_LICENSE_STEMS = ("license", "licence", "copying", "license-mit", "license-apache")
# Ordered: more specific wording first (LGPL before GPL, BSD-3 before BSD-2).
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (spdx, re.compile(pattern, re.IGNORECASE | re.DOTALL))
    for spdx, pattern in (
        ("Apache-2.0", r"apache license.{0,40}(?:version 2\.0|2\.0)|apache-2\.0"),
        ("MIT", r"\bMIT License\b|permission is hereby granted, free of charge"),
        ("AGPL-3.0", r"gnu affero general public license"),
        ("LGPL-3.0", r"gnu lesser general public license.{0,80}version 3"),
        ("LGPL-2.1", r"gnu lesser general public license.{0,80}version 2\.1"),
        ("GPL-3.0", r"gnu general public license.{0,80}version 3"),
        ("GPL-2.0", r"gnu general public license.{0,80}version 2"),
        ("MPL-2.0", r"mozilla public license.{0,40}2\.0"),
        ("BSD-3-Clause", r"neither the name|bsd 3-clause|3-clause bsd"),
        ("BSD-2-Clause", r"redistribution and use in source and binary forms|bsd 2-clause|2-clause bsd"),
        ("ISC", r"\bISC License\b|permission to use, copy, modify, and/or distribute"),
        ("Unlicense", r"this is free and unencumbered software released into the public domain"),
        ("CC-BY-4.0", r"creative commons attribution 4\.0"),
        ("CC-BY-NC-4.0", r"creative commons attribution-noncommercial 4\.0"),
        ("CreativeML-OpenRAIL-M", r"creativeml open rail-m"),
        ("OpenRAIL", r"\bopen ?rail\b"),
        ("Llama-2-Community", r"llama 2 community license"),
        ("Llama-3-Community", r"llama 3(?:\.\d)? community license"),
        ("BSL-1.0", r"boost software license"),
        ("EPL-2.0", r"eclipse public license.{0,40}2\.0"),
    )
)


def detect_license(files: Iterable[FileEntry], reader: TextReader, metadata: Mapping[str, Any]) -> str | None:
    meta = metadata.get("license")
    if isinstance(meta, str) and meta and meta.upper() not in ("NOASSERTION", "OTHER"):
        return meta
    candidates = sorted(
        (
            f
            for f in files
            if "/" not in f.path
            and f.kind in ("doc", "text")
            and f.name.lower().split(".", 1)[0] in _LICENSE_STEMS
        ),
        key=lambda f: f.path,
    )
    for entry in candidates:
        text = reader.text(entry.path, 16 * 1024)
        if not text:
            continue
        for spdx, pattern in _RULES:
            if pattern.search(text[:8192]):
                return spdx
        return "other"
    return None
