"""JSON in every shape the feeds take, element by element (feeds.md "Real files are messy").

A file holds one array, several arrays back to back (a paging script appends one array a page), one
object a line, one array a line (webhook POST bodies logged as they came), or API response envelopes
whose records sit under one key (`results`, `content`, ...: the keys a source may use are its rules'). Every
element is a record. A damaged element, a truncated last element, or a value nested too deep is rejected
alone; the elements after it are still read.

Fast paths: a file of one object a line is decoded by polars over the whole column; any other file is
split into values by Python's C JSON decoder. Only a file the decoder fails on is scanned for element
boundaries (`_salvage`), which is where the record-by-record work is.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from source_connectors.readers.records import (
    REC,
    Records,
    file_bytes,
    no_rejects,
    numbered,
    rejects_for,
    unreadable,
    with_digest,
)
from source_connectors.readers.text import decode, is_blank, lines_of, undecodable

# Deeper than this is no record of any feed: a hostile or broken file (and a RecursionError waiting).
MAX_DEPTH = 64
_DECODER = json.JSONDecoder()
_WS = re.compile(r"\s*")
# Tokens that decide nesting: a whole string (never across a line end: JSON strings cannot hold one), or
# a bracket or comma.
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{},]')

# Rejection reasons.
INVALID = "invalid_json"
TRUNCATED = "truncated"
TOO_DEEP = "too_deep"
NOT_OBJECT = "bad_json_type"

EnvelopeCheck = Callable[[dict], str | None]


@dataclass(frozen=True)
class Envelopes:
    """Where a source's API responses keep their records, and how to tell a failed response."""

    keys: Sequence[str] = ()
    # Given an envelope object, a reason to reject it whole (e.g. a non-200 status), or None.
    check: EnvelopeCheck | None = None
    # The text of that rejection's detail.
    reason: str = "api_error"


def _skip_ws(text: str, pos: int) -> int:
    """The position after the whitespace at `pos` (`\\s*` always matches, if only the empty string)."""
    ws = _WS.match(text, pos)
    return ws.end() if ws else pos


@dataclass
class _Piece:
    text: str
    value: object = None  # the decoded value, when it decoded
    reason: str | None = None  # why it is no record, when it is not
    detail: str | None = None


def read_json(
    path: Path,
    dtype: pl.DataType | None = None,
    envelopes: Envelopes | None = None,
    scalars: bool = False,
) -> Records:
    """Every record of a JSON file, whatever its shape; objects unnested into columns (with `dtype`, a
    polars Struct, when given). Records that are not objects are rejected (`bad_json_type`) unless
    `scalars`, when they come as text in a column `_scalar`."""
    try:
        data = file_bytes(path)
    except OSError as exc:
        return unreadable("unreadable_file", f"cannot read the file: {exc.strerror or exc}", retry=True)
    return with_digest(parse_json(data, dtype, envelopes, scalars), data)


def parse_json(
    data: bytes,
    dtype: pl.DataType | None = None,
    envelopes: Envelopes | None = None,
    scalars: bool = False,
) -> Records:
    text = decode(data)
    if text.binary:
        return unreadable("unreadable_file", "binary content, not a text file", text.encoding)
    env = envelopes or Envelopes()
    lines = lines_of(text)
    content = lines.filter(~is_blank(lines))
    if content.len() == 0:
        return Records(pl.DataFrame(schema={REC: pl.Int64}), no_rejects(), content, 0, text.encoding)
    fast = _one_array_of_objects(text.text) if text.text.lstrip().startswith("[") else None
    if fast is not None:
        pieces, raw = None, fast
    elif _one_object_a_line(content, env):
        pieces = None
        raw = content.str.strip_chars()
    else:
        if _one_value_a_line(content):
            pieces = _line_pieces(content.to_list(), env, text.ends_with_newline)
        else:
            pieces = _pieces(text.text, env, text.ends_with_newline)
        if not text.text.lstrip().startswith(("[", "{")) and not any(p.reason is None for p in pieces):
            # Not JSON at all (an HTML error page saved under the feed's name): nothing to count as records.
            return unreadable("unreadable_file", "no JSON value could be read", text.encoding)
        raw = pl.Series("raw", [p.text for p in pieces], pl.String)
    records = _decode(raw, pieces, dtype, scalars, text.ends_with_newline)
    records.encoding = text.encoding
    if text.encoding not in ("utf-8", "utf-8-sig"):
        warn = rejects_for(numbered(raw.len()).filter(undecodable(raw)), "undecodable_characters", raw)
        records.rejects = pl.concat([records.rejects, warn]).sort(REC)
    return records


def _one_array_of_objects(text: str) -> pl.Series | None:
    """A document that is one clean array of objects (an API dump), decoded by polars at once: each
    element's text (re-encoded), or None for anything else (arrays back to back, damage, other values),
    which the record-by-record path reads."""
    try:
        decoded = pl.Series([text], dtype=pl.String).str.json_decode(infer_schema_length=None)
    except pl.exceptions.PolarsError:
        return None
    if not isinstance(decoded.dtype, pl.List) or not isinstance(decoded.dtype.inner, pl.Struct):
        return None
    elements = decoded.explode()
    if elements.null_count():  # a null or an empty element: let the careful path say which
        return None
    raw = elements.struct.json_encode().rename("raw")
    if bool((raw.str.count_matches(r"[\[{]") > MAX_DEPTH).any()):
        return None
    return raw


def _one_object_a_line(content: pl.Series, env: Envelopes) -> bool:
    """JSON lines of objects, none of them an envelope: the vectorised path."""
    stripped = content.str.strip_chars()
    if not bool((stripped.str.starts_with("{") & stripped.str.ends_with("}")).all()):
        return False
    if env.keys:
        keys = "|".join(re.escape(k) for k in env.keys)
        if bool(stripped.str.contains(rf'"(?:{keys})"\s*:\s*\[').any()):
            return False
    return True


def _one_value_a_line(content: pl.Series) -> bool:
    """A file written one JSON value a line (JSON lines, POST bodies, envelopes), damaged or not: most of
    its lines hold a whole value. Such a file is read line by line, so a broken line costs only itself."""
    stripped = content.str.strip_chars()
    if stripped[0] in ("[", "{"):  # a pretty-printed document opens with a bracket on its own line
        return False
    opens = stripped.str.starts_with("{") | stripped.str.starts_with("[")
    whole = opens & (stripped.str.ends_with("}") | stripped.str.ends_with("]"))
    # Every line opens a value (continuation lines of a pretty-printed value start with a key or a
    # closing bracket), or most lines hold a whole one (a damaged line may start with anything).
    return bool(opens.all()) or int(whole.sum()) * 2 >= content.len()


# Stands for an object a polars column decode reads (core of the fast path): its value is never needed here.
_LAZY_OBJECT: dict[str, object] = {}


def _simple_lines(lines: pl.Series, env: Envelopes) -> tuple[list[bool], list[str]]:
    """Lines that are one plain object each, valid and not deep (an array written one element a line ends
    them with a comma): decoded over the whole column by polars, so a file with a few damaged lines costs
    Python time only for those. Returns the mask and the lines' object texts."""
    stripped = lines.str.strip_chars().str.replace(r",$", "")
    simple = (
        stripped.str.starts_with("{")
        & stripped.str.ends_with("}")
        & (stripped.str.count_matches(r"[\[{]") <= MAX_DEPTH)
        & stripped.str.json_path_match("$").is_not_null()
    )
    if env.keys:
        keys = "|".join(re.escape(k) for k in env.keys)
        simple = simple & ~stripped.str.contains(rf'"(?:{keys})"\s*:\s*\[')
    return simple.fill_null(False).to_list(), stripped.to_list()


def _line_pieces(lines: list[str], env: Envelopes, complete: bool) -> list[_Piece]:
    out: list[_Piece] = []
    simple, texts = _simple_lines(pl.Series(lines, dtype=pl.String), env)
    for i, line in enumerate(lines):
        if simple[i]:
            out.append(_Piece(texts[i], _LAZY_OBJECT))
            continue
        whole = complete or i < len(lines) - 1  # only the last line of a file can be cut off
        if line.lstrip().startswith("{"):
            # One object a line: the line is the record, damaged or not (its nested objects are no records).
            # An array written one element a line ends its lines with `,` (and its last with `]`).
            piece = _decode_text(_element_line(line))
            if piece.reason is None:
                out.extend(_open(piece.value, env))
                continue
            if piece.reason == INVALID:
                cut = not whole and _depth(line) > 0 and _open_at_end(line)
                piece = _Piece(
                    line.strip(),
                    reason=TRUNCATED if cut else INVALID,
                    detail="the file ends inside this record" if cut else "not a complete JSON object",
                )
            out.append(piece)
            continue
        pieces = _pieces(line, env, whole)
        if len(pieces) == 1 and (pieces[0].reason == INVALID or (whole and pieces[0].reason == TRUNCATED)):
            pieces = [_Piece(line.strip(), reason=INVALID, detail="not a complete JSON object")]
        out.extend(pieces)
    return out


# --- splitting a document into records ---------------------------------------------------------------


def _pieces(text: str, env: Envelopes, complete: bool) -> list[_Piece]:
    """Every record of the document, decoded where it decodes: the top-level values, arrays opened into
    their elements and envelopes into their records."""
    values = _values(text)
    if values is None:
        return _salvage(text, env, complete)
    out: list[_Piece] = []
    for value in values:
        out.extend(_open(value, env))
    return out


def _values(text: str) -> list[object] | None:
    """The top-level JSON values of a clean document, or None when some part does not decode."""
    values, pos, n = [], 0, len(text)
    try:
        while True:
            pos = _skip_ws(text, pos)
            if pos >= n:
                return values
            value, pos = _DECODER.raw_decode(text, pos)
            values.append(value)
    except (json.JSONDecodeError, RecursionError):
        return None


def _open(value: object, env: Envelopes) -> list[_Piece]:
    """A top-level value's records: an array's elements, an envelope's records, or the value itself."""
    if isinstance(value, list):
        return [_piece(v) for v in value]
    if isinstance(value, dict) and env.keys:
        key = next((k for k in env.keys if isinstance(value.get(k), list)), None)
        failed = env.check(value) if env.check else None
        if failed is not None:
            return [_Piece(_dump(value), value, env.reason, failed)]
        if key is not None:
            return [_piece(v) for v in value[key]]
    return [_piece(value)]


def _piece(value: object) -> _Piece:
    text = _dump(value)
    if _too_deep(text):
        return _Piece(text, reason=TOO_DEEP, detail=f"nested deeper than {MAX_DEPTH} levels")
    return _Piece(text, value)


def _too_deep(text: str) -> bool:
    # Counting brackets is cheap; only a record with more of them than the limit is walked.
    return text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH


def _element_line(line: str) -> str:
    text = line.strip()
    if text.endswith(","):
        return text[:-1].rstrip()
    if text.endswith("]") and not text.endswith("]}"):
        try:
            json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            return text[:-1].rstrip()
    return text


def _open_at_end(line: str) -> bool:
    """Whether a line ends with a structure still open (it was cut off), outside strings."""
    depth = 0
    for m in _TOKEN.finditer(line):
        t = m.group()
        if t in "[{":
            depth += 1
        elif t in "]}":
            depth -= 1
    return depth > 0


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _salvage(text: str, env: Envelopes, complete: bool) -> list[_Piece]:
    """A document some part of which does not decode: found element by element by bracket depth, each
    decoded on its own; a damaged element is one rejected record, and the scan goes on after it."""
    decoded: list[tuple[_Piece, bool, int, int]] = []
    for chunk_text, top, cut, start, end in _chunks(text, complete):
        piece = _decode_text(chunk_text)
        if cut and piece.reason == INVALID:
            piece = _Piece(chunk_text, reason=TRUNCATED, detail="the file ends inside this record")
        decoded.append((piece, top, start, end))
    pieces: list[_Piece] = []
    runs: list[list[int]] = []  # runs of adjacent damaged chunks: a lost bracket or quote spans them
    for i, (piece, _top, _, _) in enumerate(decoded):
        if piece.reason in (INVALID, TRUNCATED):
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
    merged = {run[0]: run for run in runs}
    common = _common_keys([p for p, _, _, _ in decoded], [text[decoded[r[0]][2] : decoded[r[-1]][3]] for r in runs])
    i = 0
    while i < len(decoded):
        piece, top, _, _ = decoded[i]
        if i in merged:
            run = merged[i]
            region = text[decoded[run[0]][2] : decoded[run[-1]][3]].strip()
            reason = TRUNCATED if decoded[run[-1]][0].reason == TRUNCATED else INVALID
            split = _split_swallowed(_Piece(region, reason=reason, detail=decoded[run[0]][0].detail), common)
            if any(p.reason is None for p in split):
                pieces.extend(split)
            else:
                pieces.extend(decoded[j][0] for j in run)
            i = run[-1] + 1
            continue
        pieces.extend(_open(piece.value, env) if piece.reason is None and top else [piece])
        i += 1
    return pieces


def _decode_text(chunk: str) -> _Piece:
    if _too_deep(chunk):
        return _Piece(chunk, reason=TOO_DEEP, detail=f"nested deeper than {MAX_DEPTH} levels")
    try:
        return _Piece(chunk, json.loads(chunk))
    except json.JSONDecodeError as exc:
        return _Piece(chunk, reason=INVALID, detail=f"not valid JSON: {exc.msg} at character {exc.pos}")
    except RecursionError:
        return _Piece(chunk, reason=TOO_DEEP, detail=f"nested deeper than {MAX_DEPTH} levels")


def _depth(chunk: str) -> int:
    deepest = depth = 0
    for m in _TOKEN.finditer(chunk):
        t = m.group()
        if t in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif t in "]}":
            depth = max(depth - 1, 0)
    return deepest


def _chunks(text: str, complete: bool) -> list[tuple[str, bool, bool, int, int]]:
    """(text, is_top_level_value, cut_off) for each element of a top-level array and each other top-level
    value, found by bracket depth outside strings. Garbage between values is a chunk of its own; the chunk
    a file ends inside (a structure left open) is cut off."""
    out: list[tuple[str, bool, bool, int, int]] = []
    depth = 0  # nesting below the chunk level: 0 means between chunks
    in_array = False  # inside a top-level array, whose elements are the chunks
    start: int | None = None
    pos = 0

    def close(end: int) -> None:
        nonlocal start
        if start is not None and text[start:end].strip():
            out.append((text[start:end].strip(), not in_array, False, start, end))
        start = None

    for m in _TOKEN.finditer(text):
        t, at = m.group(), m.start()
        gap = text[pos:at]
        if start is None and gap.strip():  # a number, a literal or garbage starts a chunk
            start = pos + len(gap) - len(gap.lstrip())
        pos = m.end()
        if depth == 0:
            if t == "[" and not in_array and start is None:
                in_array = True
            elif t == "]" and in_array:
                close(at)
                in_array = False
            elif t == ",":
                close(at)  # between elements (or between top-level values written with commas)
            elif t in "[{":
                if start is None:
                    start = at
                depth = 1
            elif start is None:
                start = at  # a string, or a stray closer: a chunk of its own
        elif t in "[{":
            depth += 1
        elif t in "]}":
            depth -= 1
            if depth == 0 and not in_array:
                close(m.end())
    if start is None and text[pos:].strip():
        start = pos + len(text[pos:]) - len(text[pos:].lstrip())
    if start is not None and text[start:].strip():
        cut = depth > 0 or (in_array and not complete)
        out.append((text[start:].strip(), not in_array, cut, start, len(text)))
    return out


def _common_keys(pieces: list[_Piece], damaged: list[str]) -> set[str]:
    """The keys most of the file's records have: from the records that decoded, else from the complete
    objects placed as elements inside the damaged text."""
    good = [p.value for p in pieces if p.reason is None and isinstance(p.value, dict)]
    if not good:
        good = [v for region in damaged for v, _, _ in _candidates(region)]
    counts = Counter(k for v in good for k in v)
    return {k for k, c in counts.items() if c * 2 >= len(good)}


def _candidates(text: str) -> list[tuple[dict, int, int]]:
    """Objects inside a damaged piece placed as records are: after `[` or `,` (array elements) or at the
    start of a line (JSON lines), and followed by `,`, `]`, another value or the end. (value, start, end)."""
    out = []
    pos = 1  # the damaged record's own start is no candidate
    while True:
        at = text.find("{", pos)
        if at < 0:
            return out
        pos = at + 1
        line_start = text[:at].rstrip(" \t")
        before = line_start.rstrip()
        # after `[` or `,` as an array element, or at the start of a line as a JSON-lines record
        if before and before[-1] not in "[," and not line_start.endswith("\n"):
            continue
        try:
            value, end = _DECODER.raw_decode(text, at)
        except (json.JSONDecodeError, RecursionError):
            continue
        after = _skip_ws(text, end)
        if isinstance(value, dict) and (after >= len(text) or text[after] in ",]{["):
            out.append((value, at, end))


def _split_swallowed(p: _Piece, common: set[str]) -> list[_Piece]:
    """A damaged element that lost a bracket or a quote swallows the elements after it. Split the damaged
    text where a complete object starts, as an element would (after `[` or `,`), that looks like the file's
    records (has most of their usual keys): the damaged part stays one rejected record, the swallowed
    records are read."""
    if not common:
        return [p]
    out: list[_Piece] = []
    text, begin = p.text, 0
    for value, at, end in _candidates(p.text):
        if at < begin or len(common & set(value)) * 2 < len(common):
            continue
        head = text[begin:at].strip().strip(",").strip()
        if head:  # the damaged record (or, after the first, whatever lies between two records)
            out.append(_Piece(head, reason=INVALID, detail=p.detail) if not out else _decode_text(head))
        out.append(_Piece(text[at:end], value))
        after = _skip_ws(text, end)
        begin = after + 1 if after < len(text) and text[after] == "," else after
    if not out:
        return [p]
    rest = text[begin:].strip().strip(",").strip()
    if rest.endswith("]") and not rest.startswith("["):
        rest = rest[:-1].strip()  # the array's own end
    if rest:
        piece = _decode_text(rest)
        if piece.reason is not None and p.reason == TRUNCATED:
            piece = _Piece(rest, reason=TRUNCATED, detail=p.detail)
        out.append(piece)
    return out


# --- records to a frame -----------------------------------------------------------------------------


def _decode(
    raw: pl.Series, pieces: list[_Piece] | None, dtype: pl.DataType | None, scalars: bool, complete: bool
) -> Records:
    """Objects unnested into columns; everything else rejected with its reason (or kept as `_scalar`)."""
    n = raw.len()
    nums = numbered(n)
    rejects: list[pl.DataFrame] = []
    if pieces is None:
        # JSON lines of objects: polars decodes the column at once; lines it cannot read are found over the
        # whole column (json_path_match is null for invalid JSON where json_decode fails the column).
        deep = raw.str.count_matches(r"[\[{]") > MAX_DEPTH
        too_deep = pl.Series([_too_deep(t) for t in raw.filter(deep).to_list()], dtype=pl.Boolean)
        too_deep_mask = deep.clone().scatter(deep.arg_true(), too_deep) if bool(deep.any()) else deep
        if bool(too_deep_mask.any()):
            rejects.append(
                rejects_for(nums.filter(too_deep_mask), TOO_DEEP, raw, f"nested deeper than {MAX_DEPTH} levels")
            )
        valid = raw.str.json_path_match("$").is_not_null() & ~too_deep_mask
        bad = ~valid & ~too_deep_mask
        if bool(bad.any()):
            last_cut = not complete
            cut = bad & (nums == n) if last_cut else pl.Series([False] * n)
            rejects.append(rejects_for(nums.filter(cut), TRUNCATED, raw, "the file ends inside this record"))
            rejects.append(rejects_for(nums.filter(bad & ~cut), INVALID, raw, "not a complete JSON object"))
        objects = valid
        scalar_mask = pl.Series([False] * n)
    else:
        kinds = [_kind(p) for p in pieces]
        objects = pl.Series([k == "object" for k in kinds], dtype=pl.Boolean)
        scalar_mask = pl.Series([k == "scalar" for k in kinds], dtype=pl.Boolean)
        for reason in (INVALID, TRUNCATED, TOO_DEEP, "api_error"):
            idx = [i + 1 for i, p in enumerate(pieces) if p.reason == reason]
            if idx:
                details = {p.detail for p in pieces if p.reason == reason}
                detail = details.pop() if len(details) == 1 else None
                rejects.append(rejects_for(idx, reason, raw, detail))
        others = {p.reason for p in pieces if p.reason not in (None, INVALID, TRUNCATED, TOO_DEEP, "api_error")}
        for reason in others:
            idx = [i + 1 for i, p in enumerate(pieces) if p.reason == reason]
            rejects.append(rejects_for(idx, reason or INVALID, raw, pieces[idx[0] - 1].detail))
        if not scalars:
            rejects.append(rejects_for(nums.filter(scalar_mask), NOT_OBJECT, raw, "not a JSON object"))
        # null and nested arrays are no record of any feed, scalars or not: rejected, never lost
        other = [i + 1 for i, k in enumerate(kinds) if k == "other"]
        if other:
            rejects.append(rejects_for(other, NOT_OBJECT, raw, "not a JSON object"))
    frame, mistyped = _objects(raw, nums, objects, dtype)
    if mistyped.len():
        rejects.append(rejects_for(mistyped, NOT_OBJECT, raw, "a field holds another JSON type than expected"))
    if scalars and pieces is not None and bool(scalar_mask.any()):
        values = [_scalar_text(p.value) for p, s in zip(pieces, scalar_mask, strict=True) if s]
        extra = pl.DataFrame({REC: nums.filter(scalar_mask), "_scalar": pl.Series(values, dtype=pl.String)})
        frame = pl.concat([frame, extra], how="diagonal_relaxed").sort(REC)
    rejects = [r for r in rejects if r.height]
    return Records(frame, pl.concat(rejects).sort(REC) if rejects else no_rejects(), raw, n)


def _kind(p: _Piece) -> str:
    if p.reason is not None:
        return "rejected"
    if isinstance(p.value, dict):
        return "object"
    if isinstance(p.value, list) or p.value is None:
        return "other"
    return "scalar"


def _scalar_text(value: object) -> str:
    return value if isinstance(value, str) else _dump(value)


def _objects(
    raw: pl.Series, nums: pl.Series, objects: pl.Series, dtype: pl.DataType | None
) -> tuple[pl.DataFrame, pl.Series]:
    """The object records as columns, and the record numbers of objects whose fields polars cannot put in
    one schema with the others (a field of another JSON type than the rest of the file gives it)."""
    texts, ok_nums = raw.filter(objects), nums.filter(objects)
    empty = pl.DataFrame({REC: pl.Series([], dtype=pl.Int64)})
    if texts.len() == 0:
        return empty, pl.Series(REC, [], pl.Int64)
    try:
        decoded = texts.str.json_decode(dtype, infer_schema_length=None)
        return _unnest(decoded, ok_nums), pl.Series(REC, [], pl.Int64)
    except pl.exceptions.PolarsError:
        pass
    # Some records disagree on a field's type: find them (record by record, damaged files only).
    values = [json.loads(t) for t in texts.to_list()]
    odd = _misfits(texts, dtype) if dtype is not None else _odd_types(values)
    fits = pl.Series([i not in odd for i in range(len(values))], dtype=pl.Boolean)
    try:
        decoded = texts.filter(fits).str.json_decode(dtype, infer_schema_length=None)
    except pl.exceptions.PolarsError:
        return empty, ok_nums
    return _unnest(decoded, ok_nums.filter(fits)), ok_nums.filter(~fits)


def _unnest(decoded: pl.Series, nums: pl.Series) -> pl.DataFrame:
    if decoded.len() == 0 or decoded.dtype.base_type() != pl.Struct:
        return pl.DataFrame({REC: nums})
    return decoded.struct.unnest().with_columns(nums.alias(REC))


def _misfits(texts: pl.Series, dtype: pl.DataType) -> set[int]:
    out = set()
    for i, t in enumerate(texts.to_list()):
        try:
            pl.Series([t], dtype=pl.String).str.json_decode(dtype)
        except pl.exceptions.PolarsError:
            out.add(i)
    return out


def _shape(value: object, path: str, out: dict[str, str]) -> None:
    """JSON type per path (`a.b`, `a[]`), nulls left out: what polars needs to agree across records."""
    if value is None:
        return
    if isinstance(value, dict):
        out[path] = "object"
        for key, item in value.items():
            _shape(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        out[path] = "list"
        for item in value:
            _shape(item, f"{path}[]", out)
    else:
        out[path] = "bool" if isinstance(value, bool) else "number" if isinstance(value, int | float) else "string"


def _odd_types(values: list[object]) -> set[int]:
    """Indexes of records where some field has another JSON type than most records give it."""
    shapes: list[dict[str, str]] = []
    votes: dict[str, Counter[str]] = {}
    for v in values:
        shape: dict[str, str] = {}
        _shape(v, "", shape)
        shapes.append(shape)
        for path, kind in shape.items():
            votes.setdefault(path, Counter())[kind] += 1
    usual = {path: c.most_common(1)[0][0] for path, c in votes.items()}
    return {i for i, shape in enumerate(shapes) if any(usual[p] != k for p, k in shape.items())}
