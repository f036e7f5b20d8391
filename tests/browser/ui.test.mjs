// End to end in Debian's chromium: the admin UI and the accept page against a real server with
// a real SMTP server. Started by tests/api/browser.rs, which runs the server and passes:
//   BASE_URL         the server, e.g. http://127.0.0.1:41234
//   ADMIN_TOKEN      an admin API token
//   TEAM_TOKEN       an editor token limited to the scope team-a
//   DESIGNER_TOKEN   a template author's token (role designer)
//   SMTP_DIR         where the SMTP server keeps messages (<n>.json with decoded parts)
//   EXPIRED_SECRET   the secret of an invitation whose time has run out
//   SCREENSHOT_DIR   where to save screenshots
//   RECEIVER_URL     a webhook receiver (tests/events/receiver.mjs)
//   SMS_OUTBOX       where the server writes text messages (<id>.sms), having no SMS gateway
// Prints one line per step; exits non-zero on the first failure.

import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

// axe-core (npm), evaluated in the page through the browser's debugging protocol: the pages'
// Content-Security-Policy stays on, and nothing is loaded from elsewhere.
const AXE = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "node_modules/axe-core/axe.min.js"), "utf8");
/** Every page and state this run checked with axe-core, and what it found. */
const audited = [];

const { BASE_URL, ADMIN_TOKEN, TEAM_TOKEN, DESIGNER_TOKEN, SMTP_DIR, EXPIRED_SECRET, SCREENSHOT_DIR, RECEIVER_URL, SMS_OUTBOX } = process.env;
for (const [name, value] of Object.entries({ BASE_URL, ADMIN_TOKEN, TEAM_TOKEN, DESIGNER_TOKEN, SMTP_DIR, EXPIRED_SECRET, SCREENSHOT_DIR, RECEIVER_URL, SMS_OUTBOX })) {
  assert.ok(value, `${name} must be set`);
}
mkdirSync(SCREENSHOT_DIR, { recursive: true });
// Generous: the suite runs this beside its load and fault tests on two cores.
const TIMEOUT = 20_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
context.setDefaultTimeout(TIMEOUT);
// The pages may only talk to the server they came from.
const foreign = [];
context.on("request", (request) => {
  if (!request.url().startsWith(BASE_URL) && !request.url().startsWith("data:")) foreign.push(request.url());
});
const page = await context.newPage();
const pageErrors = [];
page.on("pageerror", (error) => pageErrors.push(error.message));
// The one expected refusal is the deliberately wrong token's 401.
page.on("console", (message) => {
  if (message.type() === "error" && !message.text().includes("status of 401")) pageErrors.push(message.text());
});

let failed = false;
async function step(name, body) {
  try {
    await body();
    console.log(`ok - ${name}`);
  } catch (error) {
    failed = true;
    console.log(`not ok - ${name}\n${error.stack ?? error}`);
    await page.screenshot({ path: join(SCREENSHOT_DIR, "failure.png"), fullPage: true }).catch(() => {});
    throw error;
  }
}

/** A screenshot of the admin page as it is, checked with axe-core on the way. */
async function shot(name) {
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  await axe(page, `admin: ${name}`);
}

/** Runs axe-core's WCAG 2.1 A and AA rules on `target` as it is now; fails on any violation. */
async function axe(target, state) {
  if (!(await target.evaluate(() => "axe" in window))) await target.evaluate(AXE);
  const result = await target.evaluate(() => window.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
  }));
  const violations = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  audited.push(state);
  assert.deepEqual(violations, [], `axe-core on ${state}`);
}
const templatesView = page.locator("#view-templates");
const row = (email) => page.locator("#list-rows tr", { has: page.getByRole("button", { name: email, exact: true }) });
const status = page.locator("#status");

/** The messages the SMTP server received for `to`, oldest first. */
function mailsTo(to) {
  return readdirSync(SMTP_DIR).filter((f) => f.endsWith(".json")).sort()
    .map((f) => JSON.parse(readFileSync(join(SMTP_DIR, f), "utf8")))
    .filter((m) => m.rcpt_to.includes(to));
}

async function waitForMails(to, count) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const mails = mailsTo(to);
    if (mails.length >= count) return mails;
    assert.ok(Date.now() < deadline, `expected ${count} emails to ${to}, got ${mails.length}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function showList() {
  await page.getByRole("button", { name: "Invitations", exact: true }).click();
  await page.locator("#list-count").waitFor();
}

try {
  await step("sign in with a token, by keyboard", async () => {
    await page.goto(`${BASE_URL}/admin`);
    await axe(page, "admin: sign-in");
    await page.getByLabel("API token").fill("cmsi_not-a-real-token");
    await page.keyboard.press("Enter");
    await page.locator("#token-error").getByText("not accepted").waitFor();
    await page.getByLabel("API token").fill(ADMIN_TOKEN);
    await page.keyboard.press("Enter");
    await page.getByText("Signed in as Test admin").waitFor();
    assert.equal(await page.evaluate(() => localStorage.length), 0, "the token is not kept beyond the tab");
  });

  await step("an empty search says so", async () => {
    await page.getByLabel("Email contains").fill("nobody-matches-this");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByText("No invitation matches these filters.").waitFor();
    await page.getByLabel("Email contains").fill("");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.locator("#list-count").getByText("1 invitation").waitFor();
  });

  await step("a bad email is refused at the field", async () => {
    await page.getByRole("button", { name: "Invite", exact: true }).click();
    await page.getByRole("textbox", { name: "Email", exact: true }).fill("not-an-email");
    await page.getByLabel("Role").selectOption("viewer");
    await page.getByRole("button", { name: "Create invitation" }).click();
    const error = page.locator("#c-email-error");
    await error.waitFor();
    assert.match(await error.textContent(), /email/i);
    assert.equal(await page.getByRole("textbox", { name: "Email", exact: true }).getAttribute("aria-invalid"), "true");
    await shot("create-form");
  });

  await step("create an invitation; the detail shows the link once, the list a PENDING row", async () => {
    await page.getByRole("textbox", { name: "Email", exact: true }).fill("ada@example.org");
    await page.getByLabel("Name").fill("Ada Lovelace");
    await page.getByLabel("Role").selectOption("author");
    await page.getByLabel("Groups").fill("docs, research");
    await page.getByRole("button", { name: "Create invitation" }).click();
    await page.getByRole("heading", { name: /ada@example\.org/ }).waitFor();
    assert.match(await page.locator("#minted-link").inputValue(), /#secret=/);
    await showList();
    const ada = row("ada@example.org");
    await ada.getByText("Pending").waitFor();
    assert.match(await ada.textContent(), /Author/);
    assert.match(await ada.textContent(), /docs, research/);
    await waitForMails("ada@example.org", 1);
  });

  await step("resend from the list: a new email with a new link", async () => {
    const first = secretOf(mailsTo("ada@example.org")[0]);
    await row("ada@example.org").getByRole("button", { name: "Resend" }).click();
    await status.getByText("A new link was sent").waitFor();
    const mails = await waitForMails("ada@example.org", 2);
    assert.notEqual(secretOf(mails[1]), first);
    await page.locator("#detail-fields").getByText("Delivery attempts").waitFor();
    await shot("detail");
  });

  await step("extend from the detail: the same link, a later expiry, the difference explained", async () => {
    await page.locator("#detail-actions").getByRole("button", { name: "Extend" }).click();
    const dialog = page.getByRole("dialog", { name: "Extend this invitation?" });
    assert.match(await dialog.textContent(), /keeps working.*Resend instead sends a new link/s);
    await dialog.getByLabel(/Tell the invitee/).check();
    await shot("extend-dialog");
    await dialog.getByRole("button", { name: "Extend" }).click();
    await status.getByText(/is extended until .*; its link is unchanged/).waitFor();
    const mails = await waitForMails("ada@example.org", 3);
    assert.match(mails[2].text, /extended your invitation/);
    assert.doesNotMatch(mails[2].text, /#secret=/, "the notice carries no link");
    await page.locator("#detail-events").getByText("extended").waitFor();
  });

  await step("revoke from the list, after confirming", async () => {
    await page.getByRole("button", { name: "Invite", exact: true }).click();
    await page.getByRole("textbox", { name: "Email", exact: true }).fill("bob@example.org");
    await page.getByRole("button", { name: "Create invitation" }).click();
    await page.locator("#c-role-error").getByText("Choose the role").waitFor();
    await page.getByLabel("Role").selectOption("viewer");
    await page.locator("#c-sendEmail").uncheck();
    await page.getByRole("button", { name: "Create invitation" }).click();
    await page.getByText("No email was sent").waitFor();
    await showList();
    await row("bob@example.org").getByRole("button", { name: "Revoke" }).click();
    const dialog = page.getByRole("dialog", { name: "Revoke this invitation?" });
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await row("bob@example.org").getByText("Pending").waitFor();
    await row("bob@example.org").getByRole("button", { name: "Revoke" }).click();
    await dialog.getByRole("button", { name: "Revoke" }).click();
    await row("bob@example.org").getByText("Revoked").waitFor();
    assert.equal(await row("bob@example.org").getByRole("button", { name: "Revoke" }).count(), 0);
  });

  await step("bulk invite from a CSV file with one bad row", async () => {
    await page.getByRole("button", { name: "Bulk invite" }).click();
    const csv = "email,name,role,groups,locale\ncarol@example.org,Carol,viewer,docs;review,de\n" +
      "not-an-email,Bad Row,viewer,,\n\"dave@example.org\",\"Dave, Jr.\",author,,fr\n";
    await page.getByLabel("CSV file").setInputFiles({ name: "people.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
    await page.waitForFunction(() => document.getElementById("bulk-text").value.includes("dave@example.org"));
    await page.getByRole("button", { name: "Invite all" }).click();
    const results = page.locator("#bulk-result table");
    await results.getByText("2 created, 1 failed").waitFor();
    const bad = results.locator("tr.failed");
    assert.equal(await bad.count(), 1);
    assert.match(await bad.textContent(), /not-an-email.*VALIDATION_FAILED/);
    await shot("bulk");
    await showList();
    await row("carol@example.org").getByText("Pending").waitFor();
    await row("dave@example.org").getByText("Pending").waitFor();
  });

  await step("the list, with states as badges and delivery status", async () => {
    await row("ada@example.org").getByText(/Sent|Queued/).waitFor();
    await shot("list");
  });

  await step("the email preview shows html and text side by side", async () => {
    await page.getByRole("button", { name: "Email preview" }).click();
    await page.locator("#view-preview").getByLabel("Language", { exact: true }).selectOption("de");
    await page.locator("#p-subject").getByText("eingeladen").waitFor();
    const frame = page.frameLocator("#p-html");
    // The body's text (the hidden preheader above it says the same, unseen).
    await frame.locator("p strong", { hasText: "Grace Hopper" }).waitFor();
    assert.match(await page.locator("#p-text").textContent(), /Grace Hopper/);
    await shot("email-preview");
  });

  await step("email templates: a broken edit is shown at its line, the fix previews live, saves, and the next email uses it", async () => {
    await page.getByRole("button", { name: "Email templates" }).click();
    await templatesView.getByLabel("Kind").selectOption("INVITATION");
    await templatesView.getByLabel("Language", { exact: true }).selectOption("en");
    await templatesView.getByLabel("Part").selectOption("SUBJECT");
    await page.locator("#view-templates[aria-busy=false]").waitFor();
    await page.locator("#t-origin").getByText("built-in").waitFor();
    const editor = templatesView.getByLabel("Template text (Handlebars)");
    await editor.fill("Welcome aboard\n{{inviter_nam}} saved this");
    // The unknown variable is marked at line 2 and listed with its place.
    await page.locator("#t-lines .bad").getByText("2").waitFor();
    await page.locator("#t-problems").getByText(/Line 2, column 1: .*inviter_nam/).waitFor();
    assert.equal(await editor.getAttribute("aria-invalid"), "true");
    await templatesView.getByRole("button", { name: "Save" }).click();
    await status.getByText("Not saved").waitFor();
    await shot("templates-error");
    await editor.fill("Welcome aboard: {{inviter_name}} saved this");
    await page.locator("#t-subject").getByText("Welcome aboard: Grace Hopper saved this").waitFor();
    await page.locator("#t-problems li").waitFor({ state: "detached" });
    assert.equal(await editor.getAttribute("aria-invalid"), "false");
    await page.frameLocator("#t-html").locator("p strong", { hasText: "Grace Hopper" }).waitFor();
    await templatesView.getByLabel(/What changed/).fill("a warmer subject");
    await templatesView.getByRole("button", { name: "Save" }).click();
    await status.getByText("Saved as version 1").waitFor();
    await page.locator("#t-origin").getByText("saved version 1").waitFor();
    await shot("templates");
    // The next invitation's email has the saved subject.
    await page.getByRole("button", { name: "Invite", exact: true }).click();
    await page.getByRole("textbox", { name: "Email", exact: true }).fill("templated@example.org");
    await page.getByLabel("Role").selectOption("viewer");
    await page.getByRole("button", { name: "Create invitation" }).click();
    await page.getByRole("heading", { name: /templated@example\.org/ }).waitFor();
    const [mail] = await waitForMails("templated@example.org", 1);
    assert.equal(mail.subject, "Welcome aboard: Test admin saved this");
  });

  await step("email templates: a second version, its changes, and a revert to the first", async () => {
    await page.getByRole("button", { name: "Email templates" }).click();
    await templatesView.getByLabel("Kind").selectOption("INVITATION");
    await templatesView.getByLabel("Language", { exact: true }).selectOption("en");
    await templatesView.getByLabel("Part").selectOption("SUBJECT");
    await page.locator("#view-templates[aria-busy=false]").waitFor();
    const editor = templatesView.getByLabel("Template text (Handlebars)");
    await page.locator("#t-origin").getByText("saved version 1").waitFor();
    await editor.fill("Second take: {{inviter_name}}");
    await templatesView.getByRole("button", { name: "Save" }).click();
    await status.getByText("Saved as version 2").waitFor();
    const versions = page.locator("#t-versions tr");
    await versions.nth(1).waitFor();
    assert.match(await versions.nth(1).textContent(), /a warmer subject/);
    await versions.first().getByRole("button", { name: "Changes" }).click();
    await page.locator("#t-diff del").getByText("- Welcome aboard: {{inviter_name}} saved this").waitFor();
    await page.locator("#t-diff ins").getByText("+ Second take: {{inviter_name}}").waitFor();
    await versions.nth(1).getByRole("button", { name: "Revert to this" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revert to this" }).click();
    await status.getByText("Saved as version 3").waitFor();
    await page.locator("#view-templates[aria-busy=false]").waitFor();
    assert.equal(await editor.inputValue(), "Welcome aboard: {{inviter_name}} saved this");
    await page.locator("#t-versions tr").first().getByText("Reverted to version 1").waitFor();
    await shot("templates-history");
  });

  await step("open the link from the email, accept on /accept, and see the row turn ACCEPTED", async () => {
    // The latest email with a link (the extension's notice has none).
    const mail = mailsTo("ada@example.org").filter((m) => m.html.includes("#secret=")).at(-1);
    const link = /href="([^"]*#secret=[^"]+)"/.exec(mail.html)[1];
    const fragment = new URL(link).hash;
    const invitee = await context.newPage();
    await invitee.goto(`${BASE_URL}/accept${fragment}`);
    await invitee.getByRole("heading", { name: "Test admin invited you" }).waitFor();
    assert.match(await invitee.locator("#details").textContent(), /ada@example\.org/);
    // Once read, the secret is gone from the address bar and from this history entry.
    assert.doesNotMatch(invitee.url(), /secret=/);
    assert.doesNotMatch(await invitee.evaluate(() => window.location.href), /secret=/);
    await invitee.screenshot({ path: join(SCREENSHOT_DIR, "accept.png"), fullPage: true });
    await axe(invitee, "accept");
    await invitee.getByLabel("Your name").fill("Ada L.");
    await invitee.getByLabel(/Choose a password/).fill("short");
    await invitee.getByRole("button", { name: "Accept invitation" }).click();
    await invitee.locator("#a-password-error").getByText(/8/).waitFor();
    await invitee.getByLabel(/Choose a password/).fill("correct horse battery");
    await invitee.getByRole("button", { name: "Accept invitation" }).click();
    await invitee.getByRole("heading", { name: "Welcome aboard!" }).waitFor();
    await invitee.screenshot({ path: join(SCREENSHOT_DIR, "accepted.png"), fullPage: true });
    await axe(invitee, "accepted");
    await invitee.close();
    await showList();
    await row("ada@example.org").getByText("Accepted").waitFor();
    await waitForMails("admin@example.org", 1);
  });

  await step("an expired link says so", async () => {
    const invitee = await context.newPage();
    await invitee.goto(`${BASE_URL}/accept#secret=${EXPIRED_SECRET}`);
    await invitee.getByRole("heading", { name: "This invitation has expired" }).waitFor();
    assert.equal(await invitee.getByRole("button", { name: "Accept invitation" }).isVisible(), false);
    await invitee.screenshot({ path: join(SCREENSHOT_DIR, "accept-expired.png"), fullPage: true });
    await axe(invitee, "accept-expired");
    await invitee.goto(`${BASE_URL}/accept#secret=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
    await invitee.reload();
    await invitee.getByRole("heading", { name: "This link does not work" }).waitFor();
    await invitee.close();
  });

  await step("a German invitation's link opens a German page: look up, accept, the outcome", async () => {
    const created = await (await fetch(`${BASE_URL}/graphql`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({
        query: "mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { secret } }",
        variables: { input: { email: "greta@example.org", role: "viewer", locale: "de-AT", scope: "Acme", sendEmail: false } },
      }),
    })).json();
    const GERMAN_SECRET = created.data.createInvitation.secret;
    const invitee = await context.newPage();
    await invitee.goto(`${BASE_URL}/accept#secret=${GERMAN_SECRET}`);
    await invitee.getByRole("heading", { name: "Test admin hat Sie zu Acme eingeladen" }).waitFor();
    assert.equal(await invitee.evaluate(() => document.documentElement.lang), "de");
    assert.equal(await invitee.title(), "Ihre Einladung");
    const details = await invitee.locator("#details").textContent();
    // The role by its German name, not its identifier ("viewer").
    for (const word of ["Eingeladen von", "Rolle", "Leser", "Gültig bis", "Ihr Name", "Passwort wählen"]) {
      assert.ok(details.includes(word), `${word} in ${details}`);
    }
    // The date as German writes it: "8. Dezember 2026 um 14:30".
    assert.match(await invitee.locator("#d-expires").textContent(), /\d+\. \p{L}+ \d{4}/u);
    await invitee.screenshot({ path: join(SCREENSHOT_DIR, "accept-de.png"), fullPage: true });
    await axe(invitee, "accept-de");
    await invitee.getByLabel(/Passwort wählen/).fill("kurz");
    await invitee.getByRole("button", { name: "Einladung annehmen" }).click();
    await invitee.locator("#a-password-error").getByText("Wählen Sie ein Passwort mit mindestens 8 Zeichen.").waitFor();
    await invitee.getByLabel(/Passwort wählen/).fill("richtig pferd batterie");
    await invitee.getByRole("button", { name: "Einladung annehmen" }).click();
    await invitee.getByRole("heading", { name: "Willkommen an Bord!" }).waitFor();
    await invitee.screenshot({ path: join(SCREENSHOT_DIR, "accepted-de.png"), fullPage: true });
    await axe(invitee, "accepted-de");
    // Opened again later: the outcome, still in German.
    await invitee.goto(`${BASE_URL}/accept#secret=${GERMAN_SECRET}`);
    await invitee.reload();
    await invitee.getByRole("heading", { name: "Bereits angenommen" }).waitFor();
    await invitee.close();
  });

  await step("an unknown link in a French browser is explained in French", async () => {
    const french = await browser.newContext({ locale: "fr-FR", viewport: { width: 1280, height: 900 } });
    const invitee = await french.newPage();
    await invitee.goto(`${BASE_URL}/accept#secret=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
    await invitee.getByRole("heading", { name: "Ce lien ne fonctionne pas" }).waitFor();
    assert.equal(await invitee.evaluate(() => document.documentElement.lang), "fr");
    await invitee.screenshot({ path: join(SCREENSHOT_DIR, "accept-unknown-fr.png"), fullPage: true });
    await axe(invitee, "accept-unknown-fr");
    // A template author previews another language with ?lang=, whatever the browser says.
    await invitee.goto(`${BASE_URL}/accept?lang=de`);
    await invitee.getByRole("heading", { name: "Dieser Link ist unvollständig" }).waitFor();
    await axe(invitee, "accept-incomplete-de");
    await french.close();
  });

  await step("webhooks: add an endpoint, its secret shown once, a test event in the delivery log", async () => {
    await page.getByRole("button", { name: "Webhooks" }).click();
    await page.getByText("No webhook endpoints yet.").waitFor();
    await page.getByLabel("Endpoint URL").fill("not a url");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.locator("#w-url-error").getByText(/URL/).waitFor();
    assert.equal(await page.getByLabel("Endpoint URL").getAttribute("aria-invalid"), "true");
    await page.getByLabel("Endpoint URL").fill(`${RECEIVER_URL}/ui`);
    await page.getByLabel("invitation.accepted").check();
    await page.getByLabel("Description").fill("Onboarding");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const secret = await page.locator("#wh-secret-value").inputValue();
    assert.match(secret, /^whsec_/);
    const endpoint = page.locator("#wh-rows tr").first();
    await endpoint.getByText("invitation.accepted").waitFor();
    await endpoint.getByText("Enabled").waitFor();
    await shot("webhooks");
    await endpoint.getByRole("button", { name: "Send test" }).click();
    await refreshUntil(() => page.locator("#wh-delivery-rows").getByText("Delivered", { exact: true }));
    await page.locator("#wh-delivery-rows summary").first().click();
    await page.locator("#wh-delivery-rows").getByText(/HTTP 200/).waitFor();
    assert.match(await page.locator("#wh-delivery-rows").textContent(), /webhook\.test/);
  });

  await step("webhooks: redeliver with the same webhook-id, rotate the secret, disable and enable", async () => {
    await page.locator("#wh-delivery-rows").getByRole("button", { name: "Redeliver" }).click();
    await refreshUntil(() => page.locator("#wh-delivery-rows").getByText("2 attempts"));
    const received = await (await fetch(`${RECEIVER_URL}/control/received`)).json();
    assert.equal(received.length, 2);
    assert.equal(received[0].id, received[1].id, "a redelivery keeps the webhook-id");
    const first = await page.locator("#wh-secret-value").inputValue();
    const endpoint = page.locator("#wh-rows tr").first();
    await endpoint.getByRole("button", { name: "Rotate secret" }).click();
    await page.getByRole("dialog", { name: "Rotate the signing secret?" }).getByRole("button", { name: "Rotate" }).click();
    await status.getByText("The secret was rotated.").waitFor();
    const second = await page.locator("#wh-secret-value").inputValue();
    assert.match(second, /^whsec_/);
    assert.notEqual(second, first);
    await endpoint.getByRole("button", { name: "Disable" }).click();
    await page.locator("#wh-rows tr").first().getByText("Disabled: disabled by an admin").waitFor();
    await page.locator("#wh-rows tr").first().getByRole("button", { name: "Enable" }).click();
    await page.locator("#wh-rows tr").first().getByText("Enabled", { exact: true }).waitFor();
    await shot("webhook-deliveries");
  });

  await step("usable on a phone-sized window", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await showList();
    const ada = row("ada@example.org");
    await ada.getByText("Accepted").waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `the list fits the screen (scroll width ${width})`);
    await shot("list-phone");
  });

  await step("an admin deletes an invitation from its detail, after confirming", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await showList();
    await row("bob@example.org").getByRole("button", { name: "bob@example.org" }).click();
    await page.getByRole("button", { name: "Delete" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete this invitation?" });
    assert.match(await dialog.textContent(), /cannot be undone/);
    await dialog.getByRole("button", { name: "Delete" }).click();
    await status.getByText("The invitation for bob@example.org is deleted.").waitFor();
    await row("bob@example.org").waitFor({ state: "detached" });
  });

  await step("an editor limited to team-a sees its own and invites into its scope", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API token").fill(TEAM_TOKEN);
    await page.keyboard.press("Enter");
    await page.getByText("Signed in as Test editor").waitFor();
    // Nothing in team-a yet: everything the admin made is out of sight.
    await page.getByText("No invitations yet.").waitFor();
    assert.deepEqual(await page.locator("#filter-scope option").allTextContents(), ["All my scopes", "team-a"]);
    await page.getByRole("button", { name: "Invite", exact: true }).click();
    assert.match(await page.locator("label[for=c-scope]").textContent(), /yours: team-a/);
    assert.deepEqual(await page.locator("#c-scope option").allTextContents(), ["team-a"]);
    await page.getByRole("textbox", { name: "Email", exact: true }).fill("teammate@example.org");
    await page.getByLabel("Role").selectOption("viewer");
    await page.getByRole("button", { name: "Create invitation" }).click();
    await page.getByRole("heading", { name: /teammate@example\.org/ }).waitFor();
    await showList();
    await page.locator("#list-count").getByText("1 invitation").waitFor();
    await row("teammate@example.org").getByText("Pending").waitFor();
    await shot("list-team");
  });

  await step("a template designer sees the templates only, and may put the file back", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API token").fill(DESIGNER_TOKEN);
    await page.keyboard.press("Enter");
    await page.getByText("Signed in as Dana Designer").waitFor();
    await page.getByRole("heading", { name: "Email templates" }).waitFor();
    assert.deepEqual(await page.locator(".tab:not([hidden])").allTextContents(), ["Email templates"]);
    await templatesView.getByLabel("Kind").selectOption("INVITATION");
    await templatesView.getByLabel("Language", { exact: true }).selectOption("en");
    await templatesView.getByLabel("Part").selectOption("SUBJECT");
    await page.locator("#view-templates[aria-busy=false]").waitFor();
    await page.locator("#t-origin").getByText("saved version 3").waitFor();
    await page.getByRole("button", { name: "Use the file again" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Use the file again" }).click();
    await page.locator("#t-origin").getByText("built-in").waitFor();
    await page.locator("#t-versions tr").first().getByText("4 (file again)").waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API token").fill(TEAM_TOKEN);
    await page.keyboard.press("Enter");
    await page.getByText("Signed in as Test editor").waitFor();
  });

  await step("at 1280 pixels the list fits its card; on a phone no cell leaves its column", async () => {
    await showList();
    const fits = await page.evaluate(() => {
      const table = document.querySelector("#list-table");
      return { table: table.scrollWidth, room: table.parentElement.clientWidth, page: document.documentElement.scrollWidth };
    });
    assert.ok(fits.table <= fits.room && fits.page <= 1280, JSON.stringify(fits));
    await page.setViewportSize({ width: 390, height: 844 });
    // Every row has as many cells in the accessibility tree as there are column headers.
    const cells = await page.evaluate(() => {
      const headers = document.querySelectorAll("#list-table thead th").length;
      const rows = [...document.querySelectorAll("#list-rows tr")];
      return { headers, counts: rows.map((row) => [...row.cells].filter((c) => getComputedStyle(c).display !== "none").length) };
    });
    assert.ok(cells.counts.every((n) => n === cells.headers), JSON.stringify(cells));
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step("focus rings and field borders stand out 3:1 from the page (WCAG 1.4.11)", async () => {
    await showList();
    await page.focus("#filter-email");
    const ratios = await page.evaluate(() => {
      const rgb = (color) => color.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
      const luminance = (color) => {
        const [r, g, b] = rgb(color).map((c) => c / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const ratio = (a, b) => {
        const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x);
        return (high + 0.05) / (low + 0.05);
      };
      const page = getComputedStyle(document.body).backgroundColor;
      const white = "rgb(255, 255, 255)";
      const field = getComputedStyle(document.querySelector("#filter-email")).borderTopColor;
      const input = document.querySelector("#filter-email");
      if (document.activeElement !== input || !input.matches(":focus-visible")) throw new Error("the field has no visible focus");
      const focused = getComputedStyle(input).outlineColor;
      return { fieldOnWhite: ratio(field, white), focusOnWhite: ratio(focused, white), focusOnPage: ratio(focused, page) };
    });
    for (const [what, ratio] of Object.entries(ratios)) assert.ok(ratio >= 3, `${what}: ${ratio.toFixed(2)}:1`);
  });

  await step("invite by SMS: choose the channel, give a mobile number, see the text go out and its link work", async () => {
    await page.getByRole("button", { name: "Invite", exact: true }).click();
    await page.getByRole("radio", { name: "Text message (SMS)" }).check();
    // The phone is now the one that is required; without it the form says so at the field.
    await page.getByRole("combobox", { name: "Role" }).selectOption("viewer");
    await page.getByRole("button", { name: "Create invitation" }).click();
    await page.locator("#c-phone-error").getByText("mobile number").waitFor();
    assert.equal(await page.getByLabel(/Mobile number/).getAttribute("aria-invalid"), "true");
    await page.getByLabel(/Mobile number/).fill("+49 151 2345 6789");
    await page.getByRole("button", { name: "Create invitation" }).click();
    await page.getByRole("heading", { name: /\+4915123456789/ }).waitFor();
    await page.locator("#detail-minted").getByText("The text message is on its way").waitFor();
    await shot("detail-sms");
    await showList();
    const sms = row("+4915123456789");
    await sms.getByText("Sent · SMS").waitFor();
    await page.getByLabel("Channel").selectOption("SMS");
    await page.locator("#list-count").getByText("1 invitation", { exact: true }).waitFor();
    await page.getByLabel("Channel").selectOption("");
    // The text, as the server wrote it: the link in it opens the invitee's page.
    const file = readdirSync(SMS_OUTBOX).find((f) => f.endsWith(".sms"));
    const text = readFileSync(join(SMS_OUTBOX, file), "utf8");
    assert.match(text, /^To: \+4915123456789\n\n/);
    // The text's link points at the configured accept URL; this server serves that page.
    const secret = /#secret=([A-Za-z0-9_-]+)/.exec(text)[1];
    const invitee = await context.newPage();
    await invitee.goto(`${BASE_URL}/accept#secret=${secret}`);
    await invitee.getByText("+49 •••••••••89").waitFor();
    assert.equal(await invitee.locator("#d-email").isHidden(), true, "no email to show");
    await invitee.screenshot({ path: join(SCREENSHOT_DIR, "accept-sms.png"), fullPage: true });
    await axe(invitee, "accept: an SMS invitation");
    await invitee.close();
  });

  await step("the admin UI speaks a German browser's language, switches to French and keeps it", async () => {
    const german = await browser.newContext({ locale: "de-DE", viewport: { width: 1280, height: 900 } });
    german.setDefaultTimeout(TIMEOUT);
    german.on("request", (request) => {
      if (!request.url().startsWith(BASE_URL) && !request.url().startsWith("data:")) foreign.push(request.url());
    });
    const editor = await german.newPage();
    editor.on("pageerror", (error) => pageErrors.push(error.message));
    await editor.goto(`${BASE_URL}/admin`);
    await editor.locator("html[lang=de]").waitFor({ state: "attached" });
    await editor.getByRole("heading", { name: "Anmelden" }).waitFor();
    assert.equal(await editor.title(), "Einladungen · Verwaltung");
    await axe(editor, "admin in German: sign-in");
    await editor.getByLabel("API-Token").fill(ADMIN_TOKEN);
    await editor.keyboard.press("Enter");
    await editor.getByText("Angemeldet als Test admin").waitFor();
    // Words from de/admin.json; counts, states, dates and durations in German.
    await editor.locator("#list-count").getByText(/^\d+ Einladungen/).waitFor();
    const ada = editor.locator("#list-rows tr", { has: editor.getByRole("button", { name: "ada@example.org", exact: true }) });
    await ada.getByText("Angenommen", { exact: true }).waitFor();
    assert.equal(await editor.locator("#list-table th").first().textContent(), "Eingeladen");
    await editor.screenshot({ path: join(SCREENSHOT_DIR, "admin-de.png"), fullPage: true });
    await axe(editor, "admin in German: list");
    await ada.getByRole("button", { name: "ada@example.org" }).click();
    await editor.locator("#detail-fields").getByText("Eingeladen von").waitFor();
    await editor.locator("#detail-events").getByText("von der eingeladenen Person").first().waitFor();
    // Switched to French: what is on screen is drawn again, in French, and stays so.
    await editor.getByLabel("Sprache der Oberfläche").selectOption("fr");
    await editor.locator("html[lang=fr]").waitFor({ state: "attached" });
    await editor.locator("#detail-fields").getByText("Invité par").waitFor();
    await editor.locator("#detail-events").getByText("par la personne invitée").first().waitFor();
    await editor.getByRole("button", { name: "Inviter", exact: true }).click();
    const validity = await editor.locator("#c-validFor option:checked").textContent();
    assert.match(validity, /jours? \(par défaut\)$/, validity);
    await editor.screenshot({ path: join(SCREENSHOT_DIR, "admin-fr.png"), fullPage: true });
    await axe(editor, "admin in French: invite");
    await editor.reload();
    await editor.getByText("Connecté en tant que Test admin").waitFor();
    assert.equal(await editor.evaluate(() => document.documentElement.lang), "fr");
    assert.equal(await editor.getByLabel("Langue de l’interface").inputValue(), "fr");
    await german.close();
  });

  await step("axe-core found no WCAG 2.1 AA violation on any page and state it checked", async () => {
    console.log(`# axe-core checked ${audited.length} states: ${audited.join("; ")}`);
    assert.ok(audited.length >= 23, `${audited.length} states`);
  });

  await step("nothing was loaded from elsewhere and no script failed", async () => {
    assert.deepEqual(foreign, []);
    assert.deepEqual(pageErrors, []);
  });
} catch {
  // The step printed what failed.
} finally {
  await browser.close();
}

/** Clicks Refresh in the delivery log until `locator()` finds something. */
async function refreshUntil(locator) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (await locator().count() > 0) return;
    assert.ok(Date.now() < deadline, "the delivery log never showed it");
    await page.getByRole("button", { name: "Refresh" }).click();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function secretOf(mail) {
  return /#secret=([A-Za-z0-9_-]+)/.exec(mail.text)[1];
}

process.exit(failed ? 1 : 0);
