#!/usr/bin/env python3
"""Run the conformance cases of crates/asl/tests/cases/ against moto's Step Functions
interpreter (a second implementation), classify every place the two disagree, and write
the Markdown report docs/asl-vs-moto.md.

    python3 -m venv .venv && .venv/bin/pip install 'moto[server,stepfunctions]==5.2.5' boto3 \\
        jsonata-python==0.7.1   # optional: lets moto run JSONata and variables
    .venv/bin/python scripts/asl-compare-moto.py [--verbose] [--validation-only] [--no-report] [--real-time]

moto runs executions in-process when its config has
{"stepfunctions": {"execute_state_machine": true}}. Its interpreter is LocalStack's with
three parts switched off, which this script switches back on in-process: the mock-file
support (each case's mocks are handed to the execution), the JSONata evaluator (when
jsonata-python is installed; moto's variables go through it too) and, unless
--real-time, the clock (Waits and retry back-offs return at once, like the suite's
virtual clock). Skipped and counted: Tasks without mocks (moto would call its own
services), task-token waits, cases whose outcome depends on elapsed time or whose output
holds a clock reading (with --real-time: waits or back-offs over MAX_WAIT seconds).

Every disagreement is printed as one line with its class:
  a  moto lacks a feature or a validation rule AWS has (the AWS rule is cited)
  b  moto names an error differently from AWS
  c  our expectation or our interpreter was wrong (fixed; listed for the record)
  d  unclear (says what would settle it)
  n  not an AWS rule: a documented limit of this interpreter (moto agrees with AWS)
  ?  not classified yet: add it to CLASSES in this script
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



# ---------------------------------------------------------------------------------------
# Classification of every disagreement: CLASSES maps (case file, case name) to
# (class, why we follow AWS); classify_by_rule covers whole families (JSONata, variables
# on a moto whose JSONata evaluator is the stub). Classes: a = moto lacks a feature or
# validation AWS has; b = moto names an error differently; c = our expectation or
# interpreter was wrong (fixed: listed in FIXED, since the corrected case no longer
# disagrees for that reason); d = unclear; n = not an AWS rule but a documented limit of
# this interpreter (moto agrees with AWS there).
# ---------------------------------------------------------------------------------------

V = "10-validation.json"
I = "02-intrinsic-functions.json"
C = "03-choice.json"
VAR = "13-variables.json"
JA = "14-jsonata.json"

# Class c: what the comparison found wrong on our side, and the commit that fixed it.
FIXED = [
    ("02-intrinsic-functions.json", "math_add_non_integer_fails",
     "The case expected States.MathAdd(1.5, 1) to fail with States.Runtime. AWS's States.MathAdd and "
     "States.MathRandom docs say a non-integer argument 'will round it off to the nearest integer' "
     "(moto's source quotes the same sentence). The interpreter now rounds (halves up, like Java's "
     "Math.round, which moto also copies); the case is replaced by math_add_rounds_non_integers_to_the_"
     "nearest_integer, math_add_rounds_non_integer_path_values, math_add_non_number_fails and "
     "math_random_rounds_non_integer_bounds."),
    ("14-jsonata.json", "undefined_object_members_are_dropped",
     "The case expected an Output object member whose JSONata expression is undefined to be dropped. "
     "moto (with JSONata plugged in) fails the state with States.QueryEvaluationError, and so does AWS: "
     "a real execution's cause reads \"The JSONata expression '$states.input.pushLocation' specified for "
     "the field 'Arguments/Input/pushLocation' returned nothing (undefined).\" The interpreter now fails "
     "any undefined field, member or array item with that cause (field named 'Output/a/b[1]'); the case "
     "is replaced by an_undefined_object_member_is_a_query_evaluation_error, "
     "an_undefined_nested_array_item_is_a_query_evaluation_error, "
     "an_undefined_assign_value_is_a_query_evaluation_error and "
     "undefined_inside_one_expression_is_dropped_by_jsonata (JSONata's own serialisation)."),
]

_SCHEMA = "moto's parser does not run AWS's static checks (ValidateStateMachineDefinition / CreateStateMachine refuse it): "

CLASSES = {
    # --- paths / ResultPath
    ("01-input-output.json", "result_path_on_a_non_object_input_fails"): (
        "b", "AWS's error table: States.ResultPathMatchFailure is raised when a ResultPath cannot be applied "
        "to the state's input; moto crashes in Python (TypeError) and reports States.Runtime."),
    ("01-input-output.json", "result_path_on_an_array_input_fails"): (
        "b", "Same rule: States.ResultPathMatchFailure (AWS error names); moto reports States.Runtime from a TypeError."),
    # --- intrinsics
    (I, "format_escaped_braces"): (
        "a", "AWS 'Reserved characters in intrinsic functions': ' { } \\ must be escaped with \\ ; moto's "
        "States.Format crashes on \\{ (KeyError)."),
    (I, "format_escaped_quote"): (
        "a", "Same rule: \\' is a literal quote inside a string argument; moto's lexer cuts the string at the backslash."),
    (I, "array_doc_example"): (
        "a", "AWS's States.Array example: States.Array('Foo', 2020, $.someJson, null) returns "
        "[\"Foo\", 2020, {\"random\": \"abcdefg\"}, null]; moto drops the null."),
    (I, "array_range_descending"): (
        "a", "AWS States.ArrayRange input validation: integer arguments and 'a non-zero value for the third "
        "argument' (negative steps allowed); moto refuses negative steps."),
    (I, "array_unique_keeps_first_order"): (
        "a", "AWS States.ArrayUnique 'removes duplicate values from an array' (any JSON values); moto crashes "
        "hashing an object (TypeError: unhashable type: 'dict')."),
    (I, "base64_decode_invalid_fails"): (
        "d", "AWS's docs only limit Base64Decode's input to 10,000 characters; they do not say what invalid "
        "Base64 does. We fail with States.Runtime like every other bad intrinsic argument; moto returns \"\". "
        "Settle: run States.Base64Decode('***') on AWS."),
    (I, "math_add_rounds_non_integers_to_the_nearest_integer"): (
        "a", "AWS States.MathAdd: 'If you specify a non-integer value for one or both the arguments, Step "
        "Functions will round it off to the nearest integer'; moto's intrinsic parser crashes on a float "
        "literal (AttributeError 'Func_arg_floatContext'). Our old case expected a failure: that was class c, fixed."),
    (I, "math_random_rounds_non_integer_bounds"): (
        "a", "AWS States.MathRandom: a non-integer start or end 'will round it off to the nearest integer'; "
        "moto truncates (int()), so (0.6, 1.6) becomes (0, 1) and it can return 0. New case after the class c fix."),
    (I, "math_random_is_within_start_inclusive_end_exclusive"): (
        "a", "AWS States.MathRandom returns a number between the start (inclusive) and the end "
        "(exclusive); moto uses Python's randint, which includes the end (the script runs random "
        "cases 20 times so that this shows up reliably)."),
    # --- Retry/Catch
    ("06-retry-catch.json", "catch_all_does_not_catch_states_runtime"): (
        "a", "AWS error names: 'A retry or catch on States.ALL won't catch States.Runtime errors' (and "
        "States.DataLimitExceeded is terminal too); moto's States.ALL catches States.Runtime."),
    ("06-retry-catch.json", "catch_result_path_match_failure_can_be_caught"): (
        "b", "AWS names a ResultPath that cannot be applied States.ResultPathMatchFailure, which a catcher "
        "can match; moto crashes in Python and reports States.Runtime, so the catcher does not match."),
    # --- mocks (AWS Step Functions Local mock files, handed to moto's dormant mock support)
    ("11-task-and-mocks.json", "plain_lambda_arn_resource"): (
        "a", "A plain Lambda function ARN is a valid Task resource whose result is the function's return "
        "value (any JSON, here a string); moto's mocked Lambda path expects an object and crashes "
        "('str' object has no attribute 'get')."),
    ("11-task-and-mocks.json", "mock_ranges_cover_later_invocations"): (
        "a", "AWS's mock-file docs key responses by number and range (\"0\", \"1-2\", \"3\" in their "
        "MockedLambdaRetry example); moto ignores the keys and indexes the list of responses by the "
        "state's RetryCount, so ranges collapse and every Map iteration gets the first response. We "
        "take the response whose key covers the state's n-th invocation. (Whether Step Functions Local "
        "counts Map iterations as invocations is settled only by running it; see the d rows.)"),
    ("11-task-and-mocks.json", "more_invocations_than_mocked_responses_fail"): (
        "d", "More invocations than mocked responses: we fail the Task with States.TaskFailed (catchable, "
        "as a service error would be); moto fails the execution with States.Runtime. The mock-file docs "
        "do not say. Settle: run the case in Step Functions Local."),
    ("08-map.json", "tasks_inside_iterations_use_mocks_in_invocation_order"): (
        "d", "Which counter a mocked response key refers to when a state runs again without a retry of its "
        "own (Map iterations): we count every invocation of the state; moto uses the state's RetryCount "
        "(always 0 here). The mock-file docs only show retries. Settle: run it in Step Functions Local."),
    ("12-combined-workflows.json", "retry_inside_a_map_iteration"): (
        "d", "Same question: mocked responses across Map iterations (invocation count vs RetryCount)."),
    ("07-parallel.json", "a_failing_branch_can_be_retried"): (
        "d", "Same question for a Task re-run because its Parallel is retried: we count the invocation "
        "(response \"1\"), moto uses the Task's own RetryCount (0) and throws again."),
    ("12-combined-workflows.json", "retry_of_a_parallel_reruns_every_branch"): (
        "d", "Same question as a_failing_branch_can_be_retried."),
    # --- variables
    (VAR, "task_assign_dollar_is_the_result_after_result_selector"): (
        "d", "In a JSONPath Task's Assign, we read $ as the result after ResultSelector; moto reads the raw "
        "result (so $.id is missing). AWS's variables page lists ResultSelector before Assign in the "
        "JSONPath evaluation order but has no example with both. Settle: one execution on AWS."),
    # --- Choice
    (C, "string_matches_escaped_star_is_literal"): (
        "a", "AWS StringMatches: a literal * is written \\* (and \\ as \\\\); moto uses Python fnmatch, "
        "which has no backslash escape."),
    (C, "timestamp_equals_across_offsets"): (
        "a", "AWS: timestamps follow the RFC 3339 profile of ISO 8601 (numeric offsets allowed, 'Z' when there "
        "is none) and compare as instants; moto only parses YYYY-MM-DDTHH:MM:SSZ, and its own source says "
        "the timestamp operators are not fully supported."),
    (C, "timestamp_greater_than_equals_with_fraction"): (
        "a", "Same rule: RFC 3339 allows fractional seconds; moto's strptime format has none, so the "
        "comparison is false."),
    (C, "timestamp_lowercase_t_is_not_a_timestamp"): (
        "a", "AWS: 'an uppercase T must separate the date and the time'; moto's strptime matches 'T' "
        "case-insensitively and accepts a lowercase t."),
    (C, "no_match_without_default_fails"): (
        "b", "AWS Choice state: with no matching rule and no Default the execution fails with "
        "States.NoChoiceMatched; moto raises a Python RuntimeError reported as States.Runtime."),
    (C, "missing_variable_is_a_runtime_error"): (
        "a", "AWS fails a Choice whose Variable path matches nothing with States.Runtime ('Invalid path ... "
        "The choice state's condition path references an invalid value'; IsPresent is the documented way to "
        "test for a field); moto treats the rule as false and takes Default."),
    # --- Wait
    ("04-wait.json", "timestamp_with_offset"): (
        "a", "AWS Wait: Timestamp is an ISO-8601 extended offset date-time (RFC 3339; a numeric offset is "
        "allowed, 'Z' denotes its absence); moto's pattern only accepts ...Z and refuses the definition."),
    # --- Map
    ("08-map.json", "items_path_not_an_array_fails"): (
        "d", "AWS documents that ItemsPath must resolve to a JSON array but not the error name when it does "
        "not. We report States.Runtime (as for other path failures in JSONPath states); moto reports "
        "States.QueryEvaluationError for both query languages (its source has a TODO there). Settle: run the "
        "case on AWS and copy the error name."),
    ("08-map.json", "tolerated_failure_count_lets_the_map_succeed"): (
        "d", "AWS documents ToleratedFailureCount/Percentage in the Distributed Map fields; the issue asks "
        "for them on inline Map too, which AWS's docs neither allow nor forbid. moto parses the count on an "
        "inline Map but ignores it. Settle: ValidateStateMachineDefinition + one execution on AWS."),
    ("08-map.json", "exceeding_tolerated_failures_fails_with_threshold_error"): (
        "d", "Same question (tolerated failures on an inline Map). When the threshold is exceeded AWS names "
        "the error States.ExceedToleratedFailureThreshold (AWS error table); moto ignores the field and "
        "fails with the item's error."),
    ("08-map.json", "tolerated_failure_percentage"): (
        "d", "Same question; moto's grammar also refuses an integer ToleratedFailurePercentage "
        "(AWS: a number from 0 to 100)."),
    ("08-map.json", "tolerated_failure_percentage_exceeded"): (
        "d", "Same question as tolerated_failure_percentage."),
    # --- context object
    ("09-context-object.json", "execution_start_time"): (
        "a", "AWS context object: $$.Execution.StartTime is an ISO 8601 string; moto puts a Python datetime "
        "into the output and DescribeExecution fails with HTTP 500."),
    ("09-context-object.json", "whole_context_object_has_its_sections"): (
        "a", "Same moto defect: the whole $$ holds the StartTime datetime, DescribeExecution fails with HTTP 500."),
    ("09-context-object.json", "state_retry_count_starts_at_zero"): (
        "a", "AWS context object: $$.State.RetryCount is documented (0 before any retry); moto's context "
        "object has no RetryCount."),
    # --- JSONata processor level
    (JA, "an_item_processor_may_set_jsonata_for_its_states"): (
        "d", "AWS documents QueryLanguage at the top level and on states; whether an ItemProcessor (or a "
        "branch) may carry its own QueryLanguage is not documented. moto's grammar refuses it on an "
        "ItemProcessor. Settle: ValidateStateMachineDefinition on AWS."),
    # --- variables and JSONata, compared when jsonata-python is plugged into moto
    (VAR, "choice_rule_assign_applies_when_the_rule_matches"): (
        "a", "AWS variables: a matching Choice rule's Assign applies; the state's top-level Assign is for "
        "when no rule matches (Default). moto agrees in principle but decides 'Default was taken' by "
        "comparing state names, so a rule whose Next equals Default also runs the top-level Assign "
        "(and loses the rule's $seen). LocalStack, where moto's interpreter comes from, later added an "
        "AWS-validated test for exactly this shape (test_assign_in_choice_shared_next)."),
    (VAR, "branch_assignments_do_not_flow_out"): (
        "d", "Both keep a branch's assignment inside the branch (AWS: variables of Parallel branches and Map "
        "iterations do not flow out). They differ on reading a name that is not assigned: we fail with "
        "States.Runtime naming $y, moto reads null (its JSONata sampling turns it into undefined, then "
        "null). AWS documents neither; it may refuse such a definition at validation (not implemented "
        "here, see NOTES). Settle: ValidateStateMachineDefinition and one execution on AWS."),
    (VAR, "an_unassigned_variable_is_a_runtime_error"): (
        "d", "Same question as branch_assignments_do_not_flow_out: reading a never-assigned $nope fails here "
        "(States.Runtime), is null on moto; AWS's behaviour is not documented."),
    (JA, "choice_no_match_without_default_fails"): (
        "b", "AWS Choice state: no match and no Default is States.NoChoiceMatched; moto raises a Python "
        "RuntimeError reported as States.Runtime (as in JSONPath)."),
    (JA, "choice_condition_must_be_boolean"): (
        "b", "AWS JSONata: a value of the wrong type for a field (a Condition that is not a boolean) is "
        "States.QueryEvaluationError; moto raises a Python RuntimeError reported as States.Runtime."),
    (JA, "wait_seconds_expression_must_be_a_non_negative_integer"): (
        "b", "AWS JSONata: Seconds must evaluate to a non-negative integer, else States.QueryEvaluationError; "
        "moto's int('soon') raises a Python ValueError reported as States.Runtime."),
    (JA, "aws_added_functions"): (
        "a", "AWS adds $partition, $range, $hash, $random, $uuid and $parse to JSONata; moto's $hash is a "
        "stub returning 'Function $hash is currently not supported', and its $uuid() is not a 36-character "
        "v4 UUID."),
    **{(JA, n): ("a", "Same error as AWS (States.QueryEvaluationError). AWS's cause names where the undefined "
                 "expression is written, e.g. \"The JSONata expression '$states.input.pushLocation' "
                 "specified for the field 'Arguments/Input/pushLocation' returned nothing (undefined).\" "
                 "(a real AWS execution's cause); moto's cause leaves the field out (LocalStack's source has a "
                 "TODO there), so the case's cause_contains does not match.")
       for n in ("an_undefined_object_member_is_a_query_evaluation_error",
                 "an_undefined_nested_array_item_is_a_query_evaluation_error",
                 "an_undefined_assign_value_is_a_query_evaluation_error")},
    (JA, "a_branch_may_set_jsonata_for_its_states"): (
        "d", "Two things: moto does not run JSONata at all (class a), and, as for the ItemProcessor case, "
        "AWS does not document whether a Parallel branch may carry its own QueryLanguage. "
        "Settle: ValidateStateMachineDefinition on AWS."),
}

# --- validation refusals: AWS's validator refuses, moto's parser accepts.
for name, rule in {
    "start_at_must_name_a_state": "StartAt must name a state (MISSING_TRANSITION_TARGET)",
    "next_must_name_a_state": "Next must name a state in the same scope (MISSING_TRANSITION_TARGET)",
    "unreachable_states_are_refused": "every state must be reachable from StartAt (UNREACHABLE_STATE)",
    "no_terminal_state": "a machine needs a terminal state (NO_TERMINAL_STATE)",
    "neither_next_nor_end": "a non-terminal state must have Next or End: true",
    "unknown_field_is_refused": "fields not listed for a state type are refused (Retry on Pass; SCHEMA_VALIDATION_FAILED)",
    "fail_may_not_have_input_path": "Fail states take only Type, Comment, Error(Path), Cause(Path)",
    "timeout_seconds_must_be_positive": "TimeoutSeconds must be a positive integer",
    "choice_needs_choices": "a Choice state must have a non-empty Choices array",
    "choice_rule_needs_next": "every top-level Choice rule must have Next",
    "nested_rule_may_not_have_next": "rules nested in And/Or/Not may not have Next",
    "operand_of_the_wrong_type": "a comparison operand must have the operator's type (NumericEquals takes a number)",
    "timestamp_operand_must_be_a_timestamp": "Timestamp* operands must be RFC 3339 timestamps",
    "choice_default_must_name_a_state": "Default must name a state",
    "states_all_retrier_must_be_last": "States.ALL must appear alone and in the last retrier",
    "states_all_catcher_must_be_last": "States.ALL must appear alone and in the last catcher",
    "catch_next_must_name_a_state": "a catcher's Next must name a state",
    "parameters_path_value_must_be_a_path": "a key ending in .$ must hold a path or an intrinsic function",
    "parameters_path_value_must_be_a_string": "a key ending in .$ must hold a string",
    "invalid_input_path": "InputPath must be a valid JSONPath",
    "result_path_must_be_a_reference_path": "ResultPath must be a Reference Path (no filters or wildcards)",
    "distributed_map_is_refused_clearly": "not an AWS rule: this interpreter refuses distributed Map (the issue allows it); moto accepts it",
    "item_reader_is_refused_clearly": "not an AWS rule: ItemReader means distributed Map, which this interpreter refuses (the issue allows it)",
    "map_item_selector_and_parameters_are_exclusive": "ItemSelector replaces the deprecated Parameters; both together are refused",
    "map_processor_graph_is_validated": "the ItemProcessor's states are validated like a machine's",
    "parallel_branch_graph_is_validated": "each branch is validated like a machine (StartAt must exist)",
    "branch_may_not_jump_outside": "a state in a branch may only transition inside that branch",
    "jsonata_state_refuses_jsonpath_fields_clearly": "JSONPath-only fields (InputPath, Parameters, ...) are refused in a JSONata state",
    "assign_on_succeed_is_refused_naming_the_field": "Succeed and Fail states may not have Assign",
    "state_names_longer_than_80_characters": "state names are 1 to 80 characters",
    "top_level_timeout_must_be_positive": "the machine's TimeoutSeconds must be a positive integer",
}.items():
    if rule.startswith("not an AWS rule"):
        CLASSES[(V, name)] = ("n", rule + " AWS and moto accept the definition.")
    else:
        CLASSES[(V, name)] = ("a", _SCHEMA + rule + ".")

for name, rule in {
    "assign_on_succeed_is_refused": "Assign is not allowed on Succeed states",
    "assign_on_fail_is_refused": "Assign is not allowed on Fail states",
    "variable_names_must_be_identifiers": "a variable name starts with a letter or _",
    "variable_name_states_is_reserved": "the name 'states' is reserved",
    "assign_path_values_must_be_paths": "an Assign key ending in .$ must hold a path or an intrinsic",
    "nested_choice_rules_may_not_assign": "only top-level Choice rules may Assign",
    "a_branch_may_not_assign_an_outer_variable": "a Parallel branch may not assign a variable of an enclosing scope",
    "a_map_iteration_may_not_assign_an_outer_variable": "a Map iteration may not assign a variable of an enclosing scope",
}.items():
    CLASSES[(VAR, name)] = ("a", _SCHEMA + "AWS's variables rules: " + rule + " (moto does not implement variables).")

for name, rule in {
    "jsonpath_field_inputpath_is_refused_in_a_jsonata_state": "InputPath is JSONPath-only",
    "output_is_refused_in_a_jsonpath_state": "Output is JSONata-only",
    "arguments_is_refused_on_pass": "Arguments is not a Pass state field",
    "a_syntax_error_in_an_expression_is_refused": "JSONata expressions are checked when the machine is created",
    "syntax_error_pointer_names_the_nested_field": "JSONata expressions in nested values are checked too",
    "jsonata_choice_rule_next_must_exist": "a JSONata Choice rule's Next must name a state",
}.items():
    CLASSES[(JA, name)] = ("a", _SCHEMA + "AWS's JSONata rules: " + rule + ".")


def _uses(definition, needle):
    return needle in json.dumps(definition)


def classify(case_file, case_name, case, moto_said):
    """(class, why) for one disagreement, or None when it is not classified."""
    if _JSONATA_STUB in moto_said:
        return classify_by_rule(case, moto_said)
    return CLASSES.get((case_file, case_name)) or classify_by_rule(case, moto_said)


_JSONATA_STUB = "'NoneType' object is not callable"


def classify_by_rule(case, moto_said):
    """Families: moto's interpreter does not evaluate JSONata or variables."""
    d = case["definition"]
    crash = "object is not callable" in moto_said or "Custom Error Names MUST NOT" in moto_said or "Map state input must be an array" in moto_said
    if _uses(d, '"QueryLanguage": "JSONata"') and (crash or "FAILED" in moto_said or "refused" in moto_said):
        return ("a", "AWS runs JSONata states (QueryLanguage JSONata: Arguments, Output, Assign, Condition, Items, "
                "$states); moto 5.2.5 fails them: its JSONata evaluator is a stub (`_eval_jsonata = None`, "
                "'NoneType' object is not callable); install jsonata-python to compare them.")
    if (_uses(d, '"Assign"') or re.search(r"(?<![$\w])\$[A-Za-z_]", json.dumps(d))) and (crash or "SUCCEEDED" in moto_said):
        return ("a", "AWS variables (Assign, $name, scoping into Map/Parallel): moto 5.2.5 evaluates variable "
                "references through its stubbed JSONata evaluator and fails ('NoneType' object is not "
                "callable); install jsonata-python to compare them.")
    return None


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
        "  - **?**: not classified yet (add it to `CLASSES` in the script).",
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
