"""Property-based: whatever a stack file holds, the answer is a Settings or one SettingsError.

Values of every type YAML and JSON can hold (and the text Pulumi makes of them) go to every key;
stack files of arbitrary YAML and arbitrary bytes go to the reader. No other exception may come
out: the user must always get the one message naming the key, never a traceback.
"""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra import stackfile
from infra.offline import runner as offline
from infra.settings import PROJECT, Settings, SettingsError, config_key_names, parse_settings

OK = {"allowedCidrs": '["203.0.113.7/32"]', "dockerHubUsername": "benchuser", "dockerHubToken": "dckr_pat_test"}
KEYS = config_key_names()[0]
# No example database: the tests write nothing into the work tree (.hypothesis/).
FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
           | st.sampled_from(["", " ", "0", "-1", "1e9", "true", "null", "[]", "{}", "[1,", "9" * 5000, "\x00", "0.0.0.0/0",
                              "m6g.large", "eu-west-9", "kube-system", "ssd", "existing",
                              "[" + "9" * 5000 + "]", "[" * 5000 + "]" * 5000, '{"a": ' * 3000 + "1" + "}" * 3000]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)


def faults(parse) -> list[str]:
    """What is wrong with the answer of `parse()`: nothing when it is a whole Settings whose derived
    values can be read, or one SettingsError listing each problem once; any other exception
    propagates (that is the failure these tests look for)."""
    try:
        result = parse()
    except SettingsError as exc:  # StackFileError is one too
        found = []
        if not (exc.problems and all(isinstance(p, str) and p for p in exc.problems)):
            found.append(f"a SettingsError without its problems: {exc.problems!r}")
        elif len(exc.problems) > 1 and str(exc).count("\n  - ") != len(exc.problems):
            found.append(f"the message does not list each of the {len(exc.problems)} problems once: {exc}")
        return found
    if not isinstance(result, Settings):
        return [f"accepted as a {type(result).__name__}, not a Settings"]
    found = []
    if not (result.zone.startswith(result.region) and result.allowed_cidrs):
        found.append(f"zone {result.zone!r} outside region {result.region!r}, or no allowedCidrs")
    if result.image_supply not in ("ecr-cache", "registry", "dockerhub"):
        found.append(f"image supply {result.image_supply!r}")
    return found


@FAST
@given(key=st.sampled_from(KEYS), value=values, as_text=st.booleans())
def test_any_value_for_any_key_is_settings_or_one_settings_error(key, value, as_text):
    # Pulumi hands the program text (JSON for lists and objects); other callers may pass the value itself.
    raw = {**OK, key: json.dumps(value) if as_text else value}
    assert faults(lambda: parse_settings(raw, region="eu-west-1")) == [], (key, value)


# Text that Pulumi may hand the keys holding JSON (lists, objects): most of it is no JSON at all.
json_text = (st.sampled_from(["[" + "9" * 5000 + "]", "[" * 5000 + "]" * 5000, '{"a": ' * 3000 + "1" + "}" * 3000,
                              "[1,", "{", "[]", "{}", "[null]", '{"a": null}', '["0.0.0.0/1", "128.0.0.0/1"]'])
             | values.map(json.dumps) | st.text(max_size=30).map(lambda t: "[" + t))


@FAST
@given(key=st.sampled_from(["allowedCidrs", "mysqlConfig"]), text=json_text)
def test_any_text_for_a_json_key_is_settings_or_one_settings_error(key, text):
    assert faults(lambda: parse_settings({**OK, key: text}, region="eu-west-1")) == [], (key, text)


@FAST
@given(raw=st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=12), values, max_size=6),
       region=st.none() | st.text(max_size=20) | st.sampled_from(["eu-west-1", "us-gov-west-1"]),
       other=st.dictionaries(st.text(max_size=20), st.text(max_size=10), max_size=4))
def test_any_mix_of_keys_and_namespaces_is_settings_or_one_settings_error(raw, region, other):
    assert faults(lambda: parse_settings({**OK, **raw}, region=region, other_config=other)) == [], (raw, region)


@pytest.fixture(scope="module")
def stack_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("stacks")


@FAST
@given(config=st.dictionaries(st.sampled_from([f"{PROJECT}:{k}" for k in KEYS] + ["aws:region", "seldon:apiReplicas",
                                                                              "apiReplicas", "aws:regoin"]),
                              values, max_size=5))
def test_any_yaml_stack_file_is_settings_or_one_settings_error(stack_dir, config, monkeypatch_module):
    (stack_dir / "Pulumi.prop.yaml").write_text(yaml.safe_dump({"config": config}))
    assert faults(lambda: offline.stack_settings("prop")) == [], config


@FAST
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_are_a_stack_file_or_one_stack_file_error(stack_dir, data):
    path = stack_dir / "Pulumi.bytes.yaml"
    path.write_bytes(data)
    try:
        doc = stackfile.read(path)
    except stackfile.StackFileError as exc:
        assert str(exc).startswith("Pulumi.bytes.yaml ") and "\n" not in str(exc), str(exc)
    else:
        config, secret = doc.pulumi_config()
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in config.items()), config
        assert secret <= set(config), "every secret key is a key of the config"


@pytest.fixture(scope="module")
def monkeypatch_module(stack_dir):
    mp = pytest.MonkeyPatch()
    mp.setattr(offline, "ROOT", stack_dir)
    yield mp
    mp.undo()
