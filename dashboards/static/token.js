// The API token for servers that require one for reads (RUNGS_READS_REQUIRE_TOKEN): entered
// once in the header, kept in this browser's localStorage (Api.setToken), sent by Api with every
// request. A 401 from any request highlights the box and says why.
(() => {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  const forget = document.getElementById("token-forget");
  const state = document.getElementById("token-state");

  function show(message) {
    forget.hidden = !Api.token();
    state.textContent = message ?? (Api.token() ? "token saved" : "");
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    Api.setToken(input.value.trim());
    input.value = "";
    form.classList.remove("needed");
    show();
    route();  // app.js: redraw the current page with the token
  });
  forget.addEventListener("click", () => { Api.setToken(""); show(); route(); });
  window.addEventListener("rungs-token-needed", () => {
    form.classList.add("needed");
    show(Api.token() ? "the server refused this token" : "this server needs a token to read");
  });
  show();
})();
