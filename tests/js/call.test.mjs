// call.js with a fake RTCPeerConnection (fake_rtc.mjs) and a fake signaling client: the
// call's decisions, without a browser or a server. Recovery runs on a clock the test moves.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Call } from "./call.js";
import { HEARTBEAT } from "./heartbeat.js";
import { RECONNECT } from "./recovery.js";
import { ApiError } from "./signaling.js";
import { FakePeerConnection, FakeStream, FakeTrack, fakeSdp } from "./fake_rtc.mjs";

// The other person's descriptions: its connection's session id is PARTNER throughout.
const PARTNER = "4242";
const MEDIA = ["audio", "video", "application"];
const OFFER = { type: "offer", sdp: fakeSdp({ session: PARTNER, ufrag: "p1", media: MEDIA }) };
const ANSWER = { type: "answer", sdp: fakeSdp({ session: PARTNER, ufrag: "p1", media: MEDIA }) };
const inCallOffer = (ufrag, version = 2) => ({
  // The partner's offer in the live call (an ICE restart: new credentials).
  type: "offer",
  sdp: fakeSdp({ session: PARTNER, version, ufrag, media: MEDIA }),
});
const turn = () => new Promise((resolve) => setImmediate(resolve));
const tick = async (n = 10) => {
  // Long enough for the fake connection's operations (a turn each) and what follows them.
  for (let i = 0; i < n; i++) await turn();
};

function deferred() {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
}

class FakeSignaling {
  constructor(offer) {
    this.offer = offer;
    this.calls = [];
    this.onEvents = null;
    this.held = {}; // name -> the deferreds of held requests, oldest first
  }
  record(name, ...args) {
    this.calls.push([name, ...args]);
  }
  hold(name) {
    // Requests of this name stay out until release(name) answers the oldest.
    this.held[name] = [];
  }
  release(name) {
    this.held[name].shift().resolve();
  }
  async answer(name) {
    if (this.held[name]) {
      const request = deferred();
      this.held[name].push(request);
      await request.promise;
    }
  }
  async rtcConfiguration() {
    const config = { iceServers: [{ urls: "stun:example.org" }] };
    if (this.iceTransportPolicy) config.iceTransportPolicy = this.iceTransportPolicy;
    return config;
  }
  async join() {
    // Entering: the offer and the candidates waiting in the room, in one answer.
    this.record("enter");
    if (this.offer instanceof Error) throw this.offer;
    const peers = this.joinPeers || (this.offer ? 2 : 1);
    const candidates = this.waiting || [];
    return { offer: this.offer, peers, answer: null, descriptions: [], candidates };
  }
  async readOffer() {
    if (this.down) throw new ApiError(0, "network", "cannot reach the server");
    return this.offer;
  }
  listen(onEvents) {
    this.record("listen");
    this.onEvents = onEvents;
    this.listening = true;
  }
  events(events) {
    // What the push channel hands over: every field, as signaling.js gives them.
    this.onEvents({ peers: 2, answer: null, descriptions: [], candidates: [], ...events });
  }
  stop() {
    this.record("stop");
    this.listening = false;
  }
  async postOffer(d) {
    this.record("postOffer", d);
  }
  async postAnswer(d) {
    this.record("postAnswer", d);
  }
  async postDescription(d) {
    this.record("postDescription", d);
    if (this.down) throw new ApiError(0, "network", "cannot reach the server");
    await this.answer("postDescription");
  }
  async postCandidates(role, candidates) {
    this.record("postCandidates", role, candidates);
    await this.answer("postCandidates");
  }
  async deleteOffer() {
    this.record("deleteOffer");
  }
  async leave(options = {}) {
    this.record("leave", options);
    this.listening = false; // leaving ends the push channel, as signaling.js does
  }
  names() {
    return this.calls.map((c) => c[0]);
  }
  sent(name) {
    return this.calls.filter((c) => c[0] === name);
  }
}

function newCall(signaling, options = {}) {
  const call = new Call(signaling, { PeerConnection: FakePeerConnection, ...options });
  const seen = [];
  for (const type of ["status", "end", "chat", "channel"]) {
    call.addEventListener(type, (e) => seen.push([type, e.detail]));
  }
  return { call, seen };
}

const lastStatus = (seen) => seen.filter(([t]) => t === "status").at(-1)[1];

function message(channel, data) {
  // A message on the chat channel from the other side.
  const event = new Event("message");
  event.data = data;
  channel.dispatchEvent(event);
}

async function connectedInitiator(options = {}) {
  // A call that posted the room's offer, got the answer, and connected; the partner holds a
  // place in the room.
  const signaling = new FakeSignaling(null);
  const { call, seen } = newCall(signaling, options);
  await call.start();
  signaling.events({ answer: ANSWER });
  await tick();
  call.pc.connect();
  assert.equal(lastStatus(seen).state, "connected");
  return { signaling, call, seen, pc: call.pc };
}

test("the receiver queues early candidates, answers, and ends on the other's bye", async () => {
  const signaling = new FakeSignaling(OFFER);
  // The initiator's candidates come with entering, before the offer is applied.
  signaling.waiting = [{ key: ["k1"], payload: { candidate: "c1" } }];
  const { call, seen } = newCall(signaling);
  await call.start();
  const pc = call.pc;
  assert.deepEqual(pc.config.iceServers, [{ urls: "stun:example.org" }]);
  assert.deepEqual(pc.remoteDescription.toJSON(), OFFER);
  assert.deepEqual(pc.candidates, [{ candidate: "c1" }]);
  const answer = pc.localDescription.toJSON();
  assert.equal(answer.type, "answer");
  assert.deepEqual(signaling.calls.find((c) => c[0] === "postAnswer"), ["postAnswer", answer]);
  await tick();
  // The answer took the offer along on the server; the push channel starts after it.
  assert.ok(!signaling.names().includes("deleteOffer"));
  assert.ok(signaling.names().indexOf("listen") > signaling.names().indexOf("postAnswer"));

  pc.connect();
  assert.equal(lastStatus(seen).state, "connected");
  // The count dropping (a server restart, a partner's push channel late) ends nothing.
  signaling.events({ peers: 1 });
  await tick();
  assert.ok(!seen.some(([t]) => t === "end"));
  assert.equal(call.connected, true);
  assert.ok(!pc.closed);
  // The bye does.
  message(pc.channel, JSON.stringify({ type: "bye" }));
  assert.deepEqual(seen.at(-1), ["end", { reason: "left", error: null }]);
  assert.ok(pc.closed);
  await call.left;
  assert.deepEqual(signaling.calls.at(-1), ["leave", { hangUp: false, keepalive: true }]);
});

test("the initiator offers, waits, and applies the answer from the channel", async () => {
  const signaling = new FakeSignaling(null);
  const { call, seen } = newCall(signaling);
  await call.start();
  const offer = call.pc.localDescription.toJSON();
  assert.equal(offer.type, "offer");
  assert.deepEqual(signaling.calls.find((c) => c[0] === "postOffer"), ["postOffer", offer]);
  assert.equal(seen.at(-1)[1].state, "waiting");
  signaling.events({ answer: ANSWER, candidates: [{ key: ["k"], payload: { candidate: "c" } }] });
  await tick();
  assert.deepEqual(call.pc.remoteDescription.toJSON(), ANSWER);
  assert.deepEqual(call.pc.candidates, [{ candidate: "c" }]);
  // The same answer again (its acknowledgement was lost) is not applied twice.
  signaling.events({ answer: ANSWER });
  await tick();
  const applied = call.pc.log.filter(([what, type]) => what === "remote" && type === "answer");
  assert.equal(applied.length, 1);
  call.hangUp();
});

test("hang up says bye, stops the channel, and clears the room with keepalive", async () => {
  const { signaling, call, seen, pc } = await connectedInitiator();
  call.send("hello");
  call.hangUp();
  const envelopes = pc.channel.sent.map((m) => JSON.parse(m));
  assert.deepEqual(
    envelopes.filter((m) => m.type !== "ping"),
    [{ type: "chat", text: "hello" }, { type: "bye" }],
  );
  // The connection stays up until the channel has sent the bye and closed.
  assert.equal(pc.channel.readyState, "closing");
  assert.equal(pc.closed, false);
  pc.channel.finishClosing();
  assert.equal(pc.closed, true);
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
  call.link.receive(JSON.stringify({ type: "chat", text: "<b>hi</b>" }));
  call.link.receive("plain words");
  assert.deepEqual(
    seen.filter(([t]) => t === "chat").map(([, d]) => d.text),
    ["<b>hi</b>", "plain words"],
  );
  call.link.receive(JSON.stringify({ type: "bye" }));
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
  second.hangUp();
});

test("replaceVideo swaps the video sender's track, and says when there is none", async () => {
  const camera = new FakeStream([new FakeTrack("audio"), new FakeTrack("video", "camera")]);
  const signaling = new FakeSignaling(null);
  const { call } = newCall(signaling, { getMedia: async () => camera });
  // No connection yet: nothing to send it on.
  assert.equal(await call.replaceVideo(new FakeTrack("video", "screen")), false);
  await call.start();
  const videoSender = call.pc.getSenders().find((s) => s.track && s.track.kind === "video");
  assert.equal(await call.replaceVideo(new FakeTrack("video", "screen")), true);
  assert.equal(await call.replaceVideo(new FakeTrack("video", "camera")), true);
  assert.deepEqual(
    videoSender.replaced.map((track) => [track.kind, track.label]),
    [
      ["video", "screen"],
      ["video", "camera"],
    ],
  );
  // Nothing of a kind is sent, and nothing is to be: nothing to do.
  call.pc.getSenders().find((s) => s.track && s.track.kind === "audio").track = null;
  call.pc.transceivers.find((t) => t.kind === "audio").direction = "recvonly";
  assert.equal(await call.useTrack("audio", null), false);
  call.hangUp();
});

test("useTrack adds a track when none of its kind is sent, renegotiated in the call", async () => {
  // Joined without a camera: video is received only, then a screen is shared.
  const microphone = new FakeStream([new FakeTrack("audio")]);
  const { signaling, call, pc } = await connectedInitiator({ getMedia: async () => microphone });
  assert.ok(!pc.getSenders().some((s) => s.track && s.track.kind === "video"));
  const screen = new FakeTrack("video", "screen");
  assert.equal(await call.replaceVideo(screen), true);
  assert.ok(pc.getSenders().some((s) => s.track === screen), "the screen is sent");
  // negotiationneeded: an in-call offer for the other side, as a description.
  await tick();
  const [offer] = signaling.sent("postDescription").map((c) => c[1]);
  assert.equal(offer.type, "offer");
  assert.equal(pc.signalingState, "have-local-offer");
  call.hangUp();
});

test("a chat channel closed without bye brings a fresh connection, keeping our place", async () => {
  const { signaling, call, seen, pc } = await connectedInitiator();
  const made = FakePeerConnection.made.length;
  pc.channel.closeFromOtherSide();
  await tick();
  assert.ok(!seen.some(([t]) => t === "end"));
  assert.deepEqual(seen.filter(([t]) => t === "channel").at(-1), ["channel", { open: false }]);
  const status = lastStatus(seen);
  assert.equal(status.state, "reconnecting");
  assert.equal(typeof status.since, "number");
  // The partner cannot restart on a connection whose channel is gone: a new one, by the
  // seed's flow, in the room we never left.
  assert.equal(FakePeerConnection.made.length, made + 1);
  assert.notEqual(call.pc, pc);
  assert.ok(pc.closed);
  assert.equal(signaling.sent("postOffer").length, 2);
  assert.deepEqual(signaling.sent("postOffer")[1][1], call.pc.localDescription.toJSON());
  assert.ok(!signaling.names().includes("leave"));
  assert.equal(signaling.sent("enter").length, 1);
  call.hangUp();
});

test("the channel closing is the hang-up of a partner that never held a place", async () => {
  // The offer came from a client without a peer id: the count never showed it.
  const signaling = new FakeSignaling(OFFER);
  signaling.joinPeers = 1;
  const { call, seen } = newCall(signaling);
  await call.start();
  signaling.events({ peers: 1 });
  await tick();
  const pc = call.pc;
  pc.connect();
  assert.equal(call.link.anonymousPartner, true);
  call.send("hi");
  assert.deepEqual(pc.channel.sent, ["hi"], "plain text, and no heartbeat it would show");
  const made = FakePeerConnection.made.length;
  pc.channel.closeFromOtherSide();
  assert.deepEqual(seen.at(-1), ["end", { reason: "left", error: null }]);
  assert.equal(FakePeerConnection.made.length, made);
  await call.left;
  assert.deepEqual(signaling.calls.at(-1), ["leave", { hangUp: false, keepalive: true }]);
});

// -- in the live call: descriptions, candidates, recovery --------------------------------

test("an in-call description is applied before the candidates that came with it", async () => {
  const { signaling, call, pc } = await connectedInitiator();
  // The partner restarts ICE: its new offer and candidates of its new credentials in one
  // answer of the push channel. Applied the other way round, they would not fit.
  const restart = inCallOffer("p2");
  const candidate = { candidate: "candidate:new", sdpMid: "0", usernameFragment: "p2" };
  signaling.events({
    descriptions: [{ key: ["d1"], payload: restart }],
    candidates: [{ key: ["c1"], payload: candidate }],
  });
  await tick(20);
  const order = pc.log.slice(-3);
  assert.deepEqual(order, [["remote", "offer"], ["local", "answer"], ["candidate", candidate]]);
  assert.deepEqual(pc.candidates.at(-1), candidate);
  assert.equal(pc.signalingState, "stable");
  const [answer] = signaling.sent("postDescription").map((c) => c[1]);
  assert.equal(answer.type, "answer");
  assert.deepEqual(answer, pc.localDescription.toJSON());
  call.hangUp();
});

test("our candidates wait for our in-call description, then go one request at a time", async () => {
  const { signaling, call, pc } = await connectedInitiator();
  const before = signaling.calls.length;
  signaling.hold("postDescription");
  signaling.hold("postCandidates");
  call.restartIce();
  await tick();
  assert.deepEqual(signaling.calls.slice(before).map((c) => c[0]), ["postDescription"]);
  // Candidates of the new credentials, gathered while the description is on its way.
  const c = (n) => ({ candidate: `candidate:${n}`, sdpMid: "0" });
  pc.gather(c(1));
  pc.gather(c(2));
  await tick();
  assert.equal(signaling.sent("postCandidates").length, 0);
  signaling.release("postDescription");
  await tick();
  assert.deepEqual(signaling.sent("postCandidates"), [
    ["postCandidates", "initiator", [c(1), c(2)]],
  ]);
  // While that request is out, the next ones wait, and then go together.
  pc.gather(c(3));
  pc.gather(c(4));
  pc.gather(c(5));
  await tick();
  assert.equal(signaling.sent("postCandidates").length, 1);
  signaling.release("postCandidates");
  await tick();
  assert.deepEqual(signaling.sent("postCandidates").at(-1), [
    "postCandidates",
    "initiator",
    [c(3), c(4), c(5)],
  ]);
  signaling.release("postCandidates");
  await tick();
  assert.deepEqual(
    signaling.calls.slice(before).map((c) => c[0]),
    ["postDescription", "postCandidates", "postCandidates"],
  );
  call.hangUp();
});

test("our in-call descriptions go one at a time, in order, and candidates after both", async () => {
  // The receiver (polite) restarts ICE; the partner's offer crosses ours, so we drop ours
  // (never applied: see negotiation.js) and answer while our offer is still being posted. Two posts at once could be stored
  // the other way round (or a retried one overtaken), and the partner would apply our answer
  // before our offer, then take the rolled-back offer as a new one.
  const signaling = new FakeSignaling(OFFER);
  const { call } = newCall(signaling);
  await call.start();
  signaling.events({});
  await tick();
  const pc = call.pc;
  pc.connect();
  assert.equal(call.negotiator.polite, true);
  signaling.hold("postDescription");
  call.restartIce();
  await tick();
  assert.deepEqual(signaling.sent("postDescription").map((c) => c[1].type), ["offer"]);
  const crossing = inCallOffer("p2");
  signaling.events({ descriptions: [{ key: ["d1"], payload: crossing }] });
  await tick(20);
  const applied = pc.log.slice(-2).map((entry) => entry.join(" "));
  assert.deepEqual(applied, ["remote offer", "local answer"]);
  const candidate = { candidate: "candidate:answer", sdpMid: "0" };
  pc.gather(candidate);
  await tick();
  assert.equal(signaling.sent("postDescription").length, 1, "the answer waits for the offer");
  signaling.release("postDescription");
  await tick();
  assert.deepEqual(signaling.sent("postDescription").map((c) => c[1].type), ["offer", "answer"]);
  assert.equal(signaling.sent("postCandidates").length, 0, "candidates wait for the answer");
  // Our own restart, dropped, is offered again once stable: after the answer.
  signaling.release("postDescription");
  await tick();
  assert.deepEqual(
    signaling.sent("postDescription").map((c) => c[1].type),
    ["offer", "answer", "offer"],
  );
  assert.equal(signaling.sent("postCandidates").length, 0, "nor while an offer is on its way");
  signaling.release("postDescription");
  await tick();
  assert.deepEqual(signaling.sent("postCandidates"), [["postCandidates", "receiver", [candidate]]]);
  call.hangUp();
});

function fakeClock(t, start) {
  // setTimeout and Date.now on a clock the test moves, for call.js's recovery timers. (Not
  // node:test's mock.timers: it mocks Date only from Node 20.11, and Debian 12 has 18.)
  // The fakes' own turns are setImmediate, which keeps running.
  const saved = { setTimeout, clearTimeout, now: Date.now };
  const timers = new Map();
  let now = start;
  let ids = 0;
  globalThis.setTimeout = (fn, ms = 0, ...args) => {
    ids += 1;
    timers.set(ids, { id: ids, at: now + Math.max(0, Number(ms) || 0), fn, args });
    return ids;
  };
  globalThis.clearTimeout = (id) => timers.delete(id);
  Date.now = () => now;
  t.after(() => {
    globalThis.setTimeout = saved.setTimeout;
    globalThis.clearTimeout = saved.clearTimeout;
    Date.now = saved.now;
  });
  return {
    tick(ms) {
      // Run the timers due within `ms`, in the order they are due, each at its own time.
      const end = now + ms;
      for (;;) {
        const due = [...timers.values()].filter((timer) => timer.at <= end);
        if (due.length === 0) break;
        const next = due.reduce((a, b) => (b.at < a.at || (b.at === a.at && b.id < a.id) ? b : a));
        timers.delete(next.id);
        now = next.at;
        next.fn(...next.args);
      }
      now = end;
    },
  };
}

async function advance(clock, ms, step = 500) {
  // Time goes on, with the fakes' turns run in between.
  for (let passed = 0; passed < ms; passed += step) {
    clock.tick(Math.min(step, ms - passed));
    await tick();
  }
}

test("failed: an ICE restart; unanswered: a fresh connection; then the give-up", async (t) => {
  const clock = fakeClock(t, 1_000_000);
  const { signaling, call, seen, pc } = await connectedInitiator();
  const restarts = [];
  const restartIce = call.negotiator.restartIce.bind(call.negotiator);
  call.negotiator.restartIce = () => {
    restarts.push(Date.now());
    restartIce();
  };
  const lostAt = Date.now();
  const ufrag = pc.localUfrag;
  pc.setConnectionState("failed");
  assert.deepEqual(restarts, [lostAt], "failed restarts at once");
  assert.deepEqual(lastStatus(seen), { state: "reconnecting", text: null, since: lostAt });
  await tick();
  const [offer] = signaling.sent("postDescription").map((c) => c[1]);
  assert.equal(offer.type, "offer");
  assert.notEqual(offer.sdp.match(/ice-ufrag:(\S+)/)[1], ufrag, "new credentials");

  // The partner never answers: the same connection until answerWaitMs, then a fresh one.
  const made = FakePeerConnection.made.length;
  const { answerWaitMs, freshWaitMs, giveUpMs } = RECONNECT;
  await advance(clock, answerWaitMs - 500);
  assert.equal(FakePeerConnection.made.length, made);
  assert.equal(call.pc, pc);
  await advance(clock, 500);
  assert.equal(FakePeerConnection.made.length, made + 1, "fresh after answerWaitMs");
  assert.ok(pc.closed);
  assert.equal(signaling.sent("postOffer").length, 2);
  assert.ok(!signaling.names().includes("leave"), "our place is kept");
  assert.equal(lastStatus(seen).state, "reconnecting");
  assert.equal(lastStatus(seen).since, lostAt);

  // Nothing connects: a fresh connection every freshWaitMs, and the end after giveUpMs.
  await advance(clock, freshWaitMs);
  assert.equal(FakePeerConnection.made.length, made + 2);
  await advance(clock, giveUpMs - answerWaitMs - freshWaitMs - 500);
  assert.ok(!seen.some(([type]) => type === "end"));
  await advance(clock, 500);
  const [, ended] = seen.at(-1);
  assert.equal(ended.reason, "lost");
  assert.match(ended.error.message, /could not be restored/);
  assert.ok(call.pc === null && FakePeerConnection.made.at(-1).closed);
});

test("a disconnected connection gets a grace period before its restart", async (t) => {
  const clock = fakeClock(t, 1_000_000);
  const { call, seen, pc } = await connectedInitiator();
  pc.setConnectionState("disconnected");
  await advance(clock, RECONNECT.disconnectedGraceMs - 500);
  assert.equal(pc.iceRestartOffers, 0);
  assert.equal(lastStatus(seen).state, "connected");
  // Healed by itself: nothing happens.
  pc.setConnectionState("connected");
  await advance(clock, RECONNECT.disconnectedGraceMs + 1000);
  assert.equal(pc.iceRestartOffers, 0);
  // Down for good: a restart after the grace.
  pc.setConnectionState("disconnected");
  await advance(clock, RECONNECT.disconnectedGraceMs);
  assert.equal(pc.iceRestartOffers, 1); // the initiator's: see negotiation.js
  assert.equal(lastStatus(seen).state, "reconnecting");
  call.hangUp();
});

test("a fresh connection that cannot reach the server is tried again", async (t) => {
  // The network went down: the connection failed, and the server is out of reach too.
  const clock = fakeClock(t, 1_000_000);
  const { signaling, call, seen, pc } = await connectedInitiator();
  signaling.down = true;
  const made = FakePeerConnection.made.length;
  pc.setConnectionState("failed");
  await tick();
  // The restart's offer could not even be posted: unanswered.
  await advance(clock, RECONNECT.answerWaitMs);
  assert.equal(FakePeerConnection.made.length, made + 1, "a fresh connection was tried");
  assert.ok(!seen.some(([type]) => type === "end"), "reading the room failed: not the end");
  assert.equal(lastStatus(seen).state, "reconnecting");
  // The network is back: the next fresh connection posts its offer.
  signaling.down = false;
  await advance(clock, RECONNECT.freshWaitMs);
  assert.equal(FakePeerConnection.made.length, made + 2);
  const offer = call.pc.localDescription.toJSON();
  assert.deepEqual(signaling.sent("postOffer").at(-1), ["postOffer", offer]);
  assert.ok(!seen.some(([type]) => type === "end"));
  call.hangUp();
});

test("the partner's place gone while the call is lost: wait in the room for them", async (t) => {
  const clock = fakeClock(t, 1_000_000);
  const { signaling, call, seen, pc } = await connectedInitiator();
  signaling.events({ peers: 1 }); // while connected: nothing yet
  await tick();
  assert.equal(lastStatus(seen).state, "connected");
  const statuses = seen.length;
  pc.setConnectionState("failed");
  await tick();
  const states = seen.slice(statuses).filter(([type]) => type === "status");
  assert.deepEqual(states.map(([, d]) => d.state), ["reconnecting", "waiting"]);
  // They closed the tab: nobody to restart with. Our place is given back and taken again,
  // and the room gets our new offer.
  const names = signaling.names();
  assert.deepEqual(names.slice(names.indexOf("leave")), ["leave", "enter", "postOffer", "listen"]);
  assert.deepEqual(signaling.sent("leave")[0], ["leave", {}]);
  assert.ok(pc.closed);
  assert.notEqual(call.pc, pc);
  assert.deepEqual(signaling.sent("postOffer").at(-1)[1], call.pc.localDescription.toJSON());
  const status = lastStatus(seen);
  assert.equal(status.state, "waiting");
  assert.match(status.text, /left the call/);
  assert.ok(!seen.some(([type]) => type === "end"));
  call.hangUp();
});

// -- the heartbeat: a path that carries nothing -------------------------------------------

const pings = (channel) => channel.sent.filter((m) => JSON.parse(m).type === "ping").length;

test("the heartbeat pings while connected, and answers the partner's pings", async (t) => {
  const clock = fakeClock(t, 1_000_000);
  const { call, seen, pc } = await connectedInitiator();
  await advance(clock, 10 * HEARTBEAT.everyMs);
  assert.ok(pings(pc.channel) >= 10, `${pings(pc.channel)} pings`);
  assert.equal(lastStatus(seen).state, "connected", "every ping answered: nothing happens");
  message(pc.channel, JSON.stringify({ type: "ping", n: 7 }));
  assert.deepEqual(JSON.parse(pc.channel.sent.at(-1)), { type: "pong", n: 7 });
  assert.ok(!seen.some(([type]) => type === "chat"), "neither is shown");
  call.hangUp();
  const sent = pc.channel.sent.length;
  await advance(clock, 5 * HEARTBEAT.everyMs);
  assert.equal(pc.channel.sent.length, sent, "no pings after the hang-up");
});

test("a quiet path long after any exchange: an ICE restart, and a pong brings it back", async (t) => {
  const clock = fakeClock(t, 1_000_000);
  const { call, seen, pc } = await connectedInitiator();
  pc.channel.pongs = false;
  const made = FakePeerConnection.made.length;
  await advance(clock, HEARTBEAT.quietMs - HEARTBEAT.everyMs);
  assert.equal(lastStatus(seen).state, "connected");
  // The last ping answered went out up to a beat before the path went quiet.
  await advance(clock, 3 * HEARTBEAT.everyMs);
  assert.equal(lastStatus(seen).state, "reconnecting");
  assert.equal(pc.iceRestartOffers, 1, "ICE restarted on the same connection");
  assert.equal(FakePeerConnection.made.length, made);
  // The path carries things again, though ICE never said it was down.
  assert.equal(pc.connectionState, "connected");
  pc.channel.pongs = true;
  await advance(clock, 2 * HEARTBEAT.everyMs);
  assert.equal(lastStatus(seen).state, "connected");
  assert.equal(call.pc, pc);
  call.hangUp();
});

test("a quiet path right after an exchange, ICE saying connected: a fresh connection", async (t) => {
  // What Chromium and Firefox can be left with after an ICE restart (heartbeat.js).
  const clock = fakeClock(t, 1_000_000);
  const { signaling, call, seen, pc } = await connectedInitiator();
  signaling.events({ descriptions: [{ key: ["d1"], payload: inCallOffer("p2") }] });
  await tick(20);
  assert.equal(signaling.sent("postDescription").at(-1)[1].type, "answer");
  pc.channel.pongs = false;
  const made = FakePeerConnection.made.length;
  await advance(clock, HEARTBEAT.quietMs + 2 * HEARTBEAT.everyMs);
  assert.equal(lastStatus(seen).state, "reconnecting");
  assert.equal(FakePeerConnection.made.length, made + 1, "a fresh connection");
  assert.ok(pc.closed);
  assert.equal(pc.iceRestartOffers, 0, "no ICE restart: ICE sees nothing to restart");
  assert.ok(!signaling.names().includes("leave"), "our place is kept");
  call.hangUp();
});
