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
// A connection starts with the seed's flow (docs/protocol.md): the first in the room posts an
// offer and waits; the second answers it; both trickle candidates. Posting an offer is
// create-if-absent, so two people starting at once still end up with one initiator. After
// that, negotiation.js carries offers in the live call, and recovery.js decides how a lost
// connection comes back: an ICE restart, or a fresh connection in the same room.
import { BYE, chatData, readData } from "./envelopes.js";
import { Heartbeat } from "./heartbeat.js";
import { Negotiator } from "./negotiation.js";
import { Outbox } from "./outbox.js";
import { RECONNECT, Recovery } from "./recovery.js";
import { ApiError } from "./signaling.js";
import {
  closeAfterSending,
  closeConnection,
  sendTrack,
  stopSending,
  stopTracks,
} from "./tracks.js";

export { stopTracks };

// An offer read this recently is still taken as the room's; after a longer camera prompt,
// the room is read again.
const OFFER_FRESH_MS = 1000;
// The push channel starts once our offer or answer is out; a camera prompt that lasts this
// long starts it sooner, so that our place in the room (kept by our requests for the
// server's peer timeout, 10 s by default) does not lapse while the person decides.
const KEEP_PLACE_MS = 3000;
// How long an answer to a client without a place in the room may take to connect.
const UNPLACED_ANSWER_MS = 15000;
// Why an ICE restart cannot bring a lost connection back, so that a fresh one is built: the
// chat channel closed (the partner's connection is gone: a reload), an in-call offer went
// unanswered (the partner cannot restart ICE), or the path went quiet right after an
// exchange while ICE saw nothing wrong (isStale).
const NO_RESTART = new Set(["channel", "unanswered", "stale"]);

export class Call extends EventTarget {
  constructor(signaling, { getMedia = async () => null, PeerConnection } = {}) {
    super();
    this.signaling = signaling;
    this.getMedia = getMedia;
    this.PeerConnection = PeerConnection || globalThis.RTCPeerConnection;
    this.localStream = null;
    this.rtcConfig = null; // for new RTCPeerConnection, from the server
    this.pc = null;
    this.dc = null;
    this.role = null;
    this.connected = false;
    this.everConnected = false;
    this.ended = false;
    this.recovery = new Recovery(this.recoveryActions());
    // Settles once our place in the room is given back (a new call waits for it).
    this.left = Promise.resolve();
    this.pendingCandidates = []; // the other side's, come before their description
    this.inbox = Promise.resolve(); // the push channel's answers, applied one after another
    this.ourOffers = new Set(); // SDPs of the room offers we posted: never answered by us
    this.peers = 0; // live peers in the room, as the push channel last said
  }

  // -- starting --------------------------------------------------------------------------

  async start() {
    // Enter the room (reading its offer), open camera and microphone, then negotiate.
    // Entering comes first: someone who cannot get in (a full room) is never asked for a
    // camera. The ICE servers do not depend on the rest: asked for at once.
    this.status("connecting", "Starting: joining the room…");
    const iceAsked = this.signaling.rtcConfiguration();
    iceAsked.catch(() => {}); // its failure is reported below, unless entering failed first
    let offer;
    try {
      const joined = await this.signaling.join();
      offer = joined.offer;
      const readAt = Date.now();
      if (this.ended) return;
      this.onEvents(joined); // the candidates sent so far wait for the offer to be applied
      // The push channel waits for our offer or answer, so that it has the open connection
      // to itself (a second one would cost a handshake on the critical path).
      setTimeout(() => this.ensureListening(), KEEP_PLACE_MS);
      this.status("connecting", "Starting: asking for camera and microphone…");
      const stream = await this.getMedia();
      if (this.ended) {
        stopTracks(stream);
        return;
      }
      this.localStream = stream;
      this.emit("media", { stream });
      this.rtcConfig = await iceAsked;
      if (this.ended) return;
      if (Date.now() - readAt >= OFFER_FRESH_MS) offer = undefined;
    } catch (err) {
      this.fail(err);
      return;
    }
    await this.negotiate(offer);
  }

  ensureListening() {
    if (this.ended || this.signaling.listening) return;
    this.signaling.listen(
      (events) => this.onEvents(events),
      (err) => this.fail(err),
    );
  }

  async negotiate(known) {
    // No offer in the room: post ours and wait (initiator); an offer: answer it (receiver).
    // Errors end the call, unless this connection was already replaced.
    const pc = this.newConnection();
    try {
      let offer = known !== undefined ? known : await this.signaling.readOffer();
      if (!this.isCurrent(pc)) return;
      if (offer && this.ourOffers.has(offer.sdp)) offer = null; // ours, from before: replaced
      if (offer) {
        await this.answerOffer(pc, offer);
        return;
      }
      try {
        await this.makeOffer(pc);
        return;
      } catch (err) {
        if (!(err instanceof ApiError && err.code === "offer_exists")) throw err;
      }
    } catch (err) {
      if (!this.isCurrent(pc)) return;
      // A fresh connection for a lost call, and the server out of reach (the network still
      // down, the server restarting): not the end, recovery.js builds it again later.
      const passing = err instanceof ApiError && (err.retriable || err.code === "not_a_member");
      if (this.recovery.active && passing) {
        console.warn("could not start a fresh connection yet:", err.message);
        return;
      }
      this.fail(err);
      return;
    }
    // Someone else's offer got there first: answer it on a fresh connection.
    if (!this.isCurrent(pc)) return;
    pc.close();
    await this.negotiate();
  }

  newConnection() {
    // A fresh RTCPeerConnection with our tracks, wired to this call.
    const pc = new this.PeerConnection(this.rtcConfig);
    this.pc = pc;
    this.dc = null;
    this.role = null;
    this.described = false; // the other person's description is applied
    this.answered = false;
    this.outbox = new Outbox(this.signaling, {
      role: () => this.role,
      stillOurs: () => this.isCurrent(pc),
    });
    this.remoteStream = null;
    this.negotiator = new Negotiator(pc, {
      polite: false, // decided with the role: the receiver is polite
      send: (description) => this.sendDescription(pc, description),
      settled: () => {
        this.negotiatedAt = Date.now();
      },
    });
    this.negotiatedAt = null; // when the last in-call exchange was done
    this.noRestart = null; // a NO_RESTART reason, once this connection is past restarting
    this.heartbeat = new Heartbeat({
      alive: () => this.isCurrent(pc),
      send: (message) => this.sendMessage(message),
      quiet: () => this.connectionLost(pc, this.isStale(pc) ? "stale" : "quiet"),
      // A path that ICE never called broken comes back with no connection state change.
      answered: () => this.recovery.active && this.checkConnected(pc),
    });
    // Whether the other person holds a place in the room. A client that sends no peer id
    // never does: its leaving shows on the connection, not in the count.
    this.partnerPresent = this.peers >= 2;
    this.anonymousPartner = false;
    if (this.localStream) {
      for (const track of this.localStream.getTracks()) pc.addTrack(track, this.localStream);
    }
    pc.addEventListener("icecandidate", (event) => {
      if (this.isCurrent(pc) && event.candidate) this.outbox.candidate(event.candidate.toJSON());
    });
    pc.addEventListener("track", (event) => {
      if (!this.isCurrent(pc)) return;
      if (!this.remoteStream) this.remoteStream = new MediaStream();
      this.remoteStream.addTrack(event.track);
      this.emit("remote", { stream: this.remoteStream });
    });
    pc.addEventListener("datachannel", (event) => {
      if (this.isCurrent(pc)) this.setupChannel(pc, event.channel);
    });
    pc.addEventListener("connectionstatechange", () => this.onConnectionState(pc));
    return pc;
  }

  async makeOffer(pc) {
    this.role = "initiator";
    this.setupChannel(pc, pc.createDataChannel("chat"));
    // Without a camera or microphone, still ask for the other person's video and audio.
    const stream = this.localStream;
    if (!stream || stream.getAudioTracks().length === 0) {
      pc.addTransceiver("audio", { direction: "recvonly" });
    }
    if (!stream || stream.getVideoTracks().length === 0) {
      pc.addTransceiver("video", { direction: "recvonly" });
    }
    await pc.setLocalDescription(await pc.createOffer());
    this.offerPayload = pc.localDescription.toJSON();
    this.ourOffers.add(this.offerPayload.sdp);
    await this.signaling.postOffer(this.offerPayload);
    if (!this.isCurrent(pc)) return;
    this.ensureListening();
    this.outbox.release();
    // Waiting already (starting over said why): the reason stays on screen.
    if (!this.recovery.active && this.state !== "waiting") this.status("waiting");
  }

  async answerOffer(pc, offer) {
    // The initiator's candidates already come through the push channel, and wait in
    // pendingCandidates until the offer is applied.
    this.role = "receiver";
    this.negotiator.polite = true;
    if (!this.recovery.active) this.status("connecting");
    await pc.setRemoteDescription(offer);
    if (!this.isCurrent(pc)) return;
    await this.isDescribed(pc);
    await pc.setLocalDescription(await pc.createAnswer());
    if (!this.isCurrent(pc)) return;
    // The answer takes the answered offer along on the server (the seed's DELETE of it).
    await this.signaling.postAnswer(pc.localDescription.toJSON());
    if (!this.isCurrent(pc)) return;
    this.ensureListening();
    this.outbox.release();
    if (!this.partnerPresent) {
      // The offer came from a client without a place in the room, so no count tells whether
      // it is still there: if the call does not connect, it was not (the offer is gone now).
      this.unplacedTimer = setTimeout(() => {
        // The count may have come after the answer: only a partner it never showed.
        if (this.isCurrent(pc) && !this.everConnected && !this.partnerPresent) {
          this.renegotiate(pc, "Nobody answered from the other side. Waiting again…");
        }
      }, UNPLACED_ANSWER_MS);
    }
  }

  async acceptAnswer(pc, answer) {
    this.answered = true;
    if (!this.recovery.active) this.status("connecting");
    await pc.setRemoteDescription(answer);
    if (this.isCurrent(pc)) await this.isDescribed(pc);
  }

  async isDescribed(pc) {
    // The other person's description is applied: the candidates that came first, too.
    this.described = true;
    await this.applyCandidates(pc, this.pendingCandidates.splice(0));
  }

  sendDescription(pc, description) {
    // An in-call offer or answer of negotiation.js, through the connection's outbox. An offer
    // still unanswered after answerWaitMs, even on a connection that works, means the
    // partner cannot renegotiate so (an aiortc peer refuses ICE restarts): the connection is
    // replaced by a fresh one rather than left waiting for good.
    if (description.type === "offer") {
      this.recovery.offered();
      clearTimeout(this.unansweredTimer);
      this.unansweredTimer = setTimeout(() => {
        if (this.isCurrent(pc) && this.negotiator.waitingForAnswer) {
          this.connectionLost(pc, "unanswered");
        }
      }, RECONNECT.answerWaitMs);
    }
    return this.outbox.description(() => this.signaling.postDescription(description));
  }

  async applyCandidates(pc, payloads) {
    for (const payload of payloads) {
      if (!this.isCurrent(pc)) return;
      try {
        await pc.addIceCandidate(payload);
      } catch (err) {
        // A stale candidate (from an earlier connection or ICE credentials) does not fit.
        if (!this.negotiator.ignoreOffer) console.warn("ignored a candidate:", err.message);
      }
    }
  }

  // -- the push channel ------------------------------------------------------------------

  onEvents(events) {
    // The answer, in-call descriptions, the other side's candidates and how many are in the
    // room: what this call waits on the server for. Applied in order, one answer at a time.
    if (this.ended) return;
    const pc = this.pc;
    const risen = events.peers > this.peers;
    this.peers = events.peers;
    if (pc && events.peers >= 2) this.partnerPresent = true;
    this.inbox = this.inbox
      .then(() => this.apply(pc, events))
      .catch((err) => console.warn("could not apply what the server sent:", err.message));
    const partnerGone = events.peers < 2 && pc && this.partnerPresent;
    if (partnerGone && this.recovery.active) {
      this.recovery.step();
    } else if (partnerGone && this.described && !this.everConnected) {
      this.renegotiate(pc, "The other person went away before the call connected. Waiting again…");
    } else if (pc && this.role === "initiator" && !this.answered && !events.answer && !risen) {
      // Someone entering is about to answer: only a quiet room makes us check our offer.
      this.keepOffer(pc);
    }
    // A drop in the count while connected changes nothing: the server may have restarted,
    // and media do not pass through it. Only a `bye`, or a connection that cannot be
    // brought back, ends a call.
  }

  async apply(pc, { answer, descriptions = [], candidates = [] }) {
    const payloads = candidates.map((item) => item.payload);
    if (!pc || !this.isCurrent(pc)) {
      if (!this.ended) this.pendingCandidates.push(...payloads);
      return;
    }
    if (answer && this.role === "initiator" && !this.answered) {
      try {
        await this.acceptAnswer(pc, answer);
      } catch (err) {
        if (!this.isCurrent(pc)) return;
        if (this.everConnected) this.connectionLost(pc, "answer");
        else this.fail(err);
        return;
      }
    }
    for (const { payload } of descriptions) {
      if (payload.type === "offer") this.recovery.offered();
      try {
        await this.negotiator.receive(payload);
      } catch (err) {
        console.warn("could not apply the other side's description:", err.message);
      }
    }
    if (!this.described) this.pendingCandidates.push(...payloads);
    else await this.applyCandidates(pc, payloads);
  }

  async keepOffer(pc) {
    // Waiting, and nobody answered: make sure our offer is still there to be answered (a
    // previous call's hang-up may have cleared the room just after we posted it). If someone
    // else's offer is there now, answer that instead.
    try {
      const offer = await this.signaling.readOffer();
      if (!this.isCurrent(pc) || offer || this.answered || !this.offerPayload) return;
      await this.signaling.postOffer(this.offerPayload);
    } catch (err) {
      if (!this.isCurrent(pc)) return;
      if (err instanceof ApiError && err.code === "offer_exists") {
        // Someone else's offer: answer it. In a call being rebuilt, that is the partner's,
        // and our place stays ours.
        if (this.everConnected) this.rebuild();
        else this.renegotiate(pc, null, "waiting");
      } else if (err instanceof ApiError && !err.retriable) {
        this.fail(err);
      }
    }
  }

  async renegotiate(pc, text, state = "waiting") {
    // The other person vanished: leave (taking what we sent along) and start over on the
    // same camera, as whoever comes first. The chat so far stays on screen.
    if (!this.isCurrent(pc)) return;
    this.pc = null;
    this.recovery.stop();
    this.connected = false;
    closeConnection(pc, this.dc);
    this.pendingCandidates = [];
    this.emit("remote", { stream: null });
    this.status(state, text);
    let offer;
    try {
      await this.signaling.leave();
      if (this.ended) return;
      const joined = await this.signaling.join();
      if (this.ended) return;
      offer = joined.offer;
      this.onEvents(joined);
    } catch (err) {
      this.fail(err);
      return;
    }
    await this.negotiate(offer);
  }

  // -- a lost connection, brought back (recovery.js) ------------------------------------

  connectionLost(pc, reason) {
    // The path to the other person broke (`reason`: "disconnected", "failed", "online",
    // "answer", "quiet", or one of NO_RESTART's): bring it back without a click, while they
    // hold a place.
    if (!this.isCurrent(pc) || !this.everConnected) return;
    if (NO_RESTART.has(reason)) this.noRestart = reason;
    this.connected = false;
    if (this.recovery.begin()) this.status("reconnecting");
    this.recovery.step(); // at once, or sooner than planned
  }

  recoveryActions() {
    // What recovery.js reads of this call, and the steps it takes.
    return {
      read: () => ({
        partnerPlaced: !this.partnerPresent || this.peers >= 2,
        canRestart:
          Boolean(this.pc) && !this.anonymousPartner && this.noRestart === null,
        answered: !this.pc || !this.negotiator.waitingForAnswer,
      }),
      restart: () => this.negotiator.restartIce(),
      fresh: () => this.rebuild(),
      rejoin: () =>
        this.renegotiate(this.pc, "The other person left the call. Waiting for them to come back…"),
      giveUp: () => this.end("lost", new Error("the connection could not be restored")),
    };
  }

  async rebuild() {
    // A fresh connection in the same room, keeping our place, camera and chat: the seed's
    // flow again (whoever reads no offer posts one, the other answers it).
    const pc = this.pc;
    this.pc = null;
    closeConnection(pc, this.dc);
    this.emit("remote", { stream: null });
    await this.negotiate();
  }

  restartIce() {
    // An ICE restart in the live call, now (the browser came back online, or asked for).
    if (this.pc && !this.anonymousPartner) this.negotiator.restartIce();
  }

  networkChanged() {
    // The browser says it is online again: the old path may be gone with the old network.
    // A connection that still looks fine gets new ICE credentials at once, quietly.
    if (!this.pc || !this.everConnected) return;
    if (this.connected) this.restartIce();
    else this.connectionLost(this.pc, "online");
  }

  // -- the connection and the chat -------------------------------------------------------

  setupChannel(pc, dc) {
    this.dc = dc;
    dc.addEventListener("open", () => {
      if (!this.isCurrent(pc)) return;
      this.emit("channel", { open: true });
      this.checkConnected(pc);
    });
    dc.addEventListener("close", () => {
      if (!this.isCurrent(pc)) return;
      this.emit("channel", { open: false });
      // A client that speaks only the seed's messages says no bye: its closing is its hang-up.
      if (this.anonymousPartner && this.connected) this.end("left");
      else this.connectionLost(pc, "channel");
    });
    dc.addEventListener("message", (event) => {
      if (this.isCurrent(pc)) this.receive(event.data);
    });
  }

  isStale(pc) {
    // A ping went unanswered on a connection that ICE calls connected, soon after an in-call
    // exchange: that exchange left a path that carries nothing (heartbeat.js), and ICE,
    // which sees nothing wrong, cannot bring it back.
    return (
      pc.connectionState === "connected" &&
      this.negotiatedAt !== null &&
      Date.now() - this.negotiatedAt < RECONNECT.staleAfterExchangeMs
    );
  }

  receive(data) {
    const received = readData(data);
    if (received.type === "message" && this.heartbeat.receive(received.message)) return;
    if (received.type === "bye") this.end("left");
    else if (received.type === "chat") this.emit("chat", { text: received.text });
    else this.emit("message", { message: received.message });
  }

  send(text) {
    // A chat message; false when the channel is not open. A client without a peer id gets
    // it as plain text, as it sends its own.
    if (!this.dc || this.dc.readyState !== "open") return false;
    this.dc.send(chatData(text, this.anonymousPartner));
    return true;
  }

  sendMessage(message) {
    // Any other envelope ({type, ...}) for the other person; false when the channel is not
    // open, or the partner only understands plain text.
    // partnerPresent, not anonymousPartner: the page sends its state as the channel opens,
    // before the call has decided the latter.
    if (!this.dc || this.dc.readyState !== "open" || !this.partnerPresent) return false;
    this.dc.send(JSON.stringify(message));
    return true;
  }

  onConnectionState(pc) {
    if (!this.isCurrent(pc)) return;
    const state = pc.connectionState;
    clearTimeout(this.disconnectedTimer);
    if (state === "connected") {
      this.checkConnected(pc);
    } else if (state === "disconnected" && this.everConnected) {
      // A partner whose place is gone (its tab crashed or closed) will not heal the path.
      const grace = this.partnerPresent && this.peers < 2 ? 0 : RECONNECT.disconnectedGraceMs;
      this.disconnectedTimer = setTimeout(() => this.connectionLost(pc, "disconnected"), grace);
    } else if (state === "failed") {
      if (this.everConnected) this.connectionLost(pc, "failed");
      else this.fail(new Error("no network path to the other person (a TURN relay may help)"));
    }
  }

  checkConnected(pc) {
    // Connected means media can flow and the chat channel is open.
    if (!this.isCurrent(pc) || pc.connectionState !== "connected") return;
    if (!this.dc || this.dc.readyState !== "open") return;
    if (!this.connected) this.anonymousPartner = !this.partnerPresent;
    if (!this.anonymousPartner) this.heartbeat.start(); // a seed client knows no ping
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
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.unplacedTimer);
    clearTimeout(this.disconnectedTimer);
    clearTimeout(this.unansweredTimer);
    if (this.heartbeat) this.heartbeat.stop();
    this.recovery.stop();
    this.signaling.stop();
    let said = false;
    if (reason !== "left" && !this.anonymousPartner && this.dc && this.dc.readyState === "open") {
      try {
        this.dc.send(BYE);
        said = true;
      } catch (err) {
        // The channel closed in between: the other side notices the close instead.
      }
    }
    if (this.pc) stopSending(this.pc);
    if (said) closeAfterSending(this.pc, this.dc);
    else closeConnection(this.pc, this.dc);
    this.pc = null;
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
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.unplacedTimer);
    clearTimeout(this.disconnectedTimer);
    clearTimeout(this.unansweredTimer);
    if (this.heartbeat) this.heartbeat.stop();
    this.recovery.stop();
    this.signaling.stop();
    closeConnection(this.pc, this.dc);
  }

  // -- what we send ----------------------------------------------------------------------

  async useTrack(kind, track) {
    // Send `track` as our "audio" or "video" (tracks.js); one added where we sent none of
    // its kind (no camera when we joined) is negotiated in the live call. False when there
    // is no connection to send it on.
    const pc = this.pc;
    return Boolean(pc) && (await sendTrack(pc, kind, track, this.localStream)) && this.isCurrent(pc);
  }

  replaceVideo(track) {
    return this.useTrack("video", track);
  }

  // -- helpers ---------------------------------------------------------------------------

  isCurrent(pc) {
    return !this.ended && this.pc === pc;
  }

  status(state, text = null) {
    this.state = state;
    this.emit("status", { state, text, since: this.recovery.since });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
