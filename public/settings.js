// The settings: your name, the camera, microphone and speaker, and the sound when someone
// joins. Each is remembered on this device. The same fields serve the lobby (beside the
// preview) and the call (the Settings panel).
import { chosenDevice, chooseDevice, listDevices, speakerChoiceAvailable } from "./devices.js";
import { cleanName } from "./partner.js";
import { setSoundOn, soundOn } from "./sound.js";
import { recall, remember } from "./store.js";
import { ui } from "./ui.js";

const NAME_KEY = "videoChat.name";
const SELECT = { video: "cameraSelect", audio: "micSelect", speaker: "speakerSelect" };

export function displayName() {
  return cleanName(recall(NAME_KEY, ""));
}

export function wireSettings({ media, nameChanged }) {
  ui.nameInput.value = displayName();
  ui.nameInput.addEventListener("change", () => {
    const name = cleanName(ui.nameInput.value);
    ui.nameInput.value = name;
    remember(NAME_KEY, name);
    nameChanged(name);
  });
  ui.soundCheck.checked = soundOn();
  ui.soundCheck.addEventListener("change", () => setSoundOn(ui.soundCheck.checked));
  for (const [kind, id] of Object.entries(SELECT)) {
    ui[id].addEventListener("change", async () => {
      const deviceId = ui[id].value;
      if (kind === "speaker") {
        chooseDevice("speaker", deviceId);
        await applySpeaker();
      } else {
        await media.switchTo(kind, deviceId);
      }
      showDevices(media);
    });
  }
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    // A camera or headset plugged in or out.
    navigator.mediaDevices.addEventListener("devicechange", () => showDevices(media));
  }
  applySpeaker();
}

export async function showDevices(media) {
  // Each list with the device in use (or remembered) selected; a list of one or none is
  // shown all the same, so that the person sees which device is used.
  const lists = await media.refreshDevices();
  for (const [kind, id] of Object.entries(SELECT)) {
    const select = ui[id];
    const devices = lists[kind];
    const track = kind === "speaker" ? null : media.track(kind);
    const current = (track && track.getSettings().deviceId) || chosenDevice(kind);
    const options = devices.map(({ deviceId, label }) => {
      const option = document.createElement("option");
      option.value = deviceId;
      option.textContent = label;
      return option;
    });
    if (options.length === 0) {
      const none = document.createElement("option");
      none.value = "";
      none.textContent = kind === "video" ? "No camera" : kind === "audio" ? "No microphone" : "Default";
      options.push(none);
    }
    select.replaceChildren(...options);
    if (current && devices.some((d) => d.deviceId === current)) select.value = current;
  }
  const speakers = speakerChoiceAvailable() && lists.speaker.length > 0;
  ui.speakerSelect.hidden = !speakers;
  ui.speakerLabel.hidden = !speakers;
}

async function applySpeaker() {
  // The other person's sound out of the chosen speaker, where the browser allows it.
  const id = chosenDevice("speaker");
  if (!id || !speakerChoiceAvailable()) return;
  try {
    await ui.remoteVideo.setSinkId(id);
  } catch (err) {
    // Unplugged since, or not allowed: the default speaker plays it.
  }
}
