"""Compare our SigV4 signer with botocore's, request by request.

Builds a fixed, seeded set of requests -- Kinesis JSON 1.1 POSTs with
X-Amz-Target, S3 GET/PUT/HEAD/DELETE with odd keys (spaces, unicode, '~',
'+', '%', dot segments, double slashes), path-style and virtual-host
style, query strings with repeated and unsorted keys, other services with
paths that must be normalised and encoded twice, headers with runs of
blanks and repeated names, explicit Host headers, ports in the host, with
and without session tokens, in many regions, at many times -- and signs
each with botocore (Debian's python3-botocore: botocore.auth.SigV4Auth /
S3SigV4Auth on an AWSRequest, its clock fixed) and with our signer (the
sigv4_cli driver, all requests in one run).  The Authorization headers must
be equal byte for byte, and so must the X-Amz-Date, X-Amz-Security-Token
and X-Amz-Content-SHA256 headers each side adds.  On a mismatch both
canonical requests are printed.  Also checks AWS's published test-suite
signatures (aws-c-auth's aws-signing-test-suite) on both sides.

Then every request goes over the wire: sigv4_cli --send sends it through
our HTTP client (libcurl, signed by the prepare hook) to a server run here
on 127.0.0.1, which verifies the signature as AWS would -- botocore
recomputes it from the request as received (method, path and query as
sent, the signed headers, the body) -- so what libcurl sends is what was
signed.

Prints "N passed, N failed" (counting requests, each signed and sent);
exits 1 on any mismatch.  The driver is $RIDEPRED_BUILD_DIR/sigv4_cli
(default: build/).
"""

import base64
import datetime
import hashlib
import http.server
import json
import os
import random
import subprocess
import sys
import threading
import types
from unittest import mock
from urllib.parse import quote, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools"))
import rptest  # noqa: E402

try:
    import botocore
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:  # pragma: no cover
    rptest.skip("botocore is not installed (Debian: python3-botocore)")

SEED = 20240917
N_KINESIS = 400
N_S3 = 500
N_OTHER = 300
SHOW = 10

CLI = os.path.join(rptest.BUILD, "sigv4_cli")

REGIONS = ["us-east-1", "us-west-2", "eu-west-3", "eu-central-1", "ap-southeast-2",
           "sa-east-1", "cn-north-1", "us-gov-west-1", "me-south-1", "af-south-1"]
KINESIS_OPS = ["PutRecord", "PutRecords", "GetRecords", "GetShardIterator", "ListShards",
               "CreateStream", "DeleteStream", "DescribeStreamSummary", "UpdateShardCount"]
EXAMPLE_KEY = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


# --- botocore's side --------------------------------------------------------------

class _Capture:
    """Remembers the canonical request botocore signed."""

    def canonical_request(self, request):
        cr = super().canonical_request(request)
        self.last_canonical = cr
        return cr


class CaptureSigV4(_Capture, botocore.auth.SigV4Auth):
    pass


class CaptureS3SigV4(_Capture, botocore.auth.S3SigV4Auth):
    pass


def botocore_sign(case):
    t = datetime.datetime.utcfromtimestamp(case["time"])

    class FixedDateTime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return t

    payload = base64.b64decode(case.get("payload_b64") or "")
    request = AWSRequest(method=case["method"], url=case["url"], data=payload)
    for name, value in case["headers"]:
        request.headers[name] = value  # HTTPHeaders appends: repeated names stay
    s3 = case["s3"]
    phash = case.get("payload_hash")
    if phash == "UNSIGNED-PAYLOAD":
        if s3:
            request.context["client_config"] = types.SimpleNamespace(
                s3={"payload_signing_enabled": False})
        else:
            request.context["payload_signing_enabled"] = False
    if case.get("content_sha256") and not s3:
        request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(payload).hexdigest()
    creds = Credentials(case["access_key"], case["secret_key"], case.get("token"))
    cls = CaptureS3SigV4 if s3 else CaptureSigV4
    auth = cls(creds, case["service"], case["region"])
    with mock.patch.object(botocore.auth.datetime, "datetime", FixedDateTime):
        auth.add_auth(request)
    added = {}
    for name in ("X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256"):
        if name in request.headers:
            added[name.lower()] = request.headers[name]
    return request.headers["Authorization"], added, auth.last_canonical


# --- generated requests -----------------------------------------------------------

def rand_secret(rng):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(rng.choice(alphabet) for _ in range(40))


def rand_key_id(rng):
    prefix = rng.choice(["AKIA", "ASIA"])
    return prefix + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))


def rand_token(rng):
    n = rng.choice([16, 64, 356, 900])
    return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(n))).decode()


def rand_time(rng):
    # 2000-01-01 .. 2037-12-31, and a few at day boundaries.
    if rng.random() < 0.1:
        return rng.randrange(946684800, 2145916800, 86400) - rng.choice([0, 1])
    return rng.randrange(946684800, 2145916800)


def base_case(rng, **kw):
    token = rand_token(rng) if rng.random() < 0.5 else None
    case = {
        "method": "GET", "url": "", "headers": [], "payload_b64": None,
        "payload_hash": None, "service": "", "region": rng.choice(REGIONS),
        "time": rand_time(rng), "access_key": rand_key_id(rng),
        "secret_key": rand_secret(rng), "token": token, "s3": False,
        "content_sha256": False,
    }
    case.update(kw)
    return case


def spaced(rng, value):
    """The value with random runs of blanks around and inside it."""
    pad = lambda: rng.choice(["", " ", "  ", "\t", " \t "])
    words = value.split(" ")
    return pad() + (pad() or " ").join(words) + pad()


def kinesis_case(rng):
    op = rng.choice(KINESIS_OPS)
    region = rng.choice(REGIONS)
    host = rng.choice([
        f"kinesis.{region}.amazonaws.com",
        f"https://KINESIS.{region}.AmazonAWS.com",
        "localhost:4567", "127.0.0.1:4566", f"kinesis.{region}.amazonaws.com:443",
        "[::1]:4567",
    ])
    scheme = "https" if rng.random() < 0.7 else "http"
    if host.startswith("https://"):
        url = host + "/"
    else:
        url = f"{scheme}://{host}/"
    body = {"StreamName": rng.choice(["ride_events", "ride_predictions", "s-" + str(rng.randrange(1000))])}
    if op == "PutRecord":
        body.update({"Data": base64.b64encode(os.urandom(rng.randrange(0, 200))).decode(),
                     "PartitionKey": str(rng.randrange(100000))})
    elif op == "PutRecords":
        body["Records"] = [{"Data": base64.b64encode(os.urandom(rng.randrange(1, 50))).decode(),
                            "PartitionKey": str(i)} for i in range(rng.randrange(1, 30))]
    payload = json.dumps(body).encode()
    headers = [["X-Amz-Target", f"Kinesis_20131202.{op}"],
               ["Content-Type", "application/x-amz-json-1.1"]]
    if rng.random() < 0.3:
        headers.append(["User-Agent", "ridepred/0.1.0 libcurl/7.88.1"])
    if rng.random() < 0.2:
        headers.append(["Content-Length", str(len(payload))])
    if rng.random() < 0.2:
        headers.append(["X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793"])
    if rng.random() < 0.15:
        headers.append(["Expect", "100-continue"])
    rng.shuffle(headers)
    case = base_case(rng, method="POST", url=url, headers=headers, service="kinesis",
                     region=region, payload_b64=base64.b64encode(payload).decode())
    if rng.random() < 0.1:
        case["payload_hash"] = hashlib.sha256(payload).hexdigest()  # given, not computed
    if rng.random() < 0.1:
        case["content_sha256"] = True
    return case


KEY_PIECES = ["a", "b", "Z", "0", "9", "-", "_", ".", "~", " ", "  ", "+", "=", "&", "?",
              "%", "!", "'", "(", ")", "*", ",", ";", ":", "@", "$", "[", "]", "é", "ü",
              "日本", "€", "🚕", "/", "//", "./", "../", "\u00a0", "tab\there"]


def s3_key(rng):
    n = rng.randrange(1, 12)
    return "".join(rng.choice(KEY_PIECES) for _ in range(n)).lstrip("/") or "k"


def s3_query(rng):
    choices = [
        "", "", "", "uploads", "versioning", "list-type=2",
        "list-type=2&prefix=" + quote("rides/2024/", safe="-_.~"),
        "delimiter=%2F&prefix=a&list-type=2&max-keys=100",
        "versionId=" + quote("3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", safe="-_.~"),
        "partNumber=3&uploadId=" + quote("VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA", safe="-_.~"),
        "tagging", "acl&versionId=2",
    ]
    return rng.choice(choices)


def s3_case(rng):
    bucket = rng.choice(["ride-models", "mlflow-artifacts-remote", "b.with.dots", "bucket123"])
    region = rng.choice(REGIONS)
    key = s3_key(rng)
    enc = quote(key, safe="/~")  # botocore's S3 key serialisation
    style = rng.random()
    if style < 0.4:
        url = f"https://s3.{region}.amazonaws.com/{bucket}/{enc}"
    elif style < 0.7:
        url = f"https://{bucket}.s3.{region}.amazonaws.com/{enc}"
    elif style < 0.85:
        url = f"http://127.0.0.1:{rng.choice([4568, 5000, 9000])}/{bucket}/{enc}"
    else:
        url = f"http://localhost/{bucket}/{enc}"
    q = s3_query(rng)
    if q:
        url += "?" + q
    method = rng.choice(["GET", "GET", "PUT", "HEAD", "DELETE", "POST"])
    payload = b""
    headers = []
    if method in ("PUT", "POST"):
        payload = os.urandom(rng.randrange(0, 4000))
        headers.append(["Content-Type", rng.choice(["application/octet-stream", "text/plain; charset=utf-8"])])
        if rng.random() < 0.3:
            headers.append(["x-amz-meta-run-id", spaced(rng, "run 42  of   the  model")])
    if rng.random() < 0.3:
        headers.append(["Range", "bytes=0-1023"])
    if rng.random() < 0.2:
        headers.append(["X-Amz-Meta-Multi", "one"])
        headers.append(["x-amz-meta-multi", "  two   words "])
    rng.shuffle(headers)
    case = base_case(rng, method=method, url=url, headers=headers, service="s3", region=region,
                     payload_b64=base64.b64encode(payload).decode(), s3=True)
    if rng.random() < 0.15:
        case["payload_hash"] = "UNSIGNED-PAYLOAD"
    elif rng.random() < 0.1:
        case["payload_hash"] = hashlib.sha256(payload).hexdigest()
    return case


def query_string(rng):
    keys = ["a", "A", "b", "a-b", "a_b", "a.b", "Param1", "Param2", "list", "x", "X-Amz-Foo", "%C3%A9", "z~"]
    pairs = []
    for _ in range(rng.randrange(0, 7)):
        k = rng.choice(keys)
        if rng.random() < 0.15:
            pairs.append(k)  # no '='
            continue
        v = rng.choice(["", "1", "2", "10", "value", "a b", "é", "x/y", "~ok", "a+b", "=", "&"])
        pairs.append(k + "=" + quote(v, safe="-_.~"))
    if pairs and rng.random() < 0.3:
        pairs.append(pairs[0])  # a repeated pair
    return "&".join(pairs)


PATH_PIECES = ["a", "b", "docs", ".", "..", "", "x%20y", "%2F", "~user", "caf%C3%A9", "é",
               "semi;colon", "c:d", "x+y", "!$&'()*,=@", "ሴ"]


def other_case(rng):
    service = rng.choice(["execute-api", "sts", "lambda", "dynamodb", "es", "service"])
    region = rng.choice(REGIONS)
    segs = [rng.choice(PATH_PIECES) for _ in range(rng.randrange(0, 6))]
    path = "/" + "/".join(segs)
    if rng.random() < 0.3:
        path += "/"
    host = rng.choice([f"{service}.{region}.amazonaws.com", "example.amazonaws.com",
                       "API.Example.COM:8443", "localhost:9999"])
    scheme = rng.choice(["https", "http"])
    url = f"{scheme}://{host}{path}"
    q = query_string(rng)
    if q or rng.random() < 0.1:
        url += "?" + q
    if rng.random() < 0.05:
        url += "#fragment"
    headers = []
    if rng.random() < 0.3:
        headers.append(["Host", rng.choice(["example.amazonaws.com", "Mixed.Case.Host", "h:81"])])
    if rng.random() < 0.5:
        headers.append(["My-Header1", spaced(rng, "value1")])
    if rng.random() < 0.4:
        headers.append(["My-Header2", spaced(rng, '"a   b   c"')])
    if rng.random() < 0.2:
        headers.append(["My-Header3", "v\u00a0with\u3000unicode spaces"])
    if rng.random() < 0.3:
        headers.append(["X-Dup", "first"])
        headers.append(["x-dup", " second "])
        headers.append(["X-DUP", ""])
    if rng.random() < 0.2:
        headers.append(["Empty", ""])
    rng.shuffle(headers)
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "get"])
    payload = b"" if method in ("GET", "get", "DELETE") else os.urandom(rng.randrange(0, 300))
    case = base_case(rng, method=method, url=url, headers=headers, service=service, region=region,
                     payload_b64=base64.b64encode(payload).decode())
    r = rng.random()
    if r < 0.1:
        case["payload_hash"] = "UNSIGNED-PAYLOAD"
    elif r < 0.2:
        case["content_sha256"] = True
    return case


def vector_cases():
    """AWS's signing test suite (aws-c-auth tests/aws-signing-test-suite/v4),
    with the published signatures: both signers must produce them."""
    t = 1440938160  # 2015-08-30T12:36:00Z
    ak, sk = EXAMPLE_KEY
    base = dict(payload_b64=None, payload_hash=None, service="service", region="us-east-1",
                time=t, access_key=ak, secret_key=sk, token=None, s3=False, content_sha256=False)
    host = [["Host", "example.amazonaws.com"]]
    return [
        (dict(base, method="GET", url="https://example.amazonaws.com/", headers=host),
         "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        (dict(base, method="GET", url="https://example.amazonaws.com/?Param2=value2&Param1=value1",
              headers=host),
         "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        (dict(base, method="GET", url="https://example.amazonaws.com/ሴ", headers=host),
         "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
        (dict(base, method="GET", url="https://example.amazonaws.com/",
              headers=host + [["My-Header1", " value1"], ["My-Header2", ' "a   b   c"']]),
         "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
        (dict(base, method="GET", url="https://example.amazonaws.com/", headers=host,
              token="6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"),
         "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"),
    ]


def generate():
    rng = random.Random(SEED)
    os_urandom = os.urandom
    # Deterministic payloads: route os.urandom through the seeded generator.
    os.urandom = lambda n: bytes(rng.getrandbits(8) for _ in range(n))
    try:
        cases = [kinesis_case(rng) for _ in range(N_KINESIS)]
        cases += [s3_case(rng) for _ in range(N_S3)]
        cases += [other_case(rng) for _ in range(N_OTHER)]
    finally:
        os.urandom = os_urandom
    return cases


# --- over the wire ----------------------------------------------------------------

SECRETS = {}  # access key id -> secret key, for the verifying server


def parse_authorization(value):
    algo, _, rest = value.partition(" ")
    fields = dict(part.strip().split("=", 1) for part in rest.split(","))
    ak, date, region, service, term = fields["Credential"].split("/")
    return algo, ak, date, region, service, term, fields["SignedHeaders"], fields["Signature"]


def verify(method, target, headers, body):
    """Checks a received request's signature as AWS would.  headers: the
    (name, value) pairs as received.  Returns None or what is wrong."""
    auth_value = next((v for n, v in headers if n.lower() == "authorization"), None)
    if auth_value is None:
        return "no Authorization header"
    algo, ak, date, region, service, term, signed, signature = parse_authorization(auth_value)
    if algo != "AWS4-HMAC-SHA256" or term != "aws4_request" or ak not in SECRETS:
        return "bad Authorization header: " + auth_value
    names = signed.split(";")
    request = AWSRequest(method=method, url="http://verifier" + target, data=body)
    for n, v in headers:
        if n.lower() in names:
            request.headers[n] = v
    amz_date = request.headers.get("X-Amz-Date", "")
    if amz_date[:8] != date:
        return f"X-Amz-Date {amz_date} outside the credential scope {date}"
    cls = botocore.auth.S3SigV4Auth if service == "s3" else botocore.auth.SigV4Auth
    signer = cls(Credentials(ak, SECRETS[ak]), service, region)
    request.context["timestamp"] = amz_date
    if signer.signed_headers(signer.headers_to_sign(request)) != signed:
        return f"SignedHeaders {signed} but the request carries {sorted(dict(headers))}"
    content = request.headers.get("X-Amz-Content-SHA256")
    if content and content != "UNSIGNED-PAYLOAD" and content != hashlib.sha256(body).hexdigest():
        return "x-amz-content-sha256 is not the body's hash"
    canonical = signer.canonical_request(request)
    want = signer.signature(signer.string_to_sign(request, canonical), request)
    if want != signature:
        return "signature mismatch; canonical request as received:\n" + canonical
    return None


class Verifier(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client expects
    disable_nagle_algorithm = True  # headers and body go in two writes

    def log_message(self, *args):
        pass

    def handle_any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        # The wire is bytes; http.server decoded them as Latin-1.
        target = self.path.encode("latin-1").decode("utf-8", "surrogateescape")
        headers = [(n, v.encode("latin-1").decode("utf-8", "surrogateescape"))
                   for n, v in self.headers.items()]
        problem = verify(self.command, target, headers, body)
        answer = (problem or "ok").encode("utf-8", "surrogateescape")
        self.send_response(403 if problem else 200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(answer)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = handle_any


def wire_cases(cases, port):
    """The requests, sent to the verifier instead of AWS."""
    out = []
    for c in cases:
        c = dict(c)
        parts = urlsplit(c["url"])
        c["url"] = f"http://127.0.0.1:{port}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
        c["method"] = c["method"].upper()
        SECRETS[c["access_key"]] = c["secret_key"]
        out.append(c)
    return out


def send_all(cases):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Verifier)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        wire = wire_cases(cases, server.server_address[1])
        lines = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in wire)
        run = subprocess.run([CLI, "--send"], input=lines.encode(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=600)
    finally:
        server.shutdown()
    if run.returncode != 0:
        return None, f"sigv4_cli --send exited {run.returncode}: {run.stderr.decode(errors='replace')}"
    return [json.loads(l) for l in run.stdout.decode().splitlines()], wire


def main():
    if not os.path.exists(CLI):
        print(f"{CLI} not built")
        return 1
    vectors = vector_cases()
    cases = [c for c, _ in vectors] + generate()
    for i, c in enumerate(cases):
        c["id"] = i
    lines = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)
    run = subprocess.run([CLI], input=lines.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if run.returncode != 0:
        print(f"sigv4_cli exited {run.returncode}: {run.stderr.decode(errors='replace')}")
        return 1
    ours = [json.loads(l) for l in run.stdout.decode().splitlines()]
    if len(ours) != len(cases):
        print(f"sigv4_cli answered {len(ours)} lines for {len(cases)} requests")
        return 1

    sent, wire = send_all(cases)
    if sent is None:
        print(wire)
        return 1
    if len(sent) != len(cases):
        print(f"sigv4_cli --send answered {len(sent)} lines for {len(cases)} requests")
        return 1

    passed = failed = 0
    shown = 0
    kinds = {"kinesis": 0, "s3": 0, "other": 0, "vector": 0}
    not_sent = 0
    for i, (case, got) in enumerate(zip(cases, ours)):
        kind = "vector" if i < len(vectors) else (
            "kinesis" if case["service"] == "kinesis" else "s3" if case["s3"] else "other")
        want_auth, want_added, want_canonical = botocore_sign(case)
        problems = []
        if "error" in got:
            problems.append("our signer refused it: " + got["error"])
        else:
            if got["authorization"] != want_auth:
                problems.append(f"Authorization\n   ours:     {got['authorization']}\n   botocore: {want_auth}")
            our_added = {n.lower(): v for n, v in got["headers"] if n.lower() not in ("authorization", "host")}
            if our_added != want_added:
                problems.append(f"added headers\n   ours:     {our_added}\n   botocore: {want_added}")
            if i < len(vectors):
                sig = vectors[i][1]
                if not want_auth.endswith("Signature=" + sig):
                    problems.append(f"botocore misses AWS's published signature {sig}")
                if not got["authorization"].endswith("Signature=" + sig):
                    problems.append(f"we miss AWS's published signature {sig}")
        answer = sent[i]
        raw_unicode = any(ord(ch) > 127 for ch in case["url"])
        if raw_unicode:
            # libcurl would encode raw UTF-8 on the way out, so what is sent
            # would not be what was signed: the client refuses to send it.
            if "percent-encode" not in answer.get("error", ""):
                problems.append("a URL with raw UTF-8 was not refused: " + json.dumps(answer))
        elif "error" in answer:
            problems.append("not sent: " + answer["error"])
        elif answer["status"] != 200:
            problems.append(f"the server refused what arrived (HTTP {answer['status']}): "
                            + (answer["body"] or "(HEAD: no body)") + f"\n   sent to {wire[i]['url']}")
        if problems:
            failed += 1
            if shown < SHOW:
                shown += 1
                print(f"--- request {i} ({kind}): {case['method']} {case['url']}")
                for p in problems:
                    print("  " + p)
                if "canonical_request" in got:
                    print("  our canonical request:\n" + got["canonical_request"])
                print("  botocore's canonical request:\n" + want_canonical)
        else:
            passed += 1
            kinds[kind] += 1
            not_sent += raw_unicode
    print(f"botocore {botocore.__version__}: signatures equal, and verified as received over "
          f"libcurl, for {kinds['kinesis']} Kinesis, {kinds['s3']} S3, {kinds['other']} other "
          f"requests and {kinds['vector']} AWS test-suite vectors "
          f"({not_sent} with raw UTF-8 in the URL signed but, as they must be, refused by the client)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
