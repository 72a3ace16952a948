"""`Peer.close` against a real aiortc client: nothing of the connection outlives it."""

from __future__ import annotations

import asyncio

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack

from streamface.server.peer import Peer, close_peer_connection


async def test_close_just_after_ice_completes_leaves_no_consent_checks_running() -> None:
    """aioice's race, made certain: the check list completes, the connection closes, and
    only then does ``connect()`` read the result (in the wild it is still in its 20 ms
    pacing sleep). The conftest guard would also fail the test on the leaked task."""
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    client.addTransceiver(VideoStreamTrack(), direction="sendrecv")
    await client.setLocalDescription(await client.createOffer())
    peer = Peer(lambda reason: None)
    await peer.accept(client.localDescription.sdp)
    peer.add_face(VideoStreamTrack())
    answer = await peer.answer()

    (transceiver,) = peer.pc.getTransceivers()
    connection = transceiver.receiver.transport.transport._connection
    ice_closed = asyncio.Event()
    close_connection, read_result = connection.close, connection._check_list_state.get

    async def close_and_tell() -> None:
        await close_connection()
        ice_closed.set()

    async def read_result_after_close() -> int:
        await ice_closed.wait()
        return await read_result()

    connection.close = close_and_tell  # type: ignore[method-assign]
    connection._check_list_state.get = read_result_after_close  # type: ignore[method-assign]
    closing: list[asyncio.Task[None]] = []
    try:
        await client.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        for _ in range(300):
            if connection._check_list_done and not closing:
                closing.append(asyncio.get_running_loop().create_task(peer.close()))
            if closing:
                break
            await asyncio.sleep(0.005)
        assert closing, "ICE never completed"
        await asyncio.wait_for(closing[0], 5)
        # the race really happened: connect() read "completed" after the close ...
        task = connection._query_consent_task
        assert task is not None
        # ... and the close stopped the consent checks it started then
        assert task.done()
    finally:
        await close_peer_connection(client)
        await peer.close()
