"""`BackgroundWriter`: encode a video's frames on a second thread while the next ones render.

An offline render alternates two kinds of work: drawing a frame (ONNX Runtime, which
releases the GIL) and converting and encoding it (swscale, x264 and AAC through PyAV).
Run in turn they add up; here the encoding runs on its own thread, fed through a short
queue in media order, so on a machine with two cores a frame is encoded while the next
one is drawn. The file is byte for byte what the same calls in one thread write: one
thread owns the writer and makes the same calls in the same order.

The queue is bounded (`DEPTH` frames), so a slow encoder holds the renderer back
instead of buffering the whole video in memory. An error on the writer thread is raised
on the producer's next `put` (or at `close`); leaving the `with` block on an error stops
the thread without finishing the file.
"""

from __future__ import annotations

import queue
import threading
from types import TracebackType
from typing import Any

import numpy as np

DEPTH = 8
"""Frames that may wait for the encoder (8 x 512 x 512 x 3 bytes: 6 MB)."""

_STOP = object()


class BackgroundWriter:
    """Feeds a writer's ``write_frame`` / ``write_audio`` from a worker thread, in order.

    Args:
        writer: An object with ``write_frame(rgb)`` and ``write_audio(samples)`` (e.g.
            `Mp4Writer`). Only the worker thread touches it until `close` returns.
        depth: Most frames queued at once.
    """

    def __init__(self, writer: Any, depth: int = DEPTH) -> None:
        self._writer = writer
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="streamface-encode", daemon=True)
        self._thread.start()

    def put(self, frame: np.ndarray | None, audio: np.ndarray | None = None) -> None:
        """Queue one frame (uint8 RGB, copied) and the audio that goes with it (either may be None).

        Raises:
            Exception: the worker's error, if writing an earlier frame failed.
        """
        self._raise_error()
        item = (
            None if frame is None else np.array(frame, dtype=np.uint8, copy=True),
            None if audio is None else np.array(audio, dtype=np.float32, copy=True),
        )
        while True:
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                self._raise_error()  # the worker died: never wait on a full queue for it

    def close(self) -> None:
        """Write what is queued, stop the worker; raises the worker's error if any."""
        if not self._closed:
            self._closed = True
            self._send_stop()
            self._thread.join()
        self._raise_error()

    def abort(self) -> None:
        """Stop the worker as soon as it can, dropping what is queued (the file is discarded)."""
        if self._closed:
            return
        self._closed = True
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._send_stop()
        self._thread.join()

    def _send_stop(self) -> None:
        while self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=0.5)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None:
                continue  # drain until told to stop
            frame, audio = item
            try:
                if frame is not None:
                    self._writer.write_frame(frame)
                if audio is not None and audio.size:
                    self._writer.write_audio(audio)
            except BaseException as exc:  # noqa: BLE001 - handed to the producer
                self._error = exc

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
