// Screen sharing in a call: the shared screen goes out as our video (call.useTrack), in the
// camera's place, or added to the live call when we joined without a camera. Stopping sends
// the camera again, or nothing.
import { stopTracks } from "./tracks.js";

export class ScreenShare {
  constructor({ getCall, changed, message }) {
    this.getCall = getCall;
    this.changed = changed; // (screenStream | null) => the page draws again
    this.message = message;
    // "off", "asking" (the browser's picker is open) or "on"; `track` while it is on.
    this.state = "off";
    this.track = null;
    this.stream = null; // the screen's stream, to show ourselves what we share
  }

  static get supported() {
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  }

  async toggle() {
    if (this.state === "on") return this.stop();
    const call = this.getCall();
    if (this.state !== "off" || !call || !call.connected) return undefined;
    this.state = "asking";
    this.changed(null);
    let stream = null;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (err) {
      // Cancelled in the browser's picker (NotAllowedError), or no screen to share.
      if (err && err.name !== "NotAllowedError") {
        this.message("Your screen could not be shared (" + (err.message || err.name) + ").");
      }
    }
    const track = stream && stream.getVideoTracks()[0];
    // Still this call, and still asked for (leaving meanwhile ends the sharing)?
    const wanted = () => this.state === "asking" && this.getCall() === call;
    if (!track || !wanted() || !(await call.useTrack("video", track)) || !wanted()) {
      stopTracks(stream);
      if (this.state === "asking") this.state = "off";
      this.changed(null);
      return undefined;
    }
    this.state = "on";
    this.track = track;
    this.stream = stream;
    // "Stop sharing" in the browser's own bar ends the track: send the camera again.
    track.addEventListener("ended", () => {
      if (this.track === track) this.stop();
    });
    this.changed(stream);
    return undefined;
  }

  async stop() {
    const call = this.getCall();
    const camera = call && call.localStream && call.localStream.getVideoTracks()[0];
    this.end();
    if (call) await call.useTrack("video", camera || null);
    this.changed(null);
  }

  end() {
    // Stop the shared screen's track (the browser's sharing indicator goes away).
    if (this.track) this.track.stop();
    this.track = null;
    this.stream = null;
    this.state = "off";
  }
}
