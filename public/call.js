// One person's side of a two-person call, with no DOM: the RTCPeerConnection flow over a
// SignalingClient. It emits events and the page decides what to show:
//   status  {state, text}  "connecting", "waiting", "connected", "interrupted"
//   media   {stream}       our camera and microphone (null: none)
//   remote  {stream}       the other person's media (null: gone, before a new attempt)
//   channel {open}         the chat channel opened or closed
//   chat    {text}         a chat message from the other person
//   end     {reason, error} "hangup", "left", "full" or "error"; then `left` settles
//
// The seed's flow (docs/protocol.md): the first in the room posts an offer and waits; the
// second answers it; both trickle candidates. Posting an offer is create-if-absent, so two
// people starting at once still end up with one initiator.
import { ApiError, sleep } from "./signaling.js";

// An offer read this recently is still taken as the room's; after a longer camera prompt,
// the room is read again.
const OFFER_FRESH_MS = 1000;
const RETRY_MS = 1000;
// How long an answer to a client without a place in the room may take to connect.
const UNPLACED_ANSWER_MS = 15000;

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
    this.ended = false;
    // Settles once our place in the room is given back (a new call waits for it).
    this.left = Promise.resolve();
    this.pendingCandidates = []; // the other side's, come before their description
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
      offer = await this.signaling.enter();
      const readAt = Date.now();
      if (this.ended) return;
      this.listen();
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

  listen() {
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
      const offer = known !== undefined ? known : await this.signaling.readOffer();
      if (!this.isCurrent(pc)) return;
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
      if (this.isCurrent(pc)) this.fail(err);
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
    this.offerPayload = null;
    this.outgoing = []; // our candidates, held until our offer or answer is stored
    this.canSendCandidates = false;
    this.remoteStream = null;
    // Whether the other person holds a place in the room. A client that sends no peer id
    // never does: its leaving shows on the connection, not in the count.
    this.partnerPresent = this.peers >= 2;
    this.anonymousPartner = false;
    if (this.localStream) {
      for (const track of this.localStream.getTracks()) pc.addTrack(track, this.localStream);
    }
    pc.addEventListener("icecandidate", (event) => {
      if (!this.isCurrent(pc) || !event.candidate) return;
      const candidate = event.candidate.toJSON();
      if (this.canSendCandidates) this.sendCandidate(pc, candidate);
      else this.outgoing.push(candidate);
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
    await this.signaling.postOffer(this.offerPayload);
    if (!this.isCurrent(pc)) return;
    this.flushOutgoing(pc);
    this.status("waiting");
  }

  async answerOffer(pc, offer) {
    // The initiator's candidates already come through the push channel, and wait in
    // pendingCandidates until the offer is applied.
    this.role = "receiver";
    this.status("connecting");
    await pc.setRemoteDescription(offer);
    if (!this.isCurrent(pc)) return;
    await this.isDescribed(pc);
    await pc.setLocalDescription(await pc.createAnswer());
    if (!this.isCurrent(pc)) return;
    await this.signaling.postAnswer(pc.localDescription.toJSON());
    if (!this.isCurrent(pc)) return;
    this.flushOutgoing(pc);
    this.signaling.deleteOffer().catch((err) => {
      if (this.isCurrent(pc)) console.warn("could not clear the answered offer:", err.message);
    });
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
    this.status("connecting");
    await pc.setRemoteDescription(answer);
    if (this.isCurrent(pc)) await this.isDescribed(pc);
  }

  async isDescribed(pc) {
    // The other person's description is applied: the candidates that came first, too.
    this.described = true;
    await this.applyCandidates(pc, this.pendingCandidates.splice(0));
  }

  flushOutgoing(pc) {
    // The candidates gathered while our offer or answer was on its way.
    this.canSendCandidates = true;
    for (const candidate of this.outgoing.splice(0)) this.sendCandidate(pc, candidate);
  }

  sendCandidate(pc, candidate) {
    this.signaling.postCandidate(this.role, candidate).catch(async (err) => {
      if (!this.isCurrent(pc)) return;
      if (err instanceof ApiError && err.status === 429) {
        // Over the server's rate limit (many calls from one address): send it again soon.
        await sleep(RETRY_MS);
        if (this.isCurrent(pc)) this.sendCandidate(pc, candidate);
        return;
      }
      console.warn("could not send a candidate:", err.message);
    });
  }

  async applyCandidates(pc, payloads) {
    for (const payload of payloads) {
      if (!this.isCurrent(pc)) return;
      try {
        await pc.addIceCandidate(payload);
      } catch (err) {
        // A stale candidate (from an earlier connection) does not fit: drop it all the same.
        console.warn("ignored a candidate:", err.message);
      }
    }
  }

  // -- the push channel ------------------------------------------------------------------

  onEvents({ peers, answer, candidates }) {
    // The answer, the other side's candidates and how many are in the room: the one thing
    // this call waits on the server for.
    if (this.ended) return;
    const pc = this.pc;
    this.peers = peers;
    if (pc && peers >= 2) this.partnerPresent = true;
    const payloads = candidates.map((item) => item.payload);
    if (!pc || !this.described) {
      this.pendingCandidates.push(...payloads);
    } else {
      this.applyCandidates(pc, payloads);
    }
    if (pc && answer && this.role === "initiator" && !this.answered) {
      this.acceptAnswer(pc, answer).catch((err) => {
        if (this.isCurrent(pc)) this.fail(err);
      });
    }
    const partnerGone = peers < 2 && pc && this.partnerPresent;
    if (partnerGone && this.everConnected) {
      this.end("left");
    } else if (partnerGone && this.described) {
      this.renegotiate(pc, "The other person went away before the call connected. Waiting again…");
    } else if (pc && this.role === "initiator" && !this.answered && !answer) {
      this.keepOffer(pc);
    }
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
        this.renegotiate(pc, null, "waiting");
      } else if (err instanceof ApiError && !err.retriable) {
        this.fail(err);
      }
    }
  }

  async renegotiate(pc, text, state = "waiting") {
    // The other person vanished before the call connected: leave (taking what we sent along)
    // and start over on the same camera, as whoever comes first.
    if (!this.isCurrent(pc)) return;
    this.pc = null;
    closeConnection(pc, this.dc);
    this.pendingCandidates = [];
    this.emit("remote", { stream: null });
    this.status(state, text);
    let offer;
    try {
      await this.signaling.leave();
      if (this.ended) return;
      offer = await this.signaling.enter();
      if (this.ended) return;
      this.listen();
    } catch (err) {
      this.fail(err);
      return;
    }
    await this.negotiate(offer);
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
      if (this.connected) this.end("left");
    });
    dc.addEventListener("message", (event) => {
      if (this.isCurrent(pc)) this.receive(event.data);
    });
  }

  receive(data) {
    // Our messages are JSON envelopes; anything else (plain text from another client) is
    // shown as it came.
    let message = null;
    try {
      message = JSON.parse(data);
    } catch (err) {
      message = null;
    }
    const type = message && typeof message === "object" ? message.type : null;
    if (type === "bye") this.end("left");
    else if (type === "chat" && typeof message.text === "string") this.emit("chat", message);
    else this.emit("chat", { text: String(data) });
  }

  send(text) {
    // A chat message; false when the channel is not open. A client without a peer id gets
    // it as plain text, as it sends its own.
    if (!this.dc || this.dc.readyState !== "open") return false;
    this.dc.send(this.anonymousPartner ? text : JSON.stringify({ type: "chat", text }));
    return true;
  }

  onConnectionState(pc) {
    if (!this.isCurrent(pc)) return;
    const state = pc.connectionState;
    if (state === "connected") {
      this.checkConnected(pc);
    } else if (state === "disconnected" && this.connected) {
      this.status("interrupted", "Connection interrupted: trying to reconnect…");
    } else if (state === "failed" || state === "closed") {
      if (this.everConnected) this.end("left");
      else this.fail(new Error("no network path to the other person (a TURN relay may help)"));
    }
  }

  checkConnected(pc) {
    // Connected means media can flow and the chat channel is open.
    if (!this.isCurrent(pc) || pc.connectionState !== "connected") return;
    if (!this.dc || this.dc.readyState !== "open") return;
    this.connected = true;
    this.everConnected = true;
    this.anonymousPartner = !this.partnerPresent;
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
    this.signaling.stop();
    if (reason !== "left" && !this.anonymousPartner && this.dc && this.dc.readyState === "open") {
      try {
        this.dc.send(JSON.stringify({ type: "bye" }));
      } catch (err) {
        // The channel closed in between: the other side notices the close instead.
      }
    }
    closeConnection(this.pc, this.dc);
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

  // -- what video we send ---------------------------------------------------------------

  async replaceVideo(track) {
    // Send `track` (a shared screen, or the camera again) instead of the video we send now,
    // on the same sender: no renegotiation, the other side's picture just changes. False
    // when this call sends no video (no camera, or no connection).
    const pc = this.pc;
    const sender = pc && pc.getSenders().find((s) => s.track && s.track.kind === "video");
    if (!sender) return false;
    await sender.replaceTrack(track);
    return this.isCurrent(pc);
  }

  // -- helpers ---------------------------------------------------------------------------

  isCurrent(pc) {
    return !this.ended && this.pc === pc;
  }

  status(state, text = null) {
    this.emit("status", { state, text });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function closeConnection(pc, dc) {
  if (dc) dc.close();
  if (pc) pc.close();
}

export function stopTracks(stream) {
  if (stream) for (const track of stream.getTracks()) track.stop();
}
