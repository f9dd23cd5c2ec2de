// negotiation.js: two Negotiators on fake connections, wired to each other through queues
// this test delivers from, in the order each test chooses. The push channel keeps the order
// of what one side posts, so each direction is first in, first out; what varies is how the
// two directions and the connections' own operations interleave.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Negotiator, sessionId } from "./negotiation.js";
import { FakePeerConnection, fakeSdp, iceUfrag } from "./fake_rtc.mjs";

const turn = () => new Promise((resolve) => setImmediate(resolve));

async function turns(n = 10) {
  for (let i = 0; i < n; i++) await turn();
}

async function until(condition, what) {
  for (let i = 0; i < 200; i++) {
    if (condition()) return;
    await turn();
  }
  assert.fail(`never happened: ${what}`);
}

function side(pc, polite, outbox, errors) {
  // One side: its connection, its Negotiator, and the inbox that applies what it is given
  // one description after another, as call.js does.
  const negotiator = new Negotiator(pc, { polite, send: async (d) => outbox.push(d) });
  const s = { pc, negotiator, inbox: Promise.resolve(), received: 0 };
  s.deliver = (description) => {
    s.received += 1;
    s.inbox = s.inbox.then(() => negotiator.receive(description)).catch((err) => errors.push(err));
    return s.inbox;
  };
  return s;
}

async function connectedPair() {
  // An initiator (impolite) and a receiver (polite) after the seed's exchange, which goes
  // around the Negotiators as in call.js.
  const errors = [];
  const toA = [];
  const toB = [];
  const a = side(new FakePeerConnection({}), false, toB, errors);
  const b = side(new FakePeerConnection({}), true, toA, errors);
  a.pc.createDataChannel("chat");
  a.pc.addTransceiver("audio", { direction: "recvonly" });
  await a.pc.setLocalDescription(await a.pc.createOffer());
  await b.pc.setRemoteDescription(a.pc.localDescription.toJSON());
  await b.pc.setLocalDescription(await b.pc.createAnswer());
  await a.pc.setRemoteDescription(b.pc.localDescription.toJSON());
  await turns();
  assert.deepEqual([toA.length, toB.length], [0, 0], "the seed's exchange sends nothing in-call");
  return { a, b, toA, toB, errors };
}

function isQuiet({ a, b, toA, toB }) {
  const idle = (s) =>
    s.pc.operations === 0 &&
    !s.pc.firing &&
    !s.negotiator.makingOffer &&
    s.pc.signalingState === "stable";
  return toA.length === 0 && toB.length === 0 && idle(a) && idle(b);
}

async function drain(pair, random = () => 0) {
  // Deliver everything, picking a direction at random, until both sides are quiet.
  const { a, b, toA, toB } = pair;
  for (let i = 0; i < 500; i++) {
    if (isQuiet(pair)) {
      await turns(5); // a negotiationneeded may still be on its way
      if (isQuiet(pair)) return;
    }
    const queues = [
      [toA, a],
      [toB, b],
    ].filter(([q]) => q.length);
    if (queues.length) {
      const [queue, to] = queues[Math.floor(random() * queues.length)];
      to.deliver(queue.shift());
    }
    await turn();
  }
  assert.fail("the two sides never settled");
}

function assertAgreed({ a, b, errors }) {
  // Both stable, each applying the other's current description, with one set of credentials.
  assert.deepEqual(errors, []);
  assert.equal(a.pc.signalingState, "stable");
  assert.equal(b.pc.signalingState, "stable");
  assert.equal(a.pc.currentRemoteDescription.sdp, b.pc.currentLocalDescription.sdp);
  assert.equal(b.pc.currentRemoteDescription.sdp, a.pc.currentLocalDescription.sdp);
  assert.equal(a.pc.restartsDone, a.pc.restartsWanted, "every restart of A was negotiated");
  assert.equal(b.pc.restartsDone, b.pc.restartsWanted, "every restart of B was negotiated");
}

function random32(seed) {
  // mulberry32: a small seeded generator, so a failing round can be run again.
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("one side restarts ICE: an offer with new credentials, answered with new ones", async () => {
  const pair = await connectedPair();
  const { a, b, toB } = pair;
  const [ufragA, ufragB] = [a.pc.localUfrag, b.pc.localUfrag];
  a.negotiator.restartIce();
  await until(() => toB.length === 1, "A's offer");
  assert.equal(toB[0].type, "offer");
  assert.notEqual(iceUfrag(toB[0].sdp), ufragA);
  assert.equal(a.negotiator.waitingForAnswer, true);
  // A is ICE's controlling side: its new credentials are not in use before B has them.
  const applied = a.pc.log.length;
  assert.equal(a.pc.signalingState, "stable");
  assert.equal(a.pc.localUfrag, ufragA);
  await drain(pair);
  assert.deepEqual(a.pc.log.slice(applied), [
    ["local", "offer"],
    ["remote", "answer"],
  ]);
  assertAgreed(pair);
  assert.notEqual(a.pc.localUfrag, ufragA);
  assert.notEqual(b.pc.localUfrag, ufragB);
  assert.equal(a.negotiator.waitingForAnswer, false);
  assert.deepEqual([a.negotiator.offersSent, a.negotiator.answersReceived], [1, 1]);
  assert.deepEqual([b.negotiator.offersSent, b.negotiator.answersReceived], [0, 0]);
});

test("crossing offers: the polite side drops its own and answers, the impolite ignores", async () => {
  const pair = await connectedPair();
  const { a, b, toA, toB } = pair;
  const [ufragA, ufragB] = [a.pc.localUfrag, b.pc.localUfrag];
  a.negotiator.restartIce();
  b.negotiator.restartIce();
  await until(() => toA.length === 1 && toB.length === 1, "both offers");
  // Each applies its restart offer only with the answer to it.
  for (const s of [a, b]) {
    assert.equal(s.pc.signalingState, "stable");
    assert.equal(s.negotiator.waitingForAnswer, true);
  }

  // B (polite) gets A's offer: its own is dropped, and it answers.
  await b.deliver(toB.shift());
  assert.ok(!b.pc.log.some(([what]) => what === "rollback"), "B's offer, never applied, is dropped");
  assert.deepEqual(
    toA.map((d) => d.type),
    ["offer", "answer"],
  );
  // A (impolite) gets B's offer, made before it was dropped: ignored, A still waits.
  await a.deliver(toA.shift());
  assert.equal(a.negotiator.ignoreOffer, true);
  assert.equal(a.negotiator.waitingForAnswer, true);
  await a.deliver(toA.shift()); // B's answer
  assert.equal(a.pc.signalingState, "stable");
  assert.notEqual(a.pc.localUfrag, ufragA);
  assert.notEqual(b.pc.localUfrag, ufragB);
  const answeredWith = b.pc.localUfrag;

  // B's own restart was dropped, not done: it is offered again.
  await until(() => toA.length === 1, "B's restart, offered again");
  assert.equal(toA[0].type, "offer");
  await drain(pair);
  assertAgreed(pair);
  assert.equal(b.negotiator.offersSent, 2);
  assert.equal(b.negotiator.answersReceived, 1);
  assert.notEqual(b.pc.localUfrag, answeredWith, "B's restart gave it new credentials again");
  assert.equal(a.negotiator.offersSent, 1);
});

test("20 rounds of random interleavings all settle stable, in agreement", async () => {
  for (let round = 0; round < 20; round++) {
    const seed = 1234 + round;
    const random = random32(seed);
    const pair = await connectedPair();
    const { a, b, toA, toB } = pair;
    let restarts = 0;
    for (let step = 0; step < 40; step++) {
      const roll = random();
      if (roll < 0.15) {
        a.negotiator.restartIce();
        restarts += 1;
      } else if (roll < 0.3) {
        b.negotiator.restartIce();
        restarts += 1;
      } else if (roll < 0.55 && toA.length) {
        a.deliver(toA.shift());
      } else if (roll < 0.8 && toB.length) {
        b.deliver(toB.shift());
      }
      await turns(Math.floor(random() * 3));
    }
    await drain(pair, random);
    try {
      assertAgreed(pair);
    } catch (err) {
      err.message = `round ${round} (seed ${seed}, ${restarts} restarts): ${err.message}`;
      throw err;
    }
  }
});

test("an answer to an offer that was rolled back is dropped, with no error", async () => {
  const pair = await connectedPair();
  const { a, b, toA, toB } = pair;
  a.negotiator.restartIce();
  b.negotiator.restartIce();
  await until(() => toA.length === 1 && toB.length === 1, "both offers");
  await b.deliver(toB.shift()); // B rolls its offer back and answers A's
  assert.equal(b.pc.signalingState, "stable");
  // An answer to B's rolled-back offer (one the other side made of it anyway) comes in while
  // B is stable: nothing to apply it to.
  const stale = {
    type: "answer",
    sdp: fakeSdp({ session: a.pc.session, version: 99, ufrag: "stale", media: ["audio"] }),
  };
  // Of A's session: the state, not the session check, is what drops it.
  assert.equal(sessionId(stale.sdp), sessionId(b.pc.remoteDescription.sdp));
  const remoteBefore = b.pc.remoteDescription.sdp;
  await b.deliver(stale);
  assert.deepEqual(pair.errors, []);
  assert.equal(b.pc.remoteDescription.sdp, remoteBefore);
  assert.equal(b.negotiator.answersReceived, 0);
  assert.ok(!b.pc.log.some(([what, type]) => what === "remote" && type === "answer"));
  await drain(pair);
  assertAgreed(pair);
});

test("a restart while one is in flight: a second offer once the first is answered", async () => {
  const pair = await connectedPair();
  const { a, b, toA, toB } = pair;
  const ufrags = [a.pc.localUfrag];
  a.negotiator.restartIce();
  await until(() => toB.length === 1, "the first offer");
  ufrags.push(iceUfrag(toB[0].sdp));
  a.negotiator.restartIce(); // still waiting for the answer: nothing goes yet
  await turns(20);
  assert.equal(toB.length, 1);
  assert.equal(a.negotiator.offersSent, 1);

  await b.deliver(toB.shift());
  await until(() => toA.length === 1, "B's answer");
  await a.deliver(toA.shift());
  await until(() => toB.length === 1, "the second offer, after the answer");
  assert.equal(a.negotiator.answersReceived, 1);
  ufrags.push(iceUfrag(toB[0].sdp));
  await drain(pair);
  assertAgreed(pair);
  assert.equal(a.negotiator.offersSent, 2);
  assert.equal(a.pc.localUfrag, ufrags[2]);
  assert.equal(new Set(ufrags).size, 3, `the credentials changed twice: ${ufrags}`);
});

test("a description from an earlier connection (another session id) is dropped", async () => {
  const pair = await connectedPair();
  const { a, b, toA, toB } = pair;
  const earlier = new FakePeerConnection({}); // the partner's connection before a fresh one
  const offer = {
    type: "offer",
    sdp: fakeSdp({ session: earlier.session, version: 5, ufrag: "old", media: ["audio"] }),
  };
  assert.notEqual(sessionId(offer.sdp), sessionId(a.pc.localDescription.sdp));
  await b.deliver(offer);
  await turns();
  assert.equal(b.pc.signalingState, "stable");
  assert.deepEqual(toA, [], "no answer to it");
  const answer = { ...offer, type: "answer" };
  a.negotiator.restartIce();
  await until(() => toB.length === 1, "A's offer");
  await a.deliver(answer); // not B's answer: A still waits for it
  assert.equal(a.negotiator.waitingForAnswer, true);
  assert.equal(a.negotiator.answersReceived, 0);
  await drain(pair);
  assertAgreed(pair);
  assert.deepEqual(pair.errors, []);
});

test("descriptions before the first exchange is done are dropped", async () => {
  const errors = [];
  const sent = [];
  const fresh = side(new FakePeerConnection({}), true, sent, errors);
  const partner = new FakePeerConnection({});
  const sdp = fakeSdp({ session: partner.session, ufrag: "x", media: ["audio"] });
  const offer = { type: "offer", sdp };
  await fresh.deliver(offer); // nothing described yet
  assert.equal(fresh.pc.remoteDescription, null);

  // An initiator whose room offer is out but unanswered: not live either.
  const waiting = side(new FakePeerConnection({}), false, sent, errors);
  waiting.pc.createDataChannel("chat");
  await waiting.pc.setLocalDescription(await waiting.pc.createOffer());
  await waiting.deliver(offer);
  await waiting.deliver({ ...offer, type: "answer" });
  assert.equal(waiting.pc.signalingState, "have-local-offer");
  assert.equal(waiting.pc.remoteDescription, null);
  // Its restart before the first exchange sends nothing either: the room's offer carries all.
  waiting.negotiator.restartIce();
  await turns(20);
  assert.deepEqual(sent, []);
  assert.deepEqual(errors, []);
});

test("sessionId reads the origin line's session id", () => {
  const sdp = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\n";
  assert.equal(sessionId(sdp), "4611731400430051336");
  assert.equal(sessionId("v=0\r\ns=-\r\n"), null);
  assert.equal(sessionId(undefined), null);
});
