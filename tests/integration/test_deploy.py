#!/usr/bin/python3
"""The deployment files (issue 5, "Container image and deployment";
docs/deploy.md), checked without a Docker engine or an AWS account, neither
of which exists on the development machines:

  - deploy/iam/*.json: every document parses; least privilege: no wildcard
    action, no NotAction/NotResource, "Resource": "*" only on the one action
    that has no resource-level permissions (kinesis:ListStreams), each
    document's actions exactly the expected set; every ${placeholder} is
    filled by deploy/terraform/main.tf's templatefile() call for that file
    and nothing else is passed; rendered with sample values, the resources
    are the expected ARNs (the model prefix, the function's log group, ...);
    ridepred's own calls (PutRecord(s), ListObjectsV2, GetObject, and the
    DynamoDB calls of consume's lease table, consume-lease-table.json: the
    one document not for the Lambda role, so not in main.tf) are covered;
  - deploy/terraform/*.tf: a light HCL reading in Python: balanced braces,
    brackets and parentheses outside strings and comments; every var.X
    declared in variables.tf and every declared variable used; every
    local.X defined; every resource reference defined; the function, the
    event source mapping, the streams, the queue and the repository carry
    the settings of the issue (package_type Image, the environment of docs/handler.md §10,
    JSON logs, ReportBatchItemFailures, bisect, retries, on-failure
    destination); the optional MSK trigger off by default and, on, with
    its own policy, its variables and ReportBatchItemFailures in
    provisioned mode; where terraform and the AWS provider are available
    offline (this machine image has both, the provider under
    /opt/tf-plugins), `terraform fmt -check`, `validate` and `test`
    (deploy/terraform/tests: the configuration applied to a mocked
    provider); elsewhere a note says they did not run;
  - deploy/Dockerfile: both stages on public.ecr.aws/lambda/provided:al2023;
    the CMake build type of the Makefile (what .ci/run builds and tests);
    the binary copied as ${LAMBDA_RUNTIME_DIR}/bootstrap, CMD
    ["function.handler"], no ENTRYPOINT override (the base image's
    entrypoint runs the emulator locally); every library the built binary
    links (its ELF NEEDED entries) and every pkg-config module of
    CMakeLists.txt mapped to the AL2023 package that provides it, which the
    build stage installs; every soname src/ loads with dlopen either shipped
    or listed as left out;
  - deploy/collect-libs.sh, run here on the built binary: copies exactly the
    libraries the binary (and the shipped dlopen'ed ones) need that a base
    list lacks; refuses, naming it, a library that is not installed;
  - .dockerignore keeps what the build needs and drops .git, build trees
    and Terraform state;
  - `ridepred` invoked through a symlink named `bootstrap` is the Lambda
    runtime: without AWS_LAMBDA_RUNTIME_API it exits 3 with a message
    naming it; `bootstrap --help` is the runtime's help.

Environment: RIDEPRED_BIN, RIDEPRED_SOURCE_DIR.  Prints "N passed, N failed"
and exits 1 on any failure; a check whose prerequisite is missing is
reported as SKIP (exit 77 when nothing else failed), and fails when CI is
set.
"""

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, "tools"))
import rptest  # noqa: E402

SRC, BIN = rptest.SRC, rptest.BIN
DEPLOY = os.path.join(SRC, "deploy")
IAM = os.path.join(DEPLOY, "iam")
TF = os.path.join(DEPLOY, "terraform")
DOCKERFILE = os.path.join(DEPLOY, "Dockerfile")

SkipCheck = rptest.Skip  # this check cannot run here: SKIP, or a failure when CI is set


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ------------------------------------------------------------------ IAM

# Each document and exactly the actions it grants.
EXPECTED_ACTIONS = {
    "lambda-trust-policy.json": {"sts:AssumeRole"},
    "read-input-stream.json": {"kinesis:DescribeStream", "kinesis:DescribeStreamSummary",
                               "kinesis:GetRecords", "kinesis:GetShardIterator",
                               "kinesis:ListShards", "kinesis:ListStreams"},
    "write-output-stream.json": {"kinesis:PutRecord", "kinesis:PutRecords"},
    "read-model.json": {"s3:GetObject", "s3:ListBucket"},
    "write-logs.json": {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
    "send-failures.json": {"sqs:SendMessage"},
    # The optional MSK trigger (Lambda's MSK event source mapping with IAM
    # access control: AWS's "Configuring Lambda permissions for Amazon MSK
    # event source mappings" and AWSLambdaMSKExecutionRole).
    "read-msk.json": {"kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers",
                      "kafka-cluster:Connect", "kafka-cluster:DescribeClusterDynamicConfiguration",
                      "kafka-cluster:DescribeTopic", "kafka-cluster:ReadData",
                      "kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup",
                      "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                      "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
                      "ec2:DescribeVpcs"},
    "ecr-repository-policy.json": {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"},
    # `ridepred consume --checkpoint-store dynamodb:TABLE` on machines of
    # one's own (not Lambda): its KCL lease table (docs/consumer.md).
    "consume-lease-table.json": {"dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:GetItem",
                                 "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:UpdateItem"},
}
# Documents for a role the Terraform here does not make (consume's machines).
NOT_IN_TERRAFORM = {"consume-lease-table.json"}
# Documents attached to a principal elsewhere (trust, resource policies):
# they name a Principal and no Resource.
PRINCIPAL_DOCS = {"lambda-trust-policy.json", "ecr-repository-policy.json"}
# Actions that have no resource-level permissions: "*" is what AWS requires.
# Lambda's MSK mapping puts its network interfaces in the cluster's subnets,
# which the templates do not know: EC2's Describe* calls have no resource
# level, and AWS grants the interface calls on "*" too
# (AWSLambdaMSKExecutionRole).
STAR_RESOURCE_OK = {"kinesis:ListStreams", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                    "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs"}

SAMPLE = {
    "account_id": "123456789012",
    "partition": "aws",
    "input_stream_arn": "arn:aws:kinesis:eu-west-1:123456789012:stream/ride_events-stg",
    "output_stream_arn": "arn:aws:kinesis:eu-west-1:123456789012:stream/ride_predictions-stg",
    "model_bucket": "mlflow-models",
    "model_prefix": "1/e1efc53e9bd149078b0c12aeaa6365df/artifacts/model",
    "log_group_arn": "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/ride_duration_prediction_stg",
    "dlq_arn": "arn:aws:sqs:eu-west-1:123456789012:ride_events_failures_stg",
    "function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:ride_duration_prediction_stg",
    "cluster_arn": "arn:aws:kafka:eu-west-1:123456789012:cluster/rides/751d2973-a626-431c-9d4e-d7975eb44dd7-2",
    "topic_arn": "arn:aws:kafka:eu-west-1:123456789012:topic/rides/751d2973-a626-431c-9d4e-d7975eb44dd7-2/ride_events",
    "lease_table_arn": "arn:aws:dynamodb:eu-west-1:123456789012:table/ride_predictions_consumers",
    "group_arn": ("arn:aws:kafka:eu-west-1:123456789012:group/rides/751d2973-a626-431c-9d4e-d7975eb44dd7-2/"
                  "ride_duration_prediction_stg"),
}

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def as_list(v):
    return v if isinstance(v, list) else [v]


def iam_files():
    names = sorted(n for n in os.listdir(IAM) if n.endswith(".json"))
    assert names, f"no IAM documents in {IAM}"
    return names


def render(text, values):
    def sub(m):
        assert m.group(1) in values, f"no sample value for ${{{m.group(1)}}}"
        return values[m.group(1)]
    return PLACEHOLDER.sub(sub, text)


def statements(name):
    doc = json.loads(render(read(os.path.join(IAM, name)), SAMPLE))
    assert doc.get("Version") == "2012-10-17", f"{name}: Version must be 2012-10-17"
    st = doc["Statement"]
    assert isinstance(st, list) and st, f"{name}: no statements"
    return st


def test_iam_parse_and_known():
    names = iam_files()
    assert set(names) == set(EXPECTED_ACTIONS), (
        f"deploy/iam has {names}; the test knows {sorted(EXPECTED_ACTIONS)}: "
        "a new document needs its expected actions here")
    for n in names:
        json.loads(read(os.path.join(IAM, n)))  # parses as written (placeholders inside strings)
        statements(n)


def test_iam_least_privilege():
    for name in iam_files():
        granted = set()
        for s in statements(name):
            assert s.get("Effect") == "Allow", f"{name}: {s.get('Sid')}: only Allow statements here"
            for bad in ("NotAction", "NotResource", "NotPrincipal"):
                assert bad not in s, f"{name}: {s.get('Sid')}: {bad} grants by exclusion"
            actions = as_list(s["Action"])
            for a in actions:
                assert "*" not in a and "?" not in a, f"{name}: wildcard action {a!r}"
            granted |= set(actions)
            if name in PRINCIPAL_DOCS:
                assert "Principal" in s and "Resource" not in s, f"{name}: a principal, no resource"
                svc = as_list(s["Principal"].get("Service", []))
                assert svc == ["lambda.amazonaws.com"], f"{name}: principal {s['Principal']}"
                assert "Condition" in s, f"{name}: not scoped by a condition"
                continue
            assert "Principal" not in s, f"{name}: an identity policy names no principal"
            resources = as_list(s["Resource"])
            for r in resources:
                if r == "*":
                    assert set(actions) <= STAR_RESOURCE_OK, (
                        f"{name}: Resource '*' for {actions}: only {sorted(STAR_RESOURCE_OK)} need it")
                else:
                    assert r.startswith("arn:aws:"), f"{name}: resource {r!r} is not an ARN"
                    body = r[:-2] if r.endswith(("/*", ":*")) else r
                    assert "*" not in body and "?" not in body, f"{name}: resource {r!r} has a wildcard inside"
        assert granted == EXPECTED_ACTIONS[name], (
            f"{name}: grants {sorted(granted)}, expected {sorted(EXPECTED_ACTIONS[name])}")


def resources_of(name, action):
    out = []
    for s in statements(name):
        if action in as_list(s["Action"]):
            out += as_list(s.get("Resource", []))
    return out


def test_iam_resources_rendered():
    assert resources_of("read-input-stream.json", "kinesis:GetRecords") == [SAMPLE["input_stream_arn"]]
    assert resources_of("write-output-stream.json", "kinesis:PutRecords") == [SAMPLE["output_stream_arn"]]
    assert resources_of("read-model.json", "s3:GetObject") == [
        f"arn:aws:s3:::{SAMPLE['model_bucket']}/{SAMPLE['model_prefix']}/*"]
    assert resources_of("read-model.json", "s3:ListBucket") == [f"arn:aws:s3:::{SAMPLE['model_bucket']}"]
    (lb,) = [s for s in statements("read-model.json") if "s3:ListBucket" in as_list(s["Action"])]
    prefixes = lb["Condition"]["StringLike"]["s3:prefix"]
    assert set(prefixes) == {SAMPLE["model_prefix"], SAMPLE["model_prefix"] + "/*"}, prefixes
    assert set(resources_of("write-logs.json", "logs:PutLogEvents")) == {
        SAMPLE["log_group_arn"], SAMPLE["log_group_arn"] + ":*"}
    assert resources_of("send-failures.json", "sqs:SendMessage") == [SAMPLE["dlq_arn"]]
    (trust,) = statements("lambda-trust-policy.json")
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == SAMPLE["account_id"]
    (ecr,) = statements("ecr-repository-policy.json")
    assert ecr["Condition"]["StringLike"]["aws:sourceArn"] == SAMPLE["function_arn"]
    for action in ("kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers", "kafka-cluster:Connect",
                   "kafka-cluster:DescribeClusterDynamicConfiguration"):
        assert resources_of("read-msk.json", action) == [SAMPLE["cluster_arn"]], action
    for action in ("kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"):
        assert resources_of("read-msk.json", action) == [SAMPLE["topic_arn"]], action
    for action in ("kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"):
        assert resources_of("read-msk.json", action) == [SAMPLE["group_arn"]], action
    for action in EXPECTED_ACTIONS["consume-lease-table.json"]:
        assert resources_of("consume-lease-table.json", action) == [SAMPLE["lease_table_arn"]], action


def test_iam_covers_ridepred_calls():
    """What ridepred calls inside Lambda is granted: the Kinesis operations of
    the publishing path and the S3 operations of the model download."""
    kinesis = read(os.path.join(SRC, "src", "stream", "kinesis", "kinesis.c"))
    ops = set(re.findall(r'static const char op\[\] = "([A-Za-z]+)"', kinesis))
    for op in ("PutRecord", "PutRecords"):
        assert op in ops, f"kinesis.c no longer calls {op}? ({sorted(ops)})"
        assert f"kinesis:{op}" in EXPECTED_ACTIONS["write-output-stream.json"]
    s3h = read(os.path.join(SRC, "src", "aws", "s3.h"))
    assert "ListObjectsV2" in s3h and "GetObject" in s3h, "s3.h no longer describes ListObjectsV2 + GetObject"
    assert {"s3:ListBucket", "s3:GetObject"} == EXPECTED_ACTIONS["read-model.json"]
    # The DynamoDB calls of the consumer's lease table, each granted.
    leases = read(os.path.join(SRC, "src", "consume", "lease_dynamodb.c"))
    calls = set(re.findall(r"\brp__dynamodb_([a-z_]+)\(", leases)) - {"open", "close", "http"}
    op = {"describe_table": "DescribeTable", "create_table": "CreateTable", "wait_active": "DescribeTable",
          "get_item": "GetItem", "put_item": "PutItem", "update_item": "UpdateItem", "scan": "Scan",
          "delete_item": "DeleteItem", "delete_table": "DeleteTable"}
    assert calls and calls <= set(op), f"lease_dynamodb.c calls {sorted(calls - set(op))}: map them to IAM actions"
    need = {f"dynamodb:{op[c]}" for c in calls}
    assert need == EXPECTED_ACTIONS["consume-lease-table.json"], (
        f"lease_dynamodb.c needs {sorted(need)}, consume-lease-table.json grants "
        f"{sorted(EXPECTED_ACTIONS['consume-lease-table.json'])}")


# ------------------------------------------------------------------ HCL


def hcl_scan(text, fname):
    """Returns the code of an HCL file, the same length as the text (so
    that offsets match), with comments and string contents blanked
    (interpolations kept, as code), after checking that braces, brackets and
    parentheses balance.  Handles "..." strings with escapes and ${...} /
    %{...} interpolations (nested), heredocs, #, // and /* */ comments."""
    out = list(text)
    stack = []  # open brackets in code, '"' for a string, "interp" for ${
    i, n = 0, len(text)
    line = 1
    pairs = {"}": "{", "]": "[", ")": "("}

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    def err(msg):
        raise AssertionError(f"{fname}:{line}: {msg}")

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        if stack and stack[-1] == '"':
            if c == "\\":
                blank(i, i + 2)
                i += 2
                continue
            if c == '"':
                stack.pop()
                i += 1
                continue
            if c in "$%" and text.startswith("{", i + 1):
                if text.startswith(c + "{", i + 1):  # $${ / %%{ escape
                    blank(i, i + 3)
                    i += 3
                    continue
                stack.append("interp")
                blank(i, i + 2)
                i += 2
                continue
            if c == "\n":
                err("newline inside a quoted string")
            blank(i, i + 1)
            i += 1
            continue
        if c == "#" or text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                err("unterminated /* comment")
            line += text.count("\n", i, j)
            blank(i, j + 2)
            i = j + 2
            continue
        if text.startswith("<<", i):
            m = re.match(r"<<-?([A-Za-z_][A-Za-z0-9_]*)\n", text[i:])
            if m:
                end = re.search(r"^\s*" + m.group(1) + r"\s*$", text[i + m.end():], re.M)
                if not end:
                    err(f"unterminated heredoc {m.group(1)}")
                j = i + m.end() + end.end()
                line += text.count("\n", i, j)
                blank(i, j)
                i = j
                continue
        if c == '"':
            stack.append('"')
        elif c in "{[(":
            stack.append(c)
        elif c in "}])":
            if c == "}" and stack and stack[-1] == "interp":
                stack.pop()
                blank(i, i + 1)
                i += 1
                continue
            if not stack or stack[-1] != pairs[c]:
                err(f"unbalanced {c!r}")
            stack.pop()
        i += 1
    if stack:
        raise AssertionError(f"{fname}: unclosed {stack[-1]!r} at end of file")
    assert len(out) == len(text)
    return "".join(out)


def tf_files():
    names = sorted(n for n in os.listdir(TF) if n.endswith(".tf"))
    for need in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
        assert need in names, f"deploy/terraform/{need} is missing"
    return names


def tf_raw():
    return {n: read(os.path.join(TF, n)) for n in tf_files()}


def tf_code():
    return {n: hcl_scan(t, n) for n, t in tf_raw().items()}


def blocks(raw, kind):
    """Top-level blocks `kind "a" "b" {...}` of raw HCL: {(labels): body}."""
    code = hcl_scan(raw, kind)
    out = {}
    for m in re.finditer(r'^' + kind + r'((?:\s+"[^"]*")*)\s*\{', code, re.M):
        labels = tuple(re.findall(r'"([^"]*)"', raw[m.start(): m.end()]))
        depth, j = 0, m.end() - 1
        while True:
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        out[labels] = raw[m.end(): j]
    return out


def test_hcl_balanced():
    for n, c in tf_code().items():
        assert c.strip(), f"{n} is empty"


def all_tf_raw():
    return "\n".join(tf_raw().values())


def test_hcl_variables():
    raw = tf_raw()
    declared = {}
    for n, t in raw.items():
        for labels, body in blocks(t, "variable").items():
            assert labels[0] not in declared, f"variable {labels[0]} declared twice"
            declared[labels[0]] = body
    assert set(blocks(raw["variables.tf"], "variable")) == {(k,) for k in declared}, \
        "variables are declared outside variables.tf"
    # References, in code and inside interpolations (hcl_scan keeps those).
    used = set()
    for n, c in tf_code().items():
        used |= set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_-]*)", c))
    undeclared = used - set(declared)
    assert not undeclared, f"var.{sorted(undeclared)} used but not declared in variables.tf"
    unused = set(declared) - used
    assert not unused, f"variables {sorted(unused)} declared but never used"
    for name, body in declared.items():
        assert re.search(r"^\s*description\s*=", body, re.M), f"variable {name} has no description"
        assert re.search(r"^\s*type\s*=", body, re.M), f"variable {name} has no type"
    mem = re.search(r"default\s*=\s*(\d+)", declared["memory_size"])
    assert mem and 128 <= int(mem.group(1)) <= 256, "memory_size default must be 128-256 MB"
    for required in ("model_bucket", "run_id"):
        assert "default" not in declared[required], f"{required} must be given, not defaulted"


def test_hcl_references():
    raw = all_tf_raw()
    code = "\n".join(tf_code().values())
    locals_defined = set()
    for body in blocks(raw, "locals").values():
        locals_defined |= set(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", body, re.M))
    used_locals = set(re.findall(r"\blocal\.([A-Za-z_][A-Za-z0-9_]*)", code))
    assert used_locals <= locals_defined, f"local.{sorted(used_locals - locals_defined)} not defined"
    unused = locals_defined - used_locals
    assert not unused, f"locals {sorted(unused)} defined but never used"
    resources = set(blocks(raw, "resource"))
    data = set(blocks(raw, "data"))
    for typ, name in set(re.findall(r"(?<!data\.)\b(aws_[a-z0-9_]+)\.([a-z0-9_]+)\.", code)):
        assert (typ, name) in resources, f"{typ}.{name} referenced but not defined"
    for typ, name in set(re.findall(r"\bdata\.(aws_[a-z0-9_]+)\.([a-z0-9_]+)", code)):
        assert (typ, name) in data, f"data.{typ}.{name} referenced but not defined"
    # Every IAM document is used, by templatefile() with exactly its placeholders.
    seen = set()
    for m in re.finditer(r'templatefile\("\$\{local\.iam_dir\}/([a-z0-9-]+\.json)",\s*\{(.*?)\}\)', raw, re.S):
        fname, args = m.group(1), m.group(2)
        keys = set(re.findall(r"^\s*([a-z_]+)\s*=", args, re.M))
        placeholders = set(PLACEHOLDER.findall(read(os.path.join(IAM, fname))))
        assert keys == placeholders, f"templatefile({fname}): passes {sorted(keys)}, needs {sorted(placeholders)}"
        seen.add(fname)
    assert seen == set(iam_files()) - NOT_IN_TERRAFORM, (
        f"IAM documents not used by main.tf: {sorted(set(iam_files()) - NOT_IN_TERRAFORM - seen)}")
    assert re.search(r'iam_dir\s*=\s*"\$\{path\.module\}/\.\./iam"', raw), "local.iam_dir must be ../iam"


def attr(body, key):
    m = re.search(r"^\s*" + key + r"\s*=\s*(.+)$", body, re.M)
    return m.group(1).strip() if m else None


def test_hcl_resources():
    raw = all_tf_raw()
    res = blocks(raw, "resource")
    streams = [k for k in res if k[0] == "aws_kinesis_stream"]
    assert len(streams) == 2, f"two Kinesis streams expected, found {streams}"
    names = {attr(res[k], "name") for k in streams}
    assert names == {"local.source_stream_name", "local.output_stream_name"}, names
    assert 'var.source_stream_name' in raw and 'var.output_stream_name' in raw
    assert any(k[0] == "aws_ecr_repository" for k in res), "no ECR repository"
    assert any(k[0] == "aws_sqs_queue" for k in res), "no SQS queue (on-failure destination)"
    assert any(k[0] == "aws_iam_role" for k in res), "no IAM role"

    (fn_key,) = [k for k in res if k[0] == "aws_lambda_function"]
    fn = res[fn_key]
    assert attr(fn, "package_type") == '"Image"', "package_type must be Image"
    assert attr(fn, "image_uri") == "local.image_uri"
    assert attr(fn, "architectures") == "[var.architecture]"
    assert attr(fn, "memory_size") == "var.memory_size"
    assert attr(fn, "timeout") == "var.timeout"
    assert attr(fn, "role") == "aws_iam_role.ridepred.arn"
    env = re.search(r"variables\s*=\s*\{(.*?)\}", fn, re.S).group(1)
    env_keys = set(re.findall(r"^\s*([A-Z_]+)\s*=", env, re.M))
    assert env_keys == {"PREDICTIONS_STREAM_NAME", "MODEL_BUCKET", "RUN_ID", "MLFLOW_EXPERIMENT_ID"}, env_keys
    assert "aws_kinesis_stream.ride_predictions.name" in env, "PREDICTIONS_STREAM_NAME must be the output stream"
    assert "TEST_RUN" not in env, "the deployed function publishes (no TEST_RUN)"
    log = re.search(r"logging_config\s*\{(.*?)\}", fn, re.S).group(1)
    assert attr(log, "log_format") == '"JSON"' and attr(log, "application_log_level") == "var.log_level"

    esm_keys = {k for k in res if k[0] == "aws_lambda_event_source_mapping"}
    assert esm_keys == {("aws_lambda_event_source_mapping", "ride_events"),
                        ("aws_lambda_event_source_mapping", "msk")}, esm_keys
    esm = res[("aws_lambda_event_source_mapping", "ride_events")]
    assert attr(esm, "event_source_arn") == "aws_kinesis_stream.ride_events.arn"
    assert attr(esm, "function_name") == "aws_lambda_function.ridepred.arn"
    assert attr(esm, "function_response_types") == '["ReportBatchItemFailures"]'
    for key in ("batch_size", "starting_position", "maximum_retry_attempts",
                "bisect_batch_on_function_error", "maximum_record_age_in_seconds"):
        assert attr(esm, key) == f"var.{key}", f"event source mapping: {key}"
    on_failure = re.search(r"on_failure\s*\{(.*?)\}", esm, re.S)
    assert on_failure and attr(on_failure.group(1), "destination_arn") == "aws_sqs_queue.failures.arn"

    # The optional MSK trigger (docs/deploy.md): off unless a cluster is
    # given, and then with its policy, the variables, ReportBatchItemFailures
    # (in provisioned mode, which Kafka mappings need for it).
    msk = res[("aws_lambda_event_source_mapping", "msk")]
    assert attr(msk, "count") == "local.msk_enabled ? 1 : 0", "the MSK trigger is optional"
    assert re.search(r'msk_enabled\s*=\s*var\.msk_cluster_arn != ""', raw), "on only with a cluster ARN"
    assert re.search(r'variable "msk_cluster_arn" \{[^}]*default\s*=\s*""', raw), "off by default"
    assert attr(msk, "event_source_arn") == "var.msk_cluster_arn"
    assert attr(msk, "function_name") == "aws_lambda_function.ridepred.arn"
    assert attr(msk, "topics") == "[var.msk_topic]"
    assert attr(msk, "batch_size") == "var.msk_batch_size"
    assert attr(msk, "starting_position") == "var.msk_starting_position"
    assert attr(msk, "function_response_types") == '["ReportBatchItemFailures"]'
    assert re.search(r"provisioned_poller_config\s*\{", msk), "partial batch responses need provisioned mode"
    assert attr(msk, "maximum_retry_attempts") == "var.maximum_retry_attempts", "bounded retries"
    group = re.search(r"amazon_managed_kafka_event_source_config\s*\{(.*?)\}", msk, re.S)
    assert group and attr(group.group(1), "consumer_group_id") == "local.msk_consumer_group"
    assert "aws_iam_role_policy.read_msk" in msk, "the mapping waits for its policy"
    pol = res[("aws_iam_role_policy", "read_msk")]
    assert attr(pol, "count") == "local.msk_enabled ? 1 : 0", "the MSK policy only with the trigger"
    assert "local.msk_group_arn" in pol and "local.msk_topic_arn" in pol
    outputs = blocks(raw, "output")
    for o in ("ecr_repository_url", "source_stream_name", "predictions_stream_name", "lambda_function"):
        assert (o,) in outputs, f"output {o} missing (docs/deploy.md uses it)"


def tf_mirror():
    """A local copy of the AWS provider (the machine image has one under
    /opt/tf-plugins; RIDEPRED_TF_PLUGIN_MIRROR names another), or None."""
    for d in (os.environ.get("RIDEPRED_TF_PLUGIN_MIRROR"), "/opt/tf-plugins"):
        if d and os.path.isdir(os.path.join(d, "registry.terraform.io", "hashicorp", "aws")):
            return d
    return None


def test_terraform_cli():
    """`terraform fmt -check`, `validate` and `test` (deploy/terraform/tests:
    the whole configuration applied to a mocked AWS provider, every resource's
    settings asserted), where terraform and the AWS provider are available
    without network.  Terraform is no Debian package: where it is missing
    this check says so and passes on the light HCL reading above (docs/deploy.md)."""
    tf = shutil.which("terraform")
    if not tf:
        print("     note: terraform is not on PATH: fmt -check / validate / test not run")
        return
    env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    r = subprocess.run([tf, "fmt", "-check", "-recursive", "-diff", TF], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, f"terraform fmt -check:\n{r.stdout}{r.stderr}"
    with tempfile.TemporaryDirectory() as d:
        shutil.copytree(DEPLOY, os.path.join(d, "deploy"),
                        ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "terraform.tfvars"))
        wd = os.path.join(d, "deploy", "terraform")
        mirror = tf_mirror()
        if mirror:
            rc = os.path.join(d, "cli.tfrc")
            with open(rc, "w") as f:
                f.write('provider_installation {\n  filesystem_mirror {\n    path    = "%s"\n'
                        '    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n' % mirror)
            env["TF_CLI_CONFIG_FILE"] = rc
        r = subprocess.run([tf, "init", "-backend=false", "-input=false", "-no-color"], cwd=wd,
                           capture_output=True, text=True, timeout=300, env=env)
        if r.returncode != 0:
            print("     note: terraform init found no AWS provider offline (no mirror, no network): "
                  "validate / test not run")
            return
        r = subprocess.run([tf, "validate", "-no-color"], cwd=wd, capture_output=True, text=True, timeout=300,
                           env=env)
        assert r.returncode == 0, f"terraform validate:\n{r.stdout}{r.stderr}"
        r = subprocess.run([tf, "test", "-no-color"], cwd=wd, capture_output=True, text=True, timeout=600,
                           env=env)
        assert r.returncode == 0 and "0 failed" in r.stdout, f"terraform test:\n{r.stdout}{r.stderr}"
        runs = re.findall(r'run "(\w+)"\.\.\. pass', r.stdout)
        assert len(runs) >= 3, f"terraform test ran {runs}"
        print(f"     terraform {r.stdout.strip().splitlines()[-1]} ({', '.join(runs)})")


# ------------------------------------------------------------------ Dockerfile

# ELF NEEDED sonames and pkg-config modules -> the AL2023 -devel package
# that the build stage installs (its runtime package comes with it).  glibc
# is in every image.
GLIBC = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
         "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}
SONAME_PACKAGE = {
    "libsqlite3.so.0": "sqlite-devel",       # runtime: sqlite-libs
    "libcrypto.so.3": "openssl-devel",       # runtime: openssl-libs
    "libssl.so.3": "openssl-devel",
    "libxxhash.so.0": "xxhash-devel",        # runtime: xxhash-libs
    "libyaml-0.so.2": "libyaml-devel",       # runtime: libyaml
    "libcurl.so.4": "libcurl-devel",         # runtime: libcurl-minimal or libcurl
    "libz.so.1": "zlib-devel",
    "libzstd.so.1": "libzstd-devel",
}
PKGCONFIG_PACKAGE = {
    "libxxhash": "xxhash-devel",
    "yaml-0.1": "libyaml-devel",
    "libcurl": "libcurl-devel",
    "sqlite3": "sqlite-devel",
    "libcrypto": "openssl-devel",
    "zlib": "zlib-devel",
    "libzstd": "libzstd-devel",
}


def dockerfile():
    text = read(DOCKERFILE)
    # Join continuation lines; drop comments.
    logical = re.sub(r"\\\n", " ", "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#")))
    return text, logical


def docker_args(text):
    return dict(re.findall(r'^ARG\s+([A-Z_0-9]+)="?([^"\n]*)"?\s*$', text, re.M))


def installed_packages(logical):
    pkgs = set()
    for m in re.finditer(r"(?:microdnf|dnf)\s+install\s+([^;&|]*)", logical):
        pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


def test_dockerfile_base_and_runtime():
    text, logical = dockerfile()
    args = docker_args(text)
    assert args.get("BASE_IMAGE") == "public.ecr.aws/lambda/provided:al2023", args.get("BASE_IMAGE")
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(froms) == 2 and all(f == "${BASE_IMAGE}" for f in froms), f"stages: {froms}"
    assert re.search(r"^FROM \$\{BASE_IMAGE\} AS build$", text, re.M)
    final = text[text.rindex("\nFROM "):]
    assert re.search(r"^COPY --from=build \S+ \$\{LAMBDA_RUNTIME_DIR\}/bootstrap$", final, re.M), \
        "the final stage must copy the binary as ${LAMBDA_RUNTIME_DIR}/bootstrap"
    assert re.search(r'^CMD \["function\.handler"\]$', final, re.M), 'CMD ["function.handler"] expected'
    assert not re.search(r"^ENTRYPOINT", text, re.M), \
        "no ENTRYPOINT: the base image's runs the emulator locally and bootstrap in Lambda"
    # The copied file is the stripped build output of the ridepred target.
    assert re.search(r"strip --strip-debug -o /tmp/bootstrap build/ridepred", logical)
    assert re.search(r"COPY --from=build /tmp/bootstrap ", final)
    # collect-libs output lands where the loader looks without LD_LIBRARY_PATH.
    assert re.search(r"^COPY --from=build /out/lib/ /usr/lib64/$", final, re.M)
    assert os.access(os.path.join(DEPLOY, "collect-libs.sh"), os.R_OK)
    assert "sh deploy/collect-libs.sh /out/lib /tmp/base-libs.txt build/ridepred ${RP_DLOPEN_SHIPPED}" in logical


def makefile_build_type():
    mk = read(os.path.join(SRC, "Makefile"))
    m = re.search(r"^build:.*\n((?:\t.*\n)+)", mk, re.M)
    assert m, "Makefile has no build: target"
    bt = re.search(r"cmake -S \. -B \$\(BUILD\) -DCMAKE_BUILD_TYPE=(\w+)", m.group(1))
    assert bt, "the Makefile's build target no longer configures with -DCMAKE_BUILD_TYPE"
    return bt.group(1)


def test_dockerfile_cmake_as_ci():
    _, logical = dockerfile()
    ci = read(os.path.join(SRC, ".ci", "run"))
    assert re.search(r"^make test$", ci, re.M), ".ci/run no longer builds through `make test`"
    want = makefile_build_type()
    configs = re.findall(r"cmake -S \. -B build ([^&;]*)", logical)
    assert len(configs) == 1, f"one CMake configure expected, found {configs}"
    assert configs[0].split() == [f"-DCMAKE_BUILD_TYPE={want}"], (
        f"Dockerfile configures with {configs[0]!r}; the Makefile/CI with -DCMAKE_BUILD_TYPE={want}")
    assert re.search(r"cmake --build build --target ridepred\b", logical)


def elf_needed(path):
    r = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout))


def dlopen_sonames():
    found = {}
    for root, _, files in os.walk(os.path.join(SRC, "src")):
        for f in files:
            if f.endswith((".c", ".h")):
                p = os.path.join(root, f)
                for so in re.findall(r'"(lib[A-Za-z0-9_+-]+\.so(?:\.[0-9]+)*)"', read(p)):
                    found.setdefault(so, os.path.relpath(p, SRC))
    return found


def test_dockerfile_libraries():
    if not os.access(BIN, os.X_OK):
        raise SkipCheck(f"{BIN} is not built")
    if not shutil.which("readelf"):
        raise SkipCheck("readelf (binutils) is not installed")
    _, logical = dockerfile()
    pkgs = installed_packages(logical)
    needed = elf_needed(BIN)
    assert needed, "the binary has no NEEDED entries?"
    for so in sorted(needed - GLIBC):
        assert so in SONAME_PACKAGE, (
            f"build/ridepred links {so}: add its AL2023 package to SONAME_PACKAGE in "
            "test_deploy.py and to the build stage of deploy/Dockerfile")
        assert SONAME_PACKAGE[so] in pkgs, f"{so} needs {SONAME_PACKAGE[so]}, not installed by the build stage"
    cm = read(os.path.join(SRC, "CMakeLists.txt"))
    modules = re.findall(r"pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET ([\w.+-]+)\)", cm)
    assert modules, "no pkg_check_modules in CMakeLists.txt?"
    for mod in modules:
        assert mod in PKGCONFIG_PACKAGE, f"CMakeLists.txt checks {mod}: add its AL2023 package here and to the Dockerfile"
        pkg = PKGCONFIG_PACKAGE[mod]
        assert pkg in pkgs, f"CMake needs {mod} ({pkg}), not installed by the build stage"
    for tool in ("gcc", "make", "cmake", "pkgconf-pkg-config", "binutils"):
        assert tool in pkgs, f"build stage does not install {tool}"
    # Nothing installed that nothing needs (as libmicrohttpd-devel was once
    # `serve` had its own server).
    wanted = {PKGCONFIG_PACKAGE[m] for m in modules} | {SONAME_PACKAGE[so] for so in needed - GLIBC}
    for pkg in sorted(p for p in pkgs if p.endswith("-devel")):
        assert pkg in wanted, (
            f"the build stage installs {pkg}, which neither CMakeLists.txt nor build/ridepred needs: remove it")


def test_build_without_kafka():
    """The image's build has no librdkafka headers (AL2023 has no package):
    the same sources configure and build without them, and a kafka: stream
    then says Kafka support was not built, while everything else runs."""
    if not shutil.which("cmake"):
        raise SkipCheck("cmake is not installed")
    with tempfile.TemporaryDirectory(prefix="rp-nokafka-") as d:
        r = subprocess.run(["cmake", "-S", SRC, "-B", d, "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DRIDEPRED_KAFKA=OFF"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0 and "built without Kafka support" in r.stdout, r.stdout[-800:] + r.stderr[-800:]
        r = subprocess.run(["cmake", "--build", d, "--target", "ridepred", "-j2"], capture_output=True, text=True,
                           timeout=900)
        assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:]
        binary = os.path.join(d, "ridepred")
        p = subprocess.run([binary, "streams", "list", "--backend", "kafka", "--brokers", "127.0.0.1:9"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 3 and "built without Kafka support" in p.stderr, p.stderr
        ev = os.path.join(SRC, "tests", "fuzz", "seeds", "model_json", "trees.json")
        p = subprocess.run([binary, "predict", "--model", ev, "--pu", "130", "--do", "205", "--distance", "3.66"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr


def test_dockerfile_dlopen_lists():
    text, logical = dockerfile()
    args = docker_args(text)
    shipped = set(args.get("RP_DLOPEN_SHIPPED", "").split())
    left_out = set(args.get("RP_DLOPEN_LEFT_OUT", "").split())
    assert shipped and not (shipped & left_out), (shipped, left_out)
    assert "libcurl.so.4" in shipped, "libcurl (Kinesis, S3) is what the Lambda function needs"
    found = dlopen_sonames()
    assert "libcurl.so.4" in found
    listed = shipped | left_out
    for so, where in sorted(found.items()):
        if so.endswith(".so") and any(x.startswith(so + ".") for x in listed):
            continue  # the unversioned fallback name of a listed soname (libxgboost.so -> .so.0)
        assert so in listed, (
            f"{where} loads {so} with dlopen: add it to RP_DLOPEN_SHIPPED (the Lambda function "
            "needs it) or RP_DLOPEN_LEFT_OUT (with the command that does) in deploy/Dockerfile")
        # Each left-out soname is explained in the comment block above the ARG.
        if so in left_out:
            assert re.search(r"^#.*" + re.escape(so) + r".*`\w+", text, re.M), f"{so}: no reason given"
    pkgs = installed_packages(logical)
    for so in shipped:
        assert SONAME_PACKAGE.get(so) in pkgs, f"shipped {so}: its package is not installed"


def test_dockerignore():
    path = os.path.join(SRC, ".dockerignore")
    pats = [l.strip() for l in read(path).splitlines() if l.strip() and not l.startswith("#")]

    def ignored(rel):
        parts = rel.split("/")
        for p in pats:
            for k in range(1, len(parts) + 1):
                if fnmatch.fnmatch("/".join(parts[:k]), p):
                    return True
        return False

    for keep in ("CMakeLists.txt", "src/cli/main.c", "include/ridepred/error.h", "deploy/collect-libs.sh",
                 "deploy/Dockerfile"):
        assert not ignored(keep), f".dockerignore drops {keep}, which the build needs"
    for drop in (".git", "build/ridepred", "build-asan/x", "tests/tools/node_modules/x",
                 "deploy/terraform/terraform.tfstate", "deploy/terraform/.terraform/x",
                 "deploy/terraform/terraform.tfvars"):
        assert ignored(drop), f".dockerignore keeps {drop}"


# ------------------------------------------------------------------ collect-libs.sh


def ldd_resolved(path):
    r = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {m.group(1): m.group(2) for m in re.finditer(r"^\s*(\S+) => (/\S+)", r.stdout, re.M)}


def test_collect_libs():
    if not os.access(BIN, os.X_OK):
        raise SkipCheck(f"{BIN} is not built")
    script = os.path.join(DEPLOY, "collect-libs.sh")
    deps = ldd_resolved(BIN)
    # Libraries ridepred dlopens (the Dockerfile passes them by name).
    dlopened = ("libcurl.so.4", "libsqlite3.so.0")
    for so in dlopened:
        path = next((p for p in (f"/usr/lib/x86_64-linux-gnu/{so}", f"/usr/lib/aarch64-linux-gnu/{so}",
                                 f"/usr/lib64/{so}") if os.path.exists(p)), None)
        if not path:
            raise SkipCheck(f"{so} is not installed")
        deps.update(ldd_resolved(path))
        deps[so] = path
    # A base image that has everything but libyaml, sqlite and libcurl.
    missing = {"libyaml-0.so.2", "libsqlite3.so.0", "libcurl.so.4"}
    assert missing <= set(deps), f"expected the binary to need {missing}: {sorted(deps)}"
    with tempfile.TemporaryDirectory() as d:
        base = os.path.join(d, "base.txt")
        with open(base, "w") as f:
            f.write("\n".join(sorted(set(deps) - missing)) + "\n")
        out = os.path.join(d, "lib")
        r = subprocess.run(["sh", script, out, base, BIN, *dlopened], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        got = set(os.listdir(out))
        assert got == missing, f"copied {sorted(got)}, expected {sorted(missing)}"
        for so in got:
            with open(os.path.join(out, so), "rb") as f:
                assert f.read(4) == b"\x7fELF", f"{so} is not an ELF file"
            assert not os.path.islink(os.path.join(out, so)), f"{so} copied as a link"
            assert f"copied: {so}" in r.stdout
        # Nothing missing from the base: nothing copied, the directory exists.
        with open(base, "w") as f:
            f.write("\n".join(sorted(deps)) + "\n")
        out2 = os.path.join(d, "lib2")
        r = subprocess.run(["sh", script, out2, base, BIN, *dlopened], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0 and os.listdir(out2) == [], r.stdout + r.stderr
        # A dlopen'ed library that is not installed: refused, named.
        r = subprocess.run(["sh", script, os.path.join(d, "lib3"), base, BIN, "libnot-there.so.9"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and "libnot-there.so.9" in r.stderr and "not installed" in r.stderr, r.stderr
        # A binary whose dependency is missing: refused, naming it.
        broken = os.path.join(d, "broken")
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc:
            lib_c = os.path.join(d, "gone.c")
            with open(lib_c, "w") as f:
                f.write("int gone(void) { return 1; }\n")
            libdir = os.path.join(d, "gone")
            os.mkdir(libdir)
            subprocess.run([cc, "-shared", "-fPIC", "-o", os.path.join(libdir, "libgone.so"), lib_c],
                           check=True, timeout=60)
            main_c = os.path.join(d, "main.c")
            with open(main_c, "w") as f:
                f.write("int gone(void);\nint main(void) { return gone(); }\n")
            subprocess.run([cc, "-o", broken, main_c, "-L" + libdir, "-lgone"], check=True, timeout=60)
            r = subprocess.run(["sh", script, os.path.join(d, "lib4"), base, broken], capture_output=True,
                               text=True, timeout=60)
            assert r.returncode != 0 and "libgone.so" in r.stderr and "not installed" in r.stderr, r.stderr
        # Bad usage.
        r = subprocess.run(["sh", script, out], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "usage" in r.stderr
        r = subprocess.run(["sh", script, out, os.path.join(d, "no-base"), BIN], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 1 and "base list" in r.stderr


# ------------------------------------------------------------------ bootstrap


def lambda_is_placeholder(env):
    r = subprocess.run([BIN, "lambda", "--help"], capture_output=True, text=True, timeout=30, env=env)
    return "not implemented" in (r.stdout + r.stderr)


def test_bootstrap_symlink():
    if not os.access(BIN, os.X_OK):
        raise SkipCheck(f"{BIN} is not built")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MODEL_", "RUN_ID", "KINESIS_"))}
    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "m.json")
        with open(model, "w") as f:
            json.dump({"format": "ridepred.model/1", "version": "v1",
                       "features": ["PU_DO=130_205", "trip_distance"],
                       "estimator": {"type": "linear", "coef": [1.5, 3.25], "intercept": 10.1}}, f)
        env.update({"MODEL_LOCATION": model, "TEST_RUN": "True", "RIDEPRED_LOCAL_STORE": os.path.join(d, "s.db")})
        if lambda_is_placeholder(env):
            raise SkipCheck("`ridepred lambda` is still the placeholder (its helper has not landed)")
        boot = os.path.join(d, "bootstrap")
        os.symlink(os.path.abspath(BIN), boot)
        r = subprocess.run([boot], capture_output=True, text=True, timeout=30, env=env)
        assert r.returncode == 3, f"bootstrap without AWS_LAMBDA_RUNTIME_API: exit {r.returncode}\n{r.stderr}"
        assert "AWS_LAMBDA_RUNTIME_API" in r.stderr, f"the message must name AWS_LAMBDA_RUNTIME_API:\n{r.stderr}"
        assert r.stdout == "", f"nothing on stdout: {r.stdout!r}"
        # Same through `ridepred lambda`: the symlink is the lambda command.
        r2 = subprocess.run([BIN, "lambda"], capture_output=True, text=True, timeout=30, env=env)
        assert r2.returncode == 3 and "AWS_LAMBDA_RUNTIME_API" in r2.stderr, r2.stderr
        r = subprocess.run([boot, "--help"], capture_output=True, text=True, timeout=30, env=env)
        assert r.returncode == 0 and "Runtime API" in r.stdout, r.stdout + r.stderr
        # Another name is the ordinary CLI.
        other = os.path.join(d, "ridepred")
        os.symlink(os.path.abspath(BIN), other)
        r = subprocess.run([other, "--version"], capture_output=True, text=True, timeout=30, env=env)
        assert r.returncode == 0 and r.stdout.startswith("ridepred "), r.stdout + r.stderr


def main():
    rptest.run([
        ("iam documents parse, all known", test_iam_parse_and_known),
        ("iam least privilege", test_iam_least_privilege),
        ("iam resources rendered", test_iam_resources_rendered),
        ("iam covers ridepred's calls", test_iam_covers_ridepred_calls),
        ("terraform balanced", test_hcl_balanced),
        ("terraform variables declared and used", test_hcl_variables),
        ("terraform references and iam templates", test_hcl_references),
        ("terraform resources as the issue asks", test_hcl_resources),
        ("terraform fmt/validate", test_terraform_cli),
        ("dockerfile base, bootstrap, CMD", test_dockerfile_base_and_runtime),
        ("dockerfile cmake as CI", test_dockerfile_cmake_as_ci),
        ("dockerfile libraries and packages", test_dockerfile_libraries),
        ("dockerfile dlopen lists", test_dockerfile_dlopen_lists),
        ("a build without librdkafka's headers (the image's)", test_build_without_kafka),
        (".dockerignore", test_dockerignore),
        ("collect-libs.sh", test_collect_libs),
        ("bootstrap symlink is the runtime", test_bootstrap_symlink),
    ])


if __name__ == "__main__":
    main()
