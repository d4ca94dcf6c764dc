// Thin fetch wrapper. A bearer token (when the server requires one for reads) is kept in
// localStorage under "rungs-token"; the server decides what needs it.
const Api = (() => {
  async function get(path) {
    const headers = {};
    const token = localStorage.getItem("rungs-token");
    if (token) headers["Authorization"] = "Bearer " + token;
    const res = await fetch("/api" + path, { headers });
    if (!res.ok) {
      let message = res.status + " " + res.statusText;
      try { message = (await res.json()).message || message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return res.json();
  }
  return {
    sweeps: () => get("/sweeps"),
    sweep: (id) => get(`/sweeps/${id}`),
    trials: (id, q) => get(`/sweeps/${id}/trials?` + new URLSearchParams(q)),
    curves: (id, q) => get(`/sweeps/${id}/curves?` + new URLSearchParams(q)),
    resultsAfter: (id, cursor) => get(`/sweeps/${id}/results?after=${cursor}`),
    top: (id, k) => get(`/sweeps/${id}/top` + (k ? `?k=${k}` : "")),  // no k: the stored picks
    ranking: (id) => get(`/sweeps/${id}/ranking`),
    analysis: (id) => get(`/sweeps/${id}/report?format=json`),
    topCsvUrl: (id, k) => `/api/sweeps/${id}/top.csv` + (k ? `?k=${k}` : ""),
    states: () => get("/meta/states"),
  };
})();
