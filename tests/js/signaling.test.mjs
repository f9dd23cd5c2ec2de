// signaling.js against a real server (SIGNAL_URL, started by tests/test_js.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, SignalingClient, sleep } from "./signaling.js";

const BASE = process.env.SIGNAL_URL;
const OFFER = { type: "offer", sdp: "v=0 offer" };
const ANSWER = { type: "answer", sdp: "v=0 answer" };
const CANDIDATE = { candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdpMid: "0" };

function nextEvents(client) {
  // The next answer of the push channel, as a promise.
  return new Promise((resolve, reject) => client.listen(resolve, reject));
}

test("two clients meet: offer, answer and candidates through the push channel", async () => {
  const alice = new SignalingClient(BASE, "js-call");
  const bob = new SignalingClient(BASE, "js-call");
  assert.equal(await alice.enter(), null);
  assert.ok(alice.token, "entering hands out a token");
  await alice.postOffer(OFFER);
  assert.deepEqual(await bob.enter(), OFFER);

  const events = [];
  let wake;
  alice.listen((e) => {
    events.push(e);
    if (wake) wake();
  });
  const until = (check) =>
    new Promise((resolve) => {
      wake = () => check() && resolve();
      wake();
    });
  await until(() => events.length >= 1);
  assert.equal(events.at(-1).peers, 2);

  await bob.postAnswer(ANSWER);
  await bob.postCandidate("receiver", CANDIDATE);
  await until(() => events.some((e) => e.candidates.length));
  const got = events.flatMap((e) => e.candidates.map((c) => c.payload));
  assert.deepEqual(got, [CANDIDATE]);
  assert.deepEqual(events.find((e) => e.answer).answer, ANSWER);
  // The channel's next request acknowledges them: soon nothing is left for Alice to read.
  const unread = () => alice.request("GET", "/signal", { query: { type: "candidate_receiver" } });
  const deadline = Date.now() + 2000;
  while ((await unread()).length && Date.now() < deadline) await sleep(20);
  assert.deepEqual(await unread(), []);
  assert.equal((await bob.request("GET", "/signal", { query: { type: "answer" } })).payload, null);
  alice.stop();
  await bob.leave({ hangUp: true });
  await alice.leave();
  assert.equal(alice.token, null);
});

test("rtcConfiguration() is what new RTCPeerConnection takes", async () => {
  const client = new SignalingClient(BASE, "js-config");
  const config = await client.rtcConfiguration();
  assert.ok(Array.isArray(config.iceServers) && config.iceServers.length > 0);
  assert.equal(config.iceTransportPolicy, undefined); // "all" is the browser's own default
  assert.equal(client.token, null); // asking takes no place in the room
});

test("stop() ends the held request at once", async () => {
  const alone = new SignalingClient(BASE, "js-alone");
  await alone.enter();
  await nextEvents(alone); // the first answer comes at once; the next one is held
  const started = Date.now();
  alone.stop();
  await alone.leave({ hangUp: true });
  assert.ok(Date.now() - started < 1000);
});

test("a refusal is an ApiError with the server's code; a third peer is refused", async () => {
  const clients = [0, 1, 2].map(() => new SignalingClient(BASE, "js-full"));
  await clients[0].enter();
  await clients[1].enter();
  await assert.rejects(clients[2].enter(), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 409);
    assert.equal(err.code, "room_full");
    assert.equal(err.retriable, false);
    return true;
  });
  const outsider = new SignalingClient(BASE, "js-full", { peer: "" });
  await assert.rejects(outsider.readOffer(), { code: "not_a_member" });
  for (const client of clients.slice(0, 2)) await client.leave({ hangUp: true });
});

test("an unreachable server is a retriable ApiError", async () => {
  const nowhere = new SignalingClient("http://127.0.0.1:9", "r");
  await assert.rejects(nowhere.enter(), (err) => err instanceof ApiError && err.retriable);
});
