"""Boot view-models: the boot form and a JSON file of processes → BootSpecs, or messages naming each field.

Pure functions, no Dash. The form and the file share the field rules:

- name, session, executable: required; user: BOOT_DEFAULT_USER when left blank (the Unix account on the DAQ
  host that runs the process over ssh, not the web user);
- log path: derived from BOOT_LOG_DIR and BOOT_LOG_PATTERN when left blank (drunc has no default: a process
  booted without one dies at once), one time for every process of one boot;
- arguments: split like a shell (shlex). drunc joins `exec args...` unquoted and hands the line to a shell,
  so each argument is re-quoted (shlex.quote) on the way out: what the operator typed is what the process
  gets, literally (no $VARIABLE expansion in arguments: use the environment, or `bash -c '...'`);
- environment: one KEY=VALUE per line, blank lines and # comments ignored (the file uses a JSON object);
- allowed hosts: separated by commas or spaces; tree id: empty or three dot-separated numbers, like 1.2.3.

Every spec also passes BootSpec.validate(), the client's own check; its message is mapped to the field it names.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import shlex
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from dataclasses import replace as field_replace
from datetime import UTC, datetime

from drunc_client import log_paths
from drunc_client.errors import BackendUnavailable, DruncError, DruncFlagError, InvalidArguments
from drunc_client.process_manager import BootSpec
from viewmodels.text import clip

FIELDS: dict[str, str] = {
    "name": "Name",
    "session": "Session",
    "user": "User",
    "executable": "Executable",
    "arguments": "Arguments",
    "environment": "Environment variables",
    "working_directory": "Working directory",
    "log_path": "Log path",
    "allowed_hosts": "Allowed hosts",
    "tree_id": "Tree id",
}
FORM = "form"  # errors that belong to no single field of the form
ENTRY = "entry"  # errors about a file entry as a whole (not an object, unknown keys)

DEFAULT_HOSTS = ("localhost",)
MAX_FILE_BYTES = 1024 * 1024
MAX_PROCESSES = 500
MAX_LINE = 4096  # one single-line field
MAX_BLOCK = 65536  # the arguments or the environment text
MAX_HOSTS = 100
AUDIT_VALUE_CLIP = 200
COMMAND_CLIP = 160

_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TREE_ID = re.compile(r"^\d+\.\d+\.\d+$")
_HOST = re.compile(r"^[A-Za-z0-9._:%\[\]-]+$")
_HOST_SPLIT = re.compile(r"[,\s]+")
_EXCEPTION_PREFIX = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Exception|Error): ")


@dataclass(frozen=True)
class BootDefaults:
    """What a blank field becomes: the process user, and the log path derived from a directory and a pattern."""

    user: str
    log_dir: str = log_paths.DEFAULT_LOG_DIR
    log_pattern: str = log_paths.DEFAULT_LOG_PATTERN
    now: datetime | None = None  # the {time} of the log paths; one value for every process of one boot

    @classmethod
    def from_settings(cls, settings, now: datetime | None = None) -> BootDefaults:
        return cls(settings.boot_default_user, settings.boot_log_dir, settings.boot_log_pattern,
                   now or datetime.now(UTC))

    @classmethod
    def of(cls, defaults: BootDefaults | str) -> BootDefaults:
        """A bare user name means the default log directory and pattern, with the time of the call."""
        if isinstance(defaults, BootDefaults):
            return defaults if defaults.now else field_replace(defaults, now=datetime.now(UTC))
        return cls(str(defaults or ""), now=datetime.now(UTC))

    def log_path(self, *, session: str, name: str, user: str) -> str:
        try:
            return log_paths.derive_log_path(self.log_pattern, self.log_dir, session=session, name=name, user=user,
                                             when=self.now)
        except log_paths.LogPathError as exc:
            raise FieldError(f"Cannot derive a log path ({exc}): give one.") from None

    @property
    def log_hint(self) -> str:
        """The pattern as an operator reads it: /tmp/log_<user>_<session>_<name>_<time>.log."""
        try:
            directory = log_paths.check_directory(self.log_dir).rstrip("/")
        except log_paths.LogPathError:
            directory = self.log_dir
        return self.log_pattern.replace("{dir}", directory).replace("{", "<").replace("}", ">")


class FieldError(ValueError):
    """A value the operator must fix; the message is shown under the field."""


class BootFileError(ValueError):
    """The file as a whole cannot be used (not JSON, wrong shape, too big); nothing of it is previewed."""


# ------------------------------------------------------------------------------------------------ fields


def _line(value: str, *, required: bool = False, spaces: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise FieldError("Required.")
    if len(text) > MAX_LINE:
        raise FieldError(f"Too long ({len(text)} characters; at most {MAX_LINE}).")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise FieldError("Must be a single line without control characters.")
    if not spaces and re.search(r"\s", text):
        raise FieldError("Must not contain spaces.")
    return text


def parse_name(text: str) -> str:
    name = _line(text, required=True)
    if re.search(r"[\s/]", name):
        raise FieldError("Must not contain spaces or “/”.")
    return name


def parse_word(text: str, *, required: bool = True) -> str:
    """A session or user name: one word."""
    return _line(text, required=required, spaces=False)


def parse_executable(text: str) -> str:
    executable = _line(text, required=True)
    if re.search(r"\s", executable):
        raise FieldError("One program name or path, without spaces: put its arguments in Arguments.")
    return executable


def parse_path(text: str) -> str:
    """A working directory or log path: optional; drunc hands it to a shell unquoted, so no spaces."""
    path = _line(text)
    if re.search(r"\s", path):
        raise FieldError("Must not contain spaces (drunc passes it to a shell unquoted).")
    return path


def split_arguments(text: str) -> list[str]:
    """Split like a shell; an unbalanced quote or a trailing backslash is a FieldError."""
    if len(text) > MAX_BLOCK:
        raise FieldError(f"Too long ({len(text)} characters; at most {MAX_BLOCK}).")
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise FieldError(f"Cannot split the arguments like a shell: {exc}. Check the quotes.") from None


def wire_arguments(argv: Iterable[str]) -> tuple[str, ...]:
    """Each argument quoted for the shell drunc runs, so it arrives as one literal argument."""
    out = []
    for arg in argv:
        if "\x00" in arg or "\n" in arg or "\r" in arg:
            raise FieldError("An argument must not contain line breaks or NUL characters.")
        out.append(shlex.quote(arg))
    return tuple(out)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_environment(text: str) -> dict[str, str]:
    """KEY=VALUE per line; blank lines and # comments are ignored; one pair of surrounding quotes is removed."""
    if len(text) > MAX_BLOCK:
        raise FieldError(f"Too long ({len(text)} characters; at most {MAX_BLOCK}).")
    env: dict[str, str] = {}
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep:
            raise FieldError(f"Line {number}: “{clip(line, 40)}” is not KEY=VALUE.")
        env_key(key, f"Line {number}: ")
        if key in seen:
            raise FieldError(f"Line {number}: {key} is already set on line {seen[key]}.")
        seen[key] = number
        env[key] = env_value(_unquote(value.strip()), key)
    return env


def env_key(key, where: str = "") -> str:
    if not isinstance(key, str) or not _ENV_KEY.match(key):
        raise FieldError(f"{where}“{clip(str(key), 40)}” is not a valid variable name "
                         "(letters, digits and _, not starting with a digit).")
    return key


def env_value(value, key: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError(f"The value of {key} must be a string, not {_json_type(value)}.")
    text = str(value)
    if any(c in text for c in "\n\r\x00"):
        raise FieldError(f"The value of {key} must be a single line.")
    return text


def parse_hosts(value) -> tuple[str, ...]:
    """A string (commas or spaces between names) or a list of names; at least one; duplicates dropped."""
    if isinstance(value, str):
        names = [h for h in _HOST_SPLIT.split(value.strip()) if h]
    elif isinstance(value, list | tuple):
        names = []
        for i, host in enumerate(value):
            if not isinstance(host, str):
                raise FieldError(f"Host {i + 1} must be a string, not {_json_type(host)}.")
            names.append(host.strip())
    else:
        raise FieldError(f"Must be a list of host names or a string, not {_json_type(value)}.")
    if not names or not all(names):
        raise FieldError("Give at least one host (localhost for this machine)." if not names
                         else "A host name must not be empty.")
    if len(names) > MAX_HOSTS:
        raise FieldError(f"Too many hosts ({len(names)}; at most {MAX_HOSTS}).")
    for host in names:
        if len(host) > 253 or not _HOST.match(host):
            raise FieldError(f"“{clip(host, 40)}” is not a host name or IP address.")
    return tuple(dict.fromkeys(names))


def parse_tree_id(text: str) -> str:
    tree_id = _line(text)
    if tree_id and not _TREE_ID.match(tree_id):
        raise FieldError(f"“{clip(tree_id, 40)}” is not a tree id: use three dot-separated numbers, like 1.2.3.")
    return tree_id


# ------------------------------------------------------------------------------------------------- specs


def field_of_validation(message: str, spec: BootSpec | None = None) -> str:
    """The field an InvalidArguments message from BootSpec.validate() is about (FORM when none is named)."""
    text = message.removeprefix("boot:").strip()
    if text.startswith("user and session"):
        return "session" if spec is not None and re.search(r"\s", spec.session) else "user"
    first = re.split(r"[\s:]", text, maxsplit=1)[0]
    return first if first in FIELDS else FORM


def _validated(spec: BootSpec, errors: dict[str, str]) -> BootSpec | None:
    try:
        spec.validate()
    except InvalidArguments as exc:
        message = str(exc).removeprefix("boot:").strip()
        errors[field_of_validation(str(exc), spec)] = message[:1].upper() + message[1:]
        return None
    return spec


def _derive_log_path(parsed: dict, errors: dict[str, str], defaults: BootDefaults) -> None:
    """A blank log path becomes the derived one, once name, session and user are known good."""
    if parsed.get("log_path") or "log_path" in errors or not all(k in parsed for k in ("name", "session", "user")):
        return
    try:
        parsed["log_path"] = defaults.log_path(session=parsed["session"], name=parsed["name"], user=parsed["user"])
    except FieldError as exc:
        errors["log_path"] = str(exc)


def parse_boot_form(values: Mapping[str, str | None],
                    defaults: BootDefaults | str = "") -> tuple[BootSpec | None, dict]:
    """The form's raw strings → (BootSpec, {}) or (None, {field: message}). Blank user and log path come from
    `defaults` (a bare string is the default user, with the default log directory and pattern)."""
    defaults = BootDefaults.of(defaults)

    def text(key: str) -> str:
        value = values.get(key)
        return value if isinstance(value, str) else ""

    errors: dict[str, str] = {}
    parsed: dict = {}
    parsers = {
        "name": parse_name,
        "session": parse_word,
        "user": lambda t: parse_word(t, required=False) or parse_word(defaults.user),
        "executable": parse_executable,
        "arguments": lambda t: wire_arguments(split_arguments(t)),
        "environment": parse_environment,
        "working_directory": parse_path,
        "log_path": parse_path,
        "allowed_hosts": parse_hosts,
        "tree_id": parse_tree_id,
    }
    for key, parse in parsers.items():
        try:
            parsed[key] = parse(text(key))
        except FieldError as exc:
            errors[key] = str(exc)
    _derive_log_path(parsed, errors, defaults)
    if errors:
        return None, errors
    spec = _validated(BootSpec(**parsed), errors)
    return spec, errors


# -------------------------------------------------------------------------------------------------- file

FILE_KEYS = ("name", "session", "user", "executable", "arguments", "environment", "working_directory", "log_path",
             "allowed_hosts", "tree_id")


@dataclass(frozen=True)
class BootEntry:
    """One process of a boot file: what the preview shows, and the spec when the entry is valid."""

    index: int  # 1-based, as the operator counts
    name: str
    session: str
    user: str
    hosts: tuple[str, ...]
    command: str
    spec: BootSpec | None
    errors: dict[str, str] = field(default_factory=dict)
    log_path: str = ""  # given, or derived when the entry had none

    @property
    def ok(self) -> bool:
        return self.spec is not None and not self.errors

    @property
    def status(self) -> str:
        if self.ok:
            return "OK"
        return " ".join(f"{FIELDS.get(k, 'Entry')}: {m}" for k, m in self.errors.items())


def decode_upload(contents) -> bytes:
    """dcc.Upload's `contents` ("data:<type>;base64,<data>") → bytes; the size is checked before decoding."""
    if not isinstance(contents, str) or "," not in contents or not contents.startswith("data:"):
        raise BootFileError("The upload could not be read: choose the file again.")
    header, data = contents.split(",", 1)
    if not header.endswith(";base64"):
        raise BootFileError("The upload could not be read (not base64): choose the file again.")
    estimate = len(data) * 3 // 4 - data[-2:].count("=")
    if estimate > MAX_FILE_BYTES:
        raise BootFileError(_too_big(estimate))
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BootFileError("The upload could not be read (bad base64): choose the file again.") from None


def upload_digest(contents) -> str | None:
    """A fingerprint of an upload: the file booted must be the file previewed."""
    if not isinstance(contents, str) or not contents:
        return None
    return hashlib.sha256(contents.encode("utf-8", "surrogatepass")).hexdigest()


def parse_boot_file(content: bytes, defaults: BootDefaults | str) -> list[BootEntry]:
    """Every process of the file, valid or not (BootFileError when the file as a whole is unusable).

    The file is a list of objects, or {"processes": [...]}; each object has the keys in FILE_KEYS. A missing
    user or log path comes from `defaults`, with one time for the whole file.
    """
    defaults = BootDefaults.of(defaults)
    if len(content) > MAX_FILE_BYTES:
        raise BootFileError(_too_big(len(content)))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BootFileError(f"The file is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                            f"{exc.start}).") from None
    if not text.strip():
        raise BootFileError("The file is empty.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BootFileError(f"Not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from None
    except RecursionError:
        raise BootFileError("Not usable JSON: it is nested too deeply.") from None
    processes = _process_list(data)
    return [parse_entry(i, item, defaults) for i, item in enumerate(processes, start=1)]


def _process_list(data) -> list:
    shape = 'The file must be a list of processes, or an object {"processes": [...]}'
    if isinstance(data, dict):
        if "processes" not in data:
            raise BootFileError(f"{shape}; this object has no “processes” key.")
        extra = sorted(k for k in data if k != "processes")
        if extra:
            raise BootFileError(f"Unknown top-level key(s) {', '.join(map(repr, extra))}: only “processes” is "
                                "allowed.")
        data = data["processes"]
        if not isinstance(data, list):
            raise BootFileError(f"“processes” must be a list, not {_json_type(data)}.")
    elif not isinstance(data, list):
        raise BootFileError(f"{shape}, not {_json_type(data)}.")
    if not data:
        raise BootFileError("The file lists no processes.")
    if len(data) > MAX_PROCESSES:
        raise BootFileError(f"The file lists {len(data)} processes; at most {MAX_PROCESSES} can be booted at once.")
    return data


def parse_entry(index: int, item, defaults: BootDefaults | str) -> BootEntry:
    """One object of the file → a BootEntry (its errors keyed by field, or ENTRY for the object as a whole)."""
    defaults = BootDefaults.of(defaults)
    if not isinstance(item, dict):
        return BootEntry(index, "", "", "", (), "", None,
                         {ENTRY: f"Must be an object with the process fields, not {_json_type(item)}."})
    errors: dict[str, str] = {}
    unknown = [k for k in item if k not in FILE_KEYS]
    if unknown:
        errors[ENTRY] = (f"Unknown key(s) {', '.join(repr(clip(str(k), 40)) for k in unknown)}; "
                         f"the keys are {', '.join(FILE_KEYS)}.")

    def string(key: str) -> str:
        value = item.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise FieldError(f"Must be a string, not {_json_type(value)}.")
        return value

    def arguments() -> tuple[str, ...]:
        value = item.get("arguments")
        if value is None:
            return ()
        if isinstance(value, str):
            return wire_arguments(split_arguments(value))
        if not isinstance(value, list):
            raise FieldError(f"Must be a list of strings or a string, not {_json_type(value)}.")
        argv = []
        for i, arg in enumerate(value):
            if isinstance(arg, bool) or not isinstance(arg, str | int | float):
                raise FieldError(f"Argument {i + 1} must be a string, not {_json_type(arg)}.")
            argv.append(str(arg))
        return wire_arguments(argv)

    def environment() -> dict[str, str]:
        value = item.get("environment")
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise FieldError(f"Must be an object of NAME: value, not {_json_type(value)}.")
        return {env_key(k): env_value(v, k) for k, v in value.items()}

    def hosts() -> tuple[str, ...]:
        value = item.get("allowed_hosts")
        return DEFAULT_HOSTS if value is None else parse_hosts(value)

    parsers = {
        "name": lambda: parse_name(string("name")),
        "session": lambda: parse_word(string("session")),
        "user": lambda: parse_word(string("user"), required=False) or parse_word(defaults.user),
        "executable": lambda: parse_executable(string("executable")),
        "arguments": arguments,
        "environment": environment,
        "working_directory": lambda: parse_path(string("working_directory")),
        "log_path": lambda: parse_path(string("log_path")),
        "allowed_hosts": hosts,
        "tree_id": lambda: parse_tree_id(string("tree_id")),
    }
    parsed: dict = {}
    for key, parse in parsers.items():
        try:
            parsed[key] = parse()
        except FieldError as exc:
            errors[key] = str(exc)
    _derive_log_path(parsed, errors, defaults)
    spec = None if errors else _validated(BootSpec(**parsed), errors)

    def shown(key: str) -> str:
        if key in parsed:
            return parsed[key]
        value = item.get(key)
        return clip(value, 60) if isinstance(value, str) else ""

    shown_hosts = parsed.get("allowed_hosts") or ()
    command = " ".join([shown("executable"), *parsed.get("arguments", ())]).strip()
    return BootEntry(index, shown("name"), shown("session"), shown("user"), tuple(shown_hosts),
                     clip(command, COMMAND_CLIP), spec, errors, log_path=shown("log_path"))


# ------------------------------------------------------------------------------------------------ results


def audit_arguments(spec: BootSpec) -> dict:
    """The spec for the audit trail: every field, environment values clipped to AUDIT_VALUE_CLIP characters."""
    return {
        "name": spec.name,
        "session": spec.session,
        "user": spec.user,
        "executable": spec.executable,
        "arguments": list(spec.arguments),
        "environment": {k: clip(v, AUDIT_VALUE_CLIP) for k, v in spec.environment.items()},
        "working_directory": spec.working_directory,
        "log_path": spec.log_path,
        "allowed_hosts": list(spec.allowed_hosts),
        "tree_id": spec.tree_id,
    }


def drunc_error_text(exc: DruncError) -> str:
    """One line for a toast or the audit trail: the flag and the server's message (its last line)."""
    if isinstance(exc, DruncFlagError):
        lines = [line.strip() for line in (exc.text or "").splitlines() if line.strip()]
        message = _EXCEPTION_PREFIX.sub("", lines[-1]) if lines else ""
        return clip(f"{exc.flag}: {message}" if message else exc.flag, 500)
    if isinstance(exc, BackendUnavailable):
        return clip(f"Process manager unavailable: {exc}", 500)
    return clip(str(exc), 500)


@dataclass(frozen=True)
class BootResult:
    name: str
    ok: bool
    text: str  # "uuid … on host" or the error


def toast_plan(results: list[BootResult], cap: int = 10) -> tuple[list[BootResult], list[BootResult]]:
    """Results shown one toast each, and the rest (summarised in one toast) when there are more than `cap`."""
    if len(results) <= cap:
        return list(results), []
    return list(results[:cap]), list(results[cap:])


def boot_entries(client, entries, budget_secs: float, scope: str,
                 booted_text: Callable[[object], str]) -> list[BootResult]:
    """Boot each entry in turn with `client`; one result per entry, never an exception. No boot starts after
    `budget_secs` (the request must end before gunicorn's timeout), and none after the process manager was found
    unreachable: those entries say why they were not attempted. `scope` names what the budget is for ("file")."""
    results: list[BootResult] = []
    deadline = time.monotonic() + budget_secs
    stop = ""
    for entry in entries:
        if not stop and time.monotonic() > deadline:
            stop = f"not attempted: the {budget_secs:.0f} s time limit for one {scope} was reached"
        if stop:
            results.append(BootResult(entry.name, False, stop))
            continue
        try:
            info = client.boot(entry.spec)
        except BackendUnavailable as exc:
            text = drunc_error_text(exc)
            results.append(BootResult(entry.name, False, text))
            stop = f"not attempted: {text}"
            continue
        except DruncError as exc:
            results.append(BootResult(entry.name, False, drunc_error_text(exc)))
            continue
        results.append(BootResult(info.name, True, booted_text(info)))
    return results


def summary_text(rest: list[BootResult]) -> str:
    booted = [r.name for r in rest if r.ok]
    failed = [r for r in rest if not r.ok]
    parts = []
    if booted:
        parts.append(f"{len(booted)} booted: {', '.join(booted)}.")
    if failed:
        parts.append(f"{len(failed)} not booted: " + "; ".join(f"{r.name} ({r.text})" for r in failed) + ".")
    return clip(" ".join(parts), 4000)


# ---------------------------------------------------------------------------------------------- helpers


def _too_big(size: int) -> str:
    return f"The file is too big ({size:,} bytes); the limit is 1 MB ({MAX_FILE_BYTES:,} bytes)."


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
