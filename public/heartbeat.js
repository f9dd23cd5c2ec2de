// Whether the chat channel still carries anything, while a call is up: a ping twice a
// second that the partner's page answers at once with a pong. ICE can say "connected" over a path
// that carries nothing: after an ICE restart between Chromium and Firefox, Chromium may pair
// its new candidates with Firefox's old ones, which Firefox's old ICE session answers until
// it drops it, and both sides then show a call whose media and chat go nowhere (ICE's own
// consent checks pass: the old session answers them too). A ping left unanswered that long
// is a lost connection, brought back as a failed one would be; a pong while the call is
// being brought back shows the path works again, even if ICE never said otherwise.
//
// Timers in a background tab may fire late, so a ping's age is taken when a timer fires, and
// a pong is taken when it arrives (events are not throttled): late timers never count a
// working path quiet.

export const HEARTBEAT = Object.freeze({
  // Two tiny messages a second each way: nothing next to the media.
  everyMs: 500,
  // A working path answers within milliseconds, and SCTP sends a lost packet again about a
  // second later: two seconds without an answer is a path that carries nothing. As long as
  // ICE's own grace for "disconnected" (recovery.js), which this must not undercut.
  quietMs: 2000,
});

export class Heartbeat {
  constructor({ alive, send, quiet, answered }) {
    this.alive = alive; // () => false once the connection is no longer the call's: it stops
    this.send = send; // (envelope) => true once it went out on the channel
    this.quiet = quiet; // () => void: a ping went unanswered for quietMs
    this.answered = answered; // () => void: a pong came
    this.sent = 0;
    this.pending = null; // {n, at}: the ping awaiting its pong
    this.answeredAt = null; // when the last pong came (ms since the epoch)
    this.timer = null;
  }

  start() {
    if (this.timer === null) this.tick();
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }

  tick() {
    if (!this.alive()) {
      this.stop();
      return;
    }
    this.timer = setTimeout(() => this.tick(), HEARTBEAT.everyMs);
    const now = Date.now();
    if (this.pending) {
      if (now - this.pending.at < HEARTBEAT.quietMs) return;
      this.pending = null; // counted once; the next tick pings again
      this.quiet();
      return;
    }
    const n = this.sent + 1;
    if (this.send({ type: "ping", n })) {
      this.sent = n;
      this.pending = { n, at: now };
    }
  }

  receive(message) {
    // A ping (answered at once) or a pong: true when the envelope was one of these.
    if (message.type === "ping") {
      this.send({ type: "pong", n: message.n });
      return true;
    }
    if (message.type !== "pong") return false;
    // Any pong, even one of an earlier ping, shows the path carries things now.
    this.pending = null;
    this.answeredAt = Date.now();
    this.answered();
    return true;
  }
}
