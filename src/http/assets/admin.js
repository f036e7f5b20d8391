// The admin UI: a client of /graphql and nothing else (plus the email preview renders).
// Everything user-supplied reaches the page through textContent, never as HTML.

const TOKEN_KEY = "cmsi-admin-token";
const PAGE_SIZE = 25;
const $ = (id) => document.getElementById(id);

const FIELDS = `id email name role groups locale scope state createdAt updatedAt expiresAt
  acceptedAt revokedAt declinedAt sendCount lastSentAt invitedBy { name }
  delivery { status attempts lastError lastAttemptAt locale }
  isResendable isRevocable events { kind at actorKind actor { name } }`;

const Q = {
  viewer: `query { invitationViewer { name canRead grantableRoles emailLocales defaultLocale
    defaultValidity minValidity maxValidity canManageWebhooks canErase eventTypes scopes grantableGroups
    roleNames { role name } } }`,
  list: `query($filter: InvitationFilter, $sort: [InvitationSort!], $first: Int, $after: String) {
    invitations(filter: $filter, sort: $sort, first: $first, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } nodes { ${FIELDS} } } }`,
  one: `query($id: ID!) { invitation(id: $id) { ${FIELDS} } }`,
  create: `mutation($input: CreateInvitationInput!) { createInvitation(input: $input) {
    ${FIELDS} inviteUrl } }`,
  bulk: `mutation($inputs: [CreateInvitationInput!]!) { createInvitations(inputs: $inputs) {
    created failed items { index invitation { id email state } error { code message field } } } }`,
  resend: `mutation($id: ID!) { resendInvitation(id: $id) { ${FIELDS} inviteUrl } }`,
  revoke: `mutation($id: ID!) { revokeInvitation(id: $id) { ${FIELDS} } }`,
  remove: `mutation($id: ID!) { deleteInvitation(id: $id) }`,
  endpoints: `query { webhookEndpoints { id url description eventTypes enabled disabledReason
    failingSince secretCreatedAt } }`,
  createEndpoint: `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
    endpoint { id url } secret } }`,
  updateEndpoint: `mutation($id: ID!, $input: UpdateWebhookEndpointInput!) {
    updateWebhookEndpoint(id: $id, input: $input) { id enabled } }`,
  deleteEndpoint: `mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }`,
  rotate: `mutation($id: ID!) { rotateWebhookEndpointSecret(id: $id) { endpoint { id url } secret } }`,
  test: `mutation($id: ID!) { sendTestWebhook(endpointId: $id) { id } }`,
  deliveries: `query($id: ID!, $after: String) { webhookDeliveries(endpointId: $id, first: 20, after: $after) {
    hasNextPage endCursor nodes { id messageId eventType state attemptCount createdAt nextAttemptAt
      attempts { at durationMs statusCode error response } } } }`,
  redeliver: `mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }`,
};

const STATE_LABEL = {
  PENDING: "Pending", ACCEPTED: "Accepted", EXPIRED: "Expired", REVOKED: "Revoked", DECLINED: "Declined",
};
const DELIVERY_LABEL = {
  QUEUED: "Queued", SENT: "Sent", FAILED: "Failed", SKIPPED: "Not sent (link shared)", CANCELLED: "Cancelled",
};
const VALIDITIES = [["PT1H", "1 hour"], ["PT12H", "12 hours"], ["P1D", "1 day"], ["P3D", "3 days"],
  ["P7D", "7 days"], ["P14D", "14 days"], ["P30D", "30 days"], ["P90D", "90 days"]];

/** An error from the API, with its stable code and the field it names. */
class ApiError extends Error {
  constructor(message, code, field) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

const state = { viewer: null, cursors: [null], page: 0, current: null };

async function gql(query, variables = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("The server cannot be reached. Check your connection and try again.", "NETWORK");
  }
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) {
    signOut("Your token was not accepted. Sign in again.");
    throw new ApiError("Not signed in.", "UNAUTHENTICATED");
  }
  const error = body.errors?.[0];
  if (error) {
    throw new ApiError(error.message, error.extensions?.code, error.extensions?.field);
  }
  return body.data;
}

// ---------------------------------------------------------------------------------------- ui

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

/** A role as people read it (`roles.names`), its identifier when it has no name. */
function roleName(role) {
  return state.viewer?.roleNames.find((r) => r.role === role)?.name ?? role;
}

function say(message, tone = "info") {
  const status = $("status");
  status.textContent = message;
  status.dataset.tone = tone;
}

function absolute(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "—";
}

function relative(iso) {
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(seconds, "second");
}

function badge(stateName) {
  return el("span", { class: `badge state-${stateName.toLowerCase()}` }, STATE_LABEL[stateName] ?? stateName);
}

function deliveryText(delivery) {
  const label = DELIVERY_LABEL[delivery.status] ?? delivery.status;
  return delivery.status === "QUEUED" && delivery.attempts > 0 ? `${label} (${delivery.attempts} tries)` : label;
}

function show(view) {
  say("");
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  for (const tab of document.querySelectorAll(".tab")) {
    if (tab.dataset.view === view || (view === "detail" && tab.dataset.view === "list")) {
      tab.setAttribute("aria-current", "page");
    } else {
      tab.removeAttribute("aria-current");
    }
  }
  const heading = document.querySelector(`#view-${view} h2`);
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

function confirmAction(title, text, ok) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
  });
}

/** The "copy link" panel shown after a create or resend minted a link. */
function mintedPanel(invitation) {
  if (!invitation.inviteUrl) return null;
  const input = el("input", { value: invitation.inviteUrl, readOnly: true, id: "minted-link", "aria-label": "Invitation link" });
  const copy = el("button", {
    type: "button",
    class: "primary",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(invitation.inviteUrl);
        say("Link copied.", "ok");
      } catch {
        input.select();
        say("Select the link and copy it with your keyboard.", "info");
      }
    },
  }, "Copy link");
  const note = invitation.delivery.status === "SKIPPED"
    ? "No email was sent: share this link with the invitee yourself. It is shown only now."
    : "The email is on its way. This link is shown only now, in case you want to share it yourself.";
  return el("div", { class: "minted card", role: "group", "aria-label": "New invitation link" },
    el("p", {}, note), el("div", { class: "copy" }, input, copy));
}

function actionButtons(invitation, after) {
  const buttons = [];
  if (invitation.isResendable) {
    buttons.push(el("button", { type: "button", onclick: () => resend(invitation, after) }, "Resend"));
  }
  if (invitation.isRevocable) {
    buttons.push(el("button", { type: "button", class: "danger", onclick: () => revoke(invitation, after) }, "Revoke"));
  }
  return buttons;
}

// -------------------------------------------------------------------------------------- list

function listVariables() {
  const stateFilter = $("filter-state").value;
  const emailContains = $("filter-email").value.trim();
  const scope = $("filter-scope").value.trim();
  const [field, direction] = $("sort").value.split(":");
  return {
    filter: { states: stateFilter ? [stateFilter] : [], emailContains: emailContains || null, scope: scope || null },
    sort: [{ field, direction }],
    first: PAGE_SIZE,
    after: state.cursors[state.page],
  };
}

async function loadList() {
  let data;
  try {
    data = await gql(Q.list, listVariables());
  } catch (error) {
    say(error.message, "error");
    return;
  }
  const { nodes, totalCount, pageInfo } = data.invitations;
  state.cursors[state.page + 1] = pageInfo.endCursor;
  $("list-count").textContent = `${totalCount} invitation${totalCount === 1 ? "" : "s"}` +
    (totalCount > PAGE_SIZE ? `, page ${state.page + 1}` : "");
  $("next-page").disabled = !pageInfo.hasNextPage;
  $("first-page").disabled = state.page === 0;
  const filtered = $("filter-state").value || $("filter-email").value.trim() || $("filter-scope").value.trim();
  const empty = $("list-empty");
  empty.hidden = nodes.length > 0;
  $("list-table").hidden = nodes.length === 0;
  empty.replaceChildren(filtered
    ? el("p", {}, "No invitation matches these filters.")
    : el("p", {}, "No invitations yet. ",
      el("button", { type: "button", class: "link", onclick: () => show("create") }, "Invite someone"),
      " to get started, or paste a list under Bulk invite."));
  $("list-rows").replaceChildren(...nodes.map(row));
}

function row(invitation) {
  const open = el("button", { type: "button", class: "link", onclick: () => openDetail(invitation.id) }, invitation.email);
  return el("tr", { "data-id": invitation.id },
    el("td", { "data-label": "Email" }, open),
    el("td", { "data-label": "Name" }, invitation.name ?? ""),
    el("td", { "data-label": "Role" }, roleName(invitation.role)),
    el("td", { "data-label": "Groups" }, invitation.groups.join(", ")),
    el("td", { "data-label": "State" }, badge(invitation.state)),
    el("td", { "data-label": "Expires" },
      el("time", { datetime: invitation.expiresAt, title: absolute(invitation.expiresAt) }, relative(invitation.expiresAt)),
      el("span", { class: "sub" }, absolute(invitation.expiresAt))),
    el("td", { "data-label": "Email delivery" }, deliveryText(invitation.delivery)),
    el("td", { class: "row-actions" }, actionButtons(invitation, loadList)));
}

// ------------------------------------------------------------------------------------ detail

async function openDetail(id, minted = null) {
  let invitation = minted;
  if (!invitation) {
    try {
      invitation = (await gql(Q.one, { id })).invitation;
    } catch (error) {
      say(error.message, "error");
      return;
    }
  }
  if (!invitation) {
    say("That invitation no longer exists.", "error");
    return;
  }
  state.current = invitation.id;
  renderDetail(invitation);
  show("detail");
}

function renderDetail(invitation) {
  $("detail-title").replaceChildren(invitation.email, " ", badge(invitation.state));
  $("detail-minted").replaceChildren(mintedPanel(invitation) ?? "");
  const actions = actionButtons(invitation, () => openDetail(invitation.id));
  if (state.viewer.canErase) {
    actions.push(el("button", { type: "button", class: "danger", onclick: () => remove(invitation) }, "Delete"));
  }
  $("detail-actions").replaceChildren(...actions);
  const delivery = invitation.delivery;
  const fields = [
    ["Name", invitation.name ?? "—"],
    ["Role", roleName(invitation.role)],
    ["Groups", invitation.groups.join(", ") || "—"],
    ["Scope", invitation.scope ?? "—"],
    ["Invited by", invitation.invitedBy.name],
    ["Created", absolute(invitation.createdAt)],
    ["Expires", `${absolute(invitation.expiresAt)} (${relative(invitation.expiresAt)})`],
    ["Accepted", absolute(invitation.acceptedAt)],
    ["Revoked", absolute(invitation.revokedAt)],
    ["Declined", absolute(invitation.declinedAt)],
    ["Emails sent", String(invitation.sendCount)],
    ["Email delivery", deliveryText(delivery)],
    ["Delivery attempts", String(delivery.attempts)],
    ["Last attempt", absolute(delivery.lastAttemptAt)],
    ["Last error", delivery.lastError ?? "—"],
    ["Email language", delivery.locale ?? invitation.locale ?? "—"],
  ];
  $("detail-fields").replaceChildren(...fields.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
  $("detail-events").replaceChildren(...invitation.events.map((event) => el("li", {},
    el("time", { datetime: event.at }, absolute(event.at)), " ",
    el("strong", {}, event.kind.replaceAll("_", " ").toLowerCase()),
    event.actor ? ` by ${event.actor.name}` : event.actorKind === "INVITEE" ? " by the invitee" : " by the system")));
}

async function resend(invitation, after) {
  try {
    const { resendInvitation } = await gql(Q.resend, { id: invitation.id });
    await openDetail(resendInvitation.id, resendInvitation);
    say(`A new link was sent to ${resendInvitation.email}; the old one no longer works.`, "ok");
  } catch (error) {
    say(error.message, "error");
    await after();
  }
}

async function revoke(invitation, after) {
  const sure = await confirmAction("Revoke this invitation?",
    `The link sent to ${invitation.email} stops working at once. This cannot be undone.`, "Revoke");
  if (!sure) return;
  try {
    await gql(Q.revoke, { id: invitation.id });
    say(`The invitation for ${invitation.email} is revoked.`, "ok");
  } catch (error) {
    say(error.message, "error");
  }
  await after();
}

async function remove(invitation) {
  const sure = await confirmAction("Delete this invitation?",
    `Everything stored about the invitation for ${invitation.email} is erased: the invitation, its ` +
    "queued emails, its events and webhook payloads. Its link stops working. This cannot be undone.", "Delete");
  if (!sure) return;
  let deleted;
  try {
    deleted = (await gql(Q.remove, { id: invitation.id })).deleteInvitation;
  } catch (error) {
    say(error.message, "error");
    return;
  }
  show("list");
  await loadList();
  say(deleted ? `The invitation for ${invitation.email} is deleted.` : "That invitation no longer exists.",
    deleted ? "ok" : "error");
}

// ------------------------------------------------------------------------------------ create

/**
 * The scope control with id `id` in `slot`: a caller limited to scopes picks one of its own
 * (`anyLabel`, if given, offers "all of them"); anyone else types one.
 */
function scopeControl(slot, id, anyLabel, describedBy) {
  const scopes = state.viewer.scopes;
  const attributes = { id, name: "scope", ...(describedBy ? { "aria-describedby": describedBy } : {}) };
  const control = scopes
    ? el("select", attributes, [
      ...(anyLabel ? [el("option", { value: "" }, anyLabel)] : scopes.length > 1 ? [el("option", { value: "" }, "Choose a scope…")] : []),
      ...scopes.map((scope) => el("option", { value: scope }, scope))])
    : el("input", { ...attributes, type: "search", autocomplete: "off" });
  $(slot).replaceChildren(control);
  return control;
}

function fillCreateForm() {
  const viewer = state.viewer;
  scopeControl("c-scope-slot", "c-scope", null, "c-scope-error");
  // A caller limited to scopes must name one; the form says so rather than "optional".
  $("c-scope-optional").textContent = viewer.scopes
    ? `(yours: ${viewer.scopes.join(", ")})` : "(team, workspace or company; optional)";
  $("c-groups-hint").textContent = viewer.grantableGroups
    ? `You may give: ${viewer.grantableGroups.join(", ") || "no group"}.` : "";
  const hint = $("bulk-scope-hint");
  hint.hidden = !viewer.scopes;
  hint.textContent = viewer.scopes
    ? `Each line needs one of your scopes (${viewer.scopes.join(", ")})` +
      (viewer.scopes.length === 1 ? `; an empty one means ${viewer.scopes[0]}.` : ".") : "";
  // No role is preselected: what an invitee may do is always a deliberate choice.
  $("c-role").replaceChildren(el("option", { value: "" }, "Choose a role…"),
    ...viewer.grantableRoles.map((role) => el("option", { value: role }, roleName(role))));
  $("c-locale").replaceChildren(
    el("option", { value: "" }, `Automatic (the invitee's browser language, else ${viewer.defaultLocale})`),
    ...viewer.emailLocales.map((locale) => el("option", { value: locale }, locale)));
  const seconds = (iso) => {
    const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(iso) ?? [];
    return ((+m[1] || 0) * 86400) + ((+m[2] || 0) * 3600) + ((+m[3] || 0) * 60) + (+m[4] || 0);
  };
  const [min, max, fallback] = [seconds(viewer.minValidity), seconds(viewer.maxValidity), viewer.defaultValidity];
  const choices = VALIDITIES.filter(([iso]) => seconds(iso) >= min && seconds(iso) <= max);
  if (!choices.some(([iso]) => iso === fallback)) choices.push([fallback, fallback]);
  $("c-validFor").replaceChildren(...choices.map(([iso, label]) =>
    el("option", { value: iso, selected: iso === fallback }, iso === fallback ? `${label} (default)` : label)));
  const human = (total) => {
    const [days, hours, minutes] = [Math.floor(total / 86400), Math.floor(total % 86400 / 3600), Math.floor(total % 3600 / 60)];
    const parts = [[days, "day"], [hours, "hour"], [minutes, "minute"]].filter(([n]) => n > 0);
    return parts.map(([n, unit]) => `${n} ${unit}${n === 1 ? "" : "s"}`).join(" ") || `${total} seconds`;
  };
  $("c-validFor-hint").textContent = `Allowed: from ${human(min)} to ${human(max)}.`;
  const cannot = viewer.grantableRoles.length === 0;
  for (const id of ["create-form", "bulk-form"]) {
    for (const control of $(id).elements) control.disabled = cannot;
  }
  if (cannot) say("Your role may read invitations but not create them.", "info");
}

function clearFieldErrors(form) {
  for (const error of form.querySelectorAll(".error")) error.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

function fieldError(prefix, field, message) {
  const input = $(`${prefix}-${field}`);
  const slot = $(`${prefix}-${field}-error`);
  if (!input || !slot) return false;
  slot.textContent = message;
  input.setAttribute("aria-invalid", "true");
  input.focus();
  return true;
}

async function submitCreate(event) {
  event.preventDefault();
  const form = event.target;
  clearFieldErrors(form);
  $("create-result").replaceChildren();
  const email = $("c-email").value.trim();
  if (!email) {
    fieldError("c", "email", "Enter the email address to invite.");
    return;
  }
  if (!$("c-role").value) {
    fieldError("c", "role", "Choose the role the invitee will get.");
    return;
  }
  if (state.viewer.scopes && !$("c-scope").value) {
    fieldError("c", "scope", "Choose the scope the invitation is for.");
    return;
  }
  const input = {
    email,
    name: $("c-name").value.trim() || null,
    role: $("c-role").value,
    groups: $("c-groups").value.split(",").map((g) => g.trim()).filter(Boolean),
    locale: $("c-locale").value || null,
    scope: $("c-scope").value.trim() || null,
    validFor: $("c-validFor").value,
    sendEmail: $("c-sendEmail").checked,
  };
  try {
    const { createInvitation } = await gql(Q.create, { input });
    form.reset();
    fillCreateForm();
    await openDetail(createInvitation.id, createInvitation);
    say(`Invitation created for ${createInvitation.email}.`, "ok");
  } catch (error) {
    if (error.code === "VALIDATION_FAILED" && fieldError("c", error.field, error.message)) {
      say("Please correct the highlighted field.", "error");
    } else if (error.code === "DUPLICATE_PENDING_INVITATION") {
      fieldError("c", "email", error.message);
      say(error.message, "error");
    } else {
      say(error.message, "error");
    }
  }
}

// -------------------------------------------------------------------------------------- bulk

/** Splits CSV text into rows of fields (quotes with "" escapes; commas and newlines inside quotes). */
function parseCsv(text) {
  const rows = [];
  let row = [""];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { row[row.length - 1] += '"'; i++; }
      else if (c === '"') quoted = false;
      else row[row.length - 1] += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push("");
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      rows.push(row);
      row = [""];
    } else row[row.length - 1] += c;
  }
  rows.push(row);
  return rows.map((r) => r.map((f) => f.trim())).filter((r) => r.some((f) => f !== ""));
}

async function submitBulk(event) {
  event.preventDefault();
  clearFieldErrors(event.target);
  $("bulk-result").replaceChildren();
  const rows = parseCsv($("bulk-text").value);
  if (rows.length && rows[0][0].toLowerCase() === "email") rows.shift();
  const problem = rows.length === 0
    ? "Paste at least one line, or choose a CSV file."
    : rows.length > 1000 ? `At most 1000 lines at once; this has ${rows.length}.` : "";
  if (problem) {
    $("bulk-error").textContent = problem;
    $("bulk-text").setAttribute("aria-invalid", "true");
    $("bulk-text").focus();
    return;
  }
  // A caller with a single scope need not repeat it on every line.
  const onlyScope = state.viewer.scopes?.length === 1 ? state.viewer.scopes[0] : null;
  const inputs = rows.map(([email = "", name = "", role = "", groups = "", locale = "", scope = ""]) => ({
    email, name: name || null, role: role || state.viewer.grantableRoles.at(-1) || "",
    groups: groups.split(";").map((g) => g.trim()).filter(Boolean), locale: locale || null,
    scope: scope || onlyScope, sendEmail: $("bulk-send").checked,
  }));
  let result;
  try {
    result = (await gql(Q.bulk, { inputs })).createInvitations;
  } catch (error) {
    say(error.message, "error");
    return;
  }
  say(`${result.created} created, ${result.failed} failed.`, result.failed ? "error" : "ok");
  const table = el("table", { class: "list results" },
    el("caption", {}, `${result.created} created, ${result.failed} failed`),
    el("thead", {}, el("tr", {}, ["Line", "Email", "Result"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, result.items.map((item) => el("tr", { class: item.error ? "failed" : "created" },
      el("td", { "data-label": "Line" }, String(item.index + 1)),
      el("td", { "data-label": "Email" }, inputs[item.index].email),
      el("td", { "data-label": "Result" }, item.error
        ? `${item.error.field ? `${item.error.field}: ` : ""}${item.error.message} (${item.error.code})`
        : "Created")))));
  $("bulk-result").replaceChildren(table);
}

// ----------------------------------------------------------------------------------- preview

async function loadPreview() {
  const params = new URLSearchParams({ kind: $("p-kind").value || "invitation", locale: $("p-locale").value || "" });
  let preview;
  try {
    preview = await (await fetch(`/email-preview.json?${params}`)).json();
  } catch {
    say("The preview cannot be loaded.", "error");
    return;
  }
  const fill = (select, values, selected) => {
    if (select.options.length !== values.length) {
      select.replaceChildren(...values.map((v) => el("option", { value: v }, v)));
    }
    select.value = selected;
  };
  fill($("p-kind"), preview.kinds, preview.kind);
  fill($("p-locale"), preview.locales, preview.locale);
  $("p-subject").textContent = preview.subject ?? "";
  $("p-problem").textContent = preview.problem ?? "";
  $("p-text").textContent = preview.text ?? "";
  $("p-html").src = `/email-preview/html?${new URLSearchParams({ kind: preview.kind, locale: preview.locale })}`;
}

// ---------------------------------------------------------------------------------- webhooks

const webhooks = { endpoint: null, after: null };

async function loadEndpoints() {
  let endpoints;
  try {
    endpoints = (await gql(Q.endpoints)).webhookEndpoints;
  } catch (error) {
    say(error.message, "error");
    return;
  }
  $("wh-count").textContent = `${endpoints.length} endpoint${endpoints.length === 1 ? "" : "s"}`;
  $("wh-empty").hidden = endpoints.length > 0;
  $("wh-table").hidden = endpoints.length === 0;
  $("wh-rows").replaceChildren(...endpoints.map(endpointRow));
}

function endpointRow(endpoint) {
  const stateText = endpoint.enabled
    ? (endpoint.failingSince ? `Enabled, failing since ${absolute(endpoint.failingSince)}` : "Enabled")
    : `Disabled: ${endpoint.disabledReason ?? "by an admin"}`;
  const act = (label, onclick, tone = "") => el("button", { type: "button", class: tone, onclick }, label);
  return el("tr", { "data-id": endpoint.id },
    el("td", { "data-label": "URL" }, el("span", { class: "url" }, endpoint.url),
      endpoint.description ? el("span", { class: "sub" }, endpoint.description) : null),
    el("td", { "data-label": "Events" }, endpoint.eventTypes.length ? endpoint.eventTypes.join(", ") : "All events"),
    el("td", { "data-label": "State" }, el("span", { class: `badge ${endpoint.enabled ? "state-accepted" : "state-revoked"}` }, stateText)),
    el("td", { "data-label": "Secret made" }, absolute(endpoint.secretCreatedAt)),
    el("td", { class: "row-actions" },
      act("Deliveries", () => openDeliveries(endpoint)),
      act("Send test", () => sendTest(endpoint)),
      act("Rotate secret", () => rotateSecret(endpoint)),
      endpoint.enabled ? act("Disable", () => setEnabled(endpoint, false)) : act("Enable", () => setEnabled(endpoint, true)),
      act("Delete", () => deleteEndpoint(endpoint), "danger")));
}

/** The secret of a new or rotated endpoint, shown once with a copy button. */
function secretPanel(url, secret, rotated) {
  const input = el("input", { value: secret, readOnly: true, id: "wh-secret-value", "aria-label": "Signing secret" });
  const copy = el("button", {
    type: "button",
    class: "primary",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        say("Secret copied.", "ok");
      } catch {
        input.select();
        say("Select the secret and copy it with your keyboard.", "info");
      }
    },
  }, "Copy secret");
  const note = rotated
    ? `New signing secret for ${url}. The old one keeps signing beside it for a grace period. It is shown only now.`
    : `Signing secret for ${url}: verify the webhook-signature header with it. It is shown only now.`;
  $("wh-secret").replaceChildren(el("div", { class: "minted card", role: "group", "aria-label": "Signing secret" },
    el("p", {}, note), el("div", { class: "copy" }, input, copy)));
}

async function submitEndpoint(event) {
  event.preventDefault();
  const form = event.target;
  clearFieldErrors(form);
  const url = $("w-url").value.trim();
  if (!url) {
    fieldError("w", "url", "Enter the URL that receives the events.");
    return;
  }
  const eventTypes = [...form.querySelectorAll("input[name=eventType]:checked")].map((box) => box.value);
  try {
    const { createWebhookEndpoint } = await gql(Q.createEndpoint, {
      input: { url, eventTypes, description: $("w-description").value.trim() || null },
    });
    form.reset();
    secretPanel(createWebhookEndpoint.endpoint.url, createWebhookEndpoint.secret, false);
    say(`Endpoint added: ${createWebhookEndpoint.endpoint.url}.`, "ok");
    await loadEndpoints();
  } catch (error) {
    if (error.code === "VALIDATION_FAILED" && fieldError("w", error.field, error.message)) {
      say("Please correct the highlighted field.", "error");
    } else {
      say(error.message, "error");
    }
  }
}

async function rotateSecret(endpoint) {
  const sure = await confirmAction("Rotate the signing secret?",
    `${endpoint.url} gets a new secret. The old one keeps signing beside it for a grace period; update the receiver before it ends.`,
    "Rotate");
  if (!sure) return;
  try {
    const { rotateWebhookEndpointSecret } = await gql(Q.rotate, { id: endpoint.id });
    secretPanel(endpoint.url, rotateWebhookEndpointSecret.secret, true);
    say("The secret was rotated.", "ok");
    await loadEndpoints();
  } catch (error) {
    say(error.message, "error");
  }
}

async function setEnabled(endpoint, enabled) {
  try {
    await gql(Q.updateEndpoint, { id: endpoint.id, input: { enabled } });
    say(enabled ? `${endpoint.url} is enabled again.` : `${endpoint.url} is disabled.`, "ok");
  } catch (error) {
    say(error.message, "error");
  }
  await loadEndpoints();
}

async function deleteEndpoint(endpoint) {
  const sure = await confirmAction("Delete this endpoint?",
    `${endpoint.url} receives nothing more; deliveries still queued for it are given up.`, "Delete");
  if (!sure) return;
  try {
    await gql(Q.deleteEndpoint, { id: endpoint.id });
    say(`${endpoint.url} was deleted.`, "ok");
    if (webhooks.endpoint?.id === endpoint.id) $("wh-deliveries").hidden = true;
  } catch (error) {
    say(error.message, "error");
  }
  await loadEndpoints();
}

async function sendTest(endpoint) {
  try {
    await gql(Q.test, { id: endpoint.id });
    say(`A test event is on its way to ${endpoint.url}.`, "ok");
    await openDeliveries(endpoint);
  } catch (error) {
    say(error.message, "error");
  }
}

async function openDeliveries(endpoint, more = false) {
  webhooks.endpoint = endpoint;
  if (!more) webhooks.after = null;
  let page;
  try {
    page = (await gql(Q.deliveries, { id: endpoint.id, after: webhooks.after })).webhookDeliveries;
  } catch (error) {
    say(error.message, "error");
    return;
  }
  webhooks.after = page.endCursor;
  $("wh-deliveries").hidden = false;
  $("wh-deliveries-title").textContent = `Deliveries to ${endpoint.url}`;
  $("wh-more").hidden = !page.hasNextPage;
  const rows = page.nodes.map(deliveryRow);
  if (more) $("wh-delivery-rows").append(...rows);
  else $("wh-delivery-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "5" }, "No deliveries yet."))]));
}

function attemptText(attempt) {
  const outcome = attempt.statusCode ? `HTTP ${attempt.statusCode}` : attempt.error ?? "no answer";
  return `${absolute(attempt.at)}: ${outcome} in ${attempt.durationMs} ms`;
}

function deliveryRow(delivery) {
  const label = { PENDING: "Pending", DELIVERED: "Delivered", FAILED: "Failed" }[delivery.state] ?? delivery.state;
  const attempts = el("details", {},
    el("summary", {}, `${delivery.attemptCount} attempt${delivery.attemptCount === 1 ? "" : "s"}`),
    el("ol", { class: "attempts" }, delivery.attempts.map((attempt) => el("li", {}, attemptText(attempt),
      attempt.response ? el("pre", { class: "response" }, attempt.response) : null))),
    delivery.nextAttemptAt ? el("p", { class: "sub" }, `Next attempt ${relative(delivery.nextAttemptAt)}`) : null);
  return el("tr", { "data-id": delivery.id },
    el("td", { "data-label": "Created" }, absolute(delivery.createdAt), el("span", { class: "sub" }, delivery.messageId)),
    el("td", { "data-label": "Event" }, delivery.eventType),
    el("td", { "data-label": "State" }, el("span", { class: `badge delivery-${delivery.state.toLowerCase()}` }, label)),
    el("td", { "data-label": "Attempts" }, attempts),
    el("td", { class: "row-actions" }, el("button", {
      type: "button",
      onclick: async () => {
        try {
          await gql(Q.redeliver, { id: delivery.id });
          say("Queued again, with the same webhook-id.", "ok");
          await openDeliveries(webhooks.endpoint);
        } catch (error) {
          say(error.message, "error");
        }
      },
    }, "Redeliver")));
}

function fillWebhookForm() {
  $("webhooks-tab").hidden = !state.viewer.canManageWebhooks;
  $("w-eventTypes").replaceChildren(...state.viewer.eventTypes.map((type) => el("label", { class: "check" },
    el("input", { type: "checkbox", name: "eventType", value: type }), ` ${type}`)));
}

// ----------------------------------------------------------------------------------- session

async function start() {
  let viewer;
  try {
    viewer = (await gql(Q.viewer)).invitationViewer;
  } catch (error) {
    if (error.code !== "UNAUTHENTICATED") say(error.message, "error");
    return false;
  }
  if (!viewer) {
    signOut("Your token was not accepted. Sign in again.");
    return false;
  }
  state.viewer = viewer;
  $("who-name").textContent = `Signed in as ${viewer.name}`;
  $("who").hidden = false;
  $("sign-in").hidden = true;
  $("app").hidden = false;
  // Once per sign-in: refilling the create form after each invitation keeps the filter.
  scopeControl("filter-scope-slot", "filter-scope", "All my scopes", null)
    .addEventListener("change", () => $("filters").requestSubmit());
  fillCreateForm();
  fillWebhookForm();
  state.cursors = [null];
  state.page = 0;
  show("list");
  await loadList();
  return true;
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.viewer = null;
  $("app").hidden = true;
  $("who").hidden = true;
  $("sign-in").hidden = false;
  if (message) $("token-error").textContent = message;
  $("token").focus();
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("token-error").textContent = "";
    const token = $("token").value.trim();
    if (!token) {
      $("token-error").textContent = "Paste your API token.";
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    $("token").value = "";
    if (await start()) say("", "info");
  });
  $("sign-out").addEventListener("click", () => { signOut(""); say("Signed out.", "info"); });
  for (const button of document.querySelectorAll("[data-view]")) {
    button.addEventListener("click", async () => {
      const view = button.dataset.view;
      show(view);
      if (view === "list") await loadList();
      if (view === "preview") await loadPreview();
      if (view === "webhooks") await loadEndpoints();
    });
  }
  $("filters").addEventListener("submit", async (event) => {
    event.preventDefault();
    state.cursors = [null];
    state.page = 0;
    await loadList();
  });
  for (const id of ["filter-state", "sort"]) {
    $(id).addEventListener("change", () => $("filters").requestSubmit());
  }
  $("next-page").addEventListener("click", async () => { state.page += 1; await loadList(); });
  $("first-page").addEventListener("click", async () => { state.page = 0; await loadList(); });
  $("create-form").addEventListener("submit", submitCreate);
  $("bulk-form").addEventListener("submit", submitBulk);
  $("bulk-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (file) $("bulk-text").value = await file.text();
  });
  $("preview-form").addEventListener("change", loadPreview);
  $("wh-form").addEventListener("submit", submitEndpoint);
  $("wh-refresh").addEventListener("click", () => webhooks.endpoint && openDeliveries(webhooks.endpoint));
  $("wh-more").addEventListener("click", () => webhooks.endpoint && openDeliveries(webhooks.endpoint, true));
  if (sessionStorage.getItem(TOKEN_KEY)) start();
});
