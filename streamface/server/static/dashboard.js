// StreamFace dashboard: every live call from GET /sessions (polled), each speaker's face as
// live video over WHEP, with traits and confidence. Calls appear and disappear as they start
// and end. Plain JavaScript, no build step; state is exposed on window.streamface for tests.
"use strict";

(() => {
  const POLL_MS = 1000;
  const $ = (id) => document.getElementById(id);
  const callsBox = $("calls"), empty = $("empty"), status = $("status");
  const tokenInput = $("token"), tokenBox = $("token-box");
  const callTemplate = $("call-template"), faceTemplate = $("face-template");
  const { watch, definitionList, authHeaders, tokenFromUrl } = window.StreamFaceWhep;

  // calls: key -> {el, faces: Map(sessionId -> {el, video, viewer, entry})}
  const state = { calls: new Map(), sessions: [], polls: 0, error: null, playing: 0 };
  window.streamface = state;

  const urlToken = tokenFromUrl();
  if (urlToken) { tokenInput.value = urlToken; history.replaceState(null, "", location.pathname + location.search); }
  const headers = () => authHeaders(tokenInput.value.trim());

  const TRACK_NAMES = {
    inbound: "Caller (inbound)", outbound: "Agent (outbound)",
    external: "Customer (external)", internal: "Agent (internal)",
  };
  const pct = (p) => (typeof p === "number" ? Math.round(100 * p) + "%" : "?");

  function callKey(entry) {
    if (entry.stream_sid) return "tel:" + entry.stream_sid;
    if (entry.audiohook_session) return "audiohook:" + entry.audiohook_session;
    return "session:" + entry.id;
  }

  // A face's speaker: the telephony track or the AudioHook channel.
  const speaker = (entry) => entry.track || entry.channel || "";

  function callTitle(entry) {
    if (entry.source === "telephony") return "Phone call " + entry.stream_sid;
    if (entry.source === "audiohook") return "Contact-center call " + entry.conversation_id;
    return (entry.source === "webrtc" ? "Web call " : "Session ") + entry.id;
  }

  function faceTitle(entry) {
    if (speaker(entry)) return TRACK_NAMES[speaker(entry)] || speaker(entry);
    return "Speaker";
  }

  function renderTraits(box, entry) {
    const traits = entry.traits;
    if (!traits) {
      box.replaceChildren(Object.assign(document.createElement("p"), {
        className: "muted small", textContent: "Listening: no traits yet.",
      }));
      return;
    }
    const rows = [];
    const sex = traits.perceived_sex, age = traits.age_band;
    if (sex) rows.push(["Perceived sex", `${sex.label} (${pct(sex.label === "female" ? sex.p_female : 1 - sex.p_female)})`]);
    if (age) rows.push(["Age band", `${String(age.label).replace("_", " ")} (${pct(age.probs ? age.probs[age.label] : undefined)})`]);
    rows.push(["Confidence", pct(traits.confidence)]);
    box.replaceChildren(definitionList(rows));
  }

  function addCall(key, entry) {
    const el = callTemplate.content.firstElementChild.cloneNode(true);
    el.dataset.key = key;
    if (entry.stream_sid) el.dataset.streamSid = entry.stream_sid;
    el.querySelector(".call-title").textContent = callTitle(entry);
    const call = { el, faces: new Map() };
    state.calls.set(key, call);
    callsBox.append(el);
    return call;
  }

  function addFace(call, entry) {
    const el = faceTemplate.content.firstElementChild.cloneNode(true);
    el.dataset.sessionId = entry.id;
    if (speaker(entry)) el.dataset.track = speaker(entry);
    el.querySelector(".face-title").textContent = faceTitle(entry);
    if (entry.node) {  // a Ray front door: the cluster node that runs this session
      el.dataset.node = entry.node;
      el.querySelector(".face-title").title = "runs on Ray node " + entry.node;
    }
    const face = { el, video: el.querySelector("video"), viewer: null, entry, playing: false, gone: false };
    call.faces.set(entry.id, face);
    // keep inbound before outbound, external (customer) before internal (agent)
    const faces = call.el.querySelector(".faces");
    const after = [...faces.children].find((c) => (c.dataset.track || "") > speaker(entry));
    faces.insertBefore(el, after || null);
    face.video.addEventListener("playing", () => { if (!face.playing) { face.playing = true; state.playing += 1; } });
    connect(face);
    return face;
  }

  async function connect(face) {
    try {
      face.viewer = await watch(face.entry.id, {
        headers: headers(),
        onVideo: (stream) => { face.video.srcObject = stream; face.video.play().catch(() => {}); },
        onGone: () => { /* the next poll removes the face if the session ended */ },
      });
      if (face.gone) face.viewer.close();
    } catch (err) {
      if (!face.gone) face.el.querySelector(".stage").textContent = "Video unavailable: " + err.message;
    }
  }

  function removeFace(call, id) {
    const face = call.faces.get(id);
    if (!face) return;
    face.gone = true;
    if (face.viewer) face.viewer.close();
    if (face.playing) state.playing -= 1;
    face.video.srcObject = null;
    face.el.remove();
    call.faces.delete(id);
  }

  function update(entries) {
    state.sessions = entries;
    const live = new Map(); // key -> entries
    for (const entry of entries) {
      const key = callKey(entry);
      if (!live.has(key)) live.set(key, []);
      live.get(key).push(entry);
    }
    for (const [key, call] of state.calls) {
      const current = live.get(key) || [];
      const ids = new Set(current.map((e) => e.id));
      for (const id of [...call.faces.keys()]) if (!ids.has(id)) removeFace(call, id);
      if (!current.length) { call.el.remove(); state.calls.delete(key); }
    }
    for (const [key, group] of live) {
      const call = state.calls.get(key) || addCall(key, group[0]);
      const started = Math.min(...group.map((e) => e.started || 0));
      const speech = group.map((e) => `${faceTitle(e)}: ${Number(e.speech_seconds || 0).toFixed(1)} s speech`).join(" · ");
      call.el.querySelector(".call-meta").textContent =
        `${group.length} speaker${group.length > 1 ? "s" : ""} · live for ${Math.max(0, Math.round(Date.now() / 1000 - started))} s · ${speech}`;
      for (const entry of group) {
        const face = call.faces.get(entry.id) || addFace(call, entry);
        face.entry = entry;
        face.el.querySelector(".stage").textContent = entry.stage === "listening"
          ? "Listening: the face appears after a second or two of speech." : `Stage: ${entry.stage}`;
        renderTraits(face.el.querySelector(".traits"), entry);
      }
    }
    empty.hidden = state.calls.size > 0;
  }

  async function poll() {
    try {
      const resp = await fetch("/sessions", { headers: headers(), cache: "no-store" });
      if (resp.status === 401) {
        tokenBox.open = true;
        throw new Error("this server needs a token: enter it above");
      }
      if (!resp.ok) throw new Error("the server answered " + resp.status);
      const body = await resp.json();
      update(Array.isArray(body.sessions) ? body.sessions : []);
      state.polls += 1;
      state.error = null;
      const n = state.calls.size;
      status.textContent = `${n} live call${n === 1 ? "" : "s"} · updated ${new Date().toLocaleTimeString()}`;
      status.className = "muted";
    } catch (err) {
      state.error = err instanceof TypeError ? "the server is unreachable" : err.message;
      status.textContent = "Cannot list calls: " + state.error + ".";
      status.className = "error";
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  window.addEventListener("pagehide", () => {
    for (const call of state.calls.values()) for (const id of [...call.faces.keys()]) removeFace(call, id);
  });
  poll();
})();
