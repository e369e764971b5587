"""A tiny Flask service. ``webapp --selftest`` answers one request in-process and exits."""

from __future__ import annotations

import sys

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def index() -> object:
    return jsonify(service="webapp", status="ok")


def main() -> int:
    if "--selftest" in sys.argv:
        response = app.test_client().get("/")
        print(f"GET / -> {response.status_code} {response.get_json()}")
        return 0 if response.status_code == 200 else 1
    app.run(host="127.0.0.1", port=8000)
    return 0
