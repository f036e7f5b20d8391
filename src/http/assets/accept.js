// The page an invitation link opens: `/accept#secret=…`. The secret stays in the fragment, so
// it never reaches a server log or a Referer header; only /graphql sees it, in a POST body.

const $ = (id) => document.getElementById(id);

const LOOKUP = `query($secret: String!) { invitationBySecret(secret: $secret) {
  email name role scope inviterName state expiresAt } }`;
const ACCEPT = `mutation($secret: String!, $input: AcceptInvitationInput) {
  acceptInvitation(secret: $secret, input: $input) { existingUser invitation { state } } }`;
const DECLINE = `mutation($secret: String!) { declineInvitation(secret: $secret) { state } }`;

const FINISHED = {
  ACCEPTED: ["Already accepted", "This invitation has been accepted. You can sign in."],
  EXPIRED: ["This invitation has expired", "Ask the person who invited you to send a new one."],
  REVOKED: ["This invitation was withdrawn", "It no longer works. Ask the person who invited you if you think this is a mistake."],
  DECLINED: ["Invitation declined", "You declined this invitation. Ask for a new one if you change your mind."],
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
  if (!secret) {
    finish("This link is incomplete", "Open the link from your invitation email again, or copy all of it into the address bar.");
    return;
  }
  let invitation;
  try {
    invitation = (await gql(LOOKUP, { secret })).invitationBySecret;
  } catch (error) {
    finish("Something went wrong", error.code === "RATE_LIMITED" ? error.message : "Please try again in a moment.");
    return;
  }
  if (!invitation) {
    finish("This link does not work", "It may have been replaced by a newer invitation. Use the link from the most recent email, or ask for a new invitation.");
    return;
  }
  if (FINISHED[invitation.state]) {
    finish(...FINISHED[invitation.state]);
    return;
  }
  const where = invitation.scope ? ` to ${invitation.scope}` : "";
  $("title").textContent = `${invitation.inviterName} invited you${where}`;
  $("message").textContent = invitation.name ? `Welcome, ${invitation.name}.` : "Welcome.";
  $("d-inviter").textContent = invitation.inviterName;
  $("d-email").textContent = invitation.email;
  $("d-role").textContent = invitation.role;
  $("d-scope").textContent = invitation.scope ?? "";
  $("d-scope").hidden = $("d-scope-label").hidden = !invitation.scope;
  $("d-expires").dateTime = invitation.expiresAt;
  $("d-expires").textContent = new Date(invitation.expiresAt).toLocaleString(undefined, { dateStyle: "long", timeStyle: "short" });
  $("a-name").value = invitation.name ?? "";
  $("details").hidden = false;

  $("accept-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const slot of document.querySelectorAll(".error")) slot.textContent = "";
    const input = { name: $("a-name").value.trim() || null, password: $("a-password").value || null };
    try {
      const { acceptInvitation } = await gql(ACCEPT, { secret, input });
      finish("Welcome aboard!", acceptInvitation.existingUser
        ? "The invitation is accepted and added to your existing account. You can sign in as usual."
        : "Your account is ready. You can now sign in with your email and the password you chose.");
    } catch (error) {
      if (error.code === "VALIDATION_FAILED" && fieldError(error.field, error.message)) return;
      const states = { INVITATION_EXPIRED: "EXPIRED", INVITATION_REVOKED: "REVOKED", INVITATION_ACCEPTED: "ACCEPTED", INVITATION_DECLINED: "DECLINED" };
      if (states[error.code]) finish(...FINISHED[states[error.code]]);
      else $("message").textContent = error.message;
    }
  });
  $("decline").addEventListener("click", async () => {
    if (!window.confirm("Decline this invitation? The link will stop working.")) return;
    try {
      await gql(DECLINE, { secret });
      finish(...FINISHED.DECLINED);
    } catch (error) {
      $("message").textContent = error.message;
    }
  });
}

document.addEventListener("DOMContentLoaded", main);
