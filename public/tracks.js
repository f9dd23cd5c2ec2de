// Tracks and connections: sending a track of a kind, and stopping and closing what a call
// opened.

export async function sendTrack(pc, kind, track, stream) {
  // Send `track` as our "audio" or "video" (null: nothing of that kind): on the sender of
  // that kind, with no renegotiation, or, when we send none (no camera when we joined), added
  // to the connection, which then needs negotiating (negotiationneeded). False when there is
  // nothing to do it on.
  const sender = senderOf(pc, kind);
  if (sender) await sender.replaceTrack(track);
  else if (track) pc.addTrack(track, stream || new MediaStream([track]));
  else return false;
  return true;
}

function senderOf(pc, kind) {
  // The sender of our `kind` track: the one sending it, or one that sent it before it was
  // set to nothing (its transceiver still sends).
  const sending = pc.getSenders().find((s) => s.track && s.track.kind === kind);
  if (sending || !pc.getTransceivers) return sending;
  const sent = pc
    .getTransceivers()
    .find((t) => t.receiver.track.kind === kind && /send/.test(t.direction) && !t.stopped);
  return sent ? sent.sender : undefined;
}

export function stopSending(pc) {
  // Stop every track the connection sends (a screen or camera added during the call too).
  for (const sender of pc.getSenders()) if (sender.track) sender.track.stop();
}

export function closeConnection(pc, dc) {
  if (dc) dc.close();
  if (pc) pc.close();
}

// How long a connection stays open for a goodbye just sent on its channel.
export const FLUSH_MS = 1000;

export function closeAfterSending(pc, dc) {
  // Closing the channel sends what is queued on it first; closing the connection at once
  // may cut that off (Chromium drops a `bye` sent just before, and Firefox then waits for a
  // partner who hung up). The connection closes once the channel has, or after FLUSH_MS.
  if (!pc || !dc || dc.readyState !== "open") {
    closeConnection(pc, dc);
    return;
  }
  const close = () => {
    clearTimeout(timer);
    pc.close();
  };
  const timer = setTimeout(close, FLUSH_MS);
  dc.addEventListener("close", close, { once: true });
  dc.close();
}

export function stopTracks(stream) {
  if (stream) for (const track of stream.getTracks()) track.stop();
}
