// The connection panel: the route (direct or relayed), round trip and bitrates, from the
// call's getStats() reports.
import { ui } from "./ui.js";

export function resetStats() {
  for (const id of ["statRoute", "statRtt", "statIn", "statOut"]) ui[id].textContent = "–";
}

export function showStats(report, previous) {
  // From a getStats() report: the selected candidate pair says direct or relayed and its
  // round-trip time; the bytes that crossed it since `previous` give the bitrates. Returns
  // this sample, for the next call.
  let pair = null;
  report.forEach((entry) => {
    if (entry.type === "transport" && entry.selectedCandidatePairId) {
      pair = report.get(entry.selectedCandidatePairId) || pair;
    }
  });
  if (!pair) {
    report.forEach((entry) => {
      const usable = entry.type === "candidate-pair" && entry.nominated;
      if (usable && entry.state === "succeeded") pair = entry;
    });
  }
  if (!pair) return previous;
  const local = report.get(pair.localCandidateId) || {};
  const remote = report.get(pair.remoteCandidateId) || {};
  const relayed = local.candidateType === "relay" || remote.candidateType === "relay";
  const protocol = local.relayProtocol || local.protocol || "";
  const route = relayed ? "relayed (TURN)" : "direct";
  ui.statRoute.textContent = protocol ? `${route}, ${protocol.toUpperCase()}` : route;
  const rtt = pair.currentRoundTripTime;
  ui.statRtt.textContent = typeof rtt === "number" ? Math.round(rtt * 1000) + " ms" : "–";
  const sample = {
    timestamp: pair.timestamp,
    received: pair.bytesReceived || 0,
    sent: pair.bytesSent || 0,
  };
  if (previous && sample.timestamp > previous.timestamp) {
    const seconds = (sample.timestamp - previous.timestamp) / 1000;
    ui.statIn.textContent = formatBitrate(((sample.received - previous.received) * 8) / seconds);
    ui.statOut.textContent = formatBitrate(((sample.sent - previous.sent) * 8) / seconds);
  }
  return sample;
}

function formatBitrate(bitsPerSecond) {
  if (bitsPerSecond >= 1e6) return (bitsPerSecond / 1e6).toFixed(1) + " Mbit/s";
  return Math.round(bitsPerSecond / 1e3) + " kbit/s";
}
