// One RTCPeerConnection with one partner, and what rides on it: our tracks, the chat
// channel, the pair's first exchange (the room's offer and its answer), the in-call
// negotiation (negotiation.js), what goes to the partner through the server (outbox.js) and
// the heartbeat (heartbeat.js). A call holds one at a time (call.js); a call of several people
// would hold one per partner.
import { BYE, chatData, readData } from "./envelopes.js";
import { Heartbeat } from "./heartbeat.js";
import { Negotiator } from "./negotiation.js";
import { Outbox } from "./outbox.js";
import { RECONNECT } from "./recovery.js";
import { closeAfterSending, closeConnection, stopSending } from "./tracks.js";

export class Connection {
  // `on` is how the call hears of it, each only while the connection is the call's:
  //   current()      whether it still is (a replaced or closed connection says nothing)
  //   track(stream)  the partner's media gained a track
  //   channel(dc)    the chat channel, once there is one
  //   data(received) an envelope from the partner (envelopes.js), pings and pongs aside
  //   state()        the connection state changed
  //   lost(reason)   "quiet", "stale" or "unanswered": see call.js's NO_RESTART
  //   offered()      we sent an in-call offer
  //   answered()     a pong came
  constructor({ PeerConnection, config, stream, signaling, partnerPresent, on }) {
    const pc = new PeerConnection(config);
    this.pc = pc;
    this.dc = null;
    this.on = on;
    this.signaling = signaling;
    this.role = null; // "initiator" (posted the room's offer) or "receiver" (answered it)
    this.described = false; // the partner's description is applied
    this.answered = false;
    this.remoteStream = null;
    this.negotiatedAt = null; // when the last in-call exchange was done
    this.noRestart = null; // a reason an ICE restart cannot bring it back, once there is one
    // Whether the partner holds a place in the room. A client that sends no peer id never
    // does: its leaving shows on the connection, not in the count.
    this.partnerPresent = partnerPresent;
    this.anonymousPartner = false;
    this.outbox = new Outbox(signaling, { role: () => this.role, stillOurs: on.current });
    this.negotiator = new Negotiator(pc, {
      polite: false, // decided with the role: the receiver is polite
      send: (description) => this.sendDescription(description),
      settled: () => {
        this.negotiatedAt = Date.now();
      },
    });
    this.heartbeat = new Heartbeat({
      alive: on.current,
      send: (message) => this.sendMessage(message),
      quiet: () => on.lost(this.isStale() ? "stale" : "quiet"),
      answered: on.answered,
    });
    if (stream) for (const track of stream.getTracks()) pc.addTrack(track, stream);
    pc.addEventListener("icecandidate", (event) => {
      if (on.current() && event.candidate) this.outbox.candidate(event.candidate.toJSON());
    });
    pc.addEventListener("track", (event) => {
      if (!on.current()) return;
      if (!this.remoteStream) this.remoteStream = new MediaStream();
      this.remoteStream.addTrack(event.track);
      on.track(this.remoteStream);
    });
    pc.addEventListener("datachannel", (event) => {
      if (on.current()) this.useChannel(event.channel);
    });
    pc.addEventListener("connectionstatechange", () => {
      if (on.current()) on.state();
    });
  }

  // -- the first exchange ----------------------------------------------------------------

  async offer(stream) {
    // The room's offer, applied here: we start the connection and its chat channel.
    const pc = this.pc;
    this.role = "initiator";
    this.useChannel(pc.createDataChannel("chat"));
    // Without a camera or microphone, still ask for the other person's video and audio.
    if (!stream || stream.getAudioTracks().length === 0) {
      pc.addTransceiver("audio", { direction: "recvonly" });
    }
    if (!stream || stream.getVideoTracks().length === 0) {
      pc.addTransceiver("video", { direction: "recvonly" });
    }
    await pc.setLocalDescription(await pc.createOffer());
    return pc.localDescription.toJSON();
  }

  async answer(offer) {
    // Our answer to the room's offer, applied here.
    this.role = "receiver";
    this.negotiator.polite = true;
    await this.pc.setRemoteDescription(offer);
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    return this.pc.localDescription.toJSON();
  }

  sendDescription(description) {
    // An in-call offer or answer of negotiation.js, through the outbox. An offer still
    // unanswered after answerWaitMs, even on a connection that works, means the partner
    // cannot renegotiate so (an aiortc peer refuses ICE restarts): the call replaces the
    // connection rather than wait for good.
    if (description.type === "offer") {
      this.on.offered();
      clearTimeout(this.unansweredTimer);
      this.unansweredTimer = setTimeout(() => {
        if (this.on.current() && this.negotiator.waitingForAnswer) this.on.lost("unanswered");
      }, RECONNECT.answerWaitMs);
    }
    return this.outbox.description(() => this.signaling.postDescription(description));
  }

  async applyCandidates(payloads) {
    for (const payload of payloads) {
      if (!this.on.current()) return;
      try {
        await this.pc.addIceCandidate(payload);
      } catch (err) {
        // A stale candidate (from an earlier connection or ICE credentials) does not fit.
        if (!this.negotiator.ignoreOffer) console.warn("ignored a candidate:", err.message);
      }
    }
  }

  isStale() {
    // A ping went unanswered while ICE says connected, soon after an in-call exchange: that
    // exchange left a path that carries nothing (heartbeat.js), and ICE, which sees nothing
    // wrong, cannot bring it back.
    return (
      this.pc.connectionState === "connected" &&
      this.negotiatedAt !== null &&
      Date.now() - this.negotiatedAt < RECONNECT.staleAfterExchangeMs
    );
  }

  // -- the chat channel ------------------------------------------------------------------

  useChannel(dc) {
    this.dc = dc;
    this.on.channel(dc);
    dc.addEventListener("message", (event) => {
      if (this.on.current()) this.receive(event.data);
    });
  }

  get open() {
    return Boolean(this.dc) && this.dc.readyState === "open";
  }

  receive(data) {
    const received = readData(data);
    if (received.type === "message" && this.heartbeat.receive(received.message)) return;
    this.on.data(received);
  }

  send(text) {
    // A chat message; false when the channel is not open. A client without a peer id gets
    // it as plain text, as it sends its own.
    if (!this.open) return false;
    this.dc.send(chatData(text, this.anonymousPartner));
    return true;
  }

  sendMessage(message) {
    // Any other envelope ({type, ...}); false when the channel is not open, or the partner
    // only understands plain text. partnerPresent, not anonymousPartner: the page sends its
    // state as the channel opens, before the call has decided the latter.
    if (!this.open || !this.partnerPresent) return false;
    this.dc.send(JSON.stringify(message));
    return true;
  }

  hangUp(sayBye) {
    // We stop sending; with `sayBye`, a bye goes first, and the connection closes once it
    // is out.
    this.stop();
    stopSending(this.pc);
    if (sayBye && this.open) {
      try {
        this.dc.send(BYE);
        closeAfterSending(this.pc, this.dc);
        return;
      } catch (err) {
        // The channel closed in between: the other side notices the close instead.
      }
    }
    closeConnection(this.pc, this.dc);
  }

  close() {
    // Timers and heartbeat stopped, channel and connection closed.
    this.stop();
    closeConnection(this.pc, this.dc);
  }

  stop() {
    for (const timer of ["unplacedTimer", "disconnectedTimer", "unansweredTimer"]) {
      clearTimeout(this[timer]);
    }
    this.heartbeat.stop();
  }
}
