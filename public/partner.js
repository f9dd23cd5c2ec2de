// Each person's state as the other sees it: muted, camera on, off or none, sharing a screen,
// and the display name they chose. It travels on the chat channel as the "state" envelope
// (docs/protocol.md, "Client behaviour"), sent when the channel opens and on every change.
// No DOM: the page draws what readState returns.

export const NAME_MAX = 40;
const CAMERAS = ["on", "off", "none"];

export function cleanName(raw) {
  // A display name as shown: no control or format characters, spaces folded, at most
  // NAME_MAX characters; "" for none.
  if (typeof raw !== "string") return "";
  const name = raw.replace(/[\p{Cc}\p{Cf}]/gu, "").replace(/\s+/gu, " ").trim();
  return [...name].slice(0, NAME_MAX).join("").trim();
}

export function stateEnvelope({ stream, sharing, name }) {
  // Our state now, as the envelope to send.
  const audio = stream ? stream.getAudioTracks()[0] : null;
  const video = stream ? stream.getVideoTracks()[0] : null;
  return {
    type: "state",
    muted: !(audio && audio.enabled),
    camera: !video ? "none" : video.enabled ? "on" : "off",
    sharing: Boolean(sharing),
    name: cleanName(name),
  };
}

export function readState(message) {
  // The other person's state from their envelope; what is missing or malformed reads as
  // the harmless default (unmuted, camera on, not sharing, no name).
  return {
    muted: message.muted === true,
    camera: CAMERAS.includes(message.camera) ? message.camera : "on",
    sharing: message.sharing === true,
    name: cleanName(message.name),
  };
}

export function coverText(state) {
  // What the remote tile says instead of a black picture; "" when the picture is worth seeing.
  if (!state || state.sharing || state.camera === "on") return "";
  const who = state.name || "The other person";
  return state.camera === "off" ? `${who} · camera off` : `${who} · no camera`;
}

export function initial(name) {
  // The avatar's letter: the name's first letter, or a neutral figure.
  const first = [...cleanName(name)][0];
  return first ? first.toLocaleUpperCase() : "?";
}
