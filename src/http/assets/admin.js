// The admin UI: a client of /graphql and nothing else (plus the email preview renders).
// Everything user-supplied reaches the page through textContent, never as HTML.

const TOKEN_KEY = "cmsi-admin-token";
const LANGUAGE_KEY = "cmsi-admin-language";
const PAGE_SIZE = 25;
const $ = (id) => document.getElementById(id);

const FIELDS = `id email phone channel name role groups locale scope template state createdAt updatedAt expiresAt
  acceptedAt revokedAt declinedAt sendCount lastSentAt invitedBy { name }
  delivery { status attempts lastError lastAttemptAt locale }
  isResendable isRevocable events { kind at actorKind actor { name } }`;

const Q = {
  viewer: `query($locale: String) { invitationViewer(locale: $locale) { name canRead grantableRoles emailLocales defaultLocale
    defaultValidity minValidity maxValidity canManageWebhooks canErase canEditTemplates eventTypes scopes grantableGroups templateVariants
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
  extend: `mutation($id: ID!, $notify: Boolean!) { extendInvitation(id: $id, notify: $notify) { ${FIELDS} } }`,
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
  templates: `query { emailTemplates { kind locale variant part source version } }`,
  template: `query($kind: EmailTemplateKind!, $locale: String!, $part: EmailTemplatePart!, $variant: String) {
    emailTemplate(kind: $kind, locale: $locale, part: $part, variant: $variant) {
      source version body variables { name description sample } }
    emailTemplateVersions(kind: $kind, locale: $locale, part: $part, variant: $variant) {
      id version body deleted comment savedBy savedAt } }`,
  previewTemplate: `query($input: PreviewEmailTemplateInput!) { previewEmailTemplate(input: $input) {
    subject html text sms problems { line column message text } warnings { text } } }`,
  saveTemplate: `mutation($input: SaveEmailTemplateInput!) { saveEmailTemplate(input: $input) { version } }`,
  revertTemplate: `mutation($id: ID!) { revertEmailTemplate(id: $id) { version } }`,
  deleteTemplate: `mutation($kind: EmailTemplateKind!, $locale: String!, $part: EmailTemplatePart!, $variant: String) {
    deleteEmailTemplate(kind: $kind, locale: $locale, part: $part, variant: $variant) { source } }`,
};

/** The validity periods the create form offers, within the server's bounds. */
const VALIDITIES = ["PT1H", "PT12H", "P1D", "P3D", "P7D", "P14D", "P30D", "P90D"];

// ------------------------------------------------------------------------------- language

// The UI speaks the editor's language: the one they chose (kept in this browser), else the
// browser's. Its words come from the server's message files (`email-templates/<locale>/admin.json`);
// dates, numbers and durations from the browser's Intl for the same locale.
const i18n = { locale: "en", locales: ["en"], messages: {} };

/** The message `key` with its `{placeholders}` filled from `values`. */
function t(key, values = {}) {
  const text = i18n.messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** The message `key.one`, `key.other`, … that the locale's plural rules pick for `n`. */
function plural(key, n, values = {}) {
  const form = new Intl.PluralRules(i18n.locale).select(n);
  const chosen = `${key}.${form}` in i18n.messages ? `${key}.${form}` : `${key}.other`;
  return t(chosen, { n: new Intl.NumberFormat(i18n.locale).format(n), ...values });
}

/** A message whose placeholders are nodes: `{invite}` becomes a button, `{file}` a code element. */
function tNodes(key, nodes) {
  return t(key).split(/\{(\w+)\}/).map((part, i) => (i % 2 ? nodes[part] ?? `{${part}}` : part));
}

/** Loads the messages for the first of `preferences` the server has, and shows them. */
async function speak(preferences) {
  const lang = preferences.filter(Boolean).join(",");
  try {
    const response = await fetch(`/admin/messages?lang=${encodeURIComponent(lang)}`);
    Object.assign(i18n, await response.json());
  } catch {
    return; // The page's built-in English stays.
  }
  document.documentElement.lang = i18n.locale;
  document.title = t("page.title");
  for (const node of document.querySelectorAll("[data-i18n]")) {
    // Slots (`data-slot`) keep their element; the words around them are translated.
    const slots = Object.fromEntries([...node.querySelectorAll("[data-slot]")].map((slot) => [slot.dataset.slot, slot]));
    node.replaceChildren(...tNodes(node.dataset.i18n, slots));
  }
  for (const node of document.querySelectorAll("[data-i18n-aria-label]")) node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
  for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  const names = new Intl.DisplayNames([i18n.locale], { type: "language" });
  const own = (code) => { try { return new Intl.DisplayNames([code], { type: "language" }).of(code); } catch { return code; } };
  $("language").replaceChildren(...i18n.locales.map((code) => el("option", { value: code, lang: code, selected: code === i18n.locale },
    code === i18n.locale ? own(code) : `${own(code)} (${names.of(code)})`)));
}

/** The languages to ask for: the editor's choice, else the browser's. */
function preferredLanguages() {
  const chosen = localStorage.getItem(LANGUAGE_KEY);
  return [chosen, ...(navigator.languages ?? []), navigator.language];
}

/** The editor picked another language: keep it for next time and redraw what is on screen. */
async function switchLanguage(code) {
  localStorage.setItem(LANGUAGE_KEY, code);
  await speak([code]);
  if (!state.viewer) return;
  try {
    // Role names come in the new language too.
    state.viewer = (await gql(Q.viewer, { locale: i18n.locale })).invitationViewer ?? state.viewer;
  } catch (error) {
    say(explain(error), "error");
  }
  greet();
  const kept = ["c-role", "c-locale", "c-validFor", "c-scope", "c-template"].map((id) => [id, $(id).value]);
  fillCreateForm();
  for (const [id, value] of kept) $(id).value = value;
  showChannel();
  fillWebhookForm();
  makeScopeFilter();
  if (state.view === "list") await loadList();
  if (state.view === "detail" && state.current) await openDetail(state.current, null, false);
  if (state.view === "webhooks") await loadEndpoints();
  if (state.view === "templates") await openTemplate(false);
  say("");
}

/** An API error as the editor reads it: the code's message in their language; the server's own
 * explanation (in English, as the API gives it) where it is the point, as for FORBIDDEN. */
function explain(error) {
  if (error.code === "FORBIDDEN") return t("error.FORBIDDEN", { detail: error.message });
  const key = `error.${error.code}`;
  return key in i18n.messages ? t(key) : error.message;
}

/** An error from the API, with its stable code and the field it names. */
class ApiError extends Error {
  constructor(message, code, field, problems = []) {
    super(message);
    this.code = code;
    this.field = field;
    /** `line:column: message` for each problem of a refused template. */
    this.problems = problems;
  }
}

const state = { viewer: null, cursors: [null], page: 0, current: null, view: "list" };

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
    throw new ApiError(t("error.NETWORK"), "NETWORK");
  }
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) {
    signOut(t("sign.in.refused"));
    throw new ApiError(t("error.UNAUTHENTICATED"), "UNAUTHENTICATED");
  }
  const error = body.errors?.[0];
  if (error) {
    throw new ApiError(error.message, error.extensions?.code, error.extensions?.field, error.extensions?.problems ?? []);
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
  return iso ? new Date(iso).toLocaleString(i18n.locale, { dateStyle: "medium", timeStyle: "short" }) : "—";
}

function relative(iso) {
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
  const format = new Intl.RelativeTimeFormat(i18n.locale, { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(seconds, "second");
}

function badge(stateName) {
  return el("span", { class: `badge state-${stateName.toLowerCase()}` }, t(`state.${stateName}`));
}

function deliveryText(delivery, channel = "EMAIL") {
  const status = t(`delivery.${delivery.status}`);
  const text = delivery.status === "QUEUED" && delivery.attempts > 0 ? plural("delivery.tries", delivery.attempts, { status }) : status;
  return channel === "SMS" ? `${text} · ${t("channel.short.SMS")}` : text;
}

/** Whom an invitation is for, as editors recognize them: the email, else the phone. */
function invitee(invitation) {
  return invitation.email ?? invitation.phone;
}

/** The seconds of an ISO 8601 duration as the API writes them (`P7D`, `PT12H`, `P1DT6H`). */
function seconds(iso) {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(iso) ?? [];
  return ((+m[1] || 0) * 86400) + ((+m[2] || 0) * 3600) + ((+m[3] || 0) * 60) + (+m[4] || 0);
}

/** A duration in seconds as words: "1 day 12 hours", "1 Tag 12 Stunden". */
function duration(total) {
  const parts = [[Math.floor(total / 86400), "day"], [Math.floor(total % 86400 / 3600), "hour"],
    [Math.floor(total % 3600 / 60), "minute"]].filter(([n]) => n > 0);
  const format = (n, unit) => new Intl.NumberFormat(i18n.locale, { style: "unit", unit, unitDisplay: "long" }).format(n);
  return parts.length ? parts.map(([n, unit]) => format(n, unit)).join(" ") : format(total, "second");
}

function show(view) {
  say("");
  state.view = view;
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
  return ask(title, text, ok, null).then((answer) => answer !== null);
}

/** The confirmation dialog with a checkbox labelled `option` (none when null): `null` when
 * cancelled, else whether the box was ticked. `tone` styles the confirming button. */
function ask(title, text, ok, option, tone = "danger") {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  $("confirm-ok").className = tone;
  $("confirm-option").hidden = option === null;
  $("confirm-option-text").textContent = option ?? "";
  $("confirm-option-box").checked = false;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? $("confirm-option-box").checked : null), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
  });
}

/** The "copy link" panel shown after a create or resend minted a link. */
function mintedPanel(invitation) {
  if (!invitation.inviteUrl) return null;
  const input = el("input", { value: invitation.inviteUrl, readOnly: true, id: "minted-link", "aria-label": t("minted.link") });
  const copy = el("button", {
    type: "button",
    class: "primary",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(invitation.inviteUrl);
        say(t("minted.copied"), "ok");
      } catch {
        input.select();
        say(t("minted.select"), "info");
      }
    },
  }, t("minted.copy"));
  const note = invitation.delivery.status === "SKIPPED" ? t("minted.skipped")
    : invitation.channel === "SMS" ? t("minted.sent.sms") : t("minted.sent");
  return el("div", { class: "minted card", role: "group", "aria-label": t("minted.label") },
    el("p", {}, note), el("div", { class: "copy" }, input, copy));
}

function actionButtons(invitation, after) {
  const buttons = [];
  if (invitation.isResendable) {
    buttons.push(el("button", { type: "button", onclick: () => resend(invitation, after) }, t("action.resend")));
    buttons.push(el("button", { type: "button", onclick: () => extend(invitation, after) }, t("action.extend")));
  }
  if (invitation.isRevocable) {
    buttons.push(el("button", { type: "button", class: "danger", onclick: () => revoke(invitation, after) }, t("action.revoke")));
  }
  return buttons;
}

// -------------------------------------------------------------------------------------- list

function listVariables() {
  const stateFilter = $("filter-state").value;
  const emailContains = $("filter-email").value.trim();
  const scope = $("filter-scope").value.trim();
  const channel = $("filter-channel").value;
  const [field, direction] = $("sort").value.split(":");
  return {
    filter: {
      states: stateFilter ? [stateFilter] : [], emailContains: emailContains || null, scope: scope || null,
      channels: channel ? [channel] : [],
    },
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
    say(explain(error), "error");
    return;
  }
  const { nodes, totalCount, pageInfo } = data.invitations;
  state.cursors[state.page + 1] = pageInfo.endCursor;
  const count = plural("list.count", totalCount);
  $("list-count").textContent = totalCount > PAGE_SIZE ? t("list.count.page", { count, page: state.page + 1 }) : count;
  $("next-page").disabled = !pageInfo.hasNextPage;
  $("first-page").disabled = state.page === 0;
  const filtered = $("filter-state").value || $("filter-email").value.trim() || $("filter-scope").value.trim()
    || $("filter-channel").value;
  const empty = $("list-empty");
  empty.hidden = nodes.length > 0;
  $("list-table").hidden = nodes.length === 0;
  empty.replaceChildren(filtered
    ? el("p", {}, t("list.none.filtered"))
    : el("p", {}, tNodes("list.none", {
      invite: el("button", { type: "button", class: "link", onclick: () => show("create") }, t("list.none.invite")),
    })));
  $("list-rows").replaceChildren(...nodes.map(row));
}

function row(invitation) {
  const open = el("button", { type: "button", class: "link", onclick: () => openDetail(invitation.id) }, invitee(invitation));
  return el("tr", { "data-id": invitation.id },
    el("td", { "data-label": t("column.invitee") }, open),
    el("td", { "data-label": t("column.name") }, invitation.name ?? ""),
    el("td", { "data-label": t("column.role") }, roleName(invitation.role)),
    el("td", { "data-label": t("column.groups") }, invitation.groups.join(", ")),
    el("td", { "data-label": t("column.state") }, badge(invitation.state)),
    el("td", { "data-label": t("column.expires") },
      el("time", { datetime: invitation.expiresAt, title: absolute(invitation.expiresAt) }, relative(invitation.expiresAt)),
      el("span", { class: "sub" }, absolute(invitation.expiresAt))),
    el("td", { "data-label": t("column.delivery") }, deliveryText(invitation.delivery, invitation.channel)),
    el("td", { class: "row-actions" }, actionButtons(invitation, loadList)));
}

// ------------------------------------------------------------------------------------ detail

/** Shows one invitation: `minted` as a create or resend returned it (with its link), else as
 * read now. `focus` moves to its heading, as opening a view does. */
async function openDetail(id, minted = null, focus = true) {
  let invitation = minted;
  if (!invitation) {
    try {
      invitation = (await gql(Q.one, { id })).invitation;
    } catch (error) {
      say(explain(error), "error");
      return;
    }
  }
  if (!invitation) {
    say(t("detail.gone"), "error");
    return;
  }
  state.current = invitation.id;
  renderDetail(invitation);
  if (focus) show("detail");
}

function renderDetail(invitation) {
  $("detail-title").replaceChildren(invitee(invitation), " ", badge(invitation.state));
  $("detail-minted").replaceChildren(mintedPanel(invitation) ?? "");
  const actions = actionButtons(invitation, () => openDetail(invitation.id));
  if (state.viewer.canErase) {
    actions.push(el("button", { type: "button", class: "danger", onclick: () => remove(invitation) }, t("action.delete")));
  }
  $("detail-actions").replaceChildren(...actions);
  const delivery = invitation.delivery;
  const number = (n) => new Intl.NumberFormat(i18n.locale).format(n);
  const fields = [
    ["channel", t(`channel.short.${invitation.channel}`)],
    ...(invitation.email && invitation.phone ? [["phone", invitation.phone]] : []),
    ["name", invitation.name ?? "—"],
    ["role", roleName(invitation.role)],
    ["groups", invitation.groups.join(", ") || "—"],
    ["scope", invitation.scope ?? "—"],
    ["template", invitation.template ?? t("create.template.base")],
    ["invitedBy", invitation.invitedBy.name],
    ["created", absolute(invitation.createdAt)],
    ["expires", `${absolute(invitation.expiresAt)} (${relative(invitation.expiresAt)})`],
    ["accepted", absolute(invitation.acceptedAt)],
    ["revoked", absolute(invitation.revokedAt)],
    ["declined", absolute(invitation.declinedAt)],
    ["sendCount", number(invitation.sendCount)],
    ["delivery", deliveryText(delivery, invitation.channel)],
    ["attempts", number(delivery.attempts)],
    ["lastAttempt", absolute(delivery.lastAttemptAt)],
    ["lastError", delivery.lastError ?? "—"],
    ["locale", delivery.locale ?? invitation.locale ?? "—"],
  ];
  $("detail-fields").replaceChildren(...fields.flatMap(([name, value]) => [el("dt", {}, t(`field.${name}`)), el("dd", {}, value)]));
  const by = (event) => (event.actor ? t("event.by", { name: event.actor.name })
    : event.actorKind === "INVITEE" ? t("event.by.invitee") : t("event.by.system"));
  $("detail-events").replaceChildren(...invitation.events.map((event) => el("li", {},
    el("time", { datetime: event.at }, absolute(event.at)), " ",
    el("strong", {}, t(`event.${event.kind}`)), " ", by(event))));
}

async function resend(invitation, after) {
  try {
    const { resendInvitation } = await gql(Q.resend, { id: invitation.id });
    await openDetail(resendInvitation.id, resendInvitation);
    say(t("resent", { to: invitee(resendInvitation) }), "ok");
  } catch (error) {
    say(explain(error), "error");
    await after();
  }
}

/** A later expiry, the same link: the default validity from now. */
async function extend(invitation, after) {
  const to = invitee(invitation);
  const until = absolute(new Date(Date.now() + seconds(state.viewer.defaultValidity) * 1000).toISOString());
  const notify = await ask(t("extend.title"), t("extend.text", { to, until }), t("action.extend"), t("extend.notify"), "primary");
  if (notify === null) return;
  try {
    const { extendInvitation } = await gql(Q.extend, { id: invitation.id, notify });
    await openDetail(extendInvitation.id, extendInvitation);
    say(t("extended", { to, until: absolute(extendInvitation.expiresAt) }), "ok");
  } catch (error) {
    say(explain(error), "error");
    await after();
  }
}

async function revoke(invitation, after) {
  const to = invitee(invitation);
  const sure = await confirmAction(t("revoke.title"), t("revoke.text", { to }), t("action.revoke"));
  if (!sure) return;
  try {
    await gql(Q.revoke, { id: invitation.id });
    say(t("revoked", { to }), "ok");
  } catch (error) {
    say(explain(error), "error");
  }
  await after();
}

async function remove(invitation) {
  const to = invitee(invitation);
  const sure = await confirmAction(t("delete.title"), t("delete.text", { to }), t("action.delete"));
  if (!sure) return;
  let deleted;
  try {
    deleted = (await gql(Q.remove, { id: invitation.id })).deleteInvitation;
  } catch (error) {
    say(explain(error), "error");
    return;
  }
  show("list");
  await loadList();
  say(deleted ? t("deleted", { to }) : t("detail.gone"), deleted ? "ok" : "error");
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
      ...(anyLabel ? [el("option", { value: "" }, anyLabel)] : scopes.length > 1 ? [el("option", { value: "" }, t("create.scope.choose"))] : []),
      ...scopes.map((scope) => el("option", { value: scope }, scope))])
    : el("input", { ...attributes, type: "search", autocomplete: "off" });
  $(slot).replaceChildren(control);
  return control;
}

function fillCreateForm() {
  const viewer = state.viewer;
  scopeControl("c-scope-slot", "c-scope", null, "c-scope-error");
  // A caller limited to scopes must name one; the form says so rather than "optional".
  const scopes = viewer.scopes?.join(", ");
  $("c-scope-optional").textContent = viewer.scopes ? t("create.scope.yours", { scopes }) : t("create.scope.optional");
  $("c-groups-hint").textContent = viewer.grantableGroups
    ? t("create.groups.allowed", { groups: viewer.grantableGroups.join(", ") || t("create.groups.none") }) : "";
  const hint = $("bulk-scope-hint");
  hint.hidden = !viewer.scopes;
  hint.textContent = !viewer.scopes ? ""
    : viewer.scopes.length === 1 ? t("bulk.scope.one", { scopes, scope: viewer.scopes[0] }) : t("bulk.scope.many", { scopes });
  // No role is preselected: what an invitee may do is always a deliberate choice.
  $("c-role").replaceChildren(el("option", { value: "" }, t("create.role.choose")),
    ...viewer.grantableRoles.map((role) => el("option", { value: role }, roleName(role))));
  // The variants of the invitation message, when the templates have any.
  $("c-template-field").hidden = viewer.templateVariants.length === 0;
  $("c-template").replaceChildren(el("option", { value: "" }, t("create.template.base")),
    ...viewer.templateVariants.map((name) => el("option", { value: name }, name)));
  $("c-locale").replaceChildren(
    el("option", { value: "" }, t("create.locale.automatic", { locale: viewer.defaultLocale })),
    ...viewer.emailLocales.map((locale) => el("option", { value: locale }, locale)));
  const [min, max, fallback] = [seconds(viewer.minValidity), seconds(viewer.maxValidity), viewer.defaultValidity];
  const choices = VALIDITIES.filter((iso) => seconds(iso) >= min && seconds(iso) <= max);
  if (!choices.includes(fallback)) choices.push(fallback);
  $("c-validFor").replaceChildren(...choices.map((iso) => el("option", { value: iso, selected: iso === fallback },
    iso === fallback ? t("create.validFor.default", { duration: duration(seconds(iso)) }) : duration(seconds(iso)))));
  $("c-validFor-hint").textContent = t("create.validFor.allowed", { min: duration(min), max: duration(max) });
  const cannot = viewer.grantableRoles.length === 0;
  for (const id of ["create-form", "bulk-form"]) {
    for (const control of $(id).elements) control.disabled = cannot;
  }
  if (cannot) say(t("create.cannot"), "info");
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
  const channel = chosenChannel();
  const email = $("c-email").value.trim();
  const phone = $("c-phone").value.trim();
  if (channel === "EMAIL" && !email) {
    fieldError("c", "email", t("create.missing.email"));
    return;
  }
  if (channel === "SMS" && !phone) {
    fieldError("c", "phone", t("create.missing.phone"));
    return;
  }
  if (!$("c-role").value) {
    fieldError("c", "role", t("create.missing.role"));
    return;
  }
  if (state.viewer.scopes && !$("c-scope").value) {
    fieldError("c", "scope", t("create.missing.scope"));
    return;
  }
  const input = {
    channel,
    email: email || null,
    phone: phone || null,
    name: $("c-name").value.trim() || null,
    role: $("c-role").value,
    groups: $("c-groups").value.split(",").map((g) => g.trim()).filter(Boolean),
    locale: $("c-locale").value || null,
    scope: $("c-scope").value.trim() || null,
    template: $("c-template").value || null,
    validFor: $("c-validFor").value,
    sendEmail: $("c-sendEmail").checked,
  };
  try {
    const { createInvitation } = await gql(Q.create, { input });
    form.reset();
    fillCreateForm();
    showChannel();
    await openDetail(createInvitation.id, createInvitation);
    say(t("created", { to: invitee(createInvitation) }), "ok");
  } catch (error) {
    if (error.code === "VALIDATION_FAILED" && fieldError("c", error.field, error.message)) {
      say(t("form.correct"), "error");
    } else if (error.code === "DUPLICATE_PENDING_INVITATION") {
      fieldError("c", "email", explain(error));
      say(explain(error), "error");
    } else {
      say(explain(error), "error");
    }
  }
}

/** EMAIL or SMS, as the create form's radio buttons say. */
function chosenChannel() {
  return $("c-channel-sms").checked ? "SMS" : "EMAIL";
}

/** The channel's own address is required, the other optional; the labels say which. */
function showChannel() {
  const sms = chosenChannel() === "SMS";
  $("c-email-optional").hidden = !sms;
  $("c-email").required = !sms;
  $("c-phone").required = sms;
  $("c-phone-optional").textContent = t(sms ? "create.phone.required" : "create.phone.optional");
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
    ? t("bulk.empty")
    : rows.length > 1000 ? t("bulk.too.many", { n: rows.length }) : "";
  if (problem) {
    $("bulk-error").textContent = problem;
    $("bulk-text").setAttribute("aria-invalid", "true");
    $("bulk-text").focus();
    return;
  }
  // A caller with a single scope need not repeat it on every line.
  const onlyScope = state.viewer.scopes?.length === 1 ? state.viewer.scopes[0] : null;
  const inputs = rows.map(([email = "", name = "", role = "", groups = "", locale = "", scope = "", phone = "", channel = "", template = ""]) => ({
    template: template || null,
    email: email || null, phone: phone || null, channel: channel.toUpperCase() === "SMS" ? "SMS" : "EMAIL",
    name: name || null, role: role || state.viewer.grantableRoles.at(-1) || "",
    groups: groups.split(";").map((g) => g.trim()).filter(Boolean), locale: locale || null,
    scope: scope || onlyScope, sendEmail: $("bulk-send").checked,
  }));
  let result;
  try {
    result = (await gql(Q.bulk, { inputs })).createInvitations;
  } catch (error) {
    say(explain(error), "error");
    return;
  }
  const outcome = t("bulk.outcome", { created: result.created, failed: result.failed });
  say(outcome, result.failed ? "error" : "ok");
  const [line, email, column] = [t("bulk.line"), t("bulk.email"), t("bulk.result")];
  const table = el("table", { class: "list results" },
    el("caption", {}, outcome),
    el("thead", {}, el("tr", {}, [line, email, column].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, result.items.map((item) => el("tr", { class: item.error ? "failed" : "created" },
      el("td", { "data-label": line }, String(item.index + 1)),
      el("td", { "data-label": email }, inputs[item.index].email ?? inputs[item.index].phone ?? ""),
      el("td", { "data-label": column }, item.error
        ? `${item.error.field ? `${item.error.field}: ` : ""}${explain(item.error)} (${item.error.code})`
        : t("bulk.created"))))));
  $("bulk-result").replaceChildren(table);
}

// ----------------------------------------------------------------------------------- preview

/** Counts preview requests: an answer that arrives after a later request's is dropped. */
let previewRequests = 0;

async function loadPreview() {
  const params = new URLSearchParams({
    kind: $("p-kind").value || "invitation", locale: $("p-locale").value || "", variant: $("p-variant").value || "",
  });
  const request = ++previewRequests;
  let preview;
  try {
    preview = await (await fetch(`/email-preview.json?${params}`)).json();
  } catch {
    say(t("preview.failed"), "error");
    return;
  }
  if (request !== previewRequests) return;
  const fill = (select, values, selected) => {
    if (select.options.length !== values.length) {
      select.replaceChildren(...values.map((v) => el("option", { value: v }, v)));
    }
    select.value = selected;
  };
  fill($("p-kind"), preview.kinds, preview.kind);
  fill($("p-locale"), preview.locales, preview.locale);
  // Variants are of the invitation only.
  $("p-variant-field").hidden = preview.variants.length === 0 || preview.kind !== "invitation";
  if ($("p-variant").options.length !== preview.variants.length + 1) {
    $("p-variant").replaceChildren(el("option", { value: "" }, t("create.template.base")),
      ...preview.variants.map((v) => el("option", { value: v }, v)));
  }
  $("p-subject").textContent = preview.subject ?? "";
  $("p-problem").textContent = preview.problem ?? "";
  $("p-text").textContent = preview.text ?? "";
  // The invitation's text message, for SMS invitations, with what it costs.
  $("p-sms-figure").hidden = !("sms" in preview || "smsProblem" in preview);
  $("p-sms").textContent = preview.sms ?? preview.smsProblem ?? "";
  $("p-sms-length").textContent = preview.smsLength ?? "";
  const html = new URLSearchParams({ kind: preview.kind, locale: preview.locale, variant: $("p-variant").value });
  let body;
  try {
    body = await (await fetch(`/email-preview/html?${html}`)).text();
  } catch {
    say(t("preview.failed"), "error");
    return;
  }
  if (request === previewRequests) await showHtml($("p-html"), body);
}

/** Puts an email's html into `frame`: a page of this server with the email's own policy (inline
 * styles, no scripts), sandboxed without scripts. The frame's own document parses the html (so its
 * policy, not this page's, applies), and the text, subject and html of one preview show together. */
async function showHtml(frame, html) {
  const loaded = () => frame.contentDocument?.readyState === "complete" && frame.contentDocument.URL.endsWith("/email-preview/frame");
  if (!loaded()) await new Promise((resolve) => frame.addEventListener("load", resolve, { once: true }));
  const root = frame.contentDocument.documentElement;
  root.lang = /<html[^>]*\slang="([^"]*)"/i.exec(html)?.[1] ?? "";
  // Markup set this way never runs a script; the sandbox forbids them besides.
  root.innerHTML = html;
}

// --------------------------------------------------------------------------------- templates

/** The template being edited: what the server has in force, and its saved versions. */
const templates = { all: [], current: null, versions: [], opens: 0, previews: 0, timer: null };

/** Which template the pickers name, as the API takes it. */
function pickedTemplate() {
  const variant = $("t-variant").value;
  return { kind: $("t-kind").value, locale: $("t-locale").value, part: $("t-part").value, variant: variant || null };
}

/** Fills a picker with `values` (label: `label(value)`), keeping its choice when it still can. */
function fillPicker(select, values, label = (v) => v) {
  const before = select.value;
  select.replaceChildren(...values.map((v) => el("option", { value: v }, label(v))));
  if (values.includes(before)) select.value = before;
}

/** Loads the list of templates, fills the pickers, and opens the picked one. */
async function loadTemplates() {
  try {
    templates.all = (await gql(Q.templates)).emailTemplates;
  } catch (error) {
    say(explain(error), "error");
    return;
  }
  const unique = (values) => [...new Set(values)];
  fillPicker($("t-kind"), unique(templates.all.map((x) => x.kind)), (k) => t(`templates.kind.${k}`));
  fillPicker($("t-locale"), unique(templates.all.map((x) => x.locale)).sort());
  await openTemplate();
}

/** Opens the picked template: its text, variables, versions, and a preview. `fresh` false keeps
 * the text being edited (a language switch redraws the page around it). */
async function openTemplate(fresh = true) {
  const request = ++templates.opens;
  $("view-templates").setAttribute("aria-busy", "true");
  try {
    await fillTemplate(request, fresh);
  } finally {
    if (request === templates.opens) $("view-templates").setAttribute("aria-busy", "false");
  }
}

async function fillTemplate(request, fresh) {
  const kind = $("t-kind").value;
  const locale = $("t-locale").value;
  const variants = [...new Set(templates.all.filter((x) => x.kind === kind && x.locale === locale && x.variant)
    .map((x) => x.variant))];
  $("t-variant-field").hidden = variants.length === 0;
  const variant = $("t-variant").value;
  $("t-variant").replaceChildren(el("option", { value: "" }, t("create.template.base")),
    ...variants.map((v) => el("option", { value: v }, v)));
  $("t-variant").value = variants.includes(variant) ? variant : "";
  const parts = templates.all.filter((x) => x.kind === kind && x.locale === locale && (x.variant ?? "") === $("t-variant").value)
    .map((x) => x.part);
  fillPicker($("t-part"), parts, (p) => t(`templates.part.${p}`));
  let found;
  try {
    found = await gql(Q.template, pickedTemplate());
  } catch (error) {
    say(explain(error), "error");
    return;
  }
  // A later pick's answer wins; an earlier one arriving late is dropped.
  if (request !== templates.opens || !found.emailTemplate) return;
  templates.current = found.emailTemplate;
  templates.versions = found.emailTemplateVersions;
  const editable = state.viewer.canEditTemplates;
  $("t-body").readOnly = false;
  $("t-readonly").hidden = editable;
  $("t-save-form").hidden = !editable;
  $("t-delete").hidden = !editable || templates.current.source !== "STORED";
  $("t-origin").textContent = templates.current.source === "STORED"
    ? t("templates.origin.STORED", { version: templates.current.version })
    : t(`templates.origin.${templates.current.source}`);
  if (fresh) {
    $("t-body").value = templates.current.body;
    $("t-comment").value = "";
  }
  $("t-variables").replaceChildren(...templates.current.variables.map((v) => el("tr", {},
    el("td", { "data-label": t("templates.variable") }, el("code", {}, `{{${v.name}}}`)),
    el("td", { "data-label": t("templates.meaning") }, v.description),
    el("td", { "data-label": t("templates.sample") }, v.sample ?? "—"))));
  showVersions();
  numberLines();
  await previewTemplate();
}

/** The line numbers beside the text, the lines with a problem marked. */
function numberLines(bad = templates.badLines ?? new Set()) {
  const count = $("t-body").value.split("\n").length;
  $("t-lines").replaceChildren(...Array.from({ length: count }, (_, i) =>
    el("span", { class: bad.has(i + 1) ? "bad" : "" }, `${i + 1}\n`)));
  $("t-lines").scrollTop = $("t-body").scrollTop;
}

/** Moves the caret to `line`:`column` of the text. */
function goTo(line, column) {
  const lines = $("t-body").value.split("\n");
  const offset = lines.slice(0, line - 1).reduce((sum, l) => sum + l.length + 1, 0) + Math.max(0, (column ?? 1) - 1);
  $("t-body").focus();
  $("t-body").setSelectionRange(offset, offset);
}

/** Shows problems (`{line, column, text}`, or `line:column: message` strings) and warnings. */
function showProblems(problems, warnings = []) {
  const parsed = problems.map((p) => (typeof p === "string"
    ? (([, line, column]) => ({ line: line ? +line : null, column: column ? +column : null, text: p }))(/^(\d+)(?::(\d+))?:/.exec(p) ?? [])
    : p));
  templates.badLines = new Set(parsed.map((p) => p.line).filter(Boolean));
  numberLines();
  $("t-body").setAttribute("aria-invalid", parsed.length > 0 ? "true" : "false");
  const item = (p, tone) => el("li", { class: tone }, p.line
    ? el("button", { type: "button", class: "link", onclick: () => goTo(p.line, p.column) },
      t("templates.problem.at", { line: p.line, column: p.column ?? 1, text: p.text.replace(/^\d+(:\d+)?: /, "") }))
    : p.text);
  const list = [...parsed.map((p) => item(p, "problem")), ...warnings.map((w) => item({ text: w.text }, "warning"))];
  $("t-problems").replaceChildren(...(list.length ? [el("ul", {}, list)] : []));
}

/** Previews the text being edited a moment after the typing stops. */
function previewSoon() {
  clearTimeout(templates.timer);
  templates.timer = setTimeout(previewTemplate, 250);
}

/** Renders the text being edited with sample data: subject, html and text side by side. */
async function previewTemplate() {
  const request = ++templates.previews;
  let preview;
  try {
    preview = (await gql(Q.previewTemplate, { input: { ...pickedTemplate(), source: $("t-body").value } })).previewEmailTemplate;
  } catch (error) {
    if (request === templates.previews) say(explain(error), "error");
    return;
  }
  if (request !== templates.previews) return;
  showProblems(preview.problems, preview.warnings);
  // What rendered stays on screen while a problem is fixed.
  if (preview.subject !== null) $("t-subject").textContent = preview.subject;
  if (preview.text !== null) $("t-text").textContent = preview.text;
  $("t-sms-figure").hidden = preview.sms === null;
  if (preview.sms !== null) $("t-sms").textContent = preview.sms;
  if (preview.html !== null) await showHtml($("t-html"), preview.html);
}

async function saveTemplate(event) {
  event.preventDefault();
  const input = {
    ...pickedTemplate(),
    source: $("t-body").value,
    comment: $("t-comment").value,
    baseVersion: templates.current?.version ?? 0,
  };
  let saved;
  try {
    saved = (await gql(Q.saveTemplate, { input })).saveEmailTemplate;
  } catch (error) {
    if (error.problems.length) {
      showProblems(error.problems);
      say(t("templates.refused"), "error");
      goTo(...(/^(\d+):(\d+)/.exec(error.problems[0]) ?? [0, 1, 1]).slice(1).map(Number));
    } else {
      say(explain(error), "error");
    }
    return;
  }
  // Said once the page shows what was saved.
  await loadTemplates();
  say(t("templates.saved.ok", { version: saved.version }), "ok");
}

async function deleteTemplate() {
  if (!await confirmAction(t("templates.delete.title"), t("templates.delete.text"), t("templates.delete"))) return;
  try {
    await gql(Q.deleteTemplate, pickedTemplate());
  } catch (error) {
    say(explain(error), "error");
    return;
  }
  await loadTemplates();
  say(t("templates.deleted"), "ok");
}

async function revertTemplate(version) {
  if (!await confirmAction(t("templates.revert.title", { version: version.version }), t("templates.revert.text"),
    t("templates.revert"))) return;
  let reverted;
  try {
    reverted = (await gql(Q.revertTemplate, { id: version.id })).revertEmailTemplate;
  } catch (error) {
    say(error.problems.length ? `${t("templates.refused")} ${error.problems.join(" ")}` : explain(error), "error");
    return;
  }
  await loadTemplates();
  say(t("templates.saved.ok", { version: reverted.version }), "ok");
}

/** The saved versions, newest first, each with its changes and (but the newest) a revert. */
function showVersions() {
  const versions = templates.versions;
  $("t-no-history").hidden = versions.length > 0;
  $("t-history-table").hidden = versions.length === 0;
  $("t-diff").replaceChildren();
  $("t-versions").replaceChildren(...versions.map((v, i) => {
    const older = versions[i + 1];
    const actions = [el("button", { type: "button", onclick: () => showDiff(v, older) }, t("templates.changes"))];
    if (i > 0 && state.viewer.canEditTemplates) {
      actions.push(el("button", { type: "button", onclick: () => revertTemplate(v) }, t("templates.revert")));
    }
    return el("tr", {},
      el("td", { "data-label": t("templates.version") }, v.deleted ? t("templates.version.deleted", { version: v.version }) : String(v.version)),
      el("td", { "data-label": t("templates.saved") }, absolute(v.savedAt)),
      el("td", { "data-label": t("templates.by") }, v.savedBy),
      el("td", { "data-label": t("templates.comment") }, v.comment || "—"),
      el("td", {}, el("div", { class: "actions" }, actions)));
  }));
}

/** What `version` changed from `older` (nothing before the first), line by line. */
function showDiff(version, older) {
  const before = (older?.body ?? "").split("\n");
  const after = (version.body ?? "").split("\n");
  // The longest common subsequence of lines, then the lines outside it.
  const n = before.length;
  const m = after.length;
  const common = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      common[i][j] = before[i] === after[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    }
  }
  const lines = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && before[i] === after[j]) {
      lines.push(el("span", {}, `  ${before[i]}\n`));
      i++;
      j++;
    } else if (j < m && (i === n || common[i][j + 1] >= common[i + 1][j])) {
      lines.push(el("ins", {}, `+ ${after[j++]}`));
    } else {
      lines.push(el("del", {}, `- ${before[i++]}`));
    }
  }
  const title = older ? t("templates.diff.title", { version: version.version, older: older.version })
    : t("templates.diff.first", { version: version.version });
  $("t-diff").replaceChildren(el("h4", {}, title), el("pre", { class: "diff", "aria-label": title }, lines));
}

// ---------------------------------------------------------------------------------- webhooks

const webhooks = { endpoint: null, after: null };

async function loadEndpoints() {
  let endpoints;
  try {
    endpoints = (await gql(Q.endpoints)).webhookEndpoints;
  } catch (error) {
    say(explain(error), "error");
    return;
  }
  $("wh-count").textContent = plural("webhooks.count", endpoints.length);
  $("wh-empty").hidden = endpoints.length > 0;
  $("wh-table").hidden = endpoints.length === 0;
  $("wh-rows").replaceChildren(...endpoints.map(endpointRow));
}

function endpointRow(endpoint) {
  const stateText = !endpoint.enabled
    ? t("webhooks.disabled", { reason: endpoint.disabledReason ?? t("webhooks.disabled.byAdmin") })
    : endpoint.failingSince ? t("webhooks.failing", { since: absolute(endpoint.failingSince) }) : t("webhooks.enabled");
  const act = (key, onclick, tone = "") => el("button", { type: "button", class: tone, onclick }, t(`webhooks.action.${key}`));
  return el("tr", { "data-id": endpoint.id },
    el("td", { "data-label": t("webhooks.url") }, el("span", { class: "url" }, endpoint.url),
      endpoint.description ? el("span", { class: "sub" }, endpoint.description) : null),
    el("td", { "data-label": t("webhooks.events") }, endpoint.eventTypes.length ? endpoint.eventTypes.join(", ") : t("webhooks.allEvents")),
    el("td", { "data-label": t("webhooks.state") },
      el("span", { class: `badge ${endpoint.enabled ? "state-accepted" : "state-revoked"}` }, stateText)),
    el("td", { "data-label": t("webhooks.secretMade") }, absolute(endpoint.secretCreatedAt)),
    el("td", { class: "row-actions" },
      act("deliveries", () => openDeliveries(endpoint)),
      act("test", () => sendTest(endpoint)),
      act("rotate", () => rotateSecret(endpoint)),
      endpoint.enabled ? act("disable", () => setEnabled(endpoint, false)) : act("enable", () => setEnabled(endpoint, true)),
      act("delete", () => deleteEndpoint(endpoint), "danger")));
}

/** The secret of a new or rotated endpoint, shown once with a copy button. */
function secretPanel(url, secret, rotated) {
  const input = el("input", { value: secret, readOnly: true, id: "wh-secret-value", "aria-label": t("webhooks.secret") });
  const copy = el("button", {
    type: "button",
    class: "primary",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        say(t("webhooks.secret.copied"), "ok");
      } catch {
        input.select();
        say(t("webhooks.secret.select"), "info");
      }
    },
  }, t("webhooks.secret.copy"));
  const note = t(rotated ? "webhooks.secret.rotated" : "webhooks.secret.new", { url });
  $("wh-secret").replaceChildren(el("div", { class: "minted card", role: "group", "aria-label": t("webhooks.secret") },
    el("p", {}, note), el("div", { class: "copy" }, input, copy)));
}

async function submitEndpoint(event) {
  event.preventDefault();
  const form = event.target;
  clearFieldErrors(form);
  const url = $("w-url").value.trim();
  if (!url) {
    fieldError("w", "url", t("webhooks.add.missing.url"));
    return;
  }
  const eventTypes = [...form.querySelectorAll("input[name=eventType]:checked")].map((box) => box.value);
  try {
    const { createWebhookEndpoint } = await gql(Q.createEndpoint, {
      input: { url, eventTypes, description: $("w-description").value.trim() || null },
    });
    form.reset();
    secretPanel(createWebhookEndpoint.endpoint.url, createWebhookEndpoint.secret, false);
    say(t("webhooks.added", { url: createWebhookEndpoint.endpoint.url }), "ok");
    await loadEndpoints();
  } catch (error) {
    if (error.code === "VALIDATION_FAILED" && fieldError("w", error.field, error.message)) {
      say(t("form.correct"), "error");
    } else {
      say(explain(error), "error");
    }
  }
}

async function rotateSecret(endpoint) {
  const { url } = endpoint;
  const sure = await confirmAction(t("webhooks.rotate.title"), t("webhooks.rotate.text", { url }), t("webhooks.rotate.ok"));
  if (!sure) return;
  try {
    const { rotateWebhookEndpointSecret } = await gql(Q.rotate, { id: endpoint.id });
    secretPanel(url, rotateWebhookEndpointSecret.secret, true);
    say(t("webhooks.rotated"), "ok");
    await loadEndpoints();
  } catch (error) {
    say(explain(error), "error");
  }
}

async function setEnabled(endpoint, enabled) {
  try {
    await gql(Q.updateEndpoint, { id: endpoint.id, input: { enabled } });
    say(t(enabled ? "webhooks.enabled.again" : "webhooks.disabled.now", { url: endpoint.url }), "ok");
  } catch (error) {
    say(explain(error), "error");
  }
  await loadEndpoints();
}

async function deleteEndpoint(endpoint) {
  const { url } = endpoint;
  const sure = await confirmAction(t("webhooks.delete.title"), t("webhooks.delete.text", { url }), t("webhooks.action.delete"));
  if (!sure) return;
  try {
    await gql(Q.deleteEndpoint, { id: endpoint.id });
    say(t("webhooks.deleted", { url }), "ok");
    if (webhooks.endpoint?.id === endpoint.id) $("wh-deliveries").hidden = true;
  } catch (error) {
    say(explain(error), "error");
  }
  await loadEndpoints();
}

async function sendTest(endpoint) {
  try {
    await gql(Q.test, { id: endpoint.id });
    say(t("webhooks.test.sent", { url: endpoint.url }), "ok");
    await openDeliveries(endpoint);
  } catch (error) {
    say(explain(error), "error");
  }
}

async function openDeliveries(endpoint, more = false) {
  webhooks.endpoint = endpoint;
  if (!more) webhooks.after = null;
  let page;
  try {
    page = (await gql(Q.deliveries, { id: endpoint.id, after: webhooks.after })).webhookDeliveries;
  } catch (error) {
    say(explain(error), "error");
    return;
  }
  webhooks.after = page.endCursor;
  $("wh-deliveries").hidden = false;
  $("wh-deliveries-title").textContent = t("deliveries.title.to", { url: endpoint.url });
  $("wh-more").hidden = !page.hasNextPage;
  const rows = page.nodes.map(deliveryRow);
  if (more) $("wh-delivery-rows").append(...rows);
  else $("wh-delivery-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "5" }, t("deliveries.none")))]));
}

function attemptText(attempt) {
  const outcome = attempt.statusCode ? `HTTP ${attempt.statusCode}` : attempt.error ?? t("deliveries.noAnswer");
  return t("deliveries.attempt", { at: absolute(attempt.at), outcome, ms: new Intl.NumberFormat(i18n.locale).format(attempt.durationMs) });
}

function deliveryRow(delivery) {
  const attempts = el("details", {},
    el("summary", {}, plural("deliveries.attempts", delivery.attemptCount)),
    el("ol", { class: "attempts" }, delivery.attempts.map((attempt) => el("li", {}, attemptText(attempt),
      attempt.response ? el("pre", { class: "response" }, attempt.response) : null))),
    delivery.nextAttemptAt ? el("p", { class: "sub" }, t("deliveries.next", { when: relative(delivery.nextAttemptAt) })) : null);
  return el("tr", { "data-id": delivery.id },
    el("td", { "data-label": t("deliveries.created") }, absolute(delivery.createdAt), el("span", { class: "sub" }, delivery.messageId)),
    el("td", { "data-label": t("deliveries.event") }, delivery.eventType),
    el("td", { "data-label": t("deliveries.state") },
      el("span", { class: `badge delivery-${delivery.state.toLowerCase()}` }, t(`deliveries.${delivery.state}`))),
    el("td", { "data-label": t("deliveries.attempts") }, attempts),
    el("td", { class: "row-actions" }, el("button", {
      type: "button",
      onclick: async () => {
        try {
          await gql(Q.redeliver, { id: delivery.id });
          say(t("deliveries.redelivered"), "ok");
          await openDeliveries(webhooks.endpoint);
        } catch (error) {
          say(explain(error), "error");
        }
      },
    }, t("deliveries.redeliver"))));
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
    viewer = (await gql(Q.viewer, { locale: i18n.locale })).invitationViewer;
  } catch (error) {
    if (error.code !== "UNAUTHENTICATED") say(explain(error), "error");
    return false;
  }
  if (!viewer) {
    signOut(t("sign.in.refused"));
    return false;
  }
  state.viewer = viewer;
  greet();
  $("sign-in").hidden = true;
  $("app").hidden = false;
  // A designer edits templates and reads no invitation: only that section is theirs.
  for (const view of ["list", "create", "bulk", "preview"]) {
    document.querySelector(`.tab[data-view="${view}"]`).hidden = !viewer.canRead;
  }
  $("templates-tab").hidden = !(viewer.canRead || viewer.canEditTemplates);
  // Once per sign-in (and language): refilling the create form after each invitation keeps the filter.
  makeScopeFilter();
  fillCreateForm();
  fillWebhookForm();
  state.cursors = [null];
  state.page = 0;
  if (!viewer.canRead) {
    show("templates");
    await loadTemplates();
    return true;
  }
  show("list");
  await loadList();
  return true;
}

function greet() {
  $("who-name").textContent = t("signed.in", { name: state.viewer.name });
  $("who-name").hidden = $("sign-out").hidden = false;
}

/** The list's scope filter, keeping what it was set to. */
function makeScopeFilter() {
  const before = $("filter-scope")?.value ?? "";
  const control = scopeControl("filter-scope-slot", "filter-scope", t("filter.scope.all"), null);
  control.value = before;
  control.addEventListener("change", () => $("filters").requestSubmit());
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.viewer = null;
  $("app").hidden = true;
  $("who-name").hidden = $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  if (message) $("token-error").textContent = message;
  $("token").focus();
}

document.addEventListener("DOMContentLoaded", async () => {
  $("language").addEventListener("change", (event) => switchLanguage(event.target.value));
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("token-error").textContent = "";
    const token = $("token").value.trim();
    if (!token) {
      $("token-error").textContent = t("sign.in.missing");
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    $("token").value = "";
    if (await start()) say("", "info");
  });
  $("sign-out").addEventListener("click", () => { signOut(""); say(t("signed.out"), "info"); });
  for (const button of document.querySelectorAll("[data-view]")) {
    button.addEventListener("click", async () => {
      const view = button.dataset.view;
      show(view);
      if (view === "list") await loadList();
      if (view === "preview") await loadPreview();
      if (view === "webhooks") await loadEndpoints();
      if (view === "templates") await loadTemplates();
    });
  }
  $("filters").addEventListener("submit", async (event) => {
    event.preventDefault();
    state.cursors = [null];
    state.page = 0;
    await loadList();
  });
  for (const id of ["filter-state", "filter-channel", "sort"]) {
    $(id).addEventListener("change", () => $("filters").requestSubmit());
  }
  $("next-page").addEventListener("click", async () => { state.page += 1; await loadList(); });
  $("first-page").addEventListener("click", async () => { state.page = 0; await loadList(); });
  $("create-form").addEventListener("submit", submitCreate);
  for (const radio of document.querySelectorAll("input[name=channel]")) radio.addEventListener("change", showChannel);
  $("bulk-form").addEventListener("submit", submitBulk);
  $("bulk-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (file) $("bulk-text").value = await file.text();
  });
  $("preview-form").addEventListener("change", loadPreview);
  $("wh-form").addEventListener("submit", submitEndpoint);
  $("t-pick").addEventListener("change", () => openTemplate());
  $("t-body").addEventListener("input", () => { numberLines(); previewSoon(); });
  $("t-body").addEventListener("scroll", () => { $("t-lines").scrollTop = $("t-body").scrollTop; });
  $("t-save-form").addEventListener("submit", saveTemplate);
  $("t-delete").addEventListener("click", deleteTemplate);
  $("wh-refresh").addEventListener("click", () => webhooks.endpoint && openDeliveries(webhooks.endpoint));
  $("wh-more").addEventListener("click", () => webhooks.endpoint && openDeliveries(webhooks.endpoint, true));
  await speak(preferredLanguages());
  if (sessionStorage.getItem(TOKEN_KEY)) await start();
});
