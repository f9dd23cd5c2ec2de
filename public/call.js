// One person's side of a two-person call, with no DOM: the RTCPeerConnection flow over a
// SignalingClient. It emits events and the page decides what to show:
//   status  {state, text, since} "connecting", "waiting", "connected", "reconnecting" (since:
//                                when the connection was lost)
//   media   {stream}       our camera and microphone (null: none)
//   remote  {stream}       the other person's media (null: gone, before a new attempt)
//   channel {open}         the chat channel opened or closed
//   chat    {text}         a chat message from the other person
//   message {message}      any other envelope from the other person ({type, ...})
//   end     {reason, error} "hangup", "left", "full", "lost" or "error"; then `left` settles
//
// A Meeting (meeting.js) enters the room and makes the connection; a call keeps it: a lost
// connection comes back as recovery.js decides (an ICE restart, or a fresh connection in the
// same room), the chat rides on it, and a hang-up ends it.
import { Connection } from "./connection.js";
import { Meeting } from "./meeting.js";
import { RECONNECT, Recovery } from "./recovery.js";
import { ApiError } from "./signaling.js";
import { sendTrack, stopTracks } from "./tracks.js";

export { stopTracks };

// Why an ICE restart cannot bring a lost connection back, so that a fresh one is built: the
// chat channel closed (the partner's connection is gone: a reload), an in-call offer went
// unanswered (the partner cannot restart ICE), or the path went quiet right after an
// exchange while ICE saw nothing wrong (isStale).
const NO_RESTART = new Set(["channel", "unanswered", "stale"]);

export class Call extends Meeting {
  constructor(signaling, options = {}) {
    super(signaling, options);
    this.recovery = new Recovery(this.recoveryActions());
    // Settles once our place in the room is given back (a new call waits for it).
    this.left = Promise.resolve();
  }

  newConnection() {
    // A fresh connection with our tracks, wired to this call (connection.js).
    const link = new Connection({
      PeerConnection: this.PeerConnection,
      config: this.rtcConfig,
      stream: this.localStream,
      signaling: this.signaling,
      partnerPresent: this.peers >= 2,
      on: {
        current: () => this.isCurrent(link),
        track: (stream) => this.emit("remote", { stream }),
        channel: (dc) => this.useChannel(link, dc),
        data: (received) => this.receive(received),
        state: () => this.onConnectionState(link),
        lost: (reason) => this.connectionLost(link, reason),
        offered: () => this.recovery.offered(),
        // A path that ICE never called broken comes back with no connection state change.
        answered: () => this.recovery.active && this.checkConnected(link),
      },
    });
    this.link = link;
    return link;
  }

  // -- a lost connection, brought back (recovery.js) ------------------------------------

  connectionLost(link, reason) {
    // The path to the other person broke (`reason`: "disconnected", "failed", "online",
    // "answer", "quiet", or one of NO_RESTART's): bring it back without a click, while they
    // hold a place.
    if (!this.isCurrent(link) || !this.everConnected) return;
    if (NO_RESTART.has(reason)) link.noRestart = reason;
    this.connected = false;
    if (this.recovery.begin()) this.status("reconnecting");
    this.recovery.step(); // at once, or sooner than planned
  }

  recoveryActions() {
    // What recovery.js reads of this call, and the steps it takes.
    return {
      read: () => {
        const link = this.link;
        return {
          partnerPlaced: !link || !link.partnerPresent || this.peers >= 2,
          canRestart: Boolean(link) && !link.anonymousPartner && link.noRestart === null,
          answered: !link || !link.negotiator.waitingForAnswer,
        };
      },
      restart: () => this.link.negotiator.restartIce(),
      fresh: () => this.rebuild(),
      rejoin: () =>
        this.renegotiate(this.link, "The other person left the call. Waiting for them to come back…"),
      giveUp: () => this.end("lost", new Error("the connection could not be restored")),
    };
  }

  async rebuild() {
    // A fresh connection in the same room, keeping our place, camera and chat: the seed's
    // flow again (whoever reads no offer posts one, the other answers it).
    const link = this.link;
    this.link = null;
    if (link) link.close();
    this.emit("remote", { stream: null });
    await this.negotiate();
  }

  restartIce() {
    // An ICE restart in the live call, now (the browser came back online, or asked for).
    if (this.link && !this.link.anonymousPartner) this.link.negotiator.restartIce();
  }

  networkChanged() {
    // The browser says it is online again: the old path may be gone with the old network.
    // A connection that still looks fine gets new ICE credentials at once, quietly.
    if (!this.link || !this.everConnected) return;
    if (this.connected) this.restartIce();
    else this.connectionLost(this.link, "online");
  }

  // -- the connection and the chat -------------------------------------------------------

  useChannel(link, dc) {
    dc.addEventListener("open", () => {
      if (!this.isCurrent(link)) return;
      this.emit("channel", { open: true });
      this.checkConnected(link);
    });
    dc.addEventListener("close", () => {
      if (!this.isCurrent(link)) return;
      this.emit("channel", { open: false });
      // A client that speaks only the seed's messages says no bye: its closing is its hang-up.
      if (link.anonymousPartner && this.connected) this.end("left");
      else this.connectionLost(link, "channel");
    });
  }

  receive(received) {
    if (received.type === "bye") this.end("left");
    else if (received.type === "chat") this.emit("chat", { text: received.text });
    else this.emit("message", { message: received.message });
  }

  send(text) {
    // A chat message; false when the channel is not open.
    return Boolean(this.link) && this.link.send(text);
  }

  sendMessage(message) {
    // Any other envelope ({type, ...}) for the other person (connection.js says when not).
    return Boolean(this.link) && this.link.sendMessage(message);
  }

  onConnectionState(link) {
    const state = link.pc.connectionState;
    clearTimeout(link.disconnectedTimer);
    if (state === "connected") {
      this.checkConnected(link);
    } else if (state === "disconnected" && this.everConnected) {
      // A partner whose place is gone (its tab crashed or closed) will not heal the path.
      const grace = link.partnerPresent && this.peers < 2 ? 0 : RECONNECT.disconnectedGraceMs;
      link.disconnectedTimer = setTimeout(() => this.connectionLost(link, "disconnected"), grace);
    } else if (state === "failed") {
      if (this.everConnected) this.connectionLost(link, "failed");
      else this.fail(new Error("no network path to the other person (a TURN relay may help)"));
    }
  }

  checkConnected(link) {
    // Connected means media can flow and the chat channel is open.
    if (!this.isCurrent(link) || link.pc.connectionState !== "connected" || !link.open) return;
    if (!this.connected) link.anonymousPartner = !link.partnerPresent;
    if (!link.anonymousPartner) link.heartbeat.start(); // a seed client knows no ping
    this.connected = true;
    this.everConnected = true;
    this.recovery.stop();
    this.status("connected");
  }

  // -- ending ----------------------------------------------------------------------------

  hangUp() {
    // Say bye, close, release camera and microphone, clear the room's signals.
    this.end("hangup");
  }

  fail(err) {
    // A refusal: show why, and end. A full room was never ours: nothing to clear there.
    if (err instanceof ApiError && err.code === "room_full") this.end("full");
    else this.end("error", err);
  }

  end(reason, error = null) {
    // Everything local ends now; giving our place back goes out with keepalive and settles
    // `left`. The one who stays after the other left removes only its own signals.
    const link = this.link;
    if (!this.stop()) return;
    if (link) link.hangUp(reason !== "left" && !link.anonymousPartner);
    this.connected = false;
    stopTracks(this.localStream);
    if (reason !== "full") {
      this.left = this.signaling.leave({ hangUp: reason !== "left", keepalive: true }).catch(
        (err) => console.warn("could not leave the room:", err.message),
      );
    }
    this.emit("end", { reason, error });
  }

  suspend() {
    // The page goes away but means to come back (a reload): nothing is said to the other
    // side and our place is kept; the reloaded page resumes it with `signaling.token`.
    const link = this.link;
    if (this.stop() && link) link.close();
  }

  stop() {
    // Ends what runs on timers, and the push channel; false when the call had ended already.
    if (this.ended) return false;
    this.ended = true;
    if (this.link) this.link.stop();
    this.link = null;
    this.recovery.stop();
    this.signaling.stop();
    return true;
  }

  // -- what we send ----------------------------------------------------------------------

  async useTrack(kind, track) {
    // Send `track` as our "audio" or "video" (tracks.js); one added where we sent none of
    // its kind (no camera when we joined) is negotiated in the live call. False when there
    // is no connection to send it on.
    const link = this.link;
    return (
      Boolean(link) &&
      (await sendTrack(link.pc, kind, track, this.localStream)) &&
      this.isCurrent(link)
    );
  }

  replaceVideo(track) {
    return this.useTrack("video", track);
  }

  // -- helpers ---------------------------------------------------------------------------

  // What tests and the page read of the connection in use (null: none).
  get pc() {
    return this.link && this.link.pc;
  }

  get dc() {
    return this.link && this.link.dc;
  }

  get role() {
    return this.link && this.link.role;
  }

  get negotiator() {
    return this.link && this.link.negotiator;
  }

  get heartbeat() {
    return this.link && this.link.heartbeat;
  }
}
