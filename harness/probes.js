// What the browser tests look at from outside the page's own code, installed before the
// page's script runs: harness/browser.py reads this file for Chromium under Playwright,
// tests/firefox/call.mjs for Firefox and Chromium under puppeteer-core. It records in
// window.__probe:
// - configs: the ICE configuration each RTCPeerConnection got;
// - candidates: every candidate handed to addIceCandidate;
// - streams: every getUserMedia stream (so a test can check Leave stops them);
// - csp: every Content-Security-Policy violation;
// - states: each change of #status[data-state], with the time it happened (Date.now(), one
//   clock for every browser on this machine);
// - requests: the page's requests to the server as "METHOD /path type -> status (+ms)", and
//   for an events answer what it brought, so a failed negotiation can be read afterwards;
// and gives two measures of what arrives from the other person, remoteBrightness() and
// audioEnergy(), and the ICE credentials the call uses now, ice().
(() => {
  const probe = { configs: [], candidates: [], streams: [], csp: [], states: [], requests: [] };
  window.__probe = probe;

  const nativeFetch = window.fetch.bind(window);
  window.fetch = async (resource, init = {}) => {
    const address = resource instanceof Request ? resource.url : String(resource);
    const url = new URL(address, location.href);
    let line = `${init.method || "GET"} ${url.pathname}`;
    try {
      line += ` ${JSON.parse(init.body).type}`;
    } catch (err) {
      line += url.searchParams.has("type") ? ` ${url.searchParams.get("type")}` : "";
    }
    const at = Date.now();
    const entry = { line, at };
    probe.requests.push(entry);
    const response = await nativeFetch(resource, init).catch((err) => {
      entry.line += ` -> ${err.name}`;
      throw err;
    });
    entry.line += ` -> ${response.status} (+${Date.now() - at})`;
    if (url.pathname === "/events" && response.ok) {
      response
        .clone()
        .json()
        .then((body) => {
          const { peers, answer, offer, descriptions = [], candidates = [] } = body;
          const kinds = descriptions.map((item) => item.payload.type).join(",");
          entry.line += ` peers ${peers}${offer ? " offer" : ""}${answer ? " answer" : ""}`;
          entry.line += `${kinds ? ` ${kinds}` : ""} ${candidates.length}c`;
        })
        .catch(() => {});
    }
    return response;
  };

  const NativePC = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends NativePC {
    constructor(config) {
      super(config);
      probe.configs.push(JSON.parse(JSON.stringify(config || {})));
    }
  };
  const addIceCandidate = NativePC.prototype.addIceCandidate;
  NativePC.prototype.addIceCandidate = function (candidate, ...rest) {
    probe.candidates.push(candidate && candidate.candidate);
    return addIceCandidate.call(this, candidate, ...rest);
  };
  if (navigator.mediaDevices) {
    const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      const stream = await getUserMedia(constraints);
      probe.streams.push(stream);
      return stream;
    };
  }
  document.addEventListener("securitypolicyviolation", (event) => {
    probe.csp.push(`${event.violatedDirective} ${event.blockedURI}`);
  });
  document.addEventListener("DOMContentLoaded", () => {
    const status = document.getElementById("status");
    if (!status) return; // not the app's page
    const record = () => probe.states.push({ state: status.dataset.state, at: Date.now() });
    record();
    new MutationObserver(record).observe(status, {
      attributes: true,
      attributeFilter: ["data-state"],
    });
  });

  // The average brightness (0-255) of the remote video's current frame; -1 without one.
  // Black when the other person turned the camera off, not black while their (fake) camera
  // runs.
  probe.remoteBrightness = () => {
    const video = document.getElementById("remoteVideo");
    if (!video.videoWidth) return -1;
    const canvas = document.createElement("canvas");
    canvas.width = 32;
    canvas.height = 24;
    const context = canvas.getContext("2d");
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      sum += (pixels[i] + pixels[i + 1] + pixels[i + 2]) / 3;
    }
    return sum / (pixels.length / 4);
  };

  // A connection's stats, or none: when the page closed it meanwhile (a fresh connection
  // replaced it; Firefox then throws InvalidStateError, at once), or when they take over STATS_MS (a
  // page call that hangs stalls puppeteer for its three-minute protocol timeout, and a run
  // stalled so once while a connection was replaced).
  const STATS_MS = 2000;
  probe.stats = (pc) =>
    Promise.race([
      new Promise((resolve) => resolve(pc.getStats())).catch(() => new Map()),
      new Promise((resolve) => setTimeout(() => resolve(new Map()), STATS_MS)),
    ]);

  // Audio energy received so far (grows while the other person's microphone is on); -1
  // outside a call.
  probe.audioEnergy = async () => {
    const call = window.videoChat && window.videoChat.call;
    if (!call || !call.pc) return -1;
    let energy = 0;
    (await probe.stats(call.pc)).forEach((entry) => {
      if (entry.type === "inbound-rtp" && entry.kind === "audio") {
        energy += entry.totalAudioEnergy || 0;
      }
    });
    return energy;
  };

  // The ICE credentials the call uses now (an ICE restart changes them on both sides): the
  // selected candidate pair, the usernameFragment of its local and remote candidates as the
  // stats give them (Chromium; a restart's new pair is selected only once its checks
  // succeed), the transport's iceLocalUsernameFragment (Chromium: new as soon as a restart's
  // offer is set, answered or not), and the ufrags the current descriptions carry
  // (a=ice-ufrag: every browser has these). Null outside a call.
  probe.ice = async () => {
    const call = window.videoChat && window.videoChat.call;
    const pc = call && call.pc;
    // A connection being replaced may be closed already (Firefox then throws on its
    // descriptions): between two connections is outside a call.
    if (!pc || pc.signalingState === "closed") return null;
    const sdpUfrag = (description) => {
      const match = description && /^a=ice-ufrag:(\S+)/m.exec(description.sdp);
      return match ? match[1] : null;
    };
    // Read before the stats are awaited, while the connection is known to be open.
    const described = {
      localUfrag: sdpUfrag(pc.currentLocalDescription),
      remoteUfrag: sdpUfrag(pc.currentRemoteDescription),
      connectionState: pc.connectionState,
      signalingState: pc.signalingState,
    };
    const report = await probe.stats(pc);
    let transport = null;
    let pair = null;
    report.forEach((entry) => {
      if (entry.type === "transport" && entry.selectedCandidatePairId) transport = entry;
    });
    if (transport) pair = report.get(transport.selectedCandidatePairId) || null;
    if (!pair) {
      // Firefox has no transport stats: it marks the pair in use as selected.
      report.forEach((entry) => {
        if (entry.type === "candidate-pair" && entry.selected) pair = entry;
      });
    }
    const local = pair ? report.get(pair.localCandidateId) : null;
    const remote = pair ? report.get(pair.remoteCandidateId) : null;
    return {
      pair: pair ? pair.id : null,
      pairState: pair ? pair.state : null,
      statsLocalUfrag: (local && local.usernameFragment) || null,
      statsRemoteUfrag: (remote && remote.usernameFragment) || null,
      transportUfrag: (transport && transport.iceLocalUsernameFragment) || null,
      ...described,
      connections: probe.configs.length, // RTCPeerConnections made: a fresh one adds one
    };
  };
})();
