// The browser side of webrtc-signal: a two-person video call with chat.
//
// The server only relays signals (docs/protocol.md): the first person in a room posts an SDP
// offer and waits; the second answers it; both trickle ICE candidates through /signal and
// long-poll for the other side's. Media and chat then flow directly between the two browsers.
//
// Plain top-level functions, in the order a call goes through them: start (enter the room)
// -> openMedia -> createPeerConnection -> negotiate -> poll -> (connected) -> hangUp / stop.
"use strict";

const DEFAULT_ROOM = "default-room";
const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
const PEER_ID_LENGTH = 22;
const ROOM_ID_LENGTH = 22;
// Reads wait on the server until something arrives (long-poll), at most this many seconds;
// after a failed one, retry after a pause.
const WAIT_S = 20;
const RETRY_MS = 1000;
// An offer read this recently is still taken as the room's; after a longer camera prompt,
// the room is read again.
const OFFER_FRESH_MS = 1000;
const HEARTBEAT_MS = 2000;
const STATS_MS = 1000;
// Candidates per request, both ways (the server takes up to 50).
const BATCH = 50;
// The member's secret the server hands out on entering a room, sent back on every request.
const TOKEN_HEADER = "X-Peer-Token";
const STATUS_TEXT = {
  idle: "Not in a call. Click Start Session to join the room.",
  waiting: "Waiting for the other person to join…",
  connecting: "Connecting…",
  connected: "Connected: you are in a call.",
  left: "The other person left the call. Click Start Session to call again.",
  full:
    "This room is full: two people are already in a call here. " +
    "Try again later, or make a new room.",
};

const $ = (id) => document.getElementById(id);
const ui = {};

// The room this page is for, and the current session (null when not in a call). A session is
// one click of Start Session until Hang Up, "peer left" or an error; every callback checks
// that its session (and peer connection) is still the current one before touching anything.
let room = DEFAULT_ROOM;
let roomIsValid = true;
let session = null;
let stopping = false;

// -- small helpers -------------------------------------------------------------------------

function randomId(length) {
  // Unguessable: crypto.getRandomValues, 64 symbols so each byte maps without bias.
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => ID_ALPHABET[b % 64]).join("");
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function apiInit(method, { body = null, keepalive = false, token = null } = {}) {
  // fetch() options for one request: JSON body, and the member's token if it has one.
  const init = { method, keepalive, headers: {} };
  if (body !== null) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  if (token) init.headers[TOKEN_HEADER] = token;
  return init;
}

function apiUrl(path, query = {}) {
  const url = new URL(path, location.href);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url;
}

async function api(method, path, { query = {}, onToken = null, ...options } = {}) {
  // One request to the signaling server; the decoded JSON answer, or an ApiError. A token
  // the server hands out (on entering a room) goes to onToken.
  let response;
  try {
    response = await fetch(apiUrl(path, query), apiInit(method, options));
  } catch (err) {
    throw new ApiError(0, "network", "cannot reach the server");
  }
  const issued = response.headers.get(TOKEN_HEADER);
  if (issued && onToken) onToken(issued);
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const code = (data && data.error) || "http_" + response.status;
    const message = (data && data.message) || "the server answered " + response.status;
    throw new ApiError(response.status, code, message);
  }
  return data;
}

class SessionOver extends Error {
  constructor() {
    super("the session is over");
  }
}

function call(s, method, path, { query = {}, body = null } = {}) {
  // A request on behalf of session s, carrying its room, peer id and token; refused once the
  // session is over. Its first request enters the room and brings back the token.
  if (session !== s) return Promise.reject(new SessionOver());
  const options =
    body === null
      ? { query: { room, peer: s.peer, ...query } }
      : { query, body: { room, peer: s.peer, ...body } };
  const onToken = (token) => {
    s.token = token;
  };
  return api(method, path, { ...options, token: s.token, onToken });
}

function isCurrent(s, pc) {
  return session === s && (pc === undefined || s.pc === pc);
}

// -- status and controls -------------------------------------------------------------------

function setStatus(state, text) {
  // data-state is for tests and styling; the text is for people.
  ui.status.dataset.state = state;
  ui.status.textContent = text || STATUS_TEXT[state] || state;
}

function showMediaMessage(text) {
  ui.mediaMessage.textContent = text || "";
  ui.mediaMessage.hidden = !text;
}

function renderControls() {
  const s = session;
  const stream = s && s.localStream;
  const audio = stream ? stream.getAudioTracks()[0] : null;
  const video = stream ? stream.getVideoTracks()[0] : null;
  const chatOpen = Boolean(s && s.dc && s.dc.readyState === "open");
  ui.startButton.disabled = Boolean(s) || stopping || !roomIsValid;
  ui.hangUpButton.disabled = !s;
  ui.newRoomButton.disabled = Boolean(s) || stopping;
  ui.muteButton.disabled = !audio;
  ui.muteButton.textContent = audio && !audio.enabled ? "Unmute" : "Mute";
  ui.cameraButton.disabled = !video;
  ui.cameraButton.textContent = video && !video.enabled ? "Camera on" : "Camera off";
  ui.localFigure.dataset.camera = !s ? "idle" : !video ? "none" : video.enabled ? "on" : "off";
  ui.localCaption.textContent =
    !video ? "You (no camera)" : video.enabled ? "You" : "You (camera off)";
  ui.messageInput.disabled = !chatOpen;
  ui.sendButton.disabled = !chatOpen;
}

function showRoom() {
  ui.roomName.textContent = room;
  ui.roomLink.value = roomUrl();
  document.title = "Video chat: " + room;
}

function roomUrl() {
  const url = new URL(location.pathname, location.origin);
  url.searchParams.set("room", room);
  return url.href;
}

function readRoom() {
  // ?room=NAME, or the default room; a bad name is reported rather than silently replaced.
  const name = new URLSearchParams(location.search).get("room");
  if (name === null || name === "") return { name: DEFAULT_ROOM, valid: true };
  return { name, valid: NAME_PATTERN.test(name) };
}

// -- chat ----------------------------------------------------------------------------------

function appendChat(who, text) {
  // textContent only: a message is shown exactly as it came, never parsed as HTML.
  const item = document.createElement("li");
  item.className = who === "me" ? "from-me" : "from-them";
  const name = document.createElement("span");
  name.className = "who";
  name.textContent = who === "me" ? "You" : "Them";
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(name, body);
  ui.chatLog.append(item);
  ui.chatLog.scrollTop = ui.chatLog.scrollHeight;
}

function sendChat(event) {
  event.preventDefault();
  const s = session;
  const text = ui.messageInput.value;
  if (!s || !s.dc || s.dc.readyState !== "open" || text.trim() === "") return;
  s.dc.send(JSON.stringify({ type: "chat", text }));
  appendChat("me", text);
  ui.messageInput.value = "";
  ui.messageInput.focus();
}

function receiveMessage(s, data) {
  // Our own messages are JSON envelopes; anything else (plain text from another client) is
  // shown as it came.
  let message = null;
  try {
    message = JSON.parse(data);
  } catch (err) {
    message = null;
  }
  const type = message && typeof message === "object" ? message.type : null;
  if (type === "bye") {
    peerLeft(s);
  } else if (type === "chat" && typeof message.text === "string") {
    appendChat("them", message.text);
  } else {
    appendChat("them", String(data));
  }
}

function setupDataChannel(s, pc, dc) {
  s.dc = dc;
  dc.addEventListener("open", () => {
    if (!isCurrent(s, pc)) return;
    renderControls();
    checkConnected(s, pc);
  });
  dc.addEventListener("close", () => {
    if (!isCurrent(s, pc)) return;
    renderControls();
    if (s.connected) peerLeft(s);
  });
  dc.addEventListener("message", (event) => {
    if (isCurrent(s, pc)) receiveMessage(s, event.data);
  });
}

// -- the call ------------------------------------------------------------------------------

async function start() {
  // Start Session: take a place in the room, open camera and microphone, then negotiate.
  if (session || stopping || !roomIsValid) return;
  const s = {
    peer: randomId(PEER_ID_LENGTH),
    token: null,
    localStream: null,
    iceServers: [],
    pc: null,
    dc: null,
    timers: [],
  };
  session = s;
  ui.chatLog.replaceChildren();
  showMediaMessage("");
  resetStats();
  renderControls();
  setStatus("connecting", "Starting: joining the room…");
  // The ICE servers do not depend on the rest: ask for them now, not a round trip later.
  const iceAsked = api("GET", "/api/ice-servers");
  iceAsked.catch(() => {}); // its failure is reported below, unless joining failed first
  let offer;
  try {
    // One request enters the room (a peer id's first request does) and reads its offer.
    // Entering comes first: someone who cannot get in (a full room) is never asked for a
    // camera.
    const found = await call(s, "GET", "/signal", { query: { type: "offer" } });
    const readAt = performance.now();
    if (!isCurrent(s)) return;
    startHeartbeat(s);
    setStatus("connecting", "Starting: asking for camera and microphone…");
    await openMedia(s);
    if (!isCurrent(s)) return;
    const ice = await iceAsked;
    if (!isCurrent(s)) return;
    s.iceServers = ice.iceServers || [];
    if (performance.now() - readAt < OFFER_FRESH_MS) offer = found.payload;
  } catch (err) {
    await fail(s, err);
    return;
  }
  await negotiate(s, offer);
}

async function join(s) {
  // Take one of the room's two places: the answer brings our token (GET /room is also the
  // heartbeat later on).
  s.token = null;
  await call(s, "GET", "/room");
}

async function openMedia(s) {
  // Camera and microphone if possible; otherwise whichever works; otherwise receive only.
  const attempts = [{ video: true, audio: true }, { audio: true }, { video: true }];
  let firstError = null;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    firstError = new Error("this browser (or an insecure http:// address) gives no camera access");
  } else {
    for (const constraints of attempts) {
      try {
        s.localStream = await navigator.mediaDevices.getUserMedia(constraints);
        break;
      } catch (err) {
        firstError = firstError || err;
        // A refusal applies to every device: asking again only repeats it.
        if (err && (err.name === "NotAllowedError" || err.name === "SecurityError")) break;
      }
    }
  }
  if (!isCurrent(s)) {
    stopTracks(s.localStream);
    return;
  }
  if (s.localStream) {
    ui.localVideo.srcObject = s.localStream;
    if (s.localStream.getVideoTracks().length === 0) {
      showMediaMessage("No camera available: the other person will hear you but not see you.");
    } else if (s.localStream.getAudioTracks().length === 0) {
      showMediaMessage("No microphone available: the other person will see you but not hear you.");
    }
  } else {
    showMediaMessage(mediaErrorText(firstError));
  }
  renderControls();
}

function mediaErrorText(err) {
  const name = err && err.name;
  let reason;
  if (name === "NotAllowedError" || name === "SecurityError") {
    reason = "Camera and microphone access was denied.";
  } else if (name === "NotFoundError" || name === "OverconstrainedError") {
    reason = "No camera or microphone was found.";
  } else if (name === "NotReadableError" || name === "AbortError") {
    reason = "The camera or microphone is in use by another program.";
  } else {
    const detail = (err && err.message) || "unknown reason";
    reason = `Camera and microphone are not available (${detail}).`;
  }
  return (
    reason +
    " You can still join: you will see and hear the other person and can chat, but they will" +
    " not see or hear you. To fix it, allow camera and microphone for this site in the" +
    " browser, then start again."
  );
}

function createPeerConnection(s) {
  // A fresh RTCPeerConnection with our tracks, wired to this session.
  const pc = new RTCPeerConnection({ iceServers: s.iceServers });
  s.pc = pc;
  s.dc = null;
  s.role = null;
  s.connected = false;
  s.everConnected = false;
  s.partnerAt = 0; // performance.now() when the other person's description was applied
  s.described = new Promise((resolve) => {
    s.setDescribed = resolve; // called with the other person's description applied
  });
  s.seenKeys = new Set(); // candidate keys already taken, so each is applied once
  s.pendingCandidates = []; // remote candidates that came before the remote description
  s.outgoing = []; // our candidates, held until our offer or answer is stored
  s.canSendCandidates = false;
  s.remoteStream = null;
  s.offerPayload = null;
  s.answered = false;
  if (s.localStream) {
    for (const track of s.localStream.getTracks()) pc.addTrack(track, s.localStream);
  }

  pc.addEventListener("icecandidate", (event) => {
    if (!isCurrent(s, pc) || !event.candidate) return;
    const candidate = event.candidate.toJSON();
    if (s.canSendCandidates) sendCandidates(s, pc, [candidate]);
    else s.outgoing.push(candidate);
  });
  pc.addEventListener("track", (event) => {
    if (!isCurrent(s, pc)) return;
    if (!s.remoteStream) {
      s.remoteStream = new MediaStream();
      ui.remoteVideo.srcObject = s.remoteStream;
    }
    s.remoteStream.addTrack(event.track);
    ui.remoteNote.hidden = true;
    ui.remoteVideo.play().catch(() => {});
  });
  pc.addEventListener("datachannel", (event) => {
    if (isCurrent(s, pc)) setupDataChannel(s, pc, event.channel);
  });
  pc.addEventListener("connectionstatechange", () => onConnectionState(s, pc));
  return pc;
}

async function negotiate(s, known) {
  // The seed's flow: no offer in the room -> post ours and wait (initiator); an offer ->
  // answer it (receiver). Posting an offer is create-if-absent, so two people starting at
  // once still end up with one initiator. Errors end the session, unless this connection
  // was already replaced.
  const pc = createPeerConnection(s);
  try {
    // The room's offer (null: none), unless start() has just read it.
    const offer =
      known !== undefined
        ? known
        : (await call(s, "GET", "/signal", { query: { type: "offer" } })).payload;
    if (!isCurrent(s, pc)) return;
    if (offer) {
      await actAsReceiver(s, pc, offer);
      return;
    }
    try {
      await actAsInitiator(s, pc);
      return;
    } catch (err) {
      if (!(err instanceof ApiError && err.code === "offer_exists")) throw err;
    }
  } catch (err) {
    if (isCurrent(s, pc)) await fail(s, err);
    return;
  }
  // Someone else's offer got there first: answer it on a fresh connection.
  if (!isCurrent(s, pc)) return;
  pc.close();
  await negotiate(s);
}

async function actAsInitiator(s, pc) {
  s.role = "initiator";
  setupDataChannel(s, pc, pc.createDataChannel("chat"));
  // Without a camera or microphone, still ask for the other person's video and audio.
  const stream = s.localStream;
  if (!stream || stream.getAudioTracks().length === 0) {
    pc.addTransceiver("audio", { direction: "recvonly" });
  }
  if (!stream || stream.getVideoTracks().length === 0) {
    pc.addTransceiver("video", { direction: "recvonly" });
  }
  await pc.setLocalDescription(await pc.createOffer());
  s.offerPayload = pc.localDescription.toJSON();
  await call(s, "POST", "/signal", { body: { type: "offer", payload: s.offerPayload } });
  if (!isCurrent(s, pc)) return;
  flushOutgoing(s, pc);
  setStatus("waiting");
  poll(s, pc);
}

async function actAsReceiver(s, pc, offer) {
  s.role = "receiver";
  setStatus("connecting");
  // The initiator's candidates are already waiting: fetch them while we answer, so ICE can
  // start the moment our answer is made.
  poll(s, pc);
  await pc.setRemoteDescription(offer);
  if (!isCurrent(s, pc)) return;
  described(s);
  await applyPendingCandidates(s, pc);
  await pc.setLocalDescription(await pc.createAnswer());
  if (!isCurrent(s, pc)) return;
  const answer = pc.localDescription.toJSON();
  await call(s, "POST", "/signal", { body: { type: "answer", payload: answer } });
  if (!isCurrent(s, pc)) return;
  flushOutgoing(s, pc);
  // The seed's last step, clearing the answered offer; nothing waits for it.
  call(s, "DELETE", "/signal", { query: { type: "offer" } }).catch((err) => {
    if (isCurrent(s, pc)) console.warn("could not clear the answered offer:", err.message);
  });
}

function described(s) {
  // The other person's description is applied: their candidates can be, too.
  s.partnerAt = performance.now();
  s.setDescribed();
}

function flushOutgoing(s, pc) {
  // The candidates gathered while our offer or answer was on its way, in batches of 50.
  s.canSendCandidates = true;
  const held = s.outgoing.splice(0);
  for (let i = 0; i < held.length; i += BATCH) sendCandidates(s, pc, held.slice(i, i + BATCH));
}

function sendCandidates(s, pc, candidates) {
  const type = s.role === "initiator" ? "candidate_initiator" : "candidate_receiver";
  const body =
    candidates.length === 1 ? { type, payload: candidates[0] } : { type, payloads: candidates };
  call(s, "POST", "/signal", { body }).catch(async (err) => {
    if (!isCurrent(s, pc)) return;
    if (err.status === 429) {
      // Over the server's rate limit (many calls from one address): send them again shortly.
      await sleep(RETRY_MS);
      if (isCurrent(s, pc)) sendCandidates(s, pc, candidates);
      return;
    }
    console.warn("could not send candidates:", err.message);
  });
}

function poll(s, pc) {
  // Until the session or its connection changes: the initiator waits for the answer, and
  // both wait for the other side's candidates, each read held open by the server until
  // something arrives.
  if (s.role === "initiator") repeat(s, pc, waitForAnswer);
  repeat(s, pc, takeCandidates);
}

async function repeat(s, pc, step) {
  // Run step(s, pc) again and again while it says "more" and the connection is current;
  // a refusal ends the session, a network or server error is retried after a pause.
  while (isCurrent(s, pc)) {
    try {
      if (!(await step(s, pc))) return;
    } catch (err) {
      if (!isCurrent(s, pc)) return;
      // A refusal ends the session; an unreachable or busy server (429, 5xx) is retried.
      if (err instanceof ApiError && err.status !== 0 && err.status < 500 && err.status !== 429) {
        await fail(s, err);
        return;
      }
      console.warn("a read failed, retrying:", err.message);
      await sleep(RETRY_MS);
    }
  }
}

async function waitForAnswer(s, pc) {
  // One long-poll for the answer; true while it is still to come.
  const askedAt = performance.now();
  const answer = await call(s, "GET", "/signal", { query: { type: "answer", wait: WAIT_S } });
  if (!isCurrent(s, pc)) return false;
  if (answer.payload) {
    await acceptAnswer(s, pc, answer.payload);
    return false;
  }
  // An empty answer that came back at once (a proxy that does not hold requests): pause.
  if (performance.now() - askedAt < RETRY_MS) await sleep(RETRY_MS);
  // Nobody answered for a while: make sure our offer is still there to be answered.
  const offer = await call(s, "GET", "/signal", { query: { type: "offer" } });
  if (isCurrent(s, pc) && !offer.payload && !s.answered) await repostOffer(s, pc);
  return true;
}

async function acceptAnswer(s, pc, answer) {
  s.answered = true;
  setStatus("connecting");
  await pc.setRemoteDescription(answer);
  if (!isCurrent(s, pc)) return;
  described(s);
  await applyPendingCandidates(s, pc);
  await call(s, "DELETE", "/signal", { query: { type: "answer" } });
}

async function repostOffer(s, pc) {
  // Our offer vanished unanswered (the previous call's other side cleared the room just after
  // we started): store it again. If someone else's offer is there now, answer that instead.
  try {
    await call(s, "POST", "/signal", { body: { type: "offer", payload: s.offerPayload } });
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "offer_exists")) throw err;
    await renegotiate(s, pc, "waiting");
  }
}

async function takeCandidates(s, pc) {
  // One long-poll for the other side's candidates: each applied once (known by its key),
  // then deleted from the server; those that come before the remote description wait in
  // pendingCandidates, and are deleted when applied. Always true: candidates may trickle
  // until the call ends.
  const type = s.role === "initiator" ? "candidate_receiver" : "candidate_initiator";
  const items = await call(s, "GET", "/signal", { query: { type, wait: WAIT_S } });
  const fresh = items.filter((item) => !s.seenKeys.has(JSON.stringify(item.key)));
  for (const item of fresh) s.seenKeys.add(JSON.stringify(item.key));
  // Only ones we took already (their deletion is on its way): do not ask again at once.
  if (items.length && !fresh.length) await sleep(RETRY_MS / 10);
  if (pc.remoteDescription) {
    await applyCandidates(s, pc, fresh);
  } else {
    s.pendingCandidates.push(...fresh);
    // Held back until the remote description (which applies them): wait for it rather
    // than read them again.
    await s.described;
  }
  return true;
}

async function applyPendingCandidates(s, pc) {
  await applyCandidates(s, pc, s.pendingCandidates.splice(0));
}

async function applyCandidates(s, pc, items) {
  for (const item of items) {
    if (!isCurrent(s, pc)) return;
    try {
      await pc.addIceCandidate(item.payload);
    } catch (err) {
      // A stale candidate (from an earlier connection) does not fit: drop it all the same.
      console.warn("ignored a candidate:", err.message);
    }
  }
  // Deleted before the next read, or that read would return them at once.
  for (let i = 0; i < items.length && isCurrent(s, pc); i += BATCH) {
    const keys = items.slice(i, i + BATCH).map((item) => item.key);
    await call(s, "DELETE", "/signal", { body: { keys } });
  }
}

function onConnectionState(s, pc) {
  if (!isCurrent(s, pc)) return;
  const state = pc.connectionState;
  if (state === "connected") {
    checkConnected(s, pc);
  } else if (state === "disconnected" && s.connected) {
    setStatus("connecting", "Connection interrupted: trying to reconnect…");
  } else if (state === "failed" || state === "closed") {
    if (s.everConnected) peerLeft(s);
    else fail(s, new Error("no network path to the other person (a TURN relay may help)"));
  }
}

function checkConnected(s, pc) {
  // Connected means media can flow and the chat channel is open.
  if (!isCurrent(s, pc) || pc.connectionState !== "connected") return;
  if (!s.dc || s.dc.readyState !== "open") return;
  s.connected = true;
  s.everConnected = true;
  s.connectedAt = performance.now();
  setStatus("connected");
  renderControls();
  if (!s.statsTimer) {
    s.statsTimer = setInterval(() => updateStats(s), STATS_MS);
    s.timers.push(s.statsTimer);
    updateStats(s);
  }
}

function startHeartbeat(s) {
  // GET /room every few seconds keeps our place; the count of live peers tells us when the
  // other person is gone (tab closed, network lost) even if the connection has not noticed.
  const timer = setInterval(async () => {
    if (!isCurrent(s)) return;
    const sentAt = performance.now();
    let presence;
    try {
      presence = await call(s, "GET", "/room");
    } catch (err) {
      if (!isCurrent(s)) return;
      if (err.code === "room_full") await fail(s, err, "full");
      else console.warn("heartbeat failed:", err.message);
      return;
    }
    if (!isCurrent(s) || presence.peers >= 2) return;
    // Only a count taken after the other person arrived says they went away.
    if (s.connected && sentAt > s.connectedAt) {
      peerLeft(s);
    } else if (s.pc && s.partnerAt && sentAt > s.partnerAt && !s.everConnected) {
      const text = "The other person went away before the call connected. Waiting again…";
      renegotiate(s, s.pc, "waiting", text);
    }
  }, HEARTBEAT_MS);
  s.timers.push(timer);
}

async function renegotiate(s, pc, state, text) {
  // The other person vanished before the call connected: leave (taking what we sent along)
  // and start over (same session, same camera), as whoever comes first.
  if (!isCurrent(s, pc)) return;
  s.pc = null;
  closeConnection(pc, s.dc);
  clearRemote(s);
  setStatus(state, text);
  try {
    await call(s, "DELETE", "/room");
    if (!isCurrent(s)) return;
    await join(s);
  } catch (err) {
    await fail(s, err);
    return;
  }
  if (isCurrent(s)) await negotiate(s);
}

// -- ending a call -------------------------------------------------------------------------

async function hangUp() {
  // Hang Up: say bye, close, release camera and microphone, clear the room's signaling.
  const s = session;
  const text = "Call ended. Click Start Session to call again.";
  if (s) await stop(s, { sayBye: true, state: "idle", text });
}

async function peerLeft(s) {
  if (isCurrent(s)) await stop(s, { sayBye: false, state: "left" });
}

async function fail(s, err, state = null) {
  // Show why, and end the session so Start Session works again.
  if (!isCurrent(s)) return;
  if (state === "full" || (err instanceof ApiError && err.code === "room_full")) {
    // Refused: we hold no place in the room, and must not clear the call going on there.
    await stop(s, { sayBye: false, release: false, state: "full" });
  } else {
    const reason = (err && err.message) || String(err);
    await stop(s, { sayBye: true, state: "error", text: "Error: " + reason });
  }
}

async function stop(s, { sayBye, release = true, state, text }) {
  // End the session now and say so; free our place in the room before Start Session is
  // enabled again, so a new call cannot race with this clean-up. Hanging up clears the
  // room's signals; the one who stays after the other left removes only its own.
  if (session !== s) return;
  session = null;
  stopping = true;
  for (const timer of s.timers) clearInterval(timer);
  if (sayBye && s.dc && s.dc.readyState === "open") {
    try {
      s.dc.send(JSON.stringify({ type: "bye" }));
    } catch (err) {
      // The channel closed in between: the other side notices the close instead.
    }
  }
  closeConnection(s.pc, s.dc);
  s.pc = null;
  stopTracks(s.localStream);
  ui.localVideo.srcObject = null;
  clearRemote(s);
  resetStats();
  setStatus(state, text);
  renderControls();
  if (release && s.token) {
    const path = state === "left" ? "/room" : "/signal";
    try {
      await api("DELETE", path, { query: { room, peer: s.peer }, token: s.token });
    } catch (err) {
      console.warn("could not leave the room:", err.message);
    }
  }
  stopping = false;
  renderControls();
}

function closeConnection(pc, dc) {
  if (dc) dc.close();
  if (pc) pc.close();
}

function stopTracks(stream) {
  if (stream) for (const track of stream.getTracks()) track.stop();
}

function clearRemote(s) {
  s.remoteStream = null;
  ui.remoteVideo.srcObject = null;
  ui.remoteNote.hidden = false;
}

function leavePage() {
  // Tab closed or reloaded mid-call: free our place at once (keepalive outlives the page).
  const s = session;
  if (!s) return;
  session = null;
  if (s.dc && s.dc.readyState === "open") {
    try {
      s.dc.send(JSON.stringify({ type: "bye" }));
    } catch (err) {
      // Nothing more to do while the page goes away.
    }
  }
  if (s.token) {
    const url = apiUrl("/signal", { room, peer: s.peer });
    fetch(url, apiInit("DELETE", { keepalive: true, token: s.token })).catch(() => {});
  }
  closeConnection(s.pc, s.dc);
  stopTracks(s.localStream);
}

// -- microphone and camera -----------------------------------------------------------------

function toggleMute() {
  const track = session && session.localStream && session.localStream.getAudioTracks()[0];
  if (track) track.enabled = !track.enabled;
  renderControls();
}

function toggleCamera() {
  const track = session && session.localStream && session.localStream.getVideoTracks()[0];
  if (track) track.enabled = !track.enabled;
  renderControls();
}

// -- connection panel ----------------------------------------------------------------------

function resetStats() {
  for (const id of ["statRoute", "statRtt", "statIn", "statOut"]) ui[id].textContent = "–";
}

async function updateStats(s) {
  // getStats: the selected candidate pair says direct or relayed, its round-trip time, and
  // the bytes that crossed it since the last sample give the bitrates.
  const pc = s.pc;
  if (!isCurrent(s, pc)) return;
  let report;
  try {
    report = await pc.getStats();
  } catch (err) {
    return;
  }
  if (!isCurrent(s, pc)) return;
  let pair = null;
  report.forEach((entry) => {
    if (entry.type === "transport" && entry.selectedCandidatePairId) {
      pair = report.get(entry.selectedCandidatePairId) || pair;
    }
  });
  if (!pair) {
    report.forEach((entry) => {
      const usable = entry.type === "candidate-pair" && entry.nominated;
      if (usable && entry.state === "succeeded") pair = entry;
    });
  }
  if (!pair) return;
  const local = report.get(pair.localCandidateId) || {};
  const remote = report.get(pair.remoteCandidateId) || {};
  const relayed = local.candidateType === "relay" || remote.candidateType === "relay";
  const protocol = local.relayProtocol || local.protocol || "";
  const route = relayed ? "relayed (TURN)" : "direct";
  ui.statRoute.textContent = protocol ? `${route}, ${protocol.toUpperCase()}` : route;
  const rtt = pair.currentRoundTripTime;
  ui.statRtt.textContent = typeof rtt === "number" ? Math.round(rtt * 1000) + " ms" : "–";
  const previous = s.lastPair;
  s.lastPair = {
    timestamp: pair.timestamp,
    received: pair.bytesReceived || 0,
    sent: pair.bytesSent || 0,
  };
  if (previous && pair.timestamp > previous.timestamp) {
    const seconds = (pair.timestamp - previous.timestamp) / 1000;
    ui.statIn.textContent = formatBitrate((s.lastPair.received - previous.received) * 8 / seconds);
    ui.statOut.textContent = formatBitrate((s.lastPair.sent - previous.sent) * 8 / seconds);
  }
}

function formatBitrate(bitsPerSecond) {
  if (bitsPerSecond >= 1e6) return (bitsPerSecond / 1e6).toFixed(1) + " Mbit/s";
  return Math.round(bitsPerSecond / 1e3) + " kbit/s";
}

// -- room link -----------------------------------------------------------------------------

async function copyLink() {
  const link = roomUrl();
  try {
    await navigator.clipboard.writeText(link);
    showCopyFeedback("Link copied.");
  } catch (err) {
    // No clipboard API (insecure page, permission): select the link for Ctrl+C instead.
    ui.roomLink.focus();
    ui.roomLink.select();
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (ignored) {
      copied = false;
    }
    showCopyFeedback(copied ? "Link copied." : "Link selected: press Ctrl+C (⌘C) to copy it.");
  }
}

function showCopyFeedback(text) {
  ui.copyFeedback.textContent = text;
  clearTimeout(showCopyFeedback.timer);
  showCopyFeedback.timer = setTimeout(() => {
    ui.copyFeedback.textContent = "";
  }, 4000);
}

function newRoom() {
  // A random, unguessable room name; the address bar follows so the link can be shared.
  if (session || stopping) return;
  room = randomId(ROOM_ID_LENGTH);
  roomIsValid = true;
  history.replaceState(null, "", roomUrl());
  showRoom();
  setStatus("idle", "New room: copy the link, send it to the other person, then Start Session.");
  renderControls();
}

// -- page setup ----------------------------------------------------------------------------

function init() {
  for (const id of [
    "status", "mediaMessage", "roomName", "roomLink", "copyLinkButton", "newRoomButton",
    "copyFeedback", "remoteVideo", "remoteNote", "localVideo", "localFigure", "localCaption",
    "startButton", "hangUpButton", "muteButton", "cameraButton", "chatLog", "chatForm",
    "messageInput", "sendButton", "statRoute", "statRtt", "statIn", "statOut",
  ]) {
    ui[id] = $(id);
  }
  const requested = readRoom();
  room = requested.name;
  roomIsValid = requested.valid;
  showRoom();
  ui.startButton.addEventListener("click", start);
  ui.hangUpButton.addEventListener("click", hangUp);
  ui.muteButton.addEventListener("click", toggleMute);
  ui.cameraButton.addEventListener("click", toggleCamera);
  ui.chatForm.addEventListener("submit", sendChat);
  ui.copyLinkButton.addEventListener("click", copyLink);
  ui.newRoomButton.addEventListener("click", newRoom);
  ui.roomLink.addEventListener("focus", () => ui.roomLink.select());
  window.addEventListener("pagehide", leavePage);
  window.addEventListener("pageshow", (event) => {
    // Back from the back/forward cache: the call ended when the page was hidden.
    if (event.persisted) {
      setStatus("idle");
      renderControls();
    }
  });
  if (roomIsValid) setStatus("idle");
  else setStatus("error", "Error: this link's room name is not valid. Click New room to make one.");
  renderControls();
}

init();
