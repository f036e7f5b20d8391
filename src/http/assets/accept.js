// The page an invitation link opens: `/accept#secret=…`. The secret stays in the fragment, so
// it never reaches a server log or a Referer header; only /graphql sees it, in a POST body.

const $ = (id) => document.getElementById(id);

const LOOKUP = `query($secret: String!) { invitationBySecret(secret: $secret) {
  email phone name role roleName scope inviterName state expiresAt locale } }`;
const ACCEPT = `mutation($secret: String!, $input: AcceptInvitationInput) {
  acceptInvitation(secret: $secret, input: $input) { existingUser invitation { state } } }`;
const DECLINE = `mutation($secret: String!) { declineInvitation(secret: $secret) { state } }`;

// The page speaks the invitation's language (the same chain as its email: the tag, its
// language, the server's default), or the browser's for a link it cannot look up. The words
// come from the server's message files (`email-templates/<locale>/accept.json`).
let messages = {};
let locale = "en";

/** The message `key` with its `{placeholders}` filled from `values`. */
function t(key, values = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => values[name] ?? whole);
}

/** Loads the messages for the first of `preferences` the server has, and shows them. */
async function speak(preferences) {
  const lang = preferences.filter(Boolean).join(",");
  try {
    const response = await fetch(`/accept/messages?lang=${encodeURIComponent(lang)}`);
    const body = await response.json();
    messages = body.messages;
    locale = body.locale;
  } catch {
    // The page's built-in English stays.
    return;
  }
  document.documentElement.lang = locale;
  document.title = t("page.title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
}

/** The browser's languages, unless `?lang=` asks for one (template authors previewing). */
function browserLanguages() {
  const asked = new URLSearchParams(window.location.search).get("lang");
  return asked ? [asked] : [...(navigator.languages ?? []), navigator.language];
}

const FINISHED = {
  ACCEPTED: () => [t("accepted.title"), t("accepted.text")],
  EXPIRED: (inviter) => [t("expired.title"), inviter ? t("expired.text", { inviter }) : t("expired.text.anonymous")],
  REVOKED: () => [t("revoked.title"), t("revoked.text")],
  DECLINED: () => [t("declined.title"), t("declined.text")],
};

async function gql(query, variables) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  const error = body.errors?.[0];
  if (error) {
    const failure = new Error(error.message);
    failure.code = error.extensions?.code;
    failure.field = error.extensions?.field;
    throw failure;
  }
  return body.data;
}

function finish(title, message) {
  $("title").textContent = title;
  $("message").textContent = message;
  $("details").hidden = true;
  $("title").tabIndex = -1;
  $("title").focus();
}

// Reads the secret once, then takes it out of the address bar and this history entry, so it
// is not left on screen, in the browser's history or in a bookmark.
function secretFromFragment() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const secret = params.get("secret");
  if (window.location.hash) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return secret;
}

function fieldError(field, message) {
  const input = $(`a-${field}`);
  if (!input) return false;
  $(`a-${field}-error`).textContent = message;
  input.setAttribute("aria-invalid", "true");
  input.focus();
  return true;
}

async function main() {
  const secret = secretFromFragment();
  await speak(browserLanguages());
  if (!secret) {
    finish(t("incomplete.title"), t("incomplete.text"));
    return;
  }
  let invitation;
  try {
    invitation = (await gql(LOOKUP, { secret })).invitationBySecret;
  } catch (error) {
    finish(t("failed.title"), error.code === "RATE_LIMITED" ? t("busy.text") : t("failed.text"));
    return;
  }
  if (!invitation) {
    finish(t("unknown.title"), t("unknown.text"));
    return;
  }
  if (invitation.locale) await speak([invitation.locale, ...browserLanguages()]);
  if (FINISHED[invitation.state]) {
    finish(...FINISHED[invitation.state](invitation.inviterName));
    return;
  }
  const who = { inviter: invitation.inviterName, scope: invitation.scope, name: invitation.name };
  $("title").textContent = invitation.scope ? t("invited.scope", who) : t("invited", who);
  $("message").textContent = invitation.name ? t("welcome.name", who) : t("welcome");
  $("d-inviter").textContent = invitation.inviterName;
  // The address the invitation came to: the email, and the phone (masked) if it has one.
  $("d-email").textContent = invitation.email ?? "";
  $("d-email").hidden = $("d-email-label").hidden = !invitation.email;
  $("d-phone").textContent = invitation.phone ?? "";
  $("d-phone").hidden = $("d-phone-label").hidden = !invitation.phone;
  $("d-role").textContent = invitation.roleName ?? invitation.role;
  $("d-scope").textContent = invitation.scope ?? "";
  $("d-scope").hidden = $("d-scope-label").hidden = !invitation.scope;
  $("d-expires").dateTime = invitation.expiresAt;
  $("d-expires").textContent = new Date(invitation.expiresAt).toLocaleString(locale, { dateStyle: "long", timeStyle: "short" });
  $("a-name").value = invitation.name ?? "";
  $("details").hidden = false;

  $("accept-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const slot of document.querySelectorAll(".error")) slot.textContent = "";
    const input = { name: $("a-name").value.trim() || null, password: $("a-password").value || null };
    try {
      const { acceptInvitation } = await gql(ACCEPT, { secret, input });
      finish(t("done.title"), acceptInvitation.existingUser ? t("done.existing") : t("done.new"));
    } catch (error) {
      // A field the server refused is explained in the page's language.
      if (error.code === "VALIDATION_FAILED" && fieldError(error.field, t(`error.${error.field}`))) return;
      const states = { INVITATION_EXPIRED: "EXPIRED", INVITATION_REVOKED: "REVOKED", INVITATION_ACCEPTED: "ACCEPTED", INVITATION_DECLINED: "DECLINED" };
      if (states[error.code]) finish(...FINISHED[states[error.code]](invitation.inviterName));
      else $("message").textContent = error.code === "RATE_LIMITED" ? t("busy.text") : t("failed.text");
    }
  });
  $("decline").addEventListener("click", async () => {
    if (!window.confirm(t("decline.confirm"))) return;
    try {
      await gql(DECLINE, { secret });
      finish(...FINISHED.DECLINED());
    } catch (error) {
      $("message").textContent = error.code === "RATE_LIMITED" ? t("busy.text") : t("failed.text");
    }
  });
}

document.addEventListener("DOMContentLoaded", main);
