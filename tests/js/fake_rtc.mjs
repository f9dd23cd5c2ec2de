// A fake RTCPeerConnection for node --test: no media and no network, but the signaling
// state machine of webrtc-pc, faithful enough for perfect negotiation and the call's flow:
//   - stable / have-local-offer / have-remote-offer, on one operations chain, each operation
//     settling a turn of the event loop later (so two sides can interleave);
//   - setLocalDescription() without a description makes the offer or answer the state calls
//     for; an offer set remotely in have-local-offer rolls our own back (implicit rollback);
//     an answer in stable is an InvalidStateError;
//   - restartIce() asks for new ICE credentials: the next local offer carries them, and
//     negotiationneeded fires whenever the connection is stable, idle and the restart (or a
//     track added) is not negotiated yet, so also again after a rollback;
//   - SDPs carry an origin line (session id for the connection's life, a version), the ICE
//     ufrag and one m= line per transceiver;
//   - addIceCandidate needs a remote description, and refuses a candidate of other
//     credentials (its usernameFragment), as browsers do;
//   - the chat channel's other side answers heartbeat pings (FakeChannel.pongs).

let sessions = 1000;
let ufrags = 0;

const turn = () => new Promise((resolve) => setImmediate(resolve));

export class FakeDescription {
  constructor({ type, sdp }) {
    this.type = type;
    this.sdp = sdp;
  }
  toJSON() {
    return { type: this.type, sdp: this.sdp };
  }
}

export function fakeSdp({ session, version = 1, ufrag, media = [] }) {
  // An SDP of the shape the fake reads: origin, ICE credentials, m= lines by kind.
  const lines = ["v=0", `o=- ${session} ${version} IN IP4 127.0.0.1`, "s=-"];
  lines.push(`a=ice-ufrag:${ufrag}`, `a=ice-pwd:${ufrag}-password`);
  for (const kind of media) lines.push(`m=${kind} 9 UDP/TLS/RTP/SAVPF 0`);
  return lines.join("\r\n") + "\r\n";
}

export function iceUfrag(sdp) {
  const match = /^a=ice-ufrag:(\S+)/m.exec(sdp || "");
  return match ? match[1] : null;
}

function mediaOf(sdp) {
  return [...(sdp || "").matchAll(/^m=(\w+) /gm)].map((m) => m[1]);
}

function domError(name, message) {
  const err = new Error(message);
  err.name = name;
  return err;
}

export class FakeTrack {
  constructor(kind, label = kind) {
    this.kind = kind;
    this.label = label;
    this.stopped = false;
  }
  stop() {
    this.stopped = true;
  }
}

export class FakeStream {
  constructor(tracks = []) {
    this.tracks = tracks;
  }
  getTracks() {
    return [...this.tracks];
  }
  getAudioTracks() {
    return this.tracks.filter((t) => t.kind === "audio");
  }
  getVideoTracks() {
    return this.tracks.filter((t) => t.kind === "video");
  }
}

export class FakeChannel extends EventTarget {
  readyState = "connecting";
  sent = [];
  // The other side is a page: it answers the heartbeat's pings a turn later, until a test
  // makes the path quiet.
  pongs = true;
  send(data) {
    this.sent.push(data);
    const message = JSON.parse(typeof data === "string" && data.startsWith("{") ? data : "{}");
    if (message.type === "ping" && this.pongs) {
      setImmediate(() => {
        if (this.readyState !== "open") return;
        const event = new Event("message");
        event.data = JSON.stringify({ type: "pong", n: message.n });
        this.dispatchEvent(event);
      });
    }
  }
  close() {
    // As a browser's: "closing" while what was sent still goes out; finishClosing() ends it.
    if (this.readyState === "open") this.readyState = "closing";
    else this.readyState = "closed";
  }
  finishClosing() {
    this.readyState = "closed";
    this.dispatchEvent(new Event("close"));
  }
  open() {
    this.readyState = "open";
    this.dispatchEvent(new Event("open"));
  }
  closeFromOtherSide() {
    // The other side's channel closed (a crash, a lost connection): no bye came.
    this.readyState = "closed";
    this.dispatchEvent(new Event("close"));
  }
}

class FakeSender {
  constructor(track) {
    this.track = track;
    this.replaced = [];
  }
  async replaceTrack(track) {
    this.replaced.push(track);
    this.track = track;
  }
}

export class FakePeerConnection extends EventTarget {
  static made = [];

  constructor(config) {
    super();
    this.config = config;
    this.session = String(sessions++);
    this.version = 0;
    this.signalingState = "stable";
    this.connectionState = "new";
    this.currentLocalDescription = null;
    this.pendingLocalDescription = null;
    this.currentRemoteDescription = null;
    this.pendingRemoteDescription = null;
    this.transceivers = [];
    this.mids = 0;
    this.channel = null;
    this.channelNegotiated = false;
    this.candidates = []; // the remote candidates applied
    this.log = []; // what was applied, in order: ["remote", type], ["candidate", c], ...
    this.chain = Promise.resolve();
    this.operations = 0;
    this.restartsWanted = 0; // restartIce() calls
    this.restartsDone = 0; // of those, how many an answered offer of ours carried
    this.iceRestartOffers = 0; // createOffer({iceRestart: true}) calls
    this.firing = false;
    this.negotiationNeededFired = 0;
    this.closed = false;
    FakePeerConnection.made.push(this);
  }

  get localDescription() {
    return this.pendingLocalDescription || this.currentLocalDescription;
  }

  get remoteDescription() {
    return this.pendingRemoteDescription || this.currentRemoteDescription;
  }

  get localUfrag() {
    return iceUfrag(this.currentLocalDescription && this.currentLocalDescription.sdp);
  }

  // -- the operations chain ----------------------------------------------------------------

  enqueue(operation) {
    this.operations += 1;
    const run = this.chain.then(async () => {
      await turn();
      if (this.closed) throw domError("InvalidStateError", "the connection is closed");
      return operation();
    });
    this.chain = run.catch(() => {});
    return run.finally(() => {
      this.operations -= 1;
      this.updateNegotiationNeeded();
    });
  }

  negotiationNeeded() {
    if (this.restartsWanted > this.restartsDone) return true;
    if (this.channel && !this.channelNegotiated) return true;
    return this.transceivers.some(
      (t) => !t.stopped && (t.mid === null || t.negotiated !== t.direction),
    );
  }

  updateNegotiationNeeded() {
    // webrtc-pc's "update the negotiation-needed flag": only when stable and idle, fired as
    // a task, checked again when it runs.
    if (this.closed || this.operations > 0 || this.signalingState !== "stable") return;
    if (this.firing || !this.negotiationNeeded()) return;
    this.firing = true;
    setImmediate(() => {
      this.firing = false;
      if (this.closed || this.operations > 0 || this.signalingState !== "stable") return;
      if (!this.negotiationNeeded()) return;
      this.negotiationNeededFired += 1;
      this.dispatchEvent(new Event("negotiationneeded"));
    });
  }

  // -- descriptions ------------------------------------------------------------------------

  makeOffer({ iceRestart = false } = {}) {
    if (iceRestart) this.iceRestartOffers += 1;
    const restart = iceRestart || this.restartsWanted > this.restartsDone || !this.localUfrag;
    const ufrag = restart ? `u${++ufrags}` : this.localUfrag;
    for (const t of this.transceivers) if (t.mid === null && !t.stopped) t.mid = `m${this.mids++}`;
    const media = this.transceivers.map((t) => t.kind);
    if (this.channel) media.push("application");
    const sdp = fakeSdp({ session: this.session, version: ++this.version, ufrag, media });
    const offer = new FakeDescription({ type: "offer", sdp });
    offer.restarts = this.restartsWanted; // what this offer answers for, once answered
    return offer;
  }

  makeAnswer() {
    if (this.signalingState !== "have-remote-offer") {
      throw domError("InvalidStateError", `no answer in ${this.signalingState}`);
    }
    // New credentials when the offer restarts ICE (its ufrag changed), as RFC 8839 says.
    const offered = iceUfrag(this.pendingRemoteDescription.sdp);
    const before = iceUfrag(this.currentRemoteDescription && this.currentRemoteDescription.sdp);
    const restart = !this.localUfrag || (before !== null && offered !== before);
    const ufrag = restart ? `u${++ufrags}` : this.localUfrag;
    const media = mediaOf(this.pendingRemoteDescription.sdp);
    const sdp = fakeSdp({ session: this.session, version: ++this.version, ufrag, media });
    return new FakeDescription({ type: "answer", sdp });
  }

  createOffer(options) {
    return this.enqueue(() => this.makeOffer(options));
  }

  createAnswer() {
    return this.enqueue(() => this.makeAnswer());
  }

  setLocalDescription(description) {
    return this.enqueue(() => {
      let d = description;
      if (!d || !d.sdp) {
        const type =
          (d && d.type) || (this.signalingState.startsWith("have-remote") ? "answer" : "offer");
        d = type === "offer" ? this.makeOffer() : this.makeAnswer();
      } else if (!(d instanceof FakeDescription)) {
        d = new FakeDescription(d);
      }
      this.log.push(["local", d.type]);
      if (d.type === "offer") {
        if (!["stable", "have-local-offer"].includes(this.signalingState)) {
          throw domError("InvalidStateError", `no local offer in ${this.signalingState}`);
        }
        if (d.restarts === undefined) d.restarts = this.restartsWanted;
        this.pendingLocalDescription = d;
        this.signalingState = "have-local-offer";
      } else if (d.type === "answer") {
        if (this.signalingState !== "have-remote-offer") {
          throw domError("InvalidStateError", `no local answer in ${this.signalingState}`);
        }
        this.currentLocalDescription = d;
        this.currentRemoteDescription = this.pendingRemoteDescription;
        this.pendingRemoteDescription = null;
        this.pendingLocalDescription = null;
        this.settled(mediaOf(this.currentRemoteDescription.sdp));
      } else if (d.type === "rollback") {
        this.rollback();
      }
    });
  }

  setRemoteDescription(description) {
    return this.enqueue(() => {
      if (!description || typeof description.sdp !== "string") {
        throw new TypeError("a description needs its sdp");
      }
      const d = new FakeDescription(description);
      this.log.push(["remote", d.type]);
      if (d.type === "offer") {
        if (this.signalingState === "have-local-offer") this.rollback(); // implicit rollback
        if (!["stable", "have-remote-offer"].includes(this.signalingState)) {
          throw domError("InvalidStateError", `no remote offer in ${this.signalingState}`);
        }
        this.pendingRemoteDescription = d;
        this.signalingState = "have-remote-offer";
        this.associate(mediaOf(d.sdp));
      } else if (d.type === "answer") {
        if (this.signalingState !== "have-local-offer") {
          throw domError("InvalidStateError", `no remote answer in ${this.signalingState}`);
        }
        const offer = this.pendingLocalDescription;
        this.currentRemoteDescription = d;
        this.currentLocalDescription = offer;
        this.pendingLocalDescription = null;
        this.restartsDone = Math.max(this.restartsDone, offer.restarts);
        this.settled(mediaOf(offer.sdp));
      } else if (d.type === "rollback") {
        this.rollback();
      }
    });
  }

  rollback() {
    this.log.push(["rollback"]);
    this.pendingLocalDescription = null;
    this.pendingRemoteDescription = null;
    this.signalingState = "stable";
  }

  associate(media) {
    // The offer's m= lines take our transceivers of the same kind made by addTrack, or new
    // receive-only ones (JSEP 5.10).
    media.forEach((kind, i) => {
      if (kind === "application") return;
      let t = this.transceivers.find((x) => x.kind === kind && x.mid === null && x.byTrack);
      if (!t) t = this.transceivers.find((x) => x.mid === `r${i}`);
      if (!t) t = this.newTransceiver(kind, null, "recvonly");
      if (t.mid === null) t.mid = `r${i}`;
    });
  }

  settled(media) {
    // A completed exchange: what it covered is negotiated.
    this.signalingState = "stable";
    for (const t of this.transceivers) if (t.mid !== null) t.negotiated = t.direction;
    if (media.includes("application")) this.channelNegotiated = true;
  }

  restartIce() {
    this.restartsWanted += 1;
    this.updateNegotiationNeeded();
  }

  // -- tracks, channels, candidates ---------------------------------------------------------

  newTransceiver(kind, track, direction, byTrack = false) {
    const t = {
      kind,
      mid: null,
      direction,
      negotiated: null,
      stopped: false,
      byTrack,
      sender: new FakeSender(track),
      receiver: { track: new FakeTrack(kind) },
    };
    this.transceivers.push(t);
    return t;
  }

  addTrack(track) {
    // A receive-only transceiver of its kind that never sent is reused, as browsers do.
    const unused = (x) => !x.sender.track && !x.stopped && !/send/.test(x.negotiated || "");
    let t = this.transceivers.find((x) => x.kind === track.kind && unused(x));
    if (t) {
      t.sender.track = track;
      t.direction = "sendrecv";
    } else {
      t = this.newTransceiver(track.kind, track, "sendrecv", true);
    }
    this.updateNegotiationNeeded();
    return t.sender;
  }

  addTransceiver(kind, { direction = "sendrecv" } = {}) {
    const t = this.newTransceiver(kind, null, direction);
    this.updateNegotiationNeeded();
    return t;
  }

  getSenders() {
    return this.transceivers.map((t) => t.sender);
  }

  getTransceivers() {
    return [...this.transceivers];
  }

  createDataChannel() {
    this.channel = new FakeChannel();
    this.updateNegotiationNeeded();
    return this.channel;
  }

  addIceCandidate(candidate) {
    return this.enqueue(() => {
      if (!this.remoteDescription) {
        throw domError("InvalidStateError", "a candidate before the remote description");
      }
      const ufrag = candidate && candidate.usernameFragment;
      if (ufrag && ufrag !== iceUfrag(this.remoteDescription.sdp)) {
        throw domError("OperationError", "a candidate of other ICE credentials");
      }
      this.candidates.push(candidate);
      this.log.push(["candidate", candidate]);
    });
  }

  gather(candidate) {
    // One of our candidates, as the ICE agent reports it.
    const event = new Event("icecandidate");
    event.candidate = { toJSON: () => candidate };
    this.dispatchEvent(event);
  }

  setConnectionState(state) {
    this.connectionState = state;
    this.dispatchEvent(new Event("connectionstatechange"));
  }

  connect() {
    // ICE connected and the chat channel open, as the browser would report them.
    if (!this.channel) {
      this.channel = new FakeChannel();
      this.channelNegotiated = true;
      const event = new Event("datachannel");
      event.channel = this.channel;
      this.dispatchEvent(event);
    }
    this.setConnectionState("connected");
    this.channel.open();
  }

  close() {
    this.closed = true;
    this.signalingState = "closed";
    this.connectionState = "closed";
  }
}
