// Our camera and microphone, before and during a call: the preview in the lobby (handed to
// the call on Join), muting, turning the camera off, turning on a camera or microphone we
// joined without, switching to another device, flipping a phone's camera. In a call a new
// track goes out with call.useTrack: on the same connection, no new call.
import {
  canFlip,
  chooseDevice,
  facingOf,
  listDevices,
  mediaErrorText,
  missingDeviceText,
  openMedia,
  openTrack,
  replaceTrack,
} from "./devices.js";
import { stopTracks } from "./tracks.js";

const WHAT = { audio: "Microphone", video: "Camera" };

export class LocalMedia {
  constructor({ getCall, changed, message }) {
    this.getCall = getCall; // () => the call in progress, or null
    this.changed = changed; // (stream) => the page draws our tiles and buttons again
    this.message = message; // (text) => shown to the person ("" clears it)
    this.preview = null; // the lobby's stream, until Join hands it to the call
    this.opening = null; // the preview's getUserMedia, while the browser asks
    this.busy = false; // a device is being switched: one at a time
    this.cameras = [];
  }

  get stream() {
    // What we show of ourselves, and send once in a call.
    const call = this.getCall();
    return call ? call.localStream || this.preview : this.preview;
  }

  track(kind) {
    const stream = this.stream;
    return (stream && stream.getTracks().find((t) => t.kind === kind)) || null;
  }

  get flippable() {
    return canFlip(this.track("video"), this.cameras);
  }

  async startPreview() {
    // The camera before joining. Nothing if a call or another preview runs.
    if (this.getCall() || this.preview || this.opening) return;
    this.opening = openMedia();
    const { stream, error } = await this.opening;
    this.opening = null;
    if (this.getCall() || this.preview) {
      stopTracks(stream);
      return;
    }
    this.preview = stream;
    this.message(stream ? missingDeviceText(stream) : mediaErrorText(error));
    await this.refreshDevices();
    this.changed(this.stream);
  }

  async forCall() {
    // The call's getMedia: the preview, or (none, or it was stopped) camera and microphone
    // opened now. The call owns it from here, and stops it when it ends.
    if (this.opening) await this.opening;
    let stream = this.preview;
    this.preview = null;
    if (!stream || !stream.getTracks().some((t) => t.readyState === "live")) {
      stopTracks(stream);
      const opened = await openMedia();
      stream = opened.stream;
      if (!stream) {
        this.message(mediaErrorText(opened.error));
        return null;
      }
    }
    this.message(missingDeviceText(stream));
    this.refreshDevices();
    return stream;
  }

  stopPreview() {
    stopTracks(this.preview);
    this.preview = null;
  }

  toggle(kind) {
    // Mute or unmute, camera off or on; with no track of that kind, open one.
    const track = this.track(kind);
    if (!track) return this.turnOn(kind);
    track.enabled = !track.enabled;
    this.changed(this.stream);
    return Promise.resolve();
  }

  async turnOn(kind, options = {}) {
    // A camera or microphone we are without (none at join, or a device switched): opened,
    // and in a call sent on the live connection.
    if (this.busy) return;
    const call = this.getCall();
    if (!call && !this.preview && kind === "video" && !options.deviceId) {
      await this.startPreview();
      return;
    }
    this.busy = true;
    try {
      const track = await this.open(kind, options);
      if (track) await this.use(call, track);
    } finally {
      this.busy = false;
      this.changed(this.stream);
    }
  }

  async open(kind, options) {
    try {
      const track = await openTrack(kind, options);
      this.message("");
      return track;
    } catch (err) {
      this.message(mediaErrorText(err, WHAT[kind]));
      return null;
    }
  }

  async use(call, track) {
    // `track` in place of ours of its kind: sent first, then shown (and the old one stopped).
    if (call !== this.getCall() || (call && !(await call.useTrack(track.kind, track)))) {
      track.stop();
      return;
    }
    if (call !== this.getCall()) {
      track.stop();
      return;
    }
    if (call) {
      if (!call.localStream) call.localStream = new MediaStream();
      replaceTrack(call.localStream, track);
    } else {
      if (!this.preview) this.preview = new MediaStream();
      replaceTrack(this.preview, track);
    }
    const deviceId = track.getSettings().deviceId;
    if (deviceId) chooseDevice(track.kind, deviceId);
    await this.refreshDevices();
  }

  switchTo(kind, deviceId) {
    // A device chosen in the settings.
    if (kind === "speaker") return Promise.resolve();
    const current = this.track(kind);
    if (current && current.getSettings().deviceId === deviceId) return Promise.resolve();
    chooseDevice(kind, deviceId);
    if (!this.stream || (!current && !this.getCall())) return Promise.resolve();
    return this.turnOn(kind, { deviceId });
  }

  flip() {
    // The phone's other camera (front and back).
    const facing = facingOf(this.track("video"));
    if (!facing) return Promise.resolve();
    return this.turnOn("video", { facingMode: facing === "environment" ? "user" : "environment" });
  }

  async refreshDevices() {
    const lists = await listDevices();
    this.cameras = lists.video;
    return lists;
  }
}
