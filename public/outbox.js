// What one connection sends the other person through the server, in order: a description
// (offer or answer) first, then the candidates gathered after it. Candidates go one request
// at a time; whatever trickles in while one is out goes in the next, together. The first goes
// at once: no timer adds latency. A request that fails for a passing reason is sent again.
import { ApiError, sleep } from "./signaling.js";

// Pauses before sending again after a passing failure (the server restarting, a rate limit,
// our place being taken again by the push channel), the last repeating.
const RETRY_MS = [1000, 2000, 4000, 5000];
const MAX_BATCH = 50; // candidates in one request

export class Outbox {
  constructor(signaling, { role, stillOurs }) {
    this.signaling = signaling;
    this.role = role; // () => "initiator" | "receiver": the candidates' type
    this.stillOurs = stillOurs; // () => false once the connection is replaced or closed
    this.candidates = [];
    this.held = true; // until our first description is stored
    this.sending = false;
    this.describing = 0; // descriptions on their way
    this.descriptions = Promise.resolve(); // the last of them posted
  }

  async description(send) {
    // Send a description; candidates gathered meanwhile wait for it, so the other side never
    // gets a candidate of new ICE credentials before the description that carries them. One
    // at a time, in the order made: two posted at once may be stored the other way round (a
    // retried one is overtaken), and an answer stored before the offer we rolled back would
    // make the other side take that offer as a new one.
    this.held = true;
    this.describing += 1;
    const posted = this.descriptions.then(() => this.deliver(send));
    this.descriptions = posted.catch(() => {});
    try {
      return await posted;
    } finally {
      this.describing -= 1;
      if (this.describing === 0) this.release();
    }
  }

  release() {
    // Our description is stored (or was sent by the caller): candidates may follow.
    this.held = false;
    this.flush();
  }

  candidate(candidate) {
    this.candidates.push(candidate);
    this.flush();
  }

  async flush() {
    if (this.held || this.sending || this.candidates.length === 0 || !this.stillOurs()) return;
    this.sending = true;
    const batch = this.candidates.splice(0, MAX_BATCH);
    try {
      await this.deliver(() => this.signaling.postCandidates(this.role(), batch));
    } catch (err) {
      if (this.stillOurs()) console.warn("could not send candidates:", err.message);
    } finally {
      this.sending = false;
    }
    this.flush();
  }

  async deliver(send) {
    // Send, and again after a pause while the failure may pass and the connection is ours.
    for (let attempt = 0; ; attempt++) {
      try {
        return await send();
      } catch (err) {
        const passing = err instanceof ApiError && (err.retriable || err.code === "not_a_member");
        if (!passing || !this.stillOurs()) throw err;
      }
      await sleep(RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]);
      if (!this.stillOurs()) return undefined;
    }
  }
}
