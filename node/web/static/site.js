// branchnet pages: a little progressive enhancement; every page works without it.
"use strict";

// Invite links from before /invite/{token} carried the secret after '#': move it into the path.
if (location.pathname === "/invite" && location.hash.startsWith("#bni_")) {
  location.replace("/invite/" + encodeURIComponent(location.hash.slice(1)));
}

document.addEventListener("DOMContentLoaded", () => {
  // A secret shown once (a new API token, an invite link): select it all on focus, for copying.
  for (const input of document.querySelectorAll("input.code[readonly]")) {
    input.addEventListener("focus", () => input.select());
  }
  for (const box of document.querySelectorAll("[data-ranking]")) rankable(box);
  for (const form of document.querySelectorAll("[data-passkey-new]")) passkeyNew(form);
  for (const form of document.querySelectorAll("form[data-sign-challenge]")) signedVote(form);
  for (const form of document.querySelectorAll("form[data-sign-fields]")) signedStatement(form);
  for (const form of document.querySelectorAll("form[data-sign-fetch]")) signedFetched(form);
  // A receipt: copy it, or save it as a small text file (it never leaves this browser).
  for (const tools of document.querySelectorAll("[data-receipt-tools]")) {
    const said = tools.querySelector("[data-copied]");
    const copy = tools.querySelector("[data-copy]");
    const value = () => document.getElementById(copy.dataset.copy).value;
    copy.addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(value()); said.textContent = "Copied."; }
      catch { document.getElementById(copy.dataset.copy).select(); said.textContent = "Selected: copy it now."; }
    });
    const save = tools.querySelector("[data-download]");
    save.addEventListener("click", () => {
      const text = `Ballot: ${save.dataset.title}\nReceipt: ${value()}\n\nWith this receipt you can check, once the ballot is counted, that your vote was counted as you cast it.\n`;
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
      link.download = save.dataset.filename;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
      said.textContent = "Saved.";
    });
    tools.hidden = false;
  }
});

// A ranked ballot: the numbered choices are what is sent; this keeps the list in preference
// order and lets a voter drag a candidate, or move it with buttons (keyboard and phone).
function rankable(box) {
  const list = box.querySelector(".rank-list");
  const status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("aria-live", "polite");
  box.appendChild(status);
  const items = () => [...list.querySelectorAll(".rank-item")];
  const select = (li) => li.querySelector("select");
  const name = (li) => li.querySelector("label").textContent;
  const ranked = () => items().filter((li) => select(li).value).sort((a, b) => select(a).value - select(b).value);
  const settle = (order, moved) => {
    for (const li of items()) select(li).value = "";
    order.forEach((li, i) => { select(li).value = String(i + 1); });
    for (const li of [...order, ...items().filter((li) => !select(li).value)]) list.appendChild(li);
    if (moved) status.textContent = select(moved).value ? `${name(moved)}: ${select(moved).value}` : `${name(moved)}: not ranked`;
  };
  const move = (li, step) => {
    const order = ranked();
    const at = order.indexOf(li);
    if (at < 0) { if (step < 0) order.push(li); }
    else if (step < 0 && at > 0) order.splice(at - 1, 2, order[at], order[at - 1]);
    else if (step > 0 && at === order.length - 1) order.pop();
    else if (step > 0) order.splice(at, 2, order[at + 1], order[at]);
    settle(order, li);
  };
  let dragged = null;
  for (const li of items()) {
    select(li).addEventListener("change", () => settle(ranked(), li));
    for (const [step, text] of [[-1, "up"], [1, "down"]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "rank-move";
      b.textContent = step < 0 ? "\u2191" : "\u2193";
      b.setAttribute("aria-label", `Move ${name(li)} ${text}`);
      b.addEventListener("click", () => { move(li, step); b.focus(); });
      li.appendChild(b);
    }
    li.draggable = true;
    li.addEventListener("dragstart", (e) => { dragged = li; e.dataTransfer.effectAllowed = "move"; });
    li.addEventListener("dragover", (e) => e.preventDefault());
    li.addEventListener("drop", (e) => {
      e.preventDefault();
      if (!dragged || dragged === li) return;
      const order = ranked().filter((x) => x !== dragged);
      const at = order.indexOf(li);
      order.splice(at < 0 ? order.length : at, 0, dragged);
      settle(order, dragged);
    });
  }
  settle(ranked(), null);
}

// Passkeys (members' own keys, docs/decisions.md): bytes to and from base64url, as the node
// sends and takes them.
const bytes = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const b64url = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

// My keys: make a passkey on this device. The page asks the node for the options (a challenge
// kept five minutes), the browser makes the key behind the member's screen lock, and the node
// keeps its public half. Without passkey support the form stays hidden and the page says why.
function passkeyNew(form) {
  if (!window.PublicKeyCredential || !navigator.credentials) return;
  form.hidden = false;
  for (const needs of document.querySelectorAll("[data-passkey-needs]")) needs.hidden = true;
  const said = form.querySelector("[data-passkey-said]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const csrf = form.elements.csrf.value;
    said.textContent = "Follow your device's prompt.";
    try {
      const asked = await fetch("/account/keys/passkey-options", { method: "POST", body: new URLSearchParams({ csrf }) });
      if (!asked.ok) throw new Error(`the node answered ${asked.status}`);
      const o = await asked.json();
      const publicKey = { ...o, challenge: bytes(o.challenge), user: { ...o.user, id: bytes(o.user.id) },
        excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })) };
      const made = await navigator.credentials.create({ publicKey });
      const credential = { id: made.id, rawId: b64url(made.rawId), type: made.type,
        response: { clientDataJSON: b64url(made.response.clientDataJSON),
          attestationObject: b64url(made.response.attestationObject),
          transports: made.response.getTransports ? made.response.getTransports() : [] },
        clientExtensionResults: made.getClientExtensionResults(), authenticatorAttachment: made.authenticatorAttachment };
      const kept = await fetch("/account/keys/passkeys", { method: "POST",
        body: new URLSearchParams({ csrf, label: form.elements.label.value, credential: JSON.stringify(credential) }) });
      const answer = await kept.json();
      if (!kept.ok) { said.textContent = `No passkey was kept: ${answer.error}`; return; }
      location.assign(answer.next);
    } catch (err) {
      said.textContent = `No passkey was made: ${err.message || err}`;
    }
  });
}

// A form signed with the member's passkey before it goes: a vote (its ballot's participation
// statement, whose challenge is on the form) or a candidacy (the consent statement, made from
// the name typed: its challenge is SHA-256(prefix || SHA-256(name))). The signature rides along
// in hidden fields. If the passkey does not sign, the member is told, and a second press sends
// the form unsigned (a vote is counted, shown as unsigned; a candidacy stands, unsigned).
function signedForm(form, challengeOf, doing, unsignedly) {
  if (!window.PublicKeyCredential || !navigator.credentials) return;
  const said = form.querySelector("[data-sign-said]");
  let unsigned = false;
  form.addEventListener("submit", async (event) => {
    if (unsigned || form.dataset.signed === "yes") return;
    event.preventDefault();
    said.textContent = "Sign with your passkey: follow your device's prompt.";
    try {
      const got = await navigator.credentials.get({ publicKey: {
        challenge: await challengeOf(), rpId: form.dataset.signRp, userVerification: "preferred",
        timeout: 120000, allowCredentials: form.dataset.signCredentials.split(" ").filter(Boolean)
          .map((id) => ({ type: "public-key", id: bytes(id) })) } });
      const put = (name, value) => { form.elements[name].value = value; };
      put("p_credential", b64url(got.rawId));
      put("p_signature", b64url(got.response.signature));
      put("p_authenticator_data", b64url(got.response.authenticatorData));
      put("p_client_data", b64url(got.response.clientDataJSON));
      form.dataset.signed = "yes";
      said.textContent = `Signed. ${doing}.`;
      form.submit();
    } catch (err) {
      unsigned = true;
      said.textContent = `Your passkey did not sign (${err.message || err}). Press the button again to ${unsignedly}.`;
    }
  });
}

function signedVote(form) {
  signedForm(form, async () => bytes(form.dataset.signChallenge), "Casting your vote", "cast your vote unsigned");
}

// A statement the node makes from the form as it will read it (an amendment: the words are
// found in the motion's text there): the form is sent to data-sign-fetch first, which answers
// the challenge, or what is wrong with the form.
function signedFetched(form) {
  signedForm(form, async () => {
    const answer = await fetch(form.dataset.signFetch, { method: "POST", body: new URLSearchParams(new FormData(form)) });
    const got = await answer.json();
    if (!answer.ok) throw new Error(got.error);
    return bytes(got.challenge);
  }, form.dataset.signDoing, form.dataset.signUnsigned);
}

// A statement made from the form's own fields (a candidacy's name; a motion's title and text):
// the page gives its prefix (on the form, or on the chosen option of its "for" list), and the
// statement is the prefix, then SHA-256 of each field named in data-sign-fields, in order (a
// one-line field trimmed, as the node trims it). The challenge is the statement's SHA-256.
function signedStatement(form) {
  if (!window.crypto || !crypto.subtle) return;
  const hex = (text) => Uint8Array.from(text.match(/../g) || [], (h) => parseInt(h, 16));
  const sha = async (text) => new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  signedForm(form, async () => {
    const chosen = form.elements.for && form.elements.for.selectedOptions ? form.elements.for.selectedOptions[0] : null;
    const parts = [hex((chosen && chosen.dataset.signPrefix) || form.dataset.signPrefix)];
    for (const name of form.dataset.signFields.split(" ")) {
      const field = form.elements[name];
      parts.push(await sha(field.tagName === "TEXTAREA" ? field.value.replace(/\r\n/g, "\n") : field.value.trim()));
    }
    const statement = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { statement.set(p, at); at += p.length; }
    return await crypto.subtle.digest("SHA-256", statement);
  }, form.dataset.signDoing, form.dataset.signUnsigned);
}
