"""Reading a stack file (`Pulumi.<stack>.yaml`) and saying plainly what is wrong with it.

The Pulumi CLI reads the stack file and hands the program only the `config:` values, so some
mistakes never reach the program: a key set twice (one of the two is silently dropped), a key
written beside `config:` instead of under it, a key without a namespace. The offline tools
(`infra.offline`) read the file themselves, and the program reads it too when it sits beside
`__main__.py`, to refuse those with the file and line.

`read(path)` returns a `StackFile` (the config as YAML gave it, the line of each key, and the
problems of that kind) or raises `StackFileError`, one message naming the file and what is
wrong, for a file that cannot be read as a stack file at all: not UTF-8, not YAML, not a
mapping, too large, nested too deeply, or an alias bomb.

`settings_of(config, secret, stack_file)` turns a stack's config, as the Pulumi engine passes it
(`namespace:key` names, text values), into the one `Settings`; both readers of a stack's config
go through it:
- `load_settings()`, the running program's: the values the Pulumi runtime holds
  (`runtime_config()`), with the problems of `stack_path(pulumi.get_stack())`;
- `infra.offline.stack_settings(stack)`, the offline tools': `Pulumi.<stack>.yaml` read here
  (`StackFile.pulumi_config()`), with the stand-ins an offline run adds.
"""

from __future__ import annotations

import difflib
import json
import pathlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import pulumi
import yaml
from yaml.constructor import SafeConstructor

from infra.settings import PROJECT, SECRET_KEYS, Settings, SettingsError, config_key_names, parse_settings

# A stack file holds a few dozen short lines; anything this big is not one (and reading it
# whole, as YAML, would take long).
MAX_BYTES = 1024 * 1024
# Values after YAML aliases are expanded: a few dozen in a real stack file. An "alias bomb"
# (each alias repeating the one before ten times) expands a 1 KB file to a billion.
MAX_VALUES = 100_000
# The top-level keys of a stack file (Pulumi's ProjectStack: sdk/go/common/workspace/project.go).
TOP_LEVEL_KEYS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")
# What `pulumi config set` and `pulumi config set --secret` write, and offline runs pass for a
# `secure:` value they cannot decrypt.
SECURE_PLACEHOLDER = "offline-secret-value"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class StackFileError(SettingsError):
    """A file that cannot be read as a stack file; its message is one line naming the file."""

    def __init__(self, path: pathlib.Path, problem: str):
        self.path = path
        self.problems = [f"{path.name} {problem}"]
        # Not SettingsError's "invalid stack config:" list: one problem, the file comes first.
        Exception.__init__(self, self.problems[0])


@dataclass
class StackFile:
    path: pathlib.Path
    # `config:` as YAML gave it (for a key set twice, the last value, as Pulumi keeps it).
    config: dict[str, Any] = field(default_factory=dict)
    # The line of each `config:` key (its last occurrence).
    lines: dict[str, int] = field(default_factory=dict)
    # Keys Pulumi would drop or double without a word, each naming the key, file and line.
    problems: list[str] = field(default_factory=list)

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.path.name} line {line}" if line else self.path.name

    def pulumi_config(self) -> tuple[dict[str, str], set[str]]:
        """The config as the Pulumi engine passes it to the program: text for every value, JSON
        text for lists and objects, and a placeholder for each `secure:` value (offline runs
        cannot decrypt them). Also the keys that are secrets."""
        config, secret = {}, set()
        for key, value in self.config.items():
            if value is None:
                continue  # reported as a problem: "has no value"
            if isinstance(value, dict) and set(value) == {"secure"}:
                config[key], secret = SECURE_PLACEHOLDER, secret | {key}
            elif isinstance(value, str):
                config[key] = value
            elif isinstance(value, bool):
                config[key] = "true" if value else "false"
            else:
                config[key] = json.dumps(value)
        return config, secret


class _Loader(yaml.SafeLoader):
    """YAML as Pulumi's own reader sees it, where PyYAML would differ in a way that matters."""


# A date such as `2024-01-01` stays text (PyYAML would make a datetime.date, which is no config
# value and which JSON cannot hold).
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _int(loader: _Loader, node: yaml.ScalarNode) -> Any:
    try:
        return SafeConstructor.construct_yaml_int(loader, node)
    except ValueError:
        # Longer than Python converts (4300 digits): kept as the text it is, as Go's YAML keeps a
        # number too large for it, so the setting's own check reports it.
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _int)


def read(path: pathlib.Path) -> StackFile:
    """Read `path` as a stack file; FileNotFoundError when it does not exist."""
    path = pathlib.Path(path)
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise StackFileError(path, f"is {len(data):,} bytes: a stack file is a few kilobytes of YAML "
                                   f"(this reader stops at {MAX_BYTES:,})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StackFileError(path, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
                                   f"a stack file is YAML text such as `config:` followed by `  aws:region: eu-west-1`") from None
    try:
        # The reader refuses control characters as soon as it is made.
        loader = _Loader(text)
    except yaml.YAMLError as exc:
        raise StackFileError(path, _yaml_problem(exc, text)) from None
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise StackFileError(path, "nests its values too deeply to read: a config value is a string, "
                                       "or a list or object a few levels deep") from None
        except yaml.YAMLError as exc:
            raise StackFileError(path, _yaml_problem(exc, text)) from None
        if node is None:
            return StackFile(path)
        _check_size(path, node)
        problems = _duplicates(path, node)
        try:
            doc = loader.construct_document(node)
        except RecursionError:
            raise StackFileError(path, "nests its values too deeply to read") from None
        except yaml.YAMLError as exc:
            raise StackFileError(path, _yaml_problem(exc, text)) from None
    finally:
        loader.dispose()
    return _stack(path, node, doc, problems)


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return (f"is not valid YAML: line {line} holds the control character U+{exc.character:04X}, "
                f"which YAML does not allow in a file")
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if "'\\t'" in problem:
        problem = "a tab character: YAML indents with spaces, never tabs"
    at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    context = getattr(exc, "context", None)
    return f"is not valid YAML: {at}{problem}" + (f" ({context})" if context else "")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_size(path: pathlib.Path, root: yaml.Node) -> None:
    """Refuse a cycle of aliases, and more than MAX_VALUES values once aliases are expanded.

    Without aliases the file size bounds the values; with them, a value used twice counts twice
    because the config holds it twice (json.dumps writes it out in full).
    """
    size: dict[int, int] = {}
    on_path: set[int] = set()
    todo: list[tuple[yaml.Node, bool]] = [(root, False)]
    while todo:
        node, finished = todo.pop()
        if finished:
            on_path.discard(id(node))
            size[id(node)] = 1 + sum(size[id(c)] for c in _children(node))
            if size[id(node)] > MAX_VALUES:
                raise StackFileError(path, f"holds more than {MAX_VALUES:,} values once its YAML aliases (*name) "
                                           f"are expanded (an alias bomb?); a stack file holds a few dozen")
            continue
        if id(node) in size:
            continue
        on_path.add(id(node))
        todo.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise StackFileError(path, f"is not a usable stack file: line {child.start_mark.line + 1} refers "
                                           f"with an alias to a value that contains it, a loop no config value can hold")
            if id(child) not in size:
                todo.append((child, False))


def _key_text(node: yaml.Node) -> Optional[str]:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _duplicates(path: pathlib.Path, root: yaml.Node) -> list[str]:
    """Every mapping key set twice: at the top, in `config:`, and inside a config value."""
    problems: list[str] = []
    seen_nodes: set[int] = set()

    def entries(node: yaml.Node, what: Callable[[str], str]):
        """(key, value node) of a mapping seen for the first time; a repeated key is a problem."""
        if not isinstance(node, yaml.MappingNode) or id(node) in seen_nodes:
            return
        seen_nodes.add(id(node))
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = _key_text(key_node)
            line = key_node.start_mark.line + 1
            if key is None:
                continue
            if key in first:
                problems.append(f"{what(key)} in {path.name} (line {first[key]} and line {line}); Pulumi keeps "
                                f"only one of them without a word: remove the other")
            else:
                first[key] = line
            yield key, value_node

    def check_value(node: yaml.Node, where: str) -> None:
        for key, value_node in entries(node, lambda key: f"{where} has {key} twice"):
            check_value(value_node, f"{where}.{key}")

    for key, value_node in entries(root, lambda key: f"{key} is set twice"):
        if key == "config":
            for config_key, config_value in entries(value_node, lambda k: f"{k} is set twice"):
                check_value(config_value, config_key)
    return problems


def _shape(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "…"
        return f"the text {shown!r}"
    return f"a single value ({type(value).__name__})"


def _stack(path: pathlib.Path, root: yaml.Node, doc: Any, problems: list[str]) -> StackFile:
    name = path.name
    if doc is None:
        return StackFile(path, problems=problems)
    if not isinstance(doc, dict):
        raise StackFileError(path, f"holds {_shape(doc)} at the top level; a stack file is a mapping with a "
                                   f"`config:` mapping of `namespace:key: value` lines")
    top_lines = {_key_text(k): k.start_mark.line + 1 for k, _ in root.value}  # the last of duplicates
    # The last `config:` is the one YAML (and Pulumi) keeps; a second one is reported as set twice.
    config_node = next((v for k, v in reversed(root.value) if _key_text(k) == "config"), None)
    for key in doc:
        if key in TOP_LEVEL_KEYS:
            continue
        line = top_lines.get(str(key))
        at = f"{name} line {line}" if line else name
        if isinstance(key, str) and ":" in key:
            problems.append(f"{key} is outside the `config:` mapping ({at}), where Pulumi ignores it: indent it "
                            f"under `config:` with the other keys")
        else:
            near = difflib.get_close_matches(str(key), TOP_LEVEL_KEYS, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            problems.append(f"{key} ({at}) is not a key of a stack file, which Pulumi ignores{hint}: a stack file "
                            f"has {', '.join(TOP_LEVEL_KEYS)}, and the settings go under `config:`")
    config = doc.get("config")
    if config is None:
        return StackFile(path, problems=problems)
    if not isinstance(config, dict):
        line = top_lines.get("config")
        raise StackFileError(path, f"line {line}: `config:` holds {_shape(config)}; it must be a mapping of "
                                   f"`namespace:key: value` lines such as `  aws:region: eu-west-1`")
    stack = StackFile(path, problems=problems)
    lines = {_key_text(k): k.start_mark.line + 1 for k, _ in config_node.value} if isinstance(config_node, yaml.MappingNode) else {}
    ours, aws = config_key_names()
    for key, value in config.items():
        line = lines.get(str(key))
        at = f"{name} line {line}" if line else name
        if not isinstance(key, str) or not key:
            problems.append(f"config key {key!r} ({at}) is not a `namespace:key` name such as {PROJECT}:apiReplicas: "
                            f"Pulumi refuses it")
            continue
        if ":" not in key:
            problems.append(_bare_key(key, value, at, ours, aws))
            continue
        if value is None:
            problems.append(f"{key} ({at}) has no value: give it one or remove the line")
        elif isinstance(value, dict) and "secure" in value and (set(value) != {"secure"} or not isinstance(value["secure"], str)):
            problems.append(f"{key} ({at}) has a `secure:` value that is not the one ciphertext string "
                            f"`pulumi config set --secret {key} <value>` writes: set it again that way")
        stack.config[key] = value
        if line:
            stack.lines[key] = line
    return stack


def _bare_key(key: str, value: Any, at: str, ours: list[str], aws: list[str]) -> str:
    if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
        inner = sorted(value)[0]
        return (f"{key} ({at}) is a nested mapping, which Pulumi does not read as settings: config keys are flat "
                f"`namespace:key: value` lines, e.g. `{key}:{inner}: ...` for {', '.join(sorted(value)[:3])}")
    if key in ours:
        hint = f"did you mean {PROJECT}:{key}?"
    elif key in aws:
        hint = f"did you mean aws:{key}?"
    else:
        near = difflib.get_close_matches(key, ours, n=1)
        hint = f"did you mean {PROJECT}:{near[0]}?" if near else f"write it as {PROJECT}:<key> or aws:<key>"
    return f"{key} ({at}) has no namespace, so the program never reads it: {hint}"


# ------------------------------------------------------------------ from config to Settings


def settings_of(config: Mapping[str, str], secret: set[str], stack_file: Optional[StackFile]) -> Settings:
    """The Settings of a stack whose config, as the Pulumi engine passes it, is `config` (full
    `namespace:key` names; `secret` the names that are secrets), refused with the problems of its
    `stack_file` (None when the file is not at hand) first."""
    prefix = f"{PROJECT}:"
    ours = {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}
    aws = {k[len("aws:"):]: v for k, v in config.items() if k.startswith("aws:")}
    return parse_settings(ours, region=aws.get("region"), aws_profile=aws.get("profile"), aws_config=aws,
                          secret_keys={k[len(prefix):] for k in secret if k.startswith(prefix)},
                          other_config={k: v for k, v in config.items() if not k.startswith(prefix)},
                          stack_problems=stack_file.problems if stack_file else [],
                          locations={k: stack_file.where(k) for k in stack_file.config} if stack_file else {})


# ------------------------------------------------------------------ the running program

# Where the running program finds `Pulumi.<stack>.yaml`: beside Pulumi.yaml and __main__.py, the
# project directory the Pulumi CLI runs the program in. `infra.offline.run_program` points it at
# the directory it read the stack file from.
STACK_DIR = pathlib.Path(__file__).resolve().parent.parent


def stack_path(stack: str, directory: Optional[pathlib.Path] = None) -> pathlib.Path:
    """`Pulumi.<stack>.yaml` in `directory`, or beside the program (STACK_DIR)."""
    return (directory or STACK_DIR) / f"Pulumi.{stack}.yaml"


def runtime_config() -> tuple[dict[str, str], set[str]]:
    """The running stack's config as the Pulumi runtime holds it (full `namespace:key` names), and
    the names that are secrets."""
    from pulumi.runtime.config import CONFIG, get_config_env, get_config_secret_keys_env, is_config_secret

    config = {**get_config_env(), **CONFIG.get()}
    secret = set(get_config_secret_keys_env())
    secret |= {f"{PROJECT}:{k}" for k in SECRET_KEYS if is_config_secret(f"{PROJECT}:{k}")}
    return config, secret


def load_settings() -> Settings:
    """Build the one Settings object of this run from the stack config.

    The Pulumi CLI hands the program the config values only, after silently keeping one of two
    duplicate keys and dropping keys written outside `config:`; so when the stack file is here,
    the program reads it too and refuses those, with the other problems.
    """
    path = stack_path(pulumi.get_stack())
    # A file that cannot be read at all: StackFileError, one line.
    stack_file = read(path) if path.is_file() else None
    config, secret = runtime_config()
    return settings_of(config, secret, stack_file)
