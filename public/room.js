// The room this page is for: read from the address (a bare address gets a fresh, readable
// name, put in the address bar), typed in the room field, or made new; its link, shown and
// copied; and who is in it while we are not (GET /waiting).
import { newRoomName, normalizeRoom } from "./rooms.js";
import { prefetchRtcConfiguration, sleep } from "./signaling.js";
import { showCopyFeedback, ui } from "./ui.js";

// Before a call, how many people are in the room is asked this often.
const WAITING_MS = 3000;
const COPIED_MS = 2500;

export function readRoom() {
  // {name, valid, fresh}: ?room=NAME as the server reads it, or a new name for a bare
  // address; a name that is not valid is reported rather than silently replaced.
  const raw = new URLSearchParams(location.search).get("room");
  if (raw === null || raw.trim() === "") return { name: newRoomName(), valid: true, fresh: true };
  const name = normalizeRoom(raw);
  return name === null ? { name: raw, valid: false, fresh: false } : { name, valid: true, fresh: false };
}

export function roomUrl(room) {
  // This page's own address (its real origin: what the other person must open) for `room`.
  const url = new URL(location.pathname, location.origin);
  url.searchParams.set("room", room);
  return url.href.replace(/\+/g, "%20");
}

export function readableLink(room) {
  // The link as people read it: no scheme, the room name as typed.
  const url = new URL(location.pathname, location.origin);
  return `${url.host}${url.pathname}?room=${room}`;
}

export function showRoom(room, valid) {
  // The room's name and link on the page, and in the address bar.
  ui.roomName.textContent = room;
  ui.roomLink.value = valid ? readableLink(room) : "";
  ui.roomLink.textContent = valid ? readableLink(room) : "";
  ui.roomLink.title = valid ? roomUrl(room) : "";
  if (document.activeElement !== ui.roomInput) ui.roomInput.value = room;
  if (valid) history.replaceState(history.state, "", roomUrl(room));
}

export function showRoomError(text) {
  ui.roomError.textContent = text || "";
  ui.roomError.hidden = !text;
  ui.roomInput.setAttribute("aria-invalid", String(Boolean(text)));
}

export async function copyLink(room, button) {
  // The room's link to the clipboard; where that is refused, shown selected for Ctrl+C.
  const link = roomUrl(room);
  let copied = false;
  try {
    await navigator.clipboard.writeText(link);
    copied = true;
  } catch (err) {
    copied = copyBySelection(link);
  }
  showCopyFeedback(copied ? "Link copied." : `Copy this link: ${link}`);
  if (button && copied) {
    const words = button.textContent;
    button.textContent = "Link copied";
    setTimeout(() => {
      button.textContent = words;
    }, COPIED_MS);
  }
}

function copyBySelection(text) {
  // No clipboard API (an insecure page, a permission): the old way, through a selection.
  const field = document.createElement("textarea");
  field.value = text;
  field.setAttribute("readonly", "");
  field.className = "visually-hidden";
  document.body.append(field);
  field.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch (err) {
    copied = false;
  }
  field.remove();
  return copied;
}

export class RoomWatch {
  // While no call runs: how many people are in the room, asked now and every few seconds
  // (only while the tab is visible). A call, or another room, stops it.
  constructor(show) {
    this.show = show; // (count | null) => drawn
    this.turn = 0;
  }

  async run(room, { before = Promise.resolve(), inCall = () => false } = {}) {
    const mine = ++this.turn;
    await before; // the place of a call that just ended is given back: not someone waiting
    while (mine === this.turn && !inCall()) {
      if (!document.hidden) {
        // The ICE servers, ready before the click: the call starts without asking for them.
        prefetchRtcConfiguration(location.href).catch(() => {});
        const count = await countWaiting(room);
        if (mine !== this.turn || inCall()) return;
        this.show(count);
      }
      await sleep(WAITING_MS);
    }
  }

  stop() {
    this.turn += 1;
    this.show(null);
  }
}

async function countWaiting(name) {
  // GET /waiting: the number of people in the room; null when the server does not say.
  const url = new URL("/waiting", location.href);
  url.searchParams.set("room", name);
  try {
    const response = await fetch(url);
    if (!response.ok) return null;
    const answer = await response.json();
    return typeof answer.waiting === "number" ? answer.waiting : null;
  } catch (err) {
    return null;
  }
}
