#!/usr/bin/env python3
"""Run the conformance cases of crates/asl/tests/cases/ against moto's Step Functions
interpreter (a second implementation) and list where moto disagrees with the expected
results written from AWS's documentation.

    pip install 'moto[server,stepfunctions]' boto3   # moto >= 5
    python3 scripts/asl-compare-moto.py [--verbose] [--validation-only]

moto runs executions in-process when its config has
{"stepfunctions": {"execute_state_machine": true}}. It does not run JSONata or
variables, waits in real time, calls real (moto) services for Tasks and names some
errors differently from AWS, so cases with Tasks (mocks), long waits or
validation-only expectations are skipped or reported separately. Exit status: 0 always
(this is a report, not a gate).
"""
import glob
import json
import os
import sys
import time

import urllib.request

try:
    import boto3
    from botocore.config import Config
    from moto.server import ThreadedMotoServer
except ImportError:  # pragma: no cover
    sys.exit("needs: pip install 'moto[server,stepfunctions]' boto3")

PORT = int(os.environ.get("MOTO_PORT", "5123"))

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "..", "crates", "asl", "tests", "cases")
ROLE = "arn:aws:iam::123456789012:role/StepFunctions"
VERBOSE = "--verbose" in sys.argv
# Only compare definition validation (CreateStateMachine), not executions.
VALIDATION_ONLY = "--validation-only" in sys.argv


def states_of(definition):
    """Every state object of a definition, branches and processors included."""
    out = []
    stack = [definition]
    while stack:
        d = stack.pop()
        if not isinstance(d, dict):
            continue
        for s in (d.get("States") or {}).values():
            if not isinstance(s, dict):
                continue
            out.append(s)
            stack.extend(s.get("Branches") or [])
            for k in ("ItemProcessor", "Iterator"):
                if k in s:
                    stack.append(s[k])
    return out


def skip_reason(case):
    if "invalid" in case["expect"]:
        return None
    if VALIDATION_ONLY:
        return "execution case (--validation-only)"
    if case.get("mocks"):
        return "uses Task mocks"
    sts = states_of(case["definition"])
    if any(s.get("Type") == "Task" for s in sts):
        return "has a Task"
    if any(s.get("Type") == "Wait" for s in sts):
        return "has a Wait (moto waits in real time)"
    if isinstance(case["definition"], dict) and "TimeoutSeconds" in case["definition"]:
        return "execution timeout"
    return None


def run_case(sfn, case, n):
    name = f"case{n}"
    expect = case["expect"]
    try:
        sm = sfn.create_state_machine(name=name, definition=json.dumps(case["definition"]), roleArn=ROLE)
    except Exception as e:  # noqa: BLE001 - moto raises many kinds
        if "invalid" in expect:
            return None
        return f"moto refused the definition: {e}"
    if "invalid" in expect:
        return f"moto accepted a definition the case expects refused ({expect['invalid']!r})"
    ex = sfn.start_execution(stateMachineArn=sm["stateMachineArn"], input=json.dumps(case.get("input", {})))
    deadline = time.time() + 10
    while True:
        d = sfn.describe_execution(executionArn=ex["executionArn"])
        if d["status"] != "RUNNING" or time.time() > deadline:
            break
        time.sleep(0.05)
    problems = []
    if "status" in expect and d["status"] != expect["status"]:
        problems.append(f"status {d['status']} (expected {expect['status']}; error {d.get('error')!r})")
    if "output" in expect and d["status"] == "SUCCEEDED":
        got = json.loads(d.get("output", "null"))
        if got != expect["output"]:
            problems.append(f"output {json.dumps(got)} (expected {json.dumps(expect['output'])})")
    if "error" in expect and d.get("error") != expect["error"]:
        problems.append(f"error {d.get('error')!r} (expected {expect['error']!r})")
    return "; ".join(problems) or None


def main():
    files = sorted(glob.glob(os.path.join(CASES, "*.json")))
    ran = agreed = 0
    skipped = {}
    disagreements = []
    server = ThreadedMotoServer(port=PORT, verbose=False)
    server.start()
    try:
        req = urllib.request.Request(
            f"http://127.0.0.1:{PORT}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            method="POST",
        )
        urllib.request.urlopen(req).read()
        sfn = boto3.client(
            "stepfunctions", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{PORT}",
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )
        n = 0
        for f in files:
            for case in json.load(open(f))["cases"]:
                n += 1
                why = skip_reason(case)
                if why:
                    skipped[why] = skipped.get(why, 0) + 1
                    continue
                ran += 1
                try:
                    problem = run_case(sfn, case, n)
                except Exception as e:  # noqa: BLE001
                    problem = f"moto raised {type(e).__name__}: {e}"
                if problem:
                    disagreements.append((os.path.basename(f), case["name"], problem))
                    print(f"  {os.path.basename(f)} / {case['name']}: {problem if VERBOSE else problem[:300]}", flush=True)
                else:
                    agreed += 1
    finally:
        server.stop()
    print(f"moto comparison: {ran} cases run, {agreed} agree, {len(disagreements)} disagree; skipped: {skipped}")


if __name__ == "__main__":
    main()
