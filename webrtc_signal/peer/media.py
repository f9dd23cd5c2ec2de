"""The tracks the peer sends: a moving test pattern, the video it received sent back, and
silence for audio."""

from __future__ import annotations

from typing import Any

from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from av import VideoFrame

# Every track a webrtc-peer sends carries this id prefix (it travels in the SDP's msid), so
# that another webrtc-peer does not send it back: two echoing peers would bounce the same
# frames between them forever.
TRACK_ID_PREFIX = "webrtc-peer-"
PATTERN_SIZE = (320, 240)
# SMPTE-like colour bars as (Y, U, V), BT.601 limited range.
BARS = (
    (235, 128, 128),
    (210, 16, 146),
    (170, 166, 16),
    (145, 54, 34),
    (106, 202, 222),
    (81, 90, 240),
    (41, 240, 110),
    (16, 128, 128),
)
# Pixels the bars move per frame.
PATTERN_SPEED = 4


def is_peer_track(track_id: str | None) -> bool:
    """Whether a remote track is one a webrtc-peer sends (so not to be sent back)."""
    return bool(track_id) and track_id.startswith(TRACK_ID_PREFIX)


def pattern_frame(width: int, height: int, shift: int) -> VideoFrame:
    """One frame of colour bars, moved ``shift`` pixels to the left."""
    frame = VideoFrame(width=width, height=height, format="yuv420p")
    for index, plane in enumerate(frame.planes):
        scale = width // plane.width  # 1 for luma, 2 for the half-size chroma planes
        row = bytes(
            BARS[(x * scale + shift) % width * len(BARS) // width][index]
            for x in range(plane.width)
        )
        plane.update((row + bytes(plane.line_size - plane.width)) * plane.height)
    return frame


class TestPattern(VideoStreamTrack):
    """Moving colour bars at 30 frames a second: the video sent when there is none to echo."""

    __test__ = False  # not a pytest class

    def __init__(self, size: tuple[int, int] = PATTERN_SIZE) -> None:
        super().__init__()
        self._id = TRACK_ID_PREFIX + self._id
        self.width, self.height = size
        self._frames = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = pattern_frame(self.width, self.height, self._frames * PATTERN_SPEED)
        self._frames += 1
        frame.pts, frame.time_base = pts, time_base
        return frame


class Echo(MediaStreamTrack):
    """Another track's frames, sent under an id that marks them as a webrtc-peer's."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self._id = TRACK_ID_PREFIX + self._id
        self._source = source

    async def recv(self) -> Any:
        return await self._source.recv()

    def stop(self) -> None:
        super().stop()
        self._source.stop()


def echo_of_track(relay: MediaRelay, remote: MediaStreamTrack | None) -> Echo | None:
    """The other side's video to send back; None if none came (or a webrtc-peer's)."""
    if remote is None or is_peer_track(remote.id):
        return None
    return Echo(relay.subscribe(remote, buffered=False))


def silence() -> MediaStreamTrack:
    """The audio the peer sends: silence."""
    return AudioStreamTrack()
