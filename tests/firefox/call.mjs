// Calls on the page between two browsers, each Firefox ESR or Chromium, driven by
// puppeteer-core: Firefox over WebDriver BiDi, Chromium over the DevTools protocol. Run by
// tests/test_firefox.py against a live server; prints one JSON object (the result) on stdout.
//
//   node tests/firefox/call.mjs --url http://127.0.0.1:PORT \
//     --pair firefox,chromium,ROOM [--pair chromium,firefox,ROOM2 ...] [--calls 2] \
//     [--restarts 0] [--chromium-arg=--FLAG ...]
//
// Each --pair is FIRST,SECOND,ROOM: who starts each call, who answers, and their room. The
// pairs run one after the other in one session: each kind of browser is launched once, and
// each pair's people get browser contexts of their own, closed when the pair is done.
//
// Chromium's flags (fake camera and microphone, no sandbox, no network) come from
// harness/browser.py's CHROMIUM_ARGS, one --chromium-arg=FLAG each, so both harnesses launch
// it alike.
//
// Each call, as a person would make it: the first person clicks Join and waits, the
// second clicks it; both pages reach "connected"; each sees the other's video play; a chat
// message crosses each way; then one leaves (the first in odd calls, the second in even
// ones), who is left "idle" while the other sees "left". One browser process per kind for
// the whole run; each person has a browser context and a window of their own.
//
// With --restarts N, each pair's first call also has N rounds of ICE restarts before its
// hang-up: in each, the first person and then the second calls videoChat.call.restartIce()
// in the live call; both must use new ICE credentials (harness/probes.js, ice()) and be
// connected to each other again, and a chat message must cross.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import puppeteer from "puppeteer-core";

const EXECUTABLES = { firefox: "/usr/bin/firefox-esr", chromium: "/usr/bin/chromium" };
const FIREFOX_PREFS = {
  // A fake camera and microphone, granted without a prompt. Without permission.fake Firefox
  // treats the page as not allowed to see addresses and gathers no loopback candidates.
  "media.navigator.streams.fake": true,
  "media.navigator.permission.disabled": true,
  "media.navigator.permission.fake": true,
  // The only network here is loopback: gather on it, and show the real host addresses.
  "media.peerconnection.ice.loopback": true,
  "media.peerconnection.ice.obfuscate_host_addresses": false,
  // Remote video plays without a user gesture.
  "media.autoplay.default": 0,
};
const STATE_TIMEOUT_MS = 15_000;
const CHAT_TIMEOUT_MS = 5_000;
const VIDEO_TIMEOUT_MS = 10_000;
const POLL_MS = 50;
const RESTART_TIMEOUT_MS = 15_000;

// Mute and Camera off as the other person perceives them: sound energy received in a second
// (Firefox's fake tone gives about 0.01, Chromium's beeps 0.25, silence under 1e-5: a second
// always holds a beep), and the brightness of the picture (fake cameras give 45-160 of 255, a
// camera turned off 0). Each change is waited for: under load, sound can lag a second behind.
const LISTEN_MS = 1_000;
const HEARD_ENERGY = 1e-3;
const SILENT_ENERGY = 1e-4;
const SOUND_TIMEOUT_MS = 10_000;
const DARK = 5;
const LIT = 30;

// The page probes, installed before the page's own script (harness/probes.js, shared with the
// Playwright tests): every change of #status[data-state] with the time it happened, any CSP
// violation, and two measures of what arrives from the other person.
const PROBES = readFileSync(new URL("../../harness/probes.js", import.meta.url), "utf8");

// How long closing a browser may take before it is killed.
const CLOSE_MS = 10000;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function launch(kind, chromiumArgs) {
  // Headless, with fake media devices; never a browser download (executablePath is given).
  if (kind === "firefox") {
    return puppeteer.launch({
      browser: "firefox",
      executablePath: EXECUTABLES.firefox,
      headless: true,
      extraPrefsFirefox: FIREFOX_PREFS,
    });
  }
  return puppeteer.launch({
    browser: "chrome",
    executablePath: EXECUTABLES.chromium,
    headless: true,
    args: chromiumArgs,
  });
}

async function closeBrowser(browser) {
  // Closed as puppeteer closes it, unless that takes over CLOSE_MS (Firefox's close may never
  // finish): then its process group is killed, so that no browser outlives the script.
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve(true), CLOSE_MS);
  });
  const closed = browser.close().then(
    () => false,
    () => true,
  );
  const kill = await Promise.race([closed, late]);
  clearTimeout(timer);
  const child = browser.process();
  if (kill && child && child.pid) {
    try {
      process.kill(-child.pid, "SIGKILL"); // puppeteer starts it as a process group's leader
    } catch (err) {
      // Gone already.
    }
  }
}

class Person {
  // One person: a browser context of their own with one window on the page.
  constructor(name, kind, page) {
    this.name = name;
    this.kind = kind;
    this.page = page;
    this.errors = [];
    this.csp = null; // the Content-Security-Policy the page was served with
    page.on("pageerror", (error) => this.errors.push(String(error.message || error)));
    // The page's own warnings (a description it could not apply...), to explain a failure.
    this.warnings = [];
    page.on("console", (message) => {
      if (["warn", "warning", "error"].includes(message.type())) {
        this.warnings.push(message.text());
      }
    });
  }

  static async open(browser, name, kind, url) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage({ type: "window" });
    const person = new Person(name, kind, page);
    await page.evaluateOnNewDocument(PROBES);
    const response = await page.goto(url);
    person.csp = response ? response.headers()["content-security-policy"] || null : null;
    await person.waitState("idle");
    return person;
  }

  waitFor(fn, arg, timeout, what) {
    return this.page
      .waitForFunction(fn, { polling: POLL_MS, timeout }, arg)
      .catch((error) => this.fail(`${what}: ${error.message}`));
  }

  async fail(message) {
    // Say who and where the page was, so a failure explains itself.
    throw new Error(`${this.name} (${this.kind}) ${message} [status ${await this.describe()}]`);
  }

  async describe() {
    // The page's status, its chat channel, the last chat lines, and its ICE: the
    // credentials in use and the candidate pairs that carried anything.
    return await this.page
      .evaluate(async () => {
        const shown = document.getElementById("status");
        const chat = [...document.querySelectorAll("#chatLog li")].map((li) => li.textContent);
        const call = window.videoChat && window.videoChat.call;
        const channel = call && call.dc ? call.dc.readyState : "none";
        const pairs = [];
        const channels = [];
        if (call && call.pc) {
          const report = await window.__probe.stats(call.pc);
          const ufrag = (id) => (report.get(id) || {}).usernameFragment;
          report.forEach((entry) => {
            if (entry.type === "data-channel") {
              const { label, state, messagesSent, messagesReceived } = entry;
              channels.push({ label, state, messagesSent, messagesReceived });
            }
            if (entry.type !== "candidate-pair" || !entry.bytesReceived) return;
            pairs.push({
              state: entry.state,
              nominated: entry.nominated,
              local: ufrag(entry.localCandidateId),
              remote: ufrag(entry.remoteCandidateId),
              sent: entry.bytesSent,
              received: entry.bytesReceived,
            });
          });
        }
        const ice = await window.__probe.ice();
        const now = Date.now();
        const beat = call && call.heartbeat;
        const heartbeat = beat && {
          sent: beat.sent,
          pendingMs: beat.pending ? now - beat.pending.at : null,
          answeredMsAgo: beat.answeredAt ? now - beat.answeredAt : null,
        };
        const states = window.__probe.states.slice(-8).map((s) => `${s.state} ${s.at - now}`);
        const requests = window.__probe.requests.slice(-14).map((r) => `${r.line} ${r.at - now}`);
        const signaling = call && call.pc ? `${call.role} ${call.pc.signalingState}` : "no pc";
        return (
          `${shown.dataset.state}: ${shown.textContent.trim()}; channel ${channel}; ` +
          `chat ${JSON.stringify(chat.slice(-3))}; ice ${JSON.stringify(ice)}; ` +
          `pairs that received ${JSON.stringify(pairs)}; channels ${JSON.stringify(channels)}; ` +
          `heartbeat ${JSON.stringify(heartbeat)}; states (ms ago) ${JSON.stringify(states)}; ` +
          `${signaling}; requests (ms ago) ${JSON.stringify(requests)}`
        );
      })
      .catch(() => "unknown");
  }

  async click(name) {
    // The button a person sees with this label, once it is enabled.
    const handle = await this.waitFor(
      (label) => {
        const button = [...document.querySelectorAll("button")].find(
          (b) => b.textContent.trim() === label,
        );
        return button && !button.disabled ? button : null;
      },
      name,
      STATE_TIMEOUT_MS,
      `no enabled "${name}" button`,
    );
    try {
      await handle.asElement().click();
    } catch (error) {
      throw new Error(`${this.name} (${this.kind}) could not click "${name}": ${error.message}`);
    }
  }

  start() {
    return this.click("Join");
  }

  hangUp() {
    return this.click("Leave");
  }

  async waitState(state, timeout = STATE_TIMEOUT_MS) {
    await this.waitFor(
      (wanted) => document.getElementById("status").dataset.state === wanted,
      state,
      timeout,
      `never reached "${state}"`,
    );
  }

  async waitIdleControls() {
    // Out of the call and done leaving the room: Join enabled (only once the page
    // has freed its place), Leave disabled (and hidden), camera released.
    await this.waitFor(
      () => {
        const button = (label) =>
          [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === label);
        const released = document.getElementById("localVideo").srcObject === null;
        return !button("Join").disabled && button("Leave").disabled && released;
      },
      null,
      STATE_TIMEOUT_MS,
      "is not back to idle controls after the call",
    );
  }

  async reachedAt(state, since) {
    // When the page first showed this state at or after `since` (ms since the epoch).
    const states = await this.page.evaluate(() => window.__probe.states);
    const entry = states.find((item) => item.state === state && item.at >= since);
    return entry ? entry.at : null;
  }

  async send(text) {
    // Type into the text box labelled "Message", then click Send; where the chat is a closed
    // panel (a small window), open it first, as a person would.
    const closed = await this.page.evaluate(() => {
      const field = document.getElementById("messageInput");
      return !field || field.getClientRects().length === 0;
    });
    if (closed) await this.page.click("#chatButton");
    const input = await this.page.evaluateHandle(() =>
      [...document.querySelectorAll("label")].find((l) => l.textContent.trim() === "Message")
        .control,
    );
    await input.asElement().type(text);
    await this.click("Send");
  }

  async waitChat(text) {
    await this.waitFor(
      (wanted) =>
        [...document.querySelectorAll("#chatLog li .text")].some((s) => s.textContent === wanted),
      text,
      CHAT_TIMEOUT_MS,
      `never received the chat message ${JSON.stringify(text)}`,
    );
  }

  async remoteVideo() {
    // The other person's video has frames, and its playback time keeps rising.
    await this.waitFor(
      () => document.getElementById("remoteVideo").videoWidth > 0,
      null,
      VIDEO_TIMEOUT_MS,
      "shows no remote video frame",
    );
    const before = await this.page.evaluate(
      () => document.getElementById("remoteVideo").currentTime,
    );
    await this.waitFor(
      (t) => document.getElementById("remoteVideo").currentTime > t + 0.2,
      before,
      VIDEO_TIMEOUT_MS,
      "remote video does not play on",
    );
    return this.page.evaluate(async () => {
      const video = document.getElementById("remoteVideo");
      // The codecs the call settled on, as this side receives them.
      const codecs = {};
      const report = await window.__probe.stats(window.videoChat.call.pc);
      report.forEach((entry) => {
        if (entry.type === "inbound-rtp" && entry.codecId && report.get(entry.codecId)) {
          codecs[entry.kind] = report.get(entry.codecId).mimeType;
        }
      });
      return {
        width: video.videoWidth,
        height: video.videoHeight,
        playing: !video.paused,
        local_width: document.getElementById("localVideo").videoWidth,
        codecs,
      };
    });
  }

  async remoteBrightness() {
    return this.page.evaluate(() => window.__probe.remoteBrightness());
  }

  async audioHeard(ms) {
    // How much sound energy arrived from the other person during the next `ms`.
    const before = await this.page.evaluate(() => window.__probe.audioEnergy());
    await sleep(ms);
    return (await this.page.evaluate(() => window.__probe.audioEnergy())) - before;
  }

  async waitSound(heard, what) {
    // Listen in LISTEN_MS slices until the other person is heard (or silent); the last slice.
    const deadline = Date.now() + SOUND_TIMEOUT_MS;
    const energies = [];
    while (Date.now() < deadline) {
      const energy = await this.audioHeard(LISTEN_MS);
      if (heard ? energy > HEARD_ENERGY : energy < SILENT_ENERGY) return energy;
      energies.push(energy);
    }
    return this.fail(`${what}: energy per ${LISTEN_MS} ms ${JSON.stringify(energies)}`);
  }

  async waitPicture(lit, what) {
    // The other person's picture turns lit (brightness over LIT) or black (under DARK).
    await this.waitFor(
      ([wantLit, dark, bright]) => {
        const brightness = window.__probe.remoteBrightness();
        return wantLit ? brightness > bright : brightness >= 0 && brightness < dark;
      },
      [lit, DARK, LIT],
      VIDEO_TIMEOUT_MS,
      what,
    );
  }

  async probe() {
    return this.page.evaluate(() => window.__probe.csp).catch(() => []);
  }

  ice() {
    // The ICE credentials and candidate pair in use now (null outside a call).
    return this.page.evaluate(() => window.__probe.ice());
  }

  answeredAt() {
    // When the page last had a pong to its heartbeat's ping (ms since the epoch, or 0).
    return this.page.evaluate(() => {
      const call = window.videoChat.call;
      return (call && call.heartbeat && call.heartbeat.answeredAt) || 0;
    });
  }

  connectedNow() {
    // The page shows "connected", its connection is, and its chat channel is open.
    return this.page.evaluate(() => {
      const call = window.videoChat.call;
      return Boolean(
        call &&
          call.pc &&
          call.dc &&
          call.connected &&
          call.pc.connectionState === "connected" &&
          call.pc.signalingState === "stable" &&
          call.dc.readyState === "open" &&
          document.getElementById("status").dataset.state === "connected",
      );
    });
  }
}

function usesCurrent(mine, theirs) {
  // One side talks to the other with both sides' current ICE credentials in the
  // descriptions, and (where the stats tell) on a succeeded selected pair of a transport using
  // its current ones (tests/recovery.py says why not the pair's candidates).
  if (!mine || !theirs || mine.remoteUfrag !== theirs.localUfrag) return false;
  // Firefox may name no selected pair after a restart (none of its pairs is flagged
  // nominated again): its connection state and descriptions are then what tells.
  if (!mine.pairState) return mine.connectionState === "connected" && !mine.transportUfrag;
  const transport = mine.transportUfrag || mine.statsLocalUfrag || mine.localUfrag;
  return mine.pairState === "succeeded" && transport === mine.localUfrag;
}

function localUfrag(ice) {
  // The local ICE username fragment in use: the transport's in the stats where the browser
  // gives it (Chromium), else the current local description's (Firefox).
  return ice ? ice.transportUfrag || ice.localUfrag : null;
}

async function restartIce(by, other) {
  // `by` restarts ICE in the live call; both must be connected to each other again with new
  // local ICE credentials. What changed, and how long it took.
  const people = [by, other];
  const before = await Promise.all(people.map((person) => person.ice()));
  const startedAt = Date.now();
  await by.page.evaluate(() => window.videoChat.call.restartIce());
  let after = before;
  let lookedConnectedAt = null;
  for (;;) {
    after = await Promise.all(people.map((person) => person.ice()));
    const up = await Promise.all(people.map((person) => person.connectedNow()));
    const renewed = people.every(
      (_, i) => localUfrag(after[i]) && localUfrag(after[i]) !== localUfrag(before[i]),
    );
    const matched = usesCurrent(after[0], after[1]) && usesCurrent(after[1], after[0]);
    // ICE may call a path connected that carries nothing (public/heartbeat.js): connected
    // once each page has had a pong since all else looked so.
    if (!(renewed && matched && up.every(Boolean))) lookedConnectedAt = null;
    else if (lookedConnectedAt === null) lookedConnectedAt = Date.now();
    else {
      const answered = await Promise.all(people.map((person) => person.answeredAt()));
      if (answered.every((at) => at > lookedConnectedAt)) break;
    }
    if (Date.now() - startedAt > RESTART_TIMEOUT_MS) {
      return by.fail(
        `restartIce(): not connected with new credentials after ${RESTART_TIMEOUT_MS} ms: ` +
          JSON.stringify({ before, after, up }),
      );
    }
    await sleep(POLL_MS);
  }
  const ms = Date.now() - startedAt;
  const text = `after ${by.kind}'s ICE restart`;
  await by.send(text);
  const sentAt = Date.now();
  await other.waitChat(text).catch(async (err) => {
    throw new Error(`${err.message}; sent by ${by.kind}: ${await by.describe()}`);
  });
  return {
    by: by.name,
    ms,
    before: { [by.name]: before[0], [other.name]: before[1] },
    after: { [by.name]: after[0], [other.name]: after[1] },
    chat: text,
    chat_ms: Date.now() - sentAt,
  };
}

async function checkControls(sender, receiver) {
  // The sender's Mute and Camera off reach the receiver: the sound stops and the picture
  // goes black; Unmute and Camera on bring them back. What the receiver measured.
  const heard = await receiver.waitSound(true, `does not hear ${sender.kind}`);
  await sender.click("Mute");
  const muted = await receiver.waitSound(false, `still hears ${sender.kind} muted`);
  await sender.click("Unmute");
  const heardAgain = await receiver.waitSound(true, `does not hear ${sender.kind} unmuted`);
  const lit = await receiver.remoteBrightness();
  await sender.click("Camera off");
  await receiver.waitPicture(false, `still sees ${sender.kind} with the camera off`);
  await sender.click("Camera on");
  await receiver.waitPicture(true, `sees no picture after ${sender.kind}'s Camera on`);
  return { heard, muted, heard_again: heardAgain, brightness: lit };
}

async function makeCall(number, first, second, restarts = 0) {
  // One call, from both pages idle to both pages idle again; what it measured.
  await first.start();
  await first.waitState("waiting");
  const clickedAt = Date.now();
  await second.start();
  await Promise.all([first.waitState("connected"), second.waitState("connected")]);
  const connectedAt = Math.max(
    await first.reachedAt("connected", clickedAt),
    await second.reachedAt("connected", clickedAt),
  );
  const [firstVideo, secondVideo] = await Promise.all([first.remoteVideo(), second.remoteVideo()]);
  // Each person's Mute and Camera off, as the other perceived them; once per pair of
  // browsers is enough to show the controls work across them. Both directions at once: each
  // person's controls act on what they send, and each side measures only what it receives.
  let controls = null;
  if (number === 1) {
    const [firstSends, secondSends] = await Promise.all([
      checkControls(first, second),
      checkControls(second, first),
    ]);
    controls = { [first.name]: firstSends, [second.name]: secondSends };
  }

  const there = `call ${number}: ${first.kind} -> ${second.kind} <é & ✓>`;
  const back = `call ${number}: ${second.kind} -> ${first.kind}`;
  await first.send(there);
  await second.waitChat(there);
  await second.send(back);
  await first.waitChat(back);

  // ICE restarts in the live call, each person in turn (first call only).
  const restartsDone = [];
  for (let round = 0; number === 1 && round < restarts; round++) {
    restartsDone.push(await restartIce(first, second));
    restartsDone.push(await restartIce(second, first));
  }

  // The first person hangs up in odd calls, the second in even ones.
  const [leaver, stayer] = number % 2 === 1 ? [first, second] : [second, first];
  await leaver.hangUp();
  await Promise.all([leaver.waitState("idle"), stayer.waitState("left")]);
  await Promise.all([leaver.waitIdleControls(), stayer.waitIdleControls()]);
  return {
    number,
    initiator: first.name,
    connect_ms: connectedAt - clickedAt,
    remote_video: { [first.name]: firstVideo, [second.name]: secondVideo },
    chat: [there, back],
    controls,
    restarts: restartsDone,
    hung_up: leaver.name,
  };
}

function parsePair(text) {
  // "FIRST,SECOND,ROOM" -> { first, second, room }.
  const [first, second, room] = text.split(",");
  for (const kind of [first, second]) {
    if (!(kind in EXECUTABLES)) throw new Error(`unknown browser ${kind}: firefox or chromium`);
  }
  if (!room) throw new Error(`--pair ${text}: FIRST,SECOND,ROOM`);
  return { first, second, room };
}

async function runPair(browsers, baseUrl, { first, second, room }, calls, restarts) {
  // One pair's calls in its room; what they measured, or where they failed.
  const pageUrl = new URL("/", baseUrl);
  pageUrl.searchParams.set("room", room);
  const result = { first, second, room, calls: [], ok: false };
  const people = [];
  const startedAt = Date.now();
  try {
    people.push(await Person.open(browsers[first], "first", first, pageUrl.href));
    people.push(await Person.open(browsers[second], "second", second, pageUrl.href));
    for (let number = 1; number <= calls; number++) {
      const callStartedAt = Date.now();
      const rounds = number === 1 ? restarts : 0;
      result.calls.push(await makeCall(number, people[0], people[1], rounds));
      result.calls.at(-1).ms = Date.now() - callStartedAt;
    }
    result.ok = true;
  } catch (error) {
    result.error = String(error.message || error);
  } finally {
    result.ms = Date.now() - startedAt;
    result.people = {};
    for (const person of people) {
      result.people[person.name] = {
        kind: person.kind,
        csp: person.csp,
        errors: person.errors,
        warnings: person.warnings,
        csp_violations: await person.probe(),
      };
      await person.page.browserContext().close().catch(() => {});
    }
  }
  return result;
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      pair: { type: "string", multiple: true, default: [] },
      calls: { type: "string", default: "2" },
      restarts: { type: "string", default: "0" },
      "chromium-arg": { type: "string", multiple: true, default: [] },
    },
  });
  if (!values.url) throw new Error("--url is required");
  const pairs = values.pair.map(parsePair);
  if (!pairs.length) throw new Error("--pair is required");

  const result = { pairs: [], ok: false };
  const browsers = {};
  try {
    for (const kind of new Set(pairs.flatMap((pair) => [pair.first, pair.second]))) {
      const startedAt = Date.now();
      browsers[kind] = await launch(kind, values["chromium-arg"]);
      result[`${kind}_version`] = await browsers[kind].version();
      result[`${kind}_launch_ms`] = Date.now() - startedAt;
    }
    for (const pair of pairs) {
      const { calls, restarts } = values;
      result.pairs.push(
        await runPair(browsers, values.url, pair, Number(calls), Number(restarts)),
      );
    }
    result.ok = result.pairs.every((pair) => pair.ok);
  } catch (error) {
    result.error = String(error.message || error);
  } finally {
    await Promise.all(Object.values(browsers).map(closeBrowser));
  }
  return result;
}

main().then(
  (result) => {
    process.stdout.write(JSON.stringify(result) + "\n");
    process.exitCode = result.ok ? 0 : 1;
  },
  (error) => {
    const result = { ok: false, error: String(error.message || error) };
    process.stdout.write(JSON.stringify(result) + "\n");
    process.exitCode = 2;
  },
);
