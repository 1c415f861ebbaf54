// Checks real dbavmd responses against openapi.yaml.
//
//   node validate-responses.mjs ../../openapi.yaml responses.jsonl [more.jsonl ...]
//
// Each line of the JSON-lines files is one exchange the API tests made: method, path, status,
// content_type, body. Every exchange must match an operation of the spec, a response the spec
// lists for it, its media type, and (for JSON) its schema, validated with Ajv's JSON Schema
// 2020-12, the dialect of OpenAPI 3.1. Then every response the spec lists must have been seen
// at least once, in one file or another: a contract nobody exercised is not checked.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import YAML from "yaml";

const [specPath, ...recordPaths] = process.argv.slice(2);
if (!specPath || !recordPaths.length) {
  console.error("usage: node validate-responses.mjs openapi.yaml responses.jsonl [more.jsonl ...]");
  process.exit(2);
}
const spec = YAML.parse(readFileSync(specPath, "utf8"));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(spec, "openapi.json");

const pointer = (parts) =>
  "#/" + parts.map((p) => encodeURIComponent(String(p).replace(/~/g, "~0").replace(/\//g, "~1"))).join("/");

function resolve(obj) {
  while (obj && obj.$ref) {
    const path = obj.$ref.replace(/^#\//, "").split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
    obj = path.reduce((o, k) => o[k], spec);
  }
  return obj;
}

// Path templates as regular expressions, most specific first.
const templates = Object.keys(spec.paths).map((t) => ({
  template: t,
  re: new RegExp("^" + t.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+") + "$"),
}));

// A path as the agent's router saw it; one that does not decode to UTF-8 (/%ff, sent on
// purpose) is matched as sent.
function decodePath(p) {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}

const seen = new Set();
const failures = [];
const lines = recordPaths.flatMap((p) => readFileSync(p, "utf8").split("\n").filter(Boolean));

for (const [n, line] of lines.entries()) {
  const x = JSON.parse(line);
  const where = `#${n + 1} ${x.method} ${x.path} -> ${x.status}`;
  const path = decodePath(x.path.split("?")[0]);
  const t = templates.find((t) => t.re.test(path));
  const method = x.method.toLowerCase();
  const op = t && spec.paths[t.template][method];
  if (!op) {
    // Undocumented methods and paths are answered 404/405 by design; they have no operation.
    if (x.status === 404 || x.status === 405) continue;
    failures.push(`${where}: no operation in the spec`);
    continue;
  }
  const code = String(x.status);
  const responses = op.responses;
  const key = code in responses ? code : `${code[0]}XX` in responses ? `${code[0]}XX` : "default";
  const resp = resolve(responses[key]);
  if (!resp) {
    failures.push(`${where}: status ${code} is not a documented response`);
    continue;
  }
  seen.add(`${method.toUpperCase()} ${t.template} ${key}`);
  const media = (x.content_type || "").split(";")[0].trim();
  if (!resp.content) {
    if (x.body) failures.push(`${where}: the spec says no body, got ${x.body.slice(0, 80)}`);
    continue;
  }
  if (!(media in resp.content)) {
    failures.push(`${where}: media type '${media}' not in ${Object.keys(resp.content)}`);
    continue;
  }
  const schemaAt = responses[key].$ref
    ? pointer([...responses[key].$ref.replace(/^#\//, "").split("/").map((s) => s.replace(/~1/g, "/")), "content", media, "schema"])
    : pointer(["paths", t.template, method, "responses", key, "content", media, "schema"]);
  const validate = ajv.getSchema("openapi.json" + schemaAt);
  if (!validate) {
    failures.push(`${where}: schema ${schemaAt} not found`);
    continue;
  }
  let body;
  if (media === "application/json") {
    try {
      body = JSON.parse(x.body);
    } catch (e) {
      failures.push(`${where}: body is not JSON: ${e.message}`);
      continue;
    }
  } else {
    body = x.body;
  }
  if (!validate(body)) {
    failures.push(`${where}: ${ajv.errorsText(validate.errors)}\n    body: ${x.body.slice(0, 300)}`);
  }
}

const missing = [];
for (const [t, item] of Object.entries(spec.paths)) {
  for (const [method, op] of Object.entries(item)) {
    if (!op || !op.responses) continue;
    for (const code of Object.keys(op.responses)) {
      const k = `${method.toUpperCase()} ${t} ${code}`;
      if (!seen.has(k)) missing.push(k);
    }
  }
}

console.log(`${lines.length} exchanges checked, ${seen.size} documented responses seen`);
for (const f of failures) console.log(`FAIL ${f}`);
for (const m of missing) console.log(`NOT EXERCISED ${m}`);
const passed = lines.length - failures.length;
console.log(`${passed} passed, ${failures.length + missing.length} failed`);
process.exit(failures.length + missing.length ? 1 : 0);
