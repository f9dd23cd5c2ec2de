// The page: a two-person video call with chat. The server only relays signals
// (docs/protocol.md); signaling.js speaks to it, call.js runs the RTCPeerConnection, ui.js
// draws. This module wires them to the buttons.
import { Call } from "./call.js";
import {
  DEFAULT_ROOM,
  NAME_PATTERN,
  prefetchRtcConfiguration,
  randomId,
  SignalingClient,
  sleep,
} from "./signaling.js";
import {
  appendChat,
  clearChat,
  findElements,
  mediaErrorText,
  renderControls,
  resetStats,
  setStatus,
  showCopyFeedback,
  showLocal,
  showMediaMessage,
  showRemote,
  showRoom,
  showStats,
  showWaiting,
  ui,
} from "./ui.js";

const STATS_MS = 1000;
// While reconnecting, the time it has taken is shown to the second.
const RECONNECTING_TICK_MS = 1000;
// A reloaded tab finds here the call it was in (room, peer id and token), and resumes it.
const RESUME_KEY = "videoChat.resume";
// Before a call, how many people are in the room is asked this often.
const WAITING_MS = 3000;
const END_TEXT = {
  hangup: "Call ended. Click Start Session to call again.",
  left: null,
  full: null,
  lost: "The connection could not be restored. Click Start Session to call again.",
};

// The room this page is for, and the call in progress (null when none). `leaving` settles
// once the last call gave its place back: a new call's first request goes after it.
let room = DEFAULT_ROOM;
let roomIsValid = true;
let call = null;
let leaving = Promise.resolve();
// Screen sharing: "off", "asking" (the browser's picker is open) or "on"; `screen` is the
// shared screen's track while it is on.
let sharing = "off";
let screen = null;
// Bumped to stop the loop that asks who is in the room.
let roomWatch = 0;

function render() {
  const stream = call && call.localStream;
  renderControls({
    inCall: Boolean(call),
    chatOpen: Boolean(call && call.dc && call.dc.readyState === "open"),
    roomIsValid,
    stream,
    sharing,
    canShare: Boolean(call && call.connected && stream && stream.getVideoTracks().length),
    shareSupported: Boolean(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia),
  });
}

// -- a call ----------------------------------------------------------------------------------

async function start(resume = null) {
  // `resume`: the peer id and token of the call this tab was in before a reload.
  if (call || !roomIsValid) return;
  const signaling = new SignalingClient(location.href, room, resume || {});
  const current = new Call(signaling, { getMedia: openMedia });
  call = current;
  stopWatchingRoom();
  clearChat();
  showMediaMessage("");
  resetStats();
  watch(current);
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
  on("status", ({ state, text, since }) => {
    clearInterval(reconnectingTimer);
    if (state === "reconnecting") {
      const show = () => setStatus(state, reconnectingText(since));
      reconnectingTimer = setInterval(show, RECONNECTING_TICK_MS);
      show();
    } else {
      setStatus(state, text);
    }
    if (state === "connected" && !statsTimer) {
      statsTimer = setInterval(() => updateStats(current), STATS_MS);
      updateStats(current);
    }
    render();
  });
  on("media", ({ stream }) => {
    showLocal(stream);
    render();
  });
  on("remote", ({ stream }) => showRemote(stream));
  on("channel", render);
  on("chat", ({ text }) => appendChat("them", text));
  on("end", ({ reason, error }) => {
    clearInterval(statsTimer);
    clearInterval(reconnectingTimer);
    call = null;
    endSharing();
    leaving = current.left;
    showLocal(null);
    showRemote(null);
    resetStats();
    if (reason === "error") setStatus("error", "Error: " + ((error && error.message) || error));
    else setStatus(reason === "hangup" ? "idle" : reason, END_TEXT[reason]);
    render();
    watchRoom();
  });
}

async function openMedia() {
  // Camera and microphone if possible; otherwise whichever works; otherwise receive only,
  // saying why.
  const attempts = [{ video: true, audio: true }, { audio: true }, { video: true }];
  let firstError = null;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    firstError = new Error("this browser (or an insecure http:// address) gives no camera access");
    // Opened over http:// from another machine: say how to serve it over https.
    if (!window.isSecureContext) firstError.name = "InsecureContextError";
  } else {
    for (const constraints of attempts) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia(constraints);
        showMediaMessage(missingDeviceText(stream));
        return stream;
      } catch (err) {
        firstError = firstError || err;
        // A refusal applies to every device: asking again only repeats it.
        if (err && (err.name === "NotAllowedError" || err.name === "SecurityError")) break;
      }
    }
  }
  showMediaMessage(mediaErrorText(firstError));
  return null;
}

function missingDeviceText(stream) {
  if (stream.getVideoTracks().length === 0) {
    return "No camera available: the other person will hear you but not see you.";
  }
  if (stream.getAudioTracks().length === 0) {
    return "No microphone available: the other person will see you but not hear you.";
  }
  return "";
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

// -- chat, microphone and camera ---------------------------------------------------------------

function sendChat(event) {
  event.preventDefault();
  const text = ui.messageInput.value;
  if (!call || text.trim() === "" || !call.send(text)) return;
  appendChat("me", text);
  ui.messageInput.value = "";
  ui.messageInput.focus();
}

function toggleTrack(kind) {
  const stream = call && call.localStream;
  const track = stream && (kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks())[0];
  if (track) track.enabled = !track.enabled;
  render();
}

// -- screen sharing --------------------------------------------------------------------------

async function toggleSharing() {
  // Share the screen in the camera's place (the browser asks which screen or window), or
  // stop sharing and send the camera again. The connection stays as it is.
  if (sharing === "on") {
    await stopSharing();
    return;
  }
  const current = call;
  if (sharing !== "off" || !current || !current.connected) return;
  sharing = "asking";
  render();
  let stream = null;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (err) {
    // Cancelled in the browser's picker (NotAllowedError), or no screen to share.
    if (err && err.name !== "NotAllowedError") {
      showMediaMessage("Your screen could not be shared (" + (err.message || err.name) + ").");
    }
  }
  const track = stream && stream.getVideoTracks()[0];
  // Still this call, and still asked for (hanging up meanwhile ends the sharing)?
  const wanted = () => sharing === "asking" && call === current;
  if (!track || !wanted() || !(await current.replaceVideo(track)) || !wanted()) {
    if (stream) stopStream(stream);
    if (sharing === "asking") sharing = "off";
    render();
    return;
  }
  sharing = "on";
  screen = track;
  // "Stop sharing" in the browser's own bar ends the track: send the camera again.
  track.addEventListener("ended", () => {
    if (screen === track) stopSharing();
  });
  showLocal(stream);
  render();
}

async function stopSharing() {
  const current = call;
  const camera = current && current.localStream && current.localStream.getVideoTracks()[0];
  endSharing();
  if (current && camera) {
    await current.replaceVideo(camera);
    if (call === current) showLocal(current.localStream);
  }
  render();
}

function endSharing() {
  // Stop the shared screen's track (the browser's sharing indicator goes away).
  if (screen) screen.stop();
  screen = null;
  sharing = "off";
}

function stopStream(stream) {
  for (const track of stream.getTracks()) track.stop();
}

// -- who is in the room, before a call -----------------------------------------------------

async function watchRoom() {
  // While no call runs: how many people are in the room, asked now and every few seconds
  // (only while the tab is visible). A call, or another room, stops it.
  const mine = ++roomWatch;
  if (!roomIsValid) {
    showWaiting(null);
    return;
  }
  await leaving; // the place of a call that just ended is given back: not someone waiting
  while (mine === roomWatch && !call) {
    if (!document.hidden) {
      // The ICE servers, ready before the click: the call starts without asking for them.
      prefetchRtcConfiguration(location.href).catch(() => {});
      const count = await countWaiting(room);
      if (mine !== roomWatch || call) return;
      showWaiting(count);
    }
    await sleep(WAITING_MS);
  }
}

function stopWatchingRoom() {
  roomWatch += 1;
  showWaiting(null);
}

async function countWaiting(name) {
  // GET /waiting: the number of people in the room; null when the server does not say.
  const url = new URL("/waiting", location.href);
  url.searchParams.set("room", name);
  try {
    const response = await fetch(url);
    if (!response.ok) return null;
    const answer = await response.json();
    return typeof answer.waiting === "number" ? answer.waiting : null;
  } catch (err) {
    return null;
  }
}

// -- the room --------------------------------------------------------------------------------

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

function newRoom() {
  // A random, unguessable room name; the address bar follows so the link can be shared.
  if (call) return;
  room = randomId();
  roomIsValid = true;
  history.replaceState(null, "", roomUrl());
  showRoom(room, roomUrl());
  setStatus("idle", "New room: copy the link, send it to the other person, then Start Session.");
  render();
  stopWatchingRoom();
  watchRoom();
}

// -- page setup ------------------------------------------------------------------------------

function init() {
  findElements();
  const requested = readRoom();
  room = requested.name;
  roomIsValid = requested.valid;
  showRoom(room, roomUrl());
  ui.startButton.addEventListener("click", start);
  ui.hangUpButton.addEventListener("click", hangUp);
  ui.muteButton.addEventListener("click", () => toggleTrack("audio"));
  ui.cameraButton.addEventListener("click", () => toggleTrack("video"));
  ui.shareButton.addEventListener("click", toggleSharing);
  ui.chatForm.addEventListener("submit", sendChat);
  ui.copyLinkButton.addEventListener("click", copyLink);
  ui.newRoomButton.addEventListener("click", newRoom);
  ui.roomLink.addEventListener("focus", () => ui.roomLink.select());
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
  if (roomIsValid) setStatus("idle");
  else setStatus("error", "Error: this link's room name is not valid. Click New room to make one.");
  render();
  const resume = roomIsValid ? takeResume() : null;
  if (resume) start(resume);
  else watchRoom();
  // The call in progress, for the browser's console (and the browser tests).
  window.videoChat = {
    get call() {
      return call;
    },
  };
}

init();
