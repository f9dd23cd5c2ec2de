// The page's DOM: what it shows of the room, the call, the chat and the connection. No
// signaling and no RTCPeerConnection here: main.js decides, this module draws.

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
const IDS = [
  "status", "mediaMessage", "roomName", "roomLink", "copyLinkButton", "newRoomButton",
  "copyFeedback", "remoteVideo", "remoteNote", "localVideo", "localFigure", "localCaption",
  "startButton", "hangUpButton", "muteButton", "cameraButton", "chatLog", "chatForm",
  "messageInput", "sendButton", "statRoute", "statRtt", "statIn", "statOut", "shareButton",
  "waiting",
];

export const ui = {};

export function findElements() {
  for (const id of IDS) ui[id] = document.getElementById(id);
}

export function setStatus(state, text) {
  // data-state is for tests and styling; the text is for people.
  ui.status.dataset.state = state;
  ui.status.textContent = text || STATUS_TEXT[state] || state;
}

export function showMediaMessage(text) {
  ui.mediaMessage.textContent = text || "";
  ui.mediaMessage.hidden = !text;
}

export function renderControls({
  inCall,
  chatOpen,
  roomIsValid,
  stream,
  sharing = "off",
  canShare = false,
  shareSupported = true,
}) {
  // `sharing`: "off", "asking" (the browser's picker is open) or "on" (our screen is sent
  // instead of the camera). `canShare`: connected, with a camera whose place it can take.
  const audio = stream ? stream.getAudioTracks()[0] : null;
  const video = stream ? stream.getVideoTracks()[0] : null;
  ui.startButton.disabled = inCall || !roomIsValid;
  ui.hangUpButton.disabled = !inCall;
  ui.newRoomButton.disabled = inCall;
  ui.muteButton.disabled = !audio;
  ui.muteButton.textContent = audio && !audio.enabled ? "Unmute" : "Mute";
  ui.cameraButton.disabled = !video || sharing === "on";
  ui.cameraButton.textContent = video && !video.enabled ? "Camera on" : "Camera off";
  ui.shareButton.hidden = !shareSupported;
  ui.shareButton.disabled = sharing === "asking" || (sharing === "off" && !canShare);
  ui.shareButton.textContent = sharing === "on" ? "Stop sharing" : "Share screen";
  ui.shareButton.setAttribute("aria-pressed", String(sharing === "on"));
  ui.localFigure.dataset.camera = !inCall ? "idle" : !video ? "none" : video.enabled ? "on" : "off";
  ui.localFigure.dataset.sharing = sharing === "on" ? "on" : "off";
  ui.localCaption.textContent =
    sharing === "on"
      ? "You (sharing your screen)"
      : !video
        ? "You (no camera)"
        : video.enabled
          ? "You"
          : "You (camera off)";
  ui.messageInput.disabled = !chatOpen;
  ui.sendButton.disabled = !chatOpen;
}

export function showWaiting(count) {
  // Who is in the room before we join: nothing when nobody is (or when it is not known).
  let text = "";
  if (count === 1) text = "1 person is waiting in this room.";
  else if (count > 1) text = `${count} people are in a call here.`;
  if (ui.waiting.textContent !== text) ui.waiting.textContent = text;
  ui.waiting.hidden = !text;
}

export function showRoom(room, link) {
  ui.roomName.textContent = room;
  ui.roomLink.value = link;
  document.title = "Video chat: " + room;
}

export function showLocal(stream) {
  ui.localVideo.srcObject = stream;
}

export function showRemote(stream) {
  ui.remoteVideo.srcObject = stream;
  ui.remoteNote.hidden = Boolean(stream);
  if (stream) ui.remoteVideo.play().catch(() => {});
}

export function appendChat(who, text) {
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

export function clearChat() {
  ui.chatLog.replaceChildren();
}

export function mediaErrorText(err) {
  const name = err && err.name;
  let reason;
  let fix =
    " To fix it, allow camera and microphone for this site in the browser, then start again.";
  if (name === "InsecureContextError") {
    // An http:// address other than localhost: browsers keep cameras to secure pages.
    reason =
      "Browsers give camera and microphone only to secure pages, and this one was opened" +
      " over plain http://.";
    fix =
      " To fix it, open it over https: run `make lan` on the server, then open the" +
      " https:// address it prints and accept the browser's warning about its certificate.";
  } else if (name === "NotAllowedError" || name === "SecurityError") {
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
    " not see or hear you." +
    fix
  );
}

// -- connection panel ------------------------------------------------------------------------

export function resetStats() {
  for (const id of ["statRoute", "statRtt", "statIn", "statOut"]) ui[id].textContent = "–";
}

export function showStats(report, previous) {
  // From a getStats() report: the selected candidate pair says direct or relayed and its
  // round-trip time; the bytes that crossed it since `previous` give the bitrates. Returns
  // this sample, for the next call.
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
  if (!pair) return previous;
  const local = report.get(pair.localCandidateId) || {};
  const remote = report.get(pair.remoteCandidateId) || {};
  const relayed = local.candidateType === "relay" || remote.candidateType === "relay";
  const protocol = local.relayProtocol || local.protocol || "";
  const route = relayed ? "relayed (TURN)" : "direct";
  ui.statRoute.textContent = protocol ? `${route}, ${protocol.toUpperCase()}` : route;
  const rtt = pair.currentRoundTripTime;
  ui.statRtt.textContent = typeof rtt === "number" ? Math.round(rtt * 1000) + " ms" : "–";
  const sample = {
    timestamp: pair.timestamp,
    received: pair.bytesReceived || 0,
    sent: pair.bytesSent || 0,
  };
  if (previous && sample.timestamp > previous.timestamp) {
    const seconds = (sample.timestamp - previous.timestamp) / 1000;
    ui.statIn.textContent = formatBitrate(((sample.received - previous.received) * 8) / seconds);
    ui.statOut.textContent = formatBitrate(((sample.sent - previous.sent) * 8) / seconds);
  }
  return sample;
}

function formatBitrate(bitsPerSecond) {
  if (bitsPerSecond >= 1e6) return (bitsPerSecond / 1e6).toFixed(1) + " Mbit/s";
  return Math.round(bitsPerSecond / 1e3) + " kbit/s";
}

export function showCopyFeedback(text) {
  ui.copyFeedback.textContent = text;
  clearTimeout(showCopyFeedback.timer);
  showCopyFeedback.timer = setTimeout(() => {
    ui.copyFeedback.textContent = "";
  }, 4000);
}
