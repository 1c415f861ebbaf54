// Checks a Grafana dashboard (packaging/grafana/dbavm.json) without a Grafana:
//
//  1. Against Grafana's own schema. @grafana/schema is the TypeScript that Grafana's CUE
//     schemas (its "kinds") compile to: the dashboard (v1, the provisioning format) and each
//     panel plugin's options and field config. The JSON is written out as object literals
//     typed with them, and tsc --strict compiles that: a missing required field, a wrong
//     type, a value outside an enumeration or a misspelt key (excess property) is an error.
//  2. What the schema cannot say: panel ids unique, every panel on the 24-column grid with
//     no two overlapping, rows in order, every target's datasource the ${datasource}
//     variable, refIds unique within a panel, every $variable used is defined.
//
//   node check-dashboard.mjs DASHBOARD.json
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const file = process.argv[2];
const dash = JSON.parse(readFileSync(file, "utf8"));
let failed = 0;
let passed = 0;
function check(what, ok, detail = "") {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${ok || !detail ? "" : ": " + detail}`);
}

// ---- 1. Grafana's schema, through tsc ----
const schema = "../node_modules/@grafana/schema/dist/types/raw/composable";
// each plugin's options type, and its field config's where it has one
const plugins = {
  timeseries: "Panel<timeseries.Options, timeseries.FieldConfig>",
  stat: "Panel<stat.Options>",
  bargauge: "Panel<bargauge.Options>",
};
const lit = (v) => JSON.stringify(v, null, 2);
let ts = `import type { Dashboard, Panel, RowPanel } from "@grafana/schema";\n`;
for (const type of Object.keys(plugins))
  ts += `import type * as ${type} from "${schema}/${type}/panelcfg/x/types.gen";\n`;
// JSON holds an enumeration's value ("absolute"), TypeScript wants its member
// (ThresholdsMode.Absolute): Json<T> is T with every string enum as the union of its values,
// and nothing else changed (required fields, other types, excess properties all still count).
ts += `type Json<T> = T extends string ? \`\${T}\` : T extends Array<infer U> ? Array<Json<U>>
  : T extends object ? { [K in keyof T]: Json<T[K]> } : T;\n`;
ts += `\nexport const dashboard: Json<Dashboard> = ${lit(dash)};\n`;
const flat = [];
for (const p of dash.panels ?? []) {
  flat.push(p);
  for (const q of p.panels ?? []) flat.push(q);
}
const unknownTypes = [];
flat.forEach((p, i) => {
  if (p.type === "row") ts += `\nexport const panel${i}: Json<RowPanel> = ${lit(p)};\n`;
  else if (plugins[p.type]) ts += `\nexport const panel${i}: Json<${plugins[p.type]}> = ${lit(p)};\n`;
  else unknownTypes.push(p.type);
});
check("every panel is of a type whose schema is checked (row, timeseries, stat, bargauge)",
  unknownTypes.length === 0, unknownTypes.join(", "));
const dir = join(here, ".check");
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "dashboard.ts"), ts);
let tscOut = "";
try {
  execFileSync(join(here, "node_modules/.bin/tsc"),
    ["--noEmit", "--strict", "--target", "es2022", "--module", "esnext",
     "--moduleResolution", "bundler", "--skipLibCheck", join(dir, "dashboard.ts")],
    { cwd: here, encoding: "utf8", stdio: "pipe" });
} catch (e) {
  tscOut = (e.stdout || "") + (e.stderr || "");
}
check(`the dashboard and its ${flat.length} panels type-check against @grafana/schema (tsc --strict)`,
  tscOut === "", "\n" + tscOut);

// ---- 2. What the schema does not say ----
const ids = flat.map((p) => p.id);
check("panel ids are unique", new Set(ids).size === ids.length, ids.join(","));
const cells = new Map();
let overlap = "";
let offGrid = "";
for (const p of flat) {
  const g = p.gridPos;
  if (!g || g.x < 0 || g.w < 1 || g.x + g.w > 24 || g.h < 1 || g.y < 0) offGrid += ` ${p.id}`;
  else
    for (let x = g.x; x < g.x + g.w; x++)
      for (let y = g.y; y < g.y + g.h; y++) {
        const k = `${x},${y}`;
        if (cells.has(k) && !overlap) overlap = `panels ${cells.get(k)} and ${p.id} at ${k}`;
        cells.set(k, p.id);
      }
}
check("every panel on the 24-column grid", offGrid === "", offGrid);
check("no two panels overlap", overlap === "", overlap);
const vars = new Set((dash.templating?.list ?? []).map((v) => v.name));
const builtin = new Set(["__rate_interval", "__interval", "__range", "__interval_ms", "__range_s"]);
let undefinedVars = "";
let badDs = "";
let badRef = "";
let noExpr = "";
for (const p of flat) {
  if (p.type === "row") continue;
  const refs = new Set();
  for (const t of p.targets ?? []) {
    if (t.datasource?.uid !== "${datasource}") badDs += ` ${p.id}/${t.refId}`;
    if (!t.refId || refs.has(t.refId)) badRef += ` ${p.id}/${t.refId}`;
    refs.add(t.refId);
    if (!t.expr) noExpr += ` ${p.id}/${t.refId}`;
    for (const m of (t.expr ?? "").matchAll(/\$\{?(\w+)/g))
      if (!vars.has(m[1]) && !builtin.has(m[1])) undefinedVars += ` ${m[1]}`;
  }
  if (!(p.targets ?? []).length) noExpr += ` ${p.id}`;
}
for (const v of dash.templating?.list ?? [])
  for (const m of JSON.stringify(v.query ?? "").matchAll(/\$\{?(\w+)/g))
    if (!vars.has(m[1])) undefinedVars += ` ${m[1]}`;
check("every target queries the ${datasource} variable, a Prometheus", badDs === "", badDs);
check("refIds present and unique within each panel", badRef === "", badRef);
check("every panel has targets, every target an expression", noExpr === "", noExpr);
check("every $variable used is defined", undefinedVars === "", undefinedVars);
check("a datasource variable of type prometheus (provisioning needs no __inputs)",
  (dash.templating?.list ?? []).some((v) => v.type === "datasource" && v.query === "prometheus") &&
  dash.__inputs === undefined);

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed || !passed ? 1 : 0);
