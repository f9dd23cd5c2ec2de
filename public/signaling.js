// A client of webrtc-signal's HTTP API (docs/protocol.md) with no DOM: any page can import
// it, and so can Node 18+ (it needs only fetch and AbortController).
//
//   const signaling = new SignalingClient("https://chat.example", "my-room");
//   const offer = await signaling.enter(); // a place in the room, and the offer waiting there
//   signaling.listen((events) => { ... }); // {peers, answer, descriptions, candidates}
//   await signaling.postOffer(description);
//   await signaling.leave({ hangUp: true });
//
// It holds at most one request open: the push channel (GET /events), which brings the other
// side's answer, in-call descriptions and candidates and the room's peer count, and keeps our
// place in the room. The channel outlives a server restart: it asks again with backoff, and
// enters the room again when the server no longer knows our place.

export const DEFAULT_ROOM = "default-room";
export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
// The member's secret the server hands out on entering a room, sent back on every request.
export const TOKEN_HEADER = "X-Peer-Token";
const ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
const ID_LENGTH = 22;
// The push channel asks the server to hold it this many seconds (the server holds it at most
// half its peer timeout); after a failed request, it tries again after a pause.
const WAIT_S = 20;
// After a failed request (the server restarting, the network gone), the channel asks again
// after 1, 2, 4, then every 5 s: soon enough to notice the server's return within seconds,
// rare enough not to hammer a server that is starting up.
const RETRY_MS = [1000, 2000, 4000, 5000];
// An answer with nothing new that came back sooner than this was not held (a proxy that does
// not hold requests): pause before asking again.
const UNHELD_MS = 250;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  // A refusal ends what asked; an unreachable or busy server (0, 429, 5xx) may be retried.
  get retriable() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

export function randomId(length = ID_LENGTH) {
  // Unguessable: crypto.getRandomValues, 64 symbols so each byte maps without bias.
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (b) => ID_ALPHABET[b % 64]).join("");
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// The ICE configuration by server, with when it expires and when to ask again.
const ICE_CACHE = new Map();

// fetch called as a plain function: the browser's refuses another `this`.
const defaultFetch = (...args) => globalThis.fetch(...args);

export class SignalingClient {
  constructor(
    baseUrl,
    room = DEFAULT_ROOM,
    { peer = randomId(), token = null, fetch = defaultFetch } = {},
  ) {
    // `peer` and `token` given together resume a place this client held before (a reloaded
    // page): enter() keeps it while the server still knows it.
    this.baseUrl = String(baseUrl);
    this.room = room;
    this.peer = peer;
    this.token = token;
    this.fetch = fetch;
    this.listening = null; // the push channel's AbortController while it runs
  }

  async request(method, path, options = {}) {
    // One request on our behalf (room, peer id, token); the decoded JSON answer, or an
    // ApiError. A token the server hands out (on entering the room) is kept. A place the
    // server no longer knows (it restarted, or was out of reach longer than its peer timeout)
    // is taken again, once for every request that finds out, and the request sent again.
    const sent = this.token;
    try {
      return await this.send(method, path, options);
    } catch (err) {
      const forgotten = sent && err instanceof ApiError && err.code === "not_a_member";
      if (!forgotten || options.regain === false) throw err;
    }
    await this.regain(sent);
    return this.send(method, path, options);
  }

  async regain(stale) {
    // Enter again under the same peer id, unless another request already did.
    if (!this.regaining && this.token === stale) {
      this.token = null;
      this.regaining = this.send("GET", "/events")
        .catch(() => {}) // the request that asked reports what goes wrong
        .finally(() => {
          this.regaining = null;
        });
    }
    await this.regaining;
  }

  async send(method, path, { query = {}, body = null, keepalive = false, signal } = {}) {
    const url = new URL(path, this.baseUrl);
    const init = { method, keepalive, signal, headers: {} };
    const params = path.startsWith("/api/") ? query : { room: this.room, peer: this.peer, ...query };
    if (body === null) {
      for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    } else {
      init.body = JSON.stringify({ ...params, ...body });
      init.headers["Content-Type"] = "application/json";
    }
    if (this.token) init.headers[TOKEN_HEADER] = this.token;
    let response;
    try {
      response = await this.fetch(url, init);
    } catch (err) {
      if (signal && signal.aborted) throw err;
      throw new ApiError(0, "network", "cannot reach the server");
    }
    const issued = response.headers.get(TOKEN_HEADER);
    if (issued) this.token = issued;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const code = (data && data.error) || "http_" + response.status;
      const message = (data && data.message) || "the server answered " + response.status;
      throw new ApiError(response.status, code, message);
    }
    return data;
  }

  async rtcConfiguration() {
    // What new RTCPeerConnection takes, from GET /api/ice-servers: the ICE servers, and the
    // transport policy when it is not "all" ("relay": TURN relays only). Kept while its
    // credentials last, so one asked for before a call (prefetchRtcConfiguration) costs the
    // call no request.
    const cached = ICE_CACHE.get(this.baseUrl);
    if (cached && cached.expires > Date.now()) return cached.config;
    return fetchRtcConfiguration(this);
  }

  async join() {
    // Take a place in the room (a peer id's first request does) and read everything that
    // waits there for us, in one round trip: the push channel's first answer, not held.
    // {offer (null: we are the first), peers, answer, descriptions, candidates}, each signal
    // once; listen() goes on from it. A place we still hold (our token) is kept; one the
    // server dropped meanwhile is taken again.
    this.channel = newChannel();
    const events = await this.request("GET", "/events");
    return { offer: events.offer || null, ...this.take(events) };
  }

  async enter() {
    // join(), for the offer alone: null when there is none.
    return (await this.join()).offer;
  }

  async readOffer() {
    return (await this.request("GET", "/signal", { query: { type: "offer" } })).payload;
  }

  postOffer(description) {
    return this.request("POST", "/signal", { body: { type: "offer", payload: description } });
  }

  postAnswer(description) {
    return this.request("POST", "/signal", { body: { type: "answer", payload: description } });
  }

  postDescription(description) {
    // An offer or answer in a live call (renegotiation, an ICE restart): for the other
    // member only, through its push channel.
    return this.request("POST", "/signal", { body: { type: "description", payload: description } });
  }

  postCandidate(role, candidate) {
    return this.postCandidates(role, [candidate]);
  }

  postCandidates(role, candidates) {
    // Candidates we gathered, as the initiator or the receiver: one request for 1-50.
    const type = role === "initiator" ? "candidate_initiator" : "candidate_receiver";
    const body = candidates.length === 1 ? { payload: candidates[0] } : { payloads: candidates };
    return this.request("POST", "/signal", { body: { type, ...body } });
  }

  deleteOffer() {
    // The seed's clean-up of an answered offer. A member's answer takes the offer along on
    // the server: this is for clients that want it explicit.
    return this.request("DELETE", "/signal", { query: { type: "offer" } });
  }

  listen(onEvents, onError = () => {}) {
    // Run the push channel until stop() or leave(): onEvents({peers, answer, descriptions,
    // candidates}) for each answer of the server, each signal once; onError(err) for a
    // refusal, which ends it. Each request acknowledges (with its cursor) what the previous
    // one brought. A server that forgot our place (it restarted, or was down longer than its
    // peer timeout) is entered again, with the same peer id: the call goes on.
    this.stop();
    const controller = new AbortController();
    this.listening = controller;
    if (!this.channel) this.channel = newChannel();
    const run = async () => {
      let failures = 0;
      while (!controller.signal.aborted) {
        const askedAt = Date.now();
        let events;
        try {
          events = await this.request("GET", "/events", {
            query: eventsQuery(this.channel),
            signal: controller.signal,
          });
          failures = 0;
        } catch (err) {
          if (controller.signal.aborted) return;
          if (!(err instanceof ApiError) || !err.retriable) {
            this.stop();
            onError(err);
            return;
          }
          await sleep(RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]);
          continue;
        }
        if (controller.signal.aborted) return;
        const before = this.channel.peers;
        const news = this.take(events);
        onEvents(news);
        const quiet = !news.answer && !news.descriptions.length && !news.candidates.length;
        if (quiet && news.peers === before && Date.now() - askedAt < UNHELD_MS) {
          await sleep(RETRY_MS[0]);
        }
      }
    };
    run();
  }

  take(events) {
    // An answer of the push channel, as news: the signals not seen before (by key); its
    // cursor acknowledges them with the next request.
    const channel = this.channel;
    const unseen = (items) =>
      (items || []).filter((item) => {
        const key = JSON.stringify(item.key);
        return !channel.seen.has(key) && channel.seen.add(key);
      });
    channel.cursor = events.cursor;
    channel.peers = events.peers;
    return {
      peers: events.peers,
      answer: events.answer,
      descriptions: unseen(events.descriptions),
      candidates: unseen(events.candidates),
    };
  }

  stop() {
    // End the push channel now: its held request is aborted.
    if (this.listening) this.listening.abort();
    this.listening = null;
  }

  async leave({ hangUp = false, keepalive = false } = {}) {
    // Free our place: hanging up also clears the room's signals (DELETE /signal); leaving
    // after the other side left removes only what we sent (DELETE /room). keepalive lets the
    // request outlive the page.
    this.stop();
    this.channel = null;
    if (!this.token) return;
    const path = hangUp ? "/signal" : "/room";
    try {
      // A place already forgotten is not taken again just to give it back.
      await this.request("DELETE", path, { keepalive, regain: false });
    } finally {
      this.token = null;
    }
  }
}

function newChannel() {
  // What the push channel carries from one request to the next.
  return { cursor: null, peers: null, seen: new Set() };
}

async function fetchRtcConfiguration(client) {
  const answer = await client.request("GET", "/api/ice-servers");
  const config = { iceServers: answer.iceServers || [] };
  const policy = answer.iceTransportPolicy;
  if (policy && policy !== "all") config.iceTransportPolicy = policy;
  const ttl = typeof answer.ttl === "number" ? answer.ttl * 1000 : 0;
  ICE_CACHE.set(client.baseUrl, { config, expires: Date.now() + ttl, refresh: Date.now() + ttl / 2 });
  return config;
}

export function prefetchRtcConfiguration(baseUrl) {
  // Ask for the ICE servers before a call (a page does it while idle), and again once half
  // their lifetime has passed: the call then starts with them at hand.
  const client = new SignalingClient(baseUrl);
  const cached = ICE_CACHE.get(client.baseUrl);
  if (cached && cached.refresh > Date.now()) return Promise.resolve(cached.config);
  return fetchRtcConfiguration(client);
}

function eventsQuery({ cursor, peers }) {
  const query = { wait: WAIT_S };
  if (cursor) query.cursor = cursor;
  if (peers !== null) query.peers = peers;
  return query;
}
