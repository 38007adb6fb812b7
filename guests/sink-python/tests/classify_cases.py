"""Prints how `classify.py` decides each case of the shared table given as the argument
(`sdk-guest/testdata/http_retry_cases.json`), as a JSON list of `{"outcome", "retry_after_ms"}`.
`sdk-guest/tests/python_classifier.rs` compares it with the table, so the Python sink cannot
drift from the SDK's retry policy. Outside the component: only `classify.py` is imported."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import classify  # noqa: E402

KINDS = {classify.RETRYABLE: "retryable", classify.INVALID: "invalid-data", classify.FATAL: "fatal"}


def main(path):
    with open(path, encoding="utf-8") as f:
        table = json.load(f)
    policy = table["policy"]
    if policy["max_retry_after_ms"] != classify.MAX_RETRY_AFTER_MS:
        sys.exit(f"the table caps Retry-After at {policy['max_retry_after_ms']} ms, classify.py at {classify.MAX_RETRY_AFTER_MS}")
    out = []
    for case in table["cases"]:
        headers = [(name, value.encode("latin-1")) for name, value in case.get("headers", [])]
        failure = classify.classify_response(
            "POST http://h/x",
            case["status"],
            headers,
            b"",
            tuple(policy["fatal_on_status"]),
            now=table["now_unix_s"],
        )
        if failure is None:
            out.append({"outcome": "delivered", "retry_after_ms": None})
        else:
            out.append({"outcome": KINDS[failure.kind], "retry_after_ms": failure.after_ms})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
