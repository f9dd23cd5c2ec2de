// The tab's title: how the call is, and how many chat messages came unread, e.g.
// "(2) Connected · Video chat". No DOM beyond document.title.

const APP = "Video chat";
const STATE_TITLE = {
  connecting: "Joining…",
  waiting: "Waiting",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  left: "Call ended",
  lost: "Call ended",
  full: "Room full",
  error: "Could not connect",
};

export function titleText({ state, unread = 0, room = "" }) {
  // Before a call the room's name; in or after one, its state.
  const label = STATE_TITLE[state] || room;
  const prefix = unread > 0 ? `(${unread}) ` : "";
  return prefix + (label ? `${label} · ${APP}` : APP);
}

export function showTitle(facts) {
  const text = titleText(facts);
  if (document.title !== text) document.title = text;
}
