// Cameras, microphones and speakers, with no DOM: opening them with the choice remembered on
// this device, listing them, a new track from a chosen device or the other facing camera, and
// the words for what went wrong.
import { recall, remember } from "./store.js";

const CHOICE_KEY = "videoChat.devices";
// getUserMedia's kind of track, and enumerateDevices' kind of device, for each other.
const DEVICE_KIND = { video: "videoinput", audio: "audioinput", speaker: "audiooutput" };

export function mediaAvailable() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

export function speakerChoiceAvailable() {
  // Only where the browser can send a video element's sound to another output (Chromium).
  return typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
}

export function chosenDevice(kind) {
  // The device id remembered for "video", "audio" or "speaker"; null: the browser's default.
  const choices = recall(CHOICE_KEY, {}) || {};
  return choices[DEVICE_KIND[kind]] || null;
}

export function chooseDevice(kind, deviceId) {
  const choices = recall(CHOICE_KEY, {}) || {};
  remember(CHOICE_KEY, { ...choices, [DEVICE_KIND[kind]]: deviceId || null });
}

function constraint(kind) {
  // The remembered device exactly (Chromium takes an `ideal` one as a mere hint); openMedia
  // falls back to any device when it is unplugged.
  const id = chosenDevice(kind);
  return id ? { deviceId: { exact: id } } : true;
}

function refused(err) {
  // A refusal applies to every device: asking again only repeats it.
  return Boolean(err) && (err.name === "NotAllowedError" || err.name === "SecurityError");
}

export async function openMedia() {
  // {stream, error}: camera and microphone if possible, otherwise whichever works, otherwise
  // no stream and the first reason (a person can still join and receive).
  if (!mediaAvailable()) {
    const error = new Error("this browser gives no camera access here");
    // Opened over plain http:// from another machine: browsers keep cameras to secure pages.
    error.name = window.isSecureContext ? "NotSupportedError" : "InsecureContextError";
    return { stream: null, error };
  }
  const video = constraint("video");
  const audio = constraint("audio");
  const attempts = [{ video, audio }];
  if (video !== true || audio !== true) attempts.push({ video: true, audio: true });
  attempts.push({ audio: true }, { video: true });
  let error = null;
  for (const constraints of attempts) {
    try {
      return { stream: await navigator.mediaDevices.getUserMedia(constraints), error: null };
    } catch (err) {
      // A remembered device that is gone is no reason to show: the defaults' error is.
      if (constraints !== attempts[0] || attempts.length === 3) error = error || err;
      if (refused(err)) break;
    }
  }
  return { stream: null, error };
}

export async function openTrack(kind, { deviceId = null, facingMode = null } = {}) {
  // One new "audio" or "video" track: from `deviceId`, from the camera facing `facingMode`
  // ("user" or "environment"), or from the remembered device. Throws getUserMedia's error.
  if (!mediaAvailable()) throw (await openMedia()).error;
  const remembered = chosenDevice(kind);
  if (!deviceId && !facingMode && remembered) {
    try {
      return await openTrack(kind, { deviceId: remembered });
    } catch (err) {
      if (refused(err)) throw err; // otherwise unplugged: the default device, below
    }
  }
  let wanted = true;
  if (deviceId) wanted = { deviceId: { exact: deviceId } };
  else if (facingMode) wanted = { facingMode: { exact: facingMode } };
  const stream = await navigator.mediaDevices.getUserMedia({ [kind]: wanted });
  return stream.getTracks()[0];
}

export async function listDevices() {
  // {video, audio, speaker}: each a list of {deviceId, label}. Labels are empty until the
  // person allowed a camera or microphone; the list then holds only the default.
  const lists = { video: [], audio: [], speaker: [] };
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return lists;
  let devices = [];
  try {
    devices = await navigator.mediaDevices.enumerateDevices();
  } catch (err) {
    return lists;
  }
  for (const [kind, deviceKind] of Object.entries(DEVICE_KIND)) {
    lists[kind] = devices
      .filter((device) => device.kind === deviceKind && device.deviceId)
      .map((device, index) => ({
        deviceId: device.deviceId,
        label: device.label || defaultLabel(kind, index),
      }));
  }
  return lists;
}

function defaultLabel(kind, index) {
  const name = { video: "Camera", audio: "Microphone", speaker: "Speaker" }[kind];
  return index === 0 ? name : `${name} ${index + 1}`;
}

export function facingOf(track) {
  // "user", "environment", or null where the camera does not say (a laptop's webcam).
  if (!track || !track.getCapabilities) return null;
  const facing = track.getCapabilities().facingMode;
  if (!facing || facing.length === 0) return null;
  return track.getSettings().facingMode || facing[0];
}

export function canFlip(track, cameras) {
  // A phone's front and back camera: the track says which way it faces, and there is another.
  return Boolean(facingOf(track)) && cameras.length > 1;
}

export function replaceTrack(stream, track) {
  // Put `track` in `stream` in place of the track of its kind (stopped), keeping whether it
  // was muted or turned off.
  const old = stream.getTracks().find((t) => t.kind === track.kind);
  if (old) {
    track.enabled = old.enabled;
    stream.removeTrack(old);
    old.stop();
  }
  stream.addTrack(track);
}

export function missingDeviceText(stream) {
  if (!stream) return "";
  if (stream.getVideoTracks().length === 0) {
    return "No camera available: the other person will hear you but not see you.";
  }
  if (stream.getAudioTracks().length === 0) {
    return "No microphone available: the other person will see you but not hear you.";
  }
  return "";
}

export function mediaErrorText(err, what = "Camera and microphone") {
  // Why there is no camera (or microphone), for the person at this screen. Whoever runs the
  // server finds how to serve https in the README and the server's log.
  const name = err && err.name;
  let reason;
  let fix = ` To fix it, allow ${what.toLowerCase()} for this site in the browser.`;
  if (name === "InsecureContextError") {
    reason =
      "Your camera and microphone need a secure (https://) address, and this page was" +
      " opened over plain http://.";
    fix = " Ask whoever runs this server for its https:// address.";
  } else if (name === "NotAllowedError" || name === "SecurityError") {
    reason = `${what} access was denied.`;
  } else if (name === "NotFoundError" || name === "OverconstrainedError") {
    reason = `No ${what === "Camera and microphone" ? "camera or microphone" : what.toLowerCase()} was found.`;
    fix = "";
  } else if (name === "NotReadableError" || name === "AbortError") {
    reason = `The ${what.toLowerCase()} is in use by another program.`;
    fix = " Close that program, then try again.";
  } else {
    const detail = (err && err.message) || "unknown reason";
    const verb = what === "Camera and microphone" ? "are" : "is";
    reason = `${what} ${verb} not available (${detail}).`;
    fix = "";
  }
  if (what !== "Camera and microphone") return reason + fix;
  return (
    reason +
    " You can still join: you will see and hear the other person and can chat, but they will" +
    " not see or hear you." +
    fix
  );
}
