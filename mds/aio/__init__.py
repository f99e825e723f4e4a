"""The asyncio face of the consumer layer: `NotificationListener` (``async with``, ``async for``,
awaitable device requests) and `WebhookReceiver` (an ASGI application).

::

    import mds.aio

    async with mds.aio.NotificationListener(api_client) as listener:
        async for event in listener:
            ...
        value = await listener.read(device_id, "/3303/0/5700")

Nothing of it loads with ``import mds``: only ``import mds.aio`` does. The policies are those of
`mds.listener` (`mds.ReconnectPolicy`, `mds.listener.DEFAULT_CLOSE_CODE_POLICY`,
`mds.ListenerStats`); the errors those of `mds.exceptions`.

Inside: the listener (``_listener``) composes one source per transport (``_websocket``: the
websocket on websockets' asyncio client; ``_long_poll``: the synchronous long poll in a worker
thread), the stream whose pump task reads for every waiting task (``_stream``), the worker
threads of the synchronous `mds.ApiClient` (``_worker``) and the dedupe gate (``_gate``). The
receiver (``_webhook``) is the ASGI side of the WSGI receiver's core (`mds.webhook_receiver`:
``check_request``, ``admit``, ``Delivery``).
"""

from __future__ import annotations

from mds.aio._listener import NotificationListener
from mds.aio._webhook import WebhookReceiver

__all__ = ["NotificationListener", "WebhookReceiver"]
