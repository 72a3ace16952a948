"""StreamFace past one machine: live sessions as Ray actors spread over a cluster.

``streamface serve --ray ADDRESS`` keeps the aiohttp front door and runs each session in a
named, detached Ray actor (`streamface.cluster.actor.SessionActor`) placed on a node that
advertises free ``streamface_session`` capacity. The front door's `RayHub`
(`streamface.cluster.hub`) creates, finds and lists those actors; `streamface.cluster.routes`
forwards WHIP and WHEP signalling to the actor that owns the session, whose aiortc peer
then carries the media straight to and from its node. See docs/DEPLOY_RAY.md.

Nothing here is imported unless ``--ray`` is given; Ray is an optional extra
(``pip install 'streamface[ray]'``).
"""

LOCAL = "local"
"""``--ray local``: the front door starts a one-machine cluster of its own, so sessions run
in separate processes and use every core (one server process tops out near one core)."""

RESOURCE = "streamface_session"
"""The custom Ray resource a node advertises per live session it can hold."""

NAMESPACE = "streamface"
"""The Ray namespace of the session actors (their names are cluster-wide within it)."""

ACTOR_PREFIX = "streamface-session-"
"""Session actors are named this prefix plus the session id."""
