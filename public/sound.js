// A short two-note chime when the other person joins: WebAudio, no file to fetch. It can be
// turned off, and that is remembered on this device. Browsers let a page make sound only
// after a click: Join unlocks it.
import { recall, remember } from "./store.js";

const SOUND_KEY = "videoChat.joinSound";
const NOTES_HZ = [660, 880];
const NOTE_S = 0.12;
const VOLUME = 0.08;

let context = null;
export const chimes = { played: 0 }; // for the browser tests

export function soundOn() {
  return recall(SOUND_KEY, true) !== false;
}

export function setSoundOn(on) {
  remember(SOUND_KEY, Boolean(on));
}

export function unlockSound() {
  // Called from a click: an AudioContext made or resumed then may play later.
  const AudioContextClass = window.AudioContext || window.webkitAudioContext;
  if (!AudioContextClass) return;
  try {
    context = context || new AudioContextClass();
    context.resume().catch(() => {});
  } catch (err) {
    context = null;
  }
}

export function chime() {
  if (!soundOn() || !context) return;
  chimes.played += 1;
  const start = context.currentTime + 0.02;
  NOTES_HZ.forEach((hz, index) => {
    const at = start + index * NOTE_S;
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.frequency.value = hz;
    gain.gain.setValueAtTime(0, at);
    gain.gain.linearRampToValueAtTime(VOLUME, at + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + NOTE_S);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(at);
    oscillator.stop(at + NOTE_S + 0.02);
  });
}
