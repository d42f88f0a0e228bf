"""The container credentials endpoint, served by this test on 127.0.0.1.

Starts an http.server on an ephemeral port that answers as the ECS / EKS
credentials endpoint does (AccessKeyId, SecretAccessKey, Token, Expiration)
and checks the Authorization header it receives; then runs the
aws_creds_cli driver (which prints the key id and whether a token was
set, never the secret) with a clean environment and an empty HOME:

  - AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN;
  - the token read from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (which wins
    over the variable), a trailing newline dropped;
  - a wrong token (401: not retried), 404 (not retried), 500 (retried,
    then a clear error), a refused connection (retried), an answer that is
    not JSON or lacks the secret (clear errors that do not quote it);
  - an endpoint that echoes the request's headers in its error (JSON
    message, retried 500, plain text) or quotes the token: the error gives
    the status and a summary with the token redacted, at every log level;
  - the environment and the shared files still win over the endpoint;
  - a host that plain http may not reach is refused without a request;
  - AWS_CONTAINER_CREDENTIALS_RELATIVE_URI goes to 169.254.170.2 and wins
    over the full URI.
No secret may appear in the driver's output in any case.

Prints "N passed, N failed" (counting checks); exits 1 on any failure.
The driver is $RIDEPRED_BUILD_DIR/aws_creds_cli (default: build/).
"""

import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("RIDEPRED_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
BUILD = os.environ.get("RIDEPRED_BUILD_DIR", os.path.join(SOURCE, "build"))
CLI = os.path.join(BUILD, "aws_creds_cli")

TOKEN = "container-auth-TOKEN-7f3a"
SECRET = "ContainerSecret/abc+DEF123456789xyz000"
SESSION = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN=="
ANSWER = {
    "RoleArn": "arn:aws:iam::000000000000:role/ridepred",
    "AccessKeyId": "ASIACONTAINEREXAMPLE",
    "SecretAccessKey": SECRET,
    "Token": SESSION,
    "Expiration": "2030-01-02T03:04:05Z",
}
SECRETS = [TOKEN, SECRET, SESSION, "ContainerSecret"]


class State:
    hits = {}
    auth_seen = []


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path
        State.hits[path] = State.hits.get(path, 0) + 1
        State.auth_seen.append(self.headers.get("Authorization"))
        if path == "/creds":
            if self.headers.get("Authorization") != TOKEN:
                return self.reply(401, json.dumps({"code": "AccessDenied", "message": "bad token"}))
            return self.reply(200, json.dumps(ANSWER))
        if path == "/open":  # no token required
            return self.reply(200, json.dumps(ANSWER))
        if path == "/missing":
            return self.reply(404, "404 page not found", "text/plain")
        if path == "/broken":
            return self.reply(500, json.dumps({"code": "InternalError", "message": "try again"}))
        if path == "/notjson":
            return self.reply(200, "SecretAccessKey=" + SECRET, "text/plain")
        if path == "/nosecret":
            return self.reply(200, json.dumps({"AccessKeyId": "ASIAONLYKEY", "Token": SESSION}))
        # Servers that echo the request in their errors.
        echoed = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
        if path == "/echo":
            return self.reply(401, json.dumps({"code": "AccessDenied", "message": "denied; you sent:\n" + echoed}))
        if path == "/echo500":
            return self.reply(500, json.dumps({"code": "InternalError",
                                               "message": "try again; headers " + json.dumps(dict(self.headers))}))
        if path == "/echotext":
            return self.reply(403, "denied; you sent:\n" + echoed, "text/plain")
        if path == "/quote":
            return self.reply(401, json.dumps({"message": "invalid token " + str(self.headers.get("Authorization"))}))
        return self.reply(404, "no route")


checks = {"passed": 0, "failed": 0}


def check(cond, what, detail=""):
    if cond:
        checks["passed"] += 1
    else:
        checks["failed"] += 1
        print(f"FAIL {what}" + (f"\n{detail}" if detail else ""))


def run(env_extra, *args, home=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = home
    env.update(env_extra)
    p = subprocess.run([CLI, "--attempts", "3", "--timeout-ms", "2000", *args], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    out, err = p.stdout.decode(), p.stderr.decode()
    for s in SECRETS:
        check(s not in out and s not in err, f"no secret in the output ({s[:12]}...)", out + err)
    fields = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    return p.returncode, fields, err


def main():
    if not os.path.exists(CLI):
        print(f"{CLI} not built")
        return 1
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"

    with tempfile.TemporaryDirectory(prefix="rp-creds-") as home:
        os.mkdir(os.path.join(home, ".aws"))

        # The token from the variable, checked by the server.
        State.hits.clear()
        rc, f, err = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/creds",
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN}, home=home)
        check(rc == 0, "full URI + token: resolved", err)
        check(f.get("source") == "container-endpoint", "source is the container endpoint", str(f))
        check(f.get("access_key_id") == "ASIACONTAINEREXAMPLE", "the key id", str(f))
        check(f.get("session_token") == "yes", "a session token", str(f))
        check(f.get("expiration") == "1893553445", "the expiration", str(f))
        check(State.hits.get("/creds") == 1, "one request")
        check(State.auth_seen[-1] == TOKEN, "the server saw the token")

        # The token file wins over the variable; its trailing newline goes.
        token_file = os.path.join(home, "token")
        with open(token_file, "w") as fh:
            fh.write(TOKEN + "\n")
        rc, f, err = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/creds",
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong",
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token_file}, home=home)
        check(rc == 0 and f.get("access_key_id") == "ASIACONTAINEREXAMPLE",
              "token file: resolved", err)

        # No token at all where none is needed: no Authorization header sent.
        State.auth_seen.clear()
        rc, f, err = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/open"}, home=home)
        check(rc == 0 and State.auth_seen == [None], "no token: no Authorization header", err)

        # A wrong token: 401, not retried, a clear error.
        State.hits.clear()
        rc, f, err = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/creds",
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong"}, home=home)
        check(rc == 1, "wrong token: fails")
        check("container credentials endpoint http://127.0.0.1:%d" % port in err and "HTTP 401" in err
              and "AccessDenied" in err, "wrong token: names the endpoint and the status", err)
        check(State.hits.get("/creds") == 1, "401 is not retried", str(State.hits))

        # 404: not retried.
        State.hits.clear()
        rc, f, err = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/missing"}, home=home)
        check(rc == 1 and "HTTP 404" in err and "AWS_CONTAINER_CREDENTIALS_FULL_URI" in err,
              "404: a clear error", err)
        check("retriable: no" in err, "404 is not retriable", err)
        check(State.hits.get("/missing") == 1, "404 is not retried", str(State.hits))

        # 500: retried (3 attempts), then a clear error.
        State.hits.clear()
        rc, f, err = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/broken"}, home=home)
        check(rc == 1 and "HTTP 500 InternalError: try again (3 attempts)" in err, "500: a clear error", err)
        check("retriable: yes" in err, "500 is retriable", err)
        check(State.hits.get("/broken") == 3, "500 is retried", str(State.hits))

        # A refused connection: retried, then an error naming the endpoint.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
        s.close()
        rc, f, err = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://127.0.0.1:{dead}/creds"}, home=home)
        check(rc == 1 and f"127.0.0.1:{dead}" in err and "(3 attempts)" in err and "retriable: yes" in err,
              "refused: retried, then a clear error", err)

        # Answers that are not credentials.
        rc, f, err = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/notjson"}, home=home)
        check(rc == 1 and "not a JSON object" in err, "not JSON: a clear error", err)
        rc, f, err = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/nosecret"}, home=home)
        check(rc == 1 and "no SecretAccessKey" in err, "no secret: a clear error", err)

        # Endpoints that echo the request: the status and a summary, the
        # token redacted (run() checks that no secret is in the output),
        # also in the debug log of the retries.
        tok = {"AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN, "RIDEPRED_LOG_LEVEL": "debug"}
        rc, f, err = run(dict(tok, AWS_CONTAINER_CREDENTIALS_FULL_URI=base + "/echo"), home=home)
        check(rc == 1 and "HTTP 401 AccessDenied: denied; you sent:" in err and "Authorization: [redacted]" in err,
              "an echoed Authorization header: status and summary, the token redacted", err)
        State.hits.clear()
        rc, f, err = run(dict(tok, AWS_CONTAINER_CREDENTIALS_FULL_URI=base + "/echo500"), home=home)
        check(rc == 1 and "HTTP 500 InternalError: try again" in err and '"Authorization": "[redacted]"' in err
              and "(3 attempts)" in err and State.hits.get("/echo500") == 3
              and err.count("retrying HTTP request") == 2,
              "an echo in a retried 500: the token redacted", err)
        rc, f, err = run(dict(tok, AWS_CONTAINER_CREDENTIALS_FULL_URI=base + "/echotext"), home=home)
        check(rc == 1 and "HTTP 403" in err, "an echo in a text body: the status", err)
        rc, f, err = run(dict(tok, AWS_CONTAINER_CREDENTIALS_FULL_URI=base + "/quote"), home=home)
        check(rc == 1 and "HTTP 401: invalid token [redacted]" in err, "the token quoted in a message: redacted", err)

        # Plain http to another host is refused before any request.
        State.hits.clear()
        rc, f, err = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://192.0.2.1/creds"}, home=home)
        check(rc == 1 and "not allowed" in err, "a non-local http host is refused", err)

        # The environment and the shared files come first.
        State.hits.clear()
        rc, f, err = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/open",
                          "AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT", "AWS_SECRET_ACCESS_KEY": "x" * 40},
                         home=home)
        check(rc == 0 and f.get("source") == "environment" and not State.hits,
              "the environment wins over the endpoint", err)
        with open(os.path.join(home, ".aws", "credentials"), "w") as fh:
            fh.write("[default]\naws_access_key_id = AKIAFROMFILE\naws_secret_access_key = " + "y" * 40 + "\n")
        rc, f, err = run({"AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/open"}, home=home)
        check(rc == 0 and f.get("source") == "shared-credentials-file" and not State.hits,
              "the shared file wins over the endpoint", err)
        os.unlink(os.path.join(home, ".aws", "credentials"))

        # The relative URI goes to the ECS address (unreachable here), not to
        # the full URI.
        State.hits.clear()
        rc, f, err = run({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/open"},
                         "--timeout-ms", "300", "--attempts", "1", home=home)
        check(rc == 1 and "169.254.170.2" in err and "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" in err
              and not State.hits, "the relative URI wins and goes to 169.254.170.2", err)

        # Nothing anywhere: the error lists what was tried.
        rc, f, err = run({}, home=home)
        check(rc == 1 and "no AWS credentials found" in err and "container endpoint" in err,
              "nothing found: what was tried", err)

    server.shutdown()
    print(f"{checks['passed']} passed, {checks['failed']} failed")
    return 1 if checks["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
