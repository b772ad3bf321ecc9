#!/usr/bin/env python3
"""Run the conformance cases of crates/asl/tests/cases/ against moto's Step Functions
interpreter (a second implementation), classify every place the two disagree, and write
the Markdown report docs/asl-vs-moto.md.

    python3 -m venv .venv && .venv/bin/pip install 'moto[server,stepfunctions]==5.2.5' boto3 \\
        jsonata-python==0.7.1   # optional: lets moto run JSONata and variables
    .venv/bin/python scripts/asl-compare-moto.py [--verbose] [--validation-only] [--no-report]

moto runs executions in-process when its config has
{"stepfunctions": {"execute_state_machine": true}}. It does not run JSONata or
variables, waits in real time, calls real (moto) services for Tasks and names some
errors differently from AWS. Cases whose Tasks need mocks (AWS Step Functions Local mock
files; moto has no equivalent: it would call moto's Lambda, which needs Docker) and
cases that would wait more than MAX_WAIT seconds are skipped and counted.

Every disagreement is printed as one line with its class:
  a  moto lacks a feature or a validation rule AWS has (the AWS rule is cited)
  b  moto names an error differently from AWS
  c  our expectation or our interpreter was wrong (fixed; listed for the record)
  d  unclear (says what would settle it)
  n  not an AWS rule: a documented limit of this interpreter (moto agrees with AWS)
  ?  not classified yet: add it to scripts/asl_moto_classes.py
Exit status: 0 always (this is a report, not a gate).
"""
import datetime
import glob
import io
import json
import logging
import os
import re
import sys
import time
import urllib.request

try:
    import boto3
    import moto
    from botocore.config import Config
    from moto.server import ThreadedMotoServer
except ImportError:  # pragma: no cover
    sys.exit("needs: pip install 'moto[server,stepfunctions]' boto3")

PORT = int(os.environ.get("MOTO_PORT", "5123"))
RANDOM_TRIES = 20  # runs of a case whose result is random
MAX_WAIT = 2.0  # seconds of real waiting a case may cost on moto

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
CASES = os.path.join(ROOT, "crates", "asl", "tests", "cases")
REPORT = os.path.join(ROOT, "docs", "asl-vs-moto.md")
ROLE = "arn:aws:iam::123456789012:role/StepFunctions"
VERBOSE = "--verbose" in sys.argv
# Only compare definition validation (CreateStateMachine), not executions.
VALIDATION_ONLY = "--validation-only" in sys.argv
WRITE_REPORT = "--no-report" not in sys.argv and not VALIDATION_ONLY
# By default moto's Wait states and retry back-offs return at once (a virtual clock, as
# the conformance suite uses); --real-time keeps moto's real sleeping and skips long Waits.
REAL_TIME = "--real-time" in sys.argv

sys.path.insert(0, HERE)
from asl_moto_classes import FIXED, classify  # noqa: E402  (scripts/asl_moto_classes.py)


def states_of(definition, nested=None):
    """Every state object of a definition, branches and processors included
    (nested=False: top level only; nested=True: only inside branches and processors)."""
    out = []
    stack = [(definition, False)]
    while stack:
        d, inner = stack.pop()
        if not isinstance(d, dict):
            continue
        for s in (d.get("States") or {}).values():
            if not isinstance(s, dict):
                continue
            if nested is None or nested == inner:
                out.append(s)
            stack.extend((b, True) for b in s.get("Branches") or [])
            for k in ("ItemProcessor", "Iterator"):
                if k in s:
                    stack.append((s[k], True))
    return out


def simple_path(doc, path):
    """Value of a plain `$.a.b` path in doc, or None."""
    if not isinstance(path, str) or not path.startswith("$."):
        return None
    for part in path[2:].split("."):
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def wait_seconds(case):
    """Upper bound of the real time moto would wait (Timestamps in the past cost nothing)."""
    if any(s.get("Type") == "Wait" and ("SecondsPath" in s or "TimestampPath" in s)
           for s in states_of(case["definition"], nested=True)):
        return float("inf")  # read from each item or branch: not estimated
    total = 0.0
    for s in states_of(case["definition"]):
        if s.get("Type") != "Wait":
            continue
        if "Seconds" in s:
            v = s["Seconds"]
            total += v if isinstance(v, (int, float)) else 0
        elif "SecondsPath" in s:
            v = simple_path(case.get("input", {}), s["SecondsPath"])
            total += v if isinstance(v, (int, float)) and not isinstance(v, bool) else 0
        elif "Timestamp" in s or "TimestampPath" in s:
            ts = s.get("Timestamp") or simple_path(case.get("input", {}), s["TimestampPath"])
            try:
                t = datetime.datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
                total += max(0.0, (t - datetime.datetime.now(datetime.timezone.utc)).total_seconds())
            except ValueError:
                pass
    return total


def backoff_seconds(case):
    """Upper bound of the real time moto's retry back-offs could take."""
    total = 0.0
    for s in states_of(case["definition"]):
        for r in s.get("Retry") or []:
            interval, rate = r.get("IntervalSeconds", 1), r.get("BackoffRate", 2.0)
            cap = r.get("MaxDelaySeconds", float("inf"))
            total += sum(min(interval * rate**k, cap) for k in range(r.get("MaxAttempts", 3)))
    return total


def timing_dependent(case):
    """True when the outcome depends on elapsed time (timeouts, heartbeats)."""
    text = json.dumps(case["definition"])
    return any(k in text for k in ('"TimeoutSeconds', '"HeartbeatSeconds'))


def skip_reason(case):
    if "invalid" in case["expect"]:
        return None
    if VALIDATION_ONLY:
        return "execution case (--validation-only)"
    sts = states_of(case["definition"])
    if any(s.get("Type") == "Task" for s in sts) and not case.get("mocks"):
        return "Task without mocks (a real service call on moto)"
    if case.get("mocks") and not MOCKS:
        return "Task with mocked responses (this moto cannot take mocks)"
    if any(".waitForTaskToken" in str(s.get("Resource", "")) for s in sts):
        return "task token (needs SendTaskSuccess from outside)"
    if "output" in case["expect"] and "EnteredTime" in json.dumps(case["definition"]):
        return "output holds a time read from the clock (virtual here, real on moto)"
    if REAL_TIME:
        if wait_seconds(case) + backoff_seconds(case) > MAX_WAIT:
            return f"Waits or retry back-offs over {MAX_WAIT:g} s (moto sleeps in real time; --real-time)"
    elif timing_dependent(case):
        return "outcome depends on elapsed time (TimeoutSeconds/HeartbeatSeconds) and moto's clock is fast-forwarded"
    return None


def decode_output(raw):
    """moto returns a string result unquoted (`yes`, not `"yes"`): accept both."""
    if raw is None:
        return None, False
    try:
        return json.loads(raw), False
    except json.JSONDecodeError:
        return raw, True


def run_case(sfn, case):
    """(problem or None, details) for one case on moto."""
    expect = case["expect"]
    try:
        sm = sfn.create_state_machine(name="case", definition=json.dumps(case["definition"]), roleArn=ROLE)
    except Exception as e:  # noqa: BLE001 - moto raises many kinds
        msg = str(e).split("CreateStateMachine operation: ")[-1]
        if "invalid" in expect:
            return None, {}
        return "refused", {"moto": f"refused the definition: {msg}"}
    arn = sm["stateMachineArn"]
    try:
        if "invalid" in expect:
            return "accepted", {"moto": "accepted the definition"}
        CURRENT_MOCK[0] = MOCKS(case["mocks"]) if case.get("mocks") else None
        ex = sfn.start_execution(stateMachineArn=arn, name="exec", input=json.dumps(case.get("input", {})))
        deadline = time.time() + 10 + (wait_seconds(case) if REAL_TIME else 0)
        while True:
            d = sfn.describe_execution(executionArn=ex["executionArn"])
            if d["status"] != "RUNNING" or time.time() > deadline:
                break
            time.sleep(0.02)
        got, unquoted = decode_output(d.get("output"))
        problems = []
        if "status" in expect and d["status"] != expect["status"]:
            problems.append("status")
        if "output" in expect and d["status"] == "SUCCEEDED" and got != expect["output"]:
            problems.append("output")
        if "error" in expect and d.get("error") != expect["error"]:
            problems.append("error")
        if "cause" in expect and d.get("cause") != expect["cause"]:
            problems.append("cause")
        if "cause_contains" in expect and expect["cause_contains"] not in (d.get("cause") or ""):
            problems.append("cause")
        if "history_contains" in expect:
            kinds = [e["type"] for e in sfn.get_execution_history(executionArn=ex["executionArn"], maxResults=1000)["events"]]
            at = 0
            for want in expect["history_contains"]:
                if want in kinds[at:]:
                    at = kinds.index(want, at) + 1
                else:
                    problems.append(f"history lacks {want}")
                    break
        if d["status"] == "SUCCEEDED":
            moto_said = f"SUCCEEDED {json.dumps(got)}" + (" (unquoted string)" if unquoted else "")
        else:
            moto_said = f"{d['status']} {d.get('error')}: {(d.get('cause') or '')[:160]}"
        return ("; ".join(problems) or None), {"moto": moto_said, "unquoted": unquoted}
    finally:
        sfn.delete_state_machine(stateMachineArn=arn)


def ours(case):
    e = case["expect"]
    if "invalid" in e:
        return f"refused ({e['invalid']})"
    if e.get("status") == "SUCCEEDED" and "output" in e:
        return f"SUCCEEDED {json.dumps(e['output'])}"
    parts = [e.get("status", "")]
    if "error" in e:
        parts.append(e["error"])
    if "history_contains" in e:
        parts.append("history " + ", ".join(e["history_contains"]))
    return " ".join(p for p in parts if p)


def md(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def write_report(rows, ran, agreed, skipped, unquoted, counts):
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    total = sum(len(json.load(open(f))["cases"]) for f in glob.glob(os.path.join(CASES, "*.json")))
    out = [
        "# crates/asl vs moto: conformance cases on a second implementation",
        "",
        f"Generated by `scripts/asl-compare-moto.py` on {now} with moto {moto.__version__}. "
        "Do not edit by hand: re-run the script.",
        "",
        f"- Conformance cases: {total}; run on moto: {ran}; agree: {agreed}; disagree: {len(rows)}.",
        "- Disagreements by class: "
        + ", ".join(f"**{k}** {counts.get(k, 0)}" for k in ("a", "b", "c", "d", "n", "?"))
        + f"; class c items found and fixed: {len(FIXED)} (below the table).",
        "  - **a**: moto lacks a feature or a validation rule that AWS documents;",
        "  - **b**: moto names an error differently from AWS;",
        "  - **c**: our expectation or our interpreter was wrong; fixed, so it is listed under the table"
        " (a row of class c would be a bug still open);",
        "  - **d**: unclear; the row says what would settle it;",
        "  - **n**: not an AWS rule but a documented limit of this interpreter (distributed Map is refused);",
        "  - **?**: not classified yet (add it to `scripts/asl_moto_classes.py`).",
        "- Skipped: " + (", ".join(f"{v} ({k})" for k, v in sorted(skipped.items())) or "none") + ".",
        "- How moto is run (moto 5.2.5 ships LocalStack's interpreter with three parts switched off;"
        " the script switches them back on in-process):",
        "  - Task mocks: moto carries LocalStack's support for AWS Step Functions Local mock files but"
        " never loads one; the script hands each case's mocks to the execution"
        + (" (done in this run)." if MOCKS else " (not possible with this moto: mock cases skipped)."),
        "    Tasks without mocks are skipped: on moto they would call moto's own services (Lambda needs Docker).",
        "  - Clock: " + ("moto slept in real time (--real-time); Waits longer than "
                         f"{MAX_WAIT:g} s in total were skipped." if REAL_TIME else
                         "moto's Wait states and retry back-offs return at once, as the conformance suite's"
                         " virtual clock does; cases whose outcome depends on elapsed time (TimeoutSeconds,"
                         " HeartbeatSeconds) or whose output holds a clock reading are skipped."),
        "  - JSONata: see below.",
        f"- moto returns a string result unquoted (`yes` instead of `\"yes\"`); the script accepts"
        f" that ({unquoted} cases) and compares the value.",
        "- JSONata and variables: moto 5.2.5's JSONata evaluator is a stub (variables go through it too). "
        + (f"This run plugged in {JSONATA} (a port of jsonata-java, which LocalStack, where moto's "
           "interpreter comes from, runs), so those cases were compared."
           if JSONATA else
           "jsonata-python was not installed, so every JSONata or variables case fails on moto "
           "(`pip install jsonata-python` to compare them)."),
        "- Where the two differ we follow AWS's documentation; the last column says which rule.",
        "",
        "| case file | case | ours | moto | class | why we follow AWS (or what would settle it) |",
        "|---|---|---|---|---|---|",
    ]
    for f, name, _problem, our, theirs, cls, why in rows:
        out.append(f"| {md(f)} | {md(name)} | {md(our)} | {md(theirs)} | {cls} | {md(why)} |")
    out += ["", "## Class c: found wrong on our side by this comparison, and fixed", ""]
    for f, name, what in FIXED:
        out.append(f"- {f} / {name}: {what}")
    out += [
        "",
        "## Not compared",
        "",
        "- Skipped cases (counted above): Tasks without mocks, task-token waits (they need"
        " SendTaskSuccess from outside), timing-dependent cases and clock readings.",
        "- `end_time_offset_seconds` (virtual clock): moto runs on the real clock, so only status,"
        " output, error, cause and history are compared.",
        "- Validation messages: only whether a definition is refused, not the wording.",
        "",
    ]
    with open(REPORT, "w") as fh:
        fh.write("\n".join(out))
    print(f"wrote {os.path.relpath(REPORT, ROOT)}")


def plug_jsonata():
    """moto 5.2.5 ships LocalStack's interpreter with its JSONata evaluator stubbed out
    (`_eval_jsonata = None`: every JSONata expression, and every variable reference, which
    moto also evaluates through JSONata, fails with "'NoneType' object is not callable").
    When jsonata-python (a pure-Python port of jsonata-java, the JSONata implementation
    LocalStack runs in a JVM) is importable, plug it in so those cases can be compared."""
    try:
        import jsonata  # jsonata-python
        from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
    except ImportError:
        return None

    def evaluate(expression):
        try:
            out = jsonata.Jsonata(expression).evaluate(None)
            # As LocalStack does: through JSON text, so undefined becomes null.
            return json.loads(json.dumps(out))
        except Exception as ex:  # noqa: BLE001 - as moto's JVM bridge does
            raise moto_jsonata.JSONataException("UNKNOWN", str(ex)) from ex

    moto_jsonata._eval_jsonata = evaluate
    try:
        from importlib.metadata import version

        return f"jsonata-python {version('jsonata-python')}"
    except Exception:  # noqa: BLE001
        return "jsonata-python"


CURRENT_MOCK = [None]  # the MockTestCase of the case being run (one at a time)


def plug_mocks():
    """moto 5.2.5 carries LocalStack's support for AWS Step Functions Local mock files
    (moto/stepfunctions/parser/mocking) but never loads a file (`raw_mock_config = None`)
    nor hands a test case to the execution. Hand it the case's mocks directly."""
    try:
        from moto.stepfunctions.parser.backend import execution_worker as ew
        from moto.stepfunctions.parser.mocking import mock_config as mc
    except ImportError:
        return None
    original = ew.ExecutionWorker.__init__

    def init(self, *args, mock_test_case=None, **kwargs):
        original(self, *args, mock_test_case=mock_test_case or CURRENT_MOCK[0], **kwargs)

    ew.ExecutionWorker.__init__ = init

    def build(mocks):
        per_state = []
        for state, responses in mocks.items():
            rs = []
            for rng, r in responses.items():
                start, end = mc._parse_mocked_response_range(rng)
                if "Return" in r:
                    rs.append(mc.MockedResponseReturn(start, end, r["Return"]))
                else:
                    t = r.get("Throw") or {}
                    rs.append(mc.MockedResponseThrow(start, end, t.get("Error"), t.get("Cause")))
            per_state.append(mc.StateMockedResponses(state, f"{state}Mock", rs))
        return mc.MockTestCase("case", "t", per_state)

    return build


def fast_forward():
    """Make moto's Wait states and retry back-offs return at once."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    wait_function.WaitFunction._wait_interval = lambda self, env, wait_seconds: None
    retrier_decl.time = type("NoSleep", (), {"sleep": staticmethod(lambda s: None), "time": time.time})


def quiet():
    # moto's server logs every request (werkzeug) and every interpreter exception, and
    # its ANTLR parsers print syntax errors straight to stderr.
    logging.disable(logging.CRITICAL)
    sys.stderr = io.StringIO()


JSONATA = None
MOCKS = None


def main():
    global JSONATA, MOCKS
    quiet()
    JSONATA = plug_jsonata()
    MOCKS = plug_mocks()
    if not REAL_TIME:
        fast_forward()
    files = sorted(glob.glob(os.path.join(CASES, "*.json")))
    ran = agreed = unquoted = 0
    skipped = {}
    rows = []
    counts = {}
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
        for f in files:
            base = os.path.basename(f)
            for case in json.load(open(f))["cases"]:
                why = skip_reason(case)
                if why:
                    skipped[why] = skipped.get(why, 0) + 1
                    continue
                ran += 1
                # Random results (States.MathRandom, $random) are drawn several times.
                tries = RANDOM_TRIES if "Random" in json.dumps(case["definition"]) else 1
                for _ in range(tries):
                    try:
                        problem, det = run_case(sfn, case)
                    except Exception as e:  # noqa: BLE001
                        problem, det = "moto error", {"moto": f"moto raised {type(e).__name__}: {str(e)[:160]}"}
                    if problem:
                        break
                unquoted += bool(det.get("unquoted"))
                if not problem:
                    agreed += 1
                    continue
                cls, reason = classify(base, case["name"], case, det["moto"]) or ("?", "")
                counts[cls] = counts.get(cls, 0) + 1
                rows.append((base, case["name"], problem, ours(case), det["moto"], cls, reason))
                line = f"[{cls}] {base} / {case['name']}: {problem}: ours {ours(case)} | moto {det['moto']}"
                print(line if VERBOSE else line[:240], flush=True)
    finally:
        server.stop()
        sys.stderr = sys.__stderr__
    print(
        f"moto {moto.__version__} (JSONata: {JSONATA or 'stub'}): {ran} cases run, {agreed} agree, {len(rows)} disagree "
        f"({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))}); skipped: {skipped}"
    )
    if WRITE_REPORT:
        write_report(rows, ran, agreed, skipped, unquoted, counts)


if __name__ == "__main__":
    main()
