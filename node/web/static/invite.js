// The invite token is in the URL fragment (#bni_...), which browsers never send to servers or logs.
"use strict";
const form = document.getElementById("invite");
const message = document.getElementById("message");
function say(text, isError) {
  message.textContent = text;
  message.className = isError ? "error" : "";
}
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = decodeURIComponent(location.hash.slice(1));
  const password = form.password.value;
  if (!token) return say("This page needs the whole invite link, including the part after #.", true);
  if (password !== form.again.value) return say("The two passwords differ.", true);
  const response = await fetch("/api/v1/auth/invite", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token, password }),
  });
  if (response.ok) {
    history.replaceState(null, "", "/invite");
    const me = await response.json();
    say(`Done: you are signed in as ${me.email}.`, false);
    form.hidden = true;
  } else {
    const body = await response.json().catch(() => null);
    say(body && body.error ? body.error.message : `The node answered ${response.status}.`, true);
  }
});
