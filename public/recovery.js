// What a call does when its connection drops, and when: the reconnect policy as a table of
// named values with the reason for each, and one pure function that picks the next step.
// call.js runs it; docs/protocol.md ("What a call survives") says the same in words.

export const RECONNECT = Object.freeze({
  // ICE's "disconnected" often heals by itself within a second (a burst of lost packets, a
  // Wi-Fi roam): an ICE restart only once it has lasted this long. "failed" restarts at once.
  disconnectedGraceMs: 2000,
  // Between ICE restarts while the path stays down, growing to a cap. The cap bounds how long
  // the call stays down after the network (or a TURN server) comes back: a restart within it,
  // then about a second of gathering and checks.
  restartBackoffMs: [1000, 2000, 2500],
  // An in-call offer the partner leaves unanswered this long means it cannot restart ICE on
  // its connection (a client that speaks only the seed's messages, an aiortc peer, a page
  // that is gone): both sides build a fresh connection in the room instead.
  answerWaitMs: 5000,
  // A fresh connection that has not connected in this long is built again.
  freshWaitMs: 10000,
  // A path that goes quiet this soon after an in-call exchange, while ICE calls it connected,
  // was left so by that exchange (heartbeat.js): a fresh connection, as ICE sees nothing to
  // restart. Quiet later on, it is a lost path like any other. An exchange's new path is
  // picked within a second, and its quiet noticed within heartbeat.js's quietMs after that.
  staleAfterExchangeMs: 8000,
  // While the partner still holds a place but nothing brings the call back: it ends after
  // this long, saying so, and the person can join again.
  giveUpMs: 60000,
});

// The steps, as nextStep returns them:
//   "restart"  an ICE restart on the same connection (same streams, same chat channel)
//   "fresh"    a new connection in the same room, by the seed's flow, with no click
//   "wait"     nothing to do yet: look again after `delay`
//   "rejoin"   the partner's place is gone (they closed the tab): wait in the room for them
//   "give-up"  end the call, saying it could not be restored
export function nextStep({
  now,
  since, // when the connection was lost
  partnerPlaced, // the partner still holds a place in the room (false: it is gone)
  canRestart, // the partner answers in-call offers, and its connection is still there
  offeredAt, // when the last in-call offer went out or came in (null: none since the loss)
  answered, // that offer was answered
  freshAt, // when the fresh connection now running was started (null: none)
  restarts, // ICE restarts made since the loss
}) {
  const giveUpIn = since + RECONNECT.giveUpMs - now;
  if (giveUpIn <= 0) return { step: "give-up" };
  if (!partnerPlaced) return { step: "rejoin" };
  // A wait never runs past the give-up: the call ends on time, not a fresh wait later.
  const wait = (delay) => ({ step: "wait", delay: Math.min(delay, giveUpIn) });
  if (freshAt !== null) {
    const left = freshAt + RECONNECT.freshWaitMs - now;
    return left > 0 ? wait(left) : { step: "fresh" };
  }
  if (!canRestart) return { step: "fresh" };
  const backoff = RECONNECT.restartBackoffMs;
  const pause = backoff[Math.min(restarts, backoff.length - 1)];
  if (offeredAt !== null && !answered) {
    const left = offeredAt + RECONNECT.answerWaitMs - now;
    return left > 0 ? wait(Math.min(left, pause)) : { step: "fresh" };
  }
  if (offeredAt !== null && now - offeredAt < pause) return wait(offeredAt + pause - now);
  return { step: "restart" };
}

// Runs the policy for one call from the moment its connection is lost until it is back (or
// the call ends): `actions` reads what nextStep needs and takes the steps it picks.
//   read()    {partnerPlaced, canRestart, answered}
//   restart() an ICE restart       fresh()  a fresh connection
//   rejoin()  wait in the room     giveUp() end the call
export class Recovery {
  constructor(actions) {
    this.actions = actions;
    this.lost = null; // {since, offeredAt, freshAt, restarts} while recovering
    this.timer = null;
  }

  get active() {
    return this.lost !== null;
  }

  get since() {
    return this.lost ? this.lost.since : null;
  }

  begin() {
    // The connection is lost: true when this starts a recovery (then step()), false when one
    // runs already.
    if (this.lost) return false;
    this.lost = { since: Date.now(), offeredAt: null, freshAt: null, restarts: 0 };
    return true;
  }

  offered() {
    // An in-call offer went out or came in: an ICE restart is under way.
    if (this.lost) this.lost.offeredAt = Date.now();
  }

  step() {
    clearTimeout(this.timer);
    const lost = this.lost;
    if (!lost) return;
    const { step, delay } = nextStep({ now: Date.now(), ...lost, ...this.actions.read() });
    if (step === "give-up" || step === "rejoin") {
      this.stop();
      if (step === "give-up") this.actions.giveUp();
      else this.actions.rejoin();
      return;
    }
    if (step === "restart") {
      lost.restarts += 1;
      lost.offeredAt = Date.now();
      this.actions.restart();
    } else if (step === "fresh") {
      lost.freshAt = Date.now();
      this.actions.fresh();
    }
    this.timer = setTimeout(() => this.step(), step === "wait" ? delay : RECONNECT.restartBackoffMs[0]);
  }

  stop() {
    // Back, or the call ended: nothing more to do.
    clearTimeout(this.timer);
    this.lost = null;
  }
}
