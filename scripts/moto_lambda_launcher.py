#!/usr/bin/env python3
"""moto's server, with its Step Functions interpreter's Lambda calls sent to `cargo lambda watch`.

    .venv/bin/python scripts/moto_lambda_launcher.py PORT_FILE LAMBDA_URL

Serves moto (pinned in scripts/requirements-test.txt) on a free loopback port and
writes that port to PORT_FILE once it listens (written whole: a reader never sees a
partial number). moto runs executions itself once `POST /moto-api/config`
`{"stepfunctions": {"execute_state_machine": true}}` is sent (scripts/moto-e2e does).

moto's interpreter (LocalStack's) gets every Lambda client it invokes through
`boto_client_for` in `lambda_eval_utils`; moto's own Lambda would need Docker. This
replaces that one name, so both a `"Resource": "<function ARN>"` Task and
`arn:aws:states:::lambda:invoke[.waitForTaskToken]` call LAMBDA_URL
(`cargo lambda watch`'s Invoke endpoint, `/2015-03-31/functions/<name>/invocations`)
with the function's name: the last part of `arn:aws:lambda:<region>:<account>:function:<name>`,
which scripts/moto-e2e makes the `functions/<name>` package's binary.

Requests are served one at a time, as scripts/test does: moto's DynamoDB takes no
lock, and real DynamoDB applies each conditional write atomically. Executions run in
moto's own threads, outside that lock, so a function called by an execution can
use DynamoDB, Secrets Manager and SES here while the execution waits for it.
"""
import io
import json
import os
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request


def function_name(name_or_arn):
    """`arn:aws:lambda:us-east-1:123456789012:function:validate[:qualifier]` -> `validate`."""
    parts = str(name_or_arn).split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[5] == "function":
        return parts[6]
    return str(name_or_arn)


class WatchLambda:
    """The one Lambda operation the interpreter uses, sent to `cargo lambda watch`.

    Lambda's Invoke answers 200 for a function error, with the header
    `X-Amz-Function-Error: Unhandled` and the function's `{"errorType", "errorMessage"}`
    as the payload; moto's interpreter reads the error name from that payload.
    `cargo lambda watch` answers 500 with the same body and no header, which boto3
    would turn into a client exception (and moto into States.TaskFailed, losing the
    step's error name). So the request is made here, and a 500 whose body carries
    an errorType is given back the way Lambda gives it.
    """

    def __init__(self, lambda_url, timeout):
        self._url = lambda_url.rstrip("/")
        self._timeout = timeout

    def invoke(self, FunctionName, Payload=None, **_ignored):
        name = function_name(FunctionName)
        url = f"{self._url}/2015-03-31/functions/{urllib.parse.quote(name, safe='')}/invocations"
        if isinstance(Payload, str):
            Payload = Payload.encode()
        request = urllib.request.Request(
            url,
            data=Payload or b"{}",
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return self._answer(response.status, response.read())
        except urllib.error.HTTPError as e:
            body = e.read()
            if e.code == 500 and _error_type(body):
                return self._answer(200, body, function_error="Unhandled")
            raise RuntimeError(
                f"cargo lambda watch answered {e.code} for function `{name}`: "
                f"{body[:500].decode('utf-8', 'replace')}"
            ) from None

    @staticmethod
    def _answer(status, body, function_error=None):
        answer = {"StatusCode": status, "ExecutedVersion": "$LATEST", "Payload": io.BytesIO(body)}
        if function_error:
            answer["FunctionError"] = function_error
        return answer

    def __getattr__(self, name):
        raise AttributeError(
            f"moto-e2e: the interpreter asked the Lambda client for `{name}`; "
            "only `invoke` is routed to cargo lambda watch"
        )


def _error_type(body):
    try:
        return isinstance(json.loads(body), dict) and "errorType" in json.loads(body)
    except ValueError:
        return False


def patch_lambda(lambda_url):
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
        lambda_eval_utils,
    )

    original = lambda_eval_utils.boto_client_for
    # A step talks to several services; Step Functions waits as long as the
    # function's timeout (60 s in template.yaml), and so does this.
    watch = WatchLambda(lambda_url, timeout=60)

    def boto_client_for(region, service, state_credentials=None):
        if service != "lambda":
            return original(region=region, service=service, state_credentials=state_credentials)
        return watch

    lambda_eval_utils.boto_client_for = boto_client_for


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    port_file, lambda_url = sys.argv[1], sys.argv[2]

    from werkzeug.serving import make_server
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    patch_lambda(lambda_url)
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    server = make_server(
        "127.0.0.1", 0, serialized, threaded=True, request_handler=MotoRequestHandler
    )
    # moto's interpreter reaches moto's other services through MOTO_PORT; it is read
    # at each call, so setting it after binding port 0 is in time.
    os.environ["MOTO_PORT"] = str(server.server_port)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_port))
    os.rename(tmp, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
