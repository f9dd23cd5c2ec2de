// What travels on the chat channel (docs/protocol.md, "Client behaviour"): our messages are
// JSON envelopes, {"type": "chat", "text"}, {"type": "bye"} and others the page defines;
// plain text is what a client that speaks only the seed's messages sends, shown as it came.

export const BYE = JSON.stringify({ type: "bye" });

export function chatData(text, plain) {
  // A chat message as it goes out: an envelope, or plain text to a partner that sends it.
  return plain ? text : JSON.stringify({ type: "chat", text });
}

export function readData(data) {
  // What arrived, as {type: "bye"}, {type: "chat", text} or {type: "message", message} (any
  // other envelope, for the page to read).
  let message = null;
  try {
    message = JSON.parse(data);
  } catch (err) {
    message = null;
  }
  const type = message && typeof message === "object" ? message.type : null;
  if (type === "bye") return { type: "bye" };
  if (type === "chat" && typeof message.text === "string") return { type: "chat", text: message.text };
  if (typeof type === "string" && type !== "chat") return { type: "message", message };
  return { type: "chat", text: String(data) };
}
