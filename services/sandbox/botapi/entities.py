"""Formatted text the way Telegram stores it: plain text plus entities with UTF-16 offsets.

`parse_html` accepts exactly the HTML subset the Bot API documents and refuses the rest with
Telegram's "can't parse entities" error, so a bot that sends `<br>` or an unescaped `<` fails here
as it would in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from services.sandbox.botapi.errors import BotApiError, bad_request

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_ALLOWED_TAGS = {*_SIMPLE_TAGS, "a", "span", "tg-emoji"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*?)?)\s*(/?)>")
_ATTR_RE = re.compile(r"""([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_ENTITY_RE = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);")
# Telegram links bare addresses too (web.vk.me, school.mos.ru): host names ending in a known TLD.
_TLDS = "ru|su|com|org|net|me|io|info|рф"
_AUTO_PATTERNS = (
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)»]")),
    ("email", re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]*\w")),
    (
        "url",
        re.compile(
            rf"(?<![\w@./-])(?:[a-zа-яё0-9](?:[a-zа-яё0-9-]*[a-zа-яё0-9])?\.)+(?:{_TLDS})"
            r"(?:/[^\s<>\"]*[^\s<>\".,;:!?)»])?(?![\w@-])",
            re.IGNORECASE,
        ),
    ),
    ("bot_command", re.compile(r"(?<![\w/])/[a-zA-Z0-9_]{1,32}(?:@[a-zA-Z0-9_]{5,32})?(?!\w)")),
)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    entity: dict[str, Any] | None
    offset: int
    byte_offset: int


def _parse_error(reason: str) -> BotApiError:
    return bad_request(f"can't parse entities: {reason}")


def _entity_for_tag(
    name: str, attrs: dict[str, str], stack: list[_OpenTag], at: int
) -> dict[str, Any] | None:
    """The entity a start tag opens (None for tags that only carry data, like a nested code)."""
    if name == "a":
        href = attrs.get("href", "")
        if href.startswith("tg://user?id="):
            return {"type": "text_mention", "user": {"id": int(href.split("=", 1)[1] or 0)}}
        return {"type": "text_link", "url": href}
    if name == "span":
        if attrs.get("class") != "tg-spoiler":
            raise _parse_error(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        return {"type": "spoiler"}
    if name == "tg-emoji":
        return {"type": "custom_emoji", "custom_emoji_id": attrs.get("emoji-id", "")}
    if name == "code" and stack and stack[-1].name == "pre" and stack[-1].entity:
        language = attrs.get("class", "").removeprefix("language-")
        if language:
            stack[-1].entity["language"] = language
        return None
    if name == "blockquote" and "expandable" in attrs:
        return {"type": "expandable_blockquote"}
    return {"type": _SIMPLE_TAGS[name]}


def _decode_entity(match: re.Match[str]) -> str:
    body = match.group(1)
    if body.startswith("#x"):
        return chr(int(body[2:], 16))
    if body.startswith("#"):
        return chr(int(body[1:]))
    return _NAMED_ENTITIES.get(body.lower(), match.group(0))


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Turn Bot API HTML into (text, entities); raise Telegram's 400 for what it would refuse."""
    out: list[str] = []
    length = 0
    entities: list[dict[str, Any]] = []
    stack: list[_OpenTag] = []
    pos = 0
    while pos < len(source):
        lt = source.find("<", pos)
        chunk = source[pos:] if lt < 0 else source[pos:lt]
        text = _ENTITY_RE.sub(_decode_entity, chunk)
        out.append(text)
        length += utf16_len(text)
        if lt < 0:
            break
        byte_at = len(source[:lt].encode())
        match = _TAG_RE.match(source, lt)
        if match is None:
            raise _parse_error(f"Unexpected end of name token at byte offset {byte_at}")
        closing, name, raw_attrs = match.group(1), match.group(2).lower(), match.group(3)
        if name not in _ALLOWED_TAGS:
            kind = "end" if closing else "start"
            raise _parse_error(f'Unsupported {kind} tag "{name}" at byte offset {byte_at}')
        if closing:
            if not stack:
                raise _parse_error(f"Unexpected end tag at byte offset {byte_at}")
            top = stack.pop()
            if top.name != name:
                raise _parse_error(
                    f'Unmatched end tag at byte offset {byte_at}, expected "</{top.name}>", '
                    f'found "</{name}>"'
                )
            if top.entity is not None and length > top.offset:
                top.entity.update(offset=top.offset, length=length - top.offset)
                entities.append(top.entity)
        else:
            attrs = {
                key.lower(): next((v for v in values if v is not None), "")
                for key, *values in _ATTR_RE.findall(raw_attrs or "")
            }
            entity = _entity_for_tag(name, attrs, stack, byte_at)
            stack.append(_OpenTag(name, entity, length, byte_at))
        pos = match.end()
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return "".join(out), entities


def _utf16_offset(text: str, index: int) -> int:
    return utf16_len(text[:index])


def detect_entities(text: str, existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """URLs, e-mails and bot commands Telegram finds by itself outside code and links."""
    taken = [
        (e["offset"], e["offset"] + e["length"])
        for e in existing
        if e["type"] in {"code", "pre", "text_link", "url", "email", "bot_command"}
    ]
    found: list[dict[str, Any]] = []
    for kind, pattern in _AUTO_PATTERNS:
        for match in pattern.finditer(text):
            start = _utf16_offset(text, match.start())
            end = start + utf16_len(match.group(0))
            if any(a < end and start < b for a, b in taken):
                continue
            taken.append((start, end))
            found.append({"type": kind, "offset": start, "length": end - start})
    return found


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims surrounding whitespace and clips entities to what is left."""
    stripped = text.strip()
    if not stripped:
        return "", []
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    clipped = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            clipped.append({**entity, "offset": start, "length": end - start})
    return stripped, clipped


def validate_entities(text: str, entities: Any) -> list[dict[str, Any]]:
    """Explicit `entities`/`caption_entities` must be a list of in-range objects."""
    if not isinstance(entities, list):
        raise bad_request("can't parse entities: entities must be an array")
    total = utf16_len(text)
    checked = []
    for entity in entities:
        if not isinstance(entity, dict) or not isinstance(entity.get("type"), str):
            raise bad_request("can't parse entities: wrong entity")
        offset, length = entity.get("offset"), entity.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 1:
            raise bad_request("can't parse entities: wrong entity offset or length")
        if offset + length > total:
            continue  # Telegram silently drops entities that run past the text
        checked.append(entity)
    return checked


def format_text(
    raw: str, parse_mode: str | None, entities: Any = None
) -> tuple[str, list[dict[str, Any]]]:
    """Text and entities of a message from the method's text/parse_mode/entities parameters."""
    if entities is not None:
        text, found = raw, validate_entities(raw, entities)
    elif parse_mode is None or parse_mode == "":
        text, found = raw, []
    elif parse_mode.lower() == "html":
        text, found = parse_html(raw)
    else:
        # The sandbox only speaks HTML; saying so beats silently mis-rendering Markdown.
        raise bad_request("unsupported parse_mode")
    text, found = _strip(text, found)
    found = found + detect_entities(text, found)
    found.sort(key=lambda e: (e["offset"], -e["length"]))
    return text, found
