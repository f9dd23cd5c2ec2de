// The page's modules that hold no DOM: the state envelope (partner.js), the tab's title
// (title.js), the call's timer (view.js) and the words for a missing camera (devices.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { mediaErrorText, missingDeviceText } from "./devices.js";
import { cleanName, coverText, initial, readState, stateEnvelope } from "./partner.js";
import { titleText } from "./title.js";
import { formatDuration } from "./view.js";

function track(kind, enabled = true) {
  return { kind, enabled };
}

function stream(...tracks) {
  return {
    getAudioTracks: () => tracks.filter((t) => t.kind === "audio"),
    getVideoTracks: () => tracks.filter((t) => t.kind === "video"),
  };
}

test("our state: muted, camera on, off or none, sharing, a clean name", () => {
  const both = stream(track("audio"), track("video"));
  assert.deepEqual(stateEnvelope({ stream: both, sharing: false, name: " Ann " }), {
    type: "state",
    muted: false,
    camera: "on",
    sharing: false,
    name: "Ann",
  });
  const off = stream(track("audio", false), track("video", false));
  assert.equal(stateEnvelope({ stream: off }).muted, true);
  assert.equal(stateEnvelope({ stream: off }).camera, "off");
  const none = stateEnvelope({ stream: null, sharing: true, name: "" });
  assert.deepEqual([none.muted, none.camera, none.sharing], [true, "none", true]);
});

test("their state: anything malformed reads as the harmless default", () => {
  assert.deepEqual(readState({ type: "state" }), {
    muted: false,
    camera: "on",
    sharing: false,
    name: "",
  });
  const odd = readState({ muted: "yes", camera: "blue", sharing: 1, name: 42 });
  assert.deepEqual(odd, { muted: false, camera: "on", sharing: false, name: "" });
  assert.equal(readState({ camera: "none" }).camera, "none");
});

test("names: control characters out, spaces folded, at most 40 characters", () => {
  assert.equal(cleanName("  Zoë\u0000 \u202e\t van  Dijk "), "Zoë van Dijk");
  assert.equal([...cleanName("東".repeat(50))].length, 40);
  assert.equal(cleanName(null), "");
  assert.equal(initial("zoë"), "Z");
  assert.equal(initial(""), "?");
});

test("the cover says camera off or no camera, with the name, and never over a screen", () => {
  assert.equal(coverText({ camera: "off", name: "Ann" }), "Ann · camera off");
  assert.equal(coverText({ camera: "none", name: "" }), "The other person · no camera");
  assert.equal(coverText({ camera: "none", sharing: true, name: "Ann" }), "");
  assert.equal(coverText({ camera: "on", name: "Ann" }), "");
  assert.equal(coverText(null), "");
});

test("the tab's title: the state and the unread count, or the room before a call", () => {
  assert.equal(titleText({ state: "connected", unread: 2 }), "(2) Connected · Video chat");
  assert.equal(titleText({ state: "reconnecting" }), "Reconnecting… · Video chat");
  assert.equal(titleText({ state: "", room: "amber-otter-42" }), "amber-otter-42 · Video chat");
  assert.equal(titleText({ state: "" }), "Video chat");
});

test("the timer reads m:ss, then h:mm:ss", () => {
  assert.equal(formatDuration(7_400), "0:07");
  assert.equal(formatDuration(723_000), "12:03");
  assert.equal(formatDuration(3_723_000), "1:02:03");
  assert.equal(formatDuration(-5), "0:00");
});

test("camera words for the caller never tell them to run anything on the server", () => {
  const insecure = Object.assign(new Error("x"), { name: "InsecureContextError" });
  const text = mediaErrorText(insecure);
  assert.match(text, /secure \(https:\/\/\) address/);
  assert.match(text, /You can still join/);
  assert.doesNotMatch(text, /make lan/);
  const denied = Object.assign(new Error("x"), { name: "NotAllowedError" });
  assert.equal(
    mediaErrorText(denied, "Camera"),
    "Camera access was denied. To fix it, allow camera for this site in the browser.",
  );
  assert.match(missingDeviceText(stream(track("audio"))), /No camera available/);
  assert.equal(missingDeviceText(stream(track("audio"), track("video"))), "");
});
