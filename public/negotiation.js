// Negotiation in a live call, for one RTCPeerConnection and one partner: the W3C "perfect
// negotiation" pattern (webrtc-pc, "Perfect negotiation example"), over our push channel.
// Either side may offer at any time (a track added, an ICE restart); when offers cross, the
// polite side rolls its own back and answers, the impolite side ignores the other's offer.
// Who is polite is the protocol's rule, so both agree without talking: the side that answered
// the room's offer for this connection (docs/protocol.md, "In-call negotiation"). One
// Negotiator per pair of people, so a call of several could run one per pair.
//
// The first offer and answer of a connection are the seed's (call.js); this only takes over
// once both descriptions are in place.
//
// One change to the pattern: an ICE restart's offer goes out before it is applied, and is
// applied with the answer. Applied at once, our new candidates are checked against the
// partner's old ones, which the partner's old ICE session still answers until our offer
// reaches it: Chromium and Firefox then settle on a pair of two generations, and once the
// partner drops its old session the media and the chat go nowhere while both say
// "connected". Unapplied, our offer is rolled back by dropping it.

export class Negotiator {
  constructor(pc, { polite, send, settled = () => {} }) {
    this.pc = pc;
    this.polite = polite;
    this.send = send; // (description) => Promise: posts it for the partner
    this.settled = settled; // () => void: an exchange is done, both descriptions applied
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.isSettingRemoteAnswerPending = false;
    this.offersSent = 0;
    this.answersReceived = 0;
    this.restartWanted = false; // an ICE restart to offer once stable
    this.restartOffer = null; // that offer, sent and not yet applied
    pc.addEventListener("negotiationneeded", () => this.onNegotiationNeeded());
  }

  get live() {
    // The seed's first exchange is done: from now on, negotiation is ours.
    return Boolean(this.pc.localDescription && this.pc.remoteDescription);
  }

  async onNegotiationNeeded() {
    // The spec's handler: an offer of our own, made by setLocalDescription(). Before the
    // first exchange the room's offer carries everything, so nothing is sent.
    if (!this.live || this.pc.signalingState === "closed" || this.restartOffer) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      // Another offer may have been applied meanwhile (we were polite): only an offer goes.
      if (this.pc.localDescription.type !== "offer") return;
      this.offersSent += 1;
      await this.send(keepDtlsRole(this.pc, this.pc.localDescription.toJSON()));
    } catch (err) {
      console.warn("could not renegotiate:", err.message);
    } finally {
      this.makingOffer = false;
    }
  }

  async receive(description) {
    // The spec's message handler, for an in-call offer or answer from the partner.
    const pc = this.pc;
    // Before the first exchange is done, an in-call description is one left over from an
    // earlier connection: nothing to renegotiate yet.
    if (!this.live || pc.signalingState === "closed" || !this.sameSession(description)) return;
    const readyForOffer =
      !this.makingOffer &&
      !this.restartOffer &&
      (pc.signalingState === "stable" || this.isSettingRemoteAnswerPending);
    const offerCollision = description.type === "offer" && !readyForOffer;
    this.ignoreOffer = !this.polite && offerCollision;
    if (this.ignoreOffer) return;
    if (description.type === "offer" && this.restartOffer) {
      // Polite, with our restart's offer out: it goes, unapplied, and is offered again
      // once this one is answered (the impolite side ignores it meanwhile).
      this.restartOffer = null;
      this.restartWanted = true;
    }
    if (description.type === "answer" && this.restartOffer) {
      await this.applyRestart(description);
      return;
    }
    // An answer that finds no offer of ours waiting (it answers one we rolled back, or it
    // came twice) has nothing to apply to.
    if (description.type === "answer" && pc.signalingState !== "have-local-offer") return;
    this.isSettingRemoteAnswerPending = description.type === "answer";
    try {
      await pc.setRemoteDescription(description); // rolls our own offer back if need be
    } finally {
      this.isSettingRemoteAnswerPending = false;
    }
    if (description.type === "answer") {
      this.answersReceived += 1;
      this.settled();
      this.offerRestart(); // one asked for meanwhile
      return;
    }
    await pc.setLocalDescription();
    this.settled();
    const sent = this.send(pc.localDescription.toJSON());
    this.offerRestart(); // one asked for meanwhile: it goes out right after our answer
    await sent;
  }

  restartIce() {
    // New ICE credentials on the same connection: the offer goes out first, and is applied
    // with the answer (see the top of this file).
    this.restartWanted = true;
    this.offerRestart();
  }

  async offerRestart() {
    // The ICE restart, when one is wanted and nothing else is under way.
    const pc = this.pc;
    if (!this.restartWanted || this.restartOffer || this.makingOffer) return;
    if (!this.live || pc.signalingState !== "stable") return; // again once stable
    this.restartWanted = false;
    this.makingOffer = true;
    const partnerBefore = pc.remoteDescription.sdp;
    let offer;
    try {
      offer = await pc.createOffer({ iceRestart: true });
    } catch (err) {
      console.warn("could not restart ICE:", err.message);
      return;
    } finally {
      this.makingOffer = false;
    }
    if (pc.signalingState !== "stable" || pc.remoteDescription.sdp !== partnerBefore) {
      // The partner's offer came in meanwhile: ours is made again, after it.
      this.restartWanted = true;
      this.offerRestart();
      return;
    }
    // From here the offer is out: `restartOffer` tells a crossing offer so.
    this.restartOffer = offer;
    this.offersSent += 1;
    await this.send(keepDtlsRole(pc, { type: offer.type, sdp: offer.sdp }));
  }

  async applyRestart(answer) {
    // Our restart offer, then the partner's answer to it: both ICE generations now known.
    const offer = this.restartOffer;
    this.restartOffer = null;
    this.isSettingRemoteAnswerPending = true;
    try {
      await this.pc.setLocalDescription(offer);
      await this.pc.setRemoteDescription(answer);
      this.answersReceived += 1;
      this.settled();
    } catch (err) {
      // The connection changed since the offer was made: the partner has new credentials
      // of its answer, and we offer a restart of our own again.
      console.warn("could not apply the ICE restart:", err.message);
      this.restartWanted = true;
    } finally {
      this.isSettingRemoteAnswerPending = false;
    }
    this.offerRestart();
  }

  get waitingForAnswer() {
    // Our in-call offer is out and unanswered.
    return this.pc.signalingState === "have-local-offer" || this.restartOffer !== null;
  }

  sameSession(description) {
    // A description for this connection carries the partner's session id (the SDP's o=
    // line), which stays the same for the life of its RTCPeerConnection; one left over from
    // an earlier connection (a fresh one replaced it) does not, and is dropped.
    return sessionId(this.pc.remoteDescription.sdp) === sessionId(description.sdp);
  }
}

export function sessionId(sdp) {
  // The session id of an SDP's origin line: "o=<user> <session id> <version> ...".
  const match = /^o=\S+ (\S+) /m.exec(sdp || "");
  return match ? match[1] : null;
}

export function keepDtlsRole(pc, offer) {
  // An in-call offer says "a=setup:actpass" (either DTLS role), and an answerer takes
  // "active" for it. Where we are the DTLS client, that flips the roles, which Chromium
  // cannot apply to a transport already up ("Failed to set SSL role"; Firefox answers that
  // way): the offer that goes out says "active", so the answer keeps us the client (RFC
  // 8842 allows either value in a subsequent offer). Where we are the server, actpass stays:
  // Firefox takes an offer saying "passive" as a new DTLS association and the chat channel
  // goes quiet. Our own description is untouched.
  if (currentRole(pc) !== "active") return offer;
  return { ...offer, sdp: offer.sdp.replace(/^a=setup:actpass$/gm, "a=setup:active") };
}

function currentRole(pc) {
  // "active" (we are the DTLS client) or "passive", from the descriptions in force.
  const setup = (description) => {
    const match = /^a=setup:(\w+)/m.exec((description && description.sdp) || "");
    return match ? match[1] : null;
  };
  const local = setup(pc.currentLocalDescription);
  if (local === "active" || local === "passive") return local;
  const remote = setup(pc.currentRemoteDescription);
  if (remote === "active") return "passive";
  if (remote === "passive") return "active";
  return null;
}
