// Standard GraphQL clients against a live server, as a frontend developer would use them.
//
//   node tests/clients/run.mjs http://127.0.0.1:PORT ADMIN_TOKEN
//
// Prints one JSON line with what each check found, and exits 1 if any failed:
//   - graphql-js: the standard introspection queries, buildClientSchema, and no breaking or
//     dangerous change between the live schema and the committed SDL, either way;
//   - graphql-http's audit of the GraphQL-over-HTTP spec: MUST failures must be 0;
//   - GraphQL Code Generator: TypeScript types for fixtures/graphql/operations.graphql from the
//     live endpoint (written to target/client-types/), type-checked with tsc --noEmit;
//   - Apollo Client: the error code of a 401, and a persisted-query round trip;
//   - graphql-request: create, list by cursor, look up by secret, accept;
//   - urql: a look-up by secret over POST, and its default GET refused for it.

import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import {
  buildClientSchema,
  buildSchema,
  findBreakingChanges,
  findDangerousChanges,
  getIntrospectionQuery,
} from "graphql";
import { serverAudits } from "graphql-http";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLClient } from "graphql-request";
import { Client as UrqlClient, fetchExchange } from "@urql/core";
import { generate } from "@graphql-codegen/cli";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const [base, token] = process.argv.slice(2);
const url = `${base}/graphql`;
const report = {};
const failures = [];

function check(condition, what) {
  if (!condition) failures.push(what);
}

async function post(body, headers = {}) {
  const answer = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return answer.json();
}

// graphql-js: the default introspection query and the one with every option on.
async function introspection() {
  const committed = buildSchema(readFileSync(join(root, "schema", "invitations.graphql"), "utf8"));
  const queries = {
    default: getIntrospectionQuery(),
    everyOption: getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
      oneOf: true,
    }),
  };
  for (const [name, query] of Object.entries(queries)) {
    const answer = await post({ query });
    check(!answer.errors, `introspection (${name}): ${JSON.stringify(answer.errors)}`);
    if (answer.errors) continue;
    const live = buildClientSchema(answer.data);
    const all = [
      ...findBreakingChanges(committed, live),
      ...findBreakingChanges(live, committed),
      ...findDangerousChanges(committed, live),
      ...findDangerousChanges(live, committed),
    ];
    // Differences in what the GraphQL libraries themselves define, not in the API: the server
    // lists the standard scalar Float though no field uses it, and graphql-js 16.15's own
    // @deprecated may also stand on directive definitions.
    const builtIn = (change) =>
      /^Standard scalar /.test(change.description) ||
      /^\w+ was (removed from|added to) (deprecated|include|skip|specifiedBy|oneOf)\.$/.test(change.description);
    const changes = all.filter((change) => !builtIn(change));
    check(changes.length === 0, `schema drift (${name}): ${JSON.stringify(changes)}`);
    report[`introspection_${name}`] = {
      types: answer.data.__schema.types.length,
      changes: changes.length,
      built_in_differences: all.filter(builtIn).map((change) => change.description),
    };
  }
}

// graphql-http's audit of the GraphQL-over-HTTP spec.
async function audit() {
  const results = { must_ok: 0, must_failed: [], should_ok: 0, should_warned: [], may: 0 };
  for (const item of serverAudits({ url, fetchFn: fetch })) {
    const result = await item.fn();
    const level = item.name.startsWith("MUST") ? "must" : item.name.startsWith("SHOULD") ? "should" : "may";
    if (level === "may") {
      results.may += 1;
    } else if (result.status === "ok") {
      results[`${level}_ok`] += 1;
    } else {
      results[level === "must" ? "must_failed" : "should_warned"].push(`${item.name}: ${result.reason}`);
    }
  }
  check(results.must_failed.length === 0, `graphql-http MUST failures: ${results.must_failed.join("; ")}`);
  report.audit = results;
}

// GraphQL Code Generator from the live endpoint, then tsc --noEmit over code that uses the types.
async function codegen() {
  const out = join(root, "target", "client-types");
  mkdirSync(out, { recursive: true });
  await generate(
    {
      schema: { [url]: { headers: { authorization: `Bearer ${token}` } } },
      documents: [join(root, "fixtures", "graphql", "operations.graphql")],
      // typescript-operations 6 writes the schema types an operation uses itself.
      generates: { [join(out, "types.ts")]: { plugins: ["typescript-operations"] } },
      silent: true,
    },
    true,
  );
  writeFileSync(
    join(out, "use.ts"),
    [
      'import type { InvitationsPageQuery, CreateInvitationMutationVariables } from "./types";',
      'const page: InvitationsPageQuery["invitations"]["pageInfo"] = { hasNextPage: false, endCursor: null };',
      'const input: CreateInvitationMutationVariables = { input: { email: "a@example.org", role: "viewer" } };',
      "export { page, input };",
      "",
    ].join("\n"),
  );
  const tsc = join(here, "node_modules", ".bin", "tsc");
  execFileSync(tsc, ["--noEmit", "--strict", "--skipLibCheck", "--module", "esnext", "--target", "es2022", join(out, "use.ts")], {
    stdio: "pipe",
  });
  report.codegen = { generated: readFileSync(join(out, "types.ts"), "utf8").length, tsc: "ok" };
}

// Apollo Client: the code of a 401, and automatic persisted queries.
async function apollo() {
  const refused = new ApolloClient({
    link: new HttpLink({ uri: url, headers: { authorization: "Bearer cmsi_not-a-token" } }),
    cache: new InMemoryCache(),
  });
  const query = gql`query Count { invitations(first: 1) { totalCount } }`;
  const unauthorized = await refused.query({ query, errorPolicy: "all" }).catch((error) => ({ error }));
  const code = unauthorized.error?.errors?.[0]?.extensions?.code;
  check(code === "UNAUTHENTICATED", `Apollo read ${code} from a 401: ${unauthorized.error}`);

  const sent = [];
  const recording = (input, init) => {
    const body = init?.body ? JSON.parse(init.body) : null;
    sent.push({ method: init?.method ?? "GET", withQuery: Boolean(body?.query) });
    return fetch(input, init);
  };
  const persisted = () =>
    new ApolloClient({
      link: ApolloLink.from([
        new PersistedQueryLink({
          sha256: (text) => createHash("sha256").update(text).digest("hex"),
          useGETForHashedQueries: true,
        }),
        new HttpLink({ uri: url, headers: { authorization: `Bearer ${token}` }, fetch: recording }),
      ]),
      cache: new InMemoryCache(),
    });
  // A query this server has not seen yet (an alias of its own), so its hash is unknown.
  const alias = `n${Date.now()}`;
  const fresh = gql(`query Fresh { ${alias}: invitations(first: 1) { totalCount } }`);
  const first = await persisted().query({ query: fresh });
  const second = await persisted().query({ query: fresh });
  check(typeof first.data?.[alias]?.totalCount === "number", "Apollo persisted query: no data");
  check(typeof second.data?.[alias]?.totalCount === "number", "Apollo persisted query (by hash): no data");
  // Unknown hash over GET, then the query over POST; then the hash alone over GET.
  const expected = [
    { method: "GET", withQuery: false },
    { method: "POST", withQuery: true },
    { method: "GET", withQuery: false },
  ];
  check(JSON.stringify(sent) === JSON.stringify(expected), `Apollo persisted-query requests: ${JSON.stringify(sent)}`);
  report.apollo = { unauthorized_code: code, persisted_requests: sent };
}

// graphql-request: the whole flow of an editor and an invitee.
async function flow() {
  const editor = new GraphQLClient(url, { headers: { authorization: `Bearer ${token}` } });
  const anonymous = new GraphQLClient(url);
  const email = `client-${Date.now()}@example.org`;
  const created = await editor.request(
    `mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { id secret } }`,
    { input: { email, role: "viewer", sendEmail: false } },
  );
  const secret = created.createInvitation.secret;
  const firstPage = await editor.request(`{ invitations(first: 1) { nodes { id } pageInfo { hasNextPage endCursor } } }`);
  const next = await editor.request(`query($after: String) { invitations(first: 1, after: $after) { nodes { id } } }`, {
    after: firstPage.invitations.pageInfo.endCursor,
  });
  const looked = await anonymous.request(`query($s: String!) { invitationBySecret(secret: $s) { state email } }`, { s: secret });
  check(looked.invitationBySecret.state === "PENDING", "graphql-request: look-up");
  const accepted = await anonymous.request(
    `mutation($s: String!) { acceptInvitation(secret: $s, input: { name: "Client", password: "a long passphrase" }) { invitation { state } } }`,
    { s: secret },
  );
  check(accepted.acceptInvitation.invitation.state === "ACCEPTED", "graphql-request: accept");
  const again = await anonymous
    .request(`mutation($s: String!) { acceptInvitation(secret: $s) { invitation { state } } }`, { s: secret })
    .catch((error) => error.response?.errors?.[0]?.extensions?.code);
  check(again === "INVITATION_ACCEPTED", `graphql-request: a second accept gave ${again}`);
  report.graphql_request = { pages: [firstPage.invitations.nodes.length, next.invitations.nodes.length], second_accept: again };
}

// urql: the look-up works over POST; with urql's default (short queries over GET) the server
// refuses it, since a secret never travels in a URL.
async function urql() {
  const editor = new GraphQLClient(url, { headers: { authorization: `Bearer ${token}` } });
  const created = await editor.request(
    `mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { secret } }`,
    { input: { email: `urql-${Date.now()}@example.org`, role: "viewer", sendEmail: false } },
  );
  const lookUp = `query InvitationBySecret($secret: String!) { invitationBySecret(secret: $secret) { state } }`;
  const variables = { secret: created.createInvitation.secret };
  const posting = new UrqlClient({ url, exchanges: [fetchExchange], preferGetMethod: false });
  const posted = await posting.query(lookUp, variables).toPromise();
  check(posted.data?.invitationBySecret?.state === "PENDING", `urql over POST: ${posted.error}`);
  const byDefault = new UrqlClient({ url, exchanges: [fetchExchange] });
  const refused = await byDefault.query(lookUp, variables).toPromise();
  const code = refused.error?.graphQLErrors?.[0]?.extensions?.code;
  check(code === "VALIDATION_FAILED" && !refused.data, `urql's default GET was not refused: ${refused.error}`);
  report.urql = { post: posted.data?.invitationBySecret?.state, default_get: code };
}

for (const step of [introspection, audit, codegen, apollo, flow, urql]) {
  try {
    await step();
  } catch (error) {
    failures.push(`${step.name}: ${error?.stack ?? error}`);
  }
}
report.failures = failures;
console.log(JSON.stringify(report));
process.exit(failures.length === 0 ? 0 : 1);
