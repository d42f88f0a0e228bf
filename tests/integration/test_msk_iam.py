"""Amazon MSK IAM tokens: ridepred's against botocore's, byte for byte.

The reference is what aws-msk-iam-sasl-signer-python 1.0.2 does
(MSKAuthTokenProvider.__construct_auth_token), done here with Debian's
python3-botocore since the signer itself is not packaged: SigV4QueryAuth
(service kafka-cluster, expires=900) on an AWSRequest GET of
https://kafka.REGION.amazonaws.com/ with params {Action:
kafka-cluster:Connect}, add_auth at a fixed clock (botocore's clock patched
as its own tests do), then params {User-Agent: UA} and prepare(), the URL
base64url-encoded with the padding stripped; the expiry as the signer's
__get_expiration_time_ms computes it from X-Amz-Date.

- tokens: 400 generated cases (14 regions, times 2000-2037 and day
  boundaries, key ids, secrets, with and without session tokens of up to
  1,200 bytes, four user agents, ridepred's default among them) through the
  msk_token_cli driver: token, expiry (ms) and principal equal.
- decoded: each token decoded back: https, kafka.REGION.amazonaws.com, path
  "/", the parameters in the signer's order with the values expected, and
  the signature recomputed here from the AWS SigV4 documentation's recipe
  (hashlib/hmac, not botocore) over everything but X-Amz-Signature and
  User-Agent: so User-Agent is indeed unsigned.
- presign: rp__sigv4_presign on 300 generated requests (S3 with
  S3SigV4QueryAuth, other services with SigV4QueryAuth; paths to normalise,
  encoded queries, ports, http and https, expiries 1-604800 s, tokens):
  the same URL as botocore's.
- errors: no region, no credentials, expired credentials, through the
  driver and through the chain (an empty HOME and environment): each
  message says what to set and holds no secret.

- wiring: `ridepred streams list --msk-iam` against librdkafka's mock
  cluster (kafka_mock): librdkafka asks ridepred for a token on its
  background thread, which is made from the environment's credentials for
  the --region given (the debug log names the key id and an expiry 900 s
  ahead, never the token); without credentials the error says what to set.
  The mock speaks no SASL, so the connection then fails: what MSK would do
  with the token is not exercised here.

There is no MSK cluster here: no token reaches an MSK broker.  The driver is
$RIDEPRED_BUILD_DIR/msk_token_cli (default: build/).
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import random
import re
import subprocess
import sys
import time
from unittest import mock
from urllib.parse import quote, unquote, unquote_plus, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tools"))
import rptest  # noqa: E402

try:
    import botocore
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:  # pragma: no cover
    rptest.skip("botocore is not installed (Debian: python3-botocore)")

SEED = 20240918
N_TOKENS = 400
N_PRESIGN = 300
CLI = rptest.need_bin(os.path.join(rptest.BUILD, "msk_token_cli"), "the msk_token_cli driver")

REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "eu-south-2",
           "ap-southeast-2", "ap-northeast-1", "ap-south-1", "sa-east-1", "ca-central-1",
           "cn-north-1", "us-gov-west-1", "il-central-1"]
PYTHON_SIGNER_UA = "aws-msk-iam-sasl-signer-python/1.0.2"
EXPIRES = 900
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def project_version():
    text = open(os.path.join(rptest.SRC, "CMakeLists.txt"), encoding="utf-8").read()
    return re.search(r"project\(ridepred VERSION ([0-9.]+)", text).group(1)


DEFAULT_UA = "ridepred/" + project_version()


# ---- botocore's side ---------------------------------------------------------------

def fixed_clock(t):
    """Patches botocore's signing clock to t (seconds since the epoch), for
    this botocore (datetime.datetime.utcnow) and newer ones
    (get_current_datetime)."""
    fixed = datetime.datetime.utcfromtimestamp(t)

    class FixedDateTime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return fixed

    patches = [mock.patch.object(botocore.auth.datetime, "datetime", FixedDateTime)]
    if hasattr(botocore.auth, "get_current_datetime"):
        patches.append(mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: fixed))
    return patches


def with_clock(t, fn):
    patches = fixed_clock(t)
    for p in patches:
        p.start()
    try:
        return fn()
    finally:
        for p in reversed(patches):
            p.stop()


def python_signer_token(region, ak, sk, token, t, ua):
    """aws-msk-iam-sasl-signer-python's __construct_auth_token and
    __get_expiration_time_ms, at the clock t."""
    creds = Credentials(ak, sk, token)
    sig = botocore.auth.SigV4QueryAuth(creds, "kafka-cluster", region, expires=EXPIRES)
    request = AWSRequest(method="GET", url=f"https://kafka.{region}.amazonaws.com/",
                         params={"Action": "kafka-cluster:Connect"})
    with_clock(t, lambda: sig.add_auth(request))
    request.params = {"User-Agent": ua}
    signed_url = request.prepare().url
    tok = base64.urlsafe_b64encode(signed_url.encode("utf-8")).decode("utf-8").rstrip("=")
    q = dict(p.split("=", 1) for p in urlsplit(request.url).query.split("&"))
    signing_time = datetime.datetime.strptime(q["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=datetime.timezone.utc)
    expiry_ms = (int(signing_time.timestamp()) + EXPIRES) * 1000
    return tok, expiry_ms, signed_url


def botocore_presign(case):
    creds = Credentials(case["ak"], case["sk"], case["token"])
    cls = botocore.auth.S3SigV4QueryAuth if case["s3"] else botocore.auth.SigV4QueryAuth
    sig = cls(creds, case["service"], case["region"], expires=case["expires"])
    request = AWSRequest(method=case["method"], url=case["url"])
    with_clock(case["time"], lambda: sig.add_auth(request))
    return request.url


# ---- the driver ------------------------------------------------------------------------

def cli(*args, env=None):
    p = subprocess.run([CLI, *[str(a) for a in args]], capture_output=True, text=True, env=env, timeout=30)
    if p.returncode not in (0, 1) or not p.stdout.strip():
        raise AssertionError(f"msk_token_cli {args[0]} exited {p.returncode}: {p.stderr.strip()}")
    return p.returncode, json.loads(p.stdout)


def ridepred_token(region, ak, sk, token, t, ua, expiration=None):
    args = ["token", "--region", region, "--access-key", ak, "--secret-key", sk, "--time", t,
            "--user-agent", "-" if ua is None else ua]
    if token is not None:
        args += ["--token", token]
    if expiration is not None:
        args += ["--expiration", expiration]
    return cli(*args)


# ---- generated inputs ----------------------------------------------------------------

def rand_key_id(rng):
    return rng.choice(["AKIA", "ASIA"]) + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
                                                  for _ in range(16))


def rand_secret(rng):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(rng.choice(alphabet) for _ in range(40))


def rand_token(rng):
    n = rng.choice([16, 64, 356, 900])
    return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(n))).decode()


def rand_time(rng):
    if rng.random() < 0.1:
        return rng.randrange(946684800, 2145916800, 86400) - rng.choice([0, 1])
    return rng.randrange(946684800, 2145916800)


def token_cases():
    rng = random.Random(SEED)
    uas = [None, PYTHON_SIGNER_UA, "my app/1.0 (x+y)", "caf\u00e9/2~"]
    cases = []
    for i in range(N_TOKENS):
        cases.append({
            "region": REGIONS[i % len(REGIONS)],
            "ak": rand_key_id(rng),
            "sk": rand_secret(rng),
            "token": rand_token(rng) if i % 2 else None,
            "time": rand_time(rng),
            "ua": uas[(i // 2) % len(uas)],
        })
    return cases


# ---- tests -------------------------------------------------------------------------------

def test_tokens():
    shown = 0
    t = rptest.tally
    t.quiet = True
    for case in token_cases():
        ua = case["ua"] if case["ua"] is not None else DEFAULT_UA
        want_tok, want_exp, want_url = python_signer_token(case["region"], case["ak"], case["sk"],
                                                           case["token"], case["time"], ua)
        rc, got = ridepred_token(case["region"], case["ak"], case["sk"], case["token"], case["time"],
                                 case["ua"])
        label = f"token {case['region']} t={case['time']} token={'yes' if case['token'] else 'no'} ua={ua!r}"
        ok = (rc == 0 and got.get("token") == want_tok and got.get("expiry_ms") == want_exp
              and got.get("principal") == case["ak"])
        if not ok and shown < 5:
            shown += 1
            got_url = ""
            if rc == 0:
                tok = got["token"]
                got_url = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)).decode("utf-8", "replace")
            t.fail(label, f"\n  botocore: {want_url} (expiry {want_exp})\n  ridepred: {got_url or got} "
                          f"(expiry {got.get('expiry_ms')})")
        elif not ok:
            t.fail(label)
        else:
            t.ok(label)
    t.quiet = False
    rptest.say(f"     {N_TOKENS} tokens compared with botocore")


def canonical_query(pairs):
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def recompute_signature(region, sk, pairs):
    """The SigV4 signature from the AWS documentation's recipe, over the
    query's pairs (as sent, already encoded)."""
    date = dict(pairs)["X-Amz-Date"]
    host = f"kafka.{region}.amazonaws.com"
    canonical = "\n".join(["GET", "/", canonical_query(pairs), f"host:{host}", "", "host", EMPTY_SHA256])
    scope = f"{date[:8]}/{region}/kafka-cluster/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(canonical.encode()).hexdigest()])

    def sign(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    k = sign(sign(sign(sign(("AWS4" + sk).encode(), date[:8]), region), "kafka-cluster"), "aws4_request")
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


def test_decoded():
    t = rptest.tally
    t.quiet = True
    for case in token_cases()[:120]:
        rc, got = ridepred_token(case["region"], case["ak"], case["sk"], case["token"], case["time"],
                                 case["ua"])
        label = f"decoded {case['region']} t={case['time']} token={'yes' if case['token'] else 'no'}"
        if rc != 0:
            t.fail(label, got)
            continue
        tok = got["token"]
        problems = []
        if not re.fullmatch(r"[A-Za-z0-9_-]+", tok) or len(tok) % 4 == 1:
            problems.append("not base64url without padding")
        url = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)).decode("utf-8")
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc, parts.path, parts.fragment) != (
                "https", f"kafka.{case['region']}.amazonaws.com", "/", ""):
            problems.append(f"scheme/host/path {parts.scheme}://{parts.netloc}{parts.path}")
        pairs = [p.split("=", 1) for p in parts.query.split("&")]
        keys = [k for k, _ in pairs]
        want_keys = ["Action", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                     "X-Amz-SignedHeaders"] + (["X-Amz-Security-Token"] if case["token"] else []) + [
                        "X-Amz-Signature", "User-Agent"]
        if keys != want_keys:
            problems.append(f"parameters {keys}")
        # User-Agent as urlencode wrote it (quote_plus: a blank is '+').
        q = {k: unquote_plus(v) if k == "User-Agent" else unquote(v) for k, v in pairs}
        date = datetime.datetime.utcfromtimestamp(case["time"]).strftime("%Y%m%dT%H%M%SZ")
        want = {
            "Action": "kafka-cluster:Connect",
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"{case['ak']}/{date[:8]}/{case['region']}/kafka-cluster/aws4_request",
            "X-Amz-Date": date,
            "X-Amz-Expires": "900",
            "X-Amz-SignedHeaders": "host",
            "User-Agent": case["ua"] if case["ua"] is not None else DEFAULT_UA,
        }
        if case["token"]:
            want["X-Amz-Security-Token"] = case["token"]
        for k, v in want.items():
            got_v = q.get(k)
            if got_v != v:
                problems.append(f"{k}={got_v!r}, want {v!r}")
        signed = [(k, v) for k, v in pairs if k not in ("X-Amz-Signature", "User-Agent")]
        if q.get("X-Amz-Signature") != recompute_signature(case["region"], case["sk"], signed):
            problems.append("X-Amz-Signature is not the signature of the other parameters but User-Agent")
        if got["expiry_ms"] != (case["time"] + 900) * 1000:
            problems.append(f"expiry_ms {got['expiry_ms']}")
        t.check(not problems, label, "; ".join(problems))
    t.quiet = False


def presign_cases():
    rng = random.Random(SEED + 1)
    cases = []
    for i in range(N_PRESIGN):
        s3 = i % 3 == 0
        region = rng.choice(REGIONS)
        service = "s3" if s3 else rng.choice(["kafka-cluster", "sts", "rds-db", "execute-api", "kinesis"])
        host = rng.choice([f"{service}.{region}.amazonaws.com", "Bucket.S3.AmazonAWS.com", "127.0.0.1:4566",
                           f"{service}.{region}.amazonaws.com:443", "localhost:9000", "[::1]:8443"])
        scheme = "https" if rng.random() < 0.8 else "http"
        segs = rng.choice([[""], ["obj.txt"], ["a", ".", "b", "", "c"], ["dir", "..", "key with space"],
                           ["caf\u00e9", "x~y+z"], ["a", "b", ""]])
        path = "/" + "/".join(quote(s, safe="-_.~") for s in segs)
        params = []
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            key = rng.choice(["Action", "Version", "DBUser", "versionId", "prefix", "x-id", "partNumber"])
            if key in (k for k, _ in params):
                continue
            value = rng.choice(["kafka-cluster:Connect", "2011-06-15", "a b", "caf\u00e9", "1", "a/b+c=d",
                                "~!*'()"])
            params.append((key, value))
        query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in params)
        url = f"{scheme}://{host}{path}" + (f"?{query}" if query else "")
        cases.append({
            "method": rng.choice(["GET", "GET", "PUT", "HEAD", "DELETE"]),
            "url": url, "service": service, "region": region, "s3": s3,
            "expires": rng.choice([1, 60, 900, 3600, 86400, 604800, rng.randrange(1, 604801)]),
            "time": rand_time(rng), "ak": rand_key_id(rng), "sk": rand_secret(rng),
            "token": rand_token(rng) if rng.random() < 0.5 else None,
        })
    return cases


def test_presign():
    t = rptest.tally
    t.quiet = True
    shown = 0
    for case in presign_cases():
        want = botocore_presign(case)
        args = ["presign", "--method", case["method"], "--url", case["url"], "--service", case["service"],
                "--region", case["region"], "--expires", case["expires"], "--time", case["time"],
                "--access-key", case["ak"], "--secret-key", case["sk"]]
        if case["token"] is not None:
            args += ["--token", case["token"]]
        if case["s3"]:
            args.append("--s3")
        rc, got = cli(*args)
        label = f"presign {case['method']} {case['url']} ({case['service']}, {case['expires']} s)"
        if rc == 0 and got["url"] == want:
            t.ok(label)
        elif shown < 5:
            shown += 1
            t.fail(label, f"\n  botocore: {want}\n  ridepred: {got.get('url', got)}"
                          f"\n  canonical: {got.get('canonical_request', '')!r}")
        else:
            t.fail(label)
    t.quiet = False
    rptest.say(f"     {N_PRESIGN} presigned URLs compared with botocore")


SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION = "IQoJb3JpZ2luX2VjSESSIONTOKENVALUE+/="


def no_secret(text):
    return SECRET not in text and SESSION not in text and quote(SESSION, safe="") not in text


def test_errors(tmp):
    rc, got = cli("token", "--region", "", "--access-key", "AKIDEXAMPLE", "--secret-key", SECRET,
                  "--token", SESSION, "--time", 1700000000)
    rptest.check(rc == 1 and got["code"] == "invalid" and "AWS_REGION" in got["error"]
                 and no_secret(got["error"]), "empty region: says to set AWS_REGION", got)
    rc, got = cli("token", "--region", "us-east-1", "--access-key", "", "--secret-key", "", "--time", 1700000000)
    rptest.check(rc == 1 and got["code"] == "invalid" and "AWS_ACCESS_KEY_ID" in got["error"]
                 and "AWS_SECRET_ACCESS_KEY" in got["error"], "no credentials: says what to set", got)
    rc, got = ridepred_token("us-east-1", "ASIAEXAMPLE", SECRET, SESSION, 1700000000, None,
                             expiration=1700000000)
    rptest.check(rc == 1 and "expired" in got["error"] and no_secret(got["error"]),
                 "expired credentials refused", got)
    rc, got = ridepred_token("us-east-1", "ASIAEXAMPLE", SECRET, SESSION, 1700000000, None,
                             expiration=1700000300)
    rptest.check(rc == 0 and got["expiry_ms"] == 1700000300 * 1000,
                 "credentials expiring in 300 s bring the expiry forward", got)

    # Through the chain: an empty HOME and no AWS variables.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}
    rc, got = cli("resolve", "--time", 1700000000, env=env)
    rptest.check(rc == 1 and got["code"] == "not_found" and "set AWS_REGION" in got["error"],
                 "resolve without a region: says to set AWS_REGION", got)
    rc, got = cli("resolve", "--region", "eu-west-1", "--time", 1700000000, env=env)
    rptest.check(rc == 1 and got["code"] == "not_found" and "AWS_ACCESS_KEY_ID" in got["error"]
                 and "AWS_SECRET_ACCESS_KEY" in got["error"], "resolve without credentials: says what to set",
                 got)
    env.update({"AWS_ACCESS_KEY_ID": "ASIAEXAMPLEKEYID0001", "AWS_SECRET_ACCESS_KEY": SECRET,
                "AWS_SESSION_TOKEN": SESSION, "AWS_REGION": "eu-west-1"})
    rc, got = cli("resolve", "--time", 1700000000, env=env)
    want_tok, want_exp, _ = python_signer_token("eu-west-1", "ASIAEXAMPLEKEYID0001", SECRET, SESSION,
                                                1700000000, DEFAULT_UA)
    rptest.check(rc == 0 and got["token"] == want_tok and got["expiry_ms"] == want_exp,
                 "resolve from the environment: botocore's token", got)


def test_wiring(tmp):
    mock_bin = rptest.need_bin(os.path.join(rptest.BUILD, "kafka_mock"), "the kafka_mock tool")
    cluster = subprocess.Popen([mock_bin, "--topic", "t:1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        brokers = cluster.stdout.readline().strip()
        base = {"PATH": os.environ.get("PATH", ""), "HOME": tmp, "RIDEPRED_KAFKA_BROKERS": brokers}
        args = [rptest.BIN, "streams", "list", "--backend", "kafka", "--msk-iam", "--region", "eu-west-1",
                # The mock has no TLS: SASL over plaintext, so that librdkafka
                # gets as far as asking for the token.
                "--kafka-config", "security.protocol=SASL_PLAINTEXT", "--kafka-config", "socket.timeout.ms=2000",
                "--log-level", "debug"]
        env = dict(base, AWS_ACCESS_KEY_ID="AKIAWIRINGTEST000001", AWS_SECRET_ACCESS_KEY=SECRET)
        t0 = int(time.time())
        p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        made = re.search(r"MSK IAM token made principal=(\S+) expiry_ms=(\d+) region=(\S+)", p.stderr)
        rptest.check(made is not None, "librdkafka asked for a token and got one", p.stderr[-800:])
        if made:
            exp = int(made.group(2)) // 1000
            rptest.check(made.group(1) == "AKIAWIRINGTEST000001" and made.group(3) == "eu-west-1",
                         "the token is for the environment's key and the --region given", made.group(0))
            rptest.check(t0 + EXPIRES - 5 <= exp <= int(time.time()) + EXPIRES + 1, "it expires 900 s ahead",
                         made.group(0))
        rptest.check(no_secret(p.stderr) and "X-Amz-Signature" not in p.stderr,
                     "neither the secret nor the token is logged")
        p = subprocess.run(args[:-2], env=base, capture_output=True, text=True, timeout=60)
        rptest.check(p.returncode != 0 and "cannot make an MSK IAM token" in p.stderr
                     and "AWS_ACCESS_KEY_ID" in p.stderr, "no credentials: an error that says what to set",
                     p.stderr[-600:])
    finally:
        cluster.stdin.close()
        cluster.wait(timeout=10)


if __name__ == "__main__":
    rptest.run([test_tokens, test_decoded, test_presign], finish=False)
    rptest.run_one("errors", test_errors, tmp_prefix="rp-msk-")
    rptest.run_one("wiring", test_wiring, tmp_prefix="rp-msk-")
    rptest.tally.finish()
