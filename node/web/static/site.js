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
});
