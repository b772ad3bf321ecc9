"""Classification of every disagreement between crates/asl's conformance cases and moto,
used by scripts/asl-compare-moto.py. CLASSES maps (case file, case name) to
(class, why we follow AWS); classify_by_rule covers whole families (JSONata, variables).

Classes: a = moto lacks a feature or validation AWS has; b = moto names an error
differently; c = our expectation/interpreter was wrong (fixed: listed in FIXED, since the
corrected case no longer disagrees for that reason); d = unclear; n = not an AWS rule but
a documented limit of this interpreter (moto agrees with AWS there).
"""
import json
import re

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
