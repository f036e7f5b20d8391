"use strict";
const examples = {
  "List invitations": ["query List($first: Int) {\n  invitations(first: $first) {\n    totalCount\n    nodes { id email role state expiresAt isResendable isRevocable delivery { status } }\n    pageInfo { hasNextPage endCursor }\n  }\n}\n", { first: 20 }],
  "Create an invitation": ["mutation Create($input: CreateInvitationInput!) {\n  createInvitation(input: $input) { id state expiresAt inviteUrl }\n}\n", { input: { email: "ada@example.org", role: "author", sendEmail: false } }],
  "Look up by secret": ["query Lookup($secret: String!) {\n  invitationBySecret(secret: $secret) { email role inviterName state expiresAt }\n}\n", { secret: "" }],
  "Accept": ["mutation Accept($secret: String!) {\n  acceptInvitation(secret: $secret, input: { name: \"Ada\", password: \"correct horse battery\" }) {\n    userId existingUser invitation { state }\n  }\n}\n", { secret: "" }],
};
const $ = (id) => document.getElementById(id);
const token = $("token"), query = $("query"), variables = $("variables"), result = $("result"), docs = $("docs"), status = $("status");
token.value = sessionStorage.getItem("cms-invitations-token") || "";
token.addEventListener("change", () => { sessionStorage.setItem("cms-invitations-token", token.value.trim()); loadSchema(); });
for (const name of Object.keys(examples)) $("examples").add(new Option(name, name));
$("examples").addEventListener("change", (e) => load(e.target.value));
function load(name) { const [q, v] = examples[name]; query.value = q; variables.value = JSON.stringify(v, null, 2); }
load("List invitations");

async function call(body) {
  const headers = { "content-type": "application/json" };
  if (token.value.trim()) headers.authorization = "Bearer " + token.value.trim();
  const response = await fetch("graphql", { method: "POST", headers, body: JSON.stringify(body) });
  return [response.status, await response.json()];
}

async function run() {
  let vars;
  try { vars = variables.value.trim() ? JSON.parse(variables.value) : {}; }
  catch (e) { result.textContent = "Variables are not valid JSON: " + e.message; return; }
  status.textContent = "Running…";
  const started = performance.now();
  try {
    const [code, body] = await call({ query: query.value, variables: vars });
    result.textContent = JSON.stringify(body, null, 2);
    status.textContent = `HTTP ${code} in ${Math.round(performance.now() - started)} ms`;
  } catch (e) {
    result.textContent = "Request failed: " + e.message;
    status.textContent = "";
  }
}
$("run").addEventListener("click", run);
$("prettify").addEventListener("click", () => { try { variables.value = JSON.stringify(JSON.parse(variables.value), null, 2); } catch (e) { status.textContent = "Variables are not valid JSON"; } });
document.addEventListener("keydown", (e) => { if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); run(); } });

const INTROSPECTION = `{ __schema { queryType { name } mutationType { name } types { kind name description
  fields { name description args { name type { ...T } defaultValue } type { ...T } }
  inputFields { name description type { ...T } defaultValue } enumValues { name description } } } }
  fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }`;
let types = {};
function typeName(t) { return t.kind === "NON_NULL" ? typeName(t.ofType) + "!" : t.kind === "LIST" ? "[" + typeName(t.ofType) + "]" : t.name; }
function baseName(t) { return t.ofType ? baseName(t.ofType) : t.name; }
function el(tag, text, cls) { const e = document.createElement(tag); if (text) e.textContent = text; if (cls) e.className = cls; return e; }
function typeLink(t) { const a = el("a", typeName(t)); a.addEventListener("click", () => showType(baseName(t))); return a; }
function showType(name) {
  const t = types[name]; if (!t) return;
  docs.replaceChildren();
  const back = el("a", "← Query and Mutation"); back.addEventListener("click", showRoot); docs.append(back);
  docs.append(el("h3", `${t.kind.toLowerCase().replace("_", " ")} ${t.name}`));
  if (t.description) docs.append(el("div", t.description, "desc"));
  for (const f of t.fields || t.inputFields || []) {
    const line = el("div", "", "field");
    line.append(f.name);
    if (f.args && f.args.length) line.append("(" + f.args.map((a) => `${a.name}: ${typeName(a.type)}`).join(", ") + ")");
    line.append(": "); line.append(typeLink(f.type));
    if (f.defaultValue != null) line.append(" = " + f.defaultValue);
    docs.append(line);
    if (f.description) docs.append(el("div", f.description, "desc"));
  }
  for (const v of t.enumValues || []) { docs.append(el("div", v.name, "field")); if (v.description) docs.append(el("div", v.description, "desc")); }
}
let root = [];
function showRoot() { docs.replaceChildren(); for (const name of root) { if (name) { const a = el("a", name); a.addEventListener("click", () => showType(name)); const h = el("h3"); h.append(a); docs.append(h); showFields(name); } } }
function showFields(name) { for (const f of types[name].fields) { const line = el("div", "", "field"); line.append(f.name + ": "); line.append(typeLink(f.type)); docs.append(line); if (f.description) docs.append(el("div", f.description, "desc")); } }
async function loadSchema() {
  try {
    const [, body] = await call({ query: INTROSPECTION });
    if (!body.data) { docs.textContent = "Schema unavailable: " + (body.errors || []).map((e) => e.message).join("; "); return; }
    types = Object.fromEntries(body.data.__schema.types.map((t) => [t.name, t]));
    root = [body.data.__schema.queryType?.name, body.data.__schema.mutationType?.name];
    showRoot();
  } catch (e) { docs.textContent = "Schema unavailable: " + e.message; }
}
loadSchema();
