// recovery.js: the reconnect policy, one row at a time, at its edges.
import assert from "node:assert/strict";
import { test } from "node:test";

import { nextStep, RECONNECT } from "./recovery.js";

const SINCE = 100000;

function lost(changes = {}) {
  // A connection lost at SINCE, partner placed and able to restart, nothing tried yet.
  return {
    now: SINCE,
    since: SINCE,
    partnerPlaced: true,
    canRestart: true,
    offeredAt: null,
    answered: false,
    freshAt: null,
    restarts: 0,
    ...changes,
  };
}

test("the policy is frozen, and its waits nest", () => {
  assert.ok(Object.isFrozen(RECONNECT));
  const backoff = RECONNECT.restartBackoffMs;
  assert.deepEqual([...backoff].sort((x, y) => x - y), backoff, "the backoff only grows");
  // An unanswered offer is noticed before a fresh connection is given up on, and both
  // well before the call is.
  assert.ok(backoff.at(-1) < RECONNECT.answerWaitMs);
  assert.ok(RECONNECT.answerWaitMs < RECONNECT.freshWaitMs);
  assert.ok(RECONNECT.freshWaitMs < RECONNECT.giveUpMs);
});

test("give up once the loss has lasted giveUpMs, whatever else holds", () => {
  const end = SINCE + RECONNECT.giveUpMs;
  assert.deepEqual(nextStep(lost({ now: end })), { step: "give-up" });
  assert.deepEqual(nextStep(lost({ now: end, partnerPlaced: false })), { step: "give-up" });
  assert.deepEqual(nextStep(lost({ now: end, freshAt: end - 1 })), { step: "give-up" });
  assert.notDeepEqual(nextStep(lost({ now: end - 1 })), { step: "give-up" });
});

test("a wait never runs past the give-up", () => {
  const end = SINCE + RECONNECT.giveUpMs;
  // A fresh connection started 2 s before the end: the call ends on time, not 8 s late.
  assert.deepEqual(nextStep(lost({ freshAt: end - 2000, now: end - 1000 })), {
    step: "wait",
    delay: 1000,
  });
  assert.deepEqual(
    nextStep(lost({ now: end - 300, offeredAt: end - 400, answered: false, restarts: 1 })),
    { step: "wait", delay: 300 },
  );
  assert.deepEqual(
    nextStep(lost({ now: end - 300, offeredAt: end - 400, answered: true, restarts: 1 })),
    { step: "wait", delay: 300 },
  );
});

test("rejoin when the partner's place is gone", () => {
  assert.deepEqual(nextStep(lost({ partnerPlaced: false })), { step: "rejoin" });
  // Even with a fresh connection running, or a restart waiting for its answer.
  assert.deepEqual(nextStep(lost({ partnerPlaced: false, freshAt: SINCE })), { step: "rejoin" });
  assert.deepEqual(nextStep(lost({ partnerPlaced: false, offeredAt: SINCE })), { step: "rejoin" });
});

test("a fresh connection when the partner cannot restart", () => {
  assert.deepEqual(nextStep(lost({ canRestart: false })), { step: "fresh" });
  assert.deepEqual(nextStep(lost({ canRestart: false, offeredAt: SINCE })), { step: "fresh" });
});

test("an ICE restart at once, then again after the backoff while answered", () => {
  assert.deepEqual(nextStep(lost()), { step: "restart" });
  // The answer came but the path is still down: the next restart waits for its pause.
  const [first, second, cap] = RECONNECT.restartBackoffMs;
  const answered = { offeredAt: SINCE, answered: true };
  assert.deepEqual(nextStep(lost({ ...answered, restarts: 1, now: SINCE + 400 })), {
    step: "wait",
    delay: second - 400,
  });
  assert.deepEqual(nextStep(lost({ ...answered, restarts: 1, now: SINCE + second })), {
    step: "restart",
  });
  assert.deepEqual(nextStep(lost({ ...answered, restarts: 0, now: SINCE + first })), {
    step: "restart",
  });
  // The pause grows to its cap and stays there.
  for (const restarts of [2, 3, 10]) {
    assert.deepEqual(nextStep(lost({ ...answered, restarts, now: SINCE + cap - 1 })), {
      step: "wait",
      delay: 1,
    });
    assert.deepEqual(nextStep(lost({ ...answered, restarts, now: SINCE + cap })), {
      step: "restart",
    });
  }
});

test("an unanswered in-call offer: wait up to answerWaitMs, then a fresh connection", () => {
  const unanswered = { offeredAt: SINCE, answered: false, restarts: 1 };
  // Looking again within the backoff pause, never later than the answer's deadline.
  assert.deepEqual(nextStep(lost({ ...unanswered, now: SINCE + 100 })), {
    step: "wait",
    delay: RECONNECT.restartBackoffMs[1],
  });
  const nearly = SINCE + RECONNECT.answerWaitMs - 300;
  assert.deepEqual(nextStep(lost({ ...unanswered, now: nearly })), { step: "wait", delay: 300 });
  assert.deepEqual(nextStep(lost({ ...unanswered, now: SINCE + RECONNECT.answerWaitMs })), {
    step: "fresh",
  });
});

test("a fresh connection gets freshWaitMs to connect, then another one", () => {
  const freshAt = SINCE + 5000;
  assert.deepEqual(nextStep(lost({ freshAt, now: freshAt })), {
    step: "wait",
    delay: RECONNECT.freshWaitMs,
  });
  assert.deepEqual(nextStep(lost({ freshAt, now: freshAt + 4000, canRestart: false })), {
    step: "wait",
    delay: RECONNECT.freshWaitMs - 4000,
  });
  // Waiting for it wins over a restart or an unanswered offer of the old connection.
  assert.deepEqual(
    nextStep(lost({ freshAt, now: freshAt + 1, offeredAt: SINCE, answered: false })).step,
    "wait",
  );
  assert.deepEqual(nextStep(lost({ freshAt, now: freshAt + RECONNECT.freshWaitMs })), {
    step: "fresh",
  });
});
