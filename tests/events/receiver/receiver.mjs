// A webhook receiver on 127.0.0.1 for Gatehouse's tests. Every request to a hook path is
// verified with npm standardwebhooks (independent of the Python library that signs, T7)
// against the secrets the test gave for that path, logged, and answered as the test scripted.
//
// Control (JSON): POST /_control/secrets {path, secrets}; POST /_control/script {path,
// responses: [{status, headers, body, sleep_ms, stall}]} (taken in turn, then 200);
// GET /_control/log. The first line on stdout is {"port": N}.
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import { Webhook } from "standardwebhooks";

const secrets = new Map();
const scripts = new Map();
const log = [];
const stalled = new Set();

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
  });
}

function json(res, status, value) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

async function control(req, res, body) {
  if (req.method === "GET" && req.url === "/_control/log") return json(res, 200, log);
  const input = body.length ? JSON.parse(body.toString("utf8")) : {};
  if (req.url === "/_control/secrets") {
    secrets.set(input.path, input.secrets);
    return json(res, 200, { ok: true });
  }
  if (req.url === "/_control/script") {
    scripts.set(input.path, [...(scripts.get(input.path) || []), ...input.responses]);
    return json(res, 200, { ok: true });
  }
  if (req.url === "/_control/release") {
    for (const r of stalled) r.destroy();
    stalled.clear();
    return json(res, 200, { ok: true });
  }
  return json(res, 404, { error: "unknown control" });
}

function verify(path, body, headers) {
  const verifiedBy = [];
  let error = "";
  (secrets.get(path) || []).forEach((secret, index) => {
    try {
      new Webhook(secret).verify(body.toString("utf8"), headers);
      verifiedBy.push(index);
    } catch (e) {
      error = String(e.message || e);
    }
  });
  return { verifiedBy, error };
}

// bench/events.py serves it over TLS (RECEIVER_TLS_CERT and _KEY: PEM files), as production
// endpoints are; the tests use plain HTTP on 127.0.0.1.
const tls = process.env.RECEIVER_TLS_CERT
  ? { cert: fs.readFileSync(process.env.RECEIVER_TLS_CERT), key: fs.readFileSync(process.env.RECEIVER_TLS_KEY) }
  : null;
const handler = async (req, res) => {
  const body = await readBody(req);
  if (req.url.startsWith("/_control/")) return control(req, res, body);
  const path = req.url;
  const { verifiedBy, error } = verify(path, body, req.headers);
  log.push({
    path,
    webhook_id: req.headers["webhook-id"] || "",
    timestamp: req.headers["webhook-timestamp"] || "",
    signature: req.headers["webhook-signature"] || "",
    user_agent: req.headers["user-agent"] || "",
    verified_by: verifiedBy,
    error,
    body: body.toString("utf8"),
    at: Date.now(),
  });
  const queue = scripts.get(path) || [];
  const step = queue.length ? queue.shift() : { status: 200 };
  if (step.stall) {
    stalled.add(res.socket);
    return; // never answers; the client's deadline or a release ends it
  }
  const answer = () => {
    res.writeHead(step.status || 200, { "content-type": "text/plain", ...(step.headers || {}) });
    res.end(step.body || "ok");
  };
  if (step.sleep_ms) setTimeout(answer, step.sleep_ms);
  else answer();
};
const server = tls ? https.createServer(tls, handler) : http.createServer(handler);

server.listen(0, process.env.RECEIVER_HOST || "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
