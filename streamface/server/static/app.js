// StreamFace call page: consent, microphone, WHIP offer, the face back, traits as events.
// Plain JavaScript, no build step. State is exposed on window.streamface for tests.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const consent = $("consent"), start = $("start"), stop = $("stop");
  const video = $("face"), traitsBox = $("traits"), stageBox = $("stage"), message = $("message");
  const tokenInput = $("token"), tokenBox = $("token-box"), lookButton = $("look"), ownLookButton = $("own-look");

  const state = { pc: null, mic: null, resource: null, stage: "idle", traits: null, events: 0, error: null,
                  look: savedLook() };
  window.streamface = state;

  const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
  if (hashToken) { tokenInput.value = hashToken; history.replaceState(null, "", location.pathname); }

  // The look the user chose last (0: the voice's own) is kept in this browser for the next call:
  // a chosen look is the same face in every call (the server draws it from the seed alone).
  function savedLook() {
    try { return Number.parseInt(localStorage.getItem("streamface.look") || "0", 10) || 0; } catch { return 0; }
  }
  function saveLook(look) {
    state.look = look;
    try { localStorage.setItem("streamface.look", String(look)); } catch { /* storage off */ }
  }

  function say(text, isError = false) {
    message.textContent = text;
    message.className = isError ? "error" : "";
    if (isError) state.error = text;
  }

  const { waitForIce, definitionList, authHeaders: bearer } = window.StreamFaceWhep;
  const authHeaders = () => bearer(tokenInput.value.trim());

  consent.addEventListener("change", () => {
    start.disabled = !consent.checked || state.pc !== null;
    if (consent.checked) say("");
  });

  function pct(p) { return Math.round(100 * p) + "%"; }

  function showTraits(traits) {
    if (!traits) return;
    state.traits = traits;
    const sex = traits.perceived_sex, age = traits.age_band;
    const rows = [
      ["Perceived sex", `${sex.label} (${pct(sex.label === "female" ? sex.p_female : 1 - sex.p_female)})`],
      ["Age band", `${age.label.replace("_", " ")} (${pct(age.probs[age.label] || 0)})`],
      ["Confidence", pct(traits.confidence)],
      ["Speech heard", `${traits.speech_seconds.toFixed(1)} s`],
    ];
    traitsBox.replaceChildren(definitionList(rows));
  }

  function showStage(stage) {
    state.stage = stage;
    stageBox.textContent = stage === "listening" ? "Listening: speak to see a face." : `Stage: ${stage}`;
  }

  function onEvent(raw) {
    let event;
    try { event = JSON.parse(raw); } catch { return; }
    state.events += 1;
    if (event.stage) showStage(event.stage);
    if (event.type === "traits") showTraits(event.traits);
    if (event.type === "end") { say(`The session ended: ${event.reason}.`); teardown(false); }
  }

  async function begin() {
    if (!consent.checked) { say("Please tick the consent box first: nothing is captured without it.", true); return; }
    if (!navigator.mediaDevices || !window.RTCPeerConnection) {
      say("This browser cannot capture audio here (it needs WebRTC and a secure origin such as localhost).", true);
      return;
    }
    start.disabled = true;
    say("Asking for the microphone...");
    try {
      state.mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch (err) {
      const denied = err && (err.name === "NotAllowedError" || err.name === "SecurityError");
      say(denied ? "Microphone access was denied. Allow the microphone for this page and try again."
                 : `No microphone could be opened (${err && err.name}).`, true);
      start.disabled = !consent.checked;
      return;
    }
    const pc = new RTCPeerConnection();
    state.pc = pc;
    for (const track of state.mic.getAudioTracks()) pc.addTransceiver(track, { direction: "sendonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
    const channel = pc.createDataChannel("events");
    channel.onmessage = (e) => onEvent(e.data);
    pc.ontrack = (e) => {
      if (e.track.kind !== "video") return;
      video.srcObject = e.streams[0] || new MediaStream([e.track]);
      video.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") { say("The connection to the server failed.", true); teardown(true); }
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await waitForIce(pc, 3000);
      say("Connecting...");
      let resp;
      try {
        const look = state.look ? `&look=${encodeURIComponent(state.look)}` : "";  // else the server's
        resp = await fetch(`/whip?consent=true${look}`, {
          method: "POST",
          headers: { "Content-Type": "application/sdp", ...authHeaders() },
          body: pc.localDescription.sdp,
        });
      } catch {
        throw new Error("The server is unreachable. Is `streamface serve` running?");
      }
      if (resp.status !== 201) {
        let reason = `${resp.status}`;
        try { reason = (await resp.json()).error || reason; } catch { /* not JSON */ }
        if (resp.status === 401) { tokenBox.open = true; reason = "This server needs a token: enter it below and start again."; }
        if (resp.status === 403) reason = `Consent is missing: ${reason}`;
        throw new Error(reason);
      }
      state.resource = new URL(resp.headers.get("Location"), location.href).href;
      await pc.setRemoteDescription({ type: "answer", sdp: await resp.text() });
      showStage("listening");
      stop.disabled = false;
      lookButton.disabled = false;
      ownLookButton.disabled = !state.look;
      say("Live. Speak: the face appears after a second or two of speech.");
    } catch (err) {
      say(err.message || String(err), true);
      teardown(false);
    }
  }

  function teardown(hangUp) {
    const resource = state.resource;
    state.resource = null;
    if (hangUp && resource) {
      fetch(resource, { method: "DELETE", headers: authHeaders() }).catch(() => {});
    }
    if (state.pc) { state.pc.close(); state.pc = null; }
    if (state.mic) { for (const t of state.mic.getTracks()) t.stop(); state.mic = null; }
    video.srcObject = null;
    stop.disabled = true;
    lookButton.disabled = true;
    ownLookButton.disabled = true;
    start.disabled = !consent.checked;
  }

  // POST a look to the live session (no body: a random new one) and keep it for the next call.
  async function changeLook(body, done, early) {
    if (!state.resource) return;
    const id = new URL(state.resource).pathname.split("/").pop();
    lookButton.disabled = ownLookButton.disabled = true;
    try {
      const init = { method: "POST", headers: authHeaders() };
      if (body) { init.body = JSON.stringify(body); init.headers = { ...init.headers, "Content-Type": "application/json" }; }
      const resp = await fetch(`/sessions/${encodeURIComponent(id)}/look`, init);
      if (!resp.ok) throw new Error(`${resp.status}`);
      const answer = await resp.json();
      saveLook(answer.look);
      say(answer.changed ? done : early);
    } catch (err) {
      say(`Could not change the look (${err.message || err}).`, true);
    } finally {
      lookButton.disabled = !state.resource;
      ownLookButton.disabled = !state.resource || !state.look;
    }
  }

  const anotherLook = () => changeLook(null,
    "Another look: same voice, other skin, hair and features, kept for your next calls in this browser.",
    "Another look: it shows as soon as the face appears.");
  const ownLook = () => changeLook({ look: 0 },
    "Your voice's own look again.", "Your voice's own look: it shows as soon as the face appears.");

  start.addEventListener("click", begin);
  lookButton.addEventListener("click", anotherLook);
  ownLookButton.addEventListener("click", ownLook);
  stop.addEventListener("click", () => { teardown(true); say(state.look ? "Stopped. Nothing of your voice was kept; the look you chose stays in this browser."
                                                        : "Stopped. Nothing was kept."); showStage("idle"); });
  window.addEventListener("pagehide", () => teardown(true));
})();
