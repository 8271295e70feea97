"""The stub server's own endpoints, seen through plain HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from modelclient import StubServer


def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def test_models_endpoint() -> None:
    with StubServer(models=["a", "b"]) as stub:
        with urllib.request.urlopen(stub.url + "/models", timeout=5) as response:
            ids = [m["id"] for m in json.loads(response.read())["data"]]
        assert ids == ["a", "b"]
        status, body = post(stub.url, {"model": "c", "messages": []})
        assert status == 404 and "does not exist" in body["error"]["message"]


def test_scripted_answers_and_callables() -> None:
    with StubServer(["one", {"two": 2}, lambda body: body["model"]]) as stub:
        answers = [
            post(stub.url, {"model": "m", "messages": [{"role": "user", "content": "x y"}]})
            for _ in range(4)
        ]
    contents = [body["choices"][0]["message"]["content"] for _, body in answers]
    assert contents == ["one", '{"two": 2}', "m", "Hello from the stub."]
    assert answers[0][1]["usage"]["prompt_tokens"] == 2


@pytest.mark.parametrize(
    ("kind", "status"), [("400", 400), ("500", 500), ("429", 429), ("empty_choices", 200)]
)
def test_failure_injection(kind: Any, status: int) -> None:
    with StubServer() as stub:
        stub.fail(kind)
        code, body = post(stub.url, {"model": "m", "messages": []})
        assert code == status
        if kind == "empty_choices":
            assert body["choices"] == []
        assert post(stub.url, {"model": "m", "messages": []})[0] == 200
