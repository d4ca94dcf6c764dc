// Thin fetch wrapper. A bearer token (when the server requires one for reads) is kept in
// localStorage under "rungs-token" (token.js lets the user enter it) and sent with every
// request; the server decides what needs it. A 401 fires "rungs-token-needed" on window.
const Api = (() => {
  const KEY = "rungs-token";
  const token = () => localStorage.getItem(KEY) || "";

  async function request(path) {
    const headers = token() ? { Authorization: "Bearer " + token() } : {};
    const res = await fetch("/api" + path, { headers });
    if (!res.ok) {
      let message = res.status + " " + res.statusText;
      try { message = (await res.json()).message || message; } catch (e) { /* not JSON */ }
      if (res.status === 401) window.dispatchEvent(new CustomEvent("rungs-token-needed"));
      throw new Error(message);
    }
    return res;
  }
  const get = async (path) => (await request(path)).json();

  // A plain link cannot send the Authorization header: fetch the file with it, then save the
  // blob under the server's file name.
  async function download(path) {
    const res = await request(path);
    const named = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "");
    const url = URL.createObjectURL(await res.blob());
    const link = Object.assign(document.createElement("a"), { href: url, download: named ? named[1] : "download" });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
  return {
    sweeps: () => get("/sweeps"),
    sweep: (id) => get(`/sweeps/${id}`),
    trials: (id, q) => get(`/sweeps/${id}/trials?` + new URLSearchParams(q)),
    curves: (id, q) => get(`/sweeps/${id}/curves?` + new URLSearchParams(q)),
    resultsAfter: (id, cursor) => get(`/sweeps/${id}/results?after=${cursor}`),
    trialLog: (id, stream, tail) => get(`/trials/${id}/log?` + new URLSearchParams({ stream, tail })),
    top: (id, k) => get(`/sweeps/${id}/top` + (k ? `?k=${k}` : "")),  // no k: the stored picks
    ranking: (id) => get(`/sweeps/${id}/ranking`),
    analysis: (id) => get(`/sweeps/${id}/report?format=json`),
    downloadTopCsv: (id, k) => download(`/sweeps/${id}/top.csv` + (k ? `?k=${k}` : "")),
    token,
    setToken: (value) => (value ? localStorage.setItem(KEY, value) : localStorage.removeItem(KEY)),
    states: () => get("/meta/states"),
  };
})();
