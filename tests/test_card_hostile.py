"""``h3ds-hf card`` against hostile inputs and a failing Hub: every case is refused in one line
on stderr (never a traceback), nothing is written, no YAML tag constructs an object, and no
token is ever printed."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from hub_stub import HubStub

from h3ds_hf.cli import main
from h3ds_hf.errors import REDACTED
from h3ds_hf.hub.eval_yaml import eval_tasks
from h3ds_hf.hub.model_card import EVAL_RESULTS_PATH
from h3ds_hf.release.catalog import load_catalog

TOKEN = "hf_hostile_suite_secret_token"
DATASET_ID = "h3ds-org/h3ds"
#: A folder the python/object YAML tags below would create if they were ever constructed.
MARKER = "constructed-by-yaml"


def _results(**changes) -> dict:
    results = {
        "format": "h3ds-hf-results/1",
        "package_version": "0.1.0",
        "protocol": "h3ds",
        "release": "v2",
        "catalog_version": "0.4",
        "method": "m",
        "tags": [],
        "results": [],
        "summary": {
            "3": {
                "face_chamfer_mm": 1.5,
                "head_chamfer_mm": 10.0,
                "scenes": 59,
                "expected": 59,
                "complete": True,
            }
        },
    }
    results.update(changes)
    return results


def _cell(**changes) -> dict:
    return {"3": {**_results()["summary"]["3"], **changes}}


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def _tag(folder: Path) -> str:
    """A YAML value whose construction would create the marker file (safe loading refuses)."""
    return f"!!python/object/apply:os.mkdir ['{folder / MARKER}']"


#: results JSON text (or a callable of the test folder) -> a word of the expected message.
RESULTS_CASES = {
    "no release": (json.dumps({k: v for k, v in _results().items() if k != "release"}), "release"),
    "release a list": (json.dumps(_results(release=["v2"])), "release"),
    "value a string": (json.dumps(_results(summary=_cell(face_chamfer_mm="1.5"))), "not a number"),
    "value a list": (json.dumps(_results(summary=_cell(head_chamfer_mm=[1.0]))), "not a number"),
    "value a bool": (json.dumps(_results(summary=_cell(head_chamfer_mm=True))), "not a number"),
    "value NaN": (json.dumps(_results(summary=_cell(face_chamfer_mm=float("nan")))), "nan"),
    "value inf": (json.dumps(_results(summary=_cell(head_chamfer_mm=float("inf")))), "inf"),
    "value negative": (json.dumps(_results(summary=_cell(face_chamfer_mm=-1.0))), "-1.0"),
    "cell a list": (json.dumps(_results(summary={"3": [1.5, 10.0]})), "summary['3']"),
    "summary a list": (json.dumps(_results(summary=[1.5])), "summary"),
    "views not a count": (json.dumps(_results(summary={"3 views": _cell()["3"]})), "views"),
    "scenes a string": (json.dumps(_results(summary=_cell(scenes="59"))), "scenes"),
    "scenes over expected": (json.dumps(_results(summary=_cell(scenes=60))), "scenes"),
    "complete contradicted": (json.dumps(_results(summary=_cell(scenes=50))), "complete"),
    "tags a string": (json.dumps(_results(tags="h3d-net")), "tags"),
    "method a dict": (json.dumps(_results(method={"a": 1})), "method"),
    "nested 100000 deep": (_deep(100_000), "nested too deeply"),
    "summary nested deep": (
        json.dumps(_results(summary={})).replace('"summary": {}', f'"summary": {_deep(100_000)}'),
        "nested too deeply",
    ),
    "not UTF-8": (b'{"format": "\xff\xfe"}', "cannot read results"),
}

_FRONT = "---\n{}\n---\n# Card\n"
#: existing README.md content -> a word of the expected message.
README_CASES = {
    "malformed front matter": (_FRONT.format("license: [mit"), "invalid metadata"),
    "list-shaped front matter": (_FRONT.format("- license\n- mit"), "should be a dict"),
    "scalar front matter": (_FRONT.format("just text"), "should be a dict"),
    "not UTF-8": (b"---\nlicense: mit\n---\n\xff\xfe card", "not UTF-8"),
    "model-index a number": (_FRONT.format("model-index: 5"), "model_index"),
    "model-index a string": (_FRONT.format("model-index: abc"), "model_index"),
    "model-index results wrong": (
        _FRONT.format("model-index:\n- name: m\n  results:\n  - task: 5"),
        "model_index",
    ),
    "python tag": (lambda folder: _FRONT.format(f"license: {_tag(folder)}"), "invalid metadata"),
    "front matter nested deep": (_FRONT.format("a: " + _deep(1_000)), "invalid metadata"),
    "datasets a mapping": (_FRONT.format("datasets: {a: 1}"), "datasets"),
    "H3DS value not a number": (
        _FRONT.format(
            "model-index:\n- name: m\n  results:\n  - task: {type: image-to-3d}\n"
            f"    dataset: {{name: H3DS, type: {DATASET_ID}, config: 8-views, split: test}}\n"
            "    metrics:\n    - {type: h3ds_chamfer, config: face, value: abc}"
        ),
        "not a finite number",
    ),
}

#: existing .eval_results/h3ds.yaml content -> a word of the expected message.
EVAL_RESULTS_CASES = {
    "malformed": ("- dataset: {id: a/b", "not valid YAML"),
    "a mapping": ("dataset: {id: a/b, task_id: t}\nvalue: 1\n", "not a list"),
    "a list of strings": ("- a\n- b\n", "not a list"),
    "entry without task_id": ("- dataset: {id: a/b}\n  value: 1\n", "invalid entry"),
    "dataset a number": ("- dataset: 5\n  value: 1\n", "invalid entry"),
    "python tag": (lambda folder: f"- {_tag(folder)}\n", "not valid YAML"),
    "nested deep": ("- " + _deep(1_000), "not valid YAML"),
    "not UTF-8": (b"- dataset: {id: \xff}\n", "not UTF-8"),
}

#: the dataset folder's eval.yaml content (None: absent) -> a word of the expected message.
EVAL_YAML_CASES = {
    "absent": (None, "has no eval.yaml"),
    "malformed": ("tasks: [{id: a", "not valid YAML"),
    "list-shaped": ("- id: face_chamfer_3views\n", "no 'tasks' list"),
    "tasks a mapping": ("tasks: {id: face_chamfer_3views}\n", "no 'tasks' list"),
    "task without id": ("tasks:\n- config: 3-views\n", "string 'id'"),
    "task id a number": ("tasks:\n- id: 3\n", "string 'id'"),
    "split a list": ("tasks:\n- {id: face_chamfer_3views, split: [test]}\n", "non-string"),
    "duplicate ids": ("tasks:\n- id: a\n- id: a\n", "defined twice"),
    "python tag": (lambda folder: f"tasks:\n- id: {_tag(folder)}\n", "not valid YAML"),
    "not UTF-8": (b"tasks:\n- id: \xff\n", "not UTF-8"),
}


def _content(value, folder: Path) -> bytes | None:
    value = value(folder) if callable(value) else value
    return value.encode() if isinstance(value, str) else value


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _good_eval_yaml() -> str:
    tasks = eval_tasks(load_catalog("v2"), ["3-views"])
    return yaml.safe_dump({"name": "H3DS", "tasks": tasks})


def _run_card(
    tmp_path: Path,
    *,
    results: bytes | None = None,
    readme: bytes | None = None,
    eval_results: bytes | None = None,
    eval_yaml: bytes | None = b"",
) -> tuple[int, dict[str, bytes], dict[str, bytes]]:
    """Run `card --output` over these files; returns rc and the output folder before/after."""
    output, dataset = tmp_path / "card", tmp_path / "dataset"
    output.mkdir()
    dataset.mkdir()
    source = tmp_path / "results.json"
    source.write_bytes(results if results is not None else json.dumps(_results()).encode())
    if readme is not None:
        (output / "README.md").write_bytes(readme)
    if eval_results is not None:
        (output / EVAL_RESULTS_PATH).parent.mkdir()
        (output / EVAL_RESULTS_PATH).write_bytes(eval_results)
    if eval_yaml is not None:
        (dataset / "eval.yaml").write_bytes(eval_yaml or _good_eval_yaml().encode())
    before = _snapshot(output)
    argv = ["card", "--results", str(source), "--model-id", "me/m", "--dataset-id", DATASET_ID]
    code = main([*argv, "--dataset-dir", str(dataset), "--output", str(output)])
    return code, before, _snapshot(output)


def _assert_one_line(capsys, word: str) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("h3ds-hf card: error: "), err
    assert word in lines[0], err
    assert "Traceback" not in err and TOKEN not in err
    return lines[0]


def test_the_good_case_passes(tmp_path, capsys):
    code, before, after = _run_card(tmp_path)
    assert code == 0, capsys.readouterr().err
    assert set(after) - set(before) >= {"README.md", EVAL_RESULTS_PATH}


@pytest.mark.parametrize("case", RESULTS_CASES)
def test_hostile_results_are_refused(tmp_path, capsys, case):
    text, word = RESULTS_CASES[case]
    code, before, after = _run_card(tmp_path, results=_content(text, tmp_path))
    assert code == 1
    _assert_one_line(capsys, word)
    assert after == before


@pytest.mark.parametrize("case", README_CASES)
def test_hostile_existing_cards_are_refused(tmp_path, capsys, case):
    text, word = README_CASES[case]
    code, before, after = _run_card(tmp_path, readme=_content(text, tmp_path))
    assert code == 1
    _assert_one_line(capsys, word)
    assert after == before
    assert not (tmp_path / MARKER).exists()


@pytest.mark.parametrize("case", EVAL_RESULTS_CASES)
def test_hostile_existing_eval_results_are_refused(tmp_path, capsys, case):
    text, word = EVAL_RESULTS_CASES[case]
    code, before, after = _run_card(tmp_path, eval_results=_content(text, tmp_path))
    assert code == 1
    _assert_one_line(capsys, word)
    assert after == before
    assert not (tmp_path / MARKER).exists()


@pytest.mark.parametrize("case", EVAL_YAML_CASES)
def test_hostile_eval_yaml_is_refused(tmp_path, capsys, case):
    text, word = EVAL_YAML_CASES[case]
    code, before, after = _run_card(tmp_path, eval_yaml=_content(text, tmp_path))
    assert code == 1
    _assert_one_line(capsys, word)
    assert after == before
    assert not (tmp_path / MARKER).exists()


def test_the_yaml_tag_would_construct_the_marker_with_an_unsafe_loader(tmp_path):
    """The marker tag is live: only safe loading keeps it from running."""
    yaml.unsafe_load(f"a: {_tag(tmp_path)}")
    assert (tmp_path / MARKER).exists()


# -------------------------------------------------------------------------------------- Hub
def _point_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Point huggingface_hub at ``url`` (it reads HF_ENDPOINT at import), online, with TOKEN."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setenv("HF_TOKEN", TOKEN)


def _push(
    tmp_path: Path,
    *extra: str,
    model_id: str = "me/m",
    dataset_id: str = DATASET_ID,
    debug: bool = False,
) -> int:
    source = tmp_path / "results.json"
    source.write_text(json.dumps(_results()))
    argv = ["card", "--results", str(source), "--model-id", model_id, "--dataset-id", dataset_id]
    return main([*(["--debug"] if debug else []), *argv, "--push", *extra])


def _dataset_dir(tmp_path: Path) -> str:
    folder = tmp_path / "dataset"
    folder.mkdir(exist_ok=True)
    (folder / "eval.yaml").write_text(_good_eval_yaml())
    return str(folder)


BAD_IDS = ["a/b/c", "../../etc", "me/my model", 'me/"m"', "me/m'", "no-namespace", "me/m\nx"]


@pytest.mark.parametrize("option", ["--model-id", "--dataset-id"])
@pytest.mark.parametrize("repo_id", BAD_IDS)
def test_invalid_repo_ids_are_refused_before_any_request(
    tmp_path, capsys, monkeypatch, option, repo_id
):
    with HubStub(tokens={TOKEN: "me"}) as hub:
        _point_at(monkeypatch, hub.url)
        ids = {"model_id": repo_id} if option == "--model-id" else {"dataset_id": repo_id}
        assert _push(tmp_path, **ids) == 1
        assert hub.requests == []
    line = _assert_one_line(capsys, "is not a Hub repository id")
    assert option in line


@pytest.fixture
def dead_endpoint(monkeypatch) -> str:
    """A loopback endpoint with nothing listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    _point_at(monkeypatch, url)
    return url


def test_nothing_listening_is_one_line_naming_endpoint_and_step(tmp_path, capsys, dead_endpoint):
    assert _push(tmp_path) == 1
    line = _assert_one_line(capsys, f"cannot reach the Hub at {dead_endpoint}")
    assert f"reading dataset {DATASET_ID}" in line
    assert _push(tmp_path, "--dataset-dir", _dataset_dir(tmp_path)) == 1
    line = _assert_one_line(capsys, f"cannot reach the Hub at {dead_endpoint}")
    assert "reading model me/m" in line


@pytest.fixture
def echoing_hub(monkeypatch) -> Iterator[str]:
    """A server that answers every request with an error echoing its Authorization header."""

    class Echo(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            return

        def do_GET(self) -> None:
            message = f"bad request, you sent Authorization: {self.headers.get('Authorization')}"
            data = json.dumps({"error": message}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Error-Message", message)
            self.end_headers()
            self.wfile.write(data)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_POST(self) -> None:
            self.do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    _point_at(monkeypatch, url)
    yield url
    server.shutdown()
    server.server_close()


def test_a_server_echoing_the_token_never_gets_it_printed(tmp_path, capsys, echoing_hub):
    for extra in ([], ["--dataset-dir", _dataset_dir(tmp_path)]):
        assert _push(tmp_path, *extra) == 1
        line = _assert_one_line(capsys, echoing_hub)
        assert "Authorization" in line and REDACTED in line
    assert _push(tmp_path, debug=True) == 1  # --debug: a traceback, scrubbed too
    debug = capsys.readouterr().err
    assert "Traceback" in debug and TOKEN not in debug and REDACTED in debug
