// How the call is laid out: the lobby or the call, the chat and settings panels (one open
// at a time) with the unread count, the large and small tiles swapped by a tap, full screen
// and picture-in-picture for the other person's video, and the call's timer.
import { ui } from "./ui.js";

const DESKTOP = "(min-width: 900px) and (min-height: 560px)";
const TIMER_TICK_MS = 1000;

export class CallView {
  constructor({ changed }) {
    this.changed = changed; // () => the title and badge are drawn again
    this.mode = null;
    this.panel = null; // "chat", "settings" or null
    this.unread = 0;
    this.timerStart = null;
    this.timer = null;
    this.wide = window.matchMedia(DESKTOP);
  }

  wire() {
    ui.chatButton.addEventListener("click", () => this.toggle("chat"));
    ui.settingsButton.addEventListener("click", () => this.toggle("settings"));
    ui.chatCloseButton.addEventListener("click", () => this.open(null));
    ui.settingsCloseButton.addEventListener("click", () => this.open(null));
    ui.localFigure.addEventListener("click", () => this.swap());
    ui.remoteTile.addEventListener("click", (event) => {
      // The other person's tile, when it is the small one: back to large.
      if (ui.stage.dataset.swapped === "true" && !event.target.closest("button")) this.swap();
    });
    ui.fullscreenButton.addEventListener("click", () => this.fullscreen());
    ui.pipButton.addEventListener("click", () => this.pictureInPicture());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.panel && !this.wide.matches) this.open(null);
    });
    document.addEventListener("visibilitychange", () => this.markRead());
    ui.fullscreenButton.hidden = !canFullscreen();
    ui.pipButton.hidden = !document.pictureInPictureEnabled;
  }

  setMode(mode) {
    // "lobby" (not in a call) or "call". The status and the settings move with it.
    if (this.mode === mode) return;
    this.mode = mode;
    document.body.dataset.mode = mode;
    if (mode === "lobby") {
      ui.lobby.prepend(ui.status);
      ui.waiting.after(ui.mediaMessage);
      ui.lobby.append(ui.settingsPanel);
      ui.settingsPanel.hidden = false;
      ui.chatPanel.hidden = true;
      this.panel = null;
      ui.stage.dataset.swapped = "false";
      this.stopTimer();
      if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    } else {
      document.querySelector(".call-info").prepend(ui.status);
      document.querySelector(".call-info").after(ui.mediaMessage);
      ui.chatPanel.before(ui.settingsPanel);
      this.open(this.wide.matches ? "chat" : null);
    }
    this.unread = 0;
    this.draw();
  }

  toggle(panel) {
    this.open(this.panel === panel ? null : panel);
  }

  open(panel) {
    // One panel at a time; the chat's messages count as read once it is open.
    if (this.mode !== "call") return;
    this.panel = panel;
    ui.chatPanel.hidden = panel !== "chat";
    ui.settingsPanel.hidden = panel !== "settings";
    document.body.dataset.panel = panel || "none";
    ui.chatButton.setAttribute("aria-expanded", String(panel === "chat"));
    ui.settingsButton.setAttribute("aria-expanded", String(panel === "settings"));
    if (panel === "chat" && !ui.messageInput.disabled && this.wide.matches) ui.messageInput.focus();
    this.markRead();
  }

  get chatVisible() {
    return this.panel === "chat" && !document.hidden;
  }

  received() {
    // A chat message came: unread unless the chat is in view.
    if (!this.chatVisible) this.unread += 1;
    this.draw();
  }

  markRead() {
    if (this.chatVisible && this.unread) {
      this.unread = 0;
      this.draw();
    }
  }

  draw() {
    ui.unreadBadge.hidden = this.unread === 0;
    ui.unreadBadge.textContent = String(this.unread);
    ui.chatButton.setAttribute(
      "aria-label",
      this.unread ? `Chat (${this.unread} unread)` : "Chat",
    );
    this.changed();
  }

  swap() {
    // The small tile becomes the large one, and back.
    if (this.mode !== "call") return;
    ui.stage.dataset.swapped = String(ui.stage.dataset.swapped !== "true");
  }

  async fullscreen() {
    // The call fills the screen (the stage: both videos and the controls); again: back.
    try {
      if (document.fullscreenElement) await document.exitFullscreen();
      else if (ui.stage.requestFullscreen) await ui.stage.requestFullscreen();
      else if (ui.remoteVideo.webkitEnterFullscreen) ui.remoteVideo.webkitEnterFullscreen();
    } catch (err) {
      // Refused (not from a click, or not allowed in this frame): nothing changes.
    }
  }

  async pictureInPicture() {
    // The other person's video in a small window of its own, over other tabs and apps.
    try {
      if (document.pictureInPictureElement) await document.exitPictureInPicture();
      else await ui.remoteVideo.requestPictureInPicture();
    } catch (err) {
      // No video yet, or refused: nothing changes.
    }
  }

  // -- the timer: how long the call has been connected -----------------------------------

  startTimer() {
    if (this.timerStart !== null) return;
    this.timerStart = Date.now();
    this.timer = setInterval(() => this.drawTimer(), TIMER_TICK_MS);
    this.drawTimer();
  }

  stopTimer() {
    clearInterval(this.timer);
    this.timer = null;
    this.timerStart = null;
    ui.callTimer.hidden = true;
    ui.callTimer.textContent = "";
  }

  drawTimer() {
    ui.callTimer.hidden = false;
    ui.callTimer.textContent = formatDuration(Date.now() - this.timerStart);
  }
}

export function formatDuration(ms) {
  // 0:07, 12:03, 1:02:03
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  if (hours) return `${hours}:${String(minutes).padStart(2, "0")}:${seconds}`;
  return `${minutes}:${seconds}`;
}

function canFullscreen() {
  return Boolean(document.fullscreenEnabled || HTMLVideoElement.prototype.webkitEnterFullscreen);
}
