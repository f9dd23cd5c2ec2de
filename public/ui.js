// The page's DOM: the status, the buttons, the two video tiles and the chat. No signaling
// and no RTCPeerConnection here: main.js decides, this module draws.
import { coverText, initial } from "./partner.js";

// One voice: Join and Leave, and each state says one thing.
export const STATUS_TEXT = {
  idle: "Ready to join?",
  connecting: "Joining…",
  waiting: "Waiting for the other person to join…",
  connected: "Connected",
  left: "The other person left the call.",
  lost: "The connection could not be restored.",
  full: "This room is full: two people are already in a call here.",
};
const IDS = [
  "status", "mediaMessage", "roomName", "roomLink", "copyLinkButton", "newRoomButton",
  "copyFeedback", "remoteVideo", "remoteNote", "remoteNoteText", "inviteRow",
  "inviteCopyButton", "localVideo", "localFigure", "localCaption", "localCoverText",
  "startButton", "hangUpButton", "muteButton", "cameraButton", "flipButton", "shareButton",
  "chatButton", "settingsButton", "unreadBadge", "chatLog", "chatForm", "messageInput",
  "sendButton", "statRoute", "statRtt", "statIn", "statOut", "waiting", "stage", "remoteTile",
  "remoteCover", "remoteAvatar", "remoteCoverText", "remoteLabel", "remoteMuted", "remoteName",
  "remoteSharing", "pipButton", "fullscreenButton", "callTimer", "lobby", "roomForm",
  "roomInput", "roomError", "settingsPanel", "settingsCloseButton", "chatPanel",
  "chatCloseButton", "nameInput", "cameraSelect", "micSelect", "speakerSelect",
  "speakerLabel", "soundCheck", "controls",
];

export const ui = {};

export function findElements() {
  for (const id of IDS) ui[id] = document.getElementById(id);
}

export function setStatus(state, text) {
  // data-state is for tests and styling; the text is for people.
  ui.status.dataset.state = state;
  document.body.dataset.state = state;
  ui.status.textContent = text || STATUS_TEXT[state] || state;
}

export function showMediaMessage(text) {
  ui.mediaMessage.textContent = text || "";
  ui.mediaMessage.hidden = !text;
}

function label(button, text, icon) {
  // A control's words (its accessible name) and icon.
  button.querySelector("span").textContent = text;
  if (icon) button.querySelector("use").setAttribute("href", icon);
}

export function renderControls({
  inCall,
  connected = false,
  chatOpen = false,
  roomIsValid = true,
  stream,
  mediaAvailable = true,
  sharing = "off",
  shareSupported = true,
  flippable = false,
  facing = null,
}) {
  // Only the controls that apply now are shown: Join before a call, Leave in one.
  const audio = stream ? stream.getAudioTracks()[0] : null;
  const video = stream ? stream.getVideoTracks()[0] : null;
  ui.startButton.hidden = inCall;
  ui.startButton.disabled = inCall || !roomIsValid;
  ui.hangUpButton.hidden = !inCall;
  ui.hangUpButton.disabled = !inCall;
  ui.newRoomButton.disabled = inCall;
  const muted = !audio || !audio.enabled;
  ui.muteButton.hidden = !mediaAvailable || (!inCall && !audio);
  label(ui.muteButton, muted ? "Unmute" : "Mute", muted ? "#i-mic-off" : "#i-mic");
  ui.muteButton.dataset.off = String(muted);
  const cameraOff = !video || !video.enabled;
  ui.cameraButton.hidden = !mediaAvailable;
  ui.cameraButton.disabled = sharing === "on";
  label(ui.cameraButton, cameraOff ? "Camera on" : "Camera off", cameraOff ? "#i-cam-off" : "#i-cam");
  ui.cameraButton.dataset.off = String(cameraOff);
  ui.flipButton.hidden = !flippable || sharing === "on";
  ui.shareButton.hidden = !inCall || !shareSupported || (!connected && sharing === "off");
  ui.shareButton.disabled = sharing === "asking";
  label(ui.shareButton, sharing === "on" ? "Stop sharing" : "Share screen");
  ui.shareButton.setAttribute("aria-pressed", String(sharing === "on"));
  ui.chatButton.hidden = !inCall;
  ui.settingsButton.hidden = !inCall;
  const camera = !video ? "none" : video.enabled ? "on" : "off";
  ui.localFigure.dataset.camera = camera;
  ui.localFigure.dataset.sharing = sharing === "on" ? "on" : "off";
  ui.localFigure.dataset.facing = facing || "user"; // a mirror, except for a back camera
  // Before a call with no preview, the camera is just off (asked for again on Join).
  ui.localCoverText.textContent = camera === "none" && (inCall || stream) ? "No camera" : "Camera off";
  ui.localCaption.textContent = sharing === "on" ? "You (sharing your screen)" : "You";
  ui.messageInput.disabled = !chatOpen;
  ui.sendButton.disabled = !chatOpen;
  ui.cameraSelect.disabled = sharing === "on";
}

export function showWaiting(count) {
  // Who is in the room before we join: nothing when nobody is (or when it is not known).
  let text = "";
  if (count === 1) text = "Someone is waiting for you in this room.";
  else if (count > 1) text = "Two people are already in a call here.";
  if (ui.waiting.textContent !== text) ui.waiting.textContent = text;
  ui.waiting.dataset.count = String(count || 0);
  ui.waiting.hidden = !text;
}

export function showLocal(stream) {
  if (ui.localVideo.srcObject !== stream) ui.localVideo.srcObject = stream;
}

export function showRemote(stream) {
  // A track the other person added in the call (a camera turned on, a screen) joins the same
  // stream: the element is given it again so that it plays the new track too.
  const video = ui.remoteVideo;
  const tracks = stream ? stream.getTracks().map((t) => t.id).join() : "";
  if (video.srcObject === stream && video.dataset.tracks === tracks) return;
  video.srcObject = null;
  video.srcObject = stream;
  video.dataset.tracks = tracks;
  if (stream) video.play().catch(() => {});
}

export function renderRemote({ state, stream, partner, link, connected = false }) {
  // The other person's tile: their video; their name and signs (muted, sharing); a cover that
  // says "camera off" or "no camera" instead of a black picture; before they come, what we
  // are waiting for, with the link to send them.
  // Someone is there: their media came, or the call connected (they may send none).
  const live = Boolean(stream) || (connected && state !== "waiting");
  ui.remoteNote.hidden = live;
  ui.remoteNoteText.textContent =
    state === "waiting"
      ? "Waiting for the other person. Send them the link to this room:"
      : "The other person's video appears here.";
  ui.inviteRow.hidden = state !== "waiting";
  ui.inviteRow.dataset.link = link || "";
  const noVideo = live && (!stream || stream.getVideoTracks().length === 0);
  const shown = partner || (noVideo ? { camera: "none", name: "", muted: false } : null);
  const cover = live ? coverText(shown) : "";
  ui.remoteCover.hidden = !cover;
  ui.remoteCoverText.textContent = cover;
  ui.remoteAvatar.textContent = initial(shown && shown.name);
  ui.remoteTile.dataset.camera = shown ? shown.camera : "unknown";
  ui.remoteTile.dataset.sharing = String(Boolean(shown && shown.sharing));
  const signs = live && partner && (partner.name || partner.muted || partner.sharing);
  ui.remoteLabel.hidden = !signs;
  ui.remoteName.textContent = (partner && partner.name) || "";
  ui.remoteMuted.hidden = !(partner && partner.muted);
  ui.remoteSharing.hidden = !(partner && partner.sharing);
}

export function appendChat(who, text, name = "") {
  // textContent only: a message is shown exactly as it came, never parsed as HTML.
  const item = document.createElement("li");
  item.className = who === "me" ? "from-me" : "from-them";
  const sender = document.createElement("span");
  sender.className = "who";
  sender.textContent = who === "me" ? "You" : name || "Them";
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(sender, body);
  ui.chatLog.append(item);
  ui.chatLog.scrollTop = ui.chatLog.scrollHeight;
}

export function clearChat() {
  ui.chatLog.replaceChildren();
}

export function showCopyFeedback(text) {
  ui.copyFeedback.textContent = text;
  clearTimeout(showCopyFeedback.timer);
  showCopyFeedback.timer = setTimeout(() => {
    ui.copyFeedback.textContent = "";
  }, 4000);
}
