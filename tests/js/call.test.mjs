// call.js with a fake RTCPeerConnection and a fake signaling client: the call's decisions,
// without a browser or a server.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Call } from "./call.js";
import { ApiError } from "./signaling.js";

const OFFER = { type: "offer", sdp: "v=0 offer" };
const ANSWER = { type: "answer", sdp: "v=0 answer" };
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

class FakeChannel extends EventTarget {
  readyState = "connecting";
  sent = [];
  send(data) {
    this.sent.push(data);
  }
  close() {
    this.readyState = "closed";
  }
  open() {
    this.readyState = "open";
    this.dispatchEvent(new Event("open"));
  }
}

class FakePeerConnection extends EventTarget {
  static made = [];
  connectionState = "new";
  remoteDescription = null;
  localDescription = null;
  candidates = [];
  closed = false;
  constructor(config) {
    super();
    this.config = config;
    FakePeerConnection.made.push(this);
  }
  addTrack() {}
  addTransceiver() {}
  createDataChannel() {
    this.channel = new FakeChannel();
    return this.channel;
  }
  async createOffer() {
    return OFFER;
  }
  async createAnswer() {
    return ANSWER;
  }
  async setLocalDescription(d) {
    this.localDescription = { toJSON: () => d };
  }
  async setRemoteDescription(d) {
    this.remoteDescription = d;
  }
  async addIceCandidate(c) {
    this.candidates.push(c);
  }
  close() {
    this.closed = true;
  }
  connect() {
    // ICE connected and the chat channel open, as the browser would report them.
    this.connectionState = "connected";
    if (!this.channel) {
      this.channel = new FakeChannel();
      const event = new Event("datachannel");
      event.channel = this.channel;
      this.dispatchEvent(event);
    }
    this.dispatchEvent(new Event("connectionstatechange"));
    this.channel.open();
  }
}

class FakeSignaling {
  constructor(offer) {
    this.offer = offer;
    this.calls = [];
    this.onEvents = null;
  }
  record(name, ...args) {
    this.calls.push([name, ...args]);
  }
  async rtcConfiguration() {
    const config = { iceServers: [{ urls: "stun:example.org" }] };
    if (this.iceTransportPolicy) config.iceTransportPolicy = this.iceTransportPolicy;
    return config;
  }
  async enter() {
    this.record("enter");
    if (this.offer instanceof Error) throw this.offer;
    return this.offer;
  }
  async readOffer() {
    return this.offer;
  }
  listen(onEvents) {
    this.record("listen");
    this.onEvents = onEvents;
  }
  stop() {
    this.record("stop");
  }
  async postOffer(d) {
    this.record("postOffer", d);
  }
  async postAnswer(d) {
    this.record("postAnswer", d);
  }
  async postCandidate(role, c) {
    this.record("postCandidate", role, c);
  }
  async deleteOffer() {
    this.record("deleteOffer");
  }
  async leave(options = {}) {
    this.record("leave", options);
  }
  names() {
    return this.calls.map((c) => c[0]);
  }
}

function newCall(signaling) {
  const call = new Call(signaling, { PeerConnection: FakePeerConnection });
  const seen = [];
  for (const type of ["status", "end", "chat"]) {
    call.addEventListener(type, (e) => seen.push([type, e.detail]));
  }
  return { call, seen };
}

test("the receiver queues early candidates, answers, and ends when the other leaves", async () => {
  const signaling = new FakeSignaling(OFFER);
  const { call, seen } = newCall(signaling);
  const started = call.start();
  await tick();
  // The initiator's candidates come through the channel before the offer is applied.
  signaling.onEvents({ peers: 2, answer: null, candidates: [{ key: ["k1"], payload: { candidate: "c1" } }] });
  await started;
  const pc = call.pc;
  assert.deepEqual(pc.config.iceServers, [{ urls: "stun:example.org" }]);
  assert.deepEqual(pc.remoteDescription, OFFER);
  assert.deepEqual(pc.candidates, [{ candidate: "c1" }]);
  assert.deepEqual(signaling.calls.find((c) => c[0] === "postAnswer"), ["postAnswer", ANSWER]);
  await tick();
  assert.ok(signaling.names().includes("deleteOffer"));

  pc.connect();
  assert.equal(seen.filter(([t]) => t === "status").at(-1)[1].state, "connected");
  signaling.onEvents({ peers: 1, answer: null, candidates: [] });
  assert.deepEqual(seen.at(-1), ["end", { reason: "left", error: null }]);
  assert.ok(pc.closed);
  await call.left;
  assert.deepEqual(signaling.calls.at(-1), ["leave", { hangUp: false, keepalive: true }]);
});

test("the initiator offers, waits, and applies the answer from the channel", async () => {
  const signaling = new FakeSignaling(null);
  const { call, seen } = newCall(signaling);
  await call.start();
  assert.deepEqual(signaling.calls.find((c) => c[0] === "postOffer"), ["postOffer", OFFER]);
  assert.equal(seen.at(-1)[1].state, "waiting");
  signaling.onEvents({ peers: 2, answer: ANSWER, candidates: [{ key: ["k"], payload: { candidate: "c" } }] });
  await tick();
  assert.deepEqual(call.pc.remoteDescription, ANSWER);
  assert.deepEqual(call.pc.candidates, [{ candidate: "c" }]);
  // The same answer again (its acknowledgement was lost) is not applied twice.
  call.pc.remoteDescription = "applied once";
  signaling.onEvents({ peers: 2, answer: ANSWER, candidates: [] });
  await tick();
  assert.equal(call.pc.remoteDescription, "applied once");
});

test("hang up says bye, stops the channel, and clears the room with keepalive", async () => {
  const signaling = new FakeSignaling(null);
  const { call, seen } = newCall(signaling);
  await call.start();
  const pc = call.pc;
  signaling.onEvents({ peers: 2, answer: ANSWER, candidates: [] });
  await tick();
  pc.connect();
  call.send("hello");
  call.hangUp();
  assert.deepEqual(pc.channel.sent.map((m) => JSON.parse(m)), [
    { type: "chat", text: "hello" },
    { type: "bye" },
  ]);
  assert.deepEqual(seen.at(-1), ["end", { reason: "hangup", error: null }]);
  assert.ok(signaling.names().includes("stop"));
  await call.left;
  assert.deepEqual(signaling.calls.at(-1), ["leave", { hangUp: true, keepalive: true }]);
});

test("a full room ends the call without asking for a camera or clearing the room", async () => {
  const signaling = new FakeSignaling(new ApiError(409, "room_full", "two people are here"));
  let asked = false;
  const call = new Call(signaling, {
    PeerConnection: FakePeerConnection,
    getMedia: async () => {
      asked = true;
      return null;
    },
  });
  const ended = new Promise((resolve) => call.addEventListener("end", (e) => resolve(e.detail)));
  await call.start();
  assert.equal((await ended).reason, "full");
  assert.equal(asked, false);
  assert.ok(!signaling.names().includes("leave"));
});

test("chat: our envelope, plain text from other clients, and bye", async () => {
  const signaling = new FakeSignaling(null);
  const { call, seen } = newCall(signaling);
  await call.start();
  call.receive(JSON.stringify({ type: "chat", text: "<b>hi</b>" }));
  call.receive("plain words");
  assert.deepEqual(
    seen.filter(([t]) => t === "chat").map(([, d]) => d.text),
    ["<b>hi</b>", "plain words"],
  );
  call.receive(JSON.stringify({ type: "bye" }));
  assert.equal(seen.at(-1)[1].reason, "left");
});

test("the connection takes the configuration the signaling client got", async () => {
  const signaling = new FakeSignaling(null);
  const { call } = newCall(signaling);
  await call.start();
  // The default policy ("all") leaves the configuration as it always was.
  assert.deepEqual(call.pc.config, { iceServers: [{ urls: "stun:example.org" }] });
  call.hangUp();

  const relay = new FakeSignaling(null);
  relay.iceTransportPolicy = "relay";
  const second = newCall(relay).call;
  await second.start();
  assert.deepEqual(second.pc.config, {
    iceServers: [{ urls: "stun:example.org" }],
    iceTransportPolicy: "relay",
  });
});

test("replaceVideo swaps the video sender's track, and says when there is none", async () => {
  const signaling = new FakeSignaling(null);
  const { call } = newCall(signaling);
  assert.equal(await call.replaceVideo({ kind: "video" }), false); // no connection yet
  await call.start();
  const replaced = [];
  const sender = (kind) => ({
    track: { kind },
    async replaceTrack(track) {
      replaced.push([kind, track.label]);
      this.track = track;
    },
  });
  const videoSender = sender("video");
  call.pc.getSenders = () => [sender("audio"), videoSender];
  assert.equal(await call.replaceVideo({ kind: "video", label: "screen" }), true);
  assert.equal(await call.replaceVideo({ kind: "video", label: "camera" }), true);
  assert.deepEqual(replaced, [
    ["video", "screen"],
    ["video", "camera"],
  ]);
  call.pc.getSenders = () => [sender("audio")]; // receive-only video: nothing to replace
  assert.equal(await call.replaceVideo({ kind: "video", label: "screen" }), false);
});
