// WebRTC helpers shared by the pages: the WHEP viewer (RFC 9725 style) of the dashboard and
// the OBS page (one recvonly video peer per session), ICE gathering, bearer headers and
// the traits list.
// Plain JavaScript, no build step; exposes window.StreamFaceWhep.
"use strict";

(() => {
  function waitForIce(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
      const check = () => { if (pc.iceGatheringState === "complete") done(); };
      pc.addEventListener("icegatheringstatechange", check);
      setTimeout(done, timeoutMs);
    });
  }

  // Watch a session's face. Returns {pc, resource, close()}; throws Error(reason) on refusal.
  // onVideo(stream) is called when the track arrives; onGone(reason) when the peer fails.
  async function watch(sessionId, { headers = {}, onVideo, onGone } = {}) {
    const pc = new RTCPeerConnection();
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = (e) => {
      if (e.track.kind === "video" && onVideo) onVideo(e.streams[0] || new MediaStream([e.track]));
    };
    pc.onconnectionstatechange = () => {
      if (["failed", "closed"].includes(pc.connectionState) && onGone) onGone(pc.connectionState);
    };
    const viewer = { pc, resource: null, closed: false };
    viewer.close = () => {
      if (viewer.closed) return;
      viewer.closed = true;
      if (viewer.resource) {
        fetch(viewer.resource, { method: "DELETE", headers }).catch(() => {});
      }
      pc.close();
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await waitForIce(pc, 3000);
      let resp;
      try {
        resp = await fetch("/whep/" + encodeURIComponent(sessionId), {
          method: "POST",
          headers: { "Content-Type": "application/sdp", ...headers },
          body: pc.localDescription.sdp,
        });
      } catch {
        throw new Error("the server is unreachable");
      }
      if (resp.status !== 201) {
        let reason = "HTTP " + resp.status;
        try { reason = (await resp.json()).error || reason; } catch { /* not JSON */ }
        const err = new Error(reason);
        err.status = resp.status;
        throw err;
      }
      viewer.resource = new URL(resp.headers.get("Location"), location.href).href;
      await pc.setRemoteDescription({ type: "answer", sdp: await resp.text() });
      return viewer;
    } catch (err) {
      viewer.close();
      throw err;
    }
  }

  // A <dl> of [term, description] rows (traits panels); text only, never HTML.
  function definitionList(rows) {
    const dl = document.createElement("dl");
    for (const [k, v] of rows) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v;
      dl.append(dt, dd);
    }
    return dl;
  }

  function authHeaders(token) {
    return token ? { Authorization: "Bearer " + token } : {};
  }

  // The token from "#token=..." (kept out of server logs and history) or "?token=".
  function tokenFromUrl() {
    const hash = new URLSearchParams(location.hash.slice(1)).get("token");
    return hash || new URLSearchParams(location.search).get("token") || "";
  }

  window.StreamFaceWhep = { watch, waitForIce, definitionList, authHeaders, tokenFromUrl };
})();
