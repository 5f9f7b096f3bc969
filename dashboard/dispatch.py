"""What a ``/_dash-update-component`` request asks for, read the way Dash will run it.

Dash hands a callback its inputs and state **by position** and never checks
the ``id``/``property`` labels of a request body against the callback's
declaration. A decision taken from those labels (who may see a page, which
cached answer to serve) can therefore disagree with what the function
receives. This module closes that gap once for every callback:

- the body is read under a size limit and parsed once (Flask keeps the parsed
  JSON, so Dash's own dispatch uses exactly this object); malformed JSON,
  including nesting too deep for the parser, is 400, too large a body 413;
- the body must have the callback's declared shape: a registered output that
  runs on the server, the declared outputs, inputs and state in number and
  order with the declared ids and properties (a pattern-matching id: a
  concrete id of the pattern's keys, wildcards filled with scalars; ``ALL``
  and ``ALLSMALLER`` as lists), ``changedPropIds`` naming inputs of the
  request, and no other keys. Anything else is 400 before anything runs;
- :class:`CallbackCall` then gives the values **by declared position**
  (:meth:`CallbackCall.value_of`), the very values the function receives,
  and a canonical key of them for caches.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from flask import request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

#: Keys the Dash renderer sends in a callback request.
BODY_KEYS = frozenset({"output", "outputs", "inputs", "state", "changedPropIds",
                       "parsedChangedPropsIds"})
ITEM_KEYS = frozenset({"id", "property", "value"})
WILDCARDS = ("ALL", "MATCH", "ALLSMALLER")
#: Values the location may have (absent, or text; a browser's pathname starts with
#: "/"): it feeds the pages router and the public callbacks, which parse it as a URL.
LOCATION_VALUES = {
    ("_pages_location", "pathname"): lambda v: v is None or (isinstance(v, str)
                                                             and v.startswith("/")),
    ("_pages_location", "search"): lambda v: v is None or isinstance(v, str),
    ("_pages_location", "hash"): lambda v: v is None or isinstance(v, str),
    ("_pages_location", "href"): lambda v: v is None or isinstance(v, str),
}
#: Upload components send their file in this property (base64 in the body): only
#: callbacks that receive it may have a body above the ordinary callback limit.
UPLOAD_PROPERTY = "contents"
MAX_ITEMS = 10_000             # elements of one pattern-matching list


class BadCallback(Exception):
    """A callback request that is refused before anything runs (``status`` 400 or 413)."""

    def __init__(self, status: int, reason: str, detail: str = ""):
        super().__init__(detail or reason)
        self.status = status
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Dependency:
    """One declared output, input or state: its id (text, or a pattern dict) and property."""

    component_id: str | dict
    prop: str

    @property
    def pattern(self) -> bool:
        return isinstance(self.component_id, dict)

    @property
    def many(self) -> bool:
        """``ALL``/``ALLSMALLER`` patterns arrive as a list of concrete items."""
        return self.pattern and any(
            isinstance(v, list) and v and v[0] in ("ALL", "ALLSMALLER")
            for v in self.component_id.values())

    def matches_id(self, concrete) -> bool:
        if not self.pattern:
            return isinstance(concrete, str) and concrete == self.component_id
        if not isinstance(concrete, dict) or set(concrete) != set(self.component_id):
            return False
        for key, wanted in self.component_id.items():
            value = concrete[key]
            if isinstance(wanted, list) and wanted and wanted[0] in WILDCARDS:
                if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                    return False
            elif value != wanted:
                return False
        return True


def dependency(component_id: str, prop: str) -> Dependency:
    """A declared dependency from Dash's callback map (pattern ids are JSON text there)."""
    if component_id.startswith("{"):
        return Dependency(json.loads(component_id), prop)
    return Dependency(component_id, prop)


def declared_outputs(output: str) -> list[Dependency]:
    """The outputs named by a callback map key (``..a.x...b.y..`` or ``a.x``)."""
    multi = output.startswith("..") and output.endswith("..")
    parts = output[2:-2].split("...") if multi else [output]
    out = []
    for part in parts:
        component_id, _, prop = part.rpartition(".")
        out.append(dependency(component_id, prop))
    return out


@dataclass(frozen=True)
class CallbackCall:
    """A callback request that matched its declaration."""

    output: str
    spec: dict = field(repr=False)
    inputs: list = field(repr=False)
    state: list = field(repr=False)

    @property
    def declared(self) -> list[tuple[str, str]]:
        """(id, property) of the declared inputs then state, in the order of the arguments."""
        return [(d["id"], d["property"]) for d in self.spec["inputs"] + self.spec.get("state", [])]

    @property
    def args(self) -> list:
        """The values the callback function receives, in its argument order (as Dash
        computes them: ``inputs_to_vals``)."""
        return [[item.get("value") for item in entry] if isinstance(entry, list)
                else entry.get("value") for entry in self.inputs + self.state]

    def value_of(self, component_id: str, prop: str):
        """The value the function receives for the declared dependency (id, prop)."""
        return self.args[self.declared.index((component_id, prop))]

    def key(self) -> str:
        """Canonical text of the output and every argument (for cache keys)."""
        return json.dumps([self.output, self.args], sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, default=str)

    @property
    def takes_upload(self) -> bool:
        return any(prop == UPLOAD_PROPERTY for _, prop in self.declared)


def read_body(limit: int):
    """The request's JSON body, read under ``limit`` bytes (413 above, 400 if malformed)."""
    if request.content_length is not None and request.content_length > limit:
        raise BadCallback(413, "too_large")
    request.max_content_length = limit
    try:
        body = request.get_json(force=True)
    except RequestEntityTooLarge as error:
        raise BadCallback(413, "too_large") from error
    except (BadRequest, RecursionError, UnicodeDecodeError) as error:
        # RecursionError: nesting deeper than the parser's stack (a crafted body)
        raise BadCallback(400, "malformed", "the body is not JSON") from error
    if not isinstance(body, dict):
        raise BadCallback(400, "malformed", "the body is not a JSON object")
    return body


def match_call(body: dict, callback_map: dict) -> CallbackCall:
    """``body`` checked against the declaration of the callback it names (400 otherwise)."""
    extra = set(body) - BODY_KEYS
    if extra:
        raise BadCallback(400, "shape", f"unexpected keys {sorted(extra)[:5]}")
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        raise BadCallback(400, "unknown_callback", "no such callback")
    spec = callback_map[output]
    if "callback" not in spec:
        raise BadCallback(400, "unknown_callback", "a browser-side callback")
    outputs = declared_outputs(output)
    sent = body.get("outputs")
    if len(outputs) == 1 and not (isinstance(sent, list) and outputs[0].many):
        sent = [sent]
    _match_list(sent, outputs, "outputs", with_value=False)
    inputs = _match_list(body.get("inputs"), [dependency(d["id"], d["property"])
                                              for d in spec["inputs"]], "inputs")
    declared_state = spec.get("state", [])
    state_body = body.get("state")
    if state_body is None and not declared_state:
        state_body = []
    state = _match_list(state_body, [dependency(d["id"], d["property"])
                                     for d in declared_state], "state")
    _check_changed(body, inputs)
    return CallbackCall(output, spec, inputs, state)


def _match_list(sent, declared: list[Dependency], what: str, *, with_value: bool = True):
    if not isinstance(sent, list) or len(sent) != len(declared):
        raise BadCallback(400, "shape", f"{what}: expected {len(declared)} entries")
    for position, (entry, dep) in enumerate(zip(sent, declared)):
        items = entry if dep.many else [entry]
        if dep.many and (not isinstance(entry, list) or len(entry) > MAX_ITEMS):
            raise BadCallback(400, "shape", f"{what}[{position}]: expected a list")
        for item in items:
            _match_item(item, dep, f"{what}[{position}]", with_value)
    return sent


def _match_item(item, dep: Dependency, where: str, with_value: bool) -> None:
    allowed = ITEM_KEYS if with_value else ITEM_KEYS - {"value"}
    if not isinstance(item, dict) or not set(item) <= allowed or "id" not in item:
        raise BadCallback(400, "shape", f"{where}: not an id/property/value entry")
    prop = item.get("property")
    if dep.prop != prop or not dep.matches_id(item["id"]):
        raise BadCallback(400, "shape", f"{where}: not the declared id and property")
    valid = None if dep.pattern else LOCATION_VALUES.get((dep.component_id, dep.prop))
    if valid is not None and not valid(item.get("value")):
        raise BadCallback(400, "shape", f"{where}: not a location value")


def _check_changed(body: dict, inputs: list) -> None:
    """``changedPropIds`` may only name inputs of this request (they set ``triggered``)."""
    changed = body.get("changedPropIds", [])
    parsed = body.get("parsedChangedPropsIds", [])
    # the renderer's parsed copy holds a pattern id as an object (Dash ignores it)
    for name, values, kinds in (("changedPropIds", changed, str),
                                ("parsedChangedPropsIds", parsed, (str, dict))):
        if not isinstance(values, list) or len(values) > len(_flat(inputs)) or \
                not all(isinstance(v, kinds) for v in values):
            raise BadCallback(400, "shape", f"{name}: expected names of inputs")
    present = {(_canonical_id(item["id"]), item["property"]) for item in _flat(inputs)}
    for prop_id in changed:
        component_id, _, prop = prop_id.rpartition(".")
        try:
            key = (_canonical_id(json.loads(component_id) if component_id.startswith("{")
                                 else component_id), prop)
        except (ValueError, RecursionError):
            key = None
        if key not in present:
            raise BadCallback(400, "shape", "changedPropIds: not an input of the request")


def _flat(entries: list) -> list[dict]:
    out = []
    for entry in entries:
        out.extend(entry if isinstance(entry, list) else [entry])
    return out


def _canonical_id(component_id) -> str:
    if isinstance(component_id, dict):
        return json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return str(component_id)
