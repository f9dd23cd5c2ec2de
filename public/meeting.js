// How two people meet in a room and connect, with no DOM: entering, the seed's first exchange
// (docs/protocol.md: the first in the room posts an offer and waits; the second answers it;
// both trickle candidates), and what the push channel brings meanwhile and later. Posting an
// offer is create-if-absent, so two people starting at once still end up with one initiator.
// Someone who goes away before the call connects is waited for again with a fresh offer.
//
// call.js's Call is a Meeting that also keeps the call: it wires each connection to itself,
// brings a lost one back, carries the chat, and ends. What a meeting asks of it:
// newConnection(), status(), fail(), rebuild(), connectionLost() and its `recovery`
// (recovery.js).
import { ApiError } from "./signaling.js";
import { stopTracks } from "./tracks.js";

// An offer read this recently is still taken as the room's; after a longer camera prompt,
// the room is read again.
const OFFER_FRESH_MS = 1000;
// The push channel starts once our offer or answer is out; a camera prompt that lasts this
// long starts it sooner, so that our place in the room (kept by our requests for the
// server's peer timeout, 10 s by default) does not lapse while the person decides.
const KEEP_PLACE_MS = 3000;
// How long an answer to a client without a place in the room may take to connect.
const UNPLACED_ANSWER_MS = 15000;

export class Meeting extends EventTarget {
  constructor(signaling, { getMedia = async () => null, PeerConnection } = {}) {
    super();
    this.signaling = signaling;
    this.getMedia = getMedia;
    this.PeerConnection = PeerConnection || globalThis.RTCPeerConnection;
    this.localStream = null;
    this.rtcConfig = null; // for new RTCPeerConnection, from the server
    this.link = null; // the Connection to the other person (connection.js)
    this.connected = false; // media can flow and the chat channel is open
    this.everConnected = false;
    this.ended = false;
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
    const link = this.newConnection();
    try {
      let offer = known !== undefined ? known : await this.signaling.readOffer();
      if (!this.isCurrent(link)) return;
      if (offer && this.ourOffers.has(offer.sdp)) offer = null; // ours, from before: replaced
      if (offer) {
        await this.answerOffer(link, offer);
        return;
      }
      try {
        await this.makeOffer(link);
        return;
      } catch (err) {
        if (!(err instanceof ApiError && err.code === "offer_exists")) throw err;
      }
    } catch (err) {
      if (!this.isCurrent(link)) return;
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
    if (!this.isCurrent(link)) return;
    link.close();
    await this.negotiate();
  }

  async makeOffer(link) {
    const offer = await link.offer(this.localStream);
    this.offerPayload = offer;
    this.ourOffers.add(offer.sdp);
    await this.signaling.postOffer(offer);
    if (!this.isCurrent(link)) return;
    this.ensureListening();
    link.outbox.release();
    // Waiting already (starting over said why): the reason stays on screen.
    if (!this.recovery.active && this.state !== "waiting") this.status("waiting");
  }

  async answerOffer(link, offer) {
    // The answer goes out as soon as it is made: the other person waits for it. The
    // initiator's candidates wait in pendingCandidates meanwhile, and are applied after
    // (one at a time, they took 10-20 ms before the answer could be made).
    const answer = await link.answer(offer);
    if (!this.isCurrent(link)) return;
    // The answer takes the answered offer along on the server (the seed's DELETE of it).
    const posted = this.signaling.postAnswer(answer);
    posted.catch(() => {}); // its failure is handled below, once the candidates are in
    if (!this.recovery.active) this.status("connecting");
    await this.isDescribed(link);
    await posted;
    if (!this.isCurrent(link)) return;
    this.ensureListening();
    link.outbox.release();
    if (!link.partnerPresent) {
      // The offer came from a client without a place in the room, so no count tells whether
      // it is still there: if the call does not connect, it was not (the offer is gone now).
      link.unplacedTimer = setTimeout(() => {
        // The count may have come after the answer: only a partner it never showed.
        if (this.isCurrent(link) && !this.everConnected && !link.partnerPresent) {
          this.renegotiate(link, "Nobody answered from the other side. Waiting again…");
        }
      }, UNPLACED_ANSWER_MS);
    }
  }

  async acceptAnswer(link, answer) {
    link.answered = true;
    if (!this.recovery.active) this.status("connecting");
    await link.pc.setRemoteDescription(answer);
    if (this.isCurrent(link)) await this.isDescribed(link);
  }

  async isDescribed(link) {
    // The other person's description is applied: the candidates that came first, too.
    link.described = true;
    await link.applyCandidates(this.pendingCandidates.splice(0));
  }

  // -- the push channel ------------------------------------------------------------------

  onEvents(events) {
    // The answer, in-call descriptions, the other side's candidates and how many are in the
    // room: what this call waits on the server for. Applied in order, one answer at a time.
    if (this.ended) return;
    const link = this.link;
    const risen = events.peers > this.peers;
    this.peers = events.peers;
    if (link && events.peers >= 2) link.partnerPresent = true;
    this.inbox = this.inbox
      .then(() => this.apply(link, events))
      .catch((err) => console.warn("could not apply what the server sent:", err.message));
    const partnerGone = events.peers < 2 && link && link.partnerPresent;
    if (partnerGone && this.recovery.active) {
      this.recovery.step();
    } else if (partnerGone && link.described && !this.everConnected) {
      this.renegotiate(link, "The other person went away before the call connected. Waiting again…");
    } else if (link && link.role === "initiator" && !link.answered && !events.answer && !risen) {
      // Someone entering is about to answer: only a quiet room makes us check our offer.
      this.keepOffer(link);
    }
    // A drop in the count while connected changes nothing: the server may have restarted,
    // and media do not pass through it. Only a `bye`, or a connection that cannot be
    // brought back, ends a call.
  }

  async apply(link, { answer, descriptions = [], candidates = [] }) {
    const payloads = candidates.map((item) => item.payload);
    if (!link || !this.isCurrent(link)) {
      if (!this.ended) this.pendingCandidates.push(...payloads);
      return;
    }
    if (answer && link.role === "initiator" && !link.answered) {
      try {
        await this.acceptAnswer(link, answer);
      } catch (err) {
        if (!this.isCurrent(link)) return;
        if (this.everConnected) this.connectionLost(link, "answer");
        else this.fail(err);
        return;
      }
    }
    for (const { payload } of descriptions) {
      if (payload.type === "offer") this.recovery.offered();
      try {
        await link.negotiator.receive(payload);
      } catch (err) {
        console.warn("could not apply the other side's description:", err.message);
      }
    }
    if (!link.described) this.pendingCandidates.push(...payloads);
    else await link.applyCandidates(payloads);
  }

  async keepOffer(link) {
    // Waiting, and nobody answered: make sure our offer is still there to be answered (a
    // previous call's hang-up may have cleared the room just after we posted it). If someone
    // else's offer is there now, answer that instead.
    try {
      const offer = await this.signaling.readOffer();
      if (!this.isCurrent(link) || offer || link.answered || !this.offerPayload) return;
      await this.signaling.postOffer(this.offerPayload);
    } catch (err) {
      if (!this.isCurrent(link)) return;
      if (err instanceof ApiError && err.code === "offer_exists") {
        // Someone else's offer: answer it. In a call being rebuilt, that is the partner's,
        // and our place stays ours.
        if (this.everConnected) this.rebuild();
        else this.renegotiate(link, null, "waiting");
      } else if (err instanceof ApiError && !err.retriable) {
        this.fail(err);
      }
    }
  }

  async renegotiate(link, text, state = "waiting") {
    // The other person vanished: leave (taking what we sent along) and start over on the
    // same camera, as whoever comes first. The chat so far stays on screen.
    if (!this.isCurrent(link)) return;
    this.link = null;
    this.recovery.stop();
    this.connected = false;
    link.close();
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

  isCurrent(link) {
    return !this.ended && this.link === link;
  }

  status(state, text = null) {
    this.state = state;
    this.emit("status", { state, text, since: this.recovery.since });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
