"""NotificationListener: a stream of notifications over the websocket or the long poll, that
survives dropped connections, restarts of the service and rate limits, and stops when asked.

::

    with NotificationListener(api_client) as listener:        # websocket by default
        for event in listener:                                # typed events (mds.events)
            print(event)

What happens when the websocket closes is data, not code: `DEFAULT_CLOSE_CODE_POLICY` maps each
close code to an `Action`, and a listener takes an overriding mapping as ``close_code_policy``.
Back-off is described by a `ReconnectPolicy`. ``listener.stats`` is a `ListenerStats` snapshot.

It also sends device requests and waits for their answers on its own channel::

    value = listener.read(device_id, "/3303/0/5700")     # also write(), execute(), request()

Threads: the listener starts none of its own (the websocket library runs one reader thread per
connection, which also answers and sends pings). The channel is read by the thread that
iterates, or, while none is reading, by a thread waiting for the answer to its request, which
keeps every other batch for iteration. ``stop()`` may be called from any other thread and makes
the iteration (and every waiting request) end within a fraction of a second, even while a long
poll is held by the service.

Inside: the listener (``_listener``) composes one batch source per transport
(``_websocket_source``, ``_long_poll_source``) behind one small interface (``_source``), a
session (``_session``) through which ``stop()`` reaches their work, and the stream
(``_stream``) that shares the source's batches between the threads that need them and takes the
answers to requests out; ``_requests`` builds the requests. The policies are data
(``_policy``). ``existing_channel`` lives with the API it calls, in `mds.api.channels`.
"""

from __future__ import annotations

from mds.api.channels import LONG_POLL, WEBHOOK, WEBSOCKET, existing_channel
from mds.listener._listener import NotificationListener
from mds.listener._policy import DEFAULT_CLOSE_CODE_POLICY, Action, ListenerStats, ReconnectPolicy

__all__ = [
    "DEFAULT_CLOSE_CODE_POLICY",
    "LONG_POLL",
    "WEBHOOK",
    "WEBSOCKET",
    "Action",
    "ListenerStats",
    "NotificationListener",
    "ReconnectPolicy",
    "existing_channel",
]
