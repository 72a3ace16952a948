// StreamFace OBS browser source: one session's face and nothing else.
//   /static/obs.html?session=ID&w=720&h=720&transparent=1#token=SECRET
// session=latest follows the newest live session (and the next one when it ends).
// w and h size the page (default 512x512); transparent=1 leaves everything around the
// face transparent for OBS to composite. State is exposed on window.streamface for tests.
"use strict";

(() => {
  const POLL_MS = 1500;
  const params = new URLSearchParams(location.search);
  const clampSize = (v, d) => {
    const n = parseInt(v || "", 10);
    return Number.isFinite(n) && n >= 16 && n <= 4096 ? n : d;
  };
  const width = clampSize(params.get("w"), 512);
  const height = clampSize(params.get("h"), width);
  const wanted = params.get("session") || "latest";
  const transparent = ["1", "true", "yes"].includes((params.get("transparent") || "").toLowerCase());
  const { watch, authHeaders, tokenFromUrl } = window.StreamFaceWhep;
  const headers = authHeaders(tokenFromUrl());
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);

  const video = document.getElementById("face");
  const state = { state: "waiting", session: null, width, height, transparent, error: null, viewer: null };
  window.streamface = state;

  document.documentElement.classList.toggle("transparent", transparent);
  document.body.classList.toggle("transparent", transparent);
  for (const el of [document.documentElement, document.body]) {
    el.style.width = width + "px";
    el.style.height = height + "px";
  }
  video.width = width;
  video.height = height;
  video.style.width = width + "px";
  video.style.height = height + "px";

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function getJson(url) {
    const resp = await fetch(url, { headers, cache: "no-store" });
    if (resp.status === 404) return null;
    if (!resp.ok) throw new Error("the server answered " + resp.status);
    return resp.json();
  }

  async function pickSession() {
    if (wanted !== "latest") return (await getJson("/sessions/" + encodeURIComponent(wanted))) ? wanted : null;
    const body = await getJson("/sessions");
    const live = (body && body.sessions) || [];
    if (!live.length) return null;
    live.sort((a, b) => (b.started || 0) - (a.started || 0));
    return live[0].id;
  }

  function stop() {
    if (state.viewer) state.viewer.close();
    state.viewer = null;
    video.srcObject = null;
    video.hidden = true;
  }

  async function run() {
    for (;;) {
      try {
        const id = await pickSession();
        if (!id) {
          state.state = wanted === "latest" ? "waiting" : "ended";
          if (wanted !== "latest") return;
          await sleep(POLL_MS);
          continue;
        }
        state.session = id;
        state.state = "connecting";
        state.viewer = await watch(id, {
          headers,
          onVideo: (stream) => { video.srcObject = stream; video.hidden = false; video.play().catch(() => {}); },
        });
        // watch the session until it ends
        while (await getJson("/sessions/" + encodeURIComponent(id))) {
          if (state.state !== "playing" && video.readyState >= 2) state.state = "playing";
          if (state.viewer && ["failed", "closed"].includes(state.viewer.pc.connectionState)) break;
          await sleep(POLL_MS);
        }
        stop();
        if (wanted !== "latest") { state.state = "ended"; return; }
        state.state = "waiting";
      } catch (err) {
        stop();
        state.state = "error";
        state.error = err instanceof TypeError ? "the server is unreachable" : err.message;
        await sleep(POLL_MS * 2);
      }
    }
  }

  video.addEventListener("playing", () => { state.state = "playing"; });
  window.addEventListener("pagehide", stop);
  run();
})();
