// The page: a two-person video call with chat. The server only relays signals
// (docs/protocol.md); signaling.js speaks to it, call.js runs the RTCPeerConnection. The
// modules beside this one each draw or keep one thing (ui.js, view.js, media.js, sharing.js,
// room.js, settings.js, partner.js, title.js, sound.js); this one wires them together.
import { Call } from "./call.js";
import { facingOf, mediaAvailable } from "./devices.js";
import { LocalMedia } from "./media.js";
import { readState, stateEnvelope } from "./partner.js";
import { copyLink, readRoom, roomUrl, RoomWatch, showRoom, showRoomError } from "./room.js";
import { newRoomName, normalizeRoom, ROOM_RULE } from "./rooms.js";
import { displayName, showDevices, wireSettings } from "./settings.js";
import { ScreenShare } from "./sharing.js";
import { SignalingClient } from "./signaling.js";
import { chime, chimes, unlockSound } from "./sound.js";
import { resetStats, showStats } from "./stats.js";
import { showTitle } from "./title.js";
import {
  appendChat,
  clearChat,
  findElements,
  renderControls,
  renderRemote,
  setStatus,
  showLocal,
  showMediaMessage,
  showRemote,
  showWaiting,
  ui,
} from "./ui.js";
import { CallView } from "./view.js";

const STATS_MS = 1000;
// While reconnecting, the time it has taken is shown to the second.
const RECONNECTING_TICK_MS = 1000;
// A reloaded tab finds here the call it was in (room, peer id and token), and resumes it.
const RESUME_KEY = "videoChat.resume";
const END_TEXT = {
  hangup: "You left the call.",
  left: null,
  full: null,
  lost: null,
};

// The room this page is for, and the call in progress (null when none). `leaving` settles
// once the last call gave its place back: a new call's first request goes after it.
let room = "";
let roomIsValid = true;
let call = null;
let leaving = Promise.resolve();
// What the other person last said of themselves (null: nothing yet), and what we last told
// them (so a change is sent once).
let partner = null;
let toldPartner = "";
const getCall = () => call;
const media = new LocalMedia({ getCall, changed: render, message: showMediaMessage });
const sharing = new ScreenShare({ getCall, changed: render, message: showMediaMessage });
const view = new CallView({ changed: drawTitle });
const roomWatch = new RoomWatch(showWaiting);

function render() {
  // Everything that follows from the call's state and our media, drawn again.
  const stream = media.stream;
  showLocal(sharing.state === "on" ? sharing.stream : stream);
  renderControls({
    inCall: Boolean(call),
    connected: Boolean(call && call.connected),
    chatOpen: Boolean(call && call.dc && call.dc.readyState === "open"),
    roomIsValid,
    stream,
    mediaAvailable: mediaAvailable(),
    sharing: sharing.state,
    shareSupported: ScreenShare.supported,
    flippable: media.flippable,
    facing: facingOf(media.track("video")),
  });
  renderRemote({
    state: ui.status.dataset.state,
    stream: call ? ui.remoteVideo.srcObject : null,
    partner,
    link: roomUrl(room),
    connected: Boolean(call && call.everConnected),
  });
  tellPartner();
  drawTitle();
}

function tellPartner(force = false) {
  // Our state to the other person, when it changed (or the channel is new).
  if (!call) return;
  const envelope = stateEnvelope({
    stream: call.localStream,
    sharing: sharing.state === "on",
    name: displayName(),
  });
  const text = JSON.stringify(envelope);
  if ((force || text !== toldPartner) && call.sendMessage(envelope)) toldPartner = text;
}

function drawTitle() {
  showTitle({ state: call || ui.status.dataset.state !== "idle" ? ui.status.dataset.state : "", unread: view.unread, room });
}

// -- a call ----------------------------------------------------------------------------------

async function start(resume = null) {
  // `resume`: the peer id and token of the call this tab was in before a reload.
  if (call || !roomIsValid) return;
  if (!resume) unlockSound();
  const signaling = new SignalingClient(location.href, room, resume || {});
  const current = new Call(signaling, { getMedia: () => media.forCall() });
  call = current;
  partner = null;
  toldPartner = "";
  roomWatch.stop();
  clearChat();
  showMediaMessage("");
  showRoomError("");
  resetStats();
  watch(current);
  view.setMode("call");
  render();
  await leaving; // usually long done: the DELETE takes a few milliseconds
  if (call === current) await current.start();
}

function watch(current) {
  // What the call says, shown while it is the page's call.
  const on = (type, handler) =>
    current.addEventListener(type, (event) => {
      if (call === current) handler(event.detail);
    });
  let statsTimer = null;
  let reconnectingTimer = null;
  let waited = false; // the call waited for the other person: their coming chimes
  on("status", ({ state, text, since }) => {
    clearInterval(reconnectingTimer);
    if (state === "reconnecting") {
      const show = () => setStatus(state, reconnectingText(since));
      reconnectingTimer = setInterval(show, RECONNECTING_TICK_MS);
      show();
    } else {
      // "connecting" is ours to word; waiting again says why.
      setStatus(state, state === "connecting" ? null : text);
    }
    if (state === "connected") {
      if (waited) chime();
      waited = false;
      view.startTimer();
      if (!statsTimer) {
        statsTimer = setInterval(() => updateStats(current), STATS_MS);
        updateStats(current);
      }
    } else if (state === "waiting") {
      waited = true;
      view.stopTimer();
      partner = null;
    }
    render();
  });
  on("media", render);
  on("remote", ({ stream }) => {
    showRemote(stream);
    render();
  });
  on("channel", ({ open }) => {
    if (open) tellPartner(true);
    render();
  });
  on("chat", ({ text }) => {
    appendChat("them", text, partner && partner.name);
    view.received();
  });
  on("message", ({ message }) => {
    if (message.type !== "state") return;
    partner = readState(message);
    render();
  });
  on("end", ({ reason, error }) => {
    clearInterval(statsTimer);
    clearInterval(reconnectingTimer);
    call = null;
    partner = null;
    sharing.end();
    leaving = current.left;
    showRemote(null);
    resetStats();
    if (reason === "error") setStatus("error", "Could not connect: " + ((error && error.message) || error) + ".");
    else setStatus(reason === "hangup" ? "idle" : reason, END_TEXT[reason]);
    view.setMode("lobby");
    render();
    watchRoom();
  });
}

function reconnectingText(since) {
  const seconds = Math.floor((Date.now() - since) / 1000);
  return `Reconnecting… ${seconds} s`;
}

function hangUp() {
  if (call) call.hangUp();
}

function leavePage(event) {
  // A page kept for the back button has left the call: hang up. Otherwise the tab may be
  // reloading: keep our place and say nothing to the other person; the reloaded page
  // resumes the call from what is saved here. A tab that was closed instead loses its
  // place within the server's peer timeout, and the other person waits in the room.
  if (!call) return;
  if (event.persisted || !call.signaling.token) {
    hangUp();
    return;
  }
  const { peer, token } = call.signaling;
  sessionStorage.setItem(RESUME_KEY, JSON.stringify({ room, peer, token }));
  call.suspend();
}

function takeResume() {
  // The call this tab was in before a reload, if it was in this room; read once.
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(RESUME_KEY));
  } catch (err) {
    saved = null;
  }
  sessionStorage.removeItem(RESUME_KEY);
  if (!saved || saved.room !== room) return null;
  return { peer: saved.peer, token: saved.token };
}

async function updateStats(current) {
  const pc = current.pc;
  if (call !== current || !pc) return;
  let report;
  try {
    report = await pc.getStats();
  } catch (err) {
    return;
  }
  if (call === current && current.pc === pc) current.lastSample = showStats(report, current.lastSample);
}

function sendChat(event) {
  event.preventDefault();
  const text = ui.messageInput.value;
  if (!call || text.trim() === "" || !call.send(text)) return;
  appendChat("me", text);
  ui.messageInput.value = "";
  ui.messageInput.focus();
}

// -- the room --------------------------------------------------------------------------------

function setRoom(name, { fresh = false } = {}) {
  // Another room (typed, or new): the link and the address bar follow it.
  if (call) return;
  room = name;
  roomIsValid = true;
  showRoom(room, true);
  showRoomError("");
  if (ui.status.dataset.state === "error" || fresh) setStatus("idle");
  render();
  watchRoom();
}

function openTypedRoom(event) {
  event.preventDefault();
  const name = normalizeRoom(ui.roomInput.value);
  if (name === null) {
    showRoomError(ROOM_RULE + ".");
    return;
  }
  setRoom(name);
}

function watchRoom() {
  if (!roomIsValid) {
    roomWatch.stop();
    return;
  }
  roomWatch.run(room, { before: leaving, inCall: () => Boolean(call) });
}

// -- page setup ------------------------------------------------------------------------------

function wire() {
  ui.startButton.addEventListener("click", () => start());
  ui.hangUpButton.addEventListener("click", hangUp);
  ui.muteButton.addEventListener("click", () => media.toggle("audio"));
  ui.cameraButton.addEventListener("click", () => media.toggle("video"));
  ui.flipButton.addEventListener("click", () => media.flip());
  ui.shareButton.addEventListener("click", () => sharing.toggle());
  ui.chatForm.addEventListener("submit", sendChat);
  ui.copyLinkButton.addEventListener("click", () => copyLink(room));
  ui.inviteCopyButton.addEventListener("click", () => copyLink(room, ui.inviteCopyButton));
  ui.newRoomButton.addEventListener("click", () => setRoom(newRoomName(), { fresh: true }));
  ui.roomForm.addEventListener("submit", openTypedRoom);
  view.wire();
  wireSettings({ media, nameChanged: () => render() });
  window.addEventListener("pagehide", leavePage);
  window.addEventListener("online", () => {
    if (call) call.networkChanged();
  });
  window.addEventListener("pageshow", (event) => {
    // Back from the back/forward cache: the call ended when the page was hidden.
    if (event.persisted) {
      setStatus("idle");
      render();
      watchRoom();
    }
  });
  document.addEventListener("visibilitychange", () => {
    // Back to the tab: tell who is in the room now rather than at the next turn.
    if (!document.hidden && !call) watchRoom();
  });
}

function init() {
  findElements();
  const requested = readRoom();
  room = requested.name;
  roomIsValid = requested.valid;
  showRoom(room, roomIsValid);
  wire();
  view.setMode("lobby");
  if (roomIsValid) {
    setStatus("idle");
  } else {
    setStatus("error", "This link's room name is not valid: type another one, or make a new room.");
    showRoomError(ROOM_RULE + ".");
  }
  render();
  showDevices(media);
  const resume = roomIsValid ? takeResume() : null;
  if (resume) {
    start(resume);
  } else {
    watchRoom();
    media.startPreview().then(() => showDevices(media));
  }
  // The call in progress, for the browser's console (and the browser tests).
  window.videoChat = {
    get call() {
      return call;
    },
    get partner() {
      return partner;
    },
    chimes,
  };
}

init();
