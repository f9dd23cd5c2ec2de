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

export class Negotiator {
  constructor(pc, { polite, send }) {
    this.pc = pc;
    this.polite = polite;
    this.send = send; // (description) => Promise: posts it for the partner
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.isSettingRemoteAnswerPending = false;
    this.offersSent = 0;
    this.answersReceived = 0;
    pc.addEventListener("negotiationneeded", () => this.onNegotiationNeeded());
  }

  get live() {
    // The seed's first exchange is done: from now on, negotiation is ours.
    return Boolean(this.pc.localDescription && this.pc.remoteDescription);
  }

  async onNegotiationNeeded() {
    // The spec's handler: an offer of our own, made by setLocalDescription(). Before the
    // first exchange the room's offer carries everything, so nothing is sent.
    if (!this.live || this.pc.signalingState === "closed") return;
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
      !this.makingOffer && (pc.signalingState === "stable" || this.isSettingRemoteAnswerPending);
    const offerCollision = description.type === "offer" && !readyForOffer;
    this.ignoreOffer = !this.polite && offerCollision;
    if (this.ignoreOffer) return;
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
      return;
    }
    await pc.setLocalDescription();
    await this.send(pc.localDescription.toJSON());
  }

  restartIce() {
    // New ICE credentials on the same connection: negotiationneeded carries the offer.
    this.pc.restartIce();
  }

  get waitingForAnswer() {
    // Our in-call offer is out and unanswered.
    return this.pc.signalingState === "have-local-offer";
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
  // An in-call offer says "a=setup:actpass" (either DTLS role); Firefox may answer it with
  // the role the other way round, which Chromium cannot apply to a transport already up
  // ("Failed to set SSL role"). The offer that goes out names the role we have, so the
  // answer keeps it (RFC 8842 allows either in a subsequent offer); our own description is
  // untouched.
  const role = currentRole(pc);
  if (!role) return offer;
  return { ...offer, sdp: offer.sdp.replace(/^a=setup:actpass$/gm, `a=setup:${role}`) };
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
